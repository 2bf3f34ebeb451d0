"""Mechanisms of tk.randomise, the certificate and tk.verify."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trialkit as tk
from trialkit.errors import DataError, DesignError
from trialkit.randomisation import randomise, verify, verify_details
from trialkit.randomisation._core import stratified_counts


def _units(sizes: list[int], *, seed: int = 0, str_ids: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    ids = rng.choice(10 * n + 10, size=n, replace=False)
    frame = pd.DataFrame(
        {
            "person_id": [f"FI-{i:06d}" for i in ids] if str_ids else ids,
            "band": np.repeat([f"b{j}" for j in range(len(sizes))], sizes),
            "x": rng.normal(size=n),
        }
    )
    return frame.sample(frac=1, random_state=seed).reset_index(drop=True)


sizes_st = st.lists(st.integers(2, 30), min_size=1, max_size=8)


# ---------------------------------------------------------------------------
# property tests
# ---------------------------------------------------------------------------
@given(sizes=sizes_st, k=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_equal_allocation_counts_balance_within_and_overall(
    sizes: list[int], k: int, seed: int
) -> None:
    sizes = [max(s, k) for s in sizes]
    arms = [f"arm{j}" for j in range(k)]
    a = randomise(_units(sizes), strata="band", arms=arms, seed=seed)
    c = a.counts().to_numpy()
    assert c.sum() == sum(sizes)
    assert np.all(c.max(axis=1) - c.min(axis=1) <= 1)
    tot = c.sum(axis=0)
    assert tot.max() - tot.min() <= 1


@given(sizes=sizes_st, r0=st.integers(1, 5), r1=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_two_arm_unequal_ratios_within_one_of_expectation(
    sizes: list[int], r0: int, r1: int, seed: int
) -> None:
    a = randomise(_units(sizes), strata="band", arms={"control": r0, "treatment": r1}, seed=seed)
    c = a.counts().to_numpy().astype(float)
    p = np.array([r0, r1]) / (r0 + r1)
    expected = c.sum(axis=1, keepdims=True) * p
    assert np.all(np.abs(c - expected) < 1)
    assert np.all(np.abs(c.sum(axis=0) - c.sum() * p) < 1 + 1e-9)
    np.testing.assert_allclose(a.table["probability"], p[a.table["arm"].cat.codes])


@given(
    sizes=sizes_st,
    seed=st.integers(0, 2**32 - 1),
    shuffle=st.integers(0, 10_000),
    str_ids=st.booleans(),
)
def test_row_order_does_not_matter_and_seed_replays(
    sizes: list[int], seed: int, shuffle: int, str_ids: bool
) -> None:
    u = _units(sizes, str_ids=str_ids)
    a = randomise(u, strata="band", seed=seed)
    b = randomise(u.sample(frac=1, random_state=shuffle), strata="band", seed=seed)
    left = a.table.set_index("person_id").sort_index()
    right = b.table.set_index("person_id").sort_index()
    pd.testing.assert_frame_equal(left, right)
    assert a.certificate["assignment_hash"] == b.certificate["assignment_hash"]
    assert verify(u.sample(frac=1, random_state=shuffle + 1), a.certificate)


@given(
    n_clusters=st.integers(4, 12),
    seed=st.integers(0, 2**32 - 1),
    n_strata=st.integers(1, 2),
)
def test_clusters_never_split(n_clusters: int, seed: int, n_strata: int) -> None:
    rng = np.random.default_rng(seed % 1000)
    sizes = rng.integers(1, 20, n_clusters)
    cl = np.repeat(np.arange(n_clusters), sizes)
    u = pd.DataFrame({"person_id": np.arange(cl.size), "municipality": cl, "region": cl % n_strata})
    a = randomise(u, cluster="municipality", strata="region" if n_strata > 1 else None, seed=seed)
    per = a.table.groupby("cluster")["arm"].nunique()
    assert per.max() == 1
    lvl = a.table.drop_duplicates("cluster")
    c = pd.crosstab(lvl["stratum"], lvl["arm"]).to_numpy()
    assert np.all(c.max(axis=1) - c.min(axis=1) <= 1)


@given(n_clusters=st.integers(3, 25), n_steps=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_stepped_wedge_steps_hold_planned_number(n_clusters: int, n_steps: int, seed: int) -> None:
    n_steps = min(n_steps, n_clusters)
    u = pd.DataFrame(
        {
            "person_id": np.arange(3 * n_clusters),
            "municipality": np.arange(3 * n_clusters) % n_clusters,
        }
    )
    a = randomise(u, cluster="municipality", method="stepped_wedge", steps=n_steps, seed=seed)
    lvl = a.table.drop_duplicates("cluster")
    per_step = lvl["step"].value_counts().reindex(range(1, n_steps + 1), fill_value=0).to_numpy()
    assert per_step.sum() == n_clusters
    assert per_step.max() - per_step.min() <= 1
    assert a.table.groupby("cluster")["step"].nunique().max() == 1


def test_stepped_wedge_explicit_counts() -> None:
    u = pd.DataFrame({"person_id": range(50), "municipality": np.arange(50) % 5})
    a = randomise(
        u,
        cluster="municipality",
        method="stepped_wedge",
        steps=["2024-01", "2024-07"],
        clusters_per_step=[2, 3],
        seed=1,
    )
    lvl = a.table.drop_duplicates("cluster")
    assert lvl["arm"].value_counts().to_dict() == {"2024-07": 3, "2024-01": 2}
    assert verify(u, a.certificate)


@given(sizes=sizes_st, seed=st.integers(0, 2**32 - 1), which=st.integers(0, 10**6))
@settings(max_examples=25)
def test_verify_false_after_changing_ids_or_strata(sizes: list[int], seed: int, which: int) -> None:
    u = _units(sizes)
    a = randomise(u, strata="band", seed=seed)
    i = which % len(u)
    changed_id = u.copy()
    changed_id.loc[i, "person_id"] = u["person_id"].max() + 1
    assert not verify(changed_id, a.certificate)
    assert not verify(u.drop(index=i), a.certificate)
    changed_stratum = u.copy()
    changed_stratum.loc[i, "band"] = "new-band"
    assert not verify(changed_stratum, a.certificate)
    assert verify(u, a.certificate)


def test_counts_function_exact_probabilities_by_enumeration() -> None:
    """Over every rotation and relabelling the remainder slots are arm j with prob r_j / B."""
    sizes = np.array([5, 7, 3, 4])
    r = np.array([2, 1])
    tot = np.zeros((4, 2))
    reps = 3000
    rng = np.random.default_rng(0)
    for _ in range(reps):
        tot += stratified_counts(sizes, r, rng)
    mean = tot / reps
    expected = sizes[:, None] * r / r.sum()
    np.testing.assert_allclose(mean, expected, atol=4 * np.sqrt(0.25 / reps))


# ---------------------------------------------------------------------------
# empirical assignment frequency vs recorded probability
# ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    "kwargs",
    [
        {"strata": "band", "arms": {"control": 2, "a": 1, "b": 1}},
        {"strata": "band", "arms": ["control", "treatment", "other"]},
        {"method": "bernoulli", "arms": {"control": 0.7, "treatment": 0.3}},
        {"method": "lottery", "capacity": 9, "strata": "band"},
    ],
)
def test_empirical_frequency_matches_recorded_probability(kwargs: dict) -> None:
    u = _units([7, 5, 11, 3])
    reps = 800
    hits = None
    probs = None
    for s in range(reps):
        a = randomise(u, seed=s, **kwargs)
        codes = a.table["arm"].cat.codes.to_numpy()
        onehot = np.eye(len(a.table["arm"].cat.categories))[codes]
        hits = onehot if hits is None else hits + onehot
        # recorded probability of every arm for every unit (constant over draws here)
        p_arm = np.asarray(a.certificate["ratios"], dtype=float)
        p_arm = p_arm / p_arm.sum()
        probs = np.broadcast_to(p_arm, onehot.shape)
        got = a.table["probability"].to_numpy()
        np.testing.assert_allclose(got, p_arm[codes])
    freq = hits / reps
    se = np.sqrt(probs * (1 - probs) / reps)
    z = (freq - probs) / se
    # Bonferroni over all units x arms at family-wise level 0.001
    from scipy import stats

    crit = stats.norm.ppf(1 - 0.0005 / z.size)
    assert np.abs(z).max() < crit  # union bound: valid although units in a draw are dependent


# ---------------------------------------------------------------------------
# certificate, seeds, mechanisms
# ---------------------------------------------------------------------------
def test_certificate_is_json_and_holds_the_record(tmp_path) -> None:
    u = _units([10, 12])
    a = randomise(u, strata="band", seed=2017)
    path = a.save_certificate(tmp_path / "cert.json")
    cert = json.loads(open(path).read())
    for key in (
        "algorithm",
        "algorithm_version",
        "seed",
        "ids_hash",
        "strata_hash",
        "counts",
        "assignment_hash",
    ):
        assert key in cert
    assert cert["seed"]["entropy"] == 2017
    assert cert["counts"] == a.counts().to_numpy().tolist()
    assert verify(u, str(path))
    assert json.loads(json.dumps(a.to_dict()))["certificate"]["n_units"] == 22


def test_no_seed_draws_entropy_and_records_it() -> None:
    u = _units([10, 12])
    a = randomise(u, strata="band")
    b = randomise(u, strata="band")
    assert a.certificate["seed"]["entropy"] != b.certificate["seed"]["entropy"]
    assert verify(u, a.certificate) and verify(u, b.certificate)
    replay = randomise(
        u, strata="band", seed=np.random.SeedSequence(a.certificate["seed"]["entropy"])
    )
    assert replay.certificate["assignment_hash"] == a.certificate["assignment_hash"]


def test_different_seeds_give_different_assignments() -> None:
    u = _units([40])
    hashes = {randomise(u, seed=s).certificate["assignment_hash"] for s in range(20)}
    assert len(hashes) == 20


def test_generator_seed_is_replayable() -> None:
    u = _units([30])
    a = randomise(u, seed=np.random.default_rng(3))
    assert verify(u, a.certificate)


def test_matched_pairs_one_per_arm() -> None:
    u = pd.DataFrame({"person_id": range(20), "pair": np.repeat(np.arange(10), 2)})
    a = randomise(u, strata="pair", method="matched_pairs", seed=4)
    assert (a.counts().to_numpy() == 1).all()
    bad = pd.DataFrame({"person_id": range(5), "pair": [0, 0, 1, 1, 1]})
    with pytest.raises(DataError, match="exactly 2"):
        randomise(bad, strata="pair", method="matched_pairs", seed=4)


def test_cluster_matched_pairs() -> None:
    u = pd.DataFrame({"person_id": range(80), "municipality": np.arange(80) % 8})
    u["pair"] = u["municipality"] // 2
    a = randomise(u, cluster="municipality", strata="pair", method="matched_pairs", seed=2)
    lvl = a.table.drop_duplicates("cluster")
    assert (pd.crosstab(lvl["stratum"], lvl["arm"]).to_numpy() == 1).all()


def test_lottery_offers_capacity_and_orders_waitlist() -> None:
    u = _units([50])
    a = randomise(u, method="lottery", capacity=12, seed=9)
    t = a.table
    assert (t["arm"] == "offer").sum() == 12
    wl = t.loc[t["arm"] == "waitlist", "waitlist_position"]
    assert sorted(wl.astype(int)) == list(range(1, 39))
    assert t.loc[t["arm"] == "offer", "waitlist_position"].isna().all()
    assert np.allclose(t["probability"], np.where(t["arm"] == "offer", 12 / 50, 38 / 50))


def test_rerandomisation_meets_rule_and_verifies() -> None:
    from trialkit.randomisation.assignment import _mahalanobis

    u = _units([60, 60])
    u["x2"] = np.random.default_rng(1).normal(size=len(u))
    a = randomise(u, method="rerandomised", covariates=["x", "x2"], acceptance=0.05, seed=8)
    rule = a.certificate["rerandomisation"]
    from scipy import stats

    assert rule["threshold"] == pytest.approx(stats.chi2.ppf(0.05, 2))
    t = (a.table["arm"] == "treatment").to_numpy()
    m = _mahalanobis(u[["x", "x2"]].to_numpy(), t)
    assert m <= rule["threshold"]
    assert m == pytest.approx(a.certificate["draw"]["mahalanobis"])
    assert verify(u, a.certificate)
    u2 = u.copy()
    u2.loc[0, "x"] += 1.0
    assert not verify(u2, a.certificate)


def test_bernoulli_is_row_order_free_and_probabilities_recorded() -> None:
    u = _units([100])
    a = randomise(u, method="bernoulli", arms={"control": 3, "treatment": 1}, seed=5)
    b = randomise(u.iloc[::-1], method="bernoulli", arms={"control": 3, "treatment": 1}, seed=5)
    assert (
        a.table.set_index("person_id")["arm"]
        .sort_index()
        .equals(b.table.set_index("person_id")["arm"].sort_index())
    )
    assert set(a.table["probability"]) == {0.75, 0.25}


def test_verify_details_names_what_changed() -> None:
    u = _units([10, 10])
    a = randomise(u, strata="band", seed=1)
    more = pd.concat([u, pd.DataFrame({"person_id": [10**7], "band": ["b0"], "x": [0.0]})])
    d = verify_details(more, a.certificate)
    assert not d.ok and "1 more" in d.differences[0]
    moved = u.copy()
    moved.loc[0, "band"] = "b1" if u.loc[0, "band"] == "b0" else "b0"
    d2 = verify_details(moved, a.certificate)
    assert "membership differs in 2 strata" in d2.differences[0]


def test_missing_strata_own_stratum_option() -> None:
    u = _units([10, 10])
    u.loc[:3, "band"] = None
    with pytest.raises(DataError, match="missing_strata='own_stratum'"):
        randomise(u, strata="band", seed=1)
    a = randomise(u, strata="band", seed=1, missing_strata="own_stratum")
    assert "<missing>" in a.certificate["stratum_labels"]
    assert verify(u, a.certificate)


def test_nullable_integer_strata_with_missing_values() -> None:
    u = pd.DataFrame(
        {"person_id": np.arange(40), "band": pd.array([1, 2, None, 1] * 10, dtype="Int64")}
    )
    with pytest.raises(DataError, match="'band' has 10 missing values"):
        randomise(u, strata="band", seed=1)
    a = randomise(u, strata="band", seed=1, missing_strata="own_stratum")
    assert a.table["stratum"].value_counts().to_dict() == {"1": 20, "2": 10, "<missing>": 10}
    assert verify(u, a.certificate)
    # without missing values a nullable column randomises exactly as its numpy twin
    full = u.assign(band=u["band"].fillna(7))
    b = randomise(full, strata="band", seed=1)
    c = randomise(full.assign(band=full["band"].astype("int64")), strata="band", seed=1)
    assert b.table["arm"].tolist() == c.table["arm"].tolist()
    assert b.certificate["strata_hash"] == c.certificate["strata_hash"]


def test_top_level_verbs() -> None:
    u = _units([8])
    assert tk.verify(u, tk.randomise(u, seed=0).certificate)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "frame, kwargs, match",
    [
        (pd.DataFrame({"person_id": [1, 1, 2, 3]}), {}, "more than once"),
        (pd.DataFrame({"person_id": [1.0, None, 2.0, 3.0]}), {}, "missing"),
        (
            pd.DataFrame({"person_id": [1, 2, 3, 4], "band": ["a", None, "b", "b"]}),
            {"strata": "band"},
            "missing values",
        ),
        (
            pd.DataFrame({"person_id": [1, 2, 3, 4], "m": [1, None, 2, 2]}),
            {"cluster": "m"},
            "missing values",
        ),
        (
            pd.DataFrame({"person_id": [1, 2, 3, 4], "band": ["a", "b", "b", "b"]}),
            {"strata": "band"},
            "fewer units than",
        ),
        (
            pd.DataFrame({"person_id": [1, 2, 3, 4]}),
            {"arms": {"control": 1, "treatment": 0}},
            "positive",
        ),
        (
            pd.DataFrame({"person_id": [1, 2, 3, 4]}),
            {"arms": {"control": 1, "treatment": -2}},
            "positive",
        ),
        (pd.DataFrame({"person_id": pd.Series([], dtype=int)}), {}, "no rows"),
        (pd.DataFrame({"pid": [1, 2]}), {}, "no column 'person_id'"),
        (
            pd.DataFrame({"person_id": [1, 2, 3, 4], "m": [1, 1, 2, 2], "s": [1, 2, 1, 1]}),
            {"cluster": "m", "strata": "s"},
            "vary within clusters",
        ),
    ],
)
def test_bad_input_raises_data_error(frame: pd.DataFrame, kwargs: dict, match: str) -> None:
    with pytest.raises(DataError, match=match):
        randomise(frame, seed=1, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "blocked"}, "must be one of"),
        ({"steps": 3}, "only used with method='stepped_wedge'"),
        ({"method": "stepped_wedge"}, "needs `steps`"),
        ({"method": "lottery"}, "capacity"),
        ({"method": "lottery", "capacity": 40}, "between 1 and"),
        ({"method": "rerandomised"}, "covariates"),
        ({"arms": ["only"]}, "at least two"),
        ({"arms": "treatment"}, "list of arm names"),
    ],
)
def test_bad_design_raises_design_error(kwargs: dict, match: str) -> None:
    with pytest.raises(DesignError, match=match):
        randomise(_units([20]), seed=1, **kwargs)


def test_packed_sort_resolves_prefix_ties_exactly() -> None:
    from trialkit.randomisation._core import sort_by_stratum_and_key

    rng = np.random.default_rng(0)
    n = 20_000
    # keys share their leading bits in large groups, so packed prefixes tie often
    u = (rng.integers(0, 8, n).astype(np.uint64) << np.uint64(60)) | rng.choice(
        2**40, n, replace=False
    ).astype(np.uint64)
    s = rng.integers(0, 50, n)
    np.testing.assert_array_equal(sort_by_stratum_and_key(s, u, 50), np.lexsort((u, s)))


def test_inputs_are_not_modified() -> None:
    u = _units([9, 12])
    before = u.copy(deep=True)
    a = randomise(u, strata="band", seed=1)
    verify(u, a.certificate)
    a.balance(u, covariates=["x"], n_draws=10, seed=1)
    pd.testing.assert_frame_equal(u, before)


@pytest.mark.slow
def test_cluster_stepped_wedge_frequency_matches_probability() -> None:
    u = pd.DataFrame({"person_id": np.arange(70), "municipality": np.arange(70) % 7})
    reps = 600
    hits = np.zeros((7, 3))
    for s in range(reps):
        t = randomise(u, cluster="municipality", method="stepped_wedge", steps=3, seed=s).table
        lvl = t.drop_duplicates("cluster").sort_values("cluster")
        hits[np.arange(7), lvl["step"].to_numpy() - 1] += 1
        np.testing.assert_allclose(lvl["probability"], 1 / 3)
    z = (hits / reps - 1 / 3) / np.sqrt((1 / 3) * (2 / 3) / reps)
    assert np.abs(z).max() < 4.0


def test_group_sums_are_exact_modulo_2_64() -> None:
    from trialkit.randomisation._core import group_sums_u64

    rng = np.random.default_rng(0)
    v = rng.integers(0, 2**63, 20_000, dtype=np.int64).view(np.uint64) * np.uint64(3)
    g = rng.integers(0, 30, 20_000)
    ref = [sum(int(x) for x in v[g == k]) % 2**64 for k in range(30)]
    assert [int(x) for x in group_sums_u64(v, g, 30)] == ref
