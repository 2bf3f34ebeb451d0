"""Property tests (hypothesis) for the status panel, outcomes and Kaplan-Meier."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

import trialkit as tk
from trialkit.followup import CENSORED, DEFAULT_PRIORITY, GAP, STATE_CODES, STATES

BASE = pd.Timestamp("2016-01-01")
SHIFT_28_YEARS = pd.Timedelta(
    days=10227
)  # the Gregorian calendar repeats after 28 years (1901-2099)
MONTHS = 18


@st.composite
def registers(draw):
    n = draw(st.integers(1, 6))
    rows = []
    persons = []
    for pid in range(n):
        origin = draw(st.integers(0, 250))
        persons.append(
            (pid, BASE + pd.Timedelta(days=origin), draw(st.sampled_from(["control", "treatment"])))
        )
        for _ in range(draw(st.integers(1, 5))):
            s = draw(st.integers(0, 900))
            length = draw(st.one_of(st.none(), st.integers(0, 500)))
            state = draw(st.sampled_from(STATES))
            code = "" if length is None else draw(st.sampled_from(["01", "03", "05", "11", ""]))
            rows.append(
                (
                    pid,
                    BASE + pd.Timedelta(days=s),
                    None if length is None else BASE + pd.Timedelta(days=s + length),
                    state,
                    code,
                )
            )
    sp = pd.DataFrame(rows, columns=["person_id", "start", "end", "state", "exit_reason"])
    sp["end"] = pd.to_datetime(sp["end"])
    pe = pd.DataFrame(persons, columns=["person_id", "entry_date", "arm"])
    eod = BASE + pd.Timedelta(days=draw(st.integers(300, 1200)))
    return sp, pe, eod


def brute_status(sp, pe, eod, months, ref_day=15):
    """Slow reference: loop over persons and months, apply the priority rule directly."""
    rank = {s: i for i, s in enumerate(DEFAULT_PRIORITY)}
    out = {}
    for _, p in pe.iterrows():
        o = p["entry_date"]
        if o > eod or not (sp["person_id"] == p["person_id"]).any():
            continue
        mine = sp[sp["person_id"] == p["person_id"]]
        row = []
        for m in range(months):
            first = (o.to_period("M") + m).to_timestamp() + pd.Timedelta(days=min(o.day - 1, 27))
            ref = first + pd.Timedelta(days=ref_day - 1)
            if ref > eod:
                row.append(CENSORED)
                continue
            end = mine["end"].fillna(eod)
            cover = mine[(mine["start"] <= ref) & (end >= ref)]
            if len(cover) == 0:
                row.append(GAP)
            else:
                best = min(cover["state"], key=lambda s: rank[s])
                row.append(STATE_CODES[best])
        out[p["person_id"]] = row
    return out


@given(registers())
def test_status_matches_brute_force_and_one_state_per_month(reg):
    sp, pe, eod = reg
    f = tk.follow_up(sp, pe, months=MONTHS, end_of_data=eod)
    ref = brute_status(sp, pe, eod, MONTHS)
    assert sorted(ref) == sorted(f.person_ids)
    for pid, row in ref.items():
        assert f.status.loc[pid].tolist() == row
    codes = f.codes
    assert set(np.unique(codes)) <= set(STATE_CODES.values())
    # total months add up: every observed month is in exactly one state
    counts = sum((codes == c).sum(axis=1) for c in STATE_CODES.values())
    assert (counts == MONTHS).all()
    assert ((codes != CENSORED).sum(axis=1) == f.observed.sum(axis=1).to_numpy()).all()


@given(registers())
def test_days_add_up_and_cumulative_outcomes_monotone(reg):
    sp, pe, eod = reg
    f = tk.follow_up(sp, pe, months=MONTHS, end_of_data=eod)
    hs = [3, 6, 12, 18]
    o = f.outcomes(hs, person_level=False)
    for name in (
        "months_employed",
        "months_unemployed",
        "days_employed",
        "days_unemployed",
        "ever_employed",
        "sustained_employed",
        "days_jobseeker",
    ):
        mat = o[[f"{name}_{h}m" for h in hs]].to_numpy()
        for a, b in zip(mat.T[:-1], mat.T[1:]):
            ok = ~np.isnan(a) & ~np.isnan(b)
            assert (b[ok] >= a[ok]).all(), name
    # days in the window: employed + unemployed + service + ... never exceed the window
    window = (f.bounds[:, hs] - f.origin_day[:, None]).astype(float)
    tot = sum(f.outcome_matrix(n, hs) for n in ("days_employed", "days_jobseeker"))
    ok = ~np.isnan(tot)
    assert (tot[ok] <= window[ok]).all()
    # months employed + unemployed + service <= h
    m = sum(
        f.outcome_matrix(n, hs) for n in ("months_employed", "months_unemployed", "months_service")
    )
    ok = ~np.isnan(m)
    assert (m[ok] <= np.array(hs)[None, :].repeat(len(m), 0)[ok]).all()


@given(registers())
def test_shifting_all_dates_changes_nothing(reg):
    sp, pe, eod = reg
    f0 = tk.follow_up(sp, pe, months=MONTHS, end_of_data=eod)
    sp1 = sp.assign(start=sp["start"] + SHIFT_28_YEARS, end=sp["end"] + SHIFT_28_YEARS)
    pe1 = pe.assign(entry_date=pe["entry_date"] + SHIFT_28_YEARS)
    f1 = tk.follow_up(sp1, pe1, months=MONTHS, end_of_data=eod + SHIFT_28_YEARS)
    np.testing.assert_array_equal(f0.codes, f1.codes)
    pd.testing.assert_frame_equal(f0.outcomes([6, 18]), f1.outcomes([6, 18]))
    # row order of the spells does not matter either
    f2 = tk.follow_up(sp.sample(frac=1.0, random_state=1), pe, months=MONTHS, end_of_data=eod)
    np.testing.assert_array_equal(f0.codes, f2.codes)
    assert f0.overlaps_resolved == f2.overlaps_resolved
    # building the panel by partitions of persons gives the same panel and outcomes
    f3 = tk.follow_up(sp, pe, months=MONTHS, end_of_data=eod, n_partitions=3)
    np.testing.assert_array_equal(f0.codes, f3.codes)
    pd.testing.assert_frame_equal(f0.outcomes([6, 18]), f3.outcomes([6, 18]))


@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.booleans(), st.integers(0, 2)), min_size=1, max_size=60
    )
)
def test_kaplan_meier_non_increasing_in_unit_interval(rows):
    df = pd.DataFrame(rows, columns=["t", "e", "g"]).assign(e=lambda d: d["e"].astype(int))
    if df["e"].sum() == 0:
        df.loc[0, "e"] = 1
    tab = tk.followup.kaplan_meier(df, duration="t", event="e", group="g").to_frame()
    for _, part in tab.groupby("group"):
        s = part["survival"].to_numpy()
        assert ((s >= 0) & (s <= 1)).all()
        assert (np.diff(s) <= 1e-15).all()
        lo, hi = part["ci_low"].to_numpy(), part["ci_high"].to_numpy()
        ok = ~np.isnan(lo)
        assert (
            (lo[ok] <= s[ok] + 1e-12).all()
            and (hi[ok] >= s[ok] - 1e-12).all()
            and (hi[ok] <= 1).all()
        )
