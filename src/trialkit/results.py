"""The shared result format.

Every estimator in trialkit returns an immutable result object derived from
:class:`Result`. All of them have

* ``summary()`` -- a readable text table, in the spirit of statsmodels;
* ``to_frame()`` -- a :class:`pandas.DataFrame` (estimate tables have at least
  the columns ``estimate, se, ci_low, ci_high, p, n``);
* ``to_dict()`` -- a JSON-safe ``dict`` (NaN becomes ``None``, NumPy scalars
  become Python numbers, dates become ISO strings);
* metadata: ``method``, ``n_obs``, ``alpha``, ``seed``, ``elapsed_s`` and
  ``excluded`` -- the rows left out of the analysis, how many and why;
* ``plot(ax=None)`` where a picture helps (returns the matplotlib Axes).

Results never change after construction: fields are frozen, tables are copied
in and copied out.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from trialkit.errors import DataError

__all__ = [
    "Exclusion",
    "Result",
    "EffectTable",
    "effect_table",
    "jsonable",
    "ESTIMATE_COLUMNS",
]

ESTIMATE_COLUMNS: tuple[str, ...] = ("estimate", "se", "ci_low", "ci_high", "p", "n")


def jsonable(obj: Any) -> Any:
    """Convert ``obj`` into something :func:`json.dumps` accepts, without loss where possible.

    NaN and infinities become ``None``; NumPy scalars and arrays become Python
    numbers and lists; timestamps and dates become ISO strings; data frames
    become lists of records (index reset into columns); dataclasses become dicts.

    Examples
    --------
    >>> jsonable({"a": np.float64("nan"), "b": np.arange(2), "c": (1, 2.5)})
    {'a': None, 'b': [0, 1], 'c': [1, 2.5]}
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if isinstance(obj, Result):
        return obj.to_dict()
    if isinstance(obj, pd.DataFrame):
        frame = obj.reset_index() if _has_named_index(obj) else obj
        return [
            {str(k): jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")
        ]
    if isinstance(obj, pd.Series):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (pd.Timestamp, _dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, pd.Period):
        return str(obj)
    if isinstance(obj, np.datetime64):
        return None if np.isnat(obj) else str(obj)
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "item"):
        return jsonable(obj.item())
    return str(obj)


def _has_named_index(df: pd.DataFrame) -> bool:
    return any(name is not None for name in df.index.names)


@dataclass(frozen=True)
class Exclusion:
    """Rows left out of an analysis: how many, why, and on which column.

    Examples
    --------
    >>> Exclusion(reason="missing outcome", n=3, column="employed_12m").to_dict()
    {'reason': 'missing outcome', 'n': 3, 'column': 'employed_12m'}
    """

    reason: str
    n: int
    column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "n": int(self.n), "column": self.column}

    def __str__(self) -> str:
        col = f" [{self.column}]" if self.column else ""
        return f"{self.n} excluded: {self.reason}{col}"


