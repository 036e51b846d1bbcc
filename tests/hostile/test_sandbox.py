"""The reader's door to DuckDB is sandboxed (issue #20): ``changeboard sql``, the app's reader and the
reports open the published version with external access off (except the folders an analyst opts in
with ``--allow-files``), extension auto-install/auto-load off and the configuration locked; ``sql``
prints control characters escaped; a damaged ``CURRENT.json`` falls back to the published symlink with
a warning and no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from changeboard import cli
from changeboard.paths import DataDir
from changeboard.warehouse import versions
from changeboard.warehouse.readers import connect_reader
from tests.hostile.figures import FIGURES

ESC_TITLE = "retitle \x1b]0;pwned\x07 me \u202eevil"


@pytest.fixture
def published(tmp_path: Path) -> DataDir:
    """A data directory with one published version (a tiny warehouse: no dbt needed) and an ingest
    database holding a ledger row."""
    data = DataDir(tmp_path / "data").ensure()
    version = versions.new_version_id(data.versions)
    building = data.versions / f"warehouse_{version}.duckdb.building"
    con = duckdb.connect(str(building))
    con.execute("create table fct_changes as select 'CHG1' as change_number, ? as title", [ESC_TITLE])
    con.close()
    versions.publish(data, building, version, {"ingest_runs": 1})
    ing = duckdb.connect(str(data.ingest_db))
    ing.execute("create schema meta; create table meta.ingest_run as select 1 as run_id")
    ing.close()
    return data


def _sql(data: DataDir, *args: str) -> subprocess.CompletedProcess[str]:
    """``changeboard sql`` in its own process (a DuckDB instance of its own, as an analyst's)."""
    return subprocess.run(
        [sys.executable, "-m", "changeboard.cli", "sql", "--data-dir", str(data.root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def _attacks(data: DataDir, outside: Path) -> dict[str, str]:
    return {
        "attach the ingest db read-write": f"attach '{data.ingest_db}' as ing (read_write); delete from ing.meta.ingest_run",
        "overwrite CURRENT.json": f"copy (select 1) to '{data.current_pointer}'",
        "read /etc/passwd": "select * from read_csv('/etc/passwd', sep = ':')",
        "read_text": "select * from read_text('/etc/hostname')",
        "glob": "select * from glob('/etc/*')",
        "install an extension": "install httpfs",
        "load an extension": "load httpfs",
        "re-enable external access": "set enable_external_access = true",
        "read a file next to the data": f"select * from read_csv('{outside}')",
        "write a file next to the data": f"copy (select 1) to '{outside.with_name('leak.csv')}'",
    }


def test_sql_refuses_files_attach_and_extensions(published: DataDir, tmp_path: Path) -> None:
    outside = tmp_path / "notes.csv"
    outside.write_text("a\n1\n", encoding="utf-8")
    pointer = published.current_pointer.read_bytes()
    refused = []
    for name, attack in _attacks(published, outside).items():
        result = _sql(published, attack)
        FIGURES.tried("sql", "failed")
        said = result.stdout + result.stderr
        assert result.returncode != 0, f"{name}: {attack!r} was allowed:\n{said}"
        assert "Traceback" not in said, said
        assert any(w in said for w in ("Permission Error", "disabled", "locked")), (name, said)
        FIGURES.handled("sql", "failed")
        refused.append(name)
    assert published.current_pointer.read_bytes() == pointer
    assert not outside.with_name("leak.csv").exists()
    con = duckdb.connect(str(published.ingest_db), read_only=True)
    assert con.execute("select count(*) from meta.ingest_run").fetchall()[0][0] == 1
    con.close()
    # ... and an ordinary query still works
    ok = _sql(published, "select change_number from fct_changes")
    assert ok.returncode == 0, ok.stderr
    assert "CHG1" in ok.stdout
    print(f"\n[security] sql refused {len(refused)} attacks: {', '.join(refused)}")


def test_sql_allow_files_opts_an_analyst_in(published: DataDir, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "targets.csv").write_text("change_number,target\nCHG1,0.9\n", encoding="utf-8")
    query = (
        f"select c.change_number, t.target from fct_changes c join read_csv('{shared / 'targets.csv'}') t "
        "using (change_number)"
    )
    assert _sql(published, query).returncode != 0
    result = _sql(published, "--allow-files", str(shared), query)
    assert result.returncode == 0, result.stderr
    assert "0.9" in result.stdout
    # the opt-in opens that folder only
    assert (
        _sql(published, "--allow-files", str(shared), "select * from read_text('/etc/hostname')").returncode
        != 0
    )


def test_sql_prints_control_characters_escaped(published: DataDir) -> None:
    result = _sql(published, "select title, chr(27) || '[2J' as wipe from fct_changes")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in out, repr(out)
    assert "\\x1b]0;pwned\\x07" in out
    assert "\\u202e" in out
    assert "\\x1b[2J" in out


def test_printable_escapes_what_a_terminal_acts_on() -> None:
    assert cli.printable("a\x1b[31mb\x07\r\x9b\u202e\u2066") == "a\\x1b[31mb\\x07\\r\\x9b\\u202e\\u2066"
    assert (
        cli.printable("tab\tand\nline, caf\u00e9 \u05e9\u05dc\u05d5\u05dd")
        == "tab\tand\nline, caf\u00e9 \u05e9\u05dc\u05d5\u05dd"
    )
    assert cli.printable(None) == ""


def test_every_reader_connection_is_sandboxed(published: DataDir) -> None:
    """The connections of the app (WarehouseReader), the reports and exports (connect_published)."""
    reader = versions.WarehouseReader(published)
    con, _pub = versions.connect_published(published)
    try:
        _pub2, app_con = reader.current()
        for c in (app_con.cursor(), con):
            settings = dict(
                c.execute(
                    "select name, value from duckdb_settings() where name in ('enable_external_access', "
                    "'lock_configuration', 'autoinstall_known_extensions', 'autoload_known_extensions')"
                ).fetchall()
            )
            assert settings == {
                "enable_external_access": "false",
                "lock_configuration": "true",
                "autoinstall_known_extensions": "false",
                "autoload_known_extensions": "false",
            }
            with pytest.raises(duckdb.PermissionException):
                c.execute("select * from read_text('/etc/hostname')")
            with pytest.raises(duckdb.Error):
                c.execute("set enable_external_access = true")
        assert reader.query("select count(*) from fct_changes")[1].fetchall() == [(1,)]
    finally:
        con.close()
        reader.close()


def test_a_large_query_still_spills_to_the_scratch_folder(tmp_path: Path) -> None:
    db = tmp_path / "big.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create table t as select range as i, md5(range::varchar) as s from range(2000000)")
    con.close()
    ro = connect_reader(db)
    try:
        ro.execute("select current_setting('memory_limit')").fetchall()
        n = ro.execute("select count(*) from (select * from t order by s desc)").fetchall()[0][0]
        assert n == 2_000_000
    finally:
        ro.close()


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b'{"version": "x", "file": "warehouse_',
        b"\x00\xff garbage",
        b'{"file": "../../etc/passwd"}',
        b"[1, 2]",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"version": "x", "file": "warehouse_20990101T000000Z_0001.duckdb", "ingest_runs": 1e999}',
        b'{"pad": "' + b"x" * 200_000 + b'"}',
    ],
    ids=["empty", "cut", "garbage", "escaping-path", "not-an-object", "deep", "overflow", "huge"],
)
def test_a_damaged_pointer_falls_back_to_the_symlink(published: DataDir, damage: bytes) -> None:
    good = versions.read_pointer(published)
    published.ingest_db.unlink()  # status reads the ledger too: nothing ingested here
    published.current_pointer.write_bytes(damage)
    pub = versions.read_pointer(published)
    assert pub.path == good.path
    assert pub.version == good.version
    assert pub.warning
    assert "CURRENT.json is damaged" in pub.warning
    result = _sql(published, "select count(*) as n from fct_changes")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "CURRENT.json is damaged" in result.stderr
    status = CliRunner().invoke(cli.app, ["status", "--data-dir", str(published.root)])
    assert status.exit_code == 0, status.output
    assert "Traceback" not in status.output
    assert status.exception is None
    assert good.version in status.output


