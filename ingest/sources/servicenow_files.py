"""ServiceNow exports in every container: CSV, XLSX, Table API / list JSON and XML unload files.

All containers end in the same :data:`ingest.sources.servicenow.TABLES` mappings, so a field means
the same thing whichever way it was exported:

- **CSV**: read by :func:`ingest.readers.read_csv_text` (encodings, BOM, formula escape...).
- **XLSX** (label headers, every sheet read, display values): the truncation sentinel row
  ``Export stopped due to excessive size...`` makes the whole file an error: nothing is loaded.
- **JSON**: Table API ``{"result": [...]}`` and list export ``{"records": [...]}``, streamed with
  ijson in batches so that a 1 GB export loads in bounded memory. ``sysparm_display_value=all``
  objects ``{"display_value", "value"}`` keep both: the raw ``value`` for the record id
  (``sys_id``) and for timestamps (UTC), the display value for names, choice labels and references
  (numbers and names, which dbt resolves); reference objects ``{"link", "value"}`` give the value.
- **XML** unload files (``<unload><change_request>...``), streamed with ``ElementTree.iterparse``;
  a ``display_value`` attribute is kept like a JSON display value.

**Audit-style exports** (one row per update of a record, ordered by ``sys_mod_count``, like the
UCI incident event log) load as the latest state (the loader keeps the newest ``sys_updated_on``,
``sys_mod_count`` breaking ties) plus one ``state_history`` row per change of state. A change
reference an incident carried only on earlier events (``caused_by``, ``rfc``: a value the latest
event no longer shows) is kept as an ``incident_link`` (caused_by / fixed_by), not dropped with
the superseded rows; the latest event's value stays the incident's own field.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
from changeboard.ingest.base import ExportSettings, Reading, Recognised, Sample, Source, text_list
from changeboard.ingest.canonical import TS
from changeboard.ingest.mapping import MappedFrame, TableMapping, apply_mapping
from changeboard.ingest.readers import (
    READ_ERROR,
    JsonObject,
    JsonShape,
    ReadError,
    TextBatches,
    control_warning,
    csv_batches,
    document_limits,
    json_shape,
    normalise_nulls,
    repeated_keys,
    replace_controls,
    xlsx_text,
)
from changeboard.ingest.sources import servicenow
from changeboard.ingest.sources.common import batched, concat_mapped, empty_mapped, text_frame, typed_frame

TRUNCATION_SENTINEL = "Export stopped due to excessive size"
DV_PREFIX = "dv_"
# Incident references an audit log's earlier events may carry: (canonical column, incident_link kind).
EARLIER_REFERENCES = (("caused_by_change_ref", "caused_by"), ("fixed_by_change_ref", "fixed_by"))
# Entities whose records have a state worth a history when an export repeats them (audit logs).
HISTORY_ENTITIES = {
    "change": "change",
    "incident": "incident",
    "change_task": "change_task",
    "problem": "problem",
}
SEQUENCE_FIELDS = ("sys_mod_count", "Updates")


def null_values(settings: ExportSettings) -> list[str]:
    """ServiceNow's null spellings plus the placeholders a manifest declares (``null_values``)."""
    return [*servicenow.NULLS, *text_list(settings.extra.get("null_values"))]


def with_settings(
    mapping: TableMapping, settings: ExportSettings, *, timezone: str | None = None
) -> TableMapping:
    """A table mapping with the export's time zone, date format and null placeholders."""
    changes: dict[str, Any] = {"null_values": tuple(null_values(settings))}
    tz = timezone or settings.timezone
    if tz:
        changes["timezone"] = tz
    if settings.date_format:
        changes["date_formats"] = (settings.date_format, *mapping.date_formats)
    return replace(mapping, **changes)


