"""Certificates written by trialkit's randomisation algorithm version 1 (run once; output committed).

Made with trialkit 0.1.0 at commit 161e0c3 (algorithm_version "1"), numpy 2.4, pandas 2.3:

    python tests/reference/randomisation/certificates_v1/make_certificates.py

``units.csv`` holds the units; each design writes ``<name>_cert.json`` (the
certificate) and ``<name>_table.csv`` (the assignment). Later versions of
trialkit must still verify these certificates and re-derive exactly these arms.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.randomisation import randomise

HERE = Path(__file__).parent
rng = np.random.default_rng(11)
n = 300
persons = pd.DataFrame(
    {
        "person_id": rng.choice(100_000, n, replace=False),
        "band": rng.choice(["0-3m", "3-12m", "12m+"], n),
        "age_band": rng.choice(["<30", "30-49", "50+"], n),
        "municipality": rng.choice([f"m{i:02d}" for i in range(12)], n),
        "x": rng.normal(size=n).round(3),
        "x2": rng.normal(size=n).round(3),
    }
)
persons["region"] = persons["municipality"].map({f"m{i:02d}": f"r{i % 3}" for i in range(12)})
persons["code"] = "p" + persons["person_id"].astype(str)

designs = {
    "complete_strata": dict(strata=["band", "age_band"], arms={"control": 2, "treatment": 1}),
    "complete_str_ids": dict(id="code", strata="band", arms=["control", "a", "b"]),
    "bernoulli": dict(method="bernoulli", arms={"control": 1, "treatment": 3}),
    "cluster_strata": dict(cluster="municipality", strata="region"),
    "stepped_wedge": dict(cluster="municipality", method="stepped_wedge", steps=4),
    "lottery": dict(method="lottery", capacity=120),
    "rerandomised": dict(method="rerandomised", covariates=["x", "x2"], acceptance=0.2),
}

if __name__ == "__main__":
    persons.to_csv(HERE / "units.csv", index=False)
    for name, kw in designs.items():
        a = randomise(persons, seed=2017, **kw)
        a.table.to_csv(HERE / f"{name}_table.csv", index=False)
        a.save_certificate(str(HERE / f"{name}_cert.json"))
