"""CAB meeting pack: the agenda with its risk evidence for a selectable meeting time, the KPI strip, the
forward schedule, and the pack to download (HTML, PDF, Markdown, ICS). Screen and downloads come from
the same feed, :func:`ingest.reports.cab.cab_pack`, so the printed pack and the screen cannot disagree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import polars as pl
import streamlit as st
from changeboard.app import components, db
from changeboard.app.cab_decisions import render_cab_decisions

from changeboard.reports import cab, cab_charts, cab_meeting
from changeboard.store import cab_decisions


@st.cache_data(show_spinner=False, max_entries=32, ttl=3600)
def _pack(version: str, meeting_at: datetime | None, previous_at: datetime | None) -> cab.CabPack:
    # one cursor on the served version's read-only connection; `version` keys the cache
    _pub, con = db.reader().current()
    cur = con.cursor()
    try:
        return cab.cab_pack(cur, meeting_at, previous_meeting_at=previous_at, warehouse_version=version)
    finally:
        cur.close()


def _rendered(pack: cab.CabPack, fmt: str, paper: str) -> Callable[[], bytes]:
    """The pack in ``fmt``, rendered when the user asks for it (on Streamlit's download thread): at 1M
    changes rendering all four formats on every page run would cost the page many seconds."""
    return lambda: cab.render(pack, fmt, paper=paper)


def _section_csv(rows: pl.DataFrame) -> Callable[[], bytes]:
    """Every agenda row of a section with its published columns (the screen lists the highest-risk)."""
    return lambda: components.safe_csv(rows)


def _section_frame(
    pack: cab.CabPack,
    name: str,
    incidents: dict[str, list[dict[str, Any]]],
) -> pl.DataFrame:
    """One row per listed agenda item (the section's highest-risk, as the printed pack lists them) with
    the texts the printed pack shows (no arithmetic here)."""
    rows = []
    for i in cab.agenda_items(pack, name, incidents=incidents, limit=cab.DEFAULT_SECTION_LIMIT):
        evidence = dict(i["evidence"])
        keys = list(evidence)
        order = (
            {"#": i["position"], "Time box": i["timebox"]}
            if pack.running_order and name == "awaiting_decision"
            else {}
        )
        rows.append(
            {
                **order,
                "Change": i["number"],
                "Risk indicator": f"{i['risk_level']} ({i['risk_score']})",
                "Why": "; ".join(i["reason_list"]),
                "Flags": ", ".join(i["flags"]),
                "Title": i["title"],
                "From the form": bool(i["is_from_form"]),
                "Type / risk": i["type_risk"],
                "State": i["state"],
                "Planned (UTC)": i["window"],
                "CIs": i["ci_names"] or i["primary_ci_name"],
                "Service": i["service_name"],
                "Collisions": "; ".join(i["collision_list"]),
                "CI evidence": f"{keys[0]}: {evidence[keys[0]]}",
                "Service evidence": f"{keys[1]}: {evidence[keys[1]]}",
                "Group evidence": f"{keys[2]}: {evidence[keys[2]]}",
                "Open incidents on its CIs": evidence[keys[3]],
                "Last failure on its CI": evidence[keys[4]],
                "Caused incidents": ", ".join(f"{x['number']} (P{x['priority']})" for x in i["incidents"]),
            }
        )
    return pl.DataFrame(rows) if rows else pl.DataFrame()


components.page_header(
    "CAB meeting pack",
    "Changes awaiting a decision and the forward schedule with their risk evidence, the emergency and failed "
    "changes since the previous meeting, and the KPI strip. Download the same pack as HTML, PDF, Markdown "
    "or a calendar file.",
)

pub = db.published()
default = _pack(pub.version, None, None)
c1, c2, c3, c4 = st.columns([1, 1, 1, 1])
day = c1.date_input("Meeting date", value=default.meeting_at.date(), key="cab_date")
at = c2.time_input(
    "Meeting time (UTC)", value=time(default.meeting_at.hour, default.meeting_at.minute), key="cab_time"
)
meeting = datetime.combine(day if isinstance(day, date) else default.meeting_at.date(), at)
prev_day = c3.date_input(
    "Previous meeting",
    value=(meeting - (default.meeting_at - default.previous_meeting_at)).date(),
    key=f"cab_prev_{meeting:%Y%m%d}",
)
previous = datetime.combine(prev_day if isinstance(prev_day, date) else meeting.date(), at)
if previous >= meeting:
    st.error("The previous meeting must be before the meeting.")
    st.stop()
paper = c4.selectbox("PDF paper", cab.PAPERS, format_func=str.upper, key="cab_paper")

# the chair's running order and time boxes (stored with the meeting): the screen and every download
# list the items awaiting a decision in that order
pack = cab_meeting.with_running_order(
    _pack(pub.version, meeting, previous),
    cab_decisions.read_running_order(db.data_dir().ops_db, meeting),
)
st.caption(
    f"Meeting {cab.fmt_ts(pack.meeting_at)} UTC · previous meeting {cab.fmt_ts(pack.previous_meeting_at)} · "
    f"forward schedule to {cab.fmt_ts(pack.forward_end_at)} · risk evidence as of {cab.fmt_ts(pack.evidence_as_of)} "
    f"UTC · warehouse {pack.warehouse_version}"
)
for note in pack.notes:
    st.info(note)

stem = f"cab-{pack.meeting_at:%Y-%m-%d}"
d1, d2, d3, d4 = st.columns(4)
for col, (fmt, label) in zip(
    (d1, d2, d3, d4),
    (("html", "HTML pack"), ("pdf", "PDF pack"), ("md", "Markdown"), ("ics", "Calendar (ICS)")),
    strict=True,
):
    col.download_button(
        f"Download {label}",
        data=_rendered(pack, fmt, paper),
        file_name=f"{stem}.{fmt}",
        mime=cab.MEDIA_TYPES[fmt],
        key=f"cab_dl_{fmt}",
        icon=":material/download:",
        on_click="ignore",
    )

if pack.is_empty:
    components.empty_state(
        "Nothing to review.",
        "No change awaits a CAB decision, none is planned in the forward schedule, and no emergency or failed "
        "change needs a review since the previous meeting.",
    )

tiles = st.columns(len(cab.SECTIONS) + 1)
for tile, (name, (_order, label, _blurb)) in zip(tiles, cab.SECTIONS.items(), strict=False):
    tile.metric(label, f"{pack.section(name).height:,}")
tiles[-1].metric("Collisions", f"{pack.collisions.height:,}")

st.subheader("KPI strip")
st.caption(f"{cab.kpi_periods(pack)}. Source: {pack.kpi_source}.")
kpis = cab.kpi_items(pack)
if kpis:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "KPI": k["kpi_label"],
                    "Last 4 weeks": k["current_text"],
                    "Numerator / denominator": k["current_fraction"],
                    "4 weeks before": k["previous_text"],
                    "Numerator / denominator (before)": k["previous_fraction"],
                    "Change": k["change_text"],
                }
                for k in kpis
            ]
        ),
        hide_index=True,
        width="stretch",
        key="cab_kpis",
    )

# caused incidents indexed once for every section; collision lines only for the changes listed
caused = cab.incident_index(pack)
for name, (order, label, blurb) in cab.SECTIONS.items():
    st.subheader(f"{order}. {label} ({pack.section(name).height})")
    st.caption(blurb)
    frame = _section_frame(pack, name, caused)
    if frame.height:
        total = pack.section(name).height
        if total > frame.height:
            st.caption(
                f"The {frame.height} highest-risk of {total:,} changes, as the printed pack lists them "
                "(risk score, then earliest planned start); the CSV holds every one with its published evidence."
            )
        st.dataframe(
            frame, hide_index=True, width="stretch", placeholder=components.MISSING, key=f"cab_sec_{name}"
        )
        st.download_button(
            f"Download all {total:,} as CSV",
            data=_section_csv(pack.section(name)),
            file_name=f"cab-{pack.meeting_at:%Y-%m-%d}-{name}.csv",
            mime="text/csv",
            key=f"cab_sec_{name}_csv",
            icon=":material/download:",
            on_click="ignore",
        )
    else:
        st.write("Nothing to review.")

st.subheader(f"Collisions ({pack.collisions.height})")
if pack.collisions.height:
    components.table(
        pack.collisions.select(
            "change_number_a",
            "change_number_b",
            "collision_kind",
            "shared_ci_name",
            "relationship_path",
            "overlap_start_at",
            "overlap_minutes",
        ),
        key="cab_collisions",
    )
else:
    st.write("No collisions.")

st.subheader(f"Forward schedule ({pack.forward_schedule.height} changes)")
by = st.radio(
    "Timeline by",
    ("service", "ci"),
    horizontal=True,
    key="cab_by",
    format_func=lambda v: "service" if v == "service" else "primary CI",
)
# The timeline draws what the printed pack lists (each section's highest-risk changes): a lane per
# service for thousands of changes is unreadable and slow; the tables above keep every change.
timeline = cab.context(pack)
shown = timeline["timeline_pack"]
if timeline["limited"]:
    st.caption(
        f"The timeline shows the {shown.forward_schedule.height} changes the printed pack lists "
        f"(each section's {cab.DEFAULT_SECTION_LIMIT} highest-risk); the tables above list all "
        f"{pack.forward_schedule.height}."
    )
if shown.forward_schedule.height or shown.blackouts.height:
    st.pyplot(cab_charts.timeline_figure(shown, by=by), clear_figure=False)
if pack.blackouts.height:
    components.table(pack.blackouts, key="cab_blackouts")

st.divider()
st.header("Decisions")
render_cab_decisions(pack, key="cab_page")
