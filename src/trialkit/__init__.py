"""trialkit: design, randomise and evaluate trials of employment services.

One path through the library::

    declare -> power -> randomise -> (run the trial) -> match / did / followup -> report

Modules are nouns and the stage entry points are verbs re-exported here::

    import trialkit as tk
    reg = tk.datasets.make_register(n_persons=20_000, seed=0)
    a = tk.randomise(reg.persons, id="person_id", strata=["duration_band"], seed=2017)

Submodules are imported lazily, so ``import trialkit`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trialkit import errors, results
from trialkit._parallel import configure
from trialkit._version import __version__
from trialkit.errors import (
    DataError,
    DesignError,
    EstimationError,
    TrialkitError,
    TrialkitWarning,
)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from trialkit import (  # noqa: F401
        datasets,
        design,
        diffindiff,
        evaluation,
        followup,
        matching,
        power,
        randomisation,
        report,
        scale,
    )
    from trialkit.design import TrialDesign  # noqa: F401
    from trialkit.diffindiff import did  # noqa: F401
    from trialkit.evaluation import evaluate_observational  # noqa: F401
    from trialkit.followup import follow_up  # noqa: F401
    from trialkit.matching import match  # noqa: F401
    from trialkit.randomisation import randomise, verify  # noqa: F401
    from trialkit.report import build_report  # noqa: F401

_MODULES = (
    "datasets",
    "design",
    "evaluation",
    "randomisation",
    "power",
    "matching",
    "diffindiff",
    "followup",
    "report",
    "scale",
)
_VERBS = {
    "randomise": "randomisation",
    "verify": "randomisation",
    "match": "matching",
    "did": "diffindiff",
    "follow_up": "followup",
    "build_report": "report",
    "TrialDesign": "design",
    "evaluate_observational": "evaluation",
}

__all__ = [
    "__version__",
    "configure",
    "errors",
    "results",
    "TrialkitError",
    "DataError",
    "DesignError",
    "EstimationError",
    "TrialkitWarning",
    *_MODULES,
    *_VERBS,
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = importlib.import_module(f"trialkit.{name}")
        globals()[name] = module
        return module
    if name in _VERBS:
        module = importlib.import_module(f"trialkit.{_VERBS[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trialkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
