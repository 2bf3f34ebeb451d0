"""Reports assembled from result objects: self-contained HTML plus results JSON.

The report module only *reads* result objects (``to_frame()``, ``to_dict()``,
``plot()``); it never recomputes a statistic. Output checking as register data
demand is applied to everything written: counts below ``min_count`` (default
5) are suppressed in every table, in results JSON and in every figure label,
and a table that holds a person identifier is refused.
"""

from __future__ import annotations

from trialkit.report._build import Report, Section, build_report, suppress_small_counts

__all__ = ["build_report", "Report", "Section", "suppress_small_counts"]
