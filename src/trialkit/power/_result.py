"""Result objects of power calculations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from trialkit.errors import DesignError
from trialkit.results import Result

__all__ = ["PowerResult", "SimulationPowerResult"]

#: Keys of :meth:`PowerResult.to_dict` fixed by the API contract (in this order).
POWER_KEYS: tuple[str, ...] = (
    "power",
    "effect",
    "mde",
    "n_total",
    "n_per_arm",
    "n_clusters",
    "events",
)

_LABELS = {
    "power": "power",
    "effect": "effect",
    "mde": "minimum detectable effect",
    "n_total": "total sample size",
    "n_clusters": "number of clusters",
    "events": "events",
    "cluster_size": "cluster size",
    "cluster_period_size": "cluster-period size",
    "hazard_ratio": "hazard ratio",
}


def _plain(value: Any, *, count: bool = False) -> Any:
    """0-d arrays -> Python scalars; arrays stay arrays; whole-number counts -> int."""
    if value is None:
        return None
    arr = np.asarray(value)
    if (
        count
        and arr.dtype.kind == "f"
        and np.all(np.isfinite(arr))
        and np.all(arr == np.round(arr))
    ):
        arr = arr.astype(np.int64)
    if arr.ndim == 0:
        item = arr.item()
        return item
    return arr


@dataclass(frozen=True, kw_only=True, eq=False)
class PowerResult(Result):
    """The answer to a power problem: power, effect / MDE and sample sizes.

    Quantities that do not apply are ``None``. With array inputs (power curves)
    every quantity is an array of the broadcast shape; ``to_frame()`` has one row
    per point.

    Attributes
    ----------
    design : str
        Name of the design (``"IndividualRCT"``, ``"ClusterRCT"``, ...).
    solved_for : str
        The quantity that was solved for (``"power"``, ``"n_total"``, ``"mde"``,
        ``"n_clusters"``, ``"cluster_size"``, ``"events"``, ...).
    power, effect, mde, n_total, n_clusters, events : float, int or ndarray
        ``effect`` is in outcome units (a difference in proportions for binary
        outcomes, a hazard ratio for survival designs).
    n_per_arm : list
        Sample size per arm, in arm order (``meta["arms"]`` names the arms).
    extra : mapping
        Further design-specific columns (e.g. ``itt_effect``, ``cluster_size``,
        ``achieved_power``).

    Examples
    --------
    >>> import trialkit as tk
    >>> r = tk.power.IndividualRCT(outcome="continuous", sd=1.0).sample_size(effect=0.5, power=0.8)
    >>> r.to_dict()["n_per_arm"]
    [64, 64]
    """

    title: ClassVar[str] = "Power calculation"

    design: str
    solved_for: str
    power: Any = None
    effect: Any = None
    mde: Any = None
    n_total: Any = None
    n_per_arm: Any = None
    n_clusters: Any = None
    events: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("power", "effect", "mde", "n_total", "n_clusters", "events"):
            count = key in ("n_total", "n_clusters")
            object.__setattr__(self, key, _plain(getattr(self, key), count=count))
        if self.n_per_arm is not None:
            object.__setattr__(self, "n_per_arm", [_plain(v, count=True) for v in self.n_per_arm])
        object.__setattr__(self, "extra", {k: _plain(v) for k, v in dict(self.extra).items()})

    @property
    def arms(self) -> list[str]:
        """Names of the arms, in the order of ``n_per_arm``."""
        return list(self.meta.get("arms", []))

    def _columns(self) -> dict[str, Any]:
        cols: dict[str, Any] = {}
        for key in POWER_KEYS:
            value = getattr(self, key)
            if value is None:
                continue
            if key == "n_per_arm":
                names = self.arms or [f"arm_{i}" for i in range(len(value))]
                for name, v in zip(names, value):
                    cols[f"n_{name}"] = v
            else:
                cols[key] = value
        cols.update(self.extra)
        return cols

    def to_frame(self) -> pd.DataFrame:
        """One row per point of the calculation (one row for scalar inputs)."""
        cols = self._columns()
        arrays = {k: np.asarray(v) for k, v in cols.items()}
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values())) if arrays else ()
        data = {k: np.broadcast_to(a, shape).reshape(-1) for k, a in arrays.items()}
        frame = pd.DataFrame(data)
        frame.insert(0, "alpha", self.alpha)
        frame.index.name = "point"
        return frame

    def _payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"design": self.design, "solved_for": self.solved_for}
        for key in POWER_KEYS:
            value = getattr(self, key)
            if value is None:
                continue
            if key == "n_per_arm":
                out[key] = [np.asarray(v).tolist() for v in value]
            else:
                out[key] = np.asarray(value).tolist()
        for key, value in self.extra.items():
            out[key] = np.asarray(value).tolist() if value is not None else None
        return out

    def _varying(self) -> list[str]:
        cols = self._columns()
        return [k for k, v in cols.items() if np.ndim(v) > 0 and np.unique(np.asarray(v)).size > 1]

    def plot(
        self,
        ax: Any = None,
        *,
        x: str | None = None,
        y: str | None = None,
        label: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Draw the solved quantity against the input that varies (a power curve).

        Parameters
        ----------
        ax : matplotlib Axes, optional
        x : str, optional
            Column of :meth:`to_frame` on the horizontal axis; by default the first
            varying input among ``effect``, ``n_total``, ``n_clusters``, ``events``,
            ``cluster_size``.
        y : str, optional
            Column on the vertical axis; by default the quantity solved for.

        Returns
        -------
        matplotlib Axes

        Examples
        --------
        >>> import numpy as np, trialkit as tk
        >>> d = tk.power.IndividualRCT(outcome="continuous", sd=1.0)
        >>> ax = d.power(effect=np.linspace(0.1, 0.6, 11), n_total=200).plot()
        >>> len(ax.lines[0].get_xdata())
        11
        """
        from trialkit._plotting import get_ax

        frame = self.to_frame()
        y = y or self.solved_for
        if y not in frame.columns:
            raise DesignError(f"`y` must be one of {list(frame.columns)}; got {y!r}")
        if x is None:
            varying = [c for c in self._varying() if c != y]
            order = [
                "effect",
                "n_clusters",
                "cluster_size",
                "cluster_period_size",
                "events",
                "n_total",
                "power",
                "mde",
            ]
            cands = [c for c in order if c in varying] + [c for c in varying if c not in order]
            if not cands:
                raise DesignError(
                    "nothing varies in this result: pass an array (e.g. effect=np.linspace(...)) "
                    "to draw a curve"
                )
            x = cands[0]
        if x not in frame.columns:
            raise DesignError(f"`x` must be one of {list(frame.columns)}; got {x!r}")
        ax = get_ax(ax)
        order_idx = np.argsort(frame[x].to_numpy(), kind="stable")
        ax.plot(
            frame[x].to_numpy()[order_idx],
            frame[y].to_numpy()[order_idx],
            marker="o",
            ms=3,
            label=label or self.design,
            **kwargs,
        )
        ax.set_xlabel(_LABELS.get(x, x))
        ax.set_ylabel(_LABELS.get(y, y))
        if y == "power":
            target = self.meta.get("target_power")
            ax.axhline(0.8 if target is None else float(target), color="grey", lw=0.8, ls=":")
            ax.set_ylim(0, 1.02)
        ax.set_title(f"{self.design}: {_LABELS.get(y, y)} against {_LABELS.get(x, x)}")
        ax.legend(frameon=False)
        return ax


