"""Censoring and attrition (IPCW, Lee bounds), the cost view and the surrogate index."""

from __future__ import annotations

import time as _time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import numpy as np
import pandas as pd
from scipy import stats

from trialkit._checks import (
    as_list,
    check_positive,
    require_columns,
    require_frame,
    require_numeric,
)
from trialkit._parallel import map_replications
from trialkit._rng import as_seed_sequence, seed_record
from trialkit.errors import DataError, DesignError
from trialkit.followup import _core
from trialkit.results import EffectTable, Exclusion, Result, effect_table

if TYPE_CHECKING:  # pragma: no cover
    from trialkit.followup._followup import FollowUp

__all__ = [
    "ipcw_effects",
    "lee_bounds",
    "LeeBounds",
    "cost_view",
    "CostView",
    "surrogate_index",
    "SurrogateIndex",
]


def _arms(values: np.ndarray, control: Any) -> tuple[Any, list[Any]]:
    labels = sorted(pd.unique(values).tolist(), key=str)
    ctrl = control if control is not None else ("control" if "control" in labels else labels[0])
    if ctrl not in labels:
        raise DesignError(f"`control` must be one of {labels}; got {ctrl!r}")
    return ctrl, [a for a in labels if a != ctrl]


def ipcw_effects(
    follow: FollowUp,
    *,
    outcomes: Sequence[str] = ("employed",),
    horizons: Sequence[int] | None = None,
    covariates: Sequence[str] | None = None,
    control: Any = None,
    alpha: float = 0.05,
    se_type: Literal["HC2", "HC1"] = "HC2",
    max_weight: float | None = None,
) -> EffectTable:
    r"""Effects by horizon with inverse-probability-of-censoring weights.

    For each horizon h, the probability of being observed through h is modelled
    by a logistic regression on ``covariates`` fitted separately in each arm;
    observed persons get weight :math:`1/\hat\pi_{ih}` and the weighted difference
    in means estimates the effect on the whole randomised sample when censoring
    is independent of the outcome given arm and covariates (missing at random).

    Parameters
    ----------
    follow : FollowUp
    outcomes, horizons
        As in :meth:`FollowUp.effects`.
    covariates : list of str
        Numeric person columns that predict censoring (and the outcome).
    max_weight : float, optional
        Truncate weights at this value.

    Returns
    -------
    EffectTable
        Indexed by (outcome, horizon); extra columns ``arm``, ``naive`` (the
        complete-case estimate) and ``mean_weight``. Standard errors treat the
        weights as known.

    References
    ----------
    Robins, J. M. and Finkelstein, D. M. (2000). Correcting for noncompliance and
    dependent censoring in an AIDS clinical trial with inverse probability of
    censoring weighted (IPCW) log-rank tests. Biometrics 56, 779-788.

    Examples
    --------
    >>> import trialkit as tk
    >>> reg = tk.followup._extras._toy_follow_up()
    >>> tab = tk.followup.ipcw_effects(reg, outcomes=["employed"], horizons=[6], covariates=["x"]).to_frame()
    >>> list(tab.columns[:6])
    ['estimate', 'se', 'ci_low', 'ci_high', 'p', 'n']
    """
    t0 = _time.perf_counter()
    if follow.arm is None:
        raise DesignError("ipcw_effects needs arms: build the follow-up with `arm=`")
    hs = follow._horizons(horizons)
    covs = as_list(covariates)
    persons = follow.persons
    require_columns(persons, covs, name="persons")
    z = persons[covs].to_numpy(dtype=float) if covs else np.zeros((follow.n_persons, 0))
    a = persons[follow.arm].to_numpy()
    ctrl, treat = _arms(a, control)
    d = np.column_stack([(a == t).astype(float) for t in treat])
    x_c = np.column_stack([np.ones(follow.n_persons), z])
    rows_idx, est, se, n, arms, naive, mw = [], [], [], [], [], [], []
    for name in as_list(outcomes):
        y = follow.outcome_matrix(name, hs)
        for k, h in enumerate(hs):
            obs = ~np.isnan(y[:, k])
            w = np.zeros(follow.n_persons)
            for lab in [ctrl, *treat]:
                m = a == lab
                if obs[m].all():
                    w[m] = 1.0
                    continue
                pi = _core.logistic_fit(x=x_c[m], y=obs[m].astype(float))
                w[m] = np.where(obs[m], 1.0 / np.clip(pi, 1e-6, None), 0.0)
            if max_weight is not None:
                w = np.minimum(w, max_weight)
            yk = np.where(obs, y[:, k], np.nan)[:, None]
            r = _core.ols_effects(y=yk, d=d, weights=w, se_type=se_type)
            r0 = _core.ols_effects(y=yk, d=d, se_type=se_type)
            for j, t in enumerate(treat):
                rows_idx.append((name, h))
                est.append(r["estimate"][j, 0])
                se.append(r["se"][j, 0])
                n.append(int(obs.sum()))
                arms.append(str(t))
                naive.append(r0["estimate"][j, 0])
                mw.append(float(w[obs].mean()))
    return effect_table(
        est,
        se,
        index=rows_idx,
        index_name=["outcome", "horizon"],
        n=n,
        method="ipcw",
        n_obs=follow.n_persons,
        alpha=alpha,
        extra={"arm": arms, "naive": naive, "mean_weight": mw},
        excluded=follow.excluded,
        elapsed_s=_time.perf_counter() - t0,
        meta={"control": str(ctrl), "covariates": covs},
    )


