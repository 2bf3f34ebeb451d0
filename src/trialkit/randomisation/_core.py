"""Numerics of randomisation: id hashing, allocation, variance estimators, permutation draws.

Pure functions, numpy in and numpy out. The classes in :mod:`assignment`,
:mod:`estimators`, :mod:`balance` and :mod:`inference` validate inputs and
assemble results around them.

Notation follows the papers cited in each docstring: ``n_s`` units in stratum
``s``, arms ``j = 0 .. k-1`` with integer ratios ``r_j`` (block length
``B = sum_j r_j``), ``z`` arm codes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from math import gcd

import numpy as np

__all__ = [
    "group_sums_u64",
    "mix64",
    "mix64_inplace",
    "unit_keys",
    "assign_by_histogram",
    "assign_by_keyed_histogram",
    "keyed_uniform_keys",
    "integer_ratios",
    "balanced_sequence",
    "stratified_counts",
    "assign_by_counts",
    "bernoulli_codes",
    "sha256_arrays",
    "sorted_group_sums_u64",
    "ols_robust",
    "neyman_dim",
    "blocked_dim",
    "linear_statistic_coefficients",
    "permute_within",
    "covariance_span",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


# ---------------------------------------------------------------------------
# hashing
# ---------------------------------------------------------------------------
def mix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (Steele, Lea & Flood 2014) applied elementwise.

    A bijection of ``uint64`` with good avalanche; arithmetic wraps modulo 2**64.
    """
    z = np.asarray(x, dtype=np.uint64) + _GOLDEN  # new array; the rest works in place
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


_BLOCK = 1 << 15  # elements per cache-sized block of the elementwise passes


def mix64_inplace(z: np.ndarray) -> np.ndarray:
    """:func:`mix64` computed in place on a ``uint64`` array; returns ``z``.

    Works in cache-sized blocks with one scratch buffer, so the eight passes of
    the finaliser stay in cache (about three times faster than whole-array passes).
    """
    tmp = np.empty(min(_BLOCK, z.size), dtype=np.uint64)
    for i in range(0, z.size, _BLOCK):
        c = z[i : i + _BLOCK]
        _mix64_block(c, tmp[: c.size])
    return z


_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix64_block(c: np.ndarray, t: np.ndarray) -> None:
    """The SplitMix64 finaliser in place on one block ``c``, ``t`` a scratch of its size."""
    c += _GOLDEN
    np.right_shift(c, _S30, out=t)
    c ^= t
    c *= _M1
    np.right_shift(c, _S27, out=t)
    c ^= t
    c *= _M2
    np.right_shift(c, _S31, out=t)
    c ^= t


def unit_keys(x: np.ndarray, key: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per-unit random keys of algorithm version 2: ``u_i = mix(x_i xor k)`` (uint64).

    ``x`` is the unit's id as 64 bits (an integer id's own bits, or a seed-free
    hash of a string id) and ``k`` a 64-bit word drawn from the seed, so ``u``
    depends on the id and the seed only; for a fixed key the map is a bijection
    (no ties). One SplitMix64 finaliser per unit (version 1 used two).
    """
    k1 = np.uint64(int(key[0]) & 0xFFFFFFFFFFFFFFFF)
    x = np.asarray(x, dtype=np.uint64)
    u = np.empty_like(x)
    for i in range(0, x.size, _BLOCK * 8):
        np.bitwise_xor(x[i : i + _BLOCK * 8], k1, out=u[i : i + _BLOCK * 8])
        mix64_inplace(u[i : i + _BLOCK * 8])
    return u


def assign_by_histogram(
    strata: np.ndarray,
    u: np.ndarray,
    counts: np.ndarray,
    *,
    bits: int | None = None,
    rekey: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Arm codes for units ordered by ``u`` within strata, without sorting the units.

    The same assignment as :func:`assign_by_counts` -- in stratum :math:`s` the units
    in increasing order of their key take arm ``0`` for the first :math:`c_{s0}`
    positions, arm ``1`` for the next :math:`c_{s1}`, ... -- found by selection:
    a histogram of (stratum, leading ``bits`` of ``u``) locates the bucket holding
    each arm boundary; units in lower buckets fall before it, units in higher ones
    after it, and only the units of the boundary buckets (about
    :math:`n/2^{\text{bits}}` per boundary) are ordered exactly. Keys have no ties
    (they are a bijection of the ids), so the result is exact.

    With ``rekey`` (a function giving the keys of the units at given positions)
    the bucket keys overwrite ``u`` in place, saving a full-length array, and the
    boundary units' keys are recomputed.

    Returns
    -------
    codes : int8 (int16 for more than 127 arms) array
    cuts : (S, k-1) uint64 array, the key of the first unit of arm ``j`` in each
        stratum (0 where the stratum has no unit of arm ``j`` or above).
    """
    S, k = counts.shape
    s_bits = max(1, (S - 1).bit_length())
    if bits is None:
        bits = _default_bits(S)
    # bucket key of each unit, (stratum, leading bits of u), in cache-sized blocks
    b = u if rekey is not None else np.empty(u.size, dtype=np.uint64)
    tmp = np.empty(min(_BLOCK, u.size), dtype=np.uint64)
    sh, bb = np.uint64(64 - bits), np.uint64(bits)
    for i in range(0, u.size, _BLOCK):
        blk = b[i : i + _BLOCK]
        t = tmp[: blk.size]
        np.right_shift(u[i : i + _BLOCK], sh, out=t)
        np.copyto(blk, strata[i : i + _BLOCK], casting="unsafe")
        blk <<= bb
        blk |= t
    del s_bits
    return _select_by_buckets(
        strata, b, counts, bits, rekey if rekey is not None else (lambda idx: u[idx])
    )


