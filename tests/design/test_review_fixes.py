"""Review fixes: the plan publishes no person, designs are validated when declared."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trialkit.design import Outcome, PreAnalysisPlan, TrialDesign
from trialkit.errors import DataError, DesignError


def _units(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "person_id": [f"0101{80 + i % 20:02d}-{100 + i}A" for i in range(n)],
            "duration_band": np.where(np.arange(n) % 2 == 0, "12-23m", "24m+"),
            "municipality": [f"m{i % 8}" for i in range(n)],
            "age": rng.integers(20, 60, n),
        }
    )


def _design(**kw):
    base = dict(
        title="Review trial",
        population="jobseekers",
        strata=("duration_band",),
        outcomes=(Outcome(name="employed", horizon=12, primary=True),),
    )
    base.update(kw)
    return TrialDesign(**base)


def test_plan_markdown_and_json_hold_no_person_ids_or_strata():
    units = _units()
    a = _design().randomise(units, seed=1)
    assert a.certificate["ids"]  # the certificate itself keeps them (tk.verify needs them)
    plan = _design().plan(certificate=a.certificate)
    md = plan.to_markdown()
    js = plan.to_json()
    for pid in units["person_id"]:
        assert pid not in md
        assert pid not in js
    ref = plan.content["randomisation_certificate"]
    for key in ("ids", "id_strata", "id_clusters", "stratum_sizes", "counts"):
        assert key not in ref
    assert ref["assignment_hash"] == a.certificate["assignment_hash"]
    assert ref["ids_hash"] == a.certificate["ids_hash"]
    assert ref["strata_hash"] == a.certificate["strata_hash"]
    assert ref["seed"] == a.certificate["seed"]
    assert ref["algorithm_version"] == a.certificate["algorithm_version"]
    assert ref["units_per_arm"] == a.table["arm"].value_counts().to_dict()
    assert a.certificate["assignment_hash"] in md


def test_plan_of_cluster_design_holds_no_id_clusters():
    units = _units()
    d = _design(strata=(), unit="cluster", cluster="municipality")
    a = d.randomise(units, seed=2)
    ref = d.plan(certificate=a.certificate).content["randomisation_certificate"]
    assert "id_clusters" not in ref and "ids" not in ref
    assert ref["cluster_hash"] == a.certificate["cluster_hash"]


def test_markdown_of_an_old_plan_with_person_records_hides_them():
    units = _units()
    a = _design().randomise(units, seed=1)
    content = dict(_design().plan().content)
    content["randomisation_certificate"] = dict(a.certificate)  # as plans used to embed it
    from trialkit.design import _hash

    md = PreAnalysisPlan(content=content, sha256=_hash(content)).to_markdown()
    assert not any(pid in md for pid in units["person_id"])


def test_cluster_without_unit_cluster_is_refused():
    with pytest.raises(DesignError, match="unit='cluster'"):
        _design(cluster="municipality")
    d = _design(strata=(), unit="cluster", cluster="municipality")
    assert "unit of randomisation: cluster (clusters: `municipality`)" in d.plan().to_markdown()


def test_method_is_validated_when_declared():
    with pytest.raises(DesignError, match=r"`method` must be one of \['complete', 'bernoulli'"):
        _design(method="foo")
    with pytest.raises(DesignError, match="matched_pairs.*strata"):
        _design(method="matched_pairs", strata=())
    # declared, but drawn with trialkit.randomise (it needs steps): a clear message
    d = _design(method="stepped_wedge", strata=(), unit="cluster", cluster="municipality")
    with pytest.raises(DesignError, match="call trialkit.randomise"):
        d.randomise(_units(), seed=1)


def test_certificate_of_another_mechanism_is_refused():
    a = _design().randomise(_units(), seed=1)
    with pytest.raises(DesignError, match="certificate's method is 'complete'"):
        _design(method="bernoulli").plan(certificate=a.certificate)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(arms={"control": 1.0, "treatment": float("inf")}), "positive finite"),
        (dict(arms={"control": 1.0, "treatment": True}), "positive finite"),
        (dict(arms={"control": 1.0, "treatment": "2"}), "positive finite"),
        (dict(arms=["control", "treatment"]), "mapping"),
        (dict(follow_up_months=60.5), "whole number"),
        (dict(follow_up_months=True), "whole number"),
        (dict(follow_up_months=6), "after the end of follow-up"),
        (dict(alpha="0.05"), "`alpha` must be a finite number"),
        (dict(alpha=float("nan")), "`alpha` must be a finite number"),
        (dict(power=True), "`power` must be a finite number"),
        (dict(title=None), "`title`"),
        (dict(strata=("duration_band", 3)), "strata"),
        (dict(outcomes=("employed",)), "Outcome"),
    ],
)
def test_design_options_are_validated(kw, match):
    with pytest.raises(DesignError, match=match):
        _design(**kw)


def test_horizon_accepts_numpy_integers_refuses_bools_and_fractions():
    o = Outcome(name="employed", horizon=np.int64(12), primary=True)
    assert o.label == "employed_12m" and type(o.horizon) is int
    assert (
        json.loads(_design(outcomes=(o,)).plan().to_json())["plan"]["outcomes"][0]["horizon"] == 12
    )
    for bad in (True, 12.5, "12", float("inf")):
        with pytest.raises(DesignError, match="horizon"):
            Outcome(name="employed", horizon=bad)
    with pytest.raises(DesignError, match="expected_effect"):
        Outcome(name="employed", expected_effect="0.03")
    # numpy numbers are fine where a number is meant
    d = _design(alpha=np.float64(0.05), follow_up_months=np.int32(60))
    assert d.alpha == 0.05 and d.follow_up_months == 60


@pytest.mark.parametrize("bad", [["employed"], ["days_employed"], ["employed_99m"], ["foo_12m"]])
def test_evaluate_observational_outcome_names_are_explained(bad):
    import trialkit as tk

    persons = pd.DataFrame({"person_id": [1]})  # never reached: names are checked first
    with pytest.raises(DesignError, match=r"not a follow-up outcome.*'employed_12m'"):
        tk.evaluate_observational(persons, persons, None, outcomes=bad, seed=1)


def test_evaluate_observational_takes_the_id_column():
    import trialkit as tk

    reg = tk.datasets.make_register(n_persons=3000, seed=1, truth_n=1000)
    ev0 = tk.evaluate_observational(
        reg.persons, reg.spells, None, outcomes=["employed_12m"], seed=1
    )
    ren = {"person_id": "client_id"}
    ev1 = tk.evaluate_observational(
        reg.persons.rename(columns=ren),
        reg.spells.rename(columns=ren),
        None,
        outcomes=["employed_12m"],
        seed=1,
        id="client_id",
    )
    assert ev1.effects.to_frame().equals(ev0.effects.to_frame())
    with pytest.raises(DataError, match="client_id"):
        tk.evaluate_observational(
            reg.persons, reg.spells, None, outcomes=["employed_12m"], seed=1, id="client_id"
        )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{}", r"lacks the key\(s\) \['plan', 'sha256'\]"),
        ('{"plan": {}}', r"lacks the key\(s\) \['sha256'\]"),
        ("[1]", "must be an object"),
        ("not json", "not JSON"),
        ('{"plan": {"title": "t"}, "sha256": "x"}', "content lacks the key.*'population'"),
    ],
)
def test_plan_from_bad_json_is_a_data_error(text, match):
    with pytest.raises(DataError, match=match):
        PreAnalysisPlan.from_json(text)


def test_plan_accepts_a_randomisation_of_the_cluster_table():
    # the demo's phased roll-out draws a table of municipalities (id = the cluster)
    import trialkit as tk

    munis = pd.DataFrame({"municipality": [f"m{i:02d}" for i in range(12)]})
    steps = ["2027-01", "2027-07", "2028-01"]
    sw = tk.randomise(munis, id="municipality", method="stepped_wedge", steps=steps, seed=1)
    out = (Outcome(name="unemployment_rate", kind="continuous", horizon=12, primary=True),)
    d = TrialDesign(title="t", population="p", method="stepped_wedge", outcomes=out,
                    unit="cluster", cluster="municipality")  # fmt: skip
    plan = d.plan(certificate=sw.certificate)
    assert sw.certificate["assignment_hash"] in plan.to_markdown()
    other = tk.randomise(munis, id="municipality", seed=1)  # another mechanism: refused
    with pytest.raises(DesignError, match="method"):
        d.plan(certificate=other.certificate)
