"""Plots: survival curves with an at-risk table, cumulative incidence, effects by horizon."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import trialkit as tk

REF = Path(__file__).resolve().parents[1] / "reference" / "followup"


def test_kaplan_meier_plot_curves_and_at_risk_table():
    d = pd.read_csv(REF / "rossi.csv")
    km = tk.followup.kaplan_meier(d, duration="week", event="arrest", group="fin")
    ax = km.plot(n_ticks=5)
    lines = ax.get_lines()
    assert len(lines) == 2
    tab = km.to_frame()
    for line, (_, part) in zip(lines, tab.groupby("group", sort=False)):
        # drawn steps: 1 at time 0, then the estimates, then the last value carried to the end
        np.testing.assert_allclose(line.get_ydata()[1:-1], part["survival"].to_numpy())
    table = ax.tables[0]
    cells = table.get_celld()
    ticks = np.linspace(0, 52, 5)
    expected = km.at_risk(ticks)
    # row 1..2 are groups, column 0..4 the tick times (row 0 holds the column labels)
    got = [[int(cells[(r, c)].get_text().get_text()) for c in range(5)] for r in (1, 2)]
    assert got == expected.to_numpy().tolist()
    assert expected.iloc[:, 0].tolist() == [216, 216]


def test_cumulative_incidence_plot():
    d = pd.read_csv(REF / "rossi.csv")
    ci = tk.followup.cumulative_incidence(d, duration="week", cause="cause", group="fin")
    ax = ci.plot()
    assert len(ax.get_lines()) == 4
    ax2 = ci.plot(cause=2)
    assert len(ax2.get_lines()) == 2
    last = ci.to_frame().query("group == 1 and cause == 2")["incidence"].to_numpy()
    np.testing.assert_allclose(ax2.get_lines()[1].get_ydata()[1:], last)
