"""Write the cluster-IPW data set for estimatr_ipw_clusters.R (run once; output committed).

30 municipalities in 3 cluster strata, randomised whole with treatment fractions that
differ by stratum (5 of 10, 3 of 12, 6 of 8), so assignment probabilities differ across
strata; 3-14 persons per municipality.

python tests/reference/randomisation/make_ipw_cluster_data.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20240611)
stratum_of_cluster = np.repeat([0, 1, 2], [10, 12, 8])
n_treated = {0: 5, 1: 3, 2: 6}
n_cl = stratum_of_cluster.size
z_cl = np.zeros(n_cl, dtype=int)
p_cl = np.zeros(n_cl)
for s, k in n_treated.items():
    idx = np.flatnonzero(stratum_of_cluster == s)
    z_cl[rng.permutation(idx)[:k]] = 1
    p_cl[idx] = k / idx.size
size = rng.integers(3, 15, n_cl)
cluster = np.repeat(np.arange(n_cl), size)
n = cluster.size
x1 = rng.normal(size=n)
u = rng.normal(scale=0.6, size=n_cl)[cluster]
z = z_cl[cluster]
y = 0.4 * z + 0.5 * stratum_of_cluster[cluster] + 0.3 * x1 + u + rng.normal(size=n)
p_treat = p_cl[cluster]
d = pd.DataFrame(
    {
        "id": np.arange(n),
        "municipality": [f"k{c:02d}" for c in cluster],
        "cluster_stratum": stratum_of_cluster[cluster],
        "arm": np.where(z == 1, "treatment", "control"),
        "z": z,
        "p_arm": np.where(z == 1, p_treat, 1 - p_treat),
        "x1": x1.round(6),
        "y": y.round(6),
    }
)
d.to_csv(Path(__file__).parent / "estimatr_ipw_clusters_data.csv", index=False)
