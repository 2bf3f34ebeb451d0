"""Review fixes: the plan publishes no person, designs are validated when declared."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.design import Outcome, PreAnalysisPlan, TrialDesign


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