def display_first(mapping: TableMapping) -> TableMapping:
    """Prefer ``dv_<field>`` display values for names, labels and references; keep raw values for
    the record id and timestamps (raw date/times are UTC)."""
    entity = mapping.target
    cols: dict[str, tuple[str, ...]] = {}
    for canonical, candidates in mapping.columns.items():
        if canonical == "source_id" or entity.columns.get(canonical) == TS:
            cols[canonical] = tuple(candidates)
        else:
            cols[canonical] = (*(DV_PREFIX + c for c in candidates), *candidates)
    return replace(mapping, columns=cols)


@dataclass
class Collector:
    """Applies one table mapping batch by batch and keeps what the audit history needs."""

    path: Path
    table: str
    mapping: TableMapping
    parts: list[MappedFrame] = field(default_factory=list)
    history_src: list[pl.DataFrame] = field(default_factory=list)
    reference_src: list[pl.DataFrame] = field(default_factory=list)
    rows: int = 0
    warnings: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def add(self, text: pl.DataFrame) -> None:
        """Map one batch of text rows (with ``_source_row``) and keep it for :meth:`frames`."""
        self.parts.append(self.map(text))

    def map(self, text: pl.DataFrame) -> MappedFrame:
        """Map one batch of text rows (with ``_source_row``); an audit log's transitions are kept."""
        self.rows += text.height
        if not self.columns:
            self.columns = [c for c in text.columns if c != "_source_row"]
        mapped = apply_mapping(text, self.mapping, file_label=str(self.path))
        seq_col = next((c for c in SEQUENCE_FIELDS if c in text.columns), None)
        if seq_col is not None and mapped.frame.height:
            seq = text.select(
                pl.col("_source_row").cast(pl.Int64),
                pl.col(seq_col)
                .str.strip_chars()
                .str.replace_all(",", "")
                .cast(pl.Int64, strict=False)
                .alias("_seq"),
            )
            mapped.frame = mapped.frame.join(seq, on="_source_row", how="left")
            mapped.sequence_column = "_seq"
        entity = self.mapping.entity
        # Only an audit log (records repeated with their update count) has transitions to read.
        if entity in HISTORY_ENTITIES and seq_col is not None and mapped.frame.height:
            by = next((c for c in ("sys_updated_by", "Updated by") if c in text.columns), None)
            slim = mapped.frame.select(
                "_source_row",
                pl.col("number"),
                pl.col("state_raw"),
                pl.col("updated_at"),
                pl.col("_seq"),
            )
            if by:
                slim = slim.join(
                    text.select(pl.col("_source_row").cast(pl.Int64), pl.col(by).alias("changed_by")),
                    on="_source_row",
                    how="left",
                )
            else:
                slim = slim.with_columns(pl.lit(None, dtype=pl.String).alias("changed_by"))
            self.history_src.append(slim)
            if entity == "incident":
                self.reference_src.append(
                    mapped.frame.select(
                        "_source_row",
                        "number",
                        "updated_at",
                        "_seq",
                        *(c for c, _ in EARLIER_REFERENCES),
                    )
                )
        return mapped

    def frames(self) -> list[MappedFrame]:
        """The mapped entity, plus state history when the export repeats records (audit log)."""
        main = concat_mapped(self.parts, self.mapping.entity)
        out = [main]
        if self.history_src:
            history = state_history(pl.concat(self.history_src), self.mapping.entity, servicenow.SYSTEM)
            if history is not None:
                out.append(history)
                self.warnings.append(
                    f"audit-style export (records repeated, one row per update): latest state per record kept, "
                    f"{history.frame.height:,} state transitions read into state_history"
                )
        if self.reference_src:
            links = earlier_references(pl.concat(self.reference_src), servicenow.SYSTEM)
            if links is not None:
                out.append(links)
                n = links.frame["incident_ref"].n_unique()
                self.warnings.append(
                    f"{links.frame.height:,} change reference(s) (caused_by / rfc) of {n:,} incident(s) appear only on "
                    "earlier events of the audit log: kept as incident links"
                )
        return out


