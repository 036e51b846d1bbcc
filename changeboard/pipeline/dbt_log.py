"""dbt's structured log, read as the build runs: which node finished, how, and how many remain.

The build runs dbt with ``--log-format json`` (one JSON event per line on stdout). A node's result
event (``LogModelResult``, ``LogTestResult``, ``LogSeedResult``, ...) carries its position
(``index`` of ``total``) and status; every event carries a human ``msg`` that the error tail of a
failed build shows, as dbt's text log would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class NodeDone:
    """One dbt node finished: the ``index``-th of ``total``."""

    index: int
    total: int
    name: str
    status: str


def _event(line: str) -> dict[str, object] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def node_done(line: str) -> NodeDone | None:
    """The finished node a log line reports, or None for any other line."""
    event = _event(line)
    if event is None:
        return None
    info, data = event.get("info"), event.get("data")
    if not isinstance(info, dict) or not isinstance(data, dict):
        return None
    name = str(info.get("name", ""))
    if not name.endswith("Result") or "index" not in data or "total" not in data:
        return None
    node = data.get("node_info") if isinstance(data.get("node_info"), dict) else {}
    assert isinstance(node, dict)
    try:
        index, total = int(data["index"]), int(data["total"])
    except (TypeError, ValueError):
        return None
    return NodeDone(
        index=index,
        total=total,
        name=str(node.get("node_name") or data.get("name") or data.get("description") or ""),
        status=str(data.get("status") or node.get("node_status") or ""),
    )


def message(line: str) -> str:
    """The human text of a log line (the line itself when it is not a JSON event)."""
    event = _event(line)
    if event is None:
        return line.rstrip("\n")
    info = event.get("info")
    if isinstance(info, dict) and isinstance(info.get("msg"), str):
        return str(info["msg"])
    return line.rstrip("\n")
