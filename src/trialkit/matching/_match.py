"""The front door: ``tk.match`` -> :class:`MatchResult`."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from trialkit._checks import (
    as_list,
    check_choice,
    check_int,
    check_positive,
    drop_missing,
    require_binary,
    require_columns,
    require_frame,
    require_numeric,
    require_unique,
)
from trialkit._rng import as_seed_sequence, seed_record
from trialkit.errors import DataError, DesignError, EstimationError, ExcludedRowsWarning
from trialkit.matching import _core
from trialkit.matching._balance import BalanceTable, balance_table
from trialkit.matching._scores import (
    ScoreResult,
    design_matrix,
    employability_score,
    propensity_score,
    whiten,
)
from trialkit.results import EffectTable, Exclusion, Result, effect_table

__all__ = ["Matching", "MatchResult", "match"]

Method = Literal["nearest", "optimal", "exact", "cem"]
Order = Literal["largest", "smallest", "data", "random"]
Scale = Literal["logit", "identity"]
Support = Literal["none", "treated", "control", "both"]
Missing = Literal["error", "drop"]
EffectMethod = Literal["difference", "regression"]
SEType = Literal["auto", "cluster", "robust", "abadie_imbens"]

_SCORE_WORDS = ("propensity", "employability", "mahalanobis")


def _stratum_codes(
    frame: pd.DataFrame, cols: list[str], factors: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """Integer code per row of the combination of ``cols`` (0.. by first appearance).

    ``factors`` may hold ``pd.factorize`` codes of some of the columns already
    computed on ``frame`` (no missing values), so that a string column is hashed once.
    """
    if not cols:
        return np.zeros(len(frame), dtype=np.int64)
    if len(cols) == 1 and factors is not None and cols[0] in factors:
        return factors[cols[0]].astype(np.int64, copy=False)
    codes = np.zeros(len(frame), dtype=np.int64)
    for c in cols:
        if factors is not None and c in factors:
            k = factors[c]
            n_uniq = int(k.max()) + 1 if k.size else 0
        else:
            k, uniq = pd.factorize(frame[c], use_na_sentinel=False)
            n_uniq = len(uniq)
        codes = codes * n_uniq + k
        codes = pd.factorize(codes)[0].astype(np.int64) if len(cols) > 1 else codes
    return codes.astype(np.int64)


@dataclass(frozen=True, kw_only=True, eq=False)
class Matching:
    """Specification of a matching design (validated on construction); ``fit(data)`` runs it.

    See :func:`match` for the parameters.

    Examples
    --------
    >>> spec = Matching(score="propensity", covariates=["age"], caliper=0.2)
    >>> spec.method
    'nearest'
    """

    treatment: str = "treated"
    method: Method = "nearest"
    score: Any = "propensity"
    covariates: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    caliper: float | None = None
    caliper_units: Literal["sd", "score"] = "sd"
    ratio: int = 1
    replace: bool = False
    order: Order = "largest"
    scale: Scale = "logit"
    link: Literal["logit", "probit"] = "logit"
    score_outcome: str | None = None
    common_support: Support = "none"
    cutpoints: Any = "sturges"
    missing: Missing = "error"
    id: str | None = None
    backend: Any = None
    n_jobs: int | None = None
    seed: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", tuple(as_list(self.covariates)))
        object.__setattr__(self, "exact", tuple(as_list(self.exact)))
        check_choice("method", self.method, ["nearest", "optimal", "exact", "cem"])
        check_choice("order", self.order, ["largest", "smallest", "data", "random"])
        check_choice("scale", self.scale, ["logit", "identity"])
        check_choice("link", self.link, ["logit", "probit"])
        check_choice("common_support", self.common_support, ["none", "treated", "control", "both"])
        check_choice("missing", self.missing, ["error", "drop"])
        check_choice("caliper_units", self.caliper_units, ["sd", "score"])
        check_int("ratio", self.ratio, minimum=1)
        if not isinstance(self.replace, (bool, np.bool_)):
            raise DesignError(f"`replace` must be True or False; got {self.replace!r}")
        if self.caliper is not None:
            check_positive("caliper", self.caliper)
        if self.method in ("exact", "cem"):
            for name, bad in (
                ("caliper", self.caliper is not None),
                ("ratio", self.ratio != 1),
                ("replace", bool(self.replace)),
                ("common_support", self.common_support != "none"),
            ):
                if bad:
                    raise DesignError(
                        f"`{name}` does not apply to method={self.method!r}; leave it at its default"
                    )
        if self.method == "exact" and not self.exact:
            raise DesignError("method='exact' needs the columns to match on in `exact=[...]`")
        if self.method == "cem" and not self.covariates:
            raise DesignError("method='cem' needs `covariates` to coarsen")
        if self.method == "optimal" and self.replace:
            raise DesignError(
                "optimal matching is without replacement; use method='nearest' with replace=True"
            )
        if isinstance(self.score, str) and self.score == "mahalanobis":
            if self.method not in ("nearest",):
                raise DesignError("score='mahalanobis' works with method='nearest' only")
            if self.caliper is not None:
                raise DesignError(
                    "a caliper applies to a scalar score; not with score='mahalanobis'"
                )
            if not self.covariates:
                raise DesignError("score='mahalanobis' needs `covariates`")
        if self.seed is not None and self.order != "random":
            raise DesignError(
                "`seed` is used only with order='random' (matching is otherwise deterministic)"
            )
        if self.order == "random" and self.method != "nearest":
            raise DesignError("order='random' applies to method='nearest'")
        if self.cutpoints != "sturges" and self.method != "cem":
            raise DesignError("`cutpoints` applies to method='cem' only")

    # ------------------------------------------------------------------ running
    def fit(self, data: pd.DataFrame) -> MatchResult:
        """Match ``data`` (one row per person) and return a :class:`MatchResult`."""
        t0 = time.perf_counter()
        require_frame(data)
        tcol = self.treatment
        score_is_col = (
            isinstance(self.score, str)
            and self.score in data.columns
            and self.score_outcome is None
        )
        score_is_array = not isinstance(self.score, str)
        needed = [tcol, *self.exact, *self.covariates]
        if score_is_col:
            needed.append(self.score)
        if isinstance(self.score, str) and self.score == "employability" and not score_is_col:
            if self.score_outcome is None:
                raise DataError(
                    "score='employability' needs a column 'employability' in the data or "
                    "`score_outcome=` (the binary re-employment outcome to fit the prognostic model on)"
                )
        if self.score_outcome is not None:
            needed.append(self.score_outcome)
        if self.id is not None:
            needed.append(self.id)
        needed = list(dict.fromkeys(needed))
        require_columns(data, needed)
        for c in self.covariates:  # (a score column has its own check below)
            col = data[c]
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                n_inf = int(np.isinf(col.to_numpy(dtype=float, na_value=np.nan)).sum())
                if n_inf:
                    raise DataError(
                        f"column {c!r} has {n_inf} infinite values; matching needs finite values"
                    )
        if data[tcol].dtype != bool:  # a bool column is binary by its type
            require_binary(data, tcol)
        if self.id is not None:
            _require_unique_ids(data, self.id)
        elif "person_id" in data.columns:
            # the data model's identifier: a person listed twice could be matched to themself
            _require_unique_ids(data, "person_id")
        frame = data
        if score_is_array:
            arr = np.asarray(self.score, dtype=float).reshape(-1)
            if arr.size != len(data):
                raise DataError(
                    f"`score` array has {arr.size} values but `data` has {len(data)} rows"
                )
            frame = data.assign(_score_=arr)
        check_cols = [tcol, *self.exact, *self.covariates] + (
            [self.score] if score_is_col else (["_score_"] if score_is_array else [])
        )
        check_cols = list(dict.fromkeys(check_cols))
        excluded: list[Exclusion] = []
        # exact-matching columns are factorised once: their codes give the missing
        # counts (-1) and the strata, without a separate scan of (string) columns
        factors = {c: pd.factorize(frame[c])[0] for c in self.exact}
        miss = {
            c: int(np.count_nonzero(factors[c] < 0))
            if c in factors
            else (0 if frame[c].dtype == bool else int(frame[c].isna().sum()))
            for c in check_cols
        }
        if any(miss.values()):
            if self.missing == "error":
                listing = ", ".join(f"{c!r}: {n}" for c, n in miss.items() if n)
                raise DataError(
                    f"missing values in the matching columns ({listing}); fill them, or pass "
                    "missing='drop' to drop those rows (they are reported in `excluded`)"
                )
            frame, ex = drop_missing(frame, check_cols, reason="missing value in a matching column")
            factors = {c: pd.factorize(frame[c])[0] for c in self.exact}
            excluded.extend(ex)
        labels = frame.index  # the caller's row labels: results and pairs keep them
        if not (
            isinstance(frame.index, pd.RangeIndex) and frame.index.equals(pd.RangeIndex(len(frame)))
        ):
            frame = frame.reset_index(drop=True)
        treat = frame[tcol].astype(bool).to_numpy()
        idx1 = np.flatnonzero(treat)  # the treated rows
        if treat.all() or not treat.any():
            raise DataError(f"column {tcol!r} must contain both treated and untreated rows")

        # --- score ------------------------------------------------------------
        score_model: ScoreResult | None = None
        raw: np.ndarray | None = None
        if score_is_col:
            raw = frame[self.score].to_numpy(dtype=float)
        elif score_is_array:
            raw = frame["_score_"].to_numpy(dtype=float)
        elif self.method in ("nearest", "optimal"):
            if self.score == "propensity":
                if not self.covariates:
                    raise DesignError("score='propensity' needs `covariates` for the model")
                score_model = propensity_score(
                    frame, treatment=tcol, covariates=list(self.covariates), link=self.link
                )
                raw = score_model.score
            elif self.score == "employability":
                if not self.covariates:
                    raise DesignError("score='employability' needs `covariates` for the model")
                score_model = employability_score(
                    frame,
                    outcome=str(self.score_outcome),
                    covariates=list(self.covariates),
                    treatment=tcol,
                    link=self.link,
                )
                raw = score_model.score
            elif self.score != "mahalanobis":
                raise DesignError(
                    f"`score` must be one of {list(_SCORE_WORDS)}, a column of `data` or an array; got {self.score!r}"
                )
        distance: np.ndarray | None = None
        if raw is not None:
            if self.scale == "logit":
                if raw.size and not (raw.min() > 0 and raw.max() < 1):
                    raise DataError(
                        "scale='logit' needs a score strictly between 0 and 1 (a probability); "
                        "this one is not -- pass scale='identity' to match on it as it is"
                    )
                distance = np.log(raw / (1 - raw))
            else:
                distance = raw.astype(float)
            bad = ~np.isfinite(distance)
            if bad.any():
                name = self.score if score_is_col else "score"
                raise DataError(
                    f"the matching score {name!r} has {int(bad.sum())} non-finite values "
                    f"(e.g. {distance[bad][0]!r}); distances to them are undefined -- fix or "
                    "drop those rows"
                )

        # --- common support -----------------------------------------------------
        discarded = np.zeros(len(frame), dtype=bool)
        if self.common_support != "none":
            if distance is None:
                raise DesignError("`common_support` needs a scalar score")
            discarded = _core.common_support(distance, treat, self.common_support)  # type: ignore[arg-type]
            for grp, lab in ((True, "treated"), (False, "control")):
                n = int(np.sum(discarded & (treat == grp)))
                if n:
                    excluded.append(
                        Exclusion(
                            reason=f"{lab} outside the common support of the score",
                            n=n,
                            column="score",
                        )
                    )

        strata = _stratum_codes(frame, list(self.exact), factors)
        meta: dict[str, Any] = {
            "method": self.method,
            "ratio": self.ratio,
            "replace": bool(self.replace),
            "order": self.order,
            "exact": list(self.exact),
            "covariates": list(self.covariates),
            "score": self.score if isinstance(self.score, str) else "array",
            "scale": self.scale,
            "common_support": self.common_support,
        }
        # strata with treated but no controls: reported
        keep = ~discarded
        has_controls = _has_controls(strata, idx1, keep) if self.exact else None
        if has_controls is not None and not has_controls.all():
            orphan = np.zeros(len(frame), dtype=bool)
            orphan[idx1] = ~has_controls
            orphan &= keep
            if orphan.any():
                cells = (
                    frame.loc[orphan, list(self.exact)]
                    .drop_duplicates()
                    .astype(str)
                    .agg(", ".join, axis=1)
                    .tolist()
                )
                n_orphan = int(orphan.sum())
                excluded.append(
                    Exclusion(
                        reason=f"treated in exact strata with no controls ({'; '.join(cells[:5])})",
                        n=n_orphan,
                        column=",".join(self.exact),
                    )
                )
                meta["strata_without_controls"] = cells
                warnings.warn(
                    f"{n_orphan} treated rows are in exact strata with no controls and cannot be matched: "
                    f"{cells[:5]}",
                    ExcludedRowsWarning,
                    stacklevel=3,
                )

        mm: np.ndarray | None = None
        seed_rec: Any = None
        caliper_abs: float | None = None
        if self.method in ("nearest", "optimal"):
            all_kept = not discarded.any()

            def sub(a: np.ndarray) -> np.ndarray:
                return a if all_kept else a[keep]

            sub_treat = sub(treat)
            if self.caliper is not None:
                assert distance is not None
                caliper_abs = (
                    float(self.caliper) * float(np.std(sub(distance), ddof=1))
                    if self.caliper_units == "sd"
                    else float(self.caliper)
                )
                meta["caliper_score_units"] = caliper_abs
            if isinstance(self.score, str) and self.score == "mahalanobis":
                x, _ = design_matrix(frame.loc[keep], list(self.covariates))
                z = whiten(x, sub_treat)
                mm_sub = _core.nearest_mahalanobis(
                    z=z,
                    treat=sub_treat,
                    stratum=sub(strata),
                    ratio=self.ratio,
                    replace=bool(self.replace),
                )
            else:
                assert distance is not None
                priority = None
                if self.order == "random":
                    ss = as_seed_sequence(self.seed)
                    seed_rec = seed_record(ss)
                    priority = np.random.Generator(np.random.PCG64(ss)).random(int(sub_treat.sum()))
                job = _StratumJob(
                    priority=priority,
                    method=self.method,
                    distance=sub(distance),
                    treat=sub_treat,
                    strata=sub(strata),
                    ratio=self.ratio,
                    replace=bool(self.replace),
                    caliper=caliper_abs,
                    order=self.order,
                )
                mm_sub = job.run_all(self.backend, self.n_jobs)
            if all_kept:
                mm = mm_sub
            else:  # map back to rows of `frame`
                kept_rows = np.flatnonzero(keep)
                mm = np.full((idx1.size, self.ratio), -1, dtype=np.int64)
                pos1 = np.full(len(frame), -1, dtype=np.int64)
                pos1[idx1] = np.arange(idx1.size)
                sub_rows1 = kept_rows[sub_treat]
                mm[pos1[sub_rows1]] = np.where(mm_sub >= 0, kept_rows[np.maximum(mm_sub, 0)], -1)
            weights = _core.weights_from_mm(mm, treat, idx1)
            subclass = (
                _core.subclass_from_mm(mm, treat, idx1)
                if not self.replace
                else np.zeros(len(frame), np.int64)
            )
            if not (mm >= 0).any():
                raise EstimationError(
                    _nobody_message(distance, treat, strata, keep, caliper_abs, self.caliper)
                )
            # treated (not discarded, with controls in their stratum) left without a match
            unmatched = ~(mm >= 0).any(axis=1)
            t_ok = ~discarded[idx1]
            if has_controls is not None:
                t_ok &= has_controls
            n_unmatched = int(np.count_nonzero(unmatched & t_ok))
            if n_unmatched:
                why = (
                    "treated without a control within the caliper"
                    if caliper_abs is not None
                    else ("treated left without a control (controls used up)")
                )
                excluded.append(Exclusion(reason=why, n=n_unmatched, column="score"))
        else:
            if self.method == "exact":
                cells = _stratum_codes(frame, list(self.exact))
            else:
                cells = _cem_cells(frame, list(self.covariates), list(self.exact), self.cutpoints)
            subclass = _number_common_cells(cells, treat, by_treated=self.method == "exact")
            weights = _core.weights_from_subclass(subclass, treat)
            subclass = np.where(weights > 0, subclass, 0)
            n_drop_t = int(np.sum(treat & (weights == 0)))
            if weights[treat].sum() == 0:
                raise EstimationError(
                    "no treated row shares a cell with any control; coarsen the variables further "
                    "or match on fewer of them"
                )
            if n_drop_t:
                excluded.append(
                    Exclusion(reason="treated in cells with no controls", n=n_drop_t, column=None)
                )
        # under copy-on-write (pandas >= 3, or the option) a shallow copy is safe and
        # avoids copying a register-sized frame; otherwise the input is protected by a copy
        out = frame.copy(deep=not _copy_on_write())
        out["weight"] = weights
        out["subclass"] = pd.arrays.IntegerArray(
            subclass.astype(np.int64, copy=False), subclass <= 0
        )
        if distance is not None:
            out["distance"] = distance
        if score_is_array:
            out = out.drop(columns="_score_")
        out.index = labels
        pairs = _pairs_frame(mm, idx1, out, self.id, distance) if mm is not None else None
        return MatchResult(
            method=self.method,
            n_obs=len(frame),
            excluded=tuple(excluded),
            seed=seed_rec,
            elapsed_s=time.perf_counter() - t0,
            meta=meta,
            spec=self,
            data=out,
            treat=treat,
            distance=distance,
            discarded=discarded,
            match_matrix=mm,
            pairs=pairs,
            score_model=score_model,
        )


def _copy_on_write() -> bool:
    """True when pandas copies shared column data on write (pandas >= 3 or the option)."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return bool(pd.options.mode.copy_on_write is True)


