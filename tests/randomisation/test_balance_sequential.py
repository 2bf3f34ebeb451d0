"""Balance diagnostics and the sequential randomiser."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trialkit.errors import DataError, DesignError
from trialkit.randomisation import SequentialRandomiser, balance, randomise, verify_log


def _units(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "person_id": np.arange(n),
            "band": rng.choice(["0-2", "3-5", "12+"], n),
            "age": rng.integers(18, 64, n).astype(float),
            "education": rng.choice(["basic", "secondary", "tertiary"], n),
        }
    )


def test_smd_and_variance_ratio_closed_form() -> None:
    u = _units()
    a = randomise(u, strata="band", seed=3)
    b = a.balance(u, covariates=["age", "education"], n_draws=0)
    t = b.to_frame()
    tr = (a.table["arm"] == "treatment").to_numpy()
    x1, x0 = u.loc[tr, "age"], u.loc[~tr, "age"]
    smd = (x1.mean() - x0.mean()) / np.sqrt((x1.var() + x0.var()) / 2)
    assert t.loc["age", "smd"] == pytest.approx(smd)
    assert t.loc["age", "variance_ratio"] == pytest.approx(x1.var() / x0.var())
    assert "education=tertiary" in t.index
    counts = b.counts
    assert counts.to_numpy().sum() == len(u)
    assert (counts.max(axis=1) - counts.min(axis=1)).max() <= 1


def test_omnibus_f_matches_statsmodels_and_randomisation_p() -> None:
    import statsmodels.api as sm

    u = _units(200, seed=1)
    a = randomise(u, seed=5)
    b = a.balance(u, covariates=["age", "band"], n_draws=2000, seed=1)
    t = (a.table["arm"] == "treatment").astype(float).to_numpy()
    X = pd.get_dummies(u[["age", "band"]], drop_first=True, dtype=float)
    fit = sm.OLS(t, sm.add_constant(X)).fit()
    om = b.omnibus.loc["treatment"]
    assert om["F"] == pytest.approx(fit.fvalue)
    assert om["p_F"] == pytest.approx(fit.f_pvalue)
    # under complete randomisation the randomisation p is close to the F p
    assert abs(om["p_randomisation"] - om["p_F"]) < 0.06


def test_randomisation_p_is_uniform_over_assignments() -> None:
    u = _units(120, seed=2)
    ps = [
        randomise(u, seed=s)
        .balance(u, covariates=["age"], n_draws=199, seed=s)
        .omnibus["p_randomisation"]
        .iloc[0]
        for s in range(60)
    ]
    assert stats.kstest(ps, "uniform").pvalue > 0.001


def test_love_plot_points_equal_abs_smd() -> None:
    u = _units()
    b = randomise(u, seed=1).balance(u, covariates=["age", "education"], n_draws=0)
    ax = b.plot()
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.abs(b.to_frame()["smd"]))
    assert len(ax.lines[0].get_xdata()) == 4


def test_balance_without_assignment_uses_arm_column() -> None:
    u = _units()
    u["arm"] = np.where(np.arange(len(u)) % 2, "treatment", "control")
    b = balance(u, covariates=["age"], strata="band", n_draws=100, seed=0)
    assert set(b.omnibus.index) == {"treatment"}
    with pytest.raises(DesignError):
        balance(u, covariates=[])


# ---------------------------------------------------------------------------
# sequential
# ---------------------------------------------------------------------------
def _arrivals(start: int, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"person_id": np.arange(start, start + n), "band": rng.choice(["12-23", "24+"], n)}
    )


def test_sequential_blocks_balance_each_stratum(tmp_path) -> None:
    r = SequentialRandomiser.create(
        tmp_path / "s.json", strata=["band"], block_multiples=(1, 2), seed=1
    )
    out = pd.concat(
        [r.assign(_arrivals(100 * m, 100, m), when=f"2017-{m:02d}") for m in range(1, 6)]
    )
    c = pd.crosstab(out["stratum"], out["arm"])
    # permuted blocks of size <= 4: imbalance within a stratum never exceeds 2
    assert (c["control"] - c["treatment"]).abs().max() <= 2
    assert set(out["probability"]) == {0.5}
    assert verify_log(tmp_path / "s.json.log")


def test_sequential_resume_equals_uninterrupted(tmp_path) -> None:
    batches = [_arrivals(50 * m, 50, m) for m in range(4)]
    one = SequentialRandomiser.create(tmp_path / "a.json", strata=["band"], seed=7)
    res_one = pd.concat([one.assign(b, when="x") for b in batches])
    two = SequentialRandomiser.create(tmp_path / "b.json", strata=["band"], seed=7)
    parts = []
    for b in batches:
        parts.append(two.assign(b, when="x"))
        two = SequentialRandomiser.open(tmp_path / "b.json")  # a new session each month
    pd.testing.assert_frame_equal(res_one, pd.concat(parts))
    assert two.n_assigned == 200


def test_sequential_batch_row_order_does_not_matter(tmp_path) -> None:
    b = _arrivals(0, 60, 1)
    x = SequentialRandomiser.create(tmp_path / "x.json", strata=["band"], seed=3).assign(
        b, when="m"
    )
    y = SequentialRandomiser.create(tmp_path / "y.json", strata=["band"], seed=3).assign(
        b.iloc[::-1], when="m"
    )
    pd.testing.assert_frame_equal(x.sort_values("person_id"), y.sort_values("person_id"))


def test_log_edit_is_detected(tmp_path) -> None:
    r = SequentialRandomiser.create(tmp_path / "s.json", seed=2)
    r.assign(_arrivals(0, 20, 0))
    log = tmp_path / "s.json.log"
    lines = log.read_text().splitlines()
    rec = json.loads(lines[5])
    rec["arm"] = "treatment" if rec["arm"] == "control" else "control"
    edited = lines[:5] + [json.dumps(rec, sort_keys=True, separators=(",", ":"))] + lines[6:]
    log.write_text("\n".join(edited) + "\n")
    rep = verify_log(log)
    assert not rep and "line 6" in rep.differences[0]
    with pytest.raises(DataError, match="fails verification"):
        SequentialRandomiser.open(tmp_path / "s.json")


def test_log_truncation_is_detected(tmp_path) -> None:
    r = SequentialRandomiser.create(tmp_path / "s.json", seed=2)
    r.assign(_arrivals(0, 20, 0))
    log = tmp_path / "s.json.log"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-3]) + "\n")
    assert not verify_log(log)


def test_sequential_rejects_repeat_ids_and_existing_file(tmp_path) -> None:
    r = SequentialRandomiser.create(tmp_path / "s.json", seed=2)
    r.assign(_arrivals(0, 5, 0))
    with pytest.raises(DataError, match="already randomised"):
        r.assign(_arrivals(3, 5, 0))
    with pytest.raises(DesignError, match="exists"):
        SequentialRandomiser.create(tmp_path / "s.json", seed=2)


def test_sequential_unequal_ratio_frequency(tmp_path) -> None:
    r = SequentialRandomiser.create(
        tmp_path / "s.json", arms={"control": 1, "treatment": 2}, seed=4
    )
    out = r.assign(pd.DataFrame({"person_id": np.arange(3000)}))
    share = (out["arm"] == "treatment").mean()
    assert abs(share - 2 / 3) < 0.01
    assert np.allclose(out["probability"], np.where(out["arm"] == "treatment", 2 / 3, 1 / 3))
