"""``changeboard ingest --dry-run``: what ingesting some exports would produce, without loading anything.

Above the registry (it opens files through it), beside the loader: a source never imports it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from changeboard.ingest.base import ExportSettings
from changeboard.ingest.canonical import ENTITIES
from changeboard.ingest.quarantine import describe, diagnose
from changeboard.ingest.readers import ReadError
from changeboard.ingest.registry import expand_paths, read_file


def dry_run_report(
    paths: list[Path], settings: ExportSettings | None, *, sample_rows: int = 5, max_problems: int = 200
) -> tuple[str, bool]:
    """What ingesting ``paths`` would produce, and every problem, without loading anything.

    Returns the report text and whether every file could be read.
    """
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
                lines.append(
                    f"      ! {n:,} value(s) of {where} hold no letter or digit: read as no reference"
                )
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


__all__ = ["dry_run_report"]
