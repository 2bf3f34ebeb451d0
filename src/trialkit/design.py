"""Declare a trial before it starts: :class:`TrialDesign` and its pre-analysis plan.

The evaluation of the 2017-2018 Finnish trials found that "randomisation or
control groups are very hard to arrange afterwards". A :class:`TrialDesign`
states everything up front -- population and eligibility, unit of
randomisation, arms and ratio, strata, clusters, outcomes with horizons,
estimands and estimators, alpha and multiplicity rule, follow-up length -- and
produces a content-hashed :class:`PreAnalysisPlan`. After follow-up,
:meth:`TrialDesign.deviations` compares what is analysed with what was
planned, so any change (an outcome swapped, a horizon moved, alpha relaxed)
is flagged rather than hidden.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, cast

import numpy as np
import pandas as pd

from trialkit._checks import as_list, check_choice, require_columns, require_frame
from trialkit._version import __version__
from trialkit.errors import DataError, DesignError
from trialkit.randomisation.assignment import METHODS
from trialkit.results import EffectTable, Exclusion, jsonable

__all__ = ["Outcome", "TrialDesign", "PreAnalysisPlan", "Deviation", "PlannedAnalysis", "adjust_p"]

OutcomeKind = Literal["binary", "continuous", "count", "duration"]
Unit = Literal["person", "cluster"]
Multiplicity = Literal["none", "bonferroni", "holm"]
_KINDS = ("binary", "continuous", "count", "duration")
_MULTIPLICITY = ("none", "bonferroni", "holm")
_ESTIMATORS = ("difference_in_means", "lin", "cox", "rmst", "km")
#: Mechanisms :meth:`TrialDesign.randomise` runs itself; the others need arguments the
#: design does not declare (steps, capacity, covariates' balance criterion).
_SELF_RANDOMISED = ("complete", "bernoulli", "matched_pairs")


def _positive_int(param: str, value: Any) -> int:
    """A whole number of months > 0 (Python or numpy integer; not a bool, not 60.5)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise DesignError(
            f"`{param}` must be a positive whole number of months (e.g. 12); got {value!r} "
            f"of type {type(value).__name__}"
        )
    if value <= 0:
        raise DesignError(f"`{param}` must be a positive number of months; got {value!r}")
    return int(value)


def _real(param: str, value: Any, *, optional: bool = False) -> float | None:
    """A finite real number (Python or numpy; not a bool or a string)."""
    if value is None and optional:
        return None
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not np.isfinite(value)
    ):
        raise DesignError(f"`{param}` must be a finite number; got {value!r}")
    return float(value)


