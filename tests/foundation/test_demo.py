"""`trialkit demo` end to end through the console script (the README's main job)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_demo_writes_report_json_and_figures(tmp_path: Path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trialkit",
            "demo",
            "--out",
            str(out),
            "--n-persons",
            "8000",
            "--seed",
            "11",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[7/7] writing the report" in proc.stderr  # progress display
    html = (out / "report.html").read_text()
    assert html.count("<img ") >= 5 and 'alt=""' not in html
    figures = sorted((out / "figures").glob("*.png"))
    assert len(figures) >= 5 and all(p.stat().st_size > 5000 for p in figures)
    results = json.loads((out / "results.json").read_text())
    comps = results["comparisons"]
    stages = {c["stage"] for c in comps}
    assert stages == {"randomised trial", "matched controls", "difference-in-differences"}
    for c in comps:  # every estimate sits next to its true value, with its interval
        assert c["ci_low"] <= c["estimate"] <= c["ci_high"]
        assert isinstance(c["truth"], float)
        assert c["covered"] == (c["ci_low"] <= c["truth"] <= c["ci_high"])
    assert sum(c["covered"] for c in comps) >= len(comps) / 2
    assert len(results["pre_analysis_plan"]["sha256"]) == 64
    assert '"person_id":' not in (out / "results.json").read_text()  # no person-level rows
