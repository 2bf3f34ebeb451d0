"""`trialkit demo` end to end through the console script (the README's main job)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import trialkit as tk
from trialkit.demo import ROLLOUT_EFFECT_PP

SEED = 11
TRIAL_PERSONS = 30_000


def _run_demo(out):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "trialkit",
            "demo",
            "--out",
            str(out),
            "--n-persons",
            "8000",
            "--trial-persons",
            str(TRIAL_PERSONS),
            "--seed",
            str(SEED),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    proc = _run_demo(out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, proc.stderr


def test_demo_writes_report_json_and_figures(demo):
    out, stderr = demo
    assert "[7/7] writing the report" in stderr  # progress display
    html = (out / "report.html").read_text()
    assert html.count("<img ") >= 7 and 'alt=""' not in html
    figures = sorted((out / "figures").glob("*.png"))
    assert len(figures) >= 7 and all(p.stat().st_size > 5000 for p in figures)
    results = json.loads((out / "results.json").read_text())
    comps = results["comparisons"]
    stages = {c["stage"] for c in comps}
    assert stages == {
        "randomised trial",
        "stepped wedge",
        "matched controls",
        "difference-in-differences",
    }
    for c in comps:  # every estimate sits next to its true value, with its interval
        assert c["ci_low"] <= c["estimate"] <= c["ci_high"]
        assert isinstance(c["truth"], float)
        assert c["covered"] == (c["ci_low"] <= c["truth"] <= c["ci_high"])
    assert sum(c["covered"] for c in comps) >= len(comps) / 2
    assert len(results["pre_analysis_plan"]["sha256"]) == 64
    assert '"person_id":' not in (out / "results.json").read_text()  # no person-level rows


def test_randomised_trial_uses_exactly_one_areas_persons(demo):
    out, _ = demo
    results = json.loads((out / "results.json").read_text())
    rt = results["randomised_trial"]
    assert rt["area"] == "Pirkanmaa"
    assert rt["areas_randomised"] == ["Pirkanmaa"]  # from the randomised persons' area column
    # the persons randomised are exactly the eligible of that area in the trial's extract:
    # rebuild the extract independently and count them
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(SEED).spawn(9)]
    extract = tk.datasets.make_register(
        n_persons=TRIAL_PERSONS, seed=seeds[7], truth_n=1000
    ).persons
    elig = extract[extract["eligible"]]
    n_area = int((elig["area"] == "Pirkanmaa").sum())
    n_all_trial_areas = int((elig["area"] != "non-trial").sum())
    assert rt["n_randomised"] == n_area == rt["n_eligible_in_area"]
    assert n_area < n_all_trial_areas / 2  # one area, not the eight
    assert set(rt["municipalities"]) == set(elig.loc[elig["area"] == "Pirkanmaa", "municipality"])
    # the trial's results were computed on those persons
    sec = results["sections"]["Randomised individual trial in Pirkanmaa"]
    assert sec["Balance"]["n_obs"] == n_area
    assert sec["Effects by horizon"]["n_obs"] == n_area
    rct_rows = [c for c in results["comparisons"] if c["stage"] == "randomised trial"]
    # their truth: the sample average effect of exactly these persons (common random numbers
    # with their simulated histories, whose seed is the third child of the demo seed)
    pool = elig[elig["area"] == "Pirkanmaa"]
    te = tk.datasets.true_effects(pool, seed=seeds[2])["effect"]
    for c in rct_rows:
        assert c["truth"] == pytest.approx(te[c["quantity"]], rel=1e-12)
    assert {c["quantity"] for c in rct_rows} == {
        "employed_12m",
        "employed_24m",
        "employed_36m",
        "employed_48m",
        "employed_60m",
        "months_employed_60m",
    }


def test_stepped_wedge_row_truth_is_the_injected_effect(demo):
    out, _ = demo
    results = json.loads((out / "results.json").read_text())
    rows = [c for c in results["comparisons"] if c["stage"] == "stepped wedge"]
    assert len(rows) == 1
    row = rows[0]
    assert row["quantity"] == "rollout_unemployment_rate"
    assert row["truth"] == ROLLOUT_EFFECT_PP == results["stepped_wedge"]["injected_effect_pp"]
    assert set(row) == {
        "stage",
        "quantity",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "truth",
        "covered",
    }
    assert row["se"] > 0 and row["ci_high"] < 0  # 237 clusters detect -0.25 pp
    sw = results["stepped_wedge"]
    assert sw["n_municipalities"] == sum(sw["municipalities_per_start"].values()) == 237
    assert 0 < sw["randomisation_p"] < 0.05


def test_report_embeds_rollout_figure_with_alt_text(demo):
    out, _ = demo
    html = (out / "report.html").read_text()
    imgs = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)"', html)
    rollout = [(b64, alt) for b64, alt in imgs if "phased roll-out" in alt]
    assert len(rollout) == 1
    b64, alt = rollout[0]
    assert "randomised start" in alt and "injected true effect" in alt
    png = base64.b64decode(b64)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    sections = html.split("<section")
    sw_sec = [s for s in sections if "Phased municipal roll-out (stepped wedge)" in s]
    assert len(sw_sec) == 1 and "phased roll-out" in sw_sec[0]


def _without_timings(obj):
    if isinstance(obj, dict):
        return {k: _without_timings(v) for k, v in obj.items() if "elapsed" not in k}
    if isinstance(obj, list):
        return [_without_timings(v) for v in obj]
    return obj


def test_demo_is_reproducible_with_its_seed(demo, tmp_path):
    out, _ = demo
    again = tmp_path / "again"
    proc = _run_demo(again)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first = json.loads((out / "results.json").read_text())
    second = json.loads((again / "results.json").read_text())
    assert _without_timings(second) == _without_timings(first)
