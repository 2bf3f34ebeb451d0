"""Horizon effects against statsmodels OLS (HC2 / cluster) and the closed forms; plots; extras."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import trialkit as tk
from trialkit.errors import DataError, DesignError
from trialkit.followup import _core

TOL = 1e-8  # same least-squares algebra as statsmodels, double precision


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 600
    z = rng.normal(size=(n, 2))
    arm = rng.integers(0, 3, n)
    cl = rng.integers(0, 40, n)
    y = (
        1
        + 0.5 * (arm == 1)
        - 0.3 * (arm == 2)
        + z @ [0.8, -0.4]
        + (arm == 1) * z[:, 0]
        + rng.normal(size=n)
    )
    y2 = y + rng.normal(size=n)
    y2[rng.random(n) < 0.1] = np.nan
    return z, arm, cl, np.column_stack([y, y2]), rng.uniform(0.5, 2, n)


def _design(z, arm, lin):
    d = np.column_stack([(arm == 1), (arm == 2)]).astype(float)
    if not lin:
        return d, sm.add_constant(d)
    zc = z - z.mean(axis=0)
    return d, np.column_stack([np.ones(len(d)), d, zc, d[:, [0]] * zc, d[:, [1]] * zc])


@pytest.mark.parametrize("lin", [False, True])
def test_ols_effects_match_statsmodels_hc2(data, lin):
    z, arm, _, y, _ = data
    d, x = _design(z, arm, lin)
    r = _core.ols_effects(y=y[:, :1], d=d, z=z if lin else None, se_type="HC2")
    fit = sm.OLS(y[:, 0], x).fit(cov_type="HC2")
    np.testing.assert_allclose(r["estimate"][:, 0], fit.params[1:3], atol=TOL)
    np.testing.assert_allclose(r["se"][:, 0], fit.bse[1:3], atol=TOL)


def test_ols_effects_match_statsmodels_cluster_and_missing(data):
    z, arm, cl, y, _ = data
    d, x = _design(z, arm, True)
    r = _core.ols_effects(y=y, d=d, z=z, cluster=cl)
    for k in range(2):
        ok = ~np.isnan(y[:, k])
        zc = z[ok] - z[ok].mean(axis=0)
        dk = d[ok]
        xk = np.column_stack([np.ones(ok.sum()), dk, zc, dk[:, [0]] * zc, dk[:, [1]] * zc])
        fit = sm.OLS(y[ok, k], xk).fit(cov_type="cluster", cov_kwds={"groups": cl[ok]})
        np.testing.assert_allclose(r["estimate"][:, k], fit.params[1:3], atol=TOL)
        np.testing.assert_allclose(r["se"][:, k], fit.bse[1:3], atol=TOL)
        assert r["n"][k] == ok.sum()


def test_weighted_effects_match_statsmodels_wls_hc1(data):
    z, arm, _, y, w = data
    d, x = _design(z, arm, False)
    r = _core.ols_effects(y=y[:, :1], d=d, weights=w, se_type="HC1")
    fit = sm.WLS(y[:, 0], x, weights=w).fit(cov_type="HC1")
    np.testing.assert_allclose(r["estimate"][:, 0], fit.params[1:3], atol=TOL)
    np.testing.assert_allclose(r["se"][:, 0], fit.bse[1:3], atol=TOL)


def test_sup_t_critical_value_closed_forms():
    rng = np.random.default_rng(0)
    # one horizon: the normal quantile; perfectly correlated horizons: still the normal quantile
    e = rng.normal(size=(500, 1))
    c1 = _core.sup_t_critical(influence=e, alpha=0.05, n_draws=200_000, rng=rng)
    assert c1 == pytest.approx(1.959964, abs=0.02)
    c2 = _core.sup_t_critical(
        influence=np.hstack([e, 2 * e, 3 * e]), alpha=0.05, n_draws=200_000, rng=rng
    )
    assert c2 == pytest.approx(1.959964, abs=0.02)
    # K independent horizons: P(max|Z| <= c) = (2 Phi(c) - 1)^K = 0.95
    from scipy import stats

    k = 5
    ind = rng.normal(size=(20000, k))
    exact = stats.norm.ppf((1 + 0.95 ** (1 / k)) / 2)
    ck = _core.sup_t_critical(influence=ind, alpha=0.05, n_draws=200_000, rng=rng)
    assert ck == pytest.approx(exact, abs=0.03)


def test_follow_up_effects_options_and_plot():
    f = tk.followup._extras._toy_follow_up()
    e = f.effects(outcomes=["employed", "months_employed"], horizons="all", seed=1)
    tab = e.to_frame()
    assert tab.index.names == ["outcome", "horizon"]
    assert len(tab) == 24 and set(tab["arm"]) == {"treatment"}
    assert (tab["band_high"] - tab["band_low"] >= tab["ci_high"] - tab["ci_low"] - 1e-12).all()
    # same seed, same band
    again = f.effects(outcomes=["employed", "months_employed"], horizons="all", seed=1).to_frame()
    pd.testing.assert_frame_equal(tab, again)
    ax = e.plot(outcome="months_employed")
    line = ax.get_lines()[0]
    np.testing.assert_allclose(
        line.get_ydata(), tab.xs("months_employed", level="outcome")["estimate"]
    )
    lin = f.effects(outcomes=["employed"], horizons=[6], method="lin", covariates=["x"]).to_frame()
    assert lin["n"].iloc[0] <= f.n_persons
    with pytest.raises(DesignError, match="covariates"):
        f.effects(method="lin")
    with pytest.raises(DesignError, match="method"):
        f.effects(method="ols")
    with pytest.raises(DesignError, match="control"):
        f.effects(control="placebo")


def test_cost_view_and_lee_bounds_closed_forms():
    f = tk.followup._extras._toy_follow_up()
    e = f.effects(outcomes=["days_unemployed"], horizons=[3, 12])
    cv = tk.followup.cost_view(e, daily_cost=35.0, n_persons=1000).to_frame()
    est = e.to_frame().xs("days_unemployed", level="outcome")
    np.testing.assert_allclose(cv["estimate"], -est["estimate"] * 35.0)
    np.testing.assert_allclose(cv["total_eur"], -est["estimate"] * 35.0 * 1000)
    with pytest.raises(DataError, match="no rows for outcome"):
        tk.followup.cost_view(e, daily_cost=35.0, outcome="days_employed")
    # Lee bounds: arm 1 observed 4/5, arm 0 3/5 -> trim q = 1/4 of arm 1's observed outcomes
    df = pd.DataFrame(
        {"y": [1, 2, 3, 4, np.nan, 1, 2, np.nan, np.nan, 3], "arm": [1] * 5 + [0] * 5}
    )
    b = tk.followup.lee_bounds(
        df, outcome="y", arm="arm", treatment=1, control=0, n_boot=50, seed=0
    )
    assert b.trimming == pytest.approx(0.25)
    assert b.lower == pytest.approx(2.0 - 2.0)  # mean of {1,2,3} minus control mean 2
    assert b.upper == pytest.approx(3.0 - 2.0)
    assert b.ci_low <= b.lower and b.ci_high >= b.upper


def test_surrogate_index_recovers_linear_truth():
    rng = np.random.default_rng(4)
    n = 20000
    s_obs = rng.normal(size=(n, 2))
    obs = pd.DataFrame(
        {
            "s1": s_obs[:, 0],
            "s2": s_obs[:, 1],
            "y": 3 * s_obs[:, 0] + s_obs[:, 1] + rng.normal(size=n),
        }
    )
    a = rng.integers(0, 2, 4000)
    s_exp = rng.normal(size=(4000, 2)) + a[:, None] * np.array([0.2, 0.5])
    y_exp = 3 * s_exp[:, 0] + s_exp[:, 1] + rng.normal(size=4000)
    exp = pd.DataFrame(
        {
            "s1": s_exp[:, 0],
            "s2": s_exp[:, 1],
            "arm": a,
            "y": np.where(rng.random(4000) < 0.5, y_exp, np.nan),
        }
    )
    r = tk.followup.surrogate_index(obs, exp, surrogates=["s1", "s2"], outcome="y", arm="arm")
    tab = r.to_frame()
    truth = 3 * 0.2 + 0.5
    assert (
        abs(tab.loc["surrogate_index[1]", "estimate"] - truth)
        < 3 * tab.loc["surrogate_index[1]", "se"]
    )
    assert abs(tab.loc["observed[1]", "estimate"] - truth) < 3 * tab.loc["observed[1]", "se"]
    np.testing.assert_allclose(r.coefficients[["s1", "s2"]], [3, 1], atol=0.05)


def test_multi_arm_weighted_effects_match_direct_computation():
    f0 = tk.followup._extras._toy_follow_up()
    pe = f0.persons.reset_index()
    rng = np.random.default_rng(2)
    pe["arm"] = rng.choice(["control", "a", "b"], len(pe))
    pe["weight"] = rng.uniform(0.5, 2.0, len(pe))
    sp = pd.DataFrame(
        {
            "person_id": np.repeat(pe["person_id"], 1),
            "start": pd.Timestamp("2018-01-01"),
            "end": pd.NaT,
            "state": "unemployed",
            "exit_reason": "",
        }
    )
    sp.loc[pe["arm"].eq("a").to_numpy(), "state"] = "employed"
    f = tk.follow_up(sp, pe.drop(columns=["censor_date"]), months=6, end_of_data="2019-01-01")
    tab = f.effects(outcomes=["employed"], horizons=[3, 6], weights="weight").to_frame()
    assert tab.index.names == ["arm", "outcome", "horizon"]
    assert tab.loc[("a", "employed", 6), "estimate"] == pytest.approx(1.0)
    assert tab.loc[("b", "employed", 6), "estimate"] == pytest.approx(0.0)
    assert "Person-months by state" in f.summary()
