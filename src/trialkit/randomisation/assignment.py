"""``tk.randomise`` and ``tk.verify``: auditable, reproducible assignment.

Every mechanism draws from two sources only: a keyed hash of each unit's id
(the key comes from the seed) and a generator seeded from the same seed for the
few draws that are not per unit (remainder allocation, rotation). The
assignment therefore depends on the ids, the design columns and the seed --
never on the order of the rows -- and anyone holding the certificate and the
unit list can re-derive it.
"""

from __future__ import annotations

import base64
import codecs
import datetime as _dt
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, cast

import numpy as np
import pandas as pd

from trialkit._checks import (
    as_list,
    check_choice,
    require_columns,
    require_finite,
    require_frame,
    require_unique,
)
from trialkit._rng import as_seed_sequence, seed_record
from trialkit._typing import SeedLike
from trialkit._version import __version__
from trialkit.errors import DataError, DesignError
from trialkit.randomisation import _core
from trialkit.results import Result, jsonable

__all__ = [
    "randomise",
    "verify",
    "verify_details",
    "Assignment",
    "VerifyReport",
    "METHODS",
    "ALGORITHM_VERSION",
    "ArmRatioError",
]

Method = Literal[
    "complete", "bernoulli", "matched_pairs", "stepped_wedge", "lottery", "rerandomised"
]
METHODS: tuple[str, ...] = (
    "complete",
    "bernoulli",
    "matched_pairs",
    "stepped_wedge",
    "lottery",
    "rerandomised",
)
MissingStrata = Literal["error", "own_stratum"]
ALGORITHM_VERSION = "2"
SUPPORTED_VERSIONS: tuple[str, ...] = ("1", "2")


class ArmRatioError(DesignError, DataError):
    """Arm ratios that are not positive numbers (both a design and an input error)."""


_ID_HASH_KEY = "trialkit-ids-v01"  # 16 bytes: siphash key for string ids
_MISSING_LABEL = "<missing>"
_IDS_INLINE_MAX = 100_000  # above this many units, integer id lists are stored packed (base64)
_LIST_MAX = 20  # ids named in a verify report, per kind of difference
_DEFER_MIN = 500_000  # from this many units the id side runs on a second thread


# ---------------------------------------------------------------------------
# helpers: ids, codes, hashes
# ---------------------------------------------------------------------------
def _integer_ids(s: pd.Series, *, column: str) -> np.ndarray | None:
    """Integer ids as int64 (integer-valued floats included), ``None`` for string ids;
    missing ids, booleans and non-integer floats are a :class:`DataError`."""
    if s.isna().any():
        miss = int(s.isna().sum())
        raise DataError(
            f"column {column!r} (the id) has {miss} missing values; every unit needs an id"
        )
    if pd.api.types.is_bool_dtype(s):
        raise DataError(f"column {column!r} (the id) must hold integers or strings; got booleans")
    if pd.api.types.is_integer_dtype(s):
        return np.asarray(s.to_numpy()).astype(np.int64, copy=False)
    if pd.api.types.is_float_dtype(s):
        v = s.to_numpy()
        if not np.all(v == np.round(v)):
            raise DataError(
                f"column {column!r} (the id) must hold integers or strings; got non-integer floats"
            )
        return v.astype(np.int64)
    return None


def id_hash(values: pd.Series | np.ndarray, *, column: str = "id") -> tuple[np.ndarray, str]:
    """Seed-free 64-bit hash of each id and the id kind (``"int"`` or ``"str"``)."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    ints = _integer_ids(s, column=column)
    if ints is not None:
        return _core.mix64(ints.view(np.uint64)), "int"
    arr = s.astype(str).to_numpy(dtype=object)
    return pd.util.hash_array(arr, hash_key=_ID_HASH_KEY, categorize=True), "str"


def _column_codes(s: pd.Series) -> tuple[np.ndarray, list[str], np.ndarray | None]:
    """Codes in sorted order of the values (-1 for missing), the labels, and the number
    of rows with each code when it came for free (else None)."""
    if (
        pd.api.types.is_integer_dtype(s)
        and not isinstance(s.dtype, pd.CategoricalDtype)
        and not (s.hasnans if not isinstance(s.dtype, np.dtype) else False)  # nullable Int64
    ):
        v = s.to_numpy(dtype=np.int64) if not isinstance(s.dtype, np.dtype) else s.to_numpy()
        lo, hi = int(v.min()), int(v.max())
        if hi - lo < max(2**22, 4 * v.size):  # dense range: codes by lookup, O(n)
            w = v - lo if lo else v
            cnt = np.bincount(w)
            present = cnt > 0
            if lo == 0 and present.all():  # already codes 0..S-1: no lookup, no copy
                return w, [str(x) for x in range(present.size)], cnt
            lookup = (np.cumsum(present) - 1).astype(np.int32)
            return lookup[w], [str(x) for x in np.flatnonzero(present) + lo], cnt[present]
    codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)
    return codes, [str(u) for u in uniques], None


def _stratum_codes(
    data: pd.DataFrame, cols: list[str], missing: str, *, what: str = "strata"
) -> tuple[np.ndarray, list[str]]:
    """Codes ``0..S-1`` in sorted order of the stratum values, and their labels."""
    codes, labels, _ = _stratum_codes_sizes(data, cols, missing, what=what)
    return codes, labels


def _stratum_codes_sizes(
    data: pd.DataFrame, cols: list[str], missing: str, *, what: str = "strata"
) -> tuple[np.ndarray, list[str], np.ndarray | None]:
    """:func:`_stratum_codes` and the stratum sizes when they came for free (else None)."""
    n = len(data)
    if not cols:
        return np.zeros(n, dtype=np.int64), ["all"], np.asarray([n], dtype=np.int64)
    codes_list = []
    level_list = []
    for c in cols:
        s = data[c]
        miss = s.isna().to_numpy()
        if miss.any() and missing == "error":
            raise DataError(
                f"{what} column {c!r} has {int(miss.sum())} missing values; fill them, drop those "
                f"rows, or pass missing_strata='own_stratum' to make them a stratum of their own"
            )
        codes, labels, sizes = _column_codes(s)
        if miss.any():
            sizes = None
            codes = np.where(codes < 0, len(labels), codes)
            labels.append(_MISSING_LABEL)
        codes_list.append(np.asarray(codes))
        level_list.append(labels)
    if len(cols) == 1:
        return codes_list[0], level_list[0], sizes
    dims = tuple(len(lv) for lv in level_list)
    flat = np.ravel_multi_index(tuple(codes_list), dims)
    if int(np.prod(dims, dtype=np.float64)) < max(2**22, 4 * flat.size):
        present = np.bincount(flat, minlength=int(np.prod(dims))) > 0
        uniq = np.flatnonzero(present)
        codes = (np.cumsum(present) - 1).astype(np.int32)[flat]
    else:
        uniq, codes = np.unique(flat, return_inverse=True)
    parts = np.unravel_index(uniq, dims)
    labels = [
        " | ".join(level_list[j][parts[j][i]] for j in range(len(cols))) for i in range(uniq.size)
    ]
    return codes.reshape(-1), labels, None


def _multiset_hash(h0: np.ndarray, codes: np.ndarray, labels: Sequence[str]) -> str:
    """Order-free hash of the (id, label) pairs."""
    lab_h = pd.util.hash_array(np.asarray(list(labels), dtype=object), hash_key=_ID_HASH_KEY)
    v = lab_h[codes]
    v ^= h0
    v *= np.uint64(0xBF58476D1CE4E5B9)
    v ^= v >> np.uint64(31)
    s1 = np.sum(v, dtype=np.uint64)
    v *= np.uint64(0x9E3779B97F4A7C15)
    v ^= v >> np.uint64(29)
    s2 = np.bitwise_xor.reduce(v) if v.size else np.uint64(0)
    return f"{int(s1):016x}{int(s2):016x}"


def _group_hashes(h0: np.ndarray, codes: np.ndarray, n_groups: int) -> list[str]:
    """A hash of the id set of every group (sum of mixed id hashes mod 2**64)."""
    out = _core.group_sums_u64(h0, codes, n_groups)  # h0 is already a mixed 64-bit hash
    return [f"{int(x):016x}" for x in out]


def canonical_ids(values: pd.Series, kind: str) -> np.ndarray:
    """The ids as the certificate records them: int64 (``kind="int"``) or str objects."""
    if kind == "int":
        return np.asarray(values.to_numpy()).astype(np.int64, copy=False)
    return values.astype(str).to_numpy(dtype=object)


def _require_unique_ids(units: pd.DataFrame, id: str, kind: str) -> None:
    """Duplicate ids are a DataError: as given, or as the certificate records them
    (text for string ids, so that 1 and "1" are the same id)."""
    require_unique(units, id, name="units")
    canon = pd.Series(canonical_ids(units[id], kind))
    dup = canon.duplicated(keep=False).to_numpy()
    if dup.any():
        same = units.loc[dup, id].head(4).tolist()
        raise DataError(
            f"column {id!r} of `units` has values that are the same id once written as "
            f"text (the certificate records ids as text): {same}; make the ids unique"
        )


def _small_uint(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Codes ``0..n_codes-1`` in the smallest unsigned dtype that holds them."""
    dt = np.uint8 if n_codes <= 2**8 else np.uint16 if n_codes <= 2**16 else np.uint32
    return np.asarray(codes).astype(dt, copy=False)


