"""One pipeline run at a time: an exclusive ``flock`` on ``data/pipeline.lock``.

The lock is taken before any DuckDB file is opened read-write, so two runs can never both write
(see DECISIONLOG.md). The holder writes who it is into the lock file, so a refused run can name the
run that holds the lock. The kernel releases the lock when the holder dies, even by ``kill -9``.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

# While a run waits for the lock (``--wait``), how often it says it is still waiting.
REPORT_EVERY_SECONDS = 5.0


def report_to_stderr(message: str) -> None:
    """The default way a waiting run tells what it waits for (one line each time)."""
    print(message, file=sys.stderr, flush=True)


class PipelineBusy(RuntimeError):
    """Another pipeline run holds the lock."""


class PipelineLock:
    """An exclusive advisory lock held for the whole pipeline run."""

    def __init__(
        self,
        path: Path,
        *,
        run_id: str,
        command: str,
        wait_seconds: float = 0.0,
        report: Callable[[str], None] | None = report_to_stderr,
    ) -> None:
        self.path = path
        self.run_id = run_id
        self.command = command
        self.wait_seconds = wait_seconds
        self.report = report
        self._fd: int | None = None

    def describe_holder(self) -> str:
        """The run holding the lock, in words (from what it wrote into the lock file)."""
        h = self.holder()
        return (
            f"run {h.get('run_id', '?')} ({h.get('command', '?')}, pid {h.get('pid', '?')} on {h.get('host', '?')}, "
            f"started {h.get('started_at', '?')})"
        )

    def holder(self) -> dict[str, object]:
        """What the current holder wrote into the lock file (may be stale if nobody holds it)."""
        try:
            return dict(json.loads(self.path.read_text(encoding="utf-8") or "{}"))
        except (OSError, ValueError):
            return {}

    def acquire(self) -> PipelineLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        started = time.monotonic()
        deadline = started + self.wait_seconds
        next_report = started
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if now >= deadline:
                    os.close(fd)
                    after = f" after waiting {now - started:.0f} s" if waited else ""
                    raise PipelineBusy(
                        f"another pipeline run holds {self.path}{after}: {self.describe_holder()}. "
                        "Wait for it to finish, or pass --wait SECONDS."
                    ) from None
                if self.report is not None and now >= next_report:
                    self.report(
                        f"{self.command}: waiting for the pipeline lock {self.path}, held by {self.describe_holder()}: "
                        f"{now - started:.0f} s of up to {self.wait_seconds:.0f} s"
                    )
                    next_report = now + REPORT_EVERY_SECONDS
                waited = True
                time.sleep(0.2)
        if waited and self.report is not None:
            self.report(
                f"{self.command}: got the pipeline lock after {time.monotonic() - started:.1f} s of waiting"
            )
        info = {
            "run_id": self.run_id,
            "command": self.command,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "argv": sys.argv,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PipelineLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
