"""Bad input gets a DesignError that says what is wrong; the result surface."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

import trialkit as tk
from trialkit.errors import DesignError

matplotlib.use("Agg")


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5])
def test_alpha_outside_unit_interval(alpha: float) -> None:
    with pytest.raises(DesignError, match=r"`alpha` must be in \(0, 1\)"):
        tk.power.IndividualRCT(sd=1.0, alpha=alpha)
    with pytest.raises(DesignError, match="alpha"):
        tk.power.ClusterRCT(icc=0.05, cluster_size=10, alpha=alpha)


def test_power_not_above_alpha() -> None:
    d = tk.power.IndividualRCT(sd=1.0, alpha=0.05)
    with pytest.raises(DesignError, match=r"`power` must exceed `alpha` \(0.05\)"):
        d.sample_size(effect=0.3, power=0.04)
    with pytest.raises(DesignError, match="power"):
        d.mde(n_total=100, power=1.0)


@pytest.mark.parametrize("icc", [-0.01, 1.0, 1.2])
def test_icc_outside_range(icc: float) -> None:
    with pytest.raises(DesignError, match=r"`icc` must be in \[0, 1\)"):
        tk.power.ClusterRCT(icc=icc, cluster_size=20)


def test_zero_effect_when_solving_for_n() -> None:
    with pytest.raises(DesignError, match="non-zero to solve for the sample size"):
        tk.power.IndividualRCT(sd=1.0).sample_size(effect=0.0)
    with pytest.raises(DesignError, match="non-zero"):
        tk.power.ClusterRCT(icc=0.05, cluster_size=20).sample_size(effect=[0.2, 0.0])
    with pytest.raises(DesignError, match="differ from 1"):
        tk.power.Survival().events(hazard_ratio=1.0)


def test_unreachable_mde_reports_the_asymptote() -> None:
    d = tk.power.ClusterRCT(icc=0.05, cluster_size=50)
    floor = d.mde(n_clusters=40).extra["mde_asymptote"]
    with pytest.raises(DesignError, match=rf"asymptote {floor:.4g}.*at least \d+ clusters") as info:
        d.sample_size(effect=0.9 * floor, n_clusters=40)
    need = int(str(info.value).split("at least ")[1].split()[0])
    # the suggested number of clusters really does reach the effect with large clusters
    assert d.power(effect=0.9 * floor, n_clusters=need, cluster_size=1e6).power >= 0.8
    # and just above the floor a (large) cluster size is found
    r = d.sample_size(effect=1.05 * floor, n_clusters=40)
    assert r.extra["cluster_size"] > 50


def test_options_the_outcome_would_ignore_are_errors() -> None:
    with pytest.raises(DesignError, match="`baseline` applies to binary"):
        tk.power.IndividualRCT(outcome="continuous", baseline=0.3)
    with pytest.raises(DesignError, match="`sd` applies to continuous"):
        tk.power.IndividualRCT(outcome="binary", baseline=0.3, sd=1.0)
    with pytest.raises(
        DesignError, match=r"`test` must be one of \['pooled', 'unpooled', 'arcsine'\]"
    ):
        tk.power.IndividualRCT(outcome="binary", baseline=0.3, test="t")
    with pytest.raises(DesignError, match=r"`outcome` must be one of \['continuous', 'binary'\]"):
        tk.power.IndividualRCT(outcome="count")
    with pytest.raises(DesignError, match="inside \\(0, 1\\)"):
        tk.power.IndividualRCT(outcome="binary", baseline=0.9).power(effect=0.2, n_total=100)


def test_power_result_keys_and_json() -> None:
    d = tk.power.IndividualRCT(outcome="continuous", sd=1.0)
    out = d.sample_size(effect=0.5, power=0.8).to_dict()
    for key in ("power", "effect", "n_total", "n_per_arm", "alpha"):
        assert key in out
    assert "n_clusters" not in out and "events" not in out
    assert out["n_per_arm"] == [64, 64] and out["n_total"] == 128 and out["alpha"] == 0.05
    json.dumps(out)
    c = tk.power.ClusterRCT(icc=0.05, cluster_size=50, r2_cluster=0.0, r2_individual=0.0)
    cd = c.mde(n_clusters=40).to_dict()
    assert cd["n_clusters"] == 40 and cd["n_total"] == 2000 and cd["n_per_arm"] == [1000, 1000]
    assert cd["mde"] == pytest.approx(c.mde(n_clusters=40).mde)
    s = tk.power.Survival(allocation=0.5).events(hazard_ratio=0.75, power=0.8).to_dict()
    assert s["events"] == 380 and "n_total" not in s


def test_unequal_allocation_and_arms_order() -> None:
    d = tk.power.IndividualRCT(sd=1.0, n_arms=3, allocation=[2, 1, 1], test="z")
    r = d.sample_size(effect=0.3, power=0.8)
    assert r.arms == ["control", "treatment_1", "treatment_2"]
    n0, n1, n2 = r.n_per_arm
    assert n0 == pytest.approx(2 * n1, abs=2) and n1 == n2
    # Bonferroni over two comparisons: each comparison at alpha/2 reaches the target power
    two = tk.power.IndividualRCT(sd=1.0, allocation=n1 / (n0 + n1), alpha=0.025, test="z")
    assert two.power(effect=0.3, n_total=n0 + n1).power == pytest.approx(
        r.extra["achieved_power"], rel=1e-9
    )


def test_take_up_dilutes_itt() -> None:
    full = tk.power.IndividualRCT(sd=1.0).sample_size(effect=0.2)
    half = tk.power.IndividualRCT(sd=1.0, take_up=0.5).sample_size(effect=0.2)
    assert half.extra["itt_effect"] == pytest.approx(0.1)
    assert half.n_total == pytest.approx(4 * full.n_total, rel=0.01)  # n scales with 1 / take_up^2
    m = tk.power.IndividualRCT(sd=1.0, take_up=0.5).mde(n_total=1000)
    assert m.extra["mde_itt"] == pytest.approx(m.mde / 2)


def test_power_curve_plot_headless() -> None:
    d = tk.power.IndividualRCT(sd=1.0)
    eff = np.linspace(0.05, 0.6, 12)
    r = d.power(effect=eff, n_total=200)
    ax = r.plot()
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), eff)
    np.testing.assert_allclose(line.get_ydata(), r.power)
    assert ax.get_xlabel() == "effect" and ax.get_ylabel() == "power"
    # MDE against number of clusters
    c = tk.power.ClusterRCT(icc=0.05, cluster_size=50)
    J = np.arange(10, 101, 10)
    ax2 = c.mde(n_clusters=J).plot()
    np.testing.assert_allclose(ax2.lines[0].get_xdata(), J)
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), c.mde(n_clusters=J).mde)
    assert ax2.get_xlabel() == "number of clusters"
    # power against sample size, saved to a file
    r3 = d.power(effect=0.3, n_total=np.arange(50, 1001, 50))
    ax3 = r3.plot()
    assert ax3.get_xlabel() == "total sample size" and len(ax3.lines[0].get_xdata()) == 20
    with pytest.raises(DesignError, match="nothing varies"):
        d.power(effect=0.3, n_total=100).plot()


def test_power_curve_saved_to_file(tmp_path) -> None:
    r = tk.power.IndividualRCT(sd=1.0).power(effect=np.linspace(0.05, 0.6, 12), n_total=200)
    ax = r.plot()
    path = tmp_path / "curve.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000


def test_frame_has_one_row_per_point() -> None:
    r = tk.power.ClusterRCT(icc=0.05, cluster_size=50).mde(n_clusters=np.arange(10, 101, 10))
    f = r.to_frame()
    assert len(f) == 10 and {
        "mde",
        "n_clusters",
        "n_total",
        "n_control",
        "n_treatment",
        "alpha",
    } <= set(f.columns)
    assert "mde" in r.summary()