def state_history(slim: pl.DataFrame, entity: str, system: str) -> MappedFrame | None:
    """One row per change of ``state_raw`` of each record, in (updated_at, sequence, row) order.

    Only for exports that repeat a record (an audit log); a snapshot has no transitions.
    """
    if slim.height == 0 or slim["number"].n_unique() == slim.height:
        return None
    ordered = slim.filter(pl.col("number").is_not_null()).sort(
        ["number", "updated_at", "_seq", "_source_row"], nulls_last=True
    )
    prev = pl.col("state_raw").shift(1).over("number")
    first = pl.int_range(pl.len()).over("number") == 0
    changes = ordered.with_columns(prev.alias("from_state"), first.alias("_first")).filter(
        pl.col("_first") | pl.col("state_raw").ne_missing(pl.col("from_state"))
    )
    frame = changes.select(
        "_source_row",
        pl.lit(system).alias("source_system"),
        pl.lit(HISTORY_ENTITIES[entity]).alias("record_type"),
        pl.col("number").alias("record_ref"),
        pl.col("from_state"),
        pl.col("state_raw").alias("to_state"),
        pl.col("changed_by"),
        pl.col("updated_at").alias("changed_at"),
    )
    return typed_frame("state_history", frame)


def earlier_references(rows: pl.DataFrame, system: str) -> MappedFrame | None:
    """Incident links for the change references an audit log carried only on earlier events.

    ``rows``: every event of the log (``number``, ``updated_at``, ``_seq``, ``_source_row`` and the
    reference columns). The latest event (newest ``updated_at``, then sequence, then row: the
    loader's order) keeps its own values on the incident; every other distinct value becomes one
    ``incident_link`` row (from the first event that carried it).
    """
    ordered = rows.filter(pl.col("number").is_not_null()).sort(
        ["number", "updated_at", "_seq", "_source_row"], nulls_last=True
    )
    if ordered.height == 0 or ordered["number"].n_unique() == ordered.height:
        return None
    latest = ordered.group_by("number", maintain_order=True).last()
    parts = []
    for column, kind in EARLIER_REFERENCES:
        values = (
            ordered.filter(pl.col(column).is_not_null() & (pl.col(column).str.strip_chars() != ""))
            .unique(subset=["number", column], keep="first", maintain_order=True)
            .join(latest.select("number", pl.col(column).alias("_latest")), on="number", how="left")
            .filter(pl.col(column).ne_missing(pl.col("_latest")))
        )
        parts.append(
            values.select(
                "_source_row",
                pl.lit(system).alias("source_system"),
                pl.col("number").alias("incident_ref"),
                pl.lit("change").alias("target_type"),
                pl.col(column).alias("target_ref"),
                pl.lit(kind).alias("kind"),
                pl.col("updated_at"),
            )
        )
    frame = pl.concat(parts)
    return typed_frame("incident_link", frame) if frame.height else None


def _detect(
    path: Path, settings: ExportSettings, headers: list[str], first_number: str | None, hint: str | None
) -> tuple[str, str]:
    if settings.table:
        table, how = settings.table, "table given"
    elif hint and hint in servicenow.TABLES:
        table, how = hint, f"table named in the file ({hint})"
    else:
        found = servicenow.detect_table(path.stem, headers, first_number)
        table, how = found or "", "table detected from file name, record numbers and headers"
    if table not in servicenow.TABLES:
        raise ReadError(
            f"{path}: cannot tell which ServiceNow table this is (expected one of {', '.join(servicenow.TABLES)}; "
            f"fields were {', '.join(headers[:8])}...); name the file after the table or pass --table"
        )
    return table, how


def _first_number(frame: pl.DataFrame) -> str | None:
    for col in ("number", "Number", DV_PREFIX + "number"):
        if col in frame.columns:
            v = frame[col].drop_nulls().head(1).to_list()
            if v:
                return str(v[0])
    return None


