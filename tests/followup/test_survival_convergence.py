"""Cox on a monotone likelihood (perfect separation) is reported as not converged, with a warning."""

from __future__ import annotations

import pandas as pd
import pytest

import trialkit as tk
from trialkit.errors import ConvergenceWarning, DataError
from trialkit.followup import cox


def test_monotone_likelihood_is_not_converged():
    # every treated person exits before every control: the log hazard ratio is +infinity
    d = pd.DataFrame({"t": range(1, 21), "e": 1, "x": [1] * 10 + [0] * 10})
    with pytest.warns(ConvergenceWarning, match="coefficient may be infinite"):
        res = cox(d, duration="t", event="e", covariates=["x"])
    assert res.to_dict()["converged"] is False


def test_ordinary_fit_converges_without_warning():
    d = pd.DataFrame(
        {
            "t": [5, 3, 9, 2, 7, 4, 8, 6, 1, 10],
            "e": [1, 1, 0, 1, 1, 1, 0, 1, 1, 1],
            "x": [0, 1, 0, 1, 0, 1, 0, 0, 1, 1],
        }
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = cox(d, duration="t", event="e", covariates=["x"])
    assert res.to_dict()["converged"] is True


@pytest.mark.parametrize("fn", ["cumulative_incidence", "gray_test"])
def test_negative_cause_codes_are_refused_not_made_a_cause(fn):
    df = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "c": [1, 2, 0, -1, 1, 2], "g": ["a", "b"] * 3})
    kw = {"duration": "t", "cause": "c"} | ({"group": "g"} if fn == "gray_test" else {})
    with pytest.raises(DataError, match=r"'c' has 1 negative cause codes"):
        getattr(tk.followup, fn)(df, **kw)
    ok = getattr(tk.followup, fn)(df.assign(c=df["c"].clip(lower=0)), **kw)
    assert ok.n_obs == 6