# ---------------------------------------------------------------------------
# Lee bounds
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class LeeBounds(Result):
    """Lee (2009) bounds on the effect among always-observed persons."""

    title: ClassVar[str] = "Lee bounds"

    lower: float
    upper: float
    se_lower: float
    se_upper: float
    ci_low: float
    ci_high: float
    trimming: float
    trimmed_arm: str

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"estimate": [self.lower, self.upper], "se": [self.se_lower, self.se_upper]},
            index=pd.Index(["lower", "upper"], name="bound"),
        )

    def _payload(self) -> dict[str, Any]:
        return {
            "lower": self.lower,
            "upper": self.upper,
            "se_lower": self.se_lower,
            "se_upper": self.se_upper,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "trimming": self.trimming,
            "trimmed_arm": self.trimmed_arm,
        }


def _trimmed_means(y: np.ndarray, q: float) -> tuple[float, float]:
    """Means of y after trimming the top (-> lower) or the bottom (-> upper) share q (fractional at the edge)."""
    ys = np.sort(y)
    n = ys.size
    keep = n * (1 - q)
    w = np.clip(keep - np.arange(n), 0, 1)  # weights from the bottom
    low = float(np.sum(w * ys) / keep)
    high = float(np.sum(w * ys[::-1]) / keep)
    return low, high


def _lee(y: np.ndarray, obs: np.ndarray, treated: np.ndarray) -> tuple[float, float, float, int]:
    p1 = obs[treated].mean()
    p0 = obs[~treated].mean()
    if p1 >= p0:
        q = (p1 - p0) / p1 if p1 > 0 else 0.0
        lo, hi = _trimmed_means(y[obs & treated], q)
        m0 = y[obs & ~treated].mean()
        return lo - m0, hi - m0, q, 1
    q = (p0 - p1) / p0
    lo, hi = _trimmed_means(y[obs & ~treated], q)
    m1 = y[obs & treated].mean()
    return m1 - hi, m1 - lo, q, 0


