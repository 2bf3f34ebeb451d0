"""The demo's phased municipal roll-out (stepped wedge): randomised starts, a known injected
effect, and its Hussey & Hughes (2007) cluster-period analysis.

References: statsmodels OLS with municipality and month dummies (the textbook dummy-variable
form of the cluster-period model) for the estimate and the clustered standard error; a
design-based simulation (start months re-randomised, the panel fixed) for coverage.
"""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402

import trialkit as tk  # noqa: E402
from trialkit.demo import (  # noqa: E402
    ROLLOUT_EFFECT_PP,
    ROLLOUT_STARTS,
    ROLLOUT_WINDOW,
    _rollout,
    _start_months,
)
from trialkit.errors import TrialkitWarning  # noqa: E402

#: the TWFE estimate is the same least-squares coefficient as the dummy regression
EST_RTOL = 1e-9
#: CR1 with the small-sample factor of fixest: municipality effects nested in the clusters
#: are not counted in K (statsmodels counts every dummy); after that correction the two agree
SE_RTOL = 1e-6


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    # the panel does not depend on n_persons; a small register keeps this fast
    return tk.datasets.make_register(n_persons=300, seed=5, truth_n=1000).panel


@pytest.fixture(scope="module")
def rollout(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrialkitWarning)
        ro = _rollout(panel, effect=-1.0, seed=12, ri_seed=13, n_permutations=199)
    yield ro
    plt.close("all")


def test_injected_effect_is_the_truth_and_sits_exactly_after_each_start(rollout, panel):
    cells = rollout["cells"]
    assert rollout["truth"] == -1.0
    assert rollout["meta"]["injected_effect_pp"] == -1.0
    # only never-treated (non-trial) municipalities, the whole window, balanced
    non_trial = set(panel.loc[panel["first_treated"].isna(), "municipality"])
    assert set(cells["municipality"]) == non_trial
    months = pd.date_range(*ROLLOUT_WINDOW, freq="MS")
    assert len(cells) == len(non_trial) * len(months)
    # every municipality starts at one of the steps, equal numbers per step (+-1)
    starts = cells.groupby("municipality")["start"].first()
    assert set(starts.dt.strftime("%Y-%m")) == set(ROLLOUT_STARTS)
    per_step = starts.value_counts()
    assert per_step.max() - per_step.min() <= 1
    assert rollout["meta"]["municipalities_per_start"] == {
        k.strftime("%Y-%m"): int(v) for k, v in per_step.sort_index().items()
    }
    # treated exactly from the start month on; outcome = register rate + effect there
    expected_treated = (cells["month"] >= cells["start"]).to_numpy()
    np.testing.assert_array_equal(cells["treated"].to_numpy() == 1, expected_treated)
    diff = (cells["rate"] - cells["unemployment_rate"]).to_numpy()
    np.testing.assert_allclose(diff, np.where(expected_treated, -1.0, 0.0), atol=1e-12)
    # the untreated outcome is the register's own series, untouched
    reg_rates = panel.set_index(["municipality", "month"])["unemployment_rate"]
    np.testing.assert_array_equal(
        cells["unemployment_rate"].to_numpy(),
        reg_rates.loc[list(zip(cells["municipality"], cells["month"], strict=True))].to_numpy(),
    )


def test_stepped_wedge_estimate_matches_dummy_variable_regression(rollout):
    cells = rollout["cells"]
    fit = smf.ols("rate ~ treated + C(municipality) + C(month)", data=cells).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(cells["municipality"])[0]}
    )
    row = rollout["twfe"].to_frame().loc["treated"]
    assert row["estimate"] == pytest.approx(fit.params["treated"], rel=EST_RTOL)
    n = len(cells)
    k_dummies = int(fit.df_model) + 1  # every coefficient incl. the intercept
    k_nested = 1 + cells["month"].nunique()  # treated + month effects (incl. intercept)
    se_ref = fit.bse["treated"] * np.sqrt((n - k_dummies) / (n - k_nested))
    assert row["se"] == pytest.approx(se_ref, rel=SE_RTOL)
    # and the interval covers the injected effect
    assert row["ci_low"] <= -1.0 <= row["ci_high"]
    # randomisation inference: a -1 pp effect is far in the tail of 199 re-randomisations
    assert rollout["meta"]["randomisation_p"] == pytest.approx(1 / 200)


def test_event_study_figure_shows_estimates_and_injected_effect(rollout):
    ax = rollout["ax"]
    es = rollout["event_study"].to_frame()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), es["estimate"].to_numpy())
    np.testing.assert_allclose(ax.lines[0].get_xdata(), es.index.to_numpy(dtype=float))
    truth_lines = [ln for ln in ax.lines if ln.get_label() == "injected (true) effect"]
    assert len(truth_lines) == 1
    np.testing.assert_allclose(truth_lines[0].get_ydata(), [-1.0, -1.0])
    assert "randomised start" in ax.get_xlabel()
    # pre-start leads near 0, post-start lags near the injected effect (on average)
    pre = es.loc[es.index < 0, "estimate"].mean()
    post = es.loc[es.index >= 0, "estimate"].mean()
    assert abs(pre) < 0.3 and abs(post + 1.0) < 0.3


@pytest.mark.slow
def test_stepped_wedge_coverage_over_rerandomisations(panel):
    """Design-based: the panel fixed, the start months re-randomised 60 times.

    Coverage of the 95% CR1 interval within 3 Monte-Carlo SEs of 0.95 and mean error
    within 3 Monte-Carlo SEs of 0 (237 clusters, so CR1 should be close to nominal).
    """
    lo_m, hi_m = (pd.Timestamp(m) for m in ROLLOUT_WINDOW)
    cells = panel.loc[
        panel["first_treated"].isna() & panel["month"].between(lo_m, hi_m),
        ["municipality", "month", "unemployment_rate"],
    ]
    munis = cells[["municipality"]].drop_duplicates()
    errors, covered = [], []
    n_rep = 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrialkitWarning)
        for rep in range(n_rep):
            sw = tk.randomise(
                munis,
                id="municipality",
                method="stepped_wedge",
                steps=list(ROLLOUT_STARTS),
                seed=1000 + rep,
            )
            start = _start_months(sw.table)
            d = cells.assign(start=cells["municipality"].map(start))
            d["rate"] = d["unemployment_rate"] + ROLLOUT_EFFECT_PP * (d["month"] >= d["start"])
            r = tk.did(
                d,
                outcome="rate",
                unit="municipality",
                time="month",
                first_treated="start",
                method="twfe",
            )
            row = r.to_frame().loc["treated"]
            errors.append(row["estimate"] - ROLLOUT_EFFECT_PP)
            covered.append(row["ci_low"] <= ROLLOUT_EFFECT_PP <= row["ci_high"])
    errors_a = np.asarray(errors)
    cov = float(np.mean(covered))
    assert abs(errors_a.mean()) < 3 * errors_a.std(ddof=1) / np.sqrt(n_rep)
    assert abs(cov - 0.95) < 3 * np.sqrt(0.95 * 0.05 / n_rep)
