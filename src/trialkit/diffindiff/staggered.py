"""Staggered adoption: group-time average treatment effects and their aggregations.

Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple
time periods. *Journal of Econometrics* 225(2), 200-230.
"""

from __future__ import annotations

import time as _time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import stats

from trialkit._checks import check_choice, check_int, check_probability
from trialkit._parallel import get_config
from trialkit._rng import as_seed_sequence, seed_record
from trialkit.diffindiff import _core
from trialkit.diffindiff._inference import draw_blocks, multiplier_bootstrap, warn_few_clusters
from trialkit.diffindiff._panel import Panel, TimeAxis
from trialkit.errors import DataError, DesignError, EstimationError, ExcludedRowsWarning
from trialkit.results import EffectTable, Exclusion, Result

__all__ = [
    "GroupTimeResult",
    "AggregateResult",
    "PretrendTest",
    "RandomisationTest",
    "TimingRandomisationTest",
    "SensitivityResult",
    "group_time",
]

ControlGroup = Literal["never", "not_yet"]
Estimation = Literal["dr", "ipw", "or"]
Inference = Literal["bootstrap", "analytic"]
Aggregation = Literal["simple", "event", "group", "calendar"]


def _ci_frame(
    est: np.ndarray, se: np.ndarray, alpha: float, crit: float | None, n: np.ndarray
) -> dict[str, np.ndarray]:
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * stats.norm.sf(np.abs(est / se))
    out = {
        "estimate": est,
        "se": se,
        "ci_low": est - z * se,
        "ci_high": est + z * se,
        "p": p,
        "n": n,
    }
    c = z if crit is None else crit
    out["band_low"] = est - c * se
    out["band_high"] = est + c * se
    return out


@dataclass(frozen=True, kw_only=True, eq=False)
class AggregateResult(EffectTable):
    """Aggregated group-time effects: ``table`` by event time / group / time, plus ``overall``.

    ``table`` has ``band_low``/``band_high`` (uniform band over the rows when the
    multiplier bootstrap was used, pointwise otherwise) besides the shared columns.
    """

    title: ClassVar[str] = "Aggregated group-time ATT"
    kind: str
    overall: dict[str, float] = field(default_factory=dict)
    crit: float = float("nan")

    def _payload(self) -> dict[str, Any]:
        return {
            "table": self.to_frame(),
            "kind": self.kind,
            "overall": self.overall,
            "crit": self.crit,
        }

    def summary(self) -> str:
        o = self.overall
        text = super().summary()
        return text + (
            f"\n\nOverall ({self.kind}): {o['estimate']:.4g} (se {o['se']:.4g}; "
            f"{100 * (1 - self.alpha):.0f}% CI {o['ci_low']:.4g} to {o['ci_high']:.4g})"
        )

    def plot(self, ax: Any = None, *, bands: bool = True, **kwargs: Any) -> Any:
        """Event-study plot: estimates, pointwise intervals and (``bands``) the uniform band.

        Returns the matplotlib Axes. Lines: the estimates first; the pointwise
        interval is drawn as error bars and the uniform band as a shaded region.
        """
        from trialkit.diffindiff.plots import event_plot

        return event_plot(self.table, ax=ax, alpha=self.alpha, bands=bands, **kwargs)


@dataclass(frozen=True, kw_only=True, eq=False)
class PretrendTest(Result):
    """Joint Wald test that all pre-treatment effects are zero."""

    title: ClassVar[str] = "Pre-trend test"
    statistic: float
    df: int
    p: float
    terms: tuple[Any, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"statistic": [self.statistic], "df": [self.df], "p": [self.p]},
            index=pd.Index(["pretrend"], name="test"),
        )

    def _payload(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "df": self.df, "p": self.p}


@dataclass(frozen=True, kw_only=True, eq=False)
class TimingRandomisationTest(Result):
    """Randomisation test of a staggered DiD: observed statistic, p-value and null distribution.

    The null distribution comes from reassigning treatment timing across clusters
    (:meth:`GroupTimeResult.randomisation_test`). ``n_draws`` is named as in
    :func:`trialkit.randomisation.randomisation_test`.
    """

    title: ClassVar[str] = "Randomisation inference"
    statistic: float
    p: float
    n_draws: int
    null: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "statistic": [self.statistic],
                "p": [self.p],
                "n_draws": [self.n_draws],
                "null_sd": [float(np.std(self.null))],
            },
            index=pd.Index(["simple_att"], name="test"),
        )

    def _payload(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "p": self.p, "n_draws": self.n_draws}


