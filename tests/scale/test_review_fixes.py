"""Review fixes of trialkit.scale: buckets by id value, partition count, overwrite."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit import scale
from trialkit.errors import DataError, ExcludedRowsWarning


@pytest.fixture(scope="module")
def register():
    reg = tk.datasets.make_register(n_persons=600, seed=3, truth_n=1000)
    return reg.persons, reg.spells


def _in_memory(persons, spells, src, horizons=(12,)):
    f = tk.follow_up(spells, persons, arm=None, origin="origin", end_of_data=src.end_of_data())
    return f.outcomes(horizons=list(horizons)).sort_index()


def test_bucket_depends_on_id_value_not_dtype():
    ids = [0, 1, 2, 3, 17, -5, 10**12]
    expected = np.asarray(ids, dtype=np.int64) % 7
    for s in (
        pd.Series(ids, dtype=np.int64),
        pd.Series(ids, dtype=np.float64),
        pd.Series(ids, dtype=object),
        pd.Series(ids, dtype="Int64"),
        pd.Series(ids).astype("category"),
    ):
        np.testing.assert_array_equal(scale._bucket(s, 7), expected)
    text = ["00001", "a", "1"]
    ref = scale._bucket(pd.Series(text, dtype=object), 5)
    np.testing.assert_array_equal(scale._bucket(pd.Series(text, dtype="string"), 5), ref)
    np.testing.assert_array_equal(scale._bucket(pd.Series(text).astype("category"), 5), ref)


def test_float_person_ids_with_integer_spell_ids_lose_nobody(register, tmp_path):
    persons, spells = register
    p = persons.assign(person_id=persons["person_id"].astype(float))
    src = scale.write_partitioned(p, spells, tmp_path / "rf", n_partitions=4)
    out = scale.follow_up_outcomes(src, horizons=[12], arm=None)
    assert len(out) == len(persons)
    pd.testing.assert_frame_equal(
        out, _in_memory(persons, spells, src), check_dtype=False, check_index_type=False
    )


def test_text_ids_versus_number_ids_are_refused(register, tmp_path):
    persons, spells = register
    p = persons.assign(person_id=persons["person_id"].astype(str))
    with pytest.raises(DataError, match="'person_id' holds text ids in `persons` but number"):
        scale.write_partitioned(p, spells, tmp_path / "a", n_partitions=4)
    mixed = persons.assign(person_id=persons["person_id"].astype(object))
    mixed.loc[mixed.index[0], "person_id"] = "x"
    with pytest.raises(DataError, match="'person_id' of `persons` holds mixed"):
        scale.write_partitioned(mixed, spells, tmp_path / "b", n_partitions=4)


def test_text_ids_round_trip(register, tmp_path):
    persons, spells = register
    p = persons.assign(person_id=persons["person_id"].map("{:06d}".format))
    s = spells.assign(person_id=spells["person_id"].map("{:06d}".format))
    src = scale.write_partitioned(p, s, tmp_path / "t", n_partitions=3)
    out = scale.follow_up_outcomes(src, horizons=[12], arm=None)
    pd.testing.assert_frame_equal(
        out, _in_memory(p, s, src), check_dtype=False, check_index_type=False
    )


def test_nothing_lost_silently(register, tmp_path):
    persons, spells = register
    # spells of unknown persons: refused at write time
    with pytest.raises(DataError, match="spells belong to persons missing"):
        scale.write_partitioned(persons.iloc[5:], spells, tmp_path / "x", n_partitions=4)
    # persons without spells: left out as in memory, but reported
    extra = persons.iloc[:3].assign(person_id=persons["person_id"].max() + np.arange(1, 4) * 4)
    src = scale.write_partitioned(
        pd.concat([persons, extra]), spells, tmp_path / "y", n_partitions=4
    )
    with pytest.warns(ExcludedRowsWarning, match="3 .*persons without spells"):
        out = scale.follow_up_outcomes(src, horizons=[12], arm=None)
    assert len(out) == len(persons)
    assert out.attrs["excluded"] == [
        {"reason": "persons without spells", "n": 3, "column": "person_id"}
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean = scale.write_partitioned(persons, spells, tmp_path / "z", n_partitions=4)
        assert scale.follow_up_outcomes(clean, horizons=[12], arm=None).attrs["excluded"] == []


def test_missing_ids_are_refused(register, tmp_path):
    persons, spells = register
    p = persons.assign(person_id=persons["person_id"].astype(float))
    p.loc[p.index[0], "person_id"] = np.nan
    with pytest.raises(DataError, match="'person_id' of `persons` has 1 missing ids"):
        scale.write_partitioned(p, spells, tmp_path / "m", n_partitions=4)


def test_open_counts_empty_buckets(register, tmp_path):
    persons, spells = register
    even = persons[persons["person_id"] % 2 == 0]
    sp = spells[spells["person_id"].isin(even["person_id"])]
    src = scale.write_partitioned(even, sp, tmp_path / "r", n_partitions=4)
    assert sorted(q.name for q in (tmp_path / "r" / "persons").iterdir()) == [
        "tk_partition=0",
        "tk_partition=2",
    ]
    opened = scale.PartitionedRegister.open(tmp_path / "r")
    assert opened.n_partitions == 4
    out = scale.follow_up_outcomes(opened, horizons=[12], arm=None)
    assert len(out) == len(even)
    pd.testing.assert_frame_equal(
        scale.state_counts(opened, start="2017-01", end="2017-06"),
        scale.state_counts(src, start="2017-01", end="2017-06"),
    )
    with pytest.raises(DataError, match="written with id column 'person_id'; open it with"):
        scale.PartitionedRegister.open(tmp_path / "r", id="hetu")


def test_open_folder_without_metadata_uses_largest_bucket(register, tmp_path):
    # a folder written before the metadata file existed: only bucket 2 of 4 has persons
    persons, spells = register
    even = persons[persons["person_id"] % 4 == 2]
    sp = spells[spells["person_id"].isin(even["person_id"])]
    scale.write_partitioned(even, sp, tmp_path / "old", n_partitions=4)
    (tmp_path / "old" / "trialkit_partitions.json").unlink()
    opened = scale.PartitionedRegister.open(tmp_path / "old")
    assert opened.n_partitions == 3  # folders 0, 1 missing: max index 2, plus one
    assert len(scale.follow_up_outcomes(opened, horizons=[12], arm=None)) == len(even)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "trialkit_partitions.json").write_text("[1]")
    with pytest.raises(DataError, match="not a trialkit partition file"):
        scale.PartitionedRegister.open(tmp_path / "bad")


def test_write_into_non_empty_folder(register, tmp_path):
    persons, spells = register
    target = tmp_path / "reg"
    scale.write_partitioned(persons, spells, target, n_partitions=4)
    with pytest.raises(DataError, match="`path` .* is not empty; .*overwrite=True"):
        scale.write_partitioned(persons, spells, target, n_partitions=4)
    (target / "notes.txt").write_text("keep me")
    half = persons.iloc[: len(persons) // 2]
    sp = spells[spells["person_id"].isin(half["person_id"])]
    src = scale.write_partitioned(half, sp, target, n_partitions=3, overwrite=True)
    assert (target / "notes.txt").read_text() == "keep me"
    opened = scale.PartitionedRegister.open(target)
    assert opened.n_partitions == 3
    out = scale.follow_up_outcomes(opened, horizons=[12], arm=None)
    assert len(out) == len(half) and not out.index.duplicated().any()
    pd.testing.assert_frame_equal(out, _in_memory(half, sp, src))
    counts = scale.state_counts(opened, start="2017-01", end="2017-03")
    assert len(counts) == half["municipality"].nunique() * 3
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        scale.write_partitioned(persons, spells, tmp_path / "file", overwrite=True)
