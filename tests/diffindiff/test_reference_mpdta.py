"""Group-time ATT on mpdta against the published `did` output and the `csdid` port.

Fixtures (see tests/reference/diffindiff/README.md):
* published_did_mpdta.json -- R `did` output, 4 decimals, bootstrap SEs;
* csdid_mpdta.json -- made by make_csdid_fixture.py (csdid 0.4.3), analytic SEs.
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

# published numbers are rounded to 4 decimals: half a unit in the last place
TOL_PUBLISHED = 0.5e-4 + 1e-12
# the csdid port computes the same closed forms: agreement to rounding error
TOL_ESTIMATE = 1e-6
TOL_SE = 1e-8
# bootstrap SEs (IQR-based) from 999-2000 draws vary by a few per cent between runs;
# published SEs are one bootstrap run of the R package
TOL_SE_BOOT_REL = 0.15


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REF / "mpdta.csv")


@pytest.fixture(scope="module")
def published() -> dict:
    return json.loads((REF / "published_did_mpdta.json").read_text())


@pytest.fixture(scope="module")
def csdid() -> dict:
    return json.loads((REF / "csdid_mpdta.json").read_text())


def _fit(data: pd.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        return tk.did(
            data, outcome="lemp", unit="countyreal", time="year", first_treated="first_treat", **kw
        )


def test_group_time_matches_published_did(mpdta, published):
    r = _fit(mpdta, control_group="never", inference="bootstrap", n_boot=2000, seed=11)
    gt = r.group_time.set_index(["group", "time"])
    ref = pd.DataFrame(published["group_time"], columns=["group", "time", "att", "se"]).set_index(
        ["group", "time"]
    )
    assert list(gt.index) == list(ref.index)
    np.testing.assert_allclose(gt["estimate"], ref["att"], atol=TOL_PUBLISHED)
    np.testing.assert_allclose(gt["se"], ref["se"], rtol=TOL_SE_BOOT_REL)
    simple = r.aggregate("simple").to_frame().loc["ATT"]
    assert abs(simple["estimate"] - published["simple"]["estimate"]) < TOL_PUBLISHED
    assert simple["se"] == pytest.approx(published["simple"]["se"], rel=TOL_SE_BOOT_REL)


def test_pretest_matches_published_p(mpdta, published):
    r = _fit(mpdta, inference="analytic")
    t = r.pretrend_test(by="cell")
    assert t.df == 5
    assert t.p == pytest.approx(published["pretest_p"], abs=1e-5)


@pytest.mark.parametrize("k", range(6))
def test_group_time_and_aggregations_match_csdid(mpdta, csdid, k):
    run = csdid["runs"][k]
    kw: dict = {
        "control_group": {"nevertreated": "never", "notyettreated": "not_yet"}[run["control_group"]]
    }
    if run["xformla"]:
        kw["covariates"] = ["lpop"]
        kw["estimation"] = {"reg": "or", "dr": "dr", "ipw": "ipw"}[run["est_method"]]
    r = _fit(mpdta, inference="analytic", **kw)
    gt = r.group_time
    np.testing.assert_array_equal(gt["group"], np.asarray(run["group"], dtype=int))
    np.testing.assert_array_equal(gt["time"], np.asarray(run["time"], dtype=int))
    np.testing.assert_allclose(gt["estimate"], run["att"], rtol=0, atol=TOL_ESTIMATE)
    np.testing.assert_allclose(gt["se"], run["se"], rtol=0, atol=TOL_SE)
    for typ, kind in (
        ("simple", "simple"),
        ("dynamic", "event"),
        ("group", "group"),
        ("calendar", "calendar"),
    ):
        ref = run["aggregations"][typ]
        a = r.aggregate(kind)
        assert a.overall["estimate"] == pytest.approx(ref["overall_att"], abs=TOL_ESTIMATE)
        assert a.overall["se"] == pytest.approx(ref["overall_se"], abs=TOL_SE)
        if ref["att_egt"] is not None:
            tab = a.to_frame()
            np.testing.assert_allclose(tab["estimate"], ref["att_egt"], atol=TOL_ESTIMATE)
            np.testing.assert_allclose(tab["se"], ref["se_egt"], atol=TOL_SE)
            labels = [int(v) for v in tab.index]
            assert labels == [int(v) for v in ref["egt"]]


def test_bootstrap_se_close_to_analytic(mpdta):
    a = _fit(mpdta, inference="analytic").group_time
    b = _fit(mpdta, inference="bootstrap", n_boot=2000, seed=3).group_time
    np.testing.assert_allclose(b["se"], a["se"], rtol=0.12)
    # the uniform band is wider than the pointwise interval
    assert np.all(b["band_high"] - b["band_low"] > b["ci_high"] - b["ci_low"])


def test_bootstrap_reproducible_across_backends(mpdta):
    a = _fit(mpdta, n_boot=300, seed=5).aggregate("event").to_frame()
    b = _fit(mpdta, n_boot=300, seed=5, backend="joblib", n_jobs=2).aggregate("event").to_frame()
    pd.testing.assert_frame_equal(a, b)
