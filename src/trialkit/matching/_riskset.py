"""Risk-set (dynamic) matching for services that start at any point of unemployment."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from trialkit._checks import (
    as_list,
    check_choice,
    check_int,
    check_positive,
    require_columns,
    require_frame,
    require_no_missing,
    require_numeric,
    require_unique,
)
from trialkit.errors import DataError, EstimationError
from trialkit.matching import _core
from trialkit.results import Exclusion

__all__ = ["RiskSetMatching", "risk_set_match"]


@dataclass(frozen=True, kw_only=True, eq=False)
class RiskSetMatching:
    """Specification of risk-set matching; see :func:`risk_set_match`."""

    start: str
    exit: str
    score: Any
    id: str
    exact: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()
    caliper: float | None = None
    ratio: int = 1
    replace: bool = True
    scale: Literal["logit", "identity"] = "identity"
    method: str = "risk_set"
    treatment: str = "treated"

    def __post_init__(self) -> None:
        object.__setattr__(self, "exact", tuple(as_list(self.exact)))
        object.__setattr__(self, "covariates", tuple(as_list(self.covariates)))
        check_int("ratio", self.ratio, minimum=1)
        check_choice("scale", self.scale, ["logit", "identity"])
        if self.caliper is not None:
            check_positive("caliper", self.caliper)

    def fit(self, data: pd.DataFrame) -> Any:
        from trialkit.matching._match import MatchResult, _stratum_codes

        t0 = time.perf_counter()
        require_frame(data)
        score_col = self.score if isinstance(self.score, str) else None
        cols = [self.start, self.exit, self.id, *self.exact, *self.covariates]
        if score_col is not None:
            cols.append(score_col)
        require_columns(data, list(dict.fromkeys(cols)))
        require_unique(data, self.id)
        require_numeric(data, [self.start, self.exit])
        require_no_missing(data, [self.exit, *self.exact], id=self.id)
        frame = data.reset_index(drop=True)
        if score_col is None:
            raw = np.asarray(self.score, dtype=float).reshape(-1)
            if raw.size != len(frame):
                raise DataError(
                    f"`score` array has {raw.size} values but `data` has {len(frame)} rows"
                )
        else:
            require_no_missing(frame, [score_col], id=self.id)
            raw = frame[score_col].to_numpy(dtype=float)
        if self.scale == "logit":
            if np.any((raw <= 0) | (raw >= 1)):
                raise DataError(
                    "scale='logit' needs a score strictly between 0 and 1; use scale='identity'"
                )
            dist = np.log(raw / (1 - raw))
        else:
            dist = raw
        start = frame[self.start].to_numpy(dtype=float)
        exit_ = frame[self.exit].to_numpy(dtype=float)
        ever = ~np.isnan(start)
        if not ever.any():
            raise DataError(f"column {self.start!r} has no start times: nobody was treated")
        bad = ever & (start >= exit_)
        if bad.any():
            raise DataError(
                f"{int(bad.sum())} rows start the service at or after the end of unemployment "
                f"({self.start} >= {self.exit}); ids such as {frame.loc[bad, self.id].head(5).tolist()}"
            )
        strata = _stratum_codes(frame, list(self.exact))
        cal_abs = (
            None if self.caliper is None else float(self.caliper) * float(np.std(dist, ddof=1))
        )
        times = np.unique(start[ever])
        used = np.zeros(len(frame), dtype=bool)
        t_rows_all: list[np.ndarray] = []
        c_blocks: list[np.ndarray] = []
        tau_t: list[np.ndarray] = []
        n_unmatched = 0
        for tau in times:  # one vectorised matching per distinct elapsed duration
            t_rows = np.flatnonzero(start == tau)
            at_risk = (exit_ > tau) & (~ever | (start > tau))
            if not self.replace:
                at_risk &= ~used
            c_rows = np.flatnonzero(at_risk)
            rows = np.r_[t_rows, c_rows]
            tr = np.r_[np.ones(t_rows.size, bool), np.zeros(c_rows.size, bool)]
            if c_rows.size == 0:
                mm_loc = np.full((t_rows.size, self.ratio), -1, dtype=np.int64)
            else:
                mm_loc = _core.nearest_greedy(
                    distance=dist[rows],
                    treat=tr,
                    stratum=strata[rows],
                    ratio=self.ratio,
                    replace=bool(self.replace),
                    caliper=cal_abs,
                    order="largest",
                )
            mm_glob = np.where(mm_loc >= 0, rows[np.maximum(mm_loc, 0)], -1)
            if not self.replace:
                used[mm_glob[mm_glob >= 0]] = True
            n_unmatched += int(np.sum((mm_loc >= 0).sum(axis=1) == 0))
            t_rows_all.append(t_rows)
            c_blocks.append(mm_glob)
            tau_t.append(np.full(t_rows.size, tau))
        t_rows = np.concatenate(t_rows_all)
        mm_glob = np.vstack(c_blocks)
        tau_of_t = np.concatenate(tau_t)
        if np.all(mm_glob < 0):
            raise EstimationError(
                "no participant has a not-yet-treated person at risk at the same duration"
            )
        # stacked sample: each treated row once (at its start), each control once per risk time used
        ok = mm_glob >= 0
        c_person = mm_glob[ok]
        c_tau = np.broadcast_to(tau_of_t[:, None], mm_glob.shape)[ok]
        key = pd.MultiIndex.from_arrays([c_person, c_tau])
        uniq, inv = np.unique(np.column_stack([c_person, c_tau]), axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        n_t = t_rows.size
        stacked_rows = np.r_[t_rows, uniq[:, 0]].astype(np.int64)
        stacked_tau = np.r_[tau_of_t, uniq[:, 1]]
        treat = np.r_[np.ones(n_t, bool), np.zeros(uniq.shape[0], bool)]
        mm_st = np.full(mm_glob.shape, -1, dtype=np.int64)
        mm_st[ok] = n_t + inv
        del key
        weights = _core.weights_from_mm(mm_st, treat)
        subclass = (
            _core.subclass_from_mm(mm_st, treat)
            if not self.replace
            else np.zeros(treat.size, np.int64)
        )
        # candidate pool (never or later treated) once each, for balance before matching
        pool = np.flatnonzero(~ever | (start > times.min()))
        out = frame.iloc[np.r_[stacked_rows, pool]].reset_index(drop=True)
        out["risk_time"] = np.r_[stacked_tau, np.full(pool.size, np.nan)]
        role = np.r_[treat, np.zeros(pool.size, bool)]
        out["matched_role"] = np.where(role, "treated", "control")
        w_all = np.r_[weights, np.zeros(pool.size)]
        out["weight"] = w_all
        sub_all = np.r_[subclass, np.zeros(pool.size, np.int64)].astype(np.int64)
        out["subclass"] = pd.arrays.IntegerArray(sub_all, sub_all <= 0)
        out["distance"] = dist[np.r_[stacked_rows, pool]]
        mm_out = mm_st  # indexes the first rows of `out`
        ids = frame[self.id].to_numpy()
        pairs = pd.DataFrame(
            {
                "treated": ids[np.repeat(t_rows, mm_glob.shape[1])][ok.ravel()],
                "control": ids[c_person],
                "slot": np.tile(np.arange(1, mm_glob.shape[1] + 1), n_t)[ok.ravel()],
                "risk_time": c_tau,
                "gap": np.abs(
                    np.repeat(dist[t_rows], mm_glob.shape[1])[ok.ravel()] - dist[c_person]
                ),
            }
        )
        excluded = []
        if n_unmatched:
            excluded.append(
                Exclusion(
                    reason="participants with nobody at risk (same duration, not yet treated) within the caliper",
                    n=n_unmatched,
                    column=self.start,
                )
            )
        return MatchResult(
            method="risk_set",
            n_obs=len(frame),
            excluded=tuple(excluded),
            elapsed_s=time.perf_counter() - t0,
            meta={
                "method": "risk_set",
                "ratio": self.ratio,
                "replace": bool(self.replace),
                "risk_times": int(times.size),
                "caliper_score_units": cal_abs,
                "exact": list(self.exact),
            },
            spec=self,
            data=out,
            treat=role,
            distance=out["distance"].to_numpy(dtype=float),
            discarded=np.zeros(len(out), dtype=bool),
            match_matrix=np.vstack([mm_out]) if mm_out.size else None,
            pairs=pairs,
            score_model=None,
            cluster=self.id,
            # before matching: participants against the candidate pool (each person once)
            before_weights=np.r_[treat.astype(float), np.ones(pool.size)],
        )


def risk_set_match(
    data: pd.DataFrame,
    *,
    start: str,
    exit: str,
    score: Any,
    id: str = "person_id",
    exact: Sequence[str] | str | None = None,
    covariates: Sequence[str] | None = None,
    caliper: float | None = None,
    ratio: int = 1,
    replace: bool = True,
    scale: Literal["logit", "identity"] = "identity",
) -> Any:
    r"""Risk-set (dynamic) matching on elapsed unemployment duration.

    When people can start a service at any month of their unemployment, a
    participant who starts at elapsed duration :math:`\tau` is compared with people
    who, at :math:`\tau`, are still unemployed and have not started the service
    (they may start later): the risk set :math:`R(\tau) = \{j: \text{exit}_j > \tau,
    \ \text{start}_j > \tau \text{ or never}\}`. Within each risk set (and each
    ``exact`` stratum) participants get their nearest neighbours on ``score``
    (Lechner 1999; Sianesi 2004; Li, Propert & Rosenbaum 2001). The effect is
    then that of starting now versus waiting (not of never participating).

    Parameters
    ----------
    data : DataFrame
        One row per person (spell).
    start : str
        Elapsed duration (e.g. months) at which the person started the service;
        missing = never.
    exit : str
        Elapsed duration at which unemployment ended (or was censored).
    score : str or array
        Column (or array) to match on, measured before the start (e.g. an
        employability score).
    id : str
        Person id; also the cluster for standard errors (people recur as controls).
    exact : list of str, optional
        Columns matched exactly within each risk set.
    covariates : list of str, optional
        Balance / adjustment covariates.
    caliper : float, optional
        In standard deviations of the score (on the matching scale).
    ratio : int
        Controls per participant.
    replace : bool
        True (default): a person can be a control for several participants, at
        the same or different durations (Sianesi 2004). False: each person is used
        once over all risk sets (greedy in order of duration).
    scale : {"identity", "logit"}

    Returns
    -------
    MatchResult
        ``data``/``matched`` are *stacked*: one row per participant at its start and
        per control per risk time used (column ``risk_time``), plus the candidate
        pool once with weight 0 (for balance before matching). ``effect()`` uses
        standard errors clustered by person.

    References
    ----------
    Lechner, M. (1999). Earnings and employment effects of continuous off-the-job
    training in East Germany after unification. JBES 17(1), 74--90.
    Sianesi, B. (2004). An evaluation of the Swedish system of active labor market
    programs in the 1990s. Review of Economics and Statistics 86(1), 133--155.
    Li, Y. P., Propert, K. J. & Rosenbaum, P. R. (2001). Balanced risk set
    matching. JASA 96, 870--882.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n = 1000
    >>> df = pd.DataFrame({"person_id": np.arange(n), "score": rng.normal(size=n),
    ...                    "exit": rng.integers(3, 40, n).astype(float)})
    >>> df["start"] = np.where(rng.random(n) < 0.2, np.floor(df["exit"] * rng.random(n)), np.nan)
    >>> m = risk_set_match(df, start="start", exit="exit", score="score")
    >>> p = m.pairs.merge(df, left_on="control", right_on="person_id")
    >>> bool(((p["exit"] > p["risk_time"]) & ~(p["start"] <= p["risk_time"])).all())
    True
    """
    spec = RiskSetMatching(
        start=start,
        exit=exit,
        score=score,
        id=id,
        exact=tuple(as_list(exact)),
        covariates=tuple(as_list(covariates)),
        caliper=caliper,
        ratio=ratio,
        replace=replace,
        scale=scale,
    )
    return spec.fit(data)
