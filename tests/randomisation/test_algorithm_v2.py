"""Algorithm version 2: cut points instead of an argsort, one hash per unit, compact record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialkit.randomisation import _core, randomise, verify, verify_details
from trialkit.randomisation.assignment import ALGORITHM_VERSION, _rederive


@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=12),
    ratios=st.lists(st.integers(1, 3), min_size=2, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_cut_points_give_the_argsort_assignment(
    sizes: list[int], ratios: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    strata = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    counts = _core.stratified_counts(np.asarray(sizes), np.asarray(ratios), rng)
    u = _core.unit_keys(rng.integers(0, 2**63, strata.size).view(np.uint64), [seed, 1])
    want, _ = _core.assign_by_counts(strata, u, counts)
    t = u.copy()
    res = _core.cut_table(strata, t, counts)
    assert res is not None
    got = _core.codes_from_cuts(strata, t, res[0])
    np.testing.assert_array_equal(got, want)


def test_tied_truncated_keys_at_a_boundary_take_the_exact_path() -> None:
    # 7 strata: keys are packed without their 3 lowest bits; two keys of stratum 0 differ
    # only there and straddle its cut
    s = np.asarray([0, 0, 0, 0, 1, 2, 3, 4, 5, 6])
    u = np.asarray([1 << 8, (5 << 8) + 1, (5 << 8) + 2, 9 << 8, 1, 2, 3, 4, 5, 6], dtype=np.uint64)
    counts = np.asarray([[2, 2], [1, 0], [1, 0], [1, 0], [1, 0], [1, 0], [1, 0]])
    assert _core.cut_table(s, u.copy(), counts) is None


def test_exact_path_gives_the_same_arms(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    units = pd.DataFrame(
        {"person_id": rng.choice(10_000, 500, replace=False), "band": rng.choice(list("abc"), 500)}
    )
    a = randomise(units, strata="band", arms=["c", "t1", "t2"], seed=9)
    monkeypatch.setattr(_core, "cut_table", lambda *args, **kw: None)
    b = randomise(units, strata="band", arms=["c", "t1", "t2"], seed=9)
    assert b.table["arm"].tolist() == a.table["arm"].tolist()
    assert verify(units, b.certificate)


def test_new_certificates_are_version_2_and_rederive() -> None:
    rng = np.random.default_rng(4)
    units = pd.DataFrame(
        {"person_id": rng.choice(10_000, 300, replace=False), "band": rng.choice(list("ab"), 300)}
    )
    a = randomise(units, strata="band", seed=1)
    assert a.certificate["algorithm_version"] == ALGORITHM_VERSION == "2"
    got = _rederive(units.sample(frac=1, random_state=2), a.certificate)
    assert got.loc[units.index, "arm"].tolist() == a.table["arm"].tolist()


def test_unknown_version_is_reported() -> None:
    units = pd.DataFrame({"person_id": range(10)})
    cert = dict(randomise(units, seed=1).certificate)
    cert["algorithm_version"] = "99"
    d = verify_details(units, cert)
    assert not d.ok and "version '99'" in d.differences[0]


def test_large_assignment_record_is_compact() -> None:
    # 200,000 units in 1,000 strata: ids as 1-byte gaps, strata codes as 2 bytes each
    rng = np.random.default_rng(5)
    n = 200_000
    units = pd.DataFrame(
        {"person_id": rng.choice(10 * n, n, replace=False), "stratum": rng.integers(0, 1000, n)}
    )
    a = randomise(units, strata="stratum", seed=2)
    assert a.certificate["ids"]["dtype"] == "|u1"
    assert a.certificate["id_strata"]["dtype"] == "<u2"
    assert verify(units.sample(frac=1, random_state=1), a.certificate)
    moved = units.copy()
    moved.loc[7, "stratum"] = (moved.loc[7, "stratum"] + 1) % 1000
    d = verify_details(moved, a.certificate)
    assert f"strata changed for 1 units: [{units.loc[7, 'person_id']}:" in " ".join(d.differences)
