"""Benchmark of the example-register generator (trialkit.datasets).

Compares, on the same persons and the same model, in one run:

1. ``make_register`` at increasing sizes (persons, spells, panel and truth);
2. ``simulate_spells`` (vectorised over persons, loop over calendar months) against
   a per-person Python loop over months -- how one would otherwise simulate a
   multi-state register history -- reporting time per person and the ratio;
3. the calibration check (share of new spells still going after 1/3/6/12 months)
   by trialkit against lifelines' Kaplan-Meier estimator on the same spells.

Usage: ``python benchmarks/bench_datasets.py [--quick]``
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

import trialkit as tk
from trialkit.datasets import _core
from trialkit.datasets._calibration import _new_spells, new_spell_survival
from trialkit.datasets._register import _person_arrays, effect_ratios


def _loop_simulate(
    persons: pd.DataFrame, treated: np.ndarray, *, effect: float, seed: int, end_month: int
):
    """Reference: the same monthly multi-state model, one person and one month at a time."""
    a = _person_arrays(persons.sort_values("person_id"))
    alpha = _core.baseline_alpha()
    ratios = effect_ratios(effect)
    r_code = ratios[_core.CODE_ROUTE]
    cal = _core._cal_level()
    rng = np.random.default_rng(seed)
    n_spells = 0
    for i in range(len(persons)):
        state, dur, olf10 = 0, int(a["duration"][i]), False
        eta, amp = float(a["eta"][i]), float(a["amplitude"][i])
        age, edu = a["age"][i : i + 1], a["education"][i : i + 1]
        ret = float(_core.return_multiplier(age, edu, a["eta"][i : i + 1])[0])
        n_spells += 1
        for m in range(int(a["origin"][i]), end_month + 1):
            e0, u1 = rng.standard_exponential(), rng.random()
            if state == 0:
                cyc = _core.BETA_CYCLE * (cal - float(_core.national_rate(np.array([m]))[0]))
                lam = math.exp(
                    alpha[min(dur, _core.MAX_DURATION)]
                    + eta
                    + amp * cyc
                    + _core.SEASON_HAZARD[m % 12]
                )
                on = treated[i] and m - a["origin"][i] < 24
                w = _core.route_weights(
                    age=age, education=edu, eta=a["eta"][i : i + 1], long_term=np.array([dur >= 12])
                )[0]
                if on:
                    lam *= float(w @ r_code)
                    w = w * r_code
                if e0 < lam:
                    c = np.cumsum(w)
                    k = min(int((c < u1 * c[-1]).sum()), 9)
                    state, olf10, dur = int(_core.CODE_STATE[k]), k == _core.CODE_DID_NOT_RENEW, 0
                    n_spells += 1
                    continue
            else:
                h = _core.LEAVE_HAZARD[state, int(dur >= 6)]
                if state == _core.OLF and olf10:
                    h = _core.LEAVE_HAZARD_DID_NOT_RENEW[int(dur >= 6)]
                if e0 < h * ret:
                    cum = _core.DESTINATION_CUM[state]
                    state, olf10, dur = min(int((cum < u1).sum()), 5), False, 0
                    n_spells += 1
                    continue
            dur += 1
    return n_spells


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes")
    args = ap.parse_args()
    sizes = [20_000] if args.quick else [20_000, 200_000, 1_000_000]
    n_loop = 300 if args.quick else 2_000

    print("1. make_register (persons + spells + panel + truth, default truth_n=50,000)")
    print("   wall = elapsed time; cpu = process CPU time (the machine may be shared)")
    reg = None
    for n in sizes:
        t, c = time.perf_counter(), time.process_time()
        reg = tk.datasets.make_register(n_persons=n, seed=1)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        print(
            f"   n_persons={n:>9,}: wall {dt:6.1f} s, cpu {dc:6.1f} s  "
            f"({len(reg.spells):,} spells, {len(reg.panel):,} panel rows)"
        )
    t, c = time.perf_counter(), time.process_time()
    tk.datasets.make_register(n_persons=sizes[-1], seed=1, truth_n=1000)
    print(
        f"   n_persons={sizes[-1]:>9,} with truth_n=1,000: wall {time.perf_counter() - t:6.1f} s, "
        f"cpu {time.process_time() - c:6.1f} s"
    )
    assert reg is not None

    print(
        f"\n2. simulate_spells vs a per-person Python loop (same model, {n_loop:,} persons; cpu times)"
    )
    p = reg.persons.head(n_loop)
    tr = p["treated"].to_numpy()
    t = time.perf_counter()
    sp = tk.datasets.simulate_spells(p, tr, seed=3)
    t_vec = time.perf_counter() - t
    big = reg.persons
    t = time.process_time()
    tk.datasets.simulate_spells(big, big["treated"].to_numpy(), seed=3)
    t_vec_big = time.process_time() - t
    t = time.process_time()
    n_sp_loop = _loop_simulate(
        p, tr, effect=1.2, seed=3, end_month=int(np.datetime64("2023-12", "M").astype(np.int64))
    )
    t_loop = time.process_time() - t
    per_vec = t_vec_big / len(big)
    per_loop = t_loop / len(p)
    print(
        f"   trialkit  : {t_vec:.3f} s for {len(p):,} persons ({len(sp):,} spells); "
        f"{t_vec_big:.2f} s for {len(big):,} -> {1e6 * per_vec:.1f} us/person"
    )
    print(
        f"   loop      : {t_loop:.2f} s for {len(p):,} persons ({n_sp_loop:,} spells) -> {1e6 * per_loop:.0f} us/person"
    )
    print(
        f"   ratio loop/trialkit per person: {per_loop / per_vec:,.0f}x "
        f"(1,000,000 persons by the loop: about {per_loop * 1e6 / 60:.0f} min)"
    )

    print("\n3. calibration check: share still unemployed after k months (cohort 8/2016-7/2017)")
    t = time.perf_counter()
    ours = new_spell_survival(reg)
    t_ours = time.perf_counter() - t
    try:
        from lifelines import KaplanMeierFitter
    except ImportError:  # pragma: no cover
        print("   lifelines not installed; skipped")
        return
    t = time.perf_counter()
    s = _new_spells(reg, "2016-08-01", "2017-07-31")
    start_m = s["start"].to_numpy().astype("datetime64[M]").astype(np.int64)
    end = s["end"]
    end_m = np.where(end.isna(), 10**9, end.to_numpy().astype("datetime64[M]").astype(np.int64))
    dur = np.minimum(end_m - start_m + 1, 10**6)
    kmf = KaplanMeierFitter().fit(dur, event_observed=end.notna().to_numpy())
    theirs = {k: float(kmf.survival_function_at_times(k).iloc[0]) for k in ours}
    t_kmf = time.perf_counter() - t
    for k in ours:
        print(
            f"   k={k:>2}: trialkit {ours[k]:.4f}  lifelines KM {theirs[k]:.4f}  "
            f"Table 3.1 {_core.TABLE31_STILL[k] / _core.TABLE31_NEW:.4f}"
        )
    print(
        f"   time: trialkit {t_ours:.3f} s, lifelines {t_kmf:.3f} s (ratio {t_kmf / t_ours:.1f}x)"
    )


if __name__ == "__main__":
    main()
