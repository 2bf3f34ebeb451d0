"""Numerics of matching: numpy in, numpy out, no pandas.

Conventions used throughout: ``treat`` is a boolean array over all rows (True =
treated), ``distance`` the score each row is matched on (already on the matching
scale, e.g. the logit of a propensity score), ``stratum`` integer codes of the
exact-matching cells (all zero when there is none). A match matrix ``mm`` has one
row per treated unit, in the treated units' row order, and ``ratio`` columns
holding *row indices* of the matched controls (-1 where there is none).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy import optimize, stats

__all__ = [
    "stable_rank",
    "nearest_greedy",
    "nearest_mahalanobis",
    "optimal_pairs",
    "weights_from_mm",
    "subclass_from_mm",
    "cem_bins",
    "weights_from_subclass",
    "common_support",
    "weighted_mean",
    "weighted_var",
    "smd",
    "variance_ratio",
    "ecdf_stats",
    "ess",
    "wls_cluster",
    "abadie_imbens_att",
    "rosenbaum_wilcoxon",
    "signed_rank_statistic",
    "auc",
    "hosmer_lemeshow",
]

Order = Literal["largest", "smallest", "data", "random"]


# ----------------------------------------------------------------------------- matching
def _stable_argsort(x: np.ndarray) -> np.ndarray:
    """``argsort(x, kind="stable")``, via the faster unstable sort when ``x`` has no ties
    (then every sort gives the same order)."""
    return _stable_argsort_values(x)[0]


def _stable_argsort_values(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_stable_argsort` and the sorted values."""
    order = np.argsort(x)
    xs = x[order]
    if np.any(xs[1:] == xs[:-1]):
        order = np.argsort(x, kind="stable")
        xs = x[order]
    return order, xs


def stable_rank(x: np.ndarray) -> np.ndarray:
    """Position of each element in the stable ascending sort of ``x`` (ties by row order)."""
    order = np.argsort(x, kind="stable")
    rank = np.empty(x.size, dtype=np.int64)
    rank[order] = np.arange(x.size)
    return rank


def _treated_order(
    distance: np.ndarray, idx1: np.ndarray, order: Order, priority: np.ndarray | None = None
) -> np.ndarray:
    """Positions (into ``idx1``) in the order treated units are matched.

    ``largest``: decreasing score, ties in row order (MatchIt's default for a
    propensity score, Rosenbaum's greedy algorithm); ``smallest``: increasing;
    ``data``: row order; ``random``: increasing ``priority`` (a random draw per treated unit).
    """
    d1 = distance[idx1]
    if order == "random":
        if priority is None:
            raise ValueError("order='random' needs a priority per treated unit")
        return np.argsort(priority, kind="stable")
    if order == "largest":
        return np.argsort(-d1, kind="stable")
    if order == "smallest":
        return np.argsort(d1, kind="stable")
    return np.arange(idx1.size)


