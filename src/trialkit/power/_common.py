"""Validation and small helpers shared by the design classes."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from trialkit.errors import DesignError

log = logging.getLogger("trialkit.power")

ALTERNATIVES = ("two-sided", "one-sided")
OUTCOMES = ("continuous", "binary")


def sides(alternative: str) -> int:
    return 2 if alternative == "two-sided" else 1


def check_alpha(alpha: Any) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError) as exc:
        raise DesignError(f"`alpha` must be a number in (0, 1); got {alpha!r}") from exc
    if not 0.0 < a < 1.0:
        raise DesignError(f"`alpha` must be in (0, 1), e.g. 0.05; got {alpha!r}")
    return a


def check_power(power: Any, alpha: float) -> np.ndarray:
    p = np.asarray(power, dtype=float)
    if not np.all(np.isfinite(p)) or np.any(p >= 1.0) or np.any(p <= 0.0):
        raise DesignError(f"`power` must be in (0, 1), e.g. 0.8; got {power!r}")
    if np.any(p <= alpha):
        raise DesignError(
            f"`power` must exceed `alpha` ({alpha}): even with no effect a test rejects with "
            f"probability alpha, so a power of at most alpha needs no data; got {power!r}"
        )
    return p


def check_fraction(
    name: str, value: Any, *, low_open: bool = False, high_open: bool = True, hint: str = ""
) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise DesignError(f"`{name}` must be a number; got {value!r}") from exc
    lo_ok = v > 0 if low_open else v >= 0
    hi_ok = v < 1 if high_open else v <= 1
    if not (np.isfinite(v) and lo_ok and hi_ok):
        lo = "(0" if low_open else "[0"
        hi = "1)" if high_open else "1]"
        raise DesignError(f"`{name}` must be in {lo}, {hi}{hint}; got {value!r}")
    return v


def check_choice(name: str, value: Any, allowed: tuple[Any, ...]) -> Any:
    if value not in allowed:
        raise DesignError(f"`{name}` must be one of {list(allowed)}; got {value!r}")
    return value


def check_positive_array(name: str, value: Any, *, allow_zero: bool = False) -> np.ndarray:
    if value is None:
        raise DesignError(f"`{name}` is required")
    arr = np.asarray(value, dtype=float)
    ok = np.isfinite(arr) & ((arr >= 0) if allow_zero else (arr > 0))
    if not np.all(ok):
        rel = ">= 0" if allow_zero else "> 0"
        raise DesignError(f"`{name}` must be finite and {rel}; got {value!r}")
    return arr


def check_effect(effect: Any, *, solving: str | None = None) -> np.ndarray:
    if effect is None:
        raise DesignError("`effect` is required")
    arr = np.asarray(effect, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise DesignError(f"`effect` must be finite; got {effect!r}")
    if solving is not None and np.any(arr == 0):
        raise DesignError(
            f"`effect` must be non-zero to solve for the {solving}: no finite sample detects a "
            "zero effect with more than alpha probability; give the smallest effect worth detecting"
        )
    return arr


def broadcast(**arrays: Any) -> list[np.ndarray]:
    """The arrays broadcast to one shape, in the order given; a DesignError naming the
    parameters and their shapes when they do not broadcast (e.g. 2 effects and 3 sizes)."""
    vals = [np.asarray(v) for v in arrays.values()]
    try:
        return list(np.broadcast_arrays(*vals))
    except ValueError:
        shapes = ", ".join(f"`{k}` {np.shape(v)}" for k, v in zip(arrays, vals))
        raise DesignError(
            f"array arguments must broadcast to one shape (give equal lengths, a scalar, or "
            f"arrays of shapes (k, 1) and (m,) for a grid); got {shapes}"
        ) from None


def ceil_int(x: np.ndarray) -> np.ndarray:
    """Ceiling that forgives floating-point noise (63.9999999999 -> 64)."""
    arr = np.asarray(x, dtype=float)
    return np.ceil(arr - 1e-9 * np.maximum(1.0, np.abs(arr))).astype(np.int64)


def as_out(x: np.ndarray) -> Any:
    arr = np.asarray(x)
    return arr.item() if arr.ndim == 0 else arr
