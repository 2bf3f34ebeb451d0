"""Matching: invariants (hypothesis), bad input, optimal/CEM/risk-set, scores, sensitivity, plots."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import trialkit as tk
from trialkit.errors import DataError, DesignError, EstimationError, ExcludedRowsWarning
from trialkit.matching import _core


def make_data(n: int = 600, seed: int = 0, p_treat: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    band = rng.choice(["0-2", "3-5", "6-11", "12-23", "24+"], n)
    age = rng.integers(18, 64, n)
    edu = rng.choice(["basic", "secondary", "tertiary"], n)
    days = rng.integers(0, 1000, n)
    emp = 1 / (1 + np.exp(-(0.5 - 0.03 * (age - 40) + 0.001 * days - 0.4 * (band == "24+"))))
    lin = np.log(p_treat / (1 - p_treat)) + 0.02 * (age - 40) - 0.8 * (emp - 0.5)
    treated = rng.random(n) < 1 / (1 + np.exp(-lin))
    y = (rng.random(n) < emp).astype(int)
    return pd.DataFrame(
        {
            "person_id": np.arange(1, n + 1) * 7,
            "duration_band": band,
            "age": age,
            "education": edu,
            "prior_employment_days": days,
            "employability": emp,
            "treated": treated,
            "employed_24m": y,
            "y": rng.normal(size=n) + 0.5 * treated,
        }
    )


COVS = ["age", "education", "prior_employment_days"]


# ----------------------------------------------------------------------------- api
def test_api_contract_example():
    df = make_data()
    m = tk.match(
        df,
        treatment="treated",
        exact=["duration_band"],
        score="employability",
        covariates=COVS,
        caliper=0.2,
        ratio=1,
        replace=False,
    )
    assert {"weight", "subclass"} <= set(m.matched.columns)
    b = m.balance().to_frame()
    assert {"smd_before", "smd_after", "variance_ratio_after"} <= set(b.columns)
    e = m.effect("employed_24m").to_frame()
    assert list(e.columns[:6]) == ["estimate", "se", "ci_low", "ci_high", "p", "n"]
    json.dumps(m.to_dict())
    json.dumps(m.balance().to_dict())
    json.dumps(m.effect("employed_24m").to_dict())


def test_difference_in_means_by_hand():
    df = make_data(seed=3)
    m = tk.match(df, exact=["duration_band"], score="employability", covariates=COVS, caliper=0.5)
    d = m.matched
    t = d["treated"].to_numpy()
    w = d["weight"].to_numpy()
    y = d["y"].to_numpy()
    want = y[t].mean() - np.average(y[~t], weights=w[~t])
    got = m.effect("y").to_frame().loc["y", "estimate"]
    assert got == pytest.approx(want, rel=1e-12)


# ------------------------------------------------------------------- properties
@st.composite
def datasets(draw):
    n = draw(st.integers(20, 120))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "person_id": rng.permutation(n) + 100,
            "band": rng.choice(["a", "b", "c"], n),
            "score": rng.random(n) * 0.98 + 0.01,
            "treated": rng.random(n) < draw(st.floats(0.15, 0.6)),
            "y": rng.normal(size=n),
        }
    )
    if df["treated"].all() or not df["treated"].any():
        df.loc[0, "treated"] = not df.loc[0, "treated"]
    return df


def _try_match(df, **kw):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExcludedRowsWarning)
            return tk.match(df, score="score", id="person_id", **kw)
    except EstimationError:
        return None


@given(df=datasets(), caliper=st.floats(0.05, 1.0), ratio=st.integers(1, 3), replace=st.booleans())
def test_caliper_exact_reuse_and_weights(df, caliper, ratio, replace):
    m = _try_match(df, exact=["band"], caliper=caliper, ratio=ratio, replace=replace)
    if m is None:
        return
    cal = m.meta["caliper_score_units"]
    p = m.pairs
    assert (p["gap"] <= cal).all()  # caliper never exceeded
    band = df.set_index("person_id")["band"]
    assert (
        band.loc[p["treated"]].to_numpy() == band.loc[p["control"]].to_numpy()
    ).all()  # strata never mixed
    if not replace:
        assert not p["control"].duplicated().any()  # no control reused
    w = m.data["weight"].to_numpy()
    t = m.treat
    n_t = int(np.sum(t & (w > 0)))
    assert w[t].sum() == pytest.approx(n_t)  # treated weights sum to the matched treated count
    assert w[~t].sum() == pytest.approx(np.count_nonzero(w[~t] > 0))  # controls: to their count
    assert set(np.unique(w[t])) <= {0.0, 1.0}


@given(df=datasets(), replace=st.booleans(), seed=st.integers(0, 1000))
def test_row_order_invariance(df, replace, seed):
    m1 = _try_match(df, exact=["band"], caliper=0.5, ratio=2, replace=replace)
    shuffled = df.sample(frac=1, random_state=seed).reset_index(drop=True)
    # ties in the score are broken by row order, so only compare when there are none
    if df["score"].duplicated().any():
        return
    m2 = _try_match(shuffled, exact=["band"], caliper=0.5, ratio=2, replace=replace)
    if m1 is None:
        assert m2 is None
        return
    key = ["treated", "control"]
    a = m1.pairs[key].sort_values(key).to_numpy()
    b = m2.pairs[key].sort_values(key).to_numpy()
    assert np.array_equal(a, b)


@given(df=datasets())
def test_input_not_mutated(df):
    before = df.copy(deep=True)
    _try_match(df, exact=["band"], caliper=0.3)
    pd.testing.assert_frame_equal(df, before)


def _slow_greedy(d, t, s, cal, ratio):
    """A direct transcription of the greedy rule (largest score first, ties by row)."""
    idx1 = np.flatnonzero(t)
    order = sorted(range(idx1.size), key=lambda k: (-d[idx1[k]], k))
    rank = _core.stable_rank(d)
    avail = set(np.flatnonzero(~t).tolist())
    ref = -np.ones((idx1.size, ratio), dtype=int)
    active = list(order)
    for r in range(ratio):
        nxt = []
        for k in active:
            i = idx1[k]
            cands = [j for j in avail if s[j] == s[i]]
            if not cands:
                continue
            # below = sorts before the treated unit; tie on distance -> below first, then nearest in sort order
            best = min(
                cands,
                key=lambda j: (
                    abs(d[j] - d[i]),
                    0 if rank[j] < rank[i] else 1,
                    abs(rank[j] - rank[i]),
                ),
            )
            if abs(d[best] - d[i]) > cal:
                continue
            ref[k, r] = best
            avail.discard(best)
            nxt.append(k)
        active = nxt
    return ref


@given(df=datasets(), ratio=st.integers(1, 2))
def test_greedy_equals_slow_reference(df, ratio):
    """Downward sweep (1:1) / union-find (1:2) greedy equals a direct transcription of the
    greedy rule."""
    d = np.log(df["score"].to_numpy() / (1 - df["score"].to_numpy()))
    t = df["treated"].to_numpy()
    s = pd.factorize(df["band"])[0]
    mm = _core.nearest_greedy(
        distance=d, treat=t, stratum=s, ratio=ratio, replace=False, caliper=0.3
    )
    assert np.array_equal(mm, _slow_greedy(d, t, s, 0.3, ratio))


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 60),
    n_strata=st.integers(1, 4),
    caliper=st.sampled_from([math.inf, 0.5, 1.0, 2.5]),
)
def test_greedy_with_tied_scores_equals_slow_reference(seed, n, n_strata, caliper):
    """Scores with many ties (and strata without controls) -- the 1:1 sweep's edge cases."""
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 6, n).astype(float)
    t = rng.random(n) < 0.5
    s = rng.integers(0, n_strata, n)
    cal = None if math.isinf(caliper) else caliper
    mm = _core.nearest_greedy(distance=d, treat=t, stratum=s, ratio=1, replace=False, caliper=cal)
    assert np.array_equal(mm, _slow_greedy(d, t, s, caliper, 1))


