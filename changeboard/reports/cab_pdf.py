"""The CAB pack as a PDF (ReportLab platypus): landscape A4 or Letter, tables that split across pages
with their header row repeated, charts as PNG images, page numbers, and the generated-at time and the
warehouse version in every page's footer. Every text goes through :func:`esc` (Paragraph reads markup)."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch, mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus.paragraph import cleanBlockQuotedText
from reportlab.platypus.paraparser import ParaParser, known_entities

from changeboard.reports import cab_charts
from changeboard.reports.cab_meeting import order_tag
from changeboard.reports.cab_model import CabPack

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

PAGES = {"a4": A4, "letter": LETTER}
MARGIN = 12 * mm
GRID = colors.HexColor("#c9d0d8")
HEAD = colors.HexColor("#e8edf2")
RISK = {"low": "#2e7d3e", "medium": "#9a6a00", "high": "#b0231b"}

_FONTS: tuple[str, str] | None = None
MEASURED_WIDTHS = 100_000  # widths a font remembers (a 1M-change pack measures about 8,000 words)


class _MeasuredTTFont(TTFont):
    """A TrueType font that remembers the widths it measured: a pack's cells measure the same words
    (labels, dates, CI and service names) thousands of times, each a per-character loop in Python.
    The fonts live as long as the process (the app's too): past :data:`MEASURED_WIDTHS` words the
    memory starts again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._widths: dict[tuple[str, float, str], float] = {}

    def stringWidth(self, text: str, size: float, encoding: str = "utf8") -> float:
        key = (text, size, encoding)
        width = self._widths.get(key)
        if width is None:
            if len(self._widths) >= MEASURED_WIDTHS:
                self._widths.clear()
            width = self._widths[key] = super().stringWidth(text, size, encoding)
        return width


def fonts() -> tuple[str, str]:
    """DejaVu Sans (shipped with matplotlib: covers the dashes and accents titles carry), else Helvetica."""
    global _FONTS
    if _FONTS is None:
        try:
            from pathlib import Path

            import matplotlib

            ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
            pdfmetrics.registerFont(_MeasuredTTFont("CabSans", str(ttf / "DejaVuSans.ttf")))
            pdfmetrics.registerFont(_MeasuredTTFont("CabSans-Bold", str(ttf / "DejaVuSans-Bold.ttf")))
            pdfmetrics.registerFontFamily("CabSans", normal="CabSans", bold="CabSans-Bold")
            _FONTS = ("CabSans", "CabSans-Bold")
        except Exception:  # pragma: no cover - matplotlib's fonts are always there in practice
            _FONTS = ("Helvetica", "Helvetica-Bold")
    return _FONTS


# The markup the cells are written in: <b>, <i>, <font color='…'> and <br/> around text escaped by
# esc() (so the only entities are &amp; &lt; &gt;).
_TAG = re.compile(r"<(/?)([a-z]+)((?:\s+[a-z]+='[^'<>]*')*)\s*(/?)>")
_ATTRIBUTE = re.compile(r"([a-z]+)='([^']*)'")
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);")


def _markup_tree(markup: str) -> list[Any] | None:
    """A cell's markup as the tuple tree ReportLab's parser walks (``ParaParser.tt_parse``), or None
    when it is not markup esc() and the cell builders write (then the cell is parsed as usual).

    The tree gives the fragments parsing the text gives (text split where html.parser splits it: at
    tags and entity references), without html.parser (0.2 s of the PDF at 1M changes)."""

    def data(children: list[Any], text: str) -> bool:
        if "<" in text or ">" in text:
            return False
        pos = 0
        for m in _ENTITY.finditer(text):
            if m.start() > pos:
                children.append(text[pos : m.start()])
            name = m.group(1)
            if name.startswith("#x"):
                children.append(chr(int(name[2:], 16)))
            elif name.startswith("#"):
                children.append(chr(int(name[1:])))
            elif name in known_entities:
                children.append(known_entities[name])
            else:
                return False
            pos = m.end()
        if "&" in text[pos:]:
            return False
        if pos < len(text):
            children.append(text[pos:])
        return True

    root: list[Any] = ["para", None, []]
    stack = [root]
    pos = 0
    for m in _TAG.finditer(markup):
        if not data(stack[-1][2], markup[pos : m.start()]):
            return None
        closing, tag, attributes, self_closing = m.groups()
        if closing:
            if attributes or self_closing or len(stack) == 1 or stack[-1][0] != tag:
                return None
            stack.pop()
        else:
            node = [tag, dict(_ATTRIBUTE.findall(attributes)) or None, []]
            stack[-1][2].append(node)
            if not self_closing:
                stack.append(node)
        pos = m.end()
    if not data(stack[-1][2], markup[pos:]) or len(stack) != 1:
        return None
    return root


