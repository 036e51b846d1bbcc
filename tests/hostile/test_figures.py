"""The figures two workers record add up, in the controller, to what one process would print."""

from __future__ import annotations

import json

from tests.hostile.figures import Figures


def _record(figures: Figures, events: list[tuple[str, str, str]]) -> None:
    for what, kind, status in events:
        if what == "tried":
            figures.tried(kind, status)
        elif what == "handled":
            figures.handled(kind, status)
        else:
            figures.note(kind)


def test_two_workers_figures_merge_to_one_process_figures() -> None:
    first = [("tried", "csv", "succeeded"), ("handled", "csv", "succeeded"), ("note", "crash trials: 9", "")]
    second = [("tried", "csv", "failed"), ("handled", "csv", "failed"), ("tried", "xlsx", "failed")]
    one_process = Figures()
    _record(one_process, first + second)

    controller = Figures()
    for events in (first, second):
        worker = Figures()
        _record(worker, events)
        controller.merge(json.loads(json.dumps(worker.as_data())))  # plain data, as xdist sends it

    assert controller.summary() == one_process.summary()
    assert controller.summary()[0] == "hostile inputs tried: 3, handled as specified: 2"
