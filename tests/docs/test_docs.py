"""The documentation: the Sphinx site builds with warnings as errors, and every page's code runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(p.name for p in DOCS.glob("*.md") if p.name not in {"api.md", "contents.md"})
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_sphinx_site_builds_without_warnings(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-q",
            "-W",
            "--keep-going",
            "-b",
            "html",
            str(DOCS),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (tmp_path / "api.html").read_text()
    for name in ("make_register", "IndividualRCT", "kaplan_meier", "TrialDesign", "build_report"):
        assert name in html


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_code_runs(page, tmp_path):
    """Every ```python block of a page, run in order in one fresh interpreter."""
    code = "\n\n".join(BLOCK.findall((DOCS / page).read_text()))
    assert code.strip(), f"{page} has no python example"
    script = tmp_path / "page.py"
    script.write_text("import matplotlib\nmatplotlib.use('Agg')\n" + code)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, f"{page}:\n{proc.stderr[-3000:]}"
