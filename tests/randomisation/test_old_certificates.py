"""Certificates of algorithm version 1 (committed fixtures) still verify and re-derive.

Fixtures: tests/reference/randomisation/certificates_v1/*_cert.json and *_table.csv,
written by make_certificates.py there with trialkit 0.1.0 (algorithm version "1").
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from trialkit.randomisation import verify, verify_details

REF = Path(__file__).parents[1] / "reference" / "randomisation" / "certificates_v1"
NAMES = sorted(p.name.removesuffix("_cert.json") for p in REF.glob("*_cert.json"))


def _units() -> pd.DataFrame:
    return pd.read_csv(REF / "units.csv")


def test_fixtures_are_there() -> None:
    assert len(NAMES) == 7


@pytest.mark.parametrize("name", NAMES)
def test_version_1_certificate_verifies(name: str) -> None:
    cert = json.loads((REF / f"{name}_cert.json").read_text())
    assert cert["algorithm_version"] == "1"
    units = _units()
    d = verify_details(units.sample(frac=1, random_state=5), cert)
    assert d.ok, d.differences
    assert verify(units, REF / f"{name}_cert.json")


@pytest.mark.parametrize("name", NAMES)
def test_version_1_certificate_detects_changes(name: str) -> None:
    cert = json.loads((REF / f"{name}_cert.json").read_text())
    units = _units()
    assert not verify(units.iloc[1:], cert)
    if cert["strata"]:
        col = cert["strata"][0]
        moved = units.copy()
        moved.loc[0, col] = sorted(units[col].unique())[-1] + "-new"
        assert not verify(moved, cert)


@pytest.mark.parametrize("name", NAMES)
def test_version_1_assignment_rederives(name: str) -> None:
    from trialkit.randomisation.assignment import _rederive as rederive

    cert = json.loads((REF / f"{name}_cert.json").read_text())
    units = _units()
    table = pd.read_csv(REF / f"{name}_table.csv")
    arms = rederive(units, cert)
    idc = cert["id"]
    got = arms.set_index(idc)["arm"].astype(str)
    want = table.set_index(idc)["arm"].astype(str)
    assert got.loc[want.index].tolist() == want.tolist()
