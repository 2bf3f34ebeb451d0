"""Benchmark trialkit.diffindiff against the peers a user would otherwise reach for.

1. Group-time ATT (Callaway & Sant'Anna) on a staggered panel, default 3,000 units x 120
   periods: ``tk.did(method="group_time")`` (analytic SEs and 999-draw multiplier bootstrap)
   vs the Python ``csdid`` and ``differences`` packages when importable.
2. Two-way fixed effects on a person x month panel, default 10 million rows:
   ``tk.diffindiff.absorbed_did`` vs ``pyfixest.feols`` and ``linearmodels.PanelOLS``.

Each method runs in its own subprocess on the same data file, so times and peak memory
(maximum resident set size of that process) are comparable. Peers that are not installed
are reported as such. ``--peer-path DIR`` is prepended to ``sys.path`` of the peer
subprocesses only (e.g. a scratch ``pip install --target`` of csdid), never to trialkit's.

Usage::

    python benchmarks/bench_did.py            # full size
    python benchmarks/bench_did.py --quick    # small sizes, a few seconds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pandas as pd

RUNNER = textwrap.dedent(
    """
    import json, resource, sys, time, warnings
    warnings.simplefilter("ignore")
    peer_path, kind, method, path = sys.argv[1:5]
    if peer_path:
        sys.path.insert(0, peer_path)
    import pandas as pd
    df = pd.read_parquet(path)
    # import the package outside the timed region
    mod = {"trialkit_analytic": "trialkit", "trialkit_bootstrap": "trialkit", "trialkit": "trialkit",
           "csdid": "csdid.att_gt", "differences": "differences", "pyfixest": "pyfixest",
           "linearmodels": "linearmodels.panel"}[method]
    __import__(mod)
    if mod == "trialkit":
        import trialkit.diffindiff
    t0 = time.perf_counter()
    out = None
    if kind == "gt":
        if method == "trialkit_analytic":
            import trialkit as tk
            r = tk.did(df, outcome="y", unit="unit", time="period", first_treated="first_treated", inference="analytic")
            out = r.aggregate("simple").overall["estimate"]
        elif method == "trialkit_bootstrap":
            import trialkit as tk
            r = tk.did(df, outcome="y", unit="unit", time="period", first_treated="first_treated", n_boot=999, seed=1)
            out = r.aggregate("simple").overall["estimate"]
        elif method == "csdid":
            from csdid.att_gt import ATTgt
            m = ATTgt(yname="y", gname="first_treated", idname="unit", tname="period", data=df,
                      control_group="nevertreated").fit(est_method="reg", bstrap=False)
            m.aggte(typec="simple", bstrap=False)
            out = float(m.atte["overall_att"])
        elif method == "differences":
            from differences import ATTgt
            d = df.assign(first_treated=df.first_treated.where(df.first_treated > 0)).set_index(["unit", "period"])
            att = ATTgt(data=d, cohort_column="first_treated")
            att.fit(formula="y", est_method="reg", control_group="never_treated")
            out = float(att.aggregate("simple").to_numpy().ravel()[0])
    else:
        if method == "trialkit":
            import trialkit as tk
            r = tk.diffindiff.absorbed_did(df, outcome="y", treatment="treated", unit="person_id", time="month")
            out = float(r.to_frame().loc["treated", "estimate"])
        elif method == "pyfixest":
            import pyfixest as pf
            m = pf.feols("y ~ treated | person_id + month", data=df, vcov={"CRV1": "person_id"})
            out = float(m.coef()["treated"])
        elif method == "linearmodels":
            from linearmodels.panel import PanelOLS
            p = df.set_index(["person_id", "month"])
            m = PanelOLS(p["y"], p[["treated"]], entity_effects=True, time_effects=True).fit(
                cov_type="clustered", cluster_entity=True)
            out = float(m.params["treated"])
    elapsed = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mb": rss, "estimate": out}))
    """
)


def make_staggered(n_units: int, n_periods: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    starts = np.array([0] + list(range(n_periods // 4, n_periods, max(1, n_periods // 12))))
    g = rng.choice(starts, size=n_units)
    t = np.arange(1, n_periods + 1)
    eff = np.where((g[:, None] > 0) & (t[None, :] >= g[:, None]), 1.0, 0.0)
    y = (
        rng.normal(size=(n_units, 1))
        + 0.01 * t[None, :]
        + eff
        + rng.normal(size=(n_units, n_periods))
    )
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_periods),
            "period": np.tile(t, n_units),
            "y": y.ravel(),
            "first_treated": np.repeat(g, n_periods),
        }
    )


def make_person_months(n_rows: int, n_months: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_persons = n_rows // n_months
    treated_person = rng.random(n_persons) < 0.3
    month = np.tile(np.arange(n_months, dtype=np.int64), n_persons)
    person = np.repeat(np.arange(n_persons, dtype=np.int64), n_months)
    treated = (np.repeat(treated_person, n_months) & (month >= n_months // 2)).astype(np.float64)
    y = (
        np.repeat(rng.normal(size=n_persons), n_months)
        + 0.01 * month
        + 0.2 * treated
        + rng.normal(size=person.size)
    )
    return pd.DataFrame({"person_id": person, "month": month, "treated": treated, "y": y})


def run(kind: str, method: str, path: str, peer_path: str) -> dict:
    pp = peer_path if not method.startswith("trialkit") else ""
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, pp, kind, method, path],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last[:120]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(title: str, results: dict[str, dict], base: str) -> None:
    print(f"\n{title}")
    print(
        f"{'method':<22}{'seconds':>10}{'peak MB':>10}{'estimate':>12}{'time ratio':>12}{'mem ratio':>11}"
    )
    b = results.get(base, {})
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<22}  not run: {r['error']}")
            continue
        tr = r["seconds"] / b["seconds"] if "seconds" in b else float("nan")
        mr = r["peak_mb"] / b["peak_mb"] if "peak_mb" in b else float("nan")
        print(
            f"{name:<22}{r['seconds']:>10.2f}{r['peak_mb']:>10.0f}{r['estimate']:>12.5f}{tr:>12.1f}{mr:>11.1f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--peer-path", default=os.environ.get("TRIALKIT_BENCH_PEER_PATH", ""))
    ap.add_argument("--skip", default="", help="comma-separated methods to skip, e.g. linearmodels")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    n_units, n_periods = (500, 40) if args.quick else (3000, 120)
    n_rows = 1_000_000 if args.quick else 10_000_000
    with tempfile.TemporaryDirectory() as tmp:
        p1 = os.path.join(tmp, "staggered.parquet")
        make_staggered(n_units, n_periods).to_parquet(p1)
        res = {
            m: run("gt", m, p1, args.peer_path)
            for m in ("trialkit_analytic", "trialkit_bootstrap", "csdid", "differences")
            if m not in skip
        }
        report(
            f"Group-time ATT, {n_units} units x {n_periods} periods (ratio = peer / trialkit_analytic)",
            res,
            "trialkit_analytic",
        )
        p2 = os.path.join(tmp, "person_months.parquet")
        make_person_months(n_rows).to_parquet(p2)
        res = {
            m: run("twfe", m, p2, args.peer_path)
            for m in ("trialkit", "pyfixest", "linearmodels")
            if m not in skip
        }
        report(
            f"TWFE with person and month effects, {n_rows:,} rows (ratio = peer / trialkit)",
            res,
            "trialkit",
        )


if __name__ == "__main__":
    main()