def _name(param: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        what = "a non-empty string or None" if optional else "a non-empty string"
        raise DesignError(f"`{param}` must be {what}; got {value!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One declared outcome.

    Parameters
    ----------
    name : str
        Outcome name as computed by the follow-up module (e.g. ``"employed"``,
        ``"days_employed"``) or a column of the analysis data.
    kind : {"binary", "continuous", "count", "duration"}
    horizon : int, optional
        Months after origin at which it is measured (e.g. 12, 60).
    primary : bool
        Primary outcomes carry the multiplicity correction and the power analysis.
    estimator : str
        ``"difference_in_means"``, ``"lin"`` (covariate-adjusted), ``"cox"``,
        ``"rmst"`` or ``"km"``.
    expected_effect : float, optional
        Effect the trial is powered for (outcome units; for binary outcomes a
        difference in proportions).
    baseline : float, optional
        Control-group mean (binary: proportion) used for power.
    sd : float, optional
        Outcome standard deviation (continuous outcomes) used for power.
    """

    name: str
    kind: OutcomeKind = "binary"
    horizon: int | None = None
    primary: bool = False
    estimator: str = "lin"
    expected_effect: float | None = None
    baseline: float | None = None
    sd: float | None = None

    def __post_init__(self) -> None:
        _name("name", self.name)
        check_choice("kind", self.kind, _KINDS)
        check_choice("estimator", self.estimator, _ESTIMATORS)
        if self.horizon is not None:
            object.__setattr__(self, "horizon", _positive_int("horizon", self.horizon))
        if not isinstance(self.primary, (bool, np.bool_)):
            raise DesignError(f"`primary` must be True or False; got {self.primary!r}")
        object.__setattr__(self, "primary", bool(self.primary))
        for param in ("expected_effect", "baseline", "sd"):
            object.__setattr__(self, param, _real(param, getattr(self, param), optional=True))
        if self.sd is not None and self.sd <= 0:
            raise DesignError(f"`sd` must be > 0; got {self.sd!r}")

    @property
    def label(self) -> str:
        """``name`` with its horizon, e.g. ``employed_12m``."""
        return f"{self.name}_{self.horizon}m" if self.horizon else self.name


@dataclass(frozen=True)
class Deviation:
    """A difference between the pre-analysis plan and what is analysed."""

    field: str
    planned: Any
    actual: Any

    def __str__(self) -> str:
        return f"DEVIATION in {self.field}: planned {self.planned!r}, analysed {self.actual!r}"


#: Fields of a plan's content (``TrialDesign._content``).
_PLAN_KEYS = (
    "title",
    "trialkit_version",
    "population",
    "eligibility",
    "unit",
    "id",
    "arms",
    "strata",
    "cluster",
    "method",
    "outcomes",
    "covariates",
    "alpha",
    "power",
    "multiplicity",
    "follow_up_months",
    "origin",
    "randomisation_certificate",
)


@dataclass(frozen=True)
class PreAnalysisPlan:
    """A content-hashed pre-analysis plan (JSON and Markdown).

    ``sha256`` is the hash of the canonical JSON of ``content`` (sorted keys,
    no whitespace); publish it (or register it) before the trial starts, and
    anyone can later check that the plan was not changed.
    """

    content: Mapping[str, Any]
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """Plan content plus its hash (JSON-safe)."""
        return {"plan": jsonable(self.content), "sha256": self.sha256}

    def to_json(self, path: str | None = None) -> str:
        """The plan as JSON; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return text

    @classmethod
    def from_json(cls, text: str) -> PreAnalysisPlan:
        """Read a plan written by :meth:`to_json`; raises if its hash does not match.

        Raises
        ------
        DataError
            If ``text`` is not JSON, lacks ``plan`` or ``sha256`` (or the plan lacks
            one of its fields; the missing keys are named), or the hash does not match.
        """
        try:
            d = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"pre-analysis plan is not JSON ({exc}); pass the text PreAnalysisPlan.to_json wrote"
            ) from exc
        if not isinstance(d, Mapping):
            raise DataError(
                f"pre-analysis plan JSON must be an object with keys 'plan' and 'sha256'; "
                f"got {type(d).__name__}"
            )
        missing = [k for k in ("plan", "sha256") if k not in d]
        if missing:
            raise DataError(
                f"pre-analysis plan JSON lacks the key(s) {missing}; a plan written by "
                "PreAnalysisPlan.to_json has 'plan' (its content) and 'sha256' (its hash)"
            )
        if not isinstance(d["plan"], Mapping) or not isinstance(d["sha256"], str):
            raise DataError(
                "pre-analysis plan JSON: 'plan' must be an object and 'sha256' a string"
            )
        missing = [k for k in _PLAN_KEYS if k not in d["plan"]]
        if missing:
            raise DataError(f"pre-analysis plan content lacks the key(s) {missing}")
        plan = cls(content=d["plan"], sha256=d["sha256"])
        if _hash(d["plan"]) != d["sha256"]:
            raise DataError(
                "pre-analysis plan was edited after it was hashed: sha256 does not match its content"
            )
        return plan

    def to_markdown(self) -> str:
        """A readable plan for publication."""
        c = self.content
        lines = [
            f"# Pre-analysis plan: {c['title']}",
            "",
            f"*trialkit {c['trialkit_version']}; plan hash (SHA-256) `{self.sha256}`*",
            "",
            "## Population and eligibility",
            "",
            f"{c['population']}",
            "",
            f"Eligibility rule: `{c['eligibility'] or 'everyone in the data'}`",
            "",
            "## Assignment",
            "",
            f"- unit of randomisation: {c['unit']}"
            + (f" (clusters: `{c['cluster']}`)" if c["cluster"] else ""),
            f"- arms and ratio: {', '.join(f'{a} {r:g}' for a, r in c['arms'].items())}",
            f"- strata: {', '.join(c['strata']) or 'none'}",
            f"- mechanism: {c['method']}",
            "",
            "## Outcomes",
            "",
            "| outcome | kind | horizon (months) | primary | estimator | expected effect |",
            "|---|---|---|---|---|---|",
        ]
        for o in c["outcomes"]:
            lines.append(
                f"| {o['name']} | {o['kind']} | {o['horizon'] or ''} | {'yes' if o['primary'] else 'no'} "
                f"| {o['estimator']} | {'' if o['expected_effect'] is None else o['expected_effect']} |"
            )
        lines += [
            "",
            "## Inference",
            "",
            f"- significance level alpha = {c['alpha']}, two-sided; target power {c['power']}",
            f"- multiplicity rule across primary outcomes: {c['multiplicity']}",
            f"- covariates for adjustment: {', '.join(c['covariates']) or 'none'}",
            f"- follow-up: {c['follow_up_months']} months from {c['origin']}",
        ]
        if c.get("randomisation_certificate"):
            # a reference only, even for a plan written before per-person records were dropped
            cert = _certificate_reference(c["randomisation_certificate"])
            lines += [
                "",
                "## Randomisation certificate (reference)",
                "",
                "The full certificate, with the per-person records `tk.verify` needs, is kept "
                "with the data; its `assignment_hash` must equal the one below.",
                "",
                "```json",
                json.dumps(cert, indent=2, sort_keys=True),
                "```",
            ]
        return "\n".join(lines) + "\n"


def adjust_p(p: Sequence[float] | np.ndarray, method: Multiplicity) -> np.ndarray:
    """Family-wise error adjusted p-values (Bonferroni; Holm 1979 step-down).

    Examples
    --------
    >>> adjust_p([0.01, 0.04, 0.03], "holm").round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    check_choice("multiplicity", method, _MULTIPLICITY)
    pv = np.asarray(p, dtype=float)
    m = pv.size
    if method == "none" or m == 0:
        return pv.copy()
    if method == "bonferroni":
        return np.minimum(pv * m, 1.0)
    order = np.argsort(pv, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * pv[order])
    out = np.empty_like(pv)
    out[order] = np.minimum(stepped, 1.0)
    return out


@dataclass(frozen=True, kw_only=True, eq=False)
class PlannedAnalysis(EffectTable):
    """The pre-registered analysis: one row per declared outcome and arm.

    Extra columns: ``primary`` and ``p_adjusted`` (multiplicity rule of the
    plan over the primary outcomes). ``deviations`` lists every difference
    from the pre-analysis plan; :meth:`summary` prints them first.
    """

    title: ClassVar[str] = "Pre-registered analysis"

    deviations: tuple[Deviation, ...] = ()
    plan_sha256: str | None = None

    def _header(self) -> list[str]:
        lines = super()._header()
        lines.append(f"Plan (SHA-256): {self.plan_sha256}")
        if self.deviations:
            lines.append(f"!! {len(self.deviations)} deviation(s) from the pre-analysis plan:")
            lines.extend(f"   {d}" for d in self.deviations)
        else:
            lines.append("Analysed as planned: no deviations.")
        return lines

    def _payload(self) -> dict[str, Any]:
        out = super()._payload()
        out["plan_sha256"] = self.plan_sha256
        out["deviations"] = [
            {"field": d.field, "planned": d.planned, "actual": d.actual} for d in self.deviations
        ]
        return out


#: Certificate keys a pre-analysis plan keeps: what identifies the draw (hashes, seed,
#: algorithm and version) and what was planned (arms, ratios, strata names, totals), never
#: the per-person records (``ids``, ``id_strata``, ``id_clusters``) nor per-stratum counts.
_CERTIFICATE_REFERENCE_KEYS = (
    "certificate",
    "algorithm",
    "algorithm_version",
    "trialkit_version",
    "created",
    "method",
    "seed",
    "id",
    "id_kind",
    "n_units",
    "ids_hash",
    "arms",
    "ratios",
    "fixed_counts",
    "strata",
    "missing_strata",
    "strata_hash",
    "cluster",
    "n_clusters",
    "cluster_hash",
    "covariates_hash",
    "steps",
    "assignment_hash",
)


def _certificate_reference(certificate: Mapping[str, Any]) -> dict[str, Any]:
    """A reference to a randomisation certificate that names no person.

    Keeps the hashes (ids, strata, clusters, covariates, assignment), the seed and the
    algorithm with its version, the arms and the number of units per arm; drops the
    per-person records and the per-stratum counts, which stay with the full
    certificate (kept with the data, used by :func:`trialkit.verify`).
    """
    if not isinstance(certificate, Mapping):
        raise DesignError(
            "`certificate` must be the randomisation certificate mapping "
            f"(Assignment.certificate); got {type(certificate).__name__}"
        )
    ref = {k: certificate[k] for k in _CERTIFICATE_REFERENCE_KEYS if k in certificate}
    if "units_per_arm" in certificate:
        ref["units_per_arm"] = dict(certificate["units_per_arm"])
    elif certificate.get("counts") is not None and certificate.get("arms") is not None:
        totals = np.asarray(certificate["counts"], dtype=np.int64).reshape(
            -1, len(certificate["arms"])
        )
        ref["units_per_arm"] = {
            str(a): int(t) for a, t in zip(certificate["arms"], totals.sum(axis=0), strict=True)
        }
    return ref


def _hash(content: Mapping[str, Any]) -> str:
    canon = json.dumps(jsonable(content), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class TrialDesign:
    """A trial declared before it starts.

    Parameters
    ----------
    title : str
        Name of the trial.
    population : str
        Who the trial is about, in words.
    eligibility : str, optional
        A :meth:`pandas.DataFrame.query` expression selecting eligible persons,
        e.g. ``"duration_months >= 12"`` (the long-term unemployed).
    unit : {"person", "cluster"}
        Unit of randomisation; ``"cluster"`` needs ``cluster``, and a ``cluster``
        needs ``unit="cluster"`` (whole clusters are randomised).
    id : str
        Person identifier column.
    arms : mapping of str to float
        Arms and their allocation ratio; the first arm is the control.
    strata : sequence of str
        Stratification columns.
    cluster : str, optional
        Cluster column (municipality, office) for cluster designs (``unit="cluster"``).
    method : {"complete", "bernoulli", "matched_pairs", "stepped_wedge", "lottery", "rerandomised"}
        Randomisation mechanism of :func:`trialkit.randomise`. :meth:`randomise` runs
        the first three (``"matched_pairs"`` with ``strata`` naming the pairs); for the
        others, which need steps, a capacity or a balance criterion, call
        :func:`trialkit.randomise` and pass its certificate to :meth:`plan`.
    outcomes : sequence of Outcome
        Declared outcomes; at least one primary.
    covariates : sequence of str
        Baseline covariates for the covariate-adjusted (Lin) estimator.
    alpha, power : float
        Significance level and target power.
    multiplicity : {"none", "bonferroni", "holm"}
        Correction across primary outcomes.
    follow_up_months : int
        Length of register follow-up in whole months (the report asks for five years);
        no outcome's horizon may be later.
    origin : str
        Column with the date follow-up starts.

    Examples
    --------
    >>> d = TrialDesign(title="Lapland LTU trial", population="12+ months unemployed in Lapland",
    ...                 eligibility="duration_months >= 12", strata=("duration_band",),
    ...                 outcomes=(Outcome(name="employed", horizon=12, primary=True,
    ...                                   expected_effect=0.03, baseline=0.25),))
    >>> len(d.plan().sha256)
    64
    """

    title: str
    population: str
    eligibility: str | None = None
    unit: Unit = "person"
    id: str = "person_id"
    arms: Mapping[str, float] = field(default_factory=lambda: {"control": 1.0, "treatment": 1.0})
    strata: Sequence[str] = ()
    cluster: str | None = None
    method: str = "complete"
    outcomes: Sequence[Outcome] = ()
    covariates: Sequence[str] = ()
    alpha: float = 0.05
    power: float = 0.8
    multiplicity: Multiplicity = "holm"
    follow_up_months: int = 60
    origin: str = "origin"

    def __post_init__(self) -> None:
        _name("title", self.title)
        _name("population", self.population)
        _name("eligibility", self.eligibility, optional=True)
        _name("id", self.id)
        _name("origin", self.origin)
        _name("cluster", self.cluster, optional=True)
        if not isinstance(self.arms, Mapping):
            raise DesignError(
                "`arms` must be a mapping arm -> allocation ratio, e.g. "
                f"{{'control': 1, 'treatment': 1}}; got {self.arms!r}"
            )
        object.__setattr__(self, "arms", dict(self.arms))
        for param in ("strata", "covariates"):
            cols = tuple(as_list(getattr(self, param)))
            for c in cols:
                _name(f"{param} entries", c)
            object.__setattr__(self, param, cols)
        if not isinstance(self.outcomes, (Sequence, Outcome)) or isinstance(self.outcomes, str):
            raise DesignError(f"`outcomes` must be a sequence of Outcome; got {self.outcomes!r}")
        outcomes = (self.outcomes,) if isinstance(self.outcomes, Outcome) else tuple(self.outcomes)
        for o in outcomes:
            if not isinstance(o, Outcome):
                raise DesignError(
                    f"`outcomes` must hold Outcome objects (trialkit.design.Outcome); got {o!r}"
                )
        object.__setattr__(self, "outcomes", outcomes)
        check_choice("unit", self.unit, ("person", "cluster"))
        check_choice("method", self.method, METHODS)
        check_choice("multiplicity", self.multiplicity, _MULTIPLICITY)
        if len(self.arms) < 2:
            raise DesignError(f"`arms` must name at least two arms; got {list(self.arms)}")
        for a, r in self.arms.items():
            if not isinstance(a, str) or not a:
                raise DesignError(f"arm names in `arms` must be non-empty strings; got {a!r}")
            if (
                isinstance(r, (bool, np.bool_))
                or not isinstance(r, (int, float, np.integer, np.floating))
                or not np.isfinite(r)
                or r <= 0
            ):
                raise DesignError(
                    "allocation ratios in `arms` must be positive finite numbers; "
                    f"got {r!r} for arm {a!r}"
                )
        if self.unit == "cluster" and not self.cluster:
            raise DesignError(
                "`unit='cluster'` needs `cluster`, the cluster column (e.g. 'municipality')"
            )
        if self.cluster and self.unit != "cluster":
            raise DesignError(
                f"`cluster={self.cluster!r}` randomises whole clusters, so the unit of "
                "randomisation is the cluster: pass unit='cluster' (or leave `cluster` out to "
                "randomise persons)"
            )
        if self.method == "matched_pairs" and not self.strata:
            raise DesignError(
                "method='matched_pairs' needs `strata` naming each unit's pair (e.g. ('pair',))"
            )
        for param in ("alpha", "power"):
            v = _real(param, getattr(self, param))
            if not 0 < v < 1:  # type: ignore[operator]
                raise DesignError(f"`{param}` must be in (0, 1); got {getattr(self, param)!r}")
            object.__setattr__(self, param, v)
        if not self.outcomes or not any(o.primary for o in self.outcomes):
            raise DesignError("declare at least one outcome with primary=True")
        labels = [o.label for o in self.outcomes]
        if len(set(labels)) != len(labels):
            raise DesignError(f"outcomes are declared twice: {labels}")
        object.__setattr__(
            self, "follow_up_months", _positive_int("follow_up_months", self.follow_up_months)
        )
        beyond = [o.label for o in self.outcomes if (o.horizon or 0) > self.follow_up_months]
        if beyond:
            raise DesignError(
                f"outcomes {beyond} are measured after the end of follow-up "
                f"(`follow_up_months`={self.follow_up_months}); lengthen follow-up or shorten "
                "their horizons"
            )

    @property
    def primary(self) -> tuple[Outcome, ...]:
        """The primary outcomes."""
        return tuple(o for o in self.outcomes if o.primary)

    @property
    def control(self) -> str:
        """The control arm (the first arm)."""
        return next(iter(self.arms))

    def _content(self, certificate: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {
            "title": self.title,
            "trialkit_version": __version__,
            "population": self.population,
            "eligibility": self.eligibility,
            "unit": self.unit,
            "id": self.id,
            "arms": {k: float(v) for k, v in self.arms.items()},
            "strata": list(self.strata),
            "cluster": self.cluster,
            "method": self.method,
            "outcomes": [asdict(o) for o in self.outcomes],
            "covariates": list(self.covariates),
            "alpha": self.alpha,
            "power": self.power,
            "multiplicity": self.multiplicity,
            "follow_up_months": self.follow_up_months,
            "origin": self.origin,
            "randomisation_certificate": (
                _certificate_reference(certificate) if certificate else None
            ),
        }

    def plan(self, *, certificate: Mapping[str, Any] | None = None) -> PreAnalysisPlan:
        """The content-hashed pre-analysis plan (include the randomisation certificate once drawn).

        The plan is for publication, so of ``certificate`` it keeps only a reference:
        the ids, strata, cluster and assignment hashes, the seed, the algorithm and its
        version, the arms and units per arm -- never the per-person records (``ids``,
        ``id_strata``, ``id_clusters``) or per-stratum counts. Keep the full certificate
        with the data; :func:`trialkit.verify` re-derives the assignment from it, and its
        ``assignment_hash`` must equal the plan's.
        """
        if certificate:
            self._check_certificate(certificate)
        content = self._content(certificate)
        return PreAnalysisPlan(content=jsonable(content), sha256=_hash(content))

    def _check_certificate(self, certificate: Mapping[str, Any]) -> None:
        """The certificate must come from a draw of this design's mechanism and unit."""
        if not isinstance(certificate, Mapping):
            raise DesignError(
                "`certificate` must be the randomisation certificate mapping "
                f"(Assignment.certificate); got {type(certificate).__name__}"
            )
        checks = [("method", self.method), ("cluster", self.cluster), ("id", self.id)]
        if (
            self.cluster is not None
            and certificate.get("cluster") is None
            and certificate.get("id") == self.cluster
        ):
            # a table of the clusters themselves (one row per municipality, id = cluster),
            # as the demo's phased roll-out draws them: the clusters are the units
            checks = [("method", self.method)]
        for key, declared in checks:
            if key in certificate and certificate[key] != declared:
                raise DesignError(
                    f"the randomisation certificate's {key} is {certificate[key]!r} but the "
                    f"design declares {key}={declared!r}"
                )

    def eligible(self, persons: pd.DataFrame) -> tuple[pd.DataFrame, tuple[Exclusion, ...]]:
        """Persons meeting the eligibility rule, and how many were not eligible.

        Raises
        ------
        DataError
            If the rule refers to a column that ``persons`` lacks.
        """
        require_frame(persons, name="persons")
        if not self.eligibility:
            return persons, ()
        try:
            mask = persons.eval(self.eligibility)
        except Exception as exc:  # pandas raises several types for a bad expression
            raise DataError(
                f"eligibility rule {self.eligibility!r} cannot be evaluated on `persons`: {exc}; "
                f"available columns: {list(persons.columns)}"
            ) from exc
        mask = pd.Series(mask, index=persons.index).fillna(False).astype(bool)
        n_out = int((~mask).sum())
        excluded = (
            (Exclusion(reason=f"not eligible ({self.eligibility})", n=n_out),) if n_out else ()
        )
        return persons.loc[mask], excluded

    def randomise(self, persons: pd.DataFrame, *, seed: Any = None) -> Any:
        """Randomise the eligible persons (or their clusters) as declared; returns the assignment."""
        from trialkit.randomisation import randomise

        if self.method not in _SELF_RANDOMISED:
            raise DesignError(
                f"method={self.method!r} needs arguments the design does not declare (steps, "
                "capacity or a balance criterion): call trialkit.randomise(...) with them and "
                f"pass its certificate to plan(); TrialDesign.randomise runs {list(_SELF_RANDOMISED)}"
            )
        eligible, _ = self.eligible(persons)
        require_columns(eligible, [self.id, *self.strata, *as_list(self.cluster)], name="persons")
        return randomise(
            eligible,
            id=self.id,
            arms=dict(self.arms),
            strata=list(self.strata) or None,
            cluster=self.cluster,
            method=cast(Any, self.method),
            seed=seed,
        )

    def analyse(
        self,
        data: pd.DataFrame,
        plan: PreAnalysisPlan | None = None,
        *,
        arm: str = "arm",
    ) -> PlannedAnalysis:
        """Run the declared analysis of every outcome and flag deviations from ``plan``.

        Each declared outcome is read from the column ``outcome.label`` (e.g.
        ``employed_12m``, as :meth:`trialkit.followup.FollowUp.outcomes` names
        them) and estimated with its declared estimator through
        :func:`trialkit.randomisation.itt`: ``"lin"`` adjusts for the declared
        covariates (and strata indicators), ``"difference_in_means"`` is blocked
        on the declared strata. P-values of the primary outcomes are adjusted by
        the plan's multiplicity rule.

        Parameters
        ----------
        data : DataFrame
            One row per randomised person: arm, outcomes, covariates, strata.
        plan : PreAnalysisPlan, optional
            The published plan; differences are listed in ``deviations``.
        arm : str
            Column of the assigned arm.

        Returns
        -------
        PlannedAnalysis

        Raises
        ------
        DataError
            If a declared outcome column is missing.
        DesignError
            For duration estimators (``cox``, ``rmst``, ``km``): use
            :mod:`trialkit.followup` for those.
        """
        from trialkit.randomisation import itt

        labels = [o.label for o in self.outcomes]
        require_columns(data, [arm, *labels], name="data")
        rows: list[pd.DataFrame] = []
        excluded: list[Exclusion] = []
        for o in self.outcomes:
            if o.estimator not in ("lin", "difference_in_means"):
                raise DesignError(
                    f"outcome {o.label!r} declares estimator {o.estimator!r}; TrialDesign.analyse runs "
                    "'lin' and 'difference_in_means' -- use trialkit.followup for duration estimators"
                )
            kw: dict[str, Any] = {
                "outcome": o.label,
                "arm": arm,
                "control": self.control,
                "alpha": self.alpha,
                "method": o.estimator,
                "strata": list(self.strata) or None,
            }
            if o.estimator == "lin":
                kw["covariates"] = list(self.covariates) or None
            if self.cluster:
                kw["cluster"] = self.cluster
            res = itt(data, **kw)
            frame = res.to_frame()
            frame.insert(0, "outcome", o.label)
            frame["primary"] = o.primary
            rows.append(frame.reset_index())
            excluded.extend(res.excluded)
        table = pd.concat(rows, ignore_index=True).set_index(["outcome", "arm"])
        primary = table["primary"].to_numpy(bool)
        p_adj = table["p"].to_numpy(float).copy()
        p_adj[primary] = adjust_p(p_adj[primary], self.multiplicity)
        table["p_adjusted"] = p_adj
        deviations = tuple(self.deviations(plan)) if plan is not None else ()
        return PlannedAnalysis(
            method="pre-registered",
            n_obs=len(data),
            alpha=self.alpha,
            excluded=tuple(excluded),
            meta={"multiplicity": self.multiplicity, "index_names": ["outcome", "arm"]},
            table=table,
            deviations=deviations,
            plan_sha256=plan.sha256 if plan is not None else None,
        )

    def deviations(
        self, plan: PreAnalysisPlan, *, analysed: TrialDesign | None = None
    ) -> list[Deviation]:
        """Fields of the analysis that differ from the plan (empty when it was followed).

        Parameters
        ----------
        plan : PreAnalysisPlan
            The plan published before the trial.
        analysed : TrialDesign, optional
            The design as actually analysed (default: ``self``).
        """
        if _hash(plan.content) != plan.sha256:
            raise DataError(
                "the pre-analysis plan's content does not match its hash: it was edited"
            )
        now = jsonable((analysed or self)._content())
        before = dict(plan.content)
        out: list[Deviation] = []
        for key in now:
            if key in ("trialkit_version", "randomisation_certificate"):
                continue
            if key == "outcomes":
                p = {(o["name"], o["horizon"]): o for o in before.get("outcomes", [])}
                a = {(o["name"], o["horizon"]): o for o in now["outcomes"]}
                for k in sorted(set(p) | set(a), key=str):
                    if p.get(k) != a.get(k):
                        out.append(
                            Deviation(
                                field=f"outcome {k[0]}@{k[1]}", planned=p.get(k), actual=a.get(k)
                            )
                        )
            elif before.get(key) != now[key]:
                out.append(Deviation(field=key, planned=before.get(key), actual=now[key]))
        return out
