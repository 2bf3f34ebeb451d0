"""Review fixes of the ``trialkit`` command line."""

from __future__ import annotations

import json
import warnings

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


def _one_line_error(capsys, command: str, *needles: str) -> None:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"trialkit {command}: error: ")
    assert "Traceback" not in captured.err
    for needle in needles:
        assert needle in lines[0]


def test_empty_csv_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "empty.csv").write_text("")
    units = tmp_path / "empty.csv"
    assert main(["randomise", str(units), "--out", str(tmp_path / "o.csv"), "--certificate",
                 str(tmp_path / "c.json")]) == 2  # fmt: skip
    _one_line_error(capsys, "randomise", "empty.csv", "is empty")
    _frame(list(range(1, 61))).to_csv(tmp_path / "u.csv", index=False)
    assert _randomise(tmp_path / "u.csv", tmp_path / "a.csv", tmp_path / "c.json") == 0
    capsys.readouterr()
    assert main(["verify", str(units), str(tmp_path / "c.json")]) == 2
    _one_line_error(capsys, "verify", "is empty")


def test_unwritable_or_unknown_outputs_are_refused_before_randomising(tmp_path, capsys):
    _frame(list(range(1, 61))).to_csv(tmp_path / "u.csv", index=False)
    cert = tmp_path / "c.json"
    cases = [
        (["--out", str(tmp_path / "nowhere" / "x.csv")], ["--out", "does not exist"]),
        (["--out", str(tmp_path / "x.xlsx")], ["--out", "x.xlsx", ".csv", ".parquet"]),
        (["--out", str(tmp_path / "x.csv"), "--certificate", str(tmp_path / "no" / "c.json")],
         ["--certificate", "does not exist"]),
    ]  # fmt: skip
    for extra, needles in cases:
        args = ["randomise", str(tmp_path / "u.csv"), "--seed", "1", *extra]
        if "--certificate" not in extra:
            args += ["--certificate", str(cert)]
        assert main(args) == 2, extra
        _one_line_error(capsys, "randomise", *needles)
        assert not cert.exists()  # nothing was written
        assert not (tmp_path / "x.xlsx").exists()
    out = tmp_path / "x.csv.gz"
    assert main(["randomise", str(tmp_path / "u.csv"), "--out", str(out), "--certificate",
                 str(cert), "--seed", "1"]) == 0  # fmt: skip
    assert len(pd.read_csv(out)) == 60


def test_demo_out_that_is_a_file_is_refused_before_running(tmp_path, capsys, monkeypatch):
    import trialkit.demo

    def boom(*args, **kwargs):
        raise AssertionError("run_demo must not start")

    monkeypatch.setattr(trialkit.demo, "run_demo", boom)
    target = tmp_path / "afile"
    target.write_text("x")
    assert main(["demo", "--out", str(target), "--quiet"]) == 2
    _one_line_error(capsys, "demo", "is a file, not a folder")
    assert main(["demo", "--out", str(target / "sub"), "--quiet"]) == 2
    _one_line_error(capsys, "demo", "is a file, not a folder")


