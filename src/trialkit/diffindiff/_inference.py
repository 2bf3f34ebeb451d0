"""Shared inference helpers: bootstrap blocks through the executor, few-cluster warnings."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from trialkit._parallel import map_replications
from trialkit.diffindiff import _core
from trialkit.errors import FewClustersWarning

BLOCK = 100  # draws per replication block (fixed, so results do not depend on the backend)
MIN_CLUSTERS = 30
MIN_TREATED_CLUSTERS = 10


def draw_blocks(
    block: Callable[..., np.ndarray],
    n: int,
    /,
    *,
    seed: Any,
    backend: Any,
    n_jobs: int | None,
    progress: bool,
    desc: str,
    **kwargs: Any,
) -> list[np.ndarray]:
    """``n`` draws in fixed blocks of :data:`BLOCK` through the executor.

    Calls ``block(rng, i, sizes=sizes, **kwargs)`` for block ``i`` (``sizes[i]`` draws)
    with per-block child seeds, so the draws do not depend on the backend.
    """
    n_blocks = -(-n // BLOCK)
    sizes = tuple(min(BLOCK, n - b * BLOCK) for b in range(n_blocks))
    fn = functools.partial(block, sizes=sizes, **kwargs)
    return map_replications(
        fn, n_blocks, seed=seed, backend=backend, n_jobs=n_jobs, progress=progress, desc=desc
    )


def _multiplier_block(
    rng: np.random.Generator,
    i: int,
    *,
    psi_cl: np.ndarray,
    n: int,
    sizes: tuple[int, ...],
    weights: str,
) -> np.ndarray:
    return _core.multiplier_draws(psi_cl, n, sizes[i], rng, weights)


def multiplier_bootstrap(
    psi: np.ndarray,
    cluster: np.ndarray | None,
    *,
    n_boot: int,
    seed: Any,
    weights: str = "mammen",
    backend: Any = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """(n_boot, K) multiplier-bootstrap draws of sqrt(n)(theta* - theta), drawn in fixed blocks."""
    n = psi.shape[0]
    psi_cl = _core.cluster_sums(psi, cluster)
    parts = draw_blocks(
        _multiplier_block,
        n_boot,
        seed=seed,
        backend=backend,
        n_jobs=n_jobs,
        progress=progress,
        desc="bootstrap",
        psi_cl=psi_cl,
        n=n,
        weights=weights,
    )
    return np.vstack(parts) if parts else np.zeros((0, psi.shape[1]))


def warn_few_clusters(
    n_clusters: int, n_treated_clusters: int, *, what: str = "clusters", stacklevel: int = 3
) -> bool:
    """Warn (FewClustersWarning, with the counts) when clusters or treated clusters are few."""
    if n_treated_clusters < MIN_TREATED_CLUSTERS or n_clusters < MIN_CLUSTERS:
        warnings.warn(
            f"only {n_treated_clusters} treated {what} (of {n_clusters}): cluster-robust and "
            "multiplier-bootstrap inference over-reject with few treated clusters; prefer "
            "inference='wild' (wild cluster bootstrap, null imposed) or 'randomisation'",
            FewClustersWarning,
            stacklevel=stacklevel,
        )
        return True
    return False