def finish_reading(
    path: Path,
    table: str,
    mapping: TableMapping,
    batches: Iterator[pl.DataFrame],
    *,
    how: str,
    warnings: list[str],
) -> Reading:
    """The reading of one ServiceNow table from its text batches: the columns are checked at once,
    the batches are mapped as the reading's frames are asked for (cap warning and history at the end).

    A snapshot keyed by ``sys_id`` or ``number`` comes batch by batch, so that a large export is
    mapped while the previous batch loads and is never held whole. An audit log (a sequence column:
    its history and version order need every row) and an export keyed by another column (its
    repeats warning counts the whole file) come whole, once every batch is mapped.
    """
    batches = iter(batches)
    first = next(batches, None)
    columns = [] if first is None else [c for c in first.columns if c not in ("_source_row", READ_ERROR)]
    if first is not None and not mapping.resolve_columns(columns):
        expected = ", ".join(c[0] for c in list(mapping.columns.values())[:4])
        hint = ""
        if len(columns) == 1 and (seps := [d for d in ";\t|," if d in columns[0]]):
            hint = f"; the header is one field holding {seps[0]!r}: is that the delimiter? (declare it in _export.toml)"
        raise ReadError(
            f"{path}: no column of a ServiceNow {table} export was found "
            f"(expected fields such as {expected}; found: {', '.join(columns[:8]) or 'none'}){hint}"
        )
    id_col = mapping.resolve_columns(columns).get("source_id")
    keyed_by_other = bool(id_col and id_col.lower() not in ("sys_id", "sys id", "number"))
    whole = keyed_by_other or any(c in SEQUENCE_FIELDS for c in columns)
    out_warnings = [*warnings]
    collector = Collector(path=path, table=table, mapping=mapping)
    everything = itertools.chain([] if first is None else [first], batches)

    def reader_warnings() -> None:
        # the text reader's warnings (a cut last line...) are complete once the last batch came
        out_warnings[:] = [*warnings]
        if collector.rows == servicenow.EXPORT_CAP:
            out_warnings.append(
                f"WARNING: exactly {servicenow.EXPORT_CAP:,} rows: ServiceNow's default export cap; the export was "
                "probably cut. Export the rest (e.g. by date range) and ingest it too."
            )

    def by_batch() -> Iterator[MappedFrame]:
        given = False
        for batch in everything:
            mapped = collector.map(batch)
            if mapped.frame.height or mapped.quarantine.height:
                given = True
                yield mapped
        if not given:
            yield empty_mapped(mapping.entity)
        reader_warnings()

    def at_once() -> Iterator[MappedFrame]:
        for batch in everything:
            collector.add(batch)
        reader_warnings()
        frames = collector.frames()
        out_warnings.extend(collector.warnings)
        main = frames[0].frame
        if keyed_by_other and main.height and "source_id" in main.columns:
            repeats = main.height - main["source_id"].n_unique()
            if repeats:
                out_warnings.append(
                    f"WARNING: no sys_id column: records are keyed by {id_col!r}, which repeats on {repeats:,} row(s); "
                    "only the newest row per key is kept (the others count as superseded, or quarantined when they tie). "
                    "Add sys_id to the export to keep every record."
                )
        yield from frames

    return Reading(
        system=servicenow.SYSTEM,
        table=table,
        frames=at_once() if whole else by_batch(),
        warnings=out_warnings,
        detected_by=how,
        stream_entity=None if whole else mapping.entity,
    )


def read_csv_batches(path: Path, settings: ExportSettings, text: TextBatches) -> Reading:
    """A ServiceNow CSV being read in batches (called by :func:`read_csv`): the table is
    told from the headers and the first record, then every batch is mapped as it comes."""
    batches = iter(text.batches)
    head: list[pl.DataFrame] = []
    for batch in batches:
        head.append(batch)
        if batch.height:
            break
    sample = head[-1] if head else pl.DataFrame({"_source_row": []})
    table, how = _detect(path, settings, text.headers, _first_number(sample), None)
    mapping = with_settings(servicenow.TABLES[table], settings)
    return finish_reading(
        path, table, mapping, itertools.chain(head, batches), how=how, warnings=text.warnings
    )


