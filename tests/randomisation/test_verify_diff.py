"""`verify_details` and `trialkit verify` name the ids added/removed and the units whose stratum changed."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from trialkit.randomisation import randomise, verify, verify_details
from trialkit.randomisation.assignment import _pack_ints, _unpack_ints


def _units(n: int = 60, *, start: int = 0) -> pd.DataFrame:
    ids = np.arange(start, start + 3 * n, 3)
    return pd.DataFrame({"person_id": ids, "band": np.where(ids % 2 == 0, "a", "b")})


def test_certificate_stores_sorted_ids_and_their_strata() -> None:
    u = _units().sample(frac=1, random_state=2)
    cert = randomise(u, strata="band", seed=4).certificate
    assert cert["ids"] == sorted(u["person_id"].tolist())
    labels = [cert["stratum_labels"][c] for c in cert["id_strata"]]
    assert labels == u.set_index("person_id").sort_index()["band"].tolist()
    assert json.loads(json.dumps(cert)) == cert


def test_added_and_removed_ids_are_listed() -> None:
    u = _units()
    cert = randomise(u, strata="band", seed=4).certificate
    changed = pd.concat(
        [u[~u["person_id"].isin([9, 30])], pd.DataFrame({"person_id": [1000], "band": ["a"]})]
    )
    d = verify_details(changed, cert)
    assert not d.ok
    assert "ids added (1): [1000]" in d.differences
    assert "ids removed (2): [9, 30]" in d.differences


def test_lists_are_cut_at_twenty_with_a_count() -> None:
    u = _units(100)
    cert = randomise(u, seed=4).certificate
    d = verify_details(u.iloc[25:], cert)
    line = next(x for x in d.differences if x.startswith("ids removed"))
    assert line.startswith("ids removed (25): [0, 3, 6,")
    assert "57, ... (5 more)]" in line


def test_units_whose_stratum_changed_are_named() -> None:
    u = _units()
    cert = randomise(u, strata="band", seed=4).certificate
    moved = u.copy()
    moved.loc[moved["person_id"] == 12, "band"] = "b"
    d = verify_details(moved, cert)
    assert "strata changed for 1 units: [12: 'a' -> 'b']" in d.differences
    assert not any(x.startswith("ids ") for x in d.differences)


def test_string_ids() -> None:
    u = _units().assign(person_id=lambda d: "p" + d["person_id"].astype(str))
    cert = randomise(u, strata="band", seed=4).certificate
    assert cert["ids"] == sorted(u["person_id"])
    d = verify_details(
        pd.concat([u.iloc[1:], pd.DataFrame({"person_id": ["new"], "band": ["b"]})]), cert
    )
    assert "ids added (1): ['new']" in d.differences
    assert "ids removed (1): ['p0']" in d.differences


def test_large_id_lists_are_packed_and_round_trip() -> None:
    rng = np.random.default_rng(0)
    n = 120_000
    u = pd.DataFrame(
        {
            "person_id": rng.choice(10**13, n, replace=False) - 5 * 10**12,
            "s": rng.integers(0, 700, n),
        }
    )
    a = randomise(u, strata="s", seed=9)
    cert = json.loads(json.dumps(a.certificate))
    assert cert["ids"]["encoding"] == "base64"
    np.testing.assert_array_equal(_unpack_ints(cert["ids"]), np.sort(u["person_id"].to_numpy()))
    by_id = u.sort_values("person_id")["s"].astype(str).to_numpy()
    got = np.asarray(cert["stratum_labels"])[_unpack_ints(cert["id_strata"])]
    np.testing.assert_array_equal(got, by_id)
    assert verify(u.sample(frac=1, random_state=1), cert)
    v = u.drop(index=[7]).copy()
    v.loc[11, "s"] = 10_000
    d = verify_details(v, cert)
    assert f"ids removed (1): [{u.loc[7, 'person_id']}]" in d.differences
    assert (
        f"strata changed for 1 units: [{u.loc[11, 'person_id']}: '{u.loc[11, 's']}' -> '10000']"
        in d.differences
    )


@pytest.mark.parametrize("values", [[-(2**63), -1, 0, 2**63 - 1], [5, 5 + 2**40, 7 + 2**40]])
def test_pack_extremes(values, monkeypatch) -> None:
    monkeypatch.setattr("trialkit.randomisation.assignment._IDS_INLINE_MAX", 1)
    a = np.asarray(values, dtype=np.int64)
    np.testing.assert_array_equal(
        _unpack_ints(json.loads(json.dumps(_pack_ints(a, delta=True)))), a
    )
    np.testing.assert_array_equal(_unpack_ints(_pack_ints(a, delta=False)), a)


def test_old_certificates_without_ids_still_verify_and_report_counts() -> None:
    u = _units()
    cert = dict(randomise(u, strata="band", seed=4).certificate)
    del cert["ids"], cert["id_strata"]
    assert verify(u, cert)
    d = verify_details(u.iloc[2:], cert)
    assert d.differences[0] == "ids changed: 60 units in the certificate, 58 now (2 fewer)"
    assert not any(x.startswith("ids removed") for x in d.differences)


def test_cli_verify_names_the_differences(tmp_path) -> None:
    u = _units()
    units, cert = tmp_path / "units.csv", tmp_path / "cert.json"
    u.to_csv(units, index=False)
    cmd = [sys.executable, "-m", "trialkit"]
    r = subprocess.run(
        [
            *cmd,
            "randomise",
            str(units),
            "--strata",
            "band",
            "--seed",
            "3",
            "--out",
            str(tmp_path / "out.csv"),
            "--certificate",
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    ok = subprocess.run([*cmd, "verify", str(units), str(cert)], capture_output=True, text=True)
    assert ok.returncode == 0 and "verified" in ok.stdout
    v = u[u["person_id"] != 6].copy()
    v.loc[v["person_id"] == 15, "band"] = "a"
    pd.concat([v, pd.DataFrame({"person_id": [999], "band": ["b"]})]).to_csv(units, index=False)
    bad = subprocess.run([*cmd, "verify", str(units), str(cert)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "ids added (1): [999]" in bad.stderr
    assert "ids removed (1): [6]" in bad.stderr
    assert "strata changed for 1 units: [15: 'b' -> 'a']" in bad.stderr
