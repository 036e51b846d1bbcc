"""Timing hooks: the code says where its phases are, a listener (the benchmark) hears how long they took.

Production code marks a phase with ``with phase("ingest.open"): ...``; nothing is timed and nothing
is called while no listener is registered (the cost is one attribute test). A listener registered
with :func:`listening` hears ``(name, seconds, details)`` when each phase ends, on the thread that ran
it and inside the phase's caller (so it may look at the stack). Listeners must be quick and thread-safe.

The phases marked today:

- ``ingest.hash``: the checksum of an export (on a thread beside the file's own path);
- ``ingest.open``: opening an export with its connector (detection, the first batch);
- ``ingest.land``: the landing copy of an export (beside the load);
- ``ingest.load``: loading a file's frames into the ingest database, one transaction;
- ``app.query``: one dashboard query through ``changeboard.app.db.query`` (details: ``sql``, ``params``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType

Listener = Callable[[str, float, Mapping[str, object]], None]

_listeners: tuple[Listener, ...] = ()
_lock = threading.Lock()


class phase:  # a context manager, named like one (as contextlib.suppress)
    """``with phase(name, **details):`` times the block for the registered listeners, if any."""

    __slots__ = ("_started", "details", "name")

    def __init__(self, name: str, **details: object) -> None:
        self.name = name
        self.details = details
        self._started: float | None = None

    def __enter__(self) -> None:
        if _listeners:
            self._started = time.perf_counter()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._started is None:
            return
        seconds = time.perf_counter() - self._started
        for listener in _listeners:
            listener(self.name, seconds, self.details)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Register ``listener`` for the phases that end while the block runs (any thread)."""
    global _listeners
    with _lock:
        _listeners = (*_listeners, listener)
    try:
        yield
    finally:
        with _lock:
            _listeners = tuple(x for x in _listeners if x is not listener)


__all__ = ["Listener", "listening", "phase"]
