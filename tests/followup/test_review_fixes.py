"""Edge cases found in review: an analysis cut-off before the extraction date, arms
without events, missing cluster values and time-zone-aware dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit.errors import DataError


@pytest.fixture(scope="module")
def register():
    reg = tk.datasets.make_register(n_persons=1500, seed=0, truth_n=1000)
    pe = reg.persons.assign(arm=np.where(reg.persons["person_id"] % 2 == 0, "treatment", "control"))
    return reg.spells, pe


def _truncated(spells: pd.DataFrame, cut: str) -> pd.DataFrame:
    """The register as an extraction made on ``cut`` would hold it (the reference)."""
    day = pd.Timestamp(cut)
    sp = spells.loc[spells["start"] <= day].copy()
    later = sp["end"].notna() & (sp["end"] > day)
    sp.loc[later, "end"] = pd.NaT
    sp.loc[later, "exit_reason"] = ""
    return sp


@pytest.mark.parametrize("cut", ["2017-03-31", "2018-06-30", "2019-12-31"])
def test_cut_off_before_the_extraction_equals_a_truncated_extraction(register, cut):
    spells, pe = register
    keep = pe["origin"] <= pd.Timestamp(cut)
    got = tk.follow_up(spells, pe, origin="origin", months=24, end_of_data=cut).durations()
    ref = tk.follow_up(
        _truncated(spells, cut), pe.loc[keep], origin="origin", months=24, end_of_data=cut
    ).durations()
    ref = ref.loc[ref.index.intersection(got.index)]
    assert len(ref) > 500
    pd.testing.assert_frame_equal(got.loc[ref.index], ref)
    # and no exit is dated after the cut-off
    ev = got["unemployment_days_event"] == 1
    origin = pe.set_index("person_id").loc[got.index, "origin"]
    last = origin + pd.to_timedelta(got["unemployment_days"], unit="D")
    assert (last[ev] <= pd.Timestamp(cut) + pd.Timedelta(days=1)).all()


def test_missing_cluster_in_effects_is_a_data_error(register):
    spells, pe = register
    pe = pe.assign(muni=pe["municipality"].astype(object))
    pe.loc[pe.index[:3], "muni"] = None
    f = tk.follow_up(spells, pe, origin="origin", months=12, end_of_data="2019-12-31")
    with pytest.raises(DataError, match=r"'muni'.*3 missing"):
        f.effects(outcomes=["employed"], horizons=[12], cluster="muni")


@pytest.fixture
def no_event_arm() -> pd.DataFrame:
    # arm "t" has no events at all (R survfit: S = 1 throughout; cmprsk::cuminc: F = 0)
    return pd.DataFrame(
        {"t": [1, 2, 3, 4, 2, 5, 6], "e": [1, 0, 1, 1, 0, 0, 0], "arm": ["c"] * 4 + ["t"] * 3}
    )


def test_kaplan_meier_keeps_a_group_without_events(no_event_arm):
    km = tk.followup.kaplan_meier(no_event_arm, duration="t", event="e", group="arm")
    s = km.survival_at([0.5, 1, 3, 5, 10])
    assert list(s.index) == ["c", "t"]
    np.testing.assert_allclose(s.loc["t"].to_numpy(), 1.0)
    # arm c by hand: S(1) = 3/4, S(3) = 3/4 * 1/2, S(4) = 0
    np.testing.assert_allclose(s.loc["c"].to_numpy(), [1.0, 0.75, 0.375, 0.0, 0.0])
    assert len(km.plot().lines) == 2


@pytest.mark.parametrize("control", ["c", "t"])
def test_cumulative_incidence_difference_with_an_arm_without_events(no_event_arm, control):
    d = no_event_arm.assign(cause=no_event_arm["e"])
    ci = tk.followup.cumulative_incidence(d, duration="t", cause="cause", group="arm")
    alone = tk.followup.cumulative_incidence(
        d[d["arm"] == "c"], duration="t", cause="cause"
    ).incidence_at(3)
    f_c, v_c = float(alone["incidence"].iloc[0]), float(alone["var"].iloc[0])
    assert f_c == pytest.approx(0.625)  # 1/4 + 3/4 * 1/2 (Aalen-Johansen by hand)
    row = ci.difference(3, control=control).table.iloc[0]
    sign = 1.0 if control == "t" else -1.0
    assert row["estimate"] == pytest.approx(sign * f_c)
    assert row["se"] == pytest.approx(np.sqrt(v_c))
    with pytest.raises(DataError, match="control"):
        ci.difference(3, control="x")


@pytest.mark.parametrize("tz", ["Europe/Helsinki", "America/New_York", "UTC"])
def test_time_zone_aware_dates_count_local_calendar_days(register, tz):
    # spells carry a time zone, the persons' origins do not: days are local calendar days
    spells, pe = register
    local = spells.assign(
        start=spells["start"].dt.tz_localize(tz), end=spells["end"].dt.tz_localize(tz)
    )
    naive = tk.follow_up(spells, pe, origin="origin", months=24, end_of_data="2019-12-31")
    aware = tk.follow_up(local, pe, origin="origin", months=24, end_of_data="2019-12-31")
    pd.testing.assert_frame_equal(aware.status, naive.status)
    pd.testing.assert_frame_equal(aware.durations(), naive.durations())
    eod = pd.Timestamp("2019-12-31", tz=tz)
    again = tk.follow_up(local, pe, origin="origin", months=24, end_of_data=eod)
    pd.testing.assert_frame_equal(again.durations(), naive.durations())


def test_cox_names_constant_and_collinear_covariates():
    rng = np.random.default_rng(2)
    n = 300
    d = pd.DataFrame({"trt": rng.integers(0, 2, n), "age": rng.normal(40, 9, n)})
    d["t"] = rng.exponential(1 / np.exp(0.4 * d["trt"]))
    d["e"] = (rng.random(n) < 0.8).astype(int)
    with pytest.raises(DataError, match=r"\['k'\] are constant"):
        tk.followup.cox(d.assign(k=1.0), duration="t", event="e", covariates=["trt", "k"])
    with pytest.raises(DataError, match=r"\['age2'\] are linear combinations"):
        tk.followup.cox(
            d.assign(age2=2 * d["age"] - 3), duration="t", event="e", covariates=["age", "age2"]
        )
    ok = tk.followup.cox(d, duration="t", event="e", covariates=["trt", "age"]).to_frame()
    assert np.isfinite(ok["se"]).all()


def test_clustered_effects_use_t_with_clusters_minus_one_df(register):
    # estimatr::lm_robust(se_type = "stata", clusters = ...) uses t with G - 1 df, G the
    # clusters in the analysed rows (rows with the horizon's outcome observed)
    from scipy import stats

    spells, pe = register
    f = tk.follow_up(spells, pe, origin="origin", months=36, end_of_data="2019-12-31")
    tab = f.effects(outcomes=["employed"], horizons=[12, 36], cluster="municipality", seed=1)
    tab = tab.to_frame()
    o = f.outcomes([12, 36], outcomes=["employed"]).join(f.persons["municipality"])
    for h in (12, 36):
        g = o.loc[o[f"employed_{h}m"].notna(), "municipality"].nunique()
        row = tab.loc[("employed", h)]
        c = stats.t.ppf(0.975, g - 1)
        assert row["ci_low"] == pytest.approx(row["estimate"] - c * row["se"], rel=1e-12)
        assert row["p"] == pytest.approx(2 * stats.t.sf(abs(row["estimate"] / row["se"]), g - 1))
    assert o["employed_36m"].notna().sum() < o["employed_12m"].notna().sum()  # df differ
