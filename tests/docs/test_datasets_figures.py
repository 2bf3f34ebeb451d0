"""The truth figures quoted in docs/datasets.md are those make_register gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import trialkit as tk

PAGE = Path(__file__).resolve().parents[2] / "docs" / "datasets.md"


@pytest.mark.slow
def test_quoted_truth_figures_match_the_register():
    text = PAGE.read_text(encoding="utf-8")
    quoted = re.findall(r'`(att|ate_eligible)\["(\w+)"\]` = ([+\u2212-])(\d+\.(\d+))', text)
    assert len(quoted) >= 6
    truth = tk.datasets.make_register(n_persons=200_000, seed=2017).truth
    for table, key, sign, number, decimals in quoted:
        value = float(number) * (-1.0 if sign in "\u2212-" else 1.0)
        got = truth[table][key]
        assert abs(got - value) <= 0.5 * 10 ** -len(decimals) + 1e-12, (table, key, got, value)
    untreated = re.search(r"\((\d\.\d+) untreated\)", text)
    assert untreated is not None
    assert truth["att_means"]["untreated"]["employed_24m"] == pytest.approx(
        float(untreated.group(1)), abs=5e-4
    )
