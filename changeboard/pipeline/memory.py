"""A memory ceiling for ``changeboard ingest``: the ingest runs in a child process that is stopped
once its resident memory passes ``CHANGEBOARD_INGEST_MAX_MB``.

The readers bound what they know to be dangerous (JSON/XML nesting and size, XLSX parts and cells),
and DuckDB holds its own memory under ``memory_limit`` (``CHANGEBOARD_INGEST_MEMORY``, spilling to disk
beyond it). The ceiling is the backstop for what no bound foresaw: whatever a file makes a parser
allocate, the command stops, says which file it was reading, and marks that file's run aborted;
nothing of the file was committed (its rows load in one transaction).

Why a watched child and not ``resource.RLIMIT_AS`` in the ingest process: the address-space limit
counts reserved virtual memory, not memory used. Measured on the sample ingest: 391 MB resident,
2.9 GB of address space (2.1 GB with ``MALLOC_ARENA_MAX=2``; thread stacks, allocator arenas). A limit
near the memory really used would fail healthy runs, one far above it bounds nothing. And the XLSX and
CSV parsers are Rust, which aborts the process when an allocation fails: in a child, the abort or the
kill is reported by the parent instead of ending the command with a core dump.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ENV_INGEST_MAX_MB = "CHANGEBOARD_INGEST_MAX_MB"
DEFAULT_INGEST_MAX_MB = 4096  # the ingest of 1M changes peaks at 2.3 GiB (README, benchmarks)
ENV_GUARDED = "CHANGEBOARD_INGEST_GUARDED"  # set in the child: it runs the ingest itself
ENV_READING = "CHANGEBOARD_INGEST_READING"  # a file where the child notes the export it is reading
POLL_SECONDS = 0.01


def ceiling_mb() -> int:
    """The configured ceiling in MB (0: no ceiling, the ingest runs in this process)."""
    raw = os.environ.get(ENV_INGEST_MAX_MB, str(DEFAULT_INGEST_MAX_MB)).strip().lower().removesuffix("mb")
    return max(0, int(float(raw)))


def note_reading(path: Path) -> None:
    """In a guarded child: note the export about to be read (the parent names it if it stops the
    child; the reading may allocate before the file's ledger row exists)."""
    target = os.environ.get(ENV_READING)
    if target:
        Path(target).write_text(str(path), encoding="utf-8")


def _die_with(parent: int) -> None:
    """In the child: get SIGKILL when the command dies (a ``kill -9`` of ``changeboard ingest`` ends
    the ingest too, as it did when the ingest ran in that process; Linux prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
        if os.getppid() != parent:  # the command died before the prctl
            os._exit(1)


def resident_bytes(pid: int) -> int:
    """The resident memory of a process now (``VmRSS``; 0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


@dataclass
class Guarded:
    """How the guarded child ended."""

    returncode: int
    stopped_at_ceiling: bool
    peak_mb: float  # the child's peak resident memory (the kernel's ru_maxrss)
    ceiling_mb: int
    reading: Path | None = None  # the export it was reading when it was stopped


def run_guarded(args: list[str], ceiling: int, *, env: dict[str, str] | None = None) -> Guarded:
    """Run ``python -m changeboard.cli ARGS`` in a child, watching its resident memory every
    :data:`POLL_SECONDS`; SIGKILL it once past ``ceiling`` MB. SIGINT and SIGTERM sent to this
    process are passed on to the child, which ends its run cleanly."""
    import tempfile

    fd, note = tempfile.mkstemp(prefix="changeboard-reading-")
    os.close(fd)
    child_env = {**(env if env is not None else os.environ), ENV_GUARDED: "1", ENV_READING: note}
    parent = os.getpid()
    proc = subprocess.Popen(
        [sys.executable, "-m", "changeboard.cli", *args],
        env=child_env,
        preexec_fn=lambda: _die_with(parent),
    )
    limit = ceiling * 1024 * 1024
    stopped = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        if proc.returncode is None:
            os.kill(proc.pid, signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if not stopped and resident_bytes(proc.pid) > limit:
                stopped = True
                os.kill(proc.pid, signal.SIGKILL)
            time.sleep(POLL_SECONDS)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here: Popen must not wait for it again
    reading = Path(note).read_text(encoding="utf-8").strip()
    Path(note).unlink(missing_ok=True)
    return Guarded(code, stopped, usage.ru_maxrss / 1024, ceiling, Path(reading) if reading else None)


def mark_stopped(data_root: Path, guarded: Guarded) -> list[str]:
    """After the child was stopped: the files whose runs it left ``running`` and the file it was
    reading, in the ledger as ``aborted`` with the reason (a file stopped before its ledger row was
    written gets one); under the pipeline lock, as every writer of the ingest database."""
    from changeboard.ingest import load
    from changeboard.paths import DataDir
    from changeboard.pipeline.lock import PipelineBusy, PipelineLock

    data = DataDir(data_root)
    if not data.ingest_db.exists():
        return []
    try:
        with PipelineLock(data.lock_file, run_id="memory-ceiling", command="ingest", report=None):
            con = load.connect_ingest(data.ingest_db)
            try:
                files = [
                    str(r[0])
                    for r in con.execute(
                        "select file_name from meta.ingest_run where status = 'running' order by run_id"
                    ).fetchall()
                ]
                reason = (
                    f"stopped at the memory ceiling of {guarded.ceiling_mb:,} MB ({ENV_INGEST_MAX_MB}); "
                    "nothing of the file was loaded"
                )
                load.mark_aborted(con, reason=reason)
                if guarded.reading is not None and guarded.reading.name not in files:
                    from changeboard.ingest.readers import sha256_file

                    run_id = load.start_run(
                        con,
                        pipeline_run_id="memory-ceiling",
                        path=guarded.reading,
                        sha=sha256_file(guarded.reading),
                        landed=None,
                        system=None,
                        table=None,
                        status="aborted",
                    )
                    con.execute(
                        "update meta.ingest_run set error = ?, finished_at = ? where run_id = ?",
                        [reason, load.now_utc(), run_id],
                    )
                    files.append(guarded.reading.name)
            finally:
                con.close()
    except PipelineBusy:
        return []
    return files


__all__ = [
    "DEFAULT_INGEST_MAX_MB",
    "ENV_INGEST_MAX_MB",
    "Guarded",
    "ceiling_mb",
    "mark_stopped",
    "run_guarded",
]
