"""Cluster randomised trials: municipalities or offices randomised as wholes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

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
from trialkit.power._result import PowerResult

__all__ = ["ClusterRCT"]


@dataclass(frozen=True, kw_only=True)
class ClusterRCT:
    r"""Power of a two-arm cluster randomised trial (PowerUp! CRA2_2 with extensions).

    Parameters
    ----------
    icc : float
        Intraclass correlation :math:`\rho` in [0, 1).
    cluster_size : float, optional
        Mean number of analysed persons per cluster :math:`m`. Needed unless you
        solve for it (``sample_size(..., n_clusters=J)``).
    cluster_size_cv : float
        Coefficient of variation of cluster sizes (unequal municipality sizes;
        Eldridge et al. 2006).
    r2_cluster, r2_individual : float
        Shares of between- and within-cluster variance explained by covariates.
    n_cluster_covariates : int
        Cluster-level covariates; each costs one degree of freedom.
    outcome : {"continuous", "binary"}
    sd : float, optional
        Outcome standard deviation (continuous; default 1).
    baseline : float, optional
        Control-arm proportion (binary).
    allocation : float
        Share of clusters randomised to treatment :math:`P`.
    matched_pairs : bool
        Clusters randomised within matched pairs: ``J/2 - 1`` degrees of freedom;
        let ``r2_cluster`` carry the variance the matching explains.
    n_blocks : int, optional
        Clusters randomised within this many fixed blocks (strata): ``J - B - 1``
        degrees of freedom.
    take_up : float
        Share of persons in treated clusters who receive the service; ``effect`` is
        the effect on them, the ITT effect is ``take_up * effect``.
    alpha : float
    alternative : {"two-sided", "one-sided"}
    test : {"t", "z"}
        ``"t"``: shifted central t with the cluster-level degrees of freedom
        (PowerUp!), ``"z"``: normal.

    Notes
    -----
    .. math:: MDE = M_{df} \sqrt{\Big(\frac{\sigma_0^2}{1-P} + \frac{\sigma_1^2}{P}\Big)
              \Big[\frac{\rho(1-R_2^2)(1+cv^2)}{J} + \frac{(1-\rho)(1-R_1^2)}{Jm}\Big]}

    with :math:`M_{df} \approx t_{1-\alpha/2, df} + t_{1-\beta, df}` and
    :math:`df = J - g - 2` (Dong & Maynard 2013, eq. for CRA2_2; Bloom 2005). As
    :math:`m \to \infty` the MDE tends to a floor set by the number of clusters:
    no number of persons per cluster gets below it.

    References
    ----------
    Dong N, Maynard R (2013). PowerUp! J Res Educ Eff 6:24-67.
    Bloom HS (2005). Randomizing groups to evaluate place-based programs. In: Learning
    More from Social Experiments. Russell Sage.
    Eldridge SM, Ashby D, Kerry S (2006). Int J Epidemiol 35:1292-1300.

    Examples
    --------
    >>> import trialkit as tk
    >>> d = tk.power.ClusterRCT(icc=0.05, cluster_size=50, r2_cluster=0.0, r2_individual=0.0)
    >>> round(d.mde(n_clusters=40).mde, 3)
    0.239
    >>> d.sample_size(effect=0.239).n_clusters
    40
    """

    icc: float
    cluster_size: float | None = None
    cluster_size_cv: float = 0.0
    r2_cluster: float = 0.0
    r2_individual: float = 0.0
    n_cluster_covariates: int = 0
    outcome: Literal["continuous", "binary"] = "continuous"
    sd: float | None = None
    baseline: float | None = None
    allocation: float = 0.5
    matched_pairs: bool = False
    n_blocks: int | None = None
    take_up: float = 1.0
    alpha: float = 0.05
    alternative: Literal["two-sided", "one-sided"] = "two-sided"
    test: Literal["t", "z"] = "t"

    def __post_init__(self) -> None:
        check_fraction("icc", self.icc, hint=" (the intraclass correlation)")
        if self.cluster_size is not None:
            check_positive_array("cluster_size", self.cluster_size)
        cv = float(check_positive_array("cluster_size_cv", self.cluster_size_cv, allow_zero=True))
        object.__setattr__(self, "cluster_size_cv", cv)
        check_fraction("r2_cluster", self.r2_cluster)
        check_fraction("r2_individual", self.r2_individual)
        g = self.n_cluster_covariates
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 0:
            raise DesignError(f"`n_cluster_covariates` must be an integer >= 0; got {g!r}")
        check_choice("outcome", self.outcome, OUTCOMES)
        check_choice("alternative", self.alternative, ALTERNATIVES)
        check_choice("test", self.test, ("t", "z"))
        check_alpha(self.alpha)
        check_fraction(
            "allocation", self.allocation, low_open=True, hint=" (share of clusters treated)"
        )
        check_fraction("take_up", self.take_up, low_open=True, high_open=False)
        if self.matched_pairs and self.n_blocks is not None:
            raise DesignError("give either `matched_pairs=True` or `n_blocks`, not both")
        if self.matched_pairs and self.allocation != 0.5:
            raise DesignError(
                "matched pairs put one cluster of each pair in each arm: `allocation` must be 0.5"
            )
        if self.n_blocks is not None and (
            isinstance(self.n_blocks, bool)
            or not isinstance(self.n_blocks, (int, np.integer))
            or self.n_blocks < 1
        ):
            raise DesignError(f"`n_blocks` must be a positive integer; got {self.n_blocks!r}")
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
                    "`baseline` (the control-arm proportion) is required for a binary outcome"
                )
            check_fraction("baseline", self.baseline, low_open=True)

    # -- pieces ---------------------------------------------------------------
    def _df(self, J: np.ndarray) -> np.ndarray:
        g = self.n_cluster_covariates
        if self.matched_pairs:
            return J / 2 - 1 - g
        if self.n_blocks is not None:
            return J - self.n_blocks - 1 - g
        return J - 2 - g

    def _min_clusters(self) -> float:
        """Clusters for one residual degree of freedom (below it the t test is degenerate:
        its critical value overflows and the computed power is meaningless)."""
        g = self.n_cluster_covariates
        if self.matched_pairs:
            return 2 * (g + 2)
        if self.n_blocks is not None:
            return self.n_blocks + 2 + g
        return 3 + g

    def _variances(self, effect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.outcome == "continuous":
            v = np.full(np.shape(effect), float(self.sd) ** 2)  # type: ignore[arg-type]
            return v, v
        p0 = float(self.baseline)  # type: ignore[arg-type]
        p1 = p0 + float(self.take_up) * effect
        if np.any((p1 <= 0) | (p1 >= 1)):
            raise DesignError(
                f"`effect` must keep baseline + take_up * effect inside (0, 1); baseline is {p0}; got {np.asarray(effect).tolist()!r}"
            )
        return np.full(np.shape(effect), p0 * (1 - p0)), p1 * (1 - p1)

    def _se(self, effect: np.ndarray, J: np.ndarray, m: np.ndarray) -> np.ndarray:
        v0, v1 = self._variances(effect)
        return _core.cluster_se(
            n_clusters=J,
            cluster_size=m,
            icc=float(self.icc),
            var_control=v0,
            var_treated=v1,
            share_treated=float(self.allocation),
            cluster_size_cv=self.cluster_size_cv,
            r2_cluster=float(self.r2_cluster),
            r2_individual=float(self.r2_individual),
        )

    def _dist(self) -> tuple[str, Any]:
        return ("z", None) if self.test == "z" else ("t", True)

    def _power(self, effect: np.ndarray, J: np.ndarray, m: np.ndarray) -> np.ndarray:
        se = self._se(effect, J, m)
        lam = np.abs(float(self.take_up) * effect) / se
        df = None if self.test == "z" else self._df(J)
        return _core.power_from_ncp(
            lam, alpha=float(self.alpha), sides=sides(self.alternative), df=df, dist=self.test
        )

    def _ncp(self, power: np.ndarray, J: np.ndarray) -> np.ndarray:
        df = None if self.test == "z" else self._df(J)
        return _core.ncp_for_power(
            power, alpha=float(self.alpha), sides=sides(self.alternative), df=df, dist=self.test
        )

    def _m(self, cluster_size: Any) -> np.ndarray:
        m = self.cluster_size if cluster_size is None else cluster_size
        if m is None:
            raise DesignError(
                "`cluster_size` is required: give it to ClusterRCT(...) or to this call"
            )
        return check_positive_array("cluster_size", m)

    def _check_J(self, J: np.ndarray, given: Any) -> None:
        if np.any(J < self._min_clusters()):
            raise DesignError(
                f"`n_clusters` must be at least {self._min_clusters()} so that the test has a "
                f"degree of freedom left; got {given!r}"
            )

    def _arms(self, J: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        P = float(self.allocation)
        return J * (1 - P), J * P

    def _result(self, solved_for: str, t0: float, *, m: Any, **kw: Any) -> PowerResult:
        J = kw.get("n_clusters")
        n_total = np.asarray(J, dtype=float) * np.asarray(m, dtype=float)
        J0, J1 = self._arms(np.asarray(J, dtype=float))
        if "n_per_arm" not in kw:
            kw["n_per_arm"] = [as_out(J0 * m), as_out(J1 * m)]
        extra = dict(kw.pop("extra", {}))
        extra.setdefault("cluster_size", as_out(np.broadcast_to(m, np.shape(n_total))))
        if self.take_up < 1 and "effect" in kw:
            extra["itt_effect"] = as_out(np.asarray(kw["effect"]) * float(self.take_up))
        meta = {
            "arms": ["control", "treatment"],
            "icc": self.icc,
            "cluster_size_cv": self.cluster_size_cv,
            "r2_cluster": self.r2_cluster,
            "r2_individual": self.r2_individual,
            "n_cluster_covariates": self.n_cluster_covariates,
            "outcome": self.outcome,
            "sd": self.sd,
            "baseline": self.baseline,
            "allocation": self.allocation,
            "matched_pairs": self.matched_pairs,
            "n_blocks": self.n_blocks,
            "take_up": self.take_up,
            "alternative": self.alternative,
            "test": self.test,
        }
        meta.update(kw.pop("meta", {}))
        return PowerResult(
            method=f"cluster_{self.test}",
            n_obs=int(np.max(n_total)),
            alpha=float(self.alpha),
            design="ClusterRCT",
            solved_for=solved_for,
            n_total=as_out(n_total),
            elapsed_s=time.perf_counter() - t0,
            meta=meta,
            extra=extra,
            **kw,
        )

    # -- verbs ----------------------------------------------------------------
    def power(self, *, effect: Any, n_clusters: Any, cluster_size: Any = None) -> PowerResult:
        """Power with ``n_clusters`` clusters of mean size ``cluster_size``.

        Examples
        --------
        >>> import trialkit as tk
        >>> d = tk.power.ClusterRCT(icc=0.05, cluster_size=50)
        >>> round(d.power(effect=0.3, n_clusters=40).power, 2)
        0.94
        """
        t0 = time.perf_counter()
        eff = check_effect(effect)
        J = check_positive_array("n_clusters", n_clusters)
        m = self._m(cluster_size)
        eff, J, m = broadcast(effect=eff, n_clusters=J, cluster_size=m)
        self._check_J(J, n_clusters)
        pw = self._power(eff, J, m)
        return self._result(
            "power", t0, m=m, power=as_out(pw), effect=as_out(eff), n_clusters=as_out(J)
        )

    def mde(self, *, n_clusters: Any, power: Any = 0.8, cluster_size: Any = None) -> PowerResult:
        """Minimum detectable effect with ``n_clusters`` clusters (closed form for continuous outcomes).

        ``extra["mde_asymptote"]`` is the MDE that infinitely large clusters would give.

        Examples
        --------
        >>> import numpy as np, trialkit as tk
        >>> d = tk.power.ClusterRCT(icc=0.05, cluster_size=50)
        >>> r = d.mde(n_clusters=np.arange(10, 101, 10))
        >>> r.mde.shape
        (10,)
        """
        t0 = time.perf_counter()
        J = check_positive_array("n_clusters", n_clusters)
        pw = check_power(power, self.alpha)
        m = self._m(cluster_size)
        J, pw, m = broadcast(n_clusters=J, power=pw, cluster_size=m)
        self._check_J(J, n_clusters)
        lam = self._ncp(pw, J)
        tu = float(self.take_up)
        if self.outcome == "continuous":
            zero = np.zeros(J.shape)
            mde = lam * self._se(zero, J, m) / tu
            mde_inf = lam * self._se(zero, J, np.full(J.shape, np.inf)) / tu
        else:
            upper = (1 - float(self.baseline)) / tu * (1 - 1e-9)  # type: ignore[arg-type]
            mde = _core.solve_increasing(
                lambda e: self._power(e, J, m),
                pw,
                np.full(J.shape, upper * 1e-3),
                np.full(J.shape, upper * 0.5),
                upper_bound=upper,
            )
            mde_inf = _core.solve_increasing(
                lambda e: self._power(e, J, np.full(J.shape, 1e12)),
                pw,
                np.full(J.shape, upper * 1e-3),
                np.full(J.shape, upper * 0.5),
                upper_bound=upper,
            )
            if np.all(~np.isfinite(mde)):  # as IndividualRCT.mde
                raise DesignError(
                    f"no increase from baseline {self.baseline} reaches power {power!r} with "
                    f"n_clusters={n_clusters!r} (the proportion would have to exceed 1)"
                )
        extra = {"mde_asymptote": as_out(mde_inf)}
        if tu < 1:
            extra["mde_itt"] = as_out(mde * tu)
        return self._result(
            "mde",
            t0,
            m=m,
            power=as_out(pw),
            mde=as_out(mde),
            n_clusters=as_out(J),
            extra=extra,
            meta={"target_power": as_out(pw)},
        )

    def sample_size(
        self, *, effect: Any, power: Any = 0.8, n_clusters: Any = None, cluster_size: Any = None
    ) -> PowerResult:
        """Clusters needed (or, with ``n_clusters`` given, persons per cluster needed).

        Without ``n_clusters``: solves for the number of clusters (rounded up per
        arm; matched pairs in whole pairs) at the design's ``cluster_size``.
        With ``n_clusters``: solves for the mean cluster size; raises
        :class:`DesignError` naming the MDE floor when no cluster size is enough.

        Examples
        --------
        >>> import trialkit as tk
        >>> d = tk.power.ClusterRCT(icc=0.05, cluster_size=50)
        >>> d.sample_size(effect=0.3, power=0.8).to_dict()["n_clusters"]
        28
        >>> d.sample_size(effect=0.3, power=0.8, n_clusters=60).extra["cluster_size"]
        9
        """
        t0 = time.perf_counter()
        eff = check_effect(effect, solving="sample size")
        pw = check_power(power, self.alpha)
        eff, pw = broadcast(effect=eff, power=pw)
        self._variances(eff)
        tu = float(self.take_up)
        if n_clusters is None:
            m = self._m(cluster_size)
            eff, pw, m = broadcast(effect=eff, power=pw, cluster_size=m)
            se1 = self._se(eff, np.ones(eff.shape), m)  # se with J = 1
            m0 = _core.critical_value(
                alpha=self.alpha, sides=sides(self.alternative)
            ) + _core.critical_value(alpha=1 - pw, sides=1)
            J0 = (m0 * se1 / (tu * np.abs(eff))) ** 2
            lower = self._min_clusters()
            J_exact = _core.solve_increasing(
                lambda J: self._power(eff, J, m),
                pw,
                np.maximum(lower, 0.8 * J0),
                1.5 * J0 + 10,
                lower_bound=lower,
            )
            at_min = ~np.isfinite(J_exact) & (self._power(eff, np.full(eff.shape, lower), m) >= pw)
            J_exact = np.where(at_min, lower, J_exact)  # the smallest analysable design suffices
            if np.any(~np.isfinite(J_exact)):
                raise DesignError(
                    "could not solve for the number of clusters; check that the effect and power "
                    "are attainable with this cluster size"
                )
            if self.matched_pairs:
                J0_arm = J1_arm = ceil_int(J_exact / 2)
            else:
                J0_arm = ceil_int(J_exact * (1 - self.allocation))
                J1_arm = ceil_int(J_exact * self.allocation)
            J = J0_arm + J1_arm
            achieved = self._power(eff, J.astype(float), m)
            return self._result(
                "n_clusters",
                t0,
                m=m,
                power=as_out(pw),
                effect=as_out(eff),
                n_clusters=as_out(J),
                n_per_arm=[as_out(J0_arm * m), as_out(J1_arm * m)],
                extra={
                    "achieved_power": as_out(achieved),
                    "n_clusters_exact": as_out(J_exact),
                    "n_clusters_control": as_out(J0_arm),
                    "n_clusters_treatment": as_out(J1_arm),
                },
                meta={"target_power": as_out(pw)},
            )
        J = check_positive_array("n_clusters", n_clusters)
        eff, pw, J = broadcast(effect=eff, power=pw, n_clusters=J)
        self._check_J(J, n_clusters)
        lam = self._ncp(pw, J)
        v0, v1 = self._variances(eff)
        P = float(self.allocation)
        arm_var = v0 / (1 - P) + v1 / P
        se_needed = tu * np.abs(eff) / lam
        between = self.icc * (1 - self.r2_cluster) * (1 + self.cluster_size_cv**2) / J
        room = se_needed**2 / arm_var - between
        if np.any(room <= 0):
            floor = lam * np.sqrt(arm_var * between) / tu
            bad = np.flatnonzero(np.asarray(room <= 0).reshape(-1))[0]
            need = self.sample_size(
                effect=np.asarray(eff).reshape(-1)[bad],
                power=np.asarray(pw).reshape(-1)[bad],
                cluster_size=1e9,
            ).n_clusters
            raise DesignError(
                f"no cluster size reaches effect {np.asarray(eff).reshape(-1)[bad]:g} with "
                f"{np.asarray(J).reshape(-1)[bad]:g} clusters: as clusters grow the MDE only falls to its "
                f"asymptote {np.asarray(floor).reshape(-1)[bad]:.4g} (set by icc={self.icc} and the number of "
                f"clusters); use at least {need} clusters or aim for a larger effect"
            )
        m_exact = (1 - self.icc) * (1 - self.r2_individual) / (J * room)
        m_int = ceil_int(m_exact)
        achieved = self._power(eff, J, m_int.astype(float))
        return self._result(
            "cluster_size",
            t0,
            m=m_int,
            power=as_out(pw),
            effect=as_out(eff),
            n_clusters=as_out(J),
            extra={"achieved_power": as_out(achieved), "cluster_size_exact": as_out(m_exact)},
            meta={"target_power": as_out(pw)},
        )