class _Cell(Paragraph):
    """A table cell's Paragraph: parsed from its tuple tree, and keeping its line breaks for a width
    it was already wrapped to.

    A LongTable wraps every cell to measure its rows, again for each page it splits across and again
    to draw it: the same line breaks three times (breakLines was the PDF's largest cost)."""

    _wrapped_width: float | None = None

    def __init__(self, text: str, style: ParagraphStyle) -> None:
        text = cleanBlockQuotedText(text)  # as Paragraph does before parsing
        tree = _markup_tree(text)
        frags = None
        if tree is not None:
            parser = ParaParser()
            parser.caseSensitive = 1  # as Paragraph's default
            _style, frags, _bullet = parser.tt_parse(tree, style)
        super().__init__(text, style, frags=frags)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if self._wrapped_width == availWidth:
            return self.width, self.height
        size: tuple[float, float] = super().wrap(availWidth, availHeight)
        # a width too narrow for any text returns without breaking lines (and without keeping it)
        self._wrapped_width = availWidth if getattr(self, "width", None) == availWidth else None
        return size


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
        "h3": ParagraphStyle(
            "h3", parent=body, fontName=bold, fontSize=9.5, leading=12, spaceBefore=5, spaceAfter=2
        ),
        "note": ParagraphStyle(
            "note", parent=body, textColor=colors.HexColor("#8a1c14"), fontSize=8.5, leading=11
        ),
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
    head = [_Cell(esc(h), styles["cellb"]) for h in header]
    body = [[c if isinstance(c, Paragraph) else _Cell(esc(c), styles["cell"]) for c in row] for row in rows]
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


def _agenda_table(
    section: dict[str, Any], avail: float, styles: dict[str, ParagraphStyle], *, ordered: bool = False
) -> LongTable:
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
        tag = order_tag(i, section["name"], ordered=ordered).strip()
        change = (
            f"<b>{esc(tag)}</b><br/>" if tag else ""
        ) + f"<b>{esc(i['number'])}</b><br/>{esc(i['state'])}"
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
                _Cell(change, styles["cell"]),
                _Cell(title, styles["cell"]),
                _Cell(esc(i["type_risk"]), styles["cell"]),
                _Cell(window, styles["cell"]),
                _Cell(risk, styles["cell"]),
                _Cell(evidence, styles["cell"]),
                _Cell("<br/>".join(notes) or "—", styles["cell"]),
            ]
        )
        if n % 2 == 0:
            extra.append(("BACKGROUND", (0, n), (-1, n), colors.HexColor("#f7f9fb")))
    return _table(header, rows, [f * avail for f in fractions], styles, extra=extra)


def _one_line_table(
    title: str,
    listing: dict[str, Any],
    kind: str,
    avail: float,
    styles: dict[str, ParagraphStyle],
    more: str,
    *,
    ordered: bool = False,
) -> list[Any]:
    """A heading and one line per change (risk and its main reason first), with how many more there are;
    ``ordered``: the chair's running order, each line led by its position and time box."""
    out: list[Any] = [Paragraph(esc(f"{title} ({listing['total']})"), styles["h3"])]
    if not listing["items"]:
        out.append(Paragraph("None.", styles["body"]))
        return out
    if kind == "standard":
        header = ["Change", "Window (UTC)", "Title", "CI", "Service"]
        fractions = [0.11, 0.17, 0.38, 0.17, 0.17]
        rows = [
            [i["number"], i["window"], _clip(i["title"], 90), i["ci"], i["service"]] for i in listing["items"]
        ]
    elif kind == "review":
        header = ["Change", "Risk", "Title", "Outcome / state", "Caused incidents", "Main reason"]
        fractions = [0.11, 0.09, 0.33, 0.12, 0.1, 0.25]
        rows = [
            [
                i["number"],
                i["risk"],
                _clip(i["title"], 90),
                i["outcome"],
                str(i["caused"]),
                _clip(i["reason"], 110),
            ]
            for i in listing["items"]
        ]
    else:
        header = ["Change", "Risk", "Main reason", "Title", "Window (UTC)", "Flags, collisions"]
        fractions = [0.09, 0.075, 0.29, 0.25, 0.125, 0.17]
        if ordered:
            header = ["#", "Time box", *header]
            fractions = [0.03, 0.1, 0.09, 0.075, 0.22, 0.2, 0.125, 0.16]
        rows = []
        for i in listing["items"]:
            colour = RISK.get(i["risk_level"], "#333333")
            notes = ", ".join(
                x for x in (i["flags"], f"{i['collisions']} collision(s)" if i["collisions"] else "") if x
            )
            row: list[Any] = [
                i["number"],
                _Cell(f"<font color='{colour}'><b>{esc(i['risk'])}</b></font>", styles["cell"]),
                _clip(i["reason"], 75 if not ordered else 55),
                _clip(i["title"], 58 if not ordered else 45),
                i["window"],
                _clip(notes or "—", 60),
            ]
            rows.append([str(i["position"] or ""), i["timebox"], *row] if ordered else row)
    out.append(_table(header, rows, [f * avail for f in fractions], styles))
    if listing["hidden"]:
        out.append(Paragraph(esc(f"… and {listing['hidden']} more {more}"), styles["meta"]))
    return out


