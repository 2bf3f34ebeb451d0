"""Seeds and the executor interface: same seed, same numbers, whatever the backend."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialkit._parallel import map_replications
from trialkit._rng import as_generator, as_seed_sequence, child_seeds, seed_record
from trialkit.errors import DesignError


def _draw(rng, i, size=3):
    return (i, rng.standard_normal(size).tolist())


def test_as_generator_accepts_int_generator_sequence_none():
    a = as_generator(5).random(4)
    b = as_generator(np.random.SeedSequence(5)).random(4)
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(1)
    assert as_generator(g) is g
    assert as_generator(None).random() != as_generator(None).random()


def test_none_seed_is_recorded_and_replayable():
    ss = as_seed_sequence(None)
    rec = seed_record(ss)
    assert isinstance(rec, int)
    np.testing.assert_array_equal(as_generator(rec).random(3), as_generator(ss).random(3))


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True])
def test_bad_seed(bad):
    with pytest.raises(DesignError, match="seed"):
        as_seed_sequence(bad)


@given(st.integers(0, 2**32), st.integers(1, 20), st.integers(0, 19))
def test_child_seed_depends_only_on_index(seed, n, start):
    full = child_seeds(seed, start + n)
    part = child_seeds(seed, n, start=start)
    for a, b in zip(full[start:], part):
        assert (a.generate_state(2) == b.generate_state(2)).all()


@given(st.integers(1, 40), st.integers(1, 12))
def test_serial_results_do_not_depend_on_chunking(n, chunk):
    a = map_replications(_draw, n, seed=3)
    b = map_replications(_draw, n, seed=3, chunk_size=chunk)
    assert a == b
    assert [r[0] for r in a] == list(range(n))


def test_backends_bit_identical():
    fn = functools.partial(_draw, size=5)
    serial = map_replications(fn, 23, seed=11)
    joblib = map_replications(fn, 23, seed=11, backend="joblib", n_jobs=2)
    with ThreadPoolExecutor(2) as ex:
        threads = map_replications(fn, 23, seed=11, backend=ex, chunk_size=4)
    assert serial == joblib == threads
    assert map_replications(fn, 23, seed=12) != serial


def test_dask_backend_bit_identical():
    import distributed

    fn = functools.partial(_draw, size=2)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        dask = map_replications(fn, 17, seed=4, backend="dask")
    assert dask == map_replications(fn, 17, seed=4)


def test_bad_backend_and_n():
    with pytest.raises(DesignError, match="backend"):
        map_replications(_draw, 2, seed=1, backend="spark")
    with pytest.raises(DesignError, match="`n`"):
        map_replications(_draw, -1, seed=1)


def _square_sum(x):
    return int(np.sum(np.arange(x) ** 2))


def test_map_tasks_same_on_every_backend_and_configurable(monkeypatch):
    from trialkit._parallel import configure, get_config, map_tasks

    items = [3, 10, 0, 7]
    expected = [sum(i * i for i in range(x)) for x in items]
    assert map_tasks(_square_sum, items, backend="serial") == expected
    assert map_tasks(_square_sum, items, backend="joblib", n_jobs=2) == expected
    with ThreadPoolExecutor(2) as ex:
        assert map_tasks(_square_sum, items, backend=ex) == expected
    monkeypatch.setenv("TRIALKIT_BACKEND", "joblib")
    assert get_config()["backend"] == "joblib"
    configure(backend="serial")
    try:
        assert get_config()["backend"] == "serial"
        assert map_tasks(_square_sum, items) == expected
    finally:
        configure()
    monkeypatch.setenv("TRIALKIT_BACKEND", "spark")
    with pytest.raises(DesignError, match="TRIALKIT_BACKEND"):
        get_config()
    with pytest.raises(DesignError, match="backend"):
        configure(backend="spark")


def test_configured_backend_is_the_default_of_the_public_functions(monkeypatch):
    # tk.configure(backend=...) reaches the functions that take `backend` (default None)
    import trialkit as tk

    calls = []

    def gen(rng):
        return rng.normal(size=30)

    def est(x):
        from scipy import stats

        return stats.ttest_1samp(x, 0.0).pvalue

    try:
        tk.configure(backend="joblib", n_jobs=2)
        r1 = tk.power.simulate(gen, est, n_sims=40, seed=3)
        calls.append(r1.meta["backend"])
        tk.configure()
        r2 = tk.power.simulate(gen, est, n_sims=40, seed=3)
        calls.append(r2.meta["backend"])
    finally:
        tk.configure()
    assert calls == ["joblib", "serial"]
    assert r1.power == r2.power  # the backend never changes the numbers
