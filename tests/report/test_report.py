"""Report output checking: small counts suppressed everywhere, no person ids, valid HTML."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from trialkit.errors import DataError
from trialkit.report import Section, build_report, suppress_small_counts
from trialkit.results import Exclusion, effect_table

VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Checker(HTMLParser):
    """Checks that every non-void element is closed in order; collects img attributes."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def _small_cell_sections():
    rng = np.random.default_rng(0)
    res = effect_table(
        rng.normal(size=4),
        np.full(4, 0.1),
        index=["Lapland", "Pori", "Kemi", "Tornio"],
        index_name="area",
        n=[250, 4, 1, 37],
        method="difference_in_means",
        n_obs=292,
        excluded=[Exclusion(reason="emigrated", n=3)],
    )
    counts = pd.DataFrame(
        {"stratum": ["12-23", "24+", "6-11"], "n_treated": [120, 2, 0], "n_control": [118, 3, 44]}
    )
    fig, ax = plt.subplots()
    ax.plot([0, 12, 24], [1.0, 0.6, 0.4])
    ax.text(0, 0.1, "130")
    ax.text(12, 0.1, "4")  # an at-risk count below the threshold
    ax.text(24, 0.1, "2")
    return [
        Section(
            "Effects by area",
            text="Small areas have few clients.",
            results={"ITT": res},
            tables={"Counts per stratum": counts},
            figures=[("Survival by arm", fig)],
        )
    ]


def test_no_count_below_threshold_anywhere(tmp_path):
    sections = _small_cell_sections()
    rep = build_report(sections, tmp_path, min_count=5)
    data = json.loads(rep.json_path.read_text())

    def walk(obj, key=None):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from walk(v, k)
        elif isinstance(obj, list):
            for v in obj:
                yield from walk(v, key)
        else:
            yield key, obj

    count_keys = {"n", "n_treated", "n_control"}
    leaked = [(k, v) for k, v in walk(data) if k in count_keys and isinstance(v, int) and 0 < v < 5]
    assert leaked == []
    assert data["sections"]["Effects by area"]["ITT"]["table"][1]["n"] == "<5"
    html_text = rep.html_path.read_text()
    cells = re.findall(r"<td>(\d+)</td>", html_text)
    assert cells and all(int(c) == 0 or int(c) >= 5 for c in cells)
    assert "&lt;5" in html_text
    assert "emigrated (&lt;5)" in html_text
    # figure labels: the at-risk numbers 4 and 2 were replaced
    fig = sections[0].figures[0][1]
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels == ["130", "<5", "<5"]
    assert rep.n_suppressed >= 5
    plt.close("all")


def test_person_ids_are_refused(tmp_path):
    persons = pd.DataFrame({"person_id": [1, 2], "estimate": [0.1, 0.2], "se": [1, 1]})
    with pytest.raises(DataError, match="person identifier column 'person_id'"):
        build_report([Section("Leak", tables={"persons": persons})], tmp_path)
    with pytest.raises(DataError, match="person identifier"):
        suppress_small_counts(persons.set_index("person_id"))


def test_html_is_well_formed_and_images_have_alt_text(tmp_path):
    rep = build_report(_small_cell_sections(), tmp_path)
    text = rep.html_path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    checker = _Checker()
    checker.feed(text)
    assert checker.errors == [] and checker.stack == []
    assert len(checker.images) == 1
    assert checker.images[0]["alt"] == "Survival by arm"
    assert checker.images[0]["src"].startswith("data:image/png;base64,")
    assert "http://" not in text and "https://" not in text  # self-contained
    assert rep.figure_paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close("all")


def test_suppression_keeps_zero_and_large_counts():
    out = suppress_small_counts(
        pd.DataFrame({"events": [0, 1, 5, 6], "estimate": [1, 2, 3, 4]}), min_count=5
    )
    assert out["events"].tolist() == [0, "<5", 5, 6]
    assert out["estimate"].tolist() == [1, 2, 3, 4]


def test_design_parameters_named_n_are_not_person_counts(tmp_path):
    frame = pd.DataFrame(
        {"n_steps": [4], "n_clusters": [3], "n_draws": [2], "n_per_arm": [3], "n_treated": [2]}
    )
    out = suppress_small_counts(frame)
    # clusters may be persons (the default cluster of a DiD is the unit): suppressed
    assert out.iloc[0].tolist() == [4, "<5", 2, "<5", "<5"]
    r = effect_table([0.1], [0.05], index=["x"], index_name="term", n=[3], method="m", n_obs=3)
    meta = {
        "n_steps": 4,
        "n_periods": 3,
        "n_per_arm": 2,
        "n_treated_clusters": 3,
        "persons_per_arm": {"treatment": 3, "control": 40},
        "person_months_by_state": {"employed": 2, "unemployed": 0},
    }
    r = type(r)(**{**r.__dict__, "meta": meta})
    build_report([Section(title="Roll-out", results={"r": r})], out=tmp_path)
    got = json.loads((tmp_path / "results.json").read_text())
    flat = json.dumps(got)
    assert '"n_steps": 4' in flat and '"n_periods": 3' in flat
    assert '"n_per_arm": "<5"' in flat and '"n_obs": "<5"' in flat
    assert '"n_treated_clusters": "<5"' in flat
    # values nested under a count key are counts too
    assert '"persons_per_arm": {"treatment": "<5", "control": 40}' in flat
    assert '"person_months_by_state": {"employed": "<5", "unemployed": 0}' in flat


def test_person_level_did_cluster_counts_do_not_leak(tmp_path):
    import trialkit as tk

    rng = np.random.default_rng(0)
    p = pd.DataFrame(
        {
            "person": np.repeat(np.arange(40), 6),
            "t": np.tile(np.arange(6), 40),
            "ft": np.repeat(np.where(np.arange(40) < 3, 3, np.nan), 6),
        }
    )
    p["y"] = rng.normal(size=len(p))
    with pytest.warns(Warning):  # few treated clusters
        r = tk.did(p, method="twfe", outcome="y", unit="person", time="t", first_treated="ft")
    build_report([Section(title="DiD", results={"did": r})], out=tmp_path)
    text = (tmp_path / "results.json").read_text()
    assert re.search(r'"n_treated_clusters": 3\b', text) is None
    assert '"n_treated_clusters": "<5"' in text