def lee_bounds(
    data: pd.DataFrame,
    *,
    outcome: str,
    arm: str,
    treatment: Any,
    control: Any,
    alpha: float = 0.05,
    n_boot: int = 200,
    seed: Any = None,
    backend: Any = None,
    n_jobs: int | None = None,
) -> LeeBounds:
    r"""Lee (2009) sharp bounds on the effect when the outcome is missing for some persons.

    Missing outcome (NaN) marks attrition (e.g. censored before the horizon). The
    arm observed more often is trimmed by :math:`q = (p_{more} - p_{less})/p_{more}`
    from the top (lower bound) or the bottom (upper bound). Standard errors by the
    bootstrap; the interval is Imbens & Manski's (2004) for the partially identified
    effect.

    References
    ----------
    Lee, D. S. (2009). Training, wages, and sample selection: estimating sharp bounds on
    treatment effects. Review of Economic Studies 76, 1071-1102.
    Imbens, G. W. and Manski, C. F. (2004). Econometrica 72, 1845-1857.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1, 2, 3, 4, np.nan, 1, 2, np.nan, np.nan, 3], "arm": [1] * 5 + [0] * 5})
    >>> b = lee_bounds(df, outcome="y", arm="arm", treatment=1, control=0, n_boot=20)
    >>> round(b.lower, 3), round(b.upper, 3)
    (0.0, 1.0)
    """
    t0 = _time.perf_counter()
    data = require_frame(data)
    require_columns(data, [outcome, arm])
    require_numeric(data, outcome)
    sub = data[data[arm].isin([treatment, control])]
    other = len(data) - len(sub)
    excluded = (Exclusion(reason="rows in other arms", n=other, column=arm),) if other else ()
    y = sub[outcome].to_numpy(dtype=float)
    obs = ~np.isnan(y)
    tr = (sub[arm] == treatment).to_numpy()
    if obs[tr].sum() < 2 or obs[~tr].sum() < 2:
        raise DataError("each arm needs at least two observed outcomes for Lee bounds")
    lo, hi, q, which = _lee(y, obs, tr)
    lo, hi = float(lo), float(hi)
    ss = as_seed_sequence(seed)
    idx_t = np.flatnonzero(tr)
    idx_c = np.flatnonzero(~tr)

    def one(rng: np.random.Generator, i: int) -> tuple[float, float]:
        b = np.concatenate([rng.choice(idx_t, idx_t.size), rng.choice(idx_c, idx_c.size)])
        ob = obs[b]
        if ob[: idx_t.size].sum() < 2 or ob[idx_t.size :].sum() < 2:
            return (np.nan, np.nan)
        r = _lee(y[b], ob, tr[b])
        return (r[0], r[1])

    draws = np.asarray(map_replications(one, n_boot, seed=ss, backend=backend, n_jobs=n_jobs))
    se_lo, se_hi = np.nanstd(draws, axis=0, ddof=1)
    # Imbens-Manski critical value: solve Phi(c + delta/max(se)) - Phi(-c) = 1 - alpha
    delta = hi - lo
    smax = max(se_lo, se_hi)
    from scipy import optimize

    def gap(c: float) -> float:
        return float(stats.norm.cdf(c + delta / smax) - stats.norm.cdf(-c) - (1 - alpha))

    c = optimize.brentq(gap, 0.0, 10.0) if smax > 0 else 0.0
    return LeeBounds(
        method="lee_bounds",
        n_obs=len(sub),
        alpha=alpha,
        excluded=excluded,
        seed=seed_record(ss),
        elapsed_s=_time.perf_counter() - t0,
        meta={"n_boot": n_boot},
        lower=lo,
        upper=hi,
        se_lower=float(se_lo),
        se_upper=float(se_hi),
        ci_low=lo - c * se_lo,
        ci_high=hi + c * se_hi,
        trimming=float(q),
        trimmed_arm=str(treatment if which == 1 else control),
    )


# ---------------------------------------------------------------------------
# Cost view
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class CostView(EffectTable):
    """Benefit expenditure saved: estimate = EUR saved per person (positive = saving)."""

    title: ClassVar[str] = "Cost view"


def cost_view(
    effects: EffectTable,
    *,
    daily_cost: float,
    outcome: str = "days_unemployed",
    n_persons: int | None = None,
    alpha: float | None = None,
) -> CostView:
    r"""Turn effects on days of unemployment into benefit expenditure saved.

    Savings per person :math:`= -\hat\tau_h \times c` for a daily benefit cost
    :math:`c`; with ``n_persons`` also the total for a cohort of that size (e.g.
    a year's inflow). The brief's rule of thumb: one day shorter spells for all
    jobseekers is worth about EUR 23 million a year.

    Parameters
    ----------
    effects : EffectTable
        From :meth:`FollowUp.effects` (index outcome, horizon).
    daily_cost : float
        EUR per day of unemployment (benefit and services).
    outcome : str
        Which outcome's rows to convert (days unemployed or days as jobseeker).
    n_persons : int, optional
        Cohort size for the total.

    Returns
    -------
    CostView
        Indexed by horizon: ``estimate`` (EUR saved per person), ``se``, interval,
        ``days_saved``, and ``total_eur`` / ``total_ci_low`` / ``total_ci_high`` when
        ``n_persons`` is given.

    Examples
    --------
    >>> from trialkit.results import effect_table
    >>> e = effect_table([-10.0], [2.0], index=[("days_unemployed", 12)], index_name=["outcome", "horizon"],
    ...                  n=100, method="dim", n_obs=100)
    >>> cost_view(e, daily_cost=30.0, n_persons=1000).to_frame()["total_eur"].tolist()
    [300000.0]
    """
    c = float(check_positive("daily_cost", daily_cost))
    tab = effects.to_frame()
    if "outcome" not in tab.index.names:
        raise DataError("`effects` must be indexed by outcome and horizon (from FollowUp.effects)")
    outs = tab.index.get_level_values("outcome")
    if outcome not in set(outs):
        raise DataError(
            f"`effects` has no rows for outcome {outcome!r}; it has {sorted(set(outs))}"
        )
    sub = tab[outs == outcome]
    hz = sub.index.get_level_values("horizon")
    days = -sub["estimate"].to_numpy()
    extra: dict[str, Any] = {"days_saved": days}
    al = effects.alpha if alpha is None else alpha
    if n_persons is not None:
        q = stats.norm.ppf(1 - al / 2)
        tot = days * c * n_persons
        tse = sub["se"].to_numpy() * c * n_persons
        extra.update(
            {"total_eur": tot, "total_ci_low": tot - q * tse, "total_ci_high": tot + q * tse}
        )
    out = effect_table(
        days * c,
        sub["se"].to_numpy() * c,
        index=list(hz),
        index_name="horizon",
        n=sub["n"].to_numpy(),
        method="cost_view",
        n_obs=effects.n_obs,
        alpha=al,
        extra=extra,
        excluded=effects.excluded,
        meta={"daily_cost": c, "outcome": outcome, "n_persons": n_persons},
        cls=CostView,
    )
    return cast(CostView, out)


