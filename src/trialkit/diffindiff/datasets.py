"""A small simulated staggered-adoption panel with known effects (for examples and tests)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trialkit._rng import as_generator

__all__ = ["staggered_panel"]


def staggered_panel(
    *,
    n_units: int = 200,
    n_periods: int = 12,
    groups: tuple[int, ...] = (5, 8),
    share_treated: float = 0.4,
    effect: float = 1.0,
    dynamic: float = 0.0,
    n_clusters: int | None = None,
    trend: float = 0.0,
    seed: Any = 0,
) -> pd.DataFrame:
    r"""Simulate :math:`Y_{it} = \alpha_i + \lambda_t + \tau_{it} D_{it} + \varepsilon_{it}`.

    Treated units are split evenly over the first treated periods ``groups``; the effect
    is :math:`\tau_{it} = effect + dynamic \cdot (t - g_i)` once treated. With ``n_clusters``
    units are grouped into clusters sharing the treatment date and a cluster shock
    per period. ``trend`` adds a linear differential trend to treated units (violating
    parallel trends).

    Returns a long DataFrame with columns ``unit, period, cluster, y, x, first_treated``
    (``first_treated`` 0 for never treated, the ``did`` convention) and ``true_effect``.

    Examples
    --------
    >>> df = staggered_panel(n_units=10, n_periods=4, groups=(3,), seed=1)
    >>> df.shape
    (40, 7)
    """
    rng = as_generator(seed)
    if n_clusters is None:
        cl = np.arange(n_units)
        n_cl = n_units
    else:
        n_cl = n_clusters
        cl = np.repeat(np.arange(n_cl), -(-n_units // n_cl))[:n_units]
    n_tr_cl = int(round(share_treated * n_cl))
    order = rng.permutation(n_cl)
    g_cl = np.zeros(n_cl, dtype=np.int64)
    for k, c in enumerate(order[:n_tr_cl]):
        g_cl[c] = groups[k % len(groups)]
    g = g_cl[cl]
    x = rng.normal(size=n_units)
    alpha = rng.normal(size=n_units) + 0.5 * (g > 0)
    lam = np.cumsum(rng.normal(scale=0.3, size=n_periods))
    t = np.arange(1, n_periods + 1)
    treated = (g[:, None] > 0) & (t[None, :] >= g[:, None])
    tau = np.where(treated, effect + dynamic * (t[None, :] - g[:, None]), 0.0)
    shock = rng.normal(scale=0.5, size=(n_cl, n_periods))[cl] if n_clusters is not None else 0.0
    y = (
        alpha[:, None]
        + lam[None, :]
        + 0.3 * x[:, None] * t[None, :] / n_periods
        + trend * (g[:, None] > 0) * t[None, :]
        + tau
        + shock
        + rng.normal(size=(n_units, n_periods))
    )
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_periods),
            "period": np.tile(t, n_units),
            "cluster": np.repeat(cl, n_periods),
            "y": y.ravel(),
            "x": np.repeat(x, n_periods),
            "first_treated": np.repeat(g, n_periods),
            "true_effect": tau.ravel(),
        }
    )