# Rows of a ServiceNow CSV read, mapped and loaded at a time (D22): a large export is never held whole,
# and a batch loads while the next is read. Two DuckDB row groups: fewer rows per batch make more,
# slower insert statements; more rows make the first load start later.
CSV_BATCH_ROWS = 245_760


def read_csv(path: Path, settings: ExportSettings) -> Reading:
    """A ServiceNow list CSV export of any supported table (audit logs give state history too);
    its batches are read as the reading's frames are asked for."""
    resources = ExitStack()
    try:
        text = resources.enter_context(
            csv_batches(
                path,
                encoding=settings.encoding,
                delimiter=settings.delimiter,
                null_values=null_values(settings),
                batch_rows=CSV_BATCH_ROWS,
            )
        )
        reading = read_csv_batches(path, settings, text)
    except BaseException:
        resources.close()
        raise
    reading.resources = resources
    return reading


# ---------------------------------------------------------------------------------------------- XLSX


def read_xlsx(path: Path, settings: ExportSettings) -> Reading:
    """A ServiceNow Excel export: every sheet (label headers); the truncation row is an error."""
    text, headers, warnings = xlsx_text(path, null_values(settings), sentinel=TRUNCATION_SENTINEL)
    table, how = _detect(path, settings, headers, _first_number(text), None)
    mapping = with_settings(servicenow.TABLES[table], settings)
    return finish_reading(path, table, mapping, iter([text]), how=f"XLSX, {how}", warnings=warnings)


# ---------------------------------------------------------------------------------------------- JSON


def flatten_record(record: dict[str, Any]) -> dict[str, Any]:
    """One ServiceNow JSON record as flat text fields: ``field`` = raw value, ``dv_field`` = display."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict) and ("value" in value or "display_value" in value):
            raw = value.get("value")
            out[key] = raw if raw not in (None, "") else value.get("display_value")
            if "display_value" in value:
                out[DV_PREFIX + key] = value.get("display_value")
        else:
            out[key] = value
    return out


def iter_json_records(path: Path, shape: JsonShape) -> Iterator[dict[str, Any]]:
    """The records of a JSON export, one by one (ijson, constant memory). A record holding a key
    twice (at any level) is marked: see :func:`~changeboard.ingest.readers.repeated_keys`."""
    import ijson

    with path.open("rb") as f:
        try:
            yield from ijson.items(f, shape.prefix, use_float=True, map_type=JsonObject)
        except ijson.JSONError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ReadError(
                f"{path}: invalid JSON inside {shape.container or 'the top-level array'!r}: {first}; the file may "
                "have been cut (expected a complete JSON document); nothing was loaded from it"
            ) from exc


def _with_repeats(records: Iterator[Any]) -> Iterator[tuple[Any, list[str]]]:
    """Each record with the keys it repeats (see :class:`~changeboard.ingest.readers.JsonObject`)."""
    for record in records:
        yield record, repeated_keys(record)


def _record_problem(number: int, record: Any, repeats: list[str], keys: set[str]) -> str | None:
    """Why a JSON record cannot be loaded as it is (None: it can)."""
    if not isinstance(record, dict):
        return (
            f"record {number} is a JSON {type(record).__name__}, not an object "
            '(expected {"result": [{...}, ...]})'
        )
    if repeats:
        names = ", ".join(repr(k) for k in dict.fromkeys(repeats))
        return (
            f"record {number} holds the key {names} more than once (JSON parsers keep only the last value); "
            "the record is not loaded (expected each key once)"
        )
    for key in keys:
        value = record.get(key)
        if isinstance(value, dict) and ("value" in value or "display_value" in value):
            value = value.get("value")
        if isinstance(value, dict | list):
            return (
                f"record {number}: {key} is a JSON {'object' if isinstance(value, dict) else 'array'}, not a value "
                "(expected a string or number identifying the record); the record is not loaded"
            )
    return None


def _text_batches(
    records: Iterator[Any],
    nulls: list[str],
    columns: set[str] | None,
    keys: set[str] = frozenset(),  # type: ignore[assignment]
    warnings: list[str] | None = None,
) -> Iterator[pl.DataFrame]:
    """Text batches of records; a record that is not an object, repeats a key or has an object or
    array for a key field (``keys``) gets a read error (quarantined). Control characters are
    replaced (:func:`ingest.readers.replace_controls`), told once in ``warnings`` at the end."""
    first_row = 1
    controlled: list[int] = []
    for batch in batched(_with_repeats(records)):
        flat = []
        for i, (r, repeats) in enumerate(batch):
            problem = _record_problem(first_row + i, r, repeats, keys)
            flat.append(flatten_record(r) if problem is None else {READ_ERROR: problem})
        if columns is not None:
            flat = [{k: v for k, v in r.items() if k in columns or k == READ_ERROR} for r in flat]
        frame = text_frame(flat, first_row=first_row)
        frame, rows = replace_controls(frame)
        controlled.extend(rows)
        first_row += len(batch)
        yield normalise_nulls(frame, nulls)
    if controlled and warnings is not None:
        warnings.append(control_warning(controlled))


def _key_fields(mapping: TableMapping) -> set[str]:
    """The fields a record's identity is read from (its id and number)."""
    return {*mapping.columns.get("source_id", ()), *mapping.columns.get("number", ())}


