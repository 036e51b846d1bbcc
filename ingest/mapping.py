"""Declarative column mappings: the one mechanism that turns any export into canonical rows.

The built-in ServiceNow and Jira connectors are mappings like the ones users write for other tools
(``changeboard ingest --mapping FILE``): source columns to canonical fields, date formats and time
zone, null placeholders and value maps. Applying a mapping never drops a row: a row it cannot type
goes to quarantine with every reason, naming the row and the column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl
from changeboard.ingest.canonical import (
    BOOL,
    DBL,
    ENTITIES,
    INT,
    TS,
    TXT,
    Entity,
    accepted_values,
    value_reading,
)
from changeboard.ingest.readers import READ_ERROR

# Plausible range for any timestamp in an ITSM export; outside it a value is a typo or a sentinel.
MIN_YEAR = 1990
MAX_YEAR = 2100
FORMULA_ESCAPE = r"^'([=+\-@])"
# A value with a letter or a digit; a reference (``*_ref``) without one (``?``, ``-``, ``--``) names
# nothing and is read as no reference, whatever the export's declared placeholders.
NO_WORD = r"[\p{L}\p{N}]"

DEFAULT_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


@dataclass(frozen=True)
class TableMapping:
    """How one export table maps onto one canonical entity.

    Attributes:
        entity: canonical entity name (see :mod:`ingest.canonical`).
        columns: canonical column -> candidate source headers, first present wins (field name, label,
            dot-walk path...).
        constants: canonical column -> fixed value (``source_system``, ``origin``...).
        date_formats: strftime patterns tried in order for every timestamp column.
        column_date_formats: per canonical column overrides of ``date_formats``.
        timezone: the time zone the export's display values are in (converted to UTC).
        column_timezones: per canonical column overrides of ``timezone``.
        null_values: placeholders meaning "no value" (``?``, ``#N/B``...).
        value_maps: canonical column -> {raw value: normalised value}; written to ``target`` columns
            given in ``value_map_targets`` (default: the column itself).
        strip_formula_escape: remove ServiceNow's ``'`` prefix before ``= + - @``.
        identity: headers whose presence identifies this table (auto-detection).
    """

    entity: str
    columns: Mapping[str, tuple[str, ...]]
    constants: Mapping[str, str] = field(default_factory=dict)
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    column_date_formats: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    timezone: str = "UTC"
    column_timezones: Mapping[str, str] = field(default_factory=dict)
    null_values: tuple[str, ...] = ()
    value_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    value_map_targets: Mapping[str, str] = field(default_factory=dict)
    strip_formula_escape: bool = True
    identity: tuple[str, ...] = ()

    @property
    def target(self) -> Entity:
        return ENTITIES[self.entity]

    def resolve_columns(self, headers: list[str]) -> dict[str, str]:
        """canonical column -> the source header present in this file (case-insensitive)."""
        lookup = {h.lower(): h for h in headers}
        found: dict[str, str] = {}
        for canonical, candidates in self.columns.items():
            for cand in candidates:
                if cand.lower() in lookup:
                    found[canonical] = lookup[cand.lower()]
                    break
        return found

    def score(self, headers: list[str]) -> float:
        """How well a header list matches this mapping: share of mapped columns present, 0 if an
        identity header is missing."""
        lower = {h.lower() for h in headers}
        if any(i.lower() not in lower for i in self.identity):
            return 0.0
        return len(self.resolve_columns(headers)) / max(1, len(self.columns))


@dataclass
class MappedFrame:
    """The result of applying a mapping: canonical rows and quarantined rows."""

    entity: str
    frame: pl.DataFrame
    quarantine: pl.DataFrame
    missing_columns: list[str]
    # A column of ``frame`` (not a canonical one) that orders versions with the same ``updated_at``
    # (ServiceNow ``sys_mod_count`` in audit-style exports); None: ties with different content conflict.
    sequence_column: str | None = None
    # "source column -> canonical reference column" -> values read as no reference because they hold
    # no letter or digit (``?``, ``-``): a reference that names nothing (see NO_WORD)
    nulled_refs: dict[str, int] = field(default_factory=dict)


_STAGE = "\x00typed:"  # staging column prefix (cannot clash with a header)
_BAD = "\x00bad"

QUARANTINE_SCHEMA = {"_source_row": pl.Int64, "reasons": pl.List(pl.String), "raw_record": pl.String}


def _parse_timestamps(values: pl.Series, formats: tuple[str, ...], tz: str) -> pl.Series:
    """Text to naive UTC timestamps: each value by the first of ``formats`` that parses it (null if
    none does), read in time zone ``tz``.

    Later formats are tried only on the values the earlier ones left unparsed, so an export in its
    usual format costs one parse per value, not one per format.
    """
    if values.dtype != pl.String:
        values = values.cast(pl.String)
    s = values.str.strip_chars()
    # No cache of unique values: an export's date/times are nearly all distinct (hashing them cost
    # more than parsing them twice over).
    parsed = s.str.to_datetime(formats[0], strict=False, time_unit="us", cache=False)
    for fmt in formats[1:]:
        todo = (parsed.is_null() & s.is_not_null()).arg_true()
        if todo.len() == 0:
            break
        parsed = parsed.scatter(
            todo, s.gather(todo).str.to_datetime(fmt, strict=False, time_unit="us", cache=False)
        )
    if tz.upper() != "UTC":
        parsed = parsed.dt.replace_time_zone(
            tz, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC")
    else:
        parsed = parsed.dt.replace_time_zone("UTC")
    return parsed.dt.replace_time_zone(None)


def _nonexistent_local_times(
    values: pl.Series, parsed: pl.Series, formats: tuple[str, ...], tz: str
) -> pl.Series:
    """True where a value parses as a date/time but names a local time that ``tz`` skips (the hour
    the clocks go forward): ``parsed`` is null there. Only the unparsed values are parsed again."""
    missing = values.is_not_null() & parsed.is_null()
    found = pl.repeat(False, values.len(), dtype=pl.Boolean, eager=True).alias("nonexistent")
    if tz.upper() == "UTC" or not missing.any():
        return found
    todo = missing.arg_true()
    naive = _parse_timestamps(values.gather(todo), formats, "UTC")
    return found.scatter(todo.filter(naive.is_not_null()), True)


def _strip_formula_escape(values: pl.Series) -> pl.Series:
    """ServiceNow's ``'`` before a leading ``= + - @`` removed (the guard against formula injection
    it writes into CSV exports). Only the values that start with ``'`` are rewritten: rewriting every
    value copied every text column of the export."""
    todo = values.str.starts_with("'").arg_true()
    if todo.len() == 0:
        return values
    return values.clone().scatter(todo, values.gather(todo).str.replace(FORMULA_ESCAPE, "$1"))


def _cast(col: pl.Expr, duck_type: str) -> pl.Expr:
    if duck_type == INT:
        return col.str.strip_chars().str.replace_all(",", "").cast(pl.Int64, strict=False)
    if duck_type == DBL:
        return col.str.strip_chars().cast(pl.Float64, strict=False)
    if duck_type == BOOL:
        low = col.str.strip_chars().str.to_lowercase()
        return (
            pl.when(low.is_in(["true", "1", "yes", "y"]))
            .then(True)
            .when(low.is_in(["false", "0", "no", "n"]))
            .then(False)
        )
    return col


def apply_mapping(text: pl.DataFrame, mapping: TableMapping, *, file_label: str) -> MappedFrame:
    """Apply a mapping to an all-text frame (with ``_source_row``).

    Every row ends either in ``frame`` (typed canonical columns + ``_source_row``) or in
    ``quarantine`` with its reasons, each naming the column and the value.

    Each column is typed once, into a staging column beside the text; a row is flagged by cheap
    boolean checks, and the reason sentences are formatted for the flagged rows only.
    """
    entity = mapping.target
    if any(chunks > 1 for chunks in text.n_chunks("all")):
        # A batch that spans segments of a file can hold its columns in chunks that do not line up;
        # polars 2.1 panics on such a frame while formatting a quarantine reason (tests/ingest/
        # test_mapping_text.py). One chunk per column; a batch read in one piece is left as it is.
        text = text.rechunk()
    headers = [c for c in text.columns if c not in ("_source_row", READ_ERROR)]
    resolved = mapping.resolve_columns(headers)
    missing = [c for c in entity.columns if c not in resolved and c not in mapping.constants]

    typed: dict[str, pl.Expr] = {}  # staging column -> typed expression over the text columns
    out: dict[str, pl.Expr] = {}  # canonical column -> its value in the output frame
    checks: list[tuple[pl.Expr, pl.Expr]] = []  # (row is bad, reason sentence), over the staged frame
    nulled_refs: dict[str, int] = {}
    if READ_ERROR in text.columns:  # a record the reader could not read whole (see ingest.readers)
        checks.append((pl.col(READ_ERROR).is_not_null(), pl.col(READ_ERROR)))
    for col, duck_type in entity.columns.items():
        if col in mapping.constants:
            out[col] = pl.lit(mapping.constants[col], dtype=pl.String).alias(col)
            continue
        if col not in resolved:
            out[col] = pl.lit(None, dtype=_polars_type(duck_type)).alias(col)
            continue
        src = resolved[col]
        stage = _STAGE + col
        raw = pl.col(src)
        if mapping.strip_formula_escape and duck_type not in (TS,):
            raw = pl.lit(_strip_formula_escape(text[src]))
        if col in mapping.value_maps and col not in mapping.value_map_targets:
            raw = raw.replace(dict(mapping.value_maps[col]))
        given = pl.col(src).is_not_null()
        if duck_type == TS:
            formats = tuple(mapping.column_date_formats.get(col, mapping.date_formats))
            tz = mapping.column_timezones.get(col, mapping.timezone)
            parsed = _parse_timestamps(text[src], formats, tz)
            typed[stage] = pl.lit(parsed)
            expected = " or ".join(formats[:3]) + (" ..." if len(formats) > 3 else "")
            not_local = _nonexistent_local_times(text[src], parsed, formats, tz)
            typed[stage + "_not_local"] = pl.lit(not_local)
            checks.append(
                (
                    given & pl.col(stage).is_null() & ~pl.col(stage + "_not_local"),
                    pl.format(
                        f"column {{}}: {{}} is not a date/time (expected {expected})",
                        pl.lit(src),
                        _quoted(src),
                    ),
                )
            )
            if not_local.any():
                checks.append(
                    (
                        pl.col(stage + "_not_local"),
                        pl.format(
                            f"column {{}}: {{}} does not exist in {tz} (the clocks went forward at that hour): "
                            "is the export's time zone right? (timezone in _export.toml)",
                            pl.lit(src),
                            _quoted(src),
                        ),
                    )
                )
            year = pl.col(stage).dt.year()
            implausible = pl.col(stage).is_not_null() & ((year < MIN_YEAR) | (year > MAX_YEAR))
            checks.append(
                (
                    implausible,
                    pl.format(
                        f"column {{}}: {{}} is outside {MIN_YEAR}-{MAX_YEAR}", pl.lit(src), _quoted(src)
                    ),
                )
            )
            out[col] = pl.when(implausible).then(None).otherwise(pl.col(stage)).alias(col)
        else:
            if duck_type == TXT and col.endswith("_ref"):
                wordless = text[src].is_not_null() & ~text[src].str.contains(NO_WORD)
                if n_wordless := int(wordless.sum()):
                    nulled_refs[f"{src} -> {col}"] = n_wordless
                    raw = pl.when(raw.str.contains(NO_WORD)).then(raw).otherwise(None)
            typed[stage] = _cast(raw, duck_type)
            if duck_type != "VARCHAR":
                checks.append(
                    (
                        given & pl.col(stage).is_null(),
                        pl.format(
                            f"column {{}}: {{}} is not a {duck_type.lower()}", pl.lit(src), _quoted(src)
                        ),
                    )
                )
            out[col] = pl.col(stage).alias(col)
    for src_col, target in mapping.value_map_targets.items():
        if src_col in resolved:
            vmap = dict(mapping.value_maps.get(src_col, {}))
            out.pop(target, None)
            stage = _STAGE + "map_" + target
            typed[stage] = pl.col(resolved[src_col]).str.strip_chars().replace_strict(vmap, default=None)
            out[target] = pl.col(stage).alias(target)
    # Values the build's accepted_values tests would refuse, as the staging model reads them (a
    # column mapped straight from the export, without a value map): the row is quarantined, naming
    # the column, the value and the accepted ones, not loaded to fail the build.
    sources = {target: resolved[s] for s, target in mapping.value_map_targets.items() if s in resolved}
    for col in entity.columns:
        accepted = accepted_values(mapping.entity, col)
        if accepted is None or col not in out:
            continue
        label = resolved.get(col) or sources.get(col) or f"[constants] {col}"
        checks.append(
            (
                _not_accepted(out[col], mapping.entity, col, accepted),
                pl.format(
                    f"column {{}}: {{}} is not a value {mapping.entity}.{col} accepts ({', '.join(accepted)})",
                    pl.lit(label),
                    pl.format("'{}'", out[col].cast(pl.String).str.slice(0, 80)),
                ),
            )
        )
    # Required fields, on the output value (an implausible date counts as missing).
    for c in entity.required:
        checks.append((out[c].is_null(), pl.lit(f"column {resolved.get(c, c)}: required value is missing")))

    staged = text.with_columns(**typed)
    flags = [flag for flag, _ in checks]
    staged = staged.with_columns(
        (pl.any_horizontal(flags) if flags else pl.lit(False)).fill_null(False).alias(_BAD)
    )
    n_bad = int(staged[_BAD].sum())
    # Without a flagged row the typed columns are taken as they are (no filtered copy of the frame).
    kept = staged.filter(~pl.col(_BAD)) if n_bad else staged
    good = kept.select(pl.col("_source_row").cast(pl.Int64), *out.values())
    flagged = staged.filter(pl.col(_BAD)) if n_bad else staged.clear()
    if flagged.height:
        quarantine = flagged.select(
            pl.col("_source_row").cast(pl.Int64),
            pl.concat_list([pl.when(flag).then(reason) for flag, reason in checks])
            .list.drop_nulls()
            .alias("reasons"),
            pl.struct(list(headers)).struct.json_encode().alias("raw_record"),
        )
    else:
        quarantine = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return MappedFrame(
        entity=mapping.entity,
        frame=good,
        quarantine=quarantine.select(list(QUARANTINE_SCHEMA)),
        missing_columns=missing,
        nulled_refs=nulled_refs,
    )


def _not_accepted(value: pl.Expr, entity: str, column: str, accepted: tuple[str, ...]) -> pl.Expr:
    """True where ``value`` is given and the staging model would read it as none of ``accepted``."""
    text = value.cast(pl.String).str.strip_chars()
    reading = value_reading(entity, column)
    read = text if reading.exact else text.str.to_lowercase()
    if reading.underscores:
        read = read.str.replace_all(" ", "_", literal=True)
    if reading.spellings:
        read = read.replace(reading.spellings)
    return (text.is_not_null() & (text != "") & ~read.is_in(list(accepted))).fill_null(False)


def _quoted(src: str) -> pl.Expr:
    return pl.format("'{}'", pl.col(src).str.slice(0, 80))


def _polars_type(duck_type: str) -> pl.DataType:
    return {TS: pl.Datetime("us"), INT: pl.Int64(), DBL: pl.Float64(), BOOL: pl.Boolean()}.get(
        duck_type, pl.String()
    )
