"""How well a generated register reproduces the brief's figures: :func:`calibration`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trialkit.datasets import _core

if TYPE_CHECKING:  # pragma: no cover
    from trialkit.datasets._register import Register

__all__ = ["calibration", "new_spell_survival", "return_rate"]


def _new_spells(reg: Register, first: str, last: str) -> pd.DataFrame:
    """Unemployment spells that start in [first, last] and are free of sampling bias.

    Persons are sampled from the *stock* at origin, so a spell that was already
    going on at origin is length-biased; only spells starting at or after origin
    (entries with ``duration_months == 0`` and every re-entry) are a fair sample
    of new spells. Treated persons are left out (the figures are for no trial).
    """
    p = reg.persons[["person_id", "origin", "treated"]]
    s = reg.spells
    s = s[(s["state"] == "unemployed") & (s["start"] >= first) & (s["start"] <= last)]
    s = s.merge(p, on="person_id", how="left")
    s = s[(s["start"] >= s["origin"]) & ~s["treated"]]
    return s


def new_spell_survival(
    reg: Register,
    *,
    first: str = "2016-08-01",
    last: str = "2017-07-31",
    months: tuple[int, ...] = (1, 3, 6, 12),
) -> dict[int, float]:
    """Share of new unemployment spells (started in [first, last]) still going after k months.

    A spell of ``D`` whole months (start month to end month inclusive) is still
    going after ``k`` months when ``D > k``; spells censored before ``k`` months
    are not in these cohorts (extraction is years later).
    """
    s = _new_spells(reg, first, last)
    start_m = s["start"].to_numpy().astype("datetime64[M]").astype(np.int64)
    end = s["end"]
    end_m = np.where(
        end.isna(),
        np.iinfo(np.int64).max // 2,
        end.to_numpy().astype("datetime64[M]").astype(np.int64),
    )
    dur = end_m - start_m + 1
    return {k: float(np.mean(dur > k)) for k in months}


def return_rate(reg: Register, *, within: int = 12) -> float:
    """The "revolving door": share of exits from unemployment that come back within ``within`` months.

    Exits counted are unemployment spells that ended in work, education or out
    of the labour force (the client relationship ends; services keep the
    person a client). A return is a new unemployment spell starting within
    ``within`` months of the end (month of the exit + ``within``).
    Only exits at least ``within`` months before the extraction date count.
    """
    s = reg.spells
    un = s[s["state"] == "unemployed"][["person_id", "start", "end", "next_state"]].copy()
    un["next_start"] = un.groupby("person_id")["start"].shift(-1)
    ended = un[un["end"].notna() & (un["next_state"] != "service")]
    limit = pd.Timestamp(reg.params["end"]) - pd.DateOffset(months=within)
    ended = ended[ended["end"] <= limit]
    end_m = ended["end"].to_numpy().astype("datetime64[M]").astype(np.int64)
    nxt = ended["next_start"]
    nxt_m = np.where(
        nxt.isna(),
        np.iinfo(np.int64).max // 2,
        nxt.to_numpy().astype("datetime64[M]").astype(np.int64),
    )
    return float(np.mean(nxt_m - end_m <= within))


def calibration(reg: Register) -> pd.DataFrame:
    """Targets from the brief next to what the register achieves.

    Survival of new unemployment spells against Table 3.1 (both cohorts), the
    revolving door (returns within 12 and 6 months), the exit reasons of the
    long-term unemployed outside the trial areas, the split of all exits into
    work / services / out of the labour force or education, and the long-term
    share of the stock.

    Parameters
    ----------
    reg : Register
        From :func:`trialkit.datasets.make_register`.

    Returns
    -------
    DataFrame
        Indexed by ``target``, columns ``source``, ``target_value``, ``achieved``.

    Examples
    --------
    >>> import trialkit as tk
    >>> reg = tk.datasets.make_register(n_persons=3000, seed=0, truth_n=2000)
    >>> list(tk.datasets.calibration(reg).columns)
    ['source', 'target_value', 'achieved']
    """
    rows: list[tuple[str, str, float, float]] = []
    s16 = new_spell_survival(reg)
    for k, v in s16.items():
        rows.append(
            (
                f"still unemployed after {k} mo, cohort 8/2016-7/2017",
                "Table 3.1",
                _core.TABLE31_STILL[k] / _core.TABLE31_NEW,
                v,
            )
        )
    s17 = new_spell_survival(reg, first="2017-08-01", last="2018-07-31")
    for k, v in s17.items():
        rows.append(
            (
                f"still unemployed after {k} mo, cohort 8/2017-7/2018",
                "Table 3.1",
                _core.TABLE31_STILL_1718[k] / _core.TABLE31_NEW_1718,
                v,
            )
        )
    rows.append(
        (
            "return to unemployment within 12 mo of exit",
            "brief: revolving door ~30 %",
            0.30,
            return_rate(reg),
        )
    )
    rows.append(
        (
            "return to unemployment within 6 mo of exit",
            "brief: revolving door ~30 %",
            0.30,
            return_rate(reg, within=6),
        )
    )
    # exit routes of the long-term unemployed (untreated, not in trial areas), 8/2017-10/2018
    s = reg.spells
    p = reg.persons[["person_id", "area"]]
    un = s[(s["state"] == "unemployed") & s["end"].between("2017-07-01", "2018-10-31")].merge(
        p, on="person_id"
    )
    dur = (
        un["end"].to_numpy().astype("datetime64[M]").astype(np.int64)
        - un["start"].to_numpy().astype("datetime64[M]").astype(np.int64)
        + 1
    )
    ltu = un[(dur >= 12) & (un["area"] == "non-trial")]
    shares = ltu["exit_reason"].value_counts(normalize=True)
    for code, target, label in (
        ("12", 0.079, "rehabilitative work activity (12)"),
        ("11", 0.147, "coaching / work trial (11)"),
        ("03", 0.141, "found work themselves (03)"),
        ("05", 0.165, "moved out of the labour force (05)"),
    ):
        rows.append(
            (
                f"LTU exits to {label}, rest of Finland",
                "brief: exit reasons",
                target,
                float(shares.get(code, 0.0)),
            )
        )
    # exits to employment / services / out of LF: a third each (example month)
    allx = s[(s["state"] == "unemployed") & s["end"].notna()]
    route = allx["next_state"].astype(str)
    for label, states in (
        ("work", ("employed", "subsidised")),
        ("services", ("service",)),
        ("out of labour force or education", ("out_of_labour_force", "education")),
    ):
        rows.append(
            (
                f"share of exits from unemployment to {label}",
                "brief: outflow a third each",
                1 / 3,
                float(route.isin(states).mean()),
            )
        )
    per = reg.persons
    rows.append(
        (
            "long-term (12+ mo) share of the unemployed at origin",
            "TEM statistics 2016-2018 (about a third)",
            1 / 3,
            float((per["duration_months"] >= 12).mean()),
        )
    )
    return pd.DataFrame(rows, columns=["target", "source", "target_value", "achieved"]).set_index(
        "target"
    )
