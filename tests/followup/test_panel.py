"""Status panel, outcomes by horizon and bad input, on spell tables built by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit.errors import DataError, DesignError
from trialkit.followup import CENSORED, GAP, STATE_CODES

U, S, E, SUB, ED, OLF = (STATE_CODES[s] for s in tk.followup.STATES)


def ts(*dates):
    return pd.to_datetime(list(dates))


def make(rows, persons):
    sp = pd.DataFrame(rows, columns=["person_id", "start", "end", "state", "exit_reason"])
    sp["start"] = pd.to_datetime(sp["start"])
    sp["end"] = pd.to_datetime(sp["end"])
    pe = pd.DataFrame(persons, columns=["person_id", "entry_date", "arm"])
    pe["entry_date"] = pd.to_datetime(pe["entry_date"])
    return sp, pe


@pytest.fixture
def small():
    rows = [
        # person 1: 3 months unemployed, 2 months service, then employed until data end
        (1, "2018-01-01", "2018-03-31", "unemployed", "11"),
        (1, "2018-04-01", "2018-05-31", "service", ""),
        (1, "2018-06-01", None, "employed", ""),
        # person 2: unemployed 2 months, gap (no record) 2 months, subsidised 3 months, unemployed again
        (2, "2018-01-01", "2018-02-28", "unemployed", "05"),
        (2, "2018-05-01", "2018-07-31", "subsidised", ""),
        (2, "2018-08-01", None, "unemployed", ""),
        # person 3: unemployed throughout with an overlapping education spell in months 2-3
        (3, "2018-01-01", None, "unemployed", ""),
        (3, "2018-03-01", "2018-04-30", "education", ""),
    ]
    persons = [
        (1, "2018-01-01", "treatment"),
        (2, "2018-01-01", "control"),
        (3, "2018-01-01", "control"),
    ]
    sp, pe = make(rows, persons)
    return tk.follow_up(sp, pe, months=12, end_of_data="2018-10-31")


def test_status_codes_priority_and_censoring(small):
    st = small.status
    assert st.dtypes.unique().tolist() == [np.int8]
    assert st.shape == (3, 12)
    c = CENSORED
    assert st.loc[1].tolist() == [U, U, U, S, S, E, E, E, E, E, c, c]
    assert st.loc[2].tolist() == [U, U, GAP, GAP, SUB, SUB, SUB, U, U, U, c, c]
    # education outranks unemployment by the default priority; two months resolved
    assert st.loc[3].tolist() == [U, U, ED, ED, U, U, U, U, U, U, c, c]
    assert small.overlaps_resolved == 2
    assert small.observed.to_numpy().sum() == 30


def test_custom_priority_changes_resolution():
    sp, pe = make(
        [
            (3, "2018-01-01", None, "unemployed", ""),
            (3, "2018-03-01", "2018-04-30", "education", ""),
        ],
        [(3, "2018-01-01", "control")],
    )
    prio = ("unemployed", "employed", "subsidised", "education", "service", "out_of_labour_force")
    f = tk.follow_up(sp, pe, months=6, end_of_data="2019-01-01", priority=prio)
    assert f.status.loc[3].tolist() == [U] * 6
    assert f.overlaps_resolved == 2


def test_outcomes_by_horizon(small):
    o = small.outcomes([3, 6, 10], sustained_months=3)
    assert (
        o.loc[1, "employed_6m"] == 1
        and o.loc[2, "employed_6m"] == 1
        and o.loc[3, "employed_6m"] == 0
    )
    assert o.loc[2, "employed_subsidised_6m"] == 1 and o.loc[2, "employed_open_6m"] == 0
    assert o.loc[1, "employed_open_6m"] == 1
    assert o.loc[1, "months_employed_10m"] == 5
    assert o.loc[2, "months_employed_10m"] == 3
    assert o.loc[2, "months_unemployed_10m"] == 5
    assert o.loc[1, "months_service_10m"] == 2
    # days: person 1 employed from 1 June to the 10-month horizon (1 Nov, censored 31 Oct -> complete)
    assert (
        o.loc[1, "days_employed_10m"]
        == (pd.Timestamp("2018-11-01") - pd.Timestamp("2018-06-01")).days
    )
    assert (
        o.loc[2, "days_employed_6m"]
        == (pd.Timestamp("2018-07-01") - pd.Timestamp("2018-05-01")).days
    )
    assert o.loc[2, "days_unemployed_3m"] == 31 + 28
    assert o.loc[1, "days_jobseeker_6m"] == 31 + 28 + 31 + 30 + 31
    assert o.loc[1, "sustained_employed_10m"] == 1 and o.loc[2, "sustained_employed_10m"] == 1
    assert o.loc[1, "sustained_employed_6m"] == 0
    assert o.loc[1, "time_to_employment"] == 5 and o.loc[1, "employment_event"] == 1
    assert o.loc[3, "time_to_employment"] == 10 and o.loc[3, "employment_event"] == 0
    # revolving door: person 2 left the register in month 2 and came back in month 7
    assert o.loc[2, "exit_month"] == 2
    assert o.loc[2, "returned_6m"] == 1 and o.loc[2, "returned_12m"] == 1
    # person 1 left in month 5; months 5..10 are needed but month 10 is censored: unknown
    assert o.loc[1, "exit_month"] == 5 and np.isnan(o.loc[1, "returned_6m"])
    assert o.loc[2, "n_exits"] == 1 and o.loc[1, "n_exits"] == 1 and o.loc[3, "exit_month"] == 2
    assert o.loc[3, "returned_6m"] == 1  # education for two months, then back
    # first unemployment spell: days, months and exit route by code
    assert o.loc[1, "unemployment_days"] == 31 + 28 + 31
    assert o.loc[1, "unemployment_months"] == 3 and o.loc[1, "exit_route"] == "service"
    assert o.loc[2, "exit_route"] == "out_of_labour_force" and o.loc[2, "exit_reason"] == "05"
    assert o.loc[3, "unemployment_event"] == 0 and o.loc[3, "exit_route"] == "censored"


def test_censored_horizons_are_missing(small):
    o = small.outcomes(
        [11, 12],
        outcomes=["employed", "months_employed", "days_employed", "ever_employed"],
        person_level=False,
    )
    assert o["employed_12m"].isna().all()
    assert o["months_employed_11m"].isna().all() and o["days_employed_11m"].isna().all()
    # ever employed is known once it happened, even if censored later
    assert o.loc[1, "ever_employed_12m"] == 1 and np.isnan(o.loc[3, "ever_employed_12m"])


def test_personal_censoring_date():
    sp, pe = make([(1, "2018-01-01", None, "unemployed", "")], [(1, "2018-01-01", "control")])
    pe["emigrated"] = pd.to_datetime(["2018-03-20"])
    f = tk.follow_up(sp, pe, months=6, end_of_data="2020-01-01", censor="emigrated")
    assert f.status.loc[1].tolist() == [U, U, U, CENSORED, CENSORED, CENSORED]


def test_mid_month_origin_and_reference_day():
    sp, pe = make(
        [
            (1, "2018-01-10", "2018-02-09", "unemployed", "01"),
            (1, "2018-02-10", None, "employed", ""),
        ],
        [(1, "2018-01-10", "control")],
    )
    f = tk.follow_up(sp, pe, months=3, end_of_data="2019-01-01")
    assert f.status.loc[1].tolist() == [U, E, E]
    assert f.outcomes([1], outcomes=["days_unemployed"], person_level=False).iloc[0, 1] == 31


def test_effects_difference_in_means_is_neyman(small):
    rng = np.random.default_rng(3)
    n = 300
    starts = pd.Timestamp("2018-01-01")
    dur = rng.integers(1, 20, n)
    end = starts + pd.to_timedelta(dur * 31, unit="D")
    sp = pd.DataFrame(
        {
            "person_id": np.repeat(np.arange(n), 2),
            "start": np.ravel(np.column_stack([np.full(n, starts), end + pd.Timedelta(days=1)])),
            "end": np.ravel(np.column_stack([end, np.full(n, pd.NaT)])),
            "state": np.tile(["unemployed", "employed"], n),
            "exit_reason": np.tile(["01", ""], n),
        }
    )
    pe = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "entry_date": starts,
            "arm": np.where(rng.random(n) < 0.4, "treatment", "control"),
        }
    )
    f = tk.follow_up(sp, pe, months=24, end_of_data="2021-01-01")
    eff = f.effects(outcomes=["months_employed"], horizons=[6, 12, 24]).to_frame()
    o = f.outcomes([6, 12, 24], outcomes=["months_employed"], person_level=False)
    for h in (6, 12, 24):
        y1 = o.loc[o.arm == "treatment", f"months_employed_{h}m"]
        y0 = o.loc[o.arm == "control", f"months_employed_{h}m"]
        assert eff.loc[("months_employed", h), "estimate"] == pytest.approx(
            y1.mean() - y0.mean(), abs=1e-10
        )
        neyman = np.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0))
        assert eff.loc[("months_employed", h), "se"] == pytest.approx(neyman, rel=1e-10)
        row = eff.loc[("months_employed", h)]
        assert row["band_low"] <= row["ci_low"] and row["band_high"] >= row["ci_high"]
        assert row["control_mean"] == pytest.approx(y0.mean())


def test_bad_input():
    good = [
        (1, "2018-01-01", "2018-03-31", "unemployed", "01"),
        (1, "2018-04-01", None, "employed", ""),
    ]
    persons = [(1, "2018-01-01", "control")]
    sp, pe = make(good, persons)
    with pytest.raises(DataError, match="end before they start"):
        bad = sp.copy()
        bad.loc[0, "end"] = pd.Timestamp("2017-12-01")
        tk.follow_up(bad, pe)
    with pytest.raises(DataError, match="unknown states"):
        bad = sp.copy()
        bad.loc[0, "state"] = "retired"
        tk.follow_up(bad, pe)
    with pytest.raises(DataError, match="unknown exit codes"):
        bad = sp.copy()
        bad.loc[0, "exit_reason"] = "99"
        tk.follow_up(bad, pe)
    with pytest.raises(DataError, match="has no column 'state'"):
        tk.follow_up(sp.drop(columns="state"), pe)
    with pytest.raises(DataError, match="uniquely"):
        tk.follow_up(sp, pd.concat([pe, pe]))
    with pytest.raises(DesignError, match="priority"):
        tk.follow_up(sp, pe, priority=("employed",))
    # persons without spells and origins after the end of data are excluded and reported
    pe2 = pd.concat(
        [
            pe,
            pd.DataFrame(
                {
                    "person_id": [2, 3],
                    "entry_date": pd.to_datetime(["2018-01-01", "2030-01-01"]),
                    "arm": ["treatment", "control"],
                }
            ),
        ]
    )
    sp2 = pd.concat(
        [
            sp,
            pd.DataFrame(
                {
                    "person_id": [3, 4],
                    "start": pd.to_datetime(["2030-01-01", "2018-01-01"]),
                    "end": pd.NaT,
                    "state": "unemployed",
                    "exit_reason": "",
                }
            ),
        ]
    )
    f = tk.follow_up(sp2, pe2, months=12, end_of_data="2020-01-01")
    reasons = {e.reason: e.n for e in f.excluded}
    assert reasons == {
        "persons without spells": 1,
        "origin after the end of data": 1,
        "spells of persons not in `persons`": 1,
    }
    assert list(f.person_ids) == [1]
    with pytest.raises(DataError, match="no persons left"):
        tk.follow_up(sp2, pe2.iloc[1:], months=12, end_of_data="2020-01-01")
    with pytest.raises(DesignError, match="horizons"):
        f.outcomes([13])
    with pytest.raises(DesignError, match="outcome"):
        f.outcomes([12], outcomes=["happiness"])


def test_several_censoring_columns_earliest_wins():
    sp, pe = make(
        [(1, "2018-01-01", None, "unemployed", ""), (2, "2018-01-01", None, "unemployed", "")],
        [(1, "2018-01-01", "control"), (2, "2018-01-01", "treatment")],
    )
    pe["emigrated"] = pd.to_datetime(["2018-05-20", None])
    pe["died"] = pd.to_datetime(["2018-02-20", "2018-04-14"])
    f = tk.follow_up(sp, pe, months=6, end_of_data="2020-01-01", censor=["emigrated", "died"])
    assert f.status.loc[1].tolist() == [
        U,
        U,
        CENSORED,
        CENSORED,
        CENSORED,
        CENSORED,
    ]  # 20 Feb > 15 Feb
    assert f.status.loc[2].tolist() == [U, U, U, CENSORED, CENSORED, CENSORED]


def test_numeric_exit_codes_are_read_as_register_codes():
    sp, pe = make(
        [
            (1, "2018-01-01", "2018-03-31", "unemployed", "03"),
            (1, "2018-04-01", None, "employed", ""),
        ],
        [(1, "2018-01-01", "control")],
    )
    sp["exit_reason"] = [3, np.nan]
    f = tk.follow_up(sp, pe, months=6, end_of_data="2019-01-01")
    assert f.person_outcomes().loc[1, "exit_reason"] == "03"
    assert f.person_outcomes().loc[1, "exit_route"] == "employed"


def test_joblib_partitions_give_the_serial_panel(small):
    f = tk.followup._extras._toy_follow_up()
    pe = f.persons.reset_index()
    seg = f.segments
    # rebuild spells from the toy's resolved segments (no overlaps there) and rerun in parallel
    sp = pd.DataFrame(
        {
            "person_id": f.person_ids[seg["person"]],
            "start": pd.to_datetime(seg["start"], unit="D"),
            "end": pd.to_datetime(seg["stop"] - 1, unit="D"),
            "state": [tk.followup.STATES[c - 1] for c in seg["code"]],
            "exit_reason": "",
        }
    )
    kw = dict(months=12, censor="censor_date", end_of_data="2019-06-30")
    serial = tk.follow_up(sp, pe, **kw)
    par = tk.follow_up(sp, pe, backend="joblib", n_jobs=2, n_partitions=4, **kw)
    np.testing.assert_array_equal(serial.codes, par.codes)
    np.testing.assert_array_equal(serial.codes, f.codes)
    pd.testing.assert_frame_equal(serial.outcomes([6, 12]), par.outcomes([6, 12]))


def test_follow_up_to_dict_is_aggregate_and_consistent():
    import json

    from trialkit.followup._extras import _toy_follow_up

    f = _toy_follow_up()
    d = json.loads(json.dumps(f.to_dict()))
    assert d["n_obs"] == f.n_persons == 200
    assert d["persons_per_arm"] == {"treatment": 100, "control": 100}
    # person-months add up to the panel, and match a direct count of each state
    assert sum(d["person_months_by_state"].values()) == f.codes.size
    assert d["person_months_by_state"]["censored"] == int((f.codes == -1).sum())
    assert d["person_months_by_state"].get("employed", 0) == int(
        (f.status_labels().to_numpy() == "employed").sum()
    )
    # aggregate only: its size does not grow with the number of persons
    assert len(json.dumps(d)) < 600
    pd.testing.assert_frame_equal(f.to_frame(), f.outcomes())
