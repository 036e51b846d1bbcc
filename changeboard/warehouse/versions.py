"""The published warehouse: versioned read-only DuckDB files behind an atomically replaced pointer.

Writers (the pipeline) build ``versions/warehouse_<version>.duckdb.building``, then publish by
renaming it, making it read-only, and replacing ``CURRENT.json`` and the ``warehouse.duckdb``
symlink atomically. Readers resolve the pointer and open that version ``read_only=True``: no reader
ever opens a file that a writer has open, so nobody sees a lock error, a half-built warehouse or a
mix of two versions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from changeboard.faults import fault
from changeboard.paths import DataDir
from changeboard.warehouse.readers import connect_reader, leased

if TYPE_CHECKING:
    import polars as pl

logger = logging.getLogger(__name__)

PUBLISHED_LOG = "published.txt"
VERSION_RE = re.compile(r"^warehouse_(\d{8}T\d{6}Z_\d{4})\.duckdb$")


class NoWarehouse(RuntimeError):
    """Nothing has been published yet."""


@dataclass(frozen=True)
class Published:
    """The published version a reader should use."""

    version: str
    path: Path
    published_at: str
    built_from_runs: int
    meta: dict[str, object]
    warning: str | None = None  # set when the pointer was damaged and the symlink was used


def new_version_id(versions_dir: Path) -> str:
    """A sortable, unique version id: UTC time plus a counter."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    n = 1
    existing = {p.name for p in versions_dir.glob(f"warehouse_{stamp}_*")} if versions_dir.exists() else set()
    while any(name.startswith(f"warehouse_{stamp}_{n:04d}") for name in existing):
        n += 1
    return f"{stamp}_{n:04d}"


POINTER_MAX_BYTES = 64 * 1024  # CURRENT.json is a few hundred bytes; more is damage, not a pointer


def read_pointer(data: DataDir) -> Published:
    """The currently published version (raises :class:`NoWarehouse` before the first publish).

    ``CURRENT.json`` is the pointer; the ``warehouse.duckdb`` symlink is replaced right after it with
    the same version. A pointer that cannot be read (cut, edited, overwritten) falls back to the
    symlink, with :attr:`Published.warning` saying so, so that readers keep working and say why.
    """
    try:
        with data.current_pointer.open("rb") as f:
            text = f.read(POINTER_MAX_BYTES + 1).decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise NoWarehouse(
            f"no warehouse published under {data.root} yet: run `changeboard demo` or `changeboard ingest` + `changeboard build`"
        ) from None
    try:
        if len(text) > POINTER_MAX_BYTES:
            raise ValueError(f"it is larger than {POINTER_MAX_BYTES:,} bytes (a pointer is a few hundred)")
        raw = json.loads(text)
        name = raw["file"]
        # a bare file name in versions/: an absolute path or '..' would open a file outside the data directory
        if not isinstance(name, str) or "/" in name or "\\" in name or not VERSION_RE.match(name):
            raise ValueError(
                f"it names {str(name)[:200]!r}, which is not a version file name in {data.versions}"
            )
        path = data.versions / name
        if not path.exists():
            raise ValueError(f"it names {name!r}, which is not a published version file")
        return Published(
            version=str(raw["version"]),
            path=path,
            published_at=str(raw["published_at"]),
            built_from_runs=int(raw.get("ingest_runs", 0)),
            meta=raw,
        )
    # RecursionError: nested arrays (json.loads recurses); OverflowError: a count of 1e999
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError) as exc:
        return _from_symlink(data, f"{type(exc).__name__}: {str(exc)[:200]}")


