"""``trialkit randomise`` and ``trialkit verify``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trialkit.errors import DataError

#: A canonical integer literal: what ``str(int(x))`` gives (no leading zeros, "+" or spaces).
_INTEGER = r"0|-?[1-9][0-9]*"
_BOOLEAN = {
    "True": True,
    "False": False,
    "true": True,
    "false": False,
    "TRUE": True,
    "FALSE": False,
}


def _typed(column: Any) -> Any:
    """A CSV column read as text, as integers only when every value is a canonical integer.

    ``"00001"`` stays text (leading zeros are part of an id), ``"17"`` becomes the
    integer 17 -- what pandas gives for a clean integer column, so certificates
    made from such CSV files before still verify (float64 when values are
    missing, as pandas gives); ``True``/``False`` columns become booleans, as
    pandas reads them.
    """
    import numpy as np
    import pandas as pd

    present = column.dropna()
    if len(present) == 0:
        return column
    text = present.astype(str)
    if text.str.fullmatch(_INTEGER).all():
        try:
            values = pd.to_numeric(text.to_numpy(dtype=object))
        except (ValueError, OverflowError):  # beyond 64 bits (pandas 2 raises): keep the text
            return column
        if values.dtype.kind != "i":  # beyond 64 bits: keep the text
            return column
        whole = pd.Series(values, index=present.index, name=column.name)
        if len(present) == len(column):
            return whole.astype(np.int64)
        return whole.reindex(column.index).astype(np.float64)
    if text.isin(list(_BOOLEAN)).all() and len(present) == len(column):
        return text.map(_BOOLEAN).astype(bool)
    return column


def _read(path: str, text_columns: Sequence[str] = (), raw_text: Sequence[str] = ()) -> Any:
    """Read units from .csv(.gz)/.txt or .parquet.

    The columns in ``text_columns`` (ids, strata, clusters) of a CSV file are read
    as text and turned into integers only when every value is a canonical
    integer literal (:func:`_typed`), so that ids such as ``00001`` keep their
    leading zeros and a CSV file gives the same assignment as a Parquet file of
    the same data. The columns in ``raw_text`` (the ``arm`` column given to
    `trialkit verify`) of a CSV file are read as text and left so.
    """
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if p.is_dir():
        raise DataError(f"{path!r} is a folder; give a .csv or .parquet file")
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            return pd.read_parquet(p)
        except (OSError, ValueError) as exc:
            if isinstance(exc, (FileNotFoundError, PermissionError)):
                raise
            raise DataError(f"cannot read {path!r} as Parquet: {exc}") from exc
    if p.suffix.lower() in (".csv", ".txt", ".gz"):
        try:
            header = pd.read_csv(p, nrows=0).columns
            wanted = [c for c in dict.fromkeys(text_columns) if c in header]
            as_text = [*wanted, *(c for c in raw_text if c in header and c not in wanted)]
            frame = pd.read_csv(p, dtype={c: str for c in as_text})
        except pd.errors.EmptyDataError as exc:
            raise DataError(
                f"{path!r} is empty: expected a header line and one row per unit"
            ) from exc
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read {path!r} as CSV: {str(exc).strip()}") from exc
        for c in wanted:
            frame[c] = _typed(frame[c])
        return frame
    raise DataError(f"cannot read {path!r}: use a .csv or .parquet file")


#: Endings of --out that `trialkit randomise` writes (CSV, gzipped CSV, Parquet).
OUT_SUFFIXES = (".csv", ".parquet", ".csv.gz", ".pq")


def _write(frame: Any, path: str) -> None:
    if Path(path).suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def _arms(text: str | None) -> Any:
    items = _split(text)
    if not items:
        return None
    if any(":" in t for t in items):
        out = {}
        for t in items:
            name, _, ratio = t.partition(":")
            try:
                out[name] = float(ratio) if ratio else 1.0
            except ValueError as exc:
                raise DataError(
                    f"--arms: ratio of {name!r} must be a number; got {ratio!r}"
                ) from exc
        return out
    return items


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "randomise",
        help="randomise the units of a CSV/Parquet file and write the assignment and its certificate",
        description=(
            "Randomise units (rows of IN) to arms. The assignment depends only on the ids, the design "
            "columns and the seed; the certificate lets anyone re-derive it with `trialkit verify`."
        ),
    )
    p.add_argument("input", metavar="IN", help="units: .csv or .parquet, one row per unit")
    p.add_argument("--id", default="person_id", help="id column (default: person_id)")
    p.add_argument(
        "--arms", default=None, help="arms, e.g. control,treatment or control:2,treatment:1"
    )
    p.add_argument("--strata", default=None, help="comma-separated strata columns")
    p.add_argument("--cluster", default=None, help="cluster column (whole clusters are assigned)")
    p.add_argument(
        "--method",
        default="complete",
        help="complete, bernoulli, matched_pairs, stepped_wedge, lottery, rerandomised",
    )
    p.add_argument(
        "--steps", default=None, help="stepped_wedge: number of steps or comma-separated labels"
    )
    p.add_argument("--capacity", type=int, default=None, help="lottery: places offered")
    p.add_argument("--covariates", default=None, help="rerandomised: comma-separated covariates")
    p.add_argument(
        "--acceptance", type=float, default=None, help="rerandomised: acceptance probability"
    )
    p.add_argument("--missing-strata", default="error", choices=["error", "own_stratum"])
    p.add_argument("--seed", type=int, default=None, help="seed (default: fresh entropy, recorded)")
    p.add_argument("--out", required=True, help="assignment table to write (.csv or .parquet)")
    p.add_argument("--certificate", required=True, help="certificate JSON to write")
    p.set_defaults(func=_run_randomise)

    v = sub.add_parser(
        "verify",
        help="check that an assignment re-derives exactly from its certificate",
        description=(
            "Exit 0 when the assignment re-derives exactly from the certificate, 1 otherwise. "
            "IN holds the id and design columns (strata, cluster) of the units, e.g. the "
            "file given to `trialkit randomise`. When IN also has an `arm` column (e.g. that "
            "file merged with the --out table), every unit's arm must equal the re-derived one."
        ),
    )
    v.add_argument(
        "input",
        metavar="IN",
        help="the randomised units with their id and design columns (.csv or .parquet)",
    )
    v.add_argument(
        "certificate", metavar="CERT", help="certificate JSON written by `trialkit randomise`"
    )
    v.set_defaults(func=_run_verify)


def _run_randomise(args: argparse.Namespace) -> int:
    from trialkit.cli import check_output_file
    from trialkit.randomisation import randomise

    check_output_file(args.out, "--out", OUT_SUFFIXES)
    check_output_file(args.certificate, "--certificate")
    units = _read(
        args.input,
        [args.id, *(_split(args.strata) or []), *([args.cluster] if args.cluster else [])],
    )
    steps: Any = None
    if args.steps is not None:
        steps = int(args.steps) if args.steps.isdigit() else _split(args.steps)
    a = randomise(
        units,
        id=args.id,
        arms=_arms(args.arms),
        strata=_split(args.strata),
        cluster=args.cluster,
        method=args.method,
        seed=args.seed,
        steps=steps,
        capacity=args.capacity,
        covariates=_split(args.covariates),
        acceptance=args.acceptance,
        missing_strata=args.missing_strata,
    )
    table = a.table.copy()
    for c in ("arm", "stratum"):
        table[c] = table[c].astype(str)
    _write(table, args.out)
    a.save_certificate(args.certificate)
    counts = table["arm"].value_counts(sort=False)
    print(
        f"randomised {len(table)} units ({', '.join(f'{k}: {v}' for k, v in counts.items())}); "
        f"assignment {a.certificate['assignment_hash'][:16]}...; seed {a.certificate['seed']['entropy']}"
    )
    return 0


def _arm_differences(units: Any, cert: Any) -> tuple[int, list[Any]]:
    """Units whose ``arm`` column differs from the assignment re-derived from ``cert``.

    Returns the number of such units (a missing arm counts) and the first few ids.
    Arms are compared as text, as `trialkit randomise` writes them.
    """
    import numpy as np

    from trialkit.randomisation.assignment import _rederive

    derived = _rederive(units, cert)["arm"].astype(str).to_numpy()
    given = units["arm"]
    differs = given.isna().to_numpy() | (given.astype(str).to_numpy() != derived)
    ids = units.loc[differs, cert["id"]].head(5).tolist()
    return int(np.count_nonzero(differs)), ids


def _run_verify(args: argparse.Namespace) -> int:
    from trialkit.randomisation import verify_details
    from trialkit.randomisation.assignment import _load_certificate

    cert = _load_certificate(args.certificate)
    design_columns = [cert.get("id"), *(cert.get("strata") or []), cert.get("cluster")]
    units = _read(args.input, [c for c in design_columns if isinstance(c, str)], raw_text=["arm"])
    report = verify_details(units, cert)
    if not report.ok and Path(args.input).suffix.lower() in (".csv", ".txt", ".gz"):
        # certificates made by trialkit randomise before 2026-11-30 read CSV columns with
        # pandas' own types (ids "00001" became 1): verify them against that reading too
        import pandas as pd

        legacy = pd.read_csv(args.input, dtype={"arm": str} if "arm" in units.columns else None)
        legacy_report = verify_details(legacy, cert)
        if legacy_report.ok:
            print(
                "note: verified with the CSV columns read as numbers where they look numeric "
                "(leading zeros dropped), as trialkit randomise read CSV input before "
                "2026-11-30",
                file=sys.stderr,
            )
            units, report = legacy, legacy_report
    if not report.ok or "arm" not in units.columns or cert.get("id") == "arm":
        print(str(report), file=sys.stdout if report.ok else sys.stderr)
        return 0 if report.ok else 1
    n_diff, ids = _arm_differences(units, cert)
    if n_diff:
        print(
            "assignment NOT verified:\n"
            f"  - the `arm` column of {args.input} differs from the assignment re-derived from "
            f"the certificate for {n_diff} of {len(units)} units (ids {ids}"
            f"{', ...' if n_diff > len(ids) else ''})",
            file=sys.stderr,
        )
        return 1
    print(f"{report}; the `arm` column matches it for all {len(units)} units")
    return 0