def _needed_columns(mapping: TableMapping) -> set[str]:
    names: set[str] = set(SEQUENCE_FIELDS) | {"sys_updated_by"}
    for candidates in mapping.columns.values():
        names.update(candidates)
    return names | {DV_PREFIX + n for n in names}


def read_json(path: Path, settings: ExportSettings) -> Reading:
    """A ServiceNow Table API (``result``) or list (``records``) JSON export, streamed."""
    shape = json_shape(path)
    if shape is None or (shape.container not in ("result", "records", "") and not settings.system):
        raise ReadError(
            f'{path}: no record array found (expected a ServiceNow {{"result": [...]}} or {{"records": [...]}} export)'
        )
    peek = [flatten_record(r) for r in _take(iter_json_records(path, shape), 50) if isinstance(r, dict)]
    headers = list(dict.fromkeys(k for r in peek for k in r))
    has_display = any(h.startswith(DV_PREFIX) for h in headers)
    first_number = next((str(r.get("number")) for r in peek if r.get("number")), None)
    hint = next((str(r.get("sys_class_name")) for r in peek if r.get("sys_class_name")), None)
    table, how = _detect(path, settings, headers, first_number, hint)
    mapping = with_settings(servicenow.TABLES[table], settings, timezone=None if not has_display else "UTC")
    if not has_display and not settings.timezone:
        mapping = replace(mapping, timezone="UTC")  # raw JSON values are UTC
    if has_display:
        mapping = display_first(mapping)
    nulls = null_values(settings)
    warnings: list[str] = []
    batches = _text_batches(
        iter_json_records(path, shape),
        nulls,
        _needed_columns(mapping),
        _key_fields(servicenow.TABLES[table]),
        warnings,
    )
    kind = {"result": "Table API JSON", "records": "list JSON (JSONv2)", "": "JSON array"}.get(
        shape.container, "JSON"
    )
    how = f"{kind}{' with display values' if has_display else ''}, {how}"
    return finish_reading(path, table, mapping, batches, how=how, warnings=warnings)


def _take(items: Iterator[Any], n: int) -> list[Any]:
    out = []
    for item in items:
        out.append(item)
        if len(out) >= n:
            break
    return out


# ----------------------------------------------------------------------------------------------- XML


