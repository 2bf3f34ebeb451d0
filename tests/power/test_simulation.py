"""tk.power.simulate, and simulation checks: analytic power = empirical rejection rate of the estimator.

Each check draws R replications and accepts |simulated - analytic| <= K_MC Monte-Carlo standard
errors (plus the stated approximation error of the formula where it has one).
"""

from __future__ import annotations

import math
import warnings
from functools import partial

import numpy as np
import pytest
from scipy import stats

import trialkit as tk
from trialkit.errors import DesignError, TrialkitWarning

#: Monte-Carlo tolerance in standard errors (a false alarm about 1 in 2000 per check)
K_MC = 3.5


def _gen_two_sample(rng: np.random.Generator, *, n: int = 50, effect: float = 0.5):
    return rng.normal(0.0, 1.0, n), rng.normal(effect, 1.0, n)


def _est_t(data):
    a, b = data
    se = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / a.size)
    return 2 * stats.t.sf(abs(b.mean() - a.mean()) / se, 2 * a.size - 2)


def _within(sim, analytic: float, extra: float = 0.0) -> None:
    se = math.sqrt(analytic * (1 - analytic) / sim.n_sims)
    assert abs(sim.power - analytic) <= K_MC * se + extra, (sim.power, analytic, se)


# -- the engine ------------------------------------------------------------------
def test_same_seed_same_result_and_backends_agree() -> None:
    a = tk.power.simulate(_gen_two_sample, _est_t, n_sims=60, seed=3)
    b = tk.power.simulate(_gen_two_sample, _est_t, n_sims=60, seed=3, chunk_size=7)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        c = tk.power.simulate(_gen_two_sample, _est_t, n_sims=60, seed=3, backend=pool)
    np.testing.assert_array_equal(a.p_values, b.p_values)
    np.testing.assert_array_equal(a.p_values, c.p_values)
    d = tk.power.simulate(_gen_two_sample, _est_t, n_sims=60, seed=4)
    assert not np.array_equal(a.p_values, d.p_values)


def test_result_fields_and_mc_se() -> None:
    r = tk.power.simulate(_gen_two_sample, _est_t, n_sims=300, seed=0, alpha=0.05)
    assert r.power == pytest.approx(np.mean(r.p_values < 0.05))
    assert r.mc_se == pytest.approx(math.sqrt(r.power * (1 - r.power) / 300))
    out = r.to_dict()
    assert (
        {"power", "mc_se", "n_sims", "alpha"} <= set(out)
        and out["n_sims"] == 300
        and out["seed"] == 0
    )
    ax = r.plot()
    assert len(ax.patches) == 20


def test_failed_replications_are_excluded_and_counted() -> None:
    def est(data):
        return float("nan") if data[0][0] > 1.0 else _est_t(data)

    with pytest.warns(TrialkitWarning, match="gave no p-value"):
        r = tk.power.simulate(_gen_two_sample, est, n_sims=200, seed=2)
    assert r.n_excluded > 0 and r.n_sims + r.n_excluded == 200
    assert r.excluded[0].reason == "estimator returned no p-value"


def test_estimate_may_return_mapping_and_seed_none_is_recorded() -> None:
    r = tk.power.simulate(
        _gen_two_sample,
        lambda d: {"p": _est_t(d), "estimate": d[1].mean() - d[0].mean()},
        n_sims=50,
        seed=None,
    )
    assert r.seed is not None
    assert r.to_dict()["mean_estimate"] == pytest.approx(0.5, abs=0.15)
    with pytest.raises(DesignError, match="n_sims"):
        tk.power.simulate(_gen_two_sample, _est_t, n_sims=0)


