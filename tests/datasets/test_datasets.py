"""Tests of the example register generator (trialkit.datasets).

Calibration tolerances
----------------------
SURVIVAL_TOL: the survival shares of new unemployment spells (Table 3.1 of the
brief, cohort Aug 2016 - Jul 2017) are estimated here from about 7,000 new
spells of a 60,000-person register, so their Monte-Carlo SE is at most
sqrt(.25/7000) = 0.006. The calibration itself is approximate (it solves for the
baseline hazard on the inflow's covariate mix; re-entry spells and the calendar
within the cohort year shift it; with 1e5 persons the error is below 0.005).
0.03 is five Monte-Carlo SEs plus that error.

SURVIVAL_TOL_1718: the next cohort (Aug 2017 - Jul 2018) is reproduced only through the
calendar effect and a first-month shift from 2017-08, not solved for directly; with 1e5
persons it is within 0.02 (0.018 at 6 months); 0.04 adds the Monte-Carlo error.

RETURN_RANGE: the brief's revolving door is "about 30 %" (Tampere, clients whose
relationship ended in Jan-Jun 2018); we accept 0.25-0.35 for returns within 12
months (SE about 0.003 here).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trialkit as tk
from trialkit.datasets import _core
from trialkit.datasets._calibration import new_spell_survival, return_rate
from trialkit.errors import DataError, DesignError

SURVIVAL_TOL = 0.03
SURVIVAL_TOL_1718 = 0.04
RETURN_RANGE = (0.25, 0.35)
TABLE31 = {1: 32672 / 46989, 3: 21288 / 46989, 6: 13822 / 46989, 12: 6191 / 46989}
TABLE31_1718 = {1: 27639 / 47051, 3: 17249 / 47051, 6: 10296 / 47051, 12: 4411 / 47051}
MUNICIPAL = ("Lapland", "North Savo", "Pori", "Southwest Finland", "Pirkanmaa")
REGIONAL = ("Central Ostrobothnia", "North Karelia", "Central Finland")


@pytest.fixture(scope="module")
def reg() -> tk.datasets.Register:
    return tk.datasets.make_register(n_persons=60_000, seed=11, truth_n=20_000)


@pytest.fixture(scope="module")
def small() -> tk.datasets.Register:
    return tk.datasets.make_register(n_persons=3_000, seed=5, truth_n=2_000)


# ---------------------------------------------------------------------------
# schema
# ---------------------------------------------------------------------------
PERSON_DTYPES = {
    "person_id": "int64",
    "municipality": "object",
    "area": "object",
    "entry_date": "datetime64[ns]",
    "origin": "datetime64[ns]",
    "duration_months": "int64",
    "duration_band": "object",
    "age": "int64",
    "age_band": "object",
    "sex": "object",
    "education": "object",
    "prior_employment_days": "int64",
    "employability": "float64",
    "eligible": "bool",
    "treated": "bool",
    "first_treated": "datetime64[ns]",
}
SPELL_DTYPES = {
    "person_id": "int64",
    "start": "datetime64[ns]",
    "end": "datetime64[ns]",
    "exit_reason": "object",
}
PANEL_DTYPES = {
    "municipality": "object",
    "area": "object",
    "month": "datetime64[ns]",
    "unemployed": "int64",
    "long_term_unemployed": "int64",
    "labour_force": "int64",
    "unemployment_rate": "float64",
    "subsidy_spending": "float64",
    "first_treated": "datetime64[ns]",
}


def test_schema_columns_and_dtypes(small):
    for frame, dtypes in (
        (small.persons, PERSON_DTYPES),
        (small.spells, SPELL_DTYPES),
        (small.panel, PANEL_DTYPES),
    ):
        for col, dt in dtypes.items():
            assert col in frame.columns, col
            got = frame[col].dtype
            if dt == "object":  # text: object under pandas 2, the str dtype under pandas 3
                assert pd.api.types.is_string_dtype(got) or got == np.dtype(object), (col, got)
            elif dt.startswith("datetime64"):  # resolution may differ between pandas versions
                assert pd.api.types.is_datetime64_dtype(got), (col, got)
            else:
                assert str(got) == dt, (col, got)
    st_ = small.spells["state"]
    assert isinstance(st_.dtype, pd.CategoricalDtype)
    assert list(st_.cat.categories) == list(tk.datasets.STATES)
    assert set(small.spells["exit_reason"].unique()) <= {*tk.datasets.EXIT_CODES, ""}
    assert set(small.persons["duration_band"]) <= set(tk.datasets.DURATION_BANDS)
    assert set(small.persons["age_band"]) <= {"<25", "25-29", "30-49", "50+"}
    assert set(small.persons["sex"]) == {"F", "M"}
    assert set(small.persons["education"]) == {"basic", "secondary", "tertiary"}
    assert set(small.persons["area"]) <= {*tk.datasets.TRIAL_AREA_NAMES, "non-trial"}
    assert small.persons["person_id"].is_unique
    # month starts
    for col in ("entry_date", "origin"):
        assert (small.persons[col].dt.day == 1).all()
    assert (small.panel["month"].dt.day == 1).all()


def test_truth_and_params_are_json_safe(small):
    back = json.loads(json.dumps(small.truth))
    assert back["att"].keys() == small.truth["att"].keys()
    assert set(back["att"]) == set(tk.datasets.OUTCOMES)
    json.dumps(small.params)
    assert small.params["seed"] == 5


# ---------------------------------------------------------------------------
# calibration targets
# ---------------------------------------------------------------------------
def test_survival_matches_table_3_1(reg):
    got = new_spell_survival(reg)
    for k, target in TABLE31.items():
        assert abs(got[k] - target) < SURVIVAL_TOL, (k, got[k], target)


def test_next_cohort_leaves_unemployment_faster(reg):
    # Table 3.1: the Aug 2017 - Aug 2018 cohort left faster at every duration (recovery)
    a = new_spell_survival(reg)
    b = new_spell_survival(reg, first="2017-08-01", last="2018-07-31")
    assert all(b[k] < a[k] for k in a)
    for k, target in TABLE31_1718.items():
        assert abs(b[k] - target) < SURVIVAL_TOL_1718, (k, b[k], target)


def test_revolving_door_about_30_percent(reg):
    r = return_rate(reg, within=12)
    assert RETURN_RANGE[0] <= r <= RETURN_RANGE[1], r


def test_young_return_more_often(reg):
    s = reg.spells.merge(reg.persons[["person_id", "age"]], on="person_id")
    un = s[s["state"] == "unemployed"].copy()
    un["next_start"] = un.groupby("person_id")["start"].shift(-1)
    ended = un[un["end"].notna() & (un["end"] < "2022-12-31") & (un["next_state"] != "service")]
    back = ended["next_start"].notna() & ((ended["next_start"] - ended["end"]).dt.days <= 366)
    young = ended["age"] < 30
    assert back[young].mean() > back[~young].mean() + 0.03


def test_calibration_table(reg):
    c = tk.datasets.calibration(reg)
    assert list(c.columns) == ["source", "target_value", "achieved"]
    assert len(c) >= 12
    assert c["achieved"].between(0, 1).all()
    # exit reasons of the long-term unemployed outside the trial areas (brief): about 3,000
    # exits here, SE <= 0.007; a third each to work / services / out of LF or education
    reasons = c[c["source"] == "brief: exit reasons"]
    assert len(reasons) == 4
    assert (reasons["achieved"] - reasons["target_value"]).abs().max() < 0.03
    thirds = c[c["source"] == "brief: outflow a third each"]
    assert (thirds["achieved"] - thirds["target_value"]).abs().max() < 0.05


def test_long_term_share_and_employability_by_duration(reg):
    p = reg.persons
    lt = (p["duration_months"] >= 12).mean()
    assert 0.2 < lt < 0.45
    by = p.groupby("duration_band")["employability"].mean()
    assert by["0-2"] > by["6-11"] > by["24+"]


def test_covariates_drive_employability(reg):
    p = reg.persons
    assert p.groupby("education")["employability"].mean().is_monotonic_increasing
    hi = p["prior_employment_days"] > 730
    lo = p["prior_employment_days"] < 180
    assert p.loc[hi, "employability"].mean() > p.loc[lo, "employability"].mean()
    assert (
        p.loc[p["age"] >= 55, "employability"].mean()
        < p.loc[p["age"].between(25, 45), "employability"].mean()
    )


# ---------------------------------------------------------------------------
# panel, municipalities, trial areas
# ---------------------------------------------------------------------------
def test_panel_shape_and_dates(small):
    pn = small.panel
    months = pd.date_range("2010-01-01", "2023-12-01", freq="MS")
    assert pn["municipality"].nunique() == 300
    assert len(pn) == 300 * len(months) == 300 * 168
    assert pn["month"].min() == months[0] and pn["month"].max() == months[-1]
    assert (pn.groupby("municipality")["month"].nunique() == 168).all()
    assert not pn.duplicated(["municipality", "month"]).any()
    assert (pn["long_term_unemployed"] <= pn["unemployed"]).all()
    assert (pn["unemployed"] < pn["labour_force"]).all()
    np.testing.assert_allclose(pn["unemployment_rate"], 100 * pn["unemployed"] / pn["labour_force"])


def test_trial_areas_and_start_months(small):
    pn = small.panel
    starts = pn.groupby("area")["first_treated"].agg(["min", "max"])
    for area in MUNICIPAL:
        assert starts.loc[area, "min"] == starts.loc[area, "max"] == pd.Timestamp("2017-08-01")
    regional = [starts.loc[a, "min"] for a in REGIONAL]
    assert all(pd.Timestamp("2017-03-01") <= s <= pd.Timestamp("2017-05-01") for s in regional)
    assert len(set(regional)) == 3  # staggered
    assert pn.loc[pn["area"] == "non-trial", "first_treated"].isna().all()
    names = set(pn["municipality"])
    for m in (
        "Kemi",
        "Kemijärvi",
        "Rovaniemi",
        "Sodankylä",
        "Tornio",
        "Kuopio",
        "Siilinjärvi",
        "Tuusniemi",
        "Pori",
        "Naantali",
        "Paimio",
        "Raisio",
        "Turku",
        "Tampere",
        "Kangasala",
        "Lempäälä",
        "Nokia",
        "Orivesi",
        "Kokkola",
        "Kannus",
        "Kaustinen",
        "Joensuu",
        "Liperi",
        "Jyväskylä",
    ):
        assert m in names, m
    area_of = pn.drop_duplicates("municipality").set_index("municipality")["area"]
    assert (
        area_of["Kemi"] == "Lapland"
        and area_of["Pori"] == "Pori"
        and area_of["Tampere"] == "Pirkanmaa"
    )
    assert area_of["Helsinki"] == "non-trial"


def test_fewer_municipalities(small):
    r = tk.datasets.make_register(n_persons=500, seed=1, n_municipalities=100, truth_n=1000)
    assert r.panel["municipality"].nunique() == 100
    assert set(r.persons["municipality"]) <= set(r.panel["municipality"])
    assert set(tk.datasets.TRIAL_AREA_NAMES) <= set(r.panel["area"])


def test_downturn_recovery_and_cycle(small):
    pn = small.panel
    nat = pn.groupby("month")[["unemployed", "labour_force"]].sum()
    rate = nat["unemployed"] / nat["labour_force"]
    year = rate.groupby(rate.index.year).mean()
    assert year[2015] > year[2011] + 0.02  # downturn
    assert year[2019] < year[2016] - 0.02  # recovery
    assert year[2020] > year[2019] + 0.01  # 2020 shock
    # areas with larger cyclical amplitude fall faster from a high level (2016 -> 2019)
    m = small.municipalities.set_index("municipality")["cycle_amplitude"]
    pn = pn.assign(year=pn["month"].dt.year)
    r = (
        pn[pn["year"].isin([2016, 2019])]
        .groupby(["municipality", "year"])["unemployment_rate"]
        .mean()
        .unstack()
    )
    fall = r[2016] - r[2019]
    assert np.corrcoef(fall, m[fall.index])[0, 1] > 0.5


# ---------------------------------------------------------------------------
# persons and spells
# ---------------------------------------------------------------------------
def test_persons_consistency(reg):
    p = reg.persons
    months = (
        (p["origin"].dt.year - p["entry_date"].dt.year) * 12
        + p["origin"].dt.month
        - p["entry_date"].dt.month
    )
    assert (months == p["duration_months"]).all()
    t = p[p["treated"]]
    assert t["eligible"].all()
    assert (t["area"] != "non-trial").all()
    assert (t["origin"] >= t["first_treated"]).all()
    assert p["first_treated"].isna().eq(p["area"] == "non-trial").all()
    assert p["employability"].between(0, 1).all()
    # eligibility rules: Lapland 12+ months; Southwest Finland under 25 or 12+ months
    lap = p[p["area"] == "Lapland"]
    assert (lap["eligible"] == (lap["duration_months"] >= 12)).all()
    swf = p[p["area"] == "Southwest Finland"]
    assert (swf["eligible"] == ((swf["duration_months"] >= 12) | (swf["age"] < 25))).all()
    assert p["treated"].sum() > 500


def _check_spells(spells: pd.DataFrame, persons: pd.DataFrame) -> None:
    assert spells["person_id"].is_monotonic_increasing
    g = spells.groupby("person_id", sort=False)
    assert (g["start"].diff().dropna() > pd.Timedelta(0)).all()
    # first spell: unemployment from entry_date
    first = spells[~spells["person_id"].duplicated()].set_index("person_id")
    pp = persons.set_index("person_id").loc[first.index]
    assert (first["start"] == pp["entry_date"]).all()
    assert (first["state"] == "unemployed").all()
    assert set(first.index) == set(persons["person_id"])
    # contiguous: next start is the day after end; end >= start; only the last may be open
    nxt = g["start"].shift(-1)
    has_next = nxt.notna()
    assert (spells.loc[has_next, "end"] + pd.Timedelta(days=1) == nxt[has_next]).all()
    assert spells.loc[~has_next, "end"].isna().all()
    assert (spells.loc[has_next, "end"] >= spells.loc[has_next, "start"]).all()
    # consecutive spells differ in state; exit reasons only where unemployment ended
    nstate = g["state"].shift(-1)
    assert (spells.loc[has_next, "state"].astype(str) != nstate[has_next].astype(str)).all()
    assert (spells["next_state"].astype(str)[has_next] == nstate[has_next].astype(str)).all()
    ended_u = has_next & (spells["state"] == "unemployed")
    assert (spells.loc[~ended_u, "exit_reason"] == "").all()
    codes = spells.loc[ended_u, "exit_reason"].to_numpy()
    to_state = np.array(_core.STATES)[_core.CODE_STATE[[list(_core.CODES).index(c) for c in codes]]]
    assert (to_state == spells.loc[ended_u, "next_state"].astype(str).to_numpy()).all()


def test_spells_structure(reg):
    _check_spells(reg.spells, reg.persons)
    assert reg.spells["end"].max() <= pd.Timestamp("2023-12-31")
    assert reg.spells["start"].max() <= pd.Timestamp("2023-12-01")


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    hr=st.floats(0.3, 3.0),
    end=st.sampled_from(["2019-01-31", "2020-06-15", "2023-12-31"]),
)
def test_property_spells_never_overlap(seed, n, hr, end, small):
    persons = small.persons.sample(n=n, random_state=seed % 1000)
    treated = np.random.default_rng(seed).random(n) < 0.5
    sp = tk.datasets.simulate_spells(persons, treated, effect=hr, seed=seed, end=end)
    _check_spells(sp, persons)
    assert sp["start"].max() <= pd.Timestamp(end)
    assert (sp["end"].dropna() <= pd.Timestamp(end)).all()


# ---------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------
def test_same_seed_same_frames(small):
    again = tk.datasets.make_register(n_persons=3_000, seed=5, truth_n=2_000)
    pd.testing.assert_frame_equal(small.persons, again.persons)
    pd.testing.assert_frame_equal(small.spells, again.spells)
    pd.testing.assert_frame_equal(small.panel, again.panel)
    assert small.truth == again.truth


def test_different_seed_different_frames(small):
    other = tk.datasets.make_register(n_persons=3_000, seed=6, truth_n=2_000)
    assert not small.persons["age"].equals(other.persons["age"])
    assert not small.panel["unemployed"].equals(other.panel["unemployed"])
    assert len(small.spells) != len(other.spells) or not small.spells["start"].equals(
        other.spells["start"]
    )


def test_seed_none_is_recorded_and_replayable():
    r = tk.datasets.make_register(n_persons=300, seed=None, truth_n=1000)
    ent = r.params["seed"]
    assert isinstance(ent, int)
    again = tk.datasets.make_register(n_persons=300, seed=np.random.SeedSequence(ent), truth_n=1000)
    pd.testing.assert_frame_equal(r.persons, again.persons)


def test_simulate_spells_row_order_invariant(small):
    p = small.persons.head(200)
    t = p["eligible"].to_numpy()
    a = tk.datasets.simulate_spells(p, t, seed=3)
    shuffled = p.sample(frac=1.0, random_state=1)
    b = tk.datasets.simulate_spells(shuffled, shuffled["eligible"].to_numpy(), seed=3)
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"n_persons": 0}, "n_persons"),
        ({"n_persons": 2.5}, "n_persons"),
        ({"n_municipalities": 10}, "n_municipalities"),
        ({"n_municipalities": 5000}, "n_municipalities"),
        ({"effect": -1.0}, "effect"),
        ({"effect": "big"}, "effect"),
        ({"effect": {"jobs": 1.2}}, "effect"),
        ({"treatment_months": 0}, "treatment_months"),
        ({"area_cycle": -1}, "area_cycle"),
        ({"truth_n": 10}, "truth_n"),
        ({"seed": -3}, "seed"),
        ({"end": "2018-01-31"}, "end"),
        ({"end": "not a date"}, "end"),
    ],
)
def test_make_register_bad_parameters(kwargs, param):
    args = {"n_persons": 100, "truth_n": 1000, "seed": 0, **kwargs}
    with pytest.raises(DesignError, match=f"`{param}`"):
        tk.datasets.make_register(**args)


def test_simulate_spells_bad_input(small):
    p = small.persons.head(20)
    with pytest.raises(DataError, match="age"):
        tk.datasets.simulate_spells(p.drop(columns="age"), np.zeros(20, bool), seed=0)
    with pytest.raises(DataError, match="`treated`"):
        tk.datasets.simulate_spells(p, np.zeros(3, bool), seed=0)
    with pytest.raises(DataError, match="`treated`"):
        tk.datasets.simulate_spells(p, np.full(20, 2), seed=0)
    with pytest.raises(DataError, match="person_id"):
        tk.datasets.simulate_spells(pd.concat([p, p]), np.zeros(40, bool), seed=0)
    with pytest.raises(DataError, match="education"):
        tk.datasets.simulate_spells(p.assign(education="phd"), np.zeros(20, bool), seed=0)
    with pytest.raises(DesignError, match="`effect`"):
        tk.datasets.simulate_spells(p, np.zeros(20, bool), effect=0, seed=0)
    with pytest.raises(DesignError, match="`end`"):
        tk.datasets.simulate_spells(p, np.zeros(20, bool), end="2015-01-01", seed=0)


# ---------------------------------------------------------------------------
# truth
# ---------------------------------------------------------------------------
def test_no_effect_gives_exactly_zero_truth():
    r = tk.datasets.make_register(n_persons=500, seed=2, effect=1.0, truth_n=3000)
    for key in ("att", "ate_eligible", "att_mc_se", "ate_eligible_mc_se"):
        assert all(v == 0.0 for v in r.truth[key].values())
    pt = r.truth["panel"]
    assert pt["att_unemployment_rate"] == 0.0 and pt["att_long_term_unemployed"] == 0.0
    assert all(v == 0.0 for v in pt["att_unemployment_rate_by_event_time"].values())


def test_positive_effect_signs(reg):
    t = reg.truth
    for key in ("att", "ate_eligible"):
        eff = t[key]
        for h in (12, 24, 36, 48, 60):
            assert eff[f"employed_{h}m"] > 0
        assert eff["months_employed_60m"] > 0
        assert eff["months_unemployed_60m"] < 0
        assert eff["rmst_employment_60m"] < 0
        assert eff["cif_employed_12m"] > 0
        assert eff["cif_out_of_labour_force_60m"] < 0
    assert t["panel"]["att_unemployment_rate"] < 0
    assert t["panel"]["att_long_term_unemployed"] < 0
    by = t["panel"]["att_unemployment_rate_by_event_time"]
    assert by["24"] < by["0"] < 0  # the effect builds up
    assert t["effect_hazard_ratios"]["employed"] == 1.2
    # Monte-Carlo error of the truth (truth_n=20,000 here): small against the effects
    se = t["att_mc_se"]["employed_24m"]
    assert 0 < se < 0.005 and t["att"]["employed_24m"] > 5 * se


def test_larger_hazard_ratio_larger_effect(small):
    p = small.persons[small.persons["eligible"]]
    a = tk.datasets.true_effects(p, effect=1.2, seed=1)["effect"]["employed_24m"]
    b = tk.datasets.true_effects(p, effect=1.6, seed=1)["effect"]["employed_24m"]
    assert 0 < a < b
    c = tk.datasets.true_effects(p, effect={"out_of_labour_force": 2.0}, seed=1)["effect"][
        "employed_24m"
    ]
    assert c < 0


def _status_at(spells: pd.DataFrame, persons: pd.DataFrame, months_after: int) -> pd.Series:
    """State of each person in the month ``origin + months_after`` (independent of _core)."""
    when = persons.set_index("person_id")["origin"] + pd.DateOffset(months=months_after)
    s = spells.join(when.rename("when"), on="person_id")
    inside = (s["start"] <= s["when"]) & (s["end"].isna() | (s["end"] >= s["when"]))
    out = s.loc[inside].set_index("person_id")["state"].astype(str)
    assert out.index.is_unique
    return out.reindex(persons["person_id"])


def test_truth_equals_spells_under_common_random_numbers(small):
    # Two independent code paths: the truth's online accumulators and the spells.
    p = small.persons
    te = tk.datasets.true_effects(p, effect=1.4, seed=9)
    for flag, label in ((False, "untreated"), (True, "treated")):
        sp = tk.datasets.simulate_spells(p, np.full(len(p), flag), effect=1.4, seed=9)
        for h in (12, 24, 60):
            stt = _status_at(sp, p, h - 1)
            emp = stt.isin(["employed", "subsidised"]).mean()
            assert emp == pytest.approx(te[label][f"employed_{h}m"], abs=1e-12)


@pytest.mark.slow
def test_randomised_trial_recovers_truth(reg):
    # randomise eligible persons, simulate follow-up, difference in means vs truth
    p = reg.persons[reg.persons["eligible"]].head(20_000)
    arm = np.random.default_rng(1).random(len(p)) < 0.5
    sp = tk.datasets.simulate_spells(p, arm, effect=1.5, seed=4)
    te = tk.datasets.true_effects(p, effect=1.5, seed=5)
    emp = _status_at(sp, p, 23).isin(["employed", "subsidised"]).to_numpy()
    est = emp[arm].mean() - emp[~arm].mean()
    se = np.sqrt(emp[arm].var(ddof=1) / arm.sum() + emp[~arm].var(ddof=1) / (~arm).sum())
    assert abs(est - te["effect"]["employed_24m"]) < 4 * se
    assert te["effect"]["employed_24m"] > 2 * se  # a real effect, not noise


def test_employability_is_true_12_month_reemployment(small):
    p = small.persons
    te = tk.datasets.true_effects(p, effect=1.0, seed=2)
    got = te["untreated"]["cif_employed_12m"] + te["untreated"]["cif_subsidised_12m"]
    se = np.sqrt(got * (1 - got) / len(p))
    assert abs(got - p["employability"].mean()) < 4 * se


def _did_first_year(panel: pd.DataFrame) -> tuple[float, float]:
    """Per treated municipality: change in the rate from the 12 months before its start to the
    12 months from it, minus the same change among never-treated municipalities; mean and SE."""
    pn = panel.copy()
    never = pn[pn["first_treated"].isna()]
    ctrl = never.groupby("month")["unemployment_rate"].mean()
    out = []
    for _muni, g in pn[pn["first_treated"].notna()].groupby("municipality"):
        start = g["first_treated"].iloc[0]
        g = g.set_index("month")["unemployment_rate"]
        pre = pd.date_range(start - pd.DateOffset(months=12), periods=12, freq="MS")
        post = pd.date_range(start, periods=12, freq="MS")
        out.append((g[post].mean() - g[pre].mean()) - (ctrl[post].mean() - ctrl[pre].mean()))
    out = np.array(out)
    return float(out.mean()), float(out.std(ddof=1) / np.sqrt(out.size))


def test_panel_truth_recovered_when_trends_parallel():
    # area_cycle=0: all municipalities follow the national cycle alike -> a simple
    # difference-in-differences recovers the built-in effect (first 12 months)
    r = tk.datasets.make_register(n_persons=300, seed=3, effect=2.0, area_cycle=0.0, truth_n=1000)
    by = r.truth["panel"]["att_unemployment_rate_by_event_time"]
    truth = np.mean([by[str(e)] for e in range(12)])
    est, se = _did_first_year(r.panel)
    assert truth < -0.2
    assert abs(est - truth) < 4 * se + 0.02


def test_panel_cyclical_areas_bias_naive_did():
    # the report's warning: trial areas with high cyclical unemployment fall faster from a
    # high level, so with no effect at all a naive DiD in the recovery finds a "fall"
    r = tk.datasets.make_register(n_persons=300, seed=3, effect=1.0, area_cycle=1.0, truth_n=1000)
    est, se = _did_first_year(r.panel)
    assert r.truth["panel"]["att_unemployment_rate"] == 0.0
    assert est < -4 * se


def test_minimal_persons_and_column_name_for_treated(small):
    cols = ["person_id", "origin", "duration_months", "age", "education", "prior_employment_days"]
    p = small.persons[cols + ["eligible"]].head(50)
    sp = tk.datasets.simulate_spells(p, "eligible", seed=2)
    entry = [
        o - pd.DateOffset(months=int(d))
        for o, d in zip(p["origin"], p["duration_months"], strict=True)
    ]
    _check_spells(sp, p.assign(entry_date=entry))
    with pytest.raises(DataError, match="eligible2"):
        tk.datasets.simulate_spells(p, "eligible2", seed=2)


def test_tiny_register_and_early_extraction():
    r = tk.datasets.make_register(n_persons=1, seed=0, truth_n=1000, end="2019-06-30")
    assert len(r.persons) == 1
    _check_spells(r.spells, r.persons)
    assert r.spells["start"].max() <= pd.Timestamp("2019-06-30")
    assert r.spells["end"].isna().sum() == 1
    assert "persons=1" in repr(r)


def test_treatment_changes_only_treated_paths(small):
    # common random numbers: untreated persons' spells do not depend on others' treatment
    p = small.persons.head(400)
    none = tk.datasets.simulate_spells(p, np.zeros(len(p), bool), effect=2.0, seed=4)
    half = np.arange(len(p)) % 2 == 0
    some = tk.datasets.simulate_spells(p, half, effect=2.0, seed=4)
    ctrl = set(p.loc[~half, "person_id"])
    a = none[none["person_id"].isin(ctrl)].reset_index(drop=True)
    b = some[some["person_id"].isin(ctrl)].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    treated_ids = set(p.loc[half, "person_id"])
    assert (
        not none[none["person_id"].isin(treated_ids)]
        .reset_index(drop=True)
        .equals(some[some["person_id"].isin(treated_ids)].reset_index(drop=True))
    )


def test_params_and_seed_records_replay_the_data():
    reg = tk.datasets.make_register(n_persons=2000, seed=None, truth_n=1000)
    again = tk.datasets.make_register(**reg.params)  # the arguments, seed included
    pd.testing.assert_frame_equal(again.spells, reg.spells)
    assert np.isfinite(reg.elapsed_s) and "elapsed_s" not in reg.params
    p = reg.persons.head(300)
    sp = tk.datasets.simulate_spells(p, p["person_id"] % 2 == 0, seed=None)
    sp2 = tk.datasets.simulate_spells(p, p["person_id"] % 2 == 0, seed=sp.attrs["seed"])
    pd.testing.assert_frame_equal(sp2, sp)
    te = tk.datasets.true_effects(p, seed=None)
    assert tk.datasets.true_effects(p, seed=te["seed"])["effect"] == te["effect"]
