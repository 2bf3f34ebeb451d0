"""Make absorbed_panel.csv.gz and absorbed_pyfixest.json: person x month DiD with absorbed effects.

The panel (600 persons x 12 months, 40 municipalities, 10 treated from month 6, a covariate,
person-level weights; an unbalanced version drops 20 % of rows) is simulated here with
numpy's default_rng(0) and stored, so the test does not depend on the generator.
Reference: pyfixest 0.60.0 ``feols(y ~ treated [+ x] | person_id + month)``, CRV1 (fixest
small-sample defaults), optional weights. Python 3.11, numpy 2.4, pandas 2.3.

Run:  python make_absorbed_fixture.py
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pyfixest as pf

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    rng = np.random.default_rng(0)
    n, T = 600, 12
    df = pd.DataFrame({"person_id": np.repeat(np.arange(n), T), "month": np.tile(np.arange(T), n)})
    df["municipality"] = df.person_id % 40
    df["treated"] = ((df.municipality < 10) & (df.month >= 6)).astype(int)
    df["x"] = rng.normal(size=len(df)).round(6)
    df["y"] = (
        rng.normal(size=n).repeat(T)
        + 0.1 * df.month
        + 0.5 * df.treated
        + 0.3 * df.x
        + rng.normal(size=len(df))
    ).round(6)
    df["w"] = rng.uniform(0.5, 2, size=n).repeat(T).round(6)
    df["keep"] = rng.random(len(df)) > 0.2
    df.to_csv(os.path.join(HERE, "absorbed_panel.csv.gz"), index=False)
    out = {}
    cases = {
        "balanced": (df, "y ~ treated | person_id + month", "person_id", None),
        "balanced_x_muni": (df, "y ~ treated + x | person_id + month", "municipality", None),
        "weighted_x": (df, "y ~ treated + x | person_id + month", "person_id", "w"),
        "unbalanced_x": (df[df.keep], "y ~ treated + x | person_id + month", "person_id", None),
    }
    for key, (d, form, cl, w) in cases.items():
        m = pf.feols(form, data=d, vcov={"CRV1": cl}, weights=w)
        out[key] = {"coef": m.coef().to_dict(), "se": m.se().to_dict()}
    with open(os.path.join(HERE, "absorbed_pyfixest.json"), "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
