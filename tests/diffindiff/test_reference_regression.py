"""TWFE, event study, 2x2 and Sun-Abraham on mpdta against pyfixest / linearmodels / statsmodels.

Fixture: tests/reference/diffindiff/regression_mpdta.json, made by make_regression_fixture.py.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit.errors import FewClustersWarning

REF = Path(__file__).resolve().parents[1] / "reference" / "diffindiff"
TOL = 1e-8  # same least-squares problem, different algorithms: rounding error only


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REF / "mpdta.csv")


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REF / "regression_mpdta.json").read_text())


def _fit(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        return tk.did(
            data, outcome="lemp", unit="countyreal", time="year", first_treated="first_treat", **kw
        )


def test_twfe_matches_pyfixest_and_linearmodels(mpdta, ref):
    r = _fit(mpdta, method="twfe").to_frame().loc["treated"]
    assert r["estimate"] == pytest.approx(ref["twfe"]["pyfixest_coef"], abs=TOL)
    assert r["estimate"] == pytest.approx(ref["twfe"]["linearmodels_coef"], abs=TOL)
    assert r["se"] == pytest.approx(ref["twfe"]["pyfixest_se"], abs=TOL)


@pytest.mark.parametrize(
    ("key", "kw"), [("event_full", {}), ("event_binned", {"leads": 2, "lags": 1})]
)
def test_event_study_matches_pyfixest(mpdta, ref, key, kw):
    r = _fit(mpdta, method="event_study", **kw).to_frame()
    fx = ref[key]
    assert list(r.index) == fx["event_time"]
    np.testing.assert_allclose(r["estimate"], fx["pyfixest_coef"], atol=TOL, rtol=0)
    np.testing.assert_allclose(r["estimate"], fx["linearmodels_coef"], atol=TOL, rtol=0)
    np.testing.assert_allclose(r["se"], fx["pyfixest_se"], atol=TOL, rtol=0)
    # uniform band contains the pointwise normal interval
    assert np.all(r["band_high"] - r["band_low"] >= r["ci_high"] - r["ci_low"] - 1e-12)


def test_sun_abraham_matches_interacted_pyfixest(mpdta, ref):
    r = _fit(mpdta, method="sun_abraham")
    fx = ref["sun_abraham"]
    tab = r.to_frame()
    assert list(tab.index) == fx["event_time"]
    np.testing.assert_allclose(r.extra["cohort_coefficients"], fx["cohort_coef"], atol=TOL, rtol=0)
    np.testing.assert_allclose(tab["estimate"], fx["iw_coef"], atol=TOL, rtol=0)
    np.testing.assert_allclose(tab["se"], fx["iw_se"], atol=TOL, rtol=0)


def test_two_by_two_matches_statsmodels(mpdta, ref):
    sub = mpdta[mpdta.first_treat.isin([0, 2006])]
    r = _fit(sub, method="two_by_two").to_frame().loc["treated:post"]
    assert r["estimate"] == pytest.approx(ref["two_by_two"]["coef"], abs=TOL)
    assert r["se"] == pytest.approx(ref["two_by_two"]["se"], abs=TOL)
    r2 = (
        _fit(mpdta, method="two_by_two", post_start=2006, covariates="lpop")
        .to_frame()
        .loc["treated:post"]
    )
    assert r2["estimate"] == pytest.approx(ref["two_by_two_lpop"]["coef"], abs=TOL)
    assert r2["se"] == pytest.approx(ref["two_by_two_lpop"]["se"], abs=TOL)


def test_event_study_pretrend_test_is_wald_on_leads(mpdta):
    r = _fit(mpdta, method="event_study")
    t = r.pretrend_test()
    tab = r.to_frame()
    lead = tab.index < 0
    b = tab.loc[lead, "estimate"].to_numpy()
    v = r.vcov.to_numpy()[np.ix_(lead, lead)]
    assert t.df == 3
    assert t.statistic == pytest.approx(float(b @ np.linalg.solve(v, b)), rel=1e-10)
