"""Stepped-wedge (phased roll-out) cluster trials."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np
from scipy import stats

from trialkit._typing import SeedLike
from trialkit.errors import DesignError
from trialkit.power import _core
from trialkit.power._common import (
    ALTERNATIVES,
    OUTCOMES,
    as_out,
    broadcast,
    ceil_int,
    check_alpha,
    check_choice,
    check_effect,
    check_fraction,
    check_positive_array,
    check_power,
    sides,
)
from trialkit.power._result import PowerResult, SimulationPowerResult

__all__ = ["SteppedWedge"]


@dataclass(frozen=True, kw_only=True)
class SteppedWedge:
    r"""Power of a cross-sectional stepped-wedge trial: every cluster gets the service, the order is random.

    Parameters
    ----------
    n_clusters : int
        Clusters (municipalities, offices) :math:`I`.
    n_steps : int
        Roll-out steps; clusters are spread over them as evenly as possible and
        there are ``baseline_periods + n_steps`` measurement periods :math:`T`.
    cluster_period_size : float
        Persons measured per cluster and period :math:`m`.
    icc : float
        Within-period intraclass correlation :math:`\rho` in [0, 1).
    cluster_autocorrelation : float
        Correlation :math:`r` of a cluster's random effect between periods
        (Hooper et al. 2016); 1 is the Hussey & Hughes (2007) model.
    outcome : {"continuous", "binary"}
    sd : float, optional
        Total outcome standard deviation (continuous; default 1).
    baseline : float, optional
        Control proportion (binary); the variance is taken at the mean of control and
        treatment proportions, as Hussey & Hughes (2007) and ``swCRTdesign`` do.
    baseline_periods : int
        Periods before the first cluster crosses over.
    treatment_matrix : array_like, optional
        Explicit clusters x periods 0/1 design (e.g. from the randomisation
        module's phased roll-out); overrides ``n_clusters``/``n_steps``.
    alpha : float
    alternative : {"two-sided", "one-sided"}
    test : {"z", "t"}
        Normal reference (Hussey & Hughes) or t on ``n_clusters - 2`` df.

    Notes
    -----
    Variance of the GLS estimate of the treatment effect in the model of
    cluster-period means
    :math:`\bar y_{ij} = \beta_j + \theta X_{ij} + a_i + c_{ij} + \bar e_{ij}`,
    :math:`Var(a_i) = r\tau^2`, :math:`Var(c_{ij}) = (1-r)\tau^2`,
    :math:`Var(\bar e_{ij}) = \sigma_e^2/m`, :math:`\tau^2 = \rho\sigma^2`,
    :math:`\sigma_e^2 = (1-\rho)\sigma^2` -- see :func:`trialkit.power._core.stepped_wedge_variance`.
    With :math:`r = 1` it equals Hussey & Hughes's closed form.

    References
    ----------
    Hussey MA, Hughes JP (2007). Contemp Clin Trials 28:182-191.
    Hooper R, Teerenstra S, de Hoop E, Eldridge S (2016). Stat Med 35:4718-4728.

    Examples
    --------
    >>> import trialkit as tk
    >>> sw = tk.power.SteppedWedge(n_clusters=24, n_steps=4, cluster_period_size=50, icc=0.05)
    >>> round(sw.power(effect=0.2).power, 3)
    0.994
    """

    n_clusters: int | None = None
    n_steps: int | None = None
    cluster_period_size: float | None = None
    icc: float = 0.0
    cluster_autocorrelation: float = 1.0
    outcome: Literal["continuous", "binary"] = "continuous"
    sd: float | None = None
    baseline: float | None = None
    baseline_periods: int = 1
    treatment_matrix: Any = field(default=None, repr=False)
    alpha: float = 0.05
    alternative: Literal["two-sided", "one-sided"] = "two-sided"
    test: Literal["z", "t"] = "z"

    def __post_init__(self) -> None:
        check_fraction("icc", self.icc, hint=" (the within-period intraclass correlation)")
        check_fraction("cluster_autocorrelation", self.cluster_autocorrelation, high_open=False)
        check_choice("outcome", self.outcome, OUTCOMES)
        check_choice("alternative", self.alternative, ALTERNATIVES)
        check_choice("test", self.test, ("z", "t"))
        check_alpha(self.alpha)
        if self.cluster_period_size is not None:
            check_positive_array("cluster_period_size", self.cluster_period_size)
        if self.treatment_matrix is not None:
            X = np.asarray(self.treatment_matrix, dtype=float)
            if X.ndim != 2 or not np.isin(X, (0.0, 1.0)).all():
                raise DesignError(
                    "`treatment_matrix` must be a 2-D array of 0/1 (clusters x periods)"
                )
            if X.sum() == 0 or X.sum() == X.size:
                raise DesignError(
                    "`treatment_matrix` must contain both treated and control cluster-periods"
                )
            if np.all(X == X[0]):
                raise DesignError(
                    "`treatment_matrix` has every cluster crossing over at the same time: the effect is "
                    "confounded with the period; stagger the roll-out over at least two steps"
                )
            if self.n_clusters is not None and self.n_clusters != X.shape[0]:
                raise DesignError(
                    f"`n_clusters` ({self.n_clusters}) differs from the rows of `treatment_matrix` ({X.shape[0]})"
                )
            object.__setattr__(self, "n_clusters", int(X.shape[0]))
            X.setflags(write=False)
            object.__setattr__(self, "treatment_matrix", X)
        else:
            for name in ("n_clusters", "n_steps"):
                v = getattr(self, name)
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                    raise DesignError(f"`{name}` must be a positive integer; got {v!r}")
            if self.n_steps < 2:  # type: ignore[operator]
                raise DesignError(
                    f"`n_steps` must be at least 2; got {self.n_steps!r}: with one step every cluster "
                    "crosses over at once and the effect is confounded with the period"
                )
            if self.n_clusters < self.n_steps:  # type: ignore[operator]
                raise DesignError(
                    f"`n_clusters` ({self.n_clusters}) must be at least `n_steps` ({self.n_steps}): every step needs a cluster"
                )
            bp = self.baseline_periods
            if isinstance(bp, bool) or not isinstance(bp, (int, np.integer)) or bp < 1:
                raise DesignError(f"`baseline_periods` must be a positive integer; got {bp!r}")
        if self.outcome == "continuous":
            if self.baseline is not None:
                raise DesignError(
                    "`baseline` applies to binary outcomes; for a continuous outcome give `sd`"
                )
            object.__setattr__(
                self, "sd", 1.0 if self.sd is None else float(check_positive_array("sd", self.sd))
            )
        else:
            if self.sd is not None:
                raise DesignError(
                    "`sd` applies to continuous outcomes; a binary outcome's variance follows from `baseline`"
                )
            if self.baseline is None:
                raise DesignError(
                    "`baseline` (the control proportion) is required for a binary outcome"
                )
            check_fraction("baseline", self.baseline, low_open=True)

    @classmethod
    def from_schedule(
        cls, step: Any, *, n_steps: int | None = None, baseline_periods: int = 1, **kwargs: Any
    ) -> SteppedWedge:
        """Design from each cluster's roll-out step (1 = first step), e.g. a phased-roll-out randomisation.

        Examples
        --------
        >>> import trialkit as tk
        >>> sw = tk.power.SteppedWedge.from_schedule([1, 1, 2, 2, 3, 3], cluster_period_size=40, icc=0.05)
        >>> sw.matrix.shape
        (6, 4)
        """
        s = np.asarray(step)
        if s.ndim != 1 or s.size == 0 or not np.issubdtype(s.dtype, np.integer) or s.min() < 1:
            raise DesignError(
                f"`step` must be a 1-D sequence of integers >= 1 (the roll-out step of each cluster); got {step!r}"
            )
        k = int(s.max()) if n_steps is None else int(n_steps)
        if s.max() > k:
            raise DesignError(f"`step` has values above `n_steps` ({k})")
        T = baseline_periods + k
        X = (np.arange(T)[None, :] >= (s[:, None] - 1 + baseline_periods)).astype(float)
        return cls(treatment_matrix=X, n_steps=k, baseline_periods=baseline_periods, **kwargs)

    # -- pieces ---------------------------------------------------------------
    @property
    def matrix(self) -> np.ndarray:
        """Clusters x periods 0/1 treatment matrix."""
        if self.treatment_matrix is not None:
            return np.asarray(self.treatment_matrix)
        return _core.stepped_wedge_matrix(
            int(self.n_clusters or 0),
            int(self.n_steps or 0),
            baseline_periods=int(self.baseline_periods),
        )

    def _matrix_for(self, n_clusters: int) -> np.ndarray:
        return _core.stepped_wedge_matrix(
            n_clusters, int(self.n_steps or 0), baseline_periods=int(self.baseline_periods)
        )

    def _components(self, effect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sigma2_e, tau2): within- and between-cluster variance.

        Continuous: the total variance ``sd**2`` split by the ICC. Binary: as Hussey &
        Hughes (2007) and ``swCRTdesign``, the within variance is ``pbar (1 - pbar)`` and
        ``tau2 = icc / (1 - icc) * pbar (1 - pbar)``.
        """
        s2 = self._var_total(effect)
        if self.outcome == "continuous":
            return (1 - self.icc) * s2, self.icc * s2
        return s2, self.icc / (1 - self.icc) * s2

    def _var_total(self, effect: np.ndarray) -> np.ndarray:
        if self.outcome == "continuous":
            return np.full(np.shape(effect), float(self.sd) ** 2)  # type: ignore[arg-type]
        p0 = float(self.baseline)  # type: ignore[arg-type]
        p1 = p0 + effect
        if np.any((p1 <= 0) | (p1 >= 1)):
            raise DesignError(
                f"`effect` must keep baseline + effect inside (0, 1); baseline is {p0}"
            )
        pbar = p0 + effect / 2
        return pbar * (1 - pbar)

    def _variance(
        self, effect: np.ndarray, m: np.ndarray, X: np.ndarray | None = None
    ) -> np.ndarray:
        s2e, t2 = self._components(effect)
        return _core.stepped_wedge_variance(
            self.matrix if X is None else X,
            sigma2_e=s2e,
            tau2=t2,
            cluster_period_size=m,
            autocorrelation=float(self.cluster_autocorrelation),
        )

    def _df(self, n_clusters: int) -> float | None:
        return None if self.test == "z" else float(n_clusters - 2)

    def _power(self, effect: np.ndarray, m: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        X = self.matrix if X is None else X
        lam = np.abs(effect) / np.sqrt(self._variance(effect, m, X))
        return _core.power_from_ncp(
            lam,
            alpha=float(self.alpha),
            sides=sides(self.alternative),
            df=self._df(X.shape[0]),
            dist=self.test,
        )

    def _m(self, value: Any) -> np.ndarray:
        m = self.cluster_period_size if value is None else value
        if m is None:
            raise DesignError(
                "`cluster_period_size` is required: give it to SteppedWedge(...) or to this call"
            )
        return check_positive_array("cluster_period_size", m)

    def _result(
        self, solved_for: str, t0: float, *, m: Any, X: np.ndarray | None = None, **kw: Any
    ) -> PowerResult:
        X = self.matrix if X is None else X
        I, T = X.shape  # noqa: E741
        U = float(X.sum())
        m_arr = np.asarray(m, dtype=float)
        kw.setdefault("n_clusters", I)
        kw["n_total"] = as_out(I * T * m_arr)
        kw["n_per_arm"] = [as_out((I * T - U) * m_arr), as_out(U * m_arr)]
        extra = dict(kw.pop("extra", {}))
        extra.setdefault("cluster_period_size", as_out(np.asarray(m)))
        meta = {
            "arms": ["control", "treatment"],
            "n_steps": self.n_steps,
            "n_periods": T,
            "icc": self.icc,
            "cluster_autocorrelation": self.cluster_autocorrelation,
            "outcome": self.outcome,
            "sd": self.sd,
            "baseline": self.baseline,
            "alternative": self.alternative,
            "test": self.test,
            "n_per_arm_unit": "person-observations (cluster-periods x persons)",
        }
        meta.update(kw.pop("meta", {}))
        return PowerResult(
            method=f"stepped_wedge_gls_{self.test}",
            n_obs=int(np.max(I * T * m_arr)),
            alpha=float(self.alpha),
            design="SteppedWedge",
            solved_for=solved_for,
            elapsed_s=time.perf_counter() - t0,
            meta=meta,
            extra=extra,
            **kw,
        )

    # -- verbs ----------------------------------------------------------------
    def power(self, *, effect: Any, cluster_period_size: Any = None) -> PowerResult:
        """Power to detect ``effect`` (outcome units; difference in proportions when binary).

        Examples
        --------
        >>> import numpy as np, trialkit as tk
        >>> sw = tk.power.SteppedWedge(n_clusters=12, n_steps=3, cluster_period_size=20, icc=0.05)
        >>> r = sw.power(effect=np.linspace(0.1, 0.5, 5))
        >>> bool(np.all(np.diff(r.power) > 0))
        True
        """
        t0 = time.perf_counter()
        eff = check_effect(effect)
        m = self._m(cluster_period_size)
        eff, m = broadcast(effect=eff, cluster_period_size=m)
        pw = self._power(eff, m)
        return self._result("power", t0, m=m, power=as_out(pw), effect=as_out(eff))

    def mde(self, *, power: Any = 0.8, cluster_period_size: Any = None) -> PowerResult:
        """Minimum detectable effect.

        Examples
        --------
        >>> import trialkit as tk
        >>> sw = tk.power.SteppedWedge(n_clusters=24, n_steps=4, cluster_period_size=50, icc=0.05)
        >>> round(sw.mde(power=0.8).mde, 3)
        0.126
        """
        t0 = time.perf_counter()
        pw = check_power(power, self.alpha)
        m = self._m(cluster_period_size)
        pw, m = broadcast(power=pw, cluster_period_size=m)
        lam = _core.ncp_for_power(
            pw,
            alpha=float(self.alpha),
            sides=sides(self.alternative),
            df=self._df(self.matrix.shape[0]),
            dist=self.test,
        )
        if self.outcome == "continuous":
            mde = lam * np.sqrt(self._variance(np.zeros(pw.shape), m))
        else:
            upper = (1 - float(self.baseline)) * (1 - 1e-9)  # type: ignore[arg-type]
            mde = _core.solve_increasing(
                lambda e: self._power(e, m),
                pw,
                np.full(pw.shape, upper * 1e-3),
                np.full(pw.shape, upper * 0.5),
                upper_bound=upper,
            )
        return self._result(
            "mde", t0, m=m, power=as_out(pw), mde=as_out(mde), meta={"target_power": as_out(pw)}
        )

    def sample_size(
        self,
        *,
        effect: Any,
        power: Any = 0.8,
        solve_for: Literal["cluster_period_size", "n_clusters"] = "cluster_period_size",
    ) -> PowerResult:
        """Persons per cluster-period (or clusters, in whole multiples of ``n_steps``) needed.

        Raises
        ------
        DesignError
            When no cluster-period size reaches the effect with this many clusters;
            the message gives the MDE floor.

        Examples
        --------
        >>> import trialkit as tk
        >>> sw = tk.power.SteppedWedge(n_clusters=24, n_steps=4, cluster_period_size=50, icc=0.05)
        >>> sw.sample_size(effect=0.2, power=0.8).extra["cluster_period_size"]
        19
        >>> sw.sample_size(effect=0.2, power=0.8, solve_for="n_clusters").n_clusters
        12
        """
        t0 = time.perf_counter()
        check_choice("solve_for", solve_for, ("cluster_period_size", "n_clusters"))
        eff = check_effect(effect, solving="sample size")
        pw = check_power(power, self.alpha)
        eff, pw = broadcast(effect=eff, power=pw)
        self._var_total(eff)
        if solve_for == "cluster_period_size":
            X = self.matrix
            floor = self._power(eff, np.full(eff.shape, 1e12), X)
            if np.any(floor < pw):
                lam = _core.ncp_for_power(
                    pw,
                    alpha=float(self.alpha),
                    sides=sides(self.alternative),
                    df=self._df(X.shape[0]),
                    dist=self.test,
                )
                mde_inf = lam * np.sqrt(self._variance(eff, np.full(eff.shape, 1e12), X))
                bad = int(np.flatnonzero((floor < pw).reshape(-1))[0])
                raise DesignError(
                    f"no cluster-period size reaches effect {eff.reshape(-1)[bad]:g} with {X.shape[0]} clusters: "
                    f"the MDE only falls to its asymptote {mde_inf.reshape(-1)[bad]:.4g} as clusters grow; "
                    "add clusters (solve_for='n_clusters') or aim for a larger effect"
                )
            m_exact = _core.solve_increasing(
                lambda m: self._power(eff, m, X),
                pw,
                np.ones(eff.shape),
                np.full(eff.shape, 50.0),
                lower_bound=1e-9,
                upper_bound=1e12,
            )
            m_int = ceil_int(m_exact)
            achieved = self._power(eff, m_int.astype(float), X)
            return self._result(
                "cluster_period_size",
                t0,
                m=m_int,
                power=as_out(pw),
                effect=as_out(eff),
                extra={
                    "achieved_power": as_out(achieved),
                    "cluster_period_size_exact": as_out(m_exact),
                },
                meta={"target_power": as_out(pw)},
            )
        if self.treatment_matrix is not None:
            raise DesignError(
                "solve_for='n_clusters' needs a standard design (n_clusters, n_steps), not a `treatment_matrix`"
            )
        m = self._m(None)
        k = int(self.n_steps)  # type: ignore[arg-type]
        flat_e, flat_p = eff.reshape(-1), pw.reshape(-1)
        out = np.empty(flat_e.size, dtype=np.int64)
        ach = np.empty(flat_e.size)
        for j in range(flat_e.size):  # a few integer steps per design point
            waves = 1
            while True:
                X = self._matrix_for(waves * k)
                p = float(self._power(np.array(flat_e[j]), m, X))
                if p >= flat_p[j] or waves > 100_000:
                    break
                waves = waves * 2 if p < 0.5 * flat_p[j] else waves + 1
            lo = max(1, waves // 2)
            while lo < waves:  # smallest number of waves that reaches the power
                mid = (lo + waves) // 2
                if (
                    float(self._power(np.array(flat_e[j]), m, self._matrix_for(mid * k)))
                    >= flat_p[j]
                ):
                    waves = mid
                else:
                    lo = mid + 1
            out[j] = waves * k
            ach[j] = float(self._power(np.array(flat_e[j]), m, self._matrix_for(waves * k)))
        J = out.reshape(eff.shape)
        X0 = self._matrix_for(int(J.reshape(-1)[0]))
        return self._result(
            "n_clusters",
            t0,
            m=m,
            X=X0,
            power=as_out(pw),
            effect=as_out(eff),
            n_clusters=as_out(J),
            extra={"achieved_power": as_out(ach.reshape(eff.shape))},
            meta={"target_power": as_out(pw)},
        )

    # -- simulation ------------------------------------------------------------
    def simulate(
        self,
        *,
        effect: float | None = None,
        hazard_ratio: float | None = None,
        outcome: Literal["continuous", "binary", "duration"] = "continuous",
        n_sims: int = 1000,
        seed: SeedLike = None,
        median_control: float = 12.0,
        horizon: float = 12.0,
        cluster_sd_log_hazard: float = 0.2,
        backend: Any = None,
        n_jobs: int | None = None,
        progress: bool = False,
    ) -> SimulationPowerResult:
        r"""Power by simulation, including duration outcomes no formula covers.

        ``outcome="continuous"``: cluster-period means are drawn from the design's
        model and analysed by GLS with the known variance components and the
        design's test -- the empirical counterpart of :meth:`power`.

        ``outcome="duration"``: each person's time to re-employment is exponential
        with control median ``median_control`` months, a log-normal cluster
        frailty (SD ``cluster_sd_log_hazard``; its period-to-period correlation is
        ``cluster_autocorrelation``) and ``hazard_ratio`` under treatment; follow-up
        is censored at ``horizon`` months. Each cluster-period gives the log
        re-employment rate :math:`\log\{(d + 0.5)/PT\}`, analysed by OLS with cluster
        and period fixed effects and a t-test on :math:`IT - I - T` df.

        ``outcome="binary"`` (employed at a horizon; design with ``outcome="binary"``):
        persons are Bernoulli with probability ``baseline + effect * X`` plus a normal
        cluster(-period) effect of variance ``icc / (1 - icc) * pbar (1 - pbar)``
        (clipped to [0, 1]); cluster-period proportions are analysed by GLS with the
        design's variance components (Hussey & Hughes's analysis).

        Examples
        --------
        >>> import trialkit as tk
        >>> sw = tk.power.SteppedWedge(n_clusters=12, n_steps=4, cluster_period_size=30, icc=0.02)
        >>> r = sw.simulate(hazard_ratio=1.3, outcome="duration", n_sims=100, seed=1)
        >>> 0.0 <= r.power <= 1.0 and r.n_sims == 100
        True
        """
        from trialkit.power.simulation import simulate

        gen: Any
        est: Any
        check_choice("outcome", outcome, ("continuous", "binary", "duration"))
        m = int(np.ceil(float(self._m(None))))
        X = self.matrix
        if outcome == "continuous":
            if effect is None or hazard_ratio is not None:
                raise DesignError("outcome='continuous' takes `effect` (not `hazard_ratio`)")
            if self.outcome != "continuous":
                raise DesignError(
                    "simulate(outcome='continuous') needs a design with outcome='continuous'"
                )
            s2 = float(self.sd) ** 2  # type: ignore[arg-type]
            gen = partial(
                _gen_sw_means,
                X=X,
                effect=float(effect),
                sigma2_e=(1 - self.icc) * s2,
                tau2=self.icc * s2,
                m=float(m),
                r=float(self.cluster_autocorrelation),
            )
            est = partial(
                _est_sw_gls,
                X=X,
                sigma2_e=(1 - self.icc) * s2,
                tau2=self.icc * s2,
                m=float(m),
                r=float(self.cluster_autocorrelation),
                sides=sides(self.alternative),
                df=self._df(X.shape[0]),
            )
        elif outcome == "binary":
            if effect is None or hazard_ratio is not None:
                raise DesignError("outcome='binary' takes `effect` (not `hazard_ratio`)")
            if self.outcome != "binary":
                raise DesignError(
                    "simulate(outcome='binary') needs a design with outcome='binary' and `baseline`"
                )
            s2e, t2 = self._components(np.asarray(float(effect)))
            gen = partial(
                _gen_sw_binary,
                X=X,
                baseline=float(self.baseline),  # type: ignore[arg-type]
                effect=float(effect),
                tau2=float(t2),
                m=m,
                r=float(self.cluster_autocorrelation),
            )
            est = partial(
                _est_sw_gls,
                X=X,
                sigma2_e=float(s2e),
                tau2=float(t2),
                m=float(m),
                r=float(self.cluster_autocorrelation),
                sides=sides(self.alternative),
                df=self._df(X.shape[0]),
            )
        else:
            if hazard_ratio is None or effect is not None:
                raise DesignError("outcome='duration' takes `hazard_ratio` (not `effect`)")
            check_positive_array("hazard_ratio", hazard_ratio)
            check_positive_array("median_control", median_control)
            check_positive_array("horizon", horizon)
            gen = partial(
                _gen_sw_durations,
                X=X,
                hazard_ratio=float(hazard_ratio),
                hazard=math.log(2) / float(median_control),
                horizon=float(horizon),
                m=m,
                sd=float(cluster_sd_log_hazard),
                r=float(self.cluster_autocorrelation),
            )
            est = partial(_est_twoway_fe, X=X, sides=sides(self.alternative))
        return simulate(
            gen,
            est,
            n_sims=n_sims,
            seed=seed,
            alpha=float(self.alpha),
            backend=backend,
            n_jobs=n_jobs,
            progress=progress,
            design="SteppedWedge",
        )


# -- module-level (picklable) generators and estimators --------------------------
def _cluster_effects(rng: np.random.Generator, I: int, T: int, var: float, r: float) -> np.ndarray:  # noqa: E741
    a = rng.normal(0.0, math.sqrt(r * var), size=(I, 1))
    c = rng.normal(0.0, math.sqrt((1 - r) * var), size=(I, T))
    return a + c


def _gen_sw_means(
    rng: np.random.Generator,
    *,
    X: np.ndarray,
    effect: float,
    sigma2_e: float,
    tau2: float,
    m: float,
    r: float,
) -> np.ndarray:
    I, T = X.shape  # noqa: E741
    period = np.linspace(0.0, 0.5, T)[None, :]  # secular trend, absorbed by period effects
    e = rng.normal(0.0, math.sqrt(sigma2_e / m), size=(I, T))
    return period + effect * X + _cluster_effects(rng, I, T, tau2, r) + e


def _est_sw_gls(
    y: np.ndarray,
    *,
    X: np.ndarray,
    sigma2_e: float,
    tau2: float,
    m: float,
    r: float,
    sides: int,
    df: float | None,
) -> dict[str, float]:
    I, T = X.shape  # noqa: E741
    V = (sigma2_e / m + (1 - r) * tau2) * np.eye(T) + r * tau2 * np.ones((T, T))
    Vi = np.linalg.inv(V)
    Z = np.concatenate(
        [np.broadcast_to(np.eye(T), (I, T, T)), X[:, :, None]], axis=2
    )  # I x T x (T+1)
    info = np.einsum("itp,ts,isq->pq", Z, Vi, Z)
    score = np.einsum("itp,ts,is->p", Z, Vi, y)
    cov = np.linalg.inv(info)
    est = float((cov @ score)[-1])
    se = math.sqrt(cov[-1, -1])
    z = abs(est) / se
    p = (stats.norm.sf(z) if df is None else stats.t.sf(z, df)) * sides
    return {"estimate": est, "p": float(min(p, 1.0))}


def _gen_sw_durations(
    rng: np.random.Generator,
    *,
    X: np.ndarray,
    hazard_ratio: float,
    hazard: float,
    horizon: float,
    m: int,
    sd: float,
    r: float,
) -> tuple[np.ndarray, np.ndarray]:
    I, T = X.shape  # noqa: E741
    log_h = math.log(hazard) + _cluster_effects(rng, I, T, sd**2, r) + math.log(hazard_ratio) * X
    h = np.exp(log_h)[:, :, None]
    t = rng.exponential(1.0, size=(I, T, m)) / h
    events = (t <= horizon).sum(axis=2).astype(float)
    person_time = np.minimum(t, horizon).sum(axis=2)
    return events, person_time


def _gen_sw_binary(
    rng: np.random.Generator,
    *,
    X: np.ndarray,
    baseline: float,
    effect: float,
    tau2: float,
    m: int,
    r: float,
) -> np.ndarray:
    I, T = X.shape  # noqa: E741
    p = np.clip(baseline + effect * X + _cluster_effects(rng, I, T, tau2, r), 0.0, 1.0)
    return rng.binomial(m, p) / m


def _est_twoway_fe(data: Any, *, X: np.ndarray, sides: int) -> dict[str, float]:
    """Two-way fixed-effects OLS on cluster-period summaries: proportions, or (events,
    person-time) pairs turned into log rates."""
    if isinstance(data, tuple):
        events, person_time = data
        y = np.log((events + 0.5) / person_time)
    else:
        y = np.asarray(data, dtype=float)
    I, T = X.shape  # noqa: E741

    def demean(a: np.ndarray) -> np.ndarray:  # balanced two-way within transformation
        return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean()

    xt, yt = demean(X), demean(y)
    sxx = float(np.sum(xt * xt))
    est = float(np.sum(xt * yt) / sxx)
    resid = yt - est * xt
    df = I * T - I - T
    se = math.sqrt(float(np.sum(resid**2)) / df / sxx)
    p = float(min(1.0, sides * stats.t.sf(abs(est) / se, df)))
    return {"estimate": est, "p": p}
