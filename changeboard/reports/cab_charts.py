"""The CAB pack's charts (matplotlib, no pyplot state): the forward-schedule timeline and the KPI strip.

The same figures go into the PDF (PNG) and the HTML pack (inline SVG), so paper and screen agree.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl
from matplotlib import rc_context
from matplotlib.dates import DateFormatter, DayLocator
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

# the schedule colours every page shares (risk indicator, collision, blackout)
from changeboard.reports.palette import BLACKOUT, COLLISION, RISK_COLOURS, RISK_UNKNOWN

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from changeboard.reports.cab_model import CabPack
MIN_FONT = 7.0  # points: the smallest text a timeline draws (a printed page is read at arm's length)
LANE_INCHES = 0.26  # one lane's height on screen
PRINT_LANE_INCHES = 0.14  # the least lane height on a printed page (10 points around a 7-point label)
MIN_BAR = timedelta(hours=3)  # a 30-minute window is invisible on a 14-day axis
LABEL_ROOM = timedelta(hours=14)  # room for the change number written after a bar (a 14-day axis)
LABEL_INCHES = 0.6  # a change number at MIN_FONT points is about half an inch wide


def _lanes(
    pack: CabPack, by: str, label_room: timedelta = LABEL_ROOM
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Bars packed into lanes: one group per service (or primary CI), a new lane inside the group only
    when bars would overlap. Returns (bars with their lane index, lane labels, lane groups)."""
    col = "service_name" if by == "service" else "primary_ci_name"
    fs = pack.forward_schedule
    if fs.height == 0:
        return [], [], []
    fs = fs.with_columns(
        pl.coalesce(pl.col(col), pl.col("service_name"), pl.col("primary_ci_name"), pl.lit("(none)")).alias(
            "group"
        )
    ).sort("group", "planned_start_at", "number")
    bars: list[dict[str, Any]] = []
    labels: list[str] = []
    groups: list[str] = []
    for (group,), part in fs.group_by("group", maintain_order=True):
        lane_ends: list[datetime] = []
        first = len(labels)
        for r in part.iter_rows(named=True):
            start = r["planned_start_at"]
            end = max(r["planned_end_at"] or start + timedelta(hours=1), start + MIN_BAR)
            shown_end = end + label_room
            for k, busy_until in enumerate(lane_ends):
                if busy_until <= start:
                    lane_ends[k] = shown_end
                    break
            else:
                k = len(lane_ends)
                lane_ends.append(shown_end)
                labels.append("")
                groups.append(str(group))
            bars.append({**r, "lane": first + k, "bar_end": end})
        labels[first] = str(group)
    return bars, labels, groups


def _tight_once(fig: Figure, rect: tuple[float, float, float, float] | None = None) -> None:
    """Lay the figure out tightly once, and keep that layout.

    ``tight_layout`` leaves a placeholder layout engine behind, and with any engine set ``savefig``
    lays out every text of the figure in an extra draw before the real one (about a tenth of the
    timeline's time); the placeholder does nothing in that draw, so it is dropped."""
    fig.tight_layout(rect=rect)
    with rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)


