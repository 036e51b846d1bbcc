"""Reusable page pieces: KPI tiles, drill-down tables with a safe CSV download, empty states, footer.

Everything from the data is rendered as text (``st.metric``, ``st.caption``, ``st.dataframe``):
never ``unsafe_allow_html`` with data in it. The formatting helpers and :func:`safe_csv` are pure.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import plotly.graph_objects as go
import polars as pl
import streamlit as st
from changeboard.app import data as app_data
from changeboard.app import filters as app_filters

from changeboard.store.export import FORMULA_REGEX, runs_as_formula

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BAND_COLOURS = {"elite": "green", "high": "blue", "medium": "orange", "low": "red"}


# --- formatting (pure) --------------------------------------------------------------------------------


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: object, kind: str = "count") -> str:
    """Format a published number for a tile: pct (a 0..1 rate), hours, count or plain."""
    if is_missing(value):
        return "—"
    if kind == "pct":
        return f"{float(value) * 100:.1f} %"  # a rate shown as a percentage, not recomputed
    if kind == "hours":
        v = float(value)
        return f"{v / 24:.1f} d" if v >= 72 else f"{v:.1f} h"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "decimal":
        return f"{float(value):,.1f}"
    if kind == "per_day":
        return f"{float(value):.2f} / day"
    return f"{value}"


DELTA_UNITS = {"pct": " pp", "hours": " h", "count": "", "decimal": "", "per_day": " / day"}


def delta(value: object, previous: object, kind: str) -> float | str | None:
    """The change from the previous period as st.metric's delta: a signed text in the value's unit
    (percentage points for a rate), the number 0 when unchanged (grey, no arrow), None when either
    side is missing or the value is not a number."""
    if is_missing(value) or is_missing(previous) or kind not in DELTA_UNITS:
        return None
    try:
        diff = float(value) - float(previous)
    except (TypeError, ValueError):
        return None
    if kind == "pct":
        diff *= 100
    shown = {"pct": f"{diff:+.1f}", "hours": f"{diff:+.1f}", "count": f"{diff:+,.0f}"}.get(
        kind, f"{diff:+,.2f}"
    )
    if float(shown.replace(",", "")) == 0:
        return 0
    return shown + DELTA_UNITS[kind]


# which way st.metric colours a rise: green for better, red for worse, grey when direction is neutral
DELTA_COLOURS = {"higher_is_better": "normal", "lower_is_better": "inverse", "neutral": "off"}
STATUS = {  # target status -> (badge text, colour)
    "green": ("on target", "green"),
    "amber": ("near target", "orange"),
    "red": ("off target", "red"),
}


def target_status(value: object, target: object, amber: object, direction: str) -> str | None:
    """green when ``value`` meets the target in the metric's direction, amber when it meets the amber
    threshold, else red; None without a value, a target or a direction."""
    if is_missing(value) or is_missing(target) or direction not in ("higher_is_better", "lower_is_better"):
        return None
    v, t = float(value), float(target)
    a = t if is_missing(amber) else float(amber)
    higher = direction == "higher_is_better"

    def better(x: float, y: float) -> bool:
        return x >= y if higher else x <= y

    if better(v, t):
        return "green"
    return "amber" if better(v, a) else "red"


def target_text(target: object, amber: object, direction: str, kind: str, source: str | None = None) -> str:
    """'Target ≥ 95.0 %, amber ≥ 90.0 % (default; set in changeboard.toml [targets])'."""
    sign = "≥" if direction == "higher_is_better" else "≤"
    text = f"Target {sign} {fmt(target, kind)}"
    if not is_missing(amber) and amber != target:
        text += f", amber {sign} {fmt(amber, kind)}"
    if source == "default":
        text += " (common-practice default; set yours in the [targets] table of changeboard.toml)"
    elif source:
        text += f" (from {source})"
    return text


def fraction(numerator: object, denominator: object, unit: str = "") -> str:
    """'122 / 130 completed changes' (the evidence line under a rate)."""
    if is_missing(numerator) or is_missing(denominator):
        return "no records in this period"
    tail = f" {unit}" if unit else ""
    return f"{int(numerator):,} / {int(denominator):,}{tail}"


# --- CSV export (pure) -----------------------------------------------------------------------------------


def neutralise_cell(value: str | None) -> str | None:
    """Prefix ``'`` to a text cell a spreadsheet would run as a formula (= + - @ tab CR, also after
    leading spaces or as fullwidth lookalikes: see changeboard.store.export.runs_as_formula)."""
    if value is not None and runs_as_formula(value):
        return "'" + value
    return value


def neutralise(df: pl.DataFrame) -> pl.DataFrame:
    """Every text column neutralised against formula injection; other columns unchanged."""
    text_cols = [name for name, dtype in df.schema.items() if dtype in (pl.String, pl.Categorical, pl.Enum)]
    if not text_cols:
        return df
    return df.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(FORMULA_REGEX))
        .then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text_cols
    )


def _cell_text(value: object) -> str | None:
    """A nested cell (list, array, struct) as one text cell: ``a; b`` for a list of scalars, else JSON."""
    if value is None:
        return None
    if isinstance(value, list) and all(not isinstance(v, list | dict) for v in value):
        return "; ".join("" if v is None else str(v) for v in value)
    return json.dumps(value, default=str, ensure_ascii=False)


def safe_csv(df: pl.DataFrame) -> bytes:
    """UTF-8 CSV (with BOM so Excel reads accents) of the neutralised frame; nested columns (lists,
    arrays, structs) become text first, so that they are neutralised too."""
    flat = df.with_columns(
        pl.Series(name, [_cell_text(v) for v in df[name].to_list()], dtype=pl.String)
        for name, dtype in df.schema.items()
        if isinstance(dtype, pl.List | pl.Struct | pl.Array)
    )
    return b"\xef\xbb\xbf" + neutralise(flat).write_csv().encode("utf-8")


# --- Streamlit pieces ------------------------------------------------------------------------------------


def page_header(title: str, caption: str | None = None) -> None:
    st.title(title)
    if caption:
        st.caption(caption)


def empty_state(message: str, hint: str | None = None) -> None:
    """A readable 'nothing here' instead of an error or a blank chart."""
    st.info(message + (f"\n\n{hint}" if hint else ""), icon=":material/inbox:")


def kpi_tile(
    label: str,
    value: object,
    *,
    kind: str = "pct",
    numerator: object = None,
    denominator: object = None,
    unit: str = "",
    previous: object = None,
    evidence: str | None = None,
    help: str | None = None,
    low_confidence: str | None = None,
    band: str | None = None,
    direction: str = "neutral",
    status: str | None = None,
    status_help: str | None = None,
    trend: Sequence[float] | None = None,
    previous_label: str = "before",
    small_base: str | None = None,
    unavailable: str | None = None,
    reconciliation: str | None = None,
    action: Callable[[], None] | None = None,
) -> None:
    """A KPI with its evidence: value, the change from the previous period's published value (green
    when better, red when worse, by ``direction``; ``previous_label`` says what it is compared with:
    "before", or "on 1-4 Nov" for a period to date), a sparkline of ``trend`` (the published values of
    the trend periods, oldest first), numerator / denominator (or ``evidence``), the target status
    (red / amber / green), a DORA band and a low-confidence badge when the data-quality model flags it.

    ``small_base``: why the base is too small to mean anything ("too few changes (7) for a band"):
    the status, band and change are then left out and the reason shown. ``unavailable``: why the
    value cannot be shown for the filters chosen (the value becomes "—", the reason is shown).
    ``reconciliation``: how the value adds up with the other tiles (a published reconciliation)."""
    if unavailable:
        value, previous, numerator, denominator, evidence, status, band, trend = (None,) * 8
        low_confidence = reconciliation = small_base = None
    if small_base:
        previous, status, band = None, None, None
    change = delta(value, previous, kind)
    with st.container(border=True):
        st.metric(
            label,
            fmt(value, kind),
            delta=change,
            delta_color=DELTA_COLOURS.get(direction, "off"),
            # "vs 94.0 %" against the period before ("... before" was cut at 1440 px); a period to date
            # names the days it is compared with ("vs 94.0 % on 1-4 Nov")
            delta_description=None
            if previous is None
            else f"vs {fmt(previous, kind)}" + ("" if previous_label == "before" else f" {previous_label}"),
            help=help,
            chart_data=list(trend) if trend is not None and len(trend) >= 2 else None,
            chart_type="line",
        )
        if unavailable:
            st.caption(f":material/block: Not shown: {unavailable}")
            return
        if evidence is not None:
            st.caption(evidence)
        elif numerator is not None or denominator is not None:
            st.caption(fraction(numerator, denominator, unit))
        if reconciliation:
            st.caption(reconciliation)
        if small_base:
            st.caption(f":material/info: {small_base}")
        if band or low_confidence or status:
            with st.container(horizontal=True, gap="small"):
                if status in STATUS:
                    text, colour = STATUS[status]
                    st.badge(text, color=colour, help=status_help)
                if band:
                    st.badge(f"DORA {band}", color=BAND_COLOURS.get(str(band), "gray"))
                if low_confidence:
                    st.badge("low confidence", icon=":material/warning:", color="violet", help=low_confidence)
        if action is not None:  # e.g. the button that opens the records behind the value
            action()


def kpi_row(count: int) -> Sequence[st.delta_generator.DeltaGenerator]:
    return st.columns(count, gap="small")


def chart(fig: go.Figure, *, key: str) -> None:
    """Render a figure from charts.py."""
    st.plotly_chart(fig, key=key, config={"displaylogo": False}, theme=None)


def drilldown(
    records: pl.DataFrame | app_data.Records,
    *,
    title: str,
    key: str,
    filename: str,
    caption: str | None = None,
    expanded: bool = False,
    empty_message: str = "No records.",
    lazy: bool = False,
) -> None:
    """The records behind a chart or KPI in an expander, with a CSV download (formula-safe).

    ``lazy``: the rows are read only while the expander is open (opening it reruns the page), for a
    list that few readers open and that is costly to read; its label still counts the records.

    A :class:`app.data.Records` query is counted and shown a page at a time (a page picker when
    there is more than one); its CSV holds every record, written when the user asks for it when the
    list is longer than a page.
    """
    total = records.height if isinstance(records, pl.DataFrame) else records.count()
    label = f"{title} — {total:,} records"
    icon = ":material/table_view:"
    if lazy:
        box = st.expander(label, expanded=expanded, icon=icon, key=f"{key}_open", on_change="rerun")
    else:
        box = st.expander(label, expanded=expanded, icon=icon)
    with box:
        if caption:
            st.caption(caption)
        if total == 0:
            st.caption(empty_message)
            return
        if lazy and not box.open:
            return
        if isinstance(records, pl.DataFrame):
            shown, data = records, safe_csv(records)
        else:
            pages = math.ceil(total / app_data.PAGE_ROWS)
            number = 1
            if pages > 1:
                number = int(
                    st.number_input(
                        f"Page (of {pages:,})",
                        min_value=1,
                        max_value=pages,
                        value=1,
                        step=1,
                        key=f"{key}_page",
                    )
                )
            shown = records.page(number - 1)
            # one page holds every record: its CSV now; longer lists write theirs when asked for
            data = safe_csv(shown) if pages == 1 else records.download(safe_csv)
            if pages > 1:
                first = (number - 1) * app_data.PAGE_ROWS + 1
                st.caption(
                    f"Rows {first:,}–{first + shown.height - 1:,} of {total:,}; the CSV holds all {total:,}."
                )
        table(shown, key=f"{key}_table", height=min(420, 38 + 35 * shown.height))
        st.download_button(
            "Download CSV",
            data=data,
            file_name=f"{filename}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            icon=":material/download:",
            on_click="ignore",
        )


# --- human labels and formats (one place: rpt_display_labels) ----------------------------------------------

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M UTC"  # every timestamp the app shows (the warehouse stores UTC)
DATE_FORMAT = "%Y-%m-%d"
MISSING = "—"  # what an empty cell shows
INTERNAL_KEY = re.compile(r"(^|_)id(_[a-z])?$")  # change_id, change_id_a: keys for the CSV, not for reading


@dataclass(frozen=True)
class Labels:
    """The published label map: a column's header and an enumerated value's wording."""

    columns: Mapping[str, str]
    values: Mapping[str, str]

    def column(self, name: str) -> str:
        return self.columns.get(name, name)

    def value(self, text: str) -> str:
        return self.values.get(text, text)


def labels() -> Labels:
    """rpt_display_labels (the dbt seed display_labels, shown by dbt docs) as a :class:`Labels`."""
    rows = app_data.display_labels()
    columns = {r["name"]: r["label"] for r in rows.filter(pl.col("kind") == "column").iter_rows(named=True)}
    values = {r["name"]: r["label"] for r in rows.filter(pl.col("kind") == "value").iter_rows(named=True)}
    return Labels(columns, values)


def described(f: app_filters.Filters) -> str:
    """The filters in force in one line, their values in words."""
    return f.describe(labels().values)


def labelled(df: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """``df`` with the enumerated values of ``columns`` in words (rpt_display_labels): a chart's
    categories, legend and hover text. What a click opens keeps the stored values (read them from
    the frame before it is labelled)."""
    values = dict(labels().values)
    return df.with_columns(pl.col(c).replace(values) for c in columns)


def present(df: pl.DataFrame, names: Labels) -> pl.DataFrame:
    """The frame as a person reads it: internal keys (``*_id``) left out (the CSV keeps them),
    enumerated values and column headers in words, timestamps in one format (pure)."""
    keep = [c for c in df.columns if not INTERNAL_KEY.search(c)] or df.columns
    out = df.select(keep)
    changes = []
    for name, dtype in out.schema.items():
        if dtype == pl.String:
            changes.append(pl.col(name).replace(dict(names.values)))
        elif isinstance(dtype, pl.Datetime):
            changes.append(pl.col(name).dt.strftime(TIMESTAMP_FORMAT))
        elif dtype == pl.Date:
            changes.append(pl.col(name).dt.strftime(DATE_FORMAT))
    out = out.with_columns(changes) if changes else out
    headers: dict[str, str] = {}
    for name in out.columns:
        header = names.column(name)
        headers[name] = header if header not in headers.values() else f"{header} ({name})"
    return out.rename(headers)


def table(
    df: pl.DataFrame,
    *,
    key: str,
    height: int | Literal["auto"] = "auto",
    column_config: Mapping[str, Any] | None = None,
) -> None:
    """A table with the published labels and formats; empty cells show a dash, not None.
    ``column_config`` is keyed by the warehouse's column names."""
    names = labels()
    st.dataframe(
        present(df, names),
        hide_index=True,
        key=key,
        height=height,
        placeholder=MISSING,
        column_config={names.column(k): v for k, v in (column_config or {}).items()},
    )


