"""The report in a real headless browser (Debian's chromium): renders, every figure decodes,
no console errors, and the HTML parses without a single HTML5 parse error.

Not in the default test paths (a fresh machine with only Python and pip has no browser);
`.ci/run` installs chromium when missing and runs this file after the README's test command.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import html5lib
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from trialkit.report import Section, build_report  # noqa: E402
from trialkit.results import effect_table  # noqa: E402

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROBE = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var p = document.createElement("p");
  p.id = "probe";
  p.textContent = "images " + imgs.length + " decoded " + ok;
  document.body.appendChild(p);
});
</script>
"""


@pytest.fixture(scope="module", params=["synthetic", "demo"])
def report(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    if request.param == "demo":  # the main job's own report (`trialkit demo`)
        from trialkit.demo import run_demo

        rep = run_demo(out, progress=False)["report"]
        plt.close("all")
        return rep
    res = effect_table(
        [0.03, 0.02, 0.01],
        [0.01, 0.012, 0.013],
        index=[12, 24, 60],
        index_name="horizon",
        n=[3000, 2900, 2800],
        method="difference_in_means",
        n_obs=3000,
    )
    fig, ax = plt.subplots()
    ax.plot(np.arange(10), np.arange(10) ** 2)
    sections = [
        Section(
            "Effects by horizon",
            text="Employment effects.",
            results={"ITT": res},
            figures=[("Effect by horizon", res.plot().figure), ("A curve", fig)],
        )
    ]
    rep = build_report(sections, out)
    plt.close("all")
    return rep


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is not installed (apt-get install -y chromium)"
    return exe


def test_html_has_no_parse_errors(report):
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(report.html_path.read_text())  # raises on the first HTML5 parse error
    assert parser.errors == []


def test_renders_in_headless_chromium_with_figures_and_no_console_errors(report, tmp_path):
    exe = _chromium()
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(report.html_path.read_text().replace("</body>", PROBE + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        base = [exe, *FLAGS, f"--user-data-dir={profile}"]
        shot = tmp_path / "shot.png"
        subprocess.run(
            [*base, "--window-size=1200,2400", f"--screenshot={shot}", report.html_path.as_uri()],
            check=True,
            capture_output=True,
            timeout=180,
        )
        dom = subprocess.run(
            [
                *base,
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=5000",
                "--dump-dom",
                probe_page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert dom.returncode == 0
    n_img = report.html_path.read_text().count("<img ")
    assert n_img >= 2
    assert f"images {n_img} decoded {n_img}" in dom.stdout
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln]
    assert console == []
    img = plt.imread(shot)
    assert img.shape[0] >= 2000 and img.shape[1] >= 1000
    # not a blank page: the figures and tables put plenty of non-white pixels on it
    non_white = (img[..., :3] < 0.9).any(axis=2).mean()
    assert non_white > 0.02
