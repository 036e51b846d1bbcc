"""Any other tool's export, described by a declarative mapping file (TOML) the user writes.

``changeboard ingest --mapping itop-changes.toml exports/itop/`` (or ``mapping = "..."`` in the
folder's ``_export.toml``). A complete example::

    entity = "change"                  # the canonical entity every row becomes

    [source]
    system = "itop"                    # source_system of the rows (required)
    format = "csv"                     # csv | xlsx | json (default: from the file's content)
    delimiter = ";"                    # CSV only (default: sniffed)
    encoding = "cp1252"                # default: UTF-8 (with or without BOM), else Windows-1252
    decimal_comma = true               # numbers written 1.234,5
    null_values = ["?", "#N/B", "#MULTIVALUE"]
    timezone = "Europe/Berlin"         # of every date/time column (default UTC)
    date_format = "%d.%m.%Y %H:%M"     # or a list of formats, tried in order
    sheet = "Changes"                  # XLSX: one sheet (default: every sheet)
    records = "data.items"             # JSON: dotted path to the record array (default: the first array)

    [columns]                          # canonical column = source column (or a list: first present wins)
    source_id = "ref"
    number = "ref"
    title = "title"
    change_type_raw = "finalclass"
    close_code_raw = "close_code"
    risk_raw = "risk"
    planned_start_at = "start_date"
    actual_end_at = { column = "close_date", date_format = "%d/%m/%Y", timezone = "UTC" }
    updated_at = ["last_update", "creation_date"]

    [constants]                        # canonical column = fixed value
    origin = "itop"

    [value_maps.outcome]               # normalised column = map of the values of another column
    from = "close_code_raw"
    values = { "Completed" = "successful", "Rolled back" = "unsuccessful" }

    [value_maps.change_type]
    from = "change_type_raw"
    values = { "RoutineChange" = "standard", "NormalChange" = "normal", "EmergencyChange" = "emergency" }

    [ci_links]                         # one row per change x affected CI: split into links
    column = "ci_name"
    role = "affected"                  # primary | affected | impacted

Rows that cannot be typed are quarantined (file, row, column, value); a value a value map does not
know becomes null and is reported. ``changeboard ingest --dry-run`` prints what a mapping produces
and every problem without loading anything.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from changeboard.ingest.canonical import DBL, ENTITIES, INT
from changeboard.ingest.mapping import DEFAULT_DATE_FORMATS, NO_WORD, MappedFrame, TableMapping, apply_mapping
from changeboard.ingest.readers import ReadError, normalise_nulls, read_csv_text, sniff_kind
from changeboard.ingest.sources.common import batched, text_frame, typed_frame

if TYPE_CHECKING:
    from changeboard.ingest.registry import ExportSettings, Reading
SYSTEM = "mapped"
ROLES = ("primary", "affected", "impacted")


class MappingFileError(ReadError):
    """A mapping file that is not valid: the message names the file and the key."""


@dataclass
class MappingSpec:
    """A parsed mapping file."""

    path: Path
    entity: str
    system: str
    mapping: TableMapping
    fmt: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    decimal_comma: bool = False
    sheet: str | None = None
    records: str | None = None
    ci_column: str | None = None
    ci_role: str = "affected"
    value_map_sources: dict[str, str] = field(default_factory=dict)  # target -> canonical source column


def _as_tuple(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise MappingFileError(f"{where}: expected a string or a list of strings, got {value!r}")


def load_spec(path: Path) -> MappingSpec:
    """Read and validate a mapping file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MappingFileError(f"{path}: mapping file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingFileError(f"{path}: not valid TOML: {exc}") from exc
    entity = data.get("entity")
    if entity not in ENTITIES:
        raise MappingFileError(
            f"{path}: entity = {entity!r} is not a canonical entity (one of {', '.join(ENTITIES)})"
        )
    ent = ENTITIES[entity]
    source = data.get("source", {})
    system = source.get("system")
    if not isinstance(system, str) or not system.strip():
        raise MappingFileError(f'{path}: [source] system = "..." is required (the source_system of the rows)')
    formats = (
        _as_tuple(source["date_format"], f"{path}: [source] date_format") if "date_format" in source else ()
    )
    columns: dict[str, tuple[str, ...]] = {}
    column_formats: dict[str, tuple[str, ...]] = {}
    column_tz: dict[str, str] = {}
    for canonical, spec in (data.get("columns") or {}).items():
        where = f"{path}: [columns] {canonical}"
        if canonical not in ent.columns:
            raise MappingFileError(f"{where}: not a column of {entity} (columns: {', '.join(ent.columns)})")
        if isinstance(spec, dict):
            if "column" not in spec:
                raise MappingFileError(f'{where}: a table needs column = "..."')
            columns[canonical] = _as_tuple(spec["column"], where)
            if "date_format" in spec:
                column_formats[canonical] = _as_tuple(spec["date_format"], f"{where}.date_format")
            if "timezone" in spec:
                column_tz[canonical] = str(spec["timezone"])
        else:
            columns[canonical] = _as_tuple(spec, where)
    constants = {"source_system": system}
    for canonical, value in (data.get("constants") or {}).items():
        if canonical not in ent.columns:
            raise MappingFileError(f"{path}: [constants] {canonical}: not a column of {entity}")
        constants[canonical] = str(value)
    value_maps: dict[str, dict[str, str]] = {}
    targets: dict[str, str] = {}
    sources: dict[str, str] = {}
    for target, spec in (data.get("value_maps") or {}).items():
        where = f"{path}: [value_maps.{target}]"
        if target not in ent.columns:
            raise MappingFileError(f"{where}: not a column of {entity}")
        if not isinstance(spec, dict) or not isinstance(spec.get("values"), dict):
            raise MappingFileError(f'{where}: needs values = {{ "raw" = "normalised", ... }}')
        src = str(spec.get("from", target))
        if src not in columns:
            raise MappingFileError(f"{where}: from = {src!r} is not mapped in [columns]")
        value_maps[src] = {str(k): str(v) for k, v in spec["values"].items()}
        if src != target:
            targets[src] = target
        sources[target] = src
    missing = [c for c in ent.required if c not in columns and c not in constants]
    if missing:
        raise MappingFileError(f"{path}: required columns of {entity} not mapped: {', '.join(missing)}")
    ci = data.get("ci_links") or {}
    if ci and entity != "change":
        raise MappingFileError(f"{path}: [ci_links] only applies to entity = 'change'")
    role = str(ci.get("role", "affected"))
    if role not in ROLES:
        raise MappingFileError(f"{path}: [ci_links] role = {role!r} (expected one of {', '.join(ROLES)})")
    nulls = (
        _as_tuple(source.get("null_values", []), f"{path}: [source] null_values")
        if source.get("null_values")
        else ()
    )
    mapping = TableMapping(
        entity=entity,
        columns=columns,
        constants=constants,
        date_formats=(*formats, *DEFAULT_DATE_FORMATS),
        column_date_formats=column_formats,
        timezone=str(source.get("timezone", "UTC")),
        column_timezones=column_tz,
        null_values=nulls,
        value_maps=value_maps,
        value_map_targets=targets,
    )
    return MappingSpec(
        path=path,
        entity=entity,
        system=system,
        mapping=mapping,
        fmt=source.get("format"),
        delimiter=source.get("delimiter"),
        encoding=source.get("encoding"),
        decimal_comma=bool(source.get("decimal_comma", False)),
        sheet=source.get("sheet"),
        records=source.get("records"),
        ci_column=ci.get("column"),
        ci_role=role,
        value_map_sources=sources,
    )


def _flatten(record: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(record, dict):
        return {prefix or "value": record}
    out: dict[str, Any] = {}
    for k, v in record.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, name))
        else:
            out[name] = v
    return out


