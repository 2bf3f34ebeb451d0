"""Numerics of the example-register generator (numpy in, numpy out; no pandas).

Time is counted in whole calendar months: a *month index* is the number of
months since 1970-01 (``numpy.datetime64(..., "M").astype(int)``). A person's
life after the start of follow-up (``origin``) is simulated one calendar month
at a time, vectorised over persons: in each month every person draws two
uniforms (whether they leave their current state, and where to), so that the
same ``seed`` gives the same random numbers whatever the treatment -- common
random numbers for the "treatment on / treatment off" truth.

The model is a discrete-time multi-state model with piecewise-constant
cause-specific hazards (e.g. Andersen & Keiding 2002, *Stat Methods Med Res*
11:91-115). From unemployment the all-cause hazard in a month is

.. math:: \\lambda_i(d, m) = \\exp\\{\\alpha(d) + \\eta_i + c_i(m)\\}

with ``d`` the elapsed duration, ``eta_i`` the person's log relative hazard
(age, education, prior employment, municipality, frailty) and ``c_i(m)`` the
calendar effect (business cycle times the area's cyclical amplitude, plus
seasonality). The hazard is split over the ten register exit routes by
person-specific shares; a treatment multiplies the cause-specific hazards of
chosen routes by hazard ratios. The monthly probability of leaving is
``1 - exp(-sum_j lambda_ij)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import optimize

from trialkit.followup._followup import STATES

# ---------------------------------------------------------------------------
# states, register exit codes, routes
# ---------------------------------------------------------------------------
# the register states of the data model (docs/index.md), in code order
UNEMPLOYED, SERVICE, EMPLOYED, SUBSIDISED, EDUCATION, OLF = range(6)

CODES: tuple[str, ...] = ("00", "01", "03", "04", "05", "08", "10", "11", "12", "13")
#: state entered when an unemployment spell ends with each code
CODE_STATE = np.array(
    [SUBSIDISED, EMPLOYED, EMPLOYED, SERVICE, OLF, EDUCATION, OLF, SERVICE, SERVICE, EDUCATION],
    dtype=np.int8,
)
CODE_DID_NOT_RENEW = CODES.index("10")

#: exit routes a treatment can act on (the states entered from unemployment)
ROUTES: tuple[str, ...] = ("employed", "subsidised", "service", "education", "out_of_labour_force")
_ROUTE_OF_STATE = {EMPLOYED: 0, SUBSIDISED: 1, SERVICE: 2, EDUCATION: 3, OLF: 4}
CODE_ROUTE = np.array([_ROUTE_OF_STATE[int(s)] for s in CODE_STATE], dtype=np.int8)

# Exit-route shares of unemployment spells (codes in CODES order).
# Long-term (12+ months): the brief's "rest of Finland" shares for codes 12, 11, 03, 05
# (7.9 %, 14.7 %, 14.1 %, 16.5 %); the remaining 46.8 % spread over the other codes.
SHARE_LONG = np.array([12.0, 4.0, 20.5, 8.0, 10.0, 3.0, 12.0, 13.2, 4.7, 7.8])
SHARE_LONG = SHARE_LONG / SHARE_LONG.sum()
# Short spells: about a third each to work, out of the labour force / education and services
# (the brief's example month of outflow), most work found by the jobseekers themselves.
SHARE_SHORT = np.array([6.0, 6.0, 30.0, 14.0, 10.0, 4.0, 9.0, 13.0, 2.0, 6.0])
SHARE_SHORT = SHARE_SHORT / SHARE_SHORT.sum()

# ---------------------------------------------------------------------------
# calendar: national registered unemployment rate (percent), piecewise linear
# ---------------------------------------------------------------------------
_RATE_KNOTS = [
    ("2009-07", 10.0),
    ("2010-07", 10.3),
    ("2011-07", 9.6),
    ("2012-07", 10.1),
    ("2013-07", 11.6),
    ("2014-07", 12.8),
    ("2015-07", 13.8),
    ("2016-02", 14.0),
    ("2016-08", 13.2),
    ("2017-08", 11.7),
    ("2018-08", 10.1),
    ("2019-08", 9.2),
    ("2020-02", 9.4),
    ("2020-05", 14.2),
    ("2020-12", 13.0),
    ("2021-08", 10.8),
    ("2022-08", 9.2),
    ("2023-08", 9.9),
    ("2024-12", 10.4),
]
_KNOT_M = np.array([np.datetime64(k, "M").astype(np.int64) for k, _ in _RATE_KNOTS], dtype=float)
_KNOT_V = np.array([v for _, v in _RATE_KNOTS])

#: registered unemployment (percent) at the level where a municipality sits at its base
RATE_CENTRE = 11.0
#: months (as month indices) of the calibration cohort Aug 2016 - Jul 2017
CAL_START = int(np.datetime64("2016-08", "M").astype(np.int64))
CAL_END = int(np.datetime64("2017-07", "M").astype(np.int64))
#: log-hazard change per percentage point of national unemployment below its level
#: in the calibration year
BETA_CYCLE = 0.16
#: seasonal log-hazard shifts of leaving unemployment, Jan..Dec (mean zero)
SEASON_HAZARD = np.array([0.10, 0.0, 0.0, 0.05, 0.05, -0.10, -0.20, 0.15, 0.10, 0.0, -0.05, -0.10])
SEASON_HAZARD = SEASON_HAZARD - SEASON_HAZARD.mean()
#: seasonal shifts of the registered unemployment rate (percentage points at 11 %), Jan..Dec
SEASON_RATE = np.array([0.6, 0.4, 0.1, -0.2, -0.3, 0.6, 0.8, 0.0, -0.5, -0.5, -0.3, 0.3])
SEASON_RATE = SEASON_RATE - SEASON_RATE.mean()


#: From the 2017-08 cohort on, new unemployed leave much faster in their first month
#: (Table 3.1: 41 % vs 30 % left within a month; the 2017 reform brought interviews every
#: three months from the start of unemployment). A log-hazard shift on the first month of
#: a spell from this month on reproduces it; it is national, so it does not bias comparisons
#: between areas -- but it does coincide with the municipal trials' start.
FIRST_MONTH_SHIFT = 0.24
FIRST_MONTH_SHIFT_FROM = int(np.datetime64("2017-08", "M").astype(np.int64))


def first_month_shift(month: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """Log-hazard shift of :data:`FIRST_MONTH_SHIFT` in a spell's first month from 2017-08."""
    return np.where(
        (np.asarray(month) >= FIRST_MONTH_SHIFT_FROM) & (np.asarray(duration) == 0),
        FIRST_MONTH_SHIFT,
        0.0,
    )