@dataclass(frozen=True, kw_only=True, eq=False)
class Result:
    """Base of every trialkit result.

    Parameters
    ----------
    method : str
        Name of the estimator or procedure, e.g. ``"difference_in_means"``.
    n_obs : int
        Number of observations (rows) used.
    alpha : float
        Significance level of the confidence intervals and tests.
    excluded : tuple of Exclusion
        Rows left out and why; empty when nothing was excluded.
    seed : int, list or str, optional
        Record of the seed (see :func:`trialkit._rng.seed_record`).
    elapsed_s : float, optional
        Wall-clock time of the computation.
    meta : mapping
        Further JSON-safe details (options used, convergence, ...).
    """

    title: ClassVar[str] = "Result"

    method: str
    n_obs: int
    alpha: float = 0.05
    excluded: tuple[Exclusion, ...] = ()
    seed: Any = None
    elapsed_s: float | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded", tuple(self.excluded))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    # -- the shared surface -------------------------------------------------
    @property
    def n_excluded(self) -> int:
        """Total number of rows excluded (over all reasons)."""
        return int(sum(e.n for e in self.excluded))

    def to_frame(self) -> pd.DataFrame:
        """The result as a data frame."""
        raise NotImplementedError(f"{type(self).__name__} has no tabular form")

    def _payload(self) -> dict[str, Any]:
        """Result-specific entries of :meth:`to_dict` (overridden by subclasses)."""
        try:
            return {"table": jsonable(self.to_frame())}
        except NotImplementedError:
            return {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the result (``json.dumps`` accepts it as is)."""
        out: dict[str, Any] = {
            "result": type(self).__name__,
            "method": self.method,
            "n_obs": int(self.n_obs),
            "alpha": float(self.alpha),
            "excluded": [e.to_dict() for e in self.excluded],
            "seed": jsonable(self.seed),
            "elapsed_s": jsonable(self.elapsed_s),
            "meta": jsonable(self.meta),
        }
        out.update(jsonable(self._payload()))
        return out

    def to_json(self, path: str | None = None, *, indent: int = 2) -> str:
        """Serialise :meth:`to_dict` to JSON; also write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return text

    def _header(self) -> list[str]:
        lines = [self.title, "=" * max(len(self.title), 20), f"Method:        {self.method}"]
        lines.append(f"Observations:  {self.n_obs}")
        if self.excluded:
            lines.append(f"Excluded:      {self.n_excluded}")
            lines.extend(f"  - {e}" for e in self.excluded)
        lines.append(f"Alpha:         {self.alpha}")
        if self.seed is not None:
            lines.append(f"Seed:          {self.seed}")
        return lines

    def summary(self) -> str:
        """A readable text summary: header with the sample, then the table."""
        lines = self._header()
        try:
            frame = self.to_frame()
        except NotImplementedError:
            frame = None
        if frame is not None:
            lines.append("")
            with pd.option_context("display.width", 120, "display.max_columns", 20):
                lines.append(frame.to_string(float_format=lambda x: f"{x:.4g}"))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:  # pragma: no cover - notebook display
        try:
            body = self.to_frame().to_html(float_format=lambda x: f"{x:.4g}")
        except NotImplementedError:
            body = ""
        head = "<br>".join(self._header())
        return f"<div><p>{head}</p>{body}</div>"

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw the result on ``ax`` (a new figure when None) and return the Axes."""
        raise NotImplementedError(f"{type(self).__name__} has no plot")


@dataclass(frozen=True, kw_only=True, eq=False)
class EffectTable(Result):
    """A table of estimates: one row per term, arm, horizon, event time or group.

    ``table`` has at least the columns ``estimate, se, ci_low, ci_high, p, n``;
    its index names what a row is (``term``, ``horizon``, ``event_time``, ...).
    Build one with :func:`effect_table`.

    Examples
    --------
    >>> t = effect_table([0.05], [0.01], index=["treatment"], index_name="arm",
    ...                  n=[2000], method="difference_in_means", n_obs=2000)
    >>> round(float(t.to_frame().loc["treatment", "ci_low"]), 4)
    0.0304
    """

    title: ClassVar[str] = "Effect estimates"

    table: pd.DataFrame

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.table, pd.DataFrame):
            raise DataError(f"`table` must be a pandas DataFrame; got {type(self.table).__name__}")
        missing = [c for c in ESTIMATE_COLUMNS if c not in self.table.columns]
        if missing:
            raise DataError(
                f"`table` lacks the columns {missing}; it has {list(self.table.columns)}"
            )
        object.__setattr__(self, "table", self.table.copy(deep=True))

    def to_frame(self) -> pd.DataFrame:
        """Copy of the estimate table (columns ``estimate, se, ci_low, ci_high, p, n``, ...)."""
        return self.table.copy(deep=True)

    @property
    def estimate(self) -> pd.Series:
        """The point estimates, indexed like the table."""
        return self.table["estimate"].copy()

    @property
    def se(self) -> pd.Series:
        """The standard errors, indexed like the table."""
        return self.table["se"].copy()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EffectTable:
        """Rebuild an :class:`EffectTable` from :meth:`to_dict` output.

        Examples
        --------
        >>> t = effect_table([1.0], [0.5], index=["x"], n=[10], method="ols", n_obs=10)
        >>> EffectTable.from_dict(t.to_dict()).to_frame().equals(t.to_frame())
        True
        """
        records = list(d["table"])
        frame = pd.DataFrame.from_records(records)
        index_names = d.get("meta", {}).get("index_names")
        if index_names:
            frame = frame.set_index(list(index_names))
        frame = frame.astype({c: float for c in ESTIMATE_COLUMNS if c != "n"}, errors="ignore")
        for col in ESTIMATE_COLUMNS[:-1]:
            frame[col] = frame[col].astype(float)
        return cls(
            method=d["method"],
            n_obs=d["n_obs"],
            alpha=d["alpha"],
            excluded=tuple(Exclusion(**e) for e in d.get("excluded", [])),
            seed=d.get("seed"),
            elapsed_s=d.get("elapsed_s"),
            meta=d.get("meta", {}),
            table=frame,
        )

    def plot(self, ax: Any = None, *, label: str | None = None, **kwargs: Any) -> Any:
        """Point estimates with confidence intervals.

        A numeric index (horizon, event time) is drawn as a line with a band, any
        other index as a forest plot. Returns the matplotlib Axes.
        """
        from trialkit._plotting import effect_plot

        return effect_plot(self.table, ax=ax, alpha=self.alpha, label=label, **kwargs)


def effect_table(
    estimate: Sequence[float] | np.ndarray,
    se: Sequence[float] | np.ndarray,
    *,
    index: Sequence[Any] | pd.Index,
    index_name: str | Sequence[str] = "term",
    n: Sequence[int] | np.ndarray | int,
    method: str,
    n_obs: int,
    alpha: float = 0.05,
    df: float | Sequence[float] | np.ndarray | None = None,
    null: float = 0.0,
    extra: Mapping[str, Sequence[Any]] | None = None,
    excluded: Sequence[Exclusion] = (),
    seed: Any = None,
    elapsed_s: float | None = None,
    meta: Mapping[str, Any] | None = None,
    cls: type[EffectTable] = EffectTable,
) -> EffectTable:
    r"""Build an :class:`EffectTable` from estimates and standard errors (Wald intervals).

    With ``df`` given the critical values and p-values come from Student's t with
    ``df`` degrees of freedom, otherwise from the standard normal:

    .. math:: \hat\theta \pm q_{1-\alpha/2}\,\widehat{se}, \qquad
              p = 2\{1 - F(|\hat\theta - \theta_0| / \widehat{se})\}.

    Parameters
    ----------
    estimate, se : array_like
        Point estimates and standard errors.
    index : sequence
        Row labels.
    index_name : str or sequence of str
        Name(s) of the index level(s).
    n : int or array_like
        Observations behind each row.
    method, n_obs, alpha, excluded, seed, elapsed_s, meta
        Passed to the result.
    df : float or array_like, optional
        Degrees of freedom for t-based intervals.
    null : float
        Value under the null hypothesis for ``p``.
    extra : mapping, optional
        Further columns (e.g. ``"df"``, ``"statistic"``).

    Examples
    --------
    >>> t = effect_table([2.0, 0.5], [1.0, 0.25], index=[12, 24], index_name="horizon",
    ...                  n=100, method="ols", n_obs=100)
    >>> [round(v, 4) for v in t.to_frame()["p"]]
    [0.0455, 0.0455]
    """
    est = np.asarray(estimate, dtype=float).reshape(-1)
    s = np.asarray(se, dtype=float).reshape(-1)
    if est.shape != s.shape:
        raise DataError(f"`estimate` and `se` differ in length: {est.size} vs {s.size}")
    if not 0 < alpha < 1:
        raise DataError(f"`alpha` must be in (0, 1); got {alpha!r}")
    if df is None:
        q = stats.norm.ppf(1 - alpha / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (est - null) / s
        p = 2 * stats.norm.sf(np.abs(z))
    else:
        dfa = np.broadcast_to(np.asarray(df, dtype=float), est.shape)
        q = stats.t.ppf(1 - alpha / 2, dfa)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (est - null) / s
        p = 2 * stats.t.sf(np.abs(z), dfa)
    n_arr = np.broadcast_to(np.asarray(n), est.shape).astype(np.int64)
    if isinstance(index, pd.Index):
        idx = index.copy()
    elif isinstance(index_name, str):
        idx = pd.Index(list(index), name=index_name)
    else:
        idx = pd.MultiIndex.from_tuples(list(index), names=list(index_name))
    if isinstance(index_name, str) and not isinstance(idx, pd.MultiIndex):
        idx = idx.rename(index_name)
    frame = pd.DataFrame(
        {
            "estimate": est,
            "se": s,
            "ci_low": est - q * s,
            "ci_high": est + q * s,
            "p": p,
            "n": n_arr,
        },
        index=idx,
    )
    for name, values in (extra or {}).items():
        frame[name] = np.asarray(values)
    m = dict(meta or {})
    m.setdefault("index_names", [str(x) for x in frame.index.names])
    m.setdefault("interval", "t" if df is not None else "normal")
    return cls(
        method=method,
        n_obs=int(n_obs),
        alpha=alpha,
        excluded=tuple(excluded),
        seed=seed,
        elapsed_s=elapsed_s,
        meta=m,
        table=frame,
    )