@pytest.mark.parametrize("spelling", ["absolute", "dot-dot"])
def test_a_pointer_outside_the_versions_folder_is_not_followed(
    published: DataDir, tmp_path: Path, spelling: str
) -> None:
    """A version-named file elsewhere (another data directory, a planted file) is never opened."""
    good = versions.read_pointer(published)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    planted = elsewhere / "warehouse_20990101T000000Z_0001.duckdb"
    shutil.copyfile(good.path, planted)
    name = str(planted) if spelling == "absolute" else os.path.relpath(planted, published.versions)
    published.current_pointer.write_text(
        json.dumps({"version": "20990101T000000Z_0001", "file": name, "published_at": "x"}), encoding="utf-8"
    )
    pub = versions.read_pointer(published)
    assert pub.path == good.path
    assert pub.warning
    assert "not a version file name" in pub.warning


def test_no_pointer_and_no_symlink_is_a_plain_error(published: DataDir) -> None:
    published.ingest_db.unlink()
    published.current_pointer.write_text("{", encoding="utf-8")
    published.warehouse_link.unlink()
    result = _sql(published, "select 1")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "changeboard build" in result.stderr
    status = CliRunner().invoke(cli.app, ["status", "--data-dir", str(published.root)])
    assert status.exit_code == 0, status.output
    assert status.exception is None, status.output


@pytest.mark.parametrize("where", ["itself", "parent", "inside"])
def test_sql_allow_files_never_opens_the_data_directory(published: DataDir, where: str) -> None:
    """--allow-files grants read and write: the data directory (or a folder holding it) would let a
    query rewrite CURRENT.json; refused before any connection."""
    folder = {"itself": published.root, "parent": published.root.parent, "inside": published.versions}[where]
    result = _sql(published, "select 1", "--allow-files", str(folder))
    assert result.returncode != 0
    assert "data directory" in result.stderr
    assert "Traceback" not in result.stderr
