"""Input validation shared by every module.

Validate once, at the boundary, for the user: every message names the column
or parameter, what was wrong (with a count and the first offending values) and
what is allowed. Nothing is dropped silently: :func:`drop_missing` returns the
rows it kept *and* an :class:`~trialkit.results.Exclusion` saying how many went.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from trialkit.errors import DataError, DesignError, ExcludedRowsWarning
from trialkit.results import Exclusion

__all__ = [
    "as_list",
    "require_frame",
    "require_columns",
    "require_finite",
    "require_numeric",
    "require_binary",
    "require_no_missing",
    "require_unique",
    "drop_missing",
    "check_choice",
    "check_probability",
    "check_positive",
    "check_int",
]

_SHOW = 5


def _preview(values: Iterable[Any], k: int = _SHOW) -> str:
    vals = list(values)
    head = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in vals[:k])
    more = f", ... ({len(vals) - k} more)" if len(vals) > k else ""
    return f"[{head}{more}]"


def as_list(cols: str | Sequence[str] | None) -> list[str]:
    """``None`` -> ``[]``, ``"a"`` -> ``["a"]``, a sequence -> a list."""
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def require_frame(data: Any, *, name: str = "data") -> pd.DataFrame:
    """Check that ``data`` is a non-empty DataFrame."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"`{name}` must be a pandas DataFrame; got {type(data).__name__}")
    if len(data) == 0:
        raise DataError(f"`{name}` has no rows")
    return data


def require_columns(
    data: pd.DataFrame, columns: str | Sequence[str] | None, *, name: str = "data"
) -> None:
    """Raise :class:`DataError` listing missing columns and the available ones.

    A wanted column whose name labels several columns of ``data`` (e.g. after
    ``pd.concat(axis=1)``) is ambiguous and also a :class:`DataError`.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b"])
    Traceback (most recent call last):
    ...
    trialkit.errors.DataError: `data` has no column 'b'; available columns: ['a']
    >>> require_columns(pd.DataFrame([[1, 2]], columns=["a", "a"]), "a")
    Traceback (most recent call last):
    ...
    trialkit.errors.DataError: column 'a' appears 2 times in `data`; rename or drop the copies
    """
    wanted = as_list(columns)
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        which = "column " + repr(missing[0]) if len(missing) == 1 else "columns " + repr(missing)
        raise DataError(
            f"`{name}` has no {which}; available columns: {list(map(str, data.columns))}"
        )
    if not data.columns.is_unique:
        for c in dict.fromkeys(wanted):
            k = int((data.columns == c).sum())
            if k > 1:
                raise DataError(
                    f"column {c!r} appears {k} times in `{name}`; rename or drop the copies"
                )


