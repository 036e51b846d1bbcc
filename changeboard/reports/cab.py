"""The CAB meeting pack: one data feed (:func:`cab_pack`) and the renderers that all read it.

The feed selects rows for a meeting at time T from the published models; it never computes a
metric. The sections follow the selection rules documented on ``fct_change_risk_evidence`` (and
applied by ``rpt_cab_agenda`` for the default T), with P = the previous meeting and F = T + the
forward schedule:

- ``awaiting_decision``: ``is_awaiting_decision`` (and raised before T);
- ``scheduled``: not awaiting, open or in progress, planned start in [T, F) (and raised before T);
- ``emergency_retrospective``: emergency changes with ``retrospective_at`` in [P, T);
- ``post_implementation_review``: failed changes with ``review_at`` in [P, T), with the incidents
  they caused (``fct_incidents.primary_cause_change_id``).

The risk evidence, the risk indicator and its reasons, the collisions and the blackout flags are the
models' columns as published. The KPI strip is ``rpt_cab_kpi_strip`` when T falls in the week that
model was built for; for any other T it is the same ``rpt_change_kpis`` weekly numerators and
denominators summed over T's own 4 + 4 weeks, as that model's documentation prescribes.

Renderers: :func:`render_html` (self-contained, autoescaped Jinja2), :func:`render_pdf` (ReportLab,
A4 or Letter, landscape), :func:`render_markdown` and :func:`render_ics` (the forward schedule). Each
lists a section's highest-risk changes (``limit``, DECISIONLOG D12; the calendar too, D15); the feed
keeps every row.
"""

from __future__ import annotations

import base64
import gc
import html
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from changeboard.reports.cab_meeting import order_tag, running_order_note, timebox_text
from changeboard.reports.cab_model import (  # the model, re-exported for callers (explicitly: `X as X`)
    COLLISION_KINDS as COLLISION_KINDS,
)
from changeboard.reports.cab_model import (
    COLLISION_LIMIT_FACTOR as COLLISION_LIMIT_FACTOR,
)
from changeboard.reports.cab_model import (
    DEFAULT_FORWARD_SCHEDULE_DAYS as DEFAULT_FORWARD_SCHEDULE_DAYS,
)
from changeboard.reports.cab_model import (
    DEFAULT_MEETING_HOUR as DEFAULT_MEETING_HOUR,
)
from changeboard.reports.cab_model import (
    DEFAULT_PREVIOUS_MEETING_DAYS as DEFAULT_PREVIOUS_MEETING_DAYS,
)
from changeboard.reports.cab_model import (
    DEFAULT_SECTION_LIMIT as DEFAULT_SECTION_LIMIT,
)
from changeboard.reports.cab_model import (
    DEFAULT_STALE_AFTER_DAYS as DEFAULT_STALE_AFTER_DAYS,
)
from changeboard.reports.cab_model import (
    FORMATS as FORMATS,
)
from changeboard.reports.cab_model import (
    KPI_COLUMNS as KPI_COLUMNS,
)
from changeboard.reports.cab_model import (
    MEDIA_TYPES as MEDIA_TYPES,
)
from changeboard.reports.cab_model import (
    PAPERS as PAPERS,
)
from changeboard.reports.cab_model import (
    SECTIONS as SECTIONS,
)
from changeboard.reports.cab_model import (
    CabPack as CabPack,
)
from changeboard.reports.cab_model import (
    CabPackError as CabPackError,
)
from changeboard.reports.cab_model import (
    fmt_ts as fmt_ts,
)

# --- the feed ---------------------------------------------------------------------------------------


