"""Named fault-injection points for the crash tests.

``CHANGEBOARD_FAULT=<point>`` makes the process kill itself with SIGKILL when it reaches that point,
exactly like a ``kill -9`` or a power cut at the worst moment. Unset (always, outside tests), it
does nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "CHANGEBOARD_FAULT"
POINTS = (
    "ingest:after_run_row",
    "ingest:before_commit",
    "build:after_dbt",
    "publish:after_rename",
    "publish:after_pointer",
)


def fault(point: str) -> None:
    """Die here if the tests asked for it."""
    if os.environ.get(ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
