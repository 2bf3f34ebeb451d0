"""Review findings: results keep the caller's row labels (pairs pointed at the wrong rows
after rows were dropped or with a non-default index); an array score works."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import trialkit as tk


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 400
    age = rng.normal(45, 8, n)
    x = rng.normal(size=n)
    treated = (rng.random(n) < 1 / (1 + np.exp(-(age - 48) / 6 - 0.5 * x))).astype(int)
    return pd.DataFrame({"age": age, "x": x, "treated": treated, "y": rng.normal(size=n)})


def _check_labels(d: pd.DataFrame, m) -> None:
    # every matched row is the caller's row with that label, and pairs join treated to controls
    pd.testing.assert_frame_equal(m.matched[d.columns], d.loc[m.matched.index])
    assert (d.loc[m.pairs["treated"].to_numpy(), "treated"] == 1).all()
    assert (d.loc[m.pairs["control"].to_numpy(), "treated"] == 0).all()
    assert set(m.pairs["control"]) <= set(m.matched.index)


def test_rows_dropped_for_missing_values_keep_their_labels(data):
    d = data.copy()
    d.loc[[0, 5, 17], "x"] = np.nan
    m = tk.match(d, treatment="treated", covariates=["age", "x"], missing="drop")
    assert m.excluded[0].n == 3
    assert not set(m.data.index) & {0, 5, 17}
    _check_labels(d, m)


def test_string_and_shuffled_index_are_kept(data):
    d = data.set_axis([f"p{i}" for i in range(len(data))]).sample(frac=1, random_state=1)
    m = tk.match(d, treatment="treated", covariates=["age", "x"])
    _check_labels(d, m)
    # the same matched set as with the default index (labels aside)
    m0 = tk.match(data, treatment="treated", covariates=["age", "x"])
    assert sorted(m.matched.index) == sorted(f"p{i}" for i in m0.matched.index)


@pytest.mark.parametrize("kind", ["ndarray", "series", "list"])
def test_array_score_equals_a_score_column(data, kind):
    s = np.linspace(0.1, 0.9, len(data))
    as_col = tk.match(data.assign(s=s), treatment="treated", score="s")
    given = {"ndarray": s, "series": pd.Series(s), "list": s.tolist()}[kind]
    m = tk.match(data, treatment="treated", score=given)
    np.testing.assert_array_equal(m.weights, as_col.weights)
    assert "_score_" not in m.data.columns


def test_bad_inputs_name_the_problem(data):
    from trialkit.errors import DataError, DesignError

    bad = data.assign(x=data["x"].where(data.index > 0, np.inf))
    with pytest.raises(DataError, match=r"'x' has 1 infinite"):
        tk.match(bad, treatment="treated", covariates=["age", "x"])
    m = tk.match(data, treatment="treated", covariates=["age", "x"])
    with pytest.raises(DesignError, match="method='regression'"):
        m.effect("y", covariates=["age"])  # would be silently ignored by the difference
    with pytest.raises(DataError, match="'label'.*numeric"):
        tk.match(data.assign(label="a"), treatment="treated", covariates=["age", "x"]).effect(
            "label"
        )
    # regression adjustment does use them: a different estimate from the plain difference
    a = m.effect("y", method="regression", covariates=["age"]).table["estimate"].iloc[0]
    b = m.effect("y").table["estimate"].iloc[0]
    assert a != pytest.approx(b, abs=1e-12)


def test_separation_by_a_continuous_covariate_is_named(data):
    from trialkit.errors import EstimationError

    d = data.assign(treated=(data["age"] > 45).astype(int))
    with pytest.raises(EstimationError, match=r"separation -- age \(outcome 1: age >= "):
        tk.match(d, treatment="treated", covariates=["age", "x"])
    d2 = data.assign(treated=(data["age"] < 45).astype(int))
    with pytest.raises(EstimationError, match=r"age \(outcome 1: age <= "):
        tk.match(d2, treatment="treated", covariates=["x", "age"])


def test_a_constant_covariate_is_not_separation(data):
    m = tk.match(data.assign(year=2019), treatment="treated", covariates=["age", "x", "year"])
    m0 = tk.match(data, treatment="treated", covariates=["age", "x"])
    # the constant's coefficient is not identified next to the intercept; the score and
    # hence the matches are those without it
    np.testing.assert_array_equal(m.weights, m0.weights)
