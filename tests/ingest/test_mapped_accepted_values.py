"""A canonical column with accepted values mapped straight from an export's column (no value map) is
checked row by row at ingest, as the build's staging model reads it: a value the build would refuse
is quarantined with the column, the value and the fix, and the file is refused like any other loss.

Before (issue 17 audit): ``outcome = "close_code"`` in [columns] passed ``--dry-run`` and loaded
``Completed`` into raw.change.outcome; ``changeboard build`` then failed the accepted-values test of
stg_canonical__changes and published nothing (the same failure as the docstring's ``origin = "itop"``,
through a column instead of a constant)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
from changeboard.ingest.canonical import VALUE_READINGS
from changeboard.ingest.dry_run import dry_run_report
from changeboard.ingest.mapping import TableMapping, apply_mapping
from changeboard.ingest.registry import ExportSettings

from .conftest import REPO, Ingest, Query

STAGING = REPO / "dbt" / "models" / "staging" / "canonical"

MAPPING = """entity = "change"
[source]
system = "acme"
delimiter = ";"
[columns]
source_id = "ref"
number = "ref"
close_code_raw = "close_code"
outcome = "close_code"
updated_at = "last_update"
"""
HEADER = "ref;close_code;last_update\n"


def _export(folder: Path, rows: list[str]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "acme.toml").write_text(MAPPING, encoding="utf-8")
    (folder / "changes.csv").write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return folder / "changes.csv", folder / "acme.toml"


def _settings(mapping: Path) -> ExportSettings:
    return ExportSettings(system="mapped", extra={"mapping": str(mapping)})


def test_a_mapped_value_the_build_refuses_refuses_the_file_with_the_fix(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    f, m = _export(
        tmp_path / "in",
        [
            "C-1;Completed;2026-02-01 10:00:00",
            "C-2;Rolled back;2026-02-02 10:00:00",
            "C-3;;2026-02-03 10:00:00",
        ],
    )
    (r,) = ingest([f], _settings(m), strict=True).results
    assert r.status == "rejected", r.error
    assert (r.file_rows, r.file_rows_quarantined) == (3, 2)  # an empty close code is no value: it loads
    assert "column close_code = 'Completed' is not a value change.outcome accepts" in r.error
    assert "[value_maps.outcome]" in r.error
    assert query("select count(*) from raw.change") == [(0,)]
    # the dry run shows it before anything is written
    text, _ = dry_run_report([f], _settings(m))
    assert "2 quarantined" in text
    assert "'Rolled back' is not a value change.outcome accepts" in text


def test_values_the_staging_model_accepts_load(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    """The build lower-cases and trims: ' Successful ' and 'UNSUCCESSFUL' are accepted as they are."""
    f, m = _export(
        tmp_path / "in", ["C-1; Successful ;2026-02-01 10:00:00", "C-2;UNSUCCESSFUL;2026-02-02 10:00:00"]
    )
    (r,) = ingest([f], _settings(m), strict=True).results
    assert r.status == "succeeded", r.error
    assert query("select count(*) from raw.change") == [(2,)]


def test_check_follows_how_staging_reads_each_column() -> None:
    frame = pl.DataFrame(
        {
            "_source_row": [1, 2, 3, 4],
            "inc": ["INC1", "INC2", "INC3", "INC4"],
            "chg": ["CHG1", "CHG2", "CHG3", "CHG4"],
            "kind": ["Is Caused By", "rfc", "caused_by", "broke"],
        }
    )
    mapping = TableMapping(
        entity="incident_link",
        columns={"incident_ref": ("inc",), "target_ref": ("chg",), "kind": ("kind",)},
        constants={"source_system": "acme"},
    )
    out = apply_mapping(frame, mapping, file_label="links.csv")
    assert out.frame["kind"].to_list() == ["Is Caused By", "rfc", "caused_by"]
    (reasons,) = out.quarantine["reasons"].to_list()
    assert reasons == ["column kind: 'broke' is not a value incident_link.kind accepts (caused_by, fixed_by)"]
    origin = TableMapping(
        entity="change",
        columns={"source_id": ("inc",), "number": ("inc",), "origin": ("kind",)},
        constants={"source_system": "acme"},
    )
    # origin is read exactly as written (staging: coalesce(origin, ...)): 'ITSM' would fail the build
    exact = apply_mapping(
        pl.DataFrame({"_source_row": [1, 2], "inc": ["C1", "C2"], "kind": ["itsm", "ITSM"]}),
        origin,
        file_label="c.csv",
    )
    assert exact.frame["origin"].to_list() == ["itsm"]
    assert exact.quarantine.height == 1


def test_declared_spellings_are_the_staging_models() -> None:
    """Each spelling the ingest accepts for a column is one its staging model turns into the value."""
    models = {
        "incident_link": "stg_canonical__incident_links",
        "change_window": "stg_canonical__change_windows",
    }
    for (entity, column), reading in VALUE_READINGS.items():
        if not reading.spellings:
            continue
        sql = (STAGING / f"{models[entity]}.sql").read_text(encoding="utf-8")
        for spelling, value in reading.spellings.items():
            line = next(line for line in sql.splitlines() if f"'{spelling}'" in line)
            assert re.search(rf"then '{value}'", line), (entity, column, spelling, line)
