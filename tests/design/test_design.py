"""TrialDesign and the pre-analysis plan: hashing, eligibility, deviations flagged."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from trialkit.design import Outcome, PreAnalysisPlan, TrialDesign
from trialkit.errors import DataError, DesignError


def _design(**kw):
    base = dict(
        title="Lapland long-term unemployed trial",
        population="Jobseekers in Lapland's five trial municipalities unemployed 12+ months",
        eligibility="duration_months >= 12",
        strata=("duration_band", "age_band"),
        outcomes=(
            Outcome(name="employed", horizon=12, primary=True, expected_effect=0.03, baseline=0.25),
            Outcome(name="days_employed", kind="continuous", horizon=60),
        ),
        covariates=("age", "prior_employment_days"),
    )
    base.update(kw)
    return TrialDesign(**base)


def test_plan_hash_is_sha256_of_canonical_content():
    plan = _design().plan()
    canon = json.dumps(plan.content, sort_keys=True, separators=(",", ":"))
    assert plan.sha256 == hashlib.sha256(canon.encode()).hexdigest()
    assert _design().plan().sha256 == plan.sha256  # deterministic
    assert _design(alpha=0.01).plan().sha256 != plan.sha256


def test_plan_json_round_trip_and_tamper_detection():
    plan = _design().plan()
    back = PreAnalysisPlan.from_json(plan.to_json())
    assert back.sha256 == plan.sha256
    tampered = json.loads(plan.to_json())
    tampered["plan"]["alpha"] = 0.10
    with pytest.raises(DataError, match="edited"):
        PreAnalysisPlan.from_json(json.dumps(tampered))


def test_markdown_plan_names_everything_declared():
    md = _design().plan().to_markdown()
    for needle in (
        "duration_months >= 12",
        "duration_band, age_band",
        "| employed | binary | 12 | yes",
        "holm",
        "60 months",
    ):
        assert needle in md


def test_no_deviation_when_plan_followed():
    d = _design()
    assert d.deviations(d.plan()) == []


def test_changed_outcome_is_a_flagged_deviation():
    d = _design()
    plan = d.plan()
    moved = dataclasses.replace(
        d,
        outcomes=(
            Outcome(name="employed", horizon=24, primary=True, expected_effect=0.03, baseline=0.25),
            Outcome(name="days_employed", kind="continuous", horizon=60),
        ),
    )
    devs = moved.deviations(plan)
    fields = sorted(x.field for x in devs)
    assert fields == ["outcome employed@12", "outcome employed@24"]
    assert "DEVIATION" in str(devs[0])
    relaxed = dataclasses.replace(d, alpha=0.1)
    assert [(x.field, x.planned, x.actual) for x in relaxed.deviations(plan)] == [
        ("alpha", 0.05, 0.1)
    ]


def test_eligibility_counts_exclusions():
    persons = pd.DataFrame({"person_id": range(6), "duration_months": [3, 12, 30, 11, 12, 0]})
    kept, excluded = _design().eligible(persons)
    assert kept["person_id"].tolist() == [1, 2, 4]
    assert excluded[0].n == 3 and "duration_months >= 12" in excluded[0].reason
    with pytest.raises(DataError, match="cannot be evaluated"):
        _design(eligibility="months_unemployed >= 12").eligible(persons)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(arms={"control": 1}), "at least two arms"),
        (dict(arms={"control": 1, "treatment": 0}), "positive"),
        (dict(unit="cluster"), "needs `cluster`"),
        (dict(multiplicity="fdr"), "must be one of"),
        (dict(outcomes=(Outcome(name="employed", horizon=12),)), "primary"),
        (dict(alpha=1.5), "alpha"),
    ],
)
def test_impossible_designs_are_rejected(kw, match):
    with pytest.raises(DesignError, match=match):
        _design(**kw)


def test_outcome_validation():
    with pytest.raises(DesignError, match="kind"):
        Outcome(name="x", kind="ordinal")
    with pytest.raises(DesignError, match="horizon"):
        Outcome(name="x", horizon=-3)
    assert Outcome(name="employed", horizon=12).label == "employed_12m"


def _trial_data(n=600, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(n) % 2 == 0, "treatment", "control")
    age = rng.integers(18, 64, n)
    prior = rng.integers(0, 1000, n)
    y = (rng.random(n) < 0.2 + 0.1 * (arm == "treatment")).astype(float)
    days = rng.normal(400, 100, n) + 30 * (arm == "treatment") + 0.1 * prior
    return pd.DataFrame(
        {
            "arm": arm,
            "age": age,
            "prior_employment_days": prior,
            "duration_band": rng.choice(["12-23", "24+"], n),
            "age_band": rng.choice(["<25", "25-29"], n),
            "employed_12m": y,
            "days_employed_60m": days,
        }
    )


def test_analyse_runs_declared_estimators_and_adjusts_primary():
    from trialkit.design import adjust_p
    from trialkit.randomisation import itt

    d = _design(
        outcomes=(
            Outcome(name="employed", horizon=12, primary=True, estimator="lin"),
            Outcome(
                name="days_employed",
                kind="continuous",
                horizon=60,
                primary=True,
                estimator="difference_in_means",
            ),
        )
    )
    data = _trial_data()
    res = d.analyse(data, d.plan())
    frame = res.to_frame()
    lin = itt(
        data,
        outcome="employed_12m",
        method="lin",
        covariates=list(d.covariates),
        strata=list(d.strata),
    ).to_frame()
    assert frame.loc[("employed_12m", "treatment"), "estimate"] == pytest.approx(
        lin.loc["treatment", "estimate"], abs=1e-12
    )
    dim = itt(data, outcome="days_employed_60m", strata=list(d.strata)).to_frame()
    assert frame.loc[("days_employed_60m", "treatment"), "se"] == pytest.approx(
        dim.loc["treatment", "se"], abs=1e-12
    )
    np.testing.assert_allclose(frame["p_adjusted"], adjust_p(frame["p"], "holm"))
    assert res.deviations == () and "no deviations" in res.summary()


def test_analyse_flags_changed_outcome():
    d = _design(outcomes=(Outcome(name="employed", horizon=12, primary=True, estimator="lin"),))
    plan = d.plan()
    swapped = dataclasses.replace(
        d,
        outcomes=(
            Outcome(
                name="days_employed", kind="continuous", horizon=60, primary=True, estimator="lin"
            ),
        ),
    )
    res = swapped.analyse(_trial_data(), plan)
    assert len(res.deviations) == 2
    text = res.summary()
    assert (
        "2 deviation(s) from the pre-analysis plan" in text
        and "DEVIATION in outcome employed@12" in text
    )
    assert json.loads(res.to_json())["deviations"][0]["field"].startswith("outcome")


def test_holm_and_bonferroni_closed_form():
    from trialkit.design import adjust_p

    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(adjust_p(p, "bonferroni"), [0.04, 0.16, 0.12, 1.0])
    # Holm: sorted 0.01,0.03,0.04,0.5 -> 0.04, 0.09, 0.09 (monotone), 0.5
    np.testing.assert_allclose(adjust_p(p, "holm"), [0.04, 0.09, 0.09, 0.5])
    np.testing.assert_allclose(adjust_p(p, "none"), p)