# -------------------------------------------------------------------- optimal
def test_optimal_equals_brute_force_and_beats_greedy():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n1, n0 = 4, 6
        d = rng.random(n1 + n0)
        t = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
        mm = _core.optimal_pairs(distance=d, treat=t)
        total = np.abs(d[:n1] - d[mm[:, 0]]).sum()
        best = min(
            sum(abs(d[i] - d[n1 + c]) for i, c in enumerate(perm))
            for perm in itertools.permutations(range(n0), n1)
        )
        assert total == pytest.approx(best, abs=1e-12)
        g = _core.nearest_greedy(distance=d, treat=t)
        assert total <= np.abs(d[:n1] - d[g[:, 0]]).sum() + 1e-12


def test_optimal_within_strata_and_caliper():
    df = make_data(400, seed=2)
    m = tk.match(
        df,
        method="optimal",
        exact=["duration_band"],
        score="employability",
        caliper=0.3,
        id="person_id",
    )
    p = m.pairs
    band = df.set_index("person_id")["duration_band"]
    assert (band.loc[p["treated"]].to_numpy() == band.loc[p["control"]].to_numpy()).all()
    assert (p["gap"] <= m.meta["caliper_score_units"]).all()
    assert not p["control"].duplicated().any()


# ----------------------------------------------------------------------- CEM
def test_cem_weights_formula():
    df = make_data(800, seed=4)
    m = tk.match(
        df,
        method="cem",
        covariates=["age", "education"],
        exact=["duration_band"],
        cutpoints={"age": 4},
    )
    d = m.data
    mt = d[d["weight"] > 0]
    for _, g in mt.groupby("subclass"):
        assert g["duration_band"].nunique() == 1 and g["education"].nunique() == 1
    n1 = mt.groupby("subclass")["treated"].sum()
    n0 = mt.groupby("subclass")["treated"].apply(lambda s: (~s).sum())
    big = n0.sum() / n1.sum()
    ctrl = mt[~mt["treated"]]
    want = (n1 / n0 * big).loc[ctrl["subclass"]].to_numpy()
    np.testing.assert_allclose(ctrl["weight"].to_numpy(), want, rtol=1e-12)


