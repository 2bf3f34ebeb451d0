"""Edge cases found in review: missing unit / cluster / treatment values, and period 0
with a 0/1 treatment indicator (0 must not be read as never treated)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit.diffindiff.datasets import staggered_panel
from trialkit.errors import DataError


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    d = staggered_panel(n_units=60, effect=1.0, seed=0)
    # a 0/1 indicator; units first treated in period 1 have no pre-period
    d.loc[d["unit"] < 5, "first_treated"] = 1
    d["d"] = ((d["first_treated"] > 0) & (d["period"] >= d["first_treated"])).astype(int)
    return d


@pytest.mark.parametrize("column", ["unit", "cluster"])
@pytest.mark.parametrize("method", ["group_time", "twfe"])
def test_missing_unit_or_cluster_is_a_data_error(panel, column, method):
    d = panel.astype({column: float})
    d.loc[d.index[7], column] = np.nan
    with pytest.raises(DataError, match=rf"'{column}'.*1 missing"):
        tk.did(
            d,
            outcome="y",
            unit="unit",
            time="period",
            first_treated="first_treated",
            cluster="cluster",
            method=method,
        )


def test_missing_treatment_indicator_is_a_data_error(panel):
    d = panel.astype({"d": float})
    d.loc[d.index[3], "d"] = np.nan
    with pytest.raises(DataError, match=r"'d'.*1 missing"):
        tk.did(d, outcome="y", unit="unit", time="period", treatment="d")


@pytest.mark.parametrize("method", ["group_time", "twfe", "event_study"])
def test_indicator_with_period_zero_equals_relabelled_periods(panel, method):
    shifted = panel.assign(period=panel["period"] - 1)  # periods 0..11
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = tk.did(
            panel, outcome="y", unit="unit", time="period", treatment="d", method=method, seed=0
        )
        b = tk.did(
            shifted, outcome="y", unit="unit", time="period", treatment="d", method=method, seed=0
        )
    ta, tb = a.to_frame(), b.to_frame()
    assert len(ta) == len(tb) > 0
    np.testing.assert_allclose(tb["estimate"].to_numpy(), ta["estimate"].to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(tb["se"].to_numpy(), ta["se"].to_numpy(), rtol=1e-10)
    assert [e.n for e in a.excluded] == [e.n for e in b.excluded] == [60]  # 5 units x 12


def test_first_treated_zero_is_ambiguous_when_period_zero_exists(panel):
    shifted = panel.assign(period=panel["period"] - 1, first_treated=panel["first_treated"] - 1)
    shifted.loc[panel["first_treated"] == 0, "first_treated"] = 0  # never treated, did-style
    with pytest.raises(DataError, match="period 0"):
        tk.did(shifted, outcome="y", unit="unit", time="period", first_treated="first_treated")
    # with never-treated marked by NaN (and no start in period 0) the panel is fine
    ok = shifted.astype({"first_treated": float}).loc[panel["first_treated"] != 1]
    ok.loc[panel["first_treated"] == 0, "first_treated"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = tk.did(ok, outcome="y", unit="unit", time="period", first_treated="first_treated")
    assert np.isfinite(r.aggregate("simple").overall["estimate"])


@pytest.mark.parametrize("control", ["never", "not_yet"])
def test_anticipation_cells_use_short_differences_as_r_did(control):
    # R did (compute.att_gt, varying base): periods before g compare t with t-1, the
    # delta anticipation periods included; periods from g on compare with g-1-delta.
    d = staggered_panel(n_units=90, effect=1.0, seed=3)
    delta = 2
    r = tk.did(
        d,
        outcome="y",
        unit="unit",
        time="period",
        first_treated="first_treated",
        control_group=control,
        anticipation=delta,
        seed=0,
    )
    y = d.pivot(index="unit", columns="period", values="y")
    g = d.groupby("unit")["first_treated"].first()
    gt = r.group_time
    for _, row in gt.iterrows():
        gg, t = int(row["group"]), int(row["time"])
        b = t - 1 if t < gg else gg - 1 - delta
        comp = (g == 0) if control == "never" else ((g == 0) | (g > max(t, b) + delta))
        comp &= g != gg
        dy = y[t] - y[b]
        want = dy[g == gg].mean() - dy[comp].mean()
        assert row["estimate"] == pytest.approx(want, abs=1e-10), (gg, t)
    assert ((gt["time"] >= gt["group"] - delta) & (gt["time"] < gt["group"])).sum() > 0


def test_units_without_a_base_period_under_anticipation_are_reported(panel):
    d = panel[panel["first_treated"] != 1]  # starts 0 (never), 5 and 8
    d = d.assign(first_treated=d["first_treated"].replace({5: 2}))
    with pytest.warns(tk.errors.ExcludedRowsWarning, match="anticipation=1"):
        r = tk.did(
            d,
            outcome="y",
            unit="unit",
            time="period",
            first_treated="first_treated",
            anticipation=1,
            seed=0,
        )
    n_early = d.loc[d["first_treated"] == 2, "unit"].nunique()
    assert n_early > 0
    assert [e.n for e in r.excluded] == [n_early * 12]
    assert 2 not in set(r.group_time["group"])


def test_two_by_two_reports_units_with_other_starts(panel):
    d = panel[panel["first_treated"] != 1]
    with pytest.warns(tk.errors.ExcludedRowsWarning, match="other start"):
        r = tk.did(
            d,
            outcome="y",
            unit="unit",
            time="period",
            first_treated="first_treated",
            method="two_by_two",
            post_start=5,
        )
    n_other = d.loc[d["first_treated"] == 8, "unit"].nunique()
    assert [e.n for e in r.excluded] == [n_other * 12]
