"""Every parallel path gives bit-identical results on serial, joblib and a Dask LocalCluster."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import trialkit as tk

BACKENDS = ("serial", "joblib", "dask")


@pytest.fixture(scope="module")
def dask_client():
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def register():
    reg = tk.datasets.make_register(n_persons=1500, seed=8, truth_n=1000)
    persons = reg.persons.assign(
        arm=np.where(reg.persons["person_id"] % 2 == 0, "treatment", "control")
    )
    return reg, persons


def _generate(rng):
    arm = rng.permutation(np.repeat([0, 1], 50))
    return pd.DataFrame({"arm": arm, "y": rng.normal(size=100) + 0.4 * arm})


def _estimate(df):
    return stats.ttest_ind(df.y[df.arm == 1], df.y[df.arm == 0]).pvalue


def _run_all(backend, reg, persons):
    kw = {"backend": backend}
    if backend == "joblib":
        kw["n_jobs"] = 2
    out = {}
    out["power"] = tk.power.simulate(_generate, _estimate, n_sims=40, seed=3, **kw).to_dict()[
        "power"
    ]
    data = persons.assign(y=persons["prior_employment_days"] / 365.0)
    ri = tk.randomisation.randomisation_test(
        data, outcome="y", strata="duration_band", n_draws=300, seed=5, **kw
    )
    out["ri"] = ri.to_frame()[["estimate", "p"]].to_numpy().tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        did = tk.did(
            reg.panel, outcome="unemployment_rate", method="group_time", n_boot=99, seed=7, **kw
        )
    out["did"] = (
        did.aggregate("event").to_frame()[["estimate", "ci_low", "ci_high"]].to_numpy().tolist()
    )
    f = tk.follow_up(reg.spells, persons, arm="arm", origin="origin", n_partitions=3, **kw)
    out["followup"] = f.outcomes(horizons=[12, 60])
    m = tk.match(
        persons.assign(treated=persons["treated"].astype(int)),
        treatment="treated",
        exact=["duration_band"],
        covariates=["age", "prior_employment_days"],
        caliper=0.2,
        **kw,
    )
    out["match"] = m.matched[["person_id", "weight", "subclass"]].to_numpy().tolist()
    return out


def test_parallel_paths_identical_across_backends(register, dask_client):
    reg, persons = register
    results = {b: _run_all(b, reg, persons) for b in BACKENDS}
    for path in results["serial"]:
        for b in ("joblib", "dask"):
            if isinstance(results["serial"][path], pd.DataFrame):
                pd.testing.assert_frame_equal(results[b][path], results["serial"][path])
            else:
                assert results[b][path] == results["serial"][path], (path, b)
