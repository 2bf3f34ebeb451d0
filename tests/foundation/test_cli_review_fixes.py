"""Review fixes of the ``trialkit`` command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trialkit.cli import main
from trialkit.randomisation._cli import _typed


def _randomise(units, out, cert, *extra):
    return main(
        [
            "randomise",
            str(units),
            "--strata",
            "band,office",
            "--seed",
            "7",
            "--out",
            str(out),
            "--certificate",
            str(cert),
            *extra,
        ]
    )


def _frame(ids) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "person_id": ids,
            "band": np.where(np.arange(n) % 3 == 0, "a", "b"),
            "office": (np.arange(n) % 4) * 10,  # numeric-looking strata codes
            "age": 20 + np.arange(n) % 40,
        }
    )


@pytest.mark.parametrize(
    "ids",
    [
        [f"{i:05d}" for i in range(1, 61)],  # leading zeros: text ids
        list(range(1, 61)),  # plain integer ids
    ],
    ids=["leading_zeros", "integers"],
)
def test_csv_and_parquet_give_the_same_assignment_and_cross_verify(tmp_path, capsys, ids):
    frame = _frame(ids)
    frame.to_csv(tmp_path / "u.csv", index=False)
    frame.to_parquet(tmp_path / "u.parquet", index=False)
    assert _randomise(tmp_path / "u.csv", tmp_path / "a.csv", tmp_path / "c_csv.json") == 0
    assert _randomise(tmp_path / "u.parquet", tmp_path / "a.pq", tmp_path / "c_pq.json") == 0
    c_csv = json.loads((tmp_path / "c_csv.json").read_text())
    c_pq = json.loads((tmp_path / "c_pq.json").read_text())
    assert c_csv["assignment_hash"] == c_pq["assignment_hash"]
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "u.parquet"), str(tmp_path / "c_csv.json")]) == 0
    assert main(["verify", str(tmp_path / "u.csv"), str(tmp_path / "c_pq.json")]) == 0
    assert capsys.readouterr().out.count("assignment verified") == 2
    written = pd.read_csv(tmp_path / "a.csv", dtype=str)["person_id"].tolist()
    assert sorted(written) == sorted(str(i) for i in ids)


def test_csv_design_columns_become_integers_only_when_canonical():
    def typed(values):
        return _typed(pd.Series(values, dtype="str", name="x"))

    assert typed(["00001", "2"]).tolist() == ["00001", "2"]
    out = typed(["17", "-3", "0"])
    assert out.dtype == np.int64 and out.tolist() == [17, -3, 0]
    out = typed(["17", None, "4"])  # as pandas reads an integer column with a gap
    assert out.dtype == np.float64 and out.iloc[0] == 17 and np.isnan(out.iloc[1])
    for kept in (["+1", "2"], [" 1", "2"], ["-0", "1"], ["1.0", "2"], ["9" * 20, "1"]):
        assert typed(kept).tolist() == kept
    assert typed(["True", "False"]).tolist() == [True, False]
