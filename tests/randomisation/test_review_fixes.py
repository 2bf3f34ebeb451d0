"""Regression tests for the API review of ``trialkit.randomisation`` (one section per finding)."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from trialkit.errors import DesignError
from trialkit.randomisation import randomisation_test

# --- 1. exact enumeration counts the arrangements before enumerating them -------------------


def test_exact_refuses_large_design_at_once() -> None:
    d = pd.DataFrame({"arm": ["control", "treatment"] * 20, "y": np.arange(40.0)})
    t0 = time.perf_counter()
    with pytest.raises(DesignError, match=str(math.comb(40, 20))):
        randomisation_test(d, outcome="y", n_draws="exact")
    assert time.perf_counter() - t0 < 5.0


def test_exact_count_is_product_over_strata() -> None:
    # two strata of 6 (3/3) -> C(6,3)^2 = 400 arrangements: refused at 399, enumerated at 400
    d = pd.DataFrame(
        {
            "s": np.repeat([0, 1], 6),
            "arm": ["control", "treatment"] * 6,
            "y": np.arange(12.0),
        }
    )
    with pytest.raises(DesignError, match="400 in all"):
        randomisation_test(d, outcome="y", strata="s", n_draws="exact", max_exact=399)
    r = randomisation_test(d, outcome="y", strata="s", n_draws="exact", max_exact=400)
    assert int(r.to_frame().loc["treatment", "n_draws"]) == 400
