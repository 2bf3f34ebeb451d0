"""Individual-level DiD: person x month panels with person and month effects absorbed.

The fixed effects are never built as dummies: the outcome and regressors are
demeaned by alternating projections (Gaure 2013), which for a balanced panel is the
exact two-way within transformation after one sweep. Memory is a few vectors of the
panel's length, so tens of millions of person-months fit on one machine.
"""

from __future__ import annotations

import logging
import time as _time
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from trialkit._checks import (
    as_list,
    check_positive,
    check_probability,
    require_columns,
    require_frame,
    require_numeric,
)
from trialkit.diffindiff import _core
from trialkit.diffindiff._inference import warn_few_clusters
from trialkit.diffindiff.regression import RegressionResult
from trialkit.errors import ConvergenceWarning, DataError, EstimationError
from trialkit.results import Exclusion

__all__ = ["absorbed_did"]

log = logging.getLogger("trialkit.diffindiff")


def _codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 of ``values`` (fast path for integers with a compact range)."""
    if values.dtype.kind in "iu" and values.size:
        lo = int(values.min())
        span = int(values.max()) - lo + 1
        if span <= 4 * values.size:
            shifted = (values - lo).astype(np.int64, copy=False)
            present = np.bincount(shifted, minlength=span) > 0
            if present.all():  # already compact: no relabelling needed
                return shifted, span
            remap = np.cumsum(present) - 1
            return remap[shifted], int(present.sum())
    codes, levels = pd.factorize(values)
    return codes.astype(np.int64), len(levels)


def absorbed_did(
    data: pd.DataFrame,
    *,
    outcome: str,
    treatment: str = "treated",
    unit: str = "person_id",
    time: str = "month",
    covariates: str | list[str] | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    alpha: float = 0.05,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> RegressionResult:
    r"""DiD on a long person x period panel with person and period effects absorbed.

    .. math:: Y_{it} = \alpha_i + \lambda_t + \beta D_{it} + X_{it}'\gamma + \varepsilon_{it}

    ``D`` is the treatment indicator of the row (e.g. treated person x post period, for a
    matched sample from :func:`trialkit.match` with its ``weight``). The person and period
    effects are removed by alternating projections (no dummy matrices); standard errors are
    CR1 clustered by ``cluster`` (default: the person), with the period effects counted in
    the small-sample factor and the person effects not (they are nested in the clusters), as
    fixest / pyfixest do.

    Parameters
    ----------
    data : DataFrame
        Long panel, one row per person and period (unbalanced allowed).
    outcome, treatment, unit, time : str
        Column names; ``treatment`` is 0/1 per row.
    covariates : str or list of str, optional
        Time-varying covariates.
    cluster : str, optional
        Cluster column (default ``unit``), e.g. the municipality.
    weights : str, optional
        Non-negative row weights (matching weights); weighted least squares.
    alpha : float
        1 - confidence level.
    tol, max_iter
        Convergence of the alternating projections (relative change of the group means).

    Returns
    -------
    RegressionResult
        One row ``treated``; ``meta`` holds iterations and convergence.

    Raises
    ------
    DataError
        Missing columns, non-numeric values, duplicate person-period rows.
    EstimationError
        When the treatment indicator is constant after absorbing the effects.

    References
    ----------
    Gaure, S. (2013). OLS with multiple high dimensional category variables.
    *Computational Statistics & Data Analysis* 66, 8-18.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n, T = 400, 10
    >>> df = pd.DataFrame({"person_id": np.repeat(np.arange(n), T), "month": np.tile(np.arange(T), n)})
    >>> df["treated"] = ((df.person_id < n // 2) & (df.month >= 5)).astype(int)
    >>> df["y"] = rng.normal(size=n).repeat(T) + 0.1 * df.month + 0.5 * df.treated + rng.normal(size=n * T)
    >>> r = absorbed_did(df, outcome="y")
    >>> bool(abs(r.to_frame().loc["treated", "estimate"] - 0.5) < 0.15)
    True
    """
    t0 = _time.perf_counter()
    covs = as_list(covariates)
    require_frame(data)
    cols = (
        [outcome, treatment, unit, time, *covs]
        + ([cluster] if cluster else [])
        + ([weights] if weights else [])
    )
    require_columns(data, cols)
    require_numeric(data, [outcome, treatment, *covs] + ([weights] if weights else []))
    check_probability("alpha", alpha)
    check_positive("tol", tol)
    excluded: list[Exclusion] = []
    num = data[[outcome, treatment, *covs] + ([weights] if weights else [])]
    miss = (
        num.isna().to_numpy().any(axis=1)
        | data[unit].isna().to_numpy()
        | data[time].isna().to_numpy()
    )
    if cluster:
        miss |= data[cluster].isna().to_numpy()
    keep = ~miss
    if miss.any():
        excluded.append(Exclusion(reason="missing values", n=int(miss.sum()), column=outcome))
    all_kept = bool(keep.all())
    uvals = data[unit].to_numpy()
    tvals = data[time].to_numpy()
    uc, n_u0 = _codes(uvals if all_kept else uvals[keep])
    tc, n_t0 = _codes(tvals if all_kept else tvals[keep])
    n_cells = n_u0 * n_t0
    key = uc * n_t0 + tc
    if n_cells <= 4 * key.size:
        dup = bool(np.bincount(key, minlength=n_cells).max() > 1)
    else:
        sk = np.sort(key)
        dup = bool(np.any(sk[1:] == sk[:-1]))
    if dup:
        raise DataError(f"`data` has duplicate rows for the same {unit!r} and {time!r}")

    def _col(name: str) -> np.ndarray:
        v = data[name].to_numpy(dtype=float)
        return v if all_kept else v[keep]

    y = _col(outcome)
    x = np.column_stack([_col(treatment)] + [_col(c) for c in covs])
    w = None
    if weights:
        w = _col(weights)
        if (w < 0).any():
            raise DataError(f"column {weights!r} must be non-negative")
        pos = w > 0
        if not pos.all():
            excluded.append(Exclusion(reason="zero weight", n=int((~pos).sum()), column=weights))
            y, x, w, uc, tc = y[pos], x[pos], w[pos], uc[pos], tc[pos]
            uc = _codes(uc)[0]
            tc = _codes(tc)[0]
    n_units = int(uc.max()) + 1
    n_periods = int(tc.max()) + 1
    N = y.size
    treated_rows = x[:, 0] != 0
    balanced = w is None and N == n_units * n_periods
    # rows of the model arrays in data order, or (balanced panels) in unit-major cell order
    cell: np.ndarray | None = None
    if balanced:
        # Balanced panel: the two-way within transformation is closed form,
        # y_it - ybar_i. - ybar_.t + ybar_.., applied on the unit x period matrix view of
        # each column (rows scattered into cell order unless already sorted by unit, time).
        dm = np.empty((N, 1 + x.shape[1]), order="F")  # contiguous columns
        if N < 2 or bool(np.all(key[1:] > key[:-1])):
            dm[:, 0] = y
            dm[:, 1:] = x
        else:
            cell = key
            dm[cell, 0] = y
            dm[cell, 1:] = x
        del y, x, tc, key  # free the row copies before the projections
        for j in range(dm.shape[1]):
            m = dm[:, j].reshape(n_units, n_periods)  # a view: demeaned in place
            m -= m.mean(axis=1, keepdims=True)
            m -= m.mean(axis=0, keepdims=True)
        converged, iters = True, 1
    else:
        dm, converged, iters = _core.demean(
            np.column_stack([y, x]), [uc, tc], weights=w, tol=tol, max_iter=max_iter
        )
        if not converged:
            warnings.warn(
                f"alternating projections did not converge in {max_iter} sweeps (tol={tol})",
                ConvergenceWarning,
                stacklevel=2,
            )
    log.debug("absorbed %d units and %d periods in %d sweeps", n_units, n_periods, iters)
    yd, xd = dm[:, 0], dm[:, 1:]
    if w is None:
        xw, yw = xd, yd
    else:
        sw = np.sqrt(w)
        xw = xd * sw[:, None]
        yw = yd * sw
    k = xw.shape[1]
    # X'X and X'y from contiguous column dot products (no N x k temporaries)
    xtx = np.array([[xw[:, a] @ xw[:, b] for b in range(k)] for a in range(k)])
    if np.linalg.matrix_rank(xtx) < xtx.shape[0]:
        raise EstimationError(
            f"{treatment!r} (or a covariate) is collinear with the person and period effects"
        )
    xtx_inv = np.linalg.pinv(xtx)
    beta = xtx_inv @ np.array([xw[:, a] @ yw for a in range(k)])
    resid_w = yw if w is None else yw.copy()  # the demeaned outcome is not needed again
    for a in range(k):
        resid_w -= beta[a] * xw[:, a]

    def _model_order(a: np.ndarray) -> np.ndarray:
        if cell is None:
            return a
        out = np.empty_like(a)
        out[cell] = a
        return out

    if cluster:
        cl = pd.factorize(data[cluster].to_numpy()[keep])[0].astype(np.int64)
        if w is not None and not (data[weights].to_numpy(dtype=float)[keep] > 0).all():
            cl = cl[data[weights].to_numpy(dtype=float)[keep] > 0]
            cl = pd.factorize(cl)[0].astype(np.int64)
        # count treated clusters
        n_tr = int(np.count_nonzero(np.bincount(cl[treated_rows])))
        cl = _model_order(cl)
    else:
        n_tr = int(np.count_nonzero(np.bincount(uc[treated_rows])))
        cl = _model_order(uc)
    n_cl = int(cl.max()) + 1
    warn_few_clusters(
        n_cl, n_tr, what=f"clusters of {cluster!r}" if cluster else "units", stacklevel=3
    )
    buf = np.empty(N)
    by_unit_matrix = balanced and not cluster  # clusters = rows of the unit x period view
    scores = np.empty((n_cl, k))
    for a in range(k):
        np.multiply(xw[:, a], resid_w, out=buf)
        if by_unit_matrix:
            scores[:, a] = buf.reshape(n_units, n_periods).sum(axis=1)
        else:
            scores[:, a] = np.bincount(cl, weights=buf, minlength=n_cl)
    del buf
    vcov = _core.cr1_from_scores(scores, xtx_inv, N, n_absorbed=n_periods)
    se = np.sqrt(np.diag(vcov))
    df_t = n_cl - 1
    q = stats.t.ppf(1 - alpha / 2, df_t)
    p = 2 * stats.t.sf(np.abs(beta / se), df_t)
    names = ["treated", *covs]
    table = pd.DataFrame(
        {
            "estimate": beta,
            "se": se,
            "ci_low": beta - q * se,
            "ci_high": beta + q * se,
            "p": p,
            "n": N,
        },
        index=pd.Index(names, name="term"),
    )
    return RegressionResult(
        method="absorbed_twfe",
        n_obs=N,
        alpha=alpha,
        excluded=tuple(excluded),
        elapsed_s=_time.perf_counter() - t0,
        meta={
            "index_names": ["term"],
            "n_units": n_units,
            "n_periods": n_periods,
            "n_clusters": n_cl,
            "iterations": iters,
            "converged": converged,
            "balanced_closed_form": balanced,
        },
        table=table,
        vcov=pd.DataFrame(vcov, index=table.index, columns=table.index),
        inference="cluster",
        extra={"df": df_t, "n_clusters": n_cl, "n_treated_clusters": n_tr},
    )
