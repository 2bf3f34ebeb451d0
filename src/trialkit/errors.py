"""Exceptions and warnings raised by trialkit.

Every error a user can cause derives from :class:`TrialkitError`, so a script
(or the command line) can catch user errors separately from programming bugs.

* :class:`DataError` -- the input data are wrong: a column is missing, has the
  wrong type, holds missing values or duplicate ids.
* :class:`DesignError` -- the requested design is impossible or inconsistent
  (e.g. more arms than units in a stratum, power below alpha).
* :class:`EstimationError` -- an estimator could not produce a number
  (singular design matrix, no treated units left after trimming, ...).

Warnings derive from :class:`TrialkitWarning`; filter them as a group with
``warnings.simplefilter("ignore", tk.errors.TrialkitWarning)``.
"""

from __future__ import annotations

__all__ = [
    "TrialkitError",
    "DataError",
    "DesignError",
    "EstimationError",
    "TrialkitWarning",
    "FewClustersWarning",
    "ConvergenceWarning",
    "ExcludedRowsWarning",
    "BalanceWarning",
]


class TrialkitError(Exception):
    """Base class of every error raised on purpose by trialkit."""


class DataError(TrialkitError, ValueError):
    """Input data are unusable: missing or mistyped columns, missing values, duplicate ids."""


class DesignError(TrialkitError, ValueError):
    """A design or power problem is impossible or inconsistently specified."""


class EstimationError(TrialkitError, RuntimeError):
    """An estimator failed to produce a result (singular matrix, empty group, ...)."""


class TrialkitWarning(UserWarning):
    """Base class of trialkit's warnings."""


class FewClustersWarning(TrialkitWarning):
    """Cluster-robust inference with few (treated) clusters is unreliable.

    Raised, with the count, whenever a cluster-robust standard error is computed
    from fewer clusters than the threshold of the estimator (default 30 clusters,
    or fewer than 10 treated clusters). Prefer the wild cluster bootstrap or
    randomisation inference then.
    """


class ConvergenceWarning(TrialkitWarning):
    """An iterative solver stopped before it converged; results carry ``converged=False``."""


class ExcludedRowsWarning(TrialkitWarning):
    """Rows were excluded from an analysis; the result records how many and why."""


class BalanceWarning(TrialkitWarning):
    """Covariate balance is poor (standardised mean difference above the threshold)."""