def _sorted_ids(
    ids: np.ndarray, codes: np.ndarray | None, n_codes: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The ids in sorted order and the code of each (one sort of packed keys for ints).

    Codes come back in the smallest unsigned dtype (``None`` when ``codes`` is
    ``None`` or there is a single code).
    """
    c_bits = (n_codes - 1).bit_length() if codes is not None and n_codes > 1 else 0
    head = ids[:1025]
    if (
        ids.dtype == np.int64
        and ids.size
        and bool(np.all(head[1:] >= head[:-1]))  # cheap early out for shuffled ids
        and bool(np.all(ids[1:] >= ids[:-1]))
    ):
        # already in order (registers often are): nothing to sort
        return ids, (_small_uint(cast(np.ndarray, codes), n_codes) if c_bits else None)
    if ids.dtype == np.int64 and ids.size:
        lo = int(ids.min())
        span = int(ids.max()) - lo
        if span.bit_length() + c_bits <= 64:
            lo64, cb = np.uint64(lo & 0xFFFFFFFFFFFFFFFF), np.uint64(c_bits)
            raw = ids.view(np.uint64)
            small = _small_uint(cast(np.ndarray, codes), n_codes) if c_bits else None
            key = np.empty(ids.size, dtype=np.uint64)
            step = _core._BLOCK
            for i in range(0, ids.size, step):  # cache-sized blocks
                kb = key[i : i + step]
                np.subtract(raw[i : i + step], lo64, out=kb)  # wraps modulo 2**64: exact
                if small is not None:
                    kb <<= cb
                    kb |= small[i : i + step]
            key.sort()
            sorted_codes = None
            if c_bits:
                # the low bits of each key, read through a narrow view (no 64-bit temporary)
                w = 8 if c_bits <= 8 else 16 if c_bits <= 16 else 32
                low = key.view(np.dtype(f"<u{w // 8}"))[:: 64 // w]
                sorted_codes = _small_uint(low & ((1 << c_bits) - 1), n_codes)
            for i in range(0, ids.size, step):
                kb = key[i : i + step]
                if c_bits:
                    kb >>= cb
                kb += lo64
            return key.view(np.int64), sorted_codes
    order = np.argsort(ids, kind="stable")
    if codes is None or not c_bits:
        return ids[order], None
    return ids[order], _small_uint(np.asarray(codes)[order], n_codes)


_B64_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", dtype=np.uint8
)
_i12 = np.arange(4096)
# the two base64 characters of every 12-bit value, as the low / high half of a uint32
_B64_LO = _B64_ALPHABET[_i12 >> 6].astype(np.uint32) | (
    _B64_ALPHABET[_i12 & 63].astype(np.uint32) << np.uint32(8)
)
_B64_HI = _B64_LO << np.uint32(16)
del _i12


def _b64(raw: Any) -> str:
    """Standard base64 text of a byte buffer (the same text as :func:`base64.b64encode`).

    Large buffers are encoded with numpy, which lets go of the GIL, so the encoding
    runs beside the other thread's work instead of holding it up: every 3-byte group is
    read as a big-endian 4-byte word at a stride of 3 bytes, and its two 12-bit halves
    are looked up as character pairs, in cache-sized blocks. The last group (and any
    1-2 trailing bytes) go through :mod:`base64`.
    """
    a = np.frombuffer(memoryview(raw).cast("B"), dtype=np.uint8)
    if a.size < 1 << 20:
        return base64.b64encode(a.tobytes()).decode("ascii")
    m = a.size // 3 - 1  # groups read as words: the 4-byte read needs a byte past each
    words = np.ndarray(shape=(m,), dtype=">u4", buffer=a, strides=(3,))
    out = np.empty(m, dtype="<u4")
    step = _core._BLOCK
    w = np.empty(step, dtype=np.uint32)
    t = np.empty(step, dtype=np.uint32)
    ix = np.empty(step, dtype=np.intp)
    for i in range(0, m, step):
        j = min(i + step, m)
        wk, tk, ik, ok = w[: j - i], t[: j - i], ix[: j - i], out[i:j]
        np.copyto(wk, words[i:j])
        np.right_shift(wk, np.uint32(20), out=ik, casting="unsafe")
        np.take(_B64_LO, ik, out=ok)
        np.right_shift(wk, np.uint32(8), out=tk)
        tk &= np.uint32(4095)
        np.take(_B64_HI, tk, out=tk)
        ok |= tk
    tail = base64.b64encode(a[3 * m :].tobytes()).decode("ascii")
    return codecs.decode(out.data.cast("B"), "ascii") + tail


def _pack_ints(a: np.ndarray, *, delta: bool) -> list[Any] | dict[str, Any]:
    """A JSON-safe integer vector: a plain list when short, else little-endian bytes in base64.

    ``delta=True`` stores the gaps of a sorted int64 vector (modulo 2**64) in the
    narrowest unsigned width that holds the largest gap; it is computed in chunks, so
    no full-length 64-bit temporary is made.
    """
    a = np.asarray(a)
    if a.size <= _IDS_INLINE_MAX:
        return a.astype(np.int64).tolist()
    if not delta:
        top = int(a.max())
        width = next(w for w in (1, 2, 4, 8) if top < 2 ** (8 * w))
        dt = np.dtype(f"<u{width}")
        raw: Any = np.ascontiguousarray(a.astype(dt, copy=False)).data.cast("B")
        first = 0
    else:
        u = a.astype(np.int64, copy=False).view(np.uint64)
        first = int(a[0])
        step = _core._BLOCK
        bounds = range(1, u.size, step)
        ends = [min(i + step, u.size) for i in bounds]
        top = max(int((u[i:j] - u[i - 1 : j - 1]).max()) for i, j in zip(bounds, ends, strict=True))
        width = next(w for w in (1, 2, 4, 8) if top < 2 ** (8 * w))
        dt = np.dtype(f"<u{width}")
        d = np.empty(u.size - 1, dtype=dt)
        for i, j in zip(bounds, ends, strict=True):
            d[i - 1 : j - 1] = u[i:j] - u[i - 1 : j - 1]
        raw = d.data.cast("B")
    return {
        "encoding": "base64",
        "dtype": dt.str,
        "delta": bool(delta),
        "first": first,
        "n": int(a.size),
        "data": _b64(raw),
    }


def _unpack_ints(rec: Any) -> np.ndarray:
    """Inverse of :func:`_pack_ints` (also accepts a plain list of ids or strings)."""
    if not isinstance(rec, Mapping):
        vals = list(rec)
        if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return np.asarray(vals, dtype=np.int64)
        return np.asarray([str(v) for v in vals], dtype=object)
    d = np.frombuffer(base64.b64decode(rec["data"]), dtype=np.dtype(rec["dtype"]))
    d = d.astype(np.uint64)
    if not rec.get("delta"):
        return d.view(np.int64)
    out = np.empty(int(rec["n"]), dtype=np.uint64)
    out[0] = np.uint64(int(rec["first"]) & 0xFFFFFFFFFFFFFFFF)
    out[1:] = d
    np.cumsum(out, out=out)  # wraps modulo 2**64, as the gaps were taken
    return out.view(np.int64)


def _id_record(prep: _Prepared) -> tuple[Any, Any]:
    """Certificate fields ``ids`` (sorted) and ``id_strata`` (stratum code of each)."""
    codes = prep.unit_strata if len(prep.stratum_labels) > 1 else None
    ids, sc = _sorted_ids(cast(np.ndarray, prep.ids), codes, len(prep.stratum_labels))
    if prep.id_kind == "int":
        rec: Any = _pack_ints(ids, delta=True)
    else:
        rec = ids.tolist()
    return rec, (None if sc is None else _pack_ints(sc, delta=False))


def _seed_parts(ss: np.random.SeedSequence, draw: int) -> tuple[np.ndarray, np.random.Generator]:
    """Id-hash key words and a generator for draw number ``draw`` of a seed."""
    key_ss = np.random.SeedSequence(
        ss.entropy, spawn_key=(*ss.spawn_key, draw, 0), pool_size=ss.pool_size
    )
    gen_ss = np.random.SeedSequence(
        ss.entropy, spawn_key=(*ss.spawn_key, draw, 1), pool_size=ss.pool_size
    )
    return key_ss.generate_state(2, np.uint64), np.random.Generator(np.random.PCG64(gen_ss))


def _ss_record(ss: np.random.SeedSequence) -> dict[str, Any]:
    ent: Any = ss.entropy
    return {
        "entropy": int(ent) if np.isscalar(ent) else [int(e) for e in ent],  # type: ignore[arg-type]
        "spawn_key": [int(k) for k in ss.spawn_key],
        "pool_size": int(ss.pool_size),
    }


def _ss_from_record(rec: Any) -> np.random.SeedSequence:
    if isinstance(rec, Mapping):
        return np.random.SeedSequence(
            rec["entropy"],
            spawn_key=tuple(rec.get("spawn_key", ())),
            pool_size=rec.get("pool_size", 4),
        )
    return as_seed_sequence(rec)


# ---------------------------------------------------------------------------
# the design, resolved
# ---------------------------------------------------------------------------
@dataclass
class _Prepared:
    """Everything a draw needs, as arrays (one row per randomised unit: person or cluster)."""

    n_units: int
    h0: np.ndarray  # hash of unit ids (persons), uint64
    id_kind: str
    level_h0: np.ndarray  # hash of the randomised units (persons or clusters)
    level_of_unit: np.ndarray | None  # cluster code of each person (None: individual design)
    cluster_labels: list[str] | None
    strata: np.ndarray  # stratum code of each randomised unit
    stratum_labels: list[str]
    unit_strata: np.ndarray  # stratum code of each person
    covariates: np.ndarray | None  # person-level covariates (rerandomisation)
    ids_hash: str = ""
    ids: np.ndarray | None = None  # canonical ids (int64 or str objects), row order
    # algorithm version 2
    version: str = "1"
    level_x: np.ndarray | None = None  # 64 bits per randomised unit fed to the keyed hash
    strata_hash: str | None = None
    cluster_hash: str | None = None
    id_record: tuple[Any, Any, Any] | None = None  # certificate fields ids, id_strata, id_clusters
    sorted_ids: np.ndarray | None = None  # kept for verify's reports
    sorted_strata: np.ndarray | None = None
    sorted_clusters: np.ndarray | None = None
    level_sizes: np.ndarray | None = None  # randomised units per stratum
    pending: Any = None  # future of the id side (see _prepare_v2(defer_ids=True))


def _prepare_v1(
    units: pd.DataFrame,
    *,
    id: str,
    strata: list[str],
    cluster: str | None,
    missing_strata: str,
    covariates: list[str],
) -> _Prepared:
    require_frame(units, name="units")
    require_columns(
        units, [id, *strata, *([cluster] if cluster else []), *covariates], name="units"
    )
    h0, kind = id_hash(units[id], column=id)
    ids = canonical_ids(units[id], kind)
    srt = np.sort(h0)
    ids_hash = _core.sha256_arrays(kind, srt)
    if srt.size > 1 and np.any(srt[1:] == srt[:-1]):
        _require_unique_ids(units, id, kind)
        raise DataError(  # pragma: no cover - a 64-bit hash collision of distinct ids
            f"two distinct values of {id!r} share a 64-bit hash; rename one of them"
        )
    unit_strata, labels = _stratum_codes(units, strata, missing_strata)
    cov = _covariate_matrix(units, covariates, id=id) if covariates else None
    if cluster is None:
        return _Prepared(
            len(units),
            h0,
            kind,
            h0,
            None,
            None,
            unit_strata,
            labels,
            unit_strata,
            cov,
            ids_hash,
            ids,
        )
    cl = units[cluster]
    if cl.isna().any():
        raise DataError(
            f"cluster column {cluster!r} has {int(cl.isna().sum())} missing values; every unit "
            "must belong to a cluster"
        )
    ccode, cuniq = pd.factorize(cl, sort=True)
    n_cl = len(cuniq)
    clabels = [str(c) for c in cuniq]
    ch0, _ = id_hash(pd.Series(np.asarray(cuniq, dtype=object)).astype(str), column=cluster)
    # strata must be constant within clusters
    pair = ccode.astype(np.int64) * (len(labels) + 1) + unit_strata
    per_cluster = pd.Series(pair).groupby(ccode).nunique().to_numpy()
    if np.any(per_cluster > 1):
        bad = [clabels[i] for i in np.flatnonzero(per_cluster > 1)[:5]]
        raise DataError(
            f"strata {strata} vary within clusters of {cluster!r} (e.g. {bad}); clusters are "
            "assigned whole, so stratify them by cluster-level columns"
        )
    cstrata = np.zeros(n_cl, dtype=np.int64)
    cstrata[ccode] = unit_strata
    return _Prepared(
        len(units),
        h0,
        kind,
        ch0,
        ccode.astype(np.int64),
        clabels,
        cstrata,
        labels,
        unit_strata,
        cov,
        ids_hash,
        ids,
    )


def _covariate_matrix(
    units: pd.DataFrame, covariates: list[str], *, id: str | None = None
) -> np.ndarray:
    """The re-randomisation covariates as a float matrix: numeric, complete and finite."""
    from trialkit._checks import require_no_missing, require_numeric

    require_numeric(units, covariates, name="units")
    require_no_missing(units, covariates, name="units", id=id)
    require_finite(units, covariates, name="units")
    return units[covariates].to_numpy(dtype=float)


def _covariate_rank(units: pd.DataFrame, covariates: list[str]) -> int:
    """Rank of the covariance of the re-randomisation covariates (the chi-square df per arm).

    Constant or collinear covariates leave fewer dimensions than columns; none left
    is a :class:`DesignError` naming the covariates.
    """
    require_columns(units, covariates, name="units")
    X = _covariate_matrix(units, covariates)
    if X.shape[0] < 2:
        return len(covariates)
    _, rank = _core.covariance_span(np.cov(X, rowvar=False))
    if rank == 0:
        raise DesignError(
            f"re-randomisation covariates {covariates} are constant; there is nothing to balance"
        )
    return rank


def _mahalanobis(cov: np.ndarray, t: np.ndarray) -> float:
    r"""Morgan & Rubin (2012) :math:`M = (\bar x_1-\bar x_0)'[S(1/n_1+1/n_0)]^{-1}(\bar x_1-\bar x_0)`."""
    n1 = t.sum()
    n0 = t.size - n1
    d = cov[t].mean(axis=0) - cov[~t].mean(axis=0)
    S = np.atleast_2d(np.cov(cov, rowvar=False))
    pinv, _ = _core.covariance_span(S)
    if pinv is not None:  # constant or collinear covariates: distance on their span
        return float(d @ pinv @ d / (1 / n1 + 1 / n0))
    return float(d @ np.linalg.solve(S * (1 / n1 + 1 / n0), d))


@dataclass(frozen=True)
class _Design:
    method: str
    arms: tuple[str, ...]
    ratios: tuple[int, ...]
    counts: tuple[int, ...] | None  # explicit counts (stepped wedge clusters_per_step, lottery)
    steps: tuple[str, ...] | None
    rerandomise: Mapping[str, Any] | None


def _draw_once_v1(
    prep: _Prepared, design: _Design, ss: np.random.SeedSequence, draw: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One draw of the mechanism: arm codes of the randomised units (+ order keys)."""
    key, rng = _seed_parts(ss, draw)
    u = _core.keyed_uniform_keys(prep.level_h0, key)
    if design.method == "bernoulli":
        r = np.asarray(design.ratios, dtype=float)
        return _core.bernoulli_codes(u, r / r.sum()), u, None
    S = len(prep.stratum_labels)
    sizes = np.bincount(prep.strata, minlength=S)
    r = np.asarray(design.ratios, dtype=np.int64)
    if design.counts is not None and S == 1:
        counts = np.asarray(design.counts, dtype=np.int64)[None, :]
    else:
        counts = _core.stratified_counts(sizes, r, rng)
    codes, order = _core.assign_by_counts(prep.strata, u, counts)
    return codes, u, order


def _assignment_hash_v1(
    prep: _Prepared, codes: np.ndarray, order: np.ndarray | None
) -> tuple[str, np.ndarray | None]:
    """SHA-256 of (unit hash, arm) pairs in a canonical order: the draw's own order
    (stratum, then keyed hash), a function of ids, strata and seed only, or the id-hash order.

    Also returns the unit hashes in the draw's order (``None`` without one).
    """
    if order is None:
        srt = np.argsort(prep.level_h0)
        return _core.sha256_arrays(
            "assignment", prep.level_h0[srt], codes[srt].astype(np.int16)
        ), None
    h_sorted = prep.level_h0[order]
    # in the draw's order the arms run stratum by stratum, arm by arm (assign_by_counts), so
    # codes[order] is rebuilt from the counts without a gather
    S = len(prep.stratum_labels)
    k = int(codes.max()) + 1 if codes.size else 1
    counts = np.bincount(prep.strata * k + codes, minlength=S * k)
    sorted_codes = np.repeat(np.tile(np.arange(k, dtype=np.int16), S), counts)
    return _core.sha256_arrays("assignment", h_sorted, sorted_codes), h_sorted


def _run_design_v1(
    prep: _Prepared, design: _Design, ss: np.random.SeedSequence
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], np.ndarray | None]:
    info: dict[str, Any] = {}
    if design.method != "rerandomised":
        codes, u, order = _draw_once_v1(prep, design, ss, 0)
        return codes, u, info, order
    rule = design.rerandomise or {}
    threshold = float(rule["threshold"])
    max_draws = int(rule["max_draws"])
    assert prep.covariates is not None
    for d in range(max_draws):
        codes, u, order = _draw_once_v1(prep, design, ss, d)
        unit_codes = codes if prep.level_of_unit is None else codes[prep.level_of_unit]
        m = _mahalanobis(prep.covariates, unit_codes == 1)
        if m <= threshold:
            info.update(accepted_draw=d, mahalanobis=m)
            return codes, u, info, order
    raise DesignError(
        f"re-randomisation found no draw with Mahalanobis distance <= {threshold:.4g} in "
        f"{max_draws} draws; raise `acceptance` or `max_draws`"
    )


