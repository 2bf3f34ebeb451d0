"""Messages of the shared input checks name the column and say what to do."""

from __future__ import annotations

import pandas as pd
import pytest

from trialkit._checks import require_numeric
from trialkit.errors import DataError


def test_numbers_stored_as_text_are_called_that():
    with pytest.raises(DataError, match=r"'y'.*numbers stored as text.*pd.to_numeric"):
        require_numeric(pd.DataFrame({"y": ["1", "2.5", None]}), "y")
    with pytest.raises(DataError, match=r"'y'.*1 non-numeric values such as \['a'\]"):
        require_numeric(pd.DataFrame({"y": ["a", "2"]}), "y")
    require_numeric(pd.DataFrame({"y": [1.0, 2.0], "b": [True, False]}), ["y", "b"])
