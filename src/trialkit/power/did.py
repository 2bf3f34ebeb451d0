"""Designs with baseline and follow-up rounds: ANCOVA, difference in differences, POST."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from trialkit.errors import DesignError
from trialkit.power import _core
from trialkit.power._common import (
    ALTERNATIVES,
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

__all__ = ["DiDPower"]

_ESTIMATORS = ("ancova", "did", "post")


@dataclass(frozen=True, kw_only=True)
class DiDPower:
    r"""Power of a randomised comparison with repeated baseline and follow-up measurements.

    Units (persons, or municipalities with their mean outcome) are randomised and
    measured in ``baseline_rounds`` rounds before and ``followup_rounds`` rounds
    after the start; the outcome's correlation between rounds is ``autocorrelation``.

    Parameters
    ----------
    estimator : {"ancova", "did", "post"}
        ANCOVA on the baseline mean (the most efficient), difference in differences,
        or the follow-up comparison alone.
    baseline_rounds, followup_rounds : int
        Numbers of rounds :math:`m` and :math:`r`.
    autocorrelation : float
        Correlation :math:`\rho` of a unit's outcome between any two rounds.
    sd : float
        Outcome standard deviation in a round.
    allocation : float
        Share of units in treatment.
    alpha : float
    alternative : {"two-sided", "one-sided"}

    Notes
    -----
    McKenzie (2012, eqs. 3-5; Frison & Pocock 1992):
    :math:`Var(\hat\delta) = \sigma^2 (1/n_0 + 1/n_1) F` with
    :math:`F_{POST} = (1+(r-1)\rho)/r`,
    :math:`F_{DiD} = (1+(m-1)\rho)/m + (1+(r-1)\rho)/r - 2\rho`,
    :math:`F_{ANCOVA} = (1+(r-1)\rho)/r - m\rho^2/(1+(m-1)\rho)`;
    normal reference distribution, closed forms for all three verbs.

    References
    ----------
    McKenzie D (2012). Beyond baseline and follow-up: the case for more T in experiments.
    J Dev Econ 99:210-221.
    Frison L, Pocock SJ (1992). Repeated measures in clinical trials. Stat Med 11:1685-1704.

    Examples
    --------
    >>> import trialkit as tk
    >>> a = tk.power.DiDPower(estimator="ancova", autocorrelation=0.5)
    >>> a.sample_size(effect=0.2, power=0.8).n_total
    590
    >>> tk.power.DiDPower(estimator="post", autocorrelation=0.5).sample_size(effect=0.2).n_total
    786
    """

    estimator: Literal["ancova", "did", "post"] = "ancova"
    baseline_rounds: int = 1
    followup_rounds: int = 1
    autocorrelation: float = 0.5
    sd: float = 1.0
    allocation: float = 0.5
    alpha: float = 0.05
    alternative: Literal["two-sided", "one-sided"] = "two-sided"

    def __post_init__(self) -> None:
        check_choice("estimator", self.estimator, _ESTIMATORS)
        check_choice("alternative", self.alternative, ALTERNATIVES)
        check_alpha(self.alpha)
        for name in ("baseline_rounds", "followup_rounds"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise DesignError(f"`{name}` must be a positive integer; got {v!r}")
        if self.estimator == "post" and self.baseline_rounds != 1:
            raise DesignError(
                "estimator='post' ignores baseline rounds: leave `baseline_rounds` at 1"
            )
        check_fraction("autocorrelation", self.autocorrelation, high_open=False)
        check_positive_array("sd", self.sd)
        check_fraction(
            "allocation", self.allocation, low_open=True, hint=" (share of units treated)"
        )

    @property
    def variance_factor(self) -> float:
        """:math:`F`: variance relative to a single post-treatment comparison with no correlation."""
        return float(
            _core.did_variance_factor(
                estimator=self.estimator,
                baseline_rounds=self.baseline_rounds,
                followup_rounds=self.followup_rounds,
                autocorrelation=self.autocorrelation,
            )
        )

    def _se1(self) -> float:
        P = float(self.allocation)
        return float(self.sd) * np.sqrt(self.variance_factor * (1 / (1 - P) + 1 / P))

    def _require_variance(self) -> None:
        """Refuse a design whose estimator has no sampling variance (power 1, MDE 0 at any n)."""
        if not np.all(self._se1() > 0):
            raise DesignError(
                f"with autocorrelation={self.autocorrelation} the {self.estimator!r} estimator "
                "has no sampling variance, so any sample size has power 1; use an "
                "autocorrelation below 1"
            )

    def _ncp(self, power: np.ndarray) -> np.ndarray:
        return _core.ncp_for_power(power, alpha=float(self.alpha), sides=sides(self.alternative))

    def _result(self, solved_for: str, t0: float, **kw: Any) -> PowerResult:
        n = kw["n_total"]
        P = float(self.allocation)
        kw.setdefault("n_per_arm", [as_out(np.asarray(n) * (1 - P)), as_out(np.asarray(n) * P)])
        meta = {
            "arms": ["control", "treatment"],
            "estimator": self.estimator,
            "baseline_rounds": self.baseline_rounds,
            "followup_rounds": self.followup_rounds,
            "autocorrelation": self.autocorrelation,
            "sd": self.sd,
            "allocation": P,
            "variance_factor": self.variance_factor,
            "alternative": self.alternative,
        }
        meta.update(kw.pop("meta", {}))
        return PowerResult(
            method=f"{self.estimator}_z",
            n_obs=int(np.max(n)),
            alpha=float(self.alpha),
            design="DiDPower",
            solved_for=solved_for,
            elapsed_s=time.perf_counter() - t0,
            meta=meta,
            **kw,
        )

    def power(self, *, effect: Any, n_total: Any) -> PowerResult:
        """Power with ``n_total`` units.

        Examples
        --------
        >>> import trialkit as tk
        >>> round(tk.power.DiDPower(estimator="did", autocorrelation=0.5).power(effect=0.2, n_total=786).power, 3)
        0.801
        """
        t0 = time.perf_counter()
        eff = check_effect(effect)
        n = check_positive_array("n_total", n_total)
        eff, n = broadcast(effect=eff, n_total=n)
        self._require_variance()
        lam = np.abs(eff) / (self._se1() / np.sqrt(n))
        pw = _core.power_from_ncp(lam, alpha=float(self.alpha), sides=sides(self.alternative))
        return self._result("power", t0, power=as_out(pw), effect=as_out(eff), n_total=as_out(n))

    def sample_size(self, *, effect: Any, power: Any = 0.8) -> PowerResult:
        """Units needed (rounded up per arm).

        Examples
        --------
        >>> import trialkit as tk
        >>> tk.power.DiDPower(estimator="ancova", followup_rounds=3, autocorrelation=0.3).sample_size(effect=0.2).n_total
        348
        """
        t0 = time.perf_counter()
        eff = check_effect(effect, solving="sample size")
        pw = check_power(power, self.alpha)
        eff, pw = broadcast(effect=eff, power=pw)
        self._require_variance()
        n_exact = (self._ncp(pw) * self._se1() / eff) ** 2
        P = float(self.allocation)
        n0, n1 = ceil_int(n_exact * (1 - P)), ceil_int(n_exact * P)
        total = n0 + n1
        achieved = self.power(effect=eff, n_total=total).power
        return self._result(
            "n_total",
            t0,
            power=as_out(pw),
            effect=as_out(eff),
            n_total=as_out(total),
            n_per_arm=[as_out(n0), as_out(n1)],
            extra={"achieved_power": as_out(achieved), "n_exact": as_out(n_exact)},
            meta={"target_power": as_out(pw)},
        )

    def mde(self, *, n_total: Any, power: Any = 0.8) -> PowerResult:
        """Minimum detectable effect with ``n_total`` units.

        Examples
        --------
        >>> import trialkit as tk
        >>> round(tk.power.DiDPower(estimator="ancova", autocorrelation=0.5).mde(n_total=590).mde, 3)
        0.2
        """
        t0 = time.perf_counter()
        n = check_positive_array("n_total", n_total)
        pw = check_power(power, self.alpha)
        n, pw = broadcast(n_total=n, power=pw)
        self._require_variance()
        mde = self._ncp(pw) * self._se1() / np.sqrt(n)
        return self._result(
            "mde",
            t0,
            power=as_out(pw),
            mde=as_out(mde),
            n_total=as_out(n),
            meta={"target_power": as_out(pw)},
        )