def _packed_order(distance: np.ndarray, stratum: np.ndarray, n_strata: int) -> np.ndarray | None:
    """Rows sorted by (stratum, score, row) with one sort of 64-bit integer keys.

    Each key packs the stratum, the score quantised to the bits left over and the row
    index; integer sorting is several times faster than an index sort of floats.
    Quantising keeps the order of unequal scores except within a quantum, so rows
    sharing (stratum, quantum) -- a few at most -- are re-sorted by their exact score
    and row. The result is exactly the stable sort. ``None`` when the key does not
    leave enough bits for the score (very many rows or strata) or a score is infinite.
    """
    n = distance.size
    if n < 2:
        return None
    row_bits = int(n - 1).bit_length()
    stratum_bits = int(max(n_strata - 1, 1)).bit_length()
    q_bits = min(63 - row_bits - stratum_bits, 52)
    if q_bits < 16:
        return None
    lo, hi = float(distance.min()), float(distance.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    top = (1 << q_bits) - 1
    span = hi - lo
    scale = top / span if span > 0 else 0.0
    if not (math.isfinite(span) and math.isfinite(scale)):
        return None  # a spread that overflows or is sub-normal: the exact float sort
    q = ((distance - lo) * scale).astype(np.int64)  # monotone in the score
    np.minimum(q, top, out=q)
    key = q << row_bits
    key |= np.arange(n, dtype=np.int64)
    if n_strata > 1:
        key |= stratum.astype(np.int64) << (q_bits + row_bits)
    key.sort()
    prefix = key >> row_bits
    order = key & ((1 << row_bits) - 1)
    same = prefix[1:] == prefix[:-1]
    if same.any():  # rows sharing a quantum: order them by the exact score, then row
        run = np.flatnonzero(np.r_[same, False] | np.r_[False, same])
        rows = order[run]
        order[run] = rows[np.lexsort((rows, distance[rows], prefix[run]))]
    return order


def _control_layout(
    distance: np.ndarray, treat: np.ndarray, stratum: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Controls sorted by (stratum, score, row); each treated unit's place among them.

    Returns ``ctrl_rows`` (row index of the k-th sorted control), ``cd`` (their
    scores), ``lo``/``hi`` (bounds of each treated unit's stratum in that order),
    ``pos`` (number of controls before the treated unit when all units are
    sorted by stratum, score and row -- the layout MatchIt's left/right search
    walks), ``idx1`` (the treated rows) and ``t_sorted`` (treated units, as
    positions in ``idx1``, in that sort order).

    One sort of packed integer keys (:func:`_packed_order`); failing that, one
    stable sort by score and, with several strata, a stable sort by stratum.
    """
    n = distance.size
    n_strata = int(stratum.max()) + 1 if stratum.size else 1
    idx1 = np.flatnonzero(treat)
    s1 = stratum[idx1]
    order = _packed_order(distance, stratum, n_strata)
    if order is None:
        order = _stable_argsort(distance)
        if n_strata > 1:
            small = np.int16 if n_strata < 2**15 else np.int64
            order = order[np.argsort(stratum[order].astype(small), kind="stable")]
    is_c = ~treat[order]
    ctrl_rows = order[is_c]
    cd = distance[ctrl_rows]
    t_at = np.flatnonzero(~is_c)
    # controls before the k-th treated position = its position - k
    inv = np.empty(n, dtype=np.int64)
    inv[idx1] = np.arange(idx1.size)
    t_sorted = inv[order[t_at]]
    pos = np.empty(idx1.size, dtype=np.int64)
    pos[t_sorted] = t_at - np.arange(t_at.size)
    counts = np.bincount(stratum, minlength=n_strata) - np.bincount(s1, minlength=n_strata)
    ends = np.cumsum(counts)
    starts = ends - counts
    return ctrl_rows, cd, starts[s1], ends[s1], pos, idx1, t_sorted


def nearest_greedy(
    *,
    distance: np.ndarray,
    treat: np.ndarray,
    stratum: np.ndarray | None = None,
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = None,
    order: Order = "largest",
    priority: np.ndarray | None = None,
) -> np.ndarray:
    r"""Greedy nearest-neighbour matching on a scalar score (MatchIt's algorithm).

    Treated units are taken in ``order``; each gets the available control with
    the smallest :math:`|d_i - d_j|` in its exact stratum, within the caliper
    (:math:`|d_i - d_j| \le c`). Ties between a control below and one above the
    treated unit's score go to the one below; ties among equal scores to the
    control nearest in row order. With ``ratio = k`` the matching is done in
    ``k`` passes over the treated units (every unit gets its first match before
    anyone gets a second), without replacement a control is used once, and a
    treated unit that finds nobody in a pass gets no further matches -- as in
    MatchIt (Ho, Imai, King & Stuart 2011) >= 4.5.4.

    Returns the match matrix (``n_treated x ratio`` row indices, -1 = none).
    """
    n = distance.size
    st = np.zeros(n, dtype=np.int64) if stratum is None else stratum.astype(np.int64)
    ctrl_rows, cd, lo, hi, pos, idx1, t_sorted = _control_layout(distance, treat, st)
    n1 = idx1.size
    d1 = distance[idx1]
    cal = math.inf if caliper is None else float(caliper)
    mm = np.full((n1, ratio), -1, dtype=np.int64)
    if replace:
        # every treated unit expands left/right from its place; vectorised over units
        left = pos - 1
        right = pos.copy()
        active = np.ones(n1, dtype=bool)
        for r in range(ratio):
            lv = active & (left >= lo)
            rv = active & (right < hi)
            dl = np.where(lv, np.abs(cd[np.clip(left, 0, max(cd.size - 1, 0))] - d1), np.inf)
            dr = np.where(rv, np.abs(cd[np.clip(right, 0, max(cd.size - 1, 0))] - d1), np.inf)
            take_left = lv & (dl <= dr)
            take_right = rv & ~take_left
            dist = np.where(take_left, dl, dr)
            ok = (take_left | take_right) & (dist <= cal)
            k = np.where(take_left, left, right)
            mm[ok, r] = ctrl_rows[k[ok]]
            left = np.where(ok & take_left, left - 1, left)
            right = np.where(ok & take_right, right + 1, right)
            active &= ok
            if not active.any():
                break
        return mm
    # without replacement: sequential by nature (each choice depends on the earlier
    # ones). In the usual case -- 1:1, treated taken from the highest score down -- a
    # single downward sweep per stratum needs O(1) work per treated unit and memory
    # only per treated unit; otherwise union-find pointers (below).
    s1 = st[idx1]
    grouped = None
    if ratio == 1 and order == "largest":
        # the sort order reversed: by stratum, score decreasing -- MatchIt's order
        # exactly when no two treated units of a stratum share a score
        rev = t_sorted[::-1]
        ds1 = d1[rev]
        if not np.any((ds1[1:] == ds1[:-1]) & (s1[rev][1:] == s1[rev][:-1])):
            grouped = rev
    seq_arr = _treated_order(distance, idx1, order, priority) if grouped is None else grouped
    if ratio == 1:
        if grouped is None:
            grouped = seq_arr[np.argsort(s1[seq_arr], kind="stable")]
        pg = pos[grouped]
        same = s1[grouped][1:] == s1[grouped][:-1]
        if not np.any(same & (pg[1:] > pg[:-1])):
            got = _sweep_down_vectorised(cd, d1, lo, hi, pos, s1, grouped, cal)
            if got is None:  # no fixed point within the iteration budget
                got = _sweep_down(cd, d1, lo, hi, pos, s1, grouped, cal)
            ok = got >= 0
            mm[ok, 0] = ctrl_rows[got[ok]]
            return mm
    # union-find "nearest available" pointers keep each search amortised O(1)
    # (Tarjan 1975).
    n0 = cd.size
    par_r = list(range(n0 + 1))  # par_r[j] -> smallest available >= j (n0 = none)
    par_l = list(range(n0 + 1))  # par_l[j + 1] -> largest available <= j, shifted by one
    seq = seq_arr.tolist()
    cdl = cd.tolist()
    d1l = d1.tolist()
    lol = lo.tolist()
    hil = hi.tolist()
    posl = pos.tolist()
    chosen = np.full((n1, ratio), -1, dtype=np.int64)
    remaining = n0
    for r in range(ratio):
        still: list[int] = []
        got_t: list[int] = []
        got_j: list[int] = []
        for t in seq:
            if remaining == 0:
                break
            p = posl[t]
            # find largest available <= p - 1 (left) and smallest available >= p (right)
            x = p
            while par_l[x] != x:
                par_l[x] = par_l[par_l[x]]
                x = par_l[x]
            jl = x - 1
            x = p
            while par_r[x] != x:
                par_r[x] = par_r[par_r[x]]
                x = par_r[x]
            jr = x
            dt = d1l[t]
            if jl >= lol[t]:
                a = cdl[jl] - dt
                a = -a if a < 0 else a
                if jr < hil[t]:
                    b = cdl[jr] - dt
                    b = -b if b < 0 else b
                    if b < a:
                        jl = jr
                        a = b
                j = jl
            elif jr < hil[t]:
                a = cdl[jr] - dt
                a = -a if a < 0 else a
                j = jr
            else:
                continue
            if a > cal:
                continue
            got_t.append(t)
            got_j.append(j)
            par_r[j] = j + 1
            par_l[j + 1] = j
            remaining -= 1
            still.append(t)
        if got_t:
            chosen[np.asarray(got_t), r] = np.asarray(got_j)
        seq = still
        if not seq or remaining == 0:
            break
    ok = chosen >= 0
    mm[ok] = ctrl_rows[chosen[ok]]
    return mm


def _sweep_down(
    cd: np.ndarray,
    d1: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    pos: np.ndarray,
    s1: np.ndarray,
    seq: np.ndarray,
    cal: float,
) -> np.ndarray:
    """Greedy 1:1 matching without replacement as one downward sweep per stratum.

    Valid when, within each stratum, the treated units in ``seq`` (grouped by
    stratum, in matching order) have non-increasing insertion points ``pos`` among
    the sorted control scores ``cd`` -- true for the largest-score-first order.
    Then every earlier unit sits at or above the current one, so (i) the controls
    it took *below* the current point are always the nearest free ones below it:
    they form one block of ``k`` controls just under the sweep, and the left
    candidate is ``pos - 1 - k``; (ii) the free controls above the current point
    are those the sweep passed and did not owe to that block, kept on a stack of
    index ranges whose top holds the nearest one. Each unit then costs O(1),
    giving the same choices as the union-find search (ties to the left control).
    Returns each treated unit's control position in ``cd`` (-1 = none).
    """
    n1 = d1.size
    out = [-1] * n1
    cdl = cd.tolist()
    d1l = d1.tolist()
    lol = lo.tolist()
    hil = hi.tolist()
    posl = pos.tolist()
    s1l = s1.tolist()
    prev_s = -1
    top = 0
    k = 0
    st_a: list[int] = []  # free ranges [st_a[i], st_b[i]) above the sweep; last = nearest
    st_b: list[int] = []
    for t in seq.tolist():
        lo_t = lol[t]
        if s1l[t] != prev_s:  # a new stratum: nothing taken yet
            prev_s = s1l[t]
            top = hil[t]
            k = 0
            st_a = []
            st_b = []
        p = posl[t]
        m = top - p
        if m > 0:  # the sweep passes controls [p, top): the first k of them were taken
            if k >= m:
                k -= m
            else:
                st_a.append(p)
                st_b.append(top - k)
                k = 0
            top = p
        dt = d1l[t]
        jl = p - 1 - k
        if jl >= lo_t:
            a = dt - cdl[jl]
            if a < 0:
                a = -a
            if st_a:
                jr = st_a[-1]
                b = cdl[jr] - dt
                if b < 0:
                    b = -b
                if b < a:
                    if b > cal:
                        continue
                    out[t] = jr
                    if jr + 1 == st_b[-1]:
                        st_a.pop()
                        st_b.pop()
                    else:
                        st_a[-1] = jr + 1
                    continue
            if a > cal:
                continue
            out[t] = jl
            k += 1
        elif st_a:
            jr = st_a[-1]
            b = cdl[jr] - dt
            if b < 0:
                b = -b
            if b > cal:
                continue
            out[t] = jr
            if jr + 1 == st_b[-1]:
                st_a.pop()
                st_b.pop()
            else:
                st_a[-1] = jr + 1
    return np.asarray(out, dtype=np.int64)


def _previous_below(v: np.ndarray, q: np.ndarray, before: np.ndarray) -> np.ndarray:
    """For each query ``k``: the largest ``j < before[k]`` with ``v[j] < q[k]`` (-1 if none).

    Binary lifting over a sparse table of running minima (``O(n log n)``, vectorised):
    blocks whose minimum is at least ``q`` are jumped over, largest first.
    """
    n = v.size
    tabs = [v]
    w = 1
    while 2 * w <= n:
        prev = tabs[-1]
        nxt = prev.copy()
        np.minimum(prev[w:], prev[:-w], out=nxt[w:])
        tabs.append(nxt)
        w *= 2
    cur = before - 1
    for k in range(len(tabs) - 1, -1, -1):
        step = 1 << k
        ok = cur >= step - 1
        jump = ok & (tabs[k][np.where(ok, cur, 0)] >= q)
        cur = np.where(jump, cur - step, cur)
    return cur


def _previous_smaller(v: np.ndarray, max_rounds: int = 64) -> np.ndarray:
    """For every position ``i``: the largest ``j < i`` with ``v[j] < v[i]`` (-1 if none).

    Pointer jumping: each position's pointer skips to its predecessor's pointer while
    that predecessor is not smaller (everything skipped is not smaller either), all
    positions at once; a few dozen rounds at most in practice, and after
    ``max_rounds`` the rest is finished by binary lifting (:func:`_previous_below`).
    """
    n = v.size
    ptr = np.arange(-1, n - 1)
    act = np.flatnonzero(v[:-1] >= v[1:]) + 1  # ``v[i - 1]`` is not smaller
    for _ in range(max_rounds):
        if not act.size:
            return ptr
        pa = ptr[ptr[act]]
        ptr[act] = pa
        ok = pa >= 0
        act = act[ok]
        act = act[v[pa[ok]] >= v[act]]
    if act.size:
        ptr[act] = _previous_below(v, v[act], act)
    return ptr


def _sweep_down_vectorised(
    cd: np.ndarray,
    d1: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    pos: np.ndarray,
    s1: np.ndarray,
    seq: np.ndarray,
    cal: float,
    max_iter: int = 32,
) -> np.ndarray | None:
    r"""The downward sweep of :func:`_sweep_down`, solved as a fixed point with array operations.

    Each treated unit :math:`i` (in sweep order) either takes the left candidate
    (``x_i = 1``), the right one (``x_i = 2``) or nobody (``x_i = 0``). Given all the
    choices :math:`x`, the sweep's state before every unit follows in closed form:

    * the block of taken controls just under the sweep, :math:`k_i`, obeys the
      Lindley recursion :math:`k^+_i = \max(k^+_{i-1} - m_i, 0) + [x_i = 1]`
      (:math:`m_i` = controls the sweep passes), solved by a cumulative sum and a
      running maximum;
    * the free controls above the sweep form a last-in-first-out stack (ranges are
      pushed as the sweep passes them, right choices pop the lowest); the top at unit
      :math:`i` lies in the range pushed just after the last moment the stack was
      lower than it is now -- a "previous smaller value" query.

    From the state each unit's choice is recomputed (:math:`x \to f(x)`). If choices
    :math:`1..j-1` are right, so is choice :math:`j` after one more step, hence the
    iteration reaches the sequential answer; it stops at the first :math:`x = f(x)`,
    which *is* the sequential answer (by induction over the units). Returns ``None``
    when ``max_iter`` steps are not enough (the caller then runs the loop).
    """
    out = np.full(d1.size, -1, dtype=np.int64)
    n = seq.size
    ncd = cd.size
    if n == 0 or ncd == 0:
        return out
    p = pos[seq]
    d = d1[seq]
    lo_ = lo[seq]
    hi_ = hi[seq]
    g_s = s1[seq]
    first = np.r_[True, g_s[1:] != g_s[:-1]]
    group = np.cumsum(first) - 1
    top = np.empty(n, dtype=np.int64)
    top[1:] = p[:-1]
    top[first] = hi_[first]
    m = top - p
    big = 4 * (ncd + n) + 10
    last = ncd - 1
    # distance to the nearest control above (free or not): a lower bound of the
    # right candidate's distance, so the stack is searched only where it can win
    up = np.where(p < hi_, cd[np.minimum(p, last)] - d, np.inf)

    def decide(
        left: np.ndarray,
        lok: np.ndarray,
        a: np.ndarray,
        right: np.ndarray,
        rok: np.ndarray,
        b: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        take_r = rok & (~lok | (b < a))  # ties go to the left control
        x = np.where(take_r, 2, 1).astype(np.int8)
        # nobody within the caliper, or no candidate at all
        x[~((lok | rok) & (np.where(take_r, b, a) <= cal))] = 0
        return x, np.where(take_r, right, left)

    def step(
        x: np.ndarray,
        p: np.ndarray,
        d: np.ndarray,
        lo_: np.ndarray,
        top: np.ndarray,
        m: np.ndarray,
        up: np.ndarray,
        first: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``f(x)`` over whole strata: the choices the state implied by ``x`` leads to."""
        g = np.cumsum(first) - 1
        starts = np.flatnonzero(first)
        offset = g * big
        took_l = (x == 1).astype(np.int64)
        took_r = x == 2
        a_ = took_l - m
        cs = np.cumsum(a_)
        s_x = cs - (cs - a_)[starts][g]  # cumulative sum restarted in each stratum
        run = np.maximum.accumulate(took_l - s_x + offset) - offset
        w = s_x + np.maximum(run, 0)  # k after each unit's choice (Lindley)
        k_prev = np.empty(x.size, dtype=np.int64)
        k_prev[1:] = w[:-1]
        k_prev[first] = 0
        left = p - 1 - (w - took_l)
        lok = left >= lo_
        a = np.where(lok, d - cd[np.clip(left, 0, last)], np.inf)
        push = np.maximum(m - k_prev, 0)  # free controls passed: [p, top - k_prev)
        d_post = np.cumsum(push - took_r)
        d_mid = d_post + took_r
        d_pre = d_mid - push
        rok = d_mid > d_pre[starts][g]
        # the top of the stack: the lowest of the unit's own range if it pushed one
        # (that is control p), else found by looking back
        b = np.where(rok & (push > 0), up, np.inf)
        right = p.copy()
        q = np.flatnonzero(rok & (push == 0) & ((a > up) | ~lok))
        if q.size:
            # no push: the stack is as the previous unit left it, so the range holding
            # its top was pushed just after the stack was last lower than that
            jj = _previous_smaller(d_post)[q - 1] + 1
            rq = (top - k_prev)[jj] - (d_mid[q] - d_pre[jj])
            right[q] = rq
            b[q] = cd[rq] - d[q]
        return decide(left, lok, a, right, rok, b)

    # start from everyone's nearest control (as if nobody had taken any)
    x, j = decide(p - 1, p - 1 >= lo_, d - cd[np.clip(p - 1, 0, last)], p, p < hi_, up)
    x[~(p - 1 >= lo_) & ~(p < hi_)] = 0
    sel: np.ndarray | None = None  # units of the strata still changing (None: all)
    for _ in range(max_iter):
        if sel is None:
            x_new, j = step(x, p, d, lo_, top, m, up, first)
            changed = group[x_new != x]
            x = x_new
        else:
            x_new, j_new = step(
                x[sel], p[sel], d[sel], lo_[sel], top[sel], m[sel], up[sel], first[sel]
            )
            moved = x_new != x[sel]
            changed = group[sel[moved]]
            x[sel] = x_new
            j[sel] = j_new
        if not changed.size:
            took = x > 0
            out[seq[took]] = j[took]
            return out
        # a stratum whose choices did not move is at its fixed point: strata never
        # interact, so only the others are iterated further
        keep = np.zeros(int(group[-1]) + 1, dtype=bool)
        keep[changed] = True
        sel = np.flatnonzero(keep[group])
    return None


def nearest_mahalanobis(
    *,
    z: np.ndarray,
    treat: np.ndarray,
    stratum: np.ndarray | None = None,
    ratio: int = 1,
    replace: bool = False,
) -> np.ndarray:
    """Greedy nearest neighbours on Euclidean distance of whitened covariates ``z``.

    ``z`` = covariates times the inverse Cholesky factor of their covariance, so
    Euclidean distance on ``z`` is the Mahalanobis distance. Treated units in row
    order; ties go to the first control in row order. Work per treated unit is one
    vectorised pass over the controls of its stratum.
    """
    n = treat.size
    st = np.zeros(n, dtype=np.int64) if stratum is None else stratum.astype(np.int64)
    idx1 = np.flatnonzero(treat)
    idx0 = np.flatnonzero(~treat)
    mm = np.full((idx1.size, ratio), -1, dtype=np.int64)
    avail = np.ones(idx0.size, dtype=bool)
    by_stratum = {s: np.flatnonzero(st[idx0] == s) for s in np.unique(st[idx1])}
    for r in range(ratio):
        for t, row in enumerate(idx1):
            if r > 0 and mm[t, r - 1] < 0:
                continue
            cand = by_stratum[st[row]]
            if not replace:
                cand = cand[avail[cand]]
            elif r > 0:
                cand = cand[~np.isin(idx0[cand], mm[t, :r])]
            if cand.size == 0:
                continue
            d2 = np.einsum("ij,ij->i", z[idx0[cand]] - z[row], z[idx0[cand]] - z[row])
            j = cand[int(np.argmin(d2))]
            mm[t, r] = idx0[j]
            if not replace:
                avail[j] = False
    return mm


def optimal_pairs(
    *,
    distance: np.ndarray,
    treat: np.ndarray,
    stratum: np.ndarray | None = None,
    ratio: int = 1,
    caliper: float | None = None,
) -> np.ndarray:
    r"""Optimal 1:k matching without replacement within exact strata.

    Minimises :math:`\sum |d_i - d_j|` over matched pairs in each stratum
    (Rosenbaum 1989), solved as a rectangular assignment problem with each treated
    unit repeated ``ratio`` times (Crouse 2016, via
    :func:`scipy.optimize.linear_sum_assignment`). Pairs beyond the caliper are
    forbidden; when a stratum has fewer controls than treated slots the solver
    matches as many as it can at least total distance.
    """
    n = treat.size
    st = np.zeros(n, dtype=np.int64) if stratum is None else stratum.astype(np.int64)
    idx1 = np.flatnonzero(treat)
    idx0 = np.flatnonzero(~treat)
    pos1 = np.full(n, -1, dtype=np.int64)
    pos1[idx1] = np.arange(idx1.size)
    mm = np.full((idx1.size, ratio), -1, dtype=np.int64)
    big = 1e15
    for s in np.unique(st[idx1]):
        t_rows = idx1[st[idx1] == s]
        c_rows = idx0[st[idx0] == s]
        if c_rows.size == 0:
            continue
        cost = np.abs(distance[t_rows][:, None] - distance[c_rows][None, :])
        if caliper is not None:
            cost = np.where(cost > caliper, big, cost)
        cost = np.repeat(cost, ratio, axis=0)
        ri, ci = optimize.linear_sum_assignment(cost)
        keep = cost[ri, ci] < big
        ri, ci = ri[keep], ci[keep]
        t_of = t_rows[ri // ratio]
        order = np.lexsort((distance[c_rows[ci]], t_of))
        t_of, ci = t_of[order], ci[order]
        slot = np.zeros(t_of.size, dtype=np.int64)
        if t_of.size:
            first = np.r_[True, t_of[1:] != t_of[:-1]]
            start = np.maximum.accumulate(np.where(first, np.arange(t_of.size), 0))
            slot = np.arange(t_of.size) - start
        mm[pos1[t_of], slot] = c_rows[ci]
    return mm


def weights_from_mm(
    mm: np.ndarray, treat: np.ndarray, idx1: np.ndarray | None = None
) -> np.ndarray:
    r"""Matching weights for the ATT from a match matrix (as MatchIt computes them).

    A matched treated unit gets 1; each control gets :math:`\sum 1/m_i` over the
    treated units :math:`i` it is matched to (:math:`m_i` = their number of
    matches); control weights are then rescaled to sum to the number of distinct
    matched controls. ``idx1``: the treated rows (``flatnonzero(treat)``), if at hand.
    """
    n = treat.size
    m_i = (mm >= 0).sum(axis=1)
    has = m_i > 0
    ok = mm >= 0
    contrib = np.broadcast_to((1.0 / np.maximum(m_i, 1))[:, None], mm.shape)[ok]
    # bincount sums in the order of occurrence, as np.add.at does (same floats), faster
    w = np.bincount(mm[ok], weights=contrib, minlength=n).astype(float, copy=False)
    # only controls appear in ``mm``: the nonzero entries are the matched controls
    nz = np.flatnonzero(w)
    if nz.size:
        wc = w[nz]
        w[nz] = wc * (nz.size / wc.sum())
    w[(np.flatnonzero(treat) if idx1 is None else idx1)[has]] = 1.0
    return w


def subclass_from_mm(
    mm: np.ndarray, treat: np.ndarray, idx1: np.ndarray | None = None
) -> np.ndarray:
    """Subclass (pair/set) label per row: 1.. numbered by treated row order; 0 = unmatched."""
    n = treat.size
    idx1 = np.flatnonzero(treat) if idx1 is None else idx1
    has = (mm >= 0).any(axis=1)
    lab = np.zeros(idx1.size, dtype=np.int64)
    lab[has] = np.arange(1, int(has.sum()) + 1)
    sub = np.zeros(n, dtype=np.int64)
    sub[idx1] = lab
    ok = mm >= 0
    sub[mm[ok]] = np.broadcast_to(lab[:, None], mm.shape)[ok]
    return sub


def cem_bins(x: np.ndarray, cut: int | np.ndarray) -> np.ndarray:
    """Coarsen ``x``: ``cut`` bins of equal width over its range, or explicit cut points.

    Intervals are closed on the left (``[b_k, b_{k+1})``), the outer ones open-ended,
    as in MatchIt's coarsened exact matching (Iacus, King & Porro 2012).
    """
    if np.ndim(cut) == 0:
        k = int(cut)
        inner = np.linspace(x.min(), x.max(), k + 1)[1:-1]
    else:
        inner = np.unique(np.asarray(cut, dtype=float))
    return np.searchsorted(inner, x, side="right")


def sturges(n: int) -> int:
    """Sturges' number of bins, ``ceil(log2(n) + 1)``."""
    return int(math.ceil(math.log2(n) + 1))


def weights_from_subclass(subclass: np.ndarray, treat: np.ndarray) -> np.ndarray:
    r"""ATT weights from subclasses (exact / coarsened exact matching).

    Subclass 0 = unmatched (weight 0). Treated: 1. Controls in subclass :math:`s`:
    :math:`(n_{1s}/n_{0s}) \cdot (N_0/N_1)` with :math:`N_g` the matched totals, so
    control weights sum to the number of matched controls.
    """
    w = np.zeros(treat.size)
    m = subclass > 0
    if not m.any():
        return w
    k = int(subclass.max()) + 1
    n1 = np.bincount(subclass[m & treat], minlength=k).astype(float)
    n0 = np.bincount(subclass[m & ~treat], minlength=k).astype(float)
    good = (n1 > 0) & (n0 > 0)
    keep = m & good[subclass]
    big_n1 = n1[good].sum()
    big_n0 = n0[good].sum()
    w[keep & treat] = 1.0
    cm = keep & ~treat
    with np.errstate(divide="ignore", invalid="ignore"):
        w[cm] = (n1[subclass[cm]] / n0[subclass[cm]]) * (big_n0 / big_n1)
    return w


def common_support(
    distance: np.ndarray, treat: np.ndarray, which: Literal["treated", "control", "both"]
) -> np.ndarray:
    """Rows outside the range of the other group's score (MatchIt's ``discard``)."""
    d1, d0 = distance[treat], distance[~treat]
    out = np.zeros(distance.size, dtype=bool)
    if which in ("control", "both"):
        out |= ~treat & ((distance < d1.min()) | (distance > d1.max()))
    if which in ("treated", "both"):
        out |= treat & ((distance < d0.min()) | (distance > d0.max()))
    return out


# ----------------------------------------------------------------------------- balance
def weighted_mean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Column means of ``x`` (n x p) with weights ``w``."""
    return (w @ x) / w.sum()


def weighted_var(x: np.ndarray, w: np.ndarray, binary: np.ndarray) -> np.ndarray:
    r"""Column variances with reliability weights; :math:`p(1-p)` for binary columns.

    :math:`\sum w_i (x_i - \bar x_w)^2 / (1 - \sum w_i^2)` with :math:`w` normalised
    to sum to one (equals the usual :math:`n - 1` variance for equal weights).
    """
    wn = w / w.sum()
    m = wn @ x
    denom = 1.0 - np.sum(wn**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (wn @ (x - m) ** 2) / denom
    return np.where(binary, m * (1 - m), v)


def smd(x: np.ndarray, treat: np.ndarray, w: np.ndarray, sd_denominator: np.ndarray) -> np.ndarray:
    """Standardised mean differences (weighted treated mean minus control mean over ``sd_denominator``)."""
    mt = weighted_mean(x[treat], w[treat])
    mc = weighted_mean(x[~treat], w[~treat])
    diff = mt - mc
    with np.errstate(divide="ignore", invalid="ignore"):
        out = diff / sd_denominator
    return np.where(np.abs(diff) <= math.sqrt(np.finfo(float).eps), 0.0, out)


def variance_ratio(
    x: np.ndarray, treat: np.ndarray, w: np.ndarray, binary: np.ndarray
) -> np.ndarray:
    """Weighted variance of treated over controls; NaN for binary columns."""
    vt = weighted_var(x[treat], w[treat], binary)
    vc = weighted_var(x[~treat], w[~treat], binary)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = vt / vc
    return np.where(binary, np.nan, r)


def ecdf_stats(x: np.ndarray, treat: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    r"""Mean and maximum over the observed values of :math:`|F_1(x) - F_0(x)|` (weighted eCDFs).

    The evaluation points are all distinct values of ``x``, including those of rows
    with weight 0 (as MatchIt does).
    """
    wt = np.where(treat, w / w[treat].sum(), -w / w[~treat].sum())
    o = np.argsort(x, kind="stable")
    xs = x[o]
    cs = np.abs(np.cumsum(wt[o]))
    last = np.r_[xs[1:] != xs[:-1], True]
    e = cs[last]
    return float(e.mean()), float(e.max())


def ess(w: np.ndarray) -> float:
    r"""Kish's effective sample size :math:`(\sum w)^2 / \sum w^2`."""
    s2 = float(np.sum(w**2))
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0


# ----------------------------------------------------------------------------- effects
def wls_cluster(
    *, y: np.ndarray, x: np.ndarray, w: np.ndarray, cluster: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, int]:
    r"""Weighted least squares with cluster-robust (CR1) or HC1 covariance.

    :math:`\hat\beta = (X'WX)^{-1}X'Wy`;
    :math:`V = (X'WX)^{-1} \{\sum_g s_g s_g'\} (X'WX)^{-1} \cdot \frac{G}{G-1}\frac{n-1}{n-k}`
    with :math:`s_g = \sum_{i \in g} x_i w_i e_i` (clusters = rows when ``cluster``
    is None, giving HC1) -- the defaults of R's ``sandwich::vcovCL(type = "HC1")``.
    Returns the coefficients, their covariance and the number of clusters.
    """
    xw = x * w[:, None]
    bread = np.linalg.pinv(x.T @ xw)
    beta = bread @ (xw.T @ y)
    e = y - x @ beta
    s = xw * e[:, None]
    n, k = x.shape
    if cluster is None:
        g = n
        meat = s.T @ s
        adj = (n - 1) / (n - k) * g / (g - 1)
    else:
        _, inv = np.unique(cluster, return_inverse=True)
        g = int(inv.max()) + 1
        sg = np.zeros((g, k))
        np.add.at(sg, inv, s)
        meat = sg.T @ sg
        adj = g / (g - 1) * (n - 1) / (n - k)
    v = bread @ meat @ bread * adj
    return beta, v, g


def _nearest_same_group(d: np.ndarray, j: int) -> np.ndarray:
    """For each element of sorted ``d``, indices of its ``j`` nearest others (ties: lower first)."""
    n = d.size
    left = np.arange(n) - 1
    right = np.arange(n) + 1
    out = np.empty((n, j), dtype=np.int64)
    for r in range(j):
        lv = left >= 0
        rv = right < n
        dl = np.where(lv, np.abs(d - d[np.clip(left, 0, n - 1)]), np.inf)
        dr = np.where(rv, np.abs(d[np.clip(right, 0, n - 1)] - d), np.inf)
        tl = dl <= dr
        out[:, r] = np.where(tl, left, right)
        left = np.where(tl, left - 1, left)
        right = np.where(tl, right, right + 1)
    return out


def abadie_imbens_att(
    *,
    y: np.ndarray,
    treat: np.ndarray,
    distance: np.ndarray,
    mm: np.ndarray,
    n_variance: int = 1,
    target: Literal["population", "sample"] = "population",
) -> tuple[float, float]:
    r"""ATT and its Abadie--Imbens (2006) standard error for matching with replacement.

    .. math::
        \hat\tau = \frac1{N_1}\sum_{W_i=1}\Big(Y_i - \frac1{M}\sum_{j\in J(i)}Y_j\Big), \quad
        \hat V_{\text{sample}} = \frac1{N_1^2}\sum_i \big(W_i - (1-W_i)K_i/M\big)^2 \hat\sigma^2_i,

    .. math::
        \hat V_{\text{population}} = \frac1{N_1^2}\Big[\sum_{W_i=1}(Y_i - \hat Y_i(0)
        - \hat\tau)^2 + \sum_{W_i=0}\frac{K_i(K_i-1)}{M^2}\hat\sigma^2_i\Big],

    where :math:`K_i` counts how often control :math:`i` is used and
    :math:`\hat\sigma^2_i` is the sample variance of :math:`Y` over unit :math:`i`
    and its :math:`J` = ``n_variance`` nearest units of the same group (for
    :math:`J = 1` this is Abadie & Imbens' :math:`\frac{J}{J+1}(Y_i - \bar Y_{J(i)})^2`;
    for larger :math:`J` it is what R's ``Matching`` computes) (Abadie & Imbens
    2006, Theorem 7; Abadie, Drukker, Herr & Imbens 2004). Only treated units
    with all ``M`` matches enter.
    """
    idx1 = np.flatnonzero(treat)
    full = (mm >= 0).all(axis=1)
    mm_ = mm[full]
    t_rows = idx1[full]
    n1 = t_rows.size
    m = mm.shape[1]
    y0hat = y[mm_].mean(axis=1)
    contrast = y[t_rows] - y0hat
    tau = float(contrast.mean())
    k = np.bincount(mm_.ravel(), minlength=y.size).astype(float)
    # conditional variances from matching within each group
    sig2 = np.zeros(y.size)
    for grp in (True, False):
        rows = np.flatnonzero(treat == grp)
        o = np.argsort(distance[rows], kind="stable")
        rs = rows[o]
        nb = _nearest_same_group(distance[rs], n_variance)
        sig2[rs] = np.column_stack([y[rs], y[rs][nb]]).var(axis=1, ddof=1)
    ctrl = ~treat
    if target == "sample":
        v = np.sum(sig2[t_rows]) + np.sum((k[ctrl] / m) ** 2 * sig2[ctrl])
    else:
        v = np.sum((contrast - tau) ** 2) + np.sum(k[ctrl] * (k[ctrl] - 1) / m**2 * sig2[ctrl])
    return tau, float(math.sqrt(v) / n1)


# ----------------------------------------------------------------------------- sensitivity
def signed_rank_statistic(diff: np.ndarray) -> tuple[float, np.ndarray]:
    """Wilcoxon's signed-rank statistic (sum of ranks of positive differences; zeros dropped, mid-ranks)."""
    d = diff[diff != 0]
    ranks = stats.rankdata(np.abs(d))
    return float(ranks[d > 0].sum()), ranks


def rosenbaum_wilcoxon(
    diff: np.ndarray, gammas: np.ndarray, *, exact: bool = False
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Rosenbaum bounds on the one-sided p-value of the signed-rank test.

    Under hidden bias of size :math:`\Gamma` a pair's difference is positive with
    probability at most :math:`p^+ = \Gamma/(1+\Gamma)`; the upper bound on the
    p-value treats the ranks as independently positive with :math:`p^+` (lower bound:
    :math:`p^- = 1/(1+\Gamma)`) (Rosenbaum 2002, sec. 4.3.3). Normal approximation with
    :math:`E = p\sum r`, :math:`V = p(1-p)\sum r^2`, or the exact distribution by
    convolution when ``exact`` (integer ranks only).

    Returns upper and lower p-value bounds per gamma and the statistic :math:`T^+`.
    """
    t, ranks = signed_rank_statistic(diff)
    upper = np.empty(gammas.size)
    lower = np.empty(gammas.size)
    for i, g in enumerate(gammas):
        for p, out in ((g / (1 + g), upper), (1 / (1 + g), lower)):
            if exact:
                out[i] = _exact_tail(ranks, p, t)
            else:
                mu = p * ranks.sum()
                sd = math.sqrt(p * (1 - p) * np.sum(ranks**2))
                out[i] = float(stats.norm.sf((t - mu) / sd)) if sd > 0 else float(t < mu)
    return upper, lower, t


def _exact_tail(ranks: np.ndarray, p: float, t: float) -> float:
    """P(sum of independently included integer ranks >= t), inclusion probability ``p``."""
    r = np.rint(ranks).astype(np.int64)
    total = int(r.sum())
    dist = np.zeros(total + 1)
    dist[0] = 1.0
    for v in r:
        dist[v:] = dist[v:] * (1 - p) + dist[:-v] * p if v > 0 else dist
        dist[:v] *= 1 - p
    return float(dist[int(math.ceil(t - 1e-9)) :].sum())


# ----------------------------------------------------------------------------- scores
def auc(score: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (Mann--Whitney form, mid-ranks for ties)."""
    r = stats.rankdata(score)
    n1 = float(np.sum(y == 1))
    n0 = float(y.size - n1)
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def hosmer_lemeshow(
    p: np.ndarray, y: np.ndarray, groups: int = 10
) -> tuple[float, float, np.ndarray]:
    r"""Hosmer--Lemeshow statistic over groups of predicted risk (deciles by default).

    Returns the statistic, its p-value (:math:`\chi^2_{g-2}`) and a table with one row per
    group: mean predicted, observed rate, count.
    """
    o = np.argsort(p, kind="stable")
    bins = np.array_split(o, groups)
    rows = []
    chi = 0.0
    for b in bins:
        if b.size == 0:
            continue
        e = p[b].sum()
        obs = y[b].sum()
        nb = b.size
        rows.append((p[b].mean(), obs / nb, nb))
        pb = e / nb
        if 0 < pb < 1:
            chi += (obs - e) ** 2 / (nb * pb * (1 - pb))
    tab = np.asarray(rows, dtype=float)
    df = max(len(rows) - 2, 1)
    return float(chi), float(stats.chi2.sf(chi, df)), tab
