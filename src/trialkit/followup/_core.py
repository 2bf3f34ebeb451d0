"""Numerics of the follow-up module: numpy in, numpy out, no pandas.

Everything here is vectorised over persons, spells or event times; the only
Python loops run over a handful of groups, strata, states, horizons or Newton
iterations.

References
----------
Kaplan, E. L. and Meier, P. (1958). Nonparametric estimation from incomplete observations.
    JASA 53, 457-481.
Greenwood, M. (1926). The natural duration of cancer. Reports on Public Health 33.
Mantel, N. (1966). Evaluation of survival data and two new rank order statistics.
    Cancer Chemotherapy Reports 50, 163-170.
Cox, D. R. (1972). Regression models and life-tables. JRSS B 34, 187-220.
Efron, B. (1977). The efficiency of Cox's likelihood function for censored data.
    JASA 72, 557-565.
Breslow, N. (1974). Covariance analysis of censored survival data. Biometrics 30, 89-99.
Lin, D. Y. and Wei, L. J. (1989). The robust inference for the Cox proportional hazards
    model. JASA 84, 1074-1078.
Aalen, O. O. and Johansen, S. (1978). An empirical transition matrix for non-homogeneous
    Markov chains based on censored observations. Scand. J. Statist. 5, 141-150.
Gray, R. J. (1988). A class of K-sample tests for comparing the cumulative incidence of a
    competing risk. Annals of Statistics 16, 1141-1154.
Royston, P. and Parmar, M. K. B. (2013). Restricted mean survival time. BMC Med Res
    Methodol 13, 152.
Lin, W. (2013). Agnostic notes on regression adjustments to experimental data.
    Annals of Applied Statistics 7, 295-318.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg, stats

# ---------------------------------------------------------------------------
# Kaplan-Meier, log-rank, RMST
# ---------------------------------------------------------------------------


def risk_table(*, time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct times with numbers at risk, events and censored (sorted ascending)."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    ut, inv = np.unique(t, return_inverse=True)
    total = np.bincount(inv, minlength=ut.size)
    d = np.bincount(inv, weights=e, minlength=ut.size).astype(np.int64)
    at_risk = np.cumsum(total[::-1])[::-1]
    return ut, at_risk.astype(np.int64), d, (total - d).astype(np.int64)


def kaplan_meier(
    *, time: np.ndarray, event: np.ndarray, alpha: float = 0.05, conf_type: str = "log"
) -> dict[str, np.ndarray]:
    r"""Kaplan-Meier estimate at the event times with Greenwood standard errors.

    :math:`\hat S(t) = \prod_{t_j \le t}(1 - d_j/n_j)`; the standard error of
    :math:`\log \hat S` is :math:`\{\sum d_j / (n_j(n_j - d_j))\}^{1/2}` (Greenwood).
    Intervals: ``"log"`` (R's default) :math:`\hat S e^{\pm z\,se}`, ``"log-log"``
    and ``"plain"``.
    """
    ut, n, d, _ = risk_table(time=time, event=event)
    keep = d > 0
    ut, n, d = ut[keep], n[keep], d[keep]
    surv = np.cumprod(1.0 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.cumsum(np.where(n > d, d / (n * (n - d)), np.inf))
    se_log = np.sqrt(g)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            lo = surv * np.exp(-z * se_log)
            hi = np.minimum(surv * np.exp(z * se_log), 1.0)
        elif conf_type == "log-log":
            ll = np.log(-np.log(surv))
            w = z * se_log / np.log(surv)
            lo = np.exp(-np.exp(ll - w))
            hi = np.exp(-np.exp(ll + w))
        else:  # plain
            lo = np.maximum(surv - z * se_log * surv, 0.0)
            hi = np.minimum(surv + z * se_log * surv, 1.0)
    zero = surv <= 0
    lo = np.where(zero, np.nan, lo)
    hi = np.where(zero, np.nan, hi)
    return {
        "time": ut,
        "at_risk": n,
        "events": d,
        "survival": surv,
        "se_log": se_log,
        "ci_low": lo,
        "ci_high": hi,
    }


def at_risk_at(*, time: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Number still at risk (duration >= point) at each of ``points``."""
    t = np.sort(np.asarray(time, dtype=float))
    return (t.size - np.searchsorted(t, np.asarray(points, dtype=float), side="left")).astype(
        np.int64
    )


def log_rank(
    *, time: np.ndarray, event: np.ndarray, group: np.ndarray, strata: np.ndarray | None = None
) -> dict[str, Any]:
    r"""(Stratified) log-rank test of equal hazards across ``group`` codes 0..G-1.

    Observed minus expected :math:`O_g - E_g` and the hypergeometric covariance
    :math:`V_{gh} = \sum_j d_j (n_j - d_j)/(n_j - 1)\, n_{gj}/n_j (\delta_{gh} - n_{hj}/n_j)`
    are summed over strata; the statistic is :math:`(O-E)' V^{-} (O-E)` on G-1 df.
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(float)
    g = np.asarray(group, dtype=np.int64)
    n_groups = int(g.max()) + 1
    s = np.zeros(t.size, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    oe = np.zeros(n_groups)
    var = np.zeros((n_groups, n_groups))
    for code in np.unique(s):
        m = s == code
        ut, inv = np.unique(t[m], return_inverse=True)
        k = ut.size
        cell = inv * n_groups + g[m]
        tot = np.bincount(cell, minlength=k * n_groups).reshape(k, n_groups)
        dg = np.bincount(cell, weights=e[m], minlength=k * n_groups).reshape(k, n_groups)
        ng = np.cumsum(tot[::-1], axis=0)[::-1].astype(float)
        n = ng.sum(axis=1)
        d = dg.sum(axis=1)
        keep = d > 0
        ng, n, d, dg = ng[keep], n[keep], d[keep], dg[keep]
        frac = ng / n[:, None]
        oe += (dg - d[:, None] * frac).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
        var += np.einsum("j,jg->g", c, frac) * np.eye(n_groups) - np.einsum(
            "j,jg,jh->gh", c, frac, frac
        )
    present = np.flatnonzero(np.diag(var) > 0)
    df = max(present.size - 1, 0)
    if df == 0:
        return {
            "statistic": float("nan"),
            "df": 0.0,
            "p": float("nan"),
            "observed_minus_expected": oe,
        }
    sub = present[:-1]
    stat = float(oe[sub] @ np.linalg.solve(var[np.ix_(sub, sub)], oe[sub]))
    return {
        "statistic": stat,
        "df": float(df),
        "p": float(stats.chi2.sf(stat, df)),
        "observed_minus_expected": oe,
    }


def rmst(*, time: np.ndarray, event: np.ndarray, tau: float) -> tuple[float, float]:
    r"""Restricted mean survival time :math:`\int_0^\tau \hat S(u)\,du` and its standard error.

    Variance :math:`\sum_{t_j \le \tau} A_j^2 d_j / \{n_j (n_j - d_j)\}` with
    :math:`A_j = \int_{t_j}^{\tau} \hat S(u)\,du` (Klein & Moeschberger 2003, sec. 4.5).
    """
    km = kaplan_meier(time=time, event=event)
    tj, s, n, d = (
        km["time"],
        km["survival"],
        km["at_risk"].astype(float),
        km["events"].astype(float),
    )
    keep = tj <= tau
    tj, s, n, d = tj[keep], s[keep], n[keep], d[keep]
    knots = np.concatenate([[0.0], tj, [tau]])
    heights = np.concatenate([[1.0], s])
    areas = heights * np.diff(knots)
    total = float(areas.sum())
    # area from t_j to tau: sum of areas of the pieces after knot j
    tail = np.cumsum(areas[::-1])[::-1][1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        var = float(np.sum(np.where(n > d, tail**2 * d / (n * (n - d)), 0.0)))
    return total, float(np.sqrt(var))


# ---------------------------------------------------------------------------
# Cox proportional hazards (Efron / Breslow ties, strata, robust variance)
# ---------------------------------------------------------------------------


def group_sum(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sum rows of ``values`` (1-d or 2-d) by integer ``index`` into ``size`` groups (bincount per column)."""
    if values.ndim == 1:
        return np.bincount(index, weights=values, minlength=size)
    out = np.empty((size,) + values.shape[1:])
    flat = values.reshape(values.shape[0], -1)
    view = out.reshape(size, -1)
    for j in range(flat.shape[1]):
        view[:, j] = np.bincount(index, weights=flat[:, j], minlength=size)
    return out


class _CoxData:
    """Sorted data and block structure shared by the likelihood and the residuals."""

    def __init__(
        self,
        x: np.ndarray,
        time: np.ndarray,
        event: np.ndarray,
        strata: np.ndarray | None,
        ties: str,
    ):
        n = time.size
        s = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
        order = np.lexsort((time, s))
        self.order = order
        self.x = np.ascontiguousarray(x[order], dtype=float)
        self.t = np.asarray(time, dtype=float)[order]
        self.d = np.asarray(event).astype(bool)[order]
        self.s = s[order]
        # blocks of equal (stratum, time)
        new_block = np.ones(n, dtype=bool)
        new_block[1:] = (self.t[1:] != self.t[:-1]) | (self.s[1:] != self.s[:-1])
        self.block = np.cumsum(new_block) - 1
        self.block_start = np.flatnonzero(new_block)
        # end (exclusive) of each row's stratum, for reverse cumulative sums within strata
        new_stratum = np.ones(n, dtype=bool)
        new_stratum[1:] = self.s[1:] != self.s[:-1]
        starts = np.flatnonzero(new_stratum)
        ends = np.append(starts[1:], n)
        self.stratum_end = np.repeat(ends, np.diff(np.append(starts, n)))
        self.block_stratum_end = self.stratum_end[self.block_start]
        self.block_first_in_stratum = new_stratum[self.block_start]
        # events: their block and their position l within the tied set
        ev = np.flatnonzero(self.d)
        self.ev = ev
        self.ev_block = self.block[ev]
        n_blocks = self.block_start.size
        self.n_blocks = n_blocks
        dcount = np.bincount(self.ev_block, minlength=n_blocks)
        self.dcount = dcount
        first_ev = np.ones(ev.size, dtype=bool)
        first_ev[1:] = self.ev_block[1:] != self.ev_block[:-1]
        pos = np.arange(ev.size) - np.maximum.accumulate(np.where(first_ev, np.arange(ev.size), 0))
        if ties == "efron":
            self.frac = pos / dcount[self.ev_block]
        else:
            self.frac = np.zeros(ev.size)

    def rcumsum_at_blocks(self, v: np.ndarray) -> np.ndarray:
        """Sum of v over rows with time >= block time in the same stratum, per block."""
        c = np.cumsum(v[::-1], axis=0)[::-1]
        c = np.concatenate([c, np.zeros((1,) + c.shape[1:])], axis=0)
        return c[self.block_start] - c[self.block_stratum_end]


def _cox_terms(
    cd: _CoxData, beta: np.ndarray, *, second: bool = True
) -> tuple[float, np.ndarray, Any, dict]:
    x = cd.x
    p = x.shape[1]
    eta = x @ beta
    eta_shift = eta.max() if eta.size else 0.0
    r = np.exp(eta - eta_shift)
    s0 = cd.rcumsum_at_blocks(r)
    s1 = cd.rcumsum_at_blocks(r[:, None] * x)
    xe = x[cd.ev]
    re = r[cd.ev]
    nb = cd.n_blocks
    t0 = np.bincount(cd.ev_block, weights=re, minlength=nb)
    t1 = group_sum(cd.ev_block, re[:, None] * xe, nb)
    b = cd.ev_block
    f = cd.frac
    phi = s0[b] - f * t0[b]
    a = (s1[b] - f[:, None] * t1[b]) / phi[:, None]
    loglik = float(eta[cd.ev].sum() - np.sum(np.log(phi) + eta_shift))
    grad = xe.sum(axis=0) - a.sum(axis=0)
    info = None
    if second:
        iu = np.triu_indices(p)
        outer = x[:, iu[0]] * x[:, iu[1]]
        s2 = cd.rcumsum_at_blocks(r[:, None] * outer)
        t2 = group_sum(cd.ev_block, re[:, None] * outer[cd.ev], nb)
        m2 = (s2[b] - f[:, None] * t2[b]) / phi[:, None]
        m2sum = m2.sum(axis=0)
        info = np.zeros((p, p))
        info[iu] = m2sum
        info = info + np.triu(info, 1).T
        info -= a.T @ a
    parts = {"r": r, "phi": phi, "a": a}
    return loglik, grad, info, parts


def cox_fit(
    *,
    x: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    strata: np.ndarray | None = None,
    ties: str = "efron",
    cluster: np.ndarray | None = None,
    robust: bool = False,
    max_iter: int = 50,
    tol: float = 1e-12,
) -> dict[str, object]:
    r"""Maximise the Cox partial likelihood by Newton-Raphson with step halving.

    Efron's approximation for tied event times replaces the risk-set sum at the
    :math:`l`-th of :math:`d` tied events by :math:`S_0 - (l/d) T_0`, where
    :math:`T_0` sums the tied events' risk scores; Breslow uses :math:`S_0`.
    The robust (Lin-Wei) variance is :math:`I^{-1} (\sum_c U_c U_c') I^{-1}` with
    :math:`U_c` the summed score residuals of cluster :math:`c` (each row its own
    cluster when ``cluster`` is None).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    cd = _CoxData(x, np.asarray(time, dtype=float), np.asarray(event), strata, ties)
    p = x.shape[1]
    beta = np.zeros(p)
    ll0, grad, info_opt, _ = _cox_terms(cd, beta)
    info: np.ndarray = info_opt if info_opt is not None else np.eye(p)
    ll = ll0
    converged = False
    n_iter = 0
    for iteration in range(1, max_iter + 1):
        n_iter = iteration
        try:
            step = linalg.solve(info, grad, assume_a="pos")
        except (linalg.LinAlgError, ValueError):
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        new = beta + step
        ll_new, g_new, i_new, _ = _cox_terms(cd, new)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12 * abs(ll)) and halvings < 30:
            step = step / 2
            new = beta + step
            ll_new, g_new, i_new, _ = _cox_terms(cd, new)
            halvings += 1
        done = abs(ll_new - ll) <= tol * max(abs(ll), 1.0) and np.max(np.abs(step)) < 1e-8
        beta, ll, grad, info = new, ll_new, g_new, i_new
        if done:
            # A step that only became small by halving means a flat (monotone)
            # likelihood: a coefficient running off to infinity, not a maximum.
            converged = halvings < 20
            break
    ll, grad, info, parts = _cox_terms(cd, beta)
    try:
        cov = linalg.inv(info)
    except linalg.LinAlgError:
        cov = np.full((p, p), np.nan)
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
        converged = False  # singular information: some coefficient is not identified
    out: dict[str, object] = {
        "beta": beta,
        "cov": cov,
        "loglik": ll,
        "loglik0": ll0,
        "n_iter": n_iter,
        "converged": converged,
        "n_events": int(cd.ev.size),
    }
    if robust or cluster is not None:
        u = _cox_score_residuals(cd, beta, parts)
        resid = np.empty_like(u)
        resid[cd.order] = u
        if cluster is not None:
            cl = np.asarray(cluster, dtype=np.int64)
            nc = int(cl.max()) + 1
            uc = group_sum(cl, resid, nc)
        else:
            uc = resid
        dfb = uc @ cov
        out["robust_cov"] = dfb.T @ dfb
        out["naive_cov"] = cov
    out["score_residuals"] = None
    return out


def _cox_score_residuals(cd: _CoxData, beta: np.ndarray, parts: dict) -> np.ndarray:
    """Score residuals (sorted order); Efron ties spread as in the partial likelihood."""
    r = parts["r"]
    phi = parts["phi"]
    a = parts["a"]
    x = cd.x
    nb = cd.n_blocks
    b = cd.ev_block
    f = cd.frac
    h = 1.0 / phi
    h0 = np.bincount(b, weights=h, minlength=nb)
    ha = group_sum(b, a * h[:, None], nb)
    hw = np.bincount(b, weights=f * h, minlength=nb)
    haw = group_sum(b, a * (f * h)[:, None], nb)
    abar = group_sum(b, a, nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        abar = abar / np.maximum(cd.dcount, 1)[:, None]
    # cumulative hazard-type sums within strata, over blocks in time order
    ch0 = _cumsum_within(h0, cd.block_first_in_stratum)
    cha = _cumsum_within(ha, cd.block_first_in_stratum)
    blk = cd.block
    dd = cd.d.astype(float)
    u = dd[:, None] * (x - abar[blk])
    u -= r[:, None] * (x * ch0[blk][:, None] - cha[blk])
    u += (dd * r)[:, None] * (x * hw[blk][:, None] - haw[blk])
    return u


def _cumsum_within(v: np.ndarray, first: np.ndarray) -> np.ndarray:
    c = np.cumsum(v, axis=0)
    idx = np.flatnonzero(first)
    offsets = np.zeros_like(c)
    prev = np.concatenate([np.zeros((1,) + c.shape[1:]), c[idx[1:] - 1]]) if idx.size else c[:0]
    seg = np.cumsum(first) - 1
    offsets = prev[seg]
    return c - offsets


# ---------------------------------------------------------------------------
# Competing risks: Aalen-Johansen cumulative incidence
# ---------------------------------------------------------------------------


def cumulative_incidence(
    *, time: np.ndarray, cause: np.ndarray, causes: np.ndarray
) -> dict[str, np.ndarray]:
    r"""Aalen-Johansen cumulative incidence of each cause with Aalen-type variance.

    :math:`\hat F_k(t) = \sum_{t_j \le t} \hat S(t_{j-1})\, d_{kj}/n_j` with
    :math:`\hat S` the all-cause Kaplan-Meier estimate. The variance follows the
    delta-method estimator used by Gray's ``cmprsk`` (Aalen 1978; Gray 1988),
    with the tie correction :math:`1 - (d-1)/(n-1)`.

    Returns the distinct event times and, per cause (rows in ``causes`` order),
    incidence and variance at those times.
    """
    t = np.asarray(time, dtype=float)
    c = np.asarray(cause, dtype=np.int64)
    ev = c != 0
    ut, inv = np.unique(t, return_inverse=True)
    total = np.bincount(inv, minlength=ut.size).astype(float)
    n = np.cumsum(total[::-1])[::-1]
    d_all = np.bincount(inv, weights=ev, minlength=ut.size)
    keep = d_all > 0
    ut, n, d_all = ut[keep], n[keep], d_all[keep]
    surv = np.cumprod(1.0 - d_all / n)
    s_prev = np.concatenate([[1.0], surv[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        tie = np.where(n > 1, 1.0, 0.0)
    inc = np.zeros((len(causes), ut.size))
    var = np.zeros((len(causes), ut.size))
    for row, k in enumerate(causes):
        dk = np.bincount(inv, weights=(c == k), minlength=keep.size)[keep]
        do = d_all - dk
        f = np.cumsum(s_prev * dk / n)
        inc[row] = f
        with np.errstate(divide="ignore", invalid="ignore"):
            t3 = np.where(surv > 0, 1.0 / surv, 0.0)
            # other causes
            t5o = np.where(do > 1, 1 - (do - 1) / (n - 1), 1.0) * tie + (1 - tie)
            t6o = np.where((do > 0) & (surv > 0), s_prev**2 * t5o * do / n**2, 0.0)
            t4o = f * t3
            # this cause
            t5k = np.where(dk > 1, 1 - (dk - 1) / (n - 1), 1.0) * tie + (1 - tie)
            t6k = np.where(dk > 0, s_prev**2 * t5k * dk / n**2, 0.0)
            t4k = 1 + t3 * f
        v1 = np.cumsum(t4o**2 * t6o + t4k**2 * t6k)
        v2 = np.cumsum(t3 * t4o * t6o + t3 * t4k * t6k)
        v3 = np.cumsum(t3**2 * t6o + t3**2 * t6k)
        var[row] = v1 + f**2 * v3 - 2 * f * v2
    return {"time": ut, "at_risk": n, "incidence": inc, "var": var, "survival": surv}


# ---------------------------------------------------------------------------
# Spells -> resolved timeline -> monthly status panel
# ---------------------------------------------------------------------------

_KEY = np.int64(1) << np.int64(21)  # > any day number we meet (days since 1970 up to ~5700 AD)


def resolve_segments(
    *,
    person: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    rank: np.ndarray,
    n_ranks: int,
) -> dict[str, np.ndarray]:
    r"""Cut each person's spells into non-overlapping segments, one state each.

    Spells are half-open day intervals ``[start, stop)``; ``rank`` is the spell's
    priority (higher wins where spells overlap). Each boundary of a person's
    spells opens a segment; the segment takes the highest rank covering it, or
    ``-1`` when no spell covers it (a gap). Coverage counts come from a single
    cumulative sum of +1/-1 events per rank over the sorted boundaries.

    Returns arrays ``person, start, stop, rank, overlap`` (overlap: covered by
    two or more spells), sorted by person and start.
    """
    n = person.size
    p = np.concatenate([person, person]).astype(np.int64)
    day = np.concatenate([start, stop]).astype(np.int64)
    delta = np.concatenate([np.ones(n, np.int16), -np.ones(n, np.int16)])
    rk = np.concatenate([rank, rank]).astype(np.int64)
    order = np.argsort(p * _KEY + day)  # ties on a day need no order: segments start after the last
    p, day, delta, rk = p[order], day[order], delta[order], rk[order]
    cover = np.zeros((p.size, n_ranks), dtype=np.int16)
    cover[np.arange(p.size), rk] = delta
    np.cumsum(cover, axis=0, out=cover)
    # a segment runs from event i to event i+1 of the same person with a later day
    seg = np.flatnonzero((p[:-1] == p[1:]) & (day[1:] > day[:-1]))
    cov = cover[seg]
    any_cover = cov > 0
    top = np.where(any_cover.any(axis=1), n_ranks - 1 - np.argmax(any_cover[:, ::-1], axis=1), -1)
    overlap = cov.sum(axis=1) > 1
    return {
        "person": p[seg],
        "start": day[seg],
        "stop": day[seg + 1],
        "rank": top,
        "overlap": overlap,
    }


def _first_day_table(lo_month: int, hi_month: int) -> np.ndarray:
    """Day number of the first day of each month index in ``lo_month..hi_month``."""
    m = np.arange(lo_month, hi_month + 1)
    return m.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _month_of_day_table(lo_day: int, hi_day: int) -> np.ndarray:
    """Month index of each day number in ``lo_day..hi_day``."""
    d = np.arange(lo_day, hi_day + 1)
    return d.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def months_before(
    *,
    day: np.ndarray,
    origin_month: np.ndarray,
    origin_offset: np.ndarray,
    months: int,
    reference_day: int,
    month_of: np.ndarray,
    lo_day: int,
) -> np.ndarray:
    """#{m in 0..months : reference day of follow-up month m < day}, per element.

    ``month_of`` maps day numbers ``lo_day..`` to month indices (see
    :func:`_month_of_day_table`); the reference day of month m is the first day
    of calendar month ``origin_month + m`` plus ``min(offset, 27) + reference_day - 1``.
    """
    off = np.minimum(origin_offset, 27) + (reference_day - 1)
    x = np.clip(day - off - 1, lo_day, lo_day + month_of.size - 1)
    return np.clip(month_of[x - lo_day] - origin_month + 1, 0, months)


def month_boundaries(
    *, origin_month: np.ndarray, origin_offset: np.ndarray, months: int
) -> np.ndarray:
    """Day numbers of the starts of follow-up months 0..months (persons x months+1).

    Month m starts ``m`` calendar months after the origin, on the origin's day
    of the month (clipped at the 28th).
    """
    lo = int(origin_month.min())
    table = _first_day_table(lo, int(origin_month.max()) + months)
    m = (origin_month - lo)[:, None] + np.arange(months + 1)[None, :]
    return table[m] + np.minimum(origin_offset, 27)[:, None]


def status_matrix(
    *,
    seg_person: np.ndarray,
    seg_start: np.ndarray,
    seg_stop: np.ndarray,
    seg_code: np.ndarray,
    seg_overlap: np.ndarray,
    origin_month: np.ndarray,
    origin_offset: np.ndarray,
    months: int,
    reference_day: int,
    censor_day: np.ndarray,
    gap_code: int,
    censored_code: int,
) -> tuple[np.ndarray, np.ndarray]:
    """State on the reference day of each follow-up month (int8), and overlap flags.

    Segments are non-overlapping and sorted within person. For each segment the
    follow-up months whose reference day it covers form a range ``[m_lo, m_hi)``
    found by calendar arithmetic; the range's first month is marked with the
    segment's code and the marks are carried forward along the months (a
    forward fill), with a gap mark where a person's last segment ends.
    ``censor_day`` is the last observed day per person (inclusive); months whose
    reference day falls after it get ``censored_code``.
    """
    n = censor_day.size
    lo_day = int(min(seg_start.min(initial=0), censor_day.min()) - 40)
    hi_day = int(max(seg_stop.max(initial=0), censor_day.max()) + 40)
    month_of = _month_of_day_table(lo_day, hi_day)

    def count_before(day: np.ndarray, who: np.ndarray | slice) -> np.ndarray:
        return months_before(
            day=day,
            origin_month=origin_month[who],
            origin_offset=origin_offset[who],
            months=months,
            reference_day=reference_day,
            month_of=month_of,
            lo_day=lo_day,
        )

    m_lo = count_before(seg_start, seg_person)
    m_hi = count_before(seg_stop, seg_person)
    live = m_hi > m_lo
    marks = np.full((n, months + 1), -128, dtype=np.int8)
    ovl_marks = np.zeros((n, months + 1), dtype=bool)
    p_live = seg_person[live]
    marks[p_live, m_lo[live]] = seg_code[live]
    ovl_marks[p_live, m_lo[live]] = seg_overlap[live]
    # the end of each person's last covering segment opens a gap
    last = np.ones(p_live.size, dtype=bool)
    last[:-1] = p_live[1:] != p_live[:-1]
    end_p, end_m = p_live[last], m_hi[live][last]
    marks[end_p, end_m] = np.where(marks[end_p, end_m] == -128, gap_code, marks[end_p, end_m])
    marks = marks[:, :months]
    ovl_marks = ovl_marks[:, :months]
    has = marks != -128
    idx = np.where(has, np.arange(months, dtype=np.int16)[None, :], np.int16(-1))
    np.maximum.accumulate(idx, axis=1, out=idx)
    rows = np.arange(n)[:, None]
    safe = np.maximum(idx, 0)
    out = np.where(idx >= 0, marks[rows, safe], np.int8(gap_code)).astype(np.int8)
    ovl = (idx >= 0) & ovl_marks[rows, safe] & (out != gap_code)
    m_cens = count_before(censor_day + 1, slice(None))  # months with ref_m <= censor_day
    cens = np.arange(months)[None, :] >= m_cens[:, None]
    out[cens] = censored_code
    ovl[cens] = False
    return out, ovl


def days_in_codes(
    *,
    seg_person: np.ndarray,
    seg_start: np.ndarray,
    seg_stop: np.ndarray,
    seg_code: np.ndarray | None,
    codes: np.ndarray | None,
    window_start: np.ndarray,
    window_stop: np.ndarray,
    n: int,
) -> np.ndarray:
    """Days each person spends in any of ``codes`` within ``[window_start, window_stop)``."""
    sel = np.isin(seg_code, codes) if (codes is not None and seg_code is not None) else slice(None)
    p = seg_person[sel]
    lo = np.maximum(seg_start[sel], window_start[p])
    hi = np.minimum(seg_stop[sel], window_stop[p])
    return np.bincount(p, weights=np.maximum(hi - lo, 0), minlength=n)


def longest_runs(flag: np.ndarray) -> np.ndarray:
    """Running maximum of consecutive-True run lengths along months (persons x months)."""
    n, months = flag.shape
    run = np.zeros(n, dtype=np.int16)
    best = np.zeros((n, months), dtype=np.int16)
    cur = np.zeros(n, dtype=np.int16)
    for m in range(months):
        run = np.where(flag[:, m], run + 1, 0).astype(np.int16)
        cur = np.maximum(cur, run)
        best[:, m] = cur
    return best


def first_true(flag: np.ndarray) -> np.ndarray:
    """Index of the first True along axis 1, -1 when none."""
    has = flag.any(axis=1)
    return np.where(has, np.argmax(flag, axis=1), -1)


# ---------------------------------------------------------------------------
# Effects: difference in means / Lin regression with robust variance, sup-t bands
# ---------------------------------------------------------------------------


def ols_effects(
    *,
    y: np.ndarray,
    d: np.ndarray,
    z: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
    se_type: str = "HC2",
) -> dict[str, np.ndarray]:
    r"""Regress each column of ``y`` on arm dummies (and centred covariates fully interacted).

    With ``z`` given this is Lin's (2013) estimator: :math:`y = a + \tau' D + \gamma'(z - \bar z)
    + \delta'D(z - \bar z)`; without, the difference in means. Missing outcomes (NaN)
    are dropped column by column. Standard errors: ``HC2`` (Neyman-type, equal to the
    unpooled difference-in-means variance without covariates), ``HC1``, or cluster-robust
    ``CR1`` (Stata's small-sample factor) when ``cluster`` is given.

    Returns estimates and standard errors (arms x outcomes), sample sizes per outcome
    and the per-person influence functions (persons x arms x outcomes; clusters
    summed when clustered) for simultaneous bands.
    """
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    n, k_out = y.shape
    d = np.asarray(d, dtype=float)
    if d.ndim == 1:
        d = d[:, None]
    k_arm = d.shape[1]
    w_all = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    est = np.full((k_arm, k_out), np.nan)
    se = np.full((k_arm, k_out), np.nan)
    nobs = np.zeros(k_out, dtype=np.int64)
    if cluster is not None:
        cl = np.asarray(cluster, dtype=np.int64)
        n_cl = int(cl.max()) + 1
        infl = np.zeros((n_cl, k_arm, k_out))
    else:
        infl = np.zeros((n, k_arm, k_out))
    miss = np.isnan(y)
    patterns: dict[bytes, list[int]] = {}
    for j in range(k_out):
        patterns.setdefault(miss[:, j].tobytes(), []).append(j)
    for cols in patterns.values():
        keep = ~miss[:, cols[0]] & (w_all > 0)
        if keep.sum() < 2:
            continue
        dk = d[keep]
        w = w_all[keep]
        parts = [np.ones((dk.shape[0], 1)), dk]
        if z is not None:
            zk = np.asarray(z, dtype=float)[keep]
            zc = zk - np.average(zk, axis=0, weights=w)
            parts.append(zc)
            parts.append((dk[:, :, None] * zc[:, None, :]).reshape(dk.shape[0], -1))
        x = np.hstack(parts)
        xtwx = x.T @ (x * w[:, None])
        try:
            xtwx_inv = np.linalg.inv(xtwx)
        except np.linalg.LinAlgError:
            continue
        yk = y[keep][:, cols]
        beta = xtwx_inv @ (x * w[:, None]).T @ yk
        resid = yk - x @ beta
        a = (x @ xtwx_inv)[:, 1 : 1 + k_arm] * w[:, None]  # rows of (X'WX)^{-1} x_i w_i
        nk = x.shape[0]
        pdim = x.shape[1]
        if cluster is None:
            if se_type == "HC2":
                lev = np.einsum("ij,jk,ik->i", x, xtwx_inv, x) * w
                scale = 1.0 / np.sqrt(np.clip(1.0 - lev, 1e-12, None))
            else:  # HC1
                scale = np.full(nk, np.sqrt(nk / max(nk - pdim, 1)))
            inf_j = (a * scale[:, None])[:, :, None] * resid[:, None, :]
            full = np.zeros((n, k_arm, len(cols)))
            full[keep] = inf_j
            infl[:, :, cols] = full
        else:
            clk = cl[keep]
            g = np.unique(clk).size
            c = np.sqrt((g / max(g - 1, 1)) * ((nk - 1) / max(nk - pdim, 1)))
            inf_j = a[:, :, None] * resid[:, None, :] * c
            summed = group_sum(clk, inf_j, n_cl)
            infl[:, :, cols] = summed
        est[:, cols] = beta[1 : 1 + k_arm]
        se[:, cols] = np.sqrt(np.einsum("iak,iak->ak", infl[:, :, cols], infl[:, :, cols]))
        nobs[cols] = nk
    return {"estimate": est, "se": se, "n": nobs, "influence": infl}


def sup_t_critical(
    *, influence: np.ndarray, alpha: float, n_draws: int, rng: np.random.Generator
) -> float:
    r"""Critical value :math:`c` with :math:`P(\max_k |Z_k| \le c) = 1-\alpha`, :math:`Z \sim N(0, R)`.

    ``influence`` is (units x K); R is the correlation matrix of the estimates it
    implies (Montiel Olea & Plagborg-Moller 2019, sup-t bands).
    """
    cov = influence.T @ influence
    sd = np.sqrt(np.diag(cov))
    ok = sd > 0
    if ok.sum() == 0:
        return float("nan")
    corr = cov[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    vals, vecs = np.linalg.eigh(corr)
    root = vecs * np.sqrt(np.clip(vals, 0, None))
    draws = rng.standard_normal((n_draws, root.shape[0])) @ root.T
    return float(np.quantile(np.abs(draws).max(axis=1), 1 - alpha))


def logistic_fit(*, x: np.ndarray, y: np.ndarray, max_iter: int = 50) -> np.ndarray:
    """Logistic regression by IRLS (x includes the intercept); returns fitted probabilities."""
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        eta = np.clip(x @ beta, -30, 30)
        mu = 1 / (1 + np.exp(-eta))
        w = np.clip(mu * (1 - mu), 1e-10, None)
        step = np.linalg.lstsq(x * np.sqrt(w)[:, None], (y - mu) / np.sqrt(w), rcond=None)[0]
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))


def gray_test(
    *,
    time: np.ndarray,
    cause: np.ndarray,
    group: np.ndarray,
    strata: np.ndarray | None = None,
    rho: float = 0.0,
) -> dict[str, float]:
    r"""Gray's (1988) K-sample test of equal cumulative incidence of one cause.

    ``cause`` is coded 0 censored, 1 the cause of interest, 2 any other cause;
    ``group`` 0..G-1. The score compares each group's subdistribution hazard with
    the pooled one, weighted by :math:`(1 - \hat F(t-))^\rho`; its variance is
    Gray's martingale estimator (the form of R ``cmprsk::cuminc``), computed over
    all event times at once. Scores and variances are summed over strata; the
    statistic :math:`s'V^{-1}s` on the first G-1 groups is chi-square with G-1 df.
    """
    t_all = np.asarray(time, dtype=float)
    m_all = np.asarray(cause, dtype=np.int64)
    g_all = np.asarray(group, dtype=np.int64)
    n_groups = int(g_all.max()) + 1
    s_all = (
        np.zeros(t_all.size, dtype=np.int64)
        if strata is None
        else np.asarray(strata, dtype=np.int64)
    )
    score = np.zeros(n_groups)
    var = np.zeros((n_groups, n_groups))
    for code in np.unique(s_all):
        sel = s_all == code
        t, m, g = t_all[sel], m_all[sel], g_all[sel]
        ut, inv = np.unique(t, return_inverse=True)
        cell = inv * n_groups + g
        size = ut.size * n_groups
        tot = np.bincount(cell, minlength=size).reshape(ut.size, n_groups).astype(float)
        d1 = np.bincount(cell, weights=(m == 1), minlength=size).reshape(ut.size, n_groups)
        d2 = np.bincount(cell, weights=(m == 2), minlength=size).reshape(ut.size, n_groups)
        rs = np.cumsum(tot[::-1], axis=0)[::-1]
        keep = (d1 + d2).sum(axis=1) > 0
        rs, d1, d2 = rs[keep], d1[keep], d2[keep]
        at = rs > 0
        safe_rs = np.where(at, rs, 1.0)
        skm = np.cumprod(np.where(at, (rs - d1 - d2) / safe_rs, 1.0), axis=0)
        skmm = np.vstack([np.ones((1, n_groups)), skm[:-1]])
        f1 = np.cumsum(np.where(at, skmm * d1 / safe_rs, 0.0), axis=0)
        f1m = np.vstack([np.zeros((1, n_groups)), f1[:-1]])
        nd1 = d1.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):  # masked by `at`
            t1 = np.where(at, rs / skmm, 0.0)
            tq = np.where(at, rs * (1 - f1m) / skmm, 0.0).sum(axis=1)
        tr = t1.sum(axis=1)
        f = np.cumsum(nd1 / tr)
        fm = np.concatenate([[0.0], f[:-1]])
        fb = (1 - fm) ** rho
        a = fb[:, None, None] * (
            t1[:, :, None] * np.eye(n_groups)[None]
            - t1[:, :, None] * t1[:, None, :] / tr[:, None, None]
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = np.where(fm < 1, nd1 / (tr * (1 - fm)), 0.0)
        c = np.cumsum(a * inc[:, None, None], axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):  # masked by `at`
            score += (
                fb[:, None]
                * np.where(at, d1 - nd1[:, None] * rs * (1 - f1m) / (skmm * tq[:, None]), 0.0)
            ).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            # failures from the cause of interest
            t4 = np.where(skm > 0, 1 - (1 - f)[:, None] / skm, 1.0)
            t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
            w1 = np.where(
                (nd1[:, None] > 0) & at, t5 * skmm * nd1[:, None] / (tr[:, None] * safe_rs), 0.0
            )
            # failures from other causes
            u4 = np.where(skm > 0, (1 - f)[:, None] / skm, 0.0)
            u5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
            w2 = np.where((skm > 0) & (d2 > 0), u5 * skmm**2 * d2 / safe_rs**2, 0.0)
        b = a - t4[:, None, :] * c  # (t, i, k)
        v3 = (t4**2 * w1).sum(axis=0) + (u4**2 * w2).sum(axis=0)
        v2 = np.einsum("tik,tk->ik", b, t4 * w1) - np.einsum("tik,tk->ik", c, u4**2 * w2)
        v = np.einsum("tik,tjk,tk->ij", b, b, w1) + np.einsum("tik,tjk,tk->ij", c, c, u4**2 * w2)
        cf = c[-1]
        v += cf @ np.diag(v3) @ cf.T + cf @ v2.T + v2 @ cf.T
        var += v
    k = n_groups - 1
    s = score[:k]
    stat = float(s @ np.linalg.solve(var[:k, :k], s))
    return {"statistic": stat, "df": float(k), "p": float(stats.chi2.sf(stat, k))}