def _json_records(path: Path, records: str | None) -> Iterator[dict[str, Any]]:
    import ijson
    from changeboard.ingest.sources.servicenow_files import json_shape

    if records is None:
        shape = json_shape(path)
        if shape is None:
            raise ReadError(f'{path}: no array of records found (set [source] records = "path.to.array")')
        prefix = shape.prefix
    else:
        prefix = f"{records}.item" if records else "item"
    with path.open("rb") as f:
        try:
            for item in ijson.items(f, prefix, use_float=True):
                yield _flatten(item)
        except ijson.JSONError as exc:
            raise ReadError(f"{path}: invalid JSON: {exc}") from exc


def read_text(path: Path, spec: MappingSpec, settings: ExportSettings) -> tuple[pl.DataFrame, list[str]]:
    """The export as an all-text frame, per the mapping's [source] options."""
    kind = spec.fmt or sniff_kind(path)
    nulls = list(spec.mapping.null_values)
    if kind == "csv":
        text = read_csv_text(
            path,
            encoding=spec.encoding or settings.encoding,
            delimiter=spec.delimiter or settings.delimiter,
            null_values=nulls,
        )
        return text.frame, list(text.warnings)
    if kind == "xlsx":
        from changeboard.ingest.sources.servicenow_files import xlsx_text

        frame, _headers, warnings = xlsx_text(path, nulls, sheets=[spec.sheet] if spec.sheet else None)
        return frame, warnings
    if kind == "json":
        parts = []
        first = 1
        for batch in batched(_json_records(path, spec.records)):
            parts.append(text_frame(batch, first_row=first))
            first += len(batch)
        if not parts:
            raise ReadError(f"{path}: the JSON export holds no records")
        return normalise_nulls(pl.concat(parts, how="diagonal_relaxed"), nulls), []
    raise ReadError(f"{path}: {kind} files cannot be read through a mapping (csv, xlsx or json)")


