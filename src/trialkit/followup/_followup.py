"""From register spells to a person x month status panel, outcomes by horizon and effects."""

from __future__ import annotations

import functools
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, cast

import numpy as np
import pandas as pd

from trialkit._checks import (
    as_list,
    check_choice,
    check_int,
    require_columns,
    require_frame,
    require_unique,
)
from trialkit._parallel import map_tasks
from trialkit._rng import as_generator, as_seed_sequence, seed_record
from trialkit.errors import DataError, DesignError
from trialkit.followup import _core
from trialkit.results import EffectTable, Exclusion, Result, effect_table

__all__ = [
    "STATES",
    "STATE_CODES",
    "GAP",
    "CENSORED",
    "DEFAULT_PRIORITY",
    "EXIT_CODES",
    "EXIT_ROUTES",
    "ROUTE_CODES",
    "OUTCOMES",
    "FollowUp",
    "HorizonEffects",
    "StateOccupation",
    "follow_up",
]

STATES: tuple[str, ...] = (
    "unemployed",
    "service",
    "employed",
    "subsidised",
    "education",
    "out_of_labour_force",
)
GAP = 0
"""Code of a month with no register spell (not a jobseeker, no employment record)."""
CENSORED = -1
"""Code of a month after the person's censoring date (end of data, emigration, death, lost linkage)."""
STATE_CODES: dict[str, int] = {
    "no_record": GAP,
    **{s: i + 1 for i, s in enumerate(STATES)},
    "censored": CENSORED,
}
DEFAULT_PRIORITY: tuple[str, ...] = (
    "employed",
    "subsidised",
    "education",
    "service",
    "unemployed",
    "out_of_labour_force",
)
"""Where spells overlap, the first state in this order wins (employment registers first)."""

EXIT_CODES: dict[str, str] = {
    "00": "employed (subsidised)",
    "01": "placed in open labour market",
    "03": "found work themselves",
    "04": "started labour-market training",
    "05": "moved out of the labour force",
    "08": "started other education",
    "10": "did not renew job search",
    "11": "started coaching/work trial",
    "12": "started rehabilitative work activity",
    "13": "started self-motivated study",
}
EXIT_ROUTES: dict[str, str] = {
    "00": "subsidised",
    "01": "employed",
    "03": "employed",
    "04": "service",
    "11": "service",
    "12": "service",
    "08": "education",
    "13": "education",
    "05": "out_of_labour_force",
    "10": "out_of_labour_force",
}
"""Exit route of each register exit code (open-market and subsidised employment kept apart)."""
ROUTE_CODES: dict[str, int] = {
    "censored": 0,
    "employed": 1,
    "subsidised": 2,
    "service": 3,
    "education": 4,
    "out_of_labour_force": 5,
    "other": 6,
}

OUTCOMES: dict[str, str] = {
    "employed": "employed (open market or subsidised) in the horizon's last month",
    "employed_open": "in open-market employment in the horizon's last month",
    "employed_subsidised": "in subsidised employment in the horizon's last month",
    "unemployed": "unemployed in the horizon's last month",
    "in_service": "in an employment service in the horizon's last month",
    "months_employed": "months employed (open or subsidised) so far",
    "months_unemployed": "months unemployed so far",
    "months_service": "months in services so far",
    "days_employed": "days employed (open or subsidised) so far",
    "days_unemployed": "days unemployed so far",
    "days_jobseeker": "days unemployed or in services so far",
    "ever_employed": "employed in any month so far",
    "sustained_employed": "at least k consecutive months employed so far",
}
_EMP = (STATE_CODES["employed"], STATE_CODES["subsidised"])


def _in_codes(c: np.ndarray, codes: Sequence[int]) -> np.ndarray:
    """``numpy.isin`` for small int8 code matrices by a 256-entry lookup table."""
    lut = np.zeros(256, dtype=bool)
    lut[np.asarray(codes, dtype=np.int64) % 256] = True
    return lut[np.asarray(c, dtype=np.int8).view(np.uint8)]


