"""A file that is not a certificate is a user error: DataError, CLI exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import trialkit as tk


def test_non_json_certificate(tmp_path):
    units = pd.DataFrame({"person_id": range(10)})
    path = tmp_path / "units.csv"
    units.to_csv(path, index=False)
    with pytest.raises(tk.DataError, match="is not JSON"):
        tk.verify(units, str(path))
    proc = subprocess.run(
        [sys.executable, "-m", "trialkit", "verify", str(path), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "is not JSON" in proc.stderr and "Traceback" not in proc.stderr
