"""Figures of the hostile-export corpus, the security tests and the crash trials, collected while
the tests run and printed at the end of the run (the README's "Reliability" section quotes them)."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest


class Figures:
    """What the hostile tests tried and how each input was handled, per class of input (the file's
    extension): printed at the end of the run (README, "Reliability")."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.lines: list[str] = []

    def tried(self, kind: str, status: str) -> None:
        self.counts[kind]["tried"] += 1

    def handled(self, kind: str, status: str) -> None:
        self.counts[kind]["handled"] += 1
        self.counts[kind][status] += 1

    def note(self, line: str) -> None:
        self.lines.append(line)

    def summary(self) -> list[str]:
        if not self.counts and not self.lines:
            return []
        tried = sum(c["tried"] for c in self.counts.values())
        handled = sum(c["handled"] for c in self.counts.values())
        out = [f"hostile inputs tried: {tried}, handled as specified: {handled}"] if self.counts else []
        for kind, c in sorted(self.counts.items()):
            out.append(
                f"  {kind:5} tried {c['tried']:3}  handled {c['handled']:3}  "
                f"(loaded with every row accounted for: {c['succeeded']}, refused with a named error: {c['failed']})"
            )
        return out + self.lines

    def as_data(self) -> dict[str, object]:
        """The figures as plain data: a worker of a parallel run hands them to the controller."""
        return {"counts": {kind: dict(c) for kind, c in self.counts.items()}, "lines": list(self.lines)}

    def merge(self, data: dict[str, object]) -> None:
        counts = data.get("counts")
        lines = data.get("lines")
        if isinstance(counts, dict):
            for kind, c in counts.items():
                self.counts[kind].update(c)
        if isinstance(lines, list):
            self.lines.extend(lines)


FIGURES = Figures()


# pytest-xdist (`./run test` runs the suite on two workers): each worker records its tests' figures
# and hands them to the controller when it finishes; the controller prints them all.


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Registered by tests/conftest.py: a worker's figures go to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["figures"] = FIGURES.as_data()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """Registered by tests/conftest.py: the controller gathers a finished worker's figures."""
    data = getattr(node, "workeroutput", {}).get("figures")
    if data:
        FIGURES.merge(data)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Registered by tests/conftest.py: the figures, when any test recorded some."""
    lines = FIGURES.summary()
    if lines:
        terminalreporter.section("hostile-export corpus and security figures")
        for line in lines:
            terminalreporter.write_line(line)
