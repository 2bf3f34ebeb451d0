"""itt() with inverse-probability weights and clusters (weighted CR2) against R's estimatr 1.0.0.

Fixtures: tests/reference/randomisation/estimatr_ipw_clusters.csv, made by
estimatr_ipw_clusters.R from estimatr_ipw_clusters_data.csv (make_ipw_cluster_data.py):
30 municipalities randomised whole within 3 cluster strata with treatment fractions
5/10, 3/12 and 6/8.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialkit.errors import FewClustersWarning
from trialkit.randomisation import _core, itt

REF = Path(__file__).resolve().parents[1] / "reference" / "randomisation"
# both sides do the same linear algebra on data written with 6 decimals; estimatr's
# output is printed at full precision, so the differences are rounding only
RTOL = 1e-8
FIX = pd.read_csv(REF / "estimatr_ipw_clusters.csv").set_index("case")
DATA = pd.read_csv(REF / "estimatr_ipw_clusters_data.csv")


def _check(table: pd.DataFrame, case: str) -> None:
    row = table.loc["treatment"]
    ref = FIX.loc[case]
    assert row["estimate"] == pytest.approx(ref["estimate"], rel=RTOL)
    assert row["se"] == pytest.approx(ref["std_error"], rel=RTOL)
    assert row["df"] == pytest.approx(ref["df"], rel=RTOL)


def test_ipw_difference_in_means_with_cr2() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        t = itt(DATA, outcome="y", cluster="municipality", probability="p_arm")
    _check(t.to_frame(), "ipw_cr2")
    assert t.meta["design"] == "ipw_clustered"


def test_lin_with_weights_and_clusters() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        t = itt(
            DATA,
            outcome="y",
            cluster="municipality",
            probability="p_arm",
            covariates=["x1"],
            method="lin",
        )
    _check(t.to_frame(), "lin_ipw_cr2")


def test_lin_with_weights_centres_at_weighted_means() -> None:
    t = itt(DATA, outcome="y", probability="p_arm", covariates=["x1"], method="lin")
    _check(t.to_frame(), "lin_ipw_hc2")


def test_unit_weights_give_the_unweighted_cr2() -> None:
    rng = np.random.default_rng(2)
    n = 60
    cl = np.repeat(np.arange(12), 5)
    X = np.column_stack([np.ones(n), (cl % 2).astype(float), rng.normal(size=n)])
    y = rng.normal(size=n)
    b0, V0, df0 = _core.ols_robust(y, X, cluster=cl)
    b1, V1, df1 = _core.ols_robust(y, X, cluster=cl, weights=np.full(n, 3.0))
    np.testing.assert_allclose(b1, b0, rtol=1e-10)
    np.testing.assert_allclose(V1, V0, rtol=1e-8)
    np.testing.assert_allclose(df1, df0, rtol=1e-8)
