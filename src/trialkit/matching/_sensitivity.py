"""Rosenbaum bounds: how much hidden bias would overturn a matched-pairs result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from trialkit.errors import DataError
from trialkit.matching import _core
from trialkit.results import Result

__all__ = ["RosenbaumBounds", "rosenbaum_bounds"]


@dataclass(frozen=True, kw_only=True, eq=False)
class RosenbaumBounds(Result):
    """Bounds on the one-sided p-value of Wilcoxon's signed-rank test under hidden bias.

    ``table`` is indexed by ``gamma`` with columns ``p_lower`` and ``p_upper``;
    ``meta["critical_gamma"]`` is the smallest listed Gamma whose upper bound
    exceeds ``alpha`` (None when none does): the hidden bias at which the
    conclusion "treatment raised the outcome" could be overturned.
    """

    title: ClassVar[str] = "Rosenbaum bounds (signed-rank test)"

    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Upper p-value bound against Gamma with the alpha line."""
        from trialkit._plotting import get_ax

        ax = get_ax(ax)
        ax.plot(self.table.index, self.table["p_upper"], marker="o", **kwargs)
        ax.axhline(self.alpha, color="tab:red", ls="--", lw=0.8)
        ax.set_xlabel("Gamma (odds of treatment within a pair)")
        ax.set_ylabel("upper bound of one-sided p-value")
        return ax


def rosenbaum_bounds(
    differences: Sequence[float] | np.ndarray,
    *,
    gammas: Sequence[float] = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0),
    alpha: float = 0.05,
    exact: bool = False,
) -> RosenbaumBounds:
    r"""Rosenbaum's sensitivity bounds for matched pairs (treated minus control outcome).

    If an unobserved covariate makes the odds of treatment within a pair differ
    by at most a factor :math:`\Gamma`, the one-sided p-value of the signed-rank
    test of no effect lies between the returned bounds. The upper bound uses
    independent signs with :math:`P(+) = \Gamma/(1+\Gamma)`.

    Parameters
    ----------
    differences : array_like
        Within-pair differences :math:`Y_{\text{treated}} - Y_{\text{control}}`; zeros are dropped.
    gammas : sequence of float
        Values :math:`\Gamma \ge 1`.
    alpha : float
        Level at which the critical Gamma is reported.
    exact : bool
        Exact null distribution by convolution (small samples) instead of the
        normal approximation.

    Returns
    -------
    RosenbaumBounds

    References
    ----------
    Rosenbaum, P. R. (2002). Observational Studies, 2nd ed., Springer, sec. 4.3.

    Examples
    --------
    >>> rb = rosenbaum_bounds([1.2, 0.4, 2.0, -0.3, 1.1, 0.9, 1.5, -0.1, 0.8, 1.7], gammas=[1, 2])
    >>> bool(rb.to_frame().loc[1.0, "p_upper"] < rb.to_frame().loc[2.0, "p_upper"])
    True
    """
    d = np.asarray(differences, dtype=float).reshape(-1)
    if d.size == 0 or not np.all(np.isfinite(d)):
        raise DataError("`differences` must be a non-empty array of finite numbers")
    g = np.asarray(gammas, dtype=float)
    if np.any(g < 1):
        raise DataError(f"`gammas` must all be >= 1; got {list(gammas)!r}")
    up, lo, t = _core.rosenbaum_wilcoxon(d, g, exact=exact)
    tab = pd.DataFrame({"p_lower": lo, "p_upper": up}, index=pd.Index(g, name="gamma"))
    over = g[up > alpha]
    return RosenbaumBounds(
        method="rosenbaum_signed_rank" + ("_exact" if exact else ""),
        n_obs=int(np.count_nonzero(d)),
        alpha=alpha,
        table=tab,
        meta={
            "statistic": t,
            "n_pairs": int(d.size),
            "critical_gamma": float(over.min()) if over.size else None,
        },
    )