def test_cluster_difference_test_matches_statsmodels_cr1() -> None:
    import pandas as pd
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(16), rng.integers(5, 40, 16))
    t = (g % 2).astype(float)
    y = rng.normal(size=16)[g] + rng.normal(size=g.size) + 0.3 * t
    ours = tk.power.cluster_difference_test(y, t, g, small_sample="CR1")
    fit = smf.ols("y ~ t", pd.DataFrame({"y": y, "t": t})).fit(
        cov_type="cluster", cov_kwds={"groups": g}
    )
    assert ours["estimate"] == pytest.approx(fit.params["t"], rel=1e-10)
    assert ours["se"] == pytest.approx(fit.bse["t"], rel=1e-10)


def test_cluster_difference_test_cr2_matches_matrix_form() -> None:
    # slow reference: CR2 with explicit (I - H_gg)^{-1/2} adjustments
    rng = np.random.default_rng(6)
    g = np.repeat(np.arange(10), rng.integers(3, 12, 10))
    t = (g < 5).astype(float)
    y = rng.normal(size=g.size) + t
    X = np.column_stack([np.ones_like(t), t])
    XtXi = np.linalg.inv(X.T @ X)
    e = y - X @ (XtXi @ X.T @ y)
    meat = np.zeros((2, 2))
    for c in np.unique(g):
        idx = g == c
        Xg = X[idx]
        H = Xg @ XtXi @ Xg.T
        w, v = np.linalg.eigh(np.eye(idx.sum()) - H)
        A = v @ np.diag(1 / np.sqrt(w)) @ v.T
        u = Xg.T @ A @ e[idx]
        meat += np.outer(u, u)
    V = XtXi @ meat @ XtXi
    ours = tk.power.cluster_difference_test(y, t, g)
    assert ours["se"] == pytest.approx(math.sqrt(V[1, 1]), rel=1e-10)


# -- analytic power vs the empirical rejection rate (slow) -----------------------------
def _gen_cluster(rng, *, J, m, icc, effect):
    g = np.repeat(np.arange(J), m)
    t = (np.arange(J) % 2)[g].astype(float)
    y = rng.normal(0, math.sqrt(icc), J)[g] + rng.normal(0, math.sqrt(1 - icc), J * m) + effect * t
    return y, t, g


def _est_cluster(data):
    return tk.power.cluster_difference_test(*data)["p"]


@pytest.mark.slow
def test_cluster_rct_analytic_matches_cr2_simulation() -> None:
    J, m, icc = 20, 30, 0.1
    d = tk.power.ClusterRCT(icc=icc, cluster_size=m)
    effect = d.mde(n_clusters=J, power=0.6).mde
    sim = tk.power.simulate(
        partial(_gen_cluster, J=J, m=m, icc=icc, effect=effect), _est_cluster, n_sims=1500, seed=11
    )
    # PowerUp!'s shifted central t vs the exact non-central t of the cluster-means test: < 0.01 here
    _within(sim, 0.6, extra=0.01)
    null = tk.power.simulate(
        partial(_gen_cluster, J=J, m=m, icc=icc, effect=0.0), _est_cluster, n_sims=1500, seed=12
    )
    _within(null, 0.05)


@pytest.mark.slow
def test_stepped_wedge_analytic_matches_gls_simulation() -> None:
    sw = tk.power.SteppedWedge(
        n_clusters=12, n_steps=3, cluster_period_size=20, icc=0.05, cluster_autocorrelation=0.6
    )
    effect = sw.mde(power=0.5).mde
    sim = sw.simulate(effect=effect, n_sims=2000, seed=21)
    _within(sim, 0.5)
    hh = tk.power.SteppedWedge(n_clusters=12, n_steps=4, cluster_period_size=10, icc=0.1)
    e2 = hh.mde(power=0.7).mde
    _within(hh.simulate(effect=e2, n_sims=2000, seed=22), 0.7)


@pytest.mark.slow
def test_stepped_wedge_duration_simulation_is_calibrated_under_the_null() -> None:
    sw = tk.power.SteppedWedge(n_clusters=12, n_steps=4, cluster_period_size=30, icc=0.02)
    null = sw.simulate(hazard_ratio=1.0, outcome="duration", n_sims=1500, seed=23)
    _within(null, 0.05)
    alt = sw.simulate(hazard_ratio=1.4, outcome="duration", n_sims=300, seed=24)
    assert alt.power > null.power + 5 * null.mc_se