def test_os_errors_are_one_line(tmp_path, capsys, monkeypatch):
    import trialkit.demo

    def denied(*args, **kwargs):
        raise NotADirectoryError(20, "Not a directory", "x/figures")

    monkeypatch.setattr(trialkit.demo, "run_demo", denied)
    assert main(["demo", "--out", str(tmp_path / "d"), "--quiet"]) == 2
    _one_line_error(capsys, "demo", "Not a directory")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["cluster", "--icc", "0.05", "--n-clusters", "40.5", "--cluster-size", "50"],
         "--n-clusters: must be a whole number >= 1; got '40.5'"),
        (["cluster", "--icc", "0.05", "--n-clusters", "40", "--cluster-size", "0.5"],
         "--cluster-size: must be a number >= 1"),
        (["cluster", "--icc", "0.05", "--n-clusters", "0"], "--n-clusters: must be a whole"),
        (["individual", "--n-total", "100.5"], "--n-total: must be a whole number"),
        (["did", "--autocorrelation", "0.5", "--n-total", "nan"], "--n-total: must be a whole"),
        (["stepped-wedge", "--n-clusters", "10", "--n-steps", "5", "--icc", "0.05",
          "--cluster-period-size", "2.5"], "--cluster-period-size: must be a whole"),
        (["survival", "--events", "99.5"], "--events: must be a whole number"),
    ],
)  # fmt: skip
def test_power_counts_must_be_whole_numbers(capsys, args, needle):
    with pytest.raises(SystemExit) as exc:
        main(["power", *args, "--effect", "0.2"])
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def test_power_cluster_sizes(capsys):
    assert main(["power", "cluster", "--icc", "0.05", "--n-clusters", "40", "--cluster-size",
                 "12.5", "--effect", "0.2"]) == 2  # fmt: skip
    _one_line_error(capsys, "power", "--cluster-size must be a whole number", "12.5")
    assert main(["power", "cluster", "--icc", "0.05", "--n-clusters", "40", "--cluster-size",
                 "12.5", "--cluster-size-cv", "0.3", "--effect", "0.2", "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["n_total"] == 500
    assert main(["power", "cluster", "--icc", "0.05", "--n-clusters", "40", "--cluster-size",
                 "50", "--effect", "0.2", "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["n_total"] == 2000 and out["n_per_arm"] == [1000, 1000]


def test_did_power_without_sampling_variance_is_a_design_error(capsys):
    from trialkit.errors import DesignError
    from trialkit.power import DiDPower

    for estimator in ("ancova", "did"):
        d = DiDPower(estimator=estimator, autocorrelation=1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no numpy divide-by-zero warning either
            with pytest.raises(DesignError, match="has no sampling variance"):
                d.power(effect=0.1, n_total=100)
            with pytest.raises(DesignError, match="has no sampling variance"):
                d.mde(n_total=1000)
            with pytest.raises(DesignError, match="has no sampling variance"):
                d.sample_size(effect=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["power", "did", "--estimator", "did", "--autocorrelation", "1",
                     "--effect", "0.1", "--n-total", "100"]) == 2  # fmt: skip
    _one_line_error(capsys, "power", "'did' estimator has no sampling variance")
    assert main(["power", "did", "--autocorrelation", "1", "--n-total", "1000"]) == 2
    _one_line_error(capsys, "power", "'ancova' estimator has no sampling variance")
    # below 1 the variance is positive and the power is an ordinary number
    assert (
        0 < DiDPower(estimator="did", autocorrelation=0.99).power(effect=0.1, n_total=100).power < 1
    )


def test_verify_compares_the_arm_column(tmp_path, capsys):
    import trialkit as tk

    units = _frame([f"{i:05d}" for i in range(1, 61)])
    units.to_csv(tmp_path / "u.csv", index=False)
    cert = tmp_path / "c.json"
    assert _randomise(tmp_path / "u.csv", tmp_path / "out.csv", cert) == 0
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    merged = units.merge(out[["person_id", "arm"]], on="person_id")
    merged.to_csv(tmp_path / "m.csv", index=False)
    merged.to_parquet(tmp_path / "m.parquet", index=False)
    capsys.readouterr()
    for name in ("m.csv", "m.parquet"):
        assert main(["verify", str(tmp_path / name), str(cert)]) == 0
        assert "the `arm` column matches it for all 60 units" in capsys.readouterr().out
    # one arm changed: exit 1, the count and the id are reported
    tampered = merged.copy()
    i = 7
    tampered.loc[i, "arm"] = "control" if merged.loc[i, "arm"] == "treatment" else "treatment"
    tampered.loc[[3, 4], "arm"] = np.nan  # a missing arm differs too
    tampered.to_csv(tmp_path / "t.csv", index=False)
    assert main(["verify", str(tmp_path / "t.csv"), str(cert)]) == 1
    err = capsys.readouterr().err
    assert "assignment NOT verified" in err
    assert "differs from the assignment re-derived from the certificate for 3 of 60 units" in err
    assert all(merged.loc[j, "person_id"] in err for j in (3, 4, i))
    # the Python API is unchanged: it checks ids and design columns, not the arm column
    assert tk.verify(units, str(cert)) is True
    assert tk.verify(tampered, str(cert)) is True
    # without an arm column the CLI says what it said before
    assert main(["verify", str(tmp_path / "u.csv"), str(cert)]) == 0
    assert capsys.readouterr().out.strip() == (
        "assignment verified: it re-derives exactly from the certificate"
    )


def test_verify_accepts_certificates_of_the_earlier_csv_reading(tmp_path, capsys):
    # before 2026-11-30 `trialkit randomise` read CSV with pandas' types: "00007" became 7
    import trialkit as tk

    ids = [f"{i:05d}" for i in range(1, 41)]
    pd.DataFrame({"client": ids, "band": ["01", "02"] * 20}).to_csv(tmp_path / "u.csv", index=False)
    legacy = pd.read_csv(tmp_path / "u.csv")
    assert legacy["client"].dtype.kind == "i"
    a = tk.randomise(legacy, id="client", strata="band", seed=3)
    a.save_certificate(str(tmp_path / "old.json"))
    assert main(["verify", str(tmp_path / "u.csv"), str(tmp_path / "old.json")]) == 0
    assert "before 2026-11-30" in capsys.readouterr().err
    # and a changed file still fails
    pd.DataFrame({"client": ids[:-1], "band": ["01", "02"] * 19 + ["01"]}).to_csv(
        tmp_path / "v.csv", index=False
    )
    assert main(["verify", str(tmp_path / "v.csv"), str(tmp_path / "old.json")]) == 1
