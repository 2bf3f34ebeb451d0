"""Power, sample size and minimum detectable effects, before the trial starts.

Design classes, each with the verbs ``power(...)``, ``sample_size(...)`` and
``mde(...)`` returning a :class:`PowerResult`:

* :class:`IndividualRCT` -- persons randomised; continuous or binary outcomes,
  unequal allocation, covariates, attrition, take-up, several arms;
* :class:`ClusterRCT` -- municipalities or offices randomised (PowerUp!-style);
* :class:`SteppedWedge` -- phased roll-out (Hussey & Hughes 2007 and extensions);
* :class:`DiDPower` -- baseline and follow-up rounds: ANCOVA, DiD, POST (McKenzie 2012);
* :class:`Survival` -- time to re-employment: events (Schoenfeld, Freedman),
  accrual, follow-up, drop-out, and restricted mean survival time.

:func:`simulate` estimates power by simulation for anything else.

Examples
--------
>>> import trialkit as tk
>>> tk.power.IndividualRCT(outcome="continuous", sd=1.0).sample_size(effect=0.5, power=0.8).n_total
128
"""

from __future__ import annotations

from trialkit.power._result import PowerResult, SimulationPowerResult
from trialkit.power.cluster import ClusterRCT
from trialkit.power.did import DiDPower
from trialkit.power.individual import IndividualRCT
from trialkit.power.simulation import cluster_difference_test, simulate
from trialkit.power.stepped_wedge import SteppedWedge
from trialkit.power.survival import Survival

__all__ = [
    "PowerResult",
    "SimulationPowerResult",
    "IndividualRCT",
    "ClusterRCT",
    "Survival",
    "SteppedWedge",
    "DiDPower",
    "simulate",
    "cluster_difference_test",
]
