"""Regression DiD: two-way fixed effects, event study, 2x2, Sun & Abraham (2021).

Inference: CR1 cluster-robust (by unit unless ``cluster`` is given), the wild cluster
bootstrap with the null imposed (Cameron, Gelbach & Miller 2008; Rademacher or Webb
2023 weights) and randomisation inference that reassigns treatment timing across
clusters (Fisher 1935; MacKinnon & Webb 2020 for DiD with few treated clusters).
"""

from __future__ import annotations

import time as _time
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import stats

from trialkit._rng import as_seed_sequence, child_seeds, seed_record
from trialkit.diffindiff import _core
from trialkit.diffindiff._inference import draw_blocks, warn_few_clusters
from trialkit.diffindiff._panel import Panel
from trialkit.diffindiff.staggered import PretrendTest
from trialkit.errors import DataError, DesignError, EstimationError, ExcludedRowsWarning
from trialkit.results import EffectTable, Exclusion

__all__ = ["RegressionResult", "fit_regression"]

# child-seed index of the sup-t band draws (far from any replication index)
_BAND_STREAM = 2**31 - 1

RegInference = Literal["cluster", "wild", "randomisation"]


@dataclass(frozen=True, kw_only=True, eq=False)
class RegressionResult(EffectTable):
    """Coefficients of a DiD regression with unit and time effects absorbed.

    ``table`` is indexed by ``term`` (TWFE, 2x2) or ``event_time`` (event study, Sun &
    Abraham); ``vcov`` is the CR1 covariance of the reported rows. For event studies
    ``band_low``/``band_high`` give the sup-t uniform band (Montiel Olea & Plagborg-Moller
    2019) from the CR1 covariance; its critical value is simulated from 5,000 normal draws
    from the call's ``seed`` (recorded in ``seed``; with None fresh entropy is drawn).
    Confidence intervals use Student's t with G - 1 degrees of freedom (G clusters); with
    ``inference="wild"`` they are inverted wild-bootstrap tests, with
    ``inference="randomisation"`` only the p-value is reported.
    """

    title: ClassVar[str] = "Difference-in-differences regression"
    vcov: pd.DataFrame
    inference: str = "cluster"
    crit: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)

    def _payload(self) -> dict[str, Any]:
        return {
            "table": self.to_frame(),
            "inference": self.inference,
            "crit": self.crit,
            **self.extra,
        }

    def pretrend_test(self, *, leads: int | None = None) -> PretrendTest:
        """Joint Wald test (CR1 covariance, chi-square) that the lead coefficients are zero.

        ``leads``: test only the leads nearest to treatment (default: all when at most 12,
        otherwise the 12 nearest; see :meth:`GroupTimeResult.pretrend_test`). The binned
        first lead, when the window was binned, is included.

        Examples
        --------
        >>> import trialkit as tk
        >>> from trialkit.diffindiff.datasets import staggered_panel
        >>> r = tk.did(staggered_panel(seed=0), outcome="y", unit="unit", time="period",
        ...            first_treated="first_treated", method="event_study")
        >>> r.pretrend_test().df
        6
        """
        if self.table.index.name != "event_time":
            raise DesignError(
                "pretrend_test needs an event study (method='event_study' or 'sun_abraham')"
            )
        e = self.table.index.to_numpy()
        pre = e < 0
        n_avail = int(pre.sum())
        k = min(n_avail, 12) if leads is None else int(leads)
        if k < n_avail:
            pre &= e >= -k - 1  # e = -1 is the omitted reference, so k leads reach -k - 1
        est = self.table["estimate"].to_numpy()[pre]
        v = self.vcov.to_numpy()[np.ix_(pre, pre)]
        w, df, p = _core.wald_test(est, v)
        return PretrendTest(
            method="wald_leads",
            n_obs=self.n_obs,
            alpha=self.alpha,
            statistic=w,
            df=df,
            p=p,
            terms=tuple(int(x) for x in e[pre]),
        )

    def plot(self, ax: Any = None, *, bands: bool = True, **kwargs: Any) -> Any:
        """Event-study plot (event studies) or forest plot (single coefficients); returns the Axes."""
        if self.table.index.name == "event_time":
            from trialkit.diffindiff.plots import event_plot

            return event_plot(self.table, ax=ax, alpha=self.alpha, bands=bands, **kwargs)
        return super().plot(ax=ax, **kwargs)


