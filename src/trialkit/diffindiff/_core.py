"""Numerics of difference-in-differences (numpy in, numpy out, no pandas).

Notation follows the papers cited in each function:

* Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with
  multiple time periods. *Journal of Econometrics* 225(2), 200-230.
* Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences
  estimators. *Journal of Econometrics* 219(1), 101-122.
* Sun, L. and Abraham, S. (2021). Estimating dynamic treatment effects in event
  studies with heterogeneous treatment effects. *Journal of Econometrics* 225(2).
* Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment
  timing. *Journal of Econometrics* 225(2), 254-277.
* Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2008). Bootstrap-based
  improvements for inference with clustered errors. *REStat* 90(3), 414-427.
* Webb, M. D. (2023). Reworking wild bootstrap-based inference for clustered errors.
  *Canadian Journal of Economics* 56(3), 839-858.
* Rambachan, A. and Roth, J. (2023). A more credible approach to parallel trends.
  *Review of Economic Studies* 90(5), 2555-2591.

Panels enter as a balanced matrix ``Y`` of shape ``(n_units, n_periods)``; the
group of a unit is the index of its first treated period, ``-1`` for never treated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

NEVER = -1

# ---------------------------------------------------------------------------
# small linear-algebra helpers
# ---------------------------------------------------------------------------


def _solve_sym(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``a x = b`` for symmetric positive (semi-)definite ``a`` (pseudo-inverse fallback)."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(a) @ b


def logit_fit(
    d: np.ndarray, x: np.ndarray, *, max_iter: int = 100, tol: float = 1e-12
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Logistic regression by Newton-Raphson: coefficients, fitted probabilities, converged."""
    beta = np.zeros(x.shape[1])
    converged = False
    for _ in range(max_iter):
        eta = np.clip(x @ beta, -35.0, 35.0)
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1.0 - p)
        grad = x.T @ (d - p)
        hess = (x * w[:, None]).T @ x
        step = _solve_sym(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1.0 + np.max(np.abs(beta))):
            converged = True
            break
    eta = np.clip(x @ beta, -35.0, 35.0)
    p = 1.0 / (1.0 + np.exp(-eta))
    return beta, p, converged


# ---------------------------------------------------------------------------
# two-period DiD on one (g, t) cell: unconditional, OR, IPW, DR
# ---------------------------------------------------------------------------


def did_cell(
    dy: np.ndarray,
    d: np.ndarray,
    x: np.ndarray | None,
    *,
    est: str = "dr",
) -> tuple[float, np.ndarray]:
    r"""ATT of a two-period panel and its influence function (Sant'Anna & Zhao 2020).

    Parameters
    ----------
    dy : (m,) outcome changes :math:`\Delta Y_i = Y_{it} - Y_{ib}`.
    d : (m,) 1 for the treated group, 0 for the comparison group.
    x : (m, k) covariates including an intercept column, or None (unconditional).
    est : "or" | "ipw" | "dr"  (ignored when ``x`` is None).

    Returns
    -------
    att : float
    psi : (m,) influence function, so that :math:`\widehat{V}(att) = \sum_i \psi_i^2 / m^2`.

    Notes
    -----
    Unconditional: :math:`\widehat{ATT} = \bar{\Delta Y}_{D=1} - \bar{\Delta Y}_{D=0}` with
    :math:`\psi_i = D_i(\Delta Y_i - \bar{\Delta Y}_1)/\hat p - (1-D_i)(\Delta Y_i - \bar{\Delta Y}_0)/(1-\hat p)`.
    OR: outcome regression of :math:`\Delta Y` on :math:`X` among comparisons (Heckman et al. 1997).
    IPW: normalised (Hajek) weights :math:`\hat\pi(X)(1-D)/(1-\hat\pi(X))` with a logit propensity score
    (Abadie 2005). DR: the doubly robust estimator of Sant'Anna & Zhao (2020, eq. 3.1) with
    both nuisance estimation effects in the influence function.
    """
    m = dy.shape[0]
    d = d.astype(float)
    if x is None:
        p1 = d.mean()
        p0 = 1.0 - p1
        m1 = (d * dy).sum() / d.sum()
        m0 = ((1 - d) * dy).sum() / (1 - d).sum()
        psi = d * (dy - m1) / p1 - (1 - d) * (dy - m0) / p0
        return float(m1 - m0), psi
    c = 1.0 - d
    # outcome regression among comparisons
    xc = x * c[:, None]
    xtx = xc.T @ x / m
    beta = _solve_sym(xtx, xc.T @ dy / m)
    mu0 = x @ beta
    resid_c = c * (dy - mu0)
    # asymptotic linear representation of beta: (m, k)
    alr_or = (resid_c[:, None] * x) @ np.linalg.pinv(xtx)
    w1 = d
    mean_w1 = w1.mean()
    if est == "or":
        eta1 = (w1 * dy).mean() / mean_w1
        eta0 = (w1 * mu0).mean() / mean_w1
        inf1 = (w1 * dy - w1 * eta1) / mean_w1
        m1 = (w1[:, None] * x).mean(axis=0)
        inf0 = (w1 * mu0 - w1 * eta0 + alr_or @ m1) / mean_w1
        return float(eta1 - eta0), inf1 - inf0
    _, ps, _ = logit_fit(d, x)
    ps = np.minimum(ps, 1 - 1e-6)
    wps = ps * (1 - ps)
    hess_inv = np.linalg.pinv((x * wps[:, None]).T @ x / m)
    alr_ps = ((d - ps)[:, None] * x) @ hess_inv
    w0 = ps * c / (1 - ps)
    mean_w0 = w0.mean()
    if est == "ipw":
        eta1 = (w1 * dy).mean() / mean_w1
        eta0 = (w0 * dy).mean() / mean_w0
        inf1 = (w1 * dy - w1 * eta1) / mean_w1
        m2 = ((w0 * (dy - eta0))[:, None] * x).mean(axis=0)
        inf0 = (w0 * dy - w0 * eta0 + alr_ps @ m2) / mean_w0
        return float(eta1 - eta0), inf1 - inf0
    # doubly robust
    r = dy - mu0
    eta1 = (w1 * r).mean() / mean_w1
    eta0 = (w0 * r).mean() / mean_w0
    m1 = (w1[:, None] * x).mean(axis=0)
    inf1 = (w1 * r - w1 * eta1 - alr_or @ m1) / mean_w1
    m2 = ((w0 * (r - eta0))[:, None] * x).mean(axis=0)
    m3 = (w0[:, None] * x).mean(axis=0)
    inf0 = (w0 * r - w0 * eta0 + alr_ps @ m2 - alr_or @ m3) / mean_w0
    return float(eta1 - eta0), inf1 - inf0


