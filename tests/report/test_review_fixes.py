"""Review fixes: no per-person records, small cells or derived counts in a report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trialkit.design import Outcome, TrialDesign
from trialkit.errors import DataError
from trialkit.report import Section, build_report, suppress_small_counts


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


def _assignment(id_col: str, n: int = 300):
    from trialkit.randomisation import randomise

    units = pd.DataFrame({id_col: [f"C{i:05d}" for i in range(n)], "x": np.arange(n) % 3})
    return randomise(units, id=id_col, seed=1)


@pytest.mark.parametrize("id_col", ["client_id", "id", "customer_ids", "id_number"])
def test_person_level_tables_with_other_id_names_are_refused(tmp_path, id_col):
    a = _assignment(id_col)
    with pytest.raises(DataError, match=f"person identifier column '{id_col}'"):
        build_report([Section("Assignment", results={"a": a})], tmp_path)
    with pytest.raises(DataError, match="person-level"):
        build_report([Section("Assignment", tables={"a": a.table})], tmp_path)


def test_person_level_table_recognised_by_content(tmp_path):
    from trialkit.results import effect_table

    # a row count equal to a result's n is no evidence: 24 municipalities of a 24-unit
    # cluster randomisation are a group table and are published
    res = effect_table([0.1], [0.05], index=["treatment"], n=[24], method="dim", n_obs=24)
    munis = pd.DataFrame(
        {"municipality_name": [f"M{i}" for i in range(24)], "arm": ["a", "b"] * 12}
    )
    build_report([Section("S", results={"r": res}, tables={"munis": munis})], tmp_path)
    # a personal identity code in any column, whatever its name
    hetu = pd.DataFrame({"who": ["010180-123A", "x"], "estimate": [0.1, 0.2]})
    with pytest.raises(DataError, match="personal identity codes in column 'who'"):
        suppress_small_counts(hetu)


def test_results_json_refuses_id_like_tables_in_extra_json(tmp_path):
    import trialkit as tk

    units = pd.DataFrame({"client_id": np.arange(40), "band": np.arange(40) % 2})
    a = tk.randomise(units, id="client_id", seed=1)
    with pytest.raises(DataError, match="'client_id'"):
        build_report([Section("S")], tmp_path / "a", extra_json={"assignment": a.table})
    cols = {"client_id": list(range(40)), "arm": ["a", "b"] * 20}
    with pytest.raises(DataError, match="'client_id'"):
        build_report([Section("S")], tmp_path / "b", extra_json={"assignment": cols})
    # the certificate names its id column: a scalar, kept
    build_report([Section("S")], tmp_path / "c", extra_json={"certificate": a.certificate})


def test_group_tables_are_kept(tmp_path):
    from trialkit.results import effect_table

    res = effect_table([0.1], [0.05], index=["treatment"], n=[300], method="dim", n_obs=300)
    munis = pd.DataFrame(
        {
            "municipality": [f"m{i}" for i in range(300)],
            "municipality_id": np.arange(300),
            "step": np.arange(300) % 4,
            "n": np.full(300, 50),
        }
    )
    small = pd.DataFrame({"area": ["Kemi", "Pori"], "estimate": [0.1, 0.2], "n": [40, 50]})
    rep = build_report(
        [Section("S", results={"r": res}, tables={"munis": munis, "areas": small})], tmp_path
    )
    assert "m299" in rep.html_path.read_text()


def test_df_and_arm_counts_suppressed_with_n(tmp_path):
    frame = pd.DataFrame(
        {
            "term": ["small", "large", "unbalanced", "few clusters"],
            "estimate": [0.1, 0.2, 0.3, 0.4],
            "n": [3, 400, 60, 500],
            "n_treated": [2, 200, 3, 250],
            "n_control": [1, 200, 57, 250],
            "n_clusters": [2, 40, 30, 4],
            "df": [1.0, 38.0, 29.0, 3.0],
        }
    ).set_index("term")
    out = suppress_small_counts(frame).reset_index()
    assert out.loc[0, ["n", "n_treated", "n_control", "n_clusters", "df"]].tolist() == ["<5"] * 5
    assert out.loc[1, ["n", "n_treated", "n_control", "n_clusters", "df"]].tolist() == [
        400,
        200,
        200,
        40,
        38.0,
    ]
    # n_treated small: n_control would give it away as n - n_control
    assert out.loc[2, ["n", "n_treated", "n_control", "df"]].tolist() == [60, "<5", "<5", 29.0]
    # few clusters: the cluster df goes with them, the number of persons stays
    assert out.loc[3, ["n", "n_clusters", "df"]].tolist() == [500, "<5", "<5"]
    # and the same in results.json
    rep = build_report([Section("S", tables={"t": frame})], tmp_path)
    rows = json.loads(rep.json_path.read_text())["sections"]["S"]["t"]
    assert [r["df"] for r in rows] == ["<5", 38.0, 29.0, "<5"]
    assert [r["n_control"] for r in rows] == ["<5", 200, "<5", 250]
    assert rows[0]["n_clusters"] == "<5"


@pytest.mark.parametrize(
    "name", ["PersonID", "personId", "person-id", "client", "henkilo", "asiakasnumero"]
)
def test_more_person_id_spellings_are_refused(name):
    with pytest.raises(DataError, match="person identifier"):
        suppress_small_counts(pd.DataFrame({name: [1, 2, 3], "y": [0.1, 0.2, 0.3]}))


def test_group_ids_lowercase_hetu_multiindex_and_effect_sizes():
    groups = pd.DataFrame(
        {c: [1, 2] for c in ["te_office_id", "maakunta_id", "group_id", "month_id", "scenario_id"]}
    )
    pd.testing.assert_frame_equal(suppress_small_counts(groups), groups)
    with pytest.raises(DataError, match="personal identity codes"):
        suppress_small_counts(pd.DataFrame({"who": ["010180-123a", "x"]}))
    multi = pd.DataFrame(
        [[1, 0.5]], columns=pd.MultiIndex.from_tuples([("person_id", ""), ("y", "")])
    )
    with pytest.raises(DataError, match="person identifier"):
        suppress_small_counts(multi)
    sizes = pd.DataFrame({"effect_sizes": [0.2, 0.5, 1.0], "stratum_sizes": [3, 8, 9]})
    out = suppress_small_counts(sizes)
    assert out["effect_sizes"].tolist() == [0.2, 0.5, 1.0]
    assert out["stratum_sizes"].tolist() == ["<5", 8, 9]
