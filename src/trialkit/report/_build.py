"""Build a self-contained HTML report and a results JSON from result objects."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialkit._version import __version__
from trialkit.errors import DataError, DesignError
from trialkit.results import Result, jsonable

__all__ = ["Section", "Report", "build_report", "suppress_small_counts"]

#: Column names treated as counts of people (suppressed below ``min_count``).
COUNT_COLUMNS = re.compile(
    r"^(n|n_.*|.*_n|count|counts|.*_count|.*_counts|at_risk|events|n_treated|n_control"
    r"|persons|persons_.*|.*_per_arm|person_months.*|clients|sizes"
    r"|(stratum|strata|cluster|arm|group|block|step|cell|subclass)_sizes)$"
)
#: ``n_*`` names that count design elements or computations, not people (kept as they are).
NOT_PERSON_COUNTS = re.compile(
    r"^n_(steps|periods|arms|draws|boot|sims|perm|permutations|blocks|horizons|iter|iterations"
    r"|covariates|cluster_covariates|jobs|outcomes|lags|leads|cohorts|rounds)$"
)


def _is_count(name: str) -> bool:
    return bool(COUNT_COLUMNS.match(name)) and not NOT_PERSON_COUNTS.match(name)


#: Column names that identify a person: never written.
PERSON_ID_COLUMNS = re.compile(r"^(person_id|personal_id|hetu|ssn|henkilotunnus)$", re.I)
#: Further column names of tables treated as identifiers: ``id``, ``*_id``, ``*_ids``,
#: ``id_*`` (``client_id``, ``customer_id``, ``jobseeker_id``, ``id_number``) ...
ID_LIKE_COLUMNS = re.compile(
    r"^(ids?|.+[_ \-]ids?|ids?[_ \-].+|.*henkilotunnus|.*henkil[oö]|hetu|ssn|client|clients"
    r"|person|asiakas.*|.*asiakasnumero)$",
    re.I,
)
#: camelCase identifiers: ``personId``, ``PersonID``, ``clientIds``.
CAMEL_ID_COLUMNS = re.compile(r"^.*[a-z](Id|ID)s?$")
#: ... except identifiers of groups, which are not persons (a municipality, a stratum).
GROUP_ID_COLUMNS = re.compile(
    r"^(.*[_ ])?(municipality|municipalities|kunta|maakunta|cluster|clusters|stratum|strata"
    r"|block|office|region|area|arm|cohort|period|step|wave|site|outcome|term|trial|plan|seed"
    r"|run|draw|event|group|month|year|quarter|scenario|start_month)"
    r"([_ \-]?ids?|[_ ]id[_ ].*)?$",
    re.I,
)
#: A Finnish personal identity code (henkilotunnus), e.g. ``010180-123A``.
HETU = re.compile(r"^\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]$", re.I)
#: Columns derived from a count of people (degrees of freedom): suppressed in a row
#: whose total count (``n``, ``n_obs``, ``n_clusters``, ...) is suppressed.
DERIVED_COLUMNS = re.compile(r"^(df|dof|df_.*|.*_df)$")
#: Total counts of a row: when one is suppressed, every count and df of the row is.
TOTAL_COUNTS = re.compile(r"^(n|n_obs|n_total|persons|clients|count)$")
#: Counts the degrees of freedom are derived from (n - k; clusters - 1).
DF_SOURCES = re.compile(r"^(n|n_obs|n_total|persons|clients|count|n_clusters)$")
#: Counts of the parts of a total (the arms): when one is suppressed, so are the others,
#: since the total minus the shown part would give it away.
PART_COUNTS = re.compile(r"^(n|persons)_(treated|control|treatment)$")


def _is_person_id_column(name: Any) -> bool:
    if isinstance(name, tuple):  # a MultiIndex column: any of its levels
        return any(_is_person_id_column(part) for part in name if str(part))
    s = str(name)
    return bool(PERSON_ID_COLUMNS.match(s)) or (
        bool(ID_LIKE_COLUMNS.match(s) or CAMEL_ID_COLUMNS.match(s))
        and not GROUP_ID_COLUMNS.match(s)
    )


def _person_level_reason(frame: pd.DataFrame) -> str | None:
    """Why ``frame`` looks person-level (``None`` when it does not).

    A column named like a person identifier (``person_id``, ``client_id``, ``id``; group
    identifiers such as ``municipality_id`` excepted); a cell holding a Finnish personal
    identity code. (A row count alone is no evidence: a table of 24 municipalities next to
    a 24-unit result is not person-level.)
    """
    for c in frame.columns:
        if _is_person_id_column(c):
            return f"the person identifier column {str(c)!r}"
    for c in frame.columns:
        col = frame[c]
        if col.dtype == object or pd.api.types.is_string_dtype(col):
            texts = col.dropna().astype(str).head(1000)
            if texts.str.match(HETU).any():
                return f"personal identity codes in column {str(c)!r}"
    return None


SUPPRESSED = "<{k}"

#: Keys of per-person records (a randomisation certificate's ``ids``, ``id_strata`` and
#: ``id_clusters``): removed from results JSON.
PERSON_RECORD_KEYS = frozenset({"ids", "id_strata", "id_clusters"})


def _is_person_record(key: Any, value: Any, n_units: int | None) -> bool:
    """Whether ``value`` (under ``key``) is a per-person record to remove from JSON.

    Per-person record keys always are; so is any list of ``n_units`` ids (strings or
    integers) that sits next to an ``n_units`` count, whatever its key.
    """
    if str(key) in PERSON_RECORD_KEYS:
        return True
    if n_units is None or n_units < 2 or not isinstance(value, list) or len(value) != n_units:
        return False
    return all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value)


def suppress_small_counts(frame: pd.DataFrame, *, min_count: int = 5) -> pd.DataFrame:
    """Replace counts in ``1 .. min_count - 1`` by the text ``"<min_count"``.

    Count columns are recognised by name (``n``, ``n_*``, ``*_count``,
    ``at_risk``, ``events``, ...); ``n_*`` names of design elements and computations
    (``n_steps``, ``n_periods``, ``n_draws``, ...) are not counts of people and are
    kept (cluster counts are suppressed: a cluster may be one person). Zero is kept (it discloses nothing about a
    person). Index levels with count names are treated the same way. In a row whose
    total (``n``, ``n_obs``, ``n_clusters``, ...) is suppressed, every other count and the
    degrees of freedom (``df``, derived from n) are suppressed too; ``n_treated`` and
    ``n_control`` are suppressed together (the total minus one gives the other).

    A person-level frame is refused: one with a column named like a person identifier
    (``person_id``, ``client_id``, ``id``, ... -- not group ids such as
    ``municipality_id``) or a Finnish personal identity code in a cell.

    Parameters
    ----------
    frame : DataFrame
        A results table.
    min_count : int
        Smallest count that may be shown (default 5).

    Returns
    -------
    DataFrame
        A copy; suppressed cells become strings such as ``"<5"``.

    Raises
    ------
    DataError
        If the table has a person-identifier column such as ``person_id``.

    Examples
    --------
    >>> suppress_small_counts(pd.DataFrame({"estimate": [0.1, 0.2], "n": [3, 40]}))
      estimate   n
    0      0.1  <5
    1      0.2  40
    """
    out = frame.reset_index() if any(nm is not None for nm in frame.index.names) else frame.copy()
    reason = _person_level_reason(out)
    if reason:
        raise DataError(
            f"a report table holds {reason}; reports never contain person-level rows "
            "(aggregate first, e.g. counts per arm)"
        )
    marker = SUPPRESSED.format(k=min_count)
    counts = [c for c in out.columns if _is_count(str(c))]
    small: dict[Any, np.ndarray] = {}
    for col in counts:
        values = pd.to_numeric(out[col], errors="coerce")
        small[col] = ((values > 0) & (values < min_count)).to_numpy(bool)
    none = np.zeros(len(out), dtype=bool)
    total_small = none.copy()
    df_small = none.copy()
    for col in counts:
        if TOTAL_COUNTS.match(str(col)):
            total_small |= small[col]
        if DF_SOURCES.match(str(col)):
            df_small |= small[col]
    part_small = none.copy()
    for col in counts:
        if PART_COUNTS.match(str(col)):
            part_small |= small[col]
    hide: dict[Any, np.ndarray] = {}
    for col in counts:
        extra = total_small | (part_small if PART_COUNTS.match(str(col)) else none)
        values = pd.to_numeric(out[col], errors="coerce").to_numpy(float)
        hide[col] = small[col] | (extra & (values != 0))
    for col in out.columns:
        if DERIVED_COLUMNS.match(str(col)) and col not in hide:
            hide[col] = df_small & out[col].notna().to_numpy(bool)
    for col, mask in hide.items():
        if mask.any():
            out[col] = out[col].astype(object)
            out.loc[mask, col] = marker
    if any(nm is not None for nm in frame.index.names):
        names = [nm for nm in frame.index.names if nm is not None]
        out = out.set_index(names)
    return out


def _suppress_row(row: dict[str, Any], *, min_count: int) -> dict[str, Any]:
    """Secondary suppression in one JSON record: df and the other counts of a small total."""
    marker = SUPPRESSED.format(k=min_count)
    keys = list(row)

    def _hide(k: Any) -> None:
        v = row[k]
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v != 0:
            row[k] = marker

    total = any(TOTAL_COUNTS.match(str(k)) and row[k] == marker for k in keys)
    if total or any(DF_SOURCES.match(str(k)) and row[k] == marker for k in keys):
        for k in keys:
            if DERIVED_COLUMNS.match(str(k)) or (total and _is_count(str(k))):
                _hide(k)
    if any(PART_COUNTS.match(str(k)) and row[k] == marker for k in keys):
        for k in keys:
            if PART_COUNTS.match(str(k)):
                _hide(k)
    return row


def _suppress_json(
    obj: Any, *, min_count: int, counting: bool = False, in_list: bool = False
) -> Any:
    """Suppress small counts in a JSON-safe object.

    A value is a count when its key is a count name, or when it sits anywhere below
    such a key (e.g. ``{"persons_per_arm": {"treatment": 3}}``, ``{"stratum_sizes": [3, 3]}``).
    Per-person records (``ids``, ``id_strata``, ``id_clusters``, or any list of
    ``n_units`` ids next to an ``n_units`` count) are removed.
    """
    if isinstance(obj, Mapping):
        if any(PERSON_ID_COLUMNS.match(str(k)) for k in obj):
            raise DataError("results JSON would hold a person identifier; refused")
        # a table's rows (records in a list) or columns (lists) under an id-like name, as
        # `suppress_small_counts` refuses tables; a scalar such as a certificate's
        # {"id": "person_id"} names a column and is kept
        for k, v in obj.items():
            if str(k) in PERSON_RECORD_KEYS:  # removed below
                continue
            if _is_person_id_column(k) and (in_list or (isinstance(v, list) and len(v) > 1)):
                raise DataError(
                    f"results JSON would hold the person identifier column {str(k)!r}; refused"
                )
        n_units = obj.get("n_units")
        if isinstance(n_units, bool) or not isinstance(n_units, int):
            n_units = None
        return _suppress_row(
            {
                k: _suppress_json(v, min_count=min_count, counting=counting or _is_count(str(k)))
                for k, v in obj.items()
                if not _is_person_record(k, v, n_units)
            },
            min_count=min_count,
        )
    if isinstance(obj, list):
        return [
            _suppress_json(v, min_count=min_count, counting=counting, in_list=True) for v in obj
        ]
    if (
        counting
        and isinstance(obj, (int, float))
        and not isinstance(obj, bool)
        and 0 < obj < min_count
    ):
        return SUPPRESSED.format(k=min_count)
    return obj


def _table_body_texts(table: Any) -> list[Any]:
    """Texts of a matplotlib table's body cells (not its row or column labels).

    Row labels sit in column -1. Column labels sit in row 0, which is recognised when
    the table also has row labels (then there is no corner cell ``(0, -1)``); without
    row labels row 0 is treated as body, so a header of small numbers is suppressed too
    (harmless, and never a leak).
    """
    celld = table.get_celld()
    has_header = (0, -1) not in celld and (1, -1) in celld
    return [
        cell.get_text()
        for (row, col), cell in celld.items()
        if col >= 0 and not (has_header and row == 0)
    ]


def _suppress_figure_text(fig: Any, *, min_count: int) -> int:
    """Replace integer labels below ``min_count`` in a figure's texts (at-risk tables)."""
    texts = list(fig.findobj(match=lambda a: hasattr(a, "get_text") and hasattr(a, "set_text")))
    # a table's cells hold their Text outside the artist tree (Cell has no set_text)
    from matplotlib.table import Table

    for table in fig.findobj(match=Table):
        texts.extend(_table_body_texts(table))
    changed = 0
    seen: set[int] = set()
    for text in texts:
        if id(text) in seen:
            continue
        seen.add(id(text))
        s = text.get_text().strip()
        if re.fullmatch(r"[1-9]\d*", s) and int(s) < min_count:
            text.set_text(SUPPRESSED.format(k=min_count))
            changed += 1
    return changed


