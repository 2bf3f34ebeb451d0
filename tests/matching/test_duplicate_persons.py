"""A person listed twice is an input error even when `id=` is not given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import trialkit as tk


def test_duplicate_person_id_is_rejected_without_id_argument():
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "treated": (np.arange(n) < 40).astype(int),
            "age": rng.integers(20, 60, n),
            "prior": rng.normal(size=n),
        }
    )
    tk.match(df, treatment="treated", covariates=["age", "prior"])  # fine
    twice = pd.concat([df, df.iloc[:1]], ignore_index=True)
    with pytest.raises(
        tk.DataError, match=r"column 'person_id' .* 1 ids occur more than once: \[0\]"
    ):
        tk.match(twice, treatment="treated", covariates=["age", "prior"])
