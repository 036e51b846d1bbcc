"""The minutes of a CAB meeting: its attendees and the decisions taken at it (with their conditions,
reasons and deferral dates, who decided and when), from the request store, as HTML, PDF or Markdown; and
an iCalendar update that puts each deferred item on the date it comes back to the CAB.

With the chair's running order stored for the meeting, the decisions are listed in that order with
their time boxes, and the items the chair put on the agenda without a decision at the meeting are
listed as such; without one, by kind of decision as recorded.

``changeboard report cab-minutes --at …`` and the CAB page's buttons render the same :class:`Minutes`.
"""

from __future__ import annotations

import io
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from changeboard.reports.cab_meeting import slot_starts, timebox_text
from changeboard.reports.cab_model import DEFAULT_MEETING_HOUR, fmt_ts
from changeboard.store import cab_decisions as cd

FORMATS = ("html", "pdf", "md", "ics")
MEDIA_TYPES = {"html": "text/html", "pdf": "application/pdf", "md": "text/markdown", "ics": "text/calendar"}
ORDER = ("approved", "approved_with_conditions", "rejected", "deferred")


@dataclass(frozen=True)
class Minutes:
    meeting_at: datetime  # naive UTC
    attendees: list[dict[str, Any]]
    decisions: list[dict[str, Any]]  # every decision recorded at the meeting, oldest first
    generated_at: datetime
    # the chair's running order of the meeting: change_id -> (position, time box minutes)
    running_order: dict[str, tuple[int, int | None]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"CAB minutes — {fmt_ts(self.meeting_at)} UTC"

    def of(self, decision: str) -> list[dict[str, Any]]:
        return [d for d in self.decisions if d["decision"] == decision]

    @property
    def deferred(self) -> list[dict[str, Any]]:
        return self.of("deferred")

    @property
    def is_empty(self) -> bool:
        return not self.decisions

    @property
    def undecided(self) -> list[dict[str, Any]]:
        """The items of the running order with no decision at this meeting, in that order."""
        decided = {str(d["change_id"]) for d in self.decisions}
        slots = slot_starts(self.meeting_at, self.running_order)
        return [
            {
                "change_id": cid,
                "number": cid.split(":", 1)[-1],
                "position": str(pos),
                "timebox": timebox_text(box, slots.get(cid)),
            }
            for cid, (pos, box) in sorted(self.running_order.items(), key=lambda kv: kv[1][0])
            if cid not in decided
        ]


def minutes(
    con: sqlite3.Connection, meeting_at: datetime, *, generated_at: datetime | None = None
) -> Minutes:
    """The minutes of the meeting at ``meeting_at`` (naive = UTC) from the request store."""
    at = meeting_at.astimezone(UTC).replace(tzinfo=None) if meeting_at.tzinfo else meeting_at
    return Minutes(
        meeting_at=at,
        attendees=cd.attendees(con, at),
        decisions=cd.list_decisions(con, meeting_at=at),
        generated_at=(generated_at or datetime.now(UTC)).replace(tzinfo=None, microsecond=0),
        running_order=cd.running_order(con, at),
    )


def read_minutes(ops_db: Path, meeting_at: datetime) -> Minutes:
    """:func:`minutes` from the store file, read-only (an absent store: no decisions)."""
    if not ops_db.exists():
        return Minutes(meeting_at, [], [], datetime.now(UTC).replace(tzinfo=None, microsecond=0))
    con = sqlite3.connect(f"file:{ops_db}?mode=ro", uri=True, timeout=10.0)
    try:
        has = con.execute("select count(*) from sqlite_master where name = 'cab_decision'").fetchone()[0]
        if not has:
            return Minutes(meeting_at, [], [], datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        return minutes(con, meeting_at)
    finally:
        con.close()


def _who(d: dict[str, Any]) -> str:
    return f"{d['decided_by']}" + ("" if d.get("identity_verified") else " (not verified)")


def _detail(d: dict[str, Any]) -> str:
    if d["decision"] == "approved_with_conditions":
        return f"Conditions: {d['conditions']}"
    if d["decision"] == "rejected":
        return f"Reason: {d['reason']}"
    if d["decision"] == "deferred":
        why = f" ({d['reason']})" if d.get("reason") else ""
        return f"Back to the CAB on {d['deferred_to']}{why}"
    return ""


def _evidence(d: dict[str, Any]) -> str:
    parts = []
    if d.get("risk_level"):
        parts.append(f"risk {d['risk_level']} ({d.get('risk_score')})")
    if d.get("in_blackout"):
        confirmed = ", approval confirmed" if d.get("blackout_confirmed") else ""
        parts.append(f"in blackout {d.get('blackout_window_name') or ''}{confirmed}".strip())
    if d.get("collision_count"):
        parts.append(f"{d['collision_count']} collision(s)")
    return "; ".join(parts)


def rows(m: Minutes) -> list[dict[str, str]]:
    """One row per decision, the texts every format shows: in the chair's running order (decisions on
    items outside it after them), else in the order of :data:`ORDER`; then as recorded."""
    decisions = [d for kind in ORDER for d in m.of(kind)]
    slots = slot_starts(m.meeting_at, m.running_order)
    after = len(m.running_order) + 1
    if m.running_order:
        decisions.sort(key=lambda d: m.running_order.get(str(d["change_id"]), (after, None))[0])
    out = []
    for d in decisions:
        cid = str(d["change_id"])
        position, box = m.running_order.get(cid, (None, None))
        out.append(
            {
                "position": "" if position is None else str(position),
                "timebox": timebox_text(box, slots.get(cid)),
                "decision": cd.LABELS[str(d["decision"])],
                "change": str(d["number"]) + (" (form)" if d["source_system"] == "form" else ""),
                "title": str(d.get("title") or ""),
                "detail": _detail(d),
                "evidence": _evidence(d),
                "by": _who(d),
                "at": str(d["decided_at"]).replace("T", " ")[:16],
            }
        )
    return out


def counts(m: Minutes) -> str:
    return ", ".join(f"{len(m.of(k))} {cd.LABELS[k].lower()}" for k in ORDER)


# --- renderers -------------------------------------------------------------------------------------------

_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2733; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #c9d0d8; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #e8edf2; } .meta { color: #555; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="meta">Generated {{ generated }} UTC by changeboard from the request store. {{ counts }}.</p>
<h2>Attendees ({{ attendees|length }})</h2>
{% if attendees %}<ul>{% for a in attendees %}<li>{{ a.name }}{% if a.role %} ({{ a.role }}){% endif %}</li>{% endfor %}</ul>
{% else %}<p>No attendee recorded.</p>{% endif %}
<h2>Decisions ({{ rows|length }})</h2>
{% if ordered %}<p class="meta">In the chair's running order, with the time boxes.</p>{% endif %}
{% if rows %}<table><thead><tr>{% if ordered %}<th>#</th><th>Time box</th>{% endif %}<th>Decision</th><th>Change</th><th>Title</th><th>Conditions / reason / deferral</th>
<th>Evidence seen</th><th>By</th><th>At (UTC)</th></tr></thead><tbody>
{% for r in rows %}<tr>{% if ordered %}<td>{{ r.position }}</td><td>{{ r.timebox }}</td>{% endif %}<td>{{ r.decision }}</td><td>{{ r.change }}</td><td>{{ r.title }}</td><td>{{ r.detail }}</td>
<td>{{ r.evidence }}</td><td>{{ r.by }}</td><td>{{ r.at }}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p>No decision was recorded at this meeting.</p>{% endif %}
{% if undecided %}<h2>On the running order, no decision recorded ({{ undecided|length }})</h2>
<table><thead><tr><th>#</th><th>Time box</th><th>Change</th></tr></thead><tbody>
{% for u in undecided %}<tr><td>{{ u.position }}</td><td>{{ u.timebox }}</td><td>{{ u.number }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
</body></html>
"""


def render_html(m: Minutes) -> str:
    from jinja2 import Environment, StrictUndefined

    env = Environment(autoescape=True, undefined=StrictUndefined)
    return env.from_string(_HTML).render(
        title=m.title,
        generated=fmt_ts(m.generated_at),
        counts=counts(m),
        attendees=m.attendees,
        rows=rows(m),
        ordered=bool(m.running_order),
        undecided=m.undecided,
    )


def render_markdown(m: Minutes) -> str:
    from changeboard.reports.cab import _md_table, md_escape

    lines = [
        f"# {md_escape(m.title)}",
        "",
        f"Generated {fmt_ts(m.generated_at)} UTC by changeboard from the request store. {counts(m)}.",
        "",
        f"## Attendees ({len(m.attendees)})",
        "",
    ]
    lines += [
        f"- {md_escape(a['name'])}" + (f" ({md_escape(a['role'])})" if a.get("role") else "")
        for a in m.attendees
    ]
    if not m.attendees:
        lines.append("No attendee recorded.")
    lines += ["", f"## Decisions ({len(m.decisions)})", ""]
    header, cells = _table(m)
    if m.running_order:
        lines += ["In the chair's running order, with the time boxes.", ""]
    if m.decisions:
        lines += _md_table(header, cells)
    else:
        lines.append("No decision was recorded at this meeting.")
    if m.undecided:
        lines += ["", f"## On the running order, no decision recorded ({len(m.undecided)})", ""]
        lines += _md_table(
            ["#", "Time box", "Change"], [[u["position"], u["timebox"], u["number"]] for u in m.undecided]
        )
    lines.append("")
    return "\n".join(lines)


def _table(m: Minutes) -> tuple[list[str], list[list[object]]]:
    """The decisions table's header and cells (with the position and time box when there is a running
    order): what the Markdown and the PDF show."""
    header = [
        "Decision",
        "Change",
        "Title",
        "Conditions / reason / deferral",
        "Evidence seen",
        "By",
        "At (UTC)",
    ]
    keys = ["decision", "change", "title", "detail", "evidence", "by", "at"]
    if m.running_order:
        header, keys = ["#", "Time box", *header], ["position", "timebox", *keys]
    return header, [[r[k] for k in keys] for r in rows(m)]


def render_pdf(m: Minutes, *, paper: str = "a4") -> bytes:
    from reportlab.lib.pagesizes import landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    from changeboard.reports import cab_pdf

    size = landscape(cab_pdf.PAGES[paper])
    styles = cab_pdf._styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=size,
        leftMargin=cab_pdf.MARGIN,
        rightMargin=cab_pdf.MARGIN,
        topMargin=cab_pdf.MARGIN,
        bottomMargin=cab_pdf.MARGIN + 4 * mm,
        title=m.title,
        author="changeboard",
    )
    avail = size[0] - 2 * cab_pdf.MARGIN
    esc = cab_pdf.esc
    story: list[Any] = [
        Paragraph(esc(m.title), styles["title"]),
        Paragraph(
            esc(f"Generated {fmt_ts(m.generated_at)} UTC from the request store. {counts(m)}."),
            styles["meta"],
        ),
        Spacer(1, 3 * mm),
        Paragraph(esc(f"Attendees ({len(m.attendees)})"), styles["h2"]),
        Paragraph(
            esc(", ".join(a["name"] + (f" ({a['role']})" if a.get("role") else "") for a in m.attendees))
            or "No attendee recorded.",
            styles["body"],
        ),
        Paragraph(esc(f"Decisions ({len(m.decisions)})"), styles["h2"]),
    ]
    if m.decisions:
        header, cells = _table(m)
        fractions = [0.11, 0.1, 0.22, 0.22, 0.14, 0.12, 0.09]
        if m.running_order:
            story.append(Paragraph("In the chair's running order, with the time boxes.", styles["meta"]))
            fractions = [0.03, 0.1, 0.1, 0.09, 0.17, 0.19, 0.12, 0.12, 0.08]
        story.append(cab_pdf._table(header, cells, [avail * f for f in fractions], styles))
    else:
        story.append(Paragraph("No decision was recorded at this meeting.", styles["body"]))
    if m.undecided:
        story.append(
            Paragraph(esc(f"On the running order, no decision recorded ({len(m.undecided)})"), styles["h2"])
        )
        story.append(
            cab_pdf._table(
                ["#", "Time box", "Change"],
                [[u["position"], u["timebox"], u["number"]] for u in m.undecided],
                [avail * f for f in (0.05, 0.2, 0.3)],
                styles,
            )
        )
    regular, _bold = cab_pdf.fonts()

    class Canvas(cab_pdf._NumberedCanvas):
        footer_text = f"changeboard CAB minutes · meeting {fmt_ts(m.meeting_at)} UTC · generated {fmt_ts(m.generated_at)} UTC"
        font = regular

    doc.build(story, canvasmaker=Canvas)
    return buf.getvalue()


def deferred_uid(change_id: str) -> str:
    """One calendar event per deferred change: a later deferral of the same change updates it."""
    return "deferred-" + re.sub(r"[^A-Za-z0-9._-]", "-", change_id) + "@changeboard"


def render_ics(m: Minutes, *, hour: int = DEFAULT_MEETING_HOUR) -> bytes:
    """An iCalendar update: each item deferred at the meeting, on the day it comes back to the CAB (at the
    meeting hour, 30 minutes). The UID is per change and SEQUENCE the decision's id, so importing the
    minutes of a later meeting moves the event instead of adding a second one."""
    from datetime import date

    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//changeboard//CAB minutes//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"CAB deferrals of {fmt_ts(m.meeting_at, date_only=True)}")
    stamp = m.generated_at.replace(tzinfo=UTC)
    for d in m.deferred:
        day = date.fromisoformat(str(d["deferred_to"]))
        start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
        ev = Event()
        ev.add("uid", deferred_uid(str(d["change_id"])))
        ev.add("sequence", int(d["cab_decision_id"]))
        ev.add("dtstamp", stamp)
        ev.add("dtstart", start)
        ev.add("dtend", start + timedelta(minutes=30))
        ev.add("summary", f"[CAB deferred] {d['number']}: {d.get('title') or ''}")
        ev.add(
            "description",
            f"Deferred at the CAB meeting of {fmt_ts(m.meeting_at)} UTC by {_who(d)} on "
            f"{str(d['decided_at']).replace('T', ' ')[:16]} UTC; back to the CAB on {d['deferred_to']}.",
        )
        ev.add("categories", ["CAB", "deferred"])
        cal.add_component(ev)
    return bytes(cal.to_ical())


def render(m: Minutes, fmt: str, *, paper: str = "a4") -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "pdf":
        return render_pdf(m, paper=paper)
    if fmt == "ics":
        return render_ics(m)
    text = render_html(m) if fmt == "html" else render_markdown(m)
    return text.encode("utf-8")
