"""Register scale: partitioned Parquet inputs processed partition by partition.

A national register extract (millions of persons, tens of millions of spells)
need not fit in memory at once. :func:`write_partitioned` splits persons and
spells into ``n_partitions`` buckets by person id (hive-partitioned Parquet,
column ``tk_partition``); every function here then works one bucket at a time
through the executor interface (serial, joblib or Dask) and combines the
buckets *exactly*:

* :func:`follow_up_outcomes` -- per-person outcomes by horizon, concatenated
  (identical to the in-memory :meth:`trialkit.followup.FollowUp.outcomes`);
* :func:`horizon_effects` -- differences in means by horizon from per-arm
  sufficient statistics (count, sum, sum of squares), identical to the
  in-memory difference-in-means with HC2 (Neyman) standard errors;
* :func:`state_counts` -- unit x month counts of persons in each state (the
  person-month aggregation a municipal DiD needs), summed across buckets from
  difference arrays, never expanding spells to person-months.

Needs the ``pyarrow`` package (in the ``dask`` and ``test`` extras).
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialkit._checks import require_columns, require_frame
from trialkit._parallel import map_tasks
from trialkit.errors import DataError, DesignError, ExcludedRowsWarning
from trialkit.followup._followup import STATES
from trialkit.results import EffectTable, Exclusion, effect_table

__all__ = [
    "PartitionedRegister",
    "write_partitioned",
    "follow_up_outcomes",
    "horizon_effects",
    "state_counts",
]

PARTITION = "tk_partition"  # no leading underscore: pyarrow ignores such directories
METADATA = "trialkit_partitions.json"  # number of buckets and id column, written with the data


def _plain(ids: pd.Series) -> pd.Series:
    """Categorical ids as their values (other columns unchanged)."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        return ids.astype(ids.dtype.categories.dtype)
    return ids


def _id_kind(ids: pd.Series) -> str:
    """``"number"``, ``"text"``, ``"empty"`` or another pandas inferred type of an id column."""
    ids = _plain(ids)
    if pd.api.types.is_bool_dtype(ids):
        return "boolean"
    if pd.api.types.is_numeric_dtype(ids):
        return "number"
    inferred = pd.api.types.infer_dtype(ids, skipna=True)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "number"
    if inferred == "string":
        return "text"
    return inferred


def _bucket(ids: pd.Series, n: int) -> np.ndarray:
    """Stable bucket of each id, a function of the id's VALUE, not of its dtype.

    Integer-valued numbers (whatever their dtype: int64, uint8, float64 1.0, an
    object column of Python ints) go to ``id mod n``; other numbers and text go
    to a stable 64-bit hash of the value (:func:`pandas.util.hash_array`), so a
    person and their spells land in the same bucket even when the two tables
    store the id with different dtypes.
    """
    ids = _plain(ids)
    kind = _id_kind(ids)
    if kind == "number":
        if pd.api.types.is_unsigned_integer_dtype(ids):
            return (ids.to_numpy(dtype=np.uint64) % np.uint64(n)).astype(np.int32)
        if pd.api.types.is_integer_dtype(ids):
            return (ids.to_numpy(dtype=np.int64) % n).astype(np.int32)
        f = pd.to_numeric(ids).to_numpy(dtype=np.float64)
        whole = np.isfinite(f) & (f == np.round(f)) & (np.abs(f) < 2.0**63)
        out = np.empty(len(f), dtype=np.int32)
        out[whole] = f[whole].astype(np.int64) % n
        out[~whole] = pd.util.hash_array(f[~whole]) % np.uint64(n)
        return out
    if kind == "text":
        values = ids.to_numpy(dtype=object)
        return (pd.util.hash_array(values) % np.uint64(n)).astype(np.int32)
    return (pd.util.hash_pandas_object(ids, index=False).to_numpy() % np.uint64(n)).astype(np.int32)


