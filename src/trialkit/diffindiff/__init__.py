"""Difference-in-differences: trial municipalities against non-trial municipalities.

Entry point :func:`did` (re-exported as ``tk.did``). Methods:

* ``"group_time"`` -- staggered adoption ATT(g, t) (Callaway & Sant'Anna 2021), with
  aggregations, multiplier-bootstrap uniform bands, pre-trend test and Rambachan &
  Roth (2023) sensitivity;
* ``"twfe"`` -- two-way fixed effects; ``"event_study"`` -- leads and lags with binned
  end points; ``"two_by_two"`` -- the canonical 2x2 with covariates;
  ``"sun_abraham"`` -- interaction-weighted event study (Sun & Abraham 2021);
* inference ``"cluster"`` (CR1), ``"wild"`` (wild cluster bootstrap, null imposed,
  Rademacher or Webb weights) or ``"randomisation"`` (treatment timing reassigned
  across clusters).

Also :func:`bacon_decomposition` (Goodman-Bacon 2021) and :func:`absorbed_did`
(person x month panels with person and month effects absorbed).
"""

from __future__ import annotations

from trialkit.diffindiff.api import did
from trialkit.diffindiff.bacon import BaconResult, bacon_decomposition
from trialkit.diffindiff.individual import absorbed_did
from trialkit.diffindiff.plots import event_plot, trends_plot
from trialkit.diffindiff.regression import RegressionResult
from trialkit.diffindiff.staggered import (
    AggregateResult,
    GroupTimeResult,
    PretrendTest,
    RandomisationTest,
    SensitivityResult,
    TimingRandomisationTest,
)

__all__ = [
    "did",
    "bacon_decomposition",
    "absorbed_did",
    "BaconResult",
    "RegressionResult",
    "event_plot",
    "trends_plot",
    "GroupTimeResult",
    "AggregateResult",
    "PretrendTest",
    "RandomisationTest",
    "TimingRandomisationTest",
    "SensitivityResult",
]
