"""Five-year follow-up on register spells: ``tk.follow_up`` and its estimators.

Spells -> monthly status panel -> outcomes by horizon -> effects; survival
(Kaplan-Meier, log-rank, Cox, RMST), competing risks (Aalen-Johansen cumulative
incidence, state occupation), censoring (IPCW, Lee bounds), the cost view and
the surrogate index.

Examples
--------
>>> import pandas as pd
>>> import trialkit as tk
>>> df = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 1, 0, 1, 0], "arm": [0, 0, 1, 1, 1]})
>>> tk.followup.kaplan_meier(df, duration="t", event="e", group="arm").to_frame()["survival"].round(3).tolist()
[0.5, 0.0, 0.5]
"""

from __future__ import annotations

from trialkit.followup._extras import (
    CostView,
    LeeBounds,
    SurrogateIndex,
    cost_view,
    ipcw_effects,
    lee_bounds,
    surrogate_index,
)
from trialkit.followup._followup import (
    CENSORED,
    DEFAULT_PRIORITY,
    EXIT_CODES,
    EXIT_ROUTES,
    GAP,
    OUTCOMES,
    ROUTE_CODES,
    STATE_CODES,
    STATES,
    FollowUp,
    HorizonEffects,
    StateOccupation,
    follow_up,
)
from trialkit.followup._survival import (
    CoxResult,
    GrayTestResult,
    IncidenceCurves,
    LogRankResult,
    SurvivalCurves,
    cox,
    cumulative_incidence,
    gray_test,
    kaplan_meier,
    log_rank,
    rmst,
)

__all__ = [
    "follow_up",
    "FollowUp",
    "HorizonEffects",
    "StateOccupation",
    "STATES",
    "STATE_CODES",
    "GAP",
    "CENSORED",
    "DEFAULT_PRIORITY",
    "EXIT_CODES",
    "EXIT_ROUTES",
    "ROUTE_CODES",
    "OUTCOMES",
    "kaplan_meier",
    "log_rank",
    "cox",
    "rmst",
    "cumulative_incidence",
    "gray_test",
    "GrayTestResult",
    "SurvivalCurves",
    "LogRankResult",
    "CoxResult",
    "IncidenceCurves",
    "ipcw_effects",
    "lee_bounds",
    "cost_view",
    "surrogate_index",
    "LeeBounds",
    "CostView",
    "SurrogateIndex",
]