class _StratumJob:
    """Matching on a scalar score, run per exact stratum (serially or on a parallel backend).

    Strata never interact, so matching them one by one -- in any order, on any
    backend -- gives exactly the matching of all of them at once.
    """

    def __init__(
        self,
        *,
        method: str,
        distance: np.ndarray,
        treat: np.ndarray,
        strata: np.ndarray,
        ratio: int,
        replace: bool,
        caliper: float | None,
        order: Order,
        priority: np.ndarray | None = None,
    ) -> None:
        self.priority = priority
        self.method = method
        self.distance = distance
        self.treat = treat
        self.strata = strata
        self.ratio = ratio
        self.replace = replace
        self.caliper = caliper
        self.order: Order = order
        self.groups: list[np.ndarray] = []

    def _one(self, rows: np.ndarray) -> np.ndarray:
        if self.method == "nearest":
            pr = None
            if self.priority is not None:
                pos1 = np.cumsum(self.treat) - 1
                pr = self.priority[pos1[rows[self.treat[rows]]]]
            return _core.nearest_greedy(
                distance=self.distance[rows],
                treat=self.treat[rows],
                ratio=self.ratio,
                caliper=self.caliper,
                replace=self.replace,
                order=self.order,
                priority=pr,
            )
        return _core.optimal_pairs(
            distance=self.distance[rows],
            treat=self.treat[rows],
            ratio=self.ratio,
            caliper=self.caliper,
        )

    def __call__(self, rng: np.random.Generator, i: int) -> np.ndarray:
        return self._one(self.groups[i])

    def run_all(self, backend: Any, n_jobs: int | None) -> np.ndarray:
        from trialkit._parallel import get_config

        if (backend or get_config()["backend"]) == "serial" and self.method == "nearest":
            return _core.nearest_greedy(
                distance=self.distance,
                treat=self.treat,
                stratum=self.strata,
                ratio=self.ratio,
                replace=self.replace,
                caliper=self.caliper,
                order=self.order,
                priority=self.priority,
            )
        from trialkit._parallel import map_replications

        with_t = np.unique(self.strata[self.treat])
        order = np.argsort(self.strata, kind="stable")
        bounds = np.asarray(np.searchsorted(self.strata[order], np.r_[with_t, with_t + 1]))
        k = with_t.size
        self.groups = [order[bounds[j] : bounds[k + j]] for j in range(k)]
        parts = map_replications(self, k, seed=0, backend=backend, n_jobs=n_jobs, desc="strata")
        idx1 = np.flatnonzero(self.treat)
        pos1 = np.full(self.treat.size, -1, dtype=np.int64)
        pos1[idx1] = np.arange(idx1.size)
        mm = np.full((idx1.size, self.ratio), -1, dtype=np.int64)
        for rows, part in zip(self.groups, parts):
            t_rows = rows[self.treat[rows]]
            mm[pos1[t_rows]] = np.where(part >= 0, rows[np.maximum(part, 0)], -1)
        return mm


