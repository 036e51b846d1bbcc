"""changeboard's own simple formats: blackout / maintenance windows (``change_windows.csv``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from changeboard.ingest.base import ExportSettings, Reading, Recognised, Sample, Source
from changeboard.ingest.mapping import TableMapping, apply_mapping
from changeboard.ingest.readers import read_csv_text

SYSTEM = "changeboard"

TABLES: dict[str, TableMapping] = {
    "change_windows": TableMapping(
        entity="change_window",
        columns={
            "source_id": ("window_id", "id"),
            "kind": ("kind", "type"),
            "name": ("name", "title"),
            "scope_ref": ("scope", "ci", "service"),
            "start_at": ("start_at", "start"),
            "end_at": ("end_at", "end"),
            "updated_at": ("updated_at",),
        },
        constants={"source_system": SYSTEM},
        identity=("kind", "start_at", "end_at"),
    ),
}


def _with_settings(mapping: TableMapping, settings: ExportSettings) -> TableMapping:
    changes: dict[str, object] = {}
    if settings.timezone:
        changes["timezone"] = settings.timezone
    if settings.date_format:
        changes["date_formats"] = (settings.date_format, *mapping.date_formats)
    return replace(mapping, **changes) if changes else mapping  # type: ignore[arg-type]


def read_csv(path: Path, settings: ExportSettings) -> Reading:
    """changeboard's own CSV formats (blackout / maintenance windows)."""
    text = read_csv_text(path, encoding=settings.encoding, delimiter=settings.delimiter)
    mapping = _with_settings(TABLES["change_windows"], settings)
    mapped = apply_mapping(text.frame, mapping, file_label=str(path))
    return Reading(
        system=SYSTEM,
        table="change_windows",
        frames=[mapped],
        warnings=text.warnings,
        detected_by="headers",
    )


def recognise(sample: Sample) -> Recognised | None:
    if sample.kind == "csv" and {"kind", "start_at", "end_at"} <= sample.headers:
        return Recognised("changeboard window headers")
    return None


SOURCE = Source(system=SYSTEM, readers={"csv": read_csv}, recognise=recognise)
