"""`trialkit randomise` and `trialkit verify`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from trialkit.cli import main
from trialkit.randomisation import randomise


def _write_units(path, n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    u = pd.DataFrame(
        {"person_id": np.arange(n), "a": rng.choice(["x", "y"], n), "b": rng.choice(["p", "q"], n)}
    )
    if str(path).endswith(".parquet"):
        u.to_parquet(path, index=False)
    else:
        u.to_csv(path, index=False)
    return u


def test_randomise_then_verify_round_trip(tmp_path, capsys) -> None:
    units = tmp_path / "units.csv"
    u = _write_units(units)
    out, cert = tmp_path / "out.csv", tmp_path / "cert.json"
    rc = main(
        [
            "randomise",
            str(units),
            "--id",
            "person_id",
            "--strata",
            "a,b",
            "--arms",
            "control,treatment",
            "--seed",
            "1",
            "--out",
            str(out),
            "--certificate",
            str(cert),
        ]
    )
    assert rc == 0
    table = pd.read_csv(out)
    api = randomise(u, strata=["a", "b"], seed=1).table
    assert (table["arm"].to_numpy() == api["arm"].astype(str).to_numpy()).all()
    assert json.loads(cert.read_text())["seed"]["entropy"] == 1
    assert main(["verify", str(units), str(cert)]) == 0
    assert "verified" in capsys.readouterr().out


def test_verify_fails_and_says_what_changed(tmp_path, capsys) -> None:
    units = tmp_path / "units.parquet"
    u = _write_units(units)
    cert = tmp_path / "c.json"
    assert (
        main(
            [
                "randomise",
                str(units),
                "--strata",
                "a",
                "--arms",
                "control:2,treatment:1",
                "--seed",
                "5",
                "--out",
                str(tmp_path / "o.parquet"),
                "--certificate",
                str(cert),
            ]
        )
        == 0
    )
    u.iloc[:-1].to_parquet(units, index=False)
    assert main(["verify", str(units), str(cert)]) == 1
    assert "1 fewer" in capsys.readouterr().err
    changed = u.copy()
    changed.loc[0, "a"] = "y" if u.loc[0, "a"] == "x" else "x"
    changed.to_parquet(units, index=False)
    assert main(["verify", str(units), str(cert)]) == 1
    assert "strata changed" in capsys.readouterr().err


def test_bad_input_exits_2_with_one_line(tmp_path, capsys) -> None:
    units = tmp_path / "units.csv"
    pd.DataFrame({"person_id": [1, 1, 2]}).to_csv(units, index=False)
    rc = main(
        [
            "randomise",
            str(units),
            "--seed",
            "1",
            "--out",
            str(tmp_path / "o.csv"),
            "--certificate",
            str(tmp_path / "c.json"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "more than once" in err and len(err.strip().splitlines()) == 1
