"""Edge cases found in review: an analysis cut-off before the extraction date, arms
without events, missing cluster values and time-zone-aware dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit.errors import DataError


@pytest.fixture(scope="module")
def register():
    reg = tk.datasets.make_register(n_persons=1500, seed=0, truth_n=1000)
    pe = reg.persons.assign(arm=np.where(reg.persons["person_id"] % 2 == 0, "treatment", "control"))
    return reg.spells, pe


def _truncated(spells: pd.DataFrame, cut: str) -> pd.DataFrame:
    """The register as an extraction made on ``cut`` would hold it (the reference)."""
    day = pd.Timestamp(cut)
    sp = spells.loc[spells["start"] <= day].copy()
    later = sp["end"].notna() & (sp["end"] > day)
    sp.loc[later, "end"] = pd.NaT
    sp.loc[later, "exit_reason"] = ""
    return sp


@pytest.mark.parametrize("cut", ["2017-03-31", "2018-06-30", "2019-12-31"])
def test_cut_off_before_the_extraction_equals_a_truncated_extraction(register, cut):
    spells, pe = register
    keep = pe["origin"] <= pd.Timestamp(cut)
    got = tk.follow_up(spells, pe, origin="origin", months=24, end_of_data=cut).durations()
    ref = tk.follow_up(
        _truncated(spells, cut), pe.loc[keep], origin="origin", months=24, end_of_data=cut
    ).durations()
    ref = ref.loc[ref.index.intersection(got.index)]
    assert len(ref) > 500
    pd.testing.assert_frame_equal(got.loc[ref.index], ref)
    # and no exit is dated after the cut-off
    ev = got["unemployment_days_event"] == 1
    origin = pe.set_index("person_id").loc[got.index, "origin"]
    last = origin + pd.to_timedelta(got["unemployment_days"], unit="D")
    assert (last[ev] <= pd.Timestamp(cut) + pd.Timedelta(days=1)).all()


def test_missing_cluster_in_effects_is_a_data_error(register):
    spells, pe = register
    pe = pe.assign(muni=pe["municipality"].astype(object))
    pe.loc[pe.index[:3], "muni"] = None
    f = tk.follow_up(spells, pe, origin="origin", months=12, end_of_data="2019-12-31")
    with pytest.raises(DataError, match=r"'muni'.*3 missing"):
        f.effects(outcomes=["employed"], horizons=[12], cluster="muni")
