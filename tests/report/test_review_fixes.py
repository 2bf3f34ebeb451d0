"""Review fixes: no per-person records, small cells or derived counts in a report."""

from __future__ import annotations

import json

import numpy as np
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


def _body_cells(fig) -> list[str]:
    """Texts of the at-risk table body (row 0 holds the times, column -1 the arms)."""
    from matplotlib.table import Table

    return [
        c.get_text().get_text()
        for t in fig.findobj(match=Table)
        for (row, col), c in t.get_celld().items()
        if row >= 1 and col >= 0
    ]


def test_at_risk_table_of_km_plot_is_suppressed(tmp_path):
    import matplotlib.pyplot as plt

    from trialkit.followup import kaplan_meier

    rng = np.random.default_rng(1)
    n = 40
    data = pd.DataFrame(
        {
            "months": np.concatenate([np.arange(1, 21), np.arange(1, 21) * 0.5 + 0.25]),
            "event": rng.integers(0, 2, n),
            "arm": np.repeat(["control", "treatment"], n // 2),
        }
    )
    km = kaplan_meier(data, duration="months", event="event", group="arm")
    fig = km.plot().figure
    small = [s for s in _body_cells(fig) if 0 < int(s) < 5]
    assert small, "the at-risk table should hold small counts before the report"
    rep = build_report([Section("KM", figures=[("km", fig)])], tmp_path)
    cells = _body_cells(fig)
    assert not [s for s in cells if s != "<5" and 0 < int(s) < 5]
    assert cells.count("<5") == len(small)
    assert rep.n_suppressed >= len(small)
    plt.close(fig)


def test_figure_table_labels_are_kept_body_cells_suppressed():
    import matplotlib.pyplot as plt

    from trialkit.report._build import _suppress_figure_text

    fig, ax = plt.subplots()
    table = ax.table(
        cellText=[["40", "3"], ["38", "1"]],
        rowLabels=["0", "1"],  # arms coded 0/1: labels, not counts
        colLabels=["0", "2"],  # months: labels, not counts
        loc="bottom",
    )
    assert _suppress_figure_text(fig, min_count=5) == 2
    celld = table.get_celld()
    assert celld[(1, 1)].get_text().get_text() == "<5"
    assert celld[(2, 1)].get_text().get_text() == "<5"
    assert celld[(1, 0)].get_text().get_text() == "40"
    assert celld[(2, -1)].get_text().get_text() == "1"
    assert celld[(0, 1)].get_text().get_text() == "2"
    plt.close(fig)