@dataclass
class Section:
    """One section of a report.

    Parameters
    ----------
    title : str
        Heading.
    text : str
        Paragraphs (plain text; blank lines separate paragraphs).
    results : mapping of str to Result
        Results shown as tables (``to_frame()``) and written to results JSON.
    tables : mapping of str to DataFrame
        Further tables (e.g. estimate vs truth), already aggregated.
    figures : sequence of (caption, Figure)
        Matplotlib figures; the caption is also the image's alt text.
    """

    title: str
    text: str = ""
    results: Mapping[str, Result] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    figures: Sequence[tuple[str, Any]] = ()


@dataclass(frozen=True)
class Report:
    """What :func:`build_report` wrote."""

    html_path: Path
    json_path: Path
    figure_paths: tuple[Path, ...]
    n_suppressed: int


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #2b6cb0}h2{margin-top:2em;color:#2b6cb0}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f0f4f8}
td.l,th.l{text-align:left}figure{margin:1em 0}figcaption{font-size:.9em;color:#555}
img{max-width:100%;height:auto}.meta{color:#666;font-size:.85em}
"""


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return ""
        return f"{v:.4g}"
    if isinstance(v, (pd.Timestamp, _dt.date)):
        return str(v.date()) if isinstance(v, pd.Timestamp) else str(v)
    return str(v)


def _table_html(frame: pd.DataFrame, caption: str) -> str:
    frame = frame.reset_index() if any(nm is not None for nm in frame.index.names) else frame
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = "".join(
            f'<td class="l">{html.escape(_fmt(v))}</td>'
            if isinstance(v, str)
            else f"<td>{html.escape(_fmt(v))}</td>"
            for v in rec
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def build_report(
    sections: Sequence[Section],
    out: str | Path,
    *,
    title: str = "trialkit evaluation report",
    min_count: int = 5,
    extra_json: Mapping[str, Any] | None = None,
) -> Report:
    """Write ``report.html`` (self-contained), ``results.json`` and the figures into ``out``.

    Parameters
    ----------
    sections : sequence of Section
        The report's sections in order.
    out : path
        Output directory (created).
    title : str
        Title of the report.
    min_count : int
        Counts in ``1 .. min_count - 1`` are suppressed everywhere (default 5).
    extra_json : mapping, optional
        Further JSON-safe entries of ``results.json`` (e.g. estimates next to truth).

    Returns
    -------
    Report
        Paths written and the number of suppressed cells.

    Raises
    ------
    DataError
        If any table would write a person identifier, or is person-level: a column
        named like an identifier (``person_id``, ``client_id``, ``id``), a personal
        identity code in a cell, or as many rows as a reported result has observations
        (``n_obs``) with a column of distinct strings or integers.

    Examples
    --------
    >>> import tempfile
    >>> from trialkit.results import effect_table
    >>> r = effect_table([0.03], [0.01], index=["treatment"], n=[400], method="dim", n_obs=400)
    >>> rep = build_report([Section("Effect", results={"ITT": r})], tempfile.mkdtemp())
    >>> rep.html_path.name
    'report.html'
    """
    if not isinstance(min_count, int) or min_count < 1:
        raise DesignError(f"`min_count` must be a positive integer; got {min_count!r}")
    out_dir = Path(out)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    n_suppressed = 0
    body: list[str] = []
    results_json: dict[str, Any] = {}
    figure_paths: list[Path] = []
    for s_i, sec in enumerate(sections, start=1):
        body.append(f"<section><h2>{html.escape(sec.title)}</h2>")
        for para in (p.strip() for p in sec.text.split("\n\n")):
            if para:
                body.append(f"<p>{html.escape(para)}</p>")
        sec_json: dict[str, Any] = {}
        for label, res in sec.results.items():
            try:
                frame = res.to_frame()
            except NotImplementedError:
                frame = None
            if frame is not None:
                safe = suppress_small_counts(frame, min_count=min_count)
                n_suppressed += int(
                    (safe.astype(str) == SUPPRESSED.format(k=min_count)).sum().sum()
                )
                body.append(_table_html(safe, label))
            meta = f"method: {res.method}; observations: {_fmt(res.n_obs) if res.n_obs >= min_count or res.n_obs == 0 else SUPPRESSED.format(k=min_count)}"
            if res.excluded:
                meta += "; excluded: " + "; ".join(
                    f"{e.reason} ({e.n if e.n >= min_count else SUPPRESSED.format(k=min_count)})"
                    for e in res.excluded
                )
            body.append(f'<p class="meta">{html.escape(meta)}</p>')
            sec_json[label] = res.to_dict()
        for label, frame in sec.tables.items():
            safe = suppress_small_counts(frame, min_count=min_count)
            n_suppressed += int((safe.astype(str) == SUPPRESSED.format(k=min_count)).sum().sum())
            body.append(_table_html(safe, label))
            sec_json[label] = jsonable(frame)
        for f_i, (caption, fig) in enumerate(sec.figures, start=1):
            n_suppressed += _suppress_figure_text(fig, min_count=min_count)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
            png = buf.getvalue()
            path = fig_dir / f"fig{s_i:02d}_{f_i:02d}.png"
            path.write_bytes(png)
            figure_paths.append(path)
            b64 = base64.b64encode(png).decode("ascii")
            alt = html.escape(caption, quote=True)
            body.append(
                f'<figure><img src="data:image/png;base64,{b64}" alt="{alt}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        body.append("</section>")
        results_json[sec.title] = sec_json
    payload: dict[str, Any] = {
        "title": title,
        "trialkit_version": __version__,
        "min_count": min_count,
        "sections": results_json,
    }
    if extra_json:
        payload.update(jsonable(dict(extra_json)))
    payload = _suppress_json(jsonable(payload), min_count=min_count)
    json_path = out_dir / "results.json"
    json_path.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><main><h1>{html.escape(title)}</h1>"
        f'<p class="meta">trialkit {__version__}; generated {stamp}; counts below {min_count} suppressed.</p>'
        + "".join(body)
        + "</main></body></html>\n"
    )
    html_path = out_dir / "report.html"
    html_path.write_text(doc, encoding="utf-8")
    return Report(
        html_path=html_path,
        json_path=json_path,
        figure_paths=tuple(figure_paths),
        n_suppressed=n_suppressed,
    )