def _naive_utc(value: datetime) -> datetime:
    """A datetime as naive UTC (the warehouse stores naive UTC timestamps)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def next_working_day_at(moment: datetime, hour: int = DEFAULT_MEETING_HOUR) -> datetime:
    """The next working day (Mon-Fri) after the day holding ``moment``, at ``hour``:00 (as dbt's macro)."""
    day = datetime(moment.year, moment.month, moment.day)
    step = {4: 3, 5: 2}.get(day.weekday(), 1)
    return day + timedelta(days=step, hours=hour)


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> pl.DataFrame:
    # through the Arrow PyCapsule stream: the same frame as `.pl()` without importing pyarrow (0.15 s
    # of a command's start-up)
    return pl.DataFrame(con.sql(sql, params=params or []))


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.sql("select table_name from information_schema.tables").fetchall()
    return {r[0] for r in rows}


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    rows = con.sql(sql).fetchall()
    return rows[0][0] if rows else None


def parse_meeting_time(text: str) -> datetime:
    """Parse ``--at``: ISO date or date-time; naive means UTC; a bare date means 10:00 that day."""
    value = text.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(value)
    if len(value) <= 10:  # a date alone
        parsed = parsed.replace(hour=DEFAULT_MEETING_HOUR)
    return _naive_utc(parsed)


def cab_pack(
    con: duckdb.DuckDBPyConnection,
    meeting_at: datetime | None = None,
    *,
    previous_meeting_at: datetime | None = None,
    warehouse_version: str | None = None,
    generated_at: datetime | None = None,
) -> CabPack:
    """Select the CAB pack for the meeting at ``meeting_at`` from the published warehouse.

    Args:
        con: a (read-only) connection to the published warehouse.
        meeting_at: meeting time T (naive = UTC). Default: the next working day at 10:00 after the
            warehouse's evidence time (its as-of), else after now.
        previous_meeting_at: the previous meeting P (default T minus the model's 7 days).
        warehouse_version: the published version id (default: the warehouse_version table).
        generated_at: when the pack is generated (default now, UTC).

    Returns:
        The pack; a meeting with nothing to review gives empty frames, never an error.
    """
    tables = _tables(con)
    missing = [
        t for t in ("fct_change_risk_evidence", "fct_change_collisions", "fct_incidents") if t not in tables
    ]
    if missing:
        raise CabPackError(
            f"the published warehouse has no {', '.join(missing)}: rebuild with `changeboard build`"
        )

    evidence_as_of = _scalar(con, "select max(evidence_as_of) from fct_change_risk_evidence")
    version_rows = (
        con.sql("select version, built_at from warehouse_version limit 1").fetchall()
        if "warehouse_version" in tables
        else []
    )
    version_row = version_rows[0] if version_rows else None
    built_at = version_row[1] if version_row else None
    version = warehouse_version or (version_row[0] if version_row else "unknown")

    previous_days, forward_days, default_at = (
        DEFAULT_PREVIOUS_MEETING_DAYS,
        DEFAULT_FORWARD_SCHEDULE_DAYS,
        None,
    )
    stale_days = DEFAULT_STALE_AFTER_DAYS
    if "rpt_cab_agenda" in tables:
        found = con.sql(
            "select cab_meeting_at, previous_meeting_at, forward_schedule_end_at from rpt_cab_agenda limit 1"
        ).fetchall()
        if found:
            bounds = found[0]
            default_at = bounds[0]
            previous_days = (bounds[0] - bounds[1]).days
            forward_days = (bounds[2] - bounds[0]).days
        columns = {c[0] for c in con.sql("select * from rpt_cab_agenda limit 0").description}
        if "replan_stale_days" in columns:
            stale = con.sql("select replan_stale_days from rpt_cab_agenda limit 1").fetchall()
            stale_days = int(stale[0][0]) if stale else stale_days

    if meeting_at is None:
        now = evidence_as_of or built_at or datetime.now(UTC).replace(tzinfo=None)
        meeting_at = next_working_day_at(now) if default_at is None else default_at
    t = _naive_utc(meeting_at)
    p = _naive_utc(previous_meeting_at) if previous_meeting_at else t - timedelta(days=previous_days)
    f = t + timedelta(days=forward_days)
    if p >= t:
        raise ValueError(f"the previous meeting ({p}) must be before the meeting ({t})")

    past = evidence_as_of is not None and t < evidence_as_of
    agenda = _query(con, AGENDA_SQL, [t, p, f, past])
    updates = (
        _query(con, UPDATES_SQL, [agenda["change_id"].unique().to_list()])
        if "fct_changes" in tables
        else pl.DataFrame(schema={"change_id": pl.String, "updated_at": pl.Datetime("us")})
    )
    agenda = flag_replan(agenda, updates, stale_days)
    collisions = _query(con, COLLISIONS_SQL, [agenda["change_id"].unique().to_list()])
    failed = agenda.filter(pl.col("agenda_section") == "post_implementation_review")
    caused = _query(con, CAUSED_INCIDENTS_SQL, [failed["change_id"].unique().to_list()])
    blackouts = (
        _query(
            con,
            "select name, scope_kind, scope_ci_name, start_at, end_at from dim_change_windows "
            "where kind = 'blackout' and start_at < ? and end_at > ? order by start_at, name",
            [f, t],
        )
        if "dim_change_windows" in tables
        else pl.DataFrame(
            schema={
                "name": pl.String,
                "scope_kind": pl.String,
                "scope_ci_name": pl.String,
                "start_at": pl.Datetime,
                "end_at": pl.Datetime,
            }
        )
    )
    kpis, kpi_source = _kpi_strip(con, tables, t)
    forward = _forward_schedule(agenda, collisions, t, f)
    notes: list[str] = []
    if past:
        notes.append(
            f"This meeting is before the warehouse's evidence time ({fmt_ts(evidence_as_of)} UTC). The agenda is "
            "rebuilt from the changes' timestamps as they stood at the meeting (raised before it; awaiting = not "
            "yet approved, started or closed then; scheduled = approved or standard, planned in the forward "
            "schedule). The risk indicator, its evidence and the collisions are as of the evidence time, not as "
            f"of the meeting: for those as they stood then, build with `changeboard build --as-of "
            f"'{t:%Y-%m-%d %H:%M:%S}'`."
        )
    if evidence_as_of is not None and t > evidence_as_of + timedelta(days=forward_days):
        notes.append(
            f"The meeting is more than {forward_days} days after the warehouse's evidence time "
            f"({fmt_ts(evidence_as_of)} UTC): states and evidence are as of then."
        )
    return CabPack(
        meeting_at=t,
        previous_meeting_at=p,
        forward_end_at=f,
        evidence_as_of=evidence_as_of,
        warehouse_version=str(version),
        built_at=built_at,
        generated_at=_naive_utc(generated_at or datetime.now(UTC)).replace(microsecond=0),
        agenda=agenda,
        collisions=collisions,
        caused_incidents=caused,
        forward_schedule=forward,
        blackouts=blackouts,
        kpi_strip=kpis,
        kpi_source=kpi_source,
        notes=tuple(notes),
    )


# The selection rules of fct_change_risk_evidence's documentation, for any T ($1), P ($2), F ($3).
# "raised before T" only matters for a meeting in the past: for the default T it holds for every row.
# $4 (a meeting before the evidence time, "past"): the first two sections as they stood at T, from the
# changes' timestamps: awaiting = raised before T, not standard, neither closed nor started before T,
# and approved at or after T (or still awaiting now); scheduled = raised before T, not closed before T,
# approved before T (or standard), planned to start in [T, F).
AGENDA_SQL = """
with bounds as (
    select cast($1 as timestamp) as cab_meeting_at,
        cast($2 as timestamp) as previous_meeting_at,
        cast($3 as timestamp) as forward_schedule_end_at,
        cast($4 as boolean) as is_past
),
evidence as (
    select evidence.*, bounds.*,
        coalesce(evidence.opened_at < bounds.cab_meeting_at, true) as raised_before,
        coalesce(evidence.closed_at >= bounds.cab_meeting_at, true) as open_at_meeting
    from fct_change_risk_evidence as evidence
    cross join bounds
),
staged as (
    select *,
        case when is_past then
            raised_before and open_at_meeting
            and coalesce(change_type, '') <> 'standard'
            and coalesce(actual_start_at >= cab_meeting_at, true)
            and (approved_at >= cab_meeting_at or (approved_at is null and is_awaiting_decision))
        else is_awaiting_decision and raised_before
        end as awaiting_at_meeting
    from evidence
),
sectioned as (
    select 'awaiting_decision' as agenda_section, 1 as section_order, * from staged
    where awaiting_at_meeting
    union all by name
    select 'scheduled' as agenda_section, 2 as section_order, * from staged
    where not awaiting_at_meeting
        and planned_start_at >= cab_meeting_at
        and planned_start_at < forward_schedule_end_at
        and raised_before
        and case when is_past then
                open_at_meeting and (change_type = 'standard' or approved_at < cab_meeting_at)
            else state_category in ('open', 'in_progress')
            end
    union all by name
    select 'emergency_retrospective' as agenda_section, 3 as section_order, * from staged
    where is_emergency and retrospective_at >= previous_meeting_at and retrospective_at < cab_meeting_at
    union all by name
    select 'post_implementation_review' as agenda_section, 4 as section_order, * from staged
    where is_failed and review_at >= previous_meeting_at and review_at < cab_meeting_at
)
select agenda_section || '|' || change_id as agenda_item_id,
    * exclude (is_past, raised_before, open_at_meeting, awaiting_at_meeting)
from sectioned
order by section_order, risk_score desc nulls last, planned_start_at nulls last, number
"""


def known_source_ids(con: duckdb.DuckDBPyConnection, change_ids: Iterable[str]) -> dict[str, str | None]:
    """Each change's id in its source (``fct_changes.source_id``: a ServiceNow sys_id) as published, for
    CAB decisions exported back to the system of record; empty when the warehouse predates the column."""
    ids = sorted(set(change_ids))
    if not ids or "fct_changes" not in _tables(con):
        return {}
    columns = {c[0] for c in con.sql("select * from fct_changes limit 0").description}
    if "source_id" not in columns:
        return {}
    rows = con.sql(
        "select change_id, source_id from fct_changes where change_id in "
        "(select unnest(cast($1 as varchar[])))",
        params=[ids],
    ).fetchall()
    return {str(c): None if s is None else str(s) for c, s in rows}


# The agenda's changes' last update (fct_changes.updated_at): the same semi-join as the collisions.
UPDATES_SQL = """
with agenda_changes as (
    select distinct unnest(cast($1 as varchar[])) as change_id
)
select changes.change_id, changes.updated_at
from fct_changes as changes
where changes.change_id in (select change_id from agenda_changes)
"""


def flag_replan(agenda: pl.DataFrame, updates: pl.DataFrame, stale_days: int) -> pl.DataFrame:
    """rpt_cab_agenda's replan rule for any T: an item awaiting a decision or scheduled whose planned
    window has passed at T (planned end, else start, before T) or whose record has had no update for
    ``stale_days`` days before T. Adds ``updated_at``, ``is_replan``, ``replan_reason``,
    ``replan_stale_days``."""
    if "updated_at" in agenda.columns:
        agenda = agenda.drop("updated_at")
    joined = agenda.join(updates, on="change_id", how="left", maintain_order="left")
    deciding = pl.col("agenda_section").is_in(["awaiting_decision", "scheduled"])
    passed = deciding & (
        pl.coalesce("planned_end_at", "planned_start_at") < pl.col("cab_meeting_at")
    ).fill_null(False)
    stale = deciding & (
        pl.col("updated_at") < pl.col("cab_meeting_at") - pl.duration(days=stale_days)
    ).fill_null(False)
    tail = f"no update for {stale_days} days or more"
    return joined.with_columns(
        (passed | stale).alias("is_replan"),
        pl.when(passed & stale)
        .then(pl.lit(f"planned window already passed; {tail}"))
        .when(passed)
        .then(pl.lit("planned window already passed"))
        .when(stale)
        .then(pl.lit(tail))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("replan_reason"),
        pl.lit(stale_days, dtype=pl.Int32).alias("replan_stale_days"),
    )


# The agenda's change ids are bound as one list ($1) and unnested into a relation that the pairs and
# incidents are semi-joined to (a hash join): `list_contains(ids, column)` scanned the whole list for
# every row, tens of thousands of ids times every collision and incident row at 1M changes.
COLLISIONS_SQL = """
with agenda_changes as (
    select distinct unnest(cast($1 as varchar[])) as change_id
)
select collisions.*
from fct_change_collisions as collisions
where collisions.change_id_a in (select change_id from agenda_changes)
    or collisions.change_id_b in (select change_id from agenda_changes)
order by collisions.overlap_start_at, collisions.change_number_a, collisions.change_number_b
"""

CAUSED_INCIDENTS_SQL = """
with failed_changes as (
    select distinct unnest(cast($1 as varchar[])) as change_id
)
select changes.number as change_number, incidents.number, incidents.priority, incidents.title,
    incidents.state, incidents.ci_name, incidents.service_name, incidents.opened_at, incidents.resolved_at,
    incidents.primary_cause_method, incidents.primary_cause_change_id as change_id
from fct_incidents as incidents
inner join failed_changes on failed_changes.change_id = incidents.primary_cause_change_id
inner join fct_change_risk_evidence as changes on changes.change_id = incidents.primary_cause_change_id
where incidents.is_change_caused
order by changes.number, incidents.priority, incidents.number
"""


def _kpi_strip(con: duckdb.DuckDBPyConnection, tables: set[str], t: datetime) -> tuple[pl.DataFrame, str]:
    """The KPI strip of a meeting at T, as published: ``rpt_cab_kpi_strip`` for the default meeting's
    week, ``rpt_kpi_strip_weekly``'s rows of T's week for any other (the same definition, one row per
    meeting week); never summed here."""
    week_start = (datetime(t.year, t.month, t.day) - timedelta(days=t.weekday())).date()
    empty = pl.DataFrame(schema=dict.fromkeys(KPI_COLUMNS, pl.String))
    if "rpt_cab_kpi_strip" in tables:
        strip = _query(
            con,
            f"select {', '.join(KPI_COLUMNS)} from rpt_cab_kpi_strip where current_period_end = ? order by kpi_order",
            [week_start],
        )
        if strip.height:
            return strip, "rpt_cab_kpi_strip"
    if "rpt_kpi_strip_weekly" not in tables:
        return empty, "no KPI strip published"
    strip = _query(
        con,
        f"select {', '.join(KPI_COLUMNS)} from rpt_kpi_strip_weekly where week_start = ? order by kpi_order",
        [week_start],
    )
    if strip.height == 0:
        return empty, f"no KPI strip published for the week of {week_start:%d %b %Y} (outside the data)"
    return strip, f"rpt_kpi_strip_weekly, week of {week_start:%d %b %Y}"


def _forward_schedule(
    agenda: pl.DataFrame, collisions: pl.DataFrame, t: datetime, f: datetime
) -> pl.DataFrame:
    """Changes of the first two sections planned to start in [T, F), with their collisions as text."""
    forward = agenda.filter(
        pl.col("agenda_section").is_in(["awaiting_decision", "scheduled"])
        & (pl.col("planned_start_at") >= t)
        & (pl.col("planned_start_at") < f)
    ).sort("planned_start_at", "number")
    notes = collision_lines_frame(collisions).select(
        "change_id", pl.col("lines").list.join("; ").alias("collision_note")
    )
    return forward.join(notes, on="change_id", how="left", maintain_order="left").with_columns(
        pl.col("collision_note").fill_null("")
    )


# --- shared, pure presentation helpers ----------------------------------------------------------------


def type_and_risk(row: Mapping[str, Any], *, missing: str = "risk not stated") -> str:
    """'normal / very high': the change type and the canonical risk in words (very_high is stored)."""
    risk = row.get("risk")
    return f"{row.get('change_type') or '?'} / {str(risk).replace('_', ' ') if risk else missing}"


def fmt_window(start: object, end: object) -> str:
    """'2026-12-03 19:00-20:45' (an en dash; same day) or the two times."""
    if start is None:
        return "no planned window"
    if isinstance(start, datetime) and isinstance(end, datetime) and start.date() == end.date():
        return f"{fmt_ts(start)}–{end:%H:%M}"
    return f"{fmt_ts(start)} – {fmt_ts(end)}"


def fmt_rate(rate: object, numerator: object, denominator: object, unit: str = "completed") -> str:
    """'90.9 % (10 / 11 completed)' from a published rate and its numerator and denominator."""
    if denominator in (None, 0):
        return "no completed changes"
    pct = "—" if rate is None else f"{float(rate) * 100:.1f} %"  # type: ignore[arg-type]
    return f"{pct} ({numerator} / {denominator} {unit})"


def fmt_kpi_value(value: object, unit: str) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f} %" if unit == "rate" else f"{int(float(value)):,}"  # type: ignore[arg-type]


