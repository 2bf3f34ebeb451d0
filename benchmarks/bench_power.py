"""Benchmark: trialkit.power against statsmodels.stats.power and R's pwr.

1. A grid of analytic problems (two-sample t-test: sample size for every effect x power
   pair): one vectorised trialkit call against a loop of statsmodels' ``solve_power`` and
   against R ``pwr.t.test`` over the same grid (timed inside R).
2. Simulation-based power of a 40-cluster x 200-person trial analysed by OLS with a
   cluster-robust SE: ``tk.power.simulate`` (numpy data, closed-form CR2) against a plain
   loop of pandas + statsmodels OLS with ``cov_type="cluster"``.

Run:  python benchmarks/bench_power.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import tempfile
import time
import warnings
from functools import partial

import numpy as np


def grid(n_points: int) -> tuple[np.ndarray, np.ndarray]:
    k = int(round(math.sqrt(n_points)))
    e, p = np.meshgrid(np.linspace(0.1, 1.0, k), np.linspace(0.5, 0.95, n_points // k))
    return e.ravel(), p.ravel()


def bench_grid(n_points: int) -> None:
    from statsmodels.stats.power import TTestIndPower

    import trialkit as tk

    eff, pw = grid(n_points)
    d = tk.power.IndividualRCT(outcome="continuous", sd=1.0)
    t0 = time.perf_counter()
    r = d.sample_size(effect=eff, power=pw)
    t_tk = time.perf_counter() - t0
    ours = r.extra["n_exact"] / 2

    solver = TTestIndPower()
    n_sm = min(eff.size, n_points)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = np.array(
            [
                solver.solve_power(effect_size=e, power=p, alpha=0.05)
                for e, p in zip(eff[:n_sm], pw[:n_sm])
            ]
        )
    t_sm = time.perf_counter() - t0
    diff = np.max(np.abs(sm - ours[:n_sm]) / ours[:n_sm])
    print(f"analytic grid: {eff.size} sample-size problems (two-sample t, alpha .05)")
    print(f"  trialkit (one vectorised call)   {t_tk:8.3f} s")
    print(f"  statsmodels solve_power loop     {t_sm:8.3f} s   ratio {t_sm / t_tk:7.1f}x")
    print(f"  max relative difference in n vs statsmodels: {diff:.2e}")

    if shutil.which("Rscript"):
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
            np.savetxt(fh, np.column_stack([eff, pw]), delimiter=",", header="d,power", comments="")
            path = fh.name
        code = (
            "suppressPackageStartupMessages(library(pwr)); "
            f"g <- read.csv('{path}'); "
            "t <- system.time(n <- mapply(function(d, p) pwr.t.test(d = d, power = p)$n, g$d, g$power))[['elapsed']]; "
            "cat(t, mean(n), '\\n')"
        )
        out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            t_r, mean_n = map(float, out.stdout.split())
            print(
                f"  R pwr.t.test (mapply, in R)      {t_r:8.3f} s   ratio {t_r / t_tk:7.1f}x   "
                f"(mean n: R {mean_n:.4f}, trialkit {ours.mean():.4f})"
            )
        else:
            print("  R pwr: not run (" + out.stderr.strip().splitlines()[-1] + ")")
    else:
        print("  R pwr: Rscript not found, skipped")


# -- simulation --------------------------------------------------------------------
J, M, ICC, EFFECT = 40, 200, 0.05, 0.15


def gen_numpy(rng: np.random.Generator):
    g = np.repeat(np.arange(J), M)
    t = (np.arange(J) % 2)[g].astype(float)
    y = rng.normal(0, math.sqrt(ICC), J)[g] + rng.normal(0, math.sqrt(1 - ICC), J * M) + EFFECT * t
    return y, t, g


def est_trialkit(data, *, small_sample: str = "CR1"):
    import trialkit as tk

    return tk.power.cluster_difference_test(*data, small_sample=small_sample)["p"]


def statsmodels_loop(n_sims: int, seed: int) -> float:
    import pandas as pd
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(seed)
    rejections = 0
    for _ in range(n_sims):
        y, t, g = gen_numpy(rng)
        df = pd.DataFrame({"y": y, "treatment": t, "cluster": g})
        fit = smf.ols("y ~ treatment", data=df).fit(
            cov_type="cluster", cov_kwds={"groups": df["cluster"]}
        )
        rejections += fit.pvalues["treatment"] < 0.05
    return rejections / n_sims


def bench_simulation(n_sims: int) -> None:
    import trialkit as tk

    t0 = time.perf_counter()
    r = tk.power.simulate(
        gen_numpy, partial(est_trialkit, small_sample="CR2"), n_sims=n_sims, seed=1
    )
    t_tk = time.perf_counter() - t0
    t0 = time.perf_counter()
    r1 = tk.power.simulate(gen_numpy, est_trialkit, n_sims=n_sims, seed=1)
    t_tk1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    p_sm = statsmodels_loop(n_sims, seed=1)
    t_sm = time.perf_counter() - t0
    analytic = tk.power.ClusterRCT(icc=ICC, cluster_size=M).power(effect=EFFECT, n_clusters=J).power
    print(
        f"\nsimulation: {n_sims} replications of a {J}-cluster x {M}-person trial, cluster-robust OLS"
    )
    print(
        f"  trialkit simulate, CR2 + t(G-2)  {t_tk:8.3f} s   power {r.power:.3f} (MC se {r.mc_se:.3f})"
    )
    print(f"  trialkit simulate, CR1 + t(G-2)  {t_tk1:8.3f} s   power {r1.power:.3f}")
    print(
        f"  statsmodels OLS cluster loop     {t_sm:8.3f} s   power {p_sm:.3f} (normal reference)   "
        f"ratio {t_sm / t_tk:6.1f}x (CR2), {t_sm / t_tk1:6.1f}x (CR1)"
    )
    print(f"  analytic ClusterRCT power        {analytic:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="small sizes (1,000 grid points, 100 replications)"
    )
    args = ap.parse_args()
    bench_grid(1_000 if args.quick else 10_000)
    bench_simulation(100 if args.quick else 1_000)


if __name__ == "__main__":
    main()
