"""The observational evaluation path for trials that were not randomised.

The 2017-2018 trials were not randomised. What the evaluation report asked for
instead -- control groups matched on unemployment duration and employability,
a counterfactual against non-trial municipalities, and a five-year register
follow-up of the matched groups -- is one call here:
:func:`evaluate_observational` runs the sequence and returns the result objects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from trialkit._checks import require_columns, require_frame
from trialkit._typing import SeedLike
from trialkit.errors import DesignError
from trialkit.results import EffectTable

__all__ = ["ObservationalEvaluation", "evaluate_observational"]

#: Months of follow-up :func:`evaluate_observational` builds (that of :func:`trialkit.follow_up`).
_FOLLOW_UP_MONTHS = 60
_OUTCOME_LABEL = re.compile(r"^(?P<name>.+)_(?P<h>[0-9]+)m$")


def _parse_outcomes(outcomes: Any, months: int = _FOLLOW_UP_MONTHS) -> list[int]:
    """Horizons of outcome labels ``{name}_{h}m``; a DesignError says what is allowed."""
    from trialkit.followup._followup import OUTCOMES

    allowed = (
        f"outcome names are '<outcome>_<h>m' with <outcome> one of {list(OUTCOMES)} and <h> a "
        f"horizon of 1..{months} months, e.g. 'employed_12m' or 'months_employed_60m'"
    )
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    if not isinstance(outcomes, Sequence) or not outcomes:
        raise DesignError(f"`outcomes` must be a non-empty list of names; {allowed}")
    horizons = set()
    for o in outcomes:
        m = _OUTCOME_LABEL.match(o) if isinstance(o, str) else None
        if m is None or m["name"] not in OUTCOMES or not 1 <= int(m["h"]) <= months:
            raise DesignError(f"`outcomes` entry {o!r} is not a follow-up outcome: {allowed}")
        horizons.add(int(m["h"]))
    if len(set(outcomes)) != len(outcomes):
        raise DesignError(f"`outcomes` names an outcome twice: {list(outcomes)}")
    return sorted(horizons)


@dataclass(frozen=True, eq=False)
class ObservationalEvaluation:
    """Results of :func:`evaluate_observational`.

    Attributes
    ----------
    follow_up : trialkit.followup.FollowUp
        Status panel and outcomes of every person in the matching pool.
    matching : trialkit.matching.MatchResult
        The matched control group (``matching.balance()`` for diagnostics).
    effects : EffectTable
        ATT on each outcome after matching (index ``outcome``).
    did : trialkit.diffindiff.GroupTimeResult or None
        Staggered DiD on the municipality panel (``did.aggregate(...)``).
    """

    follow_up: Any
    matching: Any
    effects: EffectTable
    did: Any

    def summary(self) -> str:
        """Balance, effects and the overall DiD in one text."""
        parts = [self.matching.balance().summary(), self.effects.summary()]
        if self.did is not None:
            parts.append(self.did.aggregate("simple").summary())
        return "\n\n".join(parts)


def evaluate_observational(
    persons: pd.DataFrame,
    spells: pd.DataFrame,
    panel: pd.DataFrame | None = None,
    *,
    treatment: str = "treated",
    pool: str | None = "eligible",
    exact: Sequence[str] = ("duration_band",),
    covariates: Sequence[str] = (
        "age",
        "duration_months",
        "prior_employment_days",
        "education",
        "sex",
    ),
    score: str = "propensity",
    caliper: float | None = 0.2,
    ratio: int = 1,
    outcomes: Sequence[str] = (
        "employed_12m",
        "employed_24m",
        "employed_60m",
        "months_employed_60m",
    ),
    origin: str = "origin",
    did_outcome: str = "unemployment_rate",
    seed: SeedLike = None,
    id: str = "person_id",
) -> ObservationalEvaluation:
    """Matched controls, five-year follow-up of the matched groups, and DiD -- in one call.

    Parameters
    ----------
    persons, spells : DataFrame
        The register tables (data model of ``docs/index.md``).
    panel : DataFrame, optional
        Municipality x month panel for the difference-in-differences; skipped when None.
    treatment : str
        Column marking persons who received the service (0/1 or bool).
    pool : str, optional
        Boolean column restricting the matching pool (default: the target group).
    exact, covariates, score, caliper, ratio
        Passed to :func:`trialkit.match`.
    outcomes : sequence of str
        Follow-up outcomes ``<outcome>_<h>m`` estimated after matching: ``<outcome>``
        one of :data:`trialkit.followup.OUTCOMES` (``employed``, ``days_employed``, ...)
        and ``<h>`` a horizon of 1..60 months, e.g. ``"employed_12m"``.
    origin : str
        Column with the date each person's follow-up starts.
    did_outcome : str
        Panel outcome of the DiD.
    seed : int, Generator or None
        Seed of the DiD bootstrap and the follow-up bands; with None fresh entropy
        is drawn and recorded in the results' ``seed`` (pass it back to replay).
    id : str
        Person identifier column of ``persons`` and ``spells``.

    Returns
    -------
    ObservationalEvaluation

    Raises
    ------
    DesignError
        If an outcome name is not ``<outcome>_<h>m`` of a follow-up outcome.
    DataError
        If ``persons`` lacks a named column.

    Examples
    --------
    >>> import trialkit as tk
    >>> reg = tk.datasets.make_register(n_persons=6000, seed=1, truth_n=2000)
    >>> ev = evaluate_observational(reg.persons, reg.spells, reg.panel, seed=1)  # doctest: +SKIP
    >>> ev.effects.to_frame().loc["employed_24m", "estimate"]  # doctest: +SKIP
    """
    import trialkit as tk

    horizons = _parse_outcomes(outcomes)
    outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    require_frame(persons, name="persons")
    require_columns(
        persons,
        [id, treatment, *exact, *covariates, origin, *([pool] if pool else [])],
        name="persons",
    )
    f = tk.follow_up(spells, persons, arm=treatment, origin=origin, id=id)
    person_outcomes = f.outcomes(horizons=horizons).drop(columns=[treatment], errors="ignore")
    base = persons if pool is None else persons.loc[persons[pool].astype(bool)]
    data = base.merge(person_outcomes, left_on=id, right_index=True, how="left")
    data = data.assign(**{treatment: data[treatment].astype(int)})
    m = tk.match(
        data,
        treatment=treatment,
        exact=list(exact) or None,
        score=score,
        covariates=list(covariates),
        caliper=caliper,
        ratio=ratio,
        replace=False,
    )
    effects = m.effect(list(outcomes))
    did = None
    if panel is not None:
        did = tk.did(
            panel,
            outcome=did_outcome,
            unit="municipality",
            time="month",
            first_treated="first_treated",
            control_group="never",
            method="group_time",
            seed=seed,
        )
    return ObservationalEvaluation(follow_up=f, matching=m, effects=effects, did=did)