# ---------------------------------------------------------------------------
# algorithm version 2: one hash per unit, cut points instead of an argsort
# ---------------------------------------------------------------------------
def _id_bits(s: pd.Series, *, column: str) -> tuple[str, np.ndarray, np.ndarray | None]:
    """Id kind, the 64 bits per unit fed to the keyed hash, and the string-id hash (or None).

    Integer ids enter with their own bits (no copy); string ids through a seed-free
    64-bit hash.
    """
    ints = _integer_ids(s, column=column)
    if ints is not None:
        return "int", ints.view(np.uint64), None
    h0, kind = id_hash(s, column=column)
    return kind, h0, h0


def _labels_text(labels: Sequence[str]) -> str:
    return json.dumps([str(x) for x in labels], ensure_ascii=False)


def _prepare_v2(
    units: pd.DataFrame,
    *,
    id: str,
    strata: list[str],
    cluster: str | None,
    missing_strata: str,
    covariates: list[str],
    keep_sorted: bool = False,
    defer_ids: bool = False,
) -> _Prepared:
    """Validate and code the design columns; one sort of the ids gives the id record,
    the id and strata hashes and the duplicate check (with ``defer_ids``, on a second
    thread for large inputs: call :func:`_finish_ids` before using them)."""
    require_frame(units, name="units")
    require_columns(
        units, [id, *strata, *([cluster] if cluster else []), *covariates], name="units"
    )
    kind, x, h0 = _id_bits(units[id], column=id)
    ids = x.view(np.int64) if kind == "int" else canonical_ids(units[id], kind)
    unit_strata, labels, unit_sizes = _stratum_codes_sizes(units, strata, missing_strata)
    S = len(labels)
    cov = _covariate_matrix(units, covariates, id=id) if covariates else None
    ccode = None
    clabels: list[str] | None = None
    level_x = x
    level_strata = unit_strata
    cstrata = None
    if cluster is not None:
        cl = units[cluster]
        if cl.isna().any():
            raise DataError(
                f"cluster column {cluster!r} has {int(cl.isna().sum())} missing values; every unit "
                "must belong to a cluster"
            )
        ccode, cuniq = pd.factorize(cl, sort=True)
        clabels = [str(c) for c in cuniq]
        n_cl = len(clabels)
        level_x, _ = id_hash(pd.Series(clabels, dtype=object), column=cluster)
        first = np.full(n_cl, -1, dtype=np.int64)
        first[ccode[::-1]] = np.asarray(unit_strata)[::-1]  # the stratum of a (first) member
        cstrata = first
        if np.any(cstrata[ccode] != unit_strata):
            per_cluster = pd.Series(unit_strata).groupby(ccode).nunique().to_numpy()
            bad = [clabels[i] for i in np.flatnonzero(per_cluster > 1)[:5]]
            raise DataError(
                f"strata {strata} vary within clusters of {cluster!r} (e.g. {bad}); clusters are "
                "assigned whole, so stratify them by cluster-level columns"
            )
        level_strata = cstrata
    # canonical (sorted) order of the ids, with the stratum or cluster code of each
    rec_codes, n_rec = (unit_strata, S) if ccode is None else (ccode, len(clabels or []))

    def id_side(
        slot: _JobSlot | None = None,
    ) -> dict[str, Any]:
        return _id_side(
            units,
            id=id,
            kind=kind,
            ids=ids,
            h0=h0,
            rec_codes=rec_codes,
            n_rec=n_rec,
            cstrata=cstrata,
            labels=labels,
            clabels=clabels,
            strata=bool(strata),
            cluster=cluster is not None,
            keep_sorted=keep_sorted,
            slot=slot,
        )

    prep = _Prepared(
        len(units),
        cast(np.ndarray, h0),
        kind,
        level_x,
        None if ccode is None else ccode.astype(np.int64),
        clabels,
        level_strata,
        labels,
        unit_strata,
        cov,
        "",
        ids,
        version="2",
        level_x=level_x,
        level_sizes=(
            np.asarray(unit_sizes, dtype=np.int64)
            if unit_sizes is not None and cluster is None
            else np.bincount(level_strata, minlength=S)
        ),
    )
    if defer_ids and len(units) >= _DEFER_MIN:
        # the sort, hashes and record of the ids do not feed the draw: they run on a
        # second thread (numpy's sort and hashlib release the GIL) while the caller draws
        slot = _JobSlot()

        def run() -> dict[str, Any]:
            try:
                return id_side(slot)
            finally:
                slot.ready.set()  # also when the id side fails before sorting

        pool = ThreadPoolExecutor(max_workers=1)
        prep.pending = (pool.submit(run), slot)
        pool.shutdown(wait=False)
    else:
        _fill_id_side(prep, id_side())
    return prep


