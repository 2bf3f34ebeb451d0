"""Sequential enrolment: stratified permuted blocks of random size, persisted and hash-chained.

Jobseekers arrive every month. :class:`SequentialRandomiser` assigns arrivals
one by one (or a monthly batch at a time, in id order) from permuted blocks kept
per stratum; each block holds ``m`` copies of the allocation ratio with ``m``
drawn at random, so the next assignment cannot be guessed from the past ones.

Its state (design, generator state, open blocks) is written to a JSON file after
every batch, so enrolment can stop and resume in another session with exactly
the same sequence. Every assignment is appended to a JSON-lines log in which
each record carries the SHA-256 of the previous one: editing, deleting or
reordering any earlier line breaks the chain (:func:`verify_log`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialkit._checks import as_list, require_columns, require_frame, require_unique
from trialkit._rng import as_seed_sequence
from trialkit._typing import SeedLike
from trialkit.errors import DataError, DesignError
from trialkit.randomisation.assignment import VerifyReport, _parse_arms, _ss_record

__all__ = ["SequentialRandomiser", "verify_log"]

_GENESIS = "0" * 64


def _record_hash(rec: Mapping[str, Any]) -> str:
    body = {k: v for k, v in rec.items() if k != "hash"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def verify_log(path: str | os.PathLike[str]) -> VerifyReport:
    """Check the hash chain of a sequential-randomisation log.

    Returns a :class:`VerifyReport` (truthy when intact) naming the first
    broken line. When the state file beside the log exists, its recorded last
    hash and count must match the log's end (so a truncated log is detected).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> d = tempfile.mkdtemp()
    >>> r = SequentialRandomiser.create(d + "/trial.json", seed=1)
    >>> _ = r.assign(pd.DataFrame({"person_id": [1, 2, 3]}))
    >>> bool(verify_log(d + "/trial.json.log"))
    True
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"log file {str(p)!r} does not exist")
    prev = _GENESIS
    n = 0
    with open(p, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                return VerifyReport(False, (f"line {lineno} is not valid JSON",))
            if rec.get("prev") != prev:
                return VerifyReport(
                    False, (f"line {lineno}: chain broken (previous hash does not match)",)
                )
            if _record_hash(rec) != rec.get("hash"):
                return VerifyReport(
                    False, (f"line {lineno}: record was altered (hash does not match its content)",)
                )
            prev = rec["hash"]
            n += 1
    state_path = p.with_name(p.name[: -len(".log")]) if p.name.endswith(".log") else None
    if state_path is not None and state_path.exists():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("last_hash") != prev or state.get("n_records") != n:
            return VerifyReport(
                False,
                (
                    f"log ends at record {n} with hash {prev[:12]}..., but the state file expects "
                    f"{state.get('n_records')} records ending {str(state.get('last_hash'))[:12]}... (truncated or replaced)",
                ),
            )
    return VerifyReport(True, ())


_INT_FLOAT_TEXT = re.compile(r"-?\d+\.0+")


def _id_keys(s: pd.Series, *, column: str) -> np.ndarray:
    """The ids as the log records them: text of the canonical id (``str`` objects).

    As :func:`~trialkit.randomisation.randomise` does, integer-valued floats are
    the integers they hold (``1.0`` is the person ``1``); non-integer floats and
    booleans are refused, and so are missing ids.
    """
    miss = s.isna().to_numpy()
    if miss.any():
        raise DataError(
            f"column {column!r} (the id) of `arrivals` has {int(miss.sum())} missing values; "
            "every arrival needs an id"
        )
    if pd.api.types.is_bool_dtype(s):
        raise DataError(f"column {column!r} (the id) must hold integers or strings; got booleans")
    if pd.api.types.is_float_dtype(s):
        v = s.to_numpy(dtype=float)
        if not np.all(v == np.round(v)):
            raise DataError(
                f"column {column!r} (the id) must hold integers or strings; got non-integer floats"
            )
        return s.astype(np.int64).astype(str).to_numpy(dtype=object)
    if s.dtype == object:
        # mixed objects: an integer-valued float element is that integer
        vals = [
            int(x) if isinstance(x, (float, np.floating)) and float(x).is_integer() else x
            for x in s.to_numpy()
        ]
        return pd.Series(vals, dtype=object).astype(str).to_numpy(dtype=object)
    return s.astype(str).to_numpy(dtype=object)


def _logged_keys(logged: str) -> tuple[str, ...]:
    """Keys an id written to an older log stands for (``"1.0"`` was the float id 1.0)."""
    if _INT_FLOAT_TEXT.fullmatch(logged):
        return (logged, str(int(logged.split(".")[0])))
    return (logged,)


class SequentialRandomiser:
    """Assign arriving units with stratified permuted blocks of random size.

    Create one with :meth:`create` (writes the state file ``path`` and the log
    ``path + ".log"``), resume it with :meth:`open`, assign with :meth:`assign`.

    Parameters
    ----------
    path : str or path
        State file (JSON). The log is ``path + ".log"`` (JSON lines).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> d = tempfile.mkdtemp()
    >>> r = SequentialRandomiser.create(d + "/lapland.json", strata=["duration_band"], seed=2017)
    >>> month1 = pd.DataFrame({"person_id": [11, 12, 13, 14], "duration_band": ["12-23"] * 4})
    >>> sorted(r.assign(month1)["arm"].value_counts().tolist())
    [2, 2]
    >>> r2 = SequentialRandomiser.open(d + "/lapland.json")   # a later session
    >>> r2.n_assigned
    4
    """

    def __init__(self, path: str | os.PathLike[str], state: dict[str, Any]) -> None:
        self.path = Path(path)
        self.log_path = self.path.with_name(self.path.name + ".log")
        self._state = state
        self._rng = np.random.Generator(np.random.PCG64())
        self._rng.bit_generator.state = state["generator"]
        self._assigned: set[str] = set()

    # -- construction --------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        arms: Sequence[str] | Mapping[str, float] | None = None,
        strata: str | Sequence[str] | None = None,
        id: str = "person_id",
        block_multiples: Sequence[int] = (1, 2, 3),
        seed: SeedLike = None,
        overwrite: bool = False,
    ) -> SequentialRandomiser:
        """Start a new sequential randomisation (fails if ``path`` exists unless ``overwrite``).

        ``block_multiples``: a block holds ``m`` copies of the ratio block
        (``sum(ratios)`` units), ``m`` drawn uniformly from these values.
        """
        p = Path(path)
        if p.exists() and not overwrite:
            raise DesignError(
                f"{p} exists; open it with SequentialRandomiser.open or pass overwrite=True"
            )
        names, r = _parse_arms(arms, ("control", "treatment"))
        mult = [int(m) for m in block_multiples]
        if not mult or any(m < 1 for m in mult):
            raise DesignError(
                f"`block_multiples` must be positive integers; got {list(block_multiples)}"
            )
        ss = as_seed_sequence(seed)
        rng = np.random.Generator(np.random.PCG64(ss))
        state = {
            "format": "trialkit.sequential",
            "version": 1,
            "arms": list(names),
            "ratios": [int(x) for x in r],
            "strata": as_list(strata),
            "id": id,
            "block_multiples": mult,
            "seed": _ss_record(ss),
            "generator": rng.bit_generator.state,
            "blocks": {},
            "n_records": 0,
            "last_hash": _GENESIS,
        }
        obj = cls(p, state)
        log = obj.log_path
        if log.exists():
            log.unlink()
        genesis = {
            "seq": 0,
            "kind": "design",
            "arms": state["arms"],
            "ratios": state["ratios"],
            "strata": state["strata"],
            "id": id,
            "block_multiples": mult,
            "seed": state["seed"],
            "prev": _GENESIS,
        }
        obj._append([genesis])
        obj._save()
        return obj

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> SequentialRandomiser:
        """Resume from the state file; the log's hash chain is verified first."""
        p = Path(path)
        if not p.is_file():
            raise DataError(
                f"state file {str(p)!r} does not exist"
                if not p.exists()
                else f"state file {str(p)!r} is not a file"
            )
        try:
            state = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"state file {str(p)!r} is not JSON ({exc})") from exc
        if not isinstance(state, dict) or state.get("format") != "trialkit.sequential":
            raise DataError(f"{p} is not a trialkit sequential-randomisation state file")
        obj = cls(p, state)
        if not obj.log_path.is_file():
            raise DataError(
                f"the log {str(obj.log_path)!r} of state file {str(p)!r} does not exist"
            )
        rep = verify_log(obj.log_path)
        if not rep:
            raise DataError(f"the log {obj.log_path} fails verification: {rep.differences[0]}")
        with open(obj.log_path, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec.get("kind") == "assignment":
                    obj._assigned.update(_logged_keys(str(rec["id"])))
        return obj

    # -- properties ------------------------------------------------------------
    @property
    def n_assigned(self) -> int:
        """Units assigned so far."""
        return int(self._state["n_records"]) - 1

    @property
    def arms(self) -> list[str]:
        return list(self._state["arms"])

    def log(self) -> pd.DataFrame:
        """The assignments in the log as a table."""
        with open(self.log_path, encoding="utf-8") as fh:
            recs = [json.loads(line) for line in fh]
        return pd.DataFrame([r for r in recs if r.get("kind") == "assignment"])

    # -- work ------------------------------------------------------------------
    def _new_block(self) -> list[int]:
        r = np.asarray(self._state["ratios"], dtype=np.int64)
        m = int(self._rng.choice(np.asarray(self._state["block_multiples"])))
        block = np.repeat(np.arange(r.size), r * m)
        return [int(x) for x in self._rng.permutation(block)]

    def _append(self, records: list[dict[str, Any]]) -> None:
        prev = self._state["last_hash"]
        lines = []
        for rec in records:
            rec["prev"] = prev
            rec["hash"] = _record_hash(rec)
            prev = rec["hash"]
            lines.append(json.dumps(rec, sort_keys=True, separators=(",", ":")))
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._state["last_hash"] = prev
        self._state["n_records"] = int(self._state["n_records"]) + len(records)

    def _save(self) -> None:
        self._state["generator"] = self._rng.bit_generator.state
        _atomic_write(self.path, json.dumps(self._state, indent=1, sort_keys=True))

    def assign(self, arrivals: pd.DataFrame, *, when: str | None = None) -> pd.DataFrame:
        """Assign a batch of arrivals (processed in id order), log them and save the state.

        Parameters
        ----------
        arrivals : DataFrame
            New units with the id column and the strata columns.
        when : str, optional
            Label of the batch (e.g. ``"2017-09"``) written to the log.

        Returns
        -------
        DataFrame
            id, ``arm``, ``stratum``, ``probability``, ``sequence`` (order of
            assignment), ``block`` (block number within the stratum), in the row
            order of ``arrivals``.
        """
        st = self._state
        idc = st["id"]
        require_frame(arrivals, name="arrivals")
        require_columns(arrivals, [idc, *st["strata"]], name="arrivals")
        ids = _id_keys(arrivals[idc], column=idc)
        require_unique(pd.DataFrame({idc: ids}), idc, name="arrivals")
        for c in st["strata"]:
            if arrivals[c].isna().any():
                raise DataError(f"strata column {c!r} of `arrivals` has missing values")
        again = [i for i in ids if i in self._assigned]
        if again:
            raise DataError(f"{len(again)} arrivals were already randomised, e.g. {again[:5]}")
        if st["strata"]:
            labels = arrivals[st["strata"]].astype(str).agg(" | ".join, axis=1).to_numpy()
        else:
            labels = np.full(len(arrivals), "all", dtype=object)
        order = np.argsort(ids, kind="stable")
        r = np.asarray(st["ratios"], dtype=float)
        probs = r / r.sum()
        arm_out = np.empty(len(ids), dtype=object)
        prob_out = np.empty(len(ids))
        seq_out = np.empty(len(ids), dtype=np.int64)
        blk_out = np.empty(len(ids), dtype=np.int64)
        stamp = when or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        records: list[dict[str, Any]] = []
        for i in order:  # arrivals are sequential by nature; one step per unit
            lab = str(labels[i])
            b = st["blocks"].setdefault(lab, {"remaining": [], "number": 0})
            if not b["remaining"]:
                b["remaining"] = self._new_block()
                b["number"] += 1
            code = b["remaining"].pop(0)
            seq = int(st["n_records"]) + len(records)
            arm_out[i] = st["arms"][code]
            prob_out[i] = probs[code]
            seq_out[i] = seq
            blk_out[i] = b["number"]
            records.append(
                {
                    "seq": seq,
                    "kind": "assignment",
                    "id": str(ids[i]),
                    "stratum": lab,
                    "arm": st["arms"][code],
                    "block": b["number"],
                    "batch": stamp,
                }
            )
        self._append(records)
        self._save()
        self._assigned.update(str(x) for x in ids)
        return pd.DataFrame(
            {
                idc: arrivals[idc].to_numpy(),
                "arm": arm_out,
                "stratum": labels,
                "probability": prob_out,
                "sequence": seq_out,
                "block": blk_out,
            },
            index=arrivals.index,
        )
