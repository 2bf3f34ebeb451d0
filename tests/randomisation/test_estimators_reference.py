"""itt() against R's estimatr 1.0.0.

Fixtures: tests/reference/randomisation/estimatr_fixtures.csv, made by
estimatr_fixtures.R from estimatr_data.csv / estimatr_pairs.csv (make_data.py).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialkit.errors import DataError, DesignError, FewClustersWarning
from trialkit.randomisation import _core, itt

REF = Path(__file__).resolve().parents[1] / "reference" / "randomisation"
# estimatr prints with full double precision; both sides do the same linear algebra,
# so differences are rounding only (data were written with 10 decimals and read back).
RTOL = 1e-7

FIX = pd.read_csv(REF / "estimatr_fixtures.csv")


def _data() -> pd.DataFrame:
    d = pd.read_csv(REF / "estimatr_data.csv")
    lab = {0: "control", 1: "treatment"}
    d["zc"] = d["z"].map(lab)
    d["zclc"] = d["z_cl"].map(lab)
    d["zipw"] = d["z_ipw"].map(lab)
    return d


def _pairs() -> pd.DataFrame:
    p = pd.read_csv(REF / "estimatr_pairs.csv")
    p["arm"] = np.where(p["zp"] == 1, "treatment", "control")
    return p


CASES = {
    "dim_standard": lambda d, p: itt(d, outcome="y", arm="zc"),
    "dim_blocked": lambda d, p: itt(d, outcome="y", arm="zc", strata="block"),
    "dim_clustered": lambda d, p: itt(d, outcome="y_cl", arm="zclc", cluster="cluster"),
    "dim_block_clustered": lambda d, p: itt(
        d, outcome="y_cl", arm="zclc", cluster="cluster", strata="block"
    ),
    "dim_pairs": lambda d, p: itt(p, outcome="yp", arm="arm", strata="pair"),
    "dim_ipw": lambda d, p: itt(d, outcome="y_ipw", arm="zipw", probability="p_ipw"),
    "dim_arm3_a": lambda d, p: itt(d, outcome="y_arm3", arm="arm3"),
    "lin": lambda d, p: itt(d, outcome="y", arm="zc", covariates=["x1", "x2"], method="lin"),
    "lin_clustered": lambda d, p: itt(
        d, outcome="y_cl", arm="zclc", covariates=["x1", "x2"], cluster="cluster", method="lin"
    ),
    "lin_arm3": lambda d, p: itt(
        d, outcome="y_arm3", arm="arm3", covariates=["x1", "x2"], method="lin"
    ),
    "lin_blocks": lambda d, p: itt(
        d, outcome="y", arm="zc", covariates=["x1"], strata="block", method="lin"
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_itt_matches_estimatr(case: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        got = CASES[case](_data(), _pairs()).to_frame()
    ref = FIX[FIX["case"] == case]
    if case == "dim_arm3_a":  # estimatr compares one pair of conditions at a time
        got = got.loc[["a"]]
    assert len(ref) == len(got)
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=RTOL)
    np.testing.assert_allclose(got["se"], ref["std_error"], rtol=RTOL)
    np.testing.assert_allclose(got["df"], ref["df"], rtol=RTOL)


def test_cr2_multi_coefficient_df_matches_estimatr() -> None:
    d = _data()
    X = np.column_stack([np.ones(len(d)), d["z_cl"], d["x1"], d["x2"]])
    beta, V, df = _core.ols_robust(d["y_cl"].to_numpy(), X, cluster=d["cluster"].to_numpy())
    ref = FIX[FIX["case"] == "cr2_multi"]
    np.testing.assert_allclose(beta[1:], ref["estimate"], rtol=RTOL)
    np.testing.assert_allclose(np.sqrt(np.diag(V))[1:], ref["std_error"], rtol=RTOL)
    np.testing.assert_allclose(df[1:], ref["df"], rtol=RTOL)


def test_ci_uses_t_with_df() -> None:
    from scipy import stats

    row = itt(_data(), outcome="y", arm="zc").to_frame().iloc[0]
    q = stats.t.ppf(0.975, row["df"])
    assert row["ci_high"] == pytest.approx(row["estimate"] + q * row["se"], rel=1e-12)


def test_itt_records_excluded_rows() -> None:
    d = _data()
    d.loc[:4, "y"] = np.nan
    t = itt(d, outcome="y", arm="zc")
    assert t.n_excluded == 5
    assert t.to_frame()["n"].iloc[0] == len(d) - 5


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"covariates": ["x1"]}, DesignError),
        ({"method": "ols"}, DesignError),
        ({"control": "nobody"}, DataError),
        ({"outcome": "missing_col"}, DataError),
        ({"probability": "p_ipw", "strata": "block"}, DesignError),
        # weights with clusters are supported, but this assignment is individual-level:
        # arms vary within clusters
        ({"probability": "p_ipw", "cluster": "cluster"}, DataError),
    ],
)
def test_itt_bad_input(kwargs: dict, exc: type) -> None:
    args = {"outcome": "y", "arm": "zc", **kwargs}
    with pytest.raises(exc):
        itt(_data(), **args)


def test_few_clusters_warns() -> None:
    with pytest.warns(FewClustersWarning, match="24 clusters"):
        itt(_data(), outcome="y_cl", arm="zclc", cluster="cluster")


@pytest.mark.slow
def test_neyman_ci_coverage_and_bias() -> None:
    """Coverage of the 95% interval over repeated randomisations of a fixed population."""
    rng = np.random.default_rng(5)
    n = 200
    y0 = rng.normal(size=n)
    y1 = y0 + 0.3 + rng.normal(scale=0.5, size=n)
    tau = float(np.mean(y1 - y0))
    reps = 2000
    Z = _core.permute_within(np.repeat([0, 1], n // 2), None, reps, rng).astype(bool)
    hits, ests = 0, []
    for z in Z:
        e, s, df = _core.neyman_dim(np.where(z, y1, y0), z)
        from scipy import stats

        q = stats.t.ppf(0.975, df)
        hits += abs(e - tau) <= q * s
        ests.append(e)
    cover = hits / reps
    mc = np.sqrt(0.95 * 0.05 / reps)
    # Neyman variance is conservative: coverage at least nominal minus 3 MC SEs
    assert cover >= 0.95 - 3 * mc
    bias = np.mean(ests) - tau
    assert abs(bias) < 3 * np.std(ests) / np.sqrt(reps)
