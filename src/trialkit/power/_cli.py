"""``trialkit power individual|cluster|stepped-wedge|did|survival``.

Which quantity is solved for follows from what is given: effect and sample size
give the power; effect alone gives the sample size (at ``--power``, default 0.8);
sample size alone gives the minimum detectable effect.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from trialkit.errors import DesignError


def _count(text: str) -> int:
    """argparse type of a count of persons, clusters or events: a whole number >= 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value >= 1 and value == np.floor(value)):
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {text!r}")
    return int(value)


def _at_least_one(text: str) -> float:
    """argparse type of a mean count (e.g. mean persons per cluster): a number >= 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value >= 1):
        raise argparse.ArgumentTypeError(f"must be a number >= 1; got {text!r}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--power", type=float, default=None, help="target power (default 0.8 when solving)"
    )
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--alternative", choices=["two-sided", "one-sided"], default="two-sided")
    p.add_argument(
        "--json", action="store_true", help="print the result as JSON (keys as in the API)"
    )


def _outcome(p: argparse.ArgumentParser) -> None:
    p.add_argument("--outcome", choices=["continuous", "binary"], default="continuous")
    p.add_argument("--sd", type=float, default=None, help="outcome SD (continuous; default 1)")
    p.add_argument("--baseline", type=float, default=None, help="control proportion (binary)")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "power",
        help="power, sample size or minimum detectable effect of a trial design",
        description=(
            "Power calculations before launch. Give the effect and the sample size for the power, "
            "the effect alone for the sample size, or the sample size alone for the minimum "
            "detectable effect."
        ),
    )
    designs = p.add_subparsers(dest="design", metavar="DESIGN")
    designs.required = True

    d = designs.add_parser("individual", help="persons randomised one by one")
    _outcome(d)
    d.add_argument("--effect", type=float, default=None, help="effect in outcome units")
    d.add_argument("--n-total", type=_count, default=None, help="persons randomised")
    d.add_argument(
        "--allocation", type=float, default=None, help="share in treatment (default 0.5)"
    )
    d.add_argument("--n-arms", type=int, default=2)
    d.add_argument("--r2", type=float, default=0.0, help="variance explained by covariates")
    d.add_argument("--attrition", type=float, default=0.0)
    d.add_argument("--take-up", type=float, default=1.0)
    _common(d)
    d.set_defaults(func=_individual)

    c = designs.add_parser("cluster", help="municipalities or offices randomised")
    _outcome(c)
    c.add_argument("--icc", type=float, required=True)
    c.add_argument(
        "--cluster-size",
        type=_at_least_one,
        default=None,
        help="persons per cluster (a whole number unless --cluster-size-cv > 0, then the mean)",
    )
    c.add_argument("--cluster-size-cv", type=float, default=0.0)
    c.add_argument("--n-clusters", type=_count, default=None, help="clusters randomised")
    c.add_argument("--effect", type=float, default=None)
    c.add_argument("--r2-cluster", type=float, default=0.0)
    c.add_argument("--r2-individual", type=float, default=0.0)
    c.add_argument("--allocation", type=float, default=0.5)
    _common(c)
    c.set_defaults(func=_cluster)

    s = designs.add_parser(
        "stepped-wedge", help="phased roll-out: every cluster treated, order random"
    )
    _outcome(s)
    s.add_argument("--n-clusters", type=int, required=True)
    s.add_argument("--n-steps", type=int, required=True)
    s.add_argument("--cluster-period-size", type=_count, default=None)
    s.add_argument("--icc", type=float, required=True)
    s.add_argument("--cluster-autocorrelation", type=float, default=1.0)
    s.add_argument("--effect", type=float, default=None)
    _common(s)
    s.set_defaults(func=_stepped_wedge)

    g = designs.add_parser("did", help="baseline and follow-up rounds: ANCOVA / DiD / POST")
    g.add_argument("--estimator", choices=["ancova", "did", "post"], default="ancova")
    g.add_argument("--baseline-rounds", type=int, default=1)
    g.add_argument("--followup-rounds", type=int, default=1)
    g.add_argument("--autocorrelation", type=float, required=True)
    g.add_argument("--sd", type=float, default=1.0)
    g.add_argument("--effect", type=float, default=None)
    g.add_argument("--n-total", type=_count, default=None, help="units randomised")
    _common(g)
    g.set_defaults(func=_did)

    v = designs.add_parser("survival", help="time to re-employment: log-rank or RMST")
    v.add_argument("--method", choices=["schoenfeld", "freedman", "rmst"], default="schoenfeld")
    v.add_argument("--hazard-ratio", type=float, default=None)
    v.add_argument("--events", type=_count, default=None)
    v.add_argument("--n-total", type=_count, default=None)
    v.add_argument("--allocation", type=float, default=0.5)
    v.add_argument("--median-control", type=float, default=None, help="months")
    v.add_argument("--accrual", type=float, default=0.0, help="months")
    v.add_argument("--follow-up", type=float, default=None, help="months after the last entry")
    v.add_argument("--dropout", type=float, default=0.0, help="share lost per 12 months")
    _common(v)
    v.set_defaults(func=_survival)


def _emit(result: Any, args: argparse.Namespace) -> int:
    if args.json:
        print(result.to_json())
    else:
        print(result.summary())
    return 0


def _target(args: argparse.Namespace) -> float:
    return 0.8 if args.power is None else args.power


def _no_power(args: argparse.Namespace) -> None:
    if args.power is not None:
        raise DesignError(
            "--power is a target for solving; with both the effect and the sample size given, leave it out"
        )


def _design(cls: Any, args: argparse.Namespace, *names: str) -> Any:
    """A power design built from the command-line options of the same names."""
    return cls(**{name: getattr(args, name) for name in names})


def _solve_by_n_total(d: Any, args: argparse.Namespace) -> int:
    """Power, sample size or MDE of a design sized by ``n_total``, whichever is missing."""
    if args.effect is not None and args.n_total is not None:
        _no_power(args)
        return _emit(d.power(effect=args.effect, n_total=args.n_total), args)
    if args.effect is not None:
        return _emit(d.sample_size(effect=args.effect, power=_target(args)), args)
    if args.n_total is not None:
        return _emit(d.mde(n_total=args.n_total, power=_target(args)), args)
    raise DesignError("give --effect, --n-total or both")


def _individual(args: argparse.Namespace) -> int:
    from trialkit.power import IndividualRCT

    d = _design(
        IndividualRCT,
        args,
        "outcome",
        "sd",
        "baseline",
        "n_arms",
        "allocation",
        "r2",
        "attrition",
        "take_up",
        "alpha",
        "alternative",
    )
    return _solve_by_n_total(d, args)


def _cluster(args: argparse.Namespace) -> int:
    from trialkit.power import ClusterRCT

    d = _design(
        ClusterRCT,
        args,
        "icc",
        "cluster_size",
        "cluster_size_cv",
        "r2_cluster",
        "r2_individual",
        "outcome",
        "sd",
        "baseline",
        "allocation",
        "alpha",
        "alternative",
    )
    size = args.cluster_size
    if size is not None and args.cluster_size_cv == 0 and size != np.floor(size):
        raise DesignError(
            f"--cluster-size must be a whole number when all clusters have the same size "
            f"(--cluster-size-cv 0); got {size:g} (give --cluster-size-cv for a mean size)"
        )
    if args.effect is not None and args.n_clusters is not None and args.cluster_size is not None:
        _no_power(args)
        return _emit(d.power(effect=args.effect, n_clusters=args.n_clusters), args)
    if args.effect is not None:
        return _emit(
            d.sample_size(effect=args.effect, power=_target(args), n_clusters=args.n_clusters), args
        )
    if args.n_clusters is not None:
        return _emit(d.mde(n_clusters=args.n_clusters, power=_target(args)), args)
    raise DesignError("give --effect, --n-clusters or both")


def _stepped_wedge(args: argparse.Namespace) -> int:
    from trialkit.power import SteppedWedge

    d = _design(
        SteppedWedge,
        args,
        "n_clusters",
        "n_steps",
        "cluster_period_size",
        "icc",
        "cluster_autocorrelation",
        "outcome",
        "sd",
        "baseline",
        "alpha",
        "alternative",
    )
    if args.effect is not None and args.cluster_period_size is not None:
        _no_power(args)
        return _emit(d.power(effect=args.effect), args)
    if args.effect is not None:
        return _emit(d.sample_size(effect=args.effect, power=_target(args)), args)
    return _emit(d.mde(power=_target(args)), args)


def _did(args: argparse.Namespace) -> int:
    from trialkit.power import DiDPower

    d = _design(
        DiDPower,
        args,
        "estimator",
        "baseline_rounds",
        "followup_rounds",
        "autocorrelation",
        "sd",
        "alpha",
        "alternative",
    )
    return _solve_by_n_total(d, args)


def _survival(args: argparse.Namespace) -> int:
    from trialkit.power import Survival

    d = _design(
        Survival,
        args,
        "allocation",
        "method",
        "median_control",
        "accrual",
        "follow_up",
        "dropout",
        "alpha",
        "alternative",
    )
    hr = args.hazard_ratio
    if hr is not None and (args.events is not None or args.n_total is not None):
        _no_power(args)
        return _emit(d.power(hazard_ratio=hr, events=args.events, n_total=args.n_total), args)
    if hr is not None:
        if args.follow_up is None and args.method != "rmst":
            return _emit(d.events(hazard_ratio=hr, power=_target(args)), args)
        return _emit(d.sample_size(hazard_ratio=hr, power=_target(args)), args)
    if args.events is not None or args.n_total is not None:
        return _emit(d.mde(events=args.events, n_total=args.n_total, power=_target(args)), args)
    raise DesignError("give --hazard-ratio, --events / --n-total, or both")
