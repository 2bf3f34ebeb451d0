"""Numerics of power and sample size: pure functions, numpy in, numpy out.

Every design reduces to a Wald-type test of an effect ``delta`` with standard
error ``se``; the non-centrality is ``lambda = |delta| / se`` and the power of a
test of size ``alpha`` is

.. math:: 1 - \\beta = F(\\lambda - c) + F(-\\lambda - c)   \\quad\\text{(two-sided)},

with ``c`` the critical value and ``F`` the standard normal or Student-t
distribution function (the *shifted central t* of PowerUp!, Dong & Maynard 2013),
or exactly with the non-central t distribution (``"nct"``, as R's
``power.t.test`` and ``pwr.t.test``).

Solving for whichever quantity is missing uses closed forms where they exist and
otherwise :func:`solve_increasing`, a vectorised bracketed root finder (Illinois
variant of regula falsi), so that a whole grid of problems is solved at once.

References
----------
Cohen J (1988). Statistical Power Analysis for the Behavioral Sciences. 2nd ed.
Dong N, Maynard R (2013). PowerUp!: a tool for calculating minimum detectable effect
sizes and minimum required sample sizes. J Res Educ Eff 6(1):24-67.
Eldridge SM, Ashby D, Kerry S (2006). Sample size for cluster randomized trials: effect
of coefficient of variation of cluster size and analysis method. Int J Epidemiol 35:1292-1300.
Hussey MA, Hughes JP (2007). Design and analysis of stepped wedge cluster randomized
trials. Contemp Clin Trials 28:182-191.
Hooper R, Teerenstra S, de Hoop E, Eldridge S (2016). Sample size calculation for stepped
wedge and other longitudinal cluster randomised trials. Stat Med 35:4718-4728.
McKenzie D (2012). Beyond baseline and follow-up: the case for more T in experiments.
J Dev Econ 99:210-221.  Frison L, Pocock SJ (1992). Repeated measures in clinical trials.
Stat Med 11:1685-1704.
Schoenfeld D (1981). The asymptotic properties of nonparametric tests for comparing
survival distributions. Biometrika 68:316-319.  Freedman LS (1982). Tables of the number
of patients required in clinical trials using the logrank test. Stat Med 1:121-129.
Royston P, Parmar MKB (2013). Restricted mean survival time. BMC Med Res Methodol 13:152.
Pustejovsky JE, Tipton E (2018). Small-sample methods for cluster-robust variance
estimation. J Bus Econ Stat 36:672-683.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import stats

Dist = Literal["z", "t", "nct"]

__all__ = [
    "critical_value",
    "power_from_ncp",
    "ncp_for_power",
    "solve_increasing",
    "binary_power",
    "cluster_se",
    "stepped_wedge_variance",
    "hussey_hughes_variance",
    "stepped_wedge_matrix",
    "did_variance_factor",
    "event_probability",
    "rmst_variance",
    "schoenfeld_events",
    "freedman_events",
    "cluster_difference_pvalue",
]


# ---------------------------------------------------------------------------
# tests of size alpha
# ---------------------------------------------------------------------------
def critical_value(
    *, alpha: np.ndarray | float, sides: int, df: np.ndarray | float | None = None, dist: Dist = "z"
) -> np.ndarray:
    """Critical value ``c`` of a one- or two-sided test of size ``alpha``."""
    a = np.asarray(alpha, dtype=float) / sides
    if dist == "z" or df is None:
        return stats.norm.isf(a)
    return stats.t.isf(a, df)


def power_from_ncp(
    ncp: np.ndarray | float,
    *,
    alpha: np.ndarray | float,
    sides: int,
    df: np.ndarray | float | None = None,
    dist: Dist = "z",
) -> np.ndarray:
    """Power of a Wald-type test given the non-centrality ``ncp = |delta| / se``.

    One-sided tests are taken in the direction of the effect.
    """
    lam = np.abs(np.asarray(ncp, dtype=float))
    c = critical_value(alpha=alpha, sides=sides, df=df, dist=dist)
    if dist == "z" or df is None:
        upper = stats.norm.cdf(lam - c)
        lower = stats.norm.cdf(-lam - c) if sides == 2 else 0.0
    elif dist == "t":
        upper = stats.t.cdf(lam - c, df)
        lower = stats.t.cdf(-lam - c, df) if sides == 2 else 0.0
    else:
        with np.errstate(all="ignore"):
            upper = stats.nct.sf(c, df, lam)
            lower = 0.0
            if sides == 2:  # the far tail, evaluated only where it is not negligible
                shape = np.broadcast_shapes(np.shape(c), np.shape(df), np.shape(lam))
                cb, dfb, lb = (np.broadcast_to(v, shape) for v in (c, df, lam))
                need = stats.t.cdf(-lb - cb, dfb) > 1e-17
                lower = np.zeros(shape)
                if need.any():
                    lower[need] = stats.nct.cdf(-cb[need], dfb[need], lb[need])
        out = upper + lower
        bad = ~np.isfinite(out)
        if np.any(bad):  # scipy's nct fails far in the tail: the shifted t is exact to ~1e-10 there
            approx = power_from_ncp(lam, alpha=alpha, sides=sides, df=df, dist="t")
            out = np.where(bad, approx, out)
        return np.clip(out, 0.0, 1.0)
    return np.clip(upper + lower, 0.0, 1.0)


def ncp_for_power(
    power: np.ndarray | float,
    *,
    alpha: np.ndarray | float,
    sides: int,
    df: np.ndarray | float | None = None,
    dist: Dist = "z",
) -> np.ndarray:
    """Non-centrality at which the test reaches ``power`` (the MDE multiplier ``M``).

    The one-tailed closed form ``M = c + q_power`` (Bloom 1995; Dong & Maynard 2013)
    is refined by root finding so that the opposite tail of a two-sided test and
    the non-central t distribution are accounted for exactly.
    """
    pw = np.asarray(power, dtype=float)
    c = critical_value(alpha=alpha, sides=sides, df=df, dist=dist)
    if dist == "z" or df is None:
        m0 = c + stats.norm.ppf(pw)
    else:
        m0 = c + stats.t.ppf(pw, df)
    m0 = np.broadcast_to(m0, np.broadcast_shapes(np.shape(m0), np.shape(pw))).astype(float)
    if sides == 1 and dist != "nct":
        return m0.copy()

    def f(x: np.ndarray) -> np.ndarray:
        return power_from_ncp(x, alpha=alpha, sides=sides, df=df, dist=dist)

    lo = np.maximum(m0 - 1.0, 0.0)
    hi = m0 + 1.0
    return solve_increasing(f, pw, lo, hi)


def solve_increasing(
    f: Callable[..., np.ndarray],
    target: np.ndarray | float,
    lo: np.ndarray | float,
    hi: np.ndarray | float,
    *,
    lower_bound: float = 0.0,
    upper_bound: float = np.inf,
    xtol: float = 1e-10,
    ftol: float = 1e-12,
    max_iter: int = 200,
    indexed: bool = False,
) -> np.ndarray:
    """Vectorised root of ``f(x) = target`` for ``f`` increasing in ``x``.

    The bracket ``[lo, hi]`` is widened (halving towards ``lower_bound``, doubling
    towards ``upper_bound``) until it contains the root, then narrowed by the
    Illinois variant of regula falsi (superlinear, never leaves the bracket).
    Elements whose root lies outside the bounds come back as NaN.

    With ``indexed=True`` ``f`` is called as ``f(x, idx)`` with ``idx`` the flat
    indices of the problems still being solved, so converged problems cost nothing.
    """
    tgt = np.asarray(target, dtype=float)
    shape = np.broadcast_shapes(np.shape(tgt), np.shape(lo), np.shape(hi))
    size = int(np.prod(shape, dtype=np.int64))
    tgt = np.broadcast_to(tgt, shape).astype(float).reshape(-1)
    lo = np.broadcast_to(np.asarray(lo, dtype=float), shape).astype(float).reshape(-1)
    hi = np.broadcast_to(np.asarray(hi, dtype=float), shape).astype(float).reshape(-1)

    def F(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        if indexed:
            val = f(x, idx)
        elif idx.size == size:
            val = f(x.reshape(shape))
        else:  # evaluate at the current points elsewhere (valid inputs), keep the subset
            full = current.copy()
            full[idx] = x
            val = np.asarray(f(full.reshape(shape))).reshape(-1)[idx]
        return np.broadcast_to(np.asarray(val, dtype=float).reshape(-1), x.shape) - tgt[idx]

    current = lo.copy()
    allidx = np.arange(size)
    flo = F(lo, allidx)
    fhi = F(hi, allidx)
    for _ in range(80):  # widen the bracket where needed
        bad_lo = np.flatnonzero(flo > 0)
        bad_hi = np.flatnonzero(fhi < 0)
        if bad_lo.size == 0 and bad_hi.size == 0:
            break
        if bad_lo.size:
            new = lower_bound + (lo[bad_lo] - lower_bound) / 2.0
            hi[bad_lo], fhi[bad_lo] = lo[bad_lo], flo[bad_lo]
            lo[bad_lo] = new
            flo[bad_lo] = F(new, bad_lo)
        if bad_hi.size:
            new = np.minimum(hi[bad_hi] * 2.0 + 1.0, upper_bound)
            lo[bad_hi], flo[bad_hi] = hi[bad_hi], fhi[bad_hi]
            stuck = new == hi[bad_hi]
            hi[bad_hi] = new
            fhi[bad_hi] = F(new, bad_hi)
            if stuck.all():
                break
    ok = (flo <= 0) & (fhi >= 0) & np.isfinite(flo) & np.isfinite(fhi)
    x = np.where(np.abs(flo) < np.abs(fhi), lo, hi)
    x = np.where(flo == 0, lo, np.where(fhi == 0, hi, x))
    side = np.zeros(size)
    active = np.flatnonzero(ok & (flo != 0) & (fhi != 0))
    for _ in range(max_iter):
        if active.size == 0:
            break
        a_lo, a_hi, a_flo, a_fhi = lo[active], hi[active], flo[active], fhi[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = a_hi - a_fhi * (a_hi - a_lo) / (a_fhi - a_flo)
        mid = 0.5 * (a_lo + a_hi)
        xn = np.where(~np.isfinite(xn) | (xn <= a_lo) | (xn >= a_hi), mid, xn)
        fx = F(xn, active)
        x[active] = xn
        conv = (np.abs(fx) <= ftol) | (a_hi - a_lo <= xtol * (1.0 + np.abs(xn)))
        right = fx > 0
        s_old = side[active]
        # Illinois: halve the stale end's function value when the same end is kept twice
        flo[active] = np.where(right & (s_old == 1), a_flo / 2.0, np.where(~right, fx, a_flo))
        fhi[active] = np.where(~right & (s_old == -1), a_fhi / 2.0, np.where(right, fx, a_fhi))
        hi[active] = np.where(right, xn, a_hi)
        lo[active] = np.where(right, a_lo, xn)
        side[active] = np.where(right, 1, -1)
        active = active[~conv]
    return np.where(ok, x, np.nan).reshape(shape)


# ---------------------------------------------------------------------------
# individually randomised trials, binary outcomes
# ---------------------------------------------------------------------------
def binary_power(
    *,
    p_control: np.ndarray,
    p_treated: np.ndarray,
    n_control: np.ndarray,
    n_treated: np.ndarray,
    alpha: np.ndarray | float,
    sides: int,
    method: str,
    variance_factor: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Power of the two-sample comparison of proportions.

    ``method``: ``"pooled"`` -- null variance at the pooled proportion, alternative
    variance unpooled (Fleiss; R ``power.prop.test(strict=TRUE)``); ``"unpooled"`` --
    Wald test; ``"arcsine"`` -- Cohen's ``h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))``
    (R ``pwr.2p2n.test``). ``variance_factor`` (``1 - R^2``) shrinks the variances.
    """
    p0 = np.asarray(p_control, dtype=float)
    p1 = np.asarray(p_treated, dtype=float)
    n0 = np.asarray(n_control, dtype=float)
    n1 = np.asarray(n_treated, dtype=float)
    vf = np.asarray(variance_factor, dtype=float)
    c = critical_value(alpha=alpha, sides=sides)
    delta = np.abs(p1 - p0)
    if method == "arcsine":
        h = np.abs(2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(p0)))
        lam = h / np.sqrt(vf * (1 / n0 + 1 / n1))
        return power_from_ncp(lam, alpha=alpha, sides=sides)
    se1 = np.sqrt(vf * (p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1))
    if method == "unpooled":
        se0 = se1
    else:
        pbar = (n0 * p0 + n1 * p1) / (n0 + n1)
        se0 = np.sqrt(vf * pbar * (1 - pbar) * (1 / n0 + 1 / n1))
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = stats.norm.cdf((delta - c * se0) / se1)
        lower = stats.norm.cdf((-delta - c * se0) / se1) if sides == 2 else 0.0
    return np.clip(upper + lower, 0.0, 1.0)