def _kpi_table(ctx: dict[str, Any], avail: float, styles: dict[str, ParagraphStyle]) -> Flowable:
    return _table(
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


def render(pack: CabPack, ctx: dict[str, Any], *, paper: str = "a4", detail: str = "summary") -> bytes:
    """The PDF bytes of the pack (``ctx`` is :func:`changeboard.reports.cab.context` of the same pack).

    ``detail="summary"``: the executive summary (KPI strip, decisions needed, high-risk and colliding
    changes) first, then one line per change, the timeline one landscape page per week; ``"full"`` adds
    the detail (every listed change's evidence, the KPI chart, the collisions) as an appendix."""
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
    summ = ctx["summary"]
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
        Spacer(1, 2 * mm),
    ]
    for note in ctx["notes"]:
        story.append(Paragraph(esc(note), styles["note"]))
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
    # --- executive summary: tiles, KPI strip, decisions needed, high-risk and colliding changes
    story.append(Paragraph("Executive summary", styles["h2"]))
    tiles = [(str(s["total"]), s["label"]) for s in ctx["sections"]]
    tiles += [
        (str(len(ctx["collisions"]) + ctx["collisions_hidden"]), "Collisions"),
        (str(summ["high"]), "High risk (awaiting or scheduled)"),
        (str(summ["blackout"]), "In a blackout window"),
        (str(summ["replan"]), "To replan"),
    ]
    t = LongTable(
        [
            [Paragraph(esc(v), styles["big"]) for v, _ in tiles],
            [Paragraph(esc(label), styles["cell"]) for _, label in tiles],
        ],
        colWidths=[avail / len(tiles)] * len(tiles),
    )
    t.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.4, GRID),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f4f6f8")),
            ]
        )
    )
    story += [t, Spacer(1, 2 * mm)]
    story.append(
        Paragraph(esc(f"KPI strip: {ctx['kpi_periods']}. Source: {ctx['kpi_source']}."), styles["meta"])
    )
    if ctx["kpis"]:
        story.append(_kpi_table(ctx, avail, styles))
    more = "(the appendix of `--detail full`, the CAB page and its CSV list every one)"
    story.append(Paragraph(esc(f"Decisions needed: {summ['order_note']}"), styles["meta"]))
    story += _one_line_table(
        summ["decisions_title"], summ["decisions"], "line", avail, styles, more, ordered=summ["running_order"]
    )
    story += _one_line_table(
        "High-risk, colliding or in a blackout", summ["attention"], "line", avail, styles, more
    )
    # --- the agenda, one line per change
    story.append(PageBreak())
    story.append(Paragraph("The agenda, one line per change", styles["h2"]))
    for note in [ctx["limit_note"]] if ctx["limited"] and detail == "full" else []:
        story.append(Paragraph(esc(note), styles["meta"]))
    story += _one_line_table(
        "1. Awaiting a CAB decision",
        summ["awaiting"],
        "line",
        avail,
        styles,
        more,
        ordered=summ["running_order"],
    )
    story.append(CondPageBreak(30 * mm))
    story += _one_line_table(
        "2. Forward schedule: normal, emergency and higher-risk changes",
        summ["scheduled"],
        "line",
        avail,
        styles,
        more,
    )
    story.append(CondPageBreak(30 * mm))
    story += _one_line_table(
        "2. Forward schedule: low-risk standard changes",
        summ["standard_low"],
        "standard",
        avail,
        styles,
        more,
    )
    story.append(CondPageBreak(30 * mm))
    story += _one_line_table(
        "3-4. Emergency and failed changes since the previous meeting",
        summ["reviews"],
        "review",
        avail,
        styles,
        more,
    )
    if ctx["blackouts"]:
        story.append(
            KeepTogether(
                [
                    Spacer(1, 3 * mm),
                    _table(
                        ["Blackout window in the forward schedule", "Scope", "Window (UTC)"],
                        [[b["name"], b["scope_ci_name"] or "all CIs", b["window"]] for b in ctx["blackouts"]],
                        [avail * f for f in (0.4, 0.3, 0.3)],
                        styles,
                    ),
                ]
            )
        )
    # --- the timeline: one landscape page per week (and per group of lanes), labels at 7 pt or more
    shown = ctx["timeline_pack"]
    pages = cab_charts.timeline_pages(shown, width_in=avail / inch, height_in=(avail_h - 14 * mm) / inch)
    for title, fig in pages:
        story.append(PageBreak())
        story.append(Paragraph(esc(title), styles["h2"]))
        story.append(_image(cab_charts.to_rgb(fig, dpi=110), avail, avail_h - 14 * mm))
    if not pages:
        story.append(Paragraph("Forward schedule timeline", styles["h2"]))
        story.append(Paragraph("No change planned in the forward schedule.", styles["body"]))
    if detail == "full":
        story += _appendix(pack, ctx, avail, avail_h, styles)

    regular, _bold = fonts()

    class Canvas(_NumberedCanvas):
        footer_text = (
            f"changeboard CAB pack · meeting {ctx['meeting']} UTC · warehouse version {ctx['version']} · "
            f"generated {ctx['generated_at']} UTC"
        )
        font = regular

    doc.build(story, canvasmaker=Canvas)
    return buf.getvalue()


