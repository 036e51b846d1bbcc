"""A CSV export cut mid-row (no final line break) in every CSV connector: the cut record is
quarantined with the reason, the complete records load, and the counts balance."""

from __future__ import annotations

from pathlib import Path

import pytest
from changeboard.ingest.registry import ExportSettings

from .conftest import FIXTURES, Ingest, Query, copy_fixture

CASES = {
    "jira": (FIXTURES / "jira" / "changes.csv", None),
    "deployments": (FIXTURES / "delivery" / "deployments.csv", None),
    "release mining": (FIXTURES / "delivery" / "releases.csv", None),
    "mapped": (
        FIXTURES / "mapped" / "itop_changes.csv",
        ExportSettings(system="mapped", extra={"mapping": str(FIXTURES / "mapped" / "itop_changes.toml")}),
    ),
}


def _cut_last_record(path: Path) -> None:
    """Cut the file inside its last record: keep its first two fields and part of the third."""
    data = path.read_bytes().rstrip(b"\r\n")
    start = data.rindex(b"\n") + 1
    last = data[start:]
    delimiter = b";" if last.count(b";") > last.count(b",") else b","
    first, second, third = last.split(delimiter)[:3]
    keep = delimiter.join([first, second, third[: max(1, len(third) // 2)]])
    path.write_bytes(data[:start] + keep)


@pytest.mark.parametrize("case", list(CASES))
def test_cut_last_record_is_quarantined(case: str, tmp_path: Path, ingest: Ingest, query: Query) -> None:
    src, settings = CASES[case]
    whole = ingest([copy_fixture(src, tmp_path / "whole")], settings, force=True).results[0]
    assert whole.status == "succeeded", whole.error
    f = copy_fixture(src, tmp_path / "cut")
    _cut_last_record(f)
    r = ingest([f], settings, force=True).results[0]
    assert r.status == "succeeded", r.error
    c = r.counts
    assert c.rows_read == c.inserted + c.updated + c.unchanged + c.superseded + c.quarantined
    reasons = [row[0] for row in query(f"select reason from meta.quarantine where run_id = {r.run_id}")]
    assert any("export was cut" in reason for reason in reasons), reasons
    assert any("export was cut" in w for w in r.warnings), r.warnings