# ---------------------------------------------------------------------------
# Surrogate index
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class SurrogateIndex(EffectTable):
    """Surrogate-index estimate of the long-run effect (and the observed one, when available)."""

    title: ClassVar[str] = "Surrogate index"

    coefficients: pd.Series


def surrogate_index(
    observational: pd.DataFrame,
    experimental: pd.DataFrame,
    *,
    surrogates: Sequence[str],
    outcome: str,
    arm: str,
    covariates: Sequence[str] | None = None,
    control: Any = None,
    alpha: float = 0.05,
) -> SurrogateIndex:
    r"""Project a long-run effect from short-run surrogates (Athey, Chetty, Imbens & Kang 2019).

    In the ``observational`` sample (long follow-up, e.g. earlier cohorts of the same
    register) the long-run ``outcome`` is regressed on the ``surrogates`` (and
    ``covariates``): :math:`\hat E[Y \mid S, X] = \hat\beta'(1, S, X)`. The index
    :math:`\hat\beta'(1, S_i, X_i)` is computed for each trial participant and its
    difference in means between arms estimates the long-run effect, valid under
    surrogacy (the arm affects Y only through S) and comparability of the two samples.

    Re-check as follow-up waves arrive: when ``experimental`` already holds the
    long-run ``outcome`` (non-missing for some persons), a second row gives the
    directly observed effect on them and a third the index effect on the same persons.

    Returns
    -------
    SurrogateIndex
        Rows ``surrogate_index[arm]`` (and ``observed[arm]``, ``index_same_sample[arm]``).
        The variance adds the first-stage uncertainty by the delta method
        (:math:`\Delta\bar w' \hat V_\beta \Delta\bar w`, independent samples).

    References
    ----------
    Athey, S., Chetty, R., Imbens, G. W. and Kang, H. (2019). The surrogate index:
    combining short-term proxies to estimate long-term treatment effects more rapidly
    and precisely. NBER Working Paper 26463.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.normal(size=2000); obs = pd.DataFrame({"s": s, "y": 2 * s + rng.normal(size=2000)})
    >>> a = rng.integers(0, 2, 2000); exp = pd.DataFrame({"s": 0.5 * a + rng.normal(size=2000), "arm": a})
    >>> r = surrogate_index(obs, exp, surrogates=["s"], outcome="y", arm="arm")
    >>> bool(abs(r.to_frame()["estimate"].iloc[0] - 1.0) < 0.2)
    True
    """
    t0 = _time.perf_counter()
    obs = require_frame(observational, name="observational")
    exp = require_frame(experimental, name="experimental")
    sur = as_list(surrogates)
    covs = as_list(covariates)
    if not sur:
        raise DesignError("`surrogates` must name at least one column")
    require_columns(obs, sur + covs + [outcome], name="observational")
    require_columns(exp, sur + covs + [arm], name="experimental")
    obs_c = obs.dropna(subset=sur + covs + [outcome])
    excluded = []
    if len(obs_c) < len(obs):
        excluded.append(
            Exclusion(reason="observational rows with missing values", n=len(obs) - len(obs_c))
        )
    exp_c = exp.dropna(subset=sur + covs + [arm])
    if len(exp_c) < len(exp):
        excluded.append(
            Exclusion(reason="experimental rows with missing values", n=len(exp) - len(exp_c))
        )
    cols = sur + covs
    w_o = np.column_stack([np.ones(len(obs_c)), obs_c[cols].to_numpy(dtype=float)])
    y_o = obs_c[outcome].to_numpy(dtype=float)
    xtx_inv = np.linalg.inv(w_o.T @ w_o)
    beta = xtx_inv @ w_o.T @ y_o
    e = y_o - w_o @ beta
    lev = np.einsum("ij,jk,ik->i", w_o, xtx_inv, w_o)
    meat = (w_o * (e**2 / (1 - lev))[:, None]).T @ w_o
    v_beta = xtx_inv @ meat @ xtx_inv
    w_e = np.column_stack([np.ones(len(exp_c)), exp_c[cols].to_numpy(dtype=float)])
    index = w_e @ beta
    a = exp_c[arm].to_numpy()
    ctrl, treat = _arms(a, control)
    d = np.column_stack([(a == t).astype(float) for t in treat])
    r = _core.ols_effects(y=index[:, None], d=d)
    rows, est, se, n = [], [], [], []
    for j, t in enumerate(treat):
        dw = w_e[a == t].mean(axis=0) - w_e[a == ctrl].mean(axis=0)
        rows.append(f"surrogate_index[{t}]")
        est.append(r["estimate"][j, 0])
        se.append(float(np.sqrt(r["se"][j, 0] ** 2 + dw @ v_beta @ dw)))
        n.append(int(np.isin(a, [t, ctrl]).sum()))
    if outcome in exp_c.columns and exp_c[outcome].notna().any():
        have = exp_c[outcome].notna().to_numpy()
        yo = np.where(have, exp_c[outcome].to_numpy(dtype=float), np.nan)
        ro = _core.ols_effects(y=yo[:, None], d=d)
        ri = _core.ols_effects(y=np.where(have, index, np.nan)[:, None], d=d)
        for j, t in enumerate(treat):
            rows += [f"observed[{t}]", f"index_same_sample[{t}]"]
            est += [ro["estimate"][j, 0], ri["estimate"][j, 0]]
            se += [ro["se"][j, 0], ri["se"][j, 0]]
            n += [int(ro["n"][0]), int(ri["n"][0])]
    tab = effect_table(
        est,
        se,
        index=rows,
        index_name="term",
        n=n,
        method="surrogate_index",
        n_obs=len(exp_c),
        alpha=alpha,
    ).to_frame()
    return SurrogateIndex(
        method="surrogate_index",
        n_obs=len(exp_c),
        alpha=alpha,
        excluded=tuple(excluded),
        elapsed_s=_time.perf_counter() - t0,
        meta={
            "surrogates": sur,
            "covariates": covs,
            "control": str(ctrl),
            "index_names": ["term"],
            "interval": "normal",
        },
        table=tab,
        coefficients=pd.Series(beta, index=["intercept", *cols]),
    )