def _from_symlink(data: DataDir, problem: str) -> Published:
    """The version the ``warehouse.duckdb`` symlink names, when ``CURRENT.json`` is damaged."""
    target = None
    if data.warehouse_link.is_symlink():
        named = data.warehouse_link.parent / os.readlink(data.warehouse_link)  # versions/warehouse_<v>.duckdb
        target = data.versions / named.name if named.parent.resolve() == data.versions.resolve() else None
    match = VERSION_RE.match(target.name) if target is not None else None
    if target is None or match is None or not target.exists():
        raise NoWarehouse(
            f"{data.current_pointer} is damaged ({problem}) and {data.warehouse_link} does not point to a "
            "published version: run `changeboard build` to publish one again"
        )
    warning = (
        f"{data.current_pointer} is damaged ({problem}); reading the version {data.warehouse_link.name} "
        f"points to ({target.name}); the next `changeboard build` writes the pointer again"
    )
    logger.warning(warning)
    published = datetime.fromtimestamp(target.stat().st_mtime, UTC).isoformat(timespec="seconds")
    return Published(
        version=match.group(1),
        path=target,
        published_at=published,
        built_from_runs=0,
        meta={},
        warning=warning,
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(data: DataDir, building: Path, version: str, meta: dict[str, object]) -> Published:
    """Publish a finished build: rename, make read-only, then replace the pointer and symlink."""
    final = data.versions / f"warehouse_{version}.duckdb"
    with building.open("rb") as f:
        os.fsync(f.fileno())
    building.replace(final)
    final.chmod(0o444)
    _fsync_dir(data.versions)
    fault("publish:after_rename")
    pointer = {
        "version": version,
        "file": final.name,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **meta,
    }
    tmp = data.current_pointer.with_name(".CURRENT.json.part")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(pointer, f, indent=2, default=str)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(data.current_pointer)
    fault("publish:after_pointer")
    link_tmp = data.warehouse_link.with_name(".warehouse.duckdb.part")
    link_tmp.unlink(missing_ok=True)
    link_tmp.symlink_to(Path("versions") / final.name)
    link_tmp.replace(data.warehouse_link)
    _fsync_dir(data.root)
    with (data.versions / PUBLISHED_LOG).open("a", encoding="utf-8") as log:
        log.write(final.name + "\n")
        log.flush()
        os.fsync(log.fileno())
    return read_pointer(data)


def versions_on_disk(data: DataDir) -> list[Path]:
    """Published version files, oldest first."""
    return sorted(p for p in data.versions.glob("warehouse_*.duckdb") if VERSION_RE.match(p.name))


@dataclass(frozen=True)
class Retention:
    """Which superseded versions the GC removes (changeboard.toml ``[retention]``; DECISIONLOG D38).

    A published version is kept while it is one of the newest ``keep_versions`` published versions
    AND (when ``max_age_days`` is set) younger than that; the published one and any version a reader
    holds open are kept whatever their rank or age.
    """

    keep_versions: int = 3
    max_age_days: float | None = None

    def __post_init__(self) -> None:
        if self.keep_versions < 1:
            raise ValueError(
                f"keep_versions must be at least 1 (the published version), not {self.keep_versions}"
            )
        if self.max_age_days is not None and not self.max_age_days > 0:
            raise ValueError(f"max_age_days must be more than 0, not {self.max_age_days}")


@dataclass(frozen=True)
class VersionFile:
    """A version file on disk, for ``changeboard status`` and the bench."""

    path: Path
    bytes: int
    published: bool
    current: bool
    leased: bool


def _proc_locked(path: Path) -> bool:
    """Whether any process holds a POSIX lock on ``path`` (a DuckDB connection to it: DuckDB locks the
    file it opens, read-only connections with a shared lock), from Linux's /proc/locks. This catches
    readers that do not take changeboard's lease (a `duckdb` shell, another tool). False where there
    is no /proc/locks."""
    try:
        st = path.stat()
        text = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return any(device in line.split() for line in text.splitlines())


def _remove_unless_held(path: Path) -> bool:
    """Unlink ``path`` unless a reader holds it; True when it was removed.

    Holders are changeboard's reader leases (a shared ``flock``, :class:`~.readers.Lease`) and any
    process's DuckDB lock on the file (/proc/locks). The exclusive ``flock`` is held across the unlink,
    so a reader cannot take its lease between the check and the removal: it either holds it before
    (the file stays) or finds the file gone (and resolves the pointer again)."""
    import fcntl

    if _proc_locked(path):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        path.chmod(0o644)
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def collect_garbage(
    data: DataDir,
    retention: Retention | None = None,
    *,
    keep: int | None = None,
    min_age_seconds: float = 600.0,
    now: float | None = None,
) -> list[Path]:
    """Remove what no reader needs, under the pipeline lock: superseded versions beyond the
    ``retention`` (count and age), version files that were never published (a crash between rename
    and pointer), and leftovers of crashed builds and publishes.

    Never removed: the published version (the pointer's, and the symlink's), a version a reader holds
    open (its lease or its DuckDB lock; see :func:`_remove_unless_held`), and a version superseded
    less than ``min_age_seconds`` ago (a reader that has just resolved the pointer to it can still
    open it). ``keep`` overrides ``retention.keep_versions``.
    """
    retention = retention or Retention()
    if keep is not None:
        retention = Retention(keep_versions=keep, max_age_days=retention.max_age_days)
    removed: list[Path] = []
    protected: set[str] = set()
    current = None
    with contextlib.suppress(NoWarehouse):
        current = read_pointer(data).path.name
        protected.add(current)
    if data.warehouse_link.is_symlink():
        protected.add(Path(os.readlink(data.warehouse_link)).name)
    log = data.versions / PUBLISHED_LOG
    published = set(log.read_text(encoding="utf-8").split()) if log.exists() else set()
    if current:
        published.add(current)
    versions = versions_on_disk(data)
    in_order = [p for p in versions if p.name in published]
    kept = set(in_order[-retention.keep_versions :])
    now = time.time() if now is None else now
    max_age = retention.max_age_days * 86400 if retention.max_age_days is not None else None
    for i, p in enumerate(in_order):
        if p.name in protected:
            continue
        age = now - p.stat().st_mtime
        if p in kept and (max_age is None or age <= max_age):
            continue
        # superseded when the next version was published (its file's time)
        successor = in_order[i + 1] if i + 1 < len(in_order) else None
        superseded_for = now - successor.stat().st_mtime if successor is not None else 0.0
        if superseded_for < min_age_seconds:
            continue
        if _remove_unless_held(p):
            removed.append(p)
        else:
            logger.info("versions GC: %s is held open by a reader; kept", p.name)
    for p in versions:
        if p.name not in published and p.name not in protected and _remove_unless_held(p):
            removed.append(p)
    strays = [
        *data.versions.glob("*.building*"),
        data.root / ".CURRENT.json.part",
        data.root / ".warehouse.duckdb.part",
    ]
    for stray in strays:
        if stray.exists() or stray.is_symlink():
            stray.unlink(missing_ok=True)
            removed.append(stray)
    if removed and log.exists():
        left = {p.name for p in versions_on_disk(data)}
        tmp = log.with_name(log.name + ".part")
        tmp.write_text(
            "".join(f"{n}\n" for n in log.read_text(encoding="utf-8").split() if n in left), encoding="utf-8"
        )
        tmp.replace(log)
    return removed


def version_files(data: DataDir) -> list[VersionFile]:
    """Every version file on disk with its size, oldest first."""
    current = None
    with contextlib.suppress(NoWarehouse):
        current = read_pointer(data).path.name
    log = data.versions / PUBLISHED_LOG
    published = set(log.read_text(encoding="utf-8").split()) if log.exists() else set()
    out = []
    for p in versions_on_disk(data):
        with contextlib.suppress(FileNotFoundError):
            out.append(
                VersionFile(
                    path=p,
                    bytes=p.stat().st_size,
                    published=p.name in published or p.name == current,
                    current=p.name == current,
                    leased=leased(p),
                )
            )
    return out


def connect_published(
    data: DataDir, *, allow_files: tuple[Path, ...] = ()
) -> tuple[duckdb.DuckDBPyConnection, Published]:
    """A read-only, sandboxed connection to the published version (the caller closes it): no file
    outside the version and ``allow_files`` can be read or written (see :mod:`.readers`)."""
    pub = read_pointer(data)
    con = connect_reader(pub.path, allow_files=allow_files)
    return con, pub


class WarehouseReader:
    """Thread-safe access to the published warehouse for long-lived readers (the app).

    It keeps one read-only connection per published version and hands out a new cursor per
    query (one DuckDB connection must not be shared across threads). When a newer version is
    published, new queries go to it; the superseded connection is closed after a grace period, so
    queries already running on it finish on the version they started with.
    """

    def __init__(self, data: DataDir, *, grace_seconds: float = 30.0) -> None:
        import threading

        self.data = data
        self.grace_seconds = grace_seconds
        self._lock = threading.Lock()
        self._current: tuple[Published, duckdb.DuckDBPyConnection] | None = None
        self._retired: list[tuple[float, Published, duckdb.DuckDBPyConnection]] = []

    def current(self) -> tuple[Published, duckdb.DuckDBPyConnection]:
        """The published version and its connection, switching to a newer version when there is one."""
        pub = read_pointer(self.data)
        with self._lock:
            if self._current is None or self._current[0].version != pub.version:
                con = connect_reader(pub.path)
                if self._current is not None:
                    self._retired.append((time.monotonic(), *self._current))
                self._current = (pub, con)
            self._close_retired()
            return self._current

    def _close_retired(self) -> None:
        now = time.monotonic()
        keep = []
        for since, pub, con in self._retired:
            if now - since > self.grace_seconds:
                con.close()
            else:
                keep.append((since, pub, con))
        self._retired = keep

    def frame_of(self, pub: Published, sql: str, params: list[object] | None = None) -> pl.DataFrame:
        """Run a query on version ``pub`` itself, not on whatever is current now: a download a page
        offered must hold the rows that page showed. Uses the version's open connection when there is
        one, else a read-only connection to its file (NoWarehouse once the version is no longer kept)."""
        current, con = self.current()
        found = con if current.version == pub.version else None
        with self._lock:
            for _since, old, old_con in self._retired:
                if found is None and old.version == pub.version:
                    found = old_con
        if found is not None:
            cur = found.cursor()
            try:
                return cur.sql(sql, params=params or []).pl()
            finally:
                cur.close()
        if not pub.path.exists():
            raise NoWarehouse(f"warehouse version {pub.version} is no longer kept: reload the page")
        with connect_reader(pub.path) as own:
            return own.sql(sql, params=params or []).pl()

    def query(
        self, sql: str, params: list[object] | dict[str, object] | None = None
    ) -> tuple[str, duckdb.DuckDBPyConnection]:
        """Run a query on a fresh cursor of the current version; return (version, cursor with the result)."""
        pub, con = self.current()
        cur = con.cursor()
        cur.execute(sql, params or [])
        return pub.version, cur

    def close(self) -> None:
        with self._lock:
            for _, _, con in self._retired:
                con.close()
            self._retired = []
            if self._current is not None:
                self._current[1].close()
                self._current = None
