"""Review findings: the t test needs one residual degree of freedom; sample sizes at the
smallest analysable design; an unreachable binary MDE is an error, not NaN."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import trialkit as tk
from trialkit.errors import DesignError


def _cluster_power_by_hand(effect: float, icc: float, m: int, J: int) -> float:
    # two-sided test on cluster means, J/2 clusters per arm, df = J - 2, power by the
    # shifted central t of PowerUp! (Dong & Maynard 2013), ClusterRCT's test="t"
    se = np.sqrt(4 * (icc + (1 - icc) / m) / J)
    df, lam = J - 2, effect / se
    c = stats.t.ppf(0.975, df)
    return float(stats.t.cdf(lam - c, df) + stats.t.cdf(-lam - c, df))


@pytest.mark.parametrize("effect", [1.0, 0.8, 0.5])
def test_cluster_sample_size_is_the_smallest_even_design_reaching_power(effect):
    d = tk.power.ClusterRCT(icc=0.05, cluster_size=50)
    J = int(d.sample_size(effect=effect).n_clusters)
    assert J >= 4 and J % 2 == 0
    assert _cluster_power_by_hand(effect, 0.05, 50, J) >= 0.8
    if J - 2 >= 3:
        assert _cluster_power_by_hand(effect, 0.05, 50, J - 2) < 0.8
    assert d.power(effect=effect, n_clusters=J).power == pytest.approx(
        _cluster_power_by_hand(effect, 0.05, 50, J), rel=1e-8
    )


def test_fewer_than_one_degree_of_freedom_is_refused():
    with pytest.raises(DesignError, match="at least 3"):
        tk.power.ClusterRCT(icc=0.05, cluster_size=50).power(effect=0.1, n_clusters=2.0001)
    with pytest.raises(DesignError, match="at least 3 analysed"):
        tk.power.IndividualRCT(sd=1).power(effect=0.1, n_total=2.0001)
    # one degree of freedom is fine and agrees with the t test by hand (df = 1)
    p = tk.power.IndividualRCT(sd=1).power(effect=3.0, n_total=3).power
    se = np.sqrt(1 / 1.5 + 1 / 1.5)
    c = stats.t.ppf(0.975, 1)
    want = stats.nct.sf(c, 1, 3.0 / se) + stats.nct.cdf(-c, 1, 3.0 / se)
    assert p == pytest.approx(want, rel=1e-6)


def test_huge_effect_needs_the_smallest_trial():
    r = tk.power.IndividualRCT(sd=1).sample_size(effect=50)
    assert r.to_dict()["n_per_arm"] == [2, 2]
    # R: power.t.test(n = 2, delta = 50)$power = 0.9999...; at least the target here
    assert r.to_dict()["achieved_power"] >= 0.8


def test_unreachable_binary_cluster_mde_is_an_error():
    d = tk.power.ClusterRCT(outcome="binary", baseline=0.3, icc=0.3, cluster_size=5)
    with pytest.raises(DesignError, match="no increase from baseline"):
        d.mde(n_clusters=4)
    assert np.isfinite(d.mde(n_clusters=60).mde)


def test_arguments_that_do_not_broadcast_are_a_design_error():
    d = tk.power.IndividualRCT(sd=1)
    with pytest.raises(DesignError, match=r"`effect` \(2,\), `n_total` \(3,\)"):
        d.power(effect=[0.1, 0.2], n_total=[10, 20, 30])
    grid = d.power(effect=[[0.1], [0.2]], n_total=[10, 20, 30]).power
    assert grid.shape == (2, 3)
    assert grid[1, 2] == pytest.approx(d.power(effect=0.2, n_total=30).power)


def test_simulate_refuses_p_values_outside_the_unit_interval():
    def gen(rng):
        return rng.normal(size=20)

    with pytest.raises(DesignError, match="outside"):
        tk.power.simulate(gen, lambda x: float(x.mean()) + 5.0, n_sims=20, seed=1)


def test_did_power_without_variance_says_why():
    with pytest.raises(DesignError, match="no sampling variance"):
        tk.power.DiDPower(autocorrelation=1.0).sample_size(effect=0.2)
    # the post-only comparison does not use the baseline: same n as a two-arm t test, z scale
    n = tk.power.DiDPower(autocorrelation=1.0, estimator="post").sample_size(effect=0.2).n_total
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert n == 2 * int(np.ceil(2 * (z / 0.2) ** 2))  # 2 sigma^2 z^2 / delta^2 per arm
