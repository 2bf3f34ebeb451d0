"""The observational evaluation path for trials that were not randomised.

The 2017-2018 trials were not randomised. What the evaluation report asked for
instead -- control groups matched on unemployment duration and employability,
a counterfactual against non-trial municipalities, and a five-year register
follow-up of the matched groups -- is one call here:
:func:`evaluate_observational` runs the sequence and returns the result objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from trialkit._checks import require_columns, require_frame
from trialkit._typing import SeedLike
from trialkit.results import EffectTable

__all__ = ["ObservationalEvaluation", "evaluate_observational"]


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
        Follow-up outcomes (``name_{h}m``) estimated after matching.
    origin : str
        Column with the date each person's follow-up starts.
    did_outcome : str
        Panel outcome of the DiD.
    seed : int, Generator or None
        Seed of the DiD bootstrap and the follow-up bands; with None fresh entropy
        is drawn and recorded in the results' ``seed`` (pass it back to replay).

    Returns
    -------
    ObservationalEvaluation

    Examples
    --------
    >>> import trialkit as tk
    >>> reg = tk.datasets.make_register(n_persons=6000, seed=1, truth_n=2000)
    >>> ev = evaluate_observational(reg.persons, reg.spells, reg.panel, seed=1)  # doctest: +SKIP
    >>> ev.effects.to_frame().loc["employed_24m", "estimate"]  # doctest: +SKIP
    """
    import trialkit as tk

    require_frame(persons, name="persons")
    require_columns(persons, [treatment, *exact, *covariates, origin], name="persons")
    horizons = sorted({int(o.rsplit("_", 1)[1].rstrip("m")) for o in outcomes})
    f = tk.follow_up(spells, persons, arm=treatment, origin=origin)
    person_outcomes = f.outcomes(horizons=horizons).drop(columns=[treatment], errors="ignore")
    base = persons if pool is None else persons.loc[persons[pool].astype(bool)]
    data = base.merge(person_outcomes, left_on="person_id", right_index=True, how="left")
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
