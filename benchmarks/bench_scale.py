"""Register scale and the executor backends.

1. A register of N persons (default 5,000,000) with five years of spells,
   processed end to end partition by partition (status panel and horizon
   outcomes per bucket, horizon effects from sufficient statistics, the
   municipality x month state counts a DiD needs) -- wall time and peak memory.
2. 10,000 randomisation-inference draws for 100,000 units, serial vs joblib vs
   a Dask LocalCluster (2 workers): speed-up, peak memory, identical p-values.

Usage::

    python benchmarks/bench_scale.py            # full size (several minutes)
    python benchmarks/bench_scale.py --quick    # small sizes
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def peak_mb() -> float:
    """Peak resident memory of this process and its finished children (MB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def timed(label, fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    el = time.perf_counter() - t
    print(f"  {label:<52s} {el:8.1f} s   peak RSS {peak_mb():8.0f} MB", flush=True)
    return out, el


def register_part(n_persons: int, n_partitions: int, backend: str) -> None:
    import trialkit as tk
    from trialkit import scale

    print(f"\n== register of {n_persons:,} persons, {n_partitions} partitions, backend={backend}")
    tmp = Path(tempfile.mkdtemp(prefix="tk_scale_"))
    chunk = min(n_persons, 1_000_000)
    n_spells = 0
    try:
        # generated and written a million persons at a time, as an extract would arrive
        t0 = time.perf_counter()
        for c, start in enumerate(range(0, n_persons, chunk)):
            size = min(chunk, n_persons - start)
            reg = tk.datasets.make_register(n_persons=size, seed=1 + c, truth_n=10_000)
            persons = reg.persons.assign(person_id=reg.persons["person_id"] + start)
            persons["arm"] = np.where(persons["person_id"] % 2 == 0, "treatment", "control")
            spells = reg.spells.assign(person_id=reg.spells["person_id"] + start)
            n_spells += len(spells)
            src = scale.write_partitioned(persons, spells, tmp, n_partitions=n_partitions)
            del reg, persons, spells
        el = time.perf_counter() - t0
        print(
            f"  {'make_register + write partitioned Parquet':<52s} {el:8.1f} s   "
            f"peak RSS {peak_mb():8.0f} MB   ({n_spells:,} spells)",
            flush=True,
        )
        out, _ = timed(
            "status panel + horizon outcomes (per bucket)",
            scale.follow_up_outcomes,
            src,
            horizons=[12, 24, 36, 48, 60],
            backend=backend,
        )
        print(f"  ({out.shape[0]:,} persons x {out.shape[1]} outcome columns)")
        del out
        eff, _ = timed(
            "horizon effects from sufficient statistics",
            scale.horizon_effects,
            src,
            backend=backend,
        )
        print(eff.to_frame()[["estimate", "se", "n"]].head(5).to_string())
        panel, _ = timed(
            "municipality x month state counts (DiD input)",
            scale.state_counts,
            src,
            backend=backend,
        )
        print(f"  ({len(panel):,} municipality-months)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ri_part(n_units: int, n_draws: int) -> None:
    import distributed

    import trialkit as tk

    print(f"\n== randomisation inference: {n_draws:,} draws, {n_units:,} units")
    rng = np.random.default_rng(0)
    units = pd.DataFrame(
        {
            "person_id": np.arange(n_units),
            "duration_band": rng.choice(["0-2", "3-5", "6-11", "12-23", "24+"], n_units),
        }
    )
    a = tk.randomise(units, id="person_id", strata=["duration_band"], seed=3)
    data = units.merge(a.table[["person_id", "arm"]], on="person_id")
    data["y"] = rng.normal(size=n_units) + 0.01 * (data["arm"] == "treatment")
    kw = dict(outcome="y", strata="duration_band", n_draws=n_draws, seed=11)
    res = {}
    res["serial"], t_serial = timed("serial", tk.randomisation.randomisation_test, data, **kw)
    res["joblib"], t_joblib = timed(
        "joblib (2 workers)",
        tk.randomisation.randomisation_test,
        data,
        backend="joblib",
        n_jobs=2,
        **kw,
    )
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cl,
        distributed.Client(cl),
    ):
        res["dask"], t_dask = timed(
            "dask LocalCluster (2 workers)",
            tk.randomisation.randomisation_test,
            data,
            backend="dask",
            **kw,
        )
    p = {k: v.to_frame()["p"].to_numpy() for k, v in res.items()}
    same = all(np.array_equal(p["serial"], v) for v in p.values())
    print(f"  p-values identical across backends: {same}  (p = {p['serial'][0]:.4f})")
    print(f"  speed-up vs serial: joblib {t_serial / t_joblib:.2f}x, dask {t_serial / t_dask:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--persons", type=int, default=None)
    ap.add_argument("--backend", default="serial", choices=["serial", "joblib"])
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    n = args.persons or (200_000 if args.quick else 5_000_000)
    register_part(n, 8 if args.quick else 50, args.backend)
    ri_part(20_000 if args.quick else 100_000, 1_000 if args.quick else 10_000)


if __name__ == "__main__":
    main()