def _counts_up_to(mask: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Number of True months among months 0..h-1 for each horizon h (persons x horizons, float).

    Sums column blocks between consecutive sorted horizons and accumulates them, so no
    persons x months cumulative array is built.
    """
    order = np.argsort(horizons)
    hs = np.asarray(horizons)[order]
    out = np.empty((mask.shape[0], hs.size))
    acc = np.zeros(mask.shape[0])
    prev = 0
    for j, h in enumerate(hs):
        if h > prev:
            acc = acc + np.count_nonzero(mask[:, prev:h], axis=1)
        out[:, j] = acc
        prev = int(h)
    res = np.empty_like(out)
    res[:, order] = out
    return res


def _to_days(values: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        s = pd.to_datetime(values)
    except (TypeError, ValueError) as exc:
        raise DataError(f"column {name!r} must hold dates; {exc}") from exc
    if isinstance(s.dtype, pd.DatetimeTZDtype):  # the local calendar day, not the UTC one
        s = s.dt.tz_localize(None)
    return s.to_numpy(dtype="datetime64[D]").astype(np.int64), s.isna().to_numpy()


@dataclass(frozen=True, kw_only=True, eq=False)
class HorizonEffects(EffectTable):
    """Effects by horizon: indexed by (outcome, horizon), with simultaneous bands.

    Extra columns: ``arm``, ``band_low``, ``band_high`` (sup-t band over the
    horizons of each outcome), ``control_mean``.
    """

    title: ClassVar[str] = "Effects by horizon"

    def plot(self, ax: Any = None, *, outcome: str | None = None, **kwargs: Any) -> Any:
        """Estimates by horizon with pointwise intervals (dark) and the simultaneous band (light)."""
        from trialkit._plotting import get_ax

        ax = get_ax(ax)
        tab = self.table
        outcomes = list(dict.fromkeys(tab.index.get_level_values("outcome")))
        if outcome is not None:
            outcomes = [outcome]
        for name in outcomes:
            sub = tab.xs(name, level="outcome")
            for arm, part in sub.groupby("arm", sort=False):
                h = part.index.get_level_values("horizon").to_numpy(dtype=float)
                label = name if len(set(tab["arm"])) == 1 else f"{name} ({arm})"
                line = ax.plot(h, part["estimate"], marker="o", label=label, **kwargs)[0]
                ax.fill_between(
                    h, part["ci_low"], part["ci_high"], alpha=0.25, color=line.get_color()
                )
                ax.fill_between(
                    h, part["band_low"], part["band_high"], alpha=0.1, color=line.get_color()
                )
        ax.axhline(0.0, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("months since origin")
        ax.set_ylabel("effect")
        ax.legend(frameon=False)
        return ax


@dataclass(frozen=True, kw_only=True, eq=False)
class StateOccupation(Result):
    """Share of persons in each state by month (rows month, columns states), by group.

    ``expected_months()`` sums the shares over months: expected months in each state.
    """

    title: ClassVar[str] = "State occupation"

    table: pd.DataFrame  # columns group, month, state, probability

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def expected_months(self) -> pd.DataFrame:
        """Expected months in each state over the follow-up, by group (rows) and state (columns)."""
        return self.table.pivot_table(
            index="group", columns="state", values="probability", aggfunc="sum", sort=False
        )

    def plot(self, ax: Any = None, *, group: Any = None, **kwargs: Any) -> Any:
        """Stacked areas of state shares over the months (one group)."""
        from trialkit._plotting import get_ax

        ax = get_ax(ax)
        groups = list(dict.fromkeys(self.table["group"]))
        g = groups[0] if group is None else group
        sub = self.table[self.table["group"] == g].pivot(
            index="month", columns="state", values="probability"
        )
        ax.stackplot(
            sub.index.to_numpy(), sub.to_numpy().T, labels=[str(c) for c in sub.columns], **kwargs
        )
        ax.set_xlabel("months since origin")
        ax.set_ylabel("share of persons")
        ax.set_title(f"{g}")
        ax.set_ylim(0, 1)
        ax.legend(frameon=False, fontsize="small", loc="upper right")
        return ax


@dataclass(frozen=True, kw_only=True, eq=False)
class FollowUp:
    """Register follow-up of a cohort: status panel, outcomes, effects and survival views.

    Built by :func:`follow_up`. Arrays are persons (rows, in ``person_ids`` order)
    x months 0..``months``-1 after each person's origin.

    Attributes
    ----------
    persons : DataFrame
        The persons kept, indexed by id, with the arm and any other columns.
    codes : ndarray of int8
        State codes (see :data:`STATE_CODES`; ``-1`` censored, ``0`` no record).
    overlaps_resolved : int
        Person-months whose reference day was covered by two or more spells and was
        resolved by ``priority``.
    excluded : tuple of Exclusion
        Persons and spells left out, and why.
    """

    persons: pd.DataFrame
    codes: np.ndarray
    overlap: np.ndarray
    months: int
    arm: str | None
    id: str
    priority: tuple[str, ...]
    reference_day: int
    origin_day: np.ndarray
    censor_day: np.ndarray
    origin_month: np.ndarray
    origin_offset: np.ndarray
    segments: dict[str, np.ndarray]
    first_spell: dict[str, np.ndarray]
    excluded: tuple[Exclusion, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    # -- the panel -----------------------------------------------------------
    @property
    def n_persons(self) -> int:
        return int(self.codes.shape[0])

    @property
    def person_ids(self) -> pd.Index:
        return self.persons.index

    def summary(self) -> str:
        """A readable account of the panel: persons, months, state shares, overlaps, exclusions."""
        names = {v: k for k, v in STATE_CODES.items()}
        codes, counts = np.unique(self.codes, return_counts=True)
        share = counts / counts.sum()
        lines = [
            "Register follow-up",
            "==================",
            f"Persons:       {self.n_persons}" + (f" (arms in {self.arm!r})" if self.arm else ""),
            f"Months:        0..{self.months - 1} after origin (state on day {self.reference_day})",
            f"End of data:   {self.meta.get('end_of_data')}",
            f"Overlapping person-months resolved by priority: {self.overlaps_resolved}",
            "Person-months by state: "
            + ", ".join(f"{names[int(c)]} {100 * s:.1f}%" for c, s in zip(codes, share)),
        ]
        if self.excluded:
            lines.append("Excluded:")
            lines.extend(f"  - {e}" for e in self.excluded)
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Person-level outcomes at the default horizons (:meth:`outcomes`).

        This is the analysis table (one row per person); keep it inside the secure
        environment -- :meth:`to_dict` is the aggregate, publishable view.

        Examples
        --------
        >>> from trialkit.followup._extras import _toy_follow_up
        >>> _toy_follow_up().to_frame().shape[0]
        200
        """
        return self.outcomes()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe aggregate account of the panel (no person-level rows).

        Keys: ``method``, ``n_obs``, ``months``, ``reference_day``, ``arm``,
        ``persons_per_arm``, ``person_months_by_state`` (censored months under
        ``"censored"``), ``overlaps_resolved``, ``excluded`` and ``meta``.

        Examples
        --------
        >>> from trialkit.followup._extras import _toy_follow_up
        >>> d = _toy_follow_up().to_dict()
        >>> d["n_obs"], sum(d["persons_per_arm"].values())
        (200, 200)
        """
        from trialkit.results import jsonable

        names = {v: k for k, v in STATE_CODES.items()}
        codes, counts = np.unique(self.codes, return_counts=True)
        per_arm: dict[str, int] = {}
        if self.arm is not None:
            vc = self.persons[self.arm].value_counts(sort=False)
            per_arm = {str(k): int(v) for k, v in vc.items()}
        return {
            "method": "follow_up",
            "n_obs": self.n_persons,
            "months": int(self.months),
            "reference_day": int(self.reference_day),
            "arm": self.arm,
            "persons_per_arm": per_arm,
            "person_months_by_state": {
                names[int(c)]: int(k) for c, k in zip(codes, counts, strict=True)
            },
            "overlaps_resolved": int(self.overlaps_resolved),
            "excluded": [e.to_dict() for e in self.excluded],
            "meta": jsonable(self.meta),
        }

    def bound(self, m: int) -> np.ndarray:
        """Day number (days since 1970-01-01) on which follow-up month ``m`` starts, per person."""
        first = (
            (self.origin_month + m).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        )
        return first + np.minimum(self.origin_offset, 27)

    @property
    def bounds(self) -> np.ndarray:
        """Start days of follow-up months 0..months (persons x months+1)."""
        return _core.month_boundaries(
            origin_month=self.origin_month, origin_offset=self.origin_offset, months=self.months
        )

    @property
    def status(self) -> pd.DataFrame:
        """Person x month matrix of state codes (int8); see :data:`STATE_CODES`."""
        return pd.DataFrame(
            self.codes, index=self.persons.index, columns=pd.RangeIndex(self.months, name="month")
        )

    @property
    def observed(self) -> pd.DataFrame:
        """Censoring mask: True where the person-month is observed."""
        return pd.DataFrame(
            self.codes != CENSORED,
            index=self.persons.index,
            columns=pd.RangeIndex(self.months, name="month"),
        )

    @property
    def overlaps_resolved(self) -> int:
        return int(self.overlap.sum())

    def status_labels(self) -> pd.DataFrame:
        """The status panel with state names instead of codes (categorical)."""
        names = {v: k for k, v in STATE_CODES.items()}
        cats = pd.Categorical.from_codes(
            self.codes.ravel() + 1, categories=[names[c] for c in range(-1, len(STATES) + 1)]
        )
        return pd.DataFrame(
            np.asarray(cats).reshape(self.codes.shape),
            index=self.persons.index,
            columns=pd.RangeIndex(self.months, name="month"),
        )

    # -- outcomes ------------------------------------------------------------
    def _horizons(self, horizons: Sequence[int] | Literal["all"] | None) -> list[int]:
        if horizons is None:
            horizons = [h for h in (12, 24, 36, 48, 60) if h <= self.months]
        if isinstance(horizons, str):
            check_choice("horizons", horizons, ["all"])
            return list(range(1, self.months + 1))
        hs = [check_int("horizons", h, minimum=1) for h in as_list(horizons)]  # type: ignore[arg-type]
        bad = [h for h in hs if h > self.months]
        if bad:
            raise DesignError(f"`horizons` must be <= months={self.months}; got {bad}")
        return hs

    @functools.cached_property
    def _observed_months(self) -> np.ndarray:
        """Months observed before censoring (censoring is monotone: once censored, always)."""
        return (self.codes != CENSORED).sum(axis=1).astype(np.int64)

    @functools.cached_property
    def _employed(self) -> np.ndarray:
        return _in_codes(self.codes, _EMP)

    def outcome_matrix(
        self, name: str, horizons: Sequence[int], *, sustained_months: int = 6
    ) -> np.ndarray:
        """One outcome as a persons x horizons float array (NaN where censored before the horizon)."""
        check_choice("outcome", name, list(OUTCOMES))
        c = self.codes
        hs = np.asarray(horizons, dtype=np.int64)
        complete = self._observed_months[:, None] >= hs[None, :]  # months 0..h-1 all observed
        if name in ("employed", "employed_open", "employed_subsidised", "unemployed", "in_service"):
            col = c[:, hs - 1]
            target = {
                "employed": _EMP,
                "employed_open": (STATE_CODES["employed"],),
                "employed_subsidised": (STATE_CODES["subsidised"],),
                "unemployed": (STATE_CODES["unemployed"],),
                "in_service": (STATE_CODES["service"],),
            }[name]
            out = _in_codes(col, target).astype(float)
            out[col == CENSORED] = np.nan
            return out
        if name.startswith("months_"):
            target = {
                "months_employed": _EMP,
                "months_unemployed": (STATE_CODES["unemployed"],),
                "months_service": (STATE_CODES["service"],),
            }[name]
            out = _counts_up_to(_in_codes(c, target), hs)
            out[~complete] = np.nan
            return out
        if name.startswith("days_"):
            target = {
                "days_employed": _EMP,
                "days_unemployed": (STATE_CODES["unemployed"],),
                "days_jobseeker": (STATE_CODES["unemployed"], STATE_CODES["service"]),
            }[name]
            seg = self.segments
            sel = np.isin(seg["code"], target)
            sp_, s0_, s1_ = seg["person"][sel], seg["start"][sel], seg["stop"][sel]
            out = np.empty((self.n_persons, hs.size))
            for j, h in enumerate(hs):
                out[:, j] = _core.days_in_codes(
                    seg_person=sp_,
                    seg_start=s0_,
                    seg_stop=s1_,
                    seg_code=None,
                    codes=None,
                    window_start=self.origin_day,
                    window_stop=self.bound(int(h)),
                    n=self.n_persons,
                )
            for j, h in enumerate(hs):
                out[self.bound(int(h)) > self.censor_day + 1, j] = np.nan
            return out
        emp = self._employed
        if name == "ever_employed":
            got = _counts_up_to(emp, hs) > 0
            out = got.astype(float)
            out[~got & ~complete] = np.nan
            return out
        # sustained employment: a run of >= k employed months within months 0..h-1
        k = check_int("sustained_months", sustained_months, minimum=1)
        best = _core.longest_runs(emp)[:, hs - 1]
        got = best >= k
        out = got.astype(float)
        out[~got & ~complete] = np.nan
        return out

    def person_outcomes(self) -> pd.DataFrame:
        """Outcomes that are not tied to a horizon, one row per person.

        Columns: ``time_to_employment`` (months to the first employed month; when
        none, months observed) with ``employment_event``; the revolving door:
        ``exit_month`` (first month out of unemployment/services after being in
        them), ``returned_6m``/``returned_12m`` (back in unemployment within 6/12
        months after that exit; NaN when not observable), ``n_exits``; and the first
        unemployment spell: ``unemployment_days``, ``unemployment_months``,
        ``unemployment_event``, ``exit_reason``, ``exit_route``, ``route_code``.
        """
        c = self.codes
        observed_months = self._observed_months
        emp = self._employed
        first_emp = _core.first_true(emp)
        out = pd.DataFrame(index=self.persons.index)
        out["time_to_employment"] = np.where(first_emp >= 0, first_emp, observed_months).astype(
            float
        )
        out["employment_event"] = (first_emp >= 0).astype(int)
        # revolving door on the monthly panel
        job = _in_codes(c, (STATE_CODES["unemployed"], STATE_CODES["service"]))
        left = np.zeros_like(job)
        left[:, 1:] = job[:, :-1] & ~job[:, 1:] & (c[:, 1:] != CENSORED)
        n_exits = left.sum(axis=1)
        exit_m = _core.first_true(left)
        out["exit_month"] = np.where(exit_m >= 0, exit_m, np.nan)
        out["n_exits"] = n_exits
        unemp = job
        cum_unemp = np.concatenate(
            [np.zeros((c.shape[0], 1), dtype=np.int32), np.cumsum(unemp, axis=1, dtype=np.int32)],
            axis=1,
        )
        rows = np.arange(c.shape[0])
        for w in (6, 12):
            lo = np.clip(exit_m, 0, self.months)
            hi = np.clip(exit_m + w, 0, self.months)
            back = (cum_unemp[rows, hi] - cum_unemp[rows, lo]) > 0
            full = (exit_m >= 0) & (exit_m + w <= self.months) & (observed_months >= exit_m + w)
            val = np.where(back, 1.0, np.where(full, 0.0, np.nan))
            val[exit_m < 0] = np.nan
            out[f"returned_{w}m"] = val
        fs = self.first_spell
        out["unemployment_days"] = fs["days"]
        out["unemployment_months"] = fs["months"]
        out["unemployment_event"] = fs["event_m"]
        out["unemployment_days_event"] = fs["event"]
        out["exit_reason"] = fs["reason"]
        out["exit_route"] = np.where(fs["event_m"] == 1, fs["route"], "censored")
        out["route_code"] = np.where(fs["event_m"] == 1, fs["route_code"], 0)
        return out

    def outcomes(
        self,
        horizons: Sequence[int] | Literal["all"] | None = None,
        *,
        outcomes: Sequence[str] | None = None,
        sustained_months: int = 6,
        person_level: bool = True,
    ) -> pd.DataFrame:
        """Per-person outcome table: ``{outcome}_{h}m`` for each outcome and horizon.

        Parameters
        ----------
        horizons : list of int or "all"
            Months after origin (default 12, 24, 36, 48, 60 within ``months``).
        outcomes : list of str, optional
            Names from :data:`OUTCOMES` (default all).
        sustained_months : int
            k of "sustained employment" (a run of at least k employed months).
        person_level : bool
            Also include the horizon-free outcomes of :meth:`person_outcomes`.

        Returns
        -------
        DataFrame
            Indexed by person id; the arm column first, NaN where the outcome is
            not observed (censored before the horizon).

        Examples
        --------
        >>> import trialkit as tk
        >>> sp = pd.DataFrame({"person_id": [1, 1], "start": pd.to_datetime(["2018-01-01", "2018-04-01"]),
        ...     "end": pd.to_datetime(["2018-03-31", "2019-12-31"]), "state": ["unemployed", "employed"],
        ...     "exit_reason": ["01", "00"]})
        >>> pe = pd.DataFrame({"person_id": [1], "entry_date": pd.to_datetime(["2018-01-01"]), "arm": ["t"]})
        >>> f = tk.follow_up(sp, pe, months=12)
        >>> f.outcomes([12], outcomes=["months_employed"], person_level=False)["months_employed_12m"].tolist()
        [9.0]
        """
        hs = self._horizons(horizons)
        names = list(OUTCOMES) if outcomes is None else as_list(outcomes)
        values = np.empty((self.n_persons, len(names) * len(hs)))
        labels = []
        for i, name in enumerate(names):
            values[:, i * len(hs) : (i + 1) * len(hs)] = self.outcome_matrix(
                name, hs, sustained_months=sustained_months
            )
            labels += [f"{name}_{h}m" for h in hs]
        out = pd.DataFrame(values, index=self.persons.index, columns=labels)
        if self.arm is not None:
            out.insert(0, self.arm, self.persons[self.arm].to_numpy())
        if person_level:
            out = pd.concat([out, self.person_outcomes()], axis=1)
        return out

    # -- effects -------------------------------------------------------------
    def effects(
        self,
        outcomes: Sequence[str] = ("employed", "days_employed"),
        horizons: Sequence[int] | Literal["all"] | None = None,
        *,
        method: Literal["difference_in_means", "lin"] = "difference_in_means",
        covariates: Sequence[str] | None = None,
        control: Any = None,
        cluster: str | None = None,
        weights: str | np.ndarray | None = None,
        se_type: Literal["HC2", "HC1"] = "HC2",
        alpha: float = 0.05,
        n_draws: int = 10_000,
        seed: Any = None,
        sustained_months: int = 6,
    ) -> HorizonEffects:
        r"""Effects of the arms on outcomes at each horizon, with simultaneous bands.

        Parameters
        ----------
        outcomes : list of str
            Names from :data:`OUTCOMES`.
        horizons : list of int or "all"
            ``"all"`` gives month-by-month effects over the whole follow-up.
        method : {"difference_in_means", "lin"}
            Lin (2013) adjustment needs ``covariates`` (numeric columns of persons).
        control : optional
            Control arm label (default ``"control"`` if present, else the first arm).
        cluster : str, optional
            Column of persons for cluster-robust (CR1) errors, e.g. the municipality
            when municipalities were randomised.
        weights : str or array, optional
            Matching or IPC weights (column of persons); weighted least squares.
        se_type : {"HC2", "HC1"}
            Heteroskedasticity-robust variance when not clustered.
        n_draws, seed
            Draws for the sup-t critical value of the simultaneous bands; with
            ``seed=None`` fresh entropy is drawn and recorded in ``result.seed``.

        Returns
        -------
        HorizonEffects
            Indexed by (outcome, horizon): ``estimate, se, ci_low, ci_high, p, n, arm,
            band_low, band_high, control_mean``. Persons whose outcome is censored
            before the horizon are left out of that row (``n``); use
            :func:`trialkit.followup.ipcw_effects` when censoring may be informative.

        Notes
        -----
        Row by row, :math:`y_{ih} = \alpha_h + \tau_h D_i (+ \gamma_h'\tilde z_i + \delta_h' D_i\tilde z_i) + e_{ih}`.
        The band uses :math:`\hat\tau_h \pm c\,\widehat{se}_h` with :math:`c` the
        :math:`1-\alpha` quantile of :math:`\max_h |Z_h|`, :math:`Z` Gaussian with the
        correlation of the estimates across horizons (from the influence functions).

        References
        ----------
        Lin (2013) Ann. Appl. Stat. 7; Montiel Olea & Plagborg-Moller (2019) J. Appl.
        Econometrics 34, 1-17.
        """
        t0 = _time.perf_counter()
        if self.arm is None:
            raise DesignError(
                "effects need arms: build the follow-up with `arm=` naming the arm column"
            )
        check_choice("method", method, ["difference_in_means", "lin"])
        check_choice("se_type", se_type, ["HC2", "HC1"])
        covs = as_list(covariates)
        if method == "lin" and not covs:
            raise DesignError("method='lin' needs `covariates`")
        if method == "difference_in_means" and covs:
            raise DesignError("`covariates` are used only by method='lin'")
        hs = self._horizons(horizons)
        arms = pd.Index(pd.unique(self.persons[self.arm]))
        labels = sorted(arms.tolist(), key=str)
        ctrl = control if control is not None else ("control" if "control" in labels else labels[0])
        if ctrl not in labels:
            raise DesignError(f"`control` must be one of {labels}; got {ctrl!r}")
        treat = [a for a in labels if a != ctrl]
        a = self.persons[self.arm].to_numpy()
        d = np.column_stack([(a == t).astype(float) for t in treat])
        z = None
        if covs:
            require_columns(self.persons, covs, name="persons")
            z = self.persons[covs].to_numpy(dtype=float)
            if np.isnan(z).any():
                raise DataError(f"covariates {covs} have missing values; fill or drop them first")
        w = None
        if weights is not None:
            if isinstance(weights, str):
                require_columns(self.persons, weights, name="persons")
                w = self.persons[weights].to_numpy(dtype=float)
            else:
                w = np.asarray(weights, dtype=float)
            if w.shape != (self.n_persons,) or np.any(~np.isfinite(w)) or np.any(w < 0):
                raise DataError("`weights` must be finite, >= 0 and one per person")
        cl = None
        if cluster is not None:
            require_columns(self.persons, cluster, name="persons")
            n_miss = int(self.persons[cluster].isna().sum())
            if n_miss:
                raise DataError(
                    f"column {cluster!r} of `persons` has {n_miss} missing values; every person "
                    "must belong to a cluster"
                )
            cl = pd.factorize(self.persons[cluster])[0]
        ss = as_seed_sequence(seed)
        rng = as_generator(ss)
        rows_est, rows_se, rows_n, rows_arm, rows_idx, rows_cm, rows_bl, rows_bh = (
            [],
            [],
            [],
            [],
            [],
            [],
            [],
            [],
        )
        from scipy import stats

        rows_df: list[float] = []
        for name in as_list(outcomes):
            y = self.outcome_matrix(name, hs, sustained_months=sustained_months)
            r = _core.ols_effects(y=y, d=d, z=z, weights=w, cluster=cl, se_type=se_type)
            # clustered: t with G - 1 degrees of freedom, G the clusters with an observed
            # outcome at the horizon (as Stata and estimatr's CR1 "stata")
            g_k = (
                [np.unique(cl[~np.isnan(y[:, k])]).size for k in range(len(hs))]
                if cl is not None
                else None
            )
            ctrl_mask = a == ctrl
            for j, t in enumerate(treat):
                infl = r["influence"][:, j, :]
                crit = (
                    _core.sup_t_critical(influence=infl, alpha=alpha, n_draws=n_draws, rng=rng)
                    if len(hs) > 1
                    else float(stats.norm.ppf(1 - alpha / 2))
                )
                for k, h in enumerate(hs):
                    yk = y[ctrl_mask, k]
                    wk = np.ones(yk.size) if w is None else w[ctrl_mask]
                    ok = ~np.isnan(yk)
                    cm = (
                        float(np.average(yk[ok], weights=wk[ok]))
                        if ok.any() and wk[ok].sum() > 0
                        else np.nan
                    )
                    rows_idx.append((name, h))
                    rows_est.append(r["estimate"][j, k])
                    rows_se.append(r["se"][j, k])
                    rows_n.append(r["n"][k])
                    rows_df.append(np.nan if g_k is None else max(g_k[k] - 1, 1))
                    rows_arm.append(str(t))
                    rows_cm.append(cm)
                    rows_bl.append(r["estimate"][j, k] - crit * r["se"][j, k])
                    rows_bh.append(r["estimate"][j, k] + crit * r["se"][j, k])
        idx = pd.MultiIndex.from_tuples(rows_idx, names=["outcome", "horizon"])
        if len(treat) > 1:
            idx = pd.MultiIndex.from_arrays(
                [rows_arm, idx.get_level_values(0), idx.get_level_values(1)],
                names=["arm", "outcome", "horizon"],
            )
        excluded = self.excluded
        out = effect_table(
            rows_est,
            rows_se,
            index=idx,
            index_name=list(idx.names),
            n=rows_n,
            method=method,
            n_obs=self.n_persons,
            alpha=alpha,
            df=None if cl is None else rows_df,
            extra={
                "arm": rows_arm,
                "band_low": rows_bl,
                "band_high": rows_bh,
                "control_mean": rows_cm,
            },
            excluded=excluded,
            seed=seed_record(ss),
            elapsed_s=_time.perf_counter() - t0,
            meta={
                "control": str(ctrl),
                "se_type": "CR1" if cluster else se_type,
                "cluster": cluster,
                "weights": weights
                if isinstance(weights, str)
                else (None if weights is None else "array"),
                "covariates": covs,
                "band": "sup-t",
                "n_draws": n_draws,
            },
            cls=HorizonEffects,
        )
        return cast(HorizonEffects, out)

    # -- survival views ------------------------------------------------------
    def durations(self) -> pd.DataFrame:
        """Time to the end of the first unemployment spell (days and months) with event and exit route."""
        po = self.person_outcomes()
        out = po[
            [
                "unemployment_days",
                "unemployment_days_event",
                "unemployment_months",
                "unemployment_event",
                "exit_reason",
                "exit_route",
                "route_code",
                "time_to_employment",
                "employment_event",
            ]
        ].copy()
        if self.arm is not None:
            out.insert(0, self.arm, self.persons[self.arm].to_numpy())
        return out

    def kaplan_meier(self, *, alpha: float = 0.05) -> Any:
        """Kaplan-Meier curves of staying unemployed (first spell, months) by arm."""
        from trialkit.followup._survival import kaplan_meier

        return kaplan_meier(
            self.durations(),
            duration="unemployment_months",
            event="unemployment_event",
            group=self.arm,
            alpha=alpha,
        )

    def rmst(
        self,
        *,
        tau: float | None = None,
        time_to: Literal["unemployment_exit", "employment"] = "unemployment_exit",
        control: Any = None,
        alpha: float = 0.05,
    ) -> EffectTable:
        """RMST by arm at ``tau`` months (default the follow-up length).

        ``time_to="unemployment_exit"``: months in the first unemployment spell
        (the difference is months of unemployment saved); ``"employment"``: months
        before the first employed month (open or subsidised).
        """
        from trialkit.followup._survival import rmst

        if self.arm is None:
            raise DesignError("rmst needs arms: build the follow-up with `arm=`")
        check_choice("time_to", time_to, ["unemployment_exit", "employment"])
        if time_to == "unemployment_exit":
            dur, ev = "unemployment_months", "unemployment_event"
        else:
            dur, ev = "time_to_employment", "employment_event"
        return rmst(
            self.durations(),
            duration=dur,
            event=ev,
            group=self.arm,
            tau=float(self.months if tau is None else tau),
            control=control,
            alpha=alpha,
        )

    def cumulative_incidence(self, *, alpha: float = 0.05) -> Any:
        """Aalen-Johansen incidence of the exit routes of the first unemployment spell, by arm."""
        from trialkit.followup._survival import cumulative_incidence

        d = self.durations()
        d["cause"] = d["exit_route"].where(d["route_code"] > 0, 0)
        return cumulative_incidence(
            d, duration="unemployment_months", cause="cause", group=self.arm, alpha=alpha
        )

    def gray_test(self, *, rho: float = 0.0) -> Any:
        """Gray's test of equal cumulative incidence of each exit route across arms."""
        from trialkit.followup._survival import gray_test

        if self.arm is None:
            raise DesignError("gray_test needs arms: build the follow-up with `arm=`")
        d = self.durations()
        d["cause"] = d["exit_route"].where(d["route_code"] > 0, 0)
        return gray_test(d, duration="unemployment_months", cause="cause", group=self.arm, rho=rho)

    def state_occupation(self, *, ipcw: bool = True) -> StateOccupation:
        r"""Share of persons in each state by month and arm; expected months in each state.

        With ``ipcw`` the shares among the still-observed are weighted by the inverse
        of the arm's Kaplan-Meier probability of remaining uncensored (censoring
        independent of the states within arm); this is the Aalen-Johansen-type
        state-occupation estimator when censoring is by calendar time.
        """
        t0 = _time.perf_counter()
        groups = ["all"] * self.n_persons if self.arm is None else self.persons[self.arm].to_numpy()
        codes_all = self.codes
        frames = []
        names = {v: k for k, v in STATE_CODES.items()}
        for g in pd.unique(np.asarray(groups, dtype=object)):
            m = np.asarray(groups, dtype=object) == g
            c = codes_all[m]
            obs = c != CENSORED
            n_obs = obs.sum(axis=0).astype(float)
            for code in range(0, len(STATES) + 1):
                cnt = (c == code).sum(axis=0)
                if ipcw:
                    prob = np.where(n_obs > 0, cnt / np.maximum(n_obs, 1), np.nan)
                else:
                    prob = cnt / c.shape[0]
                frames.append(
                    pd.DataFrame(
                        {
                            "group": g,
                            "month": np.arange(self.months),
                            "state": names[code],
                            "probability": prob,
                        }
                    )
                )
        table = pd.concat(frames, ignore_index=True)
        return StateOccupation(
            method="state_occupation" + ("_ipcw" if ipcw else ""),
            n_obs=self.n_persons,
            excluded=self.excluded,
            elapsed_s=_time.perf_counter() - t0,
            table=table,
        )


def follow_up(
    spells: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    arm: str | None = "arm",
    origin: str = "entry_date",
    months: int = 60,
    id: str = "person_id",
    start: str = "start",
    end: str = "end",
    state: str = "state",
    exit_reason: str | None = "exit_reason",
    end_of_data: Any = None,
    censor: str | Sequence[str] | None = None,
    priority: Sequence[str] = DEFAULT_PRIORITY,
    reference_day: int = 15,
    backend: Any = None,
    n_jobs: int | None = None,
    n_partitions: int | None = None,
) -> FollowUp:
    r"""Follow persons up on their register spells for ``months`` months after their origin.

    Builds the person x month status panel: the state on the ``reference_day``-th
    day of each follow-up month (month m runs from origin + m months), where
    overlapping spells are resolved by ``priority`` (first wins) and counted.

    Parameters
    ----------
    spells : DataFrame
        One row per spell: ``id, start, end`` (NaT = ongoing at extraction), ``state``
        (one of :data:`STATES`), ``exit_reason`` (register code, see :data:`EXIT_CODES`;
        empty or missing when ongoing). ``end`` is the spell's last day (inclusive).
    persons : DataFrame
        One row per person: ``id``, the ``origin`` date, the ``arm`` (optional) and
        covariates.
    arm : str or None
        Arm column of ``persons`` (None for a cohort without arms).
    origin : str
        Column of ``persons`` with the start of follow-up (randomisation or entry date).
    months : int
        Length of follow-up (default 60: five years).
    end_of_data : date, optional
        Register extraction date (default the latest spell date). Months after it are
        censored.
    censor : str or list of str, optional
        Column(s) of ``persons`` with personal censoring dates (emigration, death, lost
        linkage); the earliest counts, missing means not censored before the end of data.
        The day itself is still observed.
    priority : sequence of str
        Order of precedence of states where spells overlap (first wins).
    reference_day : int
        Day of the follow-up month whose state counts (1..28; default 15, robust to
        inclusive or exclusive spell ends).
    backend : {"serial", "joblib", "dask"}, executor or None
        None (default): the backend set by ``tk.configure`` or ``TRIALKIT_BACKEND``, else serial.
        Where to build the panel of each partition of persons (results are identical).
    n_jobs : int, optional
        Workers for ``joblib``.
    n_partitions : int, optional
        Split the persons into this many partitions (default 1; e.g. the number of
        workers with a parallel backend).

    Returns
    -------
    FollowUp

    Raises
    ------
    DataError
        Missing columns or values, duplicate person ids, spells ending before they
        start, unknown states or exit codes. Persons without spells, persons whose
        origin lies after the end of data and spells of unknown persons are excluded
        and reported in ``excluded``.

    Examples
    --------
    >>> import trialkit as tk
    >>> sp = pd.DataFrame({"person_id": [1, 1, 2], "start": pd.to_datetime(["2018-01-01", "2018-07-01", "2018-01-01"]),
    ...     "end": pd.to_datetime(["2018-06-30", None, "2018-12-31"]),
    ...     "state": ["unemployed", "employed", "unemployed"], "exit_reason": ["03", "", "05"]})
    >>> pe = pd.DataFrame({"person_id": [1, 2], "entry_date": pd.to_datetime(["2018-01-01", "2018-01-01"]),
    ...     "arm": ["treatment", "control"]})
    >>> f = tk.follow_up(sp, pe, months=12, end_of_data="2019-06-30")
    >>> f.status.loc[1].tolist()
    [1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3]
    """
    t0 = _time.perf_counter()
    spells = require_frame(spells, name="spells")
    persons = require_frame(persons, name="persons")
    months = check_int("months", months, minimum=1)
    reference_day = check_int("reference_day", reference_day, minimum=1)
    if reference_day > 28:
        raise DesignError(f"`reference_day` must be in 1..28; got {reference_day}")
    prio = list(priority)
    if sorted(prio) != sorted(STATES):
        raise DesignError(f"`priority` must order all of {list(STATES)}; got {prio}")
    censor_cols = as_list(censor)
    need_p = [id, origin] + ([arm] if arm else []) + censor_cols
    require_columns(persons, need_p, name="persons")
    need_s = [id, start, end, state] + ([exit_reason] if exit_reason else [])
    require_columns(spells, need_s, name="spells")
    require_unique(persons, id, name="persons")
    excluded: list[Exclusion] = []

    # -- spells: validate ----------------------------------------------------
    st_day, st_na = _to_days(spells[start], start)
    en_day, en_na = _to_days(spells[end], end)
    if st_na.any():
        ids = spells.loc[st_na, id].head(5).tolist()
        raise DataError(
            f"column {start!r} of `spells` has {int(st_na.sum())} missing values (person ids {ids})"
        )
    back = ~en_na & (en_day < st_day)
    if back.any():
        ids = spells.loc[back, id].head(5).tolist()
        raise DataError(
            f"{int(back.sum())} spells end before they start (column {end!r} < {start!r}; "
            f"person ids {ids}); fix or drop them first"
        )
    s_codes, s_uniques = pd.factorize(spells[state])
    s_names = [str(u) for u in s_uniques]
    unknown = sorted(
        {u for u in s_names if u not in STATES} | ({"<missing>"} if (s_codes < 0).any() else set())
    )
    if unknown:
        raise DataError(
            f"column {state!r} of `spells` has unknown states {unknown[:5]}; allowed: {list(STATES)}"
        )
    code_all = np.array([STATE_CODES[u] for u in s_names], dtype=np.int64)[s_codes]
    reason_labels = ["", *EXIT_CODES]
    if exit_reason:
        e_codes, e_uniques = pd.factorize(spells[exit_reason])
        e_names = [str(u).strip() for u in e_uniques]
        # register codes read as numbers lose their leading zero: 1 -> "01", 1.0 -> "01"
        e_names = [
            (
                f"{int(float(u)):02d}"
                if u.replace(".", "", 1).isdigit() and float(u).is_integer()
                else u
            )
            for u in e_names
        ]
        bad = sorted({u for u in e_names if u not in reason_labels})
        if bad:
            raise DataError(
                f"column {exit_reason!r} of `spells` has unknown exit codes {bad[:5]}; "
                f"allowed: {list(EXIT_CODES)} or empty when ongoing"
            )
        lookup = np.array([reason_labels.index(u) for u in e_names] + [0], dtype=np.int64)
        er = lookup[e_codes]  # code -1 (missing) -> the appended 0 = ""
    else:
        er = np.zeros(len(spells), dtype=np.int64)

    # -- end of data and persons ----------------------------------------------
    if end_of_data is None:
        eod = int(max(st_day.max(), en_day[~en_na].max() if (~en_na).any() else st_day.max()))
    else:
        eod_ts = pd.Timestamp(end_of_data)
        if eod_ts.tzinfo is not None:  # the local calendar day
            eod_ts = eod_ts.tz_localize(None)
        eod = int(eod_ts.to_datetime64().astype("datetime64[D]").astype(np.int64))
    o_day, o_na = _to_days(persons[origin], origin)
    if o_na.any():
        ids = persons.loc[o_na, id].head(5).tolist()
        raise DataError(
            f"column {origin!r} of `persons` has {int(o_na.sum())} missing values (ids {ids})"
        )
    pid = persons[id].to_numpy()
    has_spell = np.isin(pid, spells[id].to_numpy())
    after = o_day > eod
    keep_p = has_spell & ~after
    if (~has_spell).any():
        excluded.append(
            Exclusion(reason="persons without spells", n=int((~has_spell).sum()), column=id)
        )
    if (after & has_spell).any():
        excluded.append(
            Exclusion(
                reason="origin after the end of data",
                n=int((after & has_spell).sum()),
                column=origin,
            )
        )
    if arm:
        na_arm = persons[arm].isna().to_numpy() & keep_p
        if na_arm.any():
            excluded.append(Exclusion(reason="missing arm", n=int(na_arm.sum()), column=arm))
            keep_p &= ~na_arm
    if not keep_p.any():
        raise DataError("no persons left to follow up: " + "; ".join(str(e) for e in excluded))
    pers = persons.loc[keep_p].set_index(id)
    o_day = o_day[keep_p]
    n = len(pers)
    cens = np.full(n, eod, dtype=np.int64)
    for col in censor_cols:
        c_day, c_na = _to_days(pers[col], col)
        cens = np.where(c_na, cens, np.minimum(cens, c_day))

    # spells of kept persons
    pos = pd.Index(pers.index).get_indexer(spells[id].to_numpy())
    in_p = pos >= 0
    orphan = ~np.isin(spells[id].to_numpy(), pid)
    if orphan.any():
        excluded.append(
            Exclusion(reason="spells of persons not in `persons`", n=int(orphan.sum()), column=id)
        )
    sp_p = pos[in_p].astype(np.int64)
    s0 = st_day[in_p]
    s1 = np.where(en_na[in_p], eod, en_day[in_p]) + 1  # half-open [start, stop)
    # a spell still running on the end of data is ongoing there, whatever its recorded
    # end (an analysis cut before the extraction must not see later exits)
    cut = s1 > eod + 1
    s1 = np.minimum(s1, np.maximum(eod + 1, s0))  # nothing after end of data
    code = code_all[in_p]
    o_dt = o_day.astype("datetime64[D]")
    o_month = o_dt.astype("datetime64[M]").astype(np.int64)
    o_off = o_day - o_dt.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    n_parts = 1 if n_partitions is None else check_int("n_partitions", n_partitions, minimum=1)
    n_parts = min(n_parts, n)
    edges = np.linspace(0, n, n_parts + 1).astype(np.int64)
    spell_ongoing = en_na[in_p] | cut
    spell_reason = er[in_p]
    items = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (sp_p >= lo) & (sp_p < hi) if n_parts > 1 else slice(None)
        items.append(
            {
                "person": sp_p[sel] - lo,
                "start": s0[sel],
                "stop": s1[sel],
                "code": code[sel],
                "ongoing": spell_ongoing[sel],
                "reason": spell_reason[sel],
                "origin_day": o_day[lo:hi],
                "censor_day": cens[lo:hi],
                "origin_month": o_month[lo:hi],
                "origin_offset": o_off[lo:hi],
                "months": months,
                "reference_day": reference_day,
                "priority": tuple(prio),
                "offset": int(lo),
            }
        )
    parts = map_tasks(
        _build_partition, items, backend=backend, n_jobs=n_jobs, desc="follow-up partitions"
    )
    codes = np.vstack([r["codes"] for r in parts])
    overlap = np.vstack([r["overlap"] for r in parts])
    segments = {k: np.concatenate([r["segments"][k] for r in parts]) for k in parts[0]["segments"]}
    first = {k: np.concatenate([r["first"][k] for r in parts]) for k in parts[0]["first"]}
    return FollowUp(
        persons=pers,
        codes=codes,
        overlap=overlap,
        months=months,
        arm=arm,
        id=id,
        priority=tuple(prio),
        reference_day=reference_day,
        origin_day=o_day,
        censor_day=cens,
        origin_month=o_month,
        origin_offset=o_off,
        segments=segments,
        first_spell=first,
        excluded=tuple(excluded),
        meta={
            "end_of_data": str(np.datetime64(eod, "D")),
            "elapsed_s": _time.perf_counter() - t0,
            "n_spells": int(in_p.sum()),
        },
    )


def _build_partition(item: dict[str, Any]) -> dict[str, Any]:
    """Segments, status matrix and first unemployment spell of one partition of persons."""
    prio = item["priority"]
    n = item["origin_day"].size
    rank_of_code = np.zeros(len(STATES) + 1, dtype=np.int64)
    for r_i, s in enumerate(reversed(prio)):
        rank_of_code[STATE_CODES[s]] = r_i
    code_of_rank = np.zeros(len(STATES), dtype=np.int64)
    code_of_rank[rank_of_code[1:]] = np.arange(1, len(STATES) + 1)
    code = item["code"]
    seg = _core.resolve_segments(
        person=item["person"],
        start=item["start"],
        stop=item["stop"],
        rank=rank_of_code[code],
        n_ranks=len(STATES),
    )
    seg_code = np.where(seg["rank"] >= 0, code_of_rank[np.maximum(seg["rank"], 0)], GAP)
    codes, overlap = _core.status_matrix(
        seg_person=seg["person"],
        seg_start=seg["start"],
        seg_stop=seg["stop"],
        seg_code=seg_code,
        seg_overlap=seg["overlap"],
        origin_month=item["origin_month"],
        origin_offset=item["origin_offset"],
        months=item["months"],
        reference_day=item["reference_day"],
        censor_day=item["censor_day"],
        gap_code=GAP,
        censored_code=CENSORED,
    )
    first = _first_unemployment_spell(
        item["person"],
        item["start"],
        item["stop"],
        code,
        item["ongoing"],
        item["reason"],
        item["origin_day"],
        item["censor_day"],
        n,
        item["origin_month"],
        item["origin_offset"],
        item["months"],
        item["reference_day"],
    )
    segments = {
        "person": seg["person"] + item["offset"],
        "start": seg["start"],
        "stop": seg["stop"],
        "code": seg_code,
        "overlap": seg["overlap"],
    }
    return {"codes": codes, "overlap": overlap, "segments": segments, "first": first}


def _first_unemployment_spell(
    p: np.ndarray,
    s0: np.ndarray,
    s1: np.ndarray,
    code: np.ndarray,
    ongoing: np.ndarray,
    reason: np.ndarray,
    origin: np.ndarray,
    cens: np.ndarray,
    n: int,
    origin_month: np.ndarray,
    origin_offset: np.ndarray,
    months: int,
    reference_day: int,
) -> dict[str, np.ndarray]:
    """First unemployment spell still running at or starting after the origin: its length and exit."""
    sel = (code == STATE_CODES["unemployed"]) & (s1 > origin[p]) & (s0 <= cens[p])
    idx = np.flatnonzero(sel)
    order = np.lexsort((s0[idx], p[idx]))
    idx = idx[order]
    first = np.ones(idx.size, dtype=bool)
    first[1:] = p[idx][1:] != p[idx][:-1]
    idx = idx[first]
    who = p[idx]
    days = np.full(n, np.nan)
    event = np.zeros(n, dtype=np.int64)
    rsn_idx = np.zeros(n, dtype=np.int64)
    ended = ~ongoing[idx] & (s1[idx] <= cens[who] + 1)
    stop = np.where(ended, s1[idx], cens[who] + 1)
    days[who] = stop - origin[who]
    event[who] = ended.astype(np.int64)
    rsn_idx[who] = np.where(ended, reason[idx], 0)
    rsn = np.array(["", *EXIT_CODES], dtype=object)[rsn_idx]
    route = np.array(["other", *[EXIT_ROUTES[r] for r in EXIT_CODES]], dtype=object)
    routes = route[rsn_idx]
    routes[event == 0] = "censored"
    # on the monthly scale: follow-up months whose reference day the spell (or observation) covers
    lo_day = int(min(stop.min(initial=0), cens.min()) - 40)
    hi_day = int(max(stop.max(initial=0), cens.max()) + 40)
    month_of = _core._month_of_day_table(lo_day, hi_day)
    months_cov = np.full(n, np.nan)
    months_cov[who] = _core.months_before(
        day=stop,
        origin_month=origin_month[who],
        origin_offset=origin_offset[who],
        months=months,
        reference_day=reference_day,
        month_of=month_of,
        lo_day=lo_day,
    )
    event_m = event.copy()
    event_m[months_cov >= months] = 0  # still unemployed at the end of follow-up
    return {
        "months": months_cov,
        "event_m": event_m,
        "days": days,
        "event": event,
        "reason": rsn,
        "route": routes,
        "route_code": np.array([0, *[ROUTE_CODES[r] for r in route[1:]]])[rsn_idx] * (event == 1)
        + np.where((event == 1) & (rsn_idx == 0), ROUTE_CODES["other"], 0),
    }
