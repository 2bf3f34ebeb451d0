"""Randomisation (Fisher) inference by redrawing the design's own mechanism.

Draws come in blocks: a block is a ``(D, n)`` matrix of assignments produced
with numpy in one go (permutations within strata, whole clusters, Bernoulli
draws, with the re-randomisation acceptance rule applied), so no Python loop
runs over draws or units. Blocks go through :func:`trialkit._parallel.map_replications`,
one child seed per block: results do not depend on the backend or ``n_jobs``.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

import numpy as np
import pandas as pd

from trialkit._checks import (
    as_list,
    require_columns,
    require_finite,
    require_frame,
    require_no_missing,
    require_numeric,
)
from trialkit._parallel import map_replications
from trialkit._rng import as_seed_sequence, seed_record
from trialkit._typing import SeedLike
from trialkit.errors import DataError, DesignError
from trialkit.randomisation import _core
from trialkit.results import EffectTable

__all__ = ["randomisation_test", "RandomisationTest", "Mechanism", "mechanism_from"]

DrawMethod = Literal["complete", "bernoulli"]
_BLOCK_CELLS = 2_000_000  # draws x units per block: bounds the memory of a block


@dataclass(frozen=True)
class Mechanism:
    """How assignments are redrawn, as arrays over the units of the analysis.

    ``z`` holds observed arm codes of the units; with ``cluster`` the draws are
    made over clusters (``level_z``, ``level_strata``) and broadcast. ``mode``
    ``"permute"`` permutes the observed labels within strata (complete,
    stratified, matched-pair, cluster and re-randomised designs); ``"bernoulli"``
    redraws independently with probabilities ``p``.
    """

    mode: str
    level_z: (
        np.ndarray
    )  # observed codes of the randomised units (persons or clusters), stratum-sorted
    level_strata: np.ndarray  # stratum code per randomised unit, sorted ascending
    unit_to_level: np.ndarray  # position of each analysed unit in the level arrays
    p: np.ndarray | None = None
    covariates: np.ndarray | None = None  # unit-level, for the re-randomisation rule
    threshold: float | None = None
    n_arms: int = 2  # arms of the re-randomisation statistic (codes 0 .. n_arms-1)
    identity: bool = False  # analysed units are the randomised units, in stratum order
    clustered: bool = False

    @property
    def n_strata(self) -> int:
        return int(self.level_strata.max(initial=0)) + 1

    def _raw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.mode == "bernoulli":
            assert self.p is not None
            cp = np.cumsum(self.p)
            cp[-1] = 1.0
            return np.searchsorted(cp, rng.random((size, self.level_z.size)), side="right").astype(
                np.uint8
            )
        return _core.permute_within(self.level_z, self.level_strata, size, rng)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``(size, n_units)`` arm codes of the analysed units."""
        if self.threshold is None:
            raw = self._raw(rng, size)
            return raw if self.identity else raw[:, self.unit_to_level]
        out: list[np.ndarray] = []
        got = 0
        tries = 0
        while got < size:
            Z = self._raw(rng, max(size, 64))[:, self.unit_to_level]
            ok = _mahalanobis_rows(self.covariates, Z, self.n_arms) <= self.threshold
            out.append(Z[ok])
            got += int(ok.sum())
            tries += 1
            if tries > 10_000:
                raise DesignError(
                    "re-randomisation rule accepts almost no draws; cannot redraw the design"
                )
        return np.concatenate(out)[:size]


def _mahalanobis_rows(X: np.ndarray | None, Z: np.ndarray, n_arms: int) -> np.ndarray:
    r"""The re-randomisation balance statistic for each row of a (D, n) matrix of arm codes.

    :math:`M = \sum_j n_j (\bar x_j - \bar x)' S^{-1} (\bar x_j - \bar x)` over the
    ``n_arms`` arms (Morgan & Rubin 2012; with two arms their
    :math:`(\bar x_1-\bar x_0)'[S(1/n_1+1/n_0)]^{-1}(\bar x_1-\bar x_0)`), the
    statistic :func:`trialkit.randomise` used to accept a draw.
    """
    assert X is not None
    xbar = X.mean(axis=0)
    S = np.atleast_2d(np.cov(X, rowvar=False))
    pinv, _ = _core.covariance_span(S)  # constant or collinear covariates: their span
    Sinv = np.linalg.inv(S) if pinv is None else pinv
    out = np.zeros(Z.shape[0])
    for j in range(n_arms):
        T = Z == j
        nj = T.sum(axis=1).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = (T @ X) / nj[:, None] - xbar[None, :]
        out += np.where(
            nj > 0, nj * np.einsum("ij,jk,ik->i", np.nan_to_num(d), Sinv, np.nan_to_num(d)), 0.0
        )
    return out


