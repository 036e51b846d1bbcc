"""Helpers shared by the connectors: record streams to text frames, derived link frames, dates.

Every connector ends in :func:`ingest.mapping.apply_mapping`, so that typing and quarantine work the
same way whatever the container (CSV, XLSX, JSON, XML): the helpers here only turn containers into
all-text polars frames with a ``_source_row`` and build the small derived frames (links, history).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import polars as pl
from changeboard.ingest.canonical import ENTITIES, TS
from changeboard.ingest.mapping import (
    QUARANTINE_SCHEMA,
    MappedFrame,
    TableMapping,
    _polars_type,
    apply_mapping,
)

# Rows per batch when a container is streamed (JSON, XML): bounds the memory of one step.
BATCH_ROWS = 5_000

# Month abbreviations of the locales Jira (and Excel re-saves) write, to their English form, so that
# one ``%b`` pattern reads ``01/Okt/17`` as well as ``01/Oct/17``. None collides with an English one.
LOCALE_MONTHS: dict[str, str] = {
    # German
    "Jän": "Jan", "Mär": "Mar", "Mrz": "Mar", "Mai": "May", "Okt": "Oct", "Dez": "Dec",
    # French
    "janv": "Jan", "févr": "Feb", "fevr": "Feb", "mars": "Mar", "avr": "Apr", "juin": "Jun",
    "juil": "Jul", "août": "Aug", "aout": "Aug", "sept": "Sep", "déc": "Dec",
    # Spanish / Portuguese / Italian / Dutch
    "ene": "Jan", "abr": "Apr", "ago": "Aug", "dic": "Dec", "fev": "Feb", "set": "Sep", "out": "Oct",
    "dez": "Dec", "gen": "Jan", "mag": "May", "giu": "Jun", "lug": "Jul", "ott": "Oct",
    "mrt": "Mar", "mei": "May", "okt": "Oct",
}  # fmt: skip


def english_months(col: pl.Expr) -> pl.Expr:
    """Replace locale month abbreviations between separators by the English ones (``Okt`` -> ``Oct``)."""
    out = col
    for local, english in LOCALE_MONTHS.items():
        out = out.str.replace_all(rf"(?i)([/ .-]){re.escape(local)}\.?([/ .-])", rf"${{1}}{english}${{2}}")
    return out


# Any locale month abbreviation between separators (what english_months would replace).
_ANY_LOCALE_MONTH = rf"(?i)[/ .-](?:{'|'.join(re.escape(m) for m in LOCALE_MONTHS)})\.?[/ .-]"


def has_locale_months(values: pl.Series) -> bool:
    """Whether english_months would change any of ``values``: one scan, where the replacement makes a
    pass per locale month (an English export skips them all: 150k Jira issues, ~1.5 s)."""
    return bool(values.str.contains(_ANY_LOCALE_MONTH).any())


def text_frame(records: Iterable[Mapping[str, Any]], *, first_row: int = 1) -> pl.DataFrame:
    """An all-text frame from records (missing keys become null), numbered from ``first_row``."""
    rows = list(records)
    if not rows:
        return pl.DataFrame(schema={"_source_row": pl.Int64})
    columns: dict[str, None] = {}
    for r in rows:
        for k in r:
            columns.setdefault(k, None)
    data = {c: [_text(r.get(c)) for r in rows] for c in columns}
    numbers = pl.Series("_source_row", range(first_row, first_row + len(rows)), dtype=pl.Int64)
    # Records without a single key ({}) still count: a frame of their row numbers only.
    if not columns:
        return pl.DataFrame([numbers])
    return pl.DataFrame(data, schema=dict.fromkeys(columns, pl.String)).with_columns(numbers)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    text = str(value)
    return text if text.strip() else None


def batched(items: Iterable[Any], size: int = BATCH_ROWS) -> Iterator[list[Any]]:
    """Lists of at most ``size`` items."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def identity_mapping(entity: str, **changes: Any) -> TableMapping:
    """A mapping whose source headers are the canonical column names (for derived frames)."""
    cols = {c: (c,) for c in ENTITIES[entity].columns}
    return replace(TableMapping(entity=entity, columns=cols), **changes)


