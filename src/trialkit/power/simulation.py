"""Simulation-based power for designs and estimators the formulas do not cover."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from trialkit._parallel import get_config, map_replications
from trialkit._rng import as_seed_sequence, seed_record
from trialkit._typing import SeedLike
from trialkit.errors import DesignError, TrialkitWarning
from trialkit.power import _core
from trialkit.power._common import check_alpha
from trialkit.power._result import SimulationPowerResult
from trialkit.results import Exclusion

__all__ = ["simulate", "cluster_difference_test"]


def _one(
    rng: np.random.Generator,
    i: int,
    *,
    generate: Callable[[np.random.Generator], Any],
    estimate: Callable[[Any], Any],
) -> tuple[float, float]:
    out = estimate(generate(rng))
    if isinstance(out, Mapping):
        p = out.get("p", math.nan)
        est = out.get("estimate", math.nan)
    elif isinstance(out, tuple):
        est, p = out[0], out[-1]
    else:
        p, est = out, math.nan
    try:
        return float(p), float(est)
    except (TypeError, ValueError):
        return math.nan, math.nan


def simulate(
    generate: Callable[[np.random.Generator], Any],
    estimate: Callable[[Any], Any],
    *,
    n_sims: int = 1000,
    seed: SeedLike = None,
    alpha: float = 0.05,
    backend: Any = None,
    n_jobs: int | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
    design: str = "simulation",
) -> SimulationPowerResult:
    r"""Power by simulation: generate data, estimate, count rejections.

    Parameters
    ----------
    generate : callable
        ``generate(rng)`` draws one data set (a DataFrame, arrays, anything
        ``estimate`` accepts) using only the :class:`numpy.random.Generator` it is given.
    estimate : callable
        ``estimate(data)`` returns the p-value, or a mapping with keys ``"p"`` (and
        optionally ``"estimate"``), or a tuple ``(estimate, ..., p)``.
    n_sims : int
        Replications.
    seed : int, Generator, SeedSequence or None
        Replication ``i`` uses child seed ``i``: results do not depend on the backend,
        ``n_jobs`` or chunking. ``None`` draws fresh entropy, recorded in the result.
    alpha : float
        Rejection threshold for the p-values.
    backend : {"serial", "joblib", "dask"}, executor or None
        None (default): the backend set by ``tk.configure`` or ``TRIALKIT_BACKEND``, else serial.
        Where the replications run (see :func:`trialkit._parallel.map_replications`);
        for ``joblib``/``dask`` the callables must be picklable (module-level).
    n_jobs, chunk_size : int, optional
    progress : bool
        Show a progress bar.
    design : str
        Label stored in the result.

    Returns
    -------
    SimulationPowerResult
        ``power`` (share of replications with ``p < alpha``), ``mc_se``
        :math:`=\sqrt{\hat p(1-\hat p)/R}`, ``n_sims`` (replications with a p-value),
        the p-values and estimates. Replications whose estimator gave no p-value are
        listed in ``excluded``.

    Examples
    --------
    >>> import numpy as np, trialkit as tk
    >>> def gen(rng):
    ...     return rng.normal(0.0, 1.0, 100), rng.normal(0.4, 1.0, 100)
    >>> def est(data):
    ...     from scipy import stats
    ...     return stats.ttest_ind(data[1], data[0]).pvalue
    >>> r = tk.power.simulate(gen, est, n_sims=400, seed=1)
    >>> exact = tk.power.IndividualRCT(sd=1.0).power(effect=0.4, n_total=200).power
    >>> abs(r.power - exact) < 3 * r.mc_se
    True
    """
    t0 = time.perf_counter()
    if not callable(generate) or not callable(estimate):
        raise DesignError(
            "`generate` and `estimate` must be callables: generate(rng) -> data, estimate(data) -> p"
        )
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < 1:
        raise DesignError(f"`n_sims` must be a positive integer; got {n_sims!r}")
    a = check_alpha(alpha)
    ss = as_seed_sequence(seed)
    fn = partial(_one, generate=generate, estimate=estimate)
    used = get_config()["backend"] if backend is None else backend
    out = map_replications(
        fn,
        int(n_sims),
        seed=ss,
        backend=backend,
        n_jobs=n_jobs,
        chunk_size=chunk_size,
        progress=progress,
        desc="power simulation",
    )
    arr = np.asarray(out, dtype=float).reshape(-1, 2)
    p, est = arr[:, 0], arr[:, 1]
    ok = np.isfinite(p)
    excluded: tuple[Exclusion, ...] = ()
    n_ok = int(ok.sum())
    if n_ok < p.size:
        excluded = (Exclusion(reason="estimator returned no p-value", n=int(p.size - n_ok)),)
        warnings.warn(
            f"{p.size - n_ok} of {p.size} replications gave no p-value; power uses the other {n_ok}",
            TrialkitWarning,
            stacklevel=2,
        )
    if n_ok == 0:
        raise DesignError("no replication produced a p-value; check `estimate`")
    off = ok & ((p < 0) | (p > 1))
    if off.any():
        raise DesignError(
            f"`estimate` returned {int(off.sum())} p-values outside [0, 1] (e.g. "
            f'{float(p[off][0])!r}); it must return the p-value (or a mapping with key "p")'
        )
    power = float(np.mean(p[ok] < a))
    mc_se = math.sqrt(power * (1 - power) / n_ok)
    return SimulationPowerResult(
        method="simulation",
        n_obs=n_ok,
        alpha=a,
        excluded=excluded,
        seed=seed_record(seed if isinstance(seed, (int, np.integer)) else ss),
        elapsed_s=time.perf_counter() - t0,
        design=design,
        solved_for="power",
        power=power,
        mc_se=mc_se,
        n_sims=n_ok,
        p_values=p,
        estimates=est if np.isfinite(est).any() else None,
        meta={"backend": used if isinstance(used, str) else type(used).__name__},
    )


def cluster_difference_test(
    y: Any, treatment: Any, cluster: Any, *, small_sample: str = "CR2"
) -> dict[str, float]:
    r"""Fast difference in means with a cluster-robust standard error (for simulations).

    The regression of ``y`` on an intercept and a cluster-level treatment, with the
    CR2 (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018) or CR1 variance and a
    t reference on ``G - 2`` degrees of freedom; all in closed form with
    ``numpy.bincount`` (no design matrices).

    Parameters
    ----------
    y, treatment, cluster : array_like
        Outcome, 0/1 treatment (constant within cluster) and cluster labels.
    small_sample : {"CR2", "CR1"}

    Returns
    -------
    dict
        ``estimate``, ``se``, ``p``, ``n_clusters``.

    Examples
    --------
    >>> import numpy as np, trialkit as tk
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(20), 30); t = (g % 2).astype(float)
    >>> y = rng.normal(size=20)[g] + rng.normal(size=600) + 0.5 * t
    >>> r = tk.power.cluster_difference_test(y, t, g)
    >>> sorted(r)
    ['estimate', 'n_clusters', 'p', 'se']
    """
    if small_sample not in ("CR2", "CR1"):
        raise DesignError(f"`small_sample` must be one of ['CR2', 'CR1']; got {small_sample!r}")
    est, se, p, G = _core.cluster_difference_pvalue(
        np.asarray(y), np.asarray(treatment), np.asarray(cluster), small_sample=small_sample
    )
    return {"estimate": est, "se": se, "p": p, "n_clusters": float(G)}