class _JobSlot:
    """One job handed between two threads: published by one, run by whichever takes it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.job: Callable[[], dict[str, Any]] | None = None
        self.ready = threading.Event()

    def publish(self, job: Callable[[], dict[str, Any]]) -> None:
        with self.lock:
            self.job = job
        self.ready.set()

    def take(self) -> Callable[[], dict[str, Any]] | None:
        with self.lock:
            job, self.job = self.job, None
        return job


class _SortedInts:
    """Sorted int64 ids and the code of each, held either as arrays or as one sorted
    vector of packed keys ``(id - lo) << c_bits | code`` (read block by block, never
    unpacked unless asked)."""

    def __init__(self, ids: np.ndarray, codes: np.ndarray | None, n_codes: int) -> None:
        self.n = ids.size
        self.n_codes = n_codes
        self.c_bits = (n_codes - 1).bit_length() if codes is not None and n_codes > 1 else 0
        self.ids: np.ndarray | None = None
        self.codes: np.ndarray | None = None
        self.key: np.ndarray | None = None
        self._users = 2  # the id part and the codes part: the keys go when both are done
        self._lock = threading.Lock()
        head = ids[:1025]
        if ids.size == 0 or (
            bool(np.all(head[1:] >= head[:-1])) and bool(np.all(ids[1:] >= ids[:-1]))
        ):  # already in order (registers often are): nothing to sort
            self.ids = ids
            self.codes = _small_uint(cast(np.ndarray, codes), n_codes) if self.c_bits else None
            return
        self.lo = int(ids.min())
        span = int(ids.max()) - self.lo
        if span.bit_length() + self.c_bits > 64:  # pragma: no cover - ids spanning 2**64
            self.ids, self.codes = _sorted_ids(ids, codes, n_codes)
            return
        lo64, cb = np.uint64(self.lo & 0xFFFFFFFFFFFFFFFF), np.uint64(self.c_bits)
        raw = ids.view(np.uint64)
        key = np.empty(ids.size, dtype=np.uint64)
        step = _core._BLOCK
        tmp = np.empty(min(step, ids.size), dtype=np.uint64)
        for i in range(0, ids.size, step):  # cache-sized blocks
            kb = key[i : i + step]
            np.subtract(raw[i : i + step], lo64, out=kb)  # wraps modulo 2**64: exact
            if self.c_bits:  # codes are 0 .. n_codes-1: read in their own dtype, no copy
                t = tmp[: kb.size]
                np.copyto(t, cast(np.ndarray, codes)[i : i + step], casting="unsafe")
                kb <<= cb
                kb |= t
        key.sort()
        self.key = key

    def release(self) -> None:
        """One of the two readers is done; the packed keys are freed after the second."""
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self.key = None

    def id_block(self, i: int, j: int) -> np.ndarray:
        """The sorted ids ``i .. j-1`` as uint64 bits (a new array)."""
        if self.key is None:
            return cast(np.ndarray, self.ids)[i:j].view(np.uint64).copy()
        b = self.key[i:j] >> np.uint64(self.c_bits)
        b += np.uint64(self.lo & 0xFFFFFFFFFFFFFFFF)
        return b

    def sorted_ids(self) -> np.ndarray:
        if self.ids is None:
            self.ids = self.id_block(0, self.n).view(np.int64)
        return self.ids

    def sorted_codes(self) -> np.ndarray | None:
        """Code of each sorted id, in the smallest unsigned dtype (None: one code)."""
        if self.codes is None and self.key is not None and self.c_bits:
            # the low bits of each key, read through a narrow view (no 64-bit temporary)
            w = 8 if self.c_bits <= 8 else 16 if self.c_bits <= 16 else 32
            low = self.key.view(np.dtype(f"<u{w // 8}"))[:: 64 // w]
            self.codes = _small_uint(low & ((1 << self.c_bits) - 1), self.n_codes)
        return self.codes

    def gaps(self) -> tuple[int, np.ndarray, bool]:
        """First id, the gaps between consecutive sorted ids (modulo 2**64) in the
        narrowest unsigned width that holds the largest, and whether any gap is 0
        (a duplicate id). One blocked pass over the sorted keys (a second one only when
        a gap needs more than 8 bits)."""
        n = self.n
        if n <= 1:
            first = int(self.id_block(0, 1).view(np.int64)[0]) if n else 0
            return first, np.zeros(0, dtype=np.uint8), False
        src = self.key if self.key is not None else cast(np.ndarray, self.ids).view(np.uint64)
        cb = np.uint64(self.c_bits if self.key is not None else 0)
        first = int(self.id_block(0, 1).view(np.int64)[0])
        step = _core._BLOCK
        sh = np.empty(step + 1, dtype=np.uint64)
        d = np.empty(step, dtype=np.uint64)

        def block(i: int) -> np.ndarray:  # gaps i-1 .. j-2 (ids i-1 .. j-1)
            j = min(i + step, n)
            s_ = sh[: j - i + 1]
            np.right_shift(src[i - 1 : j], cb, out=s_)
            dd = d[: j - i]
            np.subtract(s_[1:], s_[:-1], out=dd)
            return dd

        # optimistic one-pass: gaps written as one byte each (registers' ids are dense);
        # a second pass in the width the largest gap needs only when one is wider
        top, low = 0, 1
        out = np.empty(n - 1, dtype=np.uint8)
        for i in range(1, n, step):
            dd = block(i)
            top = max(top, int(dd.max()))
            low = min(low, int(dd.min()))
            np.copyto(out[i - 1 : i - 1 + dd.size], dd, casting="unsafe")
        width = next(w for w in (1, 2, 4, 8) if top < 2 ** (8 * w))
        if width > 1:
            out = np.empty(n - 1, dtype=np.dtype(f"<u{width}"))
            for i in range(1, n, step):
                dd = block(i)
                np.copyto(out[i - 1 : i - 1 + dd.size], dd, casting="unsafe")
        return first, out, low == 0


def _b64_record(a: np.ndarray, *, delta: bool, first: int, n: int) -> dict[str, Any]:
    """The packed form of :func:`_pack_ints` from an already narrowed vector."""
    return {
        "encoding": "base64",
        "dtype": a.dtype.str,
        "delta": bool(delta),
        "first": first,
        "n": int(n),
        "data": _b64(np.ascontiguousarray(a).data.cast("B")),
    }


def _id_side(
    units: pd.DataFrame,
    *,
    id: str,
    kind: str,
    ids: np.ndarray,
    h0: np.ndarray | None,
    rec_codes: np.ndarray,
    n_rec: int,
    cstrata: np.ndarray | None,
    labels: list[str],
    clabels: list[str] | None,
    strata: bool,
    cluster: bool,
    keep_sorted: bool,
    slot: _JobSlot | None = None,
) -> dict[str, Any]:
    """One sort of the ids: the duplicate check, the id / strata / cluster hashes and the
    compact id record.

    The fields that need only the code of each sorted id (strata and cluster hashes and
    records) come from a job published in ``slot`` as soon as the ids are sorted: the
    calling thread (in :func:`_finish_ids`) or this one, whichever is free first, runs
    it. Without ``slot`` they are computed here.
    """
    S = len(labels)
    if kind == "int":
        srt = _SortedInts(ids, rec_codes, n_rec)

        def get_codes() -> np.ndarray | None:
            try:
                return srt.sorted_codes()
            finally:
                srt.release()

    else:
        sh = np.sort(cast(np.ndarray, h0))
        dup = bool(sh.size > 1 and np.any(sh[1:] == sh[:-1]))
        ids_hash = _core.sha256_arrays(kind, sh)
        sids, scodes0 = _sorted_ids(ids, rec_codes, n_rec)

        def get_codes() -> np.ndarray | None:
            return scodes0

    def codes_side() -> dict[str, Any]:
        scodes = get_codes()
        if scodes is None:
            scodes = np.zeros(len(ids), dtype=np.uint8)
        sstrata = scodes if cstrata is None else _small_uint(cstrata[scodes], S)
        return {
            "strata_hash": (
                _core.sha256_arrays("strata/2", _labels_text(labels), sstrata) if strata else None
            ),
            "cluster_hash": (
                _core.sha256_arrays("clusters/2", _labels_text(clabels or []), scodes)
                if cluster
                else None
            ),
            "id_strata": _pack_ints(sstrata, delta=False) if S > 1 else None,
            "id_clusters": _pack_ints(scodes, delta=False) if cluster else None,
            "sorted_strata": sstrata if keep_sorted else None,
            "sorted_clusters": scodes if keep_sorted and cluster else None,
        }

    out: dict[str, Any] = {}
    if slot is not None:
        slot.publish(codes_side)
    if kind == "int":
        # ids hash: SHA-256 of the first sorted id and the gaps (an exact, compact
        # encoding of the sorted ids; the gaps are also the packed record)
        first, gaps, dup = srt.gaps()
        ids_hash = _core.sha256_arrays("ids/2g", kind, np.asarray([first], dtype=np.int64), gaps)
    if dup:
        _require_unique_ids(units, id, kind)
        raise DataError(  # pragma: no cover - a 64-bit hash collision of distinct ids
            f"two distinct values of {id!r} share a 64-bit hash; rename one of them"
        )
    if kind == "int":
        if len(ids) <= _IDS_INLINE_MAX or keep_sorted:
            sids = srt.sorted_ids()
        srt.release()
        id_rec: Any = (
            sids.tolist()
            if len(ids) <= _IDS_INLINE_MAX
            else _b64_record(gaps, delta=True, first=first, n=len(ids))
        )
    else:
        id_rec = sids.tolist()
    out.update(ids_hash=ids_hash, id_rec=id_rec, sorted_ids=sids if keep_sorted else None)
    job = codes_side if slot is None else slot.take()
    if job is not None:
        out.update(job())
    return out


def _fill_id_side(prep: _Prepared, fields: Mapping[str, Any]) -> None:
    f = dict(fields)
    prep.id_record = (f.pop("id_rec"), f.pop("id_strata"), f.pop("id_clusters"))
    for name, value in f.items():
        setattr(prep, name, value)
    prep.pending = None


def _finish_ids(prep: _Prepared) -> None:
    """Wait for the id side of :func:`_prepare_v2` (re-raising its DataError); the
    calling thread computes the strata / cluster fields from the sorted ids meanwhile."""
    if prep.pending is not None:
        (fut, slot), prep.pending = prep.pending, None
        slot.ready.wait()
        fields: dict[str, Any] = {}
        job = slot.take()
        if job is not None:
            try:
                fields.update(job())
            except BaseException:
                fut.result()  # an error of the id side takes precedence
                raise
        fields.update(fut.result())
        _fill_id_side(prep, fields)


def _balance_statistic(cov: np.ndarray, codes: np.ndarray, k: int) -> float:
    r"""Pooled Mahalanobis balance statistic of ``k`` arms (Morgan & Rubin 2012, sec. 6).

    :math:`M = \sum_j n_j (\bar x_j - \bar x)' S^{-1} (\bar x_j - \bar x)` with
    :math:`S` the sample covariance of the covariates. With two arms it equals
    :math:`(\bar x_1-\bar x_0)'[S(1/n_1+1/n_0)]^{-1}(\bar x_1-\bar x_0)`; under
    complete randomisation it is approximately :math:`\chi^2_{K(k-1)}`.
    """
    n = codes.size
    nj = np.bincount(codes, minlength=k).astype(float)
    sums = np.stack(
        [np.bincount(codes, weights=cov[:, c], minlength=k) for c in range(cov.shape[1])], axis=1
    )
    d = sums / nj[:, None] - cov.mean(axis=0)[None, :]
    S = np.atleast_2d(np.cov(cov, rowvar=False))
    pinv, _ = _core.covariance_span(S)
    # constant or collinear covariates: the distance on their span (pseudo-inverse)
    sol = np.linalg.solve(S, d.T) if pinv is None else pinv @ d.T  # (K, k)
    del n
    return float(np.sum(nj * np.einsum("jc,cj->j", d, sol)))


def _canonical_codes(prep: _Prepared, codes: np.ndarray) -> np.ndarray:
    """Arm codes of the randomised units in canonical order (sorted ids, or cluster labels)."""
    if prep.level_of_unit is not None:  # clusters are coded in sorted order of their labels
        return codes.astype(np.int16)
    order = np.argsort(cast(np.ndarray, prep.ids), kind="stable")
    return codes[order].astype(np.int16)


def _draw_once_v2(
    prep: _Prepared, design: _Design, ss: np.random.SeedSequence, draw: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One draw: arm codes of the randomised units, the key words, counts and a fingerprint.

    The fingerprint (hashed into the certificate) is the key of the first unit of
    every arm boundary in each stratum (Bernoulli: the arm codes in canonical order).
    """
    key, rng = _seed_parts(ss, draw)
    x = cast(np.ndarray, prep.level_x)
    S = len(prep.stratum_labels)
    k = len(design.arms)
    if design.method == "bernoulli":
        u = _core.unit_keys(x, key)
        r = np.asarray(design.ratios, dtype=float)
        codes = _core.bernoulli_codes(u, r / r.sum()).astype(np.int8)
        del u
        counts = np.bincount(prep.strata.astype(np.int64) * k + codes, minlength=S * k).reshape(
            S, k
        )
        if prep.level_of_unit is None and prep.id_kind == "int":
            # the codes are a function of the id alone: evaluate them on the sorted ids
            sx = np.sort(cast(np.ndarray, prep.ids)).view(np.uint64)
            fingerprint = _core.bernoulli_codes(_core.unit_keys(sx, key), r / r.sum())
            return codes, key, counts, fingerprint.astype(np.int16)
        return codes, key, counts, _canonical_codes(prep, codes)
    sizes = cast(np.ndarray, prep.level_sizes)
    r = np.asarray(design.ratios, dtype=np.int64)
    if design.counts is not None and S == 1:
        counts = np.asarray(design.counts, dtype=np.int64)[None, :]
    else:
        counts = _core.stratified_counts(sizes, r, rng)
    codes, fingerprint = _core.assign_by_keyed_histogram(prep.strata, x, key, counts)
    return codes, key, counts, fingerprint


