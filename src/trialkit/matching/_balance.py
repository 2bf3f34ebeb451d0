"""Balance diagnostics before and after matching, and the love plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from trialkit.matching import _core
from trialkit.results import Result

__all__ = ["BalanceTable", "balance_table"]


@dataclass(frozen=True, kw_only=True, eq=False)
class BalanceTable(Result):
    """Covariate balance before and after matching.

    ``table`` (and ``to_frame()``) is indexed by ``covariate`` (a covariate, or
    ``column=level`` for each level of a text/categorical column -- the labels of
    the randomisation balance table -- and ``score`` for the matching score) with columns ``mean_treated``, ``mean_control_before``,
    ``mean_control_after``, ``smd_before``, ``smd_after``, ``variance_ratio_before``,
    ``variance_ratio_after``, ``ecdf_mean_before``, ``ecdf_mean_after``,
    ``ecdf_max_before``, ``ecdf_max_after``, ``binary``, ``balanced``
    (|smd_after| <= threshold). ``sample_sizes`` gives the numbers of rows by group
    (all, matched, effective sample size of the weights, unmatched, discarded).
    The SMD denominator is stated in ``meta["sd_denominator"]`` and is the same
    before and after.
    """

    title: ClassVar[str] = "Covariate balance"

    table: pd.DataFrame
    sample_sizes: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The balance table (one row per covariate or level)."""
        return self.table.copy()

    def _payload(self) -> dict[str, Any]:
        return {"table": self.table, "sample_sizes": self.sample_sizes}

    def summary(self) -> str:
        lines = self._header()
        lines.append(f"SMD denominator: {self.meta.get('sd_denominator_text', '')}")
        lines.append("")
        cols = ["smd_before", "smd_after", "variance_ratio_after", "ecdf_max_after"]
        with pd.option_context("display.width", 120):
            lines.append(self.table[cols].to_string(float_format=lambda x: f"{x:.3f}"))
            lines.append("")
            lines.append(self.sample_sizes.to_string(float_format=lambda x: f"{x:.1f}"))
        return "\n".join(lines)

    def plot(self, ax: Any = None, *, absolute: bool = True, **kwargs: Any) -> Any:
        """Love plot: |SMD| per covariate before (open circles) and after (filled) matching.

        Returns the Axes; the two point series are ``ax.lines[0]`` (before) and
        ``ax.lines[1]`` (after), whose x data are the table's SMDs.
        """
        from trialkit._plotting import get_ax

        tab = self.table
        ax = get_ax(ax, figsize=(6.4, max(2.5, 0.3 * len(tab) + 1)))
        y = np.arange(len(tab))[::-1]
        b = tab["smd_before"].to_numpy(dtype=float)
        a = tab["smd_after"].to_numpy(dtype=float)
        if absolute:
            b, a = np.abs(b), np.abs(a)
        ax.plot(b, y, "o", mfc="none", color="tab:grey", label="before matching", **kwargs)
        ax.plot(a, y, "o", color="tab:blue", label="after matching", **kwargs)
        thr = float(self.meta.get("threshold", 0.1))
        for v in [thr] if absolute else [-thr, thr]:
            ax.axvline(v, color="tab:red", ls="--", lw=0.8)
        ax.axvline(0.0, color="black", lw=0.6)
        ax.set_yticks(y)
        ax.set_yticklabels([str(t) for t in tab.index])
        ax.set_xlabel(
            "|standardised mean difference|" if absolute else "standardised mean difference"
        )
        ax.legend(frameon=False, loc="lower right")
        return ax


def balance_table(
    data: pd.DataFrame,
    covariates: Sequence[str],
    *,
    treat: np.ndarray,
    weights: np.ndarray,
    distance: np.ndarray | None,
    sd_denominator: Literal["treated", "pooled"] = "treated",
    threshold: float = 0.1,
    sizes: pd.DataFrame | None = None,
    before_weights: np.ndarray | None = None,
) -> BalanceTable:
    r"""Balance statistics for ``covariates`` with unit weights (before) and ``weights`` (after).

    SMD :math:`= (\bar x_{1,w} - \bar x_{0,w}) / s`, with :math:`s` the treated
    group's SD in the unmatched sample (``"treated"``) or
    :math:`\sqrt{(s_1^2 + s_0^2)/2}` of the unmatched sample (``"pooled"``); binary
    columns use :math:`p(1-p)` variances. Variance ratios use reliability-weighted
    variances (NaN for binary columns); eCDF statistics are the mean and maximum
    absolute difference of the weighted empirical CDFs (for binary columns, the
    absolute difference in proportions) -- as in MatchIt's ``summary()``
    (Stuart 2010; Austin 2009).
    """
    from trialkit.matching._scores import balance_matrix

    x, names = balance_matrix(data, covariates)
    if distance is not None:
        x = np.column_stack([distance, x])
        names = ["score" if "score" not in names else "distance", *names]
    binary = np.all((x == 0) | (x == 1), axis=0)
    ones = np.ones(treat.size) if before_weights is None else before_weights.astype(float)
    v1 = _core.weighted_var(x[treat], ones[treat], binary)
    v0 = _core.weighted_var(x[~treat], ones[~treat], binary)
    if sd_denominator == "treated":
        sd = np.sqrt(v1)
        text = "SD of the treated group before matching (sqrt(p(1-p)) for binary columns)"
    else:
        sd = np.sqrt((v1 + v0) / 2)
        text = "sqrt of the mean of the treated and control variances before matching"
    tiny = sd < math.sqrt(np.finfo(float).eps)
    sd = np.where(tiny, np.sqrt((v1 + v0) / 2), sd)
    rows: dict[str, np.ndarray] = {}
    for lab, w in (("before", ones), ("after", weights)):
        mt = _core.weighted_mean(x[treat], w[treat])
        mc = _core.weighted_mean(x[~treat], w[~treat])
        rows[f"mean_treated_{lab}"] = mt
        rows[f"mean_control_{lab}"] = mc
        rows[f"smd_{lab}"] = _core.smd(x, treat, w, sd)
        rows[f"variance_ratio_{lab}"] = _core.variance_ratio(x, treat, w, binary)
        em = np.empty(x.shape[1])
        ex = np.empty(x.shape[1])
        for j in range(x.shape[1]):
            if binary[j]:
                em[j] = ex[j] = abs(mt[j] - mc[j])
            else:
                em[j], ex[j] = _core.ecdf_stats(x[:, j], treat, w)
        rows[f"ecdf_mean_{lab}"] = em
        rows[f"ecdf_max_{lab}"] = ex
    tab = pd.DataFrame(rows, index=pd.Index(names, name="covariate"))
    tab["binary"] = binary
    tab["balanced"] = np.abs(tab["smd_after"].to_numpy()) <= threshold
    order = [
        "mean_treated_before",
        "mean_control_before",
        "mean_treated_after",
        "mean_control_after",
        "smd_before",
        "smd_after",
        "variance_ratio_before",
        "variance_ratio_after",
        "ecdf_mean_before",
        "ecdf_mean_after",
        "ecdf_max_before",
        "ecdf_max_after",
        "binary",
        "balanced",
    ]
    tab = tab[order]
    if sizes is None:
        sizes = pd.DataFrame()
    return BalanceTable(
        method="balance",
        n_obs=int(treat.size),
        table=tab,
        sample_sizes=sizes,
        meta={
            "sd_denominator": sd_denominator,
            "sd_denominator_text": text,
            "threshold": threshold,
        },
    )
