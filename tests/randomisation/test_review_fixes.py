"""Regression tests for the API review of ``trialkit.randomisation`` (one section per finding)."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trialkit._checks import require_columns
from trialkit.errors import DataError, DesignError, ExcludedRowsWarning
from trialkit.randomisation import (
    SequentialRandomiser,
    balance,
    itt,
    randomisation_test,
    randomise,
    verify,
    verify_log,
)

# --- 1. exact enumeration counts the arrangements before enumerating them -------------------


def test_exact_refuses_large_design_at_once() -> None:
    d = pd.DataFrame({"arm": ["control", "treatment"] * 20, "y": np.arange(40.0)})
    t0 = time.perf_counter()
    with pytest.raises(DesignError, match=str(math.comb(40, 20))):
        randomisation_test(d, outcome="y", n_draws="exact")
    assert time.perf_counter() - t0 < 5.0


def test_exact_count_is_product_over_strata() -> None:
    # two strata of 6 (3/3) -> C(6,3)^2 = 400 arrangements: refused at 399, enumerated at 400
    d = pd.DataFrame(
        {
            "s": np.repeat([0, 1], 6),
            "arm": ["control", "treatment"] * 6,
            "y": np.arange(12.0),
        }
    )
    with pytest.raises(DesignError, match="400 in all"):
        randomisation_test(d, outcome="y", strata="s", n_draws="exact", max_exact=399)
    r = randomisation_test(d, outcome="y", strata="s", n_draws="exact", max_exact=400)
    assert int(r.to_frame().loc["treatment", "n_draws"]) == 400


# --- 2. a stratum without one of the compared arms: the same DataError as itt -----------------


def _small_strata() -> tuple[pd.DataFrame, object]:
    u = pd.DataFrame({"person_id": range(40), "s": np.repeat(range(20), 2), "y": np.arange(40.0)})
    a = randomise(u, arms={"control": 2, "treatment": 1}, strata="s", seed=1)
    return u.merge(a.table[["person_id", "arm"]]), a


def test_stratum_lacking_an_arm_raises_like_itt() -> None:
    d, a = _small_strata()
    with pytest.raises(DataError, match="every block needs units of both arms; blocks"):
        itt(d, outcome="y", strata="s")
    with pytest.raises(DataError, match="every block needs units of both arms") as rt_err:
        randomisation_test(d, outcome="y", assignment=a, n_draws=50, seed=0)
    assert "'control' or 'treatment'" in str(rt_err.value)
    with pytest.raises(DataError, match="lack one"):
        randomisation_test(d, outcome="y", strata="s", n_draws=50, seed=0)


def test_blocked_estimate_matches_hand_computation_unequal_ratios() -> None:
    # strata of 6 to 12 with a 2:1 ratio: every stratum has at least 2 units of each arm
    rng = np.random.default_rng(3)
    sizes = [6, 9, 6, 12, 6]
    s = np.repeat(np.arange(len(sizes)), sizes)
    u = pd.DataFrame({"person_id": range(s.size), "s": s, "y": rng.normal(size=s.size)})
    a = randomise(u, arms={"control": 2, "treatment": 1}, strata="s", seed=4)
    d = u.merge(a.table[["person_id", "arm"]])
    hand = 0.0
    for _, g in d.groupby("s"):
        t = g["arm"] == "treatment"
        assert 0 < t.sum() < len(g)
        hand += len(g) / len(d) * (g["y"][t].mean() - g["y"][~t].mean())
    for kw in ({"assignment": a}, {"strata": "s"}):
        r = randomisation_test(d, outcome="y", n_draws=50, seed=0, **kw)
        assert r.to_frame().loc["treatment", "estimate"] == pytest.approx(hand, abs=1e-12)
    assert itt(d, outcome="y", strata="s").to_frame().loc["treatment", "estimate"] == (
        pytest.approx(hand, abs=1e-12)
    )


# --- 3. infinite outcomes and covariates are a DataError naming the column ---------------------


def _trial(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, object]:
    rng = np.random.default_rng(seed)
    u = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "band": rng.choice(["a", "b"], n),
            "x": rng.normal(size=n),
            "x2": rng.normal(size=n),
        }
    )
    a = randomise(u, strata="band", seed=1)
    d = u.merge(a.table[["person_id", "arm"]])
    d["y"] = d["x"] + 0.5 * (d["arm"] == "treatment") + rng.normal(size=n)
    return d, a


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_outcome_is_data_error(value: float) -> None:
    d, a = _trial()
    bad = d.assign(y=d["y"].where(d.index != 3, value))
    for call in (
        lambda: randomisation_test(bad, outcome="y", assignment=a, n_draws=50, seed=0),
        lambda: randomisation_test(bad, outcome="y", n_draws=50, seed=0),
        lambda: itt(bad, outcome="y"),
        lambda: itt(bad, outcome="y", strata="band"),
    ):
        with pytest.raises(DataError, match=r"column 'y' .*1 infinite values \(rows \[3\]\)"):
            call()


def test_infinite_covariate_is_data_error() -> None:
    d, a = _trial()
    bad = d.assign(x=d["x"].where(d.index != 5, np.inf))
    with pytest.raises(DataError, match=r"column 'x' .*infinite"):
        itt(bad, outcome="y", method="lin", covariates=["x"])
    with pytest.raises(DataError, match=r"column 'x' .*infinite"):
        balance(bad, covariates=["x"], n_draws=0)
    with pytest.raises(DataError, match=r"column 'x' .*infinite"):
        a.balance(bad, covariates=["x2", "x"], n_draws=0)


def test_missing_values_keep_their_handling() -> None:
    d, a = _trial()
    gap = d.assign(y=d["y"].where(d.index != 3))
    with pytest.raises(DataError, match="missing values"):
        randomisation_test(gap, outcome="y", assignment=a, n_draws=50, seed=0)
    with pytest.warns(ExcludedRowsWarning):
        r = itt(gap, outcome="y")
    assert r.n_obs == len(d) - 1
    with pytest.raises(DataError, match="missing values"):
        balance(d.assign(x=d["x"].where(d.index != 5)), covariates=["x"], n_draws=0)


# --- 4. sequential ids are canonical (1.0 is 1) and must not be missing ------------------------


def test_sequential_same_person_as_float_then_int_is_refused(tmp_path) -> None:
    r = SequentialRandomiser.create(tmp_path / "t.json", seed=3)
    r.assign(pd.DataFrame({"person_id": [1.0, 2.0]}))
    with pytest.raises(DataError, match="already randomised"):
        r.assign(pd.DataFrame({"person_id": [1, 2]}))
    with pytest.raises(DataError, match="already randomised"):
        SequentialRandomiser.open(tmp_path / "t.json").assign(pd.DataFrame({"person_id": [2]}))
    assert r.log()["id"].tolist() == ["1", "2"]  # logged as the integers they are


def test_sequential_int_then_float_and_duplicates_within_batch(tmp_path) -> None:
    r = SequentialRandomiser.create(tmp_path / "t.json", seed=3)
    r.assign(pd.DataFrame({"person_id": [5, 6]}))
    with pytest.raises(DataError, match="already randomised"):
        r.assign(pd.DataFrame({"person_id": [6.0, 7.0]}))
    with pytest.raises(DataError, match="must identify rows uniquely"):
        r.assign(pd.DataFrame({"person_id": pd.Series([8, 8.0], dtype=object)}))
    with pytest.raises(DataError, match="non-integer floats"):
        r.assign(pd.DataFrame({"person_id": [8.5]}))


def test_sequential_missing_id_is_data_error(tmp_path) -> None:
    r = SequentialRandomiser.create(tmp_path / "t.json", seed=3)
    with pytest.raises(DataError, match="'person_id' .*1 missing values"):
        r.assign(pd.DataFrame({"person_id": [1.0, np.nan, 3.0]}))
    assert r.n_assigned == 0


def test_sequential_old_log_with_float_text_ids_still_guards(tmp_path) -> None:
    # logs written before canonical ids hold float ids as text such as "1.0"
    r = SequentialRandomiser.create(tmp_path / "t.json", seed=3)
    r._append(
        [
            {
                "seq": 1,
                "kind": "assignment",
                "id": "1.0",
                "stratum": "all",
                "arm": "control",
                "block": 1,
                "batch": "m1",
            }
        ]
    )
    r._save()
    assert bool(verify_log(tmp_path / "t.json.log"))
    r2 = SequentialRandomiser.open(tmp_path / "t.json")
    for ids in ([1], [1.0]):
        with pytest.raises(DataError, match="already randomised"):
            r2.assign(pd.DataFrame({"person_id": ids}))
    assert r2.assign(pd.DataFrame({"person_id": [2]}))["arm"].notna().all()


# --- 5a. re-randomisation with constant or collinear covariates: distance on their span --------


def _rerandomisation_units(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    return pd.DataFrame({"person_id": range(n), "x": x, "c": 1.0, "x2": 2.0 * x - 1.0})


@pytest.mark.parametrize("extra", ["c", "x2"])
def test_rerandomise_singular_covariates_use_their_span(extra: str) -> None:
    u = _rerandomisation_units()
    ref = randomise(u, method="rerandomised", covariates=["x"], seed=1)
    a = randomise(u, method="rerandomised", covariates=["x", extra], seed=1)
    rule = a.certificate["rerandomisation"]
    assert rule["threshold"] == pytest.approx(stats.chi2.ppf(0.1, 1))  # df = rank = 1
    # Mahalanobis distance on the span of x: (xbar1 - xbar0)^2 / (s^2 (1/n1 + 1/n0))
    t = (a.table.set_index("person_id").loc[u["person_id"], "arm"] == "treatment").to_numpy()
    x = u["x"].to_numpy()
    hand = (x[t].mean() - x[~t].mean()) ** 2 / (x.var(ddof=1) * (1 / t.sum() + 1 / (~t).sum()))
    assert a.meta["mahalanobis"] == pytest.approx(hand, rel=1e-9)
    assert hand <= rule["threshold"]
    assert (a.table["arm"].to_numpy() == ref.table["arm"].to_numpy()).all()
    assert verify(u, a.certificate)
    d = u.merge(a.table[["person_id", "arm"]])
    d["y"] = d["x"] + np.arange(len(d)) % 3
    r = randomisation_test(d, outcome="y", assignment=a, n_draws=200, seed=0).to_frame()
    r_ref = randomisation_test(d, outcome="y", assignment=ref, n_draws=200, seed=0).to_frame()
    assert np.allclose(r.to_numpy(dtype=float), r_ref.to_numpy(dtype=float))


def test_rerandomise_constant_covariates_only_is_design_error() -> None:
    u = _rerandomisation_units()
    with pytest.raises(DesignError, match=r"covariates \['c'\] are constant"):
        randomise(u, method="rerandomised", covariates=["c"], seed=1)
    with pytest.raises(DataError, match=r"column 'x' .*infinite"):
        randomise(u.assign(x=np.inf), method="rerandomised", covariates=["x"], seed=1)


# --- 5b. balance of a constant covariate: SMD 0 and variance ratio NaN (R's cobalt) -----------


def test_balance_constant_covariate_smd_zero_as_cobalt() -> None:
    rng = np.random.default_rng(0)
    u = pd.DataFrame({"person_id": range(60), "x": rng.normal(size=60)})
    a = randomise(u, seed=1)
    uu = u.assign(c=1.0, c2=0.1)
    b = a.balance(uu, covariates=["c", "c2", "x"], n_draws=100, seed=0)
    t = b.to_frame()
    assert (t.loc[["c", "c2"], "smd"] == 0.0).all()
    assert t.loc[["c", "c2"], "variance_ratio"].isna().all()
    # the varying covariate: closed form, and the omnibus test as with it alone
    arm = a.table.set_index("person_id").loc[u["person_id"], "arm"].to_numpy()
    x1, x0 = u["x"][arm == "treatment"], u["x"][arm == "control"]
    smd = (x1.mean() - x0.mean()) / np.sqrt((x1.var() + x0.var()) / 2)
    assert t.loc["x", "smd"] == pytest.approx(smd, rel=1e-12)
    assert t.loc["x", "variance_ratio"] == pytest.approx(x1.var() / x0.var(), rel=1e-12)
    alone = a.balance(u, covariates=["x"], n_draws=100, seed=0).omnibus
    pd.testing.assert_frame_equal(b.omnibus, alone)
    only = a.balance(uu, covariates=["c"], n_draws=100, seed=0)
    assert only.omnibus.loc["treatment", "df1"] == 0
    assert np.isnan(only.omnibus.loc["treatment", ["F", "p_F", "p_randomisation"]]).all()
    with pytest.raises(DataError, match=r"column 'x' .*infinite"):
        a.balance(u.assign(x=u["x"].where(u.index != 0, np.inf)), covariates=["x"], n_draws=0)


# --- 5c, 5i, 5j. balance: missing arms or strata, unknown control -----------------------------


def test_balance_missing_arm_or_strata_is_data_error() -> None:
    d, _ = _trial()
    with pytest.raises(DataError, match=r"column 'arm' of `units` has 1 missing values"):
        balance(d.assign(arm=d["arm"].where(d.index != 2)), covariates=["x"], n_draws=0)
    gap = d.assign(band=d["band"].where(d.index != 4))
    with pytest.raises(DataError, match=r"column 'band' of `data` has 1 missing values"):
        randomisation_test(gap, outcome="y", strata="band", n_draws=50, seed=0)
    with pytest.raises(DataError, match=r"column 'band' of `units` has 1 missing values"):
        balance(gap, covariates=["x"], strata="band", n_draws=50, seed=0)


def test_balance_unknown_control_lists_the_arms() -> None:
    d, a = _trial()
    with pytest.raises(DataError, match=r"'ctrl' .*\['control', 'treatment'\]"):
        a.balance(d, covariates=["x"], control="ctrl", n_draws=0)
    with pytest.raises(DataError, match=r"'ctrl' not among the arms \['control', 'treatment'\]"):
        balance(d, covariates=["x"], control="ctrl", n_draws=0)
    # the default label still means the first arm of a design without a 'control' arm
    lot = randomise(d, method="lottery", capacity=20, seed=1)
    b = lot.balance(d, covariates=["x"], n_draws=0)
    assert b.meta["control"] == lot.certificate["arms"][0]


# --- 5d, 5e. itt: an index level named like a column; repeated covariates -------------------


def _blocks(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    d = pd.DataFrame(
        {
            "blk": np.repeat(np.arange(4), n // 4),
            "arm": np.tile(["control", "treatment"], n // 2),
            "x": rng.normal(size=n),
        }
    )
    d["y"] = d["x"] + 0.3 * (d["arm"] == "treatment") + rng.normal(size=n)
    return d


def test_index_named_like_strata_column() -> None:
    d = _blocks()
    e = d.set_axis(pd.Index(d["blk"].to_numpy()[::-1], name="blk"), axis=0)
    ref = itt(d, outcome="y", strata="blk").to_frame()
    pd.testing.assert_frame_equal(itt(e, outcome="y", strata="blk").to_frame(), ref)
    # hand computation: stratum-size weighted difference in means
    g = d.groupby("blk")
    hand = sum(
        len(b) / len(d) * (b.y[b.arm == "treatment"].mean() - b.y[b.arm == "control"].mean())
        for _, b in g
    )
    assert ref.loc["treatment", "estimate"] == pytest.approx(hand, abs=1e-12)
    r = randomisation_test(e, outcome="y", strata="blk", n_draws=100, seed=0).to_frame()
    assert r.loc["treatment", "estimate"] == pytest.approx(hand, abs=1e-12)
    b = balance(e, covariates=["x"], strata="blk", n_draws=50, seed=0).omnibus
    pd.testing.assert_frame_equal(
        b, balance(d, covariates=["x"], strata="blk", n_draws=50, seed=0).omnibus
    )


def test_itt_repeated_covariates_are_design_error() -> None:
    d = _blocks()
    with pytest.raises(DesignError, match=r"`covariates` names \['x'\] more than once"):
        itt(d, outcome="y", method="lin", covariates=["x", "x"])
    with pytest.raises(DesignError, match=r"\['blk'\] given both in `covariates` and `strata`"):
        itt(d, outcome="y", method="lin", covariates=["x", "blk"], strata="blk")
    with pytest.raises(DesignError, match=r"`strata` names \['blk'\] more than once"):
        itt(d, outcome="y", strata=["blk", "blk"])


# --- 5f. duplicate column names (require_columns, shared) -----------------------------------


def test_require_columns_refuses_duplicate_names() -> None:
    frame = pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"])
    with pytest.raises(DataError, match=r"column 'a' appears 2 times in `data`"):
        require_columns(frame, ["b", "a"])
    require_columns(frame, ["b"])  # duplicates elsewhere do not matter
    with pytest.raises(DataError, match="has no column 'c'"):
        require_columns(frame, ["c"])


def test_randomise_and_itt_with_duplicate_columns() -> None:
    u = pd.DataFrame({"person_id": range(20), "band": list("ab") * 10})
    with pytest.raises(DataError, match=r"column 'band' appears 2 times"):
        randomise(pd.concat([u, u[["band"]]], axis=1), strata="band", seed=1)
    d = _blocks()
    with pytest.raises(DataError, match=r"column 'blk' appears 2 times"):
        itt(pd.concat([d, d[["blk"]]], axis=1), outcome="y", strata="blk")


# --- 5g. Bernoulli redraws need a probability for every arm ----------------------------------


def test_bernoulli_probabilities_must_cover_the_arms() -> None:
    d, _ = _trial()
    with pytest.raises(
        DesignError, match=r"every arm \['control', 'treatment'\]; missing for \['control'\]"
    ):
        randomisation_test(d, outcome="y", method="bernoulli", probabilities={"treatment": 0.5})
    with pytest.raises(DesignError, match=r"names \['other'\], which are not arms"):
        randomisation_test(
            d,
            outcome="y",
            method="bernoulli",
            probabilities={"control": 0.5, "treatment": 0.5, "other": 0.1},
        )
    with pytest.raises(DesignError, match=r"must be in \(0, 1\]"):
        randomisation_test(
            d, outcome="y", method="bernoulli", probabilities={"control": 0.0, "treatment": 1.0}
        )
    # keys may be given as the arm labels' own type (codes 0/1 for integer arms)
    e = d.assign(arm=(d["arm"] == "treatment").astype(int))
    r = randomisation_test(
        e,
        outcome="y",
        control=0,
        method="bernoulli",
        probabilities={0: 0.5, 1: 0.5},
        n_draws=200,
        seed=0,
    ).to_frame()
    t = e["arm"] == 1
    assert r.loc["1", "estimate"] == pytest.approx(e.y[t].mean() - e.y[~t].mean(), abs=1e-12)


# --- 5h. missing certificate or state files ---------------------------------------------------


def test_missing_files_are_data_errors(tmp_path) -> None:
    u = pd.DataFrame({"person_id": range(10)})
    missing = str(tmp_path / "missing.json")
    with pytest.raises(DataError, match=r"certificate file '.*missing.json' does not exist"):
        verify(u, missing)
    with pytest.raises(DataError, match=r"certificate file .* is not a file"):
        verify(u, tmp_path)
    with pytest.raises(DataError, match=r"state file '.*missing' does not exist"):
        SequentialRandomiser.open(tmp_path / "missing")
    with pytest.raises(DataError, match=r"log file .* does not exist"):
        verify_log(tmp_path / "missing.log")
    r = SequentialRandomiser.create(tmp_path / "t.json", seed=1)
    r.log_path.unlink()
    with pytest.raises(DataError, match=r"the log .*t.json.log.* does not exist"):
        SequentialRandomiser.open(tmp_path / "t.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="is not JSON"):
        SequentialRandomiser.open(tmp_path / "bad.json")


def test_ids_equal_as_text_are_reported_as_duplicates():
    u = pd.DataFrame({"id": [1, "1", 2, 3], "s": [0, 0, 1, 1]})
    with pytest.raises(DataError, match=r"same id once written as text.*\[1, '1'\]"):
        randomise(u, id="id", seed=1)
