"""The build reads dbt's JSON log as it runs: finished nodes with their position, and the text tail."""

from __future__ import annotations

import json

from changeboard.pipeline import dbt_log


def _line(name: str, data: dict[str, object], msg: str = "") -> str:
    return json.dumps({"info": {"name": name, "msg": msg, "level": "info"}, "data": data})


def test_a_result_event_is_a_finished_node() -> None:
    line = _line(
        "LogModelResult",
        {"index": 3, "total": 120, "status": "OK", "node_info": {"node_name": "fct_changes"}},
        "3 of 120 OK created sql table model main.fct_changes",
    )
    assert dbt_log.node_done(line) == dbt_log.NodeDone(index=3, total=120, name="fct_changes", status="OK")
    assert dbt_log.message(line) == "3 of 120 OK created sql table model main.fct_changes"


def test_other_lines_are_not_nodes() -> None:
    assert dbt_log.node_done(_line("LogStartLine", {"index": 3, "total": 120})) is None
    assert dbt_log.node_done(_line("MainReportVersion", {"version": "1.11"})) is None
    assert dbt_log.node_done("Traceback (most recent call last):") is None
    assert dbt_log.node_done("[1, 2]") is None
    assert dbt_log.message("plain text\n") == "plain text"