def test_cem_bins_sturges():
    x = np.arange(100.0)
    b = _core.cem_bins(x, _core.sturges(x.size))
    assert _core.sturges(100) == 8 and b.min() == 0 and b.max() == 7


# ------------------------------------------------------------------- risk set
def test_risk_set_controls_at_risk_and_not_yet_treated():
    rng = np.random.default_rng(1)
    n = 2000
    df = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "band": rng.choice(["a", "b"], n),
            "score": rng.normal(size=n),
            "exit": rng.integers(2, 48, n).astype(float),
        }
    )
    df["start"] = np.where(rng.random(n) < 0.25, np.floor(df["exit"] * rng.random(n)), np.nan)
    m = tk.matching.risk_set_match(
        df, start="start", exit="exit", score="score", exact=["band"], ratio=2
    )
    p = m.pairs.merge(df.add_prefix("c_"), left_on="control", right_on="c_person_id").merge(
        df.add_prefix("t_"), left_on="treated", right_on="t_person_id"
    )
    assert (p["t_start"] == p["risk_time"]).all()
    assert (p["c_exit"] > p["risk_time"]).all()
    assert (p["c_start"].isna() | (p["c_start"] > p["risk_time"])).all()
    assert (p["c_band"] == p["t_band"]).all()
    # each control is the nearest available: no at-risk same-band candidate strictly closer than the 1st match
    first = p[p["slot"] == 1].head(50)
    for _, r in first.iterrows():
        rs = df[
            (df["exit"] > r["risk_time"])
            & ~(df["start"] <= r["risk_time"])
            & (df["band"] == r["t_band"])
        ]
        assert np.abs(rs["score"] - r["t_score"]).min() == pytest.approx(r["gap"])
    e = m.effect("score").to_frame()
    assert e.loc["score", "se_type"] == "cluster"
    m2 = tk.matching.risk_set_match(df, start="start", exit="exit", score="score", replace=False)
    assert not m2.pairs["control"].duplicated().any()


