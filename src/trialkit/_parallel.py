"""One executor interface for embarrassingly parallel replications.

Power simulations, randomisation inference and bootstraps all have the same
shape: run ``fn(rng, index)`` for replications ``0 .. n - 1``, each with its own
random stream, and collect the results in index order. :func:`map_replications`
does that on a chosen backend:

* ``"serial"`` -- in process (default; no overhead, easiest to debug);
* ``"joblib"`` -- local processes through :mod:`joblib` (``n_jobs`` workers);
* ``"dask"`` -- a :mod:`dask.distributed` client (optional ``trialkit[dask]``);
* any object with a ``map(func, iterable)`` method, such as a
  :class:`concurrent.futures.Executor`.

Replication ``i`` always receives the generator built from
``child_seeds(seed, ...)[i]``, so results are bit-identical whatever the
backend, the number of workers and the chunk size.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import numpy as np

from trialkit._rng import child_seeds
from trialkit._typing import SeedLike
from trialkit.errors import DesignError

__all__ = ["map_replications", "map_tasks", "Backend", "BACKENDS", "configure", "get_config"]

T = TypeVar("T")
Backend = Literal["serial", "joblib", "dask"]
BACKENDS: tuple[str, ...] = ("serial", "joblib", "dask")

log = logging.getLogger("trialkit.parallel")

_CONFIG: dict[str, Any] = {"backend": None, "n_jobs": None, "scheduler": None}


def configure(
    *, backend: Backend | None = None, n_jobs: int | None = None, scheduler: str | None = None
) -> None:
    """Set the default backend, worker count and Dask scheduler address for this process.

    The environment variables ``TRIALKIT_BACKEND``, ``TRIALKIT_N_JOBS`` and
    ``TRIALKIT_SCHEDULER`` set the same defaults (the command line's
    ``--backend``/``--scheduler`` options set them too). Functions called with
    an explicit ``backend=`` ignore the default.

    Examples
    --------
    >>> configure(backend="serial"); get_config()["backend"]
    'serial'
    """
    if backend is not None and backend not in BACKENDS:
        raise DesignError(f"`backend` must be one of {BACKENDS}; got {backend!r}")
    _CONFIG.update(backend=backend, n_jobs=n_jobs, scheduler=scheduler)


def get_config() -> dict[str, Any]:
    """The effective defaults: :func:`configure` first, then the environment, then serial."""
    import os

    backend = _CONFIG["backend"] or os.environ.get("TRIALKIT_BACKEND") or "serial"
    n_jobs = _CONFIG["n_jobs"] or (
        int(os.environ["TRIALKIT_N_JOBS"]) if os.environ.get("TRIALKIT_N_JOBS") else None
    )
    scheduler = _CONFIG["scheduler"] or os.environ.get("TRIALKIT_SCHEDULER") or None
    if backend not in BACKENDS:
        raise DesignError(f"TRIALKIT_BACKEND must be one of {BACKENDS}; got {backend!r}")
    return {"backend": backend, "n_jobs": n_jobs, "scheduler": scheduler}


def _dask_client() -> Any:
    try:
        from distributed import Client, get_client
    except ImportError as exc:  # pragma: no cover - optional extra
        raise DesignError(
            "backend='dask' needs the optional extra: pip install 'trialkit[dask]'"
        ) from exc
    address = get_config()["scheduler"]
    if address:
        return Client(address)
    try:
        return get_client()
    except ValueError as exc:
        raise DesignError(
            "backend='dask' found no Dask client: start one (distributed.Client(...)) or set the "
            "scheduler address with trialkit.configure(scheduler=...) or TRIALKIT_SCHEDULER"
        ) from exc


def map_tasks(
    fn: Callable[[Any], T],
    items: Sequence[Any],
    *,
    backend: Backend | Any | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
    desc: str = "tasks",
) -> list[T]:
    """Run ``fn(item)`` for each item (partitions, strata) and return results in order.

    Deterministic work only (no random numbers); for seeded replications use
    :func:`map_replications`. Backends as there; ``None`` takes the configured default.

    Examples
    --------
    >>> map_tasks(abs, [-1, 2, -3])
    [1, 2, 3]
    """
    cfg = get_config()
    backend = cfg["backend"] if backend is None else backend
    n_jobs = n_jobs or cfg["n_jobs"]
    if isinstance(backend, str) and backend not in BACKENDS:
        raise DesignError(f"`backend` must be one of {BACKENDS} or an executor; got {backend!r}")
    items = list(items)
    bar = _Progress(len(items), desc, progress)
    out: list[Any] = []
    try:
        if backend == "serial":
            for it in items:
                out.append(fn(it))
                bar.update(1)
        elif backend == "joblib":
            from joblib import Parallel, delayed

            par = Parallel(n_jobs=n_jobs or -1, return_as="generator")
            for res in par(delayed(fn)(it) for it in items):
                out.append(res)
                bar.update(1)
        elif backend == "dask":
            client = _dask_client()
            for res in client.gather(client.map(fn, items, pure=False)):
                out.append(res)
                bar.update(1)
        else:
            for res in backend.map(fn, items):
                out.append(res)
                bar.update(1)
    finally:
        bar.close()
    return out


def _run_chunk(
    fn: Callable[[np.random.Generator, int], Any],
    seeds: Sequence[np.random.SeedSequence],
    start: int,
) -> list[Any]:
    # One BLAS thread everywhere: a multithreaded BLAS sums in an order that depends on
    # its thread count, which differs between this process and joblib/Dask workers, and
    # results must be bit-identical whatever the backend.
    from threadpoolctl import threadpool_limits

    out = []
    with threadpool_limits(limits=1, user_api="blas"):
        for j, ss in enumerate(seeds):
            rng = np.random.Generator(np.random.PCG64(ss))
            out.append(fn(rng, start + j))
    return out


class _Progress:
    """Minimal progress display: tqdm when installed, else a line on stderr."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.enabled = enabled
        self.total = total
        self.done = 0
        self.desc = desc
        self._bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self._bar = tqdm(total=total, desc=desc)
            except ImportError:  # pragma: no cover - depends on environment
                self._bar = None

    def update(self, k: int) -> None:
        if not self.enabled:
            return
        self.done += k
        if self._bar is not None:
            self._bar.update(k)
        else:  # pragma: no cover - depends on environment
            print(f"\r{self.desc}: {self.done}/{self.total}", end="", file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:  # pragma: no cover
            print(file=sys.stderr)


def map_replications(
    fn: Callable[[np.random.Generator, int], T],
    n: int,
    *,
    seed: SeedLike,
    backend: Backend | Any | None = "serial",
    n_jobs: int | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
    desc: str = "replications",
) -> list[T]:
    """Run ``fn(rng, i)`` for ``i = 0 .. n - 1`` and return the results in order.

    Parameters
    ----------
    fn : callable
        ``fn(rng, i)`` with ``rng`` a :class:`numpy.random.Generator` private to
        replication ``i``. For the ``joblib`` and ``dask`` backends it must be
        picklable (a module-level function or a :func:`functools.partial`).
    n : int
        Number of replications.
    seed : int, Generator, SeedSequence or None
        Parent seed; replication ``i`` uses child ``i`` (see
        :func:`trialkit._rng.child_seeds`).
    backend : {"serial", "joblib", "dask"}, executor or None
        Where to run. An object with ``map(func, iterable)`` is used directly;
        ``None`` takes the default set by :func:`configure` or ``TRIALKIT_BACKEND``.
    n_jobs : int, optional
        Workers for ``joblib`` (default: all cores).
    chunk_size : int, optional
        Replications per task (default: about 4 tasks per worker).
    progress : bool
        Show a progress bar (tqdm when installed).
    desc : str
        Label of the progress bar.

    Returns
    -------
    list
        ``[fn(rng_0, 0), ..., fn(rng_{n-1}, n - 1)]``.

    Examples
    --------
    >>> r1 = map_replications(lambda rng, i: rng.random(), 4, seed=1)
    >>> r2 = map_replications(lambda rng, i: rng.random(), 4, seed=1, chunk_size=1)
    >>> r1 == r2
    True
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise DesignError(f"`n` must be a non-negative integer; got {n!r}")
    n = int(n)
    if backend is None:
        backend = get_config()["backend"]
        n_jobs = n_jobs or get_config()["n_jobs"]
    seeds = child_seeds(seed, n)
    if isinstance(backend, str) and backend not in BACKENDS:
        raise DesignError(f"`backend` must be one of {BACKENDS} or an executor; got {backend!r}")
    workers = 1
    if backend == "joblib":
        import os

        workers = n_jobs if n_jobs and n_jobs > 0 else (os.cpu_count() or 1)
    elif backend == "dask" or not isinstance(backend, str):
        workers = n_jobs or 4
    if chunk_size is None:
        chunk_size = max(1, -(-n // (4 * workers))) if backend != "serial" else max(1, -(-n // 100))
    starts = list(range(0, n, chunk_size))
    chunks = [(seeds[s : s + chunk_size], s) for s in starts]
    bar = _Progress(n, desc, progress)
    results: list[Any] = []
    try:
        if backend == "serial":
            for ss, s in chunks:
                part = _run_chunk(fn, ss, s)
                results.extend(part)
                bar.update(len(part))
        elif backend == "joblib":
            from joblib import Parallel, delayed

            par = Parallel(n_jobs=workers, return_as="generator")
            for part in par(delayed(_run_chunk)(fn, ss, s) for ss, s in chunks):
                results.extend(part)
                bar.update(len(part))
        elif backend == "dask":
            client = _dask_client()
            futures = client.map(
                _run_chunk,
                [fn] * len(chunks),
                [c[0] for c in chunks],
                [c[1] for c in chunks],
                pure=False,
            )
            for part in client.gather(futures):
                results.extend(part)
                bar.update(len(part))
        else:
            for part in backend.map(
                _run_chunk, [fn] * len(chunks), [c[0] for c in chunks], [c[1] for c in chunks]
            ):
                results.extend(part)
                bar.update(len(part))
    finally:
        bar.close()
    log.debug("ran %d replications on backend %r in %d chunks", n, backend, len(chunks))
    return results
