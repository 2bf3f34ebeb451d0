"""Survival and competing-risks estimators on a person-level table.

Kaplan-Meier, (stratified) log-rank, Cox proportional hazards, restricted mean
survival time and Aalen-Johansen cumulative incidence. The numbers come from
:mod:`trialkit.followup._core`; this module validates, loops over groups and
assembles result objects.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import stats

from trialkit._checks import (
    as_list,
    check_choice,
    drop_missing,
    require_binary,
    require_columns,
    require_finite,
    require_frame,
    require_numeric,
)
from trialkit.errors import DataError, EstimationError
from trialkit.followup import _core
from trialkit.results import EffectTable, Exclusion, Result, effect_table

__all__ = [
    "SurvivalCurves",
    "LogRankResult",
    "CoxResult",
    "IncidenceCurves",
    "kaplan_meier",
    "log_rank",
    "cox",
    "rmst",
    "cumulative_incidence",
    "gray_test",
    "GrayTestResult",
]


def _prepare(
    data: Any, *, duration: str, event: str | None, extra: list[str], binary_event: bool = True
) -> tuple[pd.DataFrame, tuple[Exclusion, ...]]:
    data = require_frame(data)
    cols = [duration] + ([event] if event else []) + extra
    require_columns(data, cols)
    kept, excluded = drop_missing(data, cols)
    if len(kept) == 0:
        raise DataError("no complete rows left after dropping missing values in " + repr(cols))
    require_numeric(kept, [duration] + ([event] if event else []))
    if event and binary_event:
        require_binary(kept, event)
    neg = kept[duration].to_numpy(dtype=float) < 0
    if neg.any():
        raise DataError(f"column {duration!r} must be >= 0; {int(neg.sum())} negative durations")
    return kept, excluded


def _require_identified(x: np.ndarray, covs: list[str]) -> None:
    """Cox covariates must vary and not be collinear (no intercept: a constant is aliased
    with the baseline hazard); name the culprits."""
    if x.shape[0] == 0 or x.shape[1] == 0:
        return
    const = [c for j, c in enumerate(covs) if np.ptp(x[:, j]) == 0]
    if const:
        raise DataError(
            f"covariates {const} are constant, so their hazard ratios are not identified; drop them"
        )
    xc = x - x.mean(axis=0)
    rank = np.linalg.matrix_rank(xc)
    if rank < x.shape[1]:
        # the covariates that are linear combinations of the ones before them
        alias = [c for j, c in enumerate(covs) if np.linalg.matrix_rank(xc[:, : j + 1]) <= j]
        raise DataError(
            f"covariates {covs} are collinear ({alias} are linear combinations of the ones "
            "before them), so their hazard ratios are not identified; drop one of each set"
        )


def _group_codes(kept: pd.DataFrame, group: str | None) -> tuple[np.ndarray, list[Any]]:
    if group is None:
        return np.zeros(len(kept), dtype=np.int64), ["all"]
    codes, labels = pd.factorize(kept[group], sort=True)
    return codes.astype(np.int64), list(labels)


# ---------------------------------------------------------------------------
# Kaplan-Meier
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class SurvivalCurves(Result):
    """Kaplan-Meier curves: one row per group x event time.

    ``to_frame()`` has the columns ``group, time, survival, ci_low, ci_high,
    at_risk, events``; ``plot()`` draws step curves with an at-risk table.
    """

    title: ClassVar[str] = "Kaplan-Meier estimate"

    table: pd.DataFrame
    durations: pd.DataFrame  # group, duration (for at-risk counts at any time)
    groups: tuple[Any, ...] = ()  # every group, also those without events (no table rows)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _curves(self) -> list[tuple[Any, pd.DataFrame]]:
        """(group, its rows of the table) for every group; a group without events has
        no rows (its survival is 1 throughout)."""
        groups = self.groups or tuple(dict.fromkeys(self.table["group"]))
        by = dict(tuple(self.table.groupby("group", sort=False)))
        return [(g, by.get(g, self.table.iloc[:0])) for g in groups]

    def at_risk(self, times: Any) -> pd.DataFrame:
        """Numbers at risk (duration >= t) by group at the given times."""
        pts = np.asarray(times, dtype=float)
        rows = {}
        for g, sub in self.durations.groupby("group", sort=False):
            rows[g] = _core.at_risk_at(time=sub["duration"].to_numpy(), points=pts)
        return pd.DataFrame(rows, index=pd.Index(pts, name="time")).T

    def survival_at(self, times: Any) -> pd.DataFrame:
        """Survival by group at the given times (step function, right-continuous)."""
        pts = np.asarray(times, dtype=float)
        out = {}
        for g, sub in self._curves():
            idx = np.searchsorted(sub["time"].to_numpy(), pts, side="right") - 1
            s = np.append(sub["survival"].to_numpy(), 1.0)  # [-1]: no events, S = 1
            out[g] = np.where(idx >= 0, s[np.maximum(idx, 0)], 1.0)
        return pd.DataFrame(out, index=pd.Index(pts, name="time")).T

    def plot(
        self, ax: Any = None, *, at_risk_table: bool = True, n_ticks: int = 6, **kwargs: Any
    ) -> Any:
        """Step curves with confidence bands by group and (optionally) numbers at risk below."""
        from trialkit._plotting import get_ax

        ax = get_ax(ax)
        tmax = float(self.durations["duration"].max())
        for g, sub in self._curves():
            t = np.concatenate([[0.0], sub["time"].to_numpy(), [tmax]])
            s = np.concatenate([[1.0], sub["survival"].to_numpy()])
            s = np.append(s, s[-1])
            line = ax.step(t, s, where="post", label=str(g), **kwargs)[0]
            lo = np.concatenate([[1.0], sub["ci_low"].to_numpy()])
            hi = np.concatenate([[1.0], sub["ci_high"].to_numpy()])
            ax.fill_between(
                t,
                np.append(lo, lo[-1]),
                np.append(hi, hi[-1]),
                step="post",
                alpha=0.15,
                color=line.get_color(),
            )
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("survival")
        ax.set_xlabel("time")
        ax.legend(frameon=False, title=self.meta.get("group"))
        if at_risk_table:
            ticks = np.linspace(0, tmax, n_ticks)
            table = self.at_risk(ticks)
            ax.table(
                cellText=table.to_numpy().astype(int).astype(str).tolist(),
                rowLabels=[str(i) for i in table.index],
                colLabels=[f"{t:g}" for t in ticks],
                loc="bottom",
                bbox=[0.0, -0.45, 1.0, 0.25],
            )
        return ax


def kaplan_meier(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str | None = None,
    alpha: float = 0.05,
    conf_type: Literal["log", "log-log", "plain"] = "log",
) -> SurvivalCurves:
    r"""Kaplan-Meier survival curves by group with Greenwood confidence intervals.

    Parameters
    ----------
    data : DataFrame
        One row per person (or spell).
    duration : str
        Column of follow-up times (>= 0).
    event : str
        Column, 1 when the event was observed at ``duration``, 0 when censored.
    group : str, optional
        Column of groups (arms); one curve each.
    alpha : float
        1 - confidence level.
    conf_type : {"log", "log-log", "plain"}
        Interval transform; ``"log"`` is R ``survfit``'s default.

    Returns
    -------
    SurvivalCurves
        ``to_frame()``: ``group, time, survival, ci_low, ci_high, at_risk, events``,
        one row per group and event time.

    Raises
    ------
    DataError
        Missing columns, non-numeric or negative durations, non-binary events.

    Notes
    -----
    .. math:: \hat S(t) = \prod_{t_j \le t} (1 - d_j / n_j), \qquad
              \widehat{\mathrm{se}}\{\log \hat S(t)\} = \Big\{\sum_{t_j\le t} \frac{d_j}{n_j(n_j-d_j)}\Big\}^{1/2}

    References
    ----------
    Kaplan, E. L. and Meier, P. (1958). JASA 53, 457-481.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 1, 0, 1, 0]})
    >>> kaplan_meier(df, duration="t", event="e").to_frame()["survival"].round(3).tolist()
    [0.8, 0.6, 0.3]
    """
    t0 = _time.perf_counter()
    check_choice("conf_type", conf_type, ["log", "log-log", "plain"])
    kept, excluded = _prepare(data, duration=duration, event=event, extra=as_list(group))
    codes, labels = _group_codes(kept, group)
    t = kept[duration].to_numpy(dtype=float)
    e = kept[event].to_numpy().astype(bool)
    frames = []
    for k, lab in enumerate(labels):
        m = codes == k
        r = _core.kaplan_meier(time=t[m], event=e[m], alpha=alpha, conf_type=conf_type)
        with np.errstate(invalid="ignore"):
            std_err = np.where(r["survival"] > 0, r["se_log"] * r["survival"], np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "group": lab,
                    "time": r["time"],
                    "survival": r["survival"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "at_risk": r["at_risk"],
                    "events": r["events"],
                    "std_err": std_err,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    durs = pd.DataFrame({"group": np.asarray(labels, dtype=object)[codes], "duration": t})
    return SurvivalCurves(
        groups=tuple(labels),
        method="kaplan_meier",
        n_obs=len(kept),
        alpha=alpha,
        excluded=excluded,
        elapsed_s=_time.perf_counter() - t0,
        meta={"conf_type": conf_type, "group": group},
        table=table,
        durations=durs,
    )


# ---------------------------------------------------------------------------
# Log-rank
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class LogRankResult(Result):
    """(Stratified) log-rank test; ``to_dict()`` has ``statistic, df, p``."""

    title: ClassVar[str] = "Log-rank test"

    statistic: float
    df: float
    p: float
    observed_minus_expected: pd.Series

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"statistic": [self.statistic], "df": [self.df], "p": [self.p]})

    def _payload(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "df": self.df,
            "p": self.p,
            "observed_minus_expected": self.observed_minus_expected,
        }


def log_rank(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    strata: str | list[str] | None = None,
    alpha: float = 0.05,
) -> LogRankResult:
    r"""Log-rank (Mantel-Cox) test of equal hazards across groups, optionally stratified.

    Parameters
    ----------
    data : DataFrame
    duration, event : str
        Follow-up time and event indicator (1 event, 0 censored).
    group : str
        Column of groups (two or more).
    strata : str or list of str, optional
        Stratification columns: observed-minus-expected and variances are summed
        over strata (R ``survdiff(... + strata(s))``).

    Returns
    -------
    LogRankResult
        ``to_dict()`` has ``statistic``, ``df`` (groups - 1) and ``p``.

    Notes
    -----
    .. math:: X^2 = (O - E)' V^{-} (O - E), \quad V_{gh} = \sum_j \frac{d_j (n_j - d_j)}{n_j - 1}
              \frac{n_{gj}}{n_j}\Big(\delta_{gh} - \frac{n_{hj}}{n_j}\Big)

    References
    ----------
    Mantel, N. (1966). Cancer Chemotherapy Reports 50, 163-170.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "e": [1, 1, 1, 1, 1, 0], "g": [0, 0, 0, 1, 1, 1]})
    >>> round(log_rank(df, duration="t", event="e", group="g").to_dict()["statistic"], 4)
    5.0517
    """
    t0 = _time.perf_counter()
    strata_cols = as_list(strata)
    kept, excluded = _prepare(data, duration=duration, event=event, extra=[group] + strata_cols)
    codes, labels = _group_codes(kept, group)
    if len(labels) < 2:
        raise DataError(f"column {group!r} must hold at least two groups; found {labels}")
    s = None
    if strata_cols:
        s = kept.groupby(strata_cols, sort=True).ngroup().to_numpy()
    r = _core.log_rank(
        time=kept[duration].to_numpy(dtype=float),
        event=kept[event].to_numpy(),
        group=codes,
        strata=s,
    )
    return LogRankResult(
        method="log_rank" + ("_stratified" if strata_cols else ""),
        n_obs=len(kept),
        alpha=alpha,
        excluded=excluded,
        elapsed_s=_time.perf_counter() - t0,
        meta={"group": group, "strata": strata_cols},
        statistic=r["statistic"],
        df=r["df"],
        p=r["p"],
        observed_minus_expected=pd.Series(
            r["observed_minus_expected"], index=[str(x) for x in labels]
        ),
    )


# ---------------------------------------------------------------------------
# Cox proportional hazards
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class CoxResult(EffectTable):
    """Cox model: log hazard ratios indexed by covariate, plus fit details.

    ``to_frame()`` columns: ``estimate`` (log hazard ratio), ``se``, ``ci_low``,
    ``ci_high``, ``p``, ``n``, ``hazard_ratio``, ``naive_se``.
    """

    title: ClassVar[str] = "Cox proportional hazards"

    loglik: float
    loglik0: float
    converged: bool
    cov: pd.DataFrame
    ph_test: pd.DataFrame | None = None

    def _payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "table": self.table,
            "loglik": self.loglik,
            "loglik0": self.loglik0,
            "converged": self.converged,
        }
        if self.ph_test is not None:
            out["ph_test"] = self.ph_test
        return out


def cox(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    covariates: list[str],
    ties: Literal["efron", "breslow"] = "efron",
    strata: str | list[str] | None = None,
    robust: bool = False,
    cluster: str | None = None,
    alpha: float = 0.05,
    ph_test: bool = False,
    max_iter: int = 50,
) -> CoxResult:
    r"""Cox proportional-hazards regression by Newton-Raphson on the partial likelihood.

    Parameters
    ----------
    data : DataFrame
    duration, event : str
        Follow-up time and event indicator.
    covariates : list of str
        Numeric columns (use 0/1 dummies for categories, e.g. the arm).
    ties : {"efron", "breslow"}
        Approximation for tied event times (R ``coxph``'s default is Efron).
    strata : str or list of str, optional
        Separate baseline hazards per stratum.
    robust : bool
        Lin-Wei sandwich standard errors (R ``robust = TRUE``).
    cluster : str, optional
        Cluster-robust (grouped sandwich) standard errors; implies ``robust``.
    ph_test : bool
        Add the Grambsch-Therneau test of proportional hazards (``ph_test``
        table: per covariate and global, with time transformed by the Kaplan-Meier
        estimate as in R ``cox.zph(transform = "km")``).

    Returns
    -------
    CoxResult
        Indexed by covariate: ``estimate`` (log hazard ratio), ``se``, ``ci_low``,
        ``ci_high``, ``p``, ``n``, ``hazard_ratio``, ``naive_se``.

    Raises
    ------
    DataError
        Missing/non-numeric columns. :class:`EstimationError` when no events.

    Notes
    -----
    Efron's log partial likelihood, with :math:`D_j` the :math:`d_j` tied events at
    :math:`t_j`, :math:`S_0(t_j)` the risk-set sum of :math:`e^{x'\beta}` and
    :math:`T_0(t_j)` its sum over :math:`D_j`:

    .. math:: \ell(\beta) = \sum_j \Big[\sum_{i\in D_j} x_i'\beta - \sum_{l=0}^{d_j-1}
              \log\{S_0(t_j) - \tfrac{l}{d_j} T_0(t_j)\}\Big]

    References
    ----------
    Cox (1972) JRSS B 34; Efron (1977) JASA 72; Lin & Wei (1989) JASA 84;
    Grambsch & Therneau (1994) Biometrika 81, 515-526.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 2, 400)
    >>> t = rng.exponential(1 / np.exp(0.7 * x))
    >>> df = pd.DataFrame({"t": t.round(2), "e": 1, "x": x})
    >>> fit = cox(df, duration="t", event="e", covariates=["x"])
    >>> bool(0.4 < fit.to_frame().loc["x", "estimate"] < 1.0)
    True
    """
    t0 = _time.perf_counter()
    check_choice("ties", ties, ["efron", "breslow"])
    covs = as_list(covariates)
    if not covs:
        raise DataError("`covariates` must name at least one column")
    strata_cols = as_list(strata)
    extra = covs + strata_cols + ([cluster] if cluster else [])
    kept, excluded = _prepare(data, duration=duration, event=event, extra=extra)
    require_numeric(kept, covs)
    require_finite(kept, covs)
    x = kept[covs].to_numpy(dtype=float)
    _require_identified(x, covs)
    ev = kept[event].to_numpy().astype(bool)
    if not ev.any():
        raise EstimationError("no events: the Cox model cannot be fitted")
    s = kept.groupby(strata_cols, sort=True).ngroup().to_numpy() if strata_cols else None
    cl = pd.factorize(kept[cluster])[0] if cluster else None
    tt = kept[duration].to_numpy(dtype=float)
    fit = _core.cox_fit(
        x=x, time=tt, event=ev, strata=s, ties=ties, cluster=cl, robust=robust, max_iter=max_iter
    )
    beta = np.asarray(fit["beta"])
    naive = np.sqrt(np.diag(np.asarray(fit["cov"])))
    cov_used = np.asarray(fit.get("robust_cov", fit["cov"]))
    se = np.sqrt(np.diag(cov_used))
    if not fit["converged"]:
        import warnings

        from trialkit.errors import ConvergenceWarning

        warnings.warn(
            f"Cox fit did not converge (after {fit['n_iter']} of at most {max_iter} iterations): "
            "the partial likelihood is flat or the information singular, so a coefficient may be "
            "infinite (e.g. no events in one group of a covariate); results carry converged=False",
            ConvergenceWarning,
            stacklevel=2,
        )
    zph = None
    if ph_test:
        zph = _zph(x, tt, ev, s, beta, np.asarray(fit["cov"]), ties, covs)
    method = f"cox_{ties}" + ("_robust" if (robust or cluster) else "")
    table = effect_table(
        beta,
        se,
        index=covs,
        index_name="covariate",
        n=len(kept),
        method=method,
        n_obs=len(kept),
        alpha=alpha,
        extra={"hazard_ratio": list(np.exp(beta)), "naive_se": list(naive)},
    ).to_frame()
    res = CoxResult(
        method=method,
        n_obs=len(kept),
        alpha=alpha,
        excluded=excluded,
        elapsed_s=_time.perf_counter() - t0,
        meta={
            "ties": ties,
            "strata": strata_cols,
            "cluster": cluster,
            "n_events": fit["n_events"],
            "n_iter": fit["n_iter"],
            "index_names": ["covariate"],
            "interval": "normal",
        },
        table=table,
        loglik=float(fit["loglik"]),  # type: ignore[arg-type]
        loglik0=float(fit["loglik0"]),  # type: ignore[arg-type]
        converged=bool(fit["converged"]),
        cov=pd.DataFrame(cov_used, index=covs, columns=covs),
        ph_test=zph,
    )
    return res


def _zph(
    x: np.ndarray,
    t: np.ndarray,
    ev: np.ndarray,
    s: np.ndarray | None,
    beta: np.ndarray,
    cov: np.ndarray,
    ties: str,
    names: list[str],
) -> pd.DataFrame:
    r"""Score test of :math:`\beta_j(t) = \beta_j + \theta_j g(t)` at :math:`\theta = 0`.

    :math:`g` is 1 - KM(t-) of the pooled data, centred at its mean over events.
    The test uses the full information of the expanded model at :math:`(\hat\beta, 0)`
    (Grambsch & Therneau 1994; the form of R survival >= 3.0).
    """
    km = _core.kaplan_meier(time=t, event=ev)
    # left-continuous KM at each event time, as survival's "km" transform
    idx = np.searchsorted(km["time"], t, side="left") - 1
    s_left = np.where(idx >= 0, km["survival"][np.maximum(idx, 0)], 1.0)
    g = 1.0 - s_left
    g = g - g[ev].mean()
    p = x.shape[1]
    cd = _core._CoxData(x, t, ev, s, ties)
    r = np.exp(cd.x @ beta)
    gs = g[cd.order]
    b = cd.ev_block
    f = cd.frac
    # per event-time quantities with time-varying covariate z = x * g(t_j) (g fixed per block)
    s0 = cd.rcumsum_at_blocks(r)
    s1 = cd.rcumsum_at_blocks(r[:, None] * cd.x)
    nb = cd.n_blocks
    re = r[cd.ev]
    xe = cd.x[cd.ev]
    t0 = np.bincount(b, weights=re, minlength=nb)
    t1 = _core.group_sum(b, re[:, None] * xe, nb)
    iu = np.triu_indices(p)
    outer = cd.x[:, iu[0]] * cd.x[:, iu[1]]
    s2 = cd.rcumsum_at_blocks(r[:, None] * outer)
    t2 = _core.group_sum(b, re[:, None] * outer[cd.ev], nb)
    phi = s0[b] - f * t0[b]
    a = (s1[b] - f[:, None] * t1[b]) / phi[:, None]
    m2 = (s2[b] - f[:, None] * t2[b]) / phi[:, None]
    v = np.zeros((b.size, p, p))
    v[:, iu[0], iu[1]] = m2
    v[:, iu[1], iu[0]] = m2
    v -= a[:, :, None] * a[:, None, :]
    ge = gs[cd.ev]
    u = ((xe - a) * ge[:, None]).sum(axis=0)
    i11 = v.sum(axis=0)
    i12 = (v * ge[:, None, None]).sum(axis=0)
    i22 = (v * (ge**2)[:, None, None]).sum(axis=0)
    rows = []
    for j in range(p):
        # score test for theta_j alone, beta profiled: var = i22_jj - i21_j. I11^{-1} I12_.j
        vj = i22[j, j] - i12[:, j] @ np.linalg.solve(i11, i12[:, j])
        stat = u[j] ** 2 / vj
        rows.append((names[j], stat, 1.0, stats.chi2.sf(stat, 1)))
    full = i22 - i12.T @ np.linalg.solve(i11, i12)
    stat = float(u @ np.linalg.solve(full, u))
    rows.append(("GLOBAL", stat, float(p), stats.chi2.sf(stat, p)))
    return pd.DataFrame(rows, columns=["term", "statistic", "df", "p"]).set_index("term")


# ---------------------------------------------------------------------------
# RMST
# ---------------------------------------------------------------------------


def rmst(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    tau: float,
    control: Any = None,
    alpha: float = 0.05,
) -> EffectTable:
    r"""Restricted mean survival time up to ``tau`` by group and its difference from control.

    With duration = months unemployed, the RMST at 60 months is the expected
    number of months spent in the first unemployment spell during the five
    years; its difference between arms is "months of unemployment saved".

    Returns
    -------
    EffectTable
        Rows ``rmst[g]`` for each group and ``difference[g]`` (group minus
        control) with normal-theory intervals; the difference's variance is the
        sum of the two groups' (independent samples).

    Notes
    -----
    .. math:: \mathrm{RMST}(\tau) = \int_0^\tau \hat S(u)\,du, \quad
              \widehat{\mathrm{var}} = \sum_{t_j\le\tau} \frac{A_j^2 d_j}{n_j(n_j-d_j)},
              \ A_j = \int_{t_j}^{\tau}\hat S(u)\,du

    References
    ----------
    Royston, P. and Parmar, M. K. B. (2013). BMC Med Res Methodol 13, 152.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [2, 4, 6, 1, 2, 3], "e": 1, "arm": ["c"] * 3 + ["t"] * 3})
    >>> rmst(df, duration="t", event="e", group="arm", tau=6).to_frame()["estimate"].round(3).tolist()
    [4.0, 2.0, -2.0]
    """
    t0 = _time.perf_counter()
    kept, excluded = _prepare(data, duration=duration, event=event, extra=[group])
    codes, labels = _group_codes(kept, group)
    ctrl = labels[0] if control is None else control
    if ctrl not in labels:
        raise DataError(f"`control` must be one of {labels}; got {ctrl!r}")
    t = kept[duration].to_numpy(dtype=float)
    e = kept[event].to_numpy().astype(bool)
    vals = {}
    for k, lab in enumerate(labels):
        m = codes == k
        vals[lab] = (*_core.rmst(time=t[m], event=e[m], tau=float(tau)), int(m.sum()))
    idx, est, se, n = [], [], [], []
    for lab in labels:
        idx.append(f"rmst[{lab}]")
        est.append(vals[lab][0])
        se.append(vals[lab][1])
        n.append(vals[lab][2])
    for lab in labels:
        if lab == ctrl:
            continue
        idx.append(f"difference[{lab}]")
        est.append(vals[lab][0] - vals[ctrl][0])
        se.append(float(np.hypot(vals[lab][1], vals[ctrl][1])))
        n.append(vals[lab][2] + vals[ctrl][2])
    return effect_table(
        est,
        se,
        index=idx,
        index_name="term",
        n=n,
        method="rmst",
        n_obs=len(kept),
        alpha=alpha,
        excluded=excluded,
        elapsed_s=_time.perf_counter() - t0,
        meta={"tau": float(tau), "control": str(ctrl), "group": group},
    )


# ---------------------------------------------------------------------------
# Cumulative incidence (Aalen-Johansen)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class IncidenceCurves(Result):
    """Cumulative incidence by group and cause: ``group, cause, time, incidence, ci_low, ci_high``."""

    title: ClassVar[str] = "Cumulative incidence (Aalen-Johansen)"

    table: pd.DataFrame
    groups: tuple[Any, ...] = ()  # every group, also those without events (no table rows)
    causes: tuple[Any, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _curves(self) -> list[tuple[Any, Any, pd.DataFrame]]:
        """(group, cause, its rows of the table) for every group and cause; a group
        without events has no rows (its incidence is 0 throughout)."""
        groups = self.groups or tuple(dict.fromkeys(self.table["group"]))
        causes = self.causes or tuple(dict.fromkeys(self.table["cause"]))
        by = dict(tuple(self.table.groupby(["group", "cause"], sort=False)))
        return [(g, c, by.get((g, c), self.table.iloc[:0])) for g in groups for c in causes]

    def incidence_at(self, time: float) -> pd.DataFrame:
        """Incidence and its variance at ``time`` by group and cause."""
        rows = []
        for g, c, sub in self._curves():
            i = int(np.searchsorted(sub["time"].to_numpy(), time, side="right")) - 1
            if i < 0:
                rows.append((g, c, 0.0, 0.0))
            else:
                rows.append((g, c, float(sub["incidence"].iloc[i]), float(sub["var"].iloc[i])))
        return pd.DataFrame(rows, columns=["group", "cause", "incidence", "var"])

    def difference(self, time: float, *, control: Any) -> EffectTable:
        """Difference in cumulative incidence at ``time`` (group minus control) per cause."""
        at = self.incidence_at(time).set_index(["group", "cause"])
        groups = list(dict.fromkeys(at.index.get_level_values("group")))
        if control not in groups:
            raise DataError(f"`control` must be one of the groups {groups}; got {control!r}")
        idx, est, se = [], [], []
        for c in dict.fromkeys(at.index.get_level_values("cause")):
            for g in groups:
                if g == control:
                    continue
                idx.append((str(g), c))
                est.append(at.loc[(g, c), "incidence"] - at.loc[(control, c), "incidence"])
                se.append(float(np.sqrt(at.loc[(g, c), "var"] + at.loc[(control, c), "var"])))
        return effect_table(
            est,
            se,
            index=idx,
            index_name=["group", "cause"],
            n=self.n_obs,
            method="cumulative_incidence_difference",
            n_obs=self.n_obs,
            alpha=self.alpha,
            meta={"time": float(time), "control": str(control)},
        )

    def plot(self, ax: Any = None, *, cause: Any = None, **kwargs: Any) -> Any:
        """Cumulative incidence step curves (one per group x cause)."""
        from trialkit._plotting import get_ax

        ax = get_ax(ax)
        for g, c, sub in self._curves():
            if cause is not None and c != cause:
                continue
            t = np.concatenate([[0.0], sub["time"].to_numpy()])
            y = np.concatenate([[0.0], sub["incidence"].to_numpy()])
            ax.step(t, y, where="post", label=f"{g}: {c}", **kwargs)
        ax.set_xlabel("time")
        ax.set_ylabel("cumulative incidence")
        ax.legend(frameon=False, fontsize="small")
        return ax


def _censored_mask(raw: pd.Series, column: str) -> np.ndarray:
    """``True`` where the cause code is 0 (censored); negative numeric codes are refused.

    Register exit codes are positive (or labels); a negative code is usually a
    missing-value sentinel such as ``-1``, which must not become a competing cause.
    """
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        neg = raw.to_numpy() < 0
        if neg.any():
            raise DataError(
                f"column {column!r} has {int(neg.sum())} negative cause codes (e.g. "
                f"{raw[neg].iloc[0]!r}); 0 means censored and causes are positive codes or "
                "labels -- recode missing-value sentinels first"
            )
    return ((raw == 0) | (raw.astype(str) == "0")).to_numpy()


def cumulative_incidence(
    data: pd.DataFrame,
    *,
    duration: str,
    cause: str,
    group: str | None = None,
    alpha: float = 0.05,
) -> IncidenceCurves:
    r"""Aalen-Johansen cumulative incidence of competing causes by group.

    Parameters
    ----------
    data : DataFrame
    duration : str
        Time to the first event of any cause, or to censoring.
    cause : str
        Column of cause codes; ``0`` means censored (positive integers or labels
        are causes; e.g. exit routes employment / services / education / out of
        the labour force). Negative codes raise a DataError (usually a
        missing-value sentinel).
    group : str, optional
        Column of groups (arms).

    Returns
    -------
    IncidenceCurves
        ``to_frame()``: ``group, cause, time, incidence, ci_low, ci_high, var``,
        one row per group x cause x event time (any cause). Intervals use the
        log(-log) transform of the incidence.

    Notes
    -----
    .. math:: \hat F_k(t) = \sum_{t_j\le t} \hat S(t_{j-1}) \frac{d_{kj}}{n_j}

    Variances as in R ``cmprsk::cuminc`` (Gray 1988).

    References
    ----------
    Aalen & Johansen (1978) Scand. J. Statist. 5; Gray (1988) Ann. Statist. 16.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [1, 2, 3, 4], "c": [1, 2, 0, 1]})
    >>> ci = cumulative_incidence(df, duration="t", cause="c").to_frame()
    >>> ci[ci.cause == 1]["incidence"].round(3).tolist()
    [0.25, 0.25, 0.75]
    """
    t0 = _time.perf_counter()
    kept, excluded = _prepare(data, duration=duration, event=None, extra=[cause] + as_list(group))
    codes, labels = _group_codes(kept, group)
    raw = kept[cause]
    is_cens = _censored_mask(raw, cause)
    cause_codes, cause_labels = pd.factorize(raw, sort=True)
    cause_codes = np.where(is_cens, -1, cause_codes)
    causes = [c for i, c in enumerate(cause_labels) if not ((c == 0) or str(c) == "0")]
    cause_idx = np.array([list(cause_labels).index(c) for c in causes])
    if not causes:
        raise DataError(f"column {cause!r} holds no events (all 0 = censored)")
    t = kept[duration].to_numpy(dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    frames = []
    for k, lab in enumerate(labels):
        m = codes == k
        cc = np.where(cause_codes[m] < 0, 0, cause_codes[m] + 1)
        r = _core.cumulative_incidence(time=t[m], cause=cc, causes=cause_idx + 1)
        for row, c in enumerate(causes):
            f = r["incidence"][row]
            v = r["var"][row]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                w = z * np.sqrt(v) / (f * np.log(f))
                lo = np.where(f > 0, f ** np.exp(-w), 0.0)
                hi = np.where(f > 0, f ** np.exp(w), 0.0)
            frames.append(
                pd.DataFrame(
                    {
                        "group": lab,
                        "cause": c,
                        "time": r["time"],
                        "incidence": f,
                        "ci_low": np.minimum(lo, hi),
                        "ci_high": np.maximum(lo, hi),
                        "var": v,
                    }
                )
            )
    table = pd.concat(frames, ignore_index=True)
    return IncidenceCurves(
        groups=tuple(labels),
        causes=tuple(causes),
        method="aalen_johansen",
        n_obs=len(kept),
        alpha=alpha,
        excluded=excluded,
        elapsed_s=_time.perf_counter() - t0,
        meta={"group": group, "cause": cause},
        table=table,
    )


@dataclass(frozen=True, kw_only=True, eq=False)
class GrayTestResult(Result):
    """Gray's test per cause: ``to_frame()`` indexed by cause with ``statistic, df, p``."""

    title: ClassVar[str] = "Gray's test of equal cumulative incidence"

    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


