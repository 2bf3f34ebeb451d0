"""Type aliases shared across trialkit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SeedLike = int | np.integer | np.random.Generator | np.random.SeedSequence | None
"""Anything :func:`trialkit._rng.as_generator` accepts."""

Columns = str | Sequence[str] | None
"""One column name, several, or none."""

ArrayLike = float | Sequence[float] | np.ndarray
"""A scalar or an array of scalars (power curves accept arrays)."""
