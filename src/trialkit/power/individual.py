"""Individually randomised trials: continuous and binary outcomes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

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
from trialkit.power._result import PowerResult, arm_names

__all__ = ["IndividualRCT"]

_TESTS = {"continuous": ("t", "z"), "binary": ("pooled", "unpooled", "arcsine")}
_MULT = ("bonferroni", "sidak", "none")


@dataclass(frozen=True, kw_only=True)
class IndividualRCT:
    r"""Power of an individually randomised trial (persons randomised one by one).

    Parameters
    ----------
    outcome : {"continuous", "binary"}
        Continuous outcomes (days employed, earnings) take ``sd``; binary outcomes
        (employed at 12 months) take ``baseline``, the control-arm proportion.
    sd : float, optional
        Outcome standard deviation (continuous; default 1, i.e. standardised effects).
    baseline : float, optional
        Control-arm proportion (binary; required).
    n_arms : int
        Number of arms: one control and ``n_arms - 1`` treatments, each compared with
        the control. Every treatment is assumed to have the same effect and the
        reported power is that of the weakest comparison.
    allocation : float or sequence of float, optional
        A float is the share allocated to treatment (two arms); a sequence gives
        the relative size of every arm, control first. Default: equal arms.
    r2 : float
        Share of outcome variance explained by baseline covariates (ANCOVA).
    attrition : float
        Share of randomised persons without an outcome; sample sizes are numbers
        to *randomise*.
    take_up : float
        Share of the treatment arm that actually receives the service. ``effect``
        is the effect on those who take it up (compliers); the intention-to-treat
        effect is ``take_up * effect`` (Bloom 1984).
    alpha : float
        Familywise significance level.
    alternative : {"two-sided", "one-sided"}
        One-sided tests are in the direction of the effect.
    multiplicity : {"bonferroni", "sidak", "none"}
        Correction of ``alpha`` for ``n_arms - 1`` comparisons with the control.
    test : str, optional
        Continuous: ``"t"`` (exact non-central t, default, as R's ``power.t.test``)
        or ``"z"``. Binary: ``"pooled"`` (default, as ``power.prop.test``),
        ``"unpooled"`` (Wald) or ``"arcsine"`` (Cohen's h, as ``pwr.2p2n.test``).

    Notes
    -----
    With arm sizes :math:`n_0, n_1` and variances :math:`\sigma_0^2, \sigma_1^2`
    (times :math:`1 - R^2`) the test statistic has non-centrality
    :math:`\lambda = |\delta_{ITT}| / \sqrt{\sigma_0^2/n_0 + \sigma_1^2/n_1}` and
    power :math:`P(|T| > c)` with :math:`T` non-central t on :math:`n - k` degrees
    of freedom (or normal). Sample sizes are solved by root finding and rounded up
    per arm; ``achieved_power`` is the power at the rounded sizes.

    References
    ----------
    Cohen J (1988). Statistical Power Analysis for the Behavioral Sciences.
    Fleiss JL, Levin B, Paik MC (2003). Statistical Methods for Rates and Proportions.
    Bloom HS (1984). Accounting for no-shows in experimental evaluation designs.
    Evaluation Review 8:225-246.

    Examples
    --------
    >>> import trialkit as tk
    >>> d = tk.power.IndividualRCT(outcome="continuous", sd=1.0)
    >>> d.sample_size(effect=0.5, power=0.8).to_dict()["n_per_arm"]
    [64, 64]
    >>> round(d.power(effect=0.5, n_total=128).power, 3)
    0.801
    >>> b = tk.power.IndividualRCT(outcome="binary", baseline=0.30)
    >>> b.sample_size(effect=0.03, power=0.8).n_total
    7526
    """

    outcome: Literal["continuous", "binary"] = "continuous"
    sd: float | None = None
    baseline: float | None = None
    n_arms: int = 2
    allocation: float | Sequence[float] | None = None
    r2: float = 0.0
    attrition: float = 0.0
    take_up: float = 1.0
    alpha: float = 0.05
    alternative: Literal["two-sided", "one-sided"] = "two-sided"
    multiplicity: Literal["bonferroni", "sidak", "none"] = "bonferroni"
    test: str | None = None

    def __post_init__(self) -> None:
        check_choice("outcome", self.outcome, OUTCOMES)
        check_alpha(self.alpha)
        check_choice("alternative", self.alternative, ALTERNATIVES)
        check_choice("multiplicity", self.multiplicity, _MULT)
        if (
            isinstance(self.n_arms, bool)
            or not isinstance(self.n_arms, (int, np.integer))
            or self.n_arms < 2
        ):
            raise DesignError(f"`n_arms` must be an integer >= 2; got {self.n_arms!r}")
        test = self.test if self.test is not None else _TESTS[self.outcome][0]
        if test not in _TESTS[self.outcome]:
            raise DesignError(
                f"`test` must be one of {list(_TESTS[self.outcome])} for a {self.outcome} outcome; got {self.test!r}"
            )
        object.__setattr__(self, "test", test)
        if self.outcome == "continuous":
            if self.baseline is not None:
                raise DesignError(
                    "`baseline` applies to binary outcomes; for a continuous outcome give `sd`"
                )
            sd = 1.0 if self.sd is None else float(check_positive_array("sd", self.sd))
            object.__setattr__(self, "sd", sd)
        else:
            if self.sd is not None:
                raise DesignError(
                    "`sd` applies to continuous outcomes; a binary outcome's variance follows from `baseline`"
                )
            if self.baseline is None:
                raise DesignError(
                    "`baseline` (the control-arm proportion, e.g. 0.30) is required for a binary outcome"
                )
            check_fraction("baseline", self.baseline, low_open=True)
        check_fraction("r2", self.r2)
        check_fraction("attrition", self.attrition, hint=" (the share lost to follow-up)")
        check_fraction("take_up", self.take_up, low_open=True, high_open=False)
        object.__setattr__(self, "_weights", self._arm_weights())

    # -- design quantities --------------------------------------------------
    def _arm_weights(self) -> np.ndarray:
        k = int(self.n_arms)
        if self.allocation is None:
            return np.full(k, 1.0 / k)
        if np.ndim(self.allocation) == 0:
            if k != 2:
                raise DesignError(
                    "a single `allocation` (share in treatment) needs n_arms=2; give one weight per arm "
                    f"for {k} arms"
                )
            p = check_fraction("allocation", self.allocation, low_open=True)
            return np.array([1 - p, p])
        w = np.asarray(self.allocation, dtype=float)
        if w.shape != (k,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise DesignError(
                f"`allocation` must give a positive weight to each of the {k} arms (control first); got {self.allocation!r}"
            )
        return w / w.sum()

    @property
    def arms(self) -> list[str]:
        """Arm names, in the order of ``n_per_arm``."""
        return arm_names(int(self.n_arms))

    @property
    def comparison_alpha(self) -> float:
        """Significance level of each comparison with the control after the correction."""
        k = int(self.n_arms) - 1
        if k == 1 or self.multiplicity == "none":
            return float(self.alpha)
        if self.multiplicity == "bonferroni":
            return float(self.alpha) / k
        return 1.0 - (1.0 - float(self.alpha)) ** (1.0 / k)

    def _probs(self, effect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p0 = np.full_like(effect, float(self.baseline))  # type: ignore[arg-type]
        p1 = p0 + float(self.take_up) * effect
        if np.any((p1 <= 0) | (p1 >= 1)):
            raise DesignError(
                f"`effect` must keep the treatment-arm proportion baseline + take_up * effect inside (0, 1); "
                f"baseline is {self.baseline} and take_up {self.take_up}; got effect {effect.tolist()!r}"
            )
        return p0, p1

    def _power_counts(
        self, effect: np.ndarray, n0: np.ndarray, n1: np.ndarray, n_eff: np.ndarray
    ) -> np.ndarray:
        """Power of the weakest comparison given analysed arm sizes ``n0`` (control) and ``n1``."""
        a = self.comparison_alpha
        s = sides(self.alternative)
        if self.outcome == "continuous":
            var = float(self.sd) ** 2 * (1 - self.r2)  # type: ignore[arg-type]
            se = np.sqrt(var * (1 / n0 + 1 / n1))
            lam = np.abs(float(self.take_up) * effect) / se
            if self.test == "z":
                return _core.power_from_ncp(lam, alpha=a, sides=s)
            df = n_eff - int(self.n_arms)
            return _core.power_from_ncp(lam, alpha=a, sides=s, df=df, dist="nct")
        p0, p1 = self._probs(effect)
        return _core.binary_power(
            p_control=p0,
            p_treated=p1,
            n_control=n0,
            n_treated=n1,
            alpha=a,
            sides=s,
            method=str(self.test),
            variance_factor=1 - self.r2,
        )

    def _power_total(self, effect: np.ndarray, n_total: np.ndarray) -> np.ndarray:
        w = self._weights  # type: ignore[attr-defined]
        keep = 1.0 - self.attrition
        n_eff = n_total * keep
        return self._power_counts(effect, n_eff * w[0], n_eff * w[1:].min(), n_eff)

    def _meta(self, **kw: Any) -> dict[str, Any]:
        meta = {
            "arms": self.arms,
            "outcome": self.outcome,
            "sd": self.sd,
            "baseline": self.baseline,
            "allocation": self._weights.tolist(),  # type: ignore[attr-defined]
            "r2": self.r2,
            "attrition": self.attrition,
            "take_up": self.take_up,
            "alternative": self.alternative,
            "multiplicity": self.multiplicity,
            "comparison_alpha": self.comparison_alpha,
            "test": self.test,
        }
        meta.update(kw)
        return meta

    def _result(self, solved_for: str, t0: float, **kw: Any) -> PowerResult:
        n_total = kw.get("n_total")
        n_obs = int(np.max(n_total)) if n_total is not None and np.size(n_total) else 0
        meta = self._meta(**kw.pop("meta", {}))
        return PowerResult(
            method=f"individual_{self.test}",
            n_obs=n_obs,
            alpha=float(self.alpha),
            design="IndividualRCT",
            solved_for=solved_for,
            elapsed_s=time.perf_counter() - t0,
            meta=meta,
            **kw,
        )

    def _extra_effects(self, effect: np.ndarray, key: str) -> dict[str, Any]:
        if self.take_up < 1:
            return {
                f"{key}_itt" if key != "effect" else "itt_effect": as_out(
                    effect * float(self.take_up)
                )
            }
        return {}

    # -- the three verbs ------------------------------------------------------
    def power(self, *, effect: Any, n_total: Any) -> PowerResult:
        """Power to detect ``effect`` with ``n_total`` persons randomised.

        Parameters
        ----------
        effect : float or array_like
            Effect in outcome units (difference in proportions for binary outcomes)
            on those who take the service up.
        n_total : int or array_like
            Persons randomised, all arms together.

        Returns
        -------
        PowerResult

        Examples
        --------
        >>> import trialkit as tk
        >>> r = tk.power.IndividualRCT(sd=1.0).power(effect=[0.2, 0.5], n_total=128)
        >>> [round(float(p), 3) for p in r.power]
        [0.202, 0.801]
        """
        t0 = time.perf_counter()
        eff = check_effect(effect)
        n = check_positive_array("n_total", n_total)
        eff, n = broadcast(effect=eff, n_total=n)
        self._check_n(n, n_total)
        pw = self._power_total(eff, n)
        w = self._weights  # type: ignore[attr-defined]
        return self._result(
            "power",
            t0,
            power=as_out(pw),
            effect=as_out(eff),
            n_total=as_out(n),
            n_per_arm=[as_out(n * wk) for wk in w],
            extra=self._extra_effects(eff, "effect"),
        )

    def sample_size(self, *, effect: Any, power: Any = 0.8) -> PowerResult:
        """Persons to randomise (per arm, rounded up) to detect ``effect`` with ``power``.

        Returns
        -------
        PowerResult
            ``n_per_arm`` (integers, control first), ``n_total``, ``power`` (the
            target) and ``achieved_power`` at the rounded sizes; ``n_exact`` is the
            unrounded solution.

        Raises
        ------
        DesignError
            If ``effect`` is zero or ``power`` is not above ``alpha``.

        Examples
        --------
        >>> import trialkit as tk
        >>> tk.power.IndividualRCT(sd=1.0, r2=0.3).sample_size(effect=0.2).to_dict()["n_per_arm"]
        [276, 276]
        """
        t0 = time.perf_counter()
        eff = check_effect(effect, solving="sample size")
        pw = check_power(power, self.alpha)
        eff, pw = broadcast(effect=eff, power=pw)
        if self.outcome == "binary":
            self._probs(eff)
        w = self._weights  # type: ignore[attr-defined]
        keep = 1.0 - self.attrition
        # normal approximation as a starting bracket
        a = self.comparison_alpha
        s = sides(self.alternative)
        m0 = _core.critical_value(alpha=a, sides=s) + _core.critical_value(alpha=1 - pw, sides=1)
        if self.outcome == "continuous":
            v0 = v1 = float(self.sd) ** 2  # type: ignore[arg-type]
        else:
            p0, p1 = self._probs(eff)
            v0, v1 = p0 * (1 - p0), p1 * (1 - p1)
        n0 = (
            m0**2
            * (1 - self.r2)
            * (v0 / w[0] + v1 / w[1:].min())
            / (float(self.take_up) * eff) ** 2
            / keep
        )
        lower = (self.n_arms + 1.0) / keep  # one residual degree of freedom
        if self.outcome == "continuous" and self.test == "t":
            # start from the shifted-t fixed point (df depends on n): within ~0.1 % of the root
            for _ in range(3):
                df0 = np.maximum(n0 * keep - self.n_arms, 1.0)
                m_t = _core.critical_value(alpha=a, sides=s, df=df0, dist="t") + stats.t.ppf(
                    pw, df0
                )
                n0 = (m_t / m0) ** 2 * n0
                m0 = m_t
        flat_eff = eff.reshape(-1)
        n_exact = _core.solve_increasing(
            lambda n, idx: self._power_total(flat_eff[idx], n),
            pw,
            np.maximum(lower, 0.98 * n0),
            1.02 * n0 + 1,
            lower_bound=lower,
            indexed=True,
        )
        at_min = ~np.isfinite(n_exact) & (
            self._power_total(eff, np.full(eff.shape, lower)).reshape(n_exact.shape) >= pw
        )
        n_exact = np.where(at_min, lower, n_exact)  # the smallest analysable trial suffices
        if np.any(~np.isfinite(n_exact)):
            raise DesignError(
                "could not solve for the sample size; check that the effect and power are attainable"
            )
        per_arm = [ceil_int(n_exact * wk) for wk in w]
        total = np.sum(per_arm, axis=0)
        achieved = self._power_counts(
            eff, per_arm[0] * keep, np.min(per_arm[1:], axis=0) * keep, total * keep
        )
        extra = {"achieved_power": as_out(achieved), "n_exact": as_out(n_exact)}
        extra.update(self._extra_effects(eff, "effect"))
        return self._result(
            "n_total",
            t0,
            power=as_out(pw),
            effect=as_out(eff),
            n_total=as_out(total),
            n_per_arm=[as_out(v) for v in per_arm],
            extra=extra,
            meta={"target_power": as_out(pw)},
        )

    def _check_n(self, n: np.ndarray, given: Any) -> None:
        # at least one residual degree of freedom: below it the t test is degenerate
        # (its critical value overflows and the computed power is meaningless)
        if np.any(n * (1 - self.attrition) < self.n_arms + 1):
            raise DesignError(
                f"`n_total` must leave at least {self.n_arms + 1} analysed persons (one more than "
                f"the {self.n_arms} arms); got {given!r}"
            )

    def mde(self, *, n_total: Any, power: Any = 0.8) -> PowerResult:
        """Minimum detectable effect (on those who take the service up) with ``n_total`` persons.

        For binary outcomes the MDE is an increase from ``baseline``.

        Examples
        --------
        >>> import trialkit as tk
        >>> round(tk.power.IndividualRCT(sd=1.0).mde(n_total=128, power=0.8).mde, 3)
        0.499
        """
        t0 = time.perf_counter()
        n = check_positive_array("n_total", n_total)
        pw = check_power(power, self.alpha)
        n, pw = broadcast(n_total=n, power=pw)
        self._check_n(n, n_total)
        w = self._weights  # type: ignore[attr-defined]
        n_eff = n * (1 - self.attrition)
        n0, n1 = n_eff * w[0], n_eff * w[1:].min()
        tu = float(self.take_up)
        if self.outcome == "continuous":
            var = float(self.sd) ** 2 * (1 - self.r2)  # type: ignore[arg-type]
            se = np.sqrt(var * (1 / n0 + 1 / n1))
            df = None if self.test == "z" else n_eff - self.n_arms
            dist: _core.Dist = "z" if self.test == "z" else "nct"
            lam = _core.ncp_for_power(
                pw, alpha=self.comparison_alpha, sides=sides(self.alternative), df=df, dist=dist
            )
            mde = lam * se / tu
        else:
            upper = (1 - float(self.baseline)) / tu * (1 - 1e-9)  # type: ignore[arg-type]
            mde = _core.solve_increasing(
                lambda e: self._power_counts(e, n0, n1, n_eff),
                pw,
                np.full(n.shape, upper * 1e-3),
                np.full(n.shape, upper * 0.5),
                lower_bound=0.0,
                upper_bound=upper,
            )
            if np.all(~np.isfinite(mde)):
                raise DesignError(
                    f"no increase from baseline {self.baseline} reaches power {power!r} with n_total={n_total!r}"
                )
        extra = {"mde_itt": as_out(mde * tu)} if tu < 1 else {}
        return self._result(
            "mde",
            t0,
            power=as_out(pw),
            mde=as_out(mde),
            n_total=as_out(n),
            n_per_arm=[as_out(n * wk) for wk in w],
            extra=extra,
            meta={"target_power": as_out(pw)},
        )
