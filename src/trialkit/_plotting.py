"""Small plotting helpers (matplotlib is imported lazily: the ``plot`` extra)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trialkit.errors import TrialkitError

__all__ = ["get_ax", "effect_plot"]


def get_ax(ax: Any = None, *, figsize: tuple[float, float] = (6.4, 4.0)) -> Any:
    """Return ``ax`` or the Axes of a new figure; explain how to install matplotlib."""
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - optional extra
        raise TrialkitError("plotting needs matplotlib: pip install 'trialkit[plot]'") from exc
    _, new_ax = plt.subplots(figsize=figsize)
    return new_ax


def effect_plot(
    table: pd.DataFrame,
    *,
    ax: Any = None,
    alpha: float = 0.05,
    label: str | None = None,
    **kwargs: Any,
) -> Any:
    """Estimates with intervals: a line with a band for a numeric index, else a forest plot."""
    ax = get_ax(ax)
    idx = table.index
    level = f"{100 * (1 - alpha):.0f}% CI"
    if idx.nlevels == 1 and pd.api.types.is_numeric_dtype(idx):
        x = np.asarray(idx, dtype=float)
        line = ax.plot(x, table["estimate"], marker="o", label=label or "estimate", **kwargs)[0]
        ax.fill_between(
            x, table["ci_low"], table["ci_high"], alpha=0.2, color=line.get_color(), label=level
        )
        ax.set_xlabel(str(idx.name or "index"))
        ax.axhline(0.0, color="grey", lw=0.8, ls=":")
    else:
        y = np.arange(len(table))[::-1]
        err = np.vstack([table["estimate"] - table["ci_low"], table["ci_high"] - table["estimate"]])
        ax.errorbar(
            table["estimate"], y, xerr=err, fmt="o", capsize=3, label=label or level, **kwargs
        )
        ax.set_yticks(y)
        ax.set_yticklabels([str(v) for v in idx])
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("estimate")
    ax.legend(frameon=False)
    return ax