def mechanism_from(
    arm_codes: np.ndarray,
    *,
    strata: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
    method: DrawMethod = "complete",
    p: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
    threshold: float | None = None,
    n_arms: int | None = None,
) -> Mechanism:
    """Build a :class:`Mechanism` from unit-level arm codes and design columns."""
    z = np.asarray(arm_codes, dtype=np.uint8)
    n = z.size
    s = (
        np.zeros(n, dtype=np.int64)
        if strata is None
        else np.unique(strata, return_inverse=True)[1].reshape(-1)
    )
    if cluster is None:
        level = np.arange(n)
        lz, ls = z, s
    else:
        cc = np.unique(cluster, return_inverse=True)[1].reshape(-1)
        n_cl = int(cc.max()) + 1
        lz = np.zeros(n_cl, dtype=np.uint8)
        ls = np.zeros(n_cl, dtype=np.int64)
        lz[cc] = z
        ls[cc] = s
        if np.any(lz[cc] != z):
            raise DataError("arms vary within clusters; clusters must be assigned whole")
        if np.any(ls[cc] != s):
            raise DataError("strata vary within clusters")
        level = cc
    order = np.argsort(ls, kind="stable")
    pos = np.empty_like(order)
    pos[order] = np.arange(order.size)
    return Mechanism(
        mode=method,
        level_z=lz[order],
        level_strata=ls[order],
        unit_to_level=pos[level],
        p=None if p is None else np.asarray(p, dtype=float),
        covariates=covariates,
        threshold=threshold,
        n_arms=int(z.max(initial=0)) + 1 if n_arms is None else int(n_arms),
        identity=bool(np.array_equal(pos[level], np.arange(n))),
        clustered=cluster is not None,
    )


