"""Scores to match on: propensity, employability (prognostic) and Mahalanobis."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from trialkit._checks import (
    as_list,
    check_choice,
    require_binary,
    require_columns,
    require_frame,
    require_no_missing,
)
from trialkit.errors import ConvergenceWarning, DataError, EstimationError
from trialkit.matching import _core
from trialkit.results import Result

__all__ = ["ScoreResult", "propensity_score", "employability_score", "design_matrix", "whiten"]

Link = Literal["logit", "probit"]


def _columns(
    data: pd.DataFrame, covariates: Sequence[str], *, drop_first: bool, sep: str = "_"
) -> tuple[list[np.ndarray], list[str]]:
    """Numbers and booleans as they are; text and categories as level indicators
    named ``column{sep}level`` (levels sorted, or in categorical order; the first
    dropped when ``drop_first``)."""
    cols: list[np.ndarray] = []
    names: list[str] = []
    for c in covariates:
        s = data[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols.append(s.to_numpy(dtype=float))
            names.append(c)
            continue
        levels = (
            list(s.cat.categories)
            if isinstance(s.dtype, pd.CategoricalDtype)
            else sorted(s.unique())
        )
        codes = pd.Categorical(s, categories=levels).codes
        start = 1 if drop_first else 0
        for k, lev in enumerate(levels[start:], start=start):
            cols.append((codes == k).astype(float))
            names.append(f"{c}{sep}{lev}")
    return cols, names


def design_matrix(data: pd.DataFrame, covariates: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Numeric matrix of ``covariates``: numbers and booleans as they are, text and
    categories as indicators of each level but the first (R's treatment contrasts;
    levels sorted, or in categorical order)."""
    cols, names = _columns(data, covariates, drop_first=True)
    if not cols:
        return np.empty((len(data), 0)), []
    return np.column_stack(cols), names


def balance_matrix(data: pd.DataFrame, covariates: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Like :func:`design_matrix` but with an indicator for *every* level, named
    ``column=level`` as in the randomisation balance table (for balance tables)."""
    cols, names = _columns(data, covariates, drop_first=False, sep="=")
    return np.column_stack(cols), names


def whiten(x: np.ndarray, treat: np.ndarray) -> np.ndarray:
    r"""Covariates transformed so that Euclidean distance is the Mahalanobis distance.

    Uses the pooled within-group covariance :math:`S` (Rubin 1980): rows times
    :math:`L^{-T}` where :math:`S = LL'`.
    """
    xc = x.copy()
    for g in (True, False):
        xc[treat == g] -= xc[treat == g].mean(axis=0)
    s = xc.T @ xc / (x.shape[0] - 2)
    try:
        chol = np.linalg.cholesky(s)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(
            "the covariance matrix of the Mahalanobis covariates is singular: a covariate is "
            "constant or a linear combination of others; drop it"
        ) from exc
    return np.linalg.solve(chol, x.T).T


@dataclass(frozen=True, kw_only=True, eq=False)
class ScoreResult(Result):
    """A fitted score: propensity or employability (prognostic) model and its checks.

    ``score`` holds the predicted probabilities for every row of the data, ``linear``
    the linear predictor, ``coefficients`` the fitted model. For an employability
    score ``calibration`` (by decile of predicted probability) and the
    discrimination statistics in ``meta`` (``auc``, ``brier``,
    ``calibration_intercept``, ``calibration_slope``, ``hosmer_lemeshow``, its ``p``)
    are computed on the units the model was fitted on.
    """

    title: ClassVar[str] = "Score model"

    score: np.ndarray
    linear: np.ndarray
    coefficients: pd.DataFrame
    calibration: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table (estimate, se, z, p per term)."""
        return self.coefficients.copy()

    def _payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"coefficients": self.coefficients}
        if self.calibration is not None:
            out["calibration"] = self.calibration
        return out

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Calibration plot: observed rate against mean predicted probability by group."""
        from trialkit._plotting import get_ax

        if self.calibration is None:
            raise EstimationError("only an employability score has a calibration table")
        ax = get_ax(ax)
        cal = self.calibration
        ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=0.8)
        ax.plot(cal["predicted"], cal["observed"], marker="o", **kwargs)
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed rate")
        return ax


def _linear(xc: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Row-wise linear predictor; identical rows give bit-identical values (no BLAS blocking)."""
    return (xc * beta[None, :]).sum(axis=1)


def _inverse_link(lin: np.ndarray, link: Link) -> np.ndarray:
    from scipy import stats as _st

    return 1.0 / (1.0 + np.exp(-lin)) if link == "logit" else _st.norm.cdf(lin)


