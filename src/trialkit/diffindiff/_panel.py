"""Validation of a unit x time panel and conversion to a balanced matrix."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trialkit._checks import _preview, require_columns, require_frame, require_numeric
from trialkit.errors import DataError, ExcludedRowsWarning
from trialkit.results import Exclusion

__all__ = ["Panel", "prepare_panel", "TimeAxis"]


@dataclass(frozen=True)
class TimeAxis:
    """Maps user time values (month timestamps or equally spaced integers) to 0..T-1."""

    kind: str  # "month" or "integer"
    origin: int  # integer value of period 0 (month number = year*12 + month-1, or the integer)
    step: int
    n_periods: int

    def to_index(self, values: pd.Series, *, column: str, strict: bool = True) -> np.ndarray:
        """Integer period indices (may lie outside 0..T-1; NaN for missing)."""
        raw = _as_integer_time(values, self.kind, column=column)
        off = raw - self.origin
        bad = np.isfinite(off) & (np.mod(off, self.step) != 0)
        if strict and bad.any():
            raise DataError(
                f"column {column!r} has {int(bad.sum())} values off the panel's time grid "
                f"(every {self.step} {'months' if self.kind == 'month' else 'units'} from the first period); "
                f"examples: {_preview(values[bad].unique())}"
            )
        return off / self.step

    def label(self, idx: np.ndarray | int) -> Any:
        """User-facing label of period index ``idx`` (Timestamp for months, int otherwise)."""
        arr = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        vals = self.origin + arr * self.step
        if self.kind == "month":
            years, months = np.divmod(vals, 12)
            out = pd.to_datetime({"year": years, "month": months + 1, "day": np.ones_like(years)})
            res: Any = list(out)
        else:
            res = [int(v) for v in vals]
        return res[0] if np.ndim(idx) == 0 else res


def _as_integer_time(values: pd.Series, kind: str, *, column: str) -> np.ndarray:
    if kind == "month":
        v = pd.to_datetime(values)
        ok = v.notna()
        vv = v[ok]
        if (vv.dt.day != 1).any() or (vv.dt.normalize() != vv).any():
            raise DataError(
                f"column {column!r} must hold month starts (day 1, midnight); found e.g. "
                f"{_preview(vv[(vv.dt.day != 1) | (vv.dt.normalize() != vv)].unique())}"
            )
        out = np.full(len(values), np.nan)
        out[ok.to_numpy()] = (vv.dt.year * 12 + vv.dt.month - 1).to_numpy(dtype=float)
        return out
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


@dataclass(frozen=True)
class Panel:
    """A validated balanced panel: outcome matrix, groups, covariates, labels."""

    y: np.ndarray  # (n, T)
    g: np.ndarray  # (n,) first treated period index, -1 never
    units: np.ndarray  # unit labels (n,)
    axis: TimeAxis
    x: np.ndarray | None  # (n, T, k)
    covariates: tuple[str, ...]
    cluster: np.ndarray | None  # (n,) integer codes
    cluster_labels: np.ndarray | None
    excluded: tuple[Exclusion, ...]
    n_rows: int
    notes: dict[str, Any] = field(default_factory=dict)


def _time_kind(s: pd.Series, column: str) -> str:
    if pd.api.types.is_datetime64_any_dtype(s):
        return "month"
    if pd.api.types.is_integer_dtype(s) or (
        pd.api.types.is_float_dtype(s) and np.all(np.mod(s.dropna(), 1) == 0)
    ):
        return "integer"
    if isinstance(s.dtype, pd.PeriodDtype):
        raise DataError(f"column {column!r} is a Period; convert it with .dt.to_timestamp() first")
    raise DataError(
        f"column {column!r} must be datetime month starts or integer periods; it has dtype {s.dtype} "
        f"(values such as {_preview(s.dropna().unique())})"
    )


def prepare_panel(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    first_treated: str,
    covariates: list[str],
    cluster: str | None,
    name: str = "panel",
    zero_means_never: bool = True,
) -> Panel:
    """Validate a long panel and return a balanced :class:`Panel`.

    * duplicate unit-time rows -> DataError naming units;
    * ``first_treated`` varying within a unit (treatment switching on and off, or
      inconsistent dates) -> DataError naming units (staggered adoption is absorbing);
    * irregular time (not month starts / not equally spaced) -> DataError;
    * rows with missing outcome or covariates -> excluded and reported; units then
      not observed in every period are dropped (balanced panel) and reported;
    * units treated in the first period (no pre-period) -> excluded and reported;
    * units first treated after the last period count as never treated (noted);
    * missing values in the unit, time or cluster column -> DataError (a row must
      belong to a unit, a period and a cluster);
    * with integer periods, ``first_treated == 0`` means never treated (the
      convention of R's ``did``) unless ``zero_means_never=False``; when period 0 is
      itself in the panel that is ambiguous -> DataError.
    """
    require_frame(data, name=name)
    cols = [outcome, unit, time, first_treated, *covariates] + ([cluster] if cluster else [])
    require_columns(data, cols, name=name)
    require_numeric(data, [outcome, *covariates], name=name)
    for col, what in ((time, "a period"), (unit, "a unit"), (cluster, "a cluster")):
        if col is not None and data[col].isna().any():
            raise DataError(
                f"column {col!r} of `{name}` has {int(data[col].isna().sum())} missing values; "
                f"every row must belong to {what}"
            )
    kind = _time_kind(data[time], time)
    excluded: list[Exclusion] = []
    n_rows = len(data)

    dup = data.duplicated([unit, time], keep=False).to_numpy()
    if dup.any():
        ids = pd.unique(data.loc[dup, unit])
        raise DataError(
            f"`{name}` has {int(dup.sum())} duplicate rows for the same {unit!r} and {time!r}; "
            f"{len(ids)} units affected: {_preview(ids)}"
        )
    tnum = _as_integer_time(data[time], kind, column=time)
    # first_treated constant within unit
    ft = data[first_treated]
    if kind == "month":
        ft_num = _as_integer_time(ft, "month", column=first_treated)
    else:
        if pd.api.types.is_datetime64_any_dtype(ft):
            raise DataError(
                f"column {first_treated!r} is a date but {time!r} holds integer periods; use the same kind"
            )
        ft_num = pd.to_numeric(ft, errors="coerce").to_numpy(dtype=float)
        if zero_means_never and np.any(ft_num == 0):  # 0 = never treated (did convention)
            if np.any(tnum == 0):
                raise DataError(
                    f"column {first_treated!r} has the value 0, which means never treated (the "
                    f"convention of R's did), but period 0 is in {time!r}; mark never-treated "
                    "units with NaN or inf, or pass `treatment=` (a 0/1 indicator) instead"
                )
            ft_num = np.where(ft_num == 0, np.nan, ft_num)
        ft_num = np.where(np.isinf(ft_num), np.nan, ft_num)
    tmp = pd.DataFrame({"u": data[unit].to_numpy(), "f": ft_num})
    nun = tmp.groupby("u", sort=False)["f"].nunique(dropna=False)
    switch = nun[nun > 1].index
    if len(switch):
        raise DataError(
            f"column {first_treated!r} must be constant within each unit (staggered adoption: once "
            f"treated, always treated); {len(switch)} units have several values: {_preview(switch)}"
        )

    periods = np.unique(tnum)
    if periods.size < 2:
        raise DataError(
            f"column {time!r} must have at least two distinct periods; got {periods.size}"
        )
    steps = np.diff(periods)
    step = int(steps.min())
    if np.any(np.mod(steps, step) != 0) or np.any(steps != step):
        gaps = periods[1:][steps != step]
        raise DataError(
            f"column {time!r} is irregular: periods must be equally spaced, but the spacing varies "
            f"(first step {step}); gaps before {_preview(gaps.astype(int))}"
        )
    axis = TimeAxis(kind=kind, origin=int(periods[0]), step=step, n_periods=int(periods.size))
    tidx = ((tnum - axis.origin) / step).astype(np.int64)
    T = axis.n_periods

    # missing outcome / covariates
    miss = data[[outcome, *covariates]].isna().to_numpy().any(axis=1)
    if miss.any():
        excluded.append(
            Exclusion(reason="missing outcome or covariate", n=int(miss.sum()), column=outcome)
        )
    keep = ~miss
    uvals = data[unit].to_numpy()
    codes, uniq = pd.factorize(uvals[keep], sort=True)
    n_u = uniq.size
    y = np.full((n_u, T), np.nan)
    y[codes, tidx[keep]] = data[outcome].to_numpy(dtype=float)[keep]
    x = None
    if covariates:
        x = np.full((n_u, T, len(covariates)), np.nan)
        x[codes, tidx[keep], :] = data.loc[keep, covariates].to_numpy(dtype=float)
    full = ~np.isnan(y).any(axis=1)
    if not full.all():
        dropped_units = uniq[~full]
        nr = int(np.isin(uvals[keep], dropped_units).sum())
        excluded.append(
            Exclusion(
                reason=f"unbalanced panel: {dropped_units.size} units not observed in all {T} periods dropped",
                n=nr,
                column=unit,
            )
        )
        warnings.warn(
            f"unbalanced panel: dropped {dropped_units.size} units observed in fewer than {T} periods "
            f"(e.g. {_preview(dropped_units)}); see `excluded`",
            ExcludedRowsWarning,
            stacklevel=3,
        )
    # group of each unit
    ft_unit = pd.Series(ft_num[keep]).groupby(codes).first().reindex(range(n_u)).to_numpy()
    notes: dict[str, Any] = {}
    gidx = np.full(n_u, -1, dtype=np.int64)
    has = np.isfinite(ft_unit)
    if has.any():
        off = (ft_unit[has] - axis.origin) / step
        if np.any(np.mod(off, 1) != 0):
            raise DataError(
                f"column {first_treated!r} has values off the time grid of {time!r}: "
                f"{_preview(ft[np.isfinite(ft_num)].unique())}"
            )
        gi = off.astype(np.int64)
        late = gi >= T
        if late.any():
            notes["treated_after_panel"] = int(late.sum())
        gi = np.where(late, -1, gi)
        gidx[has] = gi
    first = (gidx != -1) & (gidx <= 0)
    if first.any():
        nr = int(np.isin(uvals[keep], uniq[first & full]).sum())
        if (first & full).any():
            excluded.append(
                Exclusion(
                    reason=f"{int((first & full).sum())} units treated in or before the first period (no pre-period)",
                    n=nr,
                    column=first_treated,
                )
            )
            warnings.warn(
                f"{int((first & full).sum())} units are treated in or before the first period and were "
                f"excluded (e.g. {_preview(uniq[first & full])}); see `excluded`",
                ExcludedRowsWarning,
                stacklevel=3,
            )
    use = full & ~first
    if not use.any():
        raise DataError(f"no usable units left in `{name}` after the exclusions: {excluded}")
    cl = None
    cl_labels = None
    if cluster:
        cvals = pd.Series(data[cluster].to_numpy()[keep]).groupby(codes).nunique()
        if (cvals > 1).any():
            raise DataError(
                f"column {cluster!r} must be constant within each unit (clusters nest units); "
                f"units with several values: {_preview(uniq[cvals.index[cvals > 1]])}"
            )
        cunit = pd.Series(data[cluster].to_numpy()[keep]).groupby(codes).first().to_numpy()[use]
        cl, cl_labels = pd.factorize(cunit, sort=True)
        cl = cl.astype(np.int64)
        cl_labels = np.asarray(cl_labels)
    return Panel(
        y=y[use],
        g=gidx[use],
        units=np.asarray(uniq[use]),
        axis=axis,
        x=None if x is None else x[use],
        covariates=tuple(covariates),
        cluster=cl,
        cluster_labels=cl_labels,
        excluded=tuple(excluded),
        n_rows=n_rows,
        notes=notes,
    )
