"""Write the data set the estimatr fixtures are computed on (run once; output committed).

python tests/reference/randomisation/make_data.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20170801)
n_cl = 24
cl_size = rng.integers(4, 15, n_cl)
cluster = np.repeat(np.arange(n_cl), cl_size)
n = cluster.size
block_of_cluster = np.arange(n_cl) % 4
block = block_of_cluster[cluster]
z_cl = np.zeros(n_cl, dtype=int)
for b in range(4):
    idx = np.flatnonzero(block_of_cluster == b)
    z_cl[rng.permutation(idx)[: idx.size // 2]] = 1
x1 = rng.normal(size=n)
x2 = rng.binomial(1, 0.4, size=n).astype(float)
u_cl = rng.normal(scale=0.5, size=n_cl)[cluster]
d = pd.DataFrame({"id": np.arange(n), "cluster": cluster, "block": block, "x1": x1, "x2": x2})
d["z_cl"] = z_cl[cluster]
# individual-level assignment within blocks, 3 arms (control, a, b)
d["arm3"] = "control"
for b in range(4):
    idx = rng.permutation(np.flatnonzero(block == b))
    d.loc[idx[: idx.size // 3], "arm3"] = "a"
    d.loc[idx[idx.size // 3 : 2 * idx.size // 3], "arm3"] = "b"
d["z"] = (d["arm3"] != "control").astype(int)
# probabilities differing by block (for IPW)
p_block = np.array([0.2, 0.4, 0.5, 0.7])[block]
d["z_ipw"] = rng.binomial(1, p_block)
d["p_ipw"] = np.where(d["z_ipw"] == 1, p_block, 1 - p_block)
d["y"] = 1.0 + 0.4 * d["z"] + 0.8 * x1 - 0.3 * x2 + u_cl + rng.normal(size=n) * (1 + 0.5 * d["z"])
d["y_cl"] = 1.0 + 0.5 * d["z_cl"] + 0.8 * x1 + u_cl + rng.normal(size=n)
d["y_ipw"] = 1.0 + 0.3 * d["z_ipw"] + 0.5 * block + rng.normal(size=n)
d["y_arm3"] = (
    1.0
    + np.select([d.arm3 == "a", d.arm3 == "b"], [0.3, -0.2], 0.0)
    + 0.7 * x1
    + rng.normal(size=n)
)
# matched pairs: 40 pairs
pairs = pd.DataFrame({"pair": np.repeat(np.arange(40), 2), "zp": np.tile([0, 1], 40)})
pairs["yp"] = rng.normal(size=80) + 0.5 * pairs["zp"] + np.repeat(rng.normal(size=40), 2)
out = Path(__file__).with_name("estimatr_data.csv")
d.to_csv(out, index=False, float_format="%.10f")
pairs.to_csv(Path(__file__).with_name("estimatr_pairs.csv"), index=False, float_format="%.10f")
print(out, len(d))