def _block_stats(
    rng: np.random.Generator,
    i: int,
    *,
    mech: Mechanism,
    size: int,
    n_draws: int,
    pairs: Sequence[tuple[int, int]],
    y: np.ndarray,
    strata: np.ndarray,
    blocked: bool,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Statistics ``a_d = C_d y`` and ``b_d = C_d z`` of one block of draws, per arm pair."""
    m = min(size, n_draws - i * size)
    if (
        len(pairs) == 1
        and mech.mode != "bernoulli"
        and not mech.clustered
        and mech.threshold is None
        and mech.n_strata == 1
    ):
        z_obs = mech.level_z[mech.unit_to_level]
        ctrl, arm = pairs[0]
        if np.all((z_obs == ctrl) | (z_obs == arm)):
            return _two_arm_subsets(rng, m, y=y, treated=z_obs == arm)
    Z = mech.draw(rng, m)
    return _stats_for(
        Z, pairs=pairs, y=y, z_obs_codes=None, strata=strata, blocked=blocked, mech=mech
    )


def _two_arm_subsets(
    rng: np.random.Generator, m: int, *, y: np.ndarray, treated: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Complete randomisation of two arms: draw the smaller arm as a random subset.

    ``Generator.choice(n, k, replace=False)`` shuffles only ``k`` positions, so a
    draw costs about ``min(n1, n0)`` swaps instead of ``n``; the statistics are
    then computed on the ``(m, k)`` matrix of drawn indices at once.
    """
    n = y.size
    n1 = int(treated.sum())
    n0 = n - n1
    k = min(n1, n0)
    idx = np.empty((m, k), dtype=np.int64)
    for r in range(m):  # one partial shuffle per draw (a loop over draws, not units)
        idx[r] = rng.choice(n, k, replace=False)
    zt = treated.astype(float)
    sy, sz = y[idx].sum(axis=1), zt[idx].sum(axis=1)
    if k != n1:  # the drawn subset is the control arm
        sy, sz = y.sum() - sy, n1 - sz
    c = 1.0 / n1 + 1.0 / n0
    return [(c * sy - y.sum() / n0, c * sz - n1 / n0)]


def _stats_for(
    Z: np.ndarray,
    *,
    pairs: Sequence[tuple[int, int]],
    y: np.ndarray,
    z_obs_codes: np.ndarray | None,
    strata: np.ndarray,
    blocked: bool,
    mech: Mechanism,
) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    z_obs = mech.level_z[mech.unit_to_level] if z_obs_codes is None else z_obs_codes
    for ctrl, arm in pairs:
        obs_t = z_obs == arm
        obs_c = z_obs == ctrl
        zt = obs_t.astype(float)
        two_arms = bool(np.all(obs_t | obs_c))
        if two_arms and mech.mode != "bernoulli" and not mech.clustered and not blocked:
            # the common case: T_d = sum over treated of (1/n1 + 1/n0) y - sum(y)/n0, one matmul
            Tu = Z if (arm == 1 and ctrl == 0) else (Z == arm).view(np.uint8)
            n1, n0 = obs_t.sum(), obs_c.sum()
            c = 1.0 / n1 + 1.0 / n0
            out.append((Tu @ (c * y) - y.sum() / n0, Tu @ (c * zt) - zt.sum() / n0))
            continue
        Tu = (Z == arm).view(np.uint8)  # uint8 @ float is far faster than bool @ float
        Cu = (Z == ctrl).view(np.uint8)
        if mech.mode != "bernoulli" and not mech.clustered:
            # a permutation of units keeps the counts of every arm in every stratum, so the
            # coefficients are constants per stratum: T_d = T_d'(a1 y) - C_d'(a0 y)
            if blocked:
                n_st = int(strata.max(initial=0)) + 1
                n1s = np.bincount(strata, weights=obs_t, minlength=n_st)
                n0s = np.bincount(strata, weights=obs_c, minlength=n_st)
                w = (n1s + n0s) / (n1s + n0s).sum()
                with np.errstate(divide="ignore", invalid="ignore"):
                    a1 = np.where(n1s > 0, w / n1s, 0.0)[strata]
                    a0 = np.where(n0s > 0, w / n0s, 0.0)[strata]
            else:
                a1 = np.full(y.size, 1.0 / obs_t.sum())
                a0 = np.full(y.size, 1.0 / obs_c.sum())
            out.append((Tu @ (a1 * y) - Cu @ (a0 * y), Tu @ (a1 * zt) - Cu @ (a0 * zt)))
            continue
        if blocked:  # clusters within strata: unit counts per stratum vary by draw
            st_n = int(strata.max(initial=0)) + 1
            T = Tu.view(bool)
            K = T | Cu.view(bool)
            C = np.where(K, _core.linear_statistic_coefficients(T, strata, st_n), 0.0)
            C = C * _pair_weight_fix(K, strata, st_n)
            out.append((C @ y, C @ zt))
            continue
        # Bernoulli draws or whole clusters: unit counts vary by draw
        n1 = Tu.sum(axis=1, dtype=np.int64).astype(float)
        n0 = Cu.sum(axis=1, dtype=np.int64).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(((Tu @ y) / n1 - (Cu @ y) / n0, (Tu @ zt) / n1 - (Cu @ zt) / n0))
    return out


def _bernoulli_probabilities(probabilities: Mapping[Any, float], arms: Sequence[str]) -> np.ndarray:
    """Probability vector over ``arms`` (normalised to sum 1); every arm needs one, in (0, 1]."""
    given = {str(k): v for k, v in probabilities.items()}
    missing = [a for a in arms if a not in given]
    if missing:
        raise DesignError(
            f"`probabilities` needs the probability of every arm {list(arms)}; missing for {missing}"
        )
    unknown = sorted(set(given) - set(arms))
    if unknown:
        raise DesignError(f"`probabilities` names {unknown}, which are not arms {list(arms)}")
    p = np.asarray([float(given[a]) for a in arms])
    if not np.all(np.isfinite(p) & (p > 0) & (p <= 1)):
        raise DesignError(f"`probabilities` must be in (0, 1]; got {dict(zip(arms, p.tolist()))}")
    return p / p.sum()


def _require_both_arms(
    z: np.ndarray,
    strata: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    labels: np.ndarray,
    arm_names: Sequence[str],
) -> None:
    """The blocked statistic needs both compared arms in every stratum holding either.

    A stratum with units of only one of the two arms has no within-stratum
    contrast; the same :class:`DataError` as :func:`~trialkit.randomisation.itt`'s
    blocked estimator is raised (nothing is dropped silently).
    """
    n_st = int(strata.max(initial=0)) + 1
    for ctrl, arm in pairs:
        n1 = np.bincount(strata, weights=z == arm, minlength=n_st)
        n0 = np.bincount(strata, weights=z == ctrl, minlength=n_st)
        bad = np.flatnonzero((n1 + n0 > 0) & ((n1 == 0) | (n0 == 0)))
        if bad.size:
            first = np.unique(strata, return_index=True)[1]  # first row of each stratum
            names = [labels[first[b]] for b in bad[:5]]
            names = [v.item() if hasattr(v, "item") else v for v in names]
            raise DataError(
                f"every block needs units of both arms; blocks {names} lack one "
                f"({bad.size} of {n_st} strata lack {arm_names[ctrl]!r} or {arm_names[arm]!r}); "
                "pool small strata or analyse without strata"
            )


def _pair_weight_fix(K: np.ndarray, strata: np.ndarray, n_st: int) -> np.ndarray | float:
    """Weights of the blocked statistic use the units of the compared pair only."""
    if K.all():
        return 1.0
    raise DesignError(
        "randomisation tests of clustered, stratified multi-arm designs are not supported"
    )


@dataclass(frozen=True, kw_only=True, eq=False)
class RandomisationTest(EffectTable):
    """Randomisation-inference result: observed statistic, Fisher p, test-inversion CI.

    ``table`` (index ``arm``): ``estimate`` (observed statistic), ``se`` (standard
    deviation of the randomisation distribution), ``ci_low``, ``ci_high`` (test
    inversion for a constant effect), ``p`` (two-sided Fisher p-value), ``n``,
    ``n_draws``. ``null_distribution`` holds the draws of the statistic under the
    sharp null of no effect, one array per arm.
    """

    title: ClassVar[str] = "Randomisation inference"
    null_distribution: Mapping[str, np.ndarray] | None = None

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Histogram of the null distribution with the observed statistic."""
        from trialkit._plotting import get_ax

        ax = get_ax(ax)
        for arm, draws in (self.null_distribution or {}).items():
            ax.hist(draws, bins=50, alpha=0.5, label=f"{arm}: null draws", **kwargs)
            ax.axvline(float(self.table.loc[arm, "estimate"]), color="black", lw=1.5)
        ax.set_xlabel("statistic")
        ax.legend(frameon=False)
        return ax


def _pvalue(a: np.ndarray, b: np.ndarray, t_obs: float, tau: float, exact: bool) -> float:
    ge = np.count_nonzero(np.abs(a - tau * b) >= np.abs(t_obs - tau) - 1e-12 * (1 + abs(t_obs)))
    if exact:
        return ge / a.size
    return (1 + ge) / (1 + a.size)


def _invert(
    a: np.ndarray, b: np.ndarray, t_obs: float, alpha: float, exact: bool
) -> tuple[float, float]:
    """Endpoints of {tau : p(tau) > alpha} by bracketing and bisection."""
    scale = float(np.std(a)) or 1.0

    def edge(direction: float) -> float:
        inside = t_obs
        step = scale
        outside = t_obs + direction * step
        k = 0
        while _pvalue(a, b, t_obs, outside, exact) > alpha:
            inside = outside
            step *= 2
            outside = t_obs + direction * step
            k += 1
            if k > 60:
                return direction * np.inf
        for _ in range(60):
            mid = 0.5 * (inside + outside)
            if _pvalue(a, b, t_obs, mid, exact) > alpha:
                inside = mid
            else:
                outside = mid
        return 0.5 * (inside + outside)

    return edge(-1.0), edge(1.0)


def _arrangements(counts: Sequence[int]) -> list[tuple[int, ...]]:
    """All distinct sequences holding ``counts[j]`` copies of label ``j``."""
    n = int(sum(counts))
    out: list[tuple[int, ...]] = []

    def rec(free: tuple[int, ...], j: int, acc: dict[int, int]) -> None:
        if j == len(counts) - 1:
            full = dict(acc)
            for pos in free:
                full[pos] = j
            out.append(tuple(full[p] for p in range(n)))
            return
        for chosen in itertools.combinations(free, counts[j]):
            rest = tuple(x for x in free if x not in chosen)
            nxt = dict(acc)
            for pos in chosen:
                nxt[pos] = j
            rec(rest, j + 1, nxt)

    rec(tuple(range(n)), 0, {})
    return out


def _multinomial(counts: Sequence[int]) -> int:
    """Number of distinct sequences with ``counts[j]`` copies of label ``j`` (exact int)."""
    out, n = 1, 0
    for c in counts:
        n += int(c)
        out *= math.comb(n, int(c))
    return out


def _multinomial_total(stratum_counts: Sequence[Sequence[int]]) -> str:
    """The product over strata of :func:`_multinomial`, written for a message."""
    total = math.prod(_multinomial(c) for c in stratum_counts)
    return str(total) if total < 10**15 else f"about {float(total):.3g}"


def _enumerate(mech: Mechanism, limit: int) -> np.ndarray:
    if mech.mode == "bernoulli":
        raise DesignError("exact enumeration is available for permutation designs (not Bernoulli)")
    S = mech.n_strata
    n_codes = int(mech.level_z.max(initial=0)) + 1
    stratum_counts = [
        [int(c) for c in np.bincount(mech.level_z[mech.level_strata == s], minlength=n_codes)]
        for s in range(S)
    ]
    # count first (exact Python ints: a product of multinomial coefficients), enumerate after
    total = 1
    for counts in stratum_counts:
        total *= _multinomial(counts)
        if total > limit:
            raise DesignError(
                f"exact enumeration needs more than `max_exact`={limit} assignments "
                f"({_multinomial_total(stratum_counts)} in all); use an integer `n_draws`"
            )
    per = [np.asarray(_arrangements(c), dtype=np.uint8) for c in stratum_counts]
    rows = [np.concatenate(c) for c in itertools.product(*per)]
    Z = np.asarray(rows, dtype=np.uint8)[:, mech.unit_to_level]
    if mech.threshold is not None:
        ok = _mahalanobis_rows(mech.covariates, Z, mech.n_arms) <= mech.threshold
        Z = Z[ok]
    return Z


def randomisation_test(
    data: pd.DataFrame,
    *,
    outcome: str,
    arm: str = "arm",
    control: str = "control",
    assignment: Any = None,
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    method: DrawMethod = "complete",
    probabilities: Mapping[str, float] | None = None,
    n_draws: int | Literal["exact"] = 10_000,
    alpha: float = 0.05,
    seed: SeedLike = None,
    backend: Any = None,
    n_jobs: int | None = None,
    progress: bool = False,
    max_exact: int = 200_000,
) -> RandomisationTest:
    r"""Fisher randomisation test and test-inversion interval for each arm vs control.

    The statistic is the difference in means (with ``strata``: the stratum-size
    weighted difference in means). Its null distribution comes from redrawing
    the *same* mechanism: permutations within strata (conditional on the counts
    per stratum), whole clusters, Bernoulli draws, and the re-randomisation
    acceptance rule when the design used one.

    Parameters
    ----------
    data : DataFrame
        One row per unit: outcome and assigned arm (and the design columns).
    outcome, arm, control : str
        Columns and the control label.
    assignment : Assignment, optional
        Take strata, cluster, method and re-randomisation rule from this
        randomisation (``data`` must hold its id column); then ``strata``,
        ``cluster`` and ``method`` must not be given.
    strata, cluster : optional
        Design columns when no ``assignment`` is given.
    method : {"complete", "bernoulli"}
        ``bernoulli`` redraws independently with ``probabilities`` (arm -> p).
    n_draws : int or "exact"
        Monte Carlo draws, or ``"exact"`` to enumerate every assignment (small designs).
    alpha : float
        The interval holds every constant effect not rejected at level ``alpha``.
    seed, backend, n_jobs, progress
        Randomness and parallel execution (results do not depend on backend).

    Returns
    -------
    RandomisationTest

    Notes
    -----
    For draws :math:`Z_d` the statistic is linear in the outcome,
    :math:`T(y, Z_d) = C_d y`. Under :math:`H_0: y_i(1) - y_i(0) = \tau` the
    adjusted outcomes :math:`y - \tau z` are fixed, so
    :math:`T(y - \tau z, Z_d) = a_d - \tau b_d` with :math:`a_d = C_d y`,
    :math:`b_d = C_d z`, and the p-value
    :math:`p(\tau) = \{1 + \#(|a_d - \tau b_d| \ge |\hat T - \tau|)\}/(1 + D)`
    is computed for any :math:`\tau` from two vectors (Rosenbaum 2002, ch. 2;
    Imbens & Rubin 2015, ch. 5). The interval inverts it by bisection.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["control", "treatment"] * 4, "y": [1, 3, 2, 5, 1, 4, 2, 2]})
    >>> r = randomisation_test(d, outcome="y", n_draws="exact")
    >>> round(float(r.to_frame().loc["treatment", "p"]), 4)
    0.0857
    """
    t0 = time.perf_counter()
    require_frame(data)
    if not (0 < alpha < 1):
        raise DesignError(f"`alpha` must be in (0, 1); got {alpha!r}")
    exact = isinstance(n_draws, str)
    if exact and n_draws != "exact":
        raise DesignError(f"`n_draws` must be a positive integer or 'exact'; got {n_draws!r}")
    if not exact and (
        isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 1
    ):
        raise DesignError(f"`n_draws` must be a positive integer or 'exact'; got {n_draws!r}")
    cov = None
    threshold = None
    strata_cols = as_list(strata)
    if assignment is not None:
        if strata_cols or cluster is not None or method != "complete":
            raise DesignError(
                "with `assignment`, the design comes from it: do not give strata, cluster or method"
            )
        cert = assignment.certificate
        if cert["method"] == "stepped_wedge":
            raise DesignError(
                "randomisation_test compares arms; a stepped-wedge roll-out needs a panel analysis"
            )
        idc = cert["id"]
        require_columns(data, [idc, outcome, arm])
        tab = assignment.table.set_index(idc)
        missing = ~data[idc].isin(tab.index)
        if missing.any():
            raise DataError(
                f"{int(missing.sum())} rows of `data` have ids that were not randomised"
            )
        sub = tab.loc[data[idc].to_numpy()]
        strata_arr = sub["stratum"].cat.codes.to_numpy()
        cluster_arr = sub["cluster"].to_numpy() if "cluster" in sub.columns else None
        method = "bernoulli" if cert["method"] == "bernoulli" else "complete"
        if method == "bernoulli":
            r = np.asarray(cert["ratios"], dtype=float)
            probabilities = dict(zip(cert["arms"], r / r.sum(), strict=True))
        rule = cert.get("rerandomisation")
        if rule:
            require_columns(data, rule["covariates"])
            require_finite(data, rule["covariates"])
            cov = data[rule["covariates"]].to_numpy(dtype=float)
            threshold = float(rule["threshold"])
        arm_levels = list(cert["arms"])
    else:
        require_columns(data, [outcome, arm, *strata_cols, *([cluster] if cluster else [])])
        require_no_missing(data, strata_cols + ([cluster] if cluster else []))
        strata_arr = (
            data[strata_cols]
            .reset_index(drop=True)
            .groupby(strata_cols, sort=True, dropna=False)
            .ngroup()
            .to_numpy()
            if strata_cols
            else None
        )
        cluster_arr = data[cluster].to_numpy() if cluster else None
        arm_levels = sorted(data[arm].dropna().astype(str).unique())
    if method not in ("complete", "bernoulli"):
        raise DesignError(f"`method` must be one of ['complete', 'bernoulli']; got {method!r}")
    require_numeric(data, outcome)
    require_finite(data, outcome)
    if data[outcome].isna().any() or data[arm].isna().any():
        raise DataError(
            f"randomisation inference needs the outcome of every randomised unit; {outcome!r} or {arm!r} "
            "has missing values (impute or bound them first)"
        )
    arms_obs = data[arm].astype(str).to_numpy()
    lut = {a: i for i, a in enumerate(arm_levels)}
    if str(control) not in lut:
        raise DataError(f"control arm {control!r} not among the arms {arm_levels}")
    unknown = set(np.unique(arms_obs)) - set(lut)
    if unknown:
        raise DataError(f"column {arm!r} has arms {sorted(unknown)} not in the design {arm_levels}")
    z = pd.Series(arms_obs).map(lut).to_numpy(np.int16)
    p_vec = None
    if method == "bernoulli":
        if probabilities is None:
            raise DesignError("method='bernoulli' needs `probabilities` (arm -> probability)")
        p_vec = _bernoulli_probabilities(probabilities, arm_levels)
    ctrl = lut[str(control)]
    others = [a for a in arm_levels if a != str(control) and (z == lut[a]).any()]
    mech = mechanism_from(
        z,
        strata=strata_arr,
        cluster=cluster_arr,
        method=method,
        p=p_vec,
        covariates=cov,
        threshold=threshold,
        n_arms=len(arm_levels),
    )
    y = data[outcome].to_numpy(dtype=float)
    s_codes = (
        np.zeros(len(data), dtype=np.int64)
        if strata_arr is None
        else np.unique(strata_arr, return_inverse=True)[1].reshape(-1)
    )
    blocked = strata_arr is not None and int(s_codes.max()) > 0 and method == "complete"
    pairs = [(ctrl, lut[a]) for a in others]
    if blocked:
        labels = (
            sub["stratum"].astype(object).to_numpy()
            if assignment is not None
            else cast(np.ndarray, strata_arr)  # the strata's group numbers, computed above
        )
        _require_both_arms(z, s_codes, pairs, labels, arm_levels)
    obs = _stats_for(
        z[None, :], pairs=pairs, y=y, z_obs_codes=z, strata=s_codes, blocked=blocked, mech=mech
    )
    ss = as_seed_sequence(seed)
    if exact:
        Z = _enumerate(mech, max_exact)
        draws = [
            _stats_for(
                Z, pairs=pairs, y=y, z_obs_codes=z, strata=s_codes, blocked=blocked, mech=mech
            )
        ]
        D = Z.shape[0]
    else:
        D = int(n_draws)
        block = int(np.clip(_BLOCK_CELLS // max(1, len(data)), 1, 1000))
        n_blocks = -(-D // block)
        fn = functools.partial(
            _block_stats,
            mech=mech,
            size=block,
            n_draws=D,
            pairs=pairs,
            y=y,
            strata=s_codes,
            blocked=blocked,
        )
        draws = map_replications(
            fn,
            n_blocks,
            seed=ss,
            backend=backend,
            n_jobs=n_jobs,
            progress=progress,
            desc="randomisation draws",
        )
    rows = []
    null: dict[str, np.ndarray] = {}
    for j, a_name in enumerate(others):
        a = np.concatenate([blk[j][0] for blk in draws])
        b = np.concatenate([blk[j][1] for blk in draws])
        t_obs = float(obs[j][0][0])
        p = _pvalue(a, b, t_obs, 0.0, exact)
        lo, hi = _invert(a, b, t_obs, alpha, exact)
        n_pair = int(((z == ctrl) | (z == lut[a_name])).sum())
        rows.append((t_obs, float(np.std(a)), lo, hi, p, n_pair, a.size))
        null[a_name] = a
    table = pd.DataFrame(
        rows,
        columns=["estimate", "se", "ci_low", "ci_high", "p", "n", "n_draws"],
        index=pd.Index(others, name="arm"),
    )
    return RandomisationTest(
        method="randomisation_inference",
        n_obs=len(data),
        alpha=alpha,
        seed=seed_record(ss),
        elapsed_s=time.perf_counter() - t0,
        meta={
            "statistic": "blocked_difference_in_means" if blocked else "difference_in_means",
            "exact": exact,
            "mechanism": mech.mode,
            "rerandomised": threshold is not None,
            "index_names": ["arm"],
            "interval": "test_inversion",
        },
        table=table,
        null_distribution=null,
    )
