"""Any other tool's export, described by a declarative mapping file (TOML) the user writes.

``changeboard ingest --mapping itop.toml exports/itop/`` (or ``mapping = "..."`` in the folder's
``_export.toml``). The complete, tested example is ``docs/examples/itop.toml`` with its export
``docs/examples/itop_changes.csv`` (tests/ingest/test_example_mapping.py loads it and builds the
warehouse from it); ``changeboard mapping columns [ENTITY]`` lists every canonical column, its type,
the values it accepts and its meaning. A mapping has:

- ``entity``: the canonical entity every row becomes;
- ``[source]``: ``system`` (required), ``format``, ``delimiter``, ``encoding``, ``decimal_comma``,
  ``null_values``, ``timezone``, ``date_format``, ``sheet`` (XLSX), ``records`` (JSON path);
- ``[columns]``: canonical column = source header (a list: the first present header), or a table:
  ``{ column = "...", date_format = "...", timezone = "..." }``, ``{ coalesce = [...] }`` (the first
  column with a value, row by row), ``{ concat = [...], separator = " " }``;
- ``[constants]``: canonical column = fixed value;
- ``[value_maps.COLUMN]``: ``from`` (any source header, or a canonical column of [columns]),
  ``values`` (exact), ``prefixes``, ``patterns`` (regular expressions), ``default``: tried in that
  order; a value none matches becomes the default, else null (a map onto its own column keeps it);
- ``[ci_links]``: one row per change x CI: ``column``, ``role``, and the CIs' ``class`` (with a
  ``[ci_links.class_map]`` value map) and ``service``, loaded as configuration items;
- ``[services] create = true``: a service configuration item for every ``service_ref`` named.

Every value a mapping writes into a column with accepted values (constants, value maps) is checked
when it is read (``--dry-run`` too), and an error names the mapping's line. Rows that cannot be
typed are quarantined (file, row, column, value). ``changeboard ingest --dry-run`` prints what a
mapping produces and every problem without loading anything.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
from changeboard.ingest.base import MAPPED_SYSTEM, ExportSettings, Reading, Source, text_list
from changeboard.ingest.canonical import DBL, ENTITIES, INT, RECOGNISED_VALUES, accepted_values
from changeboard.ingest.mapping import DEFAULT_DATE_FORMATS, NO_WORD, MappedFrame, TableMapping, apply_mapping
from changeboard.ingest.readers import (
    JsonObject,
    ReadError,
    json_shape,
    normalise_nulls,
    read_csv_text,
    repeated_keys,
    sniff_kind,
    xlsx_text,
)
from changeboard.ingest.sources.common import batched, text_frame, typed_frame

SYSTEM = MAPPED_SYSTEM
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
    derived: tuple[Derived, ...] = ()  # fields computed from source columns, in order
    ci_class: Derived | None = None  # [ci_links] class: the CIs' class (configuration_item rows)
    ci_service_column: str | None = None  # [ci_links] service: the CIs' service
    create_services: bool = False  # [services] create: a service CI per distinct service_ref
    # canonical column -> its source headers as [columns] gives them (a value map may read one)
    source_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)


DERIVED = "[{}]"  # the text column a derived field is computed into (named in quarantine reasons)


@dataclass(frozen=True)
class Derived:
    """A field computed from source columns before it is typed: the first present value of several
    columns (``coalesce``), their concatenation (``concat``), or a value map (``map``: exact values,
    then prefixes, then regular expressions, then the default)."""

    target: str
    kind: str  # coalesce | concat | map
    sources: tuple[str, ...]  # source headers, or canonical columns of this mapping ([columns])
    separator: str = " "
    values: Mapping[str, str] = field(default_factory=dict)
    prefixes: tuple[tuple[str, str], ...] = ()
    patterns: tuple[tuple[str, str], ...] = ()
    default: str | None = None
    keep_unknown: bool = False  # a map onto its own column keeps what it does not know
    where: str = ""  # the mapping file and line, for messages

    @property
    def column(self) -> str:
        return DERIVED.format(self.target)


def _as_tuple(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise MappingFileError(f"{where}: expected a string or a list of strings, got {value!r}")


def _line_of(text: str, section: str | None, key: str | None = None) -> int | None:
    """The line of ``key`` in ``[section]`` of a TOML text (or of the section header), 1-based."""
    current: str | None = None
    header_line = None
    for n, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if m := re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", stripped):
            current = m.group(1).replace('"', "")
            if current == section:
                header_line = n
            continue
        if current == section and key is not None and re.match(rf'^"?{re.escape(key)}"?\s*=', stripped):
            return n
    return header_line


def _where(path: Path, text: str, section: str | None, key: str | None = None) -> str:
    line = _line_of(text, section, key)
    label = f"[{section}]" + (f" {key}" if key else "") if section else (key or "")
    return f"{path}{f' line {line}' if line else ''}: {label}"


def _check_value(where: str, entity: str, column: str, value: str, what: str) -> None:
    """A value a mapping writes into an enumerated canonical column must be one it accepts."""
    accepted = accepted_values(entity, column)
    if accepted is not None and value.strip().lower() not in accepted:
        raise MappingFileError(
            f"{where}: {what} {value!r} is not a value {entity}.{column} accepts "
            f"({', '.join(accepted)}); see `changeboard mapping columns {entity}`"
        )


def _map_spec(
    spec: Any,
    target: str,
    source: str,
    where: str,
    entity: str,
    *,
    keep_unknown: bool,
    where_key: Callable[[str], str] | None = None,
) -> Derived:
    """A value map's table: values / prefixes / patterns / default, every output checked."""
    if not isinstance(spec, dict) or not any(
        k in spec for k in ("values", "prefixes", "patterns", "default")
    ):
        raise MappingFileError(
            f'{where}: needs values = {{ "raw" = "normalised", ... }} (and/or prefixes, patterns, default)'
        )
    tables: dict[str, dict[str, str]] = {}
    for key in ("values", "prefixes", "patterns"):
        table = spec.get(key, {})
        if not isinstance(table, dict):
            raise MappingFileError(f'{where}: {key} must be a table {{ "raw" = "normalised", ... }}')
        tables[key] = {str(k): str(v) for k, v in table.items()}
        for raw, out in tables[key].items():
            _check_value(
                where_key(key) if where_key else where, entity, target, out, f"{key} maps {raw!r} to"
            )
    for pattern in tables["patterns"]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise MappingFileError(
                f"{where}: patterns: {pattern!r} is not a regular expression: {exc}"
            ) from None
    default = spec.get("default")
    if default is not None:
        default = str(default)
        _check_value(where_key("default") if where_key else where, entity, target, default, "default")
    return Derived(
        target=target,
        kind="map",
        sources=(source,),
        values=tables["values"],
        prefixes=tuple(tables["prefixes"].items()),
        patterns=tuple(tables["patterns"].items()),
        default=default,
        keep_unknown=keep_unknown and default is None,
        where=where,
    )