@dataclass(frozen=True, kw_only=True, eq=False)
class SimulationPowerResult(PowerResult):
    """Power estimated by simulation, with its Monte-Carlo standard error.

    ``to_dict()`` has ``power``, ``mc_se``, ``n_sims`` (replications that gave a
    p-value), ``alpha``; ``p_values`` holds the p-value of every replication and
    ``estimates`` the point estimates when the estimator returned them.

    Examples
    --------
    >>> import numpy as np, trialkit as tk
    >>> from scipy import stats
    >>> gen = lambda rng: rng.normal(0.5, 1.0, size=30)
    >>> est = lambda x: stats.ttest_1samp(x, 0.0).pvalue
    >>> r = tk.power.simulate(gen, est, n_sims=200, seed=0)
    >>> 0.6 < r.power < 0.9 and r.n_sims == 200
    True
    """

    title: ClassVar[str] = "Simulated power"

    mc_se: float = float("nan")
    n_sims: int = 0
    p_values: np.ndarray = field(default_factory=lambda: np.empty(0))
    estimates: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        p = np.asarray(self.p_values, dtype=float).copy()
        p.setflags(write=False)
        object.__setattr__(self, "p_values", p)
        if self.estimates is not None:
            e = np.asarray(self.estimates, dtype=float).copy()
            e.setflags(write=False)
            object.__setattr__(self, "estimates", e)

    def _columns(self) -> dict[str, Any]:
        cols = super()._columns()
        cols["mc_se"] = self.mc_se
        cols["n_sims"] = self.n_sims
        return cols

    def _payload(self) -> dict[str, Any]:
        out = super()._payload()
        out["mc_se"] = float(self.mc_se)
        out["n_sims"] = int(self.n_sims)
        if self.estimates is not None and self.estimates.size:
            out["mean_estimate"] = float(np.nanmean(self.estimates))
        return out

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Histogram of the simulated p-values with the rejection region marked."""
        from trialkit._plotting import get_ax

        ax = get_ax(ax)
        ax.hist(self.p_values[np.isfinite(self.p_values)], bins=20, range=(0, 1), **kwargs)
        ax.axvline(self.alpha, color="red", ls="--", lw=1)
        ax.set_xlabel("p-value")
        ax.set_ylabel("replications")
        ax.set_title(f"Simulated power {self.power:.3f} (MC se {self.mc_se:.3f})")
        return ax


def arm_names(n_arms: int) -> list[str]:
    if n_arms == 2:
        return ["control", "treatment"]
    return ["control", *[f"treatment_{k}" for k in range(1, n_arms)]]


def as_lists(values: Sequence[Any]) -> list[Any]:
    return [np.asarray(v) for v in values]