@dataclass(frozen=True)
class PartitionedRegister:
    """Persons and spells stored as partitioned Parquet under ``path``.

    Attributes
    ----------
    path : Path
        Directory with ``persons/`` and ``spells/`` datasets.
    n_partitions : int
        Number of person-id buckets.
    id : str
        Person identifier column.
    """

    path: Path
    n_partitions: int
    id: str = "person_id"

    @classmethod
    def open(cls, path: str | Path, *, id: str = "person_id") -> PartitionedRegister:
        """Open a register written by :func:`write_partitioned`.

        The number of buckets is read from ``trialkit_partitions.json`` (written
        by :func:`write_partitioned`); for folders written without it, it is the
        largest bucket index found plus one (buckets with no persons have no
        folder and are read as empty).
        """
        p = Path(path)
        meta_file = p / METADATA
        if meta_file.exists():
            try:
                meta = json.loads(meta_file.read_text(encoding="utf-8"))
                n = meta["n_partitions"]
            except (ValueError, KeyError, TypeError) as exc:
                raise DataError(
                    f"{meta_file} is not a trialkit partition file (needs 'n_partitions')"
                ) from exc
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise DataError(
                    f"{meta_file}: 'n_partitions' must be a positive integer; got {n!r}"
                )
            written_id = meta.get("id", id)
            if written_id != id:
                raise DataError(
                    f"{p} was written with id column {written_id!r}; open it with id={written_id!r}"
                )
            return cls(path=p, n_partitions=n, id=id)
        parts = []
        for table in ("persons", "spells"):
            for q in (p / table).glob(f"{PARTITION}=*"):
                try:
                    parts.append(int(q.name.partition("=")[2]))
                except ValueError as exc:
                    raise DataError(
                        f"{q} is not a bucket folder ({PARTITION}=<integer> expected)"
                    ) from exc
        if not parts:
            raise DataError(
                f"{p} holds no partitioned persons (expected {p}/persons/{PARTITION}=k/)"
            )
        return cls(path=p, n_partitions=max(parts) + 1, id=id)

    def _read(self, table: str, k: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        import pyarrow.parquet as pq

        directory = self.path / table / f"{PARTITION}={k}"
        if not directory.exists():
            return pd.DataFrame(columns=list(columns) if columns else None)
        frame = pq.read_table(directory, columns=list(columns) if columns else None).to_pandas()
        return frame.drop(columns=[PARTITION], errors="ignore")

    def persons(self, k: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Persons of bucket ``k``."""
        return self._read("persons", k, columns)

    def spells(self, k: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Spells of bucket ``k``."""
        return self._read("spells", k, columns)

    def end_of_data(self, *, start: str = "start", end: str = "end") -> pd.Timestamp:
        """Latest date in the spells (the extraction date), read column-wise."""
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        data = ds.dataset(self.path / "spells", format="parquet", partitioning="hive")
        tbl = data.to_table(columns=[start, end])
        hi = [pc.max(tbl[start]).as_py(), pc.max(tbl[end]).as_py()]
        return pd.Timestamp(max(v for v in hi if v is not None))


def write_partitioned(
    persons: pd.DataFrame,
    spells: pd.DataFrame,
    path: str | Path,
    *,
    n_partitions: int = 16,
    id: str = "person_id",
    overwrite: bool = False,
) -> PartitionedRegister:
    """Write persons and spells as Parquet partitioned into person-id buckets.

    Parameters
    ----------
    persons, spells : DataFrame
        The register tables; every spell's person must be in ``persons``.
    path : path
        Target directory (``persons/`` and ``spells/`` are created in it).
    n_partitions : int
        Number of buckets (person id modulo ``n_partitions`` for integer-valued
        ids, whatever their dtype; a stable hash of the value for text ids).
        Recorded in ``trialkit_partitions.json`` in ``path``, so that
        :meth:`PartitionedRegister.open` also finds buckets with no persons.
    id : str
        Person identifier column; the same kind (numbers or text) in both tables.
    overwrite : bool
        A non-empty ``path`` is refused (writing into it would add a second
        copy of the register); with ``overwrite=True`` its ``persons/``,
        ``spells/`` and ``trialkit_partitions.json`` are removed first (other
        files are left alone).

    Returns
    -------
    PartitionedRegister

    Examples
    --------
    >>> import tempfile, trialkit as tk
    >>> reg = tk.datasets.make_register(n_persons=500, seed=0, truth_n=1000)
    >>> pr = write_partitioned(reg.persons, reg.spells, tempfile.mkdtemp(), n_partitions=4)
    >>> pr.n_partitions
    4
    """
    require_frame(persons, name="persons")
    require_columns(persons, id, name="persons")
    require_columns(spells, id, name="spells")
    if not isinstance(n_partitions, int) or n_partitions < 1:
        raise DesignError(f"`n_partitions` must be a positive integer; got {n_partitions!r}")
    for name, frame in (("persons", persons), ("spells", spells)):
        missing = frame[id].isna()
        if missing.any():
            raise DataError(f"column {id!r} of `{name}` has {int(missing.sum())} missing ids")
    kinds = {
        name: _id_kind(frame[id]) for name, frame in (("persons", persons), ("spells", spells))
    }
    for name, kind in kinds.items():
        if kind not in ("number", "text", "empty"):
            raise DataError(
                f"column {id!r} of `{name}` holds {kind} values; ids must be all numbers or all text"
            )
    if "empty" not in kinds.values() and kinds["persons"] != kinds["spells"]:
        raise DataError(
            f"column {id!r} holds {kinds['persons']} ids in `persons` but {kinds['spells']} ids "
            "in `spells`; store the ids of both tables as the same kind (e.g. both integers)"
        )
    unknown = ~spells[id].isin(persons[id])
    if unknown.any():
        raise DataError(
            f"{int(unknown.sum())} spells belong to persons missing from `persons` "
            f"(ids {spells.loc[unknown, id].unique()[:5].tolist()})"
        )
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise DataError(f"`path` {str(p)!r} is a file, not a folder")
    if p.is_dir() and any(p.iterdir()):
        if not overwrite:
            raise DataError(
                f"`path` {str(p)!r} is not empty; choose a new folder or pass overwrite=True "
                "to replace the register in it"
            )
        for name in ("persons", "spells"):
            if (p / name).is_dir():
                shutil.rmtree(p / name)
            elif (p / name).exists():
                (p / name).unlink()
        (p / METADATA).unlink(missing_ok=True)
    p.mkdir(parents=True, exist_ok=True)
    for name, frame in (("persons", persons), ("spells", spells)):
        out = frame.assign(**{PARTITION: _bucket(frame[id], n_partitions)})
        out.to_parquet(p / name, partition_cols=[PARTITION], index=False)
    (p / METADATA).write_text(
        json.dumps({"n_partitions": n_partitions, "id": id, "format": 1}), encoding="utf-8"
    )
    return PartitionedRegister(path=p, n_partitions=n_partitions, id=id)


def _outcomes_part(
    k: int,
    *,
    source: PartitionedRegister,
    horizons: list[int],
    arm: str | None,
    origin: str,
    end_of_data: pd.Timestamp,
    kwargs: dict[str, Any],
) -> tuple[pd.DataFrame | None, tuple[Exclusion, ...]]:
    from trialkit.followup import follow_up

    persons = source.persons(k)
    if len(persons) == 0:
        return None, ()
    spells = source.spells(k)
    if not persons[source.id].isin(spells[source.id]).any():
        return None, (Exclusion(reason="persons without spells", n=len(persons), column=source.id),)
    f = follow_up(
        spells, persons, arm=arm, origin=origin, end_of_data=end_of_data, id=source.id, **kwargs
    )
    return f.outcomes(horizons=horizons), tuple(f.excluded)


def _combine_exclusions(groups: Sequence[Sequence[Exclusion]]) -> tuple[Exclusion, ...]:
    """Exclusions of all buckets, added up by (reason, column), in first-seen order."""
    total: dict[tuple[str, str | None], int] = {}
    for group in groups:
        for e in group:
            total[(e.reason, e.column)] = total.get((e.reason, e.column), 0) + int(e.n)
    return tuple(Exclusion(reason=r, n=n, column=c) for (r, c), n in total.items())


def _per_bucket(
    part: Any,
    source: PartitionedRegister,
    *,
    horizons: Sequence[int],
    arm: str | None,
    origin: str,
    end_of_data: Any,
    kwargs: dict[str, Any],
    backend: Any,
    n_jobs: int | None,
    progress: bool,
    desc: str,
) -> tuple[list[Any], pd.Timestamp, tuple[Exclusion, ...]]:
    """Run ``part`` (outcomes or moments) on every bucket with one end of data.

    Returns the non-empty buckets' results, the end of data and the exclusions
    of all buckets added up (persons without spells, ...), so that nothing is
    left out silently.
    """
    eod = pd.Timestamp(end_of_data) if end_of_data is not None else source.end_of_data()
    fn = partial(
        part,
        source=source,
        horizons=list(horizons),
        arm=arm,
        origin=origin,
        end_of_data=eod,
        kwargs=kwargs,
    )
    results = list(
        map_tasks(
            fn,
            range(source.n_partitions),
            backend=backend,
            n_jobs=n_jobs,
            progress=progress,
            desc=desc,
        )
    )
    excluded = _combine_exclusions([ex for _, ex in results])
    parts = [p for p, _ in results if p is not None]
    if not parts:
        raise DataError(
            f"no persons to follow up in {source.path}" + "".join(f"; {e}" for e in excluded)
        )
    return parts, eod, excluded


def follow_up_outcomes(
    source: PartitionedRegister,
    *,
    horizons: Sequence[int] = (12, 24, 36, 48, 60),
    arm: str | None = "arm",
    origin: str = "origin",
    end_of_data: Any = None,
    backend: Any = None,
    n_jobs: int | None = None,
    progress: bool = False,
    **follow_up_kwargs: Any,
) -> pd.DataFrame:
    """Per-person outcomes by horizon, computed bucket by bucket.

    Identical to ``tk.follow_up(spells, persons, ...).outcomes(horizons)`` on
    the whole register (rows sorted by person id), because each person's
    outcomes depend only on that person's spells and on the end of data, which
    is fixed once for all buckets.

    Parameters
    ----------
    source : PartitionedRegister
    horizons : sequence of int
    arm, origin : str
        Passed to :func:`trialkit.follow_up`.
    end_of_data : date, optional
        Extraction date; default: the latest date in the spells (read once).
    backend, n_jobs, progress
        Executor (see :func:`trialkit._parallel.map_tasks`).

    Returns
    -------
    DataFrame
        Indexed by person id. Persons left out (e.g. persons without spells,
        as in the in-memory :attr:`~trialkit.followup.FollowUp.excluded`) are
        listed in ``.attrs["excluded"]`` and reported by an
        :class:`~trialkit.errors.ExcludedRowsWarning`.
    """
    parts, _, excluded = _per_bucket(
        _outcomes_part,
        source,
        horizons=horizons,
        arm=arm,
        origin=origin,
        end_of_data=end_of_data,
        kwargs=follow_up_kwargs,
        backend=backend,
        n_jobs=n_jobs,
        progress=progress,
        desc="follow-up partitions",
    )
    out = pd.concat(parts).sort_index()
    if excluded:
        warnings.warn(
            "follow_up_outcomes left out " + "; ".join(str(e) for e in excluded),
            ExcludedRowsWarning,
            stacklevel=2,
        )
    out.attrs["excluded"] = [e.to_dict() for e in excluded]
    return out


def _moments_part(k: int, **kw: Any) -> tuple[pd.DataFrame | None, tuple[Exclusion, ...]]:
    out, excluded = _outcomes_part(k, **kw)
    if out is None:
        return None, excluded
    arm = kw["arm"]
    cols = [
        c
        for c in out.columns
        if c != arm
        and (pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c]))
    ]
    vals = out[cols].astype(float)
    notna = vals.notna()
    g = out[arm].astype(str)
    stats = pd.concat(
        {
            "n": notna.groupby(g).sum(),
            "sum": vals.fillna(0.0).groupby(g).sum(),
            "sumsq": (vals.fillna(0.0) ** 2).groupby(g).sum(),
        },
        names=["stat", arm],
    )
    return stats, excluded


