"""On make_register data: effects by horizon, RMST and cumulative incidence recover the truth;
intervals cover at the nominal rate; IPCW removes the bias of informative censoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import trialkit as tk

EFFECT = 1.5  # hazard ratio of exits to work while treated (first 24 months)
END = "2023-12-31"
K_SE = 4.0  # |estimate - truth| within 4 standard errors (truth itself is a Monte-Carlo mean)


def _trial(
    persons: pd.DataFrame, seed: int, effect: float = EFFECT
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    treated = rng.permutation(np.arange(len(persons)) < len(persons) // 2)
    spells = tk.datasets.simulate_spells(persons, treated, effect=effect, seed=seed + 1, end=END)
    pe = persons.assign(arm=np.where(treated, "treatment", "control"))
    return spells, pe


def _truth(persons: pd.DataFrame, copies: int = 5) -> dict[str, float]:
    big = pd.concat(
        [persons.assign(person_id=persons["person_id"] + k * 10_000_000) for k in range(copies)]
    )
    return tk.datasets.true_effects(big, effect=EFFECT, seed=99)["effect"]


@pytest.fixture(scope="module")
def trial():
    reg = tk.datasets.make_register(n_persons=8000, seed=0, truth_n=1000)
    persons = reg.persons
    spells, pe = _trial(persons, 1)
    f = tk.follow_up(spells, pe, origin="origin", months=60, end_of_data=END)
    return persons, f, _truth(persons), spells


def test_horizon_effects_recover_truth(trial):
    _, f, truth, _ = trial
    tab = f.effects(
        outcomes=["employed", "months_employed", "months_unemployed"], horizons=[12, 24, 36, 48, 60]
    ).to_frame()
    checked = 0
    for (outcome, h), row in tab.iterrows():
        key = f"{outcome}_{h}m"
        if key not in truth:
            continue
        assert abs(row["estimate"] - truth[key]) < K_SE * row["se"], (
            key,
            row["estimate"],
            truth[key],
        )
        checked += 1
    assert checked == 7
    # the effect is real: employment at 12 months clearly up
    assert tab.loc[("employed", 12), "ci_low"] > 0


def test_rmst_and_cumulative_incidence_recover_truth(trial):
    _, f, truth, _ = trial
    r = f.rmst(time_to="employment", tau=60).to_frame()
    est, se = r.loc["difference[treatment]", ["estimate", "se"]]
    assert abs(est - truth["rmst_employment_60m"]) < K_SE * se
    assert est < 0  # faster into work
    ci = f.cumulative_incidence()
    for h in (12, 24, 60):
        diff = ci.difference(h, control="control").to_frame()
        for route in ("employed", "subsidised", "service", "education", "out_of_labour_force"):
            row = diff.loc[("treatment", route)]
            assert abs(row["estimate"] - truth[f"cif_{route}_{h}m"]) < K_SE * row["se"], (route, h)
    gray = f.gray_test().to_frame()
    assert set(gray.index) == {
        "employed",
        "subsidised",
        "service",
        "education",
        "out_of_labour_force",
    }
    assert gray.loc["employed", "p"] < 0.001  # the service speeds exits to open-market work


def test_state_occupation_adds_up_and_matches_panel(trial):
    _, f, _, _ = trial
    so = f.state_occupation()
    tab = so.to_frame()
    sums = tab.groupby(["group", "month"])["probability"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-12)
    em = so.expected_months()
    np.testing.assert_allclose(em.sum(axis=1).to_numpy(), 60.0, atol=1e-9)
    # no censoring within 60 months here: expected months employed = mean months employed
    o = f.outcomes([60], outcomes=["months_employed"], person_level=False)
    means = o.groupby("arm")["months_employed_60m"].mean()
    for g in ("control", "treatment"):
        assert em.loc[g, "employed"] + em.loc[g, "subsidised"] == pytest.approx(means[g], abs=1e-9)
    ax = so.plot(group="treatment")
    assert len(ax.collections) == 7


@pytest.mark.slow
def test_interval_coverage_in_repeated_trials(trial):
    persons, _, truth, _ = trial
    sub = persons.iloc[:2000]
    truth_sub = _truth(sub, copies=10)
    n_rep = 80
    hits = {"employed_24m": 0, "months_employed_60m": 0, "rmst": 0}
    band_hits = 0
    for rep in range(n_rep):
        spells, pe = _trial(sub, 1000 + rep)
        f = tk.follow_up(spells, pe, origin="origin", months=60, end_of_data=END)
        e = f.effects(outcomes=["employed"], horizons=[12, 24, 36, 48, 60], seed=rep).to_frame()
        row = e.loc[("employed", 24)]
        hits["employed_24m"] += row["ci_low"] <= truth_sub["employed_24m"] <= row["ci_high"]
        band = e.xs("employed", level="outcome")
        band_hits += all(
            band.loc[h, "band_low"] <= truth_sub[f"employed_{h}m"] <= band.loc[h, "band_high"]
            for h in (12, 24, 36, 48, 60)
        )
        m = f.effects(outcomes=["months_employed"], horizons=[60]).to_frame().iloc[0]
        hits["months_employed_60m"] += (
            m["ci_low"] <= truth_sub["months_employed_60m"] <= m["ci_high"]
        )
        r = f.rmst(time_to="employment").to_frame().loc["difference[treatment]"]
        hits["rmst"] += r["ci_low"] <= truth_sub["rmst_employment_60m"] <= r["ci_high"]
    mc_se = np.sqrt(0.95 * 0.05 / n_rep)
    for k, v in hits.items():
        assert abs(v / n_rep - 0.95) < 3.5 * mc_se, (k, v / n_rep)
    assert band_hits / n_rep > 0.95 - 3.5 * mc_se


def test_ipcw_removes_bias_of_informative_censoring(trial):
    _, f, truth, spells = trial
    rng = np.random.default_rng(7)
    pe = f.persons.reset_index()
    score = pe["employability"].to_numpy()
    # loss of linkage after 6 months: treated persons with poor prospects are lost far more often
    logit = np.where(pe["arm"] == "treatment", 3.0 - 20.0 * score, -3.0)
    lost = rng.random(len(pe)) < 1 / (1 + np.exp(-logit))
    origin = pd.to_datetime(pe["origin"])
    pe["lost"] = pd.to_datetime(np.where(lost, origin + pd.DateOffset(months=6), pd.NaT))
    fc = tk.follow_up(spells, pe, origin="origin", months=60, end_of_data=END, censor="lost")
    res = tk.followup.ipcw_effects(
        fc, outcomes=["employed"], horizons=[24, 60], covariates=["employability"]
    )
    tab = res.to_frame()
    for h in (24, 60):
        row = tab.loc[("employed", h)]
        t = truth[f"employed_{h}m"]
        assert abs(row["naive"] - t) > 3 * row["se"], (
            "naive should be biased",
            h,
            row["naive"],
            t,
        )
        assert abs(row["estimate"] - t) < 3 * row["se"], (
            "ipcw should recover",
            h,
            row["estimate"],
            t,
        )
