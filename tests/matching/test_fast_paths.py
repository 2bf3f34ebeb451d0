"""The fast internals of greedy matching against direct, slow definitions.

The vectorised 1:1 sweep (a fixed-point iteration), the packed-key sort, the
pointer-jumping "previous smaller value" and the control layout each have a plain
reference here; ``test_matching.py`` checks the public results against a direct
transcription of MatchIt's greedy rule and the MatchIt fixtures check them against R.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialkit.matching import _core


def _sweep_inputs(d, t, s):
    ctrl_rows, cd, lo, hi, pos, idx1, _ = _core._control_layout(d, t, s)
    s1 = s[idx1]
    seq = _core._treated_order(d, idx1, "largest")
    seq = seq[np.argsort(s1[seq], kind="stable")]
    return cd, d[idx1], lo, hi, pos, s1, seq


def _sweepable(args):
    pos, s1, seq = args[4], args[5], args[6]
    pg, sg = pos[seq], s1[seq]
    return not np.any((sg[1:] == sg[:-1]) & (pg[1:] > pg[:-1]))


@given(
    seed=st.integers(0, 100_000),
    n=st.integers(2, 150),
    n_strata=st.integers(1, 4),
    p_treat=st.floats(0.1, 0.9),
    caliper=st.sampled_from([math.inf, 0.05, 0.3, 1.0]),
    discrete=st.booleans(),
)
def test_vectorised_sweep_equals_loop(seed, n, n_strata, p_treat, caliper, discrete):
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 8, n).astype(float) if discrete else rng.normal(size=n)
    t = rng.random(n) < p_treat
    s = rng.integers(0, n_strata, n)
    args = _sweep_inputs(d, t, s)
    if not _sweepable(args):  # ties among treated: nearest_greedy uses union-find instead
        return
    want = _core._sweep_down(*args, caliper)
    got = _core._sweep_down_vectorised(*args, caliper, max_iter=10_000)
    assert got is not None
    assert np.array_equal(got, want)


def test_vectorised_sweep_dense_treated_and_fallback(monkeypatch):
    """Treated denser than controls (long chains of choices); and the loop fallback
    when the iteration budget runs out gives the same matches."""
    rng = np.random.default_rng(7)
    n = 4000
    d = rng.normal(size=n)
    t = rng.random(n) < 0.45
    s = rng.integers(0, 3, n)
    args = _sweep_inputs(d, t, s)
    want = _core._sweep_down(*args, 0.05)
    assert np.array_equal(_core._sweep_down_vectorised(*args, 0.05), want)
    assert _core._sweep_down_vectorised(*args, 0.05, max_iter=1) is None
    direct = _core.nearest_greedy(distance=d, treat=t, stratum=s, caliper=0.05)
    monkeypatch.setattr(_core, "_sweep_down_vectorised", lambda *a, **k: None)
    assert np.array_equal(
        _core.nearest_greedy(distance=d, treat=t, stratum=s, caliper=0.05), direct
    )


@given(seed=st.integers(0, 100_000), n=st.integers(1, 300), high=st.integers(1, 40))
def test_previous_smaller_equals_brute_force(seed, n, high):
    rng = np.random.default_rng(seed)
    v = np.cumsum(rng.integers(-1, high, n))  # a stack depth: falls by at most 1 a step
    want = np.array([max([j for j in range(i) if v[j] < v[i]], default=-1) for i in range(n)])
    assert np.array_equal(_core._previous_smaller(v), want)
    assert np.array_equal(_core._previous_smaller(v, max_rounds=0), want)  # lifting only


@given(seed=st.integers(0, 100_000), n=st.integers(2, 400), n_strata=st.integers(1, 70))
def test_packed_order_is_the_stable_sort(seed, n, n_strata):
    rng = np.random.default_rng(seed)
    kind = seed % 3
    if kind == 0:
        d = rng.normal(size=n)
    elif kind == 1:  # many exact ties
        d = rng.integers(0, 5, n).astype(float)
    else:  # distinct values closer than a quantum of the packed key
        d = 1.0 + rng.integers(0, 4, n) * 1e-15 + rng.normal(size=n) * (rng.random(n) < 0.05)
    s = rng.integers(0, n_strata, n)
    want = np.lexsort((np.arange(n), d, s))
    got = _core._packed_order(d, s, int(s.max()) + 1)
    assert got is not None
    assert np.array_equal(got, want)


def test_packed_order_declines_infinite_scores():
    d = np.array([0.0, np.inf, 1.0])
    assert _core._packed_order(d, np.zeros(3, dtype=np.int64), 1) is None


@pytest.mark.parametrize(
    ("n_strata", "infinite"), [(1, False), (3, False), (100, False), (3, True)]
)
def test_control_layout_matches_definition(n_strata, infinite):
    rng = np.random.default_rng(n_strata)
    n = 600
    d = rng.integers(0, 30, n).astype(float)  # ties between treated and controls
    if infinite:  # the packed key declines; the argsort path must give the same layout
        d[rng.random(n) < 0.05] = np.inf
    t = rng.random(n) < 0.3
    s = rng.integers(0, n_strata, n)
    ctrl_rows, cd, lo, hi, pos, idx1, t_sorted = _core._control_layout(d, t, s)
    order = np.lexsort((np.arange(n), d, s))  # all rows by (stratum, score, row)
    assert np.array_equal(ctrl_rows, order[~t[order]])
    assert np.array_equal(cd, d[ctrl_rows])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    for k, row in enumerate(idx1):
        before = order[: rank[row]]
        assert pos[k] == np.count_nonzero(~t[before])
        in_stratum = np.flatnonzero(s[ctrl_rows] == s[row])  # positions in ctrl_rows
        if in_stratum.size:
            assert (lo[k], hi[k]) == (in_stratum.min(), in_stratum.max() + 1)
        else:
            assert lo[k] == hi[k]
    assert np.array_equal(idx1[t_sorted], order[t[order]])


@pytest.mark.parametrize(
    "d", [[-1e308, 1e308, 0.0, 5.0], [0.0, 5e-324, 1e-323, 0.0]], ids=["overflow", "subnormal"]
)
def test_packed_order_declines_spreads_it_cannot_quantise(d):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-cast warnings either
        assert _core._packed_order(np.array(d), np.zeros(4, dtype=np.int64), 1) is None
