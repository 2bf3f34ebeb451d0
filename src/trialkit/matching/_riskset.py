"""Risk-set (dynamic) matching -- placeholder replaced below."""

from __future__ import annotations


def risk_set_match(*args, **kwargs):  # pragma: no cover - replaced
    raise NotImplementedError