def fmt_kpi_change(row: dict[str, Any]) -> str:
    change = row.get("value_change")
    if change is None:
        return "—"
    text = f"{change * 100:+.1f} pts" if row["unit"] == "rate" else f"{change:+,.0f}"
    better = row.get("better_direction")
    if change == 0 or better == "neutral":
        return text
    good = (change > 0) == (better == "higher")
    return f"{text} ({'better' if good else 'worse'})"


def fmt_fraction(numerator: object, denominator: object) -> str:
    if denominator is None:
        return f"{numerator}"
    return f"{numerator} / {denominator}"


def _text(expr: pl.Expr) -> pl.Expr:
    """A column as the text an f-string shows (None for a null)."""
    return expr.cast(pl.String).fill_null("None")


def collision_lines_frame(collisions: pl.DataFrame) -> pl.DataFrame:
    """Each change's collisions as lines like 'CHG2 · same CI db-1 · 60 min from 2026-12-01 20:00':
    one row per change (``change_id``, ``lines``), lines in the order of ``collisions``, changes in
    the order they first appear there. Built in polars: at 1M changes the agenda's pairs run to
    hundreds of thousands, a Python loop over them took seconds."""
    if collisions.height == 0:
        return pl.DataFrame(schema={"change_id": pl.String, "lines": pl.List(pl.String)})
    kind = pl.col("collision_kind")
    via = pl.when(kind == "related_ci").then(pl.col("relationship_path")).otherwise(pl.col("shared_ci_name"))
    minutes = (  # f"{x:.0f}" rounds half to even
        pl.col("overlap_minutes").cast(pl.Float64).round(0, mode="half_to_even").cast(pl.Int64)
    )
    tail = pl.concat_str(
        pl.lit(" · "),
        _text(kind.replace(COLLISION_KINDS)),
        pl.lit(" "),
        _text(via),
        pl.lit(" · "),
        _text(minutes),
        pl.lit(" min from "),
        pl.col("overlap_start_at").dt.strftime("%Y-%m-%d %H:%M").fill_null("—"),
    )
    pairs = collisions.select(
        pl.int_range(pl.len()).alias("_pair"),
        pl.col("change_id_a"),
        pl.col("change_id_b"),
        pl.concat_str(_text(pl.col("change_number_b")), tail).alias("line_a"),
        pl.concat_str(_text(pl.col("change_number_a")), tail).alias("line_b"),
    )
    sides = pl.concat(
        [
            pairs.select(
                "_pair",
                pl.lit(0).alias("_side"),
                pl.col("change_id_a").alias("change_id"),
                pl.col("line_a").alias("line"),
            ),
            pairs.select(
                "_pair",
                pl.lit(1).alias("_side"),
                pl.col("change_id_b").alias("change_id"),
                pl.col("line_b").alias("line"),
            ),
        ]
    ).sort("_pair", "_side")
    return sides.group_by("change_id", maintain_order=True).agg(pl.col("line").alias("lines"))