def _run_design_v2(
    prep: _Prepared, design: _Design, ss: np.random.SeedSequence
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], np.ndarray, np.ndarray]:
    info: dict[str, Any] = {}
    if design.method != "rerandomised":
        codes, key, counts, fp = _draw_once_v2(prep, design, ss, 0)
        return codes, key, info, counts, fp
    rule = design.rerandomise or {}
    threshold = float(rule["threshold"])
    max_draws = int(rule["max_draws"])
    cov = cast(np.ndarray, prep.covariates)
    k = len(design.arms)
    for d in range(max_draws):
        codes, key, counts, fp = _draw_once_v2(prep, design, ss, d)
        unit_codes = codes if prep.level_of_unit is None else codes[prep.level_of_unit]
        m = _balance_statistic(cov, unit_codes.astype(np.intp), k)
        if m <= threshold:
            info.update(accepted_draw=d, mahalanobis=m)
            return codes, key, info, counts, fp
    raise DesignError(
        f"re-randomisation found no draw with Mahalanobis distance <= {threshold:.4g} in "
        f"{max_draws} draws; raise `acceptance` or `max_draws`"
    )


def _assignment_hash_v2(
    prep: _Prepared, design: _Design, counts: np.ndarray, fingerprint: np.ndarray
) -> str:
    """SHA-256 of what fixes the assignment given the ids: the id, strata and cluster
    hashes, the arms, the counts per stratum and arm, and the draw's fingerprint."""
    return _core.sha256_arrays(
        "assignment/2",
        prep.ids_hash,
        prep.strata_hash or "",
        prep.cluster_hash or "",
        _labels_text(design.arms),
        np.ascontiguousarray(counts, dtype=np.int64),
        np.ascontiguousarray(fingerprint),
    )


def _covariates_hash_v2(prep: _Prepared) -> str | None:
    if prep.covariates is None:
        return None
    order = np.argsort(cast(np.ndarray, prep.ids), kind="stable")
    return _core.sha256_arrays("covariates/2", prep.covariates[order])


# ---------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, eq=False)
class Assignment(Result):
    """The outcome of :func:`randomise`: the assignment table and its certificate.

    Attributes
    ----------
    table : DataFrame
        One row per unit, in the row order of the input: the id column (under its
        own name), ``arm``, ``stratum``, ``probability`` (of the arm received),
        and ``cluster``, ``step``, ``waitlist_position`` where the design uses them.
    certificate : dict
        JSON-safe record from which :func:`verify` re-derives the assignment.
    """

    title: ClassVar[str] = "Randomisation"

    table: pd.DataFrame
    certificate: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        cert = dict(self.certificate)
        # the id lists are JSON-safe already (ints, strs or a base64 record): no round trip
        big = {k: cert.pop(k) for k in ("ids", "id_strata", "id_clusters") if k in cert}
        object.__setattr__(self, "certificate", {**json.loads(json.dumps(cert)), **big})

    def to_frame(self) -> pd.DataFrame:
        """Copy of the assignment table."""
        return self.table.copy()

    def counts(self) -> pd.DataFrame:
        """Units per stratum (rows) and arm (columns)."""
        return pd.crosstab(self.table["stratum"], self.table["arm"], dropna=False)

    def _payload(self) -> dict[str, Any]:
        return {"certificate": dict(self.certificate), "counts": jsonable(self.counts())}

    def summary(self) -> str:
        lines = self._header()
        lines.append(f"Arms:          {list(self.certificate['arms'])}")
        lines.append(f"Strata:        {len(self.certificate['stratum_labels'])}")
        lines.append(f"Assignment:    {self.certificate['assignment_hash'][:16]}...")
        tot = self.table["arm"].value_counts(sort=False)
        lines.append("")
        lines.append(tot.to_string())
        return "\n".join(lines)

    def save_certificate(self, path: str) -> str:
        """Write the certificate as JSON to ``path``; returns the path."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(dict(self.certificate), fh, indent=2, sort_keys=True)
            fh.write("\n")
        return path

    def balance(self, units: pd.DataFrame, covariates: Sequence[str], **kwargs: Any) -> Any:
        """Covariate balance of this assignment (see :func:`trialkit.randomisation.balance`)."""
        from trialkit.randomisation.diagnostics import balance

        return balance(units, covariates=covariates, assignment=self, **kwargs)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Bar chart of units per arm."""
        from trialkit._plotting import get_ax

        ax = get_ax(ax)
        vc = self.table["arm"].value_counts(sort=False)
        ax.bar([str(i) for i in vc.index], vc.to_numpy(), **kwargs)
        ax.set_ylabel("units")
        return ax


# ---------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------
def _parse_arms(
    arms: Sequence[str] | Mapping[str, float] | None, default: Sequence[str]
) -> tuple[tuple[str, ...], np.ndarray]:
    if arms is None:
        arms = list(default)
    if isinstance(arms, Mapping):
        names = tuple(str(a) for a in arms)
        raw = list(arms.values())
        for a, v in zip(names, raw, strict=True):
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float, np.integer, np.floating))
                or not np.isfinite(v)
                or v <= 0
            ):
                raise ArmRatioError(f"arm ratios must be positive numbers; got {v!r} for arm {a!r}")
        try:
            r = _core.integer_ratios(raw)
        except ValueError as exc:
            raise DesignError(f"`arms` ratios are too fine-grained: {exc}") from exc
    else:
        if isinstance(arms, str):
            raise DesignError(
                f"`arms` must be a list of arm names or a mapping arm -> ratio; got {arms!r}"
            )
        names = tuple(str(a) for a in arms)
        r = np.ones(len(names), dtype=np.int64)
    if len(names) < 2:
        raise DesignError(f"`arms` needs at least two arms; got {list(names)}")
    if len(set(names)) != len(names):
        raise DesignError(f"`arms` must be distinct; got {list(names)}")
    return names, r