def horizon_effects(
    source: PartitionedRegister,
    *,
    outcomes: Sequence[str] = ("employed", "months_employed"),
    horizons: Sequence[int] = (12, 24, 36, 48, 60),
    arm: str = "arm",
    control: str = "control",
    origin: str = "origin",
    end_of_data: Any = None,
    alpha: float = 0.05,
    backend: Any = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> EffectTable:
    r"""Differences in means by horizon from per-bucket sufficient statistics.

    Each bucket returns, per arm and outcome, the count of observed values,
    their sum and their sum of squares; the buckets are added and

    .. math:: \hat\tau = \bar y_1 - \bar y_0, \qquad
              \widehat{se}^2 = s_1^2 / n_1 + s_0^2 / n_0,

    the Neyman variance, which equals the HC2 variance of the regression on an
    arm indicator (so the result equals the in-memory
    :meth:`~trialkit.followup.FollowUp.effects` with ``method="difference_in_means"``).

    Returns
    -------
    EffectTable
        Indexed by (arm, outcome, horizon).
    """
    parts, eod, excluded = _per_bucket(
        _moments_part,
        source,
        horizons=horizons,
        arm=arm,
        origin=origin,
        end_of_data=end_of_data,
        kwargs={},
        backend=backend,
        n_jobs=n_jobs,
        progress=progress,
        desc="effect partitions",
    )
    total = pd.concat(parts).groupby(level=[0, 1]).sum()
    arms = sorted(total.index.get_level_values(1).unique())
    if control not in arms:
        raise DesignError(f"`control` must be one of {arms}; got {control!r}")
    rows, est, se, n = [], [], [], []
    for a in (x for x in arms if x != control):
        for name in outcomes:
            for h in horizons:
                col = f"{name}_{h}m"
                if col not in total.columns:
                    raise DataError(
                        f"outcome {col!r} is not computed; available: {list(total.columns)}"
                    )
                m = {}
                for grp in (a, control):
                    cnt = float(total.loc[("n", grp), col])
                    s1 = float(total.loc[("sum", grp), col])
                    s2 = float(total.loc[("sumsq", grp), col])
                    mean = s1 / cnt
                    var = (s2 - cnt * mean * mean) / (cnt - 1)
                    m[grp] = (cnt, mean, var)
                rows.append((a, name, h))
                est.append(m[a][1] - m[control][1])
                se.append(np.sqrt(m[a][2] / m[a][0] + m[control][2] / m[control][0]))
                n.append(int(m[a][0] + m[control][0]))
    return effect_table(
        est,
        se,
        index=rows,
        index_name=["arm", "outcome", "horizon"],
        n=n,
        method="difference_in_means (partitioned sufficient statistics)",
        n_obs=int(total.xs("n", level=0).iloc[:, 0].sum()),
        alpha=alpha,
        excluded=excluded,
        meta={
            "n_partitions": source.n_partitions,
            "end_of_data": str(eod.date()),
            "control": control,
        },
    )


def _month_index(values: pd.Series) -> np.ndarray:
    v = pd.to_datetime(values)
    return (v.dt.year.to_numpy() * 12 + v.dt.month.to_numpy() - 1).astype(np.int64)


def _counts_part(
    k: int,
    *,
    source: PartitionedRegister,
    unit: str,
    states: list[str],
    m0: int,
    n_months: int,
    units: list[Any],
) -> np.ndarray:
    persons = source.persons(k, columns=[source.id, unit])
    spells = source.spells(k, columns=[source.id, "start", "end", "state"])
    out = np.zeros((len(units), len(states), n_months + 1), dtype=np.int64)
    if len(spells) == 0:
        return out[:, :, :n_months]
    u_of = pd.Series(
        pd.Categorical(persons[unit], categories=units).codes, index=persons[source.id]
    )
    u = u_of.reindex(spells[source.id]).to_numpy()
    s = pd.Categorical(spells["state"], categories=states).codes
    first = _month_index(spells["start"]) - m0
    end = spells["end"].fillna(
        pd.Timestamp(year=(m0 + n_months) // 12, month=(m0 + n_months) % 12 + 1, day=1)
    )
    last = _month_index(end) - m0
    a = np.clip(first, 0, n_months)
    b = np.clip(last + 1, 0, n_months)
    ok = (u >= 0) & (s >= 0) & (b > a)
    np.add.at(out, (u[ok], s[ok], a[ok]), 1)
    np.add.at(out, (u[ok], s[ok], b[ok]), -1)
    return np.cumsum(out, axis=2)[:, :, :n_months]


def state_counts(
    source: PartitionedRegister,
    *,
    unit: str = "municipality",
    start: Any = "2010-01",
    end: Any = "2023-12",
    states: Sequence[str] = STATES,
    backend: Any = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Unit x month counts of persons in each state, summed over buckets.

    A person counts in a month when one of their spells covers any day of it
    (a spell from 15 March to 2 May counts in March, April and May); an open
    spell (missing end) counts to the last month. Spells are never expanded to
    person-months: each adds +1 at its first month and -1 after its last in a
    difference array, and a cumulative sum gives the counts -- integer
    arithmetic, so the buckets combine exactly.

    Returns
    -------
    DataFrame
        Columns ``unit, month`` and one count column per state.
    """
    m0 = int(_month_index(pd.Series([pd.Timestamp(start)]))[0])
    m1 = int(_month_index(pd.Series([pd.Timestamp(end)]))[0])
    if m1 < m0:
        raise DesignError(f"`end` ({end}) is before `start` ({start})")
    n_months = m1 - m0 + 1
    units = sorted(
        pd.concat([source.persons(k, columns=[unit])[unit] for k in range(source.n_partitions)])
        .unique()
        .tolist()
    )
    fn = partial(
        _counts_part,
        source=source,
        unit=unit,
        states=list(states),
        m0=m0,
        n_months=n_months,
        units=units,
    )
    total = sum(
        map_tasks(
            fn,
            range(source.n_partitions),
            backend=backend,
            n_jobs=n_jobs,
            progress=progress,
            desc="panel partitions",
        )
    )
    months = pd.period_range(pd.Timestamp(start), periods=n_months, freq="M").to_timestamp()
    idx = pd.MultiIndex.from_product([units, months], names=[unit, "month"])
    frame = pd.DataFrame(
        np.asarray(total).transpose(0, 2, 1).reshape(len(units) * n_months, len(states)),
        index=idx,
        columns=list(states),
    )
    return frame.reset_index()
