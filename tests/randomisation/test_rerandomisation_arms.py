"""Re-randomisation with any number of arms: the pooled Mahalanobis criterion and inference
that redraws only acceptable assignments."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.multivariate.manova import MANOVA

from trialkit.randomisation import randomisation_test, randomise, verify

ARMS = ["control", "coaching", "training"]


def _pooled_m(x: np.ndarray, codes: np.ndarray, k: int) -> float:
    """Slow reference: sum_j n_j (xbar_j - xbar)' S^-1 (xbar_j - xbar)."""
    S_inv = np.linalg.inv(np.atleast_2d(np.cov(x, rowvar=False)))
    total = 0.0
    for j in range(k):
        d = x[codes == j].mean(axis=0) - x.mean(axis=0)
        total += (codes == j).sum() * float(d @ S_inv @ d)
    return total


def _units(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "person_id": rng.choice(10 * n, n, replace=False),
            "age": rng.normal(40, 10, n).round(1),
            "months_unemployed": rng.gamma(2.0, 6.0, n).round(1),
        }
    )


def test_three_arms_meet_the_pooled_rule_with_its_chi2_threshold() -> None:
    u = _units(150, 1)
    covs = ["age", "months_unemployed"]
    a = randomise(u, method="rerandomised", arms=ARMS, covariates=covs, acceptance=0.1, seed=5)
    rule = a.certificate["rerandomisation"]
    assert rule["threshold"] == pytest.approx(stats.chi2.ppf(0.1, 2 * 2))  # K (k - 1) df
    codes = a.table["arm"].cat.codes.to_numpy()
    x = u[covs].to_numpy()
    m = _pooled_m(x, codes, 3)
    assert m == pytest.approx(a.certificate["draw"]["mahalanobis"], rel=1e-10)
    assert m <= rule["threshold"]
    # independent reference: M = (n - 1) x Pillai's trace of the one-way MANOVA on the arm
    frame = u[covs].assign(arm=a.table["arm"].astype(str).to_numpy())
    res = MANOVA.from_formula("age + months_unemployed ~ arm", data=frame).mv_test()
    pillai = float(res.results["arm"]["stat"].loc["Pillai's trace", "Value"])
    assert m == pytest.approx((len(u) - 1) * pillai, rel=1e-8)
    assert verify(u.sample(frac=1, random_state=3), a.certificate)
    changed = u.copy()
    changed.loc[4, "age"] += 1.0
    assert not verify(changed, a.certificate)


def test_two_arm_pooled_statistic_is_morgan_rubin() -> None:
    from trialkit.randomisation.assignment import _mahalanobis

    u = _units(80, 2)
    a = randomise(u, method="rerandomised", covariates=["age"], acceptance=0.3, seed=1)
    t = (a.table["arm"] == "treatment").to_numpy()
    assert a.certificate["draw"]["mahalanobis"] == pytest.approx(
        _mahalanobis(u[["age"]].to_numpy(), t), rel=1e-10
    )


def test_acceptance_is_close_to_nominal_for_three_arms() -> None:
    # the chi2 threshold gives about the requested acceptance rate (asymptotic):
    # accepted_draw + 1 is geometric with mean 1 / p_a
    u = _units(300, 3)
    covs = ["age", "months_unemployed"]
    tries = [
        randomise(
            u, method="rerandomised", arms=ARMS, covariates=covs, acceptance=0.25, seed=s
        ).certificate["draw"]["accepted_draw"]
        + 1
        for s in range(60)
    ]
    rate = 1 / np.mean(tries)
    # 60 geometric draws with p = 0.25: the rate's sd is about 0.03
    assert 0.25 - 0.1 < rate < 0.25 + 0.1


def test_exact_inference_enumerates_only_acceptable_three_arm_assignments() -> None:
    rng = np.random.default_rng(7)
    n = 9
    u = pd.DataFrame({"person_id": np.arange(n), "x": rng.normal(size=n)})
    a = randomise(u, method="rerandomised", arms=ARMS, covariates=["x"], acceptance=0.5, seed=2)
    threshold = a.certificate["rerandomisation"]["threshold"]
    d = u.assign(arm=a.table["arm"].astype(str).to_numpy())
    d["y"] = d["x"] + rng.normal(size=n) + 0.5 * (d["arm"] == "training")
    r = randomisation_test(d, outcome="y", assignment=a, n_draws="exact")
    y = d["y"].to_numpy()
    x = u[["x"]].to_numpy()
    z_obs = d["arm"].map({k: i for i, k in enumerate(ARMS)}).to_numpy()

    def diff(z: np.ndarray, j: int) -> float:
        return y[z == j].mean() - y[z == 0].mean()

    accepted = []
    for first in itertools.combinations(range(n), 3):
        rest = [i for i in range(n) if i not in first]
        for second in itertools.combinations(rest, 3):
            z = np.full(n, 2)
            z[list(first)] = 0
            z[list(second)] = 1
            if _pooled_m(x, z, 3) <= threshold:
                accepted.append(z)
    assert 0 < len(accepted) < 1680
    for j, arm in [(1, "coaching"), (2, "training")]:
        t_obs = diff(z_obs, j)
        p = np.mean([abs(diff(z, j)) >= abs(t_obs) - 1e-12 for z in accepted])
        assert r.to_frame().loc[arm, "p"] == pytest.approx(p, abs=1e-12)
