"""Absorbed person x month DiD against pyfixest; bad input; datetime months; invariances; plots."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trialkit as tk
from trialkit.diffindiff import absorbed_did
from trialkit.diffindiff.datasets import staggered_panel
from trialkit.errors import DataError, DesignError, ExcludedRowsWarning, FewClustersWarning

REF = Path(__file__).resolve().parents[1] / "reference" / "diffindiff"
TOL = 1e-8  # same least-squares problem: rounding and projection tolerance only

KW = dict(outcome="y", unit="unit", time="period", first_treated="first_treated")


# ---------------------------------------------------------------- absorbed effects
@pytest.fixture(scope="module")
def absorbed() -> tuple[pd.DataFrame, dict]:
    return pd.read_csv(REF / "absorbed_panel.csv.gz"), json.loads(
        (REF / "absorbed_pyfixest.json").read_text()
    )


@pytest.mark.parametrize(
    ("key", "kw"),
    [
        ("balanced", {}),
        ("balanced_x_muni", {"covariates": "x", "cluster": "municipality"}),
        ("weighted_x", {"covariates": "x", "weights": "w"}),
        ("unbalanced_x", {"covariates": "x"}),
    ],
)
def test_absorbed_matches_pyfixest(absorbed, key, kw):
    df, ref = absorbed
    if key == "unbalanced_x":
        df = df[df["keep"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        r = absorbed_did(df, outcome="y", **kw).to_frame()
    for term, val in ref[key]["coef"].items():
        assert r.loc[term, "estimate"] == pytest.approx(val, abs=TOL)
        assert r.loc[term, "se"] == pytest.approx(ref[key]["se"][term], abs=TOL)


@pytest.mark.parametrize(
    ("key", "kw"),
    [("balanced", {}), ("balanced_x_muni", {"covariates": "x", "cluster": "municipality"})],
)
def test_absorbed_balanced_closed_form_any_row_order(absorbed, key, kw):
    """Shuffled rows use the scatter-to-cell-order path; same pyfixest numbers; input intact."""
    df, ref = absorbed
    shuffled = df.sample(frac=1.0, random_state=3)
    before = shuffled.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        res = absorbed_did(shuffled, outcome="y", **kw)
    r = res.to_frame()
    assert res.meta["balanced_closed_form"]
    for term, val in ref[key]["coef"].items():
        assert r.loc[term, "estimate"] == pytest.approx(val, abs=TOL)
        assert r.loc[term, "se"] == pytest.approx(ref[key]["se"][term], abs=TOL)
    pd.testing.assert_frame_equal(shuffled, before)


def test_absorbed_rejects_duplicates(absorbed):
    df = absorbed[0]
    with pytest.raises(DataError, match="duplicate rows"):
        absorbed_did(pd.concat([df, df.iloc[:3]]), outcome="y")


# ---------------------------------------------------------------- bad input
def test_treatment_switching_off_is_an_error_naming_units():
    df = staggered_panel(n_units=20, seed=0)
    df.loc[(df.unit == 3) & (df.period > 6), "first_treated"] = 0  # unit 3 switches
    with pytest.raises(
        DataError, match=r"once treated, always treated.*1 units have several values: \[3\]"
    ):
        tk.did(df, **KW)


def test_duplicate_unit_time_rows():
    df = staggered_panel(n_units=20, seed=0)
    with pytest.raises(DataError, match="duplicate rows"):
        tk.did(pd.concat([df, df.iloc[[0]]]), **KW)


def test_no_never_treated_suggests_not_yet():
    df = staggered_panel(n_units=60, share_treated=1.0, groups=(4, 8), seed=0)
    with pytest.raises(DataError, match="not_yet"):
        tk.did(df, **KW, control_group="never")
    r = tk.did(df, **KW, control_group="not_yet", inference="analytic")
    assert (
        r.group_time["time"] < 8
    ).all()  # after the last cohort starts nobody is left to compare


def test_units_treated_in_first_period_excluded_and_reported():
    df = staggered_panel(n_units=40, seed=0)
    df.loc[df.unit < 2, "first_treated"] = 1
    with pytest.warns(ExcludedRowsWarning, match="first period"):
        r = tk.did(df, **KW, inference="analytic")
    assert any("first period" in e.reason for e in r.excluded)
    assert r.n_excluded == 2 * 12


def test_unbalanced_panel_dropped_units_reported():
    df = staggered_panel(n_units=40, seed=0)
    df = df.drop(index=df.index[(df.unit == 5) & (df.period == 3)])
    with pytest.warns(ExcludedRowsWarning, match="unbalanced"):
        r = tk.did(df, **KW, inference="analytic")
    assert r.n_excluded == 11
    assert r.meta["n_units"] == 39


def test_irregular_and_non_numeric_time():
    df = staggered_panel(n_units=10, seed=0)
    with pytest.raises(DataError, match="irregular"):
        tk.did(df[df.period != 6], **KW)
    bad = df.assign(period=df.period.astype(str) + "x")
    with pytest.raises(DataError, match="datetime month starts or integer"):
        tk.did(bad, **KW)
    months = df.assign(period=pd.Timestamp("2017-01-15") + pd.to_timedelta(df.period, unit="D"))
    with pytest.raises(DataError, match="month starts"):
        tk.did(months, **KW)


def test_options_not_applying_to_method_are_errors():
    df = staggered_panel(n_units=40, seed=0)
    with pytest.raises(DesignError, match="control_group"):
        tk.did(df, **KW, method="twfe", control_group="never")
    with pytest.raises(DesignError, match="leads"):
        tk.did(df, **KW, leads=3)
    with pytest.raises(
        DesignError, match=r"`inference` must be one of \['bootstrap', 'analytic'\]"
    ):
        tk.did(df, **KW, inference="wild")
    with pytest.raises(DesignError, match="method"):
        tk.did(df, **KW, method="synthetic")


# ---------------------------------------------------------------- datetime months
def test_datetime_months_same_numbers_as_integer_periods():
    df = staggered_panel(n_units=80, seed=1)
    start = pd.Timestamp("2016-01-01")
    to_month = lambda k: start + pd.DateOffset(months=int(k) - 1)  # noqa: E731
    dm = df.assign(
        period=[to_month(k) for k in df.period],
        first_treated=[to_month(k) if k > 0 else pd.NaT for k in df.first_treated],
    )
    a = tk.did(df, **KW, inference="analytic").group_time
    b = tk.did(dm, **KW, inference="analytic").group_time
    np.testing.assert_allclose(a["estimate"], b["estimate"], atol=1e-12)
    assert b["group"].iloc[0] == to_month(a["group"].iloc[0])
    assert b["time"].iloc[-1] == to_month(a["time"].iloc[-1])
    ev = tk.did(dm, **KW, inference="analytic").aggregate("calendar").to_frame()
    assert isinstance(ev.index[0], pd.Timestamp)


# ---------------------------------------------------------------- invariances
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.floats(-50, 50), scale=st.floats(0.1, 10))
def test_group_time_row_order_and_affine_equivariance(seed, shift, scale):
    df = staggered_panel(n_units=40, n_periods=6, groups=(3, 5), seed=seed)
    base = tk.did(df, **KW, inference="analytic").aggregate("simple").overall
    shuffled = df.sample(frac=1.0, random_state=seed % 97)
    moved = shuffled.assign(y=shift + scale * shuffled.y)
    before = shuffled.copy()
    r = tk.did(moved, **KW, inference="analytic").aggregate("simple").overall
    assert r["estimate"] == pytest.approx(scale * base["estimate"], rel=1e-9, abs=1e-9)
    assert r["se"] == pytest.approx(scale * base["se"], rel=1e-9, abs=1e-9)
    pd.testing.assert_frame_equal(shuffled, before)  # input not mutated


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_same_seed_same_bootstrap(seed):
    df = staggered_panel(n_units=40, n_periods=6, groups=(3, 5), seed=seed)
    a = tk.did(df, **KW, n_boot=200, seed=seed).group_time
    b = tk.did(df, **KW, n_boot=200, seed=seed).group_time
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------- plots
def test_event_plot_draws_estimates_and_both_bands():
    df = staggered_panel(n_units=200, seed=0)
    r = tk.did(df, **KW, n_boot=300, seed=0)
    ev = r.aggregate("event")
    ax = ev.plot()
    tab = ev.to_frame()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), tab["estimate"])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), tab.index.to_numpy(dtype=float))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "pointwise 95% CI" in labels and "uniform 95% band" in labels
    band = ax.collections[-1].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(tab["band_low"].min())
    plt.close("all")


def test_trends_plot_two_lines_of_group_means():
    df = staggered_panel(n_units=50, seed=0)
    ax = tk.diffindiff.trends_plot(df, outcome="y", time="period")
    means = df[df.first_treated > 0].groupby("period").y.mean()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), means)
    assert len(ax.lines) >= 2
    plt.close("all")


def test_bacon_plot_points():
    df = staggered_panel(n_units=60, seed=0)
    b = tk.diffindiff.bacon_decomposition(
        df, outcome="y", unit="unit", time="period", first_treated="first_treated"
    )
    ax = b.plot()
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_points == len(b.table)
    plt.close("all")


def test_results_are_json_safe():
    df = staggered_panel(n_units=60, seed=0)
    r = tk.did(df, **KW, n_boot=100, seed=0)
    json.dumps(r.to_dict())
    json.dumps(r.aggregate("event").to_dict())
    json.dumps(tk.did(df, **KW, method="event_study").to_dict())
    assert r.to_dict()["seed"] == 0


def test_treatment_indicator_switching_off_names_units():
    df = staggered_panel(n_units=30, seed=0)
    df["d"] = ((df.first_treated > 0) & (df.period >= df.first_treated)).astype(int)
    kw = dict(outcome="y", unit="unit", time="period", inference="analytic")
    a = tk.did(df, **kw, first_treated="first_treated").group_time
    b = tk.did(df.drop(columns="first_treated"), **kw, treatment="d").group_time
    pd.testing.assert_frame_equal(a, b)
    treated_unit = int(df.loc[df.d == 1, "unit"].iloc[0])
    df.loc[(df.unit == treated_unit) & (df.period == df.period.max()), "d"] = 0
    with pytest.raises(DataError, match=rf"switches off.*1 units: \[{treated_unit}\].*absorbing"):
        tk.did(df, **kw, treatment="d")
