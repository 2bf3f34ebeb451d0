"""Export the Rossi recidivism data shipped by lifelines to rossi.csv for the R script.

Made with lifelines 0.30.3. ``cause`` splits arrests artificially into two competing
causes (1: prio <= 2, 2: prio > 2; 0 censored) for the cmprsk comparison.
Run from this folder: ``python make_rossi_csv.py``.
"""

from lifelines.datasets import load_rossi

d = load_rossi()
d["cause"] = (d["arrest"] * (1 + (d["prio"] > 2))).astype(int)
d.to_csv("rossi.csv", index=False)