@pytest.mark.slow
def test_stepped_wedge_binary_simulation_matches_analytic() -> None:
    sw = tk.power.SteppedWedge(
        n_clusters=20, n_steps=4, cluster_period_size=40, icc=0.02, outcome="binary", baseline=0.25
    )
    effect = sw.mde(power=0.6).mde
    # Bernoulli persons: the normal model of cluster-period proportions is an approximation
    _within(sw.simulate(effect=effect, outcome="binary", n_sims=1500, seed=3), 0.6, extra=0.01)
    _within(sw.simulate(effect=0.0, outcome="binary", n_sims=1500, seed=4), 0.05, extra=0.005)


def _gen_binary(rng, *, n, p0, p1):
    return rng.binomial(n, p0, size=1)[0], rng.binomial(n, p1, size=1)[0], n


def _est_pooled_z(data):
    x0, x1, n = data
    p0, p1 = x0 / n, x1 / n
    pbar = (x0 + x1) / (2 * n)
    z = (p1 - p0) / math.sqrt(pbar * (1 - pbar) * 2 / n)
    return 2 * stats.norm.sf(abs(z))


@pytest.mark.slow
def test_individual_binary_analytic_matches_z_test_simulation() -> None:
    d = tk.power.IndividualRCT(outcome="binary", baseline=0.3)
    n = 1500
    effect = d.mde(n_total=2 * n, power=0.7).mde
    sim = tk.power.simulate(
        partial(_gen_binary, n=n, p0=0.3, p1=0.3 + effect), _est_pooled_z, n_sims=3000, seed=31
    )
    _within(sim, 0.7)


