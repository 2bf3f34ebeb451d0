"""Intention-to-treat estimators for randomised trials (``tk.randomisation.itt``).

Difference in means with the Neyman variance (blocked: stratum-weighted;
clustered: CR2), Lin's (2013) covariate-adjusted estimator with HC2 (CR2 with
clusters) standard errors, and inverse-probability weighting when assignment
probabilities differ. Conventions follow R's estimatr (``difference_in_means``,
``lm_lin``, ``lm_robust``); ``tests/reference/randomisation`` holds the fixtures.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from trialkit._checks import (
    as_list,
    check_choice,
    drop_missing,
    require_columns,
    require_finite,
    require_frame,
    require_numeric,
)
from trialkit.errors import DataError, DesignError, FewClustersWarning
from trialkit.randomisation import _core
from trialkit.results import EffectTable, effect_table

__all__ = ["itt", "ITTMethod"]

ITTMethod = Literal["difference_in_means", "lin"]


def _design_matrix_lin(t_dummies: np.ndarray, Xc: np.ndarray) -> np.ndarray:
    n = t_dummies.shape[0]
    inter = (t_dummies[:, :, None] * Xc[:, None, :]).reshape(n, -1)
    return np.column_stack([np.ones(n), t_dummies, Xc, inter])


def itt(
    data: pd.DataFrame,
    *,
    outcome: str = "employed_12m",
    arm: str = "arm",
    control: str = "control",
    covariates: Sequence[str] | None = None,
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    probability: str | None = None,
    method: ITTMethod = "difference_in_means",
    alpha: float = 0.05,
) -> EffectTable:
    r"""Intention-to-treat effect of each arm against ``control``.

    Parameters
    ----------
    data : DataFrame
        One row per randomised unit with the outcome and the assigned arm.
    outcome : str
        Outcome column (numeric or boolean).
    arm : str
        Assigned arm (e.g. ``Assignment.table["arm"]`` merged in).
    control : str
        Label of the comparison arm.
    covariates : list of str, optional
        ``method="lin"`` only: baseline covariates, centred and interacted with the arms.
    strata : str or list of str, optional
        Blocks of the design. ``difference_in_means``: the stratum-weighted
        (blocked) estimator; ``lin``: stratum indicators join the covariates.
    cluster : str, optional
        Clusters assigned as wholes: CR2 standard errors, Bell-McCaffrey df.
    probability : str, optional
        Column with each unit's probability of the arm it received; weights
        :math:`1/p_i` (inverse-probability weighting, a Hajek estimator). Use when
        probabilities differ across strata and you do not block on them. With
        ``cluster`` (clusters randomised with probabilities that differ across
        cluster strata): weighted CR2 errors under a working identity covariance
        and Bell-McCaffrey df, as estimatr's
        ``lm_robust(weights=, clusters=, se_type="CR2")``; ``lin`` centres the
        covariates at their weighted means, as ``lm_lin(weights=)``.
    method : {"difference_in_means", "lin"}
    alpha : float
        Level of the confidence intervals.

    Returns
    -------
    EffectTable
        One row per non-control arm (index ``arm``): ``estimate, se, ci_low,
        ci_high, p, n`` plus ``df``; t-based intervals with estimatr's df.

    Raises
    ------
    DataError
        Missing columns, a non-numeric outcome, an arm without units, a block
        without units of both arms.
    DesignError
        Unknown method; ``covariates`` with ``difference_in_means``;
        ``probability`` with ``strata``.

    Notes
    -----
    Difference in means (Neyman 1923):
    :math:`\hat\tau = \bar y_1 - \bar y_0`, :math:`\hat V = s_1^2/n_1 + s_0^2/n_0`,
    Welch-Satterthwaite df. Blocked: :math:`\hat\tau = \sum_b (N_b/N)\hat\tau_b`,
    :math:`\hat V = \sum_b (N_b/N)^2 \hat V_b` (matched pairs: the pair-difference
    variance). Lin (2013): OLS of :math:`y` on arm indicators, centred covariates
    :math:`x - \bar x` and their interactions, HC2 standard errors. Clusters: CR2
    (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018) with per-coefficient
    Bell-McCaffrey degrees of freedom. Rows with a missing outcome, arm or
    covariate are excluded and recorded in ``excluded``.

    References
    ----------
    Lin, W. (2013). Agnostic notes on regression adjustments to experimental data:
    reexamining Freedman's critique. *Annals of Applied Statistics* 7(1), 295-318.
    Gerber, A. S. & Green, D. P. (2012). *Field Experiments*. Norton.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"arm": ["control", "treatment"] * 50, "y": rng.normal(size=100)})
    >>> t = itt(d, outcome="y")
    >>> list(t.to_frame().index)
    ['treatment']
    """
    t0 = time.perf_counter()
    check_choice("method", method, ["difference_in_means", "lin"])
    require_frame(data)
    strata_cols = as_list(strata)
    cov_cols = as_list(covariates)
    for what, cols in (("covariates", cov_cols), ("strata", strata_cols)):
        repeated = sorted({c for c in cols if cols.count(c) > 1})
        if repeated:
            raise DesignError(f"`{what}` names {repeated} more than once; give each column once")
    both = [c for c in cov_cols if c in strata_cols]
    if both and method == "lin":
        raise DesignError(
            f"{both} given both in `covariates` and `strata`; the stratum indicators already "
            "adjust for them (give them once)"
        )
    if method == "difference_in_means" and cov_cols:
        raise DesignError("`covariates` are used by method='lin'; difference_in_means ignores them")
    if probability is not None and strata_cols:
        raise DesignError(
            "give `strata` (blocked estimator) or `probability` (inverse-probability weights), not both"
        )
    needed = list(  # a column in two roles (e.g. a covariate that is also the stratum) once
        dict.fromkeys(
            [
                outcome,
                arm,
                *cov_cols,
                *strata_cols,
                *([cluster] if cluster else []),
                *([probability] if probability else []),
            ]
        )
    )
    require_columns(data, needed)
    require_numeric(data, [outcome, *cov_cols, *([probability] if probability else [])])
    require_finite(data, [outcome, *cov_cols])
    # a fresh RangeIndex: an index level named like a column must not shadow it in groupby
    d, excluded = drop_missing(data[needed].reset_index(drop=True), needed)
    if len(d) == 0:
        raise DataError("no complete rows left after excluding missing values")
    arms_all = d[arm].astype(str)
    levels = (
        [str(c) for c in d[arm].cat.categories if (arms_all == str(c)).any()]
        if isinstance(d[arm].dtype, pd.CategoricalDtype)
        else sorted(arms_all.unique())
    )
    if str(control) not in levels:
        raise DataError(
            f"no units in the control arm {control!r} of column {arm!r}; arms present: {levels}"
        )
    others = [a for a in levels if a != str(control)]
    if not others:
        raise DataError(f"column {arm!r} holds only the control arm {control!r}")
    if probability is not None:
        pr = d[probability].to_numpy(dtype=float)
        if np.any((pr <= 0) | (pr > 1)):
            raise DataError(f"column {probability!r} must hold probabilities in (0, 1]")
    y_all = d[outcome].to_numpy(dtype=float)
    est, se, dfs, ns = [], [], [], []
    info: dict[str, object] = {"method": method}
    if method == "lin":
        keep = np.ones(len(d), dtype=bool)
        T = np.column_stack([(arms_all == a).to_numpy(dtype=float) for a in others])
        Xcov = d[cov_cols].to_numpy(dtype=float) if cov_cols else np.empty((len(d), 0))
        if strata_cols:
            sc = d.groupby(strata_cols, sort=True).ngroup()
            dummies = pd.get_dummies(sc, drop_first=True, dtype=float).to_numpy()
            Xcov = np.column_stack([Xcov, dummies])
        if Xcov.shape[1] == 0:
            raise DesignError("method='lin' needs `covariates` or `strata`")
        w = 1.0 / d[probability].to_numpy(dtype=float) if probability else None
        Xc = Xcov - np.average(Xcov, axis=0, weights=w)  # weighted means with weights (estimatr)
        X = _design_matrix_lin(T, Xc)
        if np.linalg.matrix_rank(X) < X.shape[1]:
            raise DataError(
                "the Lin design matrix is rank deficient (collinear covariates or too few units per arm)"
            )
        cl = d[cluster].to_numpy() if cluster else None
        beta, V, df = _core.ols_robust(y_all, X, cluster=cl, weights=w)
        for j, a in enumerate(others):
            est.append(beta[1 + j])
            se.append(np.sqrt(V[1 + j, 1 + j]))
            dfs.append(df[1 + j])
            ns.append(int(((arms_all == a) | (arms_all == str(control)))[keep].sum()))
        info["se_type"] = "CR2" if cluster else "HC2"
    else:
        for a in others:
            sel = ((arms_all == a) | (arms_all == str(control))).to_numpy()
            y = y_all[sel]
            t = (arms_all[sel] == a).to_numpy()
            if t.sum() < 2 and not strata_cols:
                raise DataError(
                    f"arm {a!r} has fewer than 2 units; the Neyman variance needs at least 2 per arm"
                )
            ns.append(int(sel.sum()))
            cl = d[cluster].to_numpy()[sel] if cluster else None
            if strata_cols:
                b = d.groupby(strata_cols, sort=True).ngroup().to_numpy()[sel]
                e_j, s_j, df_j, pairs = _blocked(y, t, b, cl)
                info["design"] = (
                    "matched_pairs" if pairs else ("block_clustered" if cluster else "blocked")
                )
            elif probability is not None:
                w = 1.0 / d[probability].to_numpy(dtype=float)[sel]
                X = np.column_stack([np.ones(t.size), t.astype(float)])
                if cl is not None and cluster is not None:
                    _check_cluster_constant(t, cl, cluster)
                beta, V, dfv = _core.ols_robust(y, X, cluster=cl, weights=w)
                e_j, s_j, df_j = float(beta[1]), float(np.sqrt(V[1, 1])), float(dfv[1])
                info["design"] = "ipw_clustered" if cluster else "ipw"
            elif cl is not None and cluster is not None:
                _check_cluster_constant(t, cl, cluster)
                X = np.column_stack([np.ones(t.size), t.astype(float)])
                beta, V, dfv = _core.ols_robust(y, X, cluster=cl)
                e_j, s_j, df_j = float(beta[1]), float(np.sqrt(V[1, 1])), float(dfv[1])
                info["design"] = "clustered"
            else:
                e_j, s_j, df_j = _core.neyman_dim(y, t)
                info["design"] = "standard"
            est.append(e_j)
            se.append(s_j)
            dfs.append(df_j)
    if cluster:
        n_cl = d[cluster].nunique()
        info["n_clusters"] = int(n_cl)
        if n_cl < 30:
            warnings.warn(
                f"{n_cl} clusters: CR2 with small-sample df is used, but consider randomisation inference",
                FewClustersWarning,
                stacklevel=2,
            )
    return effect_table(
        est,
        se,
        index=others,
        index_name="arm",
        n=ns,
        method=f"itt_{method}",
        n_obs=len(d),
        alpha=alpha,
        df=dfs,
        extra={"df": dfs},
        excluded=excluded,
        elapsed_s=time.perf_counter() - t0,
        meta=info,
    )


def _check_cluster_constant(t: np.ndarray, cl: np.ndarray, name: str) -> None:
    per = pd.Series(t).groupby(pd.Series(cl)).nunique()
    if (per > 1).any():
        raise DataError(
            f"arms vary within clusters of {name!r} (e.g. {list(per[per > 1].index[:3])}); clusters must be assigned whole"
        )


def _blocked(
    y: np.ndarray, t: np.ndarray, b: np.ndarray, cl: np.ndarray | None
) -> tuple[float, float, float, bool]:
    codes = np.unique(b, return_inverse=True)[1].reshape(-1)
    nb = int(codes.max()) + 1
    n1 = np.bincount(codes, weights=t, minlength=nb)
    n0 = np.bincount(codes, weights=~t, minlength=nb)
    if np.any(n1 == 0) or np.any(n0 == 0):
        bad = np.unique(b)[(n1 == 0) | (n0 == 0)][:5].tolist()
        raise DataError(f"every block needs units of both arms; blocks {bad} lack one")
    if cl is None:
        if np.any(n1 + n0 == 2):  # as estimatr: any pair -> matched-pair variance for all
            tau_b = (
                np.bincount(codes, weights=y * t, minlength=nb) / n1
                - np.bincount(codes, weights=y * ~t, minlength=nb) / n0
            )
            Nb = n1 + n0
            tau = float(np.sum(Nb / Nb.sum() * tau_b))
            se = float(np.sqrt(np.sum((tau_b - tau) ** 2) / (nb * (nb - 1))))
            return tau, se, float(nb - 1), True
        if np.any(n1 < 2) or np.any(n0 < 2):
            raise DataError(
                "blocks with one unit in an arm need a matched-pair design (two units per block)"
            )
        tau, se, df, pairs, _ = _core.blocked_dim(y, t, codes)
        return tau, se, df, pairs
    # block-clustered: CR2 within each block (Gerber & Green 2012, ch. 3)
    _check_cluster_constant(t, cl, "cluster")
    ncl_b = pd.Series(cl).groupby(codes).nunique().to_numpy()
    N = y.size
    taus, nobs = np.empty(nb), np.empty(nb)
    ses = np.empty(nb)
    for j in range(nb):
        m = codes == j
        nobs[j] = m.sum()
        if np.all(ncl_b == 2):
            taus[j] = y[m & t].mean() - y[m & ~t].mean()
            continue
        X = np.column_stack([np.ones(m.sum()), t[m].astype(float)])
        beta, V, _ = _core.ols_robust(y[m], X, cluster=cl[m])
        taus[j], ses[j] = beta[1], np.sqrt(V[1, 1])
    tau = float(np.sum(taus * nobs / N))
    if np.all(ncl_b == 2):
        se = float(np.sqrt(nb / ((nb - 1) * N**2) * np.sum((nobs * taus - N * tau / nb) ** 2)))
        return tau, se, float(nb - 1), True
    se = float(np.sqrt(np.sum(ses**2 * (nobs / N) ** 2)))
    return tau, se, float(ncl_b.sum() - 2 * nb), False
