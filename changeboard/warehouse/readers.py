"""Read-only DuckDB connections for readers (the app, ``changeboard sql``, reports, exports), sandboxed.

DuckDB's read-only mode protects the database file, not the machine: a read-only connection can still
``ATTACH`` another database read-write, ``COPY ... TO`` any file, read any file (``read_csv``,
``read_text``, ``glob``) and install or load extensions. Every reader connection here uses the
settings of DuckDB's "Securing DuckDB" guide instead (duckdb-web
``docs/current/operations_manual/securing_duckdb/overview.md``):

- ``autoinstall_known_extensions`` and ``autoload_known_extensions`` off;
- ``allowed_paths`` = the database file itself, ``allowed_directories`` = a private scratch folder of
  this process (DuckDB's spill ``temp_directory``) plus the folders a caller opts in (``changeboard sql
  --allow-files DIR``, the output folder of ``changeboard export``); then ``enable_external_access =
  false``: nothing else of the file system can be read or written, no other database attached, no
  extension installed;
- ``lock_configuration = true``: no SQL can undo any of it.

DuckDB only accepts ``allowed_directories`` once the database runs (in the connect ``config`` it
raises "Cannot change/set allowed_directories before the database is started"), so everything is set
right after connecting, before the connection is handed out. A second connection to the same file in
the same process shares DuckDB's instance, which is already locked: it is checked, not set again.

Every reader connection also holds a **lease** on its version file for as long as the connection
object lives: a shared ``flock`` on a descriptor of its own (:func:`hold_version`). The versions GC
(:func:`changeboard.warehouse.versions.collect_garbage`) only removes a file on which it can take the
exclusive lock, so a version a reader still has open is never removed (DECISIONLOG D38). ``flock``
locks belong to the open file description: unlike DuckDB's own POSIX read lock, they survive another
descriptor of the same file being closed in the same process, and they are released by the kernel
when the reader's process dies.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

_scratch: Path | None = None
_scratch_lock = threading.Lock()


class SandboxError(RuntimeError):
    """A reader connection that could not be locked down (it is closed, never handed out)."""


def scratch_dir() -> Path:
    """This process's private DuckDB spill folder (removed when the process exits)."""
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = Path(tempfile.mkdtemp(prefix="changeboard-duckdb-"))
            atexit.register(shutil.rmtree, _scratch, True)
        return _scratch


def connect_reader(path: Path, *, allow_files: Iterable[Path] = ()) -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``path`` with external access off except ``allow_files`` folders.

    Raises:
        SandboxError: the connection shares an instance opened with other settings.
    """
    allowed = [str(scratch_dir()), *(str(Path(p).resolve()) for p in allow_files)]
    # No connect-time config: DuckDB shares one instance per file within a process and refuses a
    # second connection "with a different configuration"; with the defaults at connect, every
    # connection to the file in this process shares the one instance, which the first reader
    # locks down below (so a plain read-only connection made in the same process is sandboxed too).
    con = duckdb.connect(str(path), read_only=True)
    try:
        lease = Lease(path)
        weakref.finalize(con, lease.release)  # held while the connection object lives
        locked = con.execute("select current_setting('lock_configuration')").fetchall()[0][0]
        if not locked:
            con.execute("set autoinstall_known_extensions = false")
            con.execute("set autoload_known_extensions = false")
            con.execute("set temp_directory = ?", [str(scratch_dir())])
            con.execute("set allowed_paths = ?", [[str(Path(path).resolve())]])
            con.execute("set allowed_directories = ?", [allowed])
            con.execute("set enable_external_access = false")
            con.execute("set lock_configuration = true")
        _check_sandboxed(con, allowed)
    except BaseException:
        con.close()
        raise
    return con


def _check_sandboxed(con: duckdb.DuckDBPyConnection, allowed: list[str]) -> None:
    settings = dict(
        con.execute(
            "select name, value from duckdb_settings() where name in "
            "('enable_external_access', 'lock_configuration', 'autoinstall_known_extensions', "
            "'autoload_known_extensions', 'allowed_directories')"
        ).fetchall()
    )
    wanted = {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
    }
    wrong = {k: settings.get(k) for k, v in wanted.items() if str(settings.get(k)).lower() != v}
    have = str(settings.get("allowed_directories", ""))
    missing = [d for d in allowed if d.rstrip("/") not in have]
    if wrong or missing:
        raise SandboxError(
            f"the DuckDB connection is not sandboxed as expected ({wrong or ''}{' missing ' + str(missing) if missing else ''}); "
            "another connection in this process opened the same file with other settings"
        )


class Lease:
    """A shared ``flock`` on a version file: the GC leaves the file alone while one is held."""

    def __init__(self, path: Path) -> None:
        self._fd: int | None = None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a GC holds the file (to unlink it)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


@contextlib.contextmanager
def hold_version(path: Path) -> Iterator[Lease]:
    """Hold a version file's lease for the ``with`` block (for readers that do not use
    :func:`connect_reader`, e.g. a connection that ATTACHes the version)."""
    lease = Lease(path)
    try:
        yield lease
    finally:
        lease.release()


def leased(path: Path) -> bool:
    """Whether a reader holds a lease on ``path`` (any process, including this one)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's own lock
    return False


__all__ = ["Lease", "SandboxError", "connect_reader", "hold_version", "leased", "scratch_dir"]