def randomise(
    units: pd.DataFrame,
    *,
    id: str = "person_id",
    arms: Sequence[str] | Mapping[str, float] | None = None,
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    method: Method = "complete",
    seed: SeedLike = None,
    steps: int | Sequence[Any] | None = None,
    clusters_per_step: Sequence[int] | None = None,
    capacity: int | None = None,
    covariates: Sequence[str] | None = None,
    acceptance: float | None = None,
    threshold: float | None = None,
    max_draws: int = 10_000,
    missing_strata: MissingStrata = "error",
) -> Assignment:
    r"""Randomise units (persons, or whole clusters) to arms, reproducibly and auditably.

    Parameters
    ----------
    units : DataFrame
        One row per unit.
    id : str
        Column of unique unit ids (integers or strings).
    arms : list of str or mapping arm -> ratio
        Arm names (equal allocation) or allocation ratios, e.g.
        ``{"control": 2, "treatment": 1}``. Default ``["control", "treatment"]``
        (``["offer", "waitlist"]`` for a lottery; not used by ``stepped_wedge``).
    strata : str or list of str, optional
        Columns whose combinations form the strata (blocks). With ``cluster``
        they must be constant within each cluster.
    cluster : str, optional
        Column of clusters (municipalities, offices) assigned as wholes.
    method : {"complete", "bernoulli", "matched_pairs", "stepped_wedge", "lottery", "rerandomised"}
        ``complete``: exact counts in every stratum (remainders allocated at
        random so overall counts balance too). ``bernoulli``: independent draws
        with the ratios as probabilities. ``matched_pairs``: ``strata`` name the
        pairs (sets), each holding exactly one unit (or cluster) per arm.
        ``stepped_wedge``: every cluster gets the service; the start step is
        random, with equal numbers of clusters per step (or ``clusters_per_step``).
        ``lottery``: ``capacity`` offers, the rest form a randomly ordered
        wait-list. ``rerandomised``: complete randomisation redrawn until the
        Mahalanobis balance statistic of ``covariates`` is at most the threshold
        (Morgan & Rubin 2012), with any number of arms: the pooled statistic
        :math:`M = \sum_j n_j (\bar x_j - \bar x)' S^{-1} (\bar x_j - \bar x)`,
        which for two arms is Morgan and Rubin's :math:`M`; the rule is recorded
        and :func:`randomisation_test` redraws under it.
    seed : int, Generator, SeedSequence or None
        ``None`` draws fresh entropy; it is recorded in the certificate.
    steps : int or list, optional
        ``stepped_wedge``: number of steps, or their labels (e.g. start months).
    clusters_per_step : list of int, optional
        ``stepped_wedge``: exact number of clusters starting at each step.
    capacity : int, optional
        ``lottery``: number of places offered.
    covariates : list of str, optional
        ``rerandomised``: covariates of the balance criterion.
    acceptance : float, optional
        ``rerandomised``: acceptance probability :math:`p_a`; the threshold is the
        :math:`p_a` quantile of :math:`\chi^2_{K(k-1)}` (``K`` the rank of the
        covariates' covariance, their number unless some are constant or
        collinear; ``k`` arms), the asymptotic distribution of :math:`M` under
        complete randomisation. With a singular covariance :math:`M` uses its
        pseudo-inverse (the distance on the covariates' span); constant
        covariates only are a :class:`DesignError`. Default 0.1 unless ``threshold``.
    threshold : float, optional
        ``rerandomised``: accept when :math:`M \le` threshold.
    max_draws : int
        ``rerandomised``: give up after this many draws.
    missing_strata : {"error", "own_stratum"}
        Missing values in strata columns are an error, or a stratum of their own.

    Returns
    -------
    Assignment
        ``.table`` and ``.certificate``.

    Raises
    ------
    DataError
        Duplicate or missing ids, missing strata or cluster values, strata varying
        within clusters, an empty table, a stratum with fewer units than arms,
        non-positive ratios (:class:`ArmRatioError`, also a ``DesignError``).
    DesignError
        Unknown method, arguments the method does not use, impossible steps or capacity.

    Notes
    -----
    Each unit gets a key :math:`u_i = h_K(\mathrm{id}_i)` from a keyed 64-bit
    hash whose key comes from the seed; within each stratum the units ordered by
    :math:`u_i` take the arm labels, so the assignment never depends on row order.
    Counts: :func:`trialkit.randomisation._core.stratified_counts`. Every unit's
    probability of arm :math:`j` is :math:`r_j/\sum r` (``bernoulli``: the
    normalised ratio), recorded in ``table["probability"]``.

    Algorithm version 2 (recorded in the certificate; version-1 certificates
    still verify): :math:`u_i = \mathrm{mix}(\mathrm{id}_i \oplus k)` with the
    SplitMix64 finaliser (Steele, Lea & Flood 2014) -- integer ids enter with
    their own bits, string ids through a seed-free 64-bit hash. The units are
    not sorted: a histogram of (stratum, leading bits of :math:`u_i`) locates
    the bucket holding each boundary between arms, and only the units of those
    buckets are ordered exactly (the same assignment as ordering by
    :math:`u_i`; :func:`trialkit.randomisation._core.assign_by_histogram`). The certificate's ``ids_hash`` is the SHA-256 of the sorted
    ids (integer ids: the first one and the gaps), ``strata_hash`` / ``cluster_hash`` of each sorted id's stratum /
    cluster code, and ``assignment_hash`` of those hashes, the counts per
    stratum and arm and the key of the first unit of each arm in each stratum
    (Bernoulli: the arm of each unit in sorted order).

    References
    ----------
    Morgan, K. L. & Rubin, D. B. (2012). Rerandomization to improve covariate
    balance in experiments. *Annals of Statistics* 40(2), 1263-1282.

    Steele, G. L., Lea, D. & Flood, C. H. (2014). Fast splittable pseudorandom
    number generators. *OOPSLA 2014*, 453-472.

    Examples
    --------
    >>> import pandas as pd
    >>> units = pd.DataFrame({"person_id": range(10), "band": ["a"] * 6 + ["b"] * 4})
    >>> a = randomise(units, strata="band", seed=0)
    >>> a.table.groupby("stratum", observed=True)["arm"].value_counts().tolist()
    [3, 3, 2, 2]
    """
    t0 = time.perf_counter()
    check_choice("method", method, METHODS)
    check_choice("missing_strata", missing_strata, ["error", "own_stratum"])
    strata_cols = as_list(strata)
    cov_cols = as_list(covariates)
    if not isinstance(units, pd.DataFrame):
        raise DataError(f"`units` must be a pandas DataFrame; got {type(units).__name__}")
    if len(units) == 0:
        raise DataError("`units` has no rows: nothing to randomise")

    def _forbid(name: str, value: Any, allowed_for: str) -> None:
        if value is not None:
            raise DesignError(
                f"`{name}` is only used with method={allowed_for}; got {name}={value!r} with method={method!r}"
            )

    if method != "stepped_wedge":
        _forbid("steps", steps, "'stepped_wedge'")
        _forbid("clusters_per_step", clusters_per_step, "'stepped_wedge'")
    if method != "lottery":
        _forbid("capacity", capacity, "'lottery'")
    if method != "rerandomised":
        _forbid("covariates", covariates, "'rerandomised'")
        _forbid("acceptance", acceptance, "'rerandomised'")
        _forbid("threshold", threshold, "'rerandomised'")

    counts_fixed: tuple[int, ...] | None = None
    step_labels: tuple[str, ...] | None = None
    rer: dict[str, Any] | None = None
    default_arms: Sequence[str] = ("control", "treatment")
    if method == "stepped_wedge":
        if arms is not None:
            raise DesignError(
                "`arms` is not used with method='stepped_wedge'; give `steps` instead"
            )
        if steps is None:
            raise DesignError("method='stepped_wedge' needs `steps` (a number or a list of labels)")
        if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
            if steps < 2:
                raise DesignError(f"`steps` must be at least 2; got {steps!r}")
            step_labels = tuple(str(i) for i in range(1, int(steps) + 1))
        else:
            step_labels = tuple(str(s) for s in steps)  # type: ignore[union-attr]
            if len(step_labels) < 2 or len(set(step_labels)) != len(step_labels):
                raise DesignError(
                    f"`steps` must list at least two distinct labels; got {list(step_labels)}"
                )
        names, r = step_labels, np.ones(len(step_labels), dtype=np.int64)
    else:
        if method == "lottery":
            default_arms = ("offer", "waitlist")
        names, r = _parse_arms(arms, default_arms)
    prep = _prepare_v2(
        units,
        id=id,
        strata=strata_cols,
        cluster=cluster,
        missing_strata=missing_strata,
        covariates=cov_cols,
        defer_ids=True,
    )
    try:
        n_level = prep.level_h0.size
        level_word = "clusters" if cluster else "units"
        S = len(prep.stratum_labels)
        sizes = cast(np.ndarray, prep.level_sizes)

        if method == "stepped_wedge":
            assert step_labels is not None
            if clusters_per_step is not None:
                cps = [int(c) for c in clusters_per_step]
                if len(cps) != len(step_labels) or any(c < 0 for c in cps) or sum(cps) != n_level:
                    raise DesignError(
                        f"`clusters_per_step` must give one non-negative count per step summing to the "
                        f"{n_level} {level_word}; got {cps}"
                    )
                if S > 1:
                    raise DesignError("`clusters_per_step` cannot be combined with `strata`")
                counts_fixed = tuple(cps)
            elif n_level < len(step_labels):
                raise DesignError(f"{n_level} {level_word} cannot fill {len(step_labels)} steps")
        elif method == "lottery":
            if (
                capacity is None
                or isinstance(capacity, bool)
                or not isinstance(capacity, (int, np.integer))
            ):
                raise DesignError(f"method='lottery' needs an integer `capacity`; got {capacity!r}")
            if len(names) != 2:
                raise DesignError(f"a lottery has two arms (offer, wait-list); got {list(names)}")
            if not 0 < capacity < n_level:
                raise DesignError(
                    f"`capacity` must be between 1 and {n_level - 1} ({level_word}); got {capacity}"
                )
            g = np.gcd(int(capacity), n_level - int(capacity))
            r = np.asarray([int(capacity) // g, (n_level - int(capacity)) // g], dtype=np.int64)
            if S == 1:
                counts_fixed = (int(capacity), n_level - int(capacity))
        elif method == "rerandomised":
            from scipy import stats

            if not cov_cols:
                raise DesignError(
                    "method='rerandomised' needs `covariates` for its balance criterion"
                )
            if acceptance is not None and threshold is not None:
                raise DesignError("give either `acceptance` or `threshold`, not both")
            if threshold is None:
                pa = 0.1 if acceptance is None else float(acceptance)
                if not 0 < pa <= 1:
                    raise DesignError(f"`acceptance` must be in (0, 1]; got {acceptance!r}")
                df = _covariate_rank(units, cov_cols) * (len(names) - 1)
                threshold = float(stats.chi2.ppf(pa, df)) if pa < 1 else float("inf")
            elif not threshold > 0:
                raise DesignError(f"`threshold` must be > 0; got {threshold!r}")
            if (
                isinstance(max_draws, bool)
                or not isinstance(max_draws, (int, np.integer))
                or max_draws < 1
            ):
                raise DesignError(f"`max_draws` must be a positive integer; got {max_draws!r}")
            rer = {
                "criterion": "mahalanobis",
                "covariates": cov_cols,
                "acceptance": acceptance
                if acceptance is not None
                else (0.1 if threshold is None else None),
                "threshold": threshold,
                "max_draws": int(max_draws),
                "statistic": (
                    "M = sum_j n_j (xbar_j - xbar)' S^-1 (xbar_j - xbar) over all arms "
                    "(two arms: Morgan-Rubin M)"
                ),
                "rule": "accept the first draw d = 0, 1, ... with M_d <= threshold",
            }
        if method == "matched_pairs":
            if not strata_cols:
                raise DesignError(
                    "method='matched_pairs' needs `strata` naming the pair (or set) of each unit"
                )
            bad = np.flatnonzero(sizes != len(names))
            if bad.size:
                raise DataError(
                    f"method='matched_pairs' needs exactly {len(names)} {level_word} per pair; pairs "
                    f"{[prep.stratum_labels[i] for i in bad[:5]]} have {sizes[bad[:5]].tolist()}"
                )
            if np.any(r != 1):
                raise DesignError(
                    "method='matched_pairs' needs equal allocation (one unit per arm in each pair)"
                )
        if method in ("complete", "rerandomised", "matched_pairs"):
            small = np.flatnonzero(sizes < len(names))
            if small.size:
                raise DataError(
                    f"{small.size} strata have fewer {level_word} than the {len(names)} arms, e.g. "
                    f"{[prep.stratum_labels[i] for i in small[:5]]} with {sizes[small[:5]].tolist()}; "
                    "merge small strata or use fewer strata columns"
                )

        ss = as_seed_sequence(seed)
        design = _Design(
            method, tuple(names), tuple(int(x) for x in r), counts_fixed, step_labels, rer
        )
        codes, key, info, counts, fingerprint = _run_design_v2(prep, design, ss)
        # the table needs no id-side field: build it while the second thread works
        table = _build_table(units, id, prep, design, codes, key, cluster)
    except BaseException:
        _finish_ids(prep)  # a duplicate-id DataError takes precedence
        raise
    _finish_ids(prep)
    cert = _certificate(
        prep,
        design,
        counts,
        fingerprint,
        ss,
        id=id,
        strata=strata_cols,
        cluster=cluster,
        missing_strata=missing_strata,
        info=info,
    )
    del fingerprint
    return Assignment(
        method=method,
        n_obs=len(units),
        seed=seed_record(ss),
        elapsed_s=time.perf_counter() - t0,
        meta={"arms": list(names), "strata": strata_cols, "cluster": cluster, **info},
        table=table,
        certificate=cert,
    )


def _probabilities(design: _Design, n_level: int) -> np.ndarray:
    r = np.asarray(design.ratios, dtype=float)
    if design.counts is not None:
        return np.asarray(design.counts, dtype=float) / n_level
    return r / r.sum()


def _build_table(
    units: pd.DataFrame,
    id: str,
    prep: _Prepared,
    design: _Design,
    codes: np.ndarray,
    key: np.ndarray,
    cluster: str | None,
) -> pd.DataFrame:
    n_level = prep.level_h0.size
    probs = _probabilities(design, n_level)
    unit_codes = codes if prep.level_of_unit is None else codes[prep.level_of_unit]
    cols: dict[str, Any] = {id: units[id].to_numpy()}
    # codes are valid by construction: skip pandas' validation passes
    cols["arm"] = pd.Categorical.from_codes(
        unit_codes, categories=list(design.arms), validate=False
    )
    cols["stratum"] = pd.Categorical.from_codes(
        prep.unit_strata, categories=list(prep.stratum_labels), validate=False
    )
    if np.all(probs == probs[0]):
        cols["probability"] = np.full(unit_codes.size, probs[0])
    else:
        cols["probability"] = probs[unit_codes]
    if cluster is not None:
        cols["cluster"] = units[cluster].to_numpy()
    if design.method == "stepped_wedge":
        cols["step"] = unit_codes.astype(np.int64) + 1
    if design.method == "lottery":
        u = _core.unit_keys(cast(np.ndarray, prep.level_x), key)  # full keys: no ties
        wait = codes == 1
        pos = np.full(n_level, np.nan)
        order = np.argsort(u[wait])
        ranks = np.empty(order.size)
        ranks[order] = np.arange(1, order.size + 1)
        pos[wait] = ranks
        cols["waitlist_position"] = pos if prep.level_of_unit is None else pos[prep.level_of_unit]
    return pd.DataFrame(cols, index=units.index, copy=False)


def _certificate(
    prep: _Prepared,
    design: _Design,
    counts: np.ndarray,
    fingerprint: np.ndarray,
    ss: np.random.SeedSequence,
    *,
    id: str,
    strata: list[str],
    cluster: str | None,
    missing_strata: str,
    info: Mapping[str, Any],
) -> dict[str, Any]:
    ids_rec, id_strata, id_clusters = prep.id_record or (None, None, None)
    cert: dict[str, Any] = {
        "certificate": "trialkit.randomisation",
        "algorithm": f"trialkit.randomisation/{design.method}",
        "algorithm_version": ALGORITHM_VERSION,
        "trialkit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "method": design.method,
        "seed": _ss_record(ss),
        "id": id,
        "id_kind": prep.id_kind,
        "n_units": int(prep.n_units),
        "ids_hash": prep.ids_hash,
        "arms": list(design.arms),
        "ratios": list(design.ratios),
        "fixed_counts": list(design.counts) if design.counts is not None else None,
        "strata": strata,
        "missing_strata": missing_strata,
        "stratum_labels": list(prep.stratum_labels),
        "strata_hash": prep.strata_hash,
        "stratum_sizes": counts.sum(axis=1).tolist(),
        "ids": ids_rec,
        "id_strata": id_strata,
        "cluster": cluster,
        "n_clusters": int(prep.level_h0.size) if cluster else None,
        "cluster_labels": list(prep.cluster_labels or []) if cluster else None,
        "cluster_hash": prep.cluster_hash,
        "id_clusters": id_clusters,
        "steps": list(design.steps) if design.steps else None,
        "rerandomisation": dict(design.rerandomise) if design.rerandomise else None,
        "covariates_hash": _covariates_hash_v2(prep),
        "draw": jsonable(dict(info)),
        "counts": counts.tolist(),
        "assignment_hash": _assignment_hash_v2(prep, design, counts, fingerprint),
    }
    return cert


# ---------------------------------------------------------------------------
# verification
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify_details`: ``ok`` and a list of what differs."""

    ok: bool
    differences: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return "assignment verified: it re-derives exactly from the certificate"
        return "assignment NOT verified:\n" + "\n".join(f"  - {d}" for d in self.differences)


def _load_certificate(certificate: Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(certificate, (str, bytes)) or hasattr(certificate, "__fspath__"):
        where = os.fsdecode(os.fspath(certificate))  # type: ignore[arg-type]
        if not os.path.exists(where):
            raise DataError(f"certificate file {where!r} does not exist")
        if not os.path.isfile(where):
            raise DataError(f"certificate file {where!r} is not a file")
        with open(certificate, encoding="utf-8") as fh:  # type: ignore[arg-type]
            try:
                certificate = json.load(fh)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DataError(
                    f"certificate file {str(certificate)!r} is not JSON ({exc}); "
                    "pass the CERT.json written by `trialkit randomise --certificate`"
                ) from exc
    if (
        not isinstance(certificate, Mapping)
        or certificate.get("certificate") != "trialkit.randomisation"
    ):
        raise DataError("`certificate` is not a trialkit randomisation certificate")
    return dict(certificate)


def verify_details(units: pd.DataFrame, certificate: Mapping[str, Any] | str) -> VerifyReport:
    """Re-derive the assignment from ``certificate`` and say what differs, if anything.

    Examples
    --------
    >>> import pandas as pd
    >>> units = pd.DataFrame({"person_id": range(8)})
    >>> cert = randomise(units, seed=1).certificate
    >>> print(verify_details(units.iloc[1:], cert).differences[0])
    ids changed: 8 units in the certificate, 7 now (1 fewer)
    """
    cert = _load_certificate(certificate)
    version = cert.get("algorithm_version")
    if version not in SUPPORTED_VERSIONS:
        return VerifyReport(
            False,
            (
                f"certificate made by algorithm version {version!r}; this trialkit verifies "
                f"versions {list(SUPPORTED_VERSIONS)}",
            ),
        )
    if version == "1":
        return _verify_v1(units, cert)
    return _verify_v2(units, cert)


def _certificate_columns(cert: Mapping[str, Any]) -> tuple[str, list[str], str | None, list[str]]:
    """The id, strata, cluster and re-randomisation covariate columns a certificate names."""
    rer = cert.get("rerandomisation") or None
    covs = list(rer["covariates"]) if rer else []
    return cert["id"], list(cert["strata"]), cert["cluster"], covs


def _verify_v1(units: pd.DataFrame, cert: dict[str, Any]) -> VerifyReport:
    """Verification of a certificate made by algorithm version 1 (trialkit 0.1)."""
    diffs: list[str] = []
    id_col, strata, cluster, covs = _certificate_columns(cert)
    try:
        require_frame(units, name="units")
        require_columns(
            units, [id_col, *strata, *([cluster] if cluster else []), *covs], name="units"
        )
        prep = _prepare_v1(
            units,
            id=id_col,
            strata=strata,
            cluster=cluster,
            missing_strata=cert["missing_strata"],
            covariates=covs,
        )
    except DataError as exc:
        return VerifyReport(False, (str(exc),))
    if prep.ids_hash != cert["ids_hash"]:
        diffs.append(_ids_changed_line(cert, prep.n_units))
        if cert.get("ids") is not None:
            diffs.extend(_id_differences(prep, cert))
    if (
        strata
        and _multiset_hash(prep.h0, prep.unit_strata, prep.stratum_labels) != cert["strata_hash"]
    ):
        old = cert["stratum_labels"]
        msg, added, removed = _strata_changed_line(old, prep.stratum_labels)
        if not (added or removed) and cert.get("stratum_id_hashes"):
            now = _group_hashes(prep.level_h0, prep.strata, len(prep.stratum_labels))
            changed = [
                lab for lab, a, b in zip(old, cert["stratum_id_hashes"], now, strict=True) if a != b
            ]
            msg += f": membership differs in {len(changed)} strata, e.g. {changed[:5]}"
        diffs.append(msg)
        moved = _strata_moves(prep, cert)
        if moved:
            diffs.append(moved)
    if (
        cluster
        and _multiset_hash(prep.h0, prep.level_of_unit, prep.cluster_labels or [])  # type: ignore[arg-type]
        != cert["cluster_hash"]
    ):
        diffs.append(f"clusters changed: membership of {cluster!r} differs from the certificate")
    if prep.covariates is not None:
        ch = _core.sha256_arrays("covariates", prep.covariates[np.argsort(prep.h0)])
        if ch != cert["covariates_hash"]:
            diffs.append(f"re-randomisation covariates {covs} differ from those used")
    design = _design_from_certificate(cert)
    if not diffs:
        try:
            codes, _, _, order = _run_design_v1(prep, design, _ss_from_record(cert["seed"]))
        except DesignError as exc:
            return VerifyReport(False, (str(exc),))
        if _assignment_hash_v1(prep, codes, order)[0] != cert["assignment_hash"]:
            diffs.append(
                "the re-derived assignment differs from the certified one (assignment hash)"
            )
    return VerifyReport(not diffs, tuple(diffs))


def _verify_v2(units: pd.DataFrame, cert: dict[str, Any]) -> VerifyReport:
    """Verification of a certificate made by algorithm version 2."""
    diffs: list[str] = []
    id_col, strata, cluster, covs = _certificate_columns(cert)
    try:
        prep = _prepare_v2(
            units,
            id=id_col,
            strata=strata,
            cluster=cluster,
            missing_strata=cert["missing_strata"],
            covariates=covs,
            keep_sorted=True,
        )
    except DataError as exc:
        return VerifyReport(False, (str(exc),))
    now_ids = cast(np.ndarray, prep.sorted_ids)
    old_ids = None
    if cert.get("ids") is not None and (
        prep.ids_hash != cert["ids_hash"]
        or (strata and prep.strata_hash != cert["strata_hash"])
        or (cluster and prep.cluster_hash != cert["cluster_hash"])
    ):  # the id record is read only to say what differs
        old_ids = _unpack_ints(cert["ids"])
        if prep.id_kind == "str":
            old_ids = np.asarray([str(v) for v in old_ids], dtype=object)
    ids_changed = prep.ids_hash != cert["ids_hash"]
    if ids_changed:
        diffs.append(_ids_changed_line(cert, prep.n_units))
        if old_ids is not None:
            diffs.extend(_id_lines(old_ids, now_ids))
    if strata and prep.strata_hash != cert["strata_hash"]:
        old = list(cert["stratum_labels"])
        msg, added, removed = _strata_changed_line(old, prep.stratum_labels)
        line = None
        if old_ids is not None:
            old_codes = (
                _unpack_ints(cert["id_strata"])
                if cert.get("id_strata") is not None
                else np.zeros(old_ids.size, dtype=np.int64)
            )
            line, touched = _moves(
                old_ids,
                old_codes,
                old,
                now_ids,
                cast(np.ndarray, prep.sorted_strata),
                prep.stratum_labels,
                noun="strata",
            )
            if not (added or removed):
                msg += f": membership differs in {len(touched)} strata, e.g. {touched[:5]}"
        if line or added or removed or old_ids is None or not ids_changed:
            diffs.append(msg)  # (otherwise the ids added / removed say it all)
        if line:
            diffs.append(line)
    if cluster and prep.cluster_hash != cert["cluster_hash"]:
        old_cl = [str(c) for c in cert.get("cluster_labels") or []]
        now_cl = list(prep.cluster_labels or [])
        msg = f"clusters changed: membership of {cluster!r} differs from the certificate"
        added = [c for c in now_cl if c not in old_cl]
        removed = [c for c in old_cl if c not in now_cl]
        if added or removed:
            msg += f"; clusters added {added[:_LIST_MAX]}, removed {removed[:_LIST_MAX]}"
        line = None
        if old_ids is not None and cert.get("id_clusters") is not None:
            line, touched = _moves(
                old_ids,
                _unpack_ints(cert["id_clusters"]),
                old_cl,
                now_ids,
                cast(np.ndarray, prep.sorted_clusters),
                now_cl,
                noun="cluster",
            )
            more = f", ... ({len(touched) - _LIST_MAX} more)" if len(touched) > _LIST_MAX else ""
            shown = ", ".join(repr(t) for t in touched[:_LIST_MAX])
            msg += f"; members differ in {len(touched)} clusters: [{shown}{more}]"
        if line or added or removed or old_ids is None or not ids_changed:
            diffs.append(msg)
        if line:
            diffs.append(line)
    if prep.covariates is not None and _covariates_hash_v2(prep) != cert["covariates_hash"]:
        diffs.append(f"re-randomisation covariates {covs} differ from those used")
    if not diffs:
        design = _design_from_certificate(cert)
        try:
            _, _, _, counts, fp = _run_design_v2(prep, design, _ss_from_record(cert["seed"]))
        except DesignError as exc:
            return VerifyReport(False, (str(exc),))
        if _assignment_hash_v2(prep, design, counts, fp) != cert["assignment_hash"]:
            diffs.append(
                "the re-derived assignment differs from the certified one (assignment hash)"
            )
    return VerifyReport(not diffs, tuple(diffs))


def _ids_changed_line(cert: Mapping[str, Any], n_now: int) -> str:
    d = n_now - int(cert["n_units"])
    what = f" ({abs(d)} {'more' if d > 0 else 'fewer'})" if d else " (same number, different ids)"
    return f"ids changed: {cert['n_units']} units in the certificate, {n_now} now{what}"


def _strata_changed_line(
    old: Sequence[str], now: Sequence[str]
) -> tuple[str, list[str], list[str]]:
    """The "strata changed" line, with the stratum labels added and removed."""
    added = [x for x in now if x not in old]
    removed = [x for x in old if x not in now]
    msg = "strata changed"
    if added or removed:
        msg += f": strata added {added[:5]}, removed {removed[:5]}"
    return msg, added, removed


def _design_from_certificate(cert: Mapping[str, Any]) -> _Design:
    return _Design(
        cert["method"],
        tuple(cert["arms"]),
        tuple(cert["ratios"]),
        tuple(cert["fixed_counts"]) if cert.get("fixed_counts") else None,
        tuple(cert["steps"]) if cert.get("steps") else None,
        cert.get("rerandomisation") or None,
    )


def _comparable(old: np.ndarray, now: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if now.dtype != old.dtype:  # int ids certified, str ids now (or back): compare as text
        now, old = now.astype(str).astype(object), old.astype(str).astype(object)
    return old, now


def _id_lines(old: np.ndarray, now: np.ndarray) -> list[str]:
    """Lines naming the ids added and removed since the certificate (first 20 of each)."""
    old, now = _comparable(old, now)
    i_old, i_now = _match(old, now)
    added = np.sort(np.delete(now, i_now))
    removed = np.sort(np.delete(old, i_old))
    out = []
    if added.size:
        out.append(f"ids added ({added.size}): {_fmt(added)}")
    if removed.size:
        out.append(f"ids removed ({removed.size}): {_fmt(removed)}")
    return out


def _moves(
    old_ids: np.ndarray,
    old_codes: np.ndarray,
    old_labels: Sequence[str],
    now_ids: np.ndarray,
    now_codes: np.ndarray,
    now_labels: Sequence[str],
    *,
    noun: str,
) -> tuple[str | None, list[str]]:
    """Units (present then and now) whose group (stratum or cluster) changed, and the
    labels of every group whose set of members differs (moves, additions, removals)."""
    old_ids, now_ids = _comparable(old_ids, now_ids)
    i_old, i_now = _match(old_ids, now_ids)
    old_lab = np.asarray(list(old_labels) + ["<none>"], dtype=object)
    now_lab = np.asarray(list(now_labels) + ["<none>"], dtype=object)
    pos = {lab: j for j, lab in enumerate(old_labels)}
    lookup = np.asarray([pos.get(lab, -1) for lab in now_labels], dtype=np.int64)
    oc = np.asarray(old_codes, dtype=np.int64)
    nc = np.asarray(now_codes, dtype=np.int64)
    changed = oc[i_old] != lookup[nc[i_now]]
    gone = np.ones(old_ids.size, dtype=bool)
    gone[i_old] = False
    new = np.ones(now_ids.size, dtype=bool)
    new[i_now] = False
    touched = set(old_lab[oc[i_old][changed]].tolist()) | set(now_lab[nc[i_now][changed]].tolist())
    touched |= set(old_lab[np.unique(oc[gone])].tolist()) | set(
        now_lab[np.unique(nc[new])].tolist()
    )
    touched_list = sorted(touched)
    if not changed.any():
        return None, touched_list
    idx = np.flatnonzero(changed)
    order = np.argsort(old_ids[i_old[idx]], kind="stable")
    idx = idx[order]
    shown = []
    for j in idx[:_LIST_MAX]:
        v = old_ids[i_old[j]]
        v = v.item() if isinstance(v, np.generic) else v
        shown.append(f"{v!r}: {old_lab[oc[i_old[j]]]!r} -> {now_lab[nc[i_now[j]]]!r}")
    more = f", ... ({idx.size - _LIST_MAX} more)" if idx.size > _LIST_MAX else ""
    return f"{noun} changed for {idx.size} units: [{', '.join(shown)}{more}]", touched_list


def _rederive(units: pd.DataFrame, certificate: Mapping[str, Any] | str) -> pd.DataFrame:
    """The id and arm of every unit as the certificate's algorithm assigns them (no checks
    beyond the design's own); for audits and tests."""
    cert = _load_certificate(certificate)
    id_col, strata, cluster, covs = _certificate_columns(cert)
    kw = dict(
        id=id_col,
        strata=strata,
        cluster=cluster,
        missing_strata=cert["missing_strata"],
        covariates=covs,
    )
    design = _design_from_certificate(cert)
    ss = _ss_from_record(cert["seed"])
    if cert["algorithm_version"] == "1":
        prep = _prepare_v1(units, **kw)  # type: ignore[arg-type]
        codes = _run_design_v1(prep, design, ss)[0]
    else:
        prep = _prepare_v2(units, **kw)  # type: ignore[arg-type]
        codes = _run_design_v2(prep, design, ss)[0]
    unit_codes = codes if prep.level_of_unit is None else codes[prep.level_of_unit]
    return pd.DataFrame(
        {
            cert["id"]: units[cert["id"]].to_numpy(),
            "arm": pd.Categorical.from_codes(unit_codes, categories=list(design.arms)),
        },
        index=units.index,
    )


def _fmt(values: np.ndarray) -> str:
    shown = ", ".join(
        repr(v.item() if isinstance(v, np.generic) else v) for v in values[:_LIST_MAX]
    )
    more = f", ... ({values.size - _LIST_MAX} more)" if values.size > _LIST_MAX else ""
    return f"[{shown}{more}]"


def _match(old: np.ndarray, now: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``old`` and in ``now`` of the ids in both (hash join; ids are unique)."""
    pos = pd.Index(old).get_indexer(now)
    i_now = np.flatnonzero(pos >= 0)
    return pos[i_now], i_now


def _id_differences(prep: _Prepared, cert: Mapping[str, Any]) -> list[str]:
    """Lines naming the ids added and removed since the certificate (first 20 of each)."""
    old = _unpack_ints(cert["ids"]) if prep.id_kind == "int" else None
    if old is None or old.dtype != np.int64:
        old = np.asarray([str(v) for v in _unpack_ints(cert["ids"])], dtype=object)
    now, _ = _sorted_ids(prep.ids, None, 1)  # type: ignore[arg-type]
    if now.dtype != old.dtype:  # int ids certified, str ids now (or back): compare as text
        now, old = now.astype(str).astype(object), old.astype(str).astype(object)
        now.sort()
        old.sort()
    i_old, i_now = _match(old, now)
    added = np.delete(now, i_now)
    removed = np.delete(old, i_old)
    out = []
    if added.size:
        out.append(f"ids added ({added.size}): {_fmt(added)}")
    if removed.size:
        out.append(f"ids removed ({removed.size}): {_fmt(removed)}")
    return out


def _strata_moves(prep: _Prepared, cert: Mapping[str, Any]) -> str | None:
    """A line naming the units (present then and now) whose stratum changed, or None."""
    if cert.get("ids") is None or "id_strata" not in cert:
        return None
    old_ids = _unpack_ints(cert["ids"])
    old_labels = list(cert["stratum_labels"])
    if cert["id_strata"] is None:  # one stratum when certified
        old_codes = np.zeros(old_ids.size, dtype=np.int64)
    else:
        old_codes = _unpack_ints(cert["id_strata"])
    now_ids, now_codes = _sorted_ids(prep.ids, prep.unit_strata, len(prep.stratum_labels))  # type: ignore[arg-type]
    if now_codes is None:
        now_codes = np.zeros(now_ids.size, dtype=np.int64)
    if now_ids.dtype != old_ids.dtype:
        return None
    i_old, i_now = _match(old_ids, now_ids)
    # the current labels as codes of the certified labels (-1: a label new since then)
    pos = {lab: j for j, lab in enumerate(old_labels)}
    lookup = np.asarray([pos.get(lab, -1) for lab in prep.stratum_labels], dtype=np.int64)
    changed = old_codes[i_old] != lookup[now_codes[i_now]]
    if not changed.any():
        return None
    idx = np.flatnonzero(changed)
    shown = [
        f"{old_ids[i_old[j]].item() if isinstance(old_ids[i_old[j]], np.generic) else old_ids[i_old[j]]!r}: {old_labels[old_codes[i_old[j]]]!r} -> "
        f"{prep.stratum_labels[now_codes[i_now[j]]]!r}"
        for j in idx[:_LIST_MAX]
    ]
    more = f", ... ({idx.size - _LIST_MAX} more)" if idx.size > _LIST_MAX else ""
    return f"strata changed for {idx.size} units: [{', '.join(shown)}{more}]"


def verify(units: pd.DataFrame, certificate: Mapping[str, Any] | str) -> bool:
    """True when the assignment re-derives exactly from ``certificate`` for these units.

    Parameters
    ----------
    units : DataFrame
        The units that were randomised (with the id, strata, cluster and
        re-randomisation covariate columns named in the certificate).
    certificate : dict or path
        :attr:`Assignment.certificate` or a path to its JSON file.

    Returns
    -------
    bool
        ``True`` only on an exact match of ids, design columns and assignment.
        :func:`verify_details` says what differs.

    Examples
    --------
    >>> import pandas as pd
    >>> units = pd.DataFrame({"person_id": range(20), "band": ["a", "b"] * 10})
    >>> a = randomise(units, strata="band", seed=3)
    >>> verify(units.sample(frac=1, random_state=1), a.certificate)
    True
    >>> verify(units.assign(band="a"), a.certificate)
    False
    """
    return verify_details(units, certificate).ok
