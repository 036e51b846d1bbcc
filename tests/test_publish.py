"""The publish protocol: versioned read-only files behind an atomic pointer, one pipeline at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from changeboard.paths import DataDir
from changeboard.pipeline.lock import PipelineBusy, PipelineLock
from changeboard.warehouse.versions import (
    NoWarehouse,
    WarehouseReader,
    collect_garbage,
    new_version_id,
    publish,
    read_pointer,
    versions_on_disk,
)


def _fake_build(data: DataDir, rows: int) -> tuple[Path, str]:
    version = new_version_id(data.versions)
    building = data.versions / f"warehouse_{version}.duckdb.building"
    con = duckdb.connect(str(building))
    con.execute("create table t as select range as i from range(?)", [rows])
    con.execute("create table warehouse_version as select ? as version", [version])
    con.close()
    return building, version


def test_nothing_published_says_what_to_run(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    with pytest.raises(NoWarehouse, match="changeboard demo"):
        read_pointer(data)


def test_publish_flips_pointer_and_symlink_and_freezes_file(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    building, version = _fake_build(data, 10)
    pub = publish(data, building, version, {"ingest_runs": 1})
    assert pub.version == version
    assert not building.exists()
    assert pub.path.exists()
    assert oct(pub.path.stat().st_mode & 0o777) == "0o444"
    assert json.loads(data.current_pointer.read_text())["version"] == version
    assert data.warehouse_link.is_symlink()
    assert data.warehouse_link.resolve() == pub.path.resolve()
    con = duckdb.connect(str(data.warehouse_link), read_only=True)
    assert con.execute("select count(*) from t").fetchall() == [(10,)]
    con.close()


def test_reader_switches_versions_without_errors(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    b, v1 = _fake_build(data, 1)
    publish(data, b, v1, {})
    reader = WarehouseReader(data, grace_seconds=0)
    seen = []
    for rows in (2, 3, 4):
        version, cur = reader.query("select count(*), (select version from warehouse_version) from t")
        seen.append((version, *cur.fetchall()[0]))
        cur.close()
        b, v = _fake_build(data, rows)
        publish(data, b, v, {})
    version, cur = reader.query("select count(*) from t")
    assert cur.fetchall() == [(4,)]
    cur.close()
    reader.close()
    # every answer came from exactly the version the reader said it used
    assert all(v == inner for v, _, inner in seen)
    assert [n for _, n, _ in seen] == [1, 2, 3]


def test_a_download_reads_the_version_the_page_showed(tmp_path: Path) -> None:
    """frame_of answers from the pinned version: its open connection while retired, else its file;
    a version no longer kept says so."""
    data = DataDir(tmp_path).ensure()
    b, v1 = _fake_build(data, 1)
    shown = publish(data, b, v1, {})
    reader = WarehouseReader(data, grace_seconds=3600)
    reader.current()
    b, v2 = _fake_build(data, 2)
    publish(data, b, v2, {})
    reader.current()  # switches: v1 is retired, still open
    assert reader.frame_of(shown, "select count(*) as n from t")["n"].to_list() == [1]
    assert reader.frame_of(read_pointer(data), "select count(*) as n from t")["n"].to_list() == [2]
    reader.close()  # v1's connection is gone: its file is opened read-only
    fresh = WarehouseReader(data)
    assert fresh.frame_of(shown, "select version from warehouse_version")["version"].to_list() == [v1]
    fresh.close()
    shown.path.chmod(0o644)
    shown.path.unlink()
    with pytest.raises(NoWarehouse, match=f"version {v1} is no longer kept"):
        WarehouseReader(data).frame_of(shown, "select 1")


def test_garbage_collection_keeps_current_and_newest(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    for n in range(5):
        b, v = _fake_build(data, n + 1)
        publish(data, b, v, {})
    (data.versions / "warehouse_crashed.duckdb.building").write_bytes(b"half a build")
    removed = collect_garbage(data, keep=2, min_age_seconds=0)
    left = versions_on_disk(data)
    assert len(left) == 2
    assert read_pointer(data).path in left
    assert any(p.name.endswith(".building") for p in removed)
    assert not list(data.versions.glob("*.building"))


def test_second_pipeline_run_is_refused_naming_the_holder(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from pathlib import Path
                from changeboard.pipeline.lock import PipelineLock
                with PipelineLock(Path({str(data.lock_file)!r}), run_id="RUN-A", command="build"):
                    print("locked", flush=True)
                    time.sleep(30)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(PipelineBusy, match=r"RUN-A.*build"):
            PipelineLock(data.lock_file, run_id="RUN-B", command="ingest").acquire()
        t0 = time.monotonic()
        with pytest.raises(PipelineBusy):
            PipelineLock(data.lock_file, run_id="RUN-B", command="ingest", wait_seconds=0.5).acquire()
        assert time.monotonic() - t0 >= 0.5
    finally:
        holder.kill()
        holder.wait()
    # the kernel released the dead holder's lock
    with PipelineLock(data.lock_file, run_id="RUN-C", command="ingest"):
        pass


def test_published_version_is_not_writable_by_analysts(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores file permission bits; the 0444 mode is checked in the publish test")
    data = DataDir(tmp_path).ensure()
    b, v = _fake_build(data, 1)
    pub = publish(data, b, v, {})
    with pytest.raises(duckdb.IOException, match="Permission denied"):
        duckdb.connect(str(pub.path))
