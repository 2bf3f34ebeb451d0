"""Simulation checks: bias near zero and CI coverage near nominal after matching.

Data-generating process with a known ATT: the service goes disproportionately to the
long-term unemployed with low employability (as in the Finnish trials), so a naive
comparison of clients with everyone else is biased downwards; matching exactly on the
duration band and closely on employability removes the bias.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit._parallel import map_replications

TAU = 0.05  # true ATT (constant additive effect on the employment probability)
N = 3000
N_SIMS = 300
# Monte-Carlo tolerance: |bias| within 4 MC standard errors; coverage within
# 4 * sqrt(0.95 * 0.05 / N_SIMS) = 0.05 of 0.95 (and never above 0.995).
K_MC = 4.0

BANDS = np.array(["0-2", "3-5", "6-11", "12-23", "24+"])


def generate(rng: np.random.Generator) -> pd.DataFrame:
    b = rng.integers(0, 5, N)
    age = rng.integers(18, 64, N)
    emp = 1 / (1 + np.exp(-(0.8 - 0.45 * b - 0.02 * (age - 40) + rng.normal(0, 0.6, N))))
    lin = -2.6 + 0.5 * b - 2.0 * (emp - 0.4)
    treated = rng.random(N) < 1 / (1 + np.exp(-lin))
    # employability drives the outcome; treatment adds TAU to the probability (0.9 * emp + TAU < 1)
    p = emp * 0.9 + TAU * treated
    y = (rng.random(N) < p).astype(float)
    return pd.DataFrame(
        {
            "duration_band": BANDS[b],
            "age": age,
            "employability": emp,
            "treated": treated,
            "employed": y,
        }
    )


def one_replication(rng: np.random.Generator, i: int) -> list[float]:
    df = generate(rng)
    t = df["treated"].to_numpy()
    naive = df.loc[t, "employed"].mean() - df.loc[~t, "employed"].mean()
    out = [naive]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = tk.match(
            df, exact=["duration_band"], score="employability", caliper=0.2, covariates=["age"]
        )
        for method in ("difference", "regression"):
            e = m.effect("employed", method=method).to_frame().iloc[0]
            out += [e["estimate"], e["ci_low"], e["ci_high"]]
        r = tk.match(df, exact=["duration_band"], score="employability", replace=True, ratio=2)
        e = r.effect("employed", se="abadie_imbens").to_frame().iloc[0]
        out += [e["estimate"], e["ci_low"], e["ci_high"]]
    return out


@pytest.fixture(scope="module")
def sims() -> np.ndarray:
    return np.asarray(map_replications(one_replication, N_SIMS, seed=20170801))


@pytest.mark.slow
def test_naive_comparison_is_biased(sims):
    naive = sims[:, 0]
    assert naive.mean() - TAU < -0.05  # clients are less employable: naive gap far below the truth


@pytest.mark.slow
@pytest.mark.parametrize(
    "col,label", [(1, "pairs, difference"), (4, "pairs, regression"), (7, "with replacement, AI")]
)
def test_matched_att_unbiased_and_covers(sims, col, label):
    est, lo, hi = sims[:, col], sims[:, col + 1], sims[:, col + 2]
    bias = est.mean() - TAU
    mcse = est.std(ddof=1) / np.sqrt(N_SIMS)
    assert abs(bias) < K_MC * mcse, (label, bias, mcse)
    cover = np.mean((lo <= TAU) & (TAU <= hi))
    assert abs(cover - 0.95) < K_MC * np.sqrt(0.95 * 0.05 / N_SIMS), (label, cover)


@pytest.mark.slow
def test_on_make_register_matching_removes_the_naive_bias():
    """Persons of the synthetic register (its real selection into the trials: long-term
    unemployed, lower employability); outcome drawn from the register's latent
    employability with a known effect TAU, 200 times. Matching exactly on duration band and
    closely on employability removes the naive comparison's bias and its pair-clustered CIs
    cover TAU at close to the nominal rate."""
    reg = tk.datasets.make_register(n_persons=12_000, seed=0)
    p = reg.persons
    pool = p[(p["area"] == "non-trial") | p["treated"]].reset_index(drop=True)
    emp = pool["employability"].to_numpy()
    t = pool["treated"].to_numpy()
    rng = np.random.default_rng(5)
    reps = 200
    ys = (rng.random((reps, len(pool))) < 0.9 * emp + TAU * t).astype(float)
    cols = {f"y{r}": ys[r] for r in range(reps)}
    data = pd.concat([pool, pd.DataFrame(cols)], axis=1)
    naive = ys[:, t].mean(axis=1) - ys[:, ~t].mean(axis=1)
    assert naive.mean() - TAU < -0.02  # clients are less employable than the rest
    m = tk.match(data, exact=["duration_band"], score="employability", caliper=0.2)
    e = m.effect(list(cols)).to_frame()
    bias = e["estimate"].mean() - TAU
    mcse = e["estimate"].std(ddof=1) / np.sqrt(reps)
    assert abs(bias) < K_MC * mcse
    cover = np.mean((e["ci_low"] <= TAU) & (TAU <= e["ci_high"]))
    assert abs(cover - 0.95) < K_MC * np.sqrt(0.95 * 0.05 / reps)
