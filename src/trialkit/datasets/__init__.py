"""Example data: a synthetic Finnish register extract with known true effects.

:func:`make_register` builds persons, spells and a municipality x month panel
calibrated on the figures of the YTYÄ final report (see docs/datasets.md), with
the true effects of the built-in treatment in ``Register.truth``.
:func:`simulate_spells` simulates register spells of any persons under any
treatment assignment (e.g. a randomisation done with :func:`trialkit.randomise`),
and :func:`true_effects` gives the true effects for any set of persons.
"""

from __future__ import annotations

from trialkit.datasets._calibration import calibration
from trialkit.datasets._register import (
    AGE_BANDS,
    DURATION_BANDS,
    EXIT_CODES,
    OUTCOMES,
    ROUTES,
    STATES,
    TRIAL_AREA_NAMES,
    Register,
    make_register,
    simulate_spells,
    true_effects,
)

__all__ = [
    "Register",
    "make_register",
    "simulate_spells",
    "true_effects",
    "calibration",
    "STATES",
    "EXIT_CODES",
    "ROUTES",
    "OUTCOMES",
    "TRIAL_AREA_NAMES",
    "DURATION_BANDS",
    "AGE_BANDS",
]
