"""`trialkit power ...` command line."""

from __future__ import annotations

import json

import pytest

import trialkit as tk
from trialkit.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["power", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_individual_json_as_in_api_doc(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "individual",
        "--outcome",
        "continuous",
        "--sd",
        "1",
        "--effect",
        "0.5",
        "--power",
        "0.8",
        "--json",
    )
    d = json.loads(out)
    assert code == 0 and d["n_per_arm"] == [64, 64] and d["n_total"] == 128 and d["power"] == 0.8
    assert d["effect"] == 0.5 and d["alpha"] == 0.05


def test_cluster_json_as_in_api_doc(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "cluster", "--icc", "0.05", "--cluster-size", "50", "--n-clusters", "40", "--json"
    )
    d = json.loads(out)
    ref = tk.power.ClusterRCT(icc=0.05, cluster_size=50).mde(n_clusters=40)
    assert (
        code == 0
        and d["mde"] == pytest.approx(ref.mde)
        and d["n_clusters"] == 40
        and d["n_total"] == 2000
    )


def test_other_designs_print_tables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "survival", "--hazard-ratio", "0.75")
    assert code == 0 and "380" in out and "events" in out
    code, out, _ = run(
        capsys,
        "stepped-wedge",
        "--n-clusters",
        "24",
        "--n-steps",
        "4",
        "--icc",
        "0.05",
        "--cluster-period-size",
        "50",
        "--effect",
        "0.1",
        "--json",
    )
    ref = tk.power.SteppedWedge(n_clusters=24, n_steps=4, cluster_period_size=50, icc=0.05).power(
        effect=0.1
    )
    assert code == 0 and json.loads(out)["power"] == pytest.approx(ref.power)
    code, out, _ = run(capsys, "did", "--autocorrelation", "0.5", "--effect", "0.2", "--json")
    assert code == 0 and json.loads(out)["n_total"] == 590


def test_bad_input_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "individual", "--effect", "0.5", "--alpha", "1.5")
    assert code == 2 and "alpha" in err and len(err.strip().splitlines()) == 1
    # effect and clusters without a cluster size: solve for the cluster size -- unreachable here
    code, out, err = run(
        capsys, "cluster", "--icc", "0.05", "--n-clusters", "40", "--effect", "0.1"
    )
    assert code == 2 and "asymptote" in err
    code, out, err = run(
        capsys,
        "cluster",
        "--icc",
        "0.05",
        "--cluster-size",
        "50",
        "--n-clusters",
        "40",
        "--effect",
        "0.3",
        "--power",
        "0.8",
    )
    assert code == 2 and "--power is a target" in err
