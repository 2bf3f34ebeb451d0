"""Randomisation: auditable assignment, balance, randomisation inference, RCT estimators.

Entry points (re-exported as ``tk.randomise`` and ``tk.verify``)::

    a = tk.randomise(units, id="person_id", strata=["duration_band"], seed=2017)
    a.table, a.certificate
    tk.verify(units, a.certificate)             # True when it re-derives exactly
    a.balance(units, covariates=["age"]).to_frame()
    tk.randomisation.itt(data, outcome="employed_12m", arm="arm")
    tk.randomisation.randomisation_test(data, outcome="y", assignment=a)
    tk.randomisation.SequentialRandomiser(path, arms=[...], strata=[...])
"""

from __future__ import annotations

from trialkit.randomisation.assignment import (
    METHODS,
    Assignment,
    VerifyReport,
    randomise,
    verify,
    verify_details,
)
from trialkit.randomisation.diagnostics import Balance, balance
from trialkit.randomisation.estimators import itt
from trialkit.randomisation.inference import RandomisationTest, randomisation_test
from trialkit.randomisation.sequential import SequentialRandomiser, verify_log

__all__ = [
    "randomise",
    "verify",
    "verify_details",
    "Assignment",
    "VerifyReport",
    "METHODS",
    "balance",
    "Balance",
    "itt",
    "randomisation_test",
    "RandomisationTest",
    "SequentialRandomiser",
    "verify_log",
]
