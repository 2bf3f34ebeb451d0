"""The front door: :func:`did`."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from trialkit._checks import (
    _preview,
    as_list,
    check_choice,
    check_int,
    check_probability,
    require_binary,
    require_columns,
    require_frame,
)
from trialkit.diffindiff._panel import prepare_panel
from trialkit.diffindiff.regression import RegressionResult, fit_regression
from trialkit.diffindiff.staggered import GroupTimeResult, group_time
from trialkit.errors import DataError, DesignError

__all__ = ["did", "METHODS"]

Method = Literal["group_time", "twfe", "event_study", "two_by_two", "sun_abraham"]
METHODS: tuple[str, ...] = ("group_time", "twfe", "event_study", "two_by_two", "sun_abraham")
_INFERENCE = {
    "group_time": ("bootstrap", "analytic"),
    "twfe": ("cluster", "wild", "randomisation"),
    "two_by_two": ("cluster", "wild", "randomisation"),
    "event_study": ("cluster", "wild"),
    "sun_abraham": ("cluster",),
}


def did(
    panel: pd.DataFrame,
    *,
    outcome: str,
    unit: str = "municipality",
    time: str = "month",
    first_treated: str = "first_treated",
    treatment: str | None = None,
    method: Method = "group_time",
    control_group: Literal["never", "not_yet"] | None = None,
    covariates: str | list[str] | None = None,
    estimation: Literal["dr", "ipw", "or"] | None = None,
    base_period: Literal["varying", "universal"] | None = None,
    anticipation: int = 0,
    leads: int | None = None,
    lags: int | None = None,
    post_start: Any = None,
    cluster: str | None = None,
    inference: str | None = None,
    n_boot: int = 999,
    bootstrap_weights: str | None = None,
    alpha: float = 0.05,
    seed: Any = None,
    backend: Any = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> GroupTimeResult | RegressionResult:
    r"""Difference-in-differences of treated units (e.g. trial municipalities) against comparisons.

    Parameters
    ----------
    panel : DataFrame
        Long unit x time panel, one row per unit and period.
    outcome, unit, time, first_treated : str
        Column names. ``time`` holds month starts (datetime) or equally spaced integers;
        ``first_treated`` the first treated period in the same units, missing (or 0 / inf for
        integer time, the ``did`` convention) for never-treated units; when period 0 is in
        the panel, 0 is ambiguous and refused (use NaN or ``treatment=``). Treatment is
        absorbing. Missing unit, time or cluster values are refused.
    treatment : str, optional
        Instead of ``first_treated``: a 0/1 column saying whether the unit is treated in
        that period. Treatment must be absorbing (once 1, always 1); the first treated
        period is derived from it.
    method : {"group_time", "twfe", "event_study", "two_by_two", "sun_abraham"}
        ``group_time``: ATT(g, t) of Callaway & Sant'Anna (2021); ``twfe``: two-way fixed
        effects; ``event_study``: leads and lags (end points binned at ``leads``/``lags``);
        ``two_by_two``: canonical 2x2 (common start or ``post_start``); ``sun_abraham``:
        interaction-weighted event study (Sun & Abraham 2021).
    control_group : {"never", "not_yet"}
        Comparison units for ``group_time`` (default "never").
    covariates : str or list of str, optional
        Covariates (values at the base period for ``group_time``; time-varying regressors
        for the regression methods).
    estimation : {"dr", "ipw", "or"}
        ``group_time`` with covariates: doubly robust (default; Sant'Anna & Zhao 2020),
        inverse probability weighting or outcome regression.
    base_period : {"varying", "universal"}
        ``group_time`` base period (default "varying", as the ``did`` package).
    anticipation : int
        Periods of anticipation δ (``group_time``): comparisons use the base period
        g - 1 - δ; with the varying base period the periods before g (the anticipation
        periods included) are one-period changes, as in R's ``did``. Units first treated
        within δ periods of the panel's start have no base period and are excluded
        (reported in ``excluded``).
    leads, lags : int, optional
        Event window; event times beyond are binned into the end points.
    post_start : optional
        First post period for ``two_by_two`` when starts are staggered.
    cluster : str, optional
        Cluster column (constant within unit), e.g. ``"area"``; default: the unit.
    inference : str, optional
        ``group_time``: "bootstrap" (multiplier bootstrap with uniform bands; default) or
        "analytic". Regressions: "cluster" (CR1; default), "wild" (wild cluster
        bootstrap, null imposed) or "randomisation" (reassign timing across clusters).
    n_boot : int
        Bootstrap draws / permutations.
    bootstrap_weights : str, optional
        Multiplier bootstrap: "mammen" (default) or "rademacher"; wild bootstrap: "webb"
        (default) or "rademacher".
    alpha : float
        1 - confidence level.
    seed : int, Generator, SeedSequence or None
        Randomness of bootstraps and permutations (recorded in the result).
    backend, n_jobs
        Executor for the replications (results identical for a given seed).
    progress : bool
        Show a progress bar over bootstrap / permutation blocks.

    Returns
    -------
    GroupTimeResult or RegressionResult

    Raises
    ------
    DataError
        Missing columns, duplicate unit-time rows, ``first_treated`` varying within a unit or a
        ``treatment`` indicator that switches off (both name the units),
        irregular time, no never-treated units with ``control_group="never"``.
    DesignError
        Options that do not apply to the method, or invalid values.

    Warns
    -----
    FewClustersWarning
        With fewer than 10 treated clusters (or 30 clusters), with the count.
    ExcludedRowsWarning
        Units dropped (unbalanced panel, treated in the first period).

    Notes
    -----
    Group-time effects with never-treated comparisons (Callaway & Sant'Anna 2021, eq. 2.7):

    .. math:: ATT(g,t) = E[Y_t - Y_{g-1} \mid G = g] - E[Y_t - Y_{g-1} \mid C = 1].

    TWFE: :math:`Y_{it} = \alpha_i + \lambda_t + \beta D_{it} + \varepsilon_{it}`, estimated by the
    within transformation (no dummies).

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). *J. Econometrics* 225(2), 200-230.
    Sun, L. and Abraham, S. (2021). *J. Econometrics* 225(2), 175-199.
    Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2008). *REStat* 90(3), 414-427.

    Examples
    --------
    >>> import trialkit as tk
    >>> from trialkit.diffindiff.datasets import staggered_panel
    >>> df = staggered_panel(n_units=300, effect=1.0, seed=0)
    >>> r = tk.did(df, outcome="y", unit="unit", time="period",
    ...            first_treated="first_treated", control_group="never", seed=0)
    >>> list(r.group_time.columns[:6])
    ['group', 'time', 'estimate', 'se', 'ci_low', 'ci_high']
    >>> s = r.aggregate("simple").overall
    >>> s["ci_low"] < 1.0 < s["ci_high"]
    True
    """
    check_choice("method", method, list(METHODS))
    covs = as_list(covariates)
    check_probability("alpha", alpha)
    check_int("n_boot", n_boot, minimum=1)
    if method != "group_time":
        for name, val in (
            ("control_group", control_group),
            ("estimation", estimation),
            ("base_period", base_period),
        ):
            if val is not None:
                raise DesignError(
                    f"`{name}` applies only to method='group_time'; got method={method!r}"
                )
        if anticipation:
            raise DesignError("`anticipation` applies only to method='group_time'")
    else:
        for other, value in (("leads", leads), ("lags", lags), ("post_start", post_start)):
            if value is not None:
                raise DesignError(
                    f"`{other}` does not apply to method='group_time' (use aggregate('event', min_e=, max_e=))"
                )
        if estimation is not None and not covs:
            raise DesignError(
                "`estimation` needs `covariates`; without them the estimator is unconditional"
            )
    if method not in ("event_study", "sun_abraham") and (leads is not None or lags is not None):
        raise DesignError("`leads`/`lags` apply only to method='event_study' or 'sun_abraham'")
    if post_start is not None and method != "two_by_two":
        raise DesignError("`post_start` applies only to method='two_by_two'")
    allowed = _INFERENCE[method]
    inf = allowed[0] if inference is None else inference
    check_choice("inference", inf, list(allowed))
    if leads is not None:
        check_int("leads", leads, minimum=1)
    if lags is not None:
        check_int("lags", lags, minimum=0)
    if treatment is not None:
        panel, first_treated = _first_treated_from_indicator(
            panel, unit=unit, time=time, treatment=treatment
        )
    p = prepare_panel(
        panel,
        outcome=outcome,
        unit=unit,
        time=time,
        first_treated=first_treated,
        covariates=covs,
        cluster=cluster,
        zero_means_never=treatment is None,  # a derived first period 0 is period 0
    )
    if method == "group_time":
        bw = "mammen" if bootstrap_weights is None else bootstrap_weights
        return group_time(
            p,
            control_group="never" if control_group is None else control_group,
            estimation="dr" if estimation is None else estimation,
            base_period="varying" if base_period is None else base_period,
            anticipation=anticipation,
            inference=inf,  # type: ignore[arg-type]
            n_boot=n_boot,
            bootstrap_weights=bw,  # type: ignore[arg-type]
            alpha=alpha,
            seed=seed,
            backend=backend,
            n_jobs=n_jobs,
            progress=progress,
            cluster_name=cluster,
        )
    bw = "webb" if bootstrap_weights is None else bootstrap_weights
    check_choice("bootstrap_weights", bw, ["webb", "rademacher"])
    return fit_regression(
        p,
        method=method,
        leads=leads,
        lags=lags,
        post_start=post_start,
        inference=inf,  # type: ignore[arg-type]
        n_boot=n_boot,
        bootstrap_weights=bw,
        alpha=alpha,
        seed=seed,
        backend=backend,
        n_jobs=n_jobs,
        progress=progress,
        cluster_name=cluster,
    )


def _first_treated_from_indicator(
    panel: pd.DataFrame, *, unit: str, time: str, treatment: str
) -> tuple[pd.DataFrame, str]:
    """Derive the first treated period from a 0/1 indicator; error when treatment switches off."""
    require_frame(panel, name="panel")
    require_columns(panel, [unit, time, treatment], name="panel")
    require_binary(panel, treatment, name="panel")
    n_miss = int(panel[treatment].isna().sum())
    if n_miss:
        raise DataError(
            f"column {treatment!r} of `panel` has {n_miss} missing values; the treatment "
            "indicator must be 0 or 1 in every row"
        )
    d = panel[[unit, time, treatment]].sort_values([unit, time], kind="stable")
    dv = d[treatment].astype(int)
    ever = dv.groupby(d[unit], sort=False).cummax()
    off = (ever == 1) & (dv == 0)
    if off.any():
        units = pd.unique(d.loc[off.to_numpy(), unit])
        raise DataError(
            f"column {treatment!r} switches off (1 then 0) for {len(units)} units: {_preview(units)}; "
            "staggered adoption requires absorbing treatment (once treated, always treated)"
        )
    first = d.loc[dv.to_numpy() == 1].groupby(unit, sort=False)[time].min()
    name = "__first_treated__"
    out = panel.copy()
    out[name] = out[unit].map(first)
    return out, name
