"""The CAB pack as a PDF (ReportLab platypus): landscape A4 or Letter, tables that split across pages
with their header row repeated, charts as PNG images, page numbers, and the generated-at time and the
warehouse version in every page's footer. Every text goes through :func:`esc` (Paragraph reads markup)."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    CondPageBreak,
    Image,
    KeepTogether,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)

from ingest.reports import cab_charts
from ingest.reports.cab import CabPack

PAGES = {"a4": A4, "letter": LETTER}
MARGIN = 12 * mm
GRID = colors.HexColor("#c9d0d8")
HEAD = colors.HexColor("#e8edf2")
RISK = {"low": "#2e7d3e", "medium": "#9a6a00", "high": "#b0231b"}

_FONTS: tuple[str, str] | None = None


def fonts() -> tuple[str, str]:
    """DejaVu Sans (shipped with matplotlib: covers the dashes and accents titles carry), else Helvetica."""
    global _FONTS
    if _FONTS is None:
        try:
            from pathlib import Path

            import matplotlib

            ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
            pdfmetrics.registerFont(TTFont("CabSans", str(ttf / "DejaVuSans.ttf")))
            pdfmetrics.registerFont(TTFont("CabSans-Bold", str(ttf / "DejaVuSans-Bold.ttf")))
            pdfmetrics.registerFontFamily("CabSans", normal="CabSans", bold="CabSans-Bold")
            _FONTS = ("CabSans", "CabSans-Bold")
        except Exception:  # pragma: no cover - matplotlib's fonts are always there in practice
            _FONTS = ("Helvetica", "Helvetica-Bold")
    return _FONTS


def esc(value: object) -> str:
    """Text for a Paragraph: markup characters escaped, so a title is never read as markup."""
    return escape("" if value is None else str(value))


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = fonts()
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=regular, fontSize=8, leading=10)
    return {
        "title": ParagraphStyle(
            "title", parent=base["Title"], fontName=bold, fontSize=17, leading=21, alignment=0
        ),
        "h2": ParagraphStyle(
            "h2", parent=base["Heading2"], fontName=bold, fontSize=12.5, leading=15, spaceBefore=8
        ),
        "meta": ParagraphStyle(
            "meta", parent=body, textColor=colors.HexColor("#555555"), fontSize=8.5, leading=11
        ),
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=7.2, leading=8.8),
        "cellb": ParagraphStyle("cellb", parent=body, fontName=bold, fontSize=7.2, leading=8.8),
        "num": ParagraphStyle("num", parent=body, fontSize=7.2, leading=8.8, alignment=TA_RIGHT),
        "big": ParagraphStyle("big", parent=body, fontName=bold, fontSize=11, leading=14),
    }


class _NumberedCanvas(rl_canvas.Canvas):
    """Draws 'page N of M' and the footer once the page count is known."""

    footer_text = ""
    font = "Helvetica"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self._footer(total)
            super().showPage()
        super().save()

    def _footer(self, total: int) -> None:
        width, _height = self._pagesize
        self.saveState()
        self.setFont(self.font, 7)
        self.setFillColor(colors.HexColor("#555555"))
        self.drawString(MARGIN, 7 * mm, self.footer_text)
        self.drawRightString(width - MARGIN, 7 * mm, f"Page {self._pageNumber} of {total}")
        self.restoreState()


def _table(
    header: list[str],
    rows: list[list[Any]],
    widths: list[float],
    styles: dict[str, ParagraphStyle],
    *,
    extra: list[Any] | None = None,
) -> LongTable:
    """A table that splits across pages and repeats its header row."""
    head = [Paragraph(esc(h), styles["cellb"]) for h in header]
    body = [
        [c if isinstance(c, Paragraph) else Paragraph(esc(c), styles["cell"]) for c in row] for row in rows
    ]
    t = LongTable([head, *body], colWidths=widths, repeatRows=1, splitByRow=True)
    t.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), HEAD),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, GRID),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                *(extra or []),
            ]
        )
    )
    return t


# A table row must fit on one page: a cell lists at most this many lines, then says how many more
# there are and where they are (the full lists are in the pack's tables, the HTML and the app).
CELL_LINES = 8
CELL_TEXT = 400


def _lines(items: list[str], *, limit: int = CELL_LINES, rest: str = "") -> str:
    if not items:
        return "—"
    shown = [esc(_clip(x)) for x in items[:limit]]
    if len(items) > limit:
        shown.append(f"<i>… and {len(items) - limit} more{rest}</i>")
    return "<br/>".join(shown)


def _clip(text: object, limit: int = CELL_TEXT) -> str:
    value = "" if text is None else str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _agenda_table(section: dict[str, Any], avail: float, styles: dict[str, ParagraphStyle]) -> LongTable:
    review = section["name"] in ("emergency_retrospective", "post_implementation_review")
    fractions = [0.085, 0.17, 0.07, 0.075, 0.23, 0.215, 0.155]
    header = [
        "Change",
        "Title / CIs / service",
        "Type / risk",
        "Window (UTC)",
        "Risk indicator",
        "Evidence (90 days)",
        "Collisions, flags" + (", caused incidents" if review else ""),
    ]
    rows = []
    extra = []
    for n, i in enumerate(section["items"], start=1):
        colour = RISK.get(i["risk_level"], "#333333")
        change = f"<b>{esc(i['number'])}</b><br/>{esc(i['state'])}"
        if i["is_from_form"]:
            change += "<br/><font color='#2f5d8a'>form request</font>"
        title = (
            f"<b>{esc(_clip(i['title'] or '(no title)'))}</b><br/>CIs: {esc(_clip(i['ci_names'] or i['primary_ci_name'] or '—'))}"
            f"<br/>Service: {esc(_clip(i['service_name'] or '—'))}<br/>Group: {esc(i['assignment_group'] or '—')}"
        )
        window = esc(i["window"])
        if review:
            window += f"<br/>actual: {esc(i['actual_window'])}"
        risk = (
            f"<font color='{colour}'><b>{esc(i['risk_level'])} ({i['risk_score']})</b></font><br/>"
            + _lines(i["reason_list"])
        )
        evidence = "<br/>".join(f"<i>{esc(label)}:</i> {esc(_clip(text))}" for label, text in i["evidence"])
        notes = []
        if i["flags"]:
            notes.append("<font color='#b0231b'><b>" + _lines(i["flags"]) + "</b></font>")
        if i["collision_list"]:
            notes.append("<b>Collides with</b><br/>" + _lines(i["collision_list"], rest=" (see Collisions)"))
        if review:
            incs = [
                f"{inc['number']} (P{inc['priority']}) {inc['title']} — {inc['state']}"
                for inc in i["incidents"]
            ]
            notes.append("<b>Caused</b><br/>" + (_lines(incs) if incs else "no incidents attributed"))
        rows.append(
            [
                Paragraph(change, styles["cell"]),
                Paragraph(title, styles["cell"]),
                Paragraph(esc(i["type_risk"]), styles["cell"]),
                Paragraph(window, styles["cell"]),
                Paragraph(risk, styles["cell"]),
                Paragraph(evidence, styles["cell"]),
                Paragraph("<br/>".join(notes) or "—", styles["cell"]),
            ]
        )
        if n % 2 == 0:
            extra.append(("BACKGROUND", (0, n), (-1, n), colors.HexColor("#f7f9fb")))
    return _table(header, rows, [f * avail for f in fractions], styles, extra=extra)


def render(pack: CabPack, ctx: dict[str, Any], *, paper: str = "a4") -> bytes:
    """The PDF bytes of the pack (``ctx`` is :func:`ingest.reports.cab.context` of the same pack)."""
    size = landscape(PAGES[paper])
    styles = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=size,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=ctx["title"],
        author="changeboard",
        subject=f"CAB meeting pack, warehouse {ctx['version']}",
    )
    avail = size[0] - 2 * MARGIN
    avail_h = size[1] - 2 * MARGIN - 4 * mm
    story: list[Any] = [
        Paragraph(esc(ctx["title"]), styles["title"]),
        Paragraph(
            esc(
                f"Previous meeting {ctx['previous']} UTC · forward schedule to {ctx['forward_end']} UTC · "
                f"risk evidence as of {ctx['evidence_as_of']} UTC · warehouse version {ctx['version']} · "
                f"generated {ctx['generated_at']} UTC"
            ),
            styles["meta"],
        ),
        Spacer(1, 4 * mm),
    ]
    for note in [*ctx["notes"], *([ctx["limit_note"]] if ctx["limited"] else [])]:
        story.append(Paragraph(esc(note), styles["meta"]))
    if ctx["empty"]:
        story += [
            Paragraph("Nothing to review", styles["h2"]),
            Paragraph(
                esc(
                    "No change awaits a CAB decision, none is planned in the forward schedule and no emergency "
                    "or failed change needs a review since the previous meeting."
                ),
                styles["body"],
            ),
            Spacer(1, 3 * mm),
        ]
    # agenda summary + KPI strip on page 1
    summary = [
        [Paragraph(f"{s['total']}", styles["big"]) for s in ctx["sections"]]
        + [Paragraph(str(len(ctx["collisions"]) + ctx["collisions_hidden"]), styles["big"])]
    ]
    summary.append(
        [Paragraph(esc(s["label"]), styles["cell"]) for s in ctx["sections"]]
        + [Paragraph("Collisions", styles["cell"])]
    )
    t = LongTable(summary, colWidths=[avail / 5] * 5)
    t.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.4, GRID),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f4f6f8")),
            ]
        )
    )
    story += [t, Spacer(1, 3 * mm)]
    story.append(Paragraph("KPI strip", styles["h2"]))
    story.append(Paragraph(esc(f"{ctx['kpi_periods']}. Source: {ctx['kpi_source']}."), styles["meta"]))
    if ctx["kpis"]:
        story.append(
            _table(
                ["KPI", "Last 4 weeks", "Num. / denom.", "4 weeks before", "Num. / denom.", "Change"],
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
                [avail * f for f in (0.3, 0.12, 0.14, 0.12, 0.14, 0.18)],
                styles,
            )
        )
        if pack.kpi_strip.filter(pack.kpi_strip["unit"] == "rate").height:
            png = cab_charts.kpi_png(pack, width=10.5)
            story.append(_image(png, avail, avail_h * 0.42))
    # the agenda sections
    for sec in ctx["sections"]:
        story.append(CondPageBreak(40 * mm))
        story.append(Paragraph(esc(f"{sec['order']}. {sec['label']} ({sec['total']})"), styles["h2"]))
        story.append(Paragraph(esc(sec["blurb"]), styles["meta"]))
        if sec["hidden"]:
            shown = len(sec["items"])
            note = f"The {shown} highest-risk of {sec['total']} changes (and {sec['hidden']} more)."
            story.append(Paragraph(esc(note), styles["meta"]))
        if sec["items"]:
            story.append(_agenda_table(sec, avail, styles))
        else:
            story.append(Paragraph("Nothing to review.", styles["body"]))
    # collisions and the timeline
    story.append(CondPageBreak(40 * mm))
    story.append(
        Paragraph(esc(f"Collisions ({len(ctx['collisions']) + ctx['collisions_hidden']})"), styles["h2"])
    )
    if ctx["collisions_hidden"]:
        more = f"The first {len(ctx['collisions'])} (and {ctx['collisions_hidden']} more)."
        story.append(Paragraph(esc(more), styles["meta"]))
    if ctx["collisions"]:
        story.append(
            _table(
                ["Change", "With", "Kind", "Shared CI / service / relationship path", "Overlap (UTC)"],
                [
                    [c["change_number_a"], c["change_number_b"], c["kind"], c["via"], c["overlap"]]
                    for c in ctx["collisions"]
                ],
                [avail * f for f in (0.12, 0.12, 0.12, 0.4, 0.24)],
                styles,
            )
        )
    else:
        story.append(Paragraph("No collisions.", styles["body"]))
    story.append(PageBreak())
    story.append(Paragraph(esc(f"Forward schedule timeline ({ctx['forward_count']} changes)"), styles["h2"]))
    shown = ctx["timeline_pack"]
    if shown.forward_schedule.height or shown.blackouts.height:
        png = cab_charts.timeline_png(shown, width=11.0)
        story.append(_image(png, avail, avail_h - 30 * mm))
        story.append(
            Paragraph(
                esc(
                    "Bars are planned windows (widened to at least 3 hours to stay visible), coloured by the risk "
                    "indicator; hatched red outlines collide, x marks where an overlap starts; grey bands are "
                    "blackout windows; dashed bars await a CAB decision."
                ),
                styles["meta"],
            )
        )
    else:
        story.append(Paragraph("No change planned in the forward schedule.", styles["body"]))
    if ctx["blackouts"]:
        story.append(
            KeepTogether(
                [
                    Spacer(1, 3 * mm),
                    _table(
                        ["Blackout window", "Scope", "Window (UTC)"],
                        [[b["name"], b["scope_ci_name"] or "all CIs", b["window"]] for b in ctx["blackouts"]],
                        [avail * f for f in (0.4, 0.3, 0.3)],
                        styles,
                    ),
                ]
            )
        )

    regular, _bold = fonts()

    class Canvas(_NumberedCanvas):
        footer_text = (
            f"changeboard CAB pack · meeting {ctx['meeting']} UTC · warehouse version {ctx['version']} · "
            f"generated {ctx['generated_at']} UTC"
        )
        font = regular

    doc.build(story, canvasmaker=Canvas)
    return buf.getvalue()


def _image(png: bytes, max_w: float, max_h: float) -> Image:
    """A PNG scaled to fit (max_w, max_h), keeping its aspect ratio."""
    from reportlab.lib.utils import ImageReader

    w, h = ImageReader(io.BytesIO(png)).getSize()
    scale = min(max_w / w, max_h / h)
    return Image(io.BytesIO(png), width=w * scale, height=h * scale)
