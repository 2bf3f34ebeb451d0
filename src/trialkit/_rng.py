"""One way to turn a user's ``seed`` into random numbers.

Every function in trialkit that draws random numbers takes ``seed`` and resolves
it exactly once through :func:`as_generator` (or :func:`as_seed_sequence` when
it needs child streams). The global NumPy random state is never touched.

Replications (simulations, bootstraps, randomisation-inference draws) get one
child seed *per replication index* from :func:`child_seeds`, so a result never
depends on how the replications were chunked or how many workers ran them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trialkit._typing import SeedLike
from trialkit.errors import DesignError

__all__ = ["as_generator", "as_seed_sequence", "seed_record", "child_seeds"]


def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Resolve ``seed`` into a :class:`numpy.random.SeedSequence`.

    Parameters
    ----------
    seed : int, numpy.random.Generator, numpy.random.SeedSequence or None
        ``None`` draws fresh entropy from the operating system; the entropy is
        kept in the returned sequence (``.entropy``) so the run can be replayed.
        A ``Generator`` is consumed: 128 bits are drawn from it.

    Returns
    -------
    numpy.random.SeedSequence

    Raises
    ------
    DesignError
        If ``seed`` is a negative integer or of another type.

    Examples
    --------
    >>> as_seed_sequence(2017).entropy
    2017
    """
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        words = seed.integers(0, 2**32, size=4, dtype=np.uint64)
        return np.random.SeedSequence([int(w) for w in words])
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if int(seed) < 0:
            raise DesignError(f"`seed` must be a non-negative integer; got {int(seed)!r}")
        return np.random.SeedSequence(int(seed))
    raise DesignError(
        "`seed` must be an int, numpy.random.Generator, numpy.random.SeedSequence or None; "
        f"got {type(seed).__name__}"
    )


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Resolve ``seed`` into a :class:`numpy.random.Generator`.

    A ``Generator`` is returned unchanged (the caller keeps control of its
    stream); anything else goes through :func:`as_seed_sequence` and PCG64.

    Examples
    --------
    >>> float(as_generator(0).random()) == float(as_generator(0).random())
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.Generator(np.random.PCG64(as_seed_sequence(seed)))


def seed_record(
    seed: SeedLike | np.random.SeedSequence,
) -> int | list[int] | dict[str, Any] | str | None:
    """JSON-safe record of a seed, so that a result can say how to replay it.

    An ``int`` is returned as is; a ``SeedSequence`` as its entropy (a dict of
    entropy and spawn key when it is a child); a ``Generator`` cannot be replayed from a record and
    gives the string ``"generator"``.

    Examples
    --------
    >>> seed_record(7)
    7
    """
    if seed is None:
        return None
    if isinstance(seed, np.random.Generator):
        return "generator"
    if isinstance(seed, np.random.SeedSequence):
        ent = seed.entropy
        ent_rec: int | list[int] = (
            int(ent)
            if isinstance(ent, (int, np.integer))
            else [int(e) for e in np.ravel(ent or [])]
        )
        if seed.spawn_key:
            return {"entropy": ent_rec, "spawn_key": [int(k) for k in seed.spawn_key]}
        return ent_rec
    return int(seed)


def child_seeds(seed: SeedLike, n: int, *, start: int = 0) -> list[np.random.SeedSequence]:
    """Child seed sequences for replications ``start .. start + n - 1``.

    Child ``i`` depends only on the parent seed and ``i`` -- not on chunking,
    the number of workers or the order of execution.

    Examples
    --------
    >>> a = child_seeds(1, 5)
    >>> b = child_seeds(1, 2, start=3)
    >>> a[3].generate_state(1)[0] == b[0].generate_state(1)[0]
    True
    """
    parent = as_seed_sequence(seed)
    return [
        np.random.SeedSequence(
            entropy=parent.entropy,
            spawn_key=(*parent.spawn_key, i),
            pool_size=parent.pool_size,
        )
        for i in range(start, start + n)
    ]
