"""Partitioned Parquet processing equals in-memory processing, on every backend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit import scale
from trialkit.errors import DataError

TOL = 1e-12  # sums of squares combined across buckets: floating-point reordering only


@pytest.fixture(scope="module")
def register():
    reg = tk.datasets.make_register(n_persons=2500, seed=4, truth_n=1000)
    persons = reg.persons.assign(
        arm=np.where(reg.persons["person_id"] % 3 == 0, "treatment", "control")
    )
    return persons, reg.spells


@pytest.fixture(scope="module")
def stored(register, tmp_path_factory):
    persons, spells = register
    return scale.write_partitioned(persons, spells, tmp_path_factory.mktemp("reg"), n_partitions=6)


def test_outcomes_identical_to_in_memory_on_all_backends(register, stored):
    import distributed

    persons, spells = register
    eod = stored.end_of_data()
    assert eod == max(spells["start"].max(), spells["end"].max())
    mem = tk.follow_up(spells, persons, arm="arm", origin="origin", end_of_data=eod)
    expected = mem.outcomes(horizons=[12, 36, 60]).sort_index()
    serial = scale.follow_up_outcomes(stored, horizons=[12, 36, 60], backend="serial")
    pd.testing.assert_frame_equal(serial, expected, check_dtype=False)
    joblib = scale.follow_up_outcomes(stored, horizons=[12, 36, 60], backend="joblib", n_jobs=2)
    pd.testing.assert_frame_equal(joblib, serial)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        dask = scale.follow_up_outcomes(stored, horizons=[12, 36, 60], backend="dask")
    pd.testing.assert_frame_equal(dask, serial)


def test_horizon_effects_equal_in_memory_difference_in_means(register, stored):
    persons, spells = register
    mem = tk.follow_up(
        spells, persons, arm="arm", origin="origin", end_of_data=stored.end_of_data()
    )
    expected = mem.effects(
        outcomes=["employed", "months_employed"], horizons=[12, 24, 60]
    ).to_frame()
    got = scale.horizon_effects(
        stored, outcomes=["employed", "months_employed"], horizons=[12, 24, 60]
    )
    frame = got.to_frame()
    np.testing.assert_allclose(
        frame["estimate"].to_numpy(), expected["estimate"].to_numpy(), atol=TOL
    )
    np.testing.assert_allclose(frame["se"].to_numpy(), expected["se"].to_numpy(), atol=TOL)
    np.testing.assert_array_equal(frame["n"].to_numpy(), expected["n"].to_numpy())
    assert got.meta["n_partitions"] == 6


def _brute_counts(persons, spells, unit, months):
    """Reference: expand every spell to the months it touches (slow, obviously right)."""
    sp = spells.merge(persons[["person_id", unit]], on="person_id")
    rows = []
    for m in months:
        last = m + pd.offsets.MonthEnd(0)
        cover = sp[(sp["start"] <= last) & (sp["end"].isna() | (sp["end"] >= m))]
        rows.append(cover.groupby([unit, "state"], observed=True).size().rename(m))
    return pd.concat(rows, axis=1).fillna(0).astype(int)


def test_state_counts_match_brute_force_and_partitioning(register, stored, tmp_path):
    persons, spells = register
    months = pd.date_range("2016-01-01", "2019-12-01", freq="MS")
    got = scale.state_counts(stored, start="2016-01", end="2019-12")
    assert len(got) == persons["municipality"].nunique() * len(months)
    ref = _brute_counts(persons, spells, "municipality", months)
    long = got.melt(id_vars=["municipality", "month"], var_name="state", value_name="count")
    long = long.set_index(["municipality", "state", "month"])["count"].sort_index()
    for (muni, state), row in ref.iterrows():
        np.testing.assert_array_equal(
            long.loc[(muni, state)].loc[months].to_numpy(), row.to_numpy()
        )
    other = scale.write_partitioned(persons, spells, tmp_path / "two", n_partitions=2)
    pd.testing.assert_frame_equal(scale.state_counts(other, start="2016-01", end="2019-12"), got)


def test_bad_inputs(register, tmp_path):
    persons, spells = register
    with pytest.raises(DataError, match="spells belong to persons missing"):
        scale.write_partitioned(persons.iloc[10:], spells, tmp_path / "x")
    with pytest.raises(DataError, match="holds no partitioned persons"):
        scale.PartitionedRegister.open(tmp_path)
    with pytest.raises(tk.DesignError, match="n_partitions"):
        scale.write_partitioned(persons, spells, tmp_path / "y", n_partitions=0)
