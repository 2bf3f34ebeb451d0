"""Randomisation inference: exact enumeration, Monte Carlo agreement, test inversion, backends."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from trialkit.errors import DataError, DesignError
from trialkit.randomisation import randomisation_test, randomise


def _enumerate_p(
    y: np.ndarray, blocks: list[np.ndarray], n_treated: list[int], z_obs: np.ndarray, blocked: bool
) -> float:
    """Independent, slow exact p-value: loop over every assignment with the same counts per block."""

    def stat(z: np.ndarray) -> float:
        if not blocked:
            return y[z].mean() - y[~z].mean()
        tot = sum(b.size for b in blocks)
        return sum(b.size / tot * (y[b][z[b]].mean() - y[b][~z[b]].mean()) for b in blocks)

    t_obs = stat(z_obs)
    hits = total = 0
    for combo in itertools.product(
        *[itertools.combinations(b, k) for b, k in zip(blocks, n_treated, strict=True)]
    ):
        z = np.zeros(y.size, dtype=bool)
        for c in combo:
            z[list(c)] = True
        hits += abs(stat(z)) >= abs(t_obs) - 1e-12
        total += 1
    return hits / total


def _small(seed: int, sizes: tuple[int, ...]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    d = pd.DataFrame({"person_id": np.arange(n), "block": np.repeat(np.arange(len(sizes)), sizes)})
    a = randomise(d, strata="block", seed=seed)
    d["arm"] = a.table["arm"].astype(str)
    d["y"] = rng.normal(size=n) + 0.8 * (d["arm"] == "treatment") + d["block"]
    return d


@pytest.mark.parametrize("seed, sizes", [(1, (10,)), (2, (6, 5)), (3, (4, 6, 5))])
def test_exact_p_matches_independent_enumeration(seed: int, sizes: tuple[int, ...]) -> None:
    d = _small(seed, sizes)
    blocked = len(sizes) > 1
    r = randomisation_test(d, outcome="y", strata="block" if blocked else None, n_draws="exact")
    z = (d["arm"] == "treatment").to_numpy()
    blocks = [np.flatnonzero(d["block"].to_numpy() == b) for b in range(len(sizes))]
    n_t = [int(z[b].sum()) for b in blocks]
    expected = _enumerate_p(d["y"].to_numpy(), blocks, n_t, z, blocked)
    assert r.to_frame().loc["treatment", "p"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed, sizes", [(2, (6, 5)), (4, (12,))])
def test_monte_carlo_p_within_mc_error_of_exact(seed: int, sizes: tuple[int, ...]) -> None:
    d = _small(seed, sizes)
    strata = "block" if len(sizes) > 1 else None
    exact = (
        randomisation_test(d, outcome="y", strata=strata, n_draws="exact").to_frame()["p"].iloc[0]
    )
    mc = (
        randomisation_test(d, outcome="y", strata=strata, n_draws=20_000, seed=1)
        .to_frame()["p"]
        .iloc[0]
    )
    assert abs(mc - exact) < 4 * np.sqrt(exact * (1 - exact) / 20_000) + 1e-4


def test_cluster_exact_matches_enumeration_over_clusters() -> None:
    rng = np.random.default_rng(5)
    sizes = rng.integers(2, 6, 8)
    cl = np.repeat(np.arange(8), sizes)
    d = pd.DataFrame({"person_id": np.arange(cl.size), "m": cl})
    d["arm"] = randomise(d, cluster="m", seed=3).table["arm"].astype(str)
    d["y"] = rng.normal(size=cl.size) + 0.5 * (d["arm"] == "treatment")
    r = randomisation_test(d, outcome="y", cluster="m", n_draws="exact")
    assert r.to_frame()["n_draws"].iloc[0] == 70  # C(8, 4) cluster assignments
    y = d["y"].to_numpy()
    zc = d.groupby("m")["arm"].first().eq("treatment").to_numpy()
    t_obs = y[zc[cl]].mean() - y[~zc[cl]].mean()
    hits = 0
    for c in itertools.combinations(range(8), 4):
        z = np.isin(cl, c)
        hits += abs(y[z].mean() - y[~z].mean()) >= abs(t_obs) - 1e-12
    assert r.to_frame()["p"].iloc[0] == pytest.approx(hits / 70)


def test_test_inversion_interval_endpoints() -> None:
    d = _small(7, (30, 30))
    r = randomisation_test(d, outcome="y", strata="block", n_draws=4000, seed=3)
    row = r.to_frame().loc["treatment"]
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    z = (d["arm"] == "treatment").to_numpy()

    def p_at(tau: float) -> float:
        shifted = d.assign(y=d["y"] - tau * z)
        return (
            randomisation_test(shifted, outcome="y", strata="block", n_draws=4000, seed=3)
            .to_frame()["p"]
            .iloc[0]
        )

    eps = 1e-3 * (row["ci_high"] - row["ci_low"])
    assert p_at(row["ci_high"] - eps) > 0.05 >= p_at(row["ci_high"] + eps)
    assert p_at(row["ci_low"] + eps) > 0.05 >= p_at(row["ci_low"] - eps)


def test_same_seed_same_result_across_backends() -> None:
    d = _small(8, (40, 40))
    a = randomisation_test(d, outcome="y", strata="block", n_draws=3000, seed=11)
    b = randomisation_test(
        d, outcome="y", strata="block", n_draws=3000, seed=11, backend="joblib", n_jobs=2
    )
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    np.testing.assert_array_equal(
        a.null_distribution["treatment"], b.null_distribution["treatment"]
    )


def test_rerandomised_design_redraws_only_acceptable_assignments() -> None:
    rng = np.random.default_rng(9)
    n = 40
    u = pd.DataFrame({"person_id": np.arange(n), "x": rng.normal(size=n)})
    a = randomise(u, method="rerandomised", covariates=["x"], acceptance=0.2, seed=4)
    d = u.assign(arm=a.table["arm"].astype(str), y=u["x"] + rng.normal(size=n))
    r = randomisation_test(d, outcome="y", assignment=a, n_draws=2000, seed=1)
    assert r.meta["rerandomised"]
    # the draws come from the accepted set only: under that design the null distribution
    # of the difference in means is narrower than under plain complete randomisation
    plain = randomisation_test(d, outcome="y", n_draws=2000, seed=1)
    assert r.to_frame()["se"].iloc[0] < 0.8 * plain.to_frame()["se"].iloc[0]


def test_assignment_drives_bernoulli_mechanism() -> None:
    u = pd.DataFrame({"person_id": np.arange(60)})
    a = randomise(u, method="bernoulli", seed=2)
    d = u.assign(arm=a.table["arm"].astype(str), y=np.arange(60) % 7)
    r = randomisation_test(d, outcome="y", assignment=a, n_draws=500, seed=1)
    assert r.meta["mechanism"] == "bernoulli"
    assert 0 < r.to_frame()["p"].iloc[0] <= 1


def test_null_plot_has_histogram_and_observed_line() -> None:
    d = _small(1, (20,))
    r = randomisation_test(d, outcome="y", n_draws=500, seed=0)
    ax = r.plot()
    assert len(ax.patches) == 50
    assert ax.lines[0].get_xdata()[0] == pytest.approx(r.to_frame()["estimate"].iloc[0])


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"n_draws": 0}, DesignError),
        ({"n_draws": "all"}, DesignError),
        ({"control": "x"}, DataError),
    ],
)
def test_bad_input(kwargs: dict, exc: type) -> None:
    with pytest.raises(exc):
        randomisation_test(_small(1, (10,)), outcome="y", **kwargs)


def test_missing_outcome_is_an_error_not_dropped() -> None:
    d = _small(1, (10,))
    d.loc[0, "y"] = np.nan
    with pytest.raises(DataError, match="missing"):
        randomisation_test(d, outcome="y", n_draws=10)


def test_clusters_within_strata_exact_matches_enumeration() -> None:
    rng = np.random.default_rng(6)
    sizes = rng.integers(2, 6, 8)
    cl = np.repeat(np.arange(8), sizes)
    d = pd.DataFrame({"person_id": np.arange(cl.size), "m": cl, "region": cl % 2})
    d["arm"] = randomise(d, cluster="m", strata="region", seed=3).table["arm"].astype(str)
    d["y"] = rng.normal(size=cl.size) + d["region"]
    r = randomisation_test(d, outcome="y", cluster="m", strata="region", n_draws="exact")
    y = d["y"].to_numpy()
    reg = d["region"].to_numpy()

    def stat(z: np.ndarray) -> float:
        tot = 0.0
        for g in (0, 1):
            b = reg == g
            tot += b.mean() * (y[b & z].mean() - y[b & ~z].mean())
        return tot

    z_obs = (d["arm"] == "treatment").to_numpy()
    t_obs = stat(z_obs)
    assert r.to_frame()["estimate"].iloc[0] == pytest.approx(t_obs)
    hits = total = 0
    for c0 in itertools.combinations([0, 2, 4, 6], 2):
        for c1 in itertools.combinations([1, 3, 5, 7], 2):
            z = np.isin(cl, c0 + c1)
            hits += abs(stat(z)) >= abs(t_obs) - 1e-12
            total += 1
    assert r.to_frame()["n_draws"].iloc[0] == total
    assert r.to_frame()["p"].iloc[0] == pytest.approx(hits / total)