def require_numeric(
    data: pd.DataFrame, columns: str | Sequence[str] | None, *, name: str = "data"
) -> None:
    """Each column must be numeric or boolean; the message shows a few offending values."""
    for col in as_list(columns):
        s = data[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            continue
        bad = pd.to_numeric(s, errors="coerce").isna() & s.notna()
        if not bad.any():  # text that reads as numbers, e.g. a CSV column read as strings
            raise DataError(
                f"column {col!r} of `{name}` must be numeric; it has dtype {s.dtype} (numbers "
                f"stored as text, e.g. {_preview(s.dropna().unique()[:3])}); convert it with "
                "pd.to_numeric first"
            )
        raise DataError(
            f"column {col!r} of `{name}` must be numeric; it has dtype {s.dtype} and "
            f"{int(bad.sum())} non-numeric values such as {_preview(s[bad].unique())}"
        )


def require_finite(
    data: pd.DataFrame, columns: str | Sequence[str] | None, *, name: str = "data"
) -> None:
    """Numeric columns must not hold ``inf``/``-inf`` (missing values are left to the caller).

    Non-numeric columns are skipped (they are checked or expanded elsewhere).

    Examples
    --------
    >>> require_finite(pd.DataFrame({"y": [1.0, float("inf")]}), "y")
    Traceback (most recent call last):
    ...
    trialkit.errors.DataError: column 'y' of `data` has 1 infinite values (rows [1]); outcomes and covariates must be finite
    """
    for col in dict.fromkeys(as_list(columns)):
        s = data[col]
        if isinstance(s, pd.DataFrame) or not pd.api.types.is_numeric_dtype(s):
            continue
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
            continue
        vals = s.to_numpy(dtype=float, na_value=np.nan)
        bad = np.isinf(vals)
        if bad.any():
            rows = list(data.index[bad][:5])
            more = f", ... ({int(bad.sum()) - 5} more)" if bad.sum() > 5 else ""
            rows_s = ", ".join(repr(r.item() if hasattr(r, "item") else r) for r in rows)
            raise DataError(
                f"column {col!r} of `{name}` has {int(bad.sum())} infinite values "
                f"(rows [{rows_s}{more}]); outcomes and covariates must be finite"
            )


def require_binary(data: pd.DataFrame, column: str, *, name: str = "data") -> None:
    """The column must hold only 0/1 (or False/True), missing values aside."""
    s = data[column].dropna()
    vals = pd.unique(s)
    ok = set(np.asarray(vals).tolist()) <= {0, 1}
    if not ok:
        bad = [v for v in vals if v not in (0, 1)]
        raise DataError(
            f"column {column!r} of `{name}` must be binary (0/1 or False/True); "
            f"found {len(bad)} other values such as {_preview(bad)}"
        )


def require_no_missing(
    data: pd.DataFrame,
    columns: str | Sequence[str] | None,
    *,
    name: str = "data",
    id: str | None = None,
) -> None:
    """Raise when any of ``columns`` has missing values; name the count and the first rows/ids."""
    for col in as_list(columns):
        miss = data[col].isna().to_numpy()
        if miss.any():
            where = (
                data.loc[miss, id] if id is not None and id in data.columns else data.index[miss]
            )
            label = f"{id} values" if id is not None and id in data.columns else "rows"
            raise DataError(
                f"column {col!r} of `{name}` has {int(miss.sum())} missing values "
                f"({label} {_preview(where)}); remove them or fill them first"
            )


def require_unique(data: pd.DataFrame, column: str, *, name: str = "data") -> None:
    """Ids must be unique; the message lists the duplicated ids."""
    dup = data[column].duplicated(keep=False).to_numpy()
    if dup.any():
        ids = pd.unique(data.loc[dup, column])
        raise DataError(
            f"column {column!r} of `{name}` must identify rows uniquely; "
            f"{len(ids)} ids occur more than once: {_preview(ids)}"
        )


def drop_missing(
    data: pd.DataFrame, columns: str | Sequence[str] | None, *, reason: str = "missing values"
) -> tuple[pd.DataFrame, tuple[Exclusion, ...]]:
    """Drop rows with missing values in ``columns`` and say how many went, per column.

    A row missing in several columns is counted once, under the first of them.
    Whenever rows go, an :class:`~trialkit.errors.ExcludedRowsWarning` says how
    many and why, so nothing is dropped silently.

    Returns
    -------
    kept : DataFrame
        The complete rows (a copy when rows were dropped).
    excluded : tuple of Exclusion
        One entry per column that caused exclusions.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1.0, None, 3.0], "x": [None, 1, None]})
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     kept, ex = drop_missing(df, ["y", "x"])
    >>> len(kept), [str(e) for e in ex]
    (0, ['1 excluded: missing values [y]', '2 excluded: missing values [x]'])
    """
    cols = as_list(columns)
    gone = np.zeros(len(data), dtype=bool)
    excluded: list[Exclusion] = []
    for col in cols:
        miss = data[col].isna().to_numpy() & ~gone
        if miss.any():
            excluded.append(Exclusion(reason=reason, n=int(miss.sum()), column=col))
            gone |= miss
    if not gone.any():
        return data, ()
    warnings.warn(
        ExcludedRowsWarning(
            f"{int(gone.sum())} of {len(data)} rows excluded: "
            + "; ".join(f"{e.n} with {e.reason} in {e.column!r}" for e in excluded)
        ),
        stacklevel=3,
    )
    return data.loc[~gone].copy(), tuple(excluded)


def check_choice(param: str, value: Any, allowed: Sequence[Any]) -> Any:
    """``value`` must be one of ``allowed``; the error lists them.

    Examples
    --------
    >>> check_choice("method", "ols", ["difference_in_means", "lin"])
    Traceback (most recent call last):
    ...
    trialkit.errors.DesignError: `method` must be one of ['difference_in_means', 'lin']; got 'ols'
    """
    if value not in allowed:
        raise DesignError(f"`{param}` must be one of {list(allowed)}; got {value!r}")
    return value


def check_probability(param: str, value: Any, *, open_interval: bool = True) -> np.ndarray:
    """``value`` (scalar or array) must lie in (0, 1) (or [0, 1])."""
    arr = np.asarray(value, dtype=float)
    ok = (arr > 0) & (arr < 1) if open_interval else (arr >= 0) & (arr <= 1)
    if not np.all(ok):
        bounds = "(0, 1)" if open_interval else "[0, 1]"
        raise DesignError(f"`{param}` must be in {bounds}; got {value!r}")
    return arr


def check_positive(param: str, value: Any, *, allow_zero: bool = False) -> np.ndarray:
    """``value`` (scalar or array) must be > 0 (or >= 0) and finite."""
    arr = np.asarray(value, dtype=float)
    ok = np.isfinite(arr) & ((arr >= 0) if allow_zero else (arr > 0))
    if not np.all(ok):
        rel = ">= 0" if allow_zero else "> 0"
        raise DesignError(f"`{param}` must be finite and {rel}; got {value!r}")
    return arr


def check_int(param: str, value: Any, *, minimum: int = 0) -> int:
    """``value`` must be an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DesignError(f"`{param}` must be an integer >= {minimum}; got {value!r}")
    return int(value)