def collision_index(collisions: pl.DataFrame) -> dict[str, list[str]]:
    """Each change's collisions as lines like 'CHG2 · same CI db-1 · 60 min from 2026-12-01 20:00', in
    the order of ``collisions`` (see :func:`collision_lines_frame`)."""
    frame = collision_lines_frame(collisions)
    return dict(zip(frame["change_id"].to_list(), frame["lines"].to_list(), strict=True))


def collision_lines(collisions: pl.DataFrame, change_id: str) -> list[str]:
    """One change's collisions (see :func:`collision_index`)."""
    mine = collisions.filter((pl.col("change_id_a") == change_id) | (pl.col("change_id_b") == change_id))
    return collision_index(mine).get(change_id, [])


def flags(row: dict[str, Any]) -> list[str]:
    """Blackout / maintenance-window / form flags of an agenda row."""
    out = []
    if row.get("is_replan"):
        out.append(f"REPLAN: {row.get('replan_reason') or 'needs replanning'}")
    if row.get("in_blackout"):
        out.append(f"BLACKOUT: {row.get('blackout_window_name') or 'blackout window'}")
    if row.get("is_outside_maintenance_window"):
        out.append("outside maintenance windows")
    if row.get("is_from_form"):
        out.append("raised through the form")
    return out


def evidence_lines(row: dict[str, Any]) -> list[tuple[str, str]]:
    """The risk evidence of one agenda row as (label, text), from the published columns."""
    lines = [
        (
            f"CI {row.get('primary_ci_name') or '(none)'}",
            fmt_rate(row["ci_success_rate"], row["ci_successful_count"], row["ci_completed_count"])
            + f", {row['ci_caused_incident_count']} caused incident(s)",
        ),
        (
            f"Service {row.get('service_name') or '(none)'}",
            fmt_rate(
                row["service_success_rate"], row["service_successful_count"], row["service_completed_count"]
            )
            + f", {row['service_caused_incident_count']} caused incident(s)",
        ),
        (
            f"Group {row.get('assignment_group') or '(none)'}",
            fmt_rate(row["group_success_rate"], row["group_successful_count"], row["group_completed_count"])
            + f", {row['group_caused_incident_count']} caused incident(s)",
        ),
        ("Open incidents on its CIs", str(row["open_incident_count"])),
    ]
    if row.get("last_failed_change_number"):
        caused = row.get("last_failure_caused_incidents") or "no incidents"
        lines.append(
            (
                "Last failure on its CI",
                f"{row['last_failed_change_number']} on {fmt_ts(row['last_failed_at'], date_only=True)}, caused {caused}",
            )
        )
    else:
        lines.append(("Last failure on its CI", "none recorded"))
    return lines


def reasons(row: dict[str, Any]) -> list[str]:
    text = row.get("risk_reasons") or ""
    return [r.strip() for r in text.split(";") if r.strip()] or ["no risk factor added points"]


def listed_rows(rows: pl.DataFrame, limit: int | None) -> pl.DataFrame:
    """The rows of one section a pack lists: with ``limit``, the ``limit`` highest-risk (risk score, then
    the earliest planned start, then number; ties in agenda order), kept in agenda order. Items the
    chair placed in the running order (``chair_position``) come first: the meeting takes them."""
    if not limit or rows.height <= limit:
        return rows
    keys = ["risk_score", "planned_start_at", "number"]
    descending = [True, False, False]
    if "chair_position" in rows.columns:
        keys, descending = ["chair_position", *keys], [False, *descending]
    return (
        rows.with_row_index("_position")
        .sort(keys, descending=descending, nulls_last=True, maintain_order=True)
        .head(limit)
        .sort("_position")
        .drop("_position")
    )


def involving(collisions: pl.DataFrame, change_ids: pl.Series) -> pl.DataFrame:
    """The collision pairs with at least one of ``change_ids`` on either side, in their order."""
    return collisions.filter(
        pl.col("change_id_a").is_in(change_ids) | pl.col("change_id_b").is_in(change_ids)
    )


