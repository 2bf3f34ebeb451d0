"""Algorithm version 2: cut points instead of an argsort, one hash per unit, compact record."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialkit.errors import DataError
from trialkit.randomisation import _core, assignment, randomise, verify, verify_details
from trialkit.randomisation.assignment import ALGORITHM_VERSION, _rederive


@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=12),
    ratios=st.lists(st.integers(1, 3), min_size=2, max_size=4),
    bits=st.sampled_from([None, 1, 2, 5]),
    seed=st.integers(0, 2**32 - 1),
)
def test_histogram_selection_gives_the_argsort_assignment(
    sizes: list[int], ratios: list[int], bits: int | None, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    strata = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    counts = _core.stratified_counts(np.asarray(sizes), np.asarray(ratios), rng)
    x = rng.integers(0, 2**63, strata.size).view(np.uint64)
    u = _core.unit_keys(x, [seed, 1])
    want, order = _core.assign_by_counts(strata, u, counts)
    got, cuts = _core.assign_by_histogram(strata, u, counts, bits=bits)
    np.testing.assert_array_equal(got, want)
    # keys computed on the fly from the id bits: the same arms and cut points
    got_k, cuts_k = _core.assign_by_keyed_histogram(strata, x, [seed, 1], counts, bits=bits)
    np.testing.assert_array_equal(got_k, want)
    np.testing.assert_array_equal(cuts_k, cuts)
    # the cut of arm j in stratum s is the key of its first unit there (0: no such unit)
    for s in range(len(sizes)):
        for j in range(1, len(ratios)):
            first = [i for i in order if strata[i] == s and want[i] >= j]
            expect = u[first[0]] if first else 0
            assert cuts[s, j - 1] == expect


def test_a_large_draw_matches_the_argsort_path() -> None:
    rng = np.random.default_rng(8)
    n = 300_000
    strata = rng.integers(0, 3_000, n)
    sizes = np.bincount(strata, minlength=3_000)
    counts = _core.stratified_counts(sizes, np.asarray([2, 1, 1]), rng)
    ids = rng.integers(0, 2**63, n).view(np.uint64)
    u = _core.unit_keys(ids, [3, 4])
    want, _ = _core.assign_by_counts(strata, u, counts)
    got, cuts = _core.assign_by_histogram(strata, u, counts)
    np.testing.assert_array_equal(got, want)
    got_k, cuts_k = _core.assign_by_keyed_histogram(strata, ids, [3, 4], counts)
    np.testing.assert_array_equal(got_k, want)
    np.testing.assert_array_equal(cuts_k, cuts)
    # bucket keys written over the keys, boundary keys recomputed: same arms and cuts
    x = u.copy()
    got2, cuts2 = _core.assign_by_histogram(strata, x, counts, rekey=lambda idx: u[idx])
    np.testing.assert_array_equal(got2, want)
    np.testing.assert_array_equal(cuts2, cuts)


def test_unit_keys_are_one_splitmix_finaliser() -> None:
    x = np.arange(-5, 200_000, dtype=np.int64).view(np.uint64)
    np.testing.assert_array_equal(_core.unit_keys(x, [77, 0]), _core.mix64(x ^ np.uint64(77)))


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


def test_id_side_on_a_second_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # from _DEFER_MIN units the id sort / hashes / record run beside the draw; the result
    # is the same, and a duplicate id is still the error reported (before small strata)
    rng = np.random.default_rng(6)
    units = pd.DataFrame(
        {"person_id": rng.choice(100_000, 5_000, replace=False), "s": rng.integers(0, 9, 5_000)}
    )
    inline = randomise(units, strata="s", seed=3)
    monkeypatch.setattr(assignment, "_DEFER_MIN", 100)
    threaded = randomise(units, strata="s", seed=3)
    assert threaded.table["arm"].tolist() == inline.table["arm"].tolist()
    for k in ("ids_hash", "strata_hash", "assignment_hash", "ids", "id_strata"):
        assert threaded.certificate[k] == inline.certificate[k]
    dup = units.copy()
    dup.loc[1, "person_id"] = dup.loc[0, "person_id"]
    dup.loc[2, "s"] = 99  # a stratum of one unit: also an error, reported after duplicates
    with pytest.raises(DataError, match="uniquely"):
        randomise(dup, strata="s", seed=3)


@pytest.mark.parametrize(
    "ids",
    [
        np.asarray([5, -3, 2**40, 7, 2**41 + 1, -(2**45)], dtype=np.int64),  # gaps > 2**32
        np.asarray([10, 11, 15, 300, 70_000], dtype=np.int64),  # already in order
        np.random.default_rng(4).choice(10**6, 50_000, replace=False).astype(np.int64),
        np.asarray([4, 9, 4, 1], dtype=np.int64),  # a duplicate
        np.asarray([42], dtype=np.int64),
    ],
)
def test_sorted_ids_gaps_codes(ids: np.ndarray) -> None:
    codes = np.arange(ids.size) % 3
    srt = assignment._SortedInts(ids, codes, 3)
    order = np.lexsort((codes, ids))
    first, gaps, dup = srt.gaps()
    assert first == int(np.sort(ids)[0])
    want = np.diff(np.sort(ids).view(np.uint64))
    np.testing.assert_array_equal(gaps.astype(np.uint64), want)
    assert gaps.dtype.itemsize == next(
        w for w in (1, 2, 4, 8) if int(want.max(initial=0)) < 2 ** (8 * w)
    )
    assert dup == (np.unique(ids).size < ids.size)
    np.testing.assert_array_equal(srt.sorted_ids(), ids[order])
    np.testing.assert_array_equal(np.asarray(srt.sorted_codes()), codes[order])


def test_packed_record_on_the_second_thread_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    # packed (base64) id and strata records made beside the draw decode to the sorted ids
    # and the stratum of each
    monkeypatch.setattr(assignment, "_DEFER_MIN", 100)
    monkeypatch.setattr(assignment, "_IDS_INLINE_MAX", 50)
    rng = np.random.default_rng(11)
    n = 3_000
    units = pd.DataFrame(
        {"person_id": rng.choice(10**7, n, replace=False), "s": rng.integers(0, 300, n)}
    )
    a = randomise(units, strata="s", seed=9)
    cert = a.certificate
    assert isinstance(cert["ids"], dict) and isinstance(cert["id_strata"], dict)
    srt = units.sort_values("person_id")
    np.testing.assert_array_equal(assignment._unpack_ints(cert["ids"]), srt["person_id"])
    labels = np.asarray(cert["stratum_labels"])
    np.testing.assert_array_equal(
        labels[assignment._unpack_ints(cert["id_strata"])], srt["s"].astype(str)
    )
    assert verify(units, cert)
    moved = units.copy()
    moved.loc[5, "s"] = (moved.loc[5, "s"] + 1) % 300
    assert not verify(moved, cert)


@given(size=st.integers(0, 40), seed=st.integers(0, 2**32 - 1))
def test_base64_of_small_buffers_is_standard(size: int, seed: int) -> None:
    raw = np.random.default_rng(seed).integers(0, 256, size).astype(np.uint8)
    assert assignment._b64(raw.data) == base64.b64encode(raw.tobytes()).decode("ascii")


@pytest.mark.parametrize("extra", [0, 1, 2, 3, 4, 5])
def test_base64_of_large_buffers_is_standard(extra: int) -> None:
    # the numpy encoder (from 1 MiB) gives exactly the standard text, for every length mod 3
    raw = np.random.default_rng(extra).integers(0, 256, (1 << 20) + extra).astype(np.uint8)
    text = assignment._b64(raw.data)
    assert text == base64.b64encode(raw.tobytes()).decode("ascii")
    assert base64.b64decode(text) == raw.tobytes()
