"""``trialkit demo``: the main job, end to end on the example register data."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole path on the bundled example data",
        description=(
            "Generate the example Finnish register extract, run every stage of trialkit "
            "on it (a randomised individual trial in one trial area, a phased municipal "
            "roll-out, the observational evaluation of the 2017 trials) and write "
            "results.json, the figures and a report into --out."
        ),
    )
    p.add_argument("--out", default="demo", help="output directory (created; default: demo)")
    p.add_argument("--n-persons", type=int, default=20_000, help="persons in the example register")
    p.add_argument("--seed", type=int, default=2017, help="seed of the example data and analyses")
    p.add_argument(
        "--trial-area",
        default="Pirkanmaa",
        help="trial area of the randomised individual trial (default: Pirkanmaa)",
    )
    p.add_argument(
        "--trial-persons",
        type=int,
        default=100_000,
        help="persons in the register extract the trial area's eligible jobseekers come from",
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from trialkit.cli import check_output_dir
    from trialkit.demo import run_demo

    check_output_dir(args.out, "--out")
    run_demo(
        args.out,
        n_persons=args.n_persons,
        seed=args.seed,
        trial_area=args.trial_area,
        trial_persons=args.trial_persons,
        progress=not args.quiet,
    )
    return 0