# ---------------------------------------------------------------------------
# group-time ATT(g, t)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupTime:
    """Raw group-time estimates: cells, estimates, influence functions (n_units x K)."""

    group: np.ndarray  # period index of g
    time: np.ndarray  # period index of t
    base: np.ndarray  # period index of the base period
    att: np.ndarray
    psi: np.ndarray  # (n_units, K) full-sample influence functions
    n_treated: np.ndarray
    n_control: np.ndarray


def att_gt(
    y: np.ndarray,
    g: np.ndarray,
    *,
    control: str = "never",
    base_period: str = "varying",
    anticipation: int = 0,
    x: np.ndarray | None = None,
    est: str = "dr",
) -> GroupTime:
    r"""Group-time average treatment effects :math:`ATT(g,t)` (Callaway & Sant'Anna 2021).

    Parameters
    ----------
    y : (n, T) balanced outcome matrix.
    g : (n,) first treated period index, ``-1`` for never treated.
    control : "never" (never-treated units) or "not_yet" (never treated or not yet
        treated by period :math:`\max(t, b) + \delta`).
    base_period : "varying" (periods before g, including the δ anticipation periods,
        compare t with t-1, as R's ``did`` does; periods from g on with g-1-δ)
        or "universal" (always g-1-δ; the cell at the base period is omitted).
    anticipation : δ, periods of anticipation.
    x : (n, T, k) covariates per period (intercept added here), or None.
    est : "or" | "ipw" | "dr".

    Notes
    -----
    For the never-treated comparison (Callaway & Sant'Anna 2021, eq. 2.7 unconditional):

    .. math:: ATT(g,t) = E[Y_t - Y_{g-\delta-1} \mid G=g] - E[Y_t - Y_{g-\delta-1} \mid C=1].

    Influence functions are rescaled to the full sample: :math:`\psi_i^{full} = (n/m)\psi_i`
    for the :math:`m` units in the cell's subsample, zero elsewhere, so that
    :math:`\widehat V = \Psi^\top\Psi / n^2`.
    """
    n, T = y.shape
    groups = np.unique(g[g >= 0])
    rows_g, rows_t, rows_b, atts, psis, n1s, n0s = [], [], [], [], [], [], []
    for gg in groups:
        gb = gg - 1 - anticipation  # long-difference base
        if gb < 0:
            continue
        treat = g == gg
        for t in range(1, T) if base_period == "varying" else range(T):
            if base_period == "varying":
                b = t - 1 if t < gg else gb  # as R's did: short differences up to g-1
            else:
                b = gb
                if t == b:
                    continue
            if control == "never":
                comp = g == NEVER
            else:
                comp = (g == NEVER) | (g > max(t, b) + anticipation)
                comp &= ~treat
            if not comp.any() or not treat.any():
                continue
            sub = treat | comp
            m = int(sub.sum())
            dy = y[sub, t] - y[sub, b]
            d = treat[sub].astype(float)
            if x is None:
                xs = None
            else:
                xb = x[sub, b, :]
                xs = np.column_stack([np.ones(m), xb])
            a, psi_sub = did_cell(dy, d, xs, est=est)
            psi = np.zeros(n)
            psi[sub] = psi_sub * (n / m)
            rows_g.append(gg)
            rows_t.append(t)
            rows_b.append(b)
            atts.append(a)
            psis.append(psi)
            n1s.append(int(treat.sum()))
            n0s.append(int(comp.sum()))
    psi_mat = np.column_stack(psis) if psis else np.zeros((n, 0))
    return GroupTime(
        group=np.asarray(rows_g, dtype=np.int64),
        time=np.asarray(rows_t, dtype=np.int64),
        base=np.asarray(rows_b, dtype=np.int64),
        att=np.asarray(atts, dtype=float),
        psi=psi_mat,
        n_treated=np.asarray(n1s, dtype=np.int64),
        n_control=np.asarray(n0s, dtype=np.int64),
    )