def _default_bits(S: int) -> int:
    """Leading key bits per bucket: about 2**20 buckets in all."""
    s_bits = max(1, (S - 1).bit_length())
    return int(min(16, max(2, 20 - s_bits)))


def assign_by_keyed_histogram(
    strata: np.ndarray,
    x: np.ndarray,
    key: Sequence[int] | np.ndarray,
    counts: np.ndarray,
    *,
    bits: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`assign_by_histogram` with the keys ``u = unit_keys(x, key)`` computed on the fly.

    One blocked pass hashes the ids and writes only the bucket keys (32 bits per
    unit whenever stratum and bucket bits fit in 31, i.e. below 2**29 strata with the
    default ``bits``); the full keys are never stored, and those of the boundary
    units are recomputed. Same result as
    ``assign_by_histogram(strata, unit_keys(x, key), counts)``.
    """
    S, k = counts.shape
    n = x.size
    s_bits = max(1, (S - 1).bit_length())
    if bits is None:
        bits = _default_bits(S)
    k1 = np.uint64(int(key[0]) & 0xFFFFFFFFFFFFFFFF)
    bdt = np.uint32 if s_bits + bits < 32 else np.uint64
    b = np.empty(n, dtype=bdt)
    m = min(_BLOCK, n)
    tmp = np.empty(m, dtype=np.uint64)
    t2 = np.empty(m, dtype=np.uint64)
    sh, bb = np.uint64(64 - bits), np.uint64(bits)
    for i in range(0, n, _BLOCK):
        c = tmp[: min(_BLOCK, n - i)]
        t = t2[: c.size]
        np.bitwise_xor(x[i : i + _BLOCK], k1, out=c)
        _mix64_block(c, t)
        c >>= sh
        np.copyto(t, strata[i : i + _BLOCK], casting="unsafe")
        t <<= bb
        t |= c
        np.copyto(b[i : i + _BLOCK], t, casting="unsafe")
    return _select_by_buckets(strata, b, counts, bits, lambda idx: unit_keys(x[idx], key))


def _select_by_buckets(
    strata: np.ndarray,
    b: np.ndarray,
    counts: np.ndarray,
    bits: int,
    keys_at: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """The selection step of :func:`assign_by_histogram` given the bucket key ``b`` of
    every unit (``stratum << bits | leading bits of u``, uint32 or uint64)."""
    S, k = counts.shape
    n = b.size
    nb = 1 << bits
    if b.dtype == np.uint64:
        h = np.bincount(b.view(np.int64), minlength=S * nb)
    else:  # bincount wants intp: convert in chunks, not as one full-length copy
        h = np.zeros(S * nb, dtype=np.int64)
        for i in range(0, n, 1 << 20):
            h += np.bincount(b[i : i + (1 << 20)].astype(np.intp), minlength=S * nb)
    h = h.reshape(S, nb)
    ch = np.cumsum(h, axis=1)  # units of the stratum up to and including each bucket
    sizes = ch[:, -1]
    C = np.cumsum(counts, axis=1)[:, :-1]  # (S, k-1): rank of the first unit of arm j
    valid = C < sizes[:, None]
    cb = (ch[:, None, :] <= C[:, :, None]).sum(axis=2)  # bucket holding rank C
    rows = np.arange(S)[:, None]
    below = np.where(cb > 0, ch[rows, np.maximum(cb - 1, 0)], 0)
    cbk = np.where(valid, (rows << bits) + cb, S << bits)  # past every bucket: never hit
    dt = np.int8 if k <= 127 else np.int16
    out = np.zeros(n, dtype=dt)
    cols = [np.ascontiguousarray(cbk[:, j]).astype(b.dtype) for j in range(k - 1)]
    cand: list[list[np.ndarray]] = [[] for _ in range(k - 1)]
    m = min(_BLOCK, n)
    g = np.empty(m, dtype=b.dtype)
    sk = np.empty(m, dtype=np.intp)
    hit = np.empty(m, dtype=bool)
    bsh = b.dtype.type(bits)
    for i in range(0, n, _BLOCK):
        bk, ok = b[i : i + _BLOCK], out[i : i + _BLOCK]
        gk, hk, sb = g[: bk.size], hit[: bk.size], sk[: bk.size]
        np.right_shift(bk, bsh, out=sb, casting="unsafe")  # the stratum, from the bucket key
        for j, col in enumerate(cols):
            np.take(col, sb, out=gk)
            if k == 2:
                np.greater(bk, gk, out=ok.view(bool))
            else:
                np.greater(bk, gk, out=hk)
                ok += hk
            np.equal(bk, gk, out=hk)
            if hk.any():
                cand[j].append(np.flatnonzero(hk) + i)
    cuts = np.zeros((S, k - 1), dtype=np.uint64)
    for j in range(k - 1):
        if not cand[j]:
            continue
        idx = np.concatenate(cand[j])
        sj = np.asarray(strata[idx]).astype(np.int64)
        uj = keys_at(idx)
        o = np.lexsort((uj, sj))
        idx, sj, uj = idx[o], sj[o], uj[o]
        rank = np.arange(idx.size) - np.searchsorted(sj, sj, side="left")
        need = (C[:, j] - below[:, j])[sj]
        out[idx[rank >= need]] += 1
        first = rank == need
        cuts[sj[first], j] = uj[first]
    return out, cuts


def keyed_uniform_keys(h0: np.ndarray, key: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per-unit random keys ``u_i = mix(h0_i xor k1) xor k2`` (uint64).

    ``h0`` is a seed-free hash of the unit id and ``key`` two 64-bit words drawn
    from the seed, so the key of a unit depends on its id and the seed only --
    never on its row. The map from ``h0`` to ``u`` is a bijection for a fixed key.
    """
    k1, k2 = (np.uint64(int(k) & 0xFFFFFFFFFFFFFFFF) for k in key[:2])
    u = mix64(h0 ^ k1)
    u ^= k2
    return u


def group_sums_u64(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum of uint64 ``values`` per group modulo 2**64, vectorised (exact chunked bincounts)."""
    v = np.asarray(values, dtype=np.uint64)
    total = np.zeros(n_groups, dtype=np.uint64)
    if v.size == 0:
        return total
    # chunks of b bits summed as float64 stay exact while n * 2**b < 2**53
    b = 16 if v.size >= 2**31 else 22
    for k in range(-(-64 // b)):
        part = ((v >> np.uint64(b * k)) & np.uint64((1 << b) - 1)).astype(np.float64)
        sums = np.bincount(groups, weights=part, minlength=n_groups)
        total += sums.astype(np.uint64) << np.uint64(b * k)
    return total


def sorted_group_sums_u64(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Sum modulo 2**64 of consecutive runs of ``values`` of lengths ``sizes`` (empty runs: 0).

    Same result as :func:`group_sums_u64` when ``values`` are laid out group by group.
    """
    v = np.asarray(values, dtype=np.uint64)
    sizes = np.asarray(sizes, dtype=np.int64)
    total = np.zeros(sizes.size, dtype=np.uint64)
    nonempty = sizes > 0
    if v.size:
        starts = (np.cumsum(sizes) - sizes)[nonempty]
        total[nonempty] = np.add.reduceat(v, starts)  # uint64 addition wraps modulo 2**64
    return total


def sha256_arrays(*parts: np.ndarray | bytes | str) -> str:
    """SHA-256 hex digest of arrays (their raw little-endian bytes) and strings, in order."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, str):
            p = p.encode("utf-8")
        if isinstance(p, bytes):
            h.update(len(p).to_bytes(8, "little"))
            h.update(p)
        else:
            a = np.ascontiguousarray(p)
            if a.dtype.byteorder == ">":
                a = a.byteswap().view(a.dtype.newbyteorder("<"))
            h.update(str(a.dtype.str).encode())
            h.update(a.size.to_bytes(8, "little"))
            h.update(a.reshape(-1).data.cast("B"))  # the raw buffer, without a copy
    return h.hexdigest()


# ---------------------------------------------------------------------------
# allocation
# ---------------------------------------------------------------------------
def integer_ratios(ratios: Sequence[float], *, max_block: int = 100_000) -> np.ndarray:
    """Smallest integer vector proportional to ``ratios`` (rationals up to 1/10_000).

    Examples
    --------
    >>> integer_ratios([0.5, 0.25, 0.25]).tolist()
    [2, 1, 1]
    """
    from fractions import Fraction

    fr = [Fraction(str(float(r))).limit_denominator(10_000) for r in ratios]
    den = 1
    for f in fr:
        den = den * f.denominator // gcd(den, f.denominator)
    ints = [int(f * den) for f in fr]
    g = 0
    for v in ints:
        g = gcd(g, v)
    out = np.asarray([v // g for v in ints], dtype=np.int64)
    if out.sum() > max_block:
        raise ValueError(f"ratios {list(ratios)} need a block of {int(out.sum())} units")
    return out


def balanced_sequence(r: np.ndarray) -> np.ndarray:
    """A length-``B`` arm sequence whose every prefix is as close as possible to the ratios.

    Position ``i`` (1-based) takes the arm with the largest deficit
    ``i r_j / B - c_j`` (lowest index on ties), as in Sainte-Laguë style
    apportionment. Any cyclic window of it holds nearly proportional counts
    (for two arms, within one of the expectation).
    """
    r = np.asarray(r, dtype=np.int64)
    B = int(r.sum())
    c = np.zeros(r.size, dtype=np.int64)
    seq = np.empty(B, dtype=np.int64)
    for i in range(1, B + 1):
        j = int(np.argmax(i * r / B - c))
        seq[i - 1] = j
        c[j] += 1
    return seq


def stratified_counts(sizes: np.ndarray, r: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r"""Counts per stratum and arm for (stratified) complete randomisation.

    Each stratum of size :math:`n_s = q_s B + m_s` gets :math:`q_s r_j` units
    of arm :math:`j` plus the arms of a run of :math:`m_s` consecutive positions
    of one cyclic sequence shared by all strata: a balanced base sequence
    (:func:`balanced_sequence`) with arms of equal ratio relabelled at random and
    a uniformly random rotation; the strata take their runs in random order.
    Hence every position carries arm :math:`j` with probability
    :math:`r_j / B`, so every unit has assignment probability exactly
    :math:`r_j / B`, and the remainders also balance *across* strata: overall
    counts differ from :math:`N r_j / B` by less than one block.

    Parameters
    ----------
    sizes : (S,) int array
    r : (k,) int array of ratios
    rng : Generator

    Returns
    -------
    (S, k) int64 array of counts.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    r = np.asarray(r, dtype=np.int64)
    B = int(r.sum())
    k = r.size
    q, m = np.divmod(sizes, B)
    counts = q[:, None] * r[None, :]
    base = balanced_sequence(r)
    relabel = np.arange(k)
    for val in np.unique(r):
        grp = np.flatnonzero(r == val)
        if grp.size > 1:
            relabel[grp] = rng.permutation(grp)
    seq = relabel[base]
    offset = int(rng.integers(B))
    order = rng.permutation(sizes.size)
    run = m[order]
    start = offset + np.cumsum(run) - run
    # prefix counts of each arm over one period of the cyclic sequence
    prefix = np.zeros((k, B + 1), dtype=np.int64)
    prefix[:, 1:] = np.cumsum(seq[None, :] == np.arange(k)[:, None], axis=1)

    def cum(x: np.ndarray) -> np.ndarray:  # (S,) -> (S, k): arm counts in seq[0:x] cyclically
        full, rest = np.divmod(x, B)
        return full[:, None] * r[None, :] + prefix[:, rest].T

    extra = np.empty_like(counts)
    extra[order] = cum(start + run) - cum(start)
    return counts + extra


def sort_by_stratum_and_key(strata: np.ndarray, u: np.ndarray, n_strata: int) -> np.ndarray:
    """Indices ordering the units by stratum, then by key ``u`` (uint64, no ties).

    Packs (stratum, leading bits of ``u``, row index) into one uint64 and sorts
    the values -- much faster than an argsort -- then puts units whose packed
    prefixes tie back in order of their full keys, so the result never depends
    on the row order.
    """
    n = strata.size
    idx_bits = max(1, (n - 1).bit_length())
    s_bits = (n_strata - 1).bit_length() if n_strata > 1 else 0
    u_bits = 64 - idx_bits - s_bits
    if u_bits < 16:  # pragma: no cover - astronomically many units or strata
        return np.lexsort((u, strata))
    key = u >> np.uint64(64 - u_bits)
    key <<= np.uint64(idx_bits)
    if s_bits:
        key |= strata.astype(np.uint64) << np.uint64(64 - s_bits)
    key |= np.arange(n, dtype=np.uint64)
    key.sort()
    order = (key & np.uint64((1 << idx_bits) - 1)).astype(np.intp)
    key >>= np.uint64(idx_bits)  # the (stratum, key-prefix) part
    tie = key[1:] == key[:-1]
    if tie.any():
        pos = np.flatnonzero(np.r_[tie, False] | np.r_[False, tie])
        sub = order[pos]
        order[pos] = sub[np.lexsort((u[sub], key[pos]))]
    return order


def assign_by_counts(
    strata: np.ndarray, u: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Arm codes: in each stratum the units ordered by their random key ``u`` take the
    arms ``0, 0, .., 1, 1, ..`` in the numbers given by ``counts`` (a uniformly
    random assignment with exactly those counts).

    ``strata`` are codes ``0 .. S-1``; ``u`` uint64 keys without ties.
    Returns the arm codes and the order used (units sorted by stratum, then key).
    """
    S, k = counts.shape
    n = strata.size
    order = sort_by_stratum_and_key(strata, u, S)
    labels = np.repeat(np.tile(np.arange(k, dtype=np.int16), S), counts.ravel())
    out = np.empty(n, dtype=np.int16)
    out[order] = labels
    return out, order


def bernoulli_codes(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Independent draws: arm ``j`` when ``U_i`` falls in the ``j``-th slice of [0, 1)."""
    unif = (u >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    cp = np.cumsum(np.asarray(p, dtype=float))
    cp[-1] = 1.0
    return np.searchsorted(cp, unif, side="right").astype(np.int16)


# ---------------------------------------------------------------------------
# regression with HC2 / CR2 (estimatr's conventions)
# ---------------------------------------------------------------------------
def _inv_sqrt_sym(m: np.ndarray) -> np.ndarray:
    val, vec = np.linalg.eigh(m)
    val = np.clip(val, 1e-12, None)
    return (vec / np.sqrt(val)) @ vec.T


def ols_robust(
    y: np.ndarray,
    X: np.ndarray,
    *,
    cluster: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""OLS with HC2 (no clusters) or CR2 (clusters) covariance, as estimatr's ``lm_robust``.

    HC2 (MacKinnon & White 1985): :math:`V = (X'X)^{-1} X' \mathrm{diag}\{e_i^2/(1-h_{ii})\} X (X'X)^{-1}`,
    ``df = n - k``. CR2 (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018):
    :math:`V = (X'X)^{-1}\sum_g X_g' A_g e_g e_g' A_g X_g (X'X)^{-1}` with
    :math:`A_g = (I - H_{gg})^{-1/2}`; degrees of freedom per coefficient from the
    Bell-McCaffrey approximation under a working identity covariance
    (Imbens & Kolesár 2016): :math:`\nu = (\operatorname{tr} M)^2 / \operatorname{tr} M^2`,
    :math:`M = G'G`, which reduces to :math:`M = D - P(X'X)^{-1}P'` with
    :math:`w_g = A_g X_g (X'X)^{-1} c`, :math:`D = \mathrm{diag}(w_g'w_g)` and
    rows :math:`P_g = (X_g' w_g)'`. Weights enter as :math:`\sqrt{w}` scaling of
    ``y`` and ``X``.

    Returns
    -------
    beta, vcov, df : arrays (k,), (k, k), (k,)
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if weights is not None and cluster is not None:
        return _weighted_cr2(y, X, cluster=cluster, weights=np.asarray(weights, dtype=float))
    if weights is not None:
        sw = np.sqrt(np.asarray(weights, dtype=float))
        y = y * sw
        X = X * sw[:, None]
    n, k = X.shape
    XtX = X.T @ X
    B = np.linalg.inv(XtX)
    beta = B @ (X.T @ y)
    e = y - X @ beta
    if cluster is None:
        h = np.einsum("ij,jk,ik->i", X, B, X)
        meat = (X * (e**2 / (1.0 - h))[:, None]).T @ X
        V = B @ meat @ B
        return beta, V, np.full(k, float(n - k))
    codes = np.unique(np.asarray(cluster), return_inverse=True)[1].reshape(-1)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    groups = np.split(order, bounds)
    G = len(groups)
    meat = np.zeros((k, k))
    AX = []  # A_g X_g per cluster
    for idx in groups:
        Xg = X[idx]
        Hgg = Xg @ B @ Xg.T
        Ag = _inv_sqrt_sym(np.eye(idx.size) - Hgg)
        AXg = Ag @ Xg
        AX.append((idx, AXg))
        ug = AXg.T @ e[idx]
        meat += np.outer(ug, ug)
    V = B @ meat @ B
    df = np.empty(k)
    for j in range(k):
        c = B[:, j]  # (X'X)^{-1} e_j
        D = np.empty(G)
        P = np.empty((G, k))
        for g, (idx, AXg) in enumerate(AX):
            wg = AXg @ c
            D[g] = wg @ wg
            P[g] = X[idx].T @ wg
        M = np.diag(D) - P @ B @ P.T
        df[j] = np.trace(M) ** 2 / np.sum(M * M)
    return beta, V, df


def _weighted_cr2(
    y: np.ndarray, X: np.ndarray, *, cluster: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Weighted least squares with CR2 errors under a working identity covariance.

    WLS :math:`\hat\beta = M X'Wy`, :math:`M = (X'WX)^{-1}`, residuals
    :math:`e = (I - H)y` with the (non-symmetric) hat matrix :math:`H = XMX'W`.
    CR2 (Pustejovsky & Tipton 2018, working model :math:`\Phi = I`, as estimatr's
    ``lm_robust(weights=, clusters=, se_type="CR2")``):
    :math:`V = M \sum_s X_s'W_s A_s e_s e_s' A_s W_s X_s M` with
    :math:`A_s = B_s^{-1/2}`, :math:`B_s = (I-H)_s (I-H)_s'` (rows of cluster
    :math:`s`), which expands to
    :math:`I - X_s M X_s' W_s - W_s X_s M X_s' + X_s M X'W^2X M X_s'` and never needs
    an :math:`N \times N` matrix. Bell-McCaffrey df per coefficient:
    :math:`\nu = (\operatorname{tr} P)^2 / \operatorname{tr} P^2`,
    :math:`P_{st} = p_s'p_t`, :math:`p_s = (I-H)_s' g_s`, :math:`g_s = A_s W_s X_s M c`:
    :math:`P = \mathrm{diag}(g_s'g_s) - A M B' - B M A' + A M X'W^2X M A'` with rows
    :math:`a_s = X_s'g_s`, :math:`b_s = X_s'W_s g_s`. With unit weights it reduces to
    the unweighted CR2 of :func:`ols_robust`.
    """
    n, k = X.shape
    w = weights
    M = np.linalg.inv(X.T @ (X * w[:, None]))
    beta = M @ (X.T @ (w * y))
    e = y - X @ beta
    Q = X.T @ (X * (w * w)[:, None])
    codes = np.unique(np.asarray(cluster), return_inverse=True)[1].reshape(-1)
    order = np.argsort(codes, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    meat = np.zeros((k, k))
    awx = []  # A_s W_s X_s per cluster
    for idx in groups:
        Xs, ws = X[idx], w[idx]
        XM = Xs @ M
        Bs = np.eye(idx.size) - (XM @ Xs.T) * ws[None, :] - (ws[:, None] * XM) @ Xs.T
        Bs += XM @ Q @ XM.T
        AWXs = _inv_sqrt_sym(Bs) @ (ws[:, None] * Xs)
        awx.append(AWXs)
        us = AWXs.T @ e[idx]
        meat += np.outer(us, us)
    V = M @ meat @ M
    df = np.empty(k)
    G = len(groups)
    for j in range(k):
        c = M[:, j]
        D = np.empty(G)
        A = np.empty((G, k))
        B = np.empty((G, k))
        for g, (idx, AWXs) in enumerate(zip(groups, awx, strict=True)):
            gv = AWXs @ c
            D[g] = gv @ gv
            A[g] = X[idx].T @ gv
            B[g] = X[idx].T @ (w[idx] * gv)
        P = np.diag(D) - A @ M @ B.T - B @ M @ A.T + A @ M @ Q @ M @ A.T
        df[j] = np.trace(P) ** 2 / np.sum(P * P)
    return beta, V, df


def neyman_dim(y: np.ndarray, t: np.ndarray) -> tuple[float, float, float]:
    r"""Difference in means with the Neyman variance and Welch-Satterthwaite df.

    :math:`\hat\tau = \bar y_1 - \bar y_0`,
    :math:`\hat V = s_1^2/n_1 + s_0^2/n_0` (Neyman 1923; Gerber & Green 2012 eq. 3.6).
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=bool)
    y1, y0 = y[t], y[~t]
    n1, n0 = y1.size, y0.size
    v1, v0 = y1.var(ddof=1) / n1, y0.var(ddof=1) / n0
    se = float(np.sqrt(v1 + v0))
    df = se**4 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
    return float(y1.mean() - y0.mean()), se, float(df)


def blocked_dim(
    y: np.ndarray, t: np.ndarray, block: np.ndarray
) -> tuple[float, float, float, bool, int]:
    r"""Blocked difference in means (stratum-size weights), vectorised over blocks.

    :math:`\hat\tau = \sum_b (N_b/N)\hat\tau_b`, :math:`\hat V = \sum_b (N_b/N)^2 \hat V_b`
    with ``df = N - 2B``; when every block is a pair (one unit per arm) the matched-pair
    variance :math:`\frac{1}{B(B-1)}\sum_b(\hat\tau_b - \hat\tau)^2` with ``df = B - 1``
    (Imai, King & Nall 2009; estimatr's ``difference_in_means``).

    Returns
    -------
    estimate, se, df, pair_matched, n_blocks
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=bool)
    b = np.unique(block, return_inverse=True)[1].reshape(-1)
    nb = int(b.max()) + 1
    n1 = np.bincount(b, weights=t, minlength=nb)
    n0 = np.bincount(b, weights=~t, minlength=nb)
    s1 = np.bincount(b, weights=y * t, minlength=nb)
    s0 = np.bincount(b, weights=y * ~t, minlength=nb)
    q1 = np.bincount(b, weights=y * y * t, minlength=nb)
    q0 = np.bincount(b, weights=y * y * ~t, minlength=nb)
    m1, m0 = s1 / n1, s0 / n0
    tau_b = m1 - m0
    Nb = n1 + n0
    N = Nb.sum()
    w = Nb / N
    tau = float(np.sum(w * tau_b))
    if np.all(Nb == 2):
        se = float(np.sqrt(np.sum((tau_b - tau) ** 2) / (nb * (nb - 1))))
        return tau, se, float(nb - 1), True, nb
    with np.errstate(invalid="ignore", divide="ignore"):
        v1 = (q1 - n1 * m1**2) / (n1 - 1) / n1
        v0 = (q0 - n0 * m0**2) / (n0 - 1) / n0
    se = float(np.sqrt(np.sum(w**2 * (v1 + v0))))
    return tau, se, float(N - 2 * nb), False, nb


# ---------------------------------------------------------------------------
# randomisation inference
# ---------------------------------------------------------------------------
def linear_statistic_coefficients(
    Z: np.ndarray, strata: np.ndarray | None, n_strata: int
) -> np.ndarray:
    r"""Coefficients ``C`` with ``T_d = C_d @ y`` for a batch of treatment indicators.

    ``Z`` is a ``(D, n)`` boolean matrix. Without strata ``T`` is the difference
    in means; with strata the stratum-size weighted (blocked) difference in means
    :math:`\sum_s (n_s/n)(\bar y_{1s} - \bar y_{0s})`.
    """
    Z = np.asarray(Z, dtype=bool)
    D, n = Z.shape
    if strata is None or n_strata == 1:
        n1 = Z.sum(axis=1, keepdims=True).astype(float)
        n0 = n - n1
        return np.where(Z, 1.0 / n1, -1.0 / n0)
    ns = np.bincount(strata, minlength=n_strata).astype(float)
    # treated count per draw and stratum, (D, S), in one bincount
    flat = (np.arange(D)[:, None] * n_strata + strata[None, :]).ravel()
    n1 = np.bincount(flat, weights=Z.ravel(), minlength=D * n_strata).reshape(D, n_strata)
    n0 = ns[None, :] - n1
    w = ns / n
    with np.errstate(divide="ignore", invalid="ignore"):
        a1 = np.where(n1 > 0, w[None, :] / n1, 0.0)
        a0 = np.where(n0 > 0, w[None, :] / n0, 0.0)
    return np.where(Z, a1[:, strata], -a0[:, strata])


def permute_within(
    z: np.ndarray, strata: np.ndarray | None, n_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """``(n_draws, n)`` matrix of ``z`` permuted at random within strata (vectorised).

    ``strata`` must be sorted (units laid out stratum by stratum), codes ``0..S-1``.
    """
    z = np.asarray(z)
    out = np.tile(z, (n_draws, 1))  # contiguous rows: shuffled in place
    if strata is None or int(strata.max(initial=0)) == 0:
        rng.permuted(out, axis=1, out=out)
        return out
    n_strata = int(strata.max()) + 1
    if n_strata <= 256:
        bounds = np.searchsorted(strata, np.arange(n_strata + 1))
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi - lo > 1:
                out[:, lo:hi] = rng.permuted(out[:, lo:hi], axis=1)
        return out
    keys = rng.random(out.shape)
    keys += strata[None, :]
    idx = np.argsort(keys, axis=1)
    return np.take_along_axis(out, idx, axis=1)


# ---------------------------------------------------------------------------
# re-randomisation balance statistic
_SPAN_RTOL = 1e-10


def covariance_span(S: np.ndarray) -> tuple[np.ndarray | None, int]:
    r"""Rank of a covariance matrix and, when singular, its pseudo-inverse on its span.

    Returns ``(None, K)`` when ``S`` (``K x K``) has full rank, so callers keep
    their exact solve; otherwise ``(S^+, r)`` with :math:`S^+ = V_r \Lambda_r^{-1} V_r'`
    over the eigenvalues above ``1e-10`` times the largest. With constant or
    collinear covariates the Mahalanobis distance :math:`d' S^+ d` is the distance
    on the span of the covariates, and under complete randomisation Morgan &
    Rubin's (2012) statistic is then approximately :math:`\chi^2_{r(k-1)}`.

    Examples
    --------
    >>> covariance_span(np.array([[2.0, 4.0], [4.0, 8.0]]))[1]
    1
    >>> covariance_span(np.eye(2))
    (None, 2)
    """
    S = np.atleast_2d(np.asarray(S, dtype=float))
    w, V = np.linalg.eigh(S)
    top = float(w.max(initial=0.0))
    keep = w > top * _SPAN_RTOL if top > 0 else np.zeros(w.size, dtype=bool)
    rank = int(keep.sum())
    if rank == S.shape[0]:
        return None, rank
    Vr = V[:, keep]
    return (Vr / w[keep]) @ Vr.T, rank
