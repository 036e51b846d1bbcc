"""The data directory's changeboard.toml: settings the build passes to dbt (DECISIONLOG D37, D44) and the
versions' retention (D38).

Three tables are read. ``[targets]``: per metric (its key in rpt_metric_definitions) a target, or a
target and an amber threshold, in the value's unit (a rate as a fraction, 0.95 for 95 %)::

    [targets]
    change_success_rate = { target = 0.97, amber = 0.93 }
    unauthorized_ratio = 0          # a target only: anything beyond it is red

``[display]``: ``min_base``, the smallest base (a rate's denominator, the records a median rests
on) on which a tile shows its target status, band and change from the period before (default 20;
DECISIONLOG D44)::

    [display]
    min_base = 30

The dbt model checks the metric names against its declarations and the thresholds against the
metric's direction; this module checks the file's shape, so a typo fails the build with the file's
name rather than a dbt stack.

The ``[retention]`` table: how many published versions the versions GC keeps and for how long (a
superseded version goes when it is beyond the count OR older than the age; the published one and any
version a reader holds open always stay)::

    [retention]
    keep_versions = 3      # default 3
    max_age_days = 7       # default: no age limit
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from changeboard.warehouse.versions import Retention


class SettingsError(ValueError):
    """changeboard.toml cannot be used: the build stops before dbt and publishes nothing."""


def _number(path: Path, where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingsError(
            f"{path}: {where} = {value!r} is not a number (rates are fractions: 0.95 for 95 %)"
        )
    return float(value)


def _document(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from exc


def read_retention(path: Path, *, keep: int | None = None, max_age_days: float | None = None) -> Retention:
    """The [retention] table of ``path`` (defaults when absent); ``keep`` and ``max_age_days`` (the
    build command's options) override the file's values."""
    table = _document(path).get("retention", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [retention] must be a table (keep_versions, max_age_days)")
    unknown = set(table) - {"keep_versions", "max_age_days"}
    if unknown:
        raise SettingsError(f"{path}: [retention] has unknown keys: {', '.join(sorted(unknown))}")
    count = table.get("keep_versions", 3) if keep is None else keep
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise SettingsError(
            f"{path}: [retention] keep_versions = {count!r} must be a whole number of at least 1 "
            "(the published version counts)"
        )
    age = table.get("max_age_days") if max_age_days is None else max_age_days
    if age is not None and not _number(path, "[retention] max_age_days", age) > 0:
        raise SettingsError(f"{path}: [retention] max_age_days = {age!r} must be more than 0")
    return Retention(keep_versions=count, max_age_days=float(age) if age is not None else None)


DISPLAY_KEYS = frozenset({"min_base"})


def read_display(path: Path) -> dict[str, int]:
    """The [display] table of ``path`` ({} when there is no file or no table: dbt's defaults apply)."""
    table = _document(path).get("display", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [display] must be a table, e.g. min_base = 20")
    unknown = set(table) - DISPLAY_KEYS
    if unknown:
        raise SettingsError(
            f"{path}: [display] has unknown keys: {', '.join(sorted(unknown))} (known: min_base)"
        )
    display: dict[str, int] = {}
    if "min_base" in table:
        value = table["min_base"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SettingsError(
                f"{path}: [display] min_base = {value!r} is not a whole number of records (e.g. 20)"
            )
        display["min_base"] = value
    return display


def read_targets(path: Path) -> dict[str, dict[str, float]]:
    """The [targets] table of ``path`` as {metric: {"target": t, "amber": a}} ({} when there is no file)."""
    table = _document(path).get("targets", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [targets] must be a table of metric = number or {{target, amber}}")
    targets: dict[str, dict[str, float]] = {}
    for metric, value in table.items():
        if isinstance(value, dict):
            unknown = set(value) - {"target", "amber"}
            if "target" not in value or unknown:
                raise SettingsError(
                    f"{path}: [targets] {metric} must be a number or {{ target = .., amber = .. }}"
                    + (f" (unknown keys: {', '.join(sorted(unknown))})" if unknown else " (no target)")
                )
            target = _number(path, f"[targets] {metric}.target", value["target"])
            amber = _number(path, f"[targets] {metric}.amber", value.get("amber", target))
        else:
            target = amber = _number(path, f"[targets] {metric}", value)
        targets[str(metric)] = {"target": target, "amber": amber}
    return targets