def _ri_block(
    rng: np.random.Generator,
    i: int,
    *,
    y: np.ndarray,
    g_cl: np.ndarray,
    cl: np.ndarray,
    sizes: tuple[int, ...],
    control: str,
    anticipation: int,
) -> np.ndarray:
    out = np.empty(sizes[i])
    for b in range(sizes[i]):
        g = g_cl[rng.permutation(g_cl.size)][cl]
        out[b] = _core.simple_att(y, g, control=control, anticipation=anticipation)
    return out


@dataclass(frozen=True, kw_only=True, eq=False)
class SensitivityResult(EffectTable):
    """Rambachan & Roth (2023) relative-magnitudes sensitivity: one row per ``mbar``.

    Columns: ``id_low``, ``id_high`` (identified set), ``ci_low``, ``ci_high`` (interval),
    ``estimate`` (the original estimate), ``se``; ``breakdown`` is the smallest ``mbar`` whose
    interval includes zero.
    """

    title: ClassVar[str] = "Sensitivity to violations of parallel trends (relative magnitudes)"
    breakdown: float = float("nan")

    def _payload(self) -> dict[str, Any]:
        return {"table": self.to_frame(), "breakdown": self.breakdown}


@dataclass(frozen=True, kw_only=True, eq=False)
class GroupTimeResult(EffectTable):
    """Group-time average treatment effects ATT(g, t) (Callaway & Sant'Anna 2021).

    Attributes
    ----------
    group_time : DataFrame
        One row per (group, time): ``group, time, estimate, se, ci_low, ci_high, p, n,
        band_low, band_high`` (group and time in the panel's own units).
    table : DataFrame
        The same indexed by ``(group, time)``.

    Use :meth:`aggregate` for simple, event-time, group and calendar summaries,
    :meth:`pretrend_test` for the joint test of pre-treatment effects and
    :meth:`sensitivity` for Rambachan & Roth bounds.
    """

    title: ClassVar[str] = "Group-time average treatment effects"
    psi: np.ndarray
    g_unit: np.ndarray
    cluster: np.ndarray | None
    axis: TimeAxis
    cells: dict[str, np.ndarray]
    options: dict[str, Any]
    crit: float = float("nan")
    y: np.ndarray | None = None

    @property
    def group_time(self) -> pd.DataFrame:
        """ATT(g, t) as a flat DataFrame with columns group, time, estimate, se, ci_low, ci_high, ..."""
        return self.table.reset_index()

    def _payload(self) -> dict[str, Any]:
        opts = {k: v for k, v in self.options.items() if k not in ("seed_sequence", "backend")}
        return {"table": self.to_frame(), "options": opts, "crit": self.crit}

    # -- inference on linear combinations ----------------------------------
    def _se_and_crit(self, psi: np.ndarray, seed: Any) -> tuple[np.ndarray, float | None]:
        n = psi.shape[0]
        if self.options["inference"] == "analytic":
            return _core.analytic_se(psi, n, self.cluster), None
        draws = multiplier_bootstrap(
            psi,
            self.cluster,
            n_boot=self.options["n_boot"],
            seed=seed,
            weights=self.options["weights"],
            backend=self.options.get("backend", "serial"),
            n_jobs=self.options.get("n_jobs"),
            progress=self.options.get("progress", False),
        )
        se, crit = _core.bootstrap_summary(draws, n, self.alpha)
        return se, crit

    def aggregate(
        self,
        kind: Aggregation = "group",
        *,
        min_e: int | None = None,
        max_e: int | None = None,
    ) -> AggregateResult:
        """Aggregate ATT(g, t) into one effect, an event study, or by group / calendar time.

        Parameters
        ----------
        kind : {"simple", "event", "group", "calendar"}
            ``simple``: weighted average of all post-treatment ATT(g, t) with weights
            proportional to group size; ``event``: by event time e = t - g (the overall
            value averages e >= 0); ``group``: by first treated period; ``calendar``: by
            period. The weights' estimation enters the influence function.
        min_e, max_e : int, optional
            Event-time window (kind "event" only).

        Returns
        -------
        AggregateResult
            ``to_frame()`` indexed by ``event_time`` / ``group`` / ``time`` (one ``ATT`` row
            for "simple"); ``overall`` holds the summary parameter.

        Examples
        --------
        >>> import trialkit as tk
        >>> from trialkit.diffindiff.datasets import staggered_panel
        >>> r = tk.did(staggered_panel(seed=0), outcome="y", unit="unit", time="period",
        ...            first_treated="first_treated", inference="analytic")
        >>> r.aggregate("event").to_frame().index.name
        'event_time'
        """
        check_choice("kind", kind, ["simple", "event", "group", "calendar"])
        if kind != "event" and (min_e is not None or max_e is not None):
            raise DesignError("`min_e`/`max_e` apply only to kind='event'")
        t0 = _time.perf_counter()
        gt = self._raw()
        labels, theta, psi_m, overall, psi_o = _core.aggregate(
            gt, self.g_unit, kind=kind, min_e=min_e, max_e=max_e
        )
        if kind == "simple":
            est = np.array([overall])
            psi_all = psi_o[:, None]
        else:
            est = np.concatenate([theta, [overall]])
            psi_all = np.column_stack([psi_m, psi_o])
        seed = self.options["seed_sequence"]
        se_all, _ = self._se_and_crit(psi_all, seed)
        # uniform band over the rows (not the overall)
        crit = None
        if kind != "simple" and self.options["inference"] == "bootstrap":
            _, crit = self._se_and_crit(psi_m, seed)
        if kind == "simple":
            index = pd.Index(["ATT"], name="term")
            cols = _ci_frame(est, se_all, self.alpha, None, np.array([self._n_post()]))
        else:
            name = {"event": "event_time", "group": "group", "calendar": "time"}[kind]
            if kind == "event":
                idx_vals: list[Any] = [int(v) for v in labels]
            else:
                idx_vals = list(self.axis.label(labels)) if labels.size else []
            index = pd.Index(idx_vals, name=name)
            nn = self._row_counts(kind, labels)
            cols = _ci_frame(est[:-1], se_all[:-1], self.alpha, crit, nn)
        table = pd.DataFrame(cols, index=index)
        z = stats.norm.ppf(1 - self.alpha / 2)
        o_se = float(se_all[-1])
        overall_d = {
            "estimate": float(overall),
            "se": o_se,
            "ci_low": float(overall - z * o_se),
            "ci_high": float(overall + z * o_se),
            "p": float(2 * stats.norm.sf(abs(overall / o_se))) if o_se > 0 else float("nan"),
        }
        meta = {k: v for k, v in self.options.items() if k != "seed_sequence"}
        meta["index_names"] = [table.index.name]
        return AggregateResult(
            method=f"group_time_{kind}",
            n_obs=self.n_obs,
            alpha=self.alpha,
            excluded=self.excluded,
            seed=self.seed,
            elapsed_s=_time.perf_counter() - t0,
            meta=meta,
            table=table,
            kind=kind,
            overall=overall_d,
            crit=float("nan") if crit is None else float(crit),
        )

    def _raw(self) -> _core.GroupTime:
        c = self.cells
        return _core.GroupTime(
            group=c["group"],
            time=c["time"],
            base=c["base"],
            att=self.table["estimate"].to_numpy(),
            psi=self.psi,
            n_treated=c["n_treated"],
            n_control=c["n_control"],
        )

    def _n_post(self) -> int:
        gs = np.unique(self.cells["group"])
        return int(np.isin(self.g_unit, gs).sum())

    def _row_counts(self, kind: str, labels: np.ndarray) -> np.ndarray:
        c = self.cells
        out = []
        for v in labels:
            if kind == "event":
                sel = (c["time"] - c["group"]) == v
            elif kind == "group":
                sel = c["group"] == v
            else:
                sel = (c["time"] == v) & (c["time"] >= c["group"])
            out.append(int(np.isin(self.g_unit, np.unique(c["group"][sel])).sum()))
        return np.asarray(out, dtype=np.int64)

    def pretrend_test(
        self, *, by: Literal["event", "cell"] = "event", leads: int | None = None
    ) -> PretrendTest:
        r"""Joint Wald test that the pre-treatment effects are zero.

        Parameters
        ----------
        by : {"event", "cell"}
            ``"event"`` (default) tests the event-time aggregated pre-treatment effects
            :math:`\theta(e), e < 0`; ``"cell"`` tests every pre-treatment ATT(g, t), as the
            ``did`` package's pre-test does.
        leads : int, optional
            Test only the ``leads`` periods nearest to treatment (:math:`-leads \le e < 0`, or
            cells with :math:`t - g \ge -leads`). Default: all when at most 12, otherwise the 12
            nearest. With monthly data a joint chi-square test of hundreds of leads whose
            covariance is estimated from a few dozen treated units is badly over-sized (and
            the covariance is singular when leads outnumber units), hence the cap.

        Notes
        -----
        :math:`W = \hat\theta_{pre}'\hat V^{-1}\hat\theta_{pre} \sim \chi^2_k` with
        :math:`\hat V = \Psi^\top\Psi / n^2` from the influence functions (summed within clusters).

        Raises
        ------
        EstimationError
            When the covariance of the tested effects is singular (fewer units than leads).

        Examples
        --------
        >>> import trialkit as tk
        >>> from trialkit.diffindiff.datasets import staggered_panel
        >>> r = tk.did(staggered_panel(seed=0), outcome="y", unit="unit", time="period",
        ...            first_treated="first_treated", inference="analytic")
        >>> r.pretrend_test().df
        6
        """
        check_choice("by", by, ["event", "cell"])
        c = self.cells
        n = self.psi.shape[0]
        if by == "cell":
            e = c["time"] - c["group"]
            est_all = self.table["estimate"].to_numpy()
            psi = self.psi
            labels: list[Any] = list(self.table.index)
        else:
            lab, th, psm, _, _ = _core.aggregate(self._raw(), self.g_unit, kind="event")
            e, est_all, psi, labels = lab, th, psm, [int(v) for v in lab]
        pre = e < 0
        n_avail = int(np.unique(e[pre]).size)
        k = n_avail if leads is None else check_int("leads", leads, minimum=1)
        if leads is None:
            k = min(n_avail, 12)
        pre &= e >= -k
        if not pre.any():
            raise EstimationError("no pre-treatment effects to test")
        s = _core.cluster_sums(psi[:, pre], self.cluster)
        vcov = s.T @ s / n**2
        rank = int(np.linalg.matrix_rank(vcov))
        if rank < int(pre.sum()):
            raise EstimationError(
                f"the covariance of the {int(pre.sum())} tested pre-treatment effects is singular "
                f"(rank {rank}); test fewer leads (leads=) or use by='event'"
            )
        w, df, p = _core.wald_test(est_all[pre], vcov)
        terms = tuple(v for v, keep in zip(labels, pre) if keep)
        return PretrendTest(
            method=f"wald_pre_treatment_{by}",
            n_obs=self.n_obs,
            alpha=self.alpha,
            excluded=self.excluded,
            statistic=w,
            df=df,
            p=p,
            terms=terms,
            meta={"by": by, "leads": k, "available_leads": n_avail},
        )

    def sensitivity(
        self,
        mbar: float | Sequence[float] = (0.5, 1.0, 1.5, 2.0),
        *,
        horizon: int | None = None,
    ) -> SensitivityResult:
        r"""Rambachan & Roth (2023) sensitivity under relative magnitudes :math:`\Delta^{RM}(\bar M)`.

        The target is the average of the event-time effects :math:`e = 0..horizon` (all
        post periods by default). Post-treatment violations of parallel trends may change
        per period by up to :math:`\bar M` times the largest change between consecutive
        pre-treatment event-time estimates (relative-magnitudes restriction). The reported
        identified set is exact for the restriction with the pre-period changes set to their
        estimates; the interval adds the pointwise normal margin of the estimate to each
        end (a plug-in interval: it does not account for sampling error in the largest pre-period
        change, unlike the paper's conditional/hybrid intervals). ``breakdown`` is the
        smallest :math:`\bar M` whose interval includes zero.

        Examples
        --------
        >>> import trialkit as tk
        >>> from trialkit.diffindiff.datasets import staggered_panel
        >>> r = tk.did(staggered_panel(seed=0), outcome="y", unit="unit", time="period",
        ...            first_treated="first_treated", inference="analytic")
        >>> list(r.sensitivity([0.0, 1.0]).to_frame().index)
        [0.0, 1.0]
        """
        ev = self.aggregate("event")
        tab = ev.table
        e = tab.index.to_numpy()
        pre_mask = e < 0
        post_e = e[e >= 0]
        if horizon is not None:
            post_e = post_e[post_e <= horizon]
        if not pre_mask.any():
            raise EstimationError("sensitivity needs pre-treatment event times; none are estimated")
        if post_e.size == 0:
            raise EstimationError(
                "sensitivity needs post-treatment event times; none are estimated"
            )
        gt = self._raw()
        labels, theta, psi_m, _, _ = _core.aggregate(gt, self.g_unit, kind="event")
        n = self.g_unit.shape[0]
        post_sel = np.isin(labels, post_e)
        s = _core.cluster_sums(psi_m[:, post_sel], self.cluster)
        sigma = s.T @ s / n**2
        l_vec = np.full(int(post_sel.sum()), 1.0 / post_sel.sum())
        beta_pre = theta[labels < 0]
        if self.options["base_period"] == "varying":
            # with the varying base period, pre-treatment event-time effects are one-period changes
            pre_changes = beta_pre
        else:
            pre_changes = np.diff(np.concatenate([beta_pre, [0.0]]))
        mbars = np.atleast_1d(np.asarray(mbar, dtype=float))
        arr = np.asarray(
            [
                _core.rr_relative_magnitudes(
                    pre_changes, theta[post_sel], sigma, l_vec, m, self.alpha
                )
                for m in mbars
            ]
        )
        bd = _core.rr_breakdown(pre_changes, theta[post_sel], sigma, l_vec, self.alpha)
        est = float(l_vec @ theta[post_sel])
        se = float(np.sqrt(l_vec @ sigma @ l_vec))
        table = pd.DataFrame(
            {
                "estimate": est,
                "se": se,
                "ci_low": arr[:, 2],
                "ci_high": arr[:, 3],
                "p": np.nan,
                "n": self._n_post(),
                "id_low": arr[:, 0],
                "id_high": arr[:, 1],
            },
            index=pd.Index(mbars, name="mbar"),
        )
        return SensitivityResult(
            method="rambachan_roth_relative_magnitudes",
            n_obs=self.n_obs,
            alpha=self.alpha,
            excluded=self.excluded,
            table=table,
            breakdown=bd,
            meta={
                "target": f"mean of event-time effects e = 0..{int(post_e.max())}",
                "index_names": ["mbar"],
            },
        )

    def randomisation_test(
        self,
        *,
        n_draws: int = 999,
        seed: Any = None,
        backend: Any = None,
        n_jobs: int | None = None,
        progress: bool = False,
        n_perm: int | None = None,
    ) -> TimingRandomisationTest:
        r"""Randomisation inference for the simple ATT: reassign treatment timing across clusters.

        The set of first treated periods of the treated clusters (the trial areas when
        ``cluster="area"``; units otherwise) is randomly reassigned across all clusters,
        the simple ATT recomputed each time, and the two-sided p-value is
        :math:`(1 + \#\{|\hat\theta^{(b)}| \ge |\hat\theta|\}) / (1 + B)`. Valid in finite
        samples under the sharp null of no effect when timing is as good as randomly
        assigned to clusters (Fisher 1935; MacKinnon & Webb 2020) -- it does not rely on many
        treated clusters. Unconditional estimator only.

        Parameters
        ----------
        n_draws : int
            Random reassignments (``n_perm`` is a deprecated alias).
        seed, backend, n_jobs, progress
            As everywhere: the draws are bit-identical across backends given ``seed``.

        Examples
        --------
        >>> import trialkit as tk
        >>> from trialkit.diffindiff.datasets import staggered_panel
        >>> r = tk.did(staggered_panel(seed=0), outcome="y", unit="unit", time="period",
        ...            first_treated="first_treated", inference="analytic")
        >>> rt = r.randomisation_test(n_draws=199, seed=1)
        >>> 0 < rt.p <= 1
        True
        """
        if self.y is None:
            raise DesignError(
                "randomisation_test is available for the unconditional estimator (no covariates)"
            )
        if n_perm is not None:
            warnings.warn(
                "`n_perm` is renamed `n_draws` (as in trialkit.randomisation); it will be removed",
                FutureWarning,
                stacklevel=2,
            )
            n_draws = n_perm
        check_int("n_draws", n_draws, minimum=1)
        t0 = _time.perf_counter()
        g = self.g_unit
        cl = np.arange(g.size) if self.cluster is None else self.cluster
        n_cl = int(cl.max()) + 1
        g_cl = np.full(n_cl, -2, dtype=np.int64)
        g_cl[cl] = g
        if np.any(g_cl[cl] != g):
            raise DataError(
                "randomisation inference reassigns timing across clusters, so all units of a cluster "
                "must share the first treated period; some clusters mix dates"
            )
        control = self.options["control_group"]
        ant = self.options["anticipation"]
        obs = _core.simple_att(self.y, g, control=control, anticipation=ant)
        ss = as_seed_sequence(seed)
        null = np.concatenate(
            draw_blocks(
                _ri_block,
                n_draws,
                seed=ss,
                backend=backend,
                n_jobs=n_jobs,
                progress=progress,
                desc="permutations",
                y=self.y,
                g_cl=g_cl,
                cl=cl,
                control=control,
                anticipation=ant,
            )
        )
        p = float((1 + np.sum(np.abs(null) >= abs(obs) - 1e-12)) / (1 + null.size))
        return TimingRandomisationTest(
            method="randomisation_simple_att",
            n_obs=self.n_obs,
            alpha=self.alpha,
            excluded=self.excluded,
            seed=seed_record(ss),
            elapsed_s=_time.perf_counter() - t0,
            statistic=float(obs),
            p=p,
            n_draws=int(null.size),
            null=null,
            meta={"n_clusters": n_cl, "n_treated_clusters": int(np.unique(cl[g >= 0]).size)},
        )

    def plot(self, ax: Any = None, *, bands: bool = True, **kwargs: Any) -> Any:
        """Event-study plot of the event-time aggregation (see :meth:`AggregateResult.plot`)."""
        return self.aggregate("event").plot(ax=ax, bands=bands, **kwargs)


