"""Wild cluster bootstrap, randomisation inference, few-cluster warnings, Bacon decomposition."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import trialkit as tk
from trialkit.diffindiff import _core
from trialkit.diffindiff.datasets import staggered_panel
from trialkit.errors import FewClustersWarning


@pytest.mark.parametrize("kind", ["rademacher", "webb"])
def test_wild_t_draws_equal_refitting_with_statsmodels(kind):
    """Vectorised bootstrap t statistics = refitting each y* by OLS with CR1 (statsmodels)."""
    rng = np.random.default_rng(0)
    n, n_cl, k, j = 240, 12, 3, 1
    cl = rng.integers(0, n_cl, n)
    x = rng.normal(size=(n, k))
    y = x @ np.array([0.5, 0.0, 1.0]) + rng.normal(size=n) + rng.normal(size=n_cl)[cl]
    v = _core.wild_weights(rng, (25, n_cl), kind)
    parts = _core.wild_restricted_setup(y, x, j, cl)
    fast = _core.wild_t_draws(x, j, cl, parts["fit_r"], parts["u_r"], np.linalg.inv(x.T @ x), v)
    restricted = sm.OLS(y, np.delete(x, j, axis=1)).fit()
    slow = []
    for b in range(v.shape[0]):
        ystar = restricted.fittedvalues + v[b, cl] * restricted.resid
        f = sm.OLS(ystar, x).fit(cov_type="cluster", cov_kwds={"groups": cl})
        slow.append(f.params[j] / f.bse[j])
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-10)


def test_webb_weights_are_the_six_point_distribution():
    w = _core.wild_weights(np.random.default_rng(1), (4000, 50), "webb")
    support = np.sort(np.unique(np.round(w, 12)))
    expected = np.round(
        np.array([-np.sqrt(1.5), -1, -np.sqrt(0.5), np.sqrt(0.5), 1, np.sqrt(1.5)]), 12
    )
    np.testing.assert_array_equal(support, expected)
    assert abs(w.mean()) < 4 * 1 / np.sqrt(w.size)
    assert w.var() == pytest.approx(1.0, abs=0.02)


def _twfe_coef(y: np.ndarray, g: np.ndarray) -> float:
    t = np.arange(y.shape[1])
    d = ((g[:, None] >= 0) & (t[None, :] >= g[:, None])).astype(float)
    units = np.repeat(np.arange(y.shape[0]), y.shape[1])
    periods = np.tile(t, y.shape[0])
    x = np.column_stack(
        [
            d.ravel(),
            pd.get_dummies(units, drop_first=True, dtype=float),
            pd.get_dummies(periods, drop_first=True, dtype=float),
        ]
    )
    x = sm.add_constant(x)
    return float(sm.OLS(y.ravel(), x).fit().params[1])


def test_randomisation_p_matches_exact_enumeration():
    """Monte-Carlo RI p-value within 4 MC SE of the exact permutation p-value (dummy-variable OLS)."""
    df = staggered_panel(
        n_units=12, n_periods=6, n_clusters=6, share_treated=2 / 6, groups=(4,), effect=1.0, seed=3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        r = tk.did(
            df,
            outcome="y",
            unit="unit",
            time="period",
            first_treated="first_treated",
            method="twfe",
            cluster="cluster",
            inference="randomisation",
            n_boot=3000,
            seed=1,
        )
    y = df.pivot(index="unit", columns="period", values="y").to_numpy()
    cl = df.groupby("unit")["cluster"].first().to_numpy()
    g_unit = df.groupby("unit")["first_treated"].first().to_numpy() - 1
    g_unit[g_unit < 0] = -1
    obs = _twfe_coef(y, g_unit)
    assert r.to_frame().loc["treated", "estimate"] == pytest.approx(obs, abs=1e-10)
    stats_ = []
    for treated_cl in itertools.combinations(range(6), 2):
        g = np.where(np.isin(cl, treated_cl), 3, -1)
        stats_.append(_twfe_coef(y, g))
    exact = np.mean(np.abs(stats_) >= abs(obs) - 1e-12)
    mc_se = np.sqrt(exact * (1 - exact) / 3000)
    assert abs(r.to_frame().loc["treated", "p"] - exact) < 4 * mc_se + 1 / 3000


def test_few_clusters_warning_names_count():
    df = staggered_panel(n_units=100, n_clusters=20, share_treated=0.2, seed=0)
    with pytest.warns(FewClustersWarning, match=r"only 4 treated clusters of 'cluster' \(of 20\)"):
        tk.did(
            df,
            outcome="y",
            unit="unit",
            time="period",
            first_treated="first_treated",
            method="twfe",
            cluster="cluster",
        )
    with pytest.warns(FewClustersWarning, match="only 4 treated"):
        tk.did(
            df,
            outcome="y",
            unit="unit",
            time="period",
            first_treated="first_treated",
            cluster="cluster",
            inference="analytic",
        )


def test_no_warning_with_many_treated_units():
    df = staggered_panel(n_units=200, share_treated=0.4, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        tk.did(
            df,
            outcome="y",
            unit="unit",
            time="period",
            first_treated="first_treated",
            method="twfe",
        )


def test_wild_ci_contains_estimate_and_p_consistent():
    df = staggered_panel(
        n_units=160, n_clusters=16, share_treated=0.5, groups=(5,), effect=0.3, seed=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        r = (
            tk.did(
                df,
                outcome="y",
                unit="unit",
                time="period",
                first_treated="first_treated",
                method="twfe",
                cluster="cluster",
                inference="wild",
                n_boot=999,
                seed=4,
            )
            .to_frame()
            .loc["treated"]
        )
    assert r["ci_low"] < r["estimate"] < r["ci_high"]
    # p < alpha exactly when the inverted interval excludes zero
    assert (r["p"] < 0.05) == (not (r["ci_low"] <= 0 <= r["ci_high"]))


@pytest.mark.parametrize(("groups", "share"), [((5, 8), 0.5), ((3, 6, 9), 1.0), ((4,), 0.3)])
def test_bacon_weights_reproduce_twfe(groups, share):
    df = staggered_panel(
        n_units=150, n_periods=12, groups=groups, share_treated=share, dynamic=0.4, seed=7
    )
    b = tk.diffindiff.bacon_decomposition(
        df, outcome="y", unit="unit", time="period", first_treated="first_treated"
    )
    r = tk.did(
        df, outcome="y", unit="unit", time="period", first_treated="first_treated", method="twfe"
    )
    assert b.table["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (b.table["weight"] > 0).all()
    assert b.twfe == pytest.approx(r.to_frame().loc["treated", "estimate"], abs=1e-10)


def test_bacon_two_by_two_is_the_textbook_difference():
    df = staggered_panel(n_units=60, n_periods=6, groups=(4,), share_treated=0.5, seed=8)
    b = tk.diffindiff.bacon_decomposition(
        df, outcome="y", unit="unit", time="period", first_treated="first_treated"
    )
    assert len(b.table) == 1
    tr = df.first_treated > 0
    post = df.period >= 4
    m = df.groupby([tr, post])["y"].mean()
    expected = (m[(True, True)] - m[(True, False)]) - (m[(False, True)] - m[(False, False)])
    assert b.table["estimate"].iloc[0] == pytest.approx(expected, abs=1e-12)


def test_group_time_randomisation_p_matches_exact_enumeration():
    """RI over clusters for the simple ATT: MC p within 4 MC SE of the exact p, where the exact
    distribution recomputes tk.did(...).aggregate('simple') for each of the 15 assignments."""
    df = staggered_panel(
        n_units=30, n_periods=6, n_clusters=6, share_treated=2 / 6, groups=(4,), effect=1.0, seed=5
    )
    kw = dict(
        outcome="y", unit="unit", time="period", first_treated="first_treated", inference="analytic"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        r = tk.did(df, cluster="cluster", **kw)
        rt = r.randomisation_test(n_draws=3000, seed=2)
        obs = r.aggregate("simple").overall["estimate"]
        assert rt.statistic == pytest.approx(obs, abs=1e-12)
        null = []
        for treated_cl in itertools.combinations(range(6), 2):
            d2 = df.assign(first_treated=np.where(df.cluster.isin(treated_cl), 4, 0))
            null.append(tk.did(d2, **kw).aggregate("simple").overall["estimate"])
    exact = np.mean(np.abs(null) >= abs(obs) - 1e-12)
    assert abs(rt.p - exact) < 4 * np.sqrt(exact * (1 - exact) / 3000) + 1 / 3000


def test_sensitivity_relative_magnitudes_closed_form():
    df = staggered_panel(n_units=300, n_periods=10, groups=(5, 7), effect=1.0, trend=0.05, seed=3)
    r = tk.did(
        df,
        outcome="y",
        unit="unit",
        time="period",
        first_treated="first_treated",
        inference="analytic",
    )
    ev = r.aggregate("event").to_frame()
    post = ev[ev.index >= 0]
    dbar = np.abs(ev.loc[ev.index < 0, "estimate"]).max()  # varying base: pre effects are changes
    l_vec = np.full(len(post), 1 / len(post))
    bound_per_m = dbar * float(l_vec @ (post.index.to_numpy() + 1))
    sens = r.sensitivity([0.0, 1.0, 2.0]).to_frame()
    theta = float(post["estimate"].mean())
    assert sens["estimate"].iloc[0] == pytest.approx(theta, abs=1e-12)
    for m, row in sens.iterrows():
        assert row["id_low"] == pytest.approx(theta - m * bound_per_m, abs=1e-12)
        assert row["id_high"] == pytest.approx(theta + m * bound_per_m, abs=1e-12)
        assert row["ci_low"] == pytest.approx(
            row["id_low"] - 1.959963984540054 * row["se"], abs=1e-10
        )
    bd = r.sensitivity([1.0]).breakdown
    lo, hi = r.sensitivity([bd]).to_frame()[["ci_low", "ci_high"]].iloc[0]
    assert min(abs(lo), abs(hi)) < 1e-9  # the interval just reaches zero at the breakdown value


def test_bacon_reveals_twfe_bias_with_growing_effects():
    """All units eventually treated, effects growing with exposure: TWFE is far from the true
    average effect while the group-time estimator is not; the bias sits in the 'later vs
    earlier treated' comparisons (already-treated controls), which the decomposition shows."""
    df = staggered_panel(
        n_units=3000,
        n_periods=12,
        groups=(3, 6, 9),
        share_treated=1.0,
        effect=0.0,
        dynamic=0.5,
        seed=11,
    )
    truth = df.loc[
        (df.true_effect != 0) | ((df.first_treated > 0) & (df.period >= df.first_treated)),
        "true_effect",
    ].mean()
    kw = dict(outcome="y", unit="unit", time="period", first_treated="first_treated")
    twfe = tk.did(df, **kw, method="twfe").to_frame().loc["treated", "estimate"]
    cs = tk.did(df, **kw, control_group="not_yet", inference="analytic")
    cs_simple = cs.aggregate("simple").overall
    b = tk.diffindiff.bacon_decomposition(df, **kw).by_comparison
    # the group-time estimator covers only cells with a not-yet-treated comparison: compare on those
    cells = cs.group_time
    true_cells = df[df.first_treated > 0].assign(e=lambda d: d.period - d.first_treated)
    assert abs(twfe - truth) > 0.5  # TWFE badly biased
    assert b.loc["later vs earlier treated", "estimate"] < 0  # forbidden comparisons push it down
    est_post = cells[cells.time >= cells.group]
    true_post = [
        true_cells[(true_cells.first_treated == g) & (true_cells.period == t)].true_effect.mean()
        for g, t in zip(est_post.group, est_post.time)
    ]
    np.testing.assert_allclose(est_post.estimate, true_post, atol=0.15)
    assert np.isfinite(cs_simple["estimate"])


def test_timing_randomisation_test_n_perm_is_a_deprecated_alias_of_n_draws():
    from trialkit.diffindiff.datasets import staggered_panel

    r = tk.did(
        staggered_panel(seed=0),
        outcome="y",
        unit="unit",
        time="period",
        first_treated="first_treated",
        inference="analytic",
    )
    a = r.randomisation_test(n_draws=99, seed=3)
    with pytest.warns(FutureWarning, match="n_draws"):
        b = r.randomisation_test(n_perm=99, seed=3)
    np.testing.assert_array_equal(a.null, b.null)
    assert a.to_frame()["n_draws"].iloc[0] == 99 == a.n_draws