# ---------------------------------------------------------------------------
# cluster randomised trials
# ---------------------------------------------------------------------------
def cluster_se(
    *,
    n_clusters: np.ndarray,
    cluster_size: np.ndarray,
    icc: float,
    var_control: np.ndarray | float,
    var_treated: np.ndarray | float,
    share_treated: float,
    cluster_size_cv: float = 0.0,
    r2_cluster: float = 0.0,
    r2_individual: float = 0.0,
) -> np.ndarray:
    r"""Standard error of the difference in means of a two-arm cluster randomised trial.

    .. math:: se^2 = \Big(\frac{\sigma_0^2}{1-P} + \frac{\sigma_1^2}{P}\Big)
              \Big[\frac{\rho(1-R_2^2)(1+cv^2)}{J} + \frac{(1-\rho)(1-R_1^2)}{J m}\Big]

    which is PowerUp!'s CRA2_2 (Dong & Maynard 2013) when ``cv = 0`` and Eldridge
    et al.'s (2006) design effect ``1 + ((cv^2 + 1) m - 1) rho`` for unequal cluster
    sizes.
    """
    J = np.asarray(n_clusters, dtype=float)
    m = np.asarray(cluster_size, dtype=float)
    P = share_treated
    arm_var = (
        np.asarray(var_control, dtype=float) / (1 - P) + np.asarray(var_treated, dtype=float) / P
    )
    between = icc * (1 - r2_cluster) * (1 + cluster_size_cv**2) / J
    within = (1 - icc) * (1 - r2_individual) / (J * m)
    return np.sqrt(arm_var * (between + within))


