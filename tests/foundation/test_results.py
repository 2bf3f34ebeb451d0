"""The shared result format: immutability, Wald intervals, JSON round trips."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from trialkit.errors import DataError
from trialkit.results import EffectTable, Exclusion, Result, effect_table, jsonable


def _table(**kw):
    base = dict(
        estimate=[0.05, -0.02],
        se=[0.01, 0.02],
        index=["treatment", "coaching"],
        index_name="arm",
        n=[2000, 1500],
        method="difference_in_means",
        n_obs=3500,
        excluded=(Exclusion(reason="missing outcome", n=12, column="employed_12m"),),
        seed=2017,
    )
    base.update(kw)
    return effect_table(**base)


def test_normal_wald_interval_matches_closed_form():
    t = _table().to_frame()
    q = stats.norm.ppf(0.975)
    assert t.loc["treatment", "ci_low"] == pytest.approx(0.05 - q * 0.01, abs=1e-15)
    assert t.loc["treatment", "ci_high"] == pytest.approx(0.05 + q * 0.01, abs=1e-15)
    # z = 5 -> two-sided p = 2 * (1 - Phi(5))
    assert t.loc["treatment", "p"] == pytest.approx(2 * stats.norm.sf(5.0), rel=1e-12)
    assert t.loc["coaching", "p"] == pytest.approx(2 * stats.norm.sf(1.0), rel=1e-12)


def test_t_interval_uses_degrees_of_freedom():
    t = _table(df=[7, 7]).to_frame()
    q = stats.t.ppf(0.975, 7)
    assert t.loc["coaching", "ci_high"] == pytest.approx(-0.02 + q * 0.02, abs=1e-15)
    assert t.loc["treatment", "p"] == pytest.approx(2 * stats.t.sf(5.0, 7), rel=1e-12)


def test_alpha_changes_width():
    wide = _table(alpha=0.01).to_frame()
    narrow = _table(alpha=0.10).to_frame()
    assert (wide["ci_high"] - wide["ci_low"] > narrow["ci_high"] - narrow["ci_low"]).all()


def test_result_is_immutable_and_copies_table():
    res = _table()
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.method = "other"  # type: ignore[misc]
    frame = res.to_frame()
    frame.loc["treatment", "estimate"] = 99.0
    assert res.to_frame().loc["treatment", "estimate"] == 0.05
    with pytest.raises(TypeError):
        res.meta["x"] = 1  # type: ignore[index]


def test_input_frame_is_copied_in():
    frame = _table().to_frame()
    res = EffectTable(method="m", n_obs=1, table=frame)
    frame.loc["treatment", "estimate"] = -1.0
    assert res.to_frame().loc["treatment", "estimate"] == 0.05


def test_to_dict_is_json_safe_and_round_trips():
    res = _table(estimate=[np.nan, 0.1], meta={"when": pd.Timestamp("2017-08-01")})
    d = res.to_dict()
    text = json.dumps(d, allow_nan=False)  # raises on NaN or numpy types
    back = json.loads(text)
    assert back["excluded"] == [{"reason": "missing outcome", "n": 12, "column": "employed_12m"}]
    assert back["table"][0]["estimate"] is None
    assert back["meta"]["when"] == "2017-08-01T00:00:00"
    rebuilt = EffectTable.from_dict(_table().to_dict())
    pd.testing.assert_frame_equal(rebuilt.to_frame(), _table().to_frame())
    assert rebuilt.excluded == _table().excluded
    assert rebuilt.n_excluded == 12


def test_summary_shows_sample_and_exclusions():
    text = _table().summary()
    assert "difference_in_means" in text
    assert "12 excluded: missing outcome [employed_12m]" in text
    assert "coaching" in text and "3500" in text


def test_table_without_required_columns_is_rejected():
    with pytest.raises(DataError, match="lacks the columns"):
        EffectTable(method="m", n_obs=1, table=pd.DataFrame({"estimate": [1.0]}))


def test_length_mismatch_is_rejected():
    with pytest.raises(DataError, match="differ in length"):
        effect_table([1.0, 2.0], [1.0], index=["a", "b"], n=1, method="m", n_obs=1)


def test_base_result_has_no_table_but_still_serialises():
    r = Result(method="x", n_obs=3)
    assert json.loads(r.to_json())["n_obs"] == 3
    with pytest.raises(NotImplementedError):
        r.to_frame()


def test_effect_plot_draws_estimates():
    import matplotlib.pyplot as plt

    res = effect_table(
        [0.01, 0.03, 0.04],
        [0.01] * 3,
        index=[12, 24, 36],
        index_name="horizon",
        n=100,
        method="m",
        n_obs=100,
    )
    ax = res.plot()
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [12, 24, 36])
    np.testing.assert_allclose(line.get_ydata(), [0.01, 0.03, 0.04])
    assert ax.get_xlabel() == "horizon"
    forest = _table().plot()
    assert [t.get_text() for t in forest.get_yticklabels()] == ["treatment", "coaching"]
    plt.close("all")


finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.lists(st.tuples(finite, st.floats(1e-6, 1e3)), min_size=1, max_size=20))
def test_interval_contains_estimate_and_p_in_unit_interval(rows):
    est, se = zip(*rows)
    t = effect_table(est, se, index=list(range(len(est))), n=1, method="m", n_obs=1).to_frame()
    assert (t["ci_low"] <= t["estimate"]).all() and (t["estimate"] <= t["ci_high"]).all()
    assert ((t["p"] >= 0) & (t["p"] <= 1)).all()


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=3), children, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_jsonable_always_produces_valid_json(obj):
    out = jsonable(obj)
    json.dumps(out, allow_nan=False)


def test_jsonable_numpy_and_dates():
    out = jsonable(
        {
            "a": np.int64(3),
            "b": np.float32(0.5),
            "c": np.array([1.0, np.inf]),
            "d": np.datetime64("NaT"),
            "e": pd.NaT,
            "f": (np.bool_(True),),
        }
    )
    assert out == {"a": 3, "b": 0.5, "c": [1.0, None], "d": None, "e": None, "f": [True]}
    assert math.isclose(jsonable(np.float64(1 / 3)), 1 / 3)