def att_gt_unconditional_fast(
    y: np.ndarray, g: np.ndarray, *, control: str = "never", anticipation: int = 0
) -> GroupTime:
    """Vectorised unconditional ATT(g, t) with the varying base period (same numbers as
    :func:`att_gt` with ``x=None``), computed a whole group at a time."""
    n, T = y.shape
    groups = np.unique(g[g >= 0])
    out_g, out_t, out_b, att, psis, n1s, n0s = [], [], [], [], [], [], []
    tt = np.arange(1, T)
    for gg in groups:
        gb = gg - 1 - anticipation
        if gb < 0:
            continue
        b = np.where(tt < gg, tt - 1, gb)
        dy = y[:, tt] - y[:, b]  # (n, T-1)
        treat = g == gg
        if control == "never":
            comp = np.broadcast_to((g == NEVER)[:, None], dy.shape)
        else:
            lim = np.maximum(tt, b) + anticipation
            comp = ((g == NEVER)[:, None] | (g[:, None] > lim[None, :])) & ~treat[:, None]
        n1 = int(treat.sum())
        n0 = comp.sum(axis=0)
        ok = n0 > 0
        if n1 == 0 or not ok.any():
            continue
        compf = comp.astype(float)
        m1 = dy[treat].mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            m0 = (compf * dy).sum(axis=0) / n0
        m = n1 + n0
        # psi (full-sample scaling n/m times subsample IF with p1 = n1/m)
        p1 = n1 / m
        p0 = n0 / m
        psi = np.zeros_like(dy)
        with np.errstate(invalid="ignore", divide="ignore"):
            psi[treat] = (dy[treat] - m1) / p1
            psi -= compf * (dy - m0) / p0
            psi *= n / m
        sel = np.flatnonzero(ok)
        out_g.append(np.full(sel.size, gg))
        out_t.append(tt[sel])
        out_b.append(b[sel])
        att.append((m1 - m0)[sel])
        psis.append(psi[:, sel])
        n1s.append(np.full(sel.size, n1))
        n0s.append(n0[sel])
    if not att:
        z = np.zeros(0, dtype=np.int64)
        return GroupTime(z, z, z, np.zeros(0), np.zeros((n, 0)), z, z)
    return GroupTime(
        group=np.concatenate(out_g).astype(np.int64),
        time=np.concatenate(out_t).astype(np.int64),
        base=np.concatenate(out_b).astype(np.int64),
        att=np.concatenate(att),
        psi=np.hstack(psis),
        n_treated=np.concatenate(n1s).astype(np.int64),
        n_control=np.concatenate(n0s).astype(np.int64),
    )


