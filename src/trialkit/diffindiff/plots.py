"""Plots: event study with pointwise and uniform bands; treated vs comparison trends.

matplotlib is imported lazily; every function takes ``ax=None`` and returns the Axes.
No statistics are computed here beyond group means for the trends plot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trialkit._checks import require_columns, require_frame
from trialkit._plotting import get_ax

__all__ = ["event_plot", "trends_plot"]


def event_plot(
    table: pd.DataFrame, *, ax: Any = None, alpha: float = 0.05, bands: bool = True, **kwargs: Any
) -> Any:
    """Event-study estimates (line 0), pointwise intervals (error bars) and the uniform band.

    ``table`` is indexed by event time with ``estimate, ci_low, ci_high`` and optionally
    ``band_low, band_high``. Returns the Axes; the first line holds the estimates.

    Examples
    --------
    >>> t = pd.DataFrame({"estimate": [0.0, 1.0], "ci_low": [-1.0, 0.0], "ci_high": [1.0, 2.0]},
    ...                  index=pd.Index([-2, 0], name="event_time"))
    >>> ax = event_plot(t)
    >>> ax.lines[0].get_ydata().tolist()
    [0.0, 1.0]
    """
    ax = get_ax(ax)
    x = np.asarray(table.index, dtype=float)
    est = table["estimate"].to_numpy(dtype=float)
    line = ax.plot(x, est, marker="o", label=kwargs.pop("label", "estimate"), **kwargs)[0]
    colour = line.get_color()
    level = f"{100 * (1 - alpha):.0f}%"
    ax.errorbar(
        x,
        est,
        yerr=np.vstack([est - table["ci_low"].to_numpy(), table["ci_high"].to_numpy() - est]),
        fmt="none",
        ecolor=colour,
        capsize=2,
        label=f"pointwise {level} CI",
    )
    if bands and "band_low" in table.columns:
        ax.fill_between(
            x,
            table["band_low"].to_numpy(dtype=float),
            table["band_high"].to_numpy(dtype=float),
            color=colour,
            alpha=0.15,
            label=f"uniform {level} band",
        )
    ax.axhline(0.0, color="grey", lw=0.8, ls=":")
    ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(str(table.index.name or "event time"))
    ax.set_ylabel("effect")
    ax.legend(frameon=False)
    return ax


def trends_plot(
    panel: pd.DataFrame,
    *,
    outcome: str,
    time: str = "month",
    first_treated: str = "first_treated",
    ax: Any = None,
    labels: tuple[str, str] = ("trial municipalities", "non-trial municipalities"),
) -> Any:
    """Mean outcome over time for ever-treated vs never-treated units (two lines).

    Vertical dotted lines mark the distinct first treated periods.

    Examples
    --------
    >>> df = pd.DataFrame({"month": [1, 2, 1, 2], "y": [1.0, 2.0, 1.0, 1.5],
    ...                    "first_treated": [2, 2, 0, 0]})
    >>> ax = trends_plot(df, outcome="y", time="month")
    >>> [line.get_ydata().tolist() for line in ax.lines[:2]]
    [[1.0, 2.0], [1.0, 1.5]]
    """
    require_frame(panel, name="panel")
    require_columns(panel, [outcome, time, first_treated], name="panel")
    ax = get_ax(ax)
    ft = panel[first_treated]
    never = ft.isna() | (ft == 0) if not pd.api.types.is_datetime64_any_dtype(ft) else ft.isna()
    means_t = panel.loc[~never].groupby(time)[outcome].mean()
    means_c = panel.loc[never].groupby(time)[outcome].mean()
    ax.plot(means_t.index, means_t.to_numpy(), label=labels[0])
    ax.plot(means_c.index, means_c.to_numpy(), label=labels[1])
    for v in pd.unique(ft[~never]):
        ax.axvline(v, color="grey", lw=0.6, ls=":")
    ax.set_xlabel(time)
    ax.set_ylabel(outcome)
    ax.legend(frameon=False)
    return ax
