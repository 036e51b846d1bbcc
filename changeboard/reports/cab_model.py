"""The CAB pack's data model: :class:`CabPack` (what every renderer reads), the sections, formats and
defaults. The feed (:mod:`changeboard.reports.cab`) builds a pack; the renderers (``cab``, ``cab_pdf``,
``cab_charts``, ``cab_minutes``) import the model from here, never the feed back (no import cycle)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

FORMATS = ("html", "pdf", "md", "ics")
MEDIA_TYPES = {
    "html": "text/html",
    "pdf": "application/pdf",
    "md": "text/markdown",
    "ics": "text/calendar",
}
PAPERS = ("a4", "letter")

# Defaults of the dbt vars (dbt_project.yml); read from rpt_cab_agenda when it has rows.
DEFAULT_MEETING_HOUR = 10
DEFAULT_PREVIOUS_MEETING_DAYS = 7
DEFAULT_FORWARD_SCHEDULE_DAYS = 14
DEFAULT_STALE_AFTER_DAYS = 30  # var('cab_stale_after_days'): no update for this long flags "replan"
# Agenda items a printed / exported pack lists per section: a CAB reads the highest-risk ones; a longer
# section says how many more there are (the app's CAB page lists all). Collisions listed: at most
# this factor times the limit.
DEFAULT_SECTION_LIMIT = 100
COLLISION_LIMIT_FACTOR = 4

SECTIONS: dict[str, tuple[int, str, str]] = {
    "awaiting_decision": (1, "Awaiting a CAB decision", "Changes waiting for the CAB to approve or reject."),
    "scheduled": (
        2,
        "Forward schedule",
        "Approved or pre-approved changes planned to start in the next days.",
    ),
    "emergency_retrospective": (
        3,
        "Emergency changes since the previous meeting",
        "For retrospective review.",
    ),
    "post_implementation_review": (
        4,
        "Failed changes since the previous meeting",
        "Post-implementation review, with the incidents they caused.",
    ),
}

COLLISION_KINDS = {
    "same_ci": "same CI",
    "related_ci": "related CIs",
    "same_service": "same service",
}

KPI_COLUMNS = (
    "kpi",
    "kpi_label",
    "kpi_order",
    "unit",
    "better_direction",
    "current_period_start",
    "current_period_end",
    "previous_period_start",
    "previous_period_end",
    "current_numerator",
    "current_denominator",
    "current_value",
    "previous_numerator",
    "previous_denominator",
    "previous_value",
    "value_change",
)


class CabPackError(RuntimeError):
    """The warehouse lacks a model the pack needs."""


@dataclass(frozen=True)
class CabPack:
    """Everything a CAB pack shows for one meeting; every renderer reads only this.

    Frames:
        agenda: one row per (agenda_section, change) with rpt_cab_agenda's columns (type, risk,
            window, CIs, service, blackout / maintenance flags, collisions, risk evidence, risk
            indicator and reasons), ordered by section, risk score (highest first), planned start, number.
        collisions: fct_change_collisions rows that involve a change on the agenda.
        caused_incidents: fct_incidents caused (primary, counted) by the changes under
            post-implementation review, with the change's number.
        forward_schedule: the changes planned to start in [T, F) from the first two sections
            (one calendar event each that the pack lists), with their collisions as text.
        blackouts: dim_change_windows blackout windows overlapping [T, F).
        kpi_strip: the KPI strip (rpt_cab_kpi_strip's columns).

    With a running order, the items awaiting a decision are in the chair's order and carry
    ``chair_position``, ``agenda_position``, ``timebox_minutes`` and ``slot_start_at``.
    """

    meeting_at: datetime
    previous_meeting_at: datetime
    forward_end_at: datetime
    evidence_as_of: datetime | None
    warehouse_version: str
    built_at: datetime | None
    generated_at: datetime
    agenda: pl.DataFrame
    collisions: pl.DataFrame
    caused_incidents: pl.DataFrame
    forward_schedule: pl.DataFrame
    blackouts: pl.DataFrame
    kpi_strip: pl.DataFrame
    kpi_source: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    # the chair's running order of the items awaiting a decision, from the request store (change_id ->
    # (position, time box in minutes or None)); empty: by risk. Applied by cab_meeting.with_running_order.
    running_order: Mapping[str, tuple[int, int | None]] = field(default_factory=dict)

    def section(self, name: str) -> pl.DataFrame:
        """The agenda rows of one section."""
        return self.agenda.filter(pl.col("agenda_section") == name)

    @property
    def is_empty(self) -> bool:
        """True when the meeting has nothing to review (no agenda row at all)."""
        return self.agenda.height == 0

    @property
    def title(self) -> str:
        return f"CAB meeting pack — {fmt_ts(self.meeting_at)} UTC"


def fmt_ts(value: object, *, date_only: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")
    return str(value)