def low_confidence_reason(dq: pl.DataFrame, metric: str) -> str | None:
    """The data-quality model's reason for marking ``metric`` low-confidence, if it does.

    Reads rpt_data_quality's ``metric_confidence`` rows for ``source_system = 'all'`` (whose ``metric``
    is named as the rpt_change_kpis column a tile shows). Coverage rows can carry the same name for
    a field (``release_lead_time``), so when the frame has ``check_type`` / ``source_system`` only
    the metric-confidence rows of all sources are read. Needs a ``metric`` column and an
    ``is_low_confidence`` flag (plus optional ``coverage`` / ``threshold`` / ``reason``, and
    ``how_to_fix``: what to change in the export, appended as "To fix: ...").
    """
    if dq.is_empty() or not {"metric", "is_low_confidence"} <= set(dq.columns):
        return None
    if "check_type" in dq.columns:
        dq = dq.filter(pl.col("check_type") == "metric_confidence")
    if "source_system" in dq.columns:
        dq = dq.filter(pl.col("source_system") == "all")
    rows = dq.filter((pl.col("metric") == metric) & pl.col("is_low_confidence").fill_null(False))
    if rows.is_empty():
        return None
    row = rows.row(0, named=True)
    if row.get("reason"):
        reason = str(row["reason"])
    elif row.get("coverage") is not None and row.get("threshold") is not None:
        reason = f"input coverage {fmt(row['coverage'], 'pct')} is below the {fmt(row['threshold'], 'pct')} threshold"
    else:
        reason = "the data-quality scorecard marks this metric's inputs as incomplete"
    fix = row.get("how_to_fix")
    return f"{reason}. To fix: {fix}" if fix else reason