def _require_unique_ids(data: pd.DataFrame, column: str) -> None:
    """``require_unique``, with a counting pass instead of hashing for integer ids
    of a compact range (the usual register person ids)."""
    s = data[column]
    if pd.api.types.is_integer_dtype(s.dtype) and not isinstance(
        s.dtype, pd.api.types.CategoricalDtype
    ):
        v = s.to_numpy()
        if v.dtype.kind in "iu" and v.size:
            lo, hi = int(v.min()), int(v.max())
            if hi - lo <= 8 * v.size:
                if np.bincount((v - lo).astype(np.intp, copy=False)).max() <= 1:
                    return
    require_unique(data, column)


def _has_controls(strata: np.ndarray, t_rows: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """For each treated row ``t_rows`` (in row order): does its exact stratum hold a kept control?"""
    n_strata = int(strata.max()) + 1
    n_kept = np.bincount(strata if keep.all() else strata[keep], minlength=n_strata)
    t_kept = t_rows if keep.all() else t_rows[keep[t_rows]]
    has0 = (n_kept - np.bincount(strata[t_kept], minlength=n_strata)) > 0
    return has0[strata[t_rows]]


def _nobody_message(
    distance: np.ndarray | None,
    treat: np.ndarray,
    strata: np.ndarray,
    keep: np.ndarray,
    caliper_abs: float | None,
    caliper: float | None,
) -> str:
    if distance is None or caliper_abs is None:
        return "no treated row could be matched to any control"
    mm = _core.nearest_greedy(
        distance=distance[keep], treat=treat[keep], stratum=strata[keep], ratio=1, replace=True
    )
    t = np.flatnonzero(treat[keep])
    ok = mm[:, 0] >= 0
    gaps = np.abs(distance[keep][t[ok]] - distance[keep][mm[ok, 0]])
    sd = caliper_abs / caliper if caliper else 1.0
    if gaps.size == 0:
        return "no treated row has any control in its exact stratum"
    return (
        f"the caliper leaves nobody: caliper = {caliper_abs:.4g} on the score scale ({caliper} SD), "
        f"but the nearest control of any treated row is {gaps.min():.4g} away "
        f"({gaps.min() / sd:.3g} SD; median over treated rows {np.median(gaps) / sd:.3g} SD); widen the caliper"
    )


def _number_common_cells(cells: np.ndarray, treat: np.ndarray, *, by_treated: bool) -> np.ndarray:
    """Cells holding both groups numbered 1.. by first appearance among the treated
    (exact) or the controls (CEM), as MatchIt numbers them; other cells 0."""
    k = int(cells.max()) + 1
    has_other = np.zeros(k, dtype=bool)
    has_other[cells[~treat if by_treated else treat]] = True
    c_cells = cells[treat if by_treated else ~treat]
    c_cells = c_cells[has_other[c_cells]]
    _, first = np.unique(c_cells, return_index=True)
    order = c_cells[np.sort(first)]
    lab = np.zeros(k, dtype=np.int64)
    lab[order] = np.arange(1, order.size + 1)
    return lab[cells]


def _cem_cells(
    frame: pd.DataFrame, covariates: list[str], exact: list[str], cutpoints: Any
) -> np.ndarray:
    """Coarsened cells: numeric covariates binned, others kept exactly."""
    cols: dict[str, np.ndarray] = {}
    cuts = cutpoints if isinstance(cutpoints, Mapping) else {}
    if not isinstance(cutpoints, (Mapping, str, int)):
        raise DesignError(
            "`cutpoints` must be 'sturges', a number of bins, or a dict {column: bins or cut points}"
        )
    if isinstance(cutpoints, str) and cutpoints != "sturges":
        raise DesignError(f"`cutpoints` must be 'sturges', a number or a dict; got {cutpoints!r}")
    unknown = [c for c in cuts if c not in covariates]
    if unknown:
        raise DesignError(
            f"`cutpoints` names columns that are not covariates: {unknown}; covariates: {covariates}"
        )
    for c in covariates:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            x = s.to_numpy(dtype=float)
            spec = cuts.get(c, cutpoints if not isinstance(cutpoints, Mapping) else "sturges")
            if isinstance(spec, str):
                spec = _core.sturges(x.size)
            cols[c] = _core.cem_bins(x, spec)
        else:
            cols[c] = pd.factorize(s)[0]
    for c in exact:
        cols[c] = pd.factorize(frame[c])[0]
    return _stratum_codes(pd.DataFrame(cols), list(cols))


def _pairs_frame(
    mm: np.ndarray,
    idx1: np.ndarray,
    frame: pd.DataFrame,
    id_col: str | None,
    distance: np.ndarray | None,
) -> pd.DataFrame:
    t_rows = np.repeat(idx1, mm.shape[1])
    slot = np.tile(np.arange(1, mm.shape[1] + 1), idx1.size)
    c_rows = mm.ravel()
    ok = c_rows >= 0
    t_rows, c_rows, slot = t_rows[ok], c_rows[ok], slot[ok]
    ids = frame[id_col].to_numpy() if id_col is not None else frame.index.to_numpy()
    out = pd.DataFrame({"treated": ids[t_rows], "control": ids[c_rows], "slot": slot})
    if distance is not None:
        out["gap"] = np.abs(distance[t_rows] - distance[c_rows])
    return out


@dataclass(frozen=True, kw_only=True, eq=False)
class MatchResult(Result):
    """A matched sample: weights, subclasses, pairs, and what was left out and why.

    Attributes
    ----------
    matched : DataFrame
        Rows kept (weight > 0) with columns ``weight`` and ``subclass`` (pair / set
        / cell; missing for matching with replacement, where a control can serve
        several treated), and ``distance`` (the score on the matching scale).
    data : DataFrame
        Every analysed row with ``weight`` (0 = not in the matched sample). Changing it
        never changes the ``data`` passed in: under pandas' copy-on-write (the default
        from pandas 3) it shares the input's columns until either is written, without
        copy-on-write it is a copy.
    pairs : DataFrame or None
        One row per treated-control match: ``treated``, ``control`` (ids, or row
        labels when no ``id`` was given), ``slot`` (1..ratio), ``gap`` (score distance).
    score_model : ScoreResult or None
        The fitted propensity / employability model.
    """

    title: ClassVar[str] = "Matched sample"

    spec: Any
    data: pd.DataFrame
    treat: np.ndarray
    distance: np.ndarray | None
    discarded: np.ndarray
    match_matrix: np.ndarray | None = None
    pairs: pd.DataFrame | None = None
    score_model: ScoreResult | None = None
    cluster: str = "subclass"
    before_weights: np.ndarray | None = None

    @property
    def matched(self) -> pd.DataFrame:
        """Rows kept, with ``weight`` and ``subclass``."""
        return self.data.loc[self.data["weight"].to_numpy() > 0].copy()

    @property
    def weights(self) -> np.ndarray:
        """Matching weights of every analysed row (ATT: treated 1, controls sum to their count)."""
        return self.data["weight"].to_numpy(dtype=float).copy()

    def to_frame(self) -> pd.DataFrame:
        """Sample sizes by group: all, matched, effective (ESS), unmatched, discarded."""
        w = self.weights
        rows = {}
        for lab, g in (("control", ~self.treat), ("treated", self.treat)):
            rows[lab] = {
                "all": int(g.sum()),
                "matched": int(np.sum(g & (w > 0))),
                "matched_ess": _core.ess(w[g & (w > 0)]),
                "unmatched": int(np.sum(g & (w == 0) & ~self.discarded)),
                "discarded": int(np.sum(g & self.discarded)),
            }
        return pd.DataFrame(rows).T.rename_axis("group")

    def _payload(self) -> dict[str, Any]:
        return {"sample_sizes": self.to_frame()}

    # ---------------------------------------------------------------- balance
    def balance(
        self,
        covariates: Sequence[str] | None = None,
        *,
        sd_denominator: Literal["treated", "pooled"] = "treated",
        threshold: float = 0.1,
    ) -> BalanceTable:
        """Balance before and after matching (SMD, variance ratio, eCDF statistics).

        Parameters
        ----------
        covariates : list of str, optional
            Columns to check (default: the matching covariates and exact columns).
            Text/categorical columns get one row per level (``name=level``, as in the randomisation balance table).
        sd_denominator : {"treated", "pooled"}
            Denominator of the SMD, the same before and after matching: the
            standard deviation of the treated group in the unmatched sample (the
            ATT convention of MatchIt and cobalt), or the square root of the mean of
            the two groups' variances. Binary columns use :math:`\\sqrt{p(1-p)}`.
        threshold : float
            Absolute SMD above which a covariate is flagged (``balanced`` column) and drawn.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(1)
        >>> df = pd.DataFrame({"age": rng.normal(40, 10, 800)})
        >>> df["treated"] = rng.random(800) < 1 / (1 + np.exp(-(df["age"] - 45) / 5))
        >>> b = match(df, covariates=["age"], caliper=0.2).balance().to_frame()
        >>> bool(abs(b.loc["age", "smd_after"]) < abs(b.loc["age", "smd_before"]))
        True
        """
        covs = as_list(covariates) or list(dict.fromkeys([*self.spec.covariates, *self.spec.exact]))
        if not covs:
            raise DesignError("no covariates to check: pass `covariates=[...]`")
        require_columns(self.data, covs)
        return balance_table(
            self.data,
            covs,
            treat=self.treat,
            weights=self.weights,
            distance=self.distance,
            sd_denominator=sd_denominator,
            threshold=threshold,
            sizes=self.to_frame(),
            before_weights=self.before_weights,
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Love plot of the balance table (see :meth:`BalanceTable.plot`)."""
        return self.balance().plot(ax=ax, **kwargs)

    # ---------------------------------------------------------------- effects
    def effect(
        self,
        outcome: str | Sequence[str],
        *,
        method: EffectMethod = "difference",
        se: SEType = "auto",
        covariates: Sequence[str] | None = None,
        outcomes: pd.DataFrame | None = None,
        alpha: float = 0.05,
        n_variance: int = 1,
        target: Literal["population", "sample"] = "population",
    ) -> EffectTable:
        r"""Average treatment effect on the treated (ATT) in the matched sample.

        Parameters
        ----------
        outcome : str or list of str
            Outcome column(s) of the matched data, or of ``outcomes``; one row each.
        method : {"difference", "regression"}
            ``difference``: weighted difference in means
            :math:`\bar Y_{1} - \sum_j w_j Y_j / \sum_j w_j`. ``regression``: weighted
            regression of the outcome on treatment, covariates centred at the
            treated means and their interactions with treatment; the treatment
            coefficient is the ATT (regression adjustment on the matched sample,
            Ho, Imai, King & Stuart 2007).
        se : {"auto", "cluster", "robust", "abadie_imbens"}
            ``cluster``: cluster-robust (CR1) by pair / subclass (Abadie & Spiess
            2022) -- the default without replacement, for exact and CEM;
            ``robust``: HC1; ``abadie_imbens``: Abadie & Imbens (2006) for
            nearest-neighbour matching with replacement on a score (the default
            there; ``method="difference"`` only).
        covariates : list of str, optional
            Adjustment covariates for ``regression`` (default: the matching covariates).
        outcomes : DataFrame, optional
            Outcomes from elsewhere (e.g. ``follow_up(...).outcomes()``), joined on the
            match's ``id`` column.
        alpha : float
        n_variance : int
            Abadie--Imbens: number of same-group neighbours for the conditional variance.
        target : {"population", "sample"}
            Abadie--Imbens: population ATT (default) or sample ATT variance.

        Returns
        -------
        EffectTable
            Indexed by ``outcome``: ``estimate, se, ci_low, ci_high, p, n`` and
            ``n_treated``, ``n_control``, ``se_type``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"emp": rng.uniform(0.05, 0.95, 1000)})
        >>> df["treated"] = rng.random(1000) < 0.6 - 0.5 * df["emp"]
        >>> df["employed"] = (rng.random(1000) < 0.8 * df["emp"] + 0.1 * df["treated"]).astype(int)
        >>> m = match(df, score="emp", caliper=0.2)
        >>> e = m.effect("employed").to_frame()
        >>> list(e.columns[:6]), e.loc["employed", "se_type"]
        (['estimate', 'se', 'ci_low', 'ci_high', 'p', 'n'], 'cluster')
        """
        check_choice("method", method, ["difference", "regression"])
        check_choice("se", se, ["auto", "cluster", "robust", "abadie_imbens"])
        check_choice("target", target, ["population", "sample"])
        outs = as_list(outcome)
        if not outs:
            raise DataError("`outcome` must name at least one column")
        if covariates is not None and method != "regression":
            raise DesignError(
                "`covariates` adjust the estimate only with method='regression'; got "
                f"method={method!r}"
            )
        data = self.data
        if outcomes is not None:
            if self.spec.id is None:
                raise DesignError(
                    "joining `outcomes` needs the match's `id` column: match(..., id='person_id')"
                )
            require_columns(outcomes, [self.spec.id, *outs], name="outcomes")
            require_unique(outcomes, self.spec.id, name="outcomes")
            data = data.drop(columns=[c for c in outs if c in data.columns]).merge(
                outcomes[[self.spec.id, *outs]], on=self.spec.id, how="left", validate="many_to_one"
            )
        require_columns(data, outs)
        require_numeric(data, outs, name="matched data")
        replace = bool(self.spec.replace) and self.spec.method == "nearest"
        se_type = se
        if se == "auto":
            se_type = (
                "abadie_imbens"
                if replace and self.distance is not None
                else ("robust" if replace else "cluster")
            )
        if se_type == "cluster" and replace:
            raise DesignError(
                "with replacement there are no disjoint pairs to cluster on; use se='abadie_imbens' or 'robust'"
            )
        if se_type == "abadie_imbens":
            if (
                not replace
                or self.match_matrix is None
                or self.distance is None
                or self.spec.method != "nearest"
            ):
                raise DesignError(
                    "se='abadie_imbens' is for nearest-neighbour matching with replacement on a score"
                )
            if method != "difference":
                raise DesignError("se='abadie_imbens' goes with method='difference'")
        w_all = data["weight"].to_numpy(dtype=float)
        rows_m = w_all > 0
        adj = as_list(covariates) or list(self.spec.covariates)
        est: list[float] = []
        ses: list[float] = []
        ns: list[int] = []
        n1s: list[int] = []
        n0s: list[int] = []
        for y_col in outs:
            yv = pd.to_numeric(data[y_col], errors="coerce")
            if yv.isna().to_numpy()[rows_m].any():
                nmiss = int(yv.isna().to_numpy()[rows_m].sum())
                raise DataError(
                    f"outcome {y_col!r} is missing for {nmiss} matched rows; dropping them would break the "
                    "matched sets -- compute the outcome for everyone (censoring-aware outcomes come from followup)"
                )
            y = yv.to_numpy(dtype=float)
            if se_type == "abadie_imbens":
                assert self.match_matrix is not None and self.distance is not None
                tau, s = _core.abadie_imbens_att(
                    y=y,
                    treat=self.treat,
                    distance=self.distance,
                    mm=self.match_matrix,
                    n_variance=n_variance,
                    target=target,
                )
                est.append(tau)
                ses.append(s)
            else:
                m = rows_m
                t = self.treat[m].astype(float)
                cols = [np.ones(int(m.sum())), t]
                if method == "regression":
                    if not adj:
                        raise DesignError("method='regression' needs `covariates`")
                    require_columns(data, adj)
                    x, _ = design_matrix(data.loc[m], adj)
                    wt = w_all[m]
                    tr = t == 1
                    xc = x - (wt[tr] @ x[tr]) / wt[tr].sum()
                    keep_cols = np.ptp(xc, axis=0) > 0
                    xc = xc[:, keep_cols]
                    cols.extend(list(xc.T))
                    cols.extend(list((xc * t[:, None]).T))
                xmat = np.column_stack(cols)
                cluster = None
                if se_type == "cluster":
                    cluster = pd.factorize(data[self.cluster])[0][m]
                beta, v, _ = _core.wls_cluster(y=y[m], x=xmat, w=w_all[m], cluster=cluster)
                est.append(float(beta[1]))
                ses.append(float(math.sqrt(v[1, 1])))
            ns.append(int(rows_m.sum()))
            n1s.append(int(np.sum(rows_m & self.treat)))
            n0s.append(int(np.sum(rows_m & ~self.treat)))
        return effect_table(
            est,
            ses,
            index=outs,
            index_name="outcome",
            n=ns,
            method=f"att_{method}",
            n_obs=int(rows_m.sum()),
            alpha=alpha,
            extra={"n_treated": n1s, "n_control": n0s, "se_type": [se_type] * len(outs)},
            excluded=self.excluded,
            meta={"estimand": "ATT", "se_type": se_type, "matching": dict(self.meta)},
        )

    # ------------------------------------------------------------ sensitivity
    def sensitivity(
        self,
        outcome: str,
        *,
        gammas: Sequence[float] = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0),
        exact: bool = False,
    ) -> Any:
        """Rosenbaum bounds for the matched pairs on ``outcome`` (see :func:`rosenbaum_bounds`)."""
        from trialkit.matching._sensitivity import rosenbaum_bounds

        if self.pairs is None or self.spec.ratio != 1 or self.spec.replace:
            raise DesignError("Rosenbaum bounds need 1:1 matched pairs without replacement")
        require_columns(self.data, [outcome])
        mm = self.match_matrix
        assert mm is not None
        idx1 = np.flatnonzero(self.treat)
        ok = mm[:, 0] >= 0
        y = self.data[outcome].to_numpy(dtype=float)
        diff = y[idx1[ok]] - y[mm[ok, 0]]
        return rosenbaum_bounds(diff, gammas=gammas, exact=exact)


def match(
    data: pd.DataFrame,
    *,
    treatment: str = "treated",
    method: Method = "nearest",
    score: Any = "propensity",
    covariates: Sequence[str] | None = None,
    exact: Sequence[str] | str | None = None,
    caliper: float | None = None,
    caliper_units: Literal["sd", "score"] = "sd",
    ratio: int = 1,
    replace: bool = False,
    order: Order = "largest",
    scale: Scale = "logit",
    link: Literal["logit", "probit"] = "logit",
    score_outcome: str | None = None,
    common_support: Support = "none",
    cutpoints: Any = "sturges",
    missing: Missing = "error",
    id: str | None = None,
    backend: Any = None,
    n_jobs: int | None = None,
    seed: Any = None,
) -> MatchResult:
    r"""Form a matched control group: exactly on some columns, closely on a score.

    Parameters
    ----------
    data : DataFrame
        One row per person (e.g. ``make_register(...).persons``), treated and
        potential controls together.
    treatment : str
        Binary column: True/1 = treated (trial client).
    method : {"nearest", "optimal", "exact", "cem"}
        ``nearest``: greedy nearest neighbour on the score (MatchIt's algorithm and
        defaults: treated in order of decreasing score, ``ratio`` passes);
        ``optimal``: least total score distance within each exact stratum;
        ``exact``: cells of ``exact`` columns; ``cem``: coarsened exact matching on
        ``covariates`` (numeric ones binned, see ``cutpoints``) and ``exact``.
    score : str or array
        ``"propensity"`` (fitted on ``covariates``), ``"employability"``
        (prognostic model of ``score_outcome`` fitted on the untreated, Hansen
        2008; if the data have a column ``employability`` and no ``score_outcome``
        is given, that column is used as it is), ``"mahalanobis"`` (distance on
        ``covariates``), the name of a column holding a score, or an array.
    covariates : list of str
        Score-model covariates / Mahalanobis or CEM variables; also the default
        balance and adjustment covariates.
    exact : list of str
        Columns matched exactly (e.g. ``duration_band``); strata are never mixed.
    caliper : float, optional
        Largest allowed score distance, in standard deviations of the score on the
        matching scale (pooled over all rows not discarded; ``caliper_units="sd"``,
        MatchIt's convention) or in score units (``caliper_units="score"``).
    ratio : int
        Controls per treated unit (1:k).
    replace : bool
        Whether a control may be matched to several treated units.
    order : {"largest", "smallest", "data", "random"}
        Order of the greedy algorithm over treated units (``random``: drawn with
        ``seed``, recorded in the result).
    scale : {"logit", "identity"}
        Scale of the distance: the logit of a probability score (default; Austin
        2011's caliper of 0.2 SD of the logit), or the score as it is.
    link : {"logit", "probit"}
        Link of the fitted score model.
    score_outcome : str, optional
        Binary outcome the employability score is fitted on.
    common_support : {"none", "treated", "control", "both"}
        Drop rows of that group outside the other group's score range (reported).
    cutpoints : "sturges", int or dict
        CEM bins: Sturges' number of equal-width bins, a number of bins, or a dict
        ``{column: number of bins or list of cut points}``.
    missing : {"error", "drop"}
        Missing values in matching columns: raise listing columns and counts, or
        drop those rows and report them in ``excluded``.
    id : str, optional
        Person id column (used in ``pairs`` and to join ``outcomes`` in
        :meth:`MatchResult.effect`).
    backend : {"serial", "joblib", "dask"}, executor or None
        None (default): the backend set by ``tk.configure`` or ``TRIALKIT_BACKEND``, else serial.
        Where to run the matching of the exact strata (one task per stratum);
        the result is identical on every backend.
    n_jobs : int, optional
        Workers for ``backend="joblib"``.
    seed : int, Generator, SeedSequence or None
        Randomness for ``order="random"`` (the only random step).

    Returns
    -------
    MatchResult
        ``matched`` (rows kept, with ``weight`` and ``subclass``), ``balance()``,
        ``effect(outcome)``, ``sensitivity(outcome)``, ``pairs``, ``excluded``.

    Raises
    ------
    DataError
        Treatment not binary, missing columns or values, a score that is not a probability on the logit scale.
    DesignError
        Options that contradict each other (e.g. a caliper with exact matching).
    EstimationError
        Separation in the score model; a caliper that leaves nobody (the message
        says how close the nearest candidates were).

    Notes
    -----
    Weights (ATT): a matched treated unit has weight 1; a control matched to
    treated units :math:`i` gets :math:`\sum_i 1/m_i` (:math:`m_i` = number of
    controls of :math:`i`), rescaled so control weights sum to the number of
    matched controls; in exact/CEM cell :math:`s`,
    :math:`w = (n_{1s}/n_{0s})(N_0/N_1)`. Treated weights sum to the number of matched
    treated.

    References
    ----------
    Ho, D. E., Imai, K., King, G. & Stuart, E. A. (2011). MatchIt: nonparametric
    preprocessing for parametric causal inference. J. Stat. Softw. 42(8).
    Austin, P. C. (2011). Optimal caliper widths for propensity-score matching.
    Pharmaceutical Statistics 10, 150--161.
    Iacus, S. M., King, G. & Porro, G. (2012). Causal inference without balance
    checking: coarsened exact matching. Political Analysis 20, 1--24.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n = 2000
    >>> df = pd.DataFrame({"band": rng.choice(["12-23", "24+"], n), "age": rng.normal(40, 10, n)})
    >>> df["treated"] = rng.random(n) < 1 / (1 + np.exp(-(df["age"] - 50) / 5))
    >>> m = match(df, exact=["band"], covariates=["age"], caliper=0.2)
    >>> bool((m.matched.groupby("subclass")["band"].nunique() == 1).all())
    True
    >>> float(m.matched.loc[m.matched["treated"], "weight"].sum()) == float(m.to_frame().loc["treated", "matched"])
    True
    """
    spec = Matching(
        treatment=treatment,
        method=method,
        score=score,
        covariates=tuple(as_list(covariates)),
        exact=tuple(as_list(exact)),
        caliper=caliper,
        caliper_units=caliper_units,
        ratio=ratio,
        replace=replace,
        order=order,
        scale=scale,
        link=link,
        score_outcome=score_outcome,
        common_support=common_support,
        cutpoints=cutpoints,
        missing=missing,
        id=id,
        backend=backend,
        n_jobs=n_jobs,
        seed=seed,
    )
    return spec.fit(data)