def _toy_follow_up() -> FollowUp:
    """A tiny two-arm follow-up used in docstring examples."""
    from trialkit.followup._followup import follow_up

    rng = np.random.default_rng(0)
    n = 200
    ent = pd.Timestamp("2018-01-01")
    x = rng.normal(size=n)
    arm = np.where(np.arange(n) % 2 == 0, "treatment", "control")
    dur = rng.integers(1, 10, n)
    ends = ent + pd.to_timedelta(dur * 30, unit="D")
    sp = pd.DataFrame(
        {
            "person_id": np.repeat(np.arange(n), 2),
            "start": np.ravel(np.column_stack([np.full(n, ent), ends + pd.Timedelta(days=1)])),
            "end": np.ravel(np.column_stack([ends, np.full(n, pd.NaT)])),
            "state": np.tile(["unemployed", "employed"], n),
            "exit_reason": np.tile(["01", ""], n),
        }
    )
    pe = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "entry_date": ent,
            "arm": arm,
            "x": x,
            "censor_date": np.where(
                rng.random(n) < 1 / (1 + np.exp(1 - x)), ent + pd.Timedelta(days=100), pd.NaT
            ),
        }
    )
    return follow_up(sp, pe, months=12, censor="censor_date", end_of_data="2019-06-30")
