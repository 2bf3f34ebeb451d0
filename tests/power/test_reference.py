"""trialkit.power against R (pwr 1.3.0, stats::power.t.test / power.prop.test) and published formulas.

Fixtures: tests/reference/power/*.csv, made by tests/reference/power/make_fixtures.R.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trialkit as tk

REF = Path(__file__).resolve().parents[1] / "reference" / "power"

#: exact non-central t / normal formulas: agreement to numerical precision of the root finders
TOL_EXACT = 1e-6
#: quantities R solves with uniroot(tol = .Machine$double.eps^0.25 ~ 1.2e-4): R is the less precise side
TOL_UNIROOT = 2.5e-4
#: the textbook events formulas drop the far tail of the two-sided test (~2.5e-6 relative)
TOL_FAR_TAIL = 1e-5
#: PowerUp!'s M multiplier ignores the far tail of the two-sided test, trialkit does not (< 1e-4 here)
TOL_POWERUP = 2e-4


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


def test_classic_two_sample_t_64_per_arm() -> None:
    # Cohen (1988) table 2.4.1: d = 0.5, alpha = .05 two-sided, power .80 -> n = 64 per group
    r = tk.power.IndividualRCT(outcome="continuous", sd=1.0).sample_size(effect=0.5, power=0.8)
    assert r.to_dict()["n_per_arm"] == [64, 64]
    assert r.n_total == 128


def test_pwr_t_test_power_grid() -> None:
    """pwr::pwr.t.test(d, n, sig.level, type='two.sample', alternative) -- 80 rows."""
    g = read("pwr_t_test_power.csv")
    for alt, sub in g.groupby("alternative"):
        for a, s in sub.groupby("alpha"):
            d = tk.power.IndividualRCT(
                sd=1.0, alpha=a, alternative="two-sided" if alt == "two.sided" else "one-sided"
            )
            got = d.power(effect=s["d"].to_numpy(), n_total=2 * s["n"].to_numpy()).power
            np.testing.assert_allclose(got, s["power"], rtol=TOL_EXACT, atol=1e-9)


def test_pwr_t_test_sample_size_grid() -> None:
    """pwr::pwr.t.test(d, power, sig.level)$n (unrounded, per arm)."""
    g = read("pwr_t_test_n.csv")
    for a, s in g.groupby("alpha"):
        r = tk.power.IndividualRCT(sd=1.0, alpha=a).sample_size(
            effect=s["d"].to_numpy(), power=s["power"].to_numpy()
        )
        np.testing.assert_allclose(r.extra["n_exact"] / 2, s["n"], rtol=TOL_UNIROOT)
        np.testing.assert_array_equal(r.n_per_arm[0], np.ceil(s["n"]).astype(int))


def test_pwr_t2n_unequal_arms() -> None:
    """pwr::pwr.t2n.test(n1, n2, d) -- unequal allocation."""
    g = read("pwr_t2n_test_power.csv")
    for _, row in g.iterrows():
        n = row.n1 + row.n2
        d = tk.power.IndividualRCT(sd=1.0, allocation=row.n2 / n)
        assert d.power(effect=row.d, n_total=n).power == pytest.approx(row.power, rel=TOL_EXACT)


def test_power_t_test_delta_is_the_mde() -> None:
    """stats::power.t.test(n, sd, power)$delta."""
    g = read("power_t_test_delta.csv")
    for sd, s in g.groupby("sd"):
        r = tk.power.IndividualRCT(sd=sd).mde(
            n_total=2 * s["n"].to_numpy(), power=s["power"].to_numpy()
        )
        np.testing.assert_allclose(r.mde, s["delta"], atol=TOL_UNIROOT)
        # and trialkit's MDE hits the target power exactly where R's is only near it
        back = (
            tk.power.IndividualRCT(sd=sd).power(effect=r.mde, n_total=2 * s["n"].to_numpy()).power
        )
        np.testing.assert_allclose(back, s["power"], atol=1e-8)


def test_pwr_2p2n_arcsine() -> None:
    """pwr::pwr.2p2n.test(h = ES.h(p1, p0), n1, n2) -- Cohen's h."""
    g = read("pwr_2p2n_test_power.csv")
    for _, row in g.iterrows():
        n = row.n1 + row.n2
        d = tk.power.IndividualRCT(
            outcome="binary", baseline=row.p0, test="arcsine", allocation=row.n2 / n
        )
        assert d.power(effect=row["diff"], n_total=n).power == pytest.approx(
            row.power, rel=TOL_EXACT
        )


def test_power_prop_test_strict() -> None:
    """stats::power.prop.test(n, p1, p2, strict=TRUE): power, and n for a target power."""
    g = read("power_prop_test_power.csv")
    for p0, s in g.groupby("p0"):
        d = tk.power.IndividualRCT(outcome="binary", baseline=p0)
        got = d.power(effect=s["diff"].to_numpy(), n_total=2 * s["n"].to_numpy()).power
        np.testing.assert_allclose(got, s["power"], rtol=TOL_EXACT)
    g = read("power_prop_test_n.csv")
    for p0, s in g.groupby("p0"):
        d = tk.power.IndividualRCT(outcome="binary", baseline=p0)
        r = d.sample_size(effect=s["diff"].to_numpy(), power=s["power"].to_numpy())
        np.testing.assert_allclose(r.extra["n_exact"] / 2, s["n"], rtol=TOL_EXACT)


def test_powerup_cra2_mdes() -> None:
    """PowerUp! CRA2_2 MDES (Dong & Maynard 2013), 192 designs evaluated in R."""
    g = read("powerup_cra2_mdes.csv")
    for _, row in g.iterrows():
        d = tk.power.ClusterRCT(
            icc=row.rho2,
            cluster_size=row.n,
            r2_cluster=row.R22,
            r2_individual=row.R12,
            n_cluster_covariates=int(row.g2),
            allocation=row.P,
        )
        assert d.mde(n_clusters=row.J, power=0.8).mde == pytest.approx(row.mdes, rel=TOL_POWERUP)


def test_bloom_multiplier_large_df() -> None:
    # Bloom (1995): with many clusters the MDE multiplier of a two-sided 5% test at 80% power is 2.80
    d = tk.power.ClusterRCT(icc=0.0, cluster_size=1, n_cluster_covariates=0)
    r = d.mde(n_clusters=1e7)
    se = np.sqrt(4 / 1e7)
    assert r.mde / se == pytest.approx(2.8016, abs=1e-3)


def test_schoenfeld_and_freedman_events() -> None:
    """Closed forms of Schoenfeld (1981) and Freedman (1982), evaluated in R."""
    g = read("survival_events.csv")
    for (P, power), s in g.groupby(["P", "power"]):
        hr = s["hr"].to_numpy()
        r = tk.power.Survival(allocation=P).events(hazard_ratio=hr, power=power)
        np.testing.assert_allclose(r.extra["events_exact"], s["schoenfeld"], rtol=TOL_FAR_TAIL)
        np.testing.assert_array_equal(r.events, np.ceil(s["schoenfeld"] - 1e-9).astype(int))
        r = tk.power.Survival(allocation=P, method="freedman").events(hazard_ratio=hr, power=power)
        np.testing.assert_allclose(r.extra["events_exact"], s["freedman"], rtol=TOL_FAR_TAIL)


def test_schoenfeld_textbook_value() -> None:
    # HR 0.75, 1:1, two-sided 5 %, 80 %: 4 (1.96 + 0.8416)^2 / log(0.75)^2 = 379.3 -> 380 events
    assert tk.power.Survival(allocation=0.5).events(hazard_ratio=0.75, power=0.8).events == 380
