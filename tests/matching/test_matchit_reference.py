"""trialkit.matching against R: MatchIt 4.5.5 (built from source) and Matching 4.10.8.

Fixtures: tests/reference/matching/make_fixtures.R (script, versions in its header) ->
lalonde.csv, matchit_units.csv, matchit_pairs.csv, matchit_balance.csv, matchit_nn.csv,
matchit_effects.csv, matching_ai.csv. Data: LaLonde NSW treated vs PSID controls (MatchIt's
``lalonde``; 185 treated, 429 controls).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit.matching import _core

REF = Path(__file__).resolve().parents[1] / "reference" / "matching"

# Tolerances and why
SCORE_TOL = 1e-7  # logit fits: statsmodels Newton (tol 1e-12) vs R glm IRLS (epsilon 1e-8)
PROBIT_SCORE_TOL = 1e-5  # probit: R's IRLS stops earlier; scores agree to ~1e-6
BALANCE_TOL = 1e-6  # SMD, variance ratio, eCDF statistics (the brief asks for 1e-6)
WEIGHT_TOL = 1e-12  # weights are exact rational numbers up to rounding
EFFECT_REL_TOL = 1e-6  # ATT and SE relative to R's lm + sandwich (scores differ by ~1e-9)
AI_REL_TOL = 1e-8  # Abadie-Imbens SE on the same exported score: pure arithmetic

COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
MAHAL_COVS = ["age", "educ", "married", "nodegree", "re74", "re75"]
EXACT_COVS = ["race", "married", "nodegree", "u74", "u75"]
CEM_CUTS = {"age": [25, 35], "educ": [9, 12], "re74": [1, 10000], "re75": [1, 10000]}

# MatchIt call (make_fixtures.R) -> the same settings in trialkit
CASES: dict[str, dict] = {
    "nn_glm": dict(scale="identity"),
    "nn_glm_cal": dict(scale="identity", caliper=0.2),
    "nn_logit_cal": dict(caliper=0.2),
    "nn_exact_cal": dict(caliper=0.25, exact=["u74", "u75"]),
    "nn_ratio2": dict(ratio=2),
    "nn_ratio3_cal": dict(ratio=3, caliper=0.3),
    "nn_probit_cal": dict(scale="identity", link="probit", caliper=0.2),
    "nn_exact_ratio2": dict(exact=["u75"], ratio=2, caliper=0.3),
    "nn_mahal": dict(score="mahalanobis", order="data"),
    "nn_discard": dict(common_support="both", caliper=0.1),
    "nn_repl": dict(replace=True),
    "nn_repl3_cal": dict(replace=True, ratio=3, caliper=0.2),
    "cem": dict(method="cem"),
    "cem_cuts": dict(method="cem", cutpoints=CEM_CUTS),
    "exact": dict(method="exact", exact=EXACT_COVS),
}
NEAREST = [c for c in CASES if c.startswith("nn_")]
TERM = {
    "raceblack": "race=black",
    "racehispan": "race=hispan",
    "racewhite": "race=white",
    "distance": "score",
}


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return pd.read_csv(REF / "lalonde.csv")


@pytest.fixture(scope="module")
def ref() -> dict[str, pd.DataFrame]:
    return {
        k: pd.read_csv(REF / f"{k}.csv")
        for k in (
            "matchit_units",
            "matchit_pairs",
            "matchit_balance",
            "matchit_nn",
            "matchit_effects",
            "matching_ai",
        )
    }


_CACHE: dict[str, tk.matching.MatchResult] = {}


def _match(lalonde: pd.DataFrame, case: str) -> tk.matching.MatchResult:
    if case not in _CACHE:
        kw = dict(CASES[case])
        covs = {"exact": None, "nn_mahal": MAHAL_COVS}.get(case, COVS)
        _CACHE[case] = tk.match(lalonde, treatment="treat", covariates=covs, id="id", **kw)
    return _CACHE[case]


@pytest.mark.parametrize("case", NEAREST)
def test_same_pairs_as_matchit(lalonde, ref, case):
    m = _match(lalonde, case)
    p = ref["matchit_pairs"].query("case == @case")
    theirs = sorted(map(tuple, p[["treated_id", "control_id"]].to_numpy().tolist()))
    ours = sorted(map(tuple, m.pairs[["treated", "control"]].to_numpy().tolist()))
    assert len(ours) == len(theirs)
    assert ours == theirs


@pytest.mark.parametrize("case", list(CASES))
def test_same_weights_as_matchit(lalonde, ref, case):
    m = _match(lalonde, case)
    u = ref["matchit_units"].query("case == @case").set_index("id")["weight"]
    ours = m.data.set_index("id")["weight"].reindex(u.index)
    np.testing.assert_allclose(ours.to_numpy(), u.to_numpy(), rtol=0, atol=WEIGHT_TOL)


@pytest.mark.parametrize("case", ["cem", "cem_cuts", "exact"])
def test_same_subclasses_as_matchit(lalonde, ref, case):
    m = _match(lalonde, case)
    u = (
        ref["matchit_units"]
        .query("case == @case")
        .set_index("id")["subclass"]
        .fillna(0)
        .astype(int)
    )
    ours = m.data.set_index("id")["subclass"].fillna(0).astype(int).reindex(u.index)
    assert (ours.to_numpy() == u.to_numpy()).all()


@pytest.mark.parametrize("case", [c for c in NEAREST if c != "nn_mahal"])
def test_score_equals_glm(lalonde, ref, case):
    m = _match(lalonde, case)
    u = ref["matchit_units"].query("case == @case").set_index("id")["distance"]
    ours = pd.Series(m.distance, index=m.data["id"]).reindex(u.index)
    tol = PROBIT_SCORE_TOL if "probit" in case else SCORE_TOL
    np.testing.assert_allclose(ours.to_numpy(), u.to_numpy(), rtol=0, atol=tol)


@pytest.mark.parametrize("case", list(CASES))
def test_balance_table_equals_matchit_summary(lalonde, ref, case):
    m = _match(lalonde, case)
    ours = m.balance().to_frame()  # default: matching covariates + exact columns, as MatchIt
    b = ref["matchit_balance"].query("case == @case").copy()
    b["term"] = b["term"].map(lambda t: TERM.get(t, t))
    checked = 0
    for stage, suffix in (("all", "before"), ("matched", "after")):
        theirs = b[b["stage"] == stage].set_index("term")
        for term, row in theirs.iterrows():
            for col, mine in (
                ("smd", "smd"),
                ("var_ratio", "variance_ratio"),
                ("ecdf_mean", "ecdf_mean"),
                ("ecdf_max", "ecdf_max"),
            ):
                want = row[col]
                got = ours.loc[term, f"{mine}_{suffix}"]
                if np.isnan(want):
                    assert np.isnan(got), (stage, term, col)
                    continue
                tol = PROBIT_SCORE_TOL if ("probit" in case and term == "score") else BALANCE_TOL
                assert got == pytest.approx(want, abs=tol), (stage, term, col)
                checked += 1
    assert checked >= 20


@pytest.mark.parametrize("case", list(CASES))
def test_ess_equals_matchit(lalonde, ref, case):
    m = _match(lalonde, case)
    n = ref["matchit_nn"].query("case == @case").set_index("group")
    sizes = m.to_frame()
    for g in ("treated", "control"):
        assert sizes.loc[g, "matched"] == n.loc[g, "n_matched"]
        assert sizes.loc[g, "matched_ess"] == pytest.approx(n.loc[g, "ess_matched"], rel=1e-12)
        assert sizes.loc[g, "unmatched"] == n.loc[g, "n_unmatched"]
        assert sizes.loc[g, "discarded"] == n.loc[g, "n_discarded"]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("method", ["difference", "regression"])
def test_att_and_se_equal_lm_sandwich(lalonde, ref, case, method):
    m = _match(lalonde, case)
    e = ref["matchit_effects"].query("case == @case and method == @method").iloc[0]
    se = "cluster" if e["se_type"] == "subclass" else "robust"
    covs = COVS if method == "regression" else None  # the difference takes no covariates
    t = m.effect("re78", method=method, se=se, covariates=covs).to_frame().loc["re78"]
    assert t["estimate"] == pytest.approx(e["estimate"], rel=EFFECT_REL_TOL)
    assert t["se"] == pytest.approx(e["se"], rel=EFFECT_REL_TOL)
    assert t["n"] == e["n"]


def test_common_support_reported(lalonde, ref):
    m = _match(lalonde, "nn_discard")
    n = ref["matchit_nn"].query("case == 'nn_discard'").set_index("group")
    for g in ("treated", "control"):
        ex = [e for e in m.excluded if e.reason.startswith(f"{g} outside the common support")]
        assert ex and ex[0].n == n.loc[g, "n_discarded"] > 0


@pytest.mark.parametrize("row", range(8))
def test_abadie_imbens_equals_matching_package(lalonde, ref, row):
    r = ref["matching_ai"].iloc[row]
    d = lalonde
    m = tk.match(
        d,
        treatment="treat",
        score="score_ai",
        scale="identity",
        replace=True,
        ratio=int(r["M"]),
        id="id",
    )
    t = (
        m.effect(
            "re78",
            se="abadie_imbens",
            n_variance=int(r["var_calc"]),
            target="sample" if r["sample"] else "population",
        )
        .to_frame()
        .loc["re78"]
    )
    assert t["estimate"] == pytest.approx(r["estimate"], rel=AI_REL_TOL)
    assert t["se"] == pytest.approx(r["se"], rel=AI_REL_TOL)


def test_abadie_imbens_core_matches_slow_reference(lalonde):
    """The vectorised variance equals a plain loop over units written from the paper's formula."""
    y = lalonde["re78"].to_numpy(float)
    treat = lalonde["treat"].to_numpy() == 1
    dist = lalonde["score_ai"].to_numpy(float)
    mm = _core.nearest_greedy(distance=dist, treat=treat, ratio=2, replace=True)
    tau, se = _core.abadie_imbens_att(
        y=y, treat=treat, distance=dist, mm=mm, n_variance=2, target="population"
    )
    # slow reference
    n1 = treat.sum()
    m = 2
    idx1 = np.flatnonzero(treat)
    cont = np.array([y[i] - y[mm[k]].mean() for k, i in enumerate(idx1)])
    tau_ref = cont.mean()
    k_used = np.zeros(y.size)
    for row in mm:
        for j in row:
            k_used[j] += 1
    sig = np.zeros(y.size)
    for i in range(y.size):
        same = np.flatnonzero((treat == treat[i]) & (np.arange(y.size) != i))
        near = same[np.argsort(np.abs(dist[same] - dist[i]), kind="stable")[:2]]
        vals = np.r_[y[i], y[near]]
        sig[i] = (
            np.sum((vals - vals.mean()) ** 2) / 2
        )  # sample variance of the unit and its 2 neighbours
    v = np.sum((cont - tau_ref) ** 2) + sum(
        k_used[i] * (k_used[i] - 1) / m**2 * sig[i] for i in range(y.size) if not treat[i]
    )
    assert tau == pytest.approx(tau_ref, rel=1e-12)
    assert se == pytest.approx(np.sqrt(v) / n1, rel=1e-10)