def cluster_difference_pvalue(
    y: np.ndarray, treated: np.ndarray, cluster: np.ndarray, *, small_sample: str = "CR2"
) -> tuple[float, float, float, int]:
    r"""Difference in means with a cluster-robust SE and a t-test on ``G - 2`` df.

    For the regression of ``y`` on an intercept and a cluster-level treatment the
    OLS slope is the difference of arm means and the hat matrix of cluster ``g`` in
    arm ``a`` is :math:`\mathbf{1}\mathbf{1}'/n_a`, so the CR2 adjustment of
    Bell & McCaffrey (2002) has the closed form
    :math:`V = \sum_a n_a^{-2} \sum_{g \in a} (\sum_i e_{gi})^2 / (1 - n_g/n_a)`.
    ``small_sample="CR1"`` uses the Stata factor ``G/(G-1) (N-1)/(N-2)`` instead.

    Returns ``(estimate, se, p, n_clusters)``.
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(treated).astype(bool)
    c = np.asarray(cluster)
    if c.dtype.kind in "iu":  # integer labels: no sort needed
        g = c - c.min()
    else:
        _, g = np.unique(c, return_inverse=True)
    n_g = np.bincount(g).astype(float)
    present = n_g > 0
    tf = t.astype(float)
    t_g = np.bincount(g, weights=tf, minlength=n_g.size) > 0
    n1 = float(tf.sum())
    n0 = float(t.size - n1)
    sum1 = float(y @ tf)
    mean1 = sum1 / n1
    mean0 = (float(y.sum()) - sum1) / n0
    e = y - np.where(t, mean1, mean0)
    s_g = np.bincount(g, weights=e, minlength=n_g.size)[present]
    n_g, t_g = n_g[present], t_g[present]
    G = int(present.sum())
    n_a = np.where(t_g, n1, n0)
    if small_sample == "CR2":
        contrib = s_g**2 / (1.0 - n_g / n_a)
        var = float(np.sum(contrib[t_g]) / n1**2 + np.sum(contrib[~t_g]) / n0**2)
    else:
        N = float(y.size)
        var = float(np.sum(s_g[t_g] ** 2) / n1**2 + np.sum(s_g[~t_g] ** 2) / n0**2)
        var *= G / (G - 1) * (N - 1) / (N - 2)
    est = mean1 - mean0
    se = float(np.sqrt(var))
    p = float(2 * stats.t.sf(abs(est) / se, G - 2))
    return float(est), se, p, G


# ---------------------------------------------------------------------------
# stepped wedge
# ---------------------------------------------------------------------------
def stepped_wedge_matrix(n_clusters: int, n_steps: int, *, baseline_periods: int = 1) -> np.ndarray:
    """Standard stepped-wedge treatment matrix (clusters x periods) of 0/1.

    Clusters are spread over the steps as evenly as possible (earlier steps get
    the extra clusters); the cluster groups cross over one step at a time after
    ``baseline_periods`` control periods.
    """
    T = baseline_periods + n_steps
    per = np.full(n_steps, n_clusters // n_steps)
    per[: n_clusters % n_steps] += 1
    cross = np.repeat(np.arange(n_steps), per) + baseline_periods  # first treated period
    return (np.arange(T)[None, :] >= cross[:, None]).astype(float)


def stepped_wedge_variance(
    X: np.ndarray,
    *,
    sigma2_e: np.ndarray | float,
    tau2: np.ndarray | float,
    cluster_period_size: np.ndarray | float,
    autocorrelation: np.ndarray | float = 1.0,
) -> np.ndarray:
    r"""GLS variance of the treatment effect of a cross-sectional stepped-wedge trial.

    Model of cluster-period means (Hussey & Hughes 2007, extended by Hooper et al.
    2016 with a cluster autocorrelation ``r``):
    :math:`\bar y_{ij} = \beta_j + \theta X_{ij} + a_i + c_{ij} + \bar e_{ij}` with
    ``Var(a) = r tau2``, ``Var(c) = (1 - r) tau2``, ``Var(e-bar) = sigma2_e / m``.
    With ``V`` the common T x T covariance of a cluster's means and ``s`` the column
    sums of ``X``,

    .. math:: Var(\hat\theta) = \Big[\sum_i x_i' V^{-1} x_i - \tfrac1I s' V^{-1} s\Big]^{-1}.

    Vectorised over broadcast arrays of the variance parameters.
    """
    X = np.asarray(X, dtype=float)
    I, T = X.shape  # noqa: E741 (notation of Hussey & Hughes)
    s2 = np.asarray(sigma2_e, dtype=float) / np.asarray(cluster_period_size, dtype=float)
    t2 = np.asarray(tau2, dtype=float)
    r = np.asarray(autocorrelation, dtype=float)
    shape = np.broadcast_shapes(s2.shape, t2.shape, r.shape)
    a = np.broadcast_to(s2 + (1 - r) * t2, shape)  # diagonal part
    b = np.broadcast_to(r * t2, shape)  # exchangeable part
    # V = a I + b J  =>  V^{-1} = (1/a) [I - b / (a + T b) J]
    k = b / (a + T * b)
    row_sum = X.sum(axis=1)
    sxx = float(np.sum(X * X))
    srow2 = float(np.sum(row_sum**2))
    s = X.sum(axis=0)
    ss = float(s @ s)
    stot2 = float(s.sum() ** 2)
    info = (sxx - k * srow2) / a - (ss - k * stot2) / (a * I)
    scale = sxx / a  # information if every treated cluster-period were independent
    info = np.where(info <= 1e-10 * scale, 0.0, info)  # treatment confounded with period
    with np.errstate(divide="ignore"):
        return 1.0 / info


def hussey_hughes_variance(X: np.ndarray, *, sigma2: float, tau2: float) -> float:
    """Hussey & Hughes (2007) closed form (their eq. 8); ``sigma2`` is the variance of a
    cluster-period mean. Kept as an independent check of :func:`stepped_wedge_variance`."""
    X = np.asarray(X, dtype=float)
    I, T = X.shape  # noqa: E741 (notation of Hussey & Hughes)
    U = X.sum()
    W = float(np.sum(X.sum(axis=0) ** 2))
    V = float(np.sum(X.sum(axis=1) ** 2))
    num = I * sigma2 * (sigma2 + T * tau2)
    den = (I * U - W) * sigma2 + (U**2 + I * T * U - T * W - I * V) * tau2
    return float(num / den)


# ---------------------------------------------------------------------------
# baseline and follow-up rounds: ANCOVA / DiD / POST
# ---------------------------------------------------------------------------
def did_variance_factor(
    *,
    estimator: str,
    baseline_rounds: int,
    followup_rounds: int,
    autocorrelation: np.ndarray | float,
) -> np.ndarray:
    r"""Variance of the estimator relative to one post-treatment comparison (McKenzie 2012).

    POST: :math:`(1 + (r-1)\rho)/r`; DiD: :math:`(1+(m-1)\rho)/m + (1+(r-1)\rho)/r - 2\rho`;
    ANCOVA: :math:`(1+(r-1)\rho)/r - m\rho^2/(1+(m-1)\rho)` (Frison & Pocock 1992),
    with ``m`` baseline and ``r`` follow-up rounds and autocorrelation ``rho``.
    """
    rho = np.asarray(autocorrelation, dtype=float)
    m, r = baseline_rounds, followup_rounds
    post = (1 + (r - 1) * rho) / r
    if estimator == "post":
        return post
    if estimator == "did":
        return (1 + (m - 1) * rho) / m + post - 2 * rho
    return post - m * rho**2 / (1 + (m - 1) * rho)


# ---------------------------------------------------------------------------
# survival
# ---------------------------------------------------------------------------
def schoenfeld_events(
    *, hazard_ratio: np.ndarray, share_treated: float, ncp: np.ndarray
) -> np.ndarray:
    r"""Events for the log-rank test (Schoenfeld 1981):
    :math:`D = \lambda^2 / \{P(1-P)(\log HR)^2\}` with ``lambda = z_{1-a/2} + z_{power}``."""
    lhr = np.log(np.asarray(hazard_ratio, dtype=float))
    with np.errstate(divide="ignore"):
        return ncp**2 / (share_treated * (1 - share_treated) * lhr**2)


def freedman_events(
    *, hazard_ratio: np.ndarray, share_treated: float, ncp: np.ndarray
) -> np.ndarray:
    r"""Events for the log-rank test (Freedman 1982), allocation ratio ``k = n_1/n_0``:
    :math:`D = \lambda^2 (1 + k\,HR)^2 / \{k (1 - HR)^2\}`."""
    hr = np.asarray(hazard_ratio, dtype=float)
    k = share_treated / (1 - share_treated)
    with np.errstate(divide="ignore"):
        return ncp**2 * (1 + k * hr) ** 2 / (k * (1 - hr) ** 2)


def event_probability(
    *, hazard: np.ndarray, dropout_hazard: float, accrual: float, follow_up: float
) -> np.ndarray:
    r"""Probability of an observed event with exponential event and drop-out times.

    Entry uniform over ``[0, accrual]``, analysis ``follow_up`` after the last entry,
    so time at risk is uniform on ``[f, a + f]``:

    .. math:: P = \frac{\lambda}{\lambda+\eta}\Big[1 - \frac{e^{-(\lambda+\eta) f} -
              e^{-(\lambda+\eta)(a+f)}}{(\lambda+\eta)\,a}\Big]
    """
    lam = np.asarray(hazard, dtype=float)
    g = lam + dropout_hazard
    if accrual <= 0:
        tail = np.exp(-g * follow_up)
    else:
        tail = (np.exp(-g * follow_up) - np.exp(-g * (accrual + follow_up))) / (g * accrual)
    return lam / g * (1.0 - tail)


def rmst_variance(
    *,
    hazard: np.ndarray,
    tau: float,
    dropout_hazard: float,
    accrual: float,
    follow_up: float,
    n_grid: int = 400,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Restricted mean survival time up to ``tau`` and ``n x Var`` of its Kaplan-Meier estimate.

    Exponential survival ``S(t) = exp(-lambda t)``, censoring survival ``G(t)`` from
    drop-out and staggered entry; the asymptotic variance is
    :math:`\int_0^\tau A(t)^2 \lambda / \{S(t) G(t)\}\,dt` with
    :math:`A(t) = \int_t^\tau S(u)\,du` (Royston & Parmar 2013). Returns
    ``(rmst, n_var)``, vectorised over ``hazard``.
    """
    lam = np.asarray(hazard, dtype=float)[..., None]
    t = np.linspace(0.0, tau, n_grid + 1)
    S = np.exp(-lam * t)
    A = (np.exp(-lam * t) - np.exp(-lam * tau)) / lam
    G = np.exp(-dropout_hazard * t)
    if accrual > 0:
        G = G * np.clip((accrual + follow_up - t) / accrual, 0.0, 1.0)
    else:
        G = G * (t <= follow_up)
    with np.errstate(divide="ignore", invalid="ignore"):
        integrand = np.where(G > 0, A**2 * lam / (S * G), np.inf)
    n_var = _trapezoid(integrand, t)
    rmst = (1 - np.exp(-lam[..., 0] * tau)) / lam[..., 0]
    return rmst, n_var


def _trapezoid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    dx = np.diff(x)
    return np.sum((y[..., 1:] + y[..., :-1]) * 0.5 * dx, axis=-1)