def _decimal_comma(frame: pl.DataFrame, spec: MappingSpec) -> pl.DataFrame:
    ent = ENTITIES[spec.entity]
    resolved = spec.mapping.resolve_columns(frame.columns)
    cols = [src for canonical, src in resolved.items() if ent.columns[canonical] in (INT, DBL)]
    return frame.with_columns(
        pl.col(c).str.replace_all(r"[.\s]", "").str.replace(",", ".", literal=True).alias(c) for c in cols
    )


def apply_spec(path: Path, text: pl.DataFrame, spec: MappingSpec) -> tuple[list[MappedFrame], list[str]]:
    """Apply a mapping to a text frame: the entity's frame, CI links, and every warning."""
    warnings: list[str] = []
    headers = [c for c in text.columns if c != "_source_row"]
    resolved = spec.mapping.resolve_columns(headers)
    for canonical, candidates in spec.mapping.columns.items():
        if canonical not in resolved:
            msg = f"mapping {spec.path.name}: column {' / '.join(candidates)!r} (for {canonical}) is not in the file (headers: {', '.join(headers[:12])})"
            if canonical in ENTITIES[spec.entity].required:
                raise ReadError(f"{path}: {msg}")
            warnings.append(f"WARNING: {msg}")
    if spec.decimal_comma:
        text = _decimal_comma(text, spec)
    mapped = apply_mapping(text, spec.mapping, file_label=str(path))
    for target, src in spec.value_map_sources.items():
        if src in resolved:
            vmap = spec.mapping.value_maps[src]
            values = text.get_column(resolved[src]).drop_nulls().str.strip_chars()
            unknown = sorted(set(values.unique().to_list()) - set(vmap))
            if unknown:
                shown = ", ".join(repr(u) for u in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
                warnings.append(
                    f"WARNING: value map {target} (from column {resolved[src]!r}) does not know {len(unknown)} value(s): {shown}; they become null"
                )
    frames = [mapped]
    if spec.ci_column:
        if spec.ci_column not in text.columns:
            raise ReadError(
                f"{path}: [ci_links] column {spec.ci_column!r} is not in the file (headers: {', '.join(headers[:12])})"
            )
        frames, split_warnings = _split_ci(mapped, text, spec)
        warnings.extend(split_warnings)
    return frames, warnings


def _split_ci(
    mapped: MappedFrame, text: pl.DataFrame, spec: MappingSpec
) -> tuple[list[MappedFrame], list[str]]:
    """Every row as a version of its change plus one change_ci link per row: the loader keeps the
    version with the latest updated_at, as for any export (ties: the last row; D30). Warn when the
    repeats of a change disagree."""
    warnings: list[str] = []
    frame = mapped.frame
    key = ["source_system", "source_id"]
    attrs = [c for c in ENTITIES["change"].columns if c not in key]
    ci_text = pl.col(spec.ci_column).str.strip_chars()
    ci = text.select(
        pl.col("_source_row").cast(pl.Int64),
        pl.when(ci_text.str.contains(NO_WORD)).then(ci_text).otherwise(None).alias("ci_ref"),
    )
    links = frame.select(
        "_source_row", "source_system", pl.col("number").alias("change_ref"), "updated_at"
    ).join(ci, on="_source_row", how="inner")
    links = links.filter(pl.col("ci_ref").is_not_null()).with_columns(pl.lit(spec.ci_role).alias("role"))
    n_links = links.height
    links = links.sort("_source_row").unique(subset=["change_ref", "ci_ref"], keep="last", maintain_order=True)
    if links.height < n_links:
        warnings.append(
            f"{n_links - links.height} row(s) repeat a change and CI already listed: one link kept each"
        )
    n_changes = frame.select(pl.struct(key).n_unique()).item() if frame.height else 0
    disagree = (
        frame.group_by(key)
        .agg(
            [pl.col(c).n_unique().alias(c) for c in attrs]
            + [
                pl.col("_source_row").sort().alias("_rows"),
                pl.col("number").first().alias("_number"),
                pl.col("_source_row").sort_by(["updated_at", "_source_row"], nulls_last=False).last().alias("_kept"),
            ]
        )
        .with_columns(
            pl.concat_list([pl.when(pl.col(c) > 1).then(pl.lit(c)) for c in attrs])
            .list.drop_nulls()
            .alias("_cols")
        )
        .filter(pl.col("_cols").list.len() > 0)
        .sort("_number")
    )
    for row in disagree.head(20).iter_rows(named=True):
        warnings.append(
            f"WARNING: change {row['_number'] or row['source_id']}: rows {', '.join(map(str, row['_rows'][:8]))} repeat it with "
            f"different {', '.join(row['_cols'])}; the row with the latest updated_at is kept (row {row['_kept']})"
        )
    if disagree.height > 20:
        warnings.append(f"WARNING: ... and {disagree.height - 20} more changes whose repeated rows disagree")
    warnings.append(
        f"one row per change x CI: {frame.height:,} rows -> {n_changes:,} changes (latest updated_at "
        f"wins) + {links.height:,} change_ci links"
    )
    change = MappedFrame(
        entity="change",
        frame=frame,
        quarantine=mapped.quarantine,
        missing_columns=mapped.missing_columns,
        nulled_refs=mapped.nulled_refs,
    )
    return [change, typed_frame("change_ci", links)], warnings


def with_null_values(spec: MappingSpec, settings: ExportSettings) -> MappingSpec:
    """The mapping with the placeholders of ``--null-values`` / the folder's ``null_values`` added."""
    extra = settings.extra.get("null_values") or []
    given = [str(extra)] if isinstance(extra, str) else [str(v) for v in extra]  # type: ignore[union-attr]
    if not given:
        return spec
    nulls = tuple(dict.fromkeys([*spec.mapping.null_values, *given]))
    return replace(spec, mapping=replace(spec.mapping, null_values=nulls))


def read_mapped(path: Path, settings: ExportSettings) -> Reading:
    """Read an export through the mapping file named in ``settings.extra['mapping']``."""
    from changeboard.ingest.registry import Reading

    mapping_file = settings.extra.get("mapping")
    if not mapping_file:
        raise ReadError(
            f'{path}: no mapping file given (use --mapping FILE or mapping = "..." in _export.toml)'
        )
    spec = with_null_values(load_spec(Path(str(mapping_file))), settings)
    text, warnings = read_text(path, spec, settings)
    frames, more = apply_spec(path, text, spec)
    return Reading(
        system=spec.system,
        table=spec.entity,
        frames=frames,
        warnings=[*warnings, *more],
        detected_by=f"mapping file {spec.path.name}",
    )


# --------------------------------------------------------------------------------------- dry run


def dry_run_report(
    paths: list[Path], settings: ExportSettings | None, *, sample_rows: int = 5, max_problems: int = 200
) -> tuple[str, bool]:
    """What ingesting ``paths`` would produce, and every problem, without loading anything.

    Returns the report text and whether every file could be read.
    """
    from changeboard.ingest.registry import expand_paths, read_file

    lines: list[str] = []
    ok = True
    for path in expand_paths(paths):
        try:
            reading = read_file(path, settings)
        except ReadError as exc:
            ok = False
            lines.append(f"✗ {path}: cannot be read: {exc}")
            continue
        lines.append(f"● {path}: {reading.system} {reading.table} ({reading.detected_by})")
        for w in reading.warnings:
            lines.append(f"    {w}")
        reasons: dict[str, int] = {}
        for f in reading.frames:
            key = list(ENTITIES[f.entity].key)
            distinct = f.frame.select(pl.struct(key).n_unique()).item() if f.frame.height else 0
            versions = (
                f" ({distinct:,} distinct record(s): the latest updated_at of each is loaded)"
                if distinct < f.frame.height
                else ""
            )
            lines.append(
                f"    → {f.entity}: {f.frame.height:,} row(s){versions}, {f.quarantine.height:,} quarantined"
            )
            for rs in f.quarantine.get_column("reasons").to_list():
                for reason in rs:
                    reasons[reason] = reasons.get(reason, 0) + 1
            for where, n in f.nulled_refs.items():
                lines.append(f"      ! {n:,} value(s) of {where} hold no letter or digit: read as no reference")
            if f.frame.height:
                cols = [
                    c
                    for c in f.frame.columns
                    if c != "_source_row" and f.frame[c].null_count() < f.frame.height
                ]
                with pl.Config(tbl_rows=sample_rows, tbl_cols=12, fmt_str_lengths=30, tbl_width_chars=160):
                    lines.extend(
                        "      " + line
                        for line in str(f.frame.select(["_source_row", *cols]).head(sample_rows)).splitlines()
                    )
            for row in f.quarantine.head(max_problems).iter_rows(named=True):
                lines.append(f"      ✗ row {row['_source_row']}: {'; '.join(row['reasons'])}")
            if f.quarantine.height > max_problems:
                lines.append(f"      ... and {f.quarantine.height - max_problems:,} more quarantined rows")
        if reasons:
            from changeboard.ingest.quarantine import describe, diagnose

            diagnosis = diagnose(reasons.items())
            lines.append("    what the quarantined rows have in common:")
            lines.extend(f"      {line}" for line in describe(diagnosis))
            if diagnosis.placeholders:
                lines.append(
                    "    proposed: " + ", ".join(repr(p) for p in diagnosis.placeholders) + " fail(s) typed "
                    "columns across the file: a placeholder for 'no value'?"
                )
            lines.append(f"    fix: {diagnosis.fix()}")
    lines.append("dry run: nothing was loaded")
    return "\n".join(lines), ok


__all__ = [
    "SYSTEM",
    "MappingFileError",
    "MappingSpec",
    "apply_spec",
    "dry_run_report",
    "load_spec",
    "read_mapped",
]
