"""Make csdid_mpdta.json: group-time ATTs and aggregations on mpdta from the Python `csdid` package.

Provenance
----------
* Data: ``mpdta.csv`` (this folder) is the ``mpdta`` data set of Callaway & Sant'Anna (2021)
  (500 US counties 2003-2007, log teen employment ``lemp``, log population ``lpop``,
  first year of a minimum-wage increase ``first_treat``; 0 = never), as shipped in the R
  package ``did`` and redistributed in the PyPI wheel ``moderndid-0.2.0``
  (``moderndid/core/datasets/mpdta_long.pkl.gz``, MIT licence). Converted to CSV with
  pandas (column ``first.treat`` renamed ``first_treat``); values unchanged.
* Reference implementation: ``csdid`` 0.4.3 (Rios-Avila, Sant'Anna, Callaway, Naqvi:
  Python port of the R package ``did``) with ``drdid`` 1.1.7, numpy 2.4.6, pandas 3.1.1,
  installed into a scratch directory (``pip install --target``), NOT a dependency of trialkit.
  Analytic standard errors (``bstrap=False``) so the fixture is deterministic.

Run:  PYTHONPATH=/tmp/didpk/site python make_csdid_fixture.py
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pandas as pd
from csdid.att_gt import ATTgt

HERE = os.path.dirname(os.path.abspath(__file__))


def tolist(x):
    return [
        None if (v is None or not np.isfinite(v)) else float(v)
        for v in np.asarray(x, dtype=float).ravel()
    ]


def main() -> None:
    data = pd.read_csv(os.path.join(HERE, "mpdta.csv"))
    out = {"source": "csdid 0.4.3 / drdid 1.1.7 on mpdta; analytic SEs (bstrap=False)", "runs": []}
    configs = [
        ("nevertreated", None, "reg"),
        ("notyettreated", None, "reg"),
        ("nevertreated", "~lpop", "dr"),
        ("nevertreated", "~lpop", "ipw"),
        ("nevertreated", "~lpop", "reg"),
        ("notyettreated", "~lpop", "dr"),
    ]
    for control, xf, est in configs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = ATTgt(
                yname="lemp",
                gname="first_treat",
                idname="countyreal",
                tname="year",
                xformla=xf,
                data=data,
                control_group=control,
            ).fit(est_method=est, bstrap=False)
            res = m.results
            run = {
                "control_group": control,
                "xformla": xf,
                "est_method": est,
                "group": tolist(res["group"]),
                "time": tolist(res["year"]),
                "att": tolist(res["att"]),
                "se": tolist(res["se"]),
                "aggregations": {},
            }
            for typ in ("simple", "dynamic", "group", "calendar"):
                m.aggte(typec=typ, bstrap=False)
                a = m.atte
                run["aggregations"][typ] = {
                    "overall_att": float(a["overall_att"]),
                    "overall_se": float(a["overall_se"]),
                    "egt": tolist(a["egt"]) if a["egt"] is not None else None,
                    "att_egt": tolist(a["att_egt"]) if a["att_egt"] is not None else None,
                    "se_egt": tolist(a["se_egt"]) if a["se_egt"] is not None else None,
                }
        out["runs"].append(run)
    with open(os.path.join(HERE, "csdid_mpdta.json"), "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