def agenda_items(
    pack: CabPack,
    section: str,
    *,
    collisions: dict[str, list[str]] | None = None,
    incidents: dict[str, list[dict[str, Any]]] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The rows of one section, each with the display texts every renderer shows; with ``limit``,
    only the ``limit`` highest-risk rows (risk score, then planned start), in agenda order.

    ``collisions`` / ``incidents``: the pack's collision lines and caused incidents per change, when
    the caller has already indexed them (one pass for every section, however long the agenda).
    """
    rows = listed_rows(pack.section(section), limit)
    if collisions is None:
        collisions = collision_index(involving(pack.collisions, rows["change_id"]))
    if incidents is None:
        incidents = incident_index(pack)
    return _items(rows, collisions, incidents)


def _items(
    rows: pl.DataFrame, collisions: dict[str, list[str]], incidents: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    items = []
    for row in rows.iter_rows(named=True):
        items.append(
            {
                **row,
                "window": fmt_window(row["planned_start_at"], row["planned_end_at"]),
                "actual_window": fmt_window(row["actual_start_at"], row["actual_end_at"])
                if row.get("actual_start_at")
                else "not started",
                "flags": flags(row),
                "collision_list": collisions.get(row["change_id"], []),
                "evidence": evidence_lines(row),
                "reason_list": reasons(row),
                "incidents": incidents.get(row["change_id"], []),
                "type_risk": type_and_risk(row),
                "position": row.get("agenda_position"),
                "timebox": timebox_text(row.get("timebox_minutes"), row.get("slot_start_at")),
            }
        )
    return items


def incident_index(pack: CabPack) -> dict[str, list[dict[str, Any]]]:
    """The incidents each change caused, in the order of ``pack.caused_incidents``."""
    index: dict[str, list[dict[str, Any]]] = {}
    for inc in pack.caused_incidents.iter_rows(named=True):
        index.setdefault(inc["change_id"], []).append(inc)
    return index


def kpi_items(pack: CabPack) -> list[dict[str, Any]]:
    out = []
    for row in pack.kpi_strip.iter_rows(named=True):
        out.append(
            {
                **row,
                "current_text": fmt_kpi_value(row["current_value"], row["unit"]),
                "previous_text": fmt_kpi_value(row["previous_value"], row["unit"]),
                "current_fraction": fmt_fraction(row["current_numerator"], row["current_denominator"]),
                "previous_fraction": fmt_fraction(row["previous_numerator"], row["previous_denominator"]),
                "change_text": fmt_kpi_change(row),
            }
        )
    return out


def kpi_periods(pack: CabPack) -> str:
    if pack.kpi_strip.height == 0:
        return ""
    r = pack.kpi_strip.row(0, named=True)
    end = r["current_period_end"] - timedelta(days=1)
    prev_end = r["previous_period_end"] - timedelta(days=1)
    return (
        f"last 4 weeks {r['current_period_start']} to {end} against "
        f"{r['previous_period_start']} to {prev_end} (weeks Monday to Sunday)"
    )


# The executive summary and the one-line agenda (``--detail summary``): how many lines each list shows
# before it says how many more there are (the appendix, ``--detail full``, and the app list them all).
SUMMARY_LIMITS = {
    "decisions": 12,
    "attention": 12,
    "awaiting": 30,
    "standard_low": 60,
    "scheduled": 30,
    "reviews": 20,
}


def _line(row: dict[str, Any]) -> dict[str, Any]:
    """One agenda row as the one-line texts the summary shows: risk and its main reason first."""
    reason_list = reasons(row)
    return {
        "number": row["number"] + (" (form)" if row.get("is_from_form") else ""),
        "title": row.get("title") or "(no title)",
        "risk": f"{row.get('risk_level')} ({row.get('risk_score')})",
        "risk_level": row.get("risk_level"),
        "reason": reason_list[0] + (f" (+{len(reason_list) - 1} more)" if len(reason_list) > 1 else ""),
        "type_risk": type_and_risk(row, missing="not stated"),
        "window": fmt_window(row.get("planned_start_at"), row.get("planned_end_at")),
        "ci": row.get("primary_ci_name") or row.get("ci_names") or "—",
        "service": row.get("service_name") or "—",
        "flags": ", ".join(f for f in flags(row) if f != "raised through the form"),
        "collisions": int(row.get("collision_count") or 0),
        "outcome": row.get("outcome") or row.get("state") or "",
        "caused": int(row.get("caused_incident_count") or 0),
        "position": row.get("agenda_position"),
        "timebox": timebox_text(row.get("timebox_minutes"), row.get("slot_start_at")) or "—",
    }


def _is_low_standard() -> pl.Expr:
    """A low-risk standard change: one line in the summary (the pack and the calendar alike)."""
    return (pl.col("change_type") == "standard") & (pl.col("risk_level") == "low")


def _by_risk(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.sort(
        ["risk_score", "planned_start_at", "number"], descending=[True, False, False], nulls_last=True
    )


def summary(pack: CabPack) -> dict[str, Any]:
    """The executive summary and the one-line agenda of a pack (pure, from every agenda row):

    - ``decisions``: the items awaiting a decision, highest risk first;
    - ``attention``: awaiting or scheduled changes that are high risk, collide or fall in a blackout;
    - ``awaiting``: one line per item awaiting a decision; ``standard_low``: one line per low-risk
      standard change in the forward schedule; ``scheduled``: one line per other scheduled change;
      ``reviews``: one line per emergency or failed change under review.

    Each list is ``{"items": [...], "total": n, "hidden": n - shown}``. With the chair's running order
    (``pack.running_order``, see :func:`changeboard.reports.cab_meeting.with_running_order`), the items
    awaiting a decision are in that order, each with its position and time box (``running_order``
    true, ``decisions_title`` and ``order_note`` say so)."""

    def listed(rows: pl.DataFrame, name: str) -> dict[str, Any]:
        cap = SUMMARY_LIMITS[name]
        return {
            "items": [_line(r) for r in rows.head(cap).iter_rows(named=True)],
            "total": rows.height,
            "hidden": max(rows.height - cap, 0),
        }

    ordered = bool(pack.running_order)
    awaiting = pack.section("awaiting_decision")
    awaiting = awaiting if ordered else _by_risk(awaiting)
    scheduled = pack.section("scheduled")
    deciding = pack.agenda.filter(pl.col("agenda_section").is_in(["awaiting_decision", "scheduled"]))
    attention = _by_risk(
        deciding.filter(
            (pl.col("risk_level") == "high")
            | (pl.col("collision_count").fill_null(0) > 0)
            | pl.col("in_blackout").fill_null(False)
        )
    )
    is_low_standard = _is_low_standard()
    standard_low = scheduled.filter(is_low_standard.fill_null(False)).sort(
        "planned_start_at", "number", nulls_last=True
    )
    others = _by_risk(scheduled.filter(~is_low_standard.fill_null(False)))
    reviews = pack.agenda.filter(
        pl.col("agenda_section").is_in(["emergency_retrospective", "post_implementation_review"])
    ).unique("change_id", keep="first", maintain_order=True)
    return {
        "decisions": listed(awaiting, "decisions"),
        "attention": listed(attention, "attention"),
        "awaiting": listed(awaiting, "awaiting"),
        "standard_low": listed(standard_low, "standard_low"),
        "scheduled": listed(others, "scheduled"),
        "reviews": listed(_by_risk(reviews), "reviews"),
        "replan": int(deciding["is_replan"].fill_null(False).sum()) if "is_replan" in deciding.columns else 0,
        "blackout": int(deciding["in_blackout"].fill_null(False).sum()),
        "high": int((deciding["risk_level"] == "high").fill_null(False).sum()),
        "running_order": ordered,
        "decisions_title": "Decisions needed, in the chair's running order"
        if ordered
        else "Decisions needed, highest risk first",
        "order_note": running_order_note(pack),
    }


DETAILS = ("summary", "full")


def context(pack: CabPack, *, limit: int | None = DEFAULT_SECTION_LIMIT) -> dict[str, Any]:
    """Everything the templates show, built once from the pack (pure).

    ``limit``: agenda items shown per section (None or 0: all). A longer section shows its
    highest-risk items and says how many more there are; the collisions and the timeline then cover
    the changes shown. The pack's data (and the app's CAB page) keep every row.
    """
    listed = {name: listed_rows(pack.section(name), limit) for name in SECTIONS}
    totals = {name: pack.section(name).height for name in SECTIONS}
    limited = any(listed[name].height < totals[name] for name in SECTIONS)
    collisions, forward = pack.collisions, pack.forward_schedule
    if limited:
        shown = pl.concat([rows["change_id"] for rows in listed.values()])
        collisions = involving(collisions, shown)
        forward = forward.filter(pl.col("change_id").is_in(shown))
    # the collision lines of the listed changes only (a change's lines come from its own pairs)
    by_change, caused = collision_index(collisions), incident_index(pack)
    sections = []
    for name, (order, label, blurb) in sorted(SECTIONS.items(), key=lambda kv: kv[1][0]):
        items = _items(listed[name], by_change, caused)
        sections.append(
            {
                "name": name,
                "order": order,
                "label": label,
                "blurb": blurb,
                "items": items,
                "total": totals[name],
                "hidden": totals[name] - len(items),
            }
        )
    collision_total = collisions.height
    if limit and collisions.height > COLLISION_LIMIT_FACTOR * limit:
        collisions = collisions.head(COLLISION_LIMIT_FACTOR * limit)
    return {
        "pack": pack,
        "title": pack.title,
        "meeting": fmt_ts(pack.meeting_at),
        "previous": fmt_ts(pack.previous_meeting_at),
        "forward_end": fmt_ts(pack.forward_end_at),
        "evidence_as_of": fmt_ts(pack.evidence_as_of),
        "generated_at": fmt_ts(pack.generated_at),
        "version": pack.warehouse_version,
        "sections": sections,
        "kpis": kpi_items(pack),
        "kpi_periods": kpi_periods(pack),
        "kpi_source": pack.kpi_source,
        "collisions": [
            {
                **c,
                "kind": COLLISION_KINDS.get(c["collision_kind"], c["collision_kind"]),
                "via": c["relationship_path"] if c["collision_kind"] == "related_ci" else c["shared_ci_name"],
                "overlap": f"{c['overlap_minutes']:.0f} min from {fmt_ts(c['overlap_start_at'])}",
            }
            for c in collisions.iter_rows(named=True)
        ],
        "collisions_hidden": collision_total - collisions.height,
        "limited": limited,
        "limit_note": (
            f"Each section lists its {limit} highest-risk changes (risk score, then the earliest planned start); "
            "the CAB page in the app and `changeboard report cab --limit 0` list every change. The collisions "
            "and the timeline cover the changes listed."
            if limited
            else ""
        ),
        "timeline_pack": replace(pack, forward_schedule=forward) if limited else pack,
        "forward_shown": forward.height,
        "blackouts": [
            {**b, "window": f"{fmt_ts(b['start_at'])} – {fmt_ts(b['end_at'])}"}
            for b in pack.blackouts.iter_rows(named=True)
        ],
        "forward_count": pack.forward_schedule.height,
        "empty": pack.is_empty,
        "notes": list(pack.notes),
        "counts": totals,
        "summary": summary(pack),
    }


# --- HTML ---------------------------------------------------------------------------------------------

TEMPLATES = Path(__file__).resolve().parent / "templates"


def render_html(pack: CabPack, *, limit: int | None = DEFAULT_SECTION_LIMIT, detail: str = "full") -> str:
    """A self-contained HTML page (inline CSS, the timeline as an inline SVG image; autoescaped): the
    executive summary, the KPI strip, one line per change and the timeline; with ``detail="full"``
    every listed change's evidence and the collisions follow as an appendix."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from changeboard.reports import cab_charts

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is text: a <script> in a title shows as text
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    ctx = context(pack, limit=limit)
    shown = ctx["timeline_pack"]
    svg = cab_charts.timeline_svg(shown) if shown.forward_schedule.height or shown.blackouts.height else None
    ctx["timeline_uri"] = (
        "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii") if svg else None
    )
    return env.get_template("cab.html.j2").render(**ctx, detail=detail)