# ---------------------------------------------------------------------- scores
def test_employability_score_checks_against_independent_computations():
    import statsmodels.api as sm

    df = make_data(3000, seed=8)
    s = tk.matching.employability_score(df, outcome="employed_24m", covariates=COVS)
    fit = df[~df["treated"]]
    y = fit["employed_24m"].to_numpy()
    p_fit = s.score[~df["treated"].to_numpy()]
    u = stats.mannwhitneyu(p_fit[y == 1], p_fit[y == 0]).statistic
    assert s.meta["auc"] == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), rel=1e-12)
    assert s.meta["brier"] == pytest.approx(np.mean((p_fit - y) ** 2))
    # in-sample logistic fit: calibration-in-the-large 0 and slope 1 (score equations)
    assert s.meta["calibration_in_the_large"] == pytest.approx(0, abs=1e-8)
    assert s.meta["calibration_slope"] == pytest.approx(1, abs=1e-6)
    x = pd.get_dummies(fit[COVS], columns=["education"], drop_first=True).astype(float)
    ref = sm.Logit(y, sm.add_constant(x)).fit(disp=False)
    ours = s.coefficients["estimate"].rename({"(intercept)": "const"})
    np.testing.assert_allclose(
        ours.loc[ref.params.index].to_numpy(), ref.params.to_numpy(), rtol=1e-7
    )
    assert s.calibration["n"].sum() == len(fit)
    ax = s.plot()
    assert len(ax.lines) == 2


def test_propensity_separation_is_named():
    df = make_data(300)
    df["flag"] = df["treated"].astype(int)
    with pytest.raises(EstimationError, match="separation.*flag"):
        tk.matching.propensity_score(df, covariates=["age", "flag"])


def test_mahalanobis_matches_on_whitened_distance():
    df = make_data(300, seed=11)
    m = tk.match(
        df, score="mahalanobis", covariates=["age", "prior_employment_days"], id="person_id"
    )
    x = df[["age", "prior_employment_days"]].to_numpy(float)
    t = df["treated"].to_numpy()
    xc = x.copy()
    for g in (True, False):
        xc[t == g] -= xc[t == g].mean(axis=0)
    s_inv = np.linalg.inv(xc.T @ xc / (len(df) - 2))
    ids = df["person_id"].to_numpy()
    pos = {v: i for i, v in enumerate(ids)}
    first = m.pairs.iloc[0]
    i = pos[first["treated"]]
    ctrl = np.flatnonzero(~t)
    dd = np.einsum("ij,jk,ik->i", x[ctrl] - x[i], s_inv, x[ctrl] - x[i])
    assert ids[ctrl[np.argmin(dd)]] == first["control"]


# ------------------------------------------------------------------ bad input
def test_treatment_not_binary():
    df = make_data(100)
    df["treated"] = np.arange(100) % 3
    with pytest.raises(DataError, match="binary"):
        tk.match(df, covariates=COVS)


def test_missing_covariates_listed_or_dropped_and_reported():
    df = make_data(300)
    df.loc[:4, "age"] = np.nan
    df.loc[10:12, "education"] = None
    with pytest.raises(DataError, match=r"'age': 5.*'education': 3"):
        tk.match(df, covariates=COVS)
    m = tk.match(df, covariates=COVS, missing="drop")
    assert m.n_excluded == 8 and m.n_obs == 292


def test_stratum_without_controls_reported():
    df = make_data(300)
    df.loc[df["duration_band"] == "24+", "treated"] = True
    with pytest.warns(ExcludedRowsWarning, match="no controls"):
        m = tk.match(df, exact=["duration_band"], score="employability")
    ex = [e for e in m.excluded if "no controls" in e.reason]
    assert ex and ex[0].n == int((df["duration_band"] == "24+").sum())
    assert m.meta["strata_without_controls"] == ["24+"]