def gray_test(
    data: pd.DataFrame,
    *,
    duration: str,
    cause: str,
    group: str,
    strata: str | list[str] | None = None,
    rho: float = 0.0,
    alpha: float = 0.05,
) -> GrayTestResult:
    r"""Gray's (1988) test that the cumulative incidence of each cause is equal across groups.

    Parameters
    ----------
    data : DataFrame
    duration : str
        Time to the first event of any cause, or to censoring.
    cause : str
        Cause codes; ``0`` means censored. One test per cause (the others compete).
    group : str
        Groups (arms) to compare.
    strata : str or list of str, optional
        Scores and variances are summed over strata.
    rho : float
        Power of the weight :math:`(1 - \hat F(t-))^\rho` (0: log-rank-type weights).

    Returns
    -------
    GrayTestResult
        ``to_frame()`` indexed by cause: ``statistic`` (chi-square), ``df`` (groups - 1), ``p``.

    References
    ----------
    Gray, R. J. (1988). A class of K-sample tests for comparing the cumulative incidence
    of a competing risk. Annals of Statistics 16, 1141-1154.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"t": rng.exponential(size=300).round(2), "c": rng.integers(0, 3, 300),
    ...                    "arm": rng.integers(0, 2, 300)})
    >>> gray_test(df, duration="t", cause="c", group="arm").to_frame().index.tolist()
    [1, 2]
    """
    t0 = _time.perf_counter()
    strata_cols = as_list(strata)
    kept, excluded = _prepare(
        data, duration=duration, event=None, extra=[cause, group] + strata_cols
    )
    codes, labels = _group_codes(kept, group)
    if len(labels) < 2:
        raise DataError(f"column {group!r} must hold at least two groups; found {labels}")
    raw = kept[cause]
    is_cens = _censored_mask(raw, cause)
    causes = [c for c in pd.unique(raw[~is_cens])]
    causes = sorted(causes, key=str)
    if not causes:
        raise DataError(f"column {cause!r} holds no events (all 0 = censored)")
    s = kept.groupby(strata_cols, sort=True).ngroup().to_numpy() if strata_cols else None
    t = kept[duration].to_numpy(dtype=float)
    rows = []
    for c in causes:
        m = np.where(is_cens, 0, np.where((raw == c).to_numpy(), 1, 2))
        r = _core.gray_test(time=t, cause=m, group=codes, strata=s, rho=rho)
        rows.append((c, r["statistic"], r["df"], r["p"]))
    table = pd.DataFrame(rows, columns=["cause", "statistic", "df", "p"]).set_index("cause")
    return GrayTestResult(
        method="gray_test",
        n_obs=len(kept),
        alpha=alpha,
        excluded=excluded,
        elapsed_s=_time.perf_counter() - t0,
        meta={"group": group, "strata": strata_cols, "rho": rho},
        table=table,
    )