def group_time(
    panel: Panel,
    *,
    control_group: ControlGroup = "never",
    estimation: Estimation = "dr",
    base_period: Literal["varying", "universal"] = "varying",
    anticipation: int = 0,
    inference: Inference = "bootstrap",
    n_boot: int = 999,
    bootstrap_weights: Literal["mammen", "rademacher"] = "mammen",
    alpha: float = 0.05,
    seed: Any = None,
    backend: Any = None,
    n_jobs: int | None = None,
    progress: bool = False,
    cluster_name: str | None = None,
) -> GroupTimeResult:
    """Run the group-time estimator on a prepared :class:`Panel` (see :func:`trialkit.did`)."""
    t0 = _time.perf_counter()
    check_choice("control_group", control_group, ["never", "not_yet"])
    check_choice("estimation", estimation, ["dr", "ipw", "or"])
    check_choice("base_period", base_period, ["varying", "universal"])
    check_choice("inference", inference, ["bootstrap", "analytic"])
    check_choice("bootstrap_weights", bootstrap_weights, ["mammen", "rademacher"])
    check_int("anticipation", anticipation)
    check_int("n_boot", n_boot, minimum=1)
    check_probability("alpha", alpha)
    g = panel.g
    if control_group == "never" and not (g == _core.NEVER).any():
        raise DataError(
            "no never-treated units in the panel, so control_group='never' is impossible; "
            "use control_group='not_yet' (units not yet treated serve as comparisons)"
        )
    if not (g >= 0).any():
        raise DataError(
            "no treated units in the panel (every `first_treated` is missing or outside the panel)"
        )
    early = (g >= 0) & (g - 1 - anticipation < 0)  # no period before the anticipation
    excluded = panel.excluded
    if early.any():
        n_early = int(early.sum())
        excluded = (
            *excluded,
            Exclusion(
                reason=f"{n_early} units first treated within anticipation={anticipation} "
                "periods of the panel's start (no base period)",
                n=n_early * panel.y.shape[1],
            ),
        )
        warnings.warn(
            f"{n_early} units are first treated within anticipation={anticipation} periods of "
            "the panel's start, so they have no base period and were left out (see `excluded`)",
            ExcludedRowsWarning,
            stacklevel=4,
        )
    if panel.x is None and base_period == "varying":
        gt = _core.att_gt_unconditional_fast(
            panel.y, g, control=control_group, anticipation=anticipation
        )
    else:
        gt = _core.att_gt(
            panel.y,
            g,
            control=control_group,
            base_period=base_period,
            anticipation=anticipation,
            x=panel.x,
            est=estimation,
        )
    if gt.att.size == 0:
        raise EstimationError(
            "no group-time effect could be estimated (no comparison units for any cell)"
        )
    cl = panel.cluster
    if cl is None:
        n_cl = g.size
        n_tr = int((g >= 0).sum())
        what = "units"
    else:
        n_cl = int(cl.max()) + 1
        n_tr = int(np.unique(cl[g >= 0]).size)
        what = f"clusters of {cluster_name!r}" if cluster_name else "clusters"
    warn_few_clusters(n_cl, n_tr, what=what, stacklevel=4)
    ss = as_seed_sequence(seed) if inference == "bootstrap" else None
    options = {
        "control_group": control_group,
        "estimation": estimation if panel.x is not None else "unconditional",
        "covariates": list(panel.covariates),
        "base_period": base_period,
        "anticipation": anticipation,
        "inference": inference,
        "n_boot": n_boot,
        "weights": bootstrap_weights,
        "seed_sequence": ss,
        "backend": backend if backend is not None else get_config()["backend"],  # as used
        "n_jobs": n_jobs,
        "progress": progress,
        "n_units": int(g.size),
        "n_clusters": n_cl,
        "n_treated_clusters": n_tr,
        **panel.notes,
    }
    n = g.size
    if inference == "analytic":
        se = _core.analytic_se(gt.psi, n, cl)
        crit = None
    else:
        draws = multiplier_bootstrap(
            gt.psi,
            cl,
            n_boot=n_boot,
            seed=ss,
            weights=bootstrap_weights,
            backend=backend,
            n_jobs=n_jobs,
            progress=progress,
        )
        se, crit = _core.bootstrap_summary(draws, n, alpha)
    cols = _ci_frame(gt.att, se, alpha, crit, gt.n_treated + gt.n_control)
    index = pd.MultiIndex.from_arrays(
        [panel.axis.label(gt.group), panel.axis.label(gt.time)], names=["group", "time"]
    )
    table = pd.DataFrame(cols, index=index)
    table["n_treated"] = gt.n_treated
    table["n_control"] = gt.n_control
    meta = {k: v for k, v in options.items() if k not in ("seed_sequence", "backend")}
    meta["index_names"] = ["group", "time"]
    return GroupTimeResult(
        method="group_time",
        n_obs=int(panel.y.size),
        alpha=alpha,
        excluded=excluded,
        seed=seed_record(ss) if ss is not None else None,
        elapsed_s=_time.perf_counter() - t0,
        meta=meta,
        table=table,
        psi=gt.psi,
        g_unit=g,
        cluster=cl,
        axis=panel.axis,
        cells={
            "group": gt.group,
            "time": gt.time,
            "base": gt.base,
            "n_treated": gt.n_treated,
            "n_control": gt.n_control,
        },
        options=options,
        crit=float("nan") if crit is None else float(crit),
        y=panel.y if panel.x is None else None,
    )


#: Former name of :class:`TimingRandomisationTest` (kept for compatibility).
RandomisationTest = TimingRandomisationTest
