"""Input validation: every message names the column and what was wrong."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialkit import _checks as c
from trialkit.errors import DataError, DesignError


@pytest.fixture
def persons():
    return pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4],
            "age": [23, 41, None, 57],
            "education": ["basic", "secondary", "tertiary", "basic"],
            "employed": [0, 1, 1, 2],
        }
    )


def test_missing_columns_lists_available(persons):
    with pytest.raises(DataError) as e:
        c.require_columns(persons, ["person_id", "duration_months", "sex"], name="persons")
    msg = str(e.value)
    assert "['duration_months', 'sex']" in msg and "available columns" in msg and "'age'" in msg


def test_missing_values_named_with_ids(persons):
    with pytest.raises(
        DataError,
        match=r"column 'age' of `persons` has 1 missing values \(person_id values \[3\]\)",
    ):
        c.require_no_missing(persons, ["person_id", "age"], name="persons", id="person_id")


def test_duplicate_ids_listed():
    df = pd.DataFrame({"person_id": [5, 6, 5, 7, 7]})
    with pytest.raises(DataError, match=r"2 ids occur more than once: \[5, 7\]"):
        c.require_unique(df, "person_id")


def test_non_numeric_column(persons):
    with pytest.raises(DataError, match=r"column 'education' .* must be numeric.*'basic'"):
        c.require_numeric(persons, ["age", "education"])


def test_binary(persons):
    with pytest.raises(DataError, match=r"'employed' .* must be binary.*\[2\]"):
        c.require_binary(persons, "employed")
    c.require_binary(persons.iloc[:3], "employed")


def test_empty_and_wrong_type():
    with pytest.raises(DataError, match="has no rows"):
        c.require_frame(pd.DataFrame({"a": []}))
    with pytest.raises(DataError, match="must be a pandas DataFrame; got list"):
        c.require_frame([1, 2])


def test_choice_probability_positive_int():
    with pytest.raises(DesignError, match=r"must be one of \['a', 'b'\]; got 'c'"):
        c.check_choice("method", "c", ["a", "b"])
    with pytest.raises(DesignError, match=r"`power` must be in \(0, 1\)"):
        c.check_probability("power", [0.8, 1.0])
    with pytest.raises(DesignError, match="finite and > 0"):
        c.check_positive("sd", 0.0)
    assert c.check_positive("sd", 0.0, allow_zero=True) == 0.0
    with pytest.raises(DesignError, match="integer >= 1"):
        c.check_int("n_sims", 0, minimum=1)
    with pytest.raises(DesignError):
        c.check_int("n_sims", True)


@given(st.lists(st.tuples(st.none() | st.floats(0, 1), st.none() | st.integers(0, 3)), max_size=30))
def test_drop_missing_accounts_for_every_row(rows):
    df = pd.DataFrame(rows, columns=["y", "x"], dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept, excluded = c.drop_missing(df, ["y", "x"])
    assert len(kept) + sum(e.n for e in excluded) == len(df)
    assert not kept.isna().any().any()
    assert all(e.n > 0 for e in excluded)
    expected_y = int(df["y"].isna().sum())
    got_y = sum(e.n for e in excluded if e.column == "y")
    assert got_y == expected_y


def test_drop_missing_warns_with_counts():
    from trialkit.errors import ExcludedRowsWarning

    df = pd.DataFrame({"y": [1.0, None, None], "x": [1, 2, None]})
    with pytest.warns(
        ExcludedRowsWarning, match=r"2 of 3 rows excluded: 2 with missing values in 'y'"
    ):
        c.drop_missing(df, ["y", "x"])


def test_drop_missing_returns_input_when_complete():
    df = pd.DataFrame({"y": np.arange(3.0)})
    kept, excluded = c.drop_missing(df, "y")
    assert kept is df and excluded == ()