def simple_att(
    y: np.ndarray, g: np.ndarray, *, control: str = "never", anticipation: int = 0
) -> float:
    r"""The simple aggregation of unconditional ATT(g, t) without influence functions (fast).

    :math:`\theta = \sum_g\sum_{t \ge g} n_g ATT(g,t) / \sum_g\sum_{t\ge g} n_g` with the
    long difference to :math:`g - 1 - \delta`; used for randomisation inference, where only
    the point estimate is recomputed for each reassignment.
    """
    T = y.shape[1]
    num = 0.0
    den = 0.0
    never = g == NEVER
    for gg in np.unique(g[g >= 0]):
        b = gg - 1 - anticipation
        if b < 0:
            continue
        tt = np.arange(max(gg - anticipation, 1), T)
        tt = tt[tt >= gg]
        if tt.size == 0:
            continue
        treat = g == gg
        dy = y[:, tt] - y[:, [b]]
        m1 = dy[treat].mean(axis=0)
        if control == "never":
            if not never.any():
                continue
            m0 = dy[never].mean(axis=0)
            ok = np.ones(tt.size, dtype=bool)
        else:
            comp = (
                never[:, None] | (g[:, None] > np.maximum(tt, b)[None, :] + anticipation)
            ) & ~treat[:, None]
            cnt = comp.sum(axis=0)
            ok = cnt > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                m0 = (dy * comp).sum(axis=0) / cnt
        n_g = treat.sum()
        num += n_g * float((m1 - m0)[ok].sum())
        den += n_g * int(ok.sum())
    return num / den if den > 0 else float("nan")


# ---------------------------------------------------------------------------
# aggregation of ATT(g, t) (Callaway & Sant'Anna 2021, Section 3)
# ---------------------------------------------------------------------------


def _weight_if(
    keep: np.ndarray, cell_group: np.ndarray, g_unit: np.ndarray, pg_of: dict, n: int
) -> np.ndarray:
    r"""Influence function of estimated weights :math:`w_k = p_{g_k} / \sum_{j} p_{g_j}`.

    Returns (n, K_keep): :math:`\partial w_k` linearised in the unit indicators
    :math:`1\{G_i = g_k\} - p_{g_k}`.
    """
    gk = cell_group[keep]
    pk = np.array([pg_of[v] for v in gk])
    s = pk.sum()
    ind = (g_unit[:, None] == gk[None, :]).astype(float) - pk[None, :]  # (n, K)
    if1 = ind / s
    if2 = (ind.sum(axis=1, keepdims=True) / s**2) * pk[None, :]
    return if1 - if2


