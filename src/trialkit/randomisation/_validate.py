"""Input checks of the randomisation subpackage not (yet) in :mod:`trialkit._checks`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from trialkit._checks import as_list
from trialkit.errors import DataError

__all__ = ["require_finite"]


def require_finite(
    data: pd.DataFrame, columns: str | Sequence[str] | None, *, name: str = "data"
) -> None:
    """Numeric columns must not hold ``inf``/``-inf`` (missing values are left to the caller).

    Non-numeric columns are skipped (they are checked or expanded elsewhere).

    Examples
    --------
    >>> require_finite(pd.DataFrame({"y": [1.0, float("inf")]}), "y")
    Traceback (most recent call last):
    ...
    trialkit.errors.DataError: column 'y' of `data` has 1 infinite values (rows [1]); outcomes and covariates must be finite
    """
    for col in dict.fromkeys(as_list(columns)):
        s = data[col]
        if isinstance(s, pd.DataFrame) or not pd.api.types.is_numeric_dtype(s):
            continue
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
            continue
        vals = s.to_numpy(dtype=float, na_value=np.nan)
        bad = np.isinf(vals)
        if bad.any():
            rows = list(data.index[bad][:5])
            more = f", ... ({int(bad.sum()) - 5} more)" if bad.sum() > 5 else ""
            rows_s = ", ".join(repr(r.item() if hasattr(r, "item") else r) for r in rows)
            raise DataError(
                f"column {col!r} of `{name}` has {int(bad.sum())} infinite values "
                f"(rows [{rows_s}{more}]); outcomes and covariates must be finite"
            )