# --- Markdown ---------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|>~])")


def md_escape(value: object) -> str:
    """Text safe in a Markdown table cell: one line, markdown punctuation and pipes escaped, no raw HTML."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    text = html.escape(text, quote=False)  # < > & never open raw HTML in a wiki
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_table(headers: list[str], rows: Iterable[list[object]]) -> list[str]:
    out = ["| " + " | ".join(md_escape(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return out


def _md_summary(ctx: dict[str, Any]) -> list[str]:
    """The executive summary and the one-line agenda as Markdown."""
    summ = ctx["summary"]
    tiles = [f"{s['label']}: **{s['total']}**" for s in ctx["sections"]]
    tiles += [
        f"Collisions: **{len(ctx['collisions']) + ctx['collisions_hidden']}**",
        f"High risk: **{summ['high']}**",
        f"In a blackout: **{summ['blackout']}**",
        f"To replan: **{summ['replan']}**",
    ]
    lines = [
        "## Executive summary",
        "",
        " · ".join(tiles),
        "",
        f"Decisions needed: {md_escape(summ['order_note'])}",
        "",
    ]

    def listing(title: str, part: dict[str, Any], kind: str, ordered: bool = False) -> list[str]:
        out = [f"### {md_escape(title)} ({part['total']})", ""]
        if not part["items"]:
            return [*out, "None.", ""]
        columns = ["Change", "Risk", "Main reason", "Title", "Window (UTC)", "Flags", "Collisions"]

        def cells(i: dict[str, Any]) -> list[Any]:
            flags = i["flags"] or "—"
            return [i["number"], i["risk"], i["reason"], i["title"], i["window"], flags, i["collisions"]]

        if ordered:  # the chair's running order: position and time box first
            out += _md_table(
                ["#", "Time box", *columns],
                [[i["position"], i["timebox"], *cells(i)] for i in part["items"]],
            )
        elif kind == "standard":
            out += _md_table(
                ["Change", "Window (UTC)", "Title", "CI", "Service"],
                [[i["number"], i["window"], i["title"], i["ci"], i["service"]] for i in part["items"]],
            )
        else:
            out += _md_table(columns, [cells(i) for i in part["items"]])
        if part["hidden"]:
            out += [
                "",
                f"… and {part['hidden']} more (`--detail full`, the CAB page and its CSV list every one).",
            ]
        return [*out, ""]

    lines += listing(summ["decisions_title"], summ["decisions"], "line", summ["running_order"])
    lines += listing("High-risk, colliding or in a blackout", summ["attention"], "line")
    lines += ["## The agenda, one line per change", ""]
    lines += listing("1. Awaiting a CAB decision", summ["awaiting"], "line", summ["running_order"])
    lines += listing(
        "2. Forward schedule: normal, emergency and higher-risk changes", summ["scheduled"], "line"
    )
    lines += listing("2. Forward schedule: low-risk standard changes", summ["standard_low"], "standard")
    lines += listing("3-4. Emergency and failed changes since the previous meeting", summ["reviews"], "line")
    return lines


def render_markdown(pack: CabPack, *, limit: int | None = DEFAULT_SECTION_LIMIT, detail: str = "full") -> str:
    """The pack as Markdown (GitHub / wiki flavour) for pasting into a wiki page or an email: the executive
    summary and one line per change; with ``detail="full"`` the detail follows as an appendix."""
    ctx = context(pack, limit=limit)
    lines = [
        f"# {md_escape(ctx['title'])}",
        "",
        f"Meeting **{ctx['meeting']} UTC** · previous meeting {ctx['previous']} · forward schedule to "
        f"{ctx['forward_end']} · evidence as of {ctx['evidence_as_of']} · warehouse {md_escape(ctx['version'])} · "
        f"generated {ctx['generated_at']} UTC",
        "",
    ]
    lines += [f"> {md_escape(n)}" for n in ctx["notes"]]
    if ctx["empty"]:
        lines += [
            "",
            "## Nothing to review",
            "",
            "No change awaits a decision, none is scheduled in the forward "
            "schedule and none needs a retrospective or a post-implementation review.",
            "",
        ]
    lines += ["", *_md_summary(ctx)]
    full = detail == "full"
    if full:
        lines += ["# Appendix: the detail", ""]
        if ctx["limited"]:
            lines += [f"> {md_escape(ctx['limit_note'])}", ""]
    for sec in ctx["sections"] if full else []:
        lines += [
            f"## {sec['order']}. {md_escape(sec['label'])} ({sec['total']})",
            "",
            md_escape(sec["blurb"]),
            "",
        ]
        if not sec["items"]:
            lines += ["Nothing to review.", ""]
            continue
        if sec["hidden"]:
            lines += [
                f"The {len(sec['items'])} highest-risk of {sec['total']} (and {sec['hidden']} more).",
                "",
            ]
        lines += _md_table(
            [
                "Change",
                "Title",
                "Type / risk",
                "Window (UTC)",
                "CIs",
                "Service",
                "Flags",
                "Collisions",
                "Risk",
            ],
            [
                [
                    order_tag(i, sec["name"], ordered=ctx["summary"]["running_order"])
                    + i["number"]
                    + (" (form)" if i["is_from_form"] else ""),
                    i["title"],
                    i["type_risk"],
                    i["window"],
                    i["ci_names"] or i["primary_ci_name"] or "—",
                    i["service_name"] or "—",
                    ", ".join(i["flags"]) or "—",
                    "; ".join(i["collision_list"]) or "—",
                    f"{i['risk_level']} ({i['risk_score']})",
                ]
                for i in sec["items"]
            ],
        )
        lines += ["", "Risk evidence (last 90 days) and reasons:", ""]
        for i in sec["items"]:
            ev = "; ".join(f"{label}: {text}" for label, text in i["evidence"])
            lines.append(
                f"- **{md_escape(i['number'])}** — {md_escape(ev)}. Reasons: {md_escape('; '.join(i['reason_list']))}"
            )
            for inc in i["incidents"]:
                lines.append(
                    f"  - caused {md_escape(inc['number'])} (P{inc['priority']}) {md_escape(inc['title'])}, "
                    f"{md_escape(inc['state'])}, opened {fmt_ts(inc['opened_at'])}"
                )
        lines.append("")
    lines += [f"## KPI strip ({md_escape(ctx['kpi_periods'])})", ""]
    lines += _md_table(
        [
            "KPI",
            "Last 4 weeks",
            "Numerator / denominator",
            "4 weeks before",
            "Numerator / denominator",
            "Change",
        ],
        [
            [
                k["kpi_label"],
                k["current_text"],
                k["current_fraction"],
                k["previous_text"],
                k["previous_fraction"],
                k["change_text"],
            ]
            for k in ctx["kpis"]
        ],
    )
    lines += ["", f"Source: {md_escape(ctx['kpi_source'])}.", ""]
    lines += [f"## Collisions ({len(ctx['collisions']) + ctx['collisions_hidden']})", ""]
    if not full:
        lines += ["Listed with `--detail full`.", ""]
    elif ctx["collisions_hidden"]:
        lines += [f"The first {len(ctx['collisions'])} (and {ctx['collisions_hidden']} more).", ""]
    if ctx["collisions"] and full:
        lines += _md_table(
            ["Change", "With", "Kind", "Shared CI / service / path", "Overlap (UTC)"],
            [
                [c["change_number_a"], c["change_number_b"], c["kind"], c["via"], c["overlap"]]
                for c in ctx["collisions"]
            ],
        )
    elif full:
        lines.append("No collisions.")
    lines += ["", f"## Blackout windows in the forward schedule ({len(ctx['blackouts'])})", ""]
    if ctx["blackouts"]:
        lines += _md_table(
            ["Blackout", "Scope", "Window (UTC)"],
            [[b["name"], b["scope_ci_name"] or "all CIs", b["window"]] for b in ctx["blackouts"]],
        )
    else:
        lines.append("None.")
    lines.append("")
    return "\n".join(lines)


# --- ICS --------------------------------------------------------------------------------------------


def ics_limit_note(listed: int, total: int, limit: int | None) -> str:
    """The calendar description of a forward schedule that holds only the listed changes."""
    return (
        f"The {listed} changes of the {total} in the forward schedule that the CAB pack lists (each "
        f"section's {limit} highest-risk, risk score then the earliest planned start); "
        "`changeboard report cab --format ics --limit 0` holds every change."
    )


def event_uid(change_id: str) -> str:
    """A calendar UID stable per change (source system and number), so a re-import updates the event."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", change_id) + "@changeboard"


