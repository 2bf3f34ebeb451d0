"""Time-to-event designs: time to re-employment, compared by log-rank or RMST."""

from __future__ import annotations

import math
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
    check_fraction,
    check_positive_array,
    check_power,
    sides,
)
from trialkit.power._result import PowerResult

__all__ = ["Survival"]

_METHODS = ("schoenfeld", "freedman", "rmst")


@dataclass(frozen=True, kw_only=True)
class Survival:
    r"""Power of a two-arm comparison of durations (e.g. months to re-employment).

    ``hazard_ratio`` is treatment over control hazard; for exits from
    unemployment an effective service *raises* the hazard (HR > 1).

    Parameters
    ----------
    allocation : float
        Share randomised to treatment :math:`P`.
    method : {"schoenfeld", "freedman", "rmst"}
        Log-rank test with Schoenfeld's (1981) or Freedman's (1982) events formula,
        or the difference in restricted mean survival time up to ``tau``
        (Royston & Parmar 2013), estimated by Kaplan-Meier.
    median_control, hazard_control : float, optional
        Control-arm median duration or constant hazard (per month); needed to turn
        events into persons (``sample_size``, ``power(n_total=...)``) and for RMST.
    accrual : float
        Months over which persons enter (uniformly).
    follow_up : float, optional
        Months of follow-up after the last person entered (up to 60 for five years).
    dropout : float
        Share lost to follow-up per 12 months (exponential drop-out).
    tau : float, optional
        RMST horizon in months (default ``follow_up``).
    alpha : float
    alternative : {"two-sided", "one-sided"}

    Notes
    -----
    Schoenfeld: :math:`D = (z_{1-\alpha/2} + z_{1-\beta})^2 / \{P(1-P)\log^2 HR\}`.
    Freedman: :math:`D = (z_{1-\alpha/2} + z_{1-\beta})^2 (1+k\,HR)^2 / \{k(1-HR)^2\}`,
    :math:`k = P/(1-P)`. Persons: :math:`n = D / \Pr(\text{event})` with exponential
    event and drop-out times, uniform entry over the accrual period and time at
    risk uniform on [follow_up, accrual + follow_up] (Collett 2015, ch. 10).

    References
    ----------
    Schoenfeld D (1981). Biometrika 68:316-319. Freedman LS (1982). Stat Med 1:121-129.
    Royston P, Parmar MKB (2013). BMC Med Res Methodol 13:152.
    Collett D (2015). Modelling Survival Data in Medical Research. 3rd ed.

    Examples
    --------
    >>> import trialkit as tk
    >>> tk.power.Survival(allocation=0.5).events(hazard_ratio=0.75, power=0.8).events
    380
    """

    allocation: float = 0.5
    method: Literal["schoenfeld", "freedman", "rmst"] = "schoenfeld"
    median_control: float | None = None
    hazard_control: float | None = None
    accrual: float = 0.0
    follow_up: float | None = None
    dropout: float = 0.0
    tau: float | None = None
    alpha: float = 0.05
    alternative: Literal["two-sided", "one-sided"] = "two-sided"

    def __post_init__(self) -> None:
        check_fraction("allocation", self.allocation, low_open=True, hint=" (share in treatment)")
        check_choice("method", self.method, _METHODS)
        check_choice("alternative", self.alternative, ALTERNATIVES)
        check_alpha(self.alpha)
        if self.median_control is not None and self.hazard_control is not None:
            raise DesignError("give either `median_control` or `hazard_control`, not both")
        if self.median_control is not None:
            check_positive_array("median_control", self.median_control)
        if self.hazard_control is not None:
            check_positive_array("hazard_control", self.hazard_control)
        check_positive_array("accrual", self.accrual, allow_zero=True)
        if self.follow_up is not None:
            check_positive_array("follow_up", self.follow_up)
        check_fraction("dropout", self.dropout, hint=" (share lost per 12 months)")
        if self.tau is not None:
            check_positive_array("tau", self.tau)
            if self.follow_up is not None and self.tau > self.accrual + self.follow_up:
                raise DesignError(
                    f"`tau` ({self.tau}) must not exceed accrual + follow_up "
                    f"({self.accrual + self.follow_up}): nobody is observed that long"
                )
        if self.method == "rmst" and (self.follow_up is None or self._lambda0() is None):
            raise DesignError(
                "method='rmst' needs `follow_up` and `median_control` (or `hazard_control`)"
            )

    # -- pieces ---------------------------------------------------------------
    def _lambda0(self) -> float | None:
        if self.hazard_control is not None:
            return float(self.hazard_control)
        if self.median_control is not None:
            return math.log(2.0) / float(self.median_control)
        return None

    def _eta(self) -> float:
        return -math.log(1.0 - float(self.dropout)) / 12.0

    def _timing(self) -> float:
        lam = self._lambda0()
        if lam is None or self.follow_up is None:
            raise DesignError(
                "turning events into persons needs the control arm's `median_control` (or "
                "`hazard_control`) and `follow_up` (months after the last entry); give them to Survival(...)"
            )
        return lam

    def _p_event(self, hr: np.ndarray) -> np.ndarray:
        lam = self._timing()
        P = float(self.allocation)
        kw: dict[str, Any] = {
            "dropout_hazard": self._eta(),
            "accrual": float(self.accrual),
            "follow_up": float(self.follow_up or 0.0),
        }  # type: ignore[arg-type]
        return (1 - P) * _core.event_probability(
            hazard=np.full(hr.shape, lam), **kw
        ) + P * _core.event_probability(hazard=lam * hr, **kw)

    def _ncp_events(self, hr: np.ndarray, events: np.ndarray) -> np.ndarray:
        P = float(self.allocation)
        if self.method == "schoenfeld":
            return np.sqrt(events * P * (1 - P)) * np.abs(np.log(hr))
        k = P / (1 - P)
        return np.sqrt(events * k) * np.abs(1 - hr) / (1 + k * hr)

    def _rmst(self, hr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        lam = self._timing()
        tau = float(self.tau if self.tau is not None else self.follow_up)  # type: ignore[arg-type]
        kw: dict[str, Any] = {
            "tau": tau,
            "dropout_hazard": self._eta(),
            "accrual": float(self.accrual),
            "follow_up": float(self.follow_up or 0.0),
        }  # type: ignore[arg-type]
        r0, v0 = _core.rmst_variance(hazard=np.full(hr.shape, lam), **kw)
        r1, v1 = _core.rmst_variance(hazard=lam * hr, **kw)
        return r0, v0, r1, v1

    def _power_n(self, hr: np.ndarray, n: np.ndarray) -> np.ndarray:
        P = float(self.allocation)
        s = sides(self.alternative)
        if self.method == "rmst":
            r0, v0, r1, v1 = self._rmst(hr)
            lam = np.abs(r1 - r0) / np.sqrt(v0 / (n * (1 - P)) + v1 / (n * P))
        else:
            lam = self._ncp_events(hr, n * self._p_event(hr))
        return _core.power_from_ncp(lam, alpha=float(self.alpha), sides=s)

    def _check_hr(self, hazard_ratio: Any, *, solving: bool) -> np.ndarray:
        hr = check_positive_array("hazard_ratio", hazard_ratio)
        if solving and np.any(hr == 1):
            raise DesignError(
                "`hazard_ratio` must differ from 1 to solve for a sample size: no finite trial detects "
                "a hazard ratio of 1"
            )
        return hr

    def _ncp(self, power: np.ndarray) -> np.ndarray:
        return _core.ncp_for_power(power, alpha=float(self.alpha), sides=sides(self.alternative))

    def _result(self, solved_for: str, t0: float, **kw: Any) -> PowerResult:
        n_total = kw.get("n_total")
        meta = {
            "arms": ["control", "treatment"],
            "allocation": self.allocation,
            "method": self.method,
            "median_control": self.median_control,
            "hazard_control": self._lambda0(),
            "accrual": self.accrual,
            "follow_up": self.follow_up,
            "dropout": self.dropout,
            "tau": self.tau if self.tau is not None else self.follow_up,
            "alternative": self.alternative,
            "time_unit": "month",
        }
        meta.update(kw.pop("meta", {}))
        if n_total is not None and "n_per_arm" not in kw:
            P = float(self.allocation)
            kw["n_per_arm"] = [
                as_out(np.asarray(n_total) * (1 - P)),
                as_out(np.asarray(n_total) * P),
            ]
        return PowerResult(
            method=f"survival_{self.method}",
            n_obs=int(np.max(n_total)) if n_total is not None else 0,
            alpha=float(self.alpha),
            design="Survival",
            solved_for=solved_for,
            elapsed_s=time.perf_counter() - t0,
            meta=meta,
            **kw,
        )

    # -- verbs ----------------------------------------------------------------
    def events(self, *, hazard_ratio: Any, power: Any = 0.8) -> PowerResult:
        """Events (re-employments observed) needed for the log-rank test, rounded up.

        Examples
        --------
        >>> import trialkit as tk
        >>> r = tk.power.Survival(allocation=0.5, method="freedman").events(hazard_ratio=0.75)
        >>> r.events
        385
        """
        t0 = time.perf_counter()
        if self.method == "rmst":
            raise DesignError(
                "the RMST comparison has no events formula; use method='schoenfeld' or 'freedman'"
            )
        hr = self._check_hr(hazard_ratio, solving=True)
        pw = check_power(power, self.alpha)
        hr, pw = broadcast(hazard_ratio=hr, power=pw)
        lam = self._ncp(pw)
        fn = _core.schoenfeld_events if self.method == "schoenfeld" else _core.freedman_events
        d_exact = fn(hazard_ratio=hr, share_treated=float(self.allocation), ncp=lam)
        d = ceil_int(d_exact)
        return self._result(
            "events",
            t0,
            power=as_out(pw),
            effect=as_out(hr),
            events=as_out(d),
            extra={"events_exact": as_out(d_exact)},
            meta={"target_power": as_out(pw)},
        )

    def power(self, *, hazard_ratio: Any, events: Any = None, n_total: Any = None) -> PowerResult:
        """Power with a given number of ``events`` or of persons ``n_total``.

        Examples
        --------
        >>> import trialkit as tk
        >>> round(tk.power.Survival().power(hazard_ratio=0.75, events=380).power, 3)
        0.801
        """
        t0 = time.perf_counter()
        if (events is None) == (n_total is None):
            raise DesignError("give exactly one of `events` or `n_total`")
        hr = self._check_hr(hazard_ratio, solving=False)
        s = sides(self.alternative)
        if events is not None:
            if self.method == "rmst":
                raise DesignError("RMST power depends on persons, not events: give `n_total`")
            d = check_positive_array("events", events)
            hr, d = broadcast(hazard_ratio=hr, events=d)
            pw = _core.power_from_ncp(self._ncp_events(hr, d), alpha=float(self.alpha), sides=s)
            return self._result("power", t0, power=as_out(pw), effect=as_out(hr), events=as_out(d))
        n = check_positive_array("n_total", n_total)
        hr, n = broadcast(hazard_ratio=hr, n_total=n)
        pw = self._power_n(hr, n)
        extra: dict[str, Any] = {}
        ev = None
        if self.method != "rmst":
            ev = as_out(n * self._p_event(hr))
        else:
            r0, _, r1, _ = self._rmst(hr)
            extra["rmst_difference"] = as_out(r1 - r0)
        return self._result(
            "power",
            t0,
            power=as_out(pw),
            effect=as_out(hr),
            n_total=as_out(n),
            events=ev,
            extra=extra,
        )

    def sample_size(self, *, hazard_ratio: Any, power: Any = 0.8) -> PowerResult:
        """Persons to randomise (rounded up per arm) and events expected.

        Examples
        --------
        >>> import trialkit as tk
        >>> s = tk.power.Survival(median_control=12, accrual=12, follow_up=24, dropout=0.1)
        >>> r = s.sample_size(hazard_ratio=1.25)
        >>> r.events, r.n_total
        (631, 812)
        """
        t0 = time.perf_counter()
        hr = self._check_hr(hazard_ratio, solving=True)
        pw = check_power(power, self.alpha)
        hr, pw = broadcast(hazard_ratio=hr, power=pw)
        lam = self._ncp(pw)
        P = float(self.allocation)
        extra: dict[str, Any] = {}
        if self.method == "rmst":
            r0, v0, r1, v1 = self._rmst(hr)
            n_exact = lam**2 * (v0 / (1 - P) + v1 / P) / (r1 - r0) ** 2
            ev = None
            extra["rmst_difference"] = as_out(r1 - r0)
        else:
            fn = _core.schoenfeld_events if self.method == "schoenfeld" else _core.freedman_events
            d = ceil_int(fn(hazard_ratio=hr, share_treated=P, ncp=lam))
            pe = self._p_event(hr)
            n_exact = d / pe
            ev = as_out(d)
            extra["event_probability"] = as_out(pe)
        n0 = ceil_int(n_exact * (1 - P))
        n1 = ceil_int(n_exact * P)
        total = n0 + n1
        extra["achieved_power"] = as_out(self._power_n(hr, total.astype(float)))
        extra["n_exact"] = as_out(n_exact)
        return self._result(
            "n_total",
            t0,
            power=as_out(pw),
            effect=as_out(hr),
            n_total=as_out(total),
            n_per_arm=[as_out(n0), as_out(n1)],
            events=ev,
            extra=extra,
            meta={"target_power": as_out(pw)},
        )

    def mde(self, *, events: Any = None, n_total: Any = None, power: Any = 0.8) -> PowerResult:
        """Smallest detectable hazard ratio above 1 (``extra["mde_below_one"]``: the one below 1).

        Examples
        --------
        >>> import trialkit as tk
        >>> round(tk.power.Survival().mde(events=380).mde, 3)
        1.333
        """
        t0 = time.perf_counter()
        if (events is None) == (n_total is None):
            raise DesignError("give exactly one of `events` or `n_total`")
        pw = check_power(power, self.alpha)
        P = float(self.allocation)
        k = P / (1 - P)
        if events is not None:
            if self.method == "rmst":
                raise DesignError("RMST power depends on persons, not events: give `n_total`")
            d = check_positive_array("events", events)
            d, pw = broadcast(events=d, power=pw)
            lam = self._ncp(pw)
            if self.method == "schoenfeld":
                step = lam / np.sqrt(d * P * (1 - P))
                up, down = np.exp(step), np.exp(-step)
            else:
                c = lam / np.sqrt(d * k)
                with np.errstate(divide="ignore", invalid="ignore"):
                    up = np.where(c * k < 1, (1 + c) / (1 - c * k), np.inf)
                down = (1 - c) / (1 + c * k)
            return self._result(
                "mde",
                t0,
                power=as_out(pw),
                mde=as_out(up),
                events=as_out(d),
                extra={"mde_below_one": as_out(down)},
                meta={"target_power": as_out(pw)},
            )
        n = check_positive_array("n_total", n_total)
        n, pw = broadcast(n_total=n, power=pw)
        up = _core.solve_increasing(
            lambda h: self._power_n(h, n),
            pw,
            np.full(n.shape, 1.01),
            np.full(n.shape, 2.0),
            lower_bound=1.0,
            upper_bound=1e6,
        )
        down = 1.0 / _core.solve_increasing(
            lambda h: self._power_n(1.0 / h, n),
            pw,
            np.full(n.shape, 1.01),
            np.full(n.shape, 2.0),
            lower_bound=1.0,
            upper_bound=1e6,
        )
        return self._result(
            "mde",
            t0,
            power=as_out(pw),
            mde=as_out(up),
            n_total=as_out(n),
            extra={"mde_below_one": as_out(down)},
            meta={"target_power": as_out(pw)},
        )