def typed_frame(entity: str, frame: pl.DataFrame) -> MappedFrame:
    """Conform an already-typed frame (derived links, history) to an entity: missing columns null.

    Rows must carry ``_source_row``; they are not validated again (their values come from typed
    columns), but rows lacking a required value are moved to the quarantine, not dropped.
    """
    ent = ENTITIES[entity]
    exprs = [pl.col("_source_row").cast(pl.Int64)]
    for c, t in ent.columns.items():
        if c in frame.columns:
            exprs.append(pl.col(c).cast(_polars_type(t)).alias(c))
        else:
            exprs.append(pl.lit(None, dtype=_polars_type(t)).alias(c))
    typed = frame.select(exprs)
    missing = (
        pl.any_horizontal([pl.col(c).is_null() for c in ent.required]) if ent.required else pl.lit(False)
    )
    bad = typed.filter(missing)
    good = typed.filter(~missing)
    quarantine = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    if bad.height:
        reason = pl.concat_list(
            [
                pl.when(pl.col(c).is_null())
                .then(pl.lit(f"column {c}: required value is missing"))
                .otherwise(None)
                for c in ent.required
            ]
        ).list.drop_nulls()
        quarantine = bad.select(
            pl.col("_source_row"),
            reason.alias("reasons"),
            pl.struct(list(ent.columns)).struct.json_encode().alias("raw_record"),
        )
    return MappedFrame(entity=entity, frame=good, quarantine=quarantine, missing_columns=[])


def concat_mapped(parts: list[MappedFrame], entity: str) -> MappedFrame:
    """One MappedFrame from the batches of one entity."""
    if not parts:
        return empty_mapped(entity)
    frames = [p.frame for p in parts if p.frame.height] or [parts[0].frame]
    quarantines = [p.quarantine for p in parts if p.quarantine.height] or [parts[0].quarantine]
    return MappedFrame(
        entity=entity,
        # no rechunk: the batches stay as they are (a copy of a 5M-row frame would double the peak)
        frame=pl.concat(frames, how="vertical_relaxed", rechunk=False),
        quarantine=pl.concat(quarantines, how="vertical_relaxed"),
        missing_columns=parts[0].missing_columns,
        # an empty batch (a header-only first chunk) has no sequence column even when the others do
        sequence_column=next((p.sequence_column for p in parts if p.sequence_column), None),
        nulled_refs={k: sum(p.nulled_refs.get(k, 0) for p in parts) for p in parts for k in p.nulled_refs},
    )


def empty_mapped(entity: str) -> MappedFrame:
    """A MappedFrame without rows."""
    ent = ENTITIES[entity]
    schema = {"_source_row": pl.Int64, **{c: _polars_type(t) for c, t in ent.columns.items()}}
    return MappedFrame(
        entity=entity,
        frame=pl.DataFrame(schema=schema),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        missing_columns=[],
    )


def map_text(frame: pl.DataFrame, mapping: TableMapping, label: str) -> MappedFrame:
    """apply_mapping, tolerant of a frame without data columns."""
    return apply_mapping(frame, mapping, file_label=label)


def iso_utc(value: Any) -> str | None:
    """An ISO 8601 timestamp with offset (``2017-02-28T09:24:59.366-0600``) as naive UTC text."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            return text  # left for the mapping to quarantine with the file, row and column
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%d %H:%M:%S")


def is_timestamp(entity: str, column: str) -> bool:
    """Whether a canonical column is a timestamp."""
    return ENTITIES[entity].columns.get(column) == TS


__all__ = [
    "BATCH_ROWS",
    "LOCALE_MONTHS",
    "batched",
    "concat_mapped",
    "empty_mapped",
    "english_months",
    "has_locale_months",
    "identity_mapping",
    "iso_utc",
    "map_text",
    "text_frame",
    "typed_frame",
]
