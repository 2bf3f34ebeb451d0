"""``trialkit demo``: the whole path on the example register, every estimate next to its truth.

The demo plays the evaluation that the 2017-2018 Finnish trials lacked, on
synthetic register data with known effects (:func:`trialkit.datasets.make_register`):

1. **Design and power** -- a declared individual trial of the eligible
   jobseekers of ONE trial area (default Pirkanmaa, the largest: the Tampere
   region, target group on basic allowance or labour-market subsidy), its
   pre-analysis plan and power.
2. **Randomised individual trial in that area** -- stratified randomisation by
   duration and age band, follow-up simulated under the assignment, five-year
   effects by horizon against the true effects for exactly these persons,
   Kaplan-Meier curves of time to employment.
3. **Phased municipal roll-out** (stepped wedge) -- the service rolled out to
   the 237 non-trial municipalities in a random order of four start months
   (2019-07 .. 2021-01), its power, and its analysis: the register's monthly
   municipal unemployment rates are the untreated outcome, a known effect
   (:data:`ROLLOUT_EFFECT_PP` percentage points) is added in every
   municipality-month from the municipality's randomised start, and the
   cluster-period regression with period and cluster effects (Hussey & Hughes
   2007; two-way fixed effects via :func:`trialkit.did`) recovers it, with
   cluster-robust and randomisation-inference tests and an event study.
4. **Observational evaluation of the 2017 trials** -- treated persons matched
   to non-trial controls exactly on duration band and closely on an
   employability score; staggered difference-in-differences of municipal
   unemployment against non-trial municipalities.
5. **Report** -- ``report.html`` (self-contained), ``results.json`` (every
   estimate next to its true value, and what each stage used) and the figures.

The randomised trial's true effects are the sample average treatment effect
of its persons: each is simulated treated and untreated with the random
numbers of their own simulated history (``true_effects`` with the seed of
``simulate_spells``), the estimand of the randomised comparison.

References
----------
Hussey, M. A. & Hughes, J. P. (2007). Design and analysis of stepped wedge
cluster randomized trials. *Contemporary Clinical Trials* 28(2), 182-191.
Neyman, J. (1923/1990). On the application of probability theory to
agricultural experiments. *Statistical Science* 5(4), 465-472.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialkit.errors import TrialkitWarning

__all__ = ["run_demo", "RCT_AREA", "ROLLOUT_EFFECT_PP", "ROLLOUT_STARTS", "ROLLOUT_WINDOW"]

log = logging.getLogger("trialkit.demo")
HORIZONS = (12, 24, 36, 48, 60)
#: Default trial area of the randomised individual trial (the largest of the eight).
RCT_AREA = "Pirkanmaa"
#: Randomised start months of the phased roll-out (one step every six months).
ROLLOUT_STARTS = ("2019-07", "2020-01", "2020-07", "2021-01")
#: Months analysed: six months before the first step to six months after the last.
ROLLOUT_WINDOW = ("2019-01", "2021-06")
#: True effect of the rolled-out service on the unemployment rate (percentage points)
#: added to every municipality-month from the municipality's start; about the size of
#: the 2017 trials' effect in the example data (``truth["panel"]["att_unemployment_rate"]``).
ROLLOUT_EFFECT_PP = -0.25


class _Steps:
    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.i, self.t0 = total, enabled, 0, time.perf_counter()

    def __call__(self, label: str) -> None:
        self.i += 1
        if self.enabled:
            el = time.perf_counter() - self.t0
            print(f"[{self.i}/{self.total}] {label} (t = {el:.0f} s)", file=sys.stderr, flush=True)


def _row(stage: str, quantity: str, est: pd.Series | dict, truth: float) -> dict[str, Any]:
    lo, hi = float(est["ci_low"]), float(est["ci_high"])
    return {
        "stage": stage,
        "quantity": quantity,
        "estimate": float(est["estimate"]),
        "se": float(est["se"]),
        "ci_low": lo,
        "ci_high": hi,
        "truth": float(truth),
        "covered": bool(lo <= truth <= hi),
    }


def _start_months(table: pd.DataFrame) -> pd.Series:
    """Each municipality's randomised start month, as plain datetimes.

    The stepped-wedge arms are the start months; ``a.table["arm"]`` is categorical,
    so the labels are converted (``Series.map`` keeps a categorical under pandas 3).
    """
    return pd.Series(
        pd.to_datetime(table["arm"].astype(str)).to_numpy(),
        index=table["municipality"].to_numpy(),
    )


def _rollout(
    panel: pd.DataFrame, *, effect: float, seed: int, ri_seed: int, n_permutations: int = 999
) -> dict[str, Any]:
    """Randomise the roll-out over the non-trial municipalities, inject ``effect``, analyse it.

    The untreated outcome of municipality i in month t is the register panel's
    ``unemployment_rate`` (no trial ran in these municipalities, so it is untouched);
    the outcome under the roll-out adds ``effect`` in every month from i's randomised
    start. The analysis is the cluster-period model of Hussey & Hughes (2007),
    :math:`Y_{it} = \\alpha_i + \\beta_t + \\theta X_{it} + e_{it}`, with fixed municipality
    and month effects (:func:`trialkit.did`, ``method="twfe"``), CR1 standard errors by
    municipality, a randomisation test that reassigns the start months across
    municipalities, and an event study (``method="event_study"``). ``truth`` is ``effect``.
    """
    import trialkit as tk

    munis = (
        panel.loc[panel["first_treated"].isna(), ["municipality"]]
        .drop_duplicates()
        .reset_index(drop=True)
    )
    sw = tk.randomise(
        munis, id="municipality", method="stepped_wedge", steps=list(ROLLOUT_STARTS), seed=seed
    )
    start = _start_months(sw.table)
    schedule = sw.table.groupby("arm", observed=True).size().rename("municipalities").to_frame()
    schedule.index.name = "start month"
    lo_m, hi_m = (pd.Timestamp(m) for m in ROLLOUT_WINDOW)
    cells = panel.loc[
        panel["first_treated"].isna() & panel["month"].between(lo_m, hi_m),
        ["municipality", "month", "unemployment_rate"],
    ].copy()
    cells["start"] = cells["municipality"].map(start)
    cells["treated"] = (cells["month"] >= cells["start"]).astype(int)
    cells["rate"] = cells["unemployment_rate"] + effect * cells["treated"]
    kw: dict[str, Any] = dict(
        outcome="rate", unit="municipality", time="month", first_treated="start"
    )
    twfe = tk.did(cells, method="twfe", inference="cluster", **kw)
    ri = tk.did(
        cells,
        method="twfe",
        inference="randomisation",
        n_boot=n_permutations,
        seed=ri_seed,
        **kw,
    )
    es = tk.did(cells, method="event_study", leads=12, lags=17, seed=ri_seed + 1, **kw)
    ax = es.plot()
    ax.axhline(effect, color="tab:red", lw=1.2, ls="--", label="injected (true) effect")
    ax.set_xlabel("months since the municipality's randomised start (end points binned)")
    ax.set_ylabel("effect on unemployment rate (pp)")
    ax.legend(frameon=False)
    meta = {
        "clusters": "municipality",
        "n_municipalities": int(len(munis)),
        "start_months": list(ROLLOUT_STARTS),
        "municipalities_per_start": {str(k): int(v) for k, v in schedule["municipalities"].items()},
        "window": list(ROLLOUT_WINDOW),
        "outcome": "unemployment_rate (percent)",
        "injected_effect_pp": float(effect),
        "estimator": "two-way fixed effects: municipality and month effects (Hussey & Hughes 2007)",
        "inference": "CR1 clustered by municipality",
        "randomisation_p": float(ri.to_frame().loc["treated", "p"]),
        "n_permutations": int(n_permutations),
        "assignment_hash": sw.certificate["assignment_hash"],
    }
    return {
        "assignment": sw,
        "municipalities": munis,
        "schedule": schedule,
        "cells": cells,
        "twfe": twfe,
        "randomisation": ri,
        "event_study": es,
        "ax": ax,
        "truth": float(effect),
        "meta": meta,
    }


def _rollout_power(panel: pd.DataFrame) -> Any:
    """Stepped-wedge power problem of the roll-out from the variance components of 2016-2018.

    Half-year means of the non-trial municipalities' unemployment rates, period means
    removed; one-way ANOVA gives the between-municipality variance (the cluster effect of
    Hussey & Hughes 2007) and the within variance (cluster-period noise, ``m = 1``).
    """
    import trialkit as tk

    pre = panel.loc[
        panel["first_treated"].isna() & panel["month"].between("2016-01-01", "2018-12-01"),
        ["municipality", "month", "unemployment_rate"],
    ]
    half = pre["month"].dt.year * 2 + (pre["month"].dt.month > 6)
    cells = pre.groupby(["municipality", half])["unemployment_rate"].mean()
    resid = cells - cells.groupby(level=1).transform("mean")
    by_muni = resid.groupby(level=0)
    n_periods = int(by_muni.size().iloc[0])
    within = float(by_muni.var(ddof=1).mean())
    between = max(float(by_muni.mean().var(ddof=1)) - within / n_periods, 0.0)
    total = between + within
    return tk.power.SteppedWedge(
        n_clusters=int(resid.index.get_level_values(0).nunique()),
        n_steps=len(ROLLOUT_STARTS),
        cluster_period_size=1,
        icc=between / total,
        outcome="continuous",
        sd=float(np.sqrt(total)),
    )


def run_demo(
    out: str | Path = "demo",
    *,
    n_persons: int = 20_000,
    seed: int = 2017,
    trial_area: str = RCT_AREA,
    trial_persons: int | None = 100_000,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the whole trialkit path on example data and write the report.

    The randomised individual trial randomises the eligible persons of the single
    trial area ``trial_area``. A trial enrols every eligible jobseeker of its area,
    many more than the area's share of a national sample, so they come from a larger
    extract of the same synthetic register (``trial_persons`` persons, of whom only
    the area's eligible are used). The phased roll-out randomises the start month of
    each non-trial municipality and is analysed with a known effect added to the
    register's municipal unemployment rates (see the module docstring).

    Parameters
    ----------
    out : path
        Output directory; gets ``report.html``, ``results.json`` and ``figures/``.
    n_persons : int
        Persons in the example register (the observational evaluation and the panel).
    seed : int
        Seed of the data and every random step (the run is reproducible).
    trial_area : str
        Trial area of the randomised individual trial, one of
        :data:`trialkit.datasets.TRIAL_AREA_NAMES` (default ``"Pirkanmaa"``).
    trial_persons : int or None
        Persons in the register extract the trial area's eligible jobseekers are taken
        from (the default gives Pirkanmaa about 4,700); ``None`` takes them from the
        main register of ``n_persons``.
    progress : bool
        Print one line per stage on stderr.

    Returns
    -------
    dict
        ``{"comparisons": DataFrame of estimate vs truth, "report": Report}``.
        ``results.json`` also holds ``randomised_trial`` (area, persons, municipalities)
        and ``stepped_wedge`` (start months, injected effect, randomisation p-value).

    Raises
    ------
    DesignError
        ``trial_area`` is not a trial area, or it has fewer than 100 eligible persons
        (raise ``trial_persons``).

    References
    ----------
    Hussey, M. A. & Hughes, J. P. (2007). Design and analysis of stepped wedge cluster
    randomized trials. *Contemporary Clinical Trials* 28(2), 182-191.

    Examples
    --------
    >>> import tempfile
    >>> res = run_demo(tempfile.mkdtemp(), n_persons=8000, seed=1, progress=False)  # doctest: +SKIP
    >>> res["comparisons"].groupby("stage").size()  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import trialkit as tk
    from trialkit._checks import check_choice
    from trialkit.design import Outcome, TrialDesign
    from trialkit.errors import DesignError
    from trialkit.report import Section, build_report

    check_choice("trial_area", trial_area, list(tk.datasets.TRIAL_AREA_NAMES))
    out = Path(out)
    step = _Steps(7, progress)
    sections: list[Section] = []
    comparisons: list[dict[str, Any]] = []
    rng_seeds = np.random.SeedSequence(seed).spawn(9)
    seeds = [int(s.generate_state(1)[0]) for s in rng_seeds]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrialkitWarning)

        # 1. data -----------------------------------------------------------------
        step("generating the example register")
        reg = tk.datasets.make_register(n_persons=n_persons, seed=seed)
        persons, spells, panel = reg.persons, reg.spells, reg.panel
        fig_trend = tk.diffindiff.trends_plot(panel, outcome="unemployment_rate").figure
        sections.append(
            Section(
                "Example data",
                text=(
                    f"A synthetic Finnish register extract: {len(persons):,} persons, {len(spells):,} "
                    f"register spells and a panel of {panel['municipality'].nunique()} municipalities x "
                    f"{panel['month'].nunique()} months. The eight trial areas start in spring 2017 "
                    "(regional trials) and August 2017 (municipal trials). True effects are built in, so "
                    "every estimate below is shown next to its true value."
                ),
                figures=[("Unemployment rate, trial vs non-trial municipalities", fig_trend)],
            )
        )

        # 2. design and power -------------------------------------------------------
        step(f"design, pre-analysis plan and power ({trial_area})")
        if trial_persons is None:
            extract, n_extract = persons, n_persons
        else:
            n_extract = trial_persons
            extract = tk.datasets.make_register(
                n_persons=trial_persons, seed=seeds[7], truth_n=1000
            ).persons
        trial_pool = extract.loc[extract["eligible"] & (extract["area"] == trial_area)].copy()
        del extract
        if len(trial_pool) < 100:
            raise DesignError(
                f"`trial_area` {trial_area!r} has {len(trial_pool)} eligible persons in a register "
                f"extract of {n_extract:,}; the randomised trial needs at least 100 "
                "(raise `trial_persons`)"
            )
        # the truth of the trial: every person simulated treated and untreated with the random
        # numbers of their simulated register history below (same seed, common random
        # numbers), so it is the sample average treatment effect of exactly these persons --
        # the estimand of the randomised comparison (Neyman 1923)
        truth_rct = tk.datasets.true_effects(trial_pool, seed=seeds[2])
        base12 = float(truth_rct["untreated"]["employed_12m"])
        design = TrialDesign(
            title=f"Employment service for the long-term unemployed and young, {trial_area}",
            population=f"Jobseekers in {trial_area} in the area's target group of the 2017 trial",
            eligibility="eligible",
            strata=("duration_band", "age_band"),
            outcomes=(
                Outcome(
                    name="employed", horizon=12, primary=True, expected_effect=0.03, baseline=base12
                ),
                Outcome(
                    name="months_employed",
                    kind="continuous",
                    horizon=60,
                    estimator="difference_in_means",
                ),
            ),
            follow_up_months=60,
        )
        plan = design.plan()
        rct_power = tk.power.IndividualRCT(outcome="binary", baseline=base12)
        need = rct_power.sample_size(effect=0.03, power=0.8)
        have = rct_power.power(effect=0.03, n_total=len(trial_pool))
        mde = rct_power.mde(n_total=len(trial_pool), power=0.8)
        effects_grid = np.linspace(0.005, 0.08, 40)
        curve = rct_power.power(effect=effects_grid, n_total=len(trial_pool))
        ax = curve.plot()
        sections.append(
            Section(
                "Design and power",
                text=(
                    f"Pre-analysis plan hash (SHA-256): {plan.sha256}. Control-arm employment at 12 months "
                    f"is about {base12:.1%}. Detecting +3 percentage points with 80% power needs "
                    f"{need.to_dict()['n_total']:,} persons; the {len(trial_pool):,} eligible persons of "
                    f"{trial_area} give power {float(np.ravel(have.to_dict()['power'])[0]):.2f} "
                    f"and a minimum detectable effect of {float(np.ravel(mde.to_dict()['mde'])[0]):.3f}."
                ),
                results={"Sample size for +3 pp": need, "Minimum detectable effect": mde},
                figures=[(f"Power against effect size for the {trial_area} trial", ax.figure)],
            )
        )

        # 3. randomised individual trial -------------------------------------------
        step(f"randomised trial in {trial_area}: assignment, balance, five-year follow-up")
        a = tk.randomise(
            trial_pool, id="person_id", strata=["duration_band", "age_band"], seed=seeds[1]
        )
        bal = a.balance(
            trial_pool,
            covariates=["age", "duration_months", "prior_employment_days"],
            seed=seeds[8],
        )
        arm = a.table.set_index("person_id")["arm"]
        rct_persons = trial_pool.assign(arm=trial_pool["person_id"].map(arm))
        rct_spells = tk.datasets.simulate_spells(
            rct_persons, rct_persons["arm"].eq("treatment").to_numpy(), seed=seeds[2]
        )
        f = tk.follow_up(rct_spells, rct_persons, arm="arm", origin="origin")
        eff = f.effects(
            outcomes=["employed", "months_employed"],
            horizons=list(HORIZONS),
            control="control",
            seed=seeds[3],
        )
        frame = eff.to_frame()
        for (outcome, h), row in frame.iterrows():
            key = f"{outcome}_{h}m"
            if key in truth_rct["effect"]:
                comparisons.append(_row("randomised trial", key, row, truth_rct["effect"][key]))
        outcomes_rct = f.outcomes(horizons=[12, 60]).drop(columns=["arm"])
        analysed = design.analyse(
            rct_persons.merge(outcomes_rct, left_on="person_id", right_index=True), plan
        )
        ax_eff = eff.plot(outcome="employed")
        km = f.kaplan_meier()
        ax_km = km.plot()
        rct_meta = {
            "area": trial_area,
            "areas_randomised": sorted(rct_persons["area"].unique().tolist()),
            "n_randomised": int(len(rct_persons)),
            "n_eligible_in_area": int(len(trial_pool)),
            "n_register_extract": int(n_extract),
            "municipalities": sorted(rct_persons["municipality"].unique().tolist()),
            "strata": ["duration_band", "age_band"],
            "assignment_hash": a.certificate["assignment_hash"],
            "truth": (
                "sample average treatment effect of the randomised persons: each simulated "
                "treated and untreated with the random numbers of their simulated history"
            ),
        }
        sections.append(
            Section(
                f"Randomised individual trial in {trial_area}",
                text=(
                    f"The {len(trial_pool):,} eligible jobseekers of {trial_area} (one trial area, "
                    f"{len(rct_meta['municipalities'])} municipalities; taken from a register extract "
                    f"of {n_extract:,} persons, since a trial enrols all of its area's eligible "
                    "jobseekers, not the area's share of a national sample) randomised 1:1 within "
                    f"duration x age strata (certificate hash {a.certificate['assignment_hash'][:16]}...). "
                    "Follow-up of 60 months from each person's origin, from register spells simulated "
                    "under the assignment. The true effects are those of exactly these persons: each "
                    "is simulated both treated and untreated with the random numbers of their own "
                    "history (the sample average treatment effect that the randomised comparison "
                    "estimates)."
                ),
                results={
                    "Balance": bal,
                    "Pre-registered analysis": analysed,
                    "Effects by horizon": eff,
                },
                figures=[
                    (
                        f"Effect on the share employed by months since randomisation in {trial_area}, "
                        "with simultaneous bands",
                        ax_eff.figure,
                    ),
                    (
                        f"Time to first employment by arm in {trial_area} (Kaplan-Meier)",
                        ax_km.figure,
                    ),
                ],
            )
        )

        # 4. phased roll-out --------------------------------------------------------
        step("phased municipal roll-out (stepped wedge): randomised starts, power, analysis")
        ro = _rollout(panel, effect=ROLLOUT_EFFECT_PP, seed=seeds[4], ri_seed=seeds[6])
        munis, schedule, hh, hh_ri, hh_es, ax_sw = (
            ro["municipalities"],
            ro["schedule"],
            ro["twfe"],
            ro["randomisation"],
            ro["event_study"],
            ro["ax"],
        )
        sw_problem = _rollout_power(panel)
        sw_res = sw_problem.power(effect=abs(ROLLOUT_EFFECT_PP))
        sw_mde = sw_problem.mde(power=0.8)
        comparisons.append(
            _row(
                "stepped wedge",
                "rollout_unemployment_rate",
                hh.to_frame().loc["treated"],
                ro["truth"],
            )
        )
        ri_p = ro["meta"]["randomisation_p"]
        sw_meta = ro["meta"]
        sw_power = float(np.ravel(sw_res.to_dict()["power"])[0])
        sw_mde_v = float(np.ravel(sw_mde.to_dict()["mde"])[0])
        sw_meta["design_power"] = sw_power
        sw_meta["design_mde_80"] = sw_mde_v
        sections.append(
            Section(
                "Phased municipal roll-out (stepped wedge)",
                text=(
                    f"After the trials the service is rolled out to the {len(munis)} non-trial "
                    f"municipalities: every municipality gets it, and the order is random -- each starts "
                    f"in one of {', '.join(ROLLOUT_STARTS)} (about a quarter each). This is the ethical "
                    "answer to the objection that randomising individuals is unfair: nobody is denied "
                    "the service, only its start waits its turn.\n\n"
                    f"The example register's monthly unemployment rates of {ROLLOUT_WINDOW[0]} .. "
                    f"{ROLLOUT_WINDOW[1]} serve as the untreated outcome (no trial ran there, so they are "
                    f"untouched); a known effect of {ROLLOUT_EFFECT_PP:+.2f} percentage points is added in "
                    "every municipality-month from the municipality's randomised start. The analysis is "
                    "the stepped-wedge cluster-period regression of Hussey & Hughes (2007) -- month "
                    "effects for the calendar (including the 2020 shock) and municipality effects -- "
                    "estimated as two-way fixed effects with standard errors clustered by municipality. "
                    f"Randomisation inference (start months reassigned across municipalities, 999 "
                    f"permutations) gives p = {ri_p:.3f}.\n\n"
                    "Before the roll-out, its power came from the Hussey & Hughes variance formula with "
                    "the 2016-2018 variance components of half-year municipal rates: power "
                    f"{sw_power:.2f} for {abs(ROLLOUT_EFFECT_PP):.2f} pp, minimum detectable effect "
                    f"{sw_mde_v:.3f} pp at 80% power (standard error about {sw_mde_v / 2.80:.3f}; the "
                    f"monthly analysis realised {float(hh.to_frame().loc['treated', 'se']):.3f}, since "
                    "municipal rates drift apart over time more than the formula's constant "
                    "municipality effect allows)."
                ),
                tables={"Municipalities starting at each step": schedule},
                results={
                    "Stepped-wedge power": sw_res,
                    "Stepped-wedge minimum detectable effect": sw_mde,
                    "Roll-out effect on the unemployment rate (pp)": hh,
                    "Randomisation inference": hh_ri,
                    "Event study of the roll-out": hh_es,
                },
                figures=[
                    (
                        "Event study of the phased roll-out: effect on the unemployment rate (pp) by "
                        "months since each municipality's randomised start, with the injected true effect",
                        ax_sw.figure,
                    )
                ],
            )
        )

        # 5-6. observational evaluation: matched controls, follow-up, DiD ----------
        step("observational evaluation: matched controls and five-year follow-up")
        ev = tk.evaluate_observational(
            persons,
            spells,
            panel,
            seed=seeds[5],
            outcomes=("employed_12m", "employed_24m", "months_employed_60m"),
        )
        mbal = ev.matching.balance()
        att = ev.effects.to_frame()
        for key, row in att.iterrows():
            comparisons.append(_row("matched controls", str(key), row, reg.truth["att"][str(key)]))
        ax_love = mbal.plot()
        sections.append(
            Section(
                "Matched control group",
                text=(
                    "Treated clients of the 2017 trials matched 1:1 to eligible jobseekers of non-trial "
                    "municipalities, exactly on unemployment-duration band and within 0.2 SD of the "
                    "logit propensity score (age, duration, prior employment, education, sex). "
                    "Matching balances what is observed; area-level labour-market differences remain, "
                    "which is why the DiD below and the randomised designs above matter."
                ),
                results={
                    "Balance before and after matching": mbal,
                    "ATT on five-year outcomes": ev.effects,
                },
                figures=[
                    (
                        "Love plot: standardised mean differences before and after matching",
                        ax_love.figure,
                    )
                ],
            )
        )

        step("difference-in-differences against non-trial municipalities")
        r = ev.did
        simple = r.aggregate("simple")
        comparisons.append(
            _row(
                "difference-in-differences",
                "att_unemployment_rate",
                simple.to_frame().iloc[0],
                reg.truth["panel"]["att_unemployment_rate"],
            )
        )
        ev_plot = r.aggregate("event").plot()
        pre = r.pretrend_test()
        sections.append(
            Section(
                "Difference-in-differences",
                text=(
                    "Staggered group-time ATT (Callaway & Sant'Anna 2021) of the trial municipalities "
                    "against never-treated municipalities, instead of the naive 'we fell 31 %, "
                    "Finland fell 28 %' comparison. The example data build in the report's warning: "
                    "areas with high cyclical unemployment fall faster from a high level "
                    "(make_register(area_cycle=1.0)), so parallel trends fail and this DiD is biased "
                    "towards a larger fall than the true effect; with area_cycle=0 it recovers the "
                    "truth. A non-significant pre-trend test is no proof of parallel trends, as the "
                    "comparison with the truth above shows."
                ),
                results={
                    "Overall ATT on the unemployment rate (pp)": simple,
                    "Pre-trend test": pre,
                },
                figures=[
                    (
                        "Event study: effect on unemployment rate by months since trial start",
                        ev_plot.figure,
                    )
                ],
            )
        )

        # 7. report -----------------------------------------------------------------
        step("writing the report")
        comp = pd.DataFrame(comparisons)
        sections.insert(
            1,
            Section(
                "Estimates against the truth",
                text=(
                    f"{int(comp['covered'].sum())} of {len(comp)} confidence intervals cover the true "
                    "effect built into the example data. The intervals are 95%: about one in twenty "
                    "misses by chance, and the randomised trial's estimates at neighbouring horizons "
                    "come from the same persons, so their chance misses tend to come together. The "
                    "difference-in-differences miss is no chance: it is the bias of comparing cyclical "
                    "trial areas with the rest of Finland (see its section)."
                ),
                tables={"Estimate vs truth": comp.set_index(["stage", "quantity"])},
            ),
        )
        report = build_report(
            sections,
            out,
            title="trialkit demo: evaluating the 2017-2018 trials",
            extra_json={
                "comparisons": comp,
                "pre_analysis_plan": plan.to_dict(),
                "randomised_trial": rct_meta,
                "stepped_wedge": sw_meta,
                "truth": reg.truth,
            },
        )
        plt.close("all")
    if progress:
        print(
            f"wrote {report.html_path}, {report.json_path} and {len(report.figure_paths)} figures; "
            f"{int(comp['covered'].sum())}/{len(comp)} intervals cover the truth",
            file=sys.stderr,
        )
    return {"comparisons": comp, "report": report}