def _separation(x: np.ndarray, names: list[str], y: np.ndarray) -> list[str]:
    """Binary regressors whose value 1 (or 0) occurs only with one outcome value, and
    other regressors whose values for one outcome all lie at or above the other's."""
    bad = []
    one = y == 1
    for j, nm in enumerate(names):
        col = x[:, j]
        if not np.all((col == 0) | (col == 1)):
            if one.all() or not one.any() or np.ptp(col) == 0:  # a constant separates nothing
                continue
            lo1, hi1 = col[one].min(), col[one].max()
            lo0, hi0 = col[~one].min(), col[~one].max()
            if hi0 <= lo1:
                bad.append(f"{nm} (outcome 1: {nm} >= {lo1:g}; outcome 0: {nm} <= {hi0:g})")
            elif hi1 <= lo0:
                bad.append(f"{nm} (outcome 1: {nm} <= {hi1:g}; outcome 0: {nm} >= {lo0:g})")
            continue
        for v in (0.0, 1.0):
            sel = col == v
            if sel.any() and np.unique(y[sel]).size == 1:
                bad.append(
                    f"{nm}={int(v)} (all {int(sel.sum())} rows have outcome {int(y[sel][0])})"
                )
    return bad


def _fit_binary(
    x: np.ndarray, names: list[str], y: np.ndarray, link: Link, what: str
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, bool]:
    """Fit a logit/probit with statsmodels; raise on (quasi-)separation."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

    bad = _separation(x, names, y)
    if bad:
        raise EstimationError(
            f"{what}: (quasi-)complete separation -- {'; '.join(bad)}. The model cannot estimate a "
            "finite score for these rows; match exactly on that variable (exact=[...]) or drop it"
        )
    xc = np.column_stack([np.ones(x.shape[0]), x])
    model = (sm.Logit if link == "logit" else sm.Probit)(y, xc)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = model.fit(method="newton", maxiter=100, tol=1e-12, disp=False)
        except (PerfectSeparationError, np.linalg.LinAlgError) as exc:
            raise EstimationError(f"{what}: the model could not be fitted ({exc})") from exc
    if any(issubclass(w.category, PerfectSeparationWarning) for w in caught):
        raise EstimationError(
            f"{what}: statsmodels reports perfect separation (some fitted probabilities are 0 or 1); "
            "match exactly on the separating variable or drop it"
        )
    lin = _linear(xc, np.asarray(res.params))
    p = _inverse_link(lin, link)
    if np.any(p < 1e-10) or np.any(p > 1 - 1e-10):
        raise EstimationError(
            f"{what}: quasi-complete separation: {int(np.sum((p < 1e-10) | (p > 1 - 1e-10)))} rows "
            "have fitted probability 0 or 1; match exactly on the separating variable or drop it"
        )
    converged = bool(res.mle_retvals.get("converged", True))
    if not converged:
        warnings.warn(
            f"{what}: the {link} model did not converge", ConvergenceWarning, stacklevel=3
        )
    coef = pd.DataFrame(
        {"estimate": res.params, "se": res.bse, "z": res.tvalues, "p": res.pvalues},
        index=pd.Index(["(intercept)", *names], name="term"),
    )
    return p, lin, coef, converged


def propensity_score(
    data: pd.DataFrame,
    *,
    treatment: str = "treated",
    covariates: Sequence[str],
    link: Link = "logit",
) -> ScoreResult:
    r"""Propensity score :math:`P(T = 1 \mid X)` from a logit or probit model (statsmodels).

    Parameters
    ----------
    data : DataFrame
        One row per person.
    treatment : str
        Binary treatment column.
    covariates : list of str
        Model covariates; text/categorical columns enter as level indicators.
    link : {"logit", "probit"}

    Returns
    -------
    ScoreResult
        ``score`` (probabilities), ``linear`` (linear predictor), coefficients.

    Raises
    ------
    EstimationError
        On complete or quasi-complete separation (named by covariate and level), or
        when the model cannot be fitted.

    References
    ----------
    Rosenbaum, P. R. & Rubin, D. B. (1983). The central role of the propensity score
    in observational studies for causal effects. Biometrika 70, 41--55.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"age": rng.normal(40, 10, 500)})
    >>> df["treated"] = rng.random(500) < 1 / (1 + np.exp(-(df["age"] - 40) / 10))
    >>> ps = propensity_score(df, covariates=["age"])
    >>> bool(0 < ps.score.min() and ps.score.max() < 1)
    True
    """
    require_frame(data)
    check_choice("link", link, ["logit", "probit"])
    covs = as_list(covariates)
    require_columns(data, [treatment, *covs])
    require_binary(data, treatment)
    require_no_missing(data, [treatment, *covs])
    if not covs:
        raise DataError("`covariates` must name at least one column for a propensity score")
    x, names = design_matrix(data, covs)
    y = data[treatment].to_numpy().astype(float)
    p, lin, coef, conv = _fit_binary(x, names, y, link, "propensity score")
    return ScoreResult(
        method=f"propensity_{link}",
        n_obs=len(data),
        score=p,
        linear=lin,
        coefficients=coef,
        meta={"link": link, "converged": conv, "covariates": covs},
    )


def employability_score(
    data: pd.DataFrame,
    *,
    outcome: str,
    covariates: Sequence[str],
    treatment: str | None = "treated",
    fit_on: pd.DataFrame | None = None,
    link: Link = "logit",
    groups: int = 10,
) -> ScoreResult:
    r"""Employability: a prognostic score of re-employment fitted on the untreated.

    A binary model of ``outcome`` (e.g. employed within 12 months) on
    ``covariates`` is fitted on the rows with ``treatment`` false (or on ``fit_on``,
    e.g. an earlier cohort) and predicted for every row: Hansen's (2008)
    prognostic score, the predicted outcome without treatment. Matching on it
    balances what matters for the outcome. Calibration (observed vs predicted by
    group of predicted risk, calibration intercept and slope, Hosmer--Lemeshow) and
    discrimination (AUC, Brier score) are reported for the fitting sample.

    Parameters
    ----------
    data : DataFrame
        Rows to predict for.
    outcome : str
        Binary outcome column of the fitting sample.
    covariates : list of str
        Predictors (text/categorical as level indicators).
    treatment : str or None
        Treatment column; the model is fitted where it is false. None: fit on all
        rows of ``fit_on`` (required then).
    fit_on : DataFrame, optional
        Separate fitting sample (a pre-period cohort); ``data`` then needs no outcome.
    link : {"logit", "probit"}
    groups : int
        Number of groups of predicted risk in the calibration table.

    Returns
    -------
    ScoreResult
        ``score`` for every row of ``data``; ``calibration`` table; ``meta`` with
        ``auc``, ``brier``, ``calibration_intercept``, ``calibration_slope``,
        ``hosmer_lemeshow``, ``hosmer_lemeshow_p``, ``n_fit``.

    References
    ----------
    Hansen, B. B. (2008). The prognostic analogue of the propensity score.
    Biometrika 95(2), 481--488.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"age": rng.normal(40, 10, 2000), "treated": rng.random(2000) < 0.3})
    >>> df["employed_12m"] = (rng.random(2000) < 1 / (1 + np.exp((df["age"] - 40) / 8))).astype(int)
    >>> s = employability_score(df, outcome="employed_12m", covariates=["age"])
    >>> round(s.meta["auc"], 2) > 0.6
    True
    """
    import statsmodels.api as sm

    require_frame(data)
    check_choice("link", link, ["logit", "probit"])
    covs = as_list(covariates)
    if not covs:
        raise DataError("`covariates` must name at least one column for an employability score")
    require_columns(data, covs)
    require_no_missing(data, covs)
    if fit_on is None:
        if treatment is None:
            raise DataError("give `treatment` (fit on the untreated) or a separate `fit_on` sample")
        require_columns(data, [treatment, outcome])
        require_binary(data, treatment)
        fit = data.loc[~data[treatment].astype(bool).to_numpy()]
        if len(fit) == 0:
            raise DataError(
                f"no untreated rows (`{treatment}` false) to fit the employability model on"
            )
    else:
        require_frame(fit_on, name="fit_on")
        require_columns(fit_on, [outcome, *covs], name="fit_on")
        fit = fit_on
    require_binary(fit, outcome)
    require_no_missing(fit, [outcome, *covs], name="fit sample")
    both = pd.concat([fit[covs], data[covs]], ignore_index=True)
    xall, names = design_matrix(both, covs)
    xf, xd = xall[: len(fit)], xall[len(fit) :]
    y = fit[outcome].to_numpy().astype(float)
    pf, linf, coef, conv = _fit_binary(xf, names, y, link, "employability score")
    xdc = np.column_stack([np.ones(xd.shape[0]), xd])
    lin = _linear(xdc, coef["estimate"].to_numpy())
    p = _inverse_link(lin, link)
    # calibration intercept/slope: logit(y) on logit(p)
    lp = np.log(pf / (1 - pf))
    cal = sm.GLM(y, np.column_stack([np.ones_like(lp), lp]), family=sm.families.Binomial()).fit()
    hl, hl_p, tab = _core.hosmer_lemeshow(pf, y, groups)
    calib = pd.DataFrame(
        {"predicted": tab[:, 0], "observed": tab[:, 1], "n": tab[:, 2].astype(int)},
        index=pd.RangeIndex(1, tab.shape[0] + 1, name="group"),
    )
    meta = {
        "link": link,
        "converged": conv,
        "covariates": covs,
        "outcome": outcome,
        "n_fit": len(fit),
        "auc": _core.auc(pf, y),
        "brier": float(np.mean((pf - y) ** 2)),
        "calibration_in_the_large": float(y.mean() - pf.mean()),
        "calibration_intercept": float(cal.params[0]),
        "calibration_slope": float(cal.params[1]),
        "hosmer_lemeshow": hl,
        "hosmer_lemeshow_p": hl_p,
    }
    return ScoreResult(
        method=f"employability_{link}",
        n_obs=len(data),
        score=p,
        linear=lin,
        coefficients=coef,
        calibration=calib,
        meta=meta,
    )