def test_caliper_leaving_nobody_says_how_close():
    df = make_data(200)
    df["employability"] = np.random.default_rng(1).uniform(0.05, 0.95, len(df))  # no tied scores
    with pytest.raises(EstimationError, match=r"nearest control of any treated row is .* SD"):
        tk.match(df, score="employability", caliper=1e-9)


def test_option_errors_list_allowed_values():
    df = make_data(100)
    with pytest.raises(DesignError, match=r"\['nearest', 'optimal', 'exact', 'cem'\]"):
        tk.match(df, method="genetic", covariates=COVS)
    with pytest.raises(DesignError, match="does not apply"):
        tk.match(df, method="exact", exact=["duration_band"], caliper=0.2)
    with pytest.raises(DataError, match="scale='identity'"):
        tk.match(df, score="age")
    with pytest.raises(DataError, match="score_outcome"):
        tk.match(df.drop(columns="employability"), score="employability", covariates=COVS)
    with pytest.raises(DesignError, match="abadie_imbens"):
        tk.match(df, score="employability").effect("y", se="abadie_imbens")


# ------------------------------------------------------------------ sensitivity
def test_rosenbaum_gamma_one_is_the_signed_rank_test():
    rng = np.random.default_rng(0)
    d = rng.normal(0.3, 1, 80)
    rb = tk.matching.rosenbaum_bounds(d, gammas=[1.0, 2.0])
    ref = stats.wilcoxon(d, alternative="greater", method="approx", correction=False)
    tab = rb.to_frame()
    assert tab.loc[1.0, "p_upper"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert tab.loc[1.0, "p_lower"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert tab.loc[2.0, "p_upper"] > tab.loc[1.0, "p_upper"] > tab.loc[2.0, "p_lower"]


def test_rosenbaum_exact_equals_enumeration():
    d = np.array([1.5, -0.2, 0.7, 2.2, 0.9, -1.1, 0.4, 1.8, 0.3, 1.2])
    gam = 1.7
    rb = tk.matching.rosenbaum_bounds(d, gammas=[gam], exact=True)
    ranks = stats.rankdata(np.abs(d))
    t_obs = ranks[d > 0].sum()
    p = gam / (1 + gam)
    tail = 0.0
    for signs in itertools.product([0, 1], repeat=d.size):
        s = np.array(signs)
        if ranks[s == 1].sum() >= t_obs:
            tail += p ** s.sum() * (1 - p) ** (d.size - s.sum())
    assert rb.to_frame().loc[gam, "p_upper"] == pytest.approx(tail, rel=1e-12)


def test_sensitivity_from_match_and_plot():
    df = make_data(600)
    m = tk.match(df, exact=["duration_band"], score="employability", caliper=0.5)
    rb = m.sensitivity("y", gammas=[1, 1.5, 2, 3])
    assert rb.to_frame()["p_upper"].is_monotonic_increasing
    ax = rb.plot()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), rb.to_frame()["p_upper"].to_numpy())


# ----------------------------------------------------------------------- plots
def test_love_plot_shows_the_table():
    df = make_data(600)
    m = tk.match(df, exact=["duration_band"], score="employability", covariates=COVS, caliper=0.2)
    b = m.balance()
    ax = b.plot()
    tab = b.to_frame()
    assert len(ax.get_yticklabels()) == len(tab)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.abs(tab["smd_before"].to_numpy()))
    np.testing.assert_allclose(ax.lines[1].get_xdata(), np.abs(tab["smd_after"].to_numpy()))
    assert "SMD denominator" in b.summary()


def test_balance_smd_by_hand_and_ess():
    df = make_data(500, seed=9)
    m = tk.match(df, score="employability", covariates=COVS, ratio=2, replace=True)
    b = m.balance(["age"]).to_frame().loc["age"]
    d = m.data
    t = d["treated"].to_numpy()
    w = d["weight"].to_numpy()
    sd1 = d.loc[t, "age"].std(ddof=1)
    want = (d.loc[t, "age"].mean() - np.average(d.loc[~t, "age"], weights=w[~t])) / sd1
    assert b["smd_after"] == pytest.approx(want, rel=1e-10)
    wc = w[~t & (w > 0)]
    assert m.to_frame().loc["control", "matched_ess"] == pytest.approx(
        wc.sum() ** 2 / (wc**2).sum()
    )