def load_spec(path: Path) -> MappingSpec:
    """Read and validate a mapping file: its columns, and every value it writes into a column with
    accepted values (the error names the line)."""
    try:
        raw_text = path.read_text(encoding="utf-8")
        data = tomllib.loads(raw_text)
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
    derived: list[Derived] = []
    for canonical, spec in (data.get("columns") or {}).items():
        where = _where(path, raw_text, "columns", canonical)
        if canonical not in ent.columns:
            raise MappingFileError(
                f"{where}: not a column of {entity} (columns: {', '.join(ent.columns)}; "
                f"see `changeboard mapping columns {entity}`)"
            )
        if isinstance(spec, dict):
            several = [k for k in ("column", "coalesce", "concat") if k in spec]
            if len(several) != 1:
                raise MappingFileError(
                    f'{where}: a table needs one of column = "...", coalesce = [...] (first value present) '
                    'or concat = [...] (joined, separator = " ")'
                )
            if "column" in spec:
                columns[canonical] = _as_tuple(spec["column"], where)
            else:
                kind = several[0]
                d = Derived(
                    target=canonical,
                    kind=kind,
                    sources=_as_tuple(spec[kind], where),
                    separator=str(spec.get("separator", " ")),
                    where=where,
                )
                derived.append(d)
                columns[canonical] = (d.column,)
            if "date_format" in spec:
                column_formats[canonical] = _as_tuple(spec["date_format"], f"{where}.date_format")
            if "timezone" in spec:
                column_tz[canonical] = str(spec["timezone"])
        else:
            columns[canonical] = _as_tuple(spec, where)
    constants = {"source_system": system}
    for canonical, value in (data.get("constants") or {}).items():
        where = _where(path, raw_text, "constants", canonical)
        if canonical not in ent.columns:
            raise MappingFileError(f"{where}: not a column of {entity}")
        _check_value(where, entity, canonical, str(value), "the constant")
        constants[canonical] = str(value)
    sources: dict[str, str] = {}
    mapped_before = dict(columns)  # a map onto a mapped column reads that column's source
    for target, spec in (data.get("value_maps") or {}).items():
        where = _where(path, raw_text, f"value_maps.{target}")
        if target not in ent.columns:
            raise MappingFileError(f"{where}: not a column of {entity}")
        if not isinstance(spec, dict):
            raise MappingFileError(f'{where}: needs values = {{ "raw" = "normalised", ... }}')
        src = str(spec.get("from", target))
        section = f"value_maps.{target}"
        d = _map_spec(
            spec,
            target,
            src,
            where,
            entity,
            keep_unknown=src == target and target in mapped_before,
            where_key=lambda key, section=section: _where(path, raw_text, section, key),  # type: ignore[misc]
        )
        if "from" not in spec and target not in mapped_before:
            raise MappingFileError(f"{where}: from = ... is needed ({target} is not mapped in [columns])")
        derived.append(d)
        columns[target] = (d.column,)
        sources[target] = src
    missing = [c for c in ent.required if c not in columns and c not in constants]
    if missing:
        raise MappingFileError(f"{path}: required columns of {entity} not mapped: {', '.join(missing)}")
    ci = data.get("ci_links") or {}
    if ci and entity != "change":
        raise MappingFileError(f"{path}: [ci_links] only applies to entity = 'change'")
    role = str(ci.get("role", "affected"))
    if role not in ROLES:
        raise MappingFileError(
            f"{_where(path, raw_text, 'ci_links', 'role')}: role = {role!r} (expected one of {', '.join(ROLES)})"
        )
    ci_class: Derived | None = None
    if ci.get("class"):
        where = _where(path, raw_text, "ci_links", "class")
        class_map = ci.get("class_map")
        if class_map is not None:
            ci_class = _map_spec(
                class_map, "ci_class_raw", str(ci["class"]), where, "configuration_item", keep_unknown=True
            )
        else:
            ci_class = Derived(
                target="ci_class_raw", kind="coalesce", sources=(str(ci["class"]),), where=where
            )
        if not ci.get("column"):
            raise MappingFileError(f'{where}: needs column = "..." (the CI of each row)')
    nulls = (
        _as_tuple(source.get("null_values", []), f"{path}: [source] null_values")
        if source.get("null_values")
        else ()
    )
    services = data.get("services") or {}
    mapping = TableMapping(
        entity=entity,
        columns=columns,
        constants=constants,
        date_formats=(*formats, *DEFAULT_DATE_FORMATS),
        column_date_formats=column_formats,
        timezone=str(source.get("timezone", "UTC")),
        column_timezones=column_tz,
        null_values=nulls,
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
        derived=tuple(derived),
        ci_class=ci_class,
        ci_service_column=str(ci["service"]) if ci.get("service") else None,
        create_services=bool(services.get("create", False)),
        source_columns=mapped_before,
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


# The canonical columns that identify a record: a JSON object or array in the source field of one of
# them is refused (a key '["C2", "C3"]' or a record "without" a key would be loaded or quarantined as
# something it is not), as the Jira and GitHub readers refuse it (D33).
IDENTITY_COLUMNS = ("source_id", "number")


def _json_records(
    path: Path, records: str | None, identity: Mapping[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """The export's records, flattened (``a.b`` for a nested field). ``identity``: source field ->
    the canonical column it identifies the record by; an object or array there refuses the file."""
    import ijson  # loaded when a JSON export is read

    if records is None:
        shape = json_shape(path)
        if shape is None:
            raise ReadError(f'{path}: no array of records found (set [source] records = "path.to.array")')
        prefix = shape.prefix
    else:
        prefix = f"{records}.item" if records else "item"
    with path.open("rb") as f:
        try:
            for n, item in enumerate(ijson.items(f, prefix, use_float=True, map_type=JsonObject), start=1):
                if keys := repeated_keys(item):  # a plain dict would keep the last value without a trace
                    raise ReadError(
                        f"{path}: record {n} holds the key {keys[0]!r} more than once (JSON parsers keep only "
                        "the last value): nothing was loaded (expected each key once per object)"
                    )
                for field_name, canonical in (identity or {}).items():
                    if isinstance(value := item.get(field_name), dict | list):
                        kind = "an object" if isinstance(value, dict) else "an array"
                        raise ReadError(
                            f"{path}: record {n}: the field {field_name!r} (mapped to {canonical}) holds "
                            f"{kind}, not a value: nothing was loaded (map one of its fields, like "
                            f"{field_name}.<field>, or export the field as text)"
                        )
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
        frame, _headers, warnings = xlsx_text(path, nulls, sheets=[spec.sheet] if spec.sheet else None)
        return frame, warnings
    if kind == "json":
        parts = []
        first = 1
        identity: dict[str, str] = {}
        for canonical in IDENTITY_COLUMNS:
            for h in spec.source_columns.get(canonical, ()):
                identity[h] = f"{identity[h]} and {canonical}" if h in identity else canonical
        for batch in batched(_json_records(path, spec.records, identity)):
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


def _source(text: pl.DataFrame, spec: MappingSpec, name: str) -> str | None:
    """The text column a derived field reads for ``name``: a canonical column's header as [columns]
    maps it (or the field derived for it), else a source header (case-insensitive)."""
    lookup = {c.lower(): c for c in text.columns}
    for cand in spec.source_columns.get(name, ()):
        if cand.lower() in lookup:
            return lookup[cand.lower()]
    return lookup.get(name.lower())


def _derive(text: pl.DataFrame, spec: MappingSpec, d: Derived, path: Path) -> tuple[pl.DataFrame, list[str]]:
    """Compute one derived field into its text column; warnings (a value map's unknown values)."""
    found = [_source(text, spec, name) for name in d.sources]
    missing = [name for name, col in zip(d.sources, found, strict=True) if col is None]
    cols = [col for col in found if col is not None]
    headers = ", ".join(c for c in text.columns if c != "_source_row")[:300]
    if missing and (d.kind == "map" or not cols):
        msg = f"{d.where}: column {' / '.join(missing)!r} is not in the file (headers: {headers})"
        if d.target in ENTITIES[spec.entity].required or d.kind != "map":
            raise ReadError(f"{path}: {msg}")
        return text.with_columns(pl.lit(None, dtype=pl.String).alias(d.column)), [f"WARNING: {msg}"]
    warnings: list[str] = []
    if d.kind == "coalesce":
        expr = pl.coalesce([pl.col(c) for c in cols])
    elif d.kind == "concat":
        joined = pl.concat_str(
            [pl.col(c).str.strip_chars() for c in cols], separator=d.separator, ignore_nulls=True
        )
        expr = pl.when(joined == "").then(None).otherwise(joined)
    else:
        raw = pl.col(cols[0]).str.strip_chars()
        out = (
            raw.replace_strict(dict(d.values), default=None, return_dtype=pl.String)
            if d.values
            else pl.lit(None, dtype=pl.String)
        )
        for prefix, value in d.prefixes:
            out = pl.when(out.is_null() & raw.str.starts_with(prefix)).then(pl.lit(value)).otherwise(out)
        for pattern, value in d.patterns:
            out = pl.when(out.is_null() & raw.str.contains(pattern)).then(pl.lit(value)).otherwise(out)
        known = out.is_not_null()
        if d.default is not None:
            out = pl.when(out.is_null() & raw.is_not_null()).then(pl.lit(d.default)).otherwise(out)
        elif d.keep_unknown:
            out = pl.when(out.is_null()).then(raw).otherwise(out)
        unknown = (
            text.select(raw.filter(raw.is_not_null() & ~known).unique().sort()).to_series().to_list()
            if d.default is None
            else []
        )
        recognised = {v.lower() for v in RECOGNISED_VALUES.get("configuration_item", {}).get(d.target, ())}
        unknown = [u for u in unknown if u.lower() not in recognised]  # kept as written, and recognised
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            fate = "they are kept as written" if d.keep_unknown else "they become null"
            warnings.append(
                f"WARNING: value map {d.target} (from column {cols[0]!r}) does not know {len(unknown)} value(s): "
                f"{shown}; {fate} (add them, or a default, to the mapping)"
            )
        expr = out
    return text.with_columns(expr.alias(d.column)), warnings


def apply_spec(path: Path, text: pl.DataFrame, spec: MappingSpec) -> tuple[list[MappedFrame], list[str]]:
    """Apply a mapping to a text frame: the entity's frame, CI links (and the CIs' and services'
    records when the mapping asks for them), and every warning."""
    warnings: list[str] = []
    headers = [c for c in text.columns if c != "_source_row"]
    if spec.decimal_comma:
        text = _decimal_comma(text, spec)
    for d in spec.derived:
        text, more = _derive(text, spec, d, path)
        warnings.extend(more)
    resolved = spec.mapping.resolve_columns(text.columns)
    for canonical, candidates in spec.mapping.columns.items():
        if canonical not in resolved:
            msg = f"mapping {spec.path.name}: column {' / '.join(candidates)!r} (for {canonical}) is not in the file (headers: {', '.join(headers[:12])})"
            if canonical in ENTITIES[spec.entity].required:
                raise ReadError(f"{path}: {msg}")
            warnings.append(f"WARNING: {msg}")
    mapped = apply_mapping(text, spec.mapping, file_label=str(path))
    frames = [mapped]
    if spec.ci_column:
        if spec.ci_column not in text.columns:
            raise ReadError(
                f"{path}: [ci_links] column {spec.ci_column!r} is not in the file (headers: {', '.join(headers[:12])})"
            )
        if spec.ci_class is not None:
            text, more = _derive(text, spec, spec.ci_class, path)
            warnings.extend(more)
        frames, split_warnings = _split_ci(mapped, text, spec)
        warnings.extend(split_warnings)
    if spec.create_services and "service_ref" in mapped.frame.columns:
        services = (
            mapped.frame.select("_source_row", "source_system", pl.col("service_ref"), "updated_at")
            .filter(pl.col("service_ref").is_not_null())
            .with_columns(
                pl.col("service_ref").alias("source_id"),
                pl.col("service_ref").alias("name"),
                pl.lit("Service").alias("ci_class_raw"),
            )
            .drop("service_ref")
        )
        if services.height:
            n = services.select(pl.col("source_id").n_unique()).item()
            warnings.append(
                f"[services] create: {n:,} service(s) named by service_ref loaded as configuration items"
            )
            frames.append(typed_frame("configuration_item", services))
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
    links = links.sort("_source_row").unique(
        subset=["change_ref", "ci_ref"], keep="last", maintain_order=True
    )
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
                pl.col("_source_row")
                .sort_by(["updated_at", "_source_row"], nulls_last=False)
                .last()
                .alias("_kept"),
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
    out = [change, typed_frame("change_ci", links)]
    if spec.ci_class is not None or spec.ci_service_column:
        # the CIs' own attributes, carried on the same rows: one configuration item per CI, the
        # version of its latest row (the loader ranks them as any record's versions)
        ci_attrs: list[pl.Expr] = [pl.col("_source_row").cast(pl.Int64)]
        if spec.ci_class is not None:
            ci_attrs.append(pl.col(spec.ci_class.column).alias("ci_class_raw"))
        if spec.ci_service_column:
            service = _source(text, spec, spec.ci_service_column)
            if service is None:
                raise ReadError(
                    f"[ci_links] service = {spec.ci_service_column!r} is not a column of the file"
                )
            ci_attrs.append(pl.col(service).str.strip_chars().alias("service_ref"))
        cis = (
            links.select("_source_row", "source_system", pl.col("ci_ref").alias("source_id"), "updated_at")
            .join(text.select(ci_attrs), on="_source_row", how="left")
            .with_columns(pl.col("source_id").alias("name"))
        )
        warnings.append(
            f"[ci_links] CI attributes: {cis.select(pl.col('source_id').n_unique()).item():,} configuration item(s)"
        )
        out.append(typed_frame("configuration_item", cis))
    return out, warnings


def with_null_values(spec: MappingSpec, settings: ExportSettings) -> MappingSpec:
    """The mapping with the placeholders of ``--null-values`` / the folder's ``null_values`` added."""
    given = text_list(settings.extra.get("null_values"))
    if not given:
        return spec
    nulls = tuple(dict.fromkeys([*spec.mapping.null_values, *given]))
    return replace(spec, mapping=replace(spec.mapping, null_values=nulls))


def read_mapped(path: Path, settings: ExportSettings) -> Reading:
    """Read an export through the mapping file named in ``settings.extra['mapping']``."""
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


# Only ever declared: a mapping file (``--mapping`` or the manifest's ``mapping = "..."``) names it.
SOURCE = Source(system=SYSTEM, readers={"csv": read_mapped, "xlsx": read_mapped, "json": read_mapped})


__all__ = [
    "SOURCE",
    "SYSTEM",
    "MappingFileError",
    "MappingSpec",
    "apply_spec",
    "load_spec",
    "read_mapped",
]
