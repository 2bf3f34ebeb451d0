"""`verify_details` / `trialkit verify` for cluster designs name the persons whose cluster
changed and the clusters whose membership differs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from trialkit.randomisation import randomise, verify, verify_details


def _persons(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    u = pd.DataFrame(
        {
            "person_id": np.arange(100, 100 + n),
            "municipality": rng.choice([f"m{i}" for i in range(8)], n),
        }
    )
    u["region"] = np.where(u["municipality"].isin(["m0", "m1", "m2", "m3"]), "north", "south")
    return u


def test_cluster_record_in_certificate() -> None:
    u = _persons()
    cert = randomise(u, cluster="municipality", strata="region", seed=3).certificate
    assert cert["cluster_labels"] == [f"m{i}" for i in range(8)]
    by_id = u.sort_values("person_id")["municipality"].tolist()
    assert [cert["cluster_labels"][c] for c in cert["id_clusters"]] == by_id
    assert verify(u.sample(frac=1, random_state=2), cert)


def test_person_moved_to_another_cluster_is_named() -> None:
    u = _persons()
    cert = randomise(u, cluster="municipality", strata="region", seed=3).certificate
    v = u.copy()
    old = v.loc[v["person_id"] == 105, "municipality"].item()
    new = "m1" if old != "m1" else "m2"
    v.loc[v["person_id"] == 105, "municipality"] = new
    d = verify_details(v, cert)
    assert not d.ok
    assert f"cluster changed for 1 units: [105: {old!r} -> {new!r}]" in d.differences
    line = next(x for x in d.differences if x.startswith("clusters changed"))
    assert f"members differ in 2 clusters: {sorted([old, new])!r}" in line
    assert not any(x.startswith("ids ") for x in d.differences)


def test_renamed_cluster_and_added_persons() -> None:
    u = _persons()
    cert = randomise(u, cluster="municipality", seed=3).certificate
    w = u.copy()
    n_m7 = int((w["municipality"] == "m7").sum())
    w.loc[w["municipality"] == "m7", "municipality"] = "m7b"
    d = verify_details(w, cert)
    line = next(x for x in d.differences if x.startswith("clusters changed"))
    assert "clusters added ['m7b'], removed ['m7']" in line
    assert any(x.startswith(f"cluster changed for {n_m7} units: [") for x in d.differences)
    # persons only added or removed: the id lines say it, and no cluster move is invented
    x = pd.concat([u.iloc[3:], pd.DataFrame({"person_id": [999], "municipality": ["m2"]})])
    d = verify_details(x.drop(columns="region"), cert)
    assert "ids added (1): [999]" in d.differences
    assert not any(y.startswith("cluster changed") for y in d.differences)


def test_cli_reports_cluster_moves(tmp_path) -> None:
    u = _persons(60)
    units, cert = tmp_path / "units.csv", tmp_path / "cert.json"
    u.to_csv(units, index=False)
    cmd = [sys.executable, "-m", "trialkit"]
    r = subprocess.run(
        [*cmd, "randomise", str(units), "--cluster", "municipality", "--seed", "2"]
        + ["--out", str(tmp_path / "out.csv"), "--certificate", str(cert)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    v = u.copy()
    old = v.loc[0, "municipality"]
    v.loc[0, "municipality"] = "m0" if old != "m0" else "m1"
    v.to_csv(units, index=False)
    bad = subprocess.run([*cmd, "verify", str(units), str(cert)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert (
        f"cluster changed for 1 units: [100: {old!r} -> {v.loc[0, 'municipality']!r}]" in bad.stderr
    )