_TABLE_FROM = int(np.datetime64("1990-01", "M").astype(np.int64))
_RATE_TABLE = np.interp(
    np.arange(_TABLE_FROM, _TABLE_FROM + 12 * 60, dtype=float), _KNOT_M, _KNOT_V
)


def national_rate(month: np.ndarray) -> np.ndarray:
    """National registered unemployment rate (percent) at month indices ``month``.

    Piecewise linear between the knots (constant outside them); integer months in
    1990..2049 are looked up in a table.
    """
    month = np.asarray(month)
    if month.dtype.kind in "iu":
        i = month - _TABLE_FROM
        if i.size == 0 or (i.min() >= 0 and i.max() < _RATE_TABLE.size):
            return _RATE_TABLE[i]
    return np.interp(month.astype(float), _KNOT_M, _KNOT_V)


@lru_cache(maxsize=1)
def _cal_level() -> float:
    return float(national_rate(np.arange(CAL_START, CAL_END + 1)).mean())


def calendar_effect(month: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """Log-hazard calendar effect ``c(m)`` (zero on average in the calibration year).

    Higher unemployment means a lower hazard of leaving it; ``amplitude`` (per
    person, from the area) scales the cyclical part.
    """
    month = np.asarray(month)
    cyc = BETA_CYCLE * (_cal_level() - national_rate(month))
    return amplitude * cyc + SEASON_HAZARD[np.asarray(month) % 12]


# ---------------------------------------------------------------------------
# calibration of the baseline duration dependence to Table 3.1
# ---------------------------------------------------------------------------
#: Table 3.1, cohort Aug 2016 - Aug 2017: 46,989 new unemployed, still unemployed after
#: 1, 3, 6, 12 months
TABLE31_NEW = 46989
TABLE31_STILL = {1: 32672, 3: 21288, 6: 13822, 12: 6191}
TABLE31_NEW_1718 = 47051
TABLE31_STILL_1718 = {1: 27639, 3: 17249, 6: 10296, 12: 4411}
MAX_DURATION = 120
#: hazard multipliers beyond 12 months relative to months 7-12 (the long-term unemployed
#: leave more slowly still; Table 3.1 ends at 12 months)
LATE_FACTORS = {12: 0.75, 24: 0.55}
#: small multiplicative corrections of the cumulative hazards at the knots, found by
#: simulating the register and comparing with Table 3.1 (re-entry spells and the
#: calendar within the cohort year shift the raw calibration slightly)
KNOT_CORRECTION = {1: 1.19, 3: 1.16, 6: 1.116, 12: 1.048}


@dataclass(frozen=True)
class Covariates:
    """Person covariates as arrays (codes: education 0 basic, 1 secondary, 2 tertiary)."""

    age: np.ndarray
    female: np.ndarray
    education: np.ndarray
    prior_days: np.ndarray
    frailty: np.ndarray


def draw_covariates(rng: np.random.Generator, n: int, *, frailty_sd: float = 0.5) -> Covariates:
    """Covariates of persons entering unemployment (the inflow)."""
    u = rng.random((6, n))
    grp = np.where(u[0] < 0.30, 0, np.where(u[0] < 0.75, 1, 2))
    lo = np.array([18, 30, 50])[grp]
    hi = np.array([30, 50, 65])[grp]
    age = (lo + np.floor(u[1] * (hi - lo))).astype(np.int64)
    female = u[2] < 0.45
    p_basic = 0.20 + 0.12 * (age < 25) + 0.08 * (age >= 55)
    p_tert = np.clip(0.24 - 0.16 * (age < 25), 0.02, None)
    education = np.where(u[3] < p_basic, 0, np.where(u[3] < 1 - p_tert, 1, 2)).astype(np.int64)
    a = 0.8 + 0.9 * (age >= 25) + 0.3 * (education == 2)
    share = u[5] ** (1.0 / a)  # Beta(a, 1) by inversion
    prior = np.where(u[4] < 0.12 + 0.15 * (age < 25), 0.0, share)
    prior_days = np.round(prior * 1095).astype(np.int64)
    frailty = rng.normal(0.0, frailty_sd, size=n)
    return Covariates(
        age=age, female=female, education=education, prior_days=prior_days, frailty=frailty
    )


def log_hazard_offset(cov: Covariates, extra: np.ndarray | float = 0.0) -> np.ndarray:
    """``eta_i``: log relative hazard of leaving unemployment (observed and latent parts)."""
    edu = np.array([-0.35, 0.0, 0.25])[cov.education]
    age = -0.012 * (cov.age - 40) - 0.35 * (cov.age >= 55)
    prior = 0.8 * (cov.prior_days / 1095.0 - 0.5)
    return edu + age + prior + 0.05 * cov.female + cov.frailty + extra


@lru_cache(maxsize=4)
def _calibration_eta(frailty_sd: float) -> np.ndarray:
    rng = np.random.default_rng(20170801)
    cov = draw_covariates(rng, 200_000, frailty_sd=frailty_sd)
    # municipality effects and area amplitudes average out; the muni sd is added here
    return log_hazard_offset(cov, rng.normal(0.0, 0.12, size=200_000))


@lru_cache(maxsize=4)
def baseline_alpha(frailty_sd: float = 0.5) -> np.ndarray:
    """Baseline log hazards ``alpha(d)``, d = 0..MAX_DURATION, calibrated to Table 3.1.

    For each knot k in (1, 3, 6, 12) months the baseline cumulative hazard
    ``H(k)`` solves ``E_i exp(-exp(eta_i) H(k)) = S(k)`` over the inflow's
    covariate mix (a fixed calibration sample), so the *population* survival
    -- a mixture over persons -- matches the published shares, although
    each person's hazard is proportional to the baseline.
    """
    eta = _calibration_eta(frailty_sd)
    w = np.exp(eta)
    knots = [1, 3, 6, 12]
    cum = {0: 0.0}
    for k in knots:
        target = TABLE31_STILL[k] / TABLE31_NEW

        def f(h: float, target: float = target) -> float:
            return float(np.mean(np.exp(-w * h))) - target

        cum[k] = optimize.brentq(f, 1e-8, 50.0, xtol=1e-12) * KNOT_CORRECTION[k]
    alpha = np.empty(MAX_DURATION + 1)
    prev = 0
    for k in knots:
        alpha[prev:k] = np.log((cum[k] - cum[prev]) / (k - prev))
        prev = k
    base_late = alpha[11]
    alpha[12:24] = base_late + np.log(LATE_FACTORS[12])
    alpha[24:] = base_late + np.log(LATE_FACTORS[24])
    return alpha


def route_weights(
    *, age: np.ndarray, education: np.ndarray, eta: np.ndarray, long_term: np.ndarray
) -> np.ndarray:
    """Exit-code shares (rows sum to one) of unemployment spells for given persons.

    Shares start from :data:`SHARE_SHORT` / :data:`SHARE_LONG` and tilt with the
    person: the young go more to education and coaching, the over-55s more out
    of the labour force, the tertiary-educated more to jobs they find
    themselves, those with low employability (``eta``) more to rehabilitative
    work activity and out of the labour force.
    """
    n = age.shape[0]
    w = np.where(long_term[:, None], SHARE_LONG[None, :], SHARE_SHORT[None, :]).copy()
    young = age < 25
    old = age >= 55
    w[:, 5] *= np.where(young, 1.8, 1.0)  # 08 other education
    w[:, 9] *= np.where(young, 1.8, np.where(old, 0.3, 1.0))  # 13 self-motivated study
    w[:, 7] *= np.where(young, 1.3, 1.0)  # 11 coaching / work trial
    w[:, 4] *= np.where(old, 1.8, 1.0)  # 05 out of labour force
    w[:, 2] *= np.where(old, 0.7, 1.0) * np.array([0.8, 1.0, 1.4])[education]  # 03 found work
    w[:, 8] *= np.array([1.5, 1.0, 0.4])[education]  # 12 rehabilitative work activity
    emp = np.exp(0.5 * np.clip(eta, -3, 3))
    w[:, 0] *= emp
    w[:, 1] *= emp
    w[:, 2] *= emp
    w[:, 8] /= emp
    w[:, 4] /= np.sqrt(emp)
    w /= w.sum(axis=1, keepdims=True)
    assert w.shape == (n, len(CODES))
    return w


# ---------------------------------------------------------------------------
# other states: monthly hazards of leaving and destinations
# ---------------------------------------------------------------------------
# hazard of leaving in the first 6 months of the spell / later
LEAVE_HAZARD = np.array(
    [
        [np.nan, np.nan],  # unemployed (modelled above)
        [0.22, 0.22],  # service: coaching, training, rehabilitative work last a few months
        [0.035, 0.012],  # employed: many short jobs end early, then stable
        [0.06, 0.12],  # subsidised: pay subsidy typically 6-10 months
        [0.03, 0.05],  # education
        [0.015, 0.015],  # out of the labour force (moved out, code 05)
    ]
)
#: out of the labour force after "did not renew job search" (code 10): about half restart
#: within six months (the brief: ~1,000 of ~2,000 in Tampere)
LEAVE_HAZARD_DID_NOT_RENEW = np.array([0.115, 0.03])
# destination probabilities (rows: from state; columns: to state)
DESTINATION = np.array(
    [
        [0, 0, 0, 0, 0, 0],
        [0.60, 0.0, 0.22, 0.06, 0.04, 0.08],
        [0.88, 0.0, 0.0, 0.0, 0.05, 0.07],
        [0.55, 0.0, 0.45, 0.0, 0.0, 0.0],
        [0.45, 0.0, 0.50, 0.0, 0.0, 0.05],
        [0.92, 0.0, 0.08, 0.0, 0.0, 0.0],
    ]
)
DESTINATION_CUM = np.cumsum(DESTINATION, axis=1)


def return_multiplier(age: np.ndarray, education: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Multiplier of the hazards of leaving non-unemployment states (re-entry risk).

    Re-registration is most common among the under-30s (the brief).
    """
    return (
        np.where(age < 30, 1.35, 1.0)
        * np.array([1.2, 1.0, 0.85])[education]
        * np.exp(-0.3 * np.clip(eta, -3, 3))
    )


# ---------------------------------------------------------------------------
# stock sampling: duration at origin
# ---------------------------------------------------------------------------
STOCK_MAX_DURATION = 96
#: acceptance cap (quantile of expected spell length over the inflow) of the stock sampling
STOCK_CAP_QUANTILE = 0.975


_ETA_GRID = np.arange(-8.0, 8.0 + 1e-9, 0.005)


def _survivor_rows(eta: np.ndarray, H: np.ndarray) -> np.ndarray:
    return np.exp(-np.exp(eta)[:, None] * H[None, :])


@lru_cache(maxsize=1)
def _stock_terms() -> tuple[np.ndarray, np.ndarray, float]:
    """Expected spell length and duration CDF on a fine grid of ``eta`` (step 0.005)."""
    alpha = baseline_alpha()
    base = np.exp(alpha[:STOCK_MAX_DURATION])
    H = np.concatenate([[0.0], np.cumsum(base)[:-1]])  # H(d) before month d
    S = _survivor_rows(_ETA_GRID, H)
    c = np.cumsum(S, axis=1)
    expected = c[:, -1].copy()
    cdf = (c / expected[:, None]).astype(np.float32)
    e_cal = np.interp(_calibration_eta(0.5), _ETA_GRID, expected)
    return expected, cdf, float(np.quantile(e_cal, STOCK_CAP_QUANTILE))


def draw_stock(
    rng: np.random.Generator, eta: np.ndarray, *, chunk: int = 131_072
) -> tuple[np.ndarray, np.ndarray]:
    """Sample the stock of unemployed at origin from candidates drawn from the inflow.

    In a stationary flow, person ``i`` is found in the stock with probability
    proportional to the expected length of their spell, ``E_i = sum_d S_i(d)``,
    and at elapsed duration ``d`` with probability ``S_i(d) / E_i`` (Lancaster
    1990, *The Econometric Analysis of Transition Data*, ch. 5). Candidates are
    kept with probability ``min(1, E_i / cap)`` (``cap`` the 97.5 % quantile of
    ``E`` in the inflow, so only the slowest 2.5 % are under-weighted), and
    given a duration drawn from ``S_i(d) / E_i`` (baseline hazard, calendar at
    its calibration level; ``eta`` rounded to a grid of step 0.005). Persons at
    ``d = 0`` then have the inflow's mix.

    Returns
    -------
    keep : bool array
    duration : int array (months elapsed at origin; meaningful where kept)
    """
    expected, cdf, cap = _stock_terms()
    u = rng.random((2, eta.shape[0]))
    g = np.clip(np.rint((eta - _ETA_GRID[0]) / 0.005).astype(np.int64), 0, _ETA_GRID.size - 1)
    keep = u[0] < np.minimum(1.0, expected[g] / cap)
    d_out = np.zeros(eta.shape[0], dtype=np.int64)
    idx = np.flatnonzero(keep)
    u1 = u[1].astype(np.float32)
    for s in range(0, idx.size, chunk):
        k = idx[s : s + chunk]
        d_out[k] = (cdf[g[k]] < u1[k, None]).sum(axis=1)
    return keep, d_out


# ---------------------------------------------------------------------------
# the monthly simulation
# ---------------------------------------------------------------------------
HORIZONS = (12, 24, 36, 48, 60)
FOLLOW_UP = 60


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class SimOutput:
    """Events (transitions) and/or per-person outcome accumulators."""

    ev_person: np.ndarray = field(default_factory=_empty)
    ev_month: np.ndarray = field(default_factory=_empty)
    ev_state: np.ndarray = field(default_factory=_empty)
    ev_code: np.ndarray = field(default_factory=_empty)  # code ending the previous spell; -1 none
    employed_at: np.ndarray = field(default_factory=_empty)  # (len(HORIZONS), n) bool
    months_employed: np.ndarray = field(default_factory=_empty)
    months_unemployed: np.ndarray = field(default_factory=_empty)
    time_to_employment: np.ndarray = field(default_factory=_empty)  # FOLLOW_UP if never
    first_exit_route: np.ndarray = field(default_factory=_empty)  # route of the origin spell; -1
    first_exit_time: np.ndarray = field(default_factory=_empty)  # months after origin it ended


def treatment_multipliers(
    *, weights_short: np.ndarray, weights_long: np.ndarray, ratios: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Factor on the all-cause exit hazard of treated persons: sum_j w_ij r_j."""
    r = ratios[CODE_ROUTE]
    return weights_short @ r, weights_long @ r


#: internal state codes: the six states plus "out of the labour force after code 10"
_OLF10 = 6
_PUBLIC_STATE = np.array([0, 1, 2, 3, 4, 5, 5], dtype=np.int8)
_LEAVE_TABLE = np.concatenate(
    [np.nan_to_num(LEAVE_HAZARD, nan=0.0), LEAVE_HAZARD_DID_NOT_RENEW[None, :]]
).ravel()  # index 2 * state7 + late
_DEST_CUM7 = np.concatenate([DESTINATION_CUM, DESTINATION_CUM[OLF][None, :]])
_HORIZON_OF_T = np.full(FOLLOW_UP + 2, -1, dtype=np.int64)
for _k, _h in enumerate(HORIZONS):
    _HORIZON_OF_T[_h - 1] = _k


def simulate(
    *,
    rng: np.random.Generator,
    origin: np.ndarray,
    duration: np.ndarray,
    eta: np.ndarray,
    amplitude: np.ndarray,
    age: np.ndarray,
    education: np.ndarray,
    treated: np.ndarray,
    ratios: np.ndarray,
    treatment_months: int,
    end_month: int,
    record_events: bool = True,
    record_outcomes: bool = False,
) -> SimOutput:
    """Simulate every person's states month by month from ``origin`` to ``end_month``.

    Everybody is unemployed at ``origin`` with ``duration`` months already
    elapsed. Treated persons have their cause-specific exit hazards multiplied
    by ``ratios`` (per route in :data:`ROUTES`) while unemployed during the
    ``treatment_months`` months starting at origin. Each month every person
    draws two uniforms whatever their state (common random numbers).
    Transitions at the end of month ``m`` start a new spell in ``m + 1``;
    transitions after ``end_month`` are not recorded (censoring).
    The loop is over calendar months; everything inside is vectorised over persons.
    """
    n = origin.shape[0]
    alpha = baseline_alpha()
    origin = origin.astype(np.int64)
    state = np.zeros(n, dtype=np.int64)  # internal codes 0..6
    dur = duration.astype(np.int64).copy()
    in_first = np.ones(n, dtype=bool)
    ret_mult = return_multiplier(age, education, eta)
    treated = np.asarray(treated, dtype=bool)
    any_treated = bool(treated.any()) and not np.all(ratios == 1.0)
    if any_treated:
        tidx = np.flatnonzero(treated)
        ws = route_weights(
            age=age[tidx],
            education=education[tidx],
            eta=eta[tidx],
            long_term=np.zeros(tidx.size, bool),
        )
        wl = route_weights(
            age=age[tidx],
            education=education[tidx],
            eta=eta[tidx],
            long_term=np.ones(tidx.size, bool),
        )
        ms, ml = treatment_multipliers(weights_short=ws, weights_long=wl, ratios=ratios)
        log_mult_short = np.zeros(n)
        log_mult_long = np.zeros(n)
        log_mult_short[tidx] = np.log(ms)
        log_mult_long[tidx] = np.log(ml)
        treat_until = np.where(treated, origin + treatment_months, origin)
    r_code = ratios[CODE_ROUTE]

    start = int(origin.min())
    last = int(end_month)
    if record_outcomes:
        last = max(last, int(origin.max()) + FOLLOW_UP - 1)
        employed_at = np.zeros((len(HORIZONS), n), dtype=bool)
        m_emp = np.zeros(n, dtype=np.int64)
        m_unemp = np.zeros(n, dtype=np.int64)
        tte = np.full(n, FOLLOW_UP, dtype=np.int64)
        first_route = np.full(n, -1, dtype=np.int64)
        first_time = np.full(n, -1, dtype=np.int64)
    ev_p: list[np.ndarray] = []
    ev_m: list[np.ndarray] = []
    ev_s: list[np.ndarray] = []
    ev_c: list[np.ndarray] = []
    # all-cause hazard of leaving unemployment = A[d] * W_i * C[g_i](m) * season(m) * treatment;
    # products of small tables instead of exponentials inside the loop
    A = np.exp(alpha)
    A_late = A.copy()
    A_late[0] *= np.exp(FIRST_MONTH_SHIFT)
    W = np.exp(eta)
    amp_values, amp_group = np.unique(amplitude, return_inverse=True)
    leave_other = _LEAVE_TABLE
    if any_treated:
        mult_short = np.exp(log_mult_short)
        mult_long = np.exp(log_mult_long)
    cal = _cal_level()
    for m in range(start, last + 1):
        cyc_m = BETA_CYCLE * (cal - float(national_rate(np.array([m]))[0]))
        C = np.exp(amp_values * cyc_m + SEASON_HAZARD[m % 12])
        # common random numbers: an Exp(1) draw (leave if below the cumulative hazard of
        # the month) and a uniform (where to) per person and month, whatever the state
        e0 = rng.standard_exponential((n,))
        u1 = rng.random((n,))
        active = origin <= m
        if record_outcomes:
            t = m - origin
            inwin = active & (t < FOLLOW_UP)
            emp_now = inwin & ((state == EMPLOYED) | (state == SUBSIDISED))
            m_emp += emp_now
            m_unemp += inwin & (state == UNEMPLOYED)
            newly = emp_now & (tte == FOLLOW_UP)
            tte[newly] = t[newly]
            hk = _HORIZON_OF_T[np.clip(t, -1, FOLLOW_UP)]
            sel = np.flatnonzero(hk >= 0)
            if sel.size:
                employed_at[hk[sel], sel] = emp_now[sel]
        is_u = state == UNEMPLOYED
        long_term = dur >= 12
        lam = (
            (A_late if m >= FIRST_MONTH_SHIFT_FROM else A)[np.minimum(dur, MAX_DURATION)]
            * W
            * C[amp_group]
        )
        if any_treated:
            on = m < treat_until
            lam *= np.where(on, np.where(long_term, mult_long, mult_short), 1.0)
        h = np.where(is_u, lam, leave_other[2 * state + (dur >= 6)] * ret_mult)
        ex = active & (e0 < h)
        idx = np.flatnonzero(ex)
        code_idx = np.full(idx.size, -1, dtype=np.int64)
        new = np.empty(idx.size, dtype=np.int8)
        leave_u = is_u[idx]
        iu = idx[leave_u]
        if iu.size:
            w = route_weights(
                age=age[iu], education=education[iu], eta=eta[iu], long_term=long_term[iu]
            )
            if any_treated:
                w = np.where(on[iu][:, None], w * r_code[None, :], w)
            c = np.cumsum(w, axis=1)
            k = (c < (u1[iu] * c[:, -1])[:, None]).sum(axis=1)
            k = np.minimum(k, len(CODES) - 1)
            code_idx[leave_u] = k
            new[leave_u] = np.where(k == CODE_DID_NOT_RENEW, _OLF10, CODE_STATE[k])
            if record_outcomes:
                f = iu[in_first[iu]]
                kf = k[in_first[iu]]
                first_route[f] = CODE_ROUTE[kf]
                first_time[f] = m - origin[f] + 1
                in_first[iu] = False
        io = idx[~leave_u]
        if io.size:
            cum = _DEST_CUM7[state[io]]
            dest = (cum < u1[io][:, None]).sum(axis=1)
            new[~leave_u] = np.minimum(dest, len(STATES) - 1)
        dur += active
        dur[idx] = 0
        state[idx] = new
        if record_events and m < end_month and idx.size:
            ev_p.append(idx)
            ev_m.append(np.full(idx.size, m + 1, dtype=np.int64))
            ev_s.append(_PUBLIC_STATE[new])
            ev_c.append(code_idx)

    out = SimOutput()
    if record_events:
        out.ev_person = np.concatenate(ev_p) if ev_p else np.zeros(0, np.int64)
        out.ev_month = np.concatenate(ev_m) if ev_m else np.zeros(0, np.int64)
        out.ev_state = np.concatenate(ev_s) if ev_s else np.zeros(0, np.int8)
        out.ev_code = np.concatenate(ev_c) if ev_c else np.zeros(0, np.int64)
    if record_outcomes:
        out.employed_at = employed_at
        out.months_employed = m_emp
        out.months_unemployed = m_unemp
        out.time_to_employment = tte
        out.first_exit_route = first_route
        out.first_exit_time = first_time
    return out


def assemble_spells(
    *,
    n: int,
    entry_month: np.ndarray,
    ev_person: np.ndarray,
    ev_month: np.ndarray,
    ev_state: np.ndarray,
    ev_code: np.ndarray,
) -> dict[str, np.ndarray]:
    """Turn transition events into spells ordered by person and start (O(N), no sort by time).

    Every person's first spell is unemployment from ``entry_month``; events are in
    calendar order, so a stable sort by person keeps each person's events in time
    order. Returns arrays: person (row index), start (month index), end_month
    (last month of the spell; -1 when still ongoing), state, code (index into
    :data:`CODES` of the route that ended an unemployment spell; -1 otherwise or
    when censored), next_state (-1 when censored).
    """
    order = np.argsort(ev_person, kind="stable")
    ep, em, es, ec = ev_person[order], ev_month[order], ev_state[order], ev_code[order]
    counts = np.bincount(ep, minlength=n)
    rows = counts + 1
    first = np.concatenate([[0], np.cumsum(rows)[:-1]])
    total = int(rows.sum())
    person = np.repeat(np.arange(n, dtype=np.int64), rows)
    start = np.empty(total, dtype=np.int64)
    state = np.empty(total, dtype=np.int8)
    start[first] = entry_month
    state[first] = UNEMPLOYED
    ev_first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(ep.size) - ev_first[ep]
    pos = first[ep] + 1 + rank
    start[pos] = em
    state[pos] = es
    is_last = np.zeros(total, dtype=bool)
    is_last[first + rows - 1] = True
    end_month = np.full(total, -1, dtype=np.int64)
    nxt = np.flatnonzero(~is_last)
    end_month[nxt] = start[nxt + 1] - 1
    code = np.full(total, -1, dtype=np.int64)
    code[pos - 1] = ec  # the event's code ended the previous spell
    next_state = np.full(total, -1, dtype=np.int64)
    next_state[nxt] = state[nxt + 1]
    return {
        "person": person,
        "start": start,
        "end_month": end_month,
        "state": state,
        "code": code,
        "next_state": next_state,
    }


# ---------------------------------------------------------------------------
# municipality x month panel
# ---------------------------------------------------------------------------
#: monthly exit probability of the eligible (mostly long-term) unemployed without treatment,
#: used to translate the person-level hazard ratios into the panel's treatment effect
ELIGIBLE_EXIT = 0.07


def panel_treatment_share(*, kappa: float, event_time: np.ndarray) -> np.ndarray:
    """Relative reduction of the eligible stock ``e`` months after the trial start.

    If the eligible leave unemployment with monthly probability ``p`` and the
    treatment multiplies their all-cause hazard by ``kappa``, the stock of
    eligible unemployed relaxes geometrically to ``1/kappa`` of its old level
    (stock = inflow x mean duration):
    ``rho(e) = (1 - 1/kappa) (1 - (1 - p')^(e + 1))`` with
    ``p' = 1 - (1 - p)^kappa``. With ``kappa = 1`` the reduction is exactly 0.
    """
    e = np.asarray(event_time, dtype=float)
    if kappa == 1.0:
        return np.zeros_like(e)
    p1 = 1.0 - (1.0 - ELIGIBLE_EXIT) ** kappa
    rho = (1.0 - 1.0 / kappa) * (1.0 - (1.0 - p1) ** (e + 1.0))
    return np.where(e >= 0, rho, 0.0)


def panel_arrays(
    *,
    rng: np.random.Generator,
    months: np.ndarray,
    labour_force: np.ndarray,
    growth: np.ndarray,
    base_rate: np.ndarray,
    amplitude: np.ndarray,
    first_treated: np.ndarray,
    eligible_share: np.ndarray,
    ltu_factor: np.ndarray,
    kappa: float,
) -> dict[str, np.ndarray]:
    """Municipality x month arrays (shape ``(n_municipalities, n_months)``).

    Registered unemployment rate (percent) of municipality ``i`` in month ``m``::

        r0_im = base_i + amplitude_i (R(m) - 11) + season(m) + u_im

    with ``R`` the national rate (a downturn to 2016, recovery to 2019, the 2020
    shock and recovery), ``u`` a municipality AR(1) shock. Areas with larger
    ``amplitude`` rise and fall more with the cycle. The treated rate is
    ``r1 = r0 - r0 s_i rho(m - g_i)`` (``s_i`` eligible share of the stock, ``g_i``
    first trial month). Counts are ``round(lf r / 100 + sqrt(.) z)`` with the same
    normal draws ``z`` for both potential outcomes. Returns arrays for the observed
    panel plus the expected-value potential outcomes for the truth.
    """
    n_m, n_t = labour_force.shape[0], months.shape[0]
    years = (months - np.datetime64("2017-01", "M").astype(np.int64)) / 12.0
    lf = np.round(labour_force[:, None] * (1.0 + growth[:, None] * years[None, :])).astype(np.int64)
    nat = national_rate(months)
    season = SEASON_RATE[months % 12]
    shock = np.empty((n_m, n_t))
    eps = rng.normal(0.0, 0.12, size=(n_m, n_t))
    shock[:, 0] = eps[:, 0] / np.sqrt(1 - 0.8**2)
    for j in range(1, n_t):
        shock[:, j] = 0.8 * shock[:, j - 1] + eps[:, j]
    r0 = (
        base_rate[:, None]
        + amplitude[:, None] * (nat[None, :] - RATE_CENTRE)
        + season[None, :]
        + shock
    )
    r0 = np.clip(r0, 0.8, None)
    # long-term share follows the national rate with a 9-month lag
    lag = national_rate(months - 9)
    ltu_share0 = np.clip(
        0.27 + 0.03 * (lag - RATE_CENTRE) + 0.004 * (base_rate - RATE_CENTRE)[:, None], 0.05, 0.6
    )
    has = first_treated >= 0
    e = np.where(has[:, None], months[None, :] - first_treated[:, None], -1)
    rho = panel_treatment_share(kappa=kappa, event_time=e)
    r1 = r0 * (1.0 - eligible_share[:, None] * rho)
    mu0 = lf * r0 / 100.0
    mu1 = lf * r1 / 100.0
    ltu0 = mu0 * ltu_share0
    ltu1 = ltu0 * (1.0 - ltu_factor[:, None] * rho)
    z = rng.normal(size=(2, n_m, n_t))
    unemployed = np.maximum(np.round(mu1 + np.sqrt(mu1) * z[0]), 0).astype(np.int64)
    unemployed0 = np.maximum(np.round(mu0 + np.sqrt(mu0) * z[0]), 0).astype(np.int64)
    ltu_obs = np.clip(np.round(ltu1 + np.sqrt(ltu1) * z[1] * 0.5), 0, unemployed).astype(np.int64)
    ltu_obs0 = np.clip(np.round(ltu0 + np.sqrt(ltu0) * z[1] * 0.5), 0, unemployed0).astype(np.int64)
    inflow = np.maximum(
        np.round(
            mu1 * 0.135 * (1 + 0.1 * np.sin(2 * np.pi * (months % 12) / 12.0))[None, :]
            + np.sqrt(mu1 * 0.135) * z[0] * 0.5
        ),
        0,
    ).astype(np.int64)
    price = 1.0 + 0.012 * years
    ltu_share1 = np.where(unemployed > 0, ltu_obs / np.maximum(unemployed, 1), 0.0)
    spending = unemployed * (0.45 + 0.5 * ltu_share1) * 700.0 * price[None, :]
    ltu_share_0 = np.where(unemployed0 > 0, ltu_obs0 / np.maximum(unemployed0, 1), 0.0)
    spending0 = unemployed0 * (0.45 + 0.5 * ltu_share_0) * 700.0 * price[None, :]
    return {
        "labour_force": lf,
        "unemployed": unemployed,
        "long_term_unemployed": ltu_obs,
        "inflow": inflow,
        "unemployment_rate": 100.0 * unemployed / lf,
        "subsidy_spending": np.round(spending, 2),
        "rate1": r1,
        "rate0": r0,
        "ltu1": ltu1,
        "ltu0": ltu0,
        "unemployed0": unemployed0,
        "spending0": np.round(spending0, 2),
        "event_time": e,
    }
