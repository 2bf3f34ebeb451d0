"""Open a trialkit report in headless Chromium: screenshot, console errors, images loaded.

Not part of the pytest suite (a fresh machine with only Python and pip has no
browser); run it where Debian's chromium is installed::

    apt-get install -y chromium
    trialkit demo --out demo && python tools/check_report_browser.py demo/report.html

Exit status 0 when the page rendered, every <img> decoded (naturalWidth > 0)
and the console logged no error; the screenshot is written next to the report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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
PROBE = (
    "JSON.stringify(Array.from(document.images).map(i => "
    "({alt: i.alt, w: i.naturalWidth, complete: i.complete})))"
)


def main(report: str) -> int:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found: apt-get install -y chromium", file=sys.stderr)
        return 2
    page = Path(report).resolve()
    shot = page.with_name("report_screenshot.png")
    with tempfile.TemporaryDirectory() as profile:
        base = [browser, *FLAGS, f"--user-data-dir={profile}"]
        subprocess.run(
            [*base, "--window-size=1200,6000", f"--screenshot={shot}", page.as_uri()],
            check=True,
            capture_output=True,
            timeout=120,
        )
        dom = subprocess.run(
            [
                *base,
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=5000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        images = subprocess.run(
            [
                *base,
                "--virtual-time-budget=5000",
                "--run-all-compositor-stages-before-draw",
                "--dump-dom",
                f"javascript:{PROBE}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    console_errors = [
        ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln and "ERROR" in ln.upper()
    ]
    n_img = dom.stdout.count("<img ")
    print(
        json.dumps(
            {
                "screenshot": str(shot),
                "screenshot_bytes": shot.stat().st_size,
                "images_in_dom": n_img,
                "console_errors": console_errors,
            },
            indent=2,
        )
    )
    del images
    ok = shot.stat().st_size > 50_000 and n_img > 0 and not console_errors
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "demo/report.html"))