# ---------------------------------------------------------------------------
# design matrices
# ---------------------------------------------------------------------------


def _event_design(
    g: np.ndarray, T: int, leads: int | None, lags: int | None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(n, T, K) indicators of event time e = t - g (e = -1 omitted, end points binned)."""
    t = np.arange(T)
    rel = t[None, :] - g[:, None]
    treated = g >= 0
    emin = int(rel[treated].min())
    emax = int(rel[treated].max())
    lo = emin if leads is None else max(-leads, emin)
    hi = emax if lags is None else min(lags, emax)
    binned = (leads is not None and -leads > emin) or (lags is not None and lags < emax)
    rel_b = np.clip(rel, lo, hi)
    labels = np.array([e for e in range(lo, hi + 1) if e != -1], dtype=np.int64)
    x = (rel_b[:, :, None] == labels[None, None, :]) & treated[:, None, None]
    return x.astype(float), labels, binned


def _two_way_demean(z: np.ndarray) -> np.ndarray:
    """Balanced panel (n, T, ...) minus unit and period means plus the grand mean."""
    return (
        z
        - z.mean(axis=1, keepdims=True)
        - z.mean(axis=0, keepdims=True)
        + z.mean(axis=(0, 1), keepdims=True)
    )


def _cluster_codes(panel: Panel) -> tuple[np.ndarray, int, int]:
    g = panel.g
    if panel.cluster is None:
        cl = np.arange(g.size)
    else:
        cl = panel.cluster
    n_cl = int(cl.max()) + 1
    n_tr = int(np.unique(cl[g >= 0]).size)
    return cl, n_cl, n_tr


# ---------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------


def _wild_block(
    rng: np.random.Generator, i: int, *, sizes: tuple[int, ...], n_cl: int, kind: str
) -> np.ndarray:
    return _core.wild_weights(rng, (sizes[i], n_cl), kind)


def _perm_block(
    rng: np.random.Generator, i: int, *, sizes: tuple[int, ...], n_cl: int
) -> np.ndarray:
    return np.vstack([rng.permutation(n_cl) for _ in range(sizes[i])])


def fit_regression(
    panel: Panel,
    *,
    method: str,
    leads: int | None = None,
    lags: int | None = None,
    post_start: Any = None,
    inference: RegInference = "cluster",
    n_boot: int = 999,
    bootstrap_weights: str = "webb",
    alpha: float = 0.05,
    seed: Any = None,
    backend: Any = None,
    n_jobs: int | None = None,
    progress: bool = False,
    cluster_name: str | None = None,
) -> RegressionResult:
    """TWFE / event study / 2x2 / Sun-Abraham on a prepared balanced panel (see :func:`trialkit.did`)."""
    t0 = _time.perf_counter()
    y, g, T = panel.y, panel.g, panel.axis.n_periods
    n = g.size
    treated = g >= 0
    if not treated.any():
        raise DataError(
            "no treated units in the panel (every `first_treated` is missing or outside it)"
        )
    cl_unit, n_cl, n_tr = _cluster_codes(panel)
    warn_few_clusters(
        n_cl, n_tr, what=f"clusters of {cluster_name!r}" if cluster_name else "units", stacklevel=4
    )
    extra: dict[str, Any] = {"n_clusters": n_cl, "n_treated_clusters": n_tr}
    other_starts: list[Exclusion] = []
    xs: list[np.ndarray] = []
    weights_iw: np.ndarray | None = None
    t_idx = np.arange(T)
    if method == "twfe":
        d = (treated[:, None] & (t_idx[None, :] >= g[:, None])).astype(float)
        xs = [d[:, :, None]]
        names: list[Any] = ["treated"]
        index_name = "term"
    elif method == "two_by_two":
        if post_start is None:
            starts = np.unique(g[treated])
            if starts.size > 1:
                raise DesignError(
                    "method='two_by_two' needs a common start: the panel has staggered starts "
                    f"{list(panel.axis.label(starts))}; give `post_start` or use method='group_time'"
                )
            ps = int(starts[0])
        else:
            ps = int(panel.axis.to_index(pd.Series([post_start]), column="post_start")[0])
        keep_u = (g == ps) | (g == _core.NEVER)
        if not (g[keep_u] == ps).any() or not (g[keep_u] == _core.NEVER).any():
            raise DataError(
                "method='two_by_two' needs units first treated at `post_start` and never-treated units"
            )
        if (~keep_u).any():
            n_other = int((~keep_u).sum())
            extra["excluded_units_other_starts"] = n_other
            other_starts.append(
                Exclusion(
                    reason=f"{n_other} units first treated at another period than post_start",
                    n=n_other * T,
                )
            )
            warnings.warn(
                f"method='two_by_two' compares the units first treated at post_start with the "
                f"never-treated; {n_other} units with other start periods were left out (see "
                "`excluded`)",
                ExcludedRowsWarning,
                stacklevel=4,
            )
        y = y[keep_u]
        g = g[keep_u]
        cl_unit = pd.factorize(cl_unit[keep_u], sort=True)[0].astype(np.int64)
        n_cl = int(cl_unit.max()) + 1
        n = g.size
        post = (t_idx >= ps).astype(float)
        tr = (g == ps).astype(float)
        ones = np.ones((n, T))
        cols2 = [tr[:, None] * post[None, :], tr[:, None] * ones, post[None, :] * ones, ones]
        xs = [np.stack(cols2, axis=2)]
        if panel.x is not None:
            xs.append(panel.x[keep_u])
        names = ["treated:post"]
        index_name = "term"
        extra["post_start"] = panel.axis.label(ps)
    elif method == "event_study":
        ev, labels, binned = _event_design(g, T, leads, lags)
        xs = [ev]
        names = [int(v) for v in labels]
        index_name = "event_time"
        extra["binned"] = binned
    elif method == "sun_abraham":
        ev, labels, binned = _event_design(g, T, leads, lags)
        cohorts = np.unique(g[treated])
        if (g == _core.NEVER).any():
            control_cohort = None
            keep_t = np.ones(T, dtype=bool)
        else:
            control_cohort = int(cohorts.max())
            keep_t = t_idx < control_cohort
            cohorts = cohorts[:-1]
            if cohorts.size == 0:
                raise DataError("sun_abraham needs never-treated units or at least two cohorts")
        cols, meta_ge = [], []
        for c in cohorts:
            m = (g == c)[:, None, None]
            for k, e in enumerate(labels):
                col = ev[:, :, k] * m[:, :, 0]
                if col[:, keep_t].any():
                    cols.append(col)
                    meta_ge.append((int(c), int(e)))
        inter = np.stack(cols, axis=2)
        if control_cohort is not None:
            y = y[:, keep_t]
            inter = inter[:, keep_t, :]
            T = int(keep_t.sum())
        xs = [inter]
        ge = np.asarray(meta_ge)
        shares = np.array([np.sum(g == c) for c in ge[:, 0]], dtype=float)
        weights_iw = np.zeros((labels.size, len(meta_ge)))
        for k, e in enumerate(labels):
            sel = ge[:, 1] == e
            if sel.any():
                weights_iw[k, sel] = shares[sel] / shares[sel].sum()
        has = weights_iw.sum(axis=1) > 0  # event times observed for some cohort
        weights_iw = weights_iw[has]
        names = [int(v) for v in labels[has]]
        index_name = "event_time"
        extra["binned"] = binned
        extra["control_cohort"] = (
            None if control_cohort is None else panel.axis.label(control_cohort)
        )
        extra["cohort_event"] = [
            {"group": panel.axis.label(c), "event_time": e} for c, e in meta_ge
        ]
    else:  # pragma: no cover - guarded by the caller
        raise DesignError(f"unknown method {method!r}")
    if panel.x is not None and method != "two_by_two":
        xs.append(
            panel.x
            if method != "sun_abraham" or extra.get("control_cohort") is None
            else panel.x[:, : y.shape[1]]
        )
    z = np.concatenate(xs, axis=2)  # (n, T, k)
    k_all = z.shape[2]
    if method == "two_by_two":
        # canonical pooled regression y = a + b treat + c post + d treat*post + X'g
        yd = y.reshape(-1)
        zd = z.reshape(-1, k_all)
        n_absorbed = 0
    else:
        yd = _two_way_demean(y).reshape(-1)
        zd = _two_way_demean(z).reshape(-1, k_all)
        n_absorbed = y.shape[1]
    cl = np.repeat(cl_unit, y.shape[1])
    beta, resid, xtx_inv = _core.ols(yd, zd)
    n_obs = yd.size
    if np.linalg.matrix_rank(zd.T @ zd) < k_all:
        raise EstimationError(
            "the regressors are collinear after absorbing unit and period effects; "
            "bin the event window (leads=, lags=) or add never-treated units"
        )
    vcov = _core.cluster_vcov(zd, resid, xtx_inv, cl, n_absorbed=n_absorbed)
    n_main = len(names) if weights_iw is None else weights_iw.shape[1]
    b_main = beta[:n_main]
    v_main = vcov[:n_main, :n_main]
    if weights_iw is not None:
        extra["cohort_coefficients"] = b_main.tolist()
        b_main = weights_iw @ b_main
        v_main = weights_iw @ v_main @ weights_iw.T
    se = np.sqrt(np.diag(v_main))
    df_t = n_cl - 1
    q = stats.t.ppf(1 - alpha / 2, df_t)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * stats.t.sf(np.abs(b_main / se), df_t)
    ci_low, ci_high = b_main - q * se, b_main + q * se
    crit = float("nan")
    seed_rec = None
    if inference == "wild":
        if weights_iw is not None or k_all > 40:
            raise DesignError(
                "inference='wild' is available for method 'twfe', 'two_by_two' and event studies "
                "with at most 40 regressors; bin the window with leads=/lags="
            )
        ss = as_seed_sequence(seed)
        seed_rec = seed_record(ss)
        v = np.vstack(
            draw_blocks(
                _wild_block,
                n_boot,
                seed=ss,
                backend=backend,
                n_jobs=n_jobs,
                progress=progress,
                desc="wild bootstrap",
                n_cl=n_cl,
                kind=bootstrap_weights,
            )
        )
        p = np.empty(n_main)
        ci_low = np.empty(n_main)
        ci_high = np.empty(n_main)
        for j in range(n_main):
            p[j], ci_low[j], ci_high[j] = _wild_inference(
                yd, zd, j, cl, v, beta[j], se[j], alpha, n_absorbed
            )
        extra["n_boot"] = n_boot
        extra["bootstrap_weights"] = bootstrap_weights
    elif inference == "randomisation":
        if method not in ("twfe", "two_by_two") or panel.x is not None:
            raise DesignError(
                "inference='randomisation' is available for method 'twfe' and 'two_by_two' without "
                "covariates (and for group_time via GroupTimeResult.randomisation_test)"
            )
        g_cl = _cluster_level_groups(g, cl_unit, n_cl)
        ss = as_seed_sequence(seed)
        seed_rec = seed_record(ss)
        perms = np.vstack(
            draw_blocks(
                _perm_block,
                n_boot,
                seed=ss,
                backend=backend,
                n_jobs=n_jobs,
                progress=progress,
                desc="permutations",
                n_cl=n_cl,
            )
        )
        ps_idx = ps if method == "two_by_two" else None
        null = _permutation_stats(y, g_cl, cl_unit, perms, method, ps_idx)
        obs = float(beta[0])
        p = np.array([(1 + np.sum(np.abs(null) >= abs(obs) - 1e-12)) / (1 + null.size)])
        ci_low = np.array([np.nan])
        ci_high = np.array([np.nan])
        extra["n_draws"] = n_boot
        extra["permutation_distribution_sd"] = float(np.std(null))
    if index_name == "event_time":
        # sup-t uniform band from the CR1 covariance, simulated from the call's seed
        # (a child stream no replication index uses)
        if seed_rec is None:
            ss = as_seed_sequence(seed)
            seed_rec = seed_record(ss)
        band_rng = np.random.default_rng(child_seeds(ss, 1, start=_BAND_STREAM)[0])
        corr = v_main / np.outer(se, se)
        draws = band_rng.multivariate_normal(
            np.zeros(n_main if weights_iw is None else len(names)), corr, size=5000, method="eigh"
        )
        crit = float(np.quantile(np.abs(draws).max(axis=1), 1 - alpha))
    table = pd.DataFrame(
        {
            "estimate": b_main,
            "se": se,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "p": p,
            "n": n,
        },
        index=pd.Index(names, name=index_name),
    )
    if index_name == "event_time":
        table["band_low"] = b_main - crit * se
        table["band_high"] = b_main + crit * se
    extra["df"] = df_t
    return RegressionResult(
        method=method,
        n_obs=int(n_obs),
        alpha=alpha,
        excluded=(*panel.excluded, *other_starts),
        seed=seed_rec,
        elapsed_s=_time.perf_counter() - t0,
        meta={
            "index_names": [index_name],
            "inference": inference,
            **{k: v for k, v in extra.items() if k != "cohort_coefficients"},
        },
        table=table,
        vcov=pd.DataFrame(v_main, index=table.index, columns=table.index),
        inference=inference,
        crit=crit,
        extra=extra,
    )


def _wild_inference(
    yd: np.ndarray,
    zd: np.ndarray,
    j: int,
    cl: np.ndarray,
    v: np.ndarray,
    bj: float,
    sej: float,
    alpha: float,
    n_absorbed: int = 0,
) -> tuple[float, float, float]:
    """Wild cluster bootstrap p-value of beta_j = 0 and the CI by test inversion (same draws)."""
    xtx_inv = np.linalg.pinv(zd.T @ zd)

    def pval(c: float) -> float:
        yc = yd - c * zd[:, j]
        parts = _core.wild_restricted_setup(yc, zd, j, cl)
        tstar = _core.wild_t_draws(
            zd, j, cl, parts["fit_r"], parts["u_r"], xtx_inv, v, n_absorbed=n_absorbed
        )
        t_obs = (bj - c) / sej
        return float(np.mean(np.abs(tstar) >= abs(t_obs)))

    p0 = pval(0.0)

    def bound(sign: float) -> float:
        inside = bj
        step = sej
        outside = bj + sign * step
        k = 0
        while pval(outside) > alpha and k < 40:
            inside = outside
            step *= 2
            outside = bj + sign * step
            k += 1
        for _ in range(40):
            mid = 0.5 * (inside + outside)
            if pval(mid) > alpha:
                inside = mid
            else:
                outside = mid
            if abs(outside - inside) < 1e-6 * max(sej, 1e-12):
                break
        return 0.5 * (inside + outside)

    return p0, bound(-1.0), bound(1.0)


def _cluster_level_groups(g: np.ndarray, cl_unit: np.ndarray, n_cl: int) -> np.ndarray:
    g_cl = np.full(n_cl, -2, dtype=np.int64)
    g_cl[cl_unit] = g
    check = g_cl[cl_unit] != g
    if check.any():
        raise DataError(
            "randomisation inference reassigns treatment timing across clusters, so every unit of a "
            "cluster must share its first treated period; some clusters mix dates"
        )
    return g_cl


def _permutation_stats(
    y: np.ndarray,
    g_cl: np.ndarray,
    cl_unit: np.ndarray,
    perms: np.ndarray,
    method: str,
    post_start: int | None,
) -> np.ndarray:
    """TWFE / 2x2 coefficient under each permutation of cluster treatment timing (vectorised)."""
    n, T = y.shape
    yd = _two_way_demean(y)
    t = np.arange(T)
    out = np.empty(perms.shape[0])
    for b, perm in enumerate(perms):
        g = g_cl[perm][cl_unit]
        if method == "twfe":
            d = ((g[:, None] >= 0) & (t[None, :] >= g[:, None])).astype(float)
        else:
            d = ((g[:, None] >= 0) & (t[None, :] >= int(post_start or 0))).astype(float)
        dd = _two_way_demean(d)
        out[b] = float((dd * yd).sum() / (dd * dd).sum())
    return out
