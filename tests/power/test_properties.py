"""Invariants of the power calculations (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trialkit as tk

#: scipy's non-central t is accurate to ~1e-7 near power 1; monotonicity is checked up to that
EPS = 1e-6

effects = st.floats(0.05, 1.0)
ns = st.integers(20, 5000)
powers = st.floats(0.3, 0.95)
alphas = st.sampled_from([0.01, 0.05, 0.1])
iccs = st.floats(0.0, 0.3)
r2s = st.floats(0.0, 0.8)


@given(effect=effects, n=ns, alpha=alphas, r2=r2s, attrition=st.floats(0.0, 0.5))
def test_individual_power_monotone(
    effect: float, n: int, alpha: float, r2: float, attrition: float
) -> None:
    d = tk.power.IndividualRCT(sd=1.0, alpha=alpha, r2=r2, attrition=attrition)
    p = d.power(effect=effect, n_total=n).power
    assert d.power(effect=effect, n_total=n + 10).power >= p - EPS
    assert d.power(effect=effect * 1.1, n_total=n).power >= p - EPS
    more_alpha = tk.power.IndividualRCT(
        sd=1.0, alpha=min(alpha * 2, 0.5), r2=r2, attrition=attrition
    )
    assert more_alpha.power(effect=effect, n_total=n).power >= p - EPS
    more_r2 = tk.power.IndividualRCT(
        sd=1.0, alpha=alpha, r2=min(r2 + 0.1, 0.95), attrition=attrition
    )
    assert more_r2.power(effect=effect, n_total=n).power >= p - EPS
    more_loss = tk.power.IndividualRCT(
        sd=1.0, alpha=alpha, r2=r2, attrition=min(attrition + 0.1, 0.9)
    )
    assert more_loss.power(effect=effect, n_total=n).power <= p + EPS


@given(effect=effects, J=st.integers(6, 400), m=st.integers(2, 300), icc=iccs, r2=r2s)
def test_cluster_power_monotone(effect: float, J: int, m: int, icc: float, r2: float) -> None:
    d = tk.power.ClusterRCT(icc=icc, cluster_size=m, r2_cluster=r2)
    p = d.power(effect=effect, n_clusters=J).power
    assert d.power(effect=effect, n_clusters=J + 2).power >= p - EPS
    assert d.power(effect=effect, n_clusters=J, cluster_size=m + 5).power >= p - EPS
    assert d.power(effect=effect * 1.1, n_clusters=J).power >= p - EPS
    # power falls with the ICC when covariates explain no more of the cluster-level variance than of
    # the individual-level one (with r2_cluster > 1 - 1/m a larger ICC can *help*: covariates then
    # remove more of the variance); checked at r2_cluster = 0
    base = tk.power.ClusterRCT(icc=icc, cluster_size=m).power(effect=effect, n_clusters=J).power
    assert (
        tk.power.ClusterRCT(icc=min(icc + 0.05, 0.99), cluster_size=m)
        .power(effect=effect, n_clusters=J)
        .power
        <= base + EPS
    )
    assert (
        tk.power.ClusterRCT(icc=icc, cluster_size=m, r2_cluster=min(r2 + 0.1, 0.95))
        .power(effect=effect, n_clusters=J)
        .power
        >= p - EPS
    )


@given(
    effect=effects,
    power=powers,
    alloc=st.floats(0.2, 0.8),
    outcome=st.sampled_from(["continuous", "binary"]),
)
def test_individual_solve_then_power_returns_target(
    effect: float, power: float, alloc: float, outcome: str
) -> None:
    if outcome == "binary":
        d = tk.power.IndividualRCT(outcome="binary", baseline=0.3, allocation=alloc)
        effect = effect * 0.5
    else:
        d = tk.power.IndividualRCT(sd=2.0, allocation=alloc)
    r = d.sample_size(effect=effect, power=power)
    assert d.power(effect=effect, n_total=r.extra["n_exact"]).power == pytest.approx(
        power, abs=1e-7
    )
    assert r.extra["achieved_power"] >= power - 1e-9
    assert sum(r.n_per_arm) == r.n_total


@given(
    n=ns,
    power=powers,
    outcome=st.sampled_from(["continuous", "binary"]),
    take_up=st.floats(0.3, 1.0),
)
def test_individual_mde_and_power_inverse(
    n: int, power: float, outcome: str, take_up: float
) -> None:
    if outcome == "binary":
        d = tk.power.IndividualRCT(outcome="binary", baseline=0.3, take_up=take_up)
    else:
        d = tk.power.IndividualRCT(sd=1.0, take_up=take_up)
    try:
        mde = d.mde(n_total=n, power=power).mde
    except tk.DesignError:  # binary: no effect within (0, 1) reachable at tiny n and low take-up
        assert outcome == "binary"
        return
    if not np.isfinite(mde):
        assert outcome == "binary"
        return
    assert d.power(effect=mde, n_total=n).power == pytest.approx(power, abs=1e-7)


@given(J=st.integers(8, 300), m=st.integers(2, 200), icc=iccs, power=powers)
def test_cluster_mde_power_and_sample_size_round_trip(
    J: int, m: int, icc: float, power: float
) -> None:
    d = tk.power.ClusterRCT(icc=icc, cluster_size=m)
    mde = d.mde(n_clusters=J, power=power).mde
    assert d.power(effect=mde, n_clusters=J).power == pytest.approx(power, abs=1e-7)
    r = d.sample_size(effect=mde, power=power)
    assert r.n_clusters >= J - 1 and r.n_clusters <= J + 2  # rounding up per arm
    assert d.power(effect=mde, n_clusters=r.extra["n_clusters_exact"]).power == pytest.approx(
        power, abs=1e-7
    )


@given(effect=effects, n=ns)
def test_two_sided_power_symmetric_in_sign(effect: float, n: int) -> None:
    d = tk.power.IndividualRCT(sd=1.0)
    assert d.power(effect=effect, n_total=n).power == pytest.approx(
        d.power(effect=-effect, n_total=n).power
    )
    c = tk.power.ClusterRCT(icc=0.05, cluster_size=30)
    assert c.power(effect=effect, n_clusters=20).power == pytest.approx(
        c.power(effect=-effect, n_clusters=20).power
    )


@given(hr=st.floats(0.5, 0.95), power=powers, P=st.floats(0.25, 0.75))
def test_survival_round_trips(hr: float, power: float, P: float) -> None:
    for method in ("schoenfeld", "freedman"):
        s = tk.power.Survival(allocation=P, method=method)
        d = s.events(hazard_ratio=hr, power=power).extra["events_exact"]
        assert s.power(hazard_ratio=hr, events=d).power == pytest.approx(power, abs=1e-7)
        low = s.mde(events=d, power=power).extra["mde_below_one"]
        assert low == pytest.approx(hr, rel=1e-6)