def timeline_figure(
    pack: CabPack,
    *,
    by: str = "service",
    width: float = 11.0,
    window: tuple[datetime, datetime] | None = None,
    lanes: tuple[int, int] | None = None,
    height: float | None = None,
    title: str | None = None,
) -> Figure:
    """The forward schedule by service (or primary CI): one bar per change, labelled with its number and
    coloured by the published risk indicator; colliding changes outlined and hatched, overlap starts
    marked x; blackout windows shaded on the rows they apply to; dashed outlines await a decision.

    ``window``: the time axis (default the forward schedule); ``lanes``: only the lanes [lo, hi) of
    :func:`_lanes` (one page of a long schedule); ``height``: a fixed figure height (inches) instead
    of one growing with the lanes. Every text is at least :data:`MIN_FONT` points at the figure's size."""
    x_start, x_end = window or (pack.meeting_at, pack.forward_end_at)
    # room after a bar for its number: the axis' time per inch times the label's width
    room = max((x_end - x_start) * (LABEL_INCHES / width), timedelta(hours=1))
    bars, labels, groups = _lanes(pack, by, room)
    if lanes is not None:
        lo, hi = lanes
        bars = [{**x, "lane": x["lane"] - lo} for x in bars if lo <= x["lane"] < hi]
        labels, groups = labels[lo:hi], groups[lo:hi]
        if labels and not labels[0]:
            labels[0] = f"{groups[0]} (cont.)"
    n = len(labels)
    height = height or max(2.8, 1.6 + LANE_INCHES * n)
    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    # blackouts: on the lanes of the service / CI they apply to, across all lanes when unscoped
    for b in pack.blackouts.iter_rows(named=True):
        start, end = max(b["start_at"], x_start), min(b["end_at"], x_end)
        if start >= end:
            continue
        scope = b["scope_ci_name"]
        if b["scope_kind"] == "all" or not n:
            rows = list(range(n)) or [0]
        else:
            rows = sorted(
                {
                    x["lane"]
                    for x in bars
                    if scope in (x["group"], x["service_name"]) or scope in (x["ci_names"] or "").split(", ")
                }
            )
        for y in rows:
            ax.add_patch(
                Rectangle((start, y - 0.5), end - start, 1.0, color=BLACKOUT, alpha=0.22, lw=0, zorder=0)
            )
        if rows:
            ax.text(
                start,
                rows[0] - 0.45,
                f" blackout: {b['name']} ({scope or 'all CIs'})",
                fontsize=MIN_FONT,
                va="top",
                color="#333333",
                zorder=1,
            )
    groups_by_kind: dict[tuple[bool, bool], list[dict[str, Any]]] = {}
    for x in bars:
        key = ((x["collision_count"] or 0) > 0, x["agenda_section"] == "awaiting_decision")
        groups_by_kind.setdefault(key, []).append(x)
    for (colliding, awaiting), part in groups_by_kind.items():
        ax.barh(
            [x["lane"] for x in part],
            [x["bar_end"] - x["planned_start_at"] for x in part],
            left=[x["planned_start_at"] for x in part],
            height=0.66,
            color=[RISK_COLOURS.get(x["risk_level"], RISK_UNKNOWN) for x in part],
            edgecolor=COLLISION if colliding else "#222222",
            linewidth=1.3 if colliding else (0.8 if awaiting else 0),
            hatch="////" if colliding else None,
            linestyle="--" if awaiting else "-",
            zorder=2,
        )
    for x in bars:
        ax.text(
            x["bar_end"],
            x["lane"],
            " " + x["number"],
            fontsize=MIN_FONT,
            va="center",
            ha="left",
            zorder=3,
            clip_on=True,
        )
    lane_of = {x["change_id"]: x["lane"] for x in bars}
    marks_x, marks_y = [], []
    drawn = pl.Series(list(lane_of), dtype=pl.String)
    # only the pairs of the changes drawn (the pack's pairs run to tens of thousands at 1M changes)
    shown_pairs = pack.collisions.filter(
        pl.col("change_id_a").is_in(drawn) | pl.col("change_id_b").is_in(drawn)
    )
    for c in shown_pairs.select("change_id_a", "change_id_b", "overlap_start_at").iter_rows(named=True):
        for side in ("a", "b"):
            lane = lane_of.get(c[f"change_id_{side}"])
            if lane is not None:
                marks_x.append(c["overlap_start_at"])
                marks_y.append(lane)
    if marks_x:
        ax.plot(marks_x, marks_y, linestyle="none", marker="x", color=COLLISION, ms=5, mew=1.4, zorder=4)
    for y in range(1, n):
        if groups[y] != groups[y - 1]:
            ax.axhline(y - 0.5, color="#9aa5b1", lw=0.6, zorder=1)
    ax.set_yticks(range(n), labels=labels, fontsize=7)
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(n - 0.5 if n else 0.5, -0.5)
    ax.set_xlim(x_start, x_end)
    ax.xaxis.set_major_locator(DayLocator())
    ax.xaxis.set_major_formatter(DateFormatter("%a\n%d %b"))
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", color="#e3e3e3", lw=0.6)
    ax.set_axisbelow(True)
    if not n:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "No change planned in the forward schedule", transform=ax.transAxes, ha="center")
    handles = [Patch(color=c, label=f"risk indicator {k}") for k, c in RISK_COLOURS.items()]
    handles += [
        Patch(facecolor="white", edgecolor=COLLISION, hatch="////", label="collides"),
        Line2D([], [], marker="x", color=COLLISION, lw=0, label="overlap starts"),
        Patch(facecolor="white", edgecolor="#222222", linestyle="--", label="awaiting CAB decision"),
        Patch(color=BLACKOUT, alpha=0.3, label="blackout window"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=7, fontsize=7, frameon=False)
    by_text = "by service" if by == "service" else "by primary CI"
    ax.set_title(
        title_text
        if (title_text := title)
        else f"Forward schedule {x_start:%d %b %H:%M} – {x_end:%d %b %Y %H:%M} (UTC), {by_text}",
        fontsize=9,
        loc="left",
    )
    _tight_once(fig, rect=(0, 0.45 / height, 1, 1))
    return fig


def timeline_pages(
    pack: CabPack, *, by: str = "service", width_in: float = 10.7, height_in: float = 6.6
) -> list[tuple[str, Figure]]:
    """The forward schedule for print: one figure per week of [T, F) (and, when a week has more lanes than
    a page holds, one per group of lanes), each sized to the page (``width_in`` x ``height_in``) so the
    labels print at :data:`MIN_FONT` points or more. Weeks with nothing planned and no blackout are left
    out. Returns (title, figure) pairs."""
    from dataclasses import replace

    out: list[tuple[str, Figure]] = []
    fs = pack.forward_schedule
    per_page = max(int((height_in - 1.2) / PRINT_LANE_INCHES), 4)
    start = pack.meeting_at
    week = 1
    while start < pack.forward_end_at:
        end = min(start + timedelta(days=7), pack.forward_end_at)
        part = fs.filter((pl.col("planned_start_at") >= start) & (pl.col("planned_start_at") < end))
        blackouts = pack.blackouts.filter((pl.col("start_at") < end) & (pl.col("end_at") > start))
        if part.height or blackouts.height:
            sub = replace(pack, forward_schedule=part, blackouts=blackouts)
            _bars, labels, _groups = _lanes(
                sub, by, max((end - start) * (LABEL_INCHES / width_in), timedelta(hours=1))
            )
            total = max(len(labels), 1)
            pages = (total + per_page - 1) // per_page
            for k in range(pages):
                lo, hi = k * per_page, min((k + 1) * per_page, total)
                suffix = f", lanes {lo + 1}-{hi} of {total}" if pages > 1 else ""
                title = (
                    f"Forward schedule, week {week}: {start:%a %d %b %H:%M} – {end:%a %d %b %Y %H:%M} UTC "
                    f"({part.height} changes{suffix})"
                )
                fig = timeline_figure(
                    sub,
                    by=by,
                    width=width_in,
                    window=(start, end),
                    lanes=(lo, hi),
                    height=height_in,
                    title="by service" if by == "service" else "by primary CI",
                )
                out.append((title, fig))
        start, week = end, week + 1
    return out


def kpi_figure(pack: CabPack, *, width: float = 10.5) -> Figure:
    """The strip's rate KPIs, last 4 weeks against the 4 before (published values)."""
    rates = pack.kpi_strip.filter(pl.col("unit") == "rate").sort("kpi_order", descending=True)
    fig = Figure(figsize=(width, max(2.0, 0.9 + 0.32 * rates.height)), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    labels = rates["kpi_label"].to_list()
    ys = list(range(len(labels)))
    cur = [v * 100 if v is not None else 0 for v in rates["current_value"].to_list()]
    prev = [v * 100 if v is not None else 0 for v in rates["previous_value"].to_list()]
    ax.barh([y + 0.2 for y in ys], prev, height=0.38, color="#b7c4d6", label="4 weeks before")
    ax.barh([y - 0.2 for y in ys], cur, height=0.38, color="#2f5d8a", label="last 4 weeks")
    for y, v in zip(ys, cur, strict=True):
        ax.text(v + 0.8, y - 0.2, f"{v:.1f} %", va="center", fontsize=7)
    ax.set_yticks(ys, labels=labels, fontsize=7)
    ax.set_xlim(0, 105)
    ax.set_xlabel("%", fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    ax.set_title("KPI strip: rates, last 4 weeks against the 4 before", fontsize=9, loc="left")
    _tight_once(fig)
    return fig


def to_png(fig: Figure, *, dpi: int = 120) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def to_rgb(fig: Figure, *, dpi: int = 120) -> PILImage:
    """The pixels :func:`to_png` writes, as an RGB image, without encoding a PNG for the PDF to decode
    again (nor its alpha channel: the figure's background is opaque)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image as PILImageModule

    canvas = FigureCanvasAgg(fig)
    screen_dpi = fig.dpi
    fig.dpi = dpi  # as savefig(dpi=...) does for the drawing
    try:
        canvas.draw()
        width, height = canvas.get_width_height(physical=True)
        rgba = PILImageModule.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        return rgba.convert("RGB")
    finally:
        fig.dpi = screen_dpi


def to_svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()


def timeline_svg(pack: CabPack, *, by: str = "service") -> str:
    return to_svg(timeline_figure(pack, by=by))


def timeline_png(pack: CabPack, *, by: str = "service", width: float = 11.0) -> bytes:
    return to_png(timeline_figure(pack, by=by, width=width))


def kpi_png(pack: CabPack, *, width: float = 10.5) -> bytes:
    return to_png(kpi_figure(pack, width=width))


def timeline_rgb(pack: CabPack, *, by: str = "service", width: float = 11.0) -> PILImage:
    return to_rgb(timeline_figure(pack, by=by, width=width))


def kpi_rgb(pack: CabPack, *, width: float = 10.5) -> PILImage:
    return to_rgb(kpi_figure(pack, width=width))


def kpi_svg(pack: CabPack) -> str:
    return to_svg(kpi_figure(pack))
