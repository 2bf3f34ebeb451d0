"""Make regression_mpdta.json: TWFE, event-study, 2x2 and Sun-Abraham regressions on mpdta.

Made by established packages, independently of trialkit:
* pyfixest 0.60.0 ``feols`` with unit and year fixed effects, CRV1 by county (fixest
  small-sample defaults) -- coefficients and standard errors;
* linearmodels 7.1 ``PanelOLS`` (entity and time effects) -- coefficients;
* statsmodels 0.15 ``OLS`` with ``cov_type="cluster"`` -- the canonical 2x2 with a covariate.
Python 3.11, numpy 2.4, pandas 2.3.

Run:  python make_regression_fixture.py
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pyfixest as pf
import statsmodels.formula.api as smf
from linearmodels.panel import PanelOLS

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    d = pd.read_csv(os.path.join(HERE, "mpdta.csv"))
    d["D"] = ((d.first_treat > 0) & (d.year >= d.first_treat)).astype(float)
    out: dict = {}
    # TWFE
    m = pf.feols("lemp ~ D | countyreal + year", data=d, vcov={"CRV1": "countyreal"})
    p = d.set_index(["countyreal", "year"])
    lm = PanelOLS(p.lemp, p[["D"]], entity_effects=True, time_effects=True).fit()
    out["twfe"] = {
        "pyfixest_coef": float(m.coef()["D"]),
        "pyfixest_se": float(m.se()["D"]),
        "linearmodels_coef": float(lm.params["D"]),
    }
    # event studies: full window and binned window [-2, 1]
    for name, lo, hi in (("event_full", -4, 3), ("event_binned", -2, 1)):
        rel = np.where(d.first_treat > 0, np.clip(d.year - d.first_treat, lo, hi), -1)
        dd = d.assign(rel=rel)
        labels = [e for e in range(lo, hi + 1) if e != -1]
        for e in labels:
            dd[f"e{e + 10}"] = (dd.rel == e).astype(float)
        rhs = " + ".join(f"e{e + 10}" for e in labels)
        m = pf.feols(f"lemp ~ {rhs} | countyreal + year", data=dd, vcov={"CRV1": "countyreal"})
        lm = PanelOLS(
            dd.set_index(["countyreal", "year"]).lemp,
            dd.set_index(["countyreal", "year"])[[f"e{e + 10}" for e in labels]],
            entity_effects=True,
            time_effects=True,
        ).fit()
        out[name] = {
            "event_time": labels,
            "pyfixest_coef": [float(m.coef()[f"e{e + 10}"]) for e in labels],
            "pyfixest_se": [float(m.se()[f"e{e + 10}"]) for e in labels],
            "linearmodels_coef": [float(lm.params[f"e{e + 10}"]) for e in labels],
        }
    # Sun & Abraham: cohort x event-time interactions (never treated as control), then
    # cohort-share weights within each event time (Sun & Abraham 2021, eq. 16)
    rel = np.where(d.first_treat > 0, d.year - d.first_treat, -99)
    cols, meta = [], []
    for c in sorted(d.first_treat[d.first_treat > 0].unique()):
        for e in range(-4, 4):
            if e == -1:
                continue
            col = ((d.first_treat == c) & (rel == e)).astype(float)
            if col.sum() > 0:
                nm = f"c{c}_e{e + 10}"
                d[nm] = col
                cols.append(nm)
                meta.append((int(c), e))
    m = pf.feols(
        f"lemp ~ {' + '.join(cols)} | countyreal + year", data=d, vcov={"CRV1": "countyreal"}
    )
    b = m.coef()[cols].to_numpy()
    v = m._vcov
    size = d.groupby("countyreal").first_treat.first().value_counts()
    labels = sorted({e for _, e in meta})
    w = np.zeros((len(labels), len(cols)))
    for i, e in enumerate(labels):
        sel = [j for j, (_, ee) in enumerate(meta) if ee == e]
        sh = np.array([size[meta[j][0]] for j in sel], dtype=float)
        w[i, sel] = sh / sh.sum()
    out["sun_abraham"] = {
        "event_time": labels,
        "cohort_event": meta,
        "cohort_coef": b.tolist(),
        "iw_coef": (w @ b).tolist(),
        "iw_se": np.sqrt(np.diag(w @ v @ w.T)).tolist(),
    }
    # canonical 2x2: cohort 2006 vs never treated, post = year >= 2006, covariate lpop
    s = d[(d.first_treat == 2006) | (d.first_treat == 0)].copy()
    s["treat"] = (s.first_treat == 2006).astype(float)
    s["post"] = (s.year >= 2006).astype(float)
    for formula, key in (
        ("lemp ~ treat * post", "two_by_two"),
        ("lemp ~ treat * post + lpop", "two_by_two_lpop"),
    ):
        r = smf.ols(formula, data=s).fit(cov_type="cluster", cov_kwds={"groups": s.countyreal})
        out[key] = {"coef": float(r.params["treat:post"]), "se": float(r.bse["treat:post"])}
    with open(os.path.join(HERE, "regression_mpdta.json"), "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
