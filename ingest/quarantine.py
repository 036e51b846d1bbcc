"""What a file's quarantined rows have in common, and the one fix that would load them.

The mapping quarantines a row with one sentence per failing column (``column X: 'V' is not a
date/time ...``, see :func:`ingest.mapping.apply_mapping`). Read back, these sentences tell which
column and value cost the most rows, and whether a value is a *placeholder*: a token an export
writes for "no value" (``?``, ``N/A``, ``-``, ``#N/B``...) that fails typed columns across the file.
A placeholder is fixed by declaring it a null value (``--null-values`` or ``null_values`` in
``_export.toml``); anything else by the setting its kind of failure calls for.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

# "column X: 'V' is not a date/time (...)" / "is not a bigint" / "is outside 1990-2100"
# "column X: 'V' is not a value change.outcome accepts (successful, ...)"
_FAILURE = re.compile(
    r"^column (?P<column>.+?): '(?P<value>.*)' is "
    r"(?P<what>not a value [a-z_]+\.[a-z_]+ accepts \([^)]*\)|not a [a-z/]+|outside)"
)
_NOT_ACCEPTED = re.compile(r"^not a value (?P<entity>[a-z_]+)\.(?P<column>[a-z_]+) accepts")
_MISSING = re.compile(r"^column (?P<column>.+?): required value is missing")
# Spellings of "no value" that exports use; any other token counts when it fails two typed columns
# or more, or holds no letter or digit (a placeholder never names anything).
KNOWN_PLACEHOLDERS = {
    "?",
    "-",
    "--",
    "n/a",
    "na",
    "#n/a",
    "#n/b",
    "#na",
    "#multivalue",
    "null",
    "(null)",
    "none",
    "nil",
    "(empty)",
    "empty",
    "unknown",
    "n.v.",
    "k.a.",
    "tbd",
    ".",
}
MAX_PLACEHOLDER_LENGTH = 12


def has_no_word(value: str) -> bool:
    """A value without a letter or a digit (``?``, ``-``, ``--``, ``...``): it names nothing."""
    return bool(value.strip()) and not any(ch.isalnum() for ch in value)


@dataclass
class Failure:
    """Rows whose ``column`` failed with ``value`` (``what``: the kind of failure)."""

    column: str
    value: str | None
    what: str
    rows: int


@dataclass
class QuarantineDiagnosis:
    """The quarantine of one file, summed up: the biggest failures, the placeholders, the fix."""

    failures: list[Failure] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    other: int = 0  # reasons of other kinds (a cut row, a read error...): rows

    def fix(self) -> str:
        """The one command-line option (or setting) that loads the most of these rows."""
        if self.placeholders:
            opts = " ".join(f"--null-values {shlex.quote(p)}" for p in self.placeholders)
            toml = ", ".join(f'"{p}"' for p in self.placeholders)
            return (
                f"the export writes {', '.join(repr(p) for p in self.placeholders)} for 'no value': "
                f"ingest again with {opts} (or null_values = [{toml}] in the folder's _export.toml)"
            )
        if not self.failures:
            return "see the rows in meta.quarantine (changeboard status) and correct the export"
        top = self.failures[0]
        if top.what.startswith("not a date"):
            return (
                f"column {top.column} holds dates that cannot be read (like {top.value!r}): when they "
                'are in a format not declared, add date_format = "..." (strftime, e.g. "%d.%m.%Y %H:%M") '
                "to the folder's _export.toml or the mapping's [source]; when the date itself is "
                "impossible, correct it in the source"
            )
        if m := _NOT_ACCEPTED.match(top.what):
            entity, target = m["entity"], m["column"]
            return (
                f"column {top.column} holds values {entity}.{target} does not accept (like {top.value!r}): "
                f'translate them with a value map, [value_maps.{target}] from = "{top.column}" '
                f'values = {{ {json.dumps(top.value)} = "..." }} (or default = "..."), or map {top.column} '
                f"to a *_raw column that dbt normalises; `changeboard mapping columns {entity}` lists the "
                "accepted values"
            )
        if top.what == "outside":
            return f"column {top.column} holds dates outside 1990-2100: check the column's date format"
        if top.what == "required":
            return (
                f"rows without {top.column}: map another column to it or check that the export "
                "has it (changeboard ingest --dry-run shows the rows)"
            )
        return f"column {top.column} holds values that are not a {top.what.removeprefix('not a ')}: check what is mapped to it"


def diagnose(reasons: Iterable[tuple[str, int]]) -> QuarantineDiagnosis:
    """Sum up ``(reason sentence, rows)`` pairs (one sentence per failing column of a row)."""
    by_failure: Counter[tuple[str, str | None, str]] = Counter()
    other = 0
    for reason, n in reasons:
        if m := _FAILURE.match(reason):
            what = "outside" if m["what"] == "outside" else m["what"]
            by_failure[(m["column"], m["value"], what)] += n
        elif m := _MISSING.match(reason):
            by_failure[(m["column"], None, "required")] += n
        else:
            other += n
    failures = [Failure(c, v, w, n) for (c, v, w), n in by_failure.most_common()]
    columns_of: dict[str, set[str]] = {}
    rows_of: Counter[str] = Counter()
    for f in failures:
        if f.value is not None and f.what != "outside":
            columns_of.setdefault(f.value, set()).add(f.column)
            rows_of[f.value] += f.rows
    placeholders = [
        v
        for v, _ in rows_of.most_common()
        if len(v) <= MAX_PLACEHOLDER_LENGTH
        and (v.strip().lower() in KNOWN_PLACEHOLDERS or has_no_word(v) or len(columns_of[v]) >= 2)
        and not any(ch.isdigit() for ch in v)  # a number or a date in another format is no placeholder
    ]
    return QuarantineDiagnosis(failures=failures, placeholders=placeholders, other=other)


def describe(diagnosis: QuarantineDiagnosis, *, limit: int = 5) -> list[str]:
    """The biggest failures as lines: column, value, rows."""
    lines = []
    for f in diagnosis.failures[:limit]:
        if f.what == "required":
            lines.append(f"{f.rows:,} row(s): column {f.column} has no value (required)")
        elif f.what == "outside":
            lines.append(f"{f.rows:,} row(s): column {f.column} = {f.value!r} is outside 1990-2100")
        else:
            lines.append(f"{f.rows:,} row(s): column {f.column} = {f.value!r} is {f.what}")
    if len(diagnosis.failures) > limit:
        lines.append(f"... and {len(diagnosis.failures) - limit} other column/value failure(s)")
    if diagnosis.other:
        lines.append(
            f"{diagnosis.other:,} row(s) for other reasons (unreadable records, see meta.quarantine)"
        )
    return lines


__all__ = ["KNOWN_PLACEHOLDERS", "QuarantineDiagnosis", "describe", "diagnose", "has_no_word"]
