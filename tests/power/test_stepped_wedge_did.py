"""SteppedWedge and DiDPower against closed forms and published examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trialkit as tk
from trialkit.errors import DesignError
from trialkit.power import _core

# ruff: noqa: E741  (I = number of clusters, the notation of Hussey & Hughes)

REF = Path(__file__).resolve().parents[1] / "reference" / "power"

#: GLS variance vs the Hussey & Hughes closed form: the same quantity, computed two ways
TOL_HH = 1e-9


def test_hussey_hughes_published_example() -> None:
    """HH (2007) example as in swCRTdesign::swPwr's help (24 clusters, 4 waves, n=120, mu0=.05,
    mu1=.035, tau=.01), the closed form evaluated in R (hussey_hughes_power.csv)."""
    g = pd.read_csv(REF / "hussey_hughes_power.csv")
    for _, row in g.iterrows():
        pbar = (row.mu0 + row.mu1) / 2
        var = pbar * (1 - pbar)  # HH: within-cluster variance of a binary outcome
        icc = row.tau**2 / (row.tau**2 + var)  # HH's tau^2 is the between-cluster variance
        sw = tk.power.SteppedWedge(
            n_clusters=int(row.I),
            n_steps=int(row.waves),
            cluster_period_size=row.N,
            icc=icc,
            outcome="binary",
            baseline=row.mu0,
        )
        r = sw.power(effect=row.mu1 - row.mu0)
        assert r.power == pytest.approx(row.power, rel=1e-6)
        X = sw.matrix
        v = _core.stepped_wedge_variance(
            X, sigma2_e=var, tau2=row.tau**2, cluster_period_size=row.N
        )
        assert float(v) == pytest.approx(row["var"], rel=1e-6)


@given(I=st.integers(2, 40), k=st.integers(2, 8), m=st.floats(1, 500), icc=st.floats(0.0, 0.5))
def test_gls_variance_equals_hussey_hughes_closed_form(
    I: int, k: int, m: float, icc: float
) -> None:
    if I < k:
        I = k
    X = _core.stepped_wedge_matrix(I, k)
    v = _core.stepped_wedge_variance(
        X, sigma2_e=1 - icc, tau2=icc, cluster_period_size=m, autocorrelation=1.0
    )
    hh = _core.hussey_hughes_variance(X, sigma2=(1 - icc) / m, tau2=icc)
    assert float(v) == pytest.approx(hh, rel=TOL_HH)


def test_gls_variance_matches_dense_gls_with_autocorrelation() -> None:
    # brute-force GLS with the full block-diagonal covariance (slow reference implementation)
    X = _core.stepped_wedge_matrix(10, 4, baseline_periods=2)
    I, T = X.shape
    s2e, t2, m, r = 0.9, 0.1, 25.0, 0.6
    V = (s2e / m + (1 - r) * t2) * np.eye(T) + r * t2 * np.ones((T, T))
    D = np.zeros((I * T, T + 1))
    for i in range(I):
        D[i * T : (i + 1) * T, :T] = np.eye(T)
        D[i * T : (i + 1) * T, T] = X[i]
    Vi = np.kron(np.eye(I), np.linalg.inv(V))
    dense = np.linalg.inv(D.T @ Vi @ D)[-1, -1]
    fast = _core.stepped_wedge_variance(
        X, sigma2_e=s2e, tau2=t2, cluster_period_size=m, autocorrelation=r
    )
    assert float(fast) == pytest.approx(dense, rel=1e-10)


def test_lower_cluster_autocorrelation_changes_power_and_schedule_constructor() -> None:
    sw1 = tk.power.SteppedWedge(n_clusters=12, n_steps=4, cluster_period_size=30, icc=0.05)
    sw6 = tk.power.SteppedWedge(
        n_clusters=12, n_steps=4, cluster_period_size=30, icc=0.05, cluster_autocorrelation=0.6
    )
    assert sw6.power(effect=0.2).power < sw1.power(effect=0.2).power
    sched = tk.power.SteppedWedge.from_schedule(
        np.repeat([1, 2, 3, 4], 3), cluster_period_size=30, icc=0.05
    )
    np.testing.assert_array_equal(sched.matrix, sw1.matrix)
    assert sched.power(effect=0.2).power == pytest.approx(sw1.power(effect=0.2).power)


def test_stepped_wedge_verbs_round_trip_and_floor() -> None:
    sw = tk.power.SteppedWedge(n_clusters=20, n_steps=4, cluster_period_size=40, icc=0.05)
    mde = sw.mde(power=0.85).mde
    assert sw.power(effect=mde).power == pytest.approx(0.85, abs=1e-8)
    r = sw.sample_size(effect=mde, power=0.85)
    assert sw.power(
        effect=mde, cluster_period_size=r.extra["cluster_period_size_exact"]
    ).power == pytest.approx(0.85, abs=1e-7)
    assert r.extra["cluster_period_size"] == int(np.ceil(r.extra["cluster_period_size_exact"]))
    floor = float(
        np.sqrt(
            _core.stepped_wedge_variance(
                sw.matrix, sigma2_e=0.95, tau2=0.05, cluster_period_size=1e12
            )
        )
    )
    with pytest.raises(DesignError, match="asymptote"):
        sw.sample_size(effect=2.0 * floor, power=0.8)
    c = sw.sample_size(effect=0.15, power=0.8, solve_for="n_clusters")
    assert c.n_clusters % 4 == 0
    smaller = tk.power.SteppedWedge(
        n_clusters=c.n_clusters - 4, n_steps=4, cluster_period_size=40, icc=0.05
    )
    assert smaller.power(effect=0.15).power < 0.8 <= c.extra["achieved_power"]
    d = sw.power(effect=0.1).to_dict()
    assert d["n_clusters"] == 20 and d["n_total"] == 20 * 5 * 40
    assert d["n_per_arm"] == [
        20 * 5 * 40 - 50 * 40,
        50 * 40,
    ]  # treated cluster-periods: 5+10+15+20 = 50


def test_did_mckenzie_relative_sample_sizes() -> None:
    # McKenzie (2012) sec. 2: with rho = 0.5 ANCOVA needs 3/4 of the POST sample; DiD equals POST;
    # with rho = 0.25 DiD needs 1.5x POST (F = 2 - 2 rho)
    post = (
        tk.power.DiDPower(estimator="post", autocorrelation=0.5)
        .sample_size(effect=0.2)
        .extra["n_exact"]
    )
    anc = (
        tk.power.DiDPower(estimator="ancova", autocorrelation=0.5)
        .sample_size(effect=0.2)
        .extra["n_exact"]
    )
    did = (
        tk.power.DiDPower(estimator="did", autocorrelation=0.5)
        .sample_size(effect=0.2)
        .extra["n_exact"]
    )
    assert anc / post == pytest.approx(0.75) and did / post == pytest.approx(1.0)
    did25 = tk.power.DiDPower(estimator="did", autocorrelation=0.25).variance_factor
    assert did25 == pytest.approx(1.5)
    # more follow-up rounds with low autocorrelation help a lot (McKenzie's main point)
    f1 = tk.power.DiDPower(
        estimator="ancova", followup_rounds=1, autocorrelation=0.2
    ).variance_factor
    f3 = tk.power.DiDPower(
        estimator="ancova", followup_rounds=3, autocorrelation=0.2
    ).variance_factor
    assert f3 == pytest.approx((1 + 2 * 0.2) / 3 - 0.04) and f3 < 0.5 * f1 + 0.05


@given(
    n=st.integers(20, 5000),
    power=st.floats(0.3, 0.95),
    rho=st.floats(0.0, 0.95),
    est=st.sampled_from(["ancova", "did", "post"]),
)
def test_did_round_trips(n: int, power: float, rho: float, est: str) -> None:
    d = tk.power.DiDPower(estimator=est, autocorrelation=rho)
    mde = d.mde(n_total=n, power=power).mde
    assert d.power(effect=mde, n_total=n).power == pytest.approx(power, abs=1e-8)
    r = d.sample_size(effect=mde, power=power)
    assert r.extra["n_exact"] == pytest.approx(n, rel=1e-8)
    assert (
        tk.power.DiDPower(estimator="ancova", autocorrelation=rho)
        .power(effect=mde, n_total=n)
        .power
        >= tk.power.DiDPower(estimator="post", autocorrelation=rho)
        .power(effect=mde, n_total=n)
        .power
        - 1e-12
    )


def test_phased_roll_out_from_the_randomisation_module() -> None:
    import pandas as pd

    units = pd.DataFrame({"municipality": [f"m{i}" for i in range(20)]})
    a = tk.randomise(units, id="municipality", method="stepped_wedge", steps=4, seed=2017)
    sw = tk.power.SteppedWedge.from_schedule(
        a.table["step"].to_numpy(), cluster_period_size=60, icc=0.01
    )
    np.testing.assert_array_equal(sw.matrix.sum(axis=0), [0, 5, 10, 15, 20])
    std = tk.power.SteppedWedge(n_clusters=20, n_steps=4, cluster_period_size=60, icc=0.01)
    assert sw.power(effect=0.05).power == pytest.approx(std.power(effect=0.05).power, rel=1e-12)