def iter_xml_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table, fields) of each record of an ``<unload>`` file; ``display_value`` attributes become
    ``dv_<field>``. Streamed: each record element is cleared once read. An element nested deeper
    than ``CHANGEBOARD_JSON_XML_MAX_DEPTH`` ends the reading (an unload file nests 3 levels)."""
    depth = 0
    max_depth = document_limits()[0]
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            if event == "start":
                depth += 1
                if depth > max_depth:
                    raise ReadError(
                        f"{path}: the XML document nests deeper than {max_depth} levels (element <{elem.tag}>); "
                        f"the limit is {max_depth}: nothing was loaded (expected a ServiceNow <unload> export, "
                        "3 levels deep; raise CHANGEBOARD_JSON_XML_MAX_DEPTH if the export is genuine)"
                    )
                continue
            depth -= 1
            if depth == 1:  # a record: a child of the root
                fields: dict[str, Any] = {}
                for child in elem:
                    fields[child.tag] = child.text
                    if "display_value" in child.attrib:
                        fields[DV_PREFIX + child.tag] = child.attrib["display_value"]
                yield elem.tag, fields
                elem.clear()
    except ET.ParseError as exc:
        raise ReadError(
            f"{path}: not well-formed XML ({exc}); expected a ServiceNow <unload> export"
        ) from exc


def read_xml(path: Path, settings: ExportSettings) -> Reading:
    """A ServiceNow XML unload file (one element per record, named after its table)."""
    records = iter_xml_records(path)
    first = _take(records, 1)
    if not first:
        raise ReadError(
            f"{path}: no record in the XML document (expected <unload><table>...</table></unload>)"
        )
    tag, fields = first[0]
    table, how = _detect(path, settings, list(fields), fields.get("number"), tag)

    def chain() -> Iterator[dict[str, Any]]:
        yield fields
        for t, f in records:
            if t != tag:
                raise ReadError(
                    f"{path}: records of two tables ({tag}, {t}) in one XML file; export one table per file"
                )
            yield f

    has_display = any(k.startswith(DV_PREFIX) for k in fields)
    mapping = with_settings(servicenow.TABLES[table], settings, timezone="UTC")
    if has_display:
        mapping = display_first(mapping)
    warnings: list[str] = []
    batches = _text_batches(chain(), null_values(settings), None, warnings=warnings)
    return finish_reading(path, table, mapping, batches, how=f"XML unload, {how}", warnings=warnings)


# Field names only a ServiceNow export has, and the labels of its tables' signature fields.
_FIELD_NAMES = frozenset({"number", "sys_id", "short_description", "sys_updated_on", "sys_class_name"})
_LABELS = frozenset(h.lower() for sig in servicenow.SIGNATURES.values() for h in sig if h[:1].isupper())


def recognise(sample: Sample) -> Recognised | None:
    """A ServiceNow export: Table API / list JSON by its container; CSV headers, workbooks and XML
    unloads generically (any other source that knows the file by its own signature comes first)."""
    if sample.kind == "csv":
        if sample.headers & _FIELD_NAMES:
            return Recognised("ServiceNow field-name headers", generic=True)
        if sample.headers & _LABELS:  # "number" is a field name too: caught above
            return Recognised("ServiceNow label headers", generic=True)
    if sample.kind == "xlsx":
        return Recognised("XLSX workbook (ServiceNow Excel export)", generic=True)
    if sample.kind == "xml":
        return Recognised("XML document (ServiceNow unload)", generic=True)
    if sample.kind == "json" and sample.json is not None and sample.json.container in ("result", "records"):
        return Recognised(f'ServiceNow JSON ({{"{sample.json.container}": [...]}})')
    return None


SOURCE = Source(
    system=servicenow.SYSTEM,
    readers={"csv": read_csv, "xlsx": read_xlsx, "json": read_json, "xml": read_xml},
    recognise=recognise,
)

__all__ = [
    "CSV_BATCH_ROWS",
    "SOURCE",
    "read_csv",
    "read_csv_batches",
    "read_json",
    "read_xlsx",
    "read_xml",
    "state_history",
]