def test_outcomes_joined_by_id_equal_outcomes_in_data():
    df = make_data(500, seed=12)
    m = tk.match(
        df.drop(columns="y"),
        exact=["duration_band"],
        score="employability",
        caliper=0.5,
        id="person_id",
    )
    outcomes = df[["person_id", "y"]].sample(
        frac=1, random_state=1
    )  # e.g. follow_up(...).outcomes()
    joined = m.effect("y", outcomes=outcomes).to_frame()
    direct = (
        tk.match(df, exact=["duration_band"], score="employability", caliper=0.5)
        .effect("y")
        .to_frame()
    )
    assert joined.loc["y", "estimate"] == pytest.approx(direct.loc["y", "estimate"], rel=1e-12)
    assert joined.loc["y", "se"] == pytest.approx(direct.loc["y", "se"], rel=1e-12)


@pytest.mark.parametrize("method", ["nearest", "optimal"])
def test_backends_give_identical_matches(method):
    df = make_data(600, seed=13)
    kw = dict(
        exact=["duration_band"], score="employability", caliper=0.3, method=method, id="person_id"
    )
    serial = tk.match(df, **kw).pairs
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as ex:  # any executor with .map; "joblib" and "dask" go the same way
        par = tk.match(df, backend=ex, **kw).pairs
    assert (
        serial.sort_values(["treated", "control"])
        .reset_index(drop=True)
        .equals(par.sort_values(["treated", "control"]).reset_index(drop=True))
    )


def test_random_order_same_seed_same_result_and_recorded():
    df = make_data(600, seed=14)
    kw = dict(
        exact=["duration_band"], score="employability", caliper=0.5, order="random", id="person_id"
    )
    a = tk.match(df, seed=11, **kw)
    b = tk.match(df, seed=11, **kw)
    c = tk.match(df, seed=12, **kw)
    assert a.pairs.equals(b.pairs)
    assert a.seed == 11
    assert not a.pairs.equals(c.pairs)
    with pytest.raises(DesignError, match="order='random'"):
        tk.match(df, score="employability", seed=3)


def test_balance_labels_match_the_randomisation_balance_table():
    """One vocabulary across packages: index ``covariate``, levels as ``column=level``."""
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "sex": rng.choice(["F", "M"], n),
            "education": rng.choice(["basic", "secondary", "tertiary"], n),
            "treated": rng.random(n) < 0.3,
        }
    )
    df["arm"] = np.where(df["treated"], "treatment", "control")
    covs = ["age", "sex", "education"]
    r = tk.randomisation.balance(df, covariates=covs, n_draws=10, seed=1).to_frame()
    b = tk.match(df, covariates=covs, caliper=0.5).balance().to_frame()
    assert b.index.name == r.index.name == "covariate"
    assert [t for t in b.index if t != "score"] == list(r.index)
    assert "education=tertiary" in b.index


def test_writing_to_result_data_never_changes_the_input():
    rng = np.random.default_rng(0)
    n = 400
    d = pd.DataFrame({"id": np.arange(n), "age": rng.normal(40, 10, n), "t": rng.integers(0, 2, n)})
    before = d.copy(deep=True)
    m = tk.match(d, treatment="t", covariates=["age"], id="id")
    m.data.loc[0, "age"] = -999.0
    m.data["age"] = 0.0
    pd.testing.assert_frame_equal(d, before)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_non_finite_scores_are_refused(bad):
    rng = np.random.default_rng(1)
    n = 50
    d = pd.DataFrame({"s": rng.normal(size=n), "t": np.arange(n) % 2})
    d.loc[[3, 8], "s"] = bad
    with pytest.raises(DataError, match=r"'s' has 2 non-finite values"):
        tk.match(d, treatment="t", score="s", scale="identity")
