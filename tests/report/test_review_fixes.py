"""Review fixes: no per-person records, small cells or derived counts in a report."""

from __future__ import annotations

import json

import pandas as pd

from trialkit.design import Outcome, TrialDesign
from trialkit.report import Section, build_report


def _units(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": [f"0101{80 + i:02d}-{100 + i}A" for i in range(n)],
            "duration_band": ["12-23m", "24m+"] * (n // 2),
        }
    )


def test_results_json_drops_certificate_person_records_and_small_stratum_sizes(tmp_path):
    units = _units()
    a = TrialDesign(
        title="t",
        population="p",
        strata=("duration_band",),
        outcomes=(Outcome(name="employed", horizon=12, primary=True),),
    ).randomise(units, seed=1)
    cert = dict(a.certificate)
    assert cert["stratum_sizes"] == [3, 3]
    # the full certificate (as a user might pass it) and a renamed id list
    extra = {"certificate": cert, "other": {"n_units": 6, "who": list(units["person_id"])}}
    rep = build_report([Section("Plan")], tmp_path, extra_json=extra)
    text = rep.json_path.read_text()
    for pid in units["person_id"]:
        assert pid not in text
    data = json.loads(text)
    got = data["certificate"]
    for key in ("ids", "id_strata", "id_clusters"):
        assert key not in got
    assert "who" not in data["other"]
    assert got["stratum_sizes"] == ["<5", "<5"]
    assert all(v in ("<5", 0) for row in got["counts"] for v in row)
    assert got["assignment_hash"] == cert["assignment_hash"]


def test_json_guard_keeps_lists_that_are_not_ids():
    from trialkit.report._build import _suppress_json

    obj = {"n_units": 3, "estimate": [0.1, 0.2, 0.3], "flags": [True, False, True]}
    assert _suppress_json(obj, min_count=5) == {
        "n_units": "<5",
        "estimate": [0.1, 0.2, 0.3],
        "flags": [True, False, True],
    }