def _appendix(
    pack: CabPack, ctx: dict[str, Any], avail: float, avail_h: float, styles: dict[str, ParagraphStyle]
) -> list[Any]:
    """The detail: every listed change with its evidence, the KPI chart and the collisions."""
    story: list[Any] = [PageBreak(), Paragraph("Appendix: the detail", styles["h2"])]
    if ctx["limited"]:
        story.append(Paragraph(esc(ctx["limit_note"]), styles["meta"]))
    for sec in ctx["sections"]:
        story.append(CondPageBreak(40 * mm))
        story.append(Paragraph(esc(f"{sec['order']}. {sec['label']} ({sec['total']})"), styles["h2"]))
        story.append(Paragraph(esc(sec["blurb"]), styles["meta"]))
        if sec["hidden"]:
            shown = len(sec["items"])
            note = f"The {shown} highest-risk of {sec['total']} changes (and {sec['hidden']} more)."
            story.append(Paragraph(esc(note), styles["meta"]))
        if sec["items"]:
            story.append(_agenda_table(sec, avail, styles, ordered=ctx["summary"]["running_order"]))
        else:
            story.append(Paragraph("Nothing to review.", styles["body"]))
    if ctx["kpis"] and pack.kpi_strip.filter(pack.kpi_strip["unit"] == "rate").height:
        story.append(CondPageBreak(60 * mm))
        story.append(Paragraph("KPI strip: rates", styles["h2"]))
        story.append(_image(cab_charts.kpi_rgb(pack, width=10.5), avail, avail_h * 0.42))
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
    return story


class _Raster(Flowable):
    """A chart's pixels drawn at a given size, centred (as platypus' Image, from an image in memory)."""

    def __init__(self, image: PILImage, width: float, height: float) -> None:
        super().__init__()
        self.image, self.width, self.height = image, width, height
        self.hAlign = "CENTER"

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        from reportlab.lib.utils import ImageReader

        self.canv.drawImage(ImageReader(self.image), 0, 0, self.width, self.height)


def _image(image: PILImage, max_w: float, max_h: float) -> Flowable:
    """A chart scaled to fit (max_w, max_h), keeping its aspect ratio."""
    w, h = image.size
    scale = min(max_w / w, max_h / h)
    return _Raster(image, w * scale, h * scale)
