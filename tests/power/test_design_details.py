"""Closed-form checks of design details: blocking, unequal cluster sizes, event probabilities."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

import trialkit as tk
from trialkit.errors import DesignError


def test_matched_pairs_and_blocks_degrees_of_freedom() -> None:
    # MDE = (t_{.975,df} + t_{.8,df}) * se with df = J/2 - 1 (pairs) or J - B - 1 (blocks); Bloom (2005)
    J, m, icc = 20, 40, 0.1
    se = math.sqrt(4 * (icc + (1 - icc) / m) / J)
    for kw, df in (({"matched_pairs": True}, J / 2 - 1), ({"n_blocks": 4}, J - 4 - 1), ({}, J - 2)):
        r = tk.power.ClusterRCT(icc=icc, cluster_size=m, **kw).mde(n_clusters=J)
        M = stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)
        assert r.mde == pytest.approx(
            M * se, rel=5e-4
        )  # trialkit also counts the far tail (df = 9)
    pairs = tk.power.ClusterRCT(icc=icc, cluster_size=m, matched_pairs=True).sample_size(effect=0.4)
    assert pairs.n_clusters % 2 == 0
    with pytest.raises(DesignError, match="not both"):
        tk.power.ClusterRCT(icc=icc, cluster_size=m, matched_pairs=True, n_blocks=3)


def test_unequal_cluster_sizes_follow_eldridge_design_effect() -> None:
    # Eldridge, Ashby & Kerry (2006): DE = 1 + ((cv^2 + 1) m - 1) rho
    m, icc, cv, J = 30, 0.05, 0.8, 50
    de = 1 + ((cv**2 + 1) * m - 1) * icc
    se = math.sqrt(4 * de / (J * m))
    r = tk.power.ClusterRCT(icc=icc, cluster_size=m, cluster_size_cv=cv, test="z").power(
        effect=0.3, n_clusters=J
    )
    z = 0.3 / se - stats.norm.ppf(0.975)
    assert r.power == pytest.approx(
        stats.norm.cdf(z) + stats.norm.cdf(-0.3 / se - stats.norm.ppf(0.975)), rel=1e-10
    )
    assert (
        r.power < tk.power.ClusterRCT(icc=icc, cluster_size=m).power(effect=0.3, n_clusters=J).power
    )


def test_event_probability_matches_numerical_integration() -> None:
    lam, eta, a, f = math.log(2) / 14, -math.log(0.95) / 12, 12.0, 24.0

    def p_event_given_time(t: float) -> float:  # competing exponential event and drop-out
        return lam / (lam + eta) * (1 - math.exp(-(lam + eta) * t))

    ref = (
        integrate.quad(lambda s: p_event_given_time(a + f - s), 0, a)[0] / a
    )  # entry uniform on [0, a]
    from trialkit.power import _core

    got = float(
        _core.event_probability(hazard=np.array(lam), dropout_hazard=eta, accrual=a, follow_up=f)
    )
    assert got == pytest.approx(ref, rel=1e-10)
    s = tk.power.Survival(median_control=14, accrual=a, follow_up=f, dropout=0.05)
    r = s.sample_size(hazard_ratio=1.2)
    pe = r.extra["event_probability"]
    assert r.n_total * pe >= r.events - 1e-9
    assert (r.n_total - 2) * pe < r.events


def test_rmst_variance_matches_exponential_closed_form_without_censoring() -> None:
    # no censoring: n Var(RMST-hat) = Var(min(T, tau)) for exponential T
    from trialkit.power import _core

    lam, tau = 0.05, 24.0
    rmst, n_var = _core.rmst_variance(
        hazard=np.array(lam), tau=tau, dropout_hazard=0.0, accrual=0.0, follow_up=1e9, n_grid=4000
    )
    mean = (1 - math.exp(-lam * tau)) / lam
    second = integrate.quad(lambda t: 2 * t * math.exp(-lam * t), 0, tau)[0]
    assert float(rmst) == pytest.approx(mean, rel=1e-12)
    assert float(n_var) == pytest.approx(second - mean**2, rel=1e-5)


def test_survival_requires_timing_for_persons() -> None:
    with pytest.raises(DesignError, match="median_control"):
        tk.power.Survival().sample_size(hazard_ratio=1.2)
    with pytest.raises(DesignError, match="tau"):
        tk.power.Survival(median_control=12, follow_up=12, tau=30)
