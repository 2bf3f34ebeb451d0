"""Matched control groups: exactly on unemployment duration, closely on employability.

The entry point is :func:`match` (re-exported as ``tk.match``); it returns a
:class:`MatchResult` with ``matched`` rows (``weight``, ``subclass``),
``balance()`` diagnostics, ``effect(outcome)`` ATT estimates and
``sensitivity(outcome)`` Rosenbaum bounds. Scores: :func:`propensity_score`,
:func:`employability_score` (Hansen's prognostic score). Rolling entry into a
service: :func:`risk_set_match`.
"""

from __future__ import annotations

from trialkit.matching._balance import BalanceTable, balance_table
from trialkit.matching._match import Matching, MatchResult, match
from trialkit.matching._riskset import risk_set_match
from trialkit.matching._scores import ScoreResult, employability_score, propensity_score
from trialkit.matching._sensitivity import RosenbaumBounds, rosenbaum_bounds

__all__ = [
    "match",
    "Matching",
    "MatchResult",
    "BalanceTable",
    "balance_table",
    "ScoreResult",
    "propensity_score",
    "employability_score",
    "risk_set_match",
    "RosenbaumBounds",
    "rosenbaum_bounds",
]
