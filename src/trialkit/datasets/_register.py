"""Synthetic Finnish register extract with known true effects: :func:`make_register`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from trialkit._checks import (
    check_int,
    require_columns,
    require_frame,
    require_no_missing,
    require_unique,
)
from trialkit._rng import as_seed_sequence, seed_record
from trialkit._typing import SeedLike
from trialkit.datasets import _core
from trialkit.datasets._municipalities import TRIAL_AREAS, non_trial_municipalities
from trialkit.errors import DataError, DesignError

__all__ = [
    "Register",
    "make_register",
    "simulate_spells",
    "true_effects",
    "TRIAL_AREA_NAMES",
    "STATES",
    "EXIT_CODES",
]

TRIAL_AREA_NAMES: tuple[str, ...] = tuple(TRIAL_AREAS)
STATES: tuple[str, ...] = _core.STATES
EXIT_CODES: tuple[str, ...] = _core.CODES
ROUTES: tuple[str, ...] = _core.ROUTES

PANEL_START = "2010-01"
PANEL_END = "2023-12"
ORIGIN_START = "2016-01"
ORIGIN_END = "2018-12"
DEFAULT_END = "2023-12-31"
DURATION_BANDS: tuple[str, ...] = ("0-2", "3-5", "6-11", "12-23", "24+")
AGE_BANDS: tuple[str, ...] = ("<25", "25-29", "30-49", "50+")
EDUCATION: tuple[str, ...] = ("basic", "secondary", "tertiary")
BENEFITS: tuple[str, ...] = ("earnings_related", "basic", "labour_market_subsidy")
ELIGIBILITY_RULES: dict[str, str] = {
    "long_term": "12+ months unemployed",
    "long_term_or_under_30": "12+ months unemployed or under 30",
    "long_term_or_under_25": "12+ months unemployed or under 25",
    "basic_benefits": "on basic allowance or labour-market subsidy",
    "early": "at the start of unemployment (0-2 months)",
    "mid_duration": "3-9 months unemployed",
}
#: rule for persons outside the trial areas (the municipal trials' common core)
NON_TRIAL_RULE = "long_term_or_under_25"

# Cyclical amplitude (how strongly the area's unemployment follows the national cycle) and
# structural unemployment level (percent) of the trial areas. Areas with high cyclical
# unemployment fall faster from a high level (the report's warning).
AREA_AMPLITUDE = {
    "Lapland": 1.35,
    "North Savo": 1.15,
    "Pori": 1.5,
    "Southwest Finland": 1.2,
    "Pirkanmaa": 1.3,
    "Central Ostrobothnia": 0.85,
    "North Karelia": 1.2,
    "Central Finland": 1.25,
}
AREA_BASE_RATE = {
    "Lapland": 13.5,
    "North Savo": 11.5,
    "Pori": 14.5,
    "Southwest Finland": 12.0,
    "Pirkanmaa": 13.0,
    "Central Ostrobothnia": 9.0,
    "North Karelia": 14.0,
    "Central Finland": 13.0,
}
# Panel: share of the area's unemployed stock in the target group, and how much of the
# long-term unemployed stock the target group covers.
RULE_ELIGIBLE_SHARE = {
    "long_term": 0.30,
    "long_term_or_under_30": 0.45,
    "long_term_or_under_25": 0.38,
    "basic_benefits": 0.60,
    "early": 0.15,
    "mid_duration": 0.20,
}
RULE_LTU_FACTOR = {
    "long_term": 1.0,
    "long_term_or_under_30": 1.0,
    "long_term_or_under_25": 1.0,
    "basic_benefits": 0.9,
    "early": 0.0,
    "mid_duration": 0.3,
}

EffectLike = float | Mapping[str, float]


def _month(s: str) -> int:
    return int(np.datetime64(s, "M").astype(np.int64))


def _month_to_ns(m: np.ndarray) -> np.ndarray:
    return np.asarray(m, dtype=np.int64).astype("datetime64[M]").astype("datetime64[ns]")


def _to_month_index(values: Any, *, column: str) -> np.ndarray:
    s = pd.to_datetime(pd.Series(values), errors="coerce")
    if s.isna().any():
        raise DataError(
            f"column {column!r} must hold dates; found {int(s.isna().sum())} missing or invalid values"
        )
    return s.to_numpy().astype("datetime64[M]").astype(np.int64)


# ---------------------------------------------------------------------------
# effect parameter
# ---------------------------------------------------------------------------
def effect_ratios(effect: EffectLike) -> np.ndarray:
    """Hazard ratios per exit route (order :data:`ROUTES`) from the ``effect`` argument.

    A number is the hazard ratio of exits from unemployment to work (routes
    ``employed`` and ``subsidised``); a mapping gives ratios per route (missing
    routes 1).
    """
    r = np.ones(len(ROUTES))
    if isinstance(effect, Mapping):
        for key, val in effect.items():
            if key not in ROUTES:
                raise DesignError(f"`effect` keys must be among {list(ROUTES)}; got {key!r}")
            r[ROUTES.index(key)] = _ratio(val)
        return r
    v = _ratio(effect)
    r[0] = r[1] = v
    return r


def _ratio(val: Any) -> float:
    if isinstance(val, bool) or not isinstance(val, (int, float, np.integer, np.floating)):
        raise DesignError(
            f"`effect` must be a hazard ratio (a finite number > 0) or a mapping of them; got {val!r}"
        )
    v = float(val)
    if not np.isfinite(v) or v <= 0 or v > 20:
        raise DesignError(f"`effect` hazard ratios must be finite and in (0, 20]; got {val!r}")
    return v


# ---------------------------------------------------------------------------
# municipalities
# ---------------------------------------------------------------------------
def _municipalities(
    n_municipalities: int, rng: np.random.Generator, area_cycle: float
) -> pd.DataFrame:
    rows: list[tuple[str, str, str, str, int]] = []
    for area, (start, rule, munis) in TRIAL_AREAS.items():
        for name, pop in munis:
            rows.append((name, area, start, rule, pop))
    n_trial = len(rows)
    others = non_trial_municipalities()[: n_municipalities - n_trial]
    for name, pop in others:
        rows.append((name, "non-trial", "", NON_TRIAL_RULE, pop))
    df = pd.DataFrame(rows, columns=["municipality", "area", "trial_start", "rule", "population"])
    n = len(df)
    trial = (df["area"] != "non-trial").to_numpy()
    amp_dev = np.where(
        trial,
        df["area"].map(AREA_AMPLITUDE).fillna(1.0).to_numpy() - 1.0,
        np.clip(rng.normal(0.0, 0.15, size=n), -0.4, 0.5),
    )
    df["cycle_amplitude"] = 1.0 + area_cycle * amp_dev
    base = np.where(
        trial,
        df["area"].map(AREA_BASE_RATE).fillna(10.0).to_numpy() + rng.normal(0.0, 1.0, size=n),
        np.clip(rng.normal(9.5, 2.5, size=n), 3.5, 18.0),
    )
    df["base_rate"] = np.clip(base, 3.0, 20.0)
    pop = df["population"].to_numpy(dtype=float)
    df["labour_force"] = np.round(0.47 * pop).astype(np.int64)
    df["growth"] = np.where(pop > 50_000, 0.006, -0.008) + rng.normal(0.0, 0.003, size=n)
    eff = rng.normal(0.0, 0.12, size=n) - 0.03 * (df["base_rate"].to_numpy() - 11.0)
    # centred on the unemployed (the persons' sampling weights), so the calibration to the
    # national Table 3.1 does not move with the seed
    w = df["labour_force"].to_numpy() * df["base_rate"].to_numpy()
    df["hazard_effect"] = eff - np.average(eff, weights=w)
    df["first_treated"] = pd.to_datetime(df["trial_start"].replace("", None), format="%Y-%m")
    df["first_treated_month"] = np.where(
        df["first_treated"].isna(),
        -1,
        df["first_treated"].to_numpy().astype("datetime64[M]").astype(np.int64),
    )
    return df


# ---------------------------------------------------------------------------
# persons
# ---------------------------------------------------------------------------
_RULES: tuple[str, ...] = tuple(ELIGIBILITY_RULES)


def _eligible(
    rule: np.ndarray, duration: np.ndarray, age: np.ndarray, benefit: np.ndarray
) -> np.ndarray:
    """Target-group membership at origin; ``rule`` holds indices into ``ELIGIBILITY_RULES``."""
    lt = duration >= 12
    table = np.stack(
        [
            lt,
            lt | (age < 30),
            lt | (age < 25),
            benefit != 0,
            duration <= 2,
            (duration >= 3) & (duration <= 9),
        ]
    )
    return table[rule, np.arange(duration.shape[0])]


def _draw_persons(
    rng: np.random.Generator,
    n: int,
    munis: pd.DataFrame,
    *,
    population: Literal["all", "treated", "eligible"] = "all",
    id_start: int = 1,
) -> pd.DataFrame:
    """Draw ``n`` persons unemployed at their origin (a stock sample of the register)."""
    o_lo, o_hi = _month(ORIGIN_START), _month(ORIGIN_END)
    weight = (munis["labour_force"] * munis["base_rate"]).to_numpy(dtype=float)
    ft = munis["first_treated_month"].to_numpy()
    if population == "treated":
        # condition on origin >= trial start: municipality weight x months from start to the
        # window's end, then origin uniform over those months (the register's joint law)
        weight = np.where(ft >= 0, weight * (o_hi - np.maximum(ft, o_lo) + 1), 0.0)
    weight = weight / weight.sum()
    rule_idx = np.array([_RULES.index(r) for r in munis["rule"]], dtype=np.int64)
    parts: list[dict[str, np.ndarray]] = []
    got = 0
    while got < n:
        m = max((4 if population == "all" else 10) * (n - got), 1000)
        mi = rng.choice(len(munis), size=m, p=weight)
        lo = np.full(m, o_lo) if population != "treated" else np.maximum(ft[mi], o_lo)
        origin = lo + np.floor(rng.random(m) * (o_hi - lo + 1)).astype(np.int64)
        cov = _core.draw_covariates(rng, m)
        frailty = cov.frailty + munis["hazard_effect"].to_numpy()[mi]
        cov = _core.Covariates(cov.age, cov.female, cov.education, cov.prior_days, frailty)
        eta = _core.log_hazard_offset(cov)
        stock, d = _core.draw_stock(rng, eta)
        ub = rng.random(m)
        benefit = np.where((cov.prior_days < 180) | (d >= 17), 2, np.where(ub < 0.7, 0, 1)).astype(
            np.int64
        )
        elig = _eligible(rule_idx[mi], d, cov.age, benefit)
        keep = stock
        if population == "treated":
            keep = stock & elig & (origin >= ft[mi])
        elif population == "eligible":
            keep = stock & elig
        k = np.flatnonzero(keep)[: n - got]
        parts.append(
            {
                "mi": mi[k],
                "origin": origin[k],
                "duration": d[k],
                "age": cov.age[k],
                "female": cov.female[k],
                "education": cov.education[k],
                "prior_days": cov.prior_days[k],
                "frailty": frailty[k],
                "benefit": benefit[k],
                "eligible": elig[k],
            }
        )
        got += k.size
    a = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    mi = a["mi"]
    area = munis["area"].to_numpy()[mi]
    ftm = ft[mi]
    treated = a["eligible"] & (ftm >= 0) & (a["origin"] >= ftm)
    d = a["duration"]
    age = a["age"]
    persons = pd.DataFrame(
        {
            "person_id": np.arange(id_start, id_start + n, dtype=np.int64),
            "municipality": munis["municipality"].to_numpy()[mi].astype(object),
            "area": area.astype(object),
            "entry_date": _month_to_ns(a["origin"] - d),
            "origin": _month_to_ns(a["origin"]),
            "duration_months": d.astype(np.int64),
            "duration_band": np.array(DURATION_BANDS, dtype=object)[
                np.searchsorted([3, 6, 12, 24], d, side="right")
            ],
            "age": age.astype(np.int64),
            "age_band": np.array(AGE_BANDS, dtype=object)[
                np.searchsorted([25, 30, 50], age, side="right")
            ],
            "sex": np.where(a["female"], "F", "M").astype(object),
            "education": np.array(EDUCATION, dtype=object)[a["education"]],
            "prior_employment_days": a["prior_days"].astype(np.int64),
            "benefit": np.array(BENEFITS, dtype=object)[a["benefit"]],
            "frailty": a["frailty"],
            "cycle_amplitude": munis["cycle_amplitude"].to_numpy()[mi],
            "eligible": a["eligible"].astype(bool),
            "treated": treated.astype(bool),
            "first_treated": pd.to_datetime(
                np.where(ftm >= 0, ftm, 0).astype("datetime64[M]").astype("datetime64[ns]")
            ).where(ftm >= 0),
        }
    )
    persons["employability"] = _employability(persons, munis)
    return persons


def _person_arrays(persons: pd.DataFrame) -> dict[str, np.ndarray]:
    edu_map = {e: i for i, e in enumerate(EDUCATION)}
    education = persons["education"].map(edu_map)
    if education.isna().any():
        bad = persons.loc[education.isna(), "education"].unique()[:5].tolist()
        raise DataError(f"column 'education' must be one of {list(EDUCATION)}; found {bad}")
    education = education.to_numpy(dtype=np.int64)
    female = (
        (persons["sex"] == "F").to_numpy() if "sex" in persons else np.zeros(len(persons), bool)
    )
    frailty = (
        persons["frailty"].to_numpy(dtype=float) if "frailty" in persons else np.zeros(len(persons))
    )
    cov = _core.Covariates(
        age=persons["age"].to_numpy(dtype=np.int64),
        female=female,
        education=education,
        prior_days=persons["prior_employment_days"].to_numpy(dtype=float),
        frailty=frailty,
    )
    if "cycle_amplitude" in persons:
        amp = persons["cycle_amplitude"].astype(float)
    elif "area" in persons:
        amp = persons["area"].map(AREA_AMPLITUDE).astype(float)
    else:
        amp = pd.Series(np.nan, index=persons.index)
    origin = _to_month_index(persons["origin"], column="origin")
    return {
        "origin": origin,
        "duration": persons["duration_months"].to_numpy(dtype=np.int64),
        "entry": origin - persons["duration_months"].to_numpy(dtype=np.int64),
        "eta": _core.log_hazard_offset(cov),
        "amplitude": amp.fillna(1.0).to_numpy(dtype=float),
        "age": cov.age,
        "education": education,
    }


def _employability(persons: pd.DataFrame, munis: pd.DataFrame) -> np.ndarray:
    """P(the spell current at origin ends in work within 12 months | no treatment)."""
    a = _person_arrays(persons)
    alpha = _core.baseline_alpha()
    n = a["origin"].shape[0]
    emp_codes = np.isin(np.arange(len(_core.CODES)), np.flatnonzero(_core.CODE_ROUTE <= 1))
    ws = _core.route_weights(
        age=a["age"], education=a["education"], eta=a["eta"], long_term=np.zeros(n, bool)
    )
    wl = _core.route_weights(
        age=a["age"], education=a["education"], eta=a["eta"], long_term=np.ones(n, bool)
    )
    es, el = ws[:, emp_codes].sum(axis=1), wl[:, emp_codes].sum(axis=1)
    surv = np.ones(n)
    prob = np.zeros(n)
    cal = _core._cal_level()
    for k in range(12):
        m = a["origin"] + k
        d = np.minimum(a["duration"] + k, _core.MAX_DURATION)
        c = (
            a["amplitude"] * _core.BETA_CYCLE * (cal - _core.national_rate(m))
            + _core.SEASON_HAZARD[m % 12]
        )
        p = -np.expm1(-np.exp(alpha[d] + a["eta"] + c + _core.first_month_shift(m, d)))
        prob += surv * p * np.where(d >= 12, el, es)
        surv *= 1.0 - p
    return prob


# ---------------------------------------------------------------------------
# spells
# ---------------------------------------------------------------------------
def _spell_frame(person_id: np.ndarray, sp: dict[str, np.ndarray]) -> pd.DataFrame:
    end_month = sp["end_month"]
    ended = end_month >= 0
    end = np.full(end_month.shape[0], np.datetime64("NaT"), dtype="datetime64[ns]")
    end[ended] = (
        (end_month[ended] + 1).astype("datetime64[M]").astype("datetime64[D]")
        - np.timedelta64(1, "D")
    ).astype("datetime64[ns]")
    codes = np.array((*_core.CODES, ""), dtype=object)
    code = np.where(sp["code"] >= 0, sp["code"], len(_core.CODES))
    return pd.DataFrame(
        {
            "person_id": person_id[sp["person"]],
            "start": _month_to_ns(sp["start"]),
            "end": end,
            "state": pd.Categorical.from_codes(
                sp["state"].astype(np.int64), categories=list(STATES)
            ),
            "exit_reason": codes[code],
            "next_state": pd.Categorical.from_codes(sp["next_state"], categories=list(STATES)),
        }
    )


_REQUIRED = ["person_id", "origin", "duration_months", "age", "education", "prior_employment_days"]


def _check_persons(persons: Any) -> pd.DataFrame:
    persons = require_frame(persons, name="persons")
    require_columns(persons, _REQUIRED, name="persons")
    require_no_missing(persons, _REQUIRED, name="persons", id="person_id")
    require_unique(persons, "person_id", name="persons")
    d = persons["duration_months"]
    if not pd.api.types.is_integer_dtype(d) or (d < 0).any():
        raise DataError("column 'duration_months' of `persons` must hold integers >= 0")
    return persons


def _resolve_treated(persons: pd.DataFrame, treated: Any) -> np.ndarray:
    if isinstance(treated, str):
        require_columns(persons, treated, name="persons")
        t = persons[treated]
    else:
        t = pd.Series(np.asarray(treated))
        if len(t) != len(persons):
            raise DataError(
                f"`treated` must have one value per person ({len(persons)}); got {len(t)}"
            )
    if t.isna().any():
        raise DataError(f"`treated` has {int(t.isna().sum())} missing values")
    vals = set(pd.unique(t).tolist())
    if not vals <= {0, 1}:
        raise DataError(
            f"`treated` must be boolean (or 0/1); found values such as {sorted(map(str, vals))[:5]}"
        )
    return t.to_numpy().astype(bool)


def _end_month(end: Any, origin: np.ndarray) -> int:
    try:
        e = pd.Timestamp(end)
    except (ValueError, TypeError) as exc:
        raise DesignError(f"`end` must be a date such as '2023-12-31'; got {end!r}") from exc
    if pd.isna(e):
        raise DesignError(f"`end` must be a date such as '2023-12-31'; got {end!r}")
    em = int(np.datetime64(e.to_datetime64(), "M").astype(np.int64))
    if origin.size and em < int(origin.max()):
        last = np.datetime64(int(origin.max()), "M")
        raise DesignError(f"`end` ({e.date()}) must not be before the latest origin ({last})")
    return em


def simulate_spells(
    persons: pd.DataFrame,
    treated: Any,
    *,
    effect: EffectLike = 1.2,
    seed: SeedLike = None,
    end: Any = DEFAULT_END,
    treatment_months: int = 24,
) -> pd.DataFrame:
    """Simulate register spells of ``persons`` under a given treatment assignment.

    Every person is unemployed from ``entry_date`` (= ``origin`` minus
    ``duration_months``) and followed month by month from ``origin`` to the data
    extraction date ``end`` through the states of the data model. Treated
    persons' hazards of leaving unemployment for the routes named by ``effect``
    are multiplied by its hazard ratios during the ``treatment_months`` months
    after origin (while unemployed).

    Parameters
    ----------
    persons : DataFrame
        One row per person with ``person_id``, ``origin``, ``duration_months``,
        ``age``, ``education`` ("basic"/"secondary"/"tertiary") and
        ``prior_employment_days``; used when present: ``area`` (cyclical
        amplitude), ``sex``, ``frailty`` (latent log-hazard shift, 0 if absent).
        The persons table of :func:`make_register` has all of them.
    treated : str or array of bool
        Column name or one value per row: who receives the service.
    effect : float or mapping, default 1.2
        Hazard ratio of exits to work (``employed`` and ``subsidised``) or a
        mapping ``{route: hazard ratio}`` over ``employed``, ``subsidised``,
        ``service``, ``education``, ``out_of_labour_force``; 1 means no effect.
    seed : int, Generator, SeedSequence or None
        Randomness; the same seed gives the same spells.
    end : date-like, default "2023-12-31"
        Data extraction date: spells still going on then have ``end`` NaT.
    treatment_months : int, default 24
        How long after origin the treatment acts on the hazards.

    Returns
    -------
    DataFrame
        Spells sorted by ``person_id``, ``start``: ``person_id``, ``start``,
        ``end`` (last day of the spell's last month; NaT = censored), ``state``
        (categorical), ``exit_reason`` (register code ending an unemployment
        spell; "" for other states and when censored), ``next_state``
        (categorical; NaN when censored). ``attrs["seed"]`` records the seed
        (with ``seed=None``, the entropy drawn), so the spells can be made again.

    Raises
    ------
    DataError
        Missing columns, missing values, duplicate ids, a bad ``treated``.
    DesignError
        Bad ``effect``, ``end`` before an origin, bad ``treatment_months``.

    Examples
    --------
    >>> import trialkit as tk
    >>> reg = tk.datasets.make_register(n_persons=500, seed=0, truth_n=2000)
    >>> elig = reg.persons[reg.persons["eligible"]]
    >>> arm = (elig["person_id"] % 2 == 0).to_numpy()
    >>> sp = tk.datasets.simulate_spells(elig, arm, effect=1.3, seed=1)
    >>> sp["person_id"].nunique() == len(elig)
    True
    >>> sorted(sp["state"].cat.categories)[:3]
    ['education', 'employed', 'out_of_labour_force']
    """
    persons = _check_persons(persons)
    t = _resolve_treated(persons, treated)
    ratios = effect_ratios(effect)
    treatment_months = check_int("treatment_months", treatment_months, minimum=1)
    order = np.argsort(persons["person_id"].to_numpy(), kind="stable")
    p = persons.iloc[order]
    t = t[order]
    a = _person_arrays(p)
    em = _end_month(end, a["origin"])
    ss = as_seed_sequence(seed)
    rng = np.random.Generator(np.random.PCG64(ss))
    out = _core.simulate(
        rng=rng,
        origin=a["origin"],
        duration=a["duration"],
        eta=a["eta"],
        amplitude=a["amplitude"],
        age=a["age"],
        education=a["education"],
        treated=t,
        ratios=ratios,
        treatment_months=treatment_months,
        end_month=em,
    )
    sp = _core.assemble_spells(
        n=len(p),
        entry_month=a["entry"],
        ev_person=out.ev_person,
        ev_month=out.ev_month,
        ev_state=out.ev_state,
        ev_code=out.ev_code,
    )
    frame = _spell_frame(p["person_id"].to_numpy(), sp)
    frame.attrs["seed"] = seed_record(ss)  # replayable, also when seed=None drew entropy
    return frame


# ---------------------------------------------------------------------------
# truth
# ---------------------------------------------------------------------------
OUTCOMES: tuple[str, ...] = (
    *(f"employed_{h}m" for h in _core.HORIZONS),
    "months_employed_60m",
    "months_unemployed_60m",
    "rmst_employment_60m",
    *(f"cif_{r}_{h}m" for r in ROUTES for h in (12, 24, 60)),
)


def _outcome_arrays(o: _core.SimOutput) -> dict[str, np.ndarray]:
    res: dict[str, np.ndarray] = {}
    for k, h in enumerate(_core.HORIZONS):
        res[f"employed_{h}m"] = o.employed_at[k].astype(float)
    res["months_employed_60m"] = o.months_employed.astype(float)
    res["months_unemployed_60m"] = o.months_unemployed.astype(float)
    res["rmst_employment_60m"] = o.time_to_employment.astype(float)
    for j, r in enumerate(ROUTES):
        for h in (12, 24, 60):
            res[f"cif_{r}_{h}m"] = ((o.first_exit_route == j) & (o.first_exit_time <= h)).astype(
                float
            )
    return res


def true_effects(
    persons: pd.DataFrame,
    *,
    effect: EffectLike = 1.2,
    seed: SeedLike = None,
    treatment_months: int = 24,
) -> dict[str, Any]:
    """True effects of the treatment on five-year outcomes for the given persons.

    Every person is simulated twice over the 60 months after origin, once
    treated and once untreated, with the *same* random numbers (common random
    numbers), so the difference is the effect of the treatment on these very
    people and its Monte-Carlo noise is small. With the same ``seed`` the
    paths are exactly those of :func:`simulate_spells` with everybody treated /
    nobody treated (the tests check this).

    Parameters
    ----------
    persons : DataFrame
        As for :func:`simulate_spells`; outcomes are measured from ``origin``.
    effect : float or mapping, default 1.2
        Hazard ratio(s) of the treatment, as for :func:`simulate_spells`.
    seed : int, Generator, SeedSequence or None
        Randomness (the same draws for both runs).
    treatment_months : int, default 24
        How long after origin the treatment acts.

    Returns
    -------
    dict
        ``{"effect": {outcome: treated - untreated}, "mc_se": {outcome: Monte-Carlo
        SE of the effect}, "treated": {outcome: mean}, "untreated": {outcome: mean},
        "n": n, "seed": the seed record}``; outcomes in :data:`OUTCOMES`
        (``employed_{12,24,36,48,60}m``, ``months_employed_60m``,
        ``months_unemployed_60m``, ``rmst_employment_60m``,
        ``cif_{route}_{12,24,60}m``), defined in :func:`make_register` and
        docs/datasets.md.

    Raises
    ------
    DataError
        Missing columns or values, duplicate ids.
    DesignError
        Bad ``effect`` or ``treatment_months``.

    Examples
    --------
    >>> import trialkit as tk
    >>> reg = tk.datasets.make_register(n_persons=500, seed=0, truth_n=2000)
    >>> te = tk.datasets.true_effects(reg.persons, effect=1.0, seed=0)
    >>> te["effect"]["employed_24m"]
    0.0
    """
    persons = _check_persons(persons)
    ratios = effect_ratios(effect)
    treatment_months = check_int("treatment_months", treatment_months, minimum=1)
    order = np.argsort(persons["person_id"].to_numpy(), kind="stable")
    ss = as_seed_sequence(seed)
    out = _truth_for(persons.iloc[order], ratios, treatment_months, ss)
    out["seed"] = seed_record(ss)  # replayable, also when seed=None drew entropy
    return out


def _panel_truth(
    arr: dict[str, np.ndarray], lf: np.ndarray, months: np.ndarray, kappa: float
) -> dict[str, Any]:
    e = arr["event_time"]
    post = e >= 0
    d_rate = arr["rate1"] - arr["rate0"]
    d_unemp = lf * d_rate / 100.0
    d_ltu = arr["ltu1"] - arr["ltu0"]
    by_e = {}
    if post.any():
        for k in range(int(e[post].max()) + 1):
            sel = e == k
            by_e[str(k)] = float(d_rate[sel].mean())
    mean = (lambda x: float(x[post].mean())) if post.any() else (lambda x: 0.0)
    return {
        "att_unemployment_rate": mean(d_rate),
        "att_unemployed": mean(d_unemp),
        "att_long_term_unemployed": mean(d_ltu),
        "att_unemployment_rate_by_event_time": by_e,
        "n_treated_cells": int(post.sum()),
        "hazard_multiplier_eligible": kappa,
    }


# ---------------------------------------------------------------------------
# the register
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class Register:
    """A synthetic register extract: persons, spells, panel, municipalities and the truth.

    Attributes
    ----------
    persons, spells, panel, municipalities : DataFrame
        See docs/datasets.md for every column.
    truth : dict
        JSON-safe true effects built into the data (see :func:`make_register`).
    params : dict
        The arguments that made the data (JSON-safe), with the replayable seed:
        ``make_register(**reg.params)`` makes the same register again.
    elapsed_s : float
        Seconds the generation took.
    """

    persons: pd.DataFrame
    spells: pd.DataFrame
    panel: pd.DataFrame
    truth: dict[str, Any]
    params: dict[str, Any]
    municipalities: pd.DataFrame = field(default_factory=pd.DataFrame)
    elapsed_s: float = float("nan")

    def __repr__(self) -> str:
        return (
            f"Register(persons={len(self.persons)}, spells={len(self.spells)}, "
            f"panel={len(self.panel)} rows, municipalities={self.panel['municipality'].nunique()}, "
            f"seed={self.params.get('seed')!r})"
        )


def make_register(
    n_persons: int = 20_000,
    *,
    seed: SeedLike = None,
    n_municipalities: int = 300,
    effect: EffectLike = 1.2,
    treatment_months: int = 24,
    area_cycle: float = 1.0,
    end: Any = DEFAULT_END,
    truth_n: int = 50_000,
) -> Register:
    r"""A synthetic Finnish register extract with the true effects built in.

    Persons unemployed at their start of follow-up (``origin``, a month in
    2016-01 .. 2018-12) are drawn from about 300 real municipalities, with
    their register spells month by month until the extraction date ``end``, a
    municipality x month panel for 2010-01 .. 2023-12, and the true effects of
    the trial service. The eight trial areas of the 2017-2018 trials have their
    real municipalities and staggered starts (municipal trials 2017-08; the
    regional trials Central Finland 2017-03, North Karelia 2017-04, Central
    Ostrobothnia 2017-05). Eligible persons (the area's target group) in trial
    municipalities whose origin is on or after the trial start are treated: the
    service multiplies their hazards of leaving unemployment for the routes in
    ``effect`` while they are unemployed, during ``treatment_months`` months.
    The calibration against the brief's figures (Table 3.1 survival, the
    revolving door, exit reasons) is described in docs/datasets.md and can be
    checked with :func:`trialkit.datasets.calibration`.

    Parameters
    ----------
    n_persons : int, default 20000
        Persons in ``persons`` (a sample of the unemployed at origin).
    seed : int, Generator, SeedSequence or None
        Randomness; the same seed gives identical frames and truth. ``None``
        draws fresh entropy, recorded in ``params["seed"]``.
    n_municipalities : int, default 300
        Municipalities (64 .. 300): the 63 trial municipalities and the
        largest of the others.
    effect : float or mapping, default 1.2
        The treatment's hazard ratio on exits from unemployment to work (routes
        ``employed`` and ``subsidised``), or a mapping ``{route: hazard ratio}``
        over ``employed``, ``subsidised``, ``service``, ``education``,
        ``out_of_labour_force``. ``1.0`` means no effect.
    treatment_months : int, default 24
        Months after origin during which the service acts.
    area_cycle : float, default 1.0
        Scales how much the areas' cyclical amplitude differs from the national
        cycle (0: every municipality follows the national cycle alike, so the
        panel's untreated trends are parallel in levels; 1: the trial areas are
        more cyclical, as the report warns).
    end : date-like, default "2023-12-31"
        Data extraction date (spells still going on then are censored).
    truth_n : int, default 50000
        Persons simulated (twice) for each truth population; at least 1000.

    Returns
    -------
    Register
        ``persons``, ``spells``, ``panel``, ``municipalities`` (DataFrames; every
        column in docs/datasets.md), ``params`` and ``truth``.

        ``truth`` (a JSON-safe dict) holds:

        ``effect_hazard_ratios``
            hazard ratio per exit route used by the treatment.
        ``treatment_months``
            months after origin during which the treatment acts.
        ``method``, ``n_truth``
            how the truth was computed and with how many persons per population.
        ``att``
            ``{outcome: effect}`` -- average effect on the treated: persons drawn
            like the register's treated (eligible, trial municipality, origin
            from the trial start to 2018-12), each simulated with the treatment
            on and off with common random numbers; effect = mean on - mean off.
        ``att_means``
            ``{"treated": {outcome: mean}, "untreated": {outcome: mean}}`` for ``att``.
        ``att_mc_se``
            ``{outcome: Monte-Carlo standard error of the att}`` (sd of the
            persons' on - off differences / sqrt(truth_n); about 0.001 for
            ``employed_24m`` with the default ``truth_n``).
        ``ate_eligible``, ``ate_eligible_means``, ``ate_eligible_mc_se``
            the same for all eligible persons (any area; the target group of
            each area's rule, and "12+ months or under 25" outside the trial
            areas): the estimand of a trial randomising eligible persons.
        ``panel``
            effects on the municipality panel: ``att_unemployment_rate``
            (percentage points), ``att_unemployed`` and
            ``att_long_term_unemployed`` (persons per municipality-month), each
            averaged over treated municipality-months from the trial start on;
            ``att_unemployment_rate_by_event_time`` (``{"e": pp}``, months since
            the start); ``n_treated_cells``; ``hazard_multiplier_eligible`` (the
            factor on the eligible's all-cause exit hazard that drives them).
        ``trial_starts``
            ``{area: "YYYY-MM"}``.

        Outcomes (keys of ``att`` and ``ate_eligible``; :data:`OUTCOMES`), all
        measured from ``origin`` (the origin month is month 1):

        ``employed_{h}m`` (h = 12, 24, 36, 48, 60)
            in work (state ``employed`` or ``subsidised``) in month h.
        ``months_employed_60m``, ``months_unemployed_60m``
            months in work / in state ``unemployed`` among months 1..60.
        ``rmst_employment_60m``
            restricted mean time to work: mean of min(T, 60), T the number of
            months before the first month in work.
        ``cif_{route}_{h}m`` (h = 12, 24, 60)
            cumulative incidence of the exit route of the unemployment spell
            going on at origin: P(it ended within months 1..h, to ``route``).

    Raises
    ------
    DesignError
        A parameter out of range (the message names it).

    Notes
    -----
    Exits from unemployment follow a discrete-time competing-risks model with
    all-cause hazard :math:`\lambda_i(d, m) = \exp\{\alpha(d) + \eta_i + c_i(m)\}`
    split over the ten register exit codes; a treated person's cause-specific
    hazards are multiplied by the route's hazard ratio. :math:`\\alpha(d)` is
    solved so that the population survival of new spells matches Table 3.1
    (cohort 8/2016-8/2017). Persons are a stock sample: found at duration
    :math:`d` with probability proportional to :math:`S_i(d)` (Lancaster 1990).
    The panel is an aggregate model of each municipality's registered
    unemployment: structural level + area amplitude x national cycle +
    season + AR(1) shock; the treatment lowers the eligible stock by the
    steady-state factor implied by the hazard multiplier (docs/datasets.md).

    References
    ----------
    Lancaster, T. (1990). *The Econometric Analysis of Transition Data*. CUP.
    Andersen, P. K. & Keiding, N. (2002). Multi-state models for event history
    analysis. *Statistical Methods in Medical Research* 11, 91-115.

    Examples
    --------
    >>> import trialkit as tk
    >>> reg = tk.datasets.make_register(n_persons=2000, seed=0, truth_n=2000)
    >>> reg.panel["municipality"].nunique(), reg.panel["month"].nunique()
    (300, 168)
    >>> sorted(reg.persons["area"].unique())[:2]
    ['Central Finland', 'Central Ostrobothnia']
    >>> reg.truth["att"]["employed_24m"] > 0
    True
    """
    t0 = time.perf_counter()
    n_persons = check_int("n_persons", n_persons, minimum=1)
    n_trial = sum(len(v[2]) for v in TRIAL_AREAS.values())
    n_max = n_trial + len(non_trial_municipalities())
    n_municipalities = check_int("n_municipalities", n_municipalities, minimum=0)
    if not n_trial + 1 <= n_municipalities <= n_max:
        raise DesignError(
            f"`n_municipalities` must be between {n_trial + 1} (the {n_trial} trial municipalities "
            f"and at least one other) and {n_max}; got {n_municipalities}"
        )
    ratios = effect_ratios(effect)
    treatment_months = check_int("treatment_months", treatment_months, minimum=1)
    if (
        isinstance(area_cycle, bool)
        or not isinstance(area_cycle, (int, float))
        or not 0 <= area_cycle <= 3
    ):
        raise DesignError(f"`area_cycle` must be a number in [0, 3]; got {area_cycle!r}")
    truth_n = check_int("truth_n", truth_n, minimum=1000)
    ss = as_seed_sequence(seed)
    seed_rec = seed_record(ss) if seed is None else seed_record(seed)
    s_muni, s_persons, s_spells, s_truth_t, s_truth_e = ss.spawn(5)

    rng_m = np.random.Generator(np.random.PCG64(s_muni))
    munis = _municipalities(n_municipalities, rng_m, float(area_cycle))
    persons = _draw_persons(np.random.Generator(np.random.PCG64(s_persons)), n_persons, munis)
    a = _person_arrays(persons)
    em = _end_month(end, a["origin"])
    out = _core.simulate(
        rng=np.random.Generator(np.random.PCG64(s_spells)),
        origin=a["origin"],
        duration=a["duration"],
        eta=a["eta"],
        amplitude=a["amplitude"],
        age=a["age"],
        education=a["education"],
        treated=persons["treated"].to_numpy(),
        ratios=ratios,
        treatment_months=treatment_months,
        end_month=em,
    )
    sp = _core.assemble_spells(
        n=n_persons,
        entry_month=a["entry"],
        ev_person=out.ev_person,
        ev_month=out.ev_month,
        ev_state=out.ev_state,
        ev_code=out.ev_code,
    )
    spells = _spell_frame(persons["person_id"].to_numpy(), sp)

    # panel
    months = np.arange(_month(PANEL_START), _month(PANEL_END) + 1)
    rule = munis["rule"].to_numpy()
    kappa = float(_core.SHARE_LONG @ ratios[_core.CODE_ROUTE])
    arr = _core.panel_arrays(
        rng=rng_m,
        months=months,
        labour_force=munis["labour_force"].to_numpy(dtype=float),
        growth=munis["growth"].to_numpy(),
        base_rate=munis["base_rate"].to_numpy(),
        amplitude=munis["cycle_amplitude"].to_numpy(),
        first_treated=munis["first_treated_month"].to_numpy(),
        eligible_share=np.where(
            munis["area"].to_numpy() == "non-trial",
            0.0,
            np.array([RULE_ELIGIBLE_SHARE[r] for r in rule]),
        ),
        ltu_factor=np.where(
            munis["area"].to_numpy() == "non-trial",
            0.0,
            np.array([RULE_LTU_FACTOR[r] for r in rule]),
        ),
        kappa=kappa,
    )
    n_m, n_t = len(munis), months.size
    panel = pd.DataFrame(
        {
            "municipality": np.repeat(munis["municipality"].to_numpy(), n_t).astype(object),
            "area": np.repeat(munis["area"].to_numpy(), n_t).astype(object),
            "month": np.tile(_month_to_ns(months), n_m),
            "unemployed": arr["unemployed"].ravel(),
            "long_term_unemployed": arr["long_term_unemployed"].ravel(),
            "labour_force": arr["labour_force"].ravel(),
            "unemployment_rate": arr["unemployment_rate"].ravel(),
            "subsidy_spending": arr["subsidy_spending"].ravel(),
            "first_treated": np.repeat(munis["first_treated"].to_numpy(), n_t),
            "inflow": arr["inflow"].ravel(),
        }
    )

    # truth
    truth_pop_t = _draw_persons(
        np.random.Generator(np.random.PCG64(s_truth_t)), truth_n, munis, population="treated"
    )
    truth_pop_e = _draw_persons(
        np.random.Generator(np.random.PCG64(s_truth_e)), truth_n, munis, population="eligible"
    )
    tt = _truth_for(truth_pop_t, ratios, treatment_months, s_truth_t.spawn(1)[0])
    te = _truth_for(truth_pop_e, ratios, treatment_months, s_truth_e.spawn(1)[0])
    lf = arr["labour_force"].astype(float)
    truth = {
        "effect_hazard_ratios": {r: float(v) for r, v in zip(ROUTES, ratios, strict=True)},
        "treatment_months": treatment_months,
        "method": "common random numbers: each truth person simulated with treatment on and off",
        "n_truth": truth_n,
        "att": tt["effect"],
        "att_means": {"treated": tt["treated"], "untreated": tt["untreated"]},
        "att_mc_se": tt["mc_se"],
        "ate_eligible": te["effect"],
        "ate_eligible_means": {"treated": te["treated"], "untreated": te["untreated"]},
        "ate_eligible_mc_se": te["mc_se"],
        "panel": _panel_truth(arr, lf, months, kappa),
        "trial_starts": {area: v[0] for area, v in TRIAL_AREAS.items()},
    }
    params = {
        "n_persons": n_persons,
        "seed": seed_rec,
        "n_municipalities": n_municipalities,
        "effect": {r: float(v) for r, v in zip(ROUTES, ratios, strict=True)},
        "treatment_months": treatment_months,
        "area_cycle": float(area_cycle),
        "end": str(pd.Timestamp(end).date()),
        "truth_n": truth_n,
    }
    return Register(
        persons=persons,
        spells=spells,
        panel=panel,
        truth=truth,
        params=params,
        elapsed_s=time.perf_counter() - t0,
        municipalities=munis.drop(columns=["first_treated_month"]),
    )


def _truth_for(
    pop: pd.DataFrame, ratios: np.ndarray, treatment_months: int, ss: np.random.SeedSequence
) -> dict[str, Any]:
    a = _person_arrays(pop)
    arrays = {}
    for label, flag in (("treated", True), ("untreated", False)):
        o = _core.simulate(
            rng=np.random.Generator(np.random.PCG64(ss)),
            origin=a["origin"],
            duration=a["duration"],
            eta=a["eta"],
            amplitude=a["amplitude"],
            age=a["age"],
            education=a["education"],
            treated=np.full(len(pop), flag),
            ratios=ratios,
            treatment_months=treatment_months,
            end_month=int(a["origin"].max()) + _core.FOLLOW_UP - 1,
            record_events=False,
            record_outcomes=True,
        )
        arrays[label] = _outcome_arrays(o)
    means = {lab: {k: float(v.mean()) for k, v in arr.items()} for lab, arr in arrays.items()}
    eff = {k: means["treated"][k] - means["untreated"][k] for k in OUTCOMES}
    n = len(pop)
    mc_se = {
        k: float(np.std(arrays["treated"][k] - arrays["untreated"][k]) / np.sqrt(n))
        for k in OUTCOMES
    }
    return {
        "effect": eff,
        "mc_se": mc_se,
        "treated": means["treated"],
        "untreated": means["untreated"],
        "n": len(pop),
    }
