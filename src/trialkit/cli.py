"""The ``trialkit`` command line.

``trialkit demo --out DIR`` runs the whole path on the bundled example data.
Further subcommands (``power``, ``randomise``, ``verify``, ...) are contributed
by the stage modules: each lists a ``_cli`` module in :data:`SUBCOMMAND_MODULES`
that defines ``add_parser(subparsers)``; the parser it adds sets ``func`` to a
handler ``func(args) -> int`` (the exit code).

User errors (:class:`trialkit.errors.TrialkitError`) and file-system errors
(:class:`OSError`) print one line on stderr and exit with status 2; no
traceback. Output paths are checked before any work is done
(:func:`check_output_file`, :func:`check_output_dir`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from trialkit._version import __version__
from trialkit.errors import DataError, TrialkitError

__all__ = ["main", "build_parser", "SUBCOMMAND_MODULES", "check_output_file", "check_output_dir"]

#: Modules that add subcommands; each defines ``add_parser(subparsers)``.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "trialkit._demo_cli",
    "trialkit.randomisation._cli",
    "trialkit.power._cli",
)


def check_output_file(path: str, option: str, suffixes: Sequence[str] | None = None) -> None:
    """Refuse, before any work is done, an output file that cannot be written.

    ``suffixes`` (e.g. ``(".csv", ".parquet")``) are the allowed endings of the
    name (case-insensitive); the folder it goes into must exist.
    """
    p = Path(path)
    if suffixes is not None and not p.name.lower().endswith(tuple(suffixes)):
        raise DataError(f"{option} {path!r}: unknown file type; use one of {', '.join(suffixes)}")
    if p.is_dir():
        raise DataError(f"{option} {path!r} is a folder; give a file name")
    parent = p.parent
    if not parent.is_dir():
        raise DataError(f"{option} {path!r}: folder {str(parent)!r} does not exist")


def check_output_dir(path: str, option: str) -> None:
    """Refuse, before any work is done, an output folder that is an existing file."""
    p = Path(path)
    for q in (p, *p.parents):
        if q.exists() and not q.is_dir():
            raise DataError(f"{option} {path!r}: {str(q)!r} is a file, not a folder")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``trialkit`` command."""
    parser = argparse.ArgumentParser(
        prog="trialkit",
        description=(
            "Design, randomise and evaluate trials of employment services: power, "
            "randomisation, matched controls, difference-in-differences and five-year "
            "register follow-up."
        ),
    )
    parser.add_argument("--version", action="version", version=f"trialkit {__version__}")
    parser.add_argument(
        "--backend",
        choices=["serial", "joblib", "dask"],
        default=None,
        help="where repeated work runs (simulations, bootstraps, partitions); "
        "default: $TRIALKIT_BACKEND or serial",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help="workers for joblib")
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (implies --backend dask)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trialkit`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    if args.backend or args.n_jobs or args.scheduler:
        from trialkit._parallel import configure

        configure(
            backend=args.backend or ("dask" if args.scheduler else None),
            n_jobs=args.n_jobs,
            scheduler=args.scheduler,
        )
    try:
        return int(args.func(args) or 0)
    except TrialkitError as exc:
        print(f"trialkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # missing, unreadable or unwritable files and folders
        print(f"trialkit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