def _gen_ancova(rng, *, n, rho, effect):
    t = np.repeat([0.0, 1.0], n // 2)
    y0 = rng.normal(size=n)
    y1 = rho * y0 + math.sqrt(1 - rho**2) * rng.normal(size=n) + effect * t
    return y0, y1, t


def _est_ancova(data):
    y0, y1, t = data
    X = np.column_stack([np.ones_like(t), t, y0])
    beta, res, *_ = np.linalg.lstsq(X, y1, rcond=None)
    df = len(y1) - 3
    s2 = float(res[0]) / df
    se = math.sqrt(s2 * np.linalg.inv(X.T @ X)[1, 1])
    return 2 * stats.t.sf(abs(beta[1]) / se, df)


@pytest.mark.slow
def test_did_ancova_analytic_matches_ols_simulation() -> None:
    d = tk.power.DiDPower(estimator="ancova", autocorrelation=0.6)
    n = 400
    effect = d.mde(n_total=n, power=0.6).mde
    sim = tk.power.simulate(
        partial(_gen_ancova, n=n, rho=0.6, effect=effect), _est_ancova, n_sims=2000, seed=41
    )
    _within(sim, 0.6, extra=0.005)  # normal vs t on 397 df


def _gen_surv(rng, *, n, lam, hr, accrual, follow_up):
    arm = np.repeat([0, 1], n // 2)
    t = rng.exponential(1.0, n) / (lam * np.where(arm == 1, hr, 1.0))
    entry = rng.uniform(0, accrual, n)
    cens = accrual + follow_up - entry
    return np.minimum(t, cens), (t <= cens).astype(int), arm


def _logrank_p(time, event, arm):
    """Vectorised log-rank test (continuous times, no ties); checked against lifelines below."""
    o = np.argsort(time, kind="stable")
    ev, a = event[o].astype(float), arm[o].astype(float)
    n = np.arange(time.size, 0, -1).astype(float)
    n1 = np.cumsum(a[::-1])[::-1]
    e1 = ev * n1 / n
    v = ev * n1 * (n - n1) / n**2
    z = np.sum(ev * a - e1) / math.sqrt(np.sum(v))
    return 2 * stats.norm.sf(abs(z))


def _est_logrank(data):
    return _logrank_p(*data)


def _km_rmst(time, event, tau):
    """Kaplan-Meier RMST up to tau and its Greenwood-type variance (no ties)."""
    o = np.argsort(time, kind="stable")
    t, ev = time[o], event[o].astype(float)
    n = np.arange(t.size, 0, -1).astype(float)
    S = np.cumprod(1 - ev / n)
    keep = t <= tau
    knots = np.concatenate([[0.0], t[keep], [tau]])
    Sbef = np.concatenate([[1.0], S[keep]])
    area = Sbef * np.diff(knots)  # S is constant on [knots_k, knots_k+1)
    rmst = area.sum()
    A = np.cumsum(area[::-1])[::-1][1:]  # area after each kept time
    nk, dk = n[keep], ev[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.sum(np.where((dk > 0) & (nk > 1), A**2 * dk / (nk * (nk - dk)), 0.0))
    return rmst, var


def _est_rmst(data, *, tau):
    time, event, arm = data
    r0, v0 = _km_rmst(time[arm == 0], event[arm == 0], tau)
    r1, v1 = _km_rmst(time[arm == 1], event[arm == 1], tau)
    return 2 * stats.norm.sf(abs(r1 - r0) / math.sqrt(v0 + v1))


def test_numpy_logrank_and_rmst_match_lifelines() -> None:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test
    from lifelines.utils import restricted_mean_survival_time

    data = _gen_surv(np.random.default_rng(7), n=200, lam=0.06, hr=1.3, accrual=12, follow_up=12)
    time, event, arm = data
    ref = logrank_test(time[arm == 0], time[arm == 1], event[arm == 0], event[arm == 1]).p_value
    assert _logrank_p(*data) == pytest.approx(ref, rel=1e-8)
    km = KaplanMeierFitter().fit(time[arm == 0], event[arm == 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r_ref = restricted_mean_survival_time(km, t=12.0)
    r, _ = _km_rmst(time[arm == 0], event[arm == 0], 12.0)
    assert r == pytest.approx(r_ref, rel=1e-6)
    # without censoring the KM estimate is the sample mean of min(T, tau): its variance is
    # Var(min(T, tau)) / n, which lifelines returns (as the variance of the restricted time)
    t_full = np.random.default_rng(8).exponential(10.0, 400)
    km = KaplanMeierFitter().fit(t_full, np.ones(400))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, pop_var = restricted_mean_survival_time(km, t=12.0, return_variance=True)
    _, v = _km_rmst(t_full, np.ones(400, dtype=int), 12.0)
    assert v == pytest.approx(pop_var / 400, rel=0.02)


@pytest.mark.slow
def test_survival_schoenfeld_matches_logrank_simulation() -> None:
    s = tk.power.Survival(median_control=12, accrual=12, follow_up=12)
    n = 300
    hr = s.mde(n_total=n, power=0.6).mde
    sim = tk.power.simulate(
        partial(_gen_surv, n=n, lam=math.log(2) / 12, hr=hr, accrual=12, follow_up=12),
        _est_logrank,
        n_sims=1500,
        seed=51,
    )
    # Schoenfeld's formula is a local approximation: allow 0.03 for HR ~ 1.4
    _within(sim, 0.6, extra=0.03)


@pytest.mark.slow
def test_survival_rmst_matches_km_simulation() -> None:
    s = tk.power.Survival(median_control=12, accrual=12, follow_up=12, method="rmst")
    n = 400
    hr = s.mde(n_total=n, power=0.6).mde
    sim = tk.power.simulate(
        partial(_gen_surv, n=n, lam=math.log(2) / 12, hr=hr, accrual=12, follow_up=12),
        partial(_est_rmst, tau=12.0),
        n_sims=1500,
        seed=61,
    )
    _within(sim, 0.6, extra=0.02)
