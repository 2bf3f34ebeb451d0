"""Covariate balance of an assignment: SMD, variance ratios, counts, omnibus test, love plot."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from trialkit._checks import (
    as_list,
    require_columns,
    require_finite,
    require_frame,
    require_no_missing,
)
from trialkit._parallel import map_replications
from trialkit._rng import as_seed_sequence, seed_record
from trialkit._typing import SeedLike
from trialkit.errors import DataError, DesignError
from trialkit.results import Result, jsonable

__all__ = ["balance", "Balance"]


@dataclass(frozen=True, kw_only=True, eq=False)
class Balance(Result):
    """Balance diagnostics of an assignment.

    ``table`` (index ``covariate``, or ``arm, covariate`` with several treated
    arms): ``mean_control``, ``mean_arm``, ``smd``, ``variance_ratio``.
    ``counts``: units per stratum and arm. ``omnibus``: per arm, the F test of
    the covariates jointly predicting assignment, with its F-distribution p-value
    and its randomisation p-value (redrawing the design).
    """

    title: ClassVar[str] = "Covariate balance"

    table: pd.DataFrame
    counts: pd.DataFrame
    omnibus: pd.DataFrame
    threshold: float = 0.1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Copy of the per-covariate balance table."""
        return self.table.copy()

    def _payload(self) -> dict[str, Any]:
        return {
            "table": jsonable(self.table),
            "counts": jsonable(self.counts),
            "omnibus": jsonable(self.omnibus),
        }

    def summary(self) -> str:
        lines = self._header()
        with pd.option_context("display.width", 120):
            lines += ["", self.table.to_string(float_format=lambda x: f"{x:.4g}")]
            lines += [
                "",
                "Omnibus test (F of arm on covariates):",
                self.omnibus.to_string(float_format=lambda x: f"{x:.4g}"),
            ]
        return "\n".join(lines)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Love plot: absolute standardised mean difference per covariate, with the threshold."""
        from trialkit._plotting import get_ax

        ax = get_ax(ax)
        t = self.table
        if t.index.nlevels == 1:
            groups = [(None, t)]
        else:
            groups = [(a, g.droplevel(0)) for a, g in t.groupby(level=0, sort=False)]
        labels = list(groups[0][1].index)
        ypos = np.arange(len(labels))[::-1]
        for name, g in groups:
            ax.plot(
                np.abs(g["smd"].to_numpy()),
                ypos,
                "o",
                label=str(name) if name else "|SMD|",
                **kwargs,
            )
        ax.axvline(self.threshold, color="grey", ls="--", lw=0.8)
        ax.set_yticks(ypos)
        ax.set_yticklabels([str(v) for v in labels])
        ax.set_xlabel("absolute standardised mean difference")
        ax.legend(frameon=False)
        return ax


def _covariate_matrix(data: pd.DataFrame, covariates: list[str]) -> tuple[np.ndarray, list[str]]:
    cols, names = [], []
    for c in covariates:
        s = data[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols.append(s.to_numpy(dtype=float))
            names.append(c)
        else:
            dummies = pd.get_dummies(s.astype(str), prefix=c, prefix_sep="=", dtype=float)
            for name in dummies.columns:
                cols.append(dummies[name].to_numpy())
                names.append(str(name))
    return np.column_stack(cols), names


def _variance(x: np.ndarray) -> np.ndarray:
    """Column sample variances; exactly 0 for a column of identical values (no rounding residue)."""
    if x.shape[0] < 2:
        return np.full(x.shape[1], np.nan)
    v = x.var(axis=0, ddof=1)
    return np.where(np.ptp(x, axis=0) == 0, 0.0, v)


def _score(Z: np.ndarray, sel: np.ndarray, Q: np.ndarray, ai: int) -> np.ndarray:
    """R^2 of the arm indicator on the covariates, over the units in ``sel``, per draw."""
    t = (Z == ai).astype(float) * sel
    n1 = t.sum(axis=1, keepdims=True)
    tc = np.where(sel, t - n1 / sel.sum(), 0.0)
    return ((tc @ Q) ** 2).sum(axis=1) / (tc**2).sum(axis=1)


def _score_block(
    rng: np.random.Generator,
    i: int,
    *,
    mech: Any,
    size: int,
    n_draws: int,
    sel: np.ndarray,
    Q: np.ndarray,
    ai: int,
) -> np.ndarray:
    return _score(mech.draw(rng, min(size, n_draws - i * size)), sel, Q, ai)


def _r2(Z: np.ndarray, Q: np.ndarray, ctrl: int, arm: int) -> np.ndarray:
    """R^2 of the treatment indicator on the covariates (Q: orthonormal basis of centred X)."""
    t = (Z == arm).astype(float)
    tc = t - t.mean(axis=1, keepdims=True)
    proj = tc @ Q
    return (proj**2).sum(axis=1) / (tc**2).sum(axis=1)


def balance(
    units: pd.DataFrame,
    *,
    covariates: Sequence[str],
    assignment: Any = None,
    arm: str = "arm",
    control: str = "control",
    strata: str | Sequence[str] | None = None,
    n_draws: int = 1000,
    threshold: float = 0.1,
    seed: SeedLike = None,
    backend: Any = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> Balance:
    r"""Balance of covariates across arms.

    Parameters
    ----------
    units : DataFrame
        The randomised units with the covariates (and ``arm`` unless ``assignment`` is given).
    covariates : list of str
        Numeric columns, or categorical ones (expanded to indicators).
    assignment : Assignment, optional
        Take arms, strata and the mechanism from it (``units`` must hold its id column).
    arm, control : str
        Arm column and control label (without ``assignment``).
    strata : optional
        Strata of the design (without ``assignment``), for the randomisation p-value.
    n_draws : int
        Draws of the randomisation distribution of the omnibus F (0 to skip).
    threshold : float
        SMD threshold drawn in the love plot.
    seed, backend, n_jobs, progress
        For the randomisation p-value.

    Returns
    -------
    Balance

    Notes
    -----
    :math:`\mathrm{SMD} = (\bar x_1 - \bar x_0)/\sqrt{(s_1^2 + s_0^2)/2}`,
    variance ratio :math:`s_1^2/s_0^2`. The omnibus statistic regresses the arm
    indicator on all covariates, :math:`F = \frac{R^2/K}{(1-R^2)/(n-K-1)}`; its
    randomisation p-value compares :math:`R^2` with its distribution over redraws
    of the design (Hansen & Bowers 2008 discuss such omnibus checks).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from trialkit.randomisation import randomise
    >>> u = pd.DataFrame({"person_id": range(200), "age": np.arange(200) % 47 + 18})
    >>> a = randomise(u, seed=0)
    >>> b = a.balance(u, covariates=["age"], n_draws=200, seed=0)
    >>> list(b.to_frame().columns)
    ['mean_control', 'mean_arm', 'smd', 'variance_ratio']
    """
    from trialkit.randomisation.inference import mechanism_from

    t0 = time.perf_counter()
    require_frame(units, name="units")
    covs = as_list(covariates)
    if not covs:
        raise DesignError("`covariates` must name at least one column")
    if assignment is not None:
        idc = assignment.certificate["id"]
        require_columns(units, [idc, *covs], name="units")
        tab = assignment.table.set_index(idc)
        if not units[idc].isin(tab.index).all():
            raise DataError("some `units` ids were not randomised by this assignment")
        sub = tab.loc[units[idc].to_numpy()]
        arms_s = sub["arm"].astype(str).to_numpy()
        strata_arr = sub["stratum"].cat.codes.to_numpy()
        cluster_arr = sub["cluster"].to_numpy() if "cluster" in sub.columns else None
        levels = list(assignment.certificate["arms"])
        if str(control) not in levels:
            if control != "control":  # an explicit label that is not an arm of the design
                raise DataError(
                    f"control arm {control!r} is not an arm of the assignment; its arms are {levels}"
                )
            control = levels[0]  # the default label: the design's first arm (e.g. 'waitlist')
        bern = assignment.certificate["method"] == "bernoulli"
        r = np.asarray(assignment.certificate["ratios"], dtype=float)
        p = r / r.sum() if bern else None
    else:
        sc = as_list(strata)
        require_columns(units, [arm, *covs, *sc], name="units")
        require_no_missing(units, [arm, *sc], name="units")
        arms_s = units[arm].astype(str).to_numpy()
        strata_arr = (
            units[sc].reset_index(drop=True).groupby(sc, sort=True).ngroup().to_numpy()
            if sc
            else None
        )
        cluster_arr = None
        levels = sorted(set(arms_s))
        bern, p = False, None
    require_no_missing(units, covs, name="units")
    require_finite(units, covs, name="units")
    if str(control) not in levels:
        raise DataError(f"control arm {control!r} not among the arms {levels}")
    X, names = _covariate_matrix(units, covs)
    lut = {a: i for i, a in enumerate(levels)}
    z = pd.Series(arms_s).map(lut).to_numpy(np.uint8)
    ctrl = lut[str(control)]
    others = [a for a in levels if a != str(control) and (z == lut[a]).any()]
    rows, keys, omni = [], [], []
    mech = mechanism_from(
        z, strata=strata_arr, cluster=cluster_arr, method="bernoulli" if bern else "complete", p=p
    )
    ss = as_seed_sequence(seed)
    for a_name in others:
        ai = lut[a_name]
        x1, x0 = X[z == ai], X[z == ctrl]
        m1, m0 = x1.mean(axis=0), x0.mean(axis=0)
        v1, v0 = _variance(x1), _variance(x0)
        diff = m1 - m0
        # as R's cobalt (col_w_smd): a mean difference of zero is an SMD of 0 (so a
        # covariate constant across both arms has SMD 0, and variance ratio 0/0 = NaN)
        zero = np.abs(diff) < np.sqrt(np.finfo(float).eps) * np.maximum(
            1.0, np.maximum(np.abs(m1), np.abs(m0))
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            smd = np.where(zero, 0.0, diff / np.sqrt((v1 + v0) / 2))
            vr = v1 / v0
        for j, nm in enumerate(names):
            rows.append((m0[j], m1[j], smd[j], vr[j]))
            keys.append((a_name, nm))
        # omnibus on units of control and this arm
        sel = (z == ai) | (z == ctrl)
        Xs = X[sel]
        Xc = Xs - Xs.mean(axis=0)
        keep = np.ptp(Xs, axis=0) > 0  # constant covariates carry no information
        n_s = int(sel.sum())
        if not keep.any():  # nothing varies: no omnibus test
            omni.append((a_name, np.nan, 0, n_s - 1, np.nan, np.nan, n_draws))
            continue
        Q, R = np.linalg.qr(Xc[:, keep])
        rank = int(np.sum(np.abs(np.diag(R)) > 1e-10 * max(1.0, np.abs(R).max())))
        Q = Q[:, :rank]
        r2_obs = float(_r2(z[sel][None, :], Q, ctrl, ai)[0])
        F = (r2_obs / rank) / ((1 - r2_obs) / (n_s - rank - 1))
        p_f = float(stats.f.sf(F, rank, n_s - rank - 1))
        p_ri = np.nan
        if n_draws:
            # redraw over all units, score the units of this pair
            Qfull = np.zeros((z.size, rank))
            Qfull[sel] = Q

            size = int(np.clip(2_000_000 // max(1, z.size), 1, 1000))
            fn = functools.partial(
                _score_block, mech=mech, size=size, n_draws=n_draws, sel=sel, Q=Qfull, ai=ai
            )
            blocks = map_replications(
                fn,
                -(-n_draws // size),
                seed=ss,
                backend=backend,
                n_jobs=n_jobs,
                progress=progress,
                desc="balance draws",
            )
            r2d = np.concatenate(blocks)
            p_ri = float((1 + np.sum(r2d >= r2_obs - 1e-12)) / (1 + r2d.size))
        omni.append((a_name, F, rank, n_s - rank - 1, p_f, p_ri, n_draws))
    idx = pd.MultiIndex.from_tuples(keys, names=["arm", "covariate"])
    table = pd.DataFrame(
        rows, index=idx, columns=["mean_control", "mean_arm", "smd", "variance_ratio"]
    )
    if len(others) == 1:
        table = table.droplevel(0)
    counts = pd.crosstab(
        pd.Series(strata_arr if strata_arr is not None else np.zeros(len(z), int), name="stratum"),
        pd.Series(np.asarray(levels, dtype=object)[z], name="arm"),
    )
    if assignment is not None:
        counts.index = [assignment.certificate["stratum_labels"][i] for i in counts.index]
        counts.index.name = "stratum"
    omnibus = pd.DataFrame(
        omni, columns=["arm", "F", "df1", "df2", "p_F", "p_randomisation", "n_draws"]
    ).set_index("arm")
    return Balance(
        method="balance",
        n_obs=len(units),
        seed=seed_record(ss),
        elapsed_s=time.perf_counter() - t0,
        meta={"covariates": names, "arms": others, "control": str(control)},
        table=table,
        counts=counts,
        omnibus=omnibus,
        threshold=threshold,
    )