def aggregate(
    gt: GroupTime,
    g_unit: np.ndarray,
    *,
    kind: str,
    min_e: int | None = None,
    max_e: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    r"""Aggregate group-time effects (Callaway & Sant'Anna 2021, eq. 3.3-3.10).

    Returns
    -------
    labels : (L,) event time (kind "event"), group or time period index; empty for "simple".
    theta : (L,) aggregated effects.
    psi : (n, L) their influence functions.
    overall : float, the overall summary parameter.
    psi_overall : (n,).

    Notes
    -----
    Weights are group shares :math:`p_g = P(G = g)` among the cells kept; the
    estimation of the weights enters the influence function (the "wif" term).
    simple: :math:`\theta = \sum_{g,t \ge g} p_g ATT(g,t) / \sum p_g`.
    event: :math:`\theta(e) = \sum_g 1\{g+e \le T\} p_g ATT(g, g+e) / \sum ...`; overall is the
    mean of :math:`\theta(e)` over :math:`e \ge 0`.
    group: :math:`\theta(g)` the mean of :math:`ATT(g,t)` over :math:`t \ge g`; overall
    :math:`\sum_g p_g \theta(g) / \sum_g p_g`.
    calendar: :math:`\theta(t) = \sum_{g \le t} p_g ATT(g,t) / \sum p_g`; overall the mean over t.
    """
    n = g_unit.shape[0]
    pg_of = {int(v): float(np.mean(g_unit == v)) for v in np.unique(gt.group)}
    post = gt.time >= gt.group
    pg_cell = np.array([pg_of[int(v)] for v in gt.group]) if gt.group.size else np.zeros(0)

    def weighted(keep: np.ndarray) -> tuple[float, np.ndarray]:
        w = pg_cell[keep] / pg_cell[keep].sum()
        est = float(w @ gt.att[keep])
        psi = gt.psi[:, keep] @ w + _weight_if(keep, gt.group, g_unit, pg_of, n) @ gt.att[keep]
        return est, psi

    empty = np.zeros(0)
    if kind == "simple":
        est, psi = weighted(post)
        return empty, empty, np.zeros((n, 0)), est, psi
    if kind == "event":
        e = gt.time - gt.group
        lo = e.min() if min_e is None else min_e
        hi = e.max() if max_e is None else max_e
        labels = np.array([v for v in np.unique(e) if lo <= v <= hi], dtype=np.int64)
        th, ps = [], []
        for v in labels:
            est, psi = weighted(e == v)
            th.append(est)
            ps.append(psi)
        theta = np.asarray(th)
        psi_m = np.column_stack(ps) if ps else np.zeros((n, 0))
        pos = labels >= 0
        overall = float(theta[pos].mean()) if pos.any() else np.nan
        psi_o = psi_m[:, pos].mean(axis=1) if pos.any() else np.full(n, np.nan)
        return labels, theta, psi_m, overall, psi_o
    if kind == "group":
        labels = np.unique(gt.group[post])
        th, ps = [], []
        for v in labels:
            keep = post & (gt.group == v)
            th.append(float(gt.att[keep].mean()))
            ps.append(gt.psi[:, keep].mean(axis=1))
        theta = np.asarray(th)
        psi_m = np.column_stack(ps)
        pk = np.array([pg_of[int(v)] for v in labels])
        w = pk / pk.sum()
        overall = float(w @ theta)
        ind = (g_unit[:, None] == labels[None, :]).astype(float) - pk[None, :]
        wif = ind / pk.sum() - (ind.sum(axis=1, keepdims=True) / pk.sum() ** 2) * pk[None, :]
        psi_o = psi_m @ w + wif @ theta
        return labels.astype(np.int64), theta, psi_m, overall, psi_o
    if kind == "calendar":
        labels = np.unique(gt.time[post])
        th, ps = [], []
        for v in labels:
            est, psi = weighted(post & (gt.time == v))
            th.append(est)
            ps.append(psi)
        theta = np.asarray(th)
        psi_m = np.column_stack(ps)
        return labels.astype(np.int64), theta, psi_m, float(theta.mean()), psi_m.mean(axis=1)
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# inference from influence functions
# ---------------------------------------------------------------------------


def cluster_sums(psi: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Sum influence functions within clusters (integer codes 0..C-1); unchanged when None."""
    if cluster is None:
        return psi
    n_cl = int(cluster.max()) + 1
    out = np.zeros((n_cl,) + psi.shape[1:])
    np.add.at(out, cluster, psi)
    return out


def analytic_se(psi: np.ndarray, n: int, cluster: np.ndarray | None = None) -> np.ndarray:
    r""":math:`\widehat{se}_k = \sqrt{\sum_c (\sum_{i \in c} \psi_{ik})^2} / n`."""
    s = cluster_sums(psi, cluster)
    return np.sqrt((s**2).sum(axis=0)) / n


def multiplier_draws(
    psi_cl: np.ndarray, n: int, n_draw: int, rng: np.random.Generator, weights: str = "mammen"
) -> np.ndarray:
    r"""Multiplier-bootstrap draws :math:`\sqrt{n}\,\hat\theta^*_b - \sqrt n\hat\theta
    = n^{-1/2}\sum_c V_{bc} \psi_c` for a block of ``n_draw`` replications.

    ``weights``: "mammen" (two-point, mean 0, variance 1, third moment 1) or "rademacher".
    """
    n_cl = psi_cl.shape[0]
    if weights == "mammen":
        s5 = np.sqrt(5.0)
        k = (s5 + 1) / (2 * s5)
        v = np.where(rng.random((n_draw, n_cl)) < k, -(s5 - 1) / 2, (s5 + 1) / 2)
    else:
        v = rng.integers(0, 2, size=(n_draw, n_cl)) * 2.0 - 1.0
    return (v @ psi_cl) / np.sqrt(n)


def bootstrap_summary(draws: np.ndarray, n: int, alpha: float) -> tuple[np.ndarray, float]:
    r"""Standard errors (IQR-based, as in the R package ``did``) and the uniform critical value.

    :math:`\widehat{se}_k = (q_{.75} - q_{.25}) / (z_{.75} - z_{.25}) / \sqrt n`; the uniform
    critical value is the :math:`1-\alpha` quantile of :math:`\max_k |draw_k| / (\sqrt n\,\widehat{se}_k)`.
    """
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    sig = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    se = sig / np.sqrt(n)
    ok = sig > np.sqrt(np.finfo(float).eps) * 10
    if not ok.any():
        return se, float(stats.norm.ppf(1 - alpha / 2))
    tmax = np.max(np.abs(draws[:, ok]) / sig[ok], axis=1)
    crit = float(np.quantile(tmax, 1 - alpha))
    return np.where(ok, se, np.nan), crit


def wald_test(est: np.ndarray, vcov: np.ndarray) -> tuple[float, int, float]:
    """Wald statistic, degrees of freedom and chi-square p-value of H0: est = 0."""
    k = est.size
    if k == 0:
        return np.nan, 0, np.nan
    w = float(est @ np.linalg.pinv(vcov) @ est)
    rank = int(np.linalg.matrix_rank(vcov))
    return w, rank, float(stats.chi2.sf(w, rank))


# ---------------------------------------------------------------------------
# regression: within transformation, OLS, cluster-robust variance
# ---------------------------------------------------------------------------


def demean(
    arrays: np.ndarray,
    codes: list[np.ndarray],
    *,
    weights: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> tuple[np.ndarray, bool, int]:
    r"""Partial out several sets of fixed effects by alternating projections.

    Each sweep subtracts group means for one factor after the other (the method of
    alternating projections, Gaure 2013, as in ``lfe``/``fixest``); for one factor it is
    exact in one sweep, for a balanced two-way panel in two sweeps.

    Parameters
    ----------
    arrays : (N, p) columns to demean.
    codes : list of (N,) integer codes 0..G-1, one per factor.

    Returns
    -------
    demeaned (N, p), converged, iterations.
    """
    x = np.array(arrays, dtype=float, copy=True)
    if x.ndim == 1:
        x = x[:, None]
    w = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    counts = [np.bincount(c, weights=w) for c in codes]
    scale = np.maximum(np.abs(x).max(axis=0), 1.0)
    it = 0
    for it in range(1, max_iter + 1):
        max_change = 0.0
        for c, cnt in zip(codes, counts):
            for j in range(x.shape[1]):
                sums = np.bincount(c, weights=x[:, j] * w, minlength=cnt.size)
                means = sums / np.where(cnt > 0, cnt, 1.0)
                x[:, j] -= means[c]
                max_change = max(max_change, float(np.max(np.abs(means)) / scale[j]))
        if len(codes) <= 1 or max_change < tol:
            return x, True, it
    return x, False, it


def ols(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares: coefficients, residuals, (X'X)^{-1}."""
    xtx = x.T @ x
    xtx_inv = np.linalg.pinv(xtx)
    beta = xtx_inv @ (x.T @ y)
    return beta, y - x @ beta, xtx_inv


def cluster_vcov(
    x: np.ndarray,
    resid: np.ndarray,
    xtx_inv: np.ndarray,
    cluster: np.ndarray,
    *,
    n_absorbed: int = 0,
) -> np.ndarray:
    r"""CR1 cluster-robust covariance (Liang & Zeger 1986; Stata small-sample factor).

    .. math:: \widehat V = \frac{G}{G-1}\frac{N-1}{N-K}(X'X)^{-1}\Big(\sum_g X_g'u_g u_g'X_g\Big)(X'X)^{-1}

    Absorbed fixed effects nested in the clusters (unit effects when clusters are units or
    groups of units) are not counted in :math:`K`; the ``n_absorbed`` levels of other absorbed
    effects (the period effects) are, as fixest / pyfixest do by default (``fixef_k="nested"``).
    """
    n, k = x.shape
    n_cl = int(cluster.max()) + 1
    scores = np.column_stack(
        [np.bincount(cluster, weights=x[:, j] * resid, minlength=n_cl) for j in range(k)]
    )
    return cr1_from_scores(scores, xtx_inv, n, n_absorbed=n_absorbed)


def cr1_from_scores(
    scores: np.ndarray, xtx_inv: np.ndarray, n: int, *, n_absorbed: int = 0
) -> np.ndarray:
    """CR1 covariance from the G x K matrix of cluster score sums :math:`X_g'u_g`."""
    n_cl, k = scores.shape
    meat = scores.T @ scores
    kk = k + n_absorbed
    factor = n_cl / (n_cl - 1) * (n - 1) / (n - kk)
    return factor * xtx_inv @ meat @ xtx_inv


# ---------------------------------------------------------------------------
# wild cluster bootstrap with the null imposed (Cameron, Gelbach & Miller 2008)
# ---------------------------------------------------------------------------


def wild_weights(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    """Rademacher (+-1) or Webb's six-point weights (+-sqrt(1/2), +-1, +-sqrt(3/2))."""
    if kind == "rademacher":
        return rng.integers(0, 2, size=shape) * 2.0 - 1.0
    pts = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
    return pts[rng.integers(0, 6, size=shape)]


def wild_restricted_setup(
    y: np.ndarray, x: np.ndarray, j: int, cluster: np.ndarray
) -> dict[str, np.ndarray]:
    """Pieces for the restricted wild cluster bootstrap of coefficient ``j`` (data already demeaned)."""
    keep = np.ones(x.shape[1], dtype=bool)
    keep[j] = False
    xr = x[:, keep]
    if xr.shape[1]:
        br, ur, _ = ols(y, xr)
        fit_r = xr @ br
    else:
        ur = y.copy()
        fit_r = np.zeros_like(y)
    xtx_inv = np.linalg.pinv(x.T @ x)
    return {"fit_r": fit_r, "u_r": ur, "xtx_inv": xtx_inv}


def wild_t_draws(
    x: np.ndarray,
    j: int,
    cluster: np.ndarray,
    fit_r: np.ndarray,
    u_r: np.ndarray,
    xtx_inv: np.ndarray,
    v: np.ndarray,
    n_absorbed: int = 0,
) -> np.ndarray:
    r"""Bootstrap t statistics of coefficient ``j`` for weight draws ``v`` (B, G), null imposed.

    :math:`y^*_b = X\tilde\beta_r + v_{b,g(i)}\tilde u_i`; each draw is refitted by OLS and
    its CR1 t statistic for :math:`\beta_j = 0` computed. Vectorised over draws through the
    cluster-level score sums.
    """
    n, k = x.shape
    n_cl = int(cluster.max()) + 1
    # X'y* = X'fit_r + sum_g v_bg X_g'u_g
    xu = np.zeros((n_cl, k))
    np.add.at(xu, cluster, x * u_r[:, None])
    base = x.T @ fit_r  # (k,)
    xty = base[None, :] + v @ xu  # (B, k)
    beta = xty @ xtx_inv.T  # (B, k)
    # residuals u* = y* - X beta*; per-cluster scores X_g'u*_g
    # X_g'u*_g = X_g'fit_r_g + v_bg X_g'u_g - (X_g'X_g) beta*
    xfit = np.zeros((n_cl, k))
    np.add.at(xfit, cluster, x * fit_r[:, None])
    xgxg = np.zeros((n_cl, k, k))
    np.add.at(xgxg, cluster, x[:, :, None] * x[:, None, :])
    scores = (
        xfit[None, :, :] + v[:, :, None] * xu[None, :, :] - np.einsum("gkl,bl->bgk", xgxg, beta)
    )
    a = scores @ xtx_inv[:, j]  # (B, G)
    factor = n_cl / (n_cl - 1) * (n - 1) / (n - k - n_absorbed)
    se = np.sqrt(factor * (a**2).sum(axis=1))
    return beta[:, j] / se


# ---------------------------------------------------------------------------
# Goodman-Bacon decomposition (balanced panel, no covariates)
# ---------------------------------------------------------------------------


def bacon(y: np.ndarray, g: np.ndarray) -> dict[str, np.ndarray]:
    r"""Goodman-Bacon (2021) decomposition of the TWFE coefficient into 2x2 comparisons.

    Timing groups are units sharing a first treated period; ``-1`` = never treated (or
    treated after the panel ends). Units treated in period 0 are "always treated" and
    serve as controls only. For each pair, the 2x2 DiD and its weight (Theorem 1):
    :math:`s_{kU} \propto (n_k + n_U)^2 n_{kU}(1-n_{kU}) \bar D_k (1-\bar D_k)` and
    :math:`s_{k\ell} \propto ((n_k+n_\ell)(1-\bar D_\ell))^2 n_{k\ell}(1-n_{k\ell})
    \frac{\bar D_k - \bar D_\ell}{1-\bar D_\ell}\frac{1-\bar D_k}{1-\bar D_\ell}` (and the
    analogous later-vs-earlier term); weights are normalised to sum to one.

    Returns dict of arrays: treated, control (group period indices; -1 never, 0 always),
    kind (0 treated-vs-never, 1 earlier-vs-later, 2 later-vs-earlier, 3 vs always),
    estimate, weight.
    """
    n, T = y.shape
    nt = float(T)
    labels = np.unique(g)
    ybar = {int(k): y[g == k].mean(axis=0) for k in labels}
    share = {int(k): float(np.mean(g == k)) for k in labels}

    def dbar(k: int) -> float:
        if k == NEVER:
            return 0.0
        return (T - k) / nt

    timed = [int(k) for k in labels if k > 0]
    untreated = [int(k) for k in labels if k in (NEVER, 0)]
    tr, co, kind, est, wt = [], [], [], [], []
    for k in timed:
        dk = dbar(k)
        for u in untreated:
            yk, yu = ybar[k], ybar[u]
            pre = slice(0, k)
            post = slice(k, T)
            b = (yk[post].mean() - yk[pre].mean()) - (yu[post].mean() - yu[pre].mean())
            nk, nu = share[k], share[u]
            nku = nk / (nk + nu)
            if u == NEVER:
                w = (nk + nu) ** 2 * nku * (1 - nku) * dk * (1 - dk)
                kd = 0
            else:
                # always-treated as control: treated indicator of the always group is 1
                w = (nk + nu) ** 2 * nku * (1 - nku) * dk * (1 - dk)
                kd = 3
            tr.append(k)
            co.append(u)
            kind.append(kd)
            est.append(b)
            wt.append(w)
        for ell in timed:
            if ell <= k:
                continue
            dl = dbar(ell)
            nk, nl = share[k], share[ell]
            nkl = nk / (nk + nl)
            yk, yl = ybar[k], ybar[ell]
            # earlier (k) treated vs later (ell) not yet treated: periods [0, ell)
            pre = slice(0, k)
            mid = slice(k, ell)
            post = slice(ell, T)
            b_kl = (yk[mid].mean() - yk[pre].mean()) - (yl[mid].mean() - yl[pre].mean())
            w_kl = (
                ((nk + nl) * (1 - dl)) ** 2
                * nkl
                * (1 - nkl)
                * (dk - dl)
                / (1 - dl)
                * (1 - dk)
                / (1 - dl)
            )
            b_lk = (yl[post].mean() - yl[mid].mean()) - (yk[post].mean() - yk[mid].mean())
            w_lk = ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * (dk - dl) / dk
            tr += [k, ell]
            co += [ell, k]
            kind += [1, 2]
            est += [b_kl, b_lk]
            wt += [w_kl, w_lk]
    wt_a = np.asarray(wt, dtype=float)
    return {
        "treated": np.asarray(tr, dtype=np.int64),
        "control": np.asarray(co, dtype=np.int64),
        "kind": np.asarray(kind, dtype=np.int64),
        "estimate": np.asarray(est, dtype=float),
        "weight": wt_a / wt_a.sum() if wt_a.size else wt_a,
    }


# ---------------------------------------------------------------------------
# Rambachan & Roth (2023) relative-magnitudes bound
# ---------------------------------------------------------------------------


def rr_relative_magnitudes(
    pre_changes: np.ndarray,
    beta_post: np.ndarray,
    sigma_post: np.ndarray,
    l_vec: np.ndarray,
    mbar: float,
    alpha: float,
) -> tuple[float, float, float, float]:
    r"""Identified set and plug-in interval under :math:`\Delta^{RM}(\bar M)`
    (Rambachan & Roth 2023, Section 2.4.1, relative magnitudes).

    The restriction bounds every post-period change of the differential trend by
    :math:`\bar M` times the largest pre-period change,
    :math:`|\delta_{t+1} - \delta_t| \le \bar M \max_{s<0} |\delta_{s+1} - \delta_s|`.
    With :math:`\delta_{-1} = 0`, the bias of post coefficient :math:`e \ge 0` is at most
    :math:`(e+1)\bar M\bar\Delta` in absolute value, so the bias of
    :math:`\theta = l'\beta_{post}` lies in :math:`[-B, B]`,
    :math:`B = \bar M\bar\Delta\sum_e |l_e|(e+1)`, where
    :math:`\bar\Delta = \max_s |\delta_{s+1} - \delta_s|` is estimated by the
    pre-period changes (``pre_changes``).

    The interval adds :math:`z_{1-\alpha/2}\,se(l'\hat\beta_{post})` to each end of the
    estimated identified set (a plug-in interval, not the conditional/hybrid
    intervals of the paper: it ignores sampling error in :math:`\bar\Delta`).

    Returns (id_low, id_high, ci_low, ci_high).
    """
    dmax = float(np.max(np.abs(pre_changes))) if pre_changes.size else 0.0
    theta = float(l_vec @ beta_post)
    horizon = np.arange(1, l_vec.size + 1)
    bound = mbar * dmax * float(np.abs(l_vec) @ horizon)
    se = float(np.sqrt(l_vec @ sigma_post @ l_vec))
    z = stats.norm.ppf(1 - alpha / 2)
    return theta - bound, theta + bound, theta - bound - z * se, theta + bound + z * se


def rr_breakdown(
    pre_changes: np.ndarray,
    beta_post: np.ndarray,
    sigma_post: np.ndarray,
    l_vec: np.ndarray,
    alpha: float,
) -> float:
    """Smallest :math:`\bar M` for which the plug-in interval of :func:`rr_relative_magnitudes`
    contains zero (closed form; ``inf`` when the pre-period changes are all zero)."""
    dmax = float(np.max(np.abs(pre_changes))) if pre_changes.size else 0.0
    theta = float(l_vec @ beta_post)
    se = float(np.sqrt(l_vec @ sigma_post @ l_vec))
    z = stats.norm.ppf(1 - alpha / 2)
    slack = abs(theta) - z * se
    if slack <= 0:
        return 0.0
    per_m = dmax * float(np.abs(l_vec) @ np.arange(1, l_vec.size + 1))
    return float("inf") if per_m == 0 else slack / per_m