def as_text(value: object) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, str):
        try:
            return as_text(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def footer(version: str, built_at: object, published_at: object) -> None:
    """'Serving warehouse version X, built at Y' at the bottom of every page."""
    st.divider()
    st.caption(
        f"Serving warehouse version {version} · built at {as_text(built_at)} · published at {as_text(published_at)}"
    )


def scope_note(description: str, ignored: Sequence[str], *, kpi_scope: str) -> None:
    """What the page shows, and which filters the published KPIs cannot apply."""
    st.caption(description)
    if ignored:
        st.warning(
            f"The published KPIs break down by one dimension at a time: they are shown for {kpi_scope}. "
            f"The {', '.join(x.lower() for x in ignored)} filter applies to the record tables only.",
            icon=":material/filter_alt:",
        )


def get(row: dict[str, object] | None, key: str) -> object:
    """A value of an optional published row (None when the row is absent)."""
    return None if row is None else row.get(key)


# --- click-through: the records behind a tile, a bar or a point -------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Where a tile's, bar's or point's value was counted: a period, the record filters in force
    (fct_changes column -> value), a chart category (column, value; None for '(none)') and words
    saying so ("Nov 2026 · change type: normal")."""

    start: date
    end: date
    words: str
    filters: tuple[tuple[str, str], ...] = ()
    category: tuple[str, str | None] | None = None
    key: str = ""  # makes the tiles' buttons unique on a page that shows a metric twice
    grain: str | None = None  # the period's grain (a snapshot's records, the backlog's, are per grain)


def record_scope(f: app_filters.Filters, *, key: str = "") -> Scope | None:
    """The scope of the selected period under every sidebar filter (None before any period)."""
    if f.period_start is None or f.period_end is None:
        return None
    return Scope(
        f.period_start, f.period_end, described(f), tuple(f.record_filters().items()), key=key, grain=f.grain
    )


def period_scope(
    f: app_filters.Filters, start: date, *, category: tuple[str, str | None] | None = None
) -> Scope:
    """The scope of another period of the trend (a clicked point or bar), under the same filters."""
    words = " · ".join([app_filters.period_label(start, f.grain), *described(f).split(" · ")[1:]])
    if category is not None:
        words += f" · {labels().value(category[1]) if category[1] else '(none)'}"
    end = app_filters.next_period(start, f.grain)
    return Scope(start, end, words, tuple(f.record_filters().items()), category=category, grain=f.grain)


def open_point(
    metric_keys: Sequence[str], periods: Sequence[date], f: app_filters.Filters
) -> Callable[[dict[str, object]], None]:
    """What a click on a trend chart's point or bar opens: the records of that series' metric in that
    point's period (series in the order of ``metric_keys``; a point's index is its period's)."""

    def opened(point: dict[str, object]) -> None:
        curve, index = point.get("curve_number"), point.get("point_index")
        if not isinstance(curve, int) or not isinstance(index, int):
            return
        if curve >= len(metric_keys) or index >= len(periods):
            return
        definition = metrics().get(metric_keys[curve])
        if definition is not None and definition.record_model:
            records_dialog(definition, period_scope(f, periods[index]))

    return opened


def open_category(
    metric: str, column: str, categories: Sequence[str], f: app_filters.Filters
) -> Callable[[dict[str, object]], None]:
    """What a click on a bar of a breakdown by the fct_changes ``column`` opens: the records of
    ``metric`` of that bar's value (``categories`` in bar order; '(none)' is the changes without one)
    in the selected period, under the sidebar filters."""

    def opened(point: dict[str, object]) -> None:
        index = point.get("point_index")
        definition = metrics().get(metric)
        if not isinstance(index, int) or index >= len(categories) or f.period_start is None:
            return
        if definition is not None and definition.record_model:
            value = categories[index]
            category = (column, None if value == "(none)" else value)
            records_dialog(definition, period_scope(f, f.period_start, category=category))

    return opened


def records_dialog(metric: Metric, scope: Scope, published: Mapping[str, object] | None = None) -> None:
    """Open a dialog listing the records behind ``metric`` in ``scope``: its numerator and its
    denominator, or for a median, a frequency or a sum the records of its base (paged, with the CSV), read
    with the flags the metric declares in the warehouse; ``published``: the tile's published row (it
    says whose records a DORA period's are)."""
    found = app_data.metric_records(
        metric=metric.metric,
        start=scope.start,
        end=scope.end,
        filters=dict(scope.filters),
        category=scope.category,
        published=published,
        grain=scope.grain,
    )
    if found is None:
        return

    def body() -> None:
        st.caption(scope.words)
        stem = f"{metric.metric}_{scope.start}"
        if found.role == "base":
            if found.measure is not None:
                st.caption(
                    f"The value is the {found.aggregate or 'median'} of {labels().column(found.measure)} "
                    "over these records."
                )
            drilldown(
                found.numerator,
                title=f"Base: {metric.population or 'records'}",
                key="drill_base",
                filename=f"{stem}_base",
                expanded=True,
            )
            return
        if found.role == "difference" and found.denominator is not None and found.flags is not None:
            added, removed = (labels().column(flags.split(",")[0]) for flags in found.flags)
            st.caption("The value is the count of the first list less the count of the second.")
            drilldown(
                found.numerator,
                title=f"Added: {added.lower()}",
                key="drill_num",
                filename=f"{stem}_added",
                expanded=True,
            )
            drilldown(
                found.denominator,
                title=f"Taken away: {removed.lower()}",
                key="drill_den",
                filename=f"{stem}_taken_away",
                expanded=True,
            )
            return
        if found.denominator is None:
            drilldown(found.numerator, title=metric.label, key="drill_num", filename=stem, expanded=True)
            return
        population = metric.population or "records"
        drilldown(
            found.numerator,
            title=f"Numerator: {metric.label.lower()}",
            key="drill_num",
            filename=f"{stem}_numerator",
            expanded=True,
        )
        drilldown(
            found.denominator,
            title=f"Denominator: {population}",
            key="drill_den",
            filename=f"{stem}_denominator",
        )

    st.dialog(f"Records behind: {metric.label}", width="large")(body)()


def selected_point(key: str, event: object) -> dict[str, object] | None:
    """The point a click on chart ``key`` selected in this run, once: None when nothing is selected or
    when the selection is the one already opened (a later rerun keeps the chart's selection)."""
    points = list(getattr(getattr(event, "selection", None), "points", None) or [])
    handled = f"{key}__opened"
    if not points:
        st.session_state.pop(handled, None)
        return None
    signature = json.dumps(points, default=str, sort_keys=True)
    if st.session_state.get(handled) == signature:
        return None
    st.session_state[handled] = signature
    point = points[0]
    return dict(point) if isinstance(point, Mapping) else None


def clickable_chart(fig: go.Figure, *, key: str, on_click: Callable[[dict[str, object]], None]) -> None:
    """Render a figure whose points or bars open their records: a click selects the point (Streamlit's
    selection event) and ``on_click`` receives it (curve_number, point_index, x, y)."""
    event = st.plotly_chart(
        fig,
        key=key,
        config={"displaylogo": False},
        theme=None,
        on_select="rerun",
        selection_mode="points",
    )
    point = selected_point(key, event)
    if point is not None:
        on_click(point)


# --- KPI tiles declared as data ----------------------------------------------------------------------------

DIRECTIONS = {
    "higher_is_better": "Higher is better.",
    "lower_is_better": "Lower is better.",
    "neutral": "",
}

Row = Mapping[str, object] | None
NARROW_TILES = 5  # tiles to a row from which a label must be short to fit at 1440 px


@dataclass(frozen=True)
class Metric:
    """One row of rpt_metric_definitions: how a KPI reads and where its value and evidence are."""

    metric: str
    label: str
    short_label: str
    unit: str
    direction: str
    value_column: str
    numerator_column: str | None
    denominator_column: str | None
    population: str | None
    band_column: str | None
    confidence_metric: str | None
    description: str
    target_value: float | None = None
    amber_value: float | None = None
    target_source: str | None = None
    base_column: str | None = None
    min_base: int | None = None
    record_model: str | None = None  # the metric declares the records behind it (click-through)
    subtract_flags: str | None = None  # a difference: the flags of the records it takes away
    measure_column: str | None = None  # a median's or a sum's column over its base records

    @property
    def help(self) -> str:
        """The tile's help: the dbt doc block of the value column, then which way is better, then its target."""
        parts = [self.description, DIRECTIONS.get(self.direction, "")]
        if self.target_value is not None:
            parts.append(self.target_text)
        return "\n\n".join(p for p in parts if p).strip()

    @property
    def target_text(self) -> str:
        return target_text(self.target_value, self.amber_value, self.direction, self.unit, self.target_source)

    def small_base(self, row: Mapping[str, object] | None) -> str | None:
        """Why ``row``'s base is too small for a status, a band and a comparison ("too few completed
        changes (7) for a band or a comparison: fewer than 20"), or None (DECISIONLOG D44)."""
        if row is None or self.base_column is None or self.min_base is None:
            return None
        base = row.get(self.base_column)
        if not isinstance(base, int | float) or is_missing(base) or base >= self.min_base:
            return None
        noun = self.population or "records"
        return (
            f"Too few {noun} ({int(base):,}) for a band or a comparison: fewer than {self.min_base:,} "
            "(min_base in the [display] table of changeboard.toml)."
        )

    def status(self, value: object) -> str | None:
        """red / amber / green of a published value against this metric's target (None: no target)."""
        return target_status(value, self.target_value, self.amber_value, self.direction)


def metrics() -> dict[str, Metric]:
    """Every declared KPI by key (rpt_metric_definitions; the dbt project declares them once)."""
    fields = Metric.__dataclass_fields__
    return {
        row["metric"]: Metric(**{k: row[k] for k in fields})
        for row in app_data.metric_definitions().iter_rows(named=True)
    }


@dataclass(frozen=True)
class Tile:
    """A KPI tile as data: the declared metric it shows, plus, where the page says more than
    "numerator / denominator population", an evidence line composed from the published row, or a
    text standing for the value (e.g. "3 of 41")."""

    metric: str
    evidence: Callable[[Mapping[str, object]], str] | None = None
    text: Callable[[Mapping[str, object]], str] | None = None
    qualifier: str = ""  # "all time": the same metric over another scope, labelled "<label>, all time"
    # how the value adds up with the other tiles, from the published row (DECISIONLOG D44)
    reconcile: Callable[[Mapping[str, object]], str | None] | None = None


def metric_tile(
    tile: Tile,
    row: Row,
    previous: Row,
    dq: pl.DataFrame,
    definitions: Mapping[str, Metric],
    *,
    narrow: bool = False,
    trend: pl.DataFrame | None = None,
    previous_label: str = "before",
    unavailable: str | None = None,
    scope: Scope | None = None,
) -> None:
    """Render one declared tile from a published row (and the previous period's, when compared);
    ``narrow`` tiles (five to a row) carry the metric's short label; ``trend`` (the same published
    rows over the trend periods, oldest first) draws the tile's sparkline when it has the column;
    ``previous_label`` names what ``previous`` is ("before", "on 1-4 Nov"); ``unavailable`` says why
    the value cannot be shown for the filters chosen."""
    m = definitions[tile.metric]
    label = m.short_label if narrow else m.label

    def col(r: Row, name: str | None) -> object:
        return None if r is None or name is None else r.get(name)

    has_row = row is not None
    value = col(row, m.value_column)
    series = None
    if trend is not None and m.value_column in trend.columns and tile.text is None and not tile.qualifier:
        series = [float(v) for v in trend[m.value_column].to_list() if not is_missing(v)]
    status = m.status(value) if tile.text is None and not tile.qualifier else None

    def records_button() -> None:
        if scope is not None and st.button(
            "Records",
            key=f"rec_{scope.key}_{tile.metric}",
            icon=":material/table_view:",
            type="tertiary",
            help=f"The {m.label.lower()} records of {scope.words}: "
            + (
                "what it adds and what it takes away"
                if m.subtract_flags
                else "numerator and denominator"
                if m.numerator_column and m.denominator_column
                else "the records it rests on"
                if m.base_column or m.measure_column
                else "the records it counts"
            )
            + ", with the CSV.",
        ):
            records_dialog(m, scope, row)

    clickable = scope is not None and bool(m.record_model) and has_row and not tile.qualifier
    kpi_tile(
        f"{label}, {tile.qualifier}" if tile.qualifier else label,
        tile.text(row) if tile.text is not None and row is not None else value,
        kind="text" if tile.text is not None and has_row else m.unit,
        numerator=col(row, m.numerator_column),
        denominator=col(row, m.denominator_column),
        unit=m.population or "",
        previous=col(previous, m.value_column),
        evidence=tile.evidence(row) if tile.evidence is not None and row is not None else None,
        help=m.help,
        low_confidence=low_confidence_reason(dq, m.confidence_metric) if m.confidence_metric else None,
        band=str(col(row, m.band_column)) if col(row, m.band_column) is not None else None,
        direction=m.direction,
        status=status,
        status_help=m.target_text if status else None,
        trend=series,
        previous_label=previous_label,
        small_base=m.small_base(row) if tile.text is None else None,
        unavailable=unavailable,
        reconciliation=tile.reconcile(row) if tile.reconcile is not None and row is not None else None,
        action=records_button if clickable else None,
    )


def tile_row(
    tiles: Sequence[Tile],
    row: Row,
    *,
    previous: Row = None,
    dq: pl.DataFrame | None = None,
    columns: int | None = None,
    trend: pl.DataFrame | None = None,
    previous_label: str = "before",
    unavailable: Mapping[str, str] | None = None,
    scope: Scope | None = None,
) -> None:
    """Declared tiles side by side, each reading its value, evidence, band, target status and
    confidence from ``row`` (five or more to a row are narrow: they carry the short labels), with a
    sparkline from ``trend`` (the published rows of the trend periods) where it has the metric.
    ``previous_label`` names what ``previous`` is; ``unavailable`` maps a metric to the reason it
    cannot be shown for the filters chosen; with a ``scope``, a tile whose metric declares its records
    has a button that opens them."""
    definitions = metrics()
    quality = dq if dq is not None else pl.DataFrame()
    count = columns or len(tiles)
    for place, tile in zip(st.columns(count, gap="small"), tiles, strict=False):
        with place:
            metric_tile(
                tile,
                row,
                previous,
                quality,
                definitions,
                narrow=count >= NARROW_TILES,
                trend=trend,
                previous_label=previous_label,
                unavailable=(unavailable or {}).get(tile.metric),
                scope=scope,
            )


def section(title: str, *, disabled: str | None = None, help: str | None = None) -> bool:
    """A section header; ``disabled``: why the section cannot honour the filters chosen, written in the
    header itself and under it (not in a tooltip). Returns False when disabled (skip the section)."""
    if disabled:
        st.subheader(f"{title} · not shown for these filters", help=help)
        st.warning(disabled, icon=":material/filter_alt_off:")
        return False
    st.subheader(title, help=help)
    return True


# --- the published KPIs of the filters chosen -----------------------------------------------------------


@dataclass(frozen=True)
class PublishedKpis:
    """The rpt_change_kpis rows a page shows for the sidebar's filters: the period's row, the row it is
    compared with (the period before; for a period to date, the same days of the period before from
    rpt_change_kpis_to_date) and the trend rows. ``disabled``: why no published row fits the filters
    (more than one dimension filter set), to write in the sections' headers."""

    dimension: str
    value: str
    current: Mapping[str, object] | None
    previous: Mapping[str, object] | None
    trend: pl.DataFrame
    previous_label: str
    disabled: str | None


def combined_reason(labels: Sequence[str]) -> str:
    """Why a section of published KPIs cannot honour several dimension filters at once."""
    return (
        f"The published KPIs break down by one filter at a time, and {' and '.join(x.lower() for x in labels)} "
        "are set together: their combination is not published. Clear all but one of them to see this section; "
        "the charts of outcomes and the record lists on this page apply every filter."
    )


def published_kpis(f: app_filters.Filters) -> PublishedKpis:
    """The published KPI rows for ``f`` (see :class:`PublishedKpis`)."""
    dimension, value, _ignored = f.kpi_slice()
    assert f.period_start is not None
    assert f.previous_start is not None
    if f.combined:
        return PublishedKpis(
            dimension, value, None, None, pl.DataFrame(), "before", combined_reason(f.combined)
        )
    current, previous = app_data.kpi_pair(
        grain=f.grain,
        dimension=dimension,
        value=value,
        period_start=f.period_start,
        previous_start=f.previous_start,
    )
    if f.partial_days is not None:  # like for like: the same days of the period before
        previous = app_data.kpi_to_date(
            grain=f.grain, dimension=dimension, value=value, previous_start=f.previous_start
        )
    trend = app_data.change_kpis(
        grain=f.grain, dimension=dimension, value=value, start=f.trend_start, end=f.period_end
    )
    return PublishedKpis(dimension, value, current, previous, trend, f.previous_label, None)


def type_filter_reasons(f: app_filters.Filters) -> dict[str, str]:
    """Tiles that mean nothing under the change-type filter (a type's share of its own changes is
    100 % or 0 % by construction), with the reason to show in their place."""
    change_type = f.dims.get("change_type")
    if not change_type:
        return {}
    reason = (
        f"with the change-type filter ({labels().value(change_type)}) every change counted is of that type, so the "
        "emergency share is 100 % or 0 % by construction. Clear the change-type filter to see it."
    )
    return {"emergency_ratio": reason}


def dimension_filters_reason(
    f: app_filters.Filters, *, what: str, honoured: Sequence[str] = ()
) -> str | None:
    """Why a section published for all changes (``what``) cannot honour the dimension filters set
    (those not in ``honoured``), or None when none of them is set."""
    ignored = [app_filters.DIMENSIONS[n][2].lower() for n, v in f.dims.items() if v and n not in honoured]
    if not ignored:
        return None
    return (
        f"{what} The {' and '.join(ignored)} filter{'s' if len(ignored) > 1 else ''} cannot apply here: "
        f"clear {'them' if len(ignored) > 1 else 'it'} to see this section."
    )


def _period_name(row: Mapping[str, object]) -> str:
    start, grain = row.get("period_start"), row.get("period_grain")
    if isinstance(start, date) and grain == "month":
        return f"{start:%b %Y}"
    if isinstance(start, date) and grain == "week":
        return f"the week of {start.day} {start:%b %Y}"
    return "this period"


def failed_reconciliation(row: Mapping[str, object]) -> str | None:
    """How the failed-change count adds up, from the published counts (rpt_change_kpis, by close date):
    '1 failed = 0 unsuccessful + 1 successful but incident-caused (1 deployed before Dec 2026)'."""
    failed, unsuccessful = row.get("failed_count"), row.get("unsuccessful_count")
    caused = row.get("successful_incident_caused_count")
    if not all(isinstance(v, int) for v in (failed, unsuccessful, caused)):
        return None
    text = f"{fmt(failed)} failed = {fmt(unsuccessful)} unsuccessful + {fmt(caused)} successful but incident-caused"
    before = row.get("successful_incident_caused_deployed_before_count")
    if isinstance(before, int) and before:
        text += f" ({fmt(before)} deployed before {_period_name(row)})"
    return text


def incident_fail_reconciliation(row: Mapping[str, object]) -> str | None:
    """Why the incident-based fail rate differs from the failed-change rate, from the published counts:
    it counts by deployment date; the changes among them that closed in another period."""
    other = row.get("incident_failed_closed_other_period_count")
    if not isinstance(other, int):
        return None
    text = "by deployment date (the failed-change rate: by close date)"
    if other:
        text += f"; {fmt(other)} of them closed in another period, where the failed-change rate counts them"
    return text
