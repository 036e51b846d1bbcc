"""Versions retention (DECISIONLOG D38): superseded versions go by count and age, never the published
one, never one a reader still has open (in this process or another)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from changeboard.paths import DataDir
from changeboard.pipeline.settings import SettingsError, read_retention
from changeboard.warehouse.readers import connect_reader, hold_version, leased
from changeboard.warehouse.versions import (
    Published,
    Retention,
    WarehouseReader,
    collect_garbage,
    new_version_id,
    publish,
    read_pointer,
    version_files,
    versions_on_disk,
)

DAY = 86400.0


def _publish(data: DataDir, rows: int, *, days_ago: float = 0.0) -> Published:
    version = new_version_id(data.versions)
    building = data.versions / f"warehouse_{version}.duckdb.building"
    con = duckdb.connect(str(building))
    con.execute("create table t as select range as i from range(?)", [rows])
    con.close()
    pub = publish(data, building, version, {})
    stamp = time.time() - days_ago * DAY
    os.utime(pub.path, (stamp, stamp))
    return pub


def _names(paths: list[Path]) -> list[str]:
    return sorted(p.name for p in paths)


def test_count_and_age_both_remove_but_never_the_published_one(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    pubs = [_publish(data, n + 1, days_ago=d) for n, d in enumerate((30, 20, 10, 5, 1, 0.5))]
    # count alone: the newest 4 stay
    removed = collect_garbage(data, Retention(keep_versions=4), min_age_seconds=0)
    assert _names(removed) == _names([pubs[0].path, pubs[1].path])
    # count and age: of the newest 4, the 10-day-old one is past 7 days
    removed = collect_garbage(data, Retention(keep_versions=4, max_age_days=7), min_age_seconds=0)
    assert _names(removed) == [pubs[2].path.name]
    assert versions_on_disk(data) == [p.path for p in pubs[3:]]
    # the published version stays whatever its age
    current = read_pointer(data).path
    os.utime(current, (time.time() - 100 * DAY, time.time() - 100 * DAY))
    removed = collect_garbage(data, Retention(keep_versions=1, max_age_days=1), min_age_seconds=0)
    assert current.exists()
    assert current not in removed
    assert versions_on_disk(data) == [current]
    with duckdb.connect(str(current), read_only=True) as con:
        assert con.execute("select count(*) from t").fetchall() == [(6,)]


def test_a_version_superseded_moments_ago_stays_for_the_grace_period(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    old = _publish(data, 1, days_ago=40)
    _publish(data, 2)  # supersedes `old` now
    assert collect_garbage(data, Retention(keep_versions=1, max_age_days=1), min_age_seconds=600) == []
    assert old.path.exists()
    assert collect_garbage(data, Retention(keep_versions=1), min_age_seconds=0) == [old.path]


def test_a_reader_in_this_process_keeps_its_version_across_gc(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    first = _publish(data, 1, days_ago=3)
    reader = connect_reader(first.path)
    assert leased(first.path)
    # another descriptor of the same file opened and closed in this process (it drops DuckDB's own
    # POSIX lock of this process) does not drop the lease
    first.path.read_bytes()
    for n in (2, 3):
        _publish(data, n, days_ago=2)
    removed = collect_garbage(data, Retention(keep_versions=1, max_age_days=1), min_age_seconds=0)
    assert first.path.exists()
    assert first.path not in removed
    assert len(removed) == 1  # the other superseded version, which nobody holds
    assert reader.execute("select count(*) from t").fetchall() == [(1,)]
    assert [f.leased for f in version_files(data)] == [True, False]
    reader.close()
    del reader  # the lease lives as long as the connection object
    assert not leased(first.path)
    assert collect_garbage(data, Retention(keep_versions=1), min_age_seconds=0) == [first.path]


def test_the_apps_reader_keeps_a_retired_version_while_it_is_open(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    first = _publish(data, 1, days_ago=3)
    app = WarehouseReader(data, grace_seconds=3600)
    app.current()
    _publish(data, 2, days_ago=2)
    app.current()  # retires the first version's connection, still open for pages in flight
    assert collect_garbage(data, Retention(keep_versions=1), min_age_seconds=0) == []
    assert app.frame_of(first, "select count(*) as n from t")["n"].to_list() == [1]
    app.close()
    assert collect_garbage(data, Retention(keep_versions=1), min_age_seconds=0) == [first.path]


def test_a_reader_in_another_process_keeps_its_version_until_it_exits(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    first = _publish(data, 7, days_ago=3)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from pathlib import Path
                from changeboard.warehouse.readers import connect_reader
                con = connect_reader(Path({str(first.path)!r}))
                print("open", flush=True)
                sys.stdin.readline()  # hold the connection until told
                print(con.execute("select count(*) from t").fetchall()[0][0], flush=True)
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdin is not None
        assert holder.stdout.readline().strip() == "open"
        for n in (2, 3, 4):
            _publish(data, n, days_ago=1)
        removed = collect_garbage(data, Retention(keep_versions=1, max_age_days=0.5), min_age_seconds=0)
        assert first.path.exists()
        assert len(removed) == 2
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "7"  # it read its version after the GC
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
        holder.wait()
    # the process is gone: the kernel released its lease
    assert collect_garbage(data, Retention(keep_versions=1), min_age_seconds=0) == [first.path]


def test_a_plain_duckdb_connection_elsewhere_also_holds_its_version(tmp_path: Path) -> None:
    """A reader that does not take changeboard's lease (a `duckdb` shell): DuckDB's own file lock,
    seen in /proc/locks, keeps the version."""
    if not Path("/proc/locks").exists():
        pytest.skip("no /proc/locks on this system")
    data = DataDir(tmp_path).ensure()
    first = _publish(data, 1, days_ago=3)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(first.path)!r}, read_only=True); "
            "print('open', flush=True); sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        _publish(data, 2, days_ago=2)
        assert collect_garbage(data, Retention(keep_versions=1), min_age_seconds=0) == []
    finally:
        holder.kill()
        holder.wait()
    assert collect_garbage(data, Retention(keep_versions=1), min_age_seconds=0) == [first.path]


def test_hold_version_for_readers_that_attach(tmp_path: Path) -> None:
    data = DataDir(tmp_path).ensure()
    first = _publish(data, 1, days_ago=3)
    _publish(data, 2, days_ago=2)
    with hold_version(first.path):
        assert collect_garbage(data, Retention(keep_versions=1), min_age_seconds=0) == []
    assert collect_garbage(data, Retention(keep_versions=1), min_age_seconds=0) == [first.path]


def test_retention_settings_from_changeboard_toml_and_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "changeboard.toml"
    assert read_retention(toml) == Retention(keep_versions=3, max_age_days=None)
    toml.write_text("[retention]\nkeep_versions = 5\nmax_age_days = 7\n", encoding="utf-8")
    assert read_retention(toml) == Retention(keep_versions=5, max_age_days=7.0)
    assert read_retention(toml, keep=2) == Retention(keep_versions=2, max_age_days=7.0)
    assert read_retention(toml, max_age_days=0.5) == Retention(keep_versions=5, max_age_days=0.5)
    for bad, match in (
        ("keep_versions = 0", "at least 1"),
        ("keep_versions = 2.5", "whole number"),
        ("max_age_days = -1", "more than 0"),
        ("max_age_days = 'week'", "not a number"),
        ("keep = 3", "unknown keys: keep"),
    ):
        toml.write_text(f"[retention]\n{bad}\n", encoding="utf-8")
        with pytest.raises(SettingsError, match=match):
            read_retention(toml)
