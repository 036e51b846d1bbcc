"""changeboard's own simple formats: blackout / maintenance windows (``change_windows.csv``)."""

from __future__ import annotations

from changeboard.ingest.mapping import TableMapping

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
