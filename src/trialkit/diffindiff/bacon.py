"""Goodman-Bacon (2021) decomposition: how TWFE weights the 2x2 comparisons."""

from __future__ import annotations

import time as _time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from trialkit.diffindiff import _core
from trialkit.diffindiff._panel import prepare_panel
from trialkit.errors import DataError
from trialkit.results import Result

__all__ = ["BaconResult", "bacon_decomposition"]

_KINDS = {
    0: "treated vs never treated",
    1: "earlier vs later treated",
    2: "later vs earlier treated",
    3: "treated vs always treated",
}


@dataclass(frozen=True, kw_only=True, eq=False)
class BaconResult(Result):
    """The TWFE coefficient as a weighted average of 2x2 DiDs.

    ``table`` has one row per comparison: ``treated``, ``control`` (first treated period of
    each timing group; ``"never"`` for never treated), ``comparison`` (kind), ``estimate``,
    ``weight``. ``twfe`` is the TWFE coefficient (= sum of weight x estimate);
    ``by_comparison`` sums the weights per kind. "later vs earlier treated" comparisons use
    already-treated units as controls: with effects that change over time they are the
    source of TWFE's bias.
    """

    title: ClassVar[str] = "Goodman-Bacon decomposition"
    table: pd.DataFrame
    twfe: float

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def by_comparison(self) -> pd.DataFrame:
        """Total weight and weighted average estimate per kind of comparison."""
        t = self.table
        wx = (t["weight"] * t["estimate"]).groupby(t["comparison"], sort=False).sum()
        w = t.groupby("comparison", sort=False)["weight"].sum()
        est = wx / w
        return pd.DataFrame({"weight": w, "estimate": est})

    def _payload(self) -> dict[str, Any]:
        return {"table": self.table, "twfe": self.twfe}

    def summary(self) -> str:
        return (
            super().summary()
            + f"\n\nTWFE coefficient: {self.twfe:.4g}\n"
            + self.by_comparison.to_string()
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Scatter of 2x2 estimates (x) against their weights (y), one collection per kind of
        comparison, and a vertical line at the TWFE coefficient. Returns the Axes."""
        from trialkit._plotting import get_ax

        ax = get_ax(ax)
        for kind in self.table["comparison"].unique():
            sub = self.table[self.table["comparison"] == kind]
            ax.scatter(sub["estimate"], sub["weight"], label=kind, **kwargs)
        ax.axvline(self.twfe, color="grey", ls="--", lw=0.8, label="TWFE")
        ax.set_xlabel("2x2 DiD estimate")
        ax.set_ylabel("weight")
        ax.legend(frameon=False)
        return ax


def bacon_decomposition(
    panel: pd.DataFrame,
    *,
    outcome: str,
    unit: str = "municipality",
    time: str = "month",
    first_treated: str = "first_treated",
) -> BaconResult:
    r"""Decompose the TWFE DiD coefficient into 2x2 comparisons (Goodman-Bacon 2021, Theorem 1).

    .. math:: \hat\beta^{DD} = \sum_{k \ne U} s_{kU}\hat\beta^{2x2}_{kU} +
              \sum_{k \ne U}\sum_{\ell > k} \big[s^k_{k\ell}\hat\beta^{2x2,k}_{k\ell} +
              s^\ell_{k\ell}\hat\beta^{2x2,\ell}_{k\ell}\big]

    Needs a balanced panel without covariates (units not observed in all periods are
    dropped and reported; units treated in the first period are excluded and reported).

    Parameters
    ----------
    panel : DataFrame
        Long unit x time panel.
    outcome, unit, time, first_treated : str
        Column names (as in :func:`trialkit.did`).

    Returns
    -------
    BaconResult

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
    *Journal of Econometrics* 225(2), 254-277.

    Examples
    --------
    >>> from trialkit.diffindiff.datasets import staggered_panel
    >>> b = bacon_decomposition(staggered_panel(seed=0), outcome="y", unit="unit",
    ...                         time="period", first_treated="first_treated")
    >>> round(float(b.table["weight"].sum()), 6)
    1.0
    """
    t0 = _time.perf_counter()
    p = prepare_panel(
        panel,
        outcome=outcome,
        unit=unit,
        time=time,
        first_treated=first_treated,
        covariates=[],
        cluster=None,
    )
    if not (p.g >= 0).any():
        raise DataError("no treated units: nothing to decompose")
    raw = _core.bacon(p.y, p.g)

    def lab(v: int) -> Any:
        return "never" if v == _core.NEVER else p.axis.label(int(v))

    table = pd.DataFrame(
        {
            "treated": [lab(v) for v in raw["treated"]],
            "control": [lab(v) for v in raw["control"]],
            "comparison": [_KINDS[int(k)] for k in raw["kind"]],
            "estimate": raw["estimate"],
            "weight": raw["weight"],
        }
    )
    twfe = float(np.sum(raw["estimate"] * raw["weight"]))
    return BaconResult(
        method="bacon_decomposition",
        n_obs=int(p.y.size),
        excluded=p.excluded,
        elapsed_s=_time.perf_counter() - t0,
        table=table,
        twfe=twfe,
    )