def listed_forward_schedule(pack: CabPack, *, limit: int | None = DEFAULT_SECTION_LIMIT) -> pl.DataFrame:
    """The forward schedule's changes that the pack lists (among a section's ``limit`` highest-risk,
    see :func:`listed_rows`), in the forward schedule's order; all of them without a limit. The
    timeline of :func:`context` draws the same changes."""
    if not limit:
        return pack.forward_schedule
    shown = pl.concat([listed_rows(pack.section(name), limit)["change_id"] for name in SECTIONS])
    return pack.forward_schedule.filter(pl.col("change_id").is_in(shown))


def render_ics(pack: CabPack, *, limit: int | None = DEFAULT_SECTION_LIMIT, detail: str = "summary") -> bytes:
    """The forward schedule as an iCalendar file: one VEVENT per change planned to start in [T, F) that
    the pack lists (``limit``: each section's highest-risk changes, as the other formats; None or 0:
    every change). A calendar that leaves changes out says so in its description (X-WR-CALDESC).

    ``detail`` as the pack: ``summary`` gives a low-risk standard change one line (what the summary
    prints for it) unless it collides or falls in a blackout (the summary's attention list), and every
    other change its evidence (CIs, service, blackout, collisions, risk reasons); ``full`` gives every
    change its evidence."""
    from icalendar import Calendar, Event

    attention = (pl.col("collision_count").fill_null(0) > 0) | pl.col("in_blackout").fill_null(False)
    listed = listed_forward_schedule(pack, limit=limit).with_columns(
        (_is_low_standard().fill_null(False) & ~attention).alias("is_brief")
    )
    total = pack.forward_schedule.height
    cal = Calendar()
    cal.add("prodid", "-//changeboard//CAB forward schedule//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Forward schedule of change {fmt_ts(pack.meeting_at, date_only=True)}")
    notes = [ics_limit_note(listed.height, total, limit)] if listed.height < total else []
    if detail == "summary" and listed["is_brief"].any():
        notes.append(ICS_SUMMARY_NOTE)
    if notes:
        cal.add("x-wr-caldesc", " ".join(notes))
    stamp = pack.generated_at.replace(tzinfo=UTC)
    for row in listed.iter_rows(named=True):
        ev = Event()
        ev.add("uid", event_uid(row["change_id"]))
        ev.add("dtstamp", stamp)
        start = row["planned_start_at"].replace(tzinfo=UTC)
        end = (row["planned_end_at"] or row["planned_start_at"] + timedelta(hours=1)).replace(tzinfo=UTC)
        ev.add("dtstart", start)
        ev.add("dtend", max(end, start + timedelta(minutes=1)))
        prefix = "[AWAITING CAB] " if row["agenda_section"] == "awaiting_decision" else ""
        ev.add("summary", f"{prefix}{row['number']}: {row['title'] or ''}")
        brief = detail == "summary" and row["is_brief"]
        ev.add("description", "\n".join(_ics_description(row, brief=brief)))
        ev.add("location", row["service_name"] or row["primary_ci_name"] or "")
        ev.add("categories", [c for c in ("CAB", row["change_type"], row["risk_level"]) if c])
        if row["in_blackout"] or row["collision_count"]:
            ev.add("priority", 1)
        cal.add_component(ev)
    return cal.to_ical()


ICS_SUMMARY_NOTE = (
    "Low-risk standard changes outside blackouts and collisions carry one line; "
    "--detail full gives every change its evidence."
)


def _ics_description(row: dict[str, Any], *, brief: bool) -> list[str]:
    """An event's description: one line (``brief``) or the change's evidence."""
    head = (
        f"Type: {row['change_type'] or '?'}; risk: {row['risk'] or 'not stated'}; "
        f"risk indicator: {row['risk_level']} ({row['risk_score']})"
    )
    state = f"State: {row['state']}" + (
        "; raised through the changeboard form" if row["is_from_form"] else ""
    )
    if brief:
        return [f"{head}; {state[0].lower()}{state[1:]}"]
    lines = [
        head,
        f"CIs: {row['ci_names'] or row['primary_ci_name'] or '-'}",
        f"Service: {row['service_name'] or '-'}; group: {row['assignment_group'] or '-'}",
        state,
    ]
    if row["in_blackout"]:
        lines.append(f"BLACKOUT: inside {row['blackout_window_name'] or 'a blackout window'}")
    if row["is_outside_maintenance_window"]:
        lines.append("Outside every maintenance window of its CIs")
    lines.append(f"Collisions: {row['collision_note'] or 'none'}")
    lines.append(f"Risk reasons: {row['risk_reasons'] or 'none'}")
    return lines


# --- PDF --------------------------------------------------------------------------------------------


def render_pdf(
    pack: CabPack, *, paper: str = "a4", limit: int | None = DEFAULT_SECTION_LIMIT, detail: str = "summary"
) -> bytes:
    """A printable PDF (landscape A4 or Letter) with page numbers, version and generated-at in the footer:
    the executive summary and one line per change; ``detail="full"`` adds the detail as an appendix."""
    from changeboard.reports import cab_pdf

    return cab_pdf.render(pack, context(pack, limit=limit), paper=paper, detail=detail)


RENDERERS: dict[str, Callable[..., str | bytes]] = {
    "html": render_html,
    "pdf": render_pdf,
    "md": render_markdown,
    "ics": render_ics,
}


def render(
    pack: CabPack,
    fmt: str,
    *,
    paper: str = "a4",
    limit: int | None = DEFAULT_SECTION_LIMIT,
    detail: str = "summary",
) -> bytes:
    """The pack in one of :data:`FORMATS`, as bytes (``limit``: agenda items listed per section, see
    :func:`context`; the ICS calendar holds the forward schedule's listed changes, see
    :func:`render_ics`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; choose one of {', '.join(PAPERS)}")
    if detail not in DETAILS:
        raise ValueError(f"unknown detail {detail!r}; choose one of {', '.join(DETAILS)}")
    with _without_cyclic_gc():
        if fmt == "pdf":
            out: str | bytes = render_pdf(pack, paper=paper, limit=limit, detail=detail)
        else:
            out = RENDERERS[fmt](pack, limit=limit, detail=detail)
    return out.encode("utf-8") if isinstance(out, str) else out


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection while a pack renders (reference counting still frees nearly all).

    ReportLab and matplotlib allocate millions of short-lived objects; each time the collector
    runs a full collection it walks every object alive, all imported modules included: a fifth of
    the PDF's time at 1M changes. The cycles a render leaves are collected once it has finished.
    Process-wide, like the collector: a second render running meanwhile leaves it as it found it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
