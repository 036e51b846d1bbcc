"""Pure chart builders: a polars DataFrame in, a ``plotly.graph_objects.Figure`` out.

Shared colours, number formats and targets live here. No Streamlit, no SQL, no metric arithmetic:
the frames carry the published numbers and the charts draw them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
import polars as pl

from changeboard.reports import palette

COLOURS = {
    "primary": "#1f6feb",
    "secondary": "#8250df",
    "good": "#1a7f37",
    "warn": "#bf8700",
    "bad": "#cf222e",
    "neutral": "#6e7781",
    "light": "#afb8c1",
}
OUTCOME_COLOURS = {
    "successful": COLOURS["good"],
    "successful_with_issues": COLOURS["warn"],
    "unsuccessful": COLOURS["bad"],
}
SERIES = ["#1f6feb", "#cf222e", "#8250df", "#bf8700", "#1a7f37", "#0550ae", "#6e7781", "#e16f24"]
FONT = "Source Sans Pro, -apple-system, Segoe UI, sans-serif"
TALL = 480  # px: taller charts put their legend at the top


def _layout(fig: go.Figure, title: str, *, height: int = 320, y_title: str | None = None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        height=height,
        margin={"l": 8, "r": 16, "t": 44, "b": 8},
        font={"family": FONT, "size": 12},
        plot_bgcolor="white",
        paper_bgcolor="white",
        legend={"orientation": "h", "yanchor": "top", "y": -0.14, "xanchor": "left", "x": 0},
        hoverlabel={"namelength": -1},
    )
    fig.update_xaxes(showgrid=False, linecolor=COLOURS["light"], automargin=True)
    fig.update_yaxes(gridcolor="#eaeef2", zeroline=False, title_text=y_title, automargin=True)
    if height > TALL:
        # a tall chart keeps its legend at the top, between the title and the plot: below a long
        # list of rows it would sit far from the title, off screen
        fig.update_layout(
            title={"yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 12}},
            legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
            margin={"t": 84},
        )
    return fig


def _pct_axis(fig: go.Figure, *, full: bool = False) -> go.Figure:
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", range=[0, 1.02] if full else None)
    return fig


VOLUME_SERIES = ["#1f6feb", "#afb8c1", "#8250df", "#bf8700"]


def volume_bars(
    df: pl.DataFrame, *, x: str, series: dict[str, str], title: str, y_title: str = "changes"
) -> go.Figure:
    """Grouped bars of counts per period (e.g. changes opened and completed)."""
    fig = go.Figure()
    for i, (column, label) in enumerate(series.items()):
        fig.add_bar(
            x=df[x].to_list(),
            y=df[column].to_list(),
            name=label,
            marker_color=VOLUME_SERIES[i % len(VOLUME_SERIES)],
            hovertemplate="%{x|%d %b %Y}: %{y:,} " + label.lower() + "<extra></extra>",
        )
    fig.update_layout(barmode="group", bargap=0.25)
    return _layout(fig, title, y_title=y_title)


def rate_trend(
    df: pl.DataFrame,
    *,
    x: str,
    series: dict[str, str],
    title: str,
    numerators: dict[str, tuple[str, str]] | None = None,
    target: float | None = None,
    full_scale: bool = False,
    targets: dict[str, float | None] | None = None,
) -> go.Figure:
    """Lines of published rates (0..1) per period; hover shows numerator / denominator columns.
    ``targets``: a series' published target (rpt_metric_definitions.target_value), drawn as a dotted
    line in the series' colour; ``target``: one neutral target line for the whole chart."""
    fig = go.Figure()
    for i, (column, label) in enumerate(series.items()):
        custom = None
        hover = "%{x|%d %b %Y}: %{y:.1%}"
        if numerators and column in numerators:
            num, den = numerators[column]
            custom = list(zip(df[num].to_list(), df[den].to_list(), strict=True))
            hover += " (%{customdata[0]:,} / %{customdata[1]:,})"
        fig.add_scatter(
            x=df[x].to_list(),
            y=df[column].to_list(),
            name=label,
            mode="lines+markers",
            line={"color": SERIES[i % len(SERIES)], "width": 2},
            customdata=custom,
            hovertemplate=hover + "<extra>" + label + "</extra>",
            connectgaps=False,
        )
    if target is not None:
        fig.add_hline(
            y=target,
            line_dash="dot",
            line_color=COLOURS["neutral"],
            annotation_text=f"target {target:.0%}",
            annotation_position="bottom right",
        )
    for i, (column, label) in enumerate(series.items()):
        goal = (targets or {}).get(column)
        if goal is None:
            continue
        fig.add_hline(
            y=goal,
            line_dash="dot",
            line_width=1.5,
            line_color=SERIES[i % len(SERIES)],
            annotation_text=f"{label} target {goal:.0%}",
            annotation_font_color=SERIES[i % len(SERIES)],
            annotation_position="top left" if i % 2 == 0 else "bottom right",
            name=f"{label} target",
        )
    return _pct_axis(_layout(fig, title), full=full_scale)


def hours_trend(df: pl.DataFrame, *, x: str, median: str, p90: str, title: str) -> go.Figure:
    """Median and p90 of a published duration (hours) per period."""
    fig = go.Figure()
    fig.add_scatter(
        x=df[x].to_list(),
        y=df[p90].to_list(),
        name="p90",
        mode="lines+markers",
        line={"color": COLOURS["light"], "width": 2, "dash": "dot"},
        hovertemplate="%{x|%d %b %Y}: p90 %{y:.1f} h<extra></extra>",
    )
    fig.add_scatter(
        x=df[x].to_list(),
        y=df[median].to_list(),
        name="median",
        mode="lines+markers",
        line={"color": COLOURS["primary"], "width": 2},
        hovertemplate="%{x|%d %b %Y}: median %{y:.1f} h<extra></extra>",
    )
    fig.update_yaxes(rangemode="tozero")
    return _layout(fig, title, y_title="hours")


def outcome_mix(df: pl.DataFrame, *, x: str, title: str, names: Mapping[str, str]) -> go.Figure:
    """Stacked bars of completed-change outcomes per period (published counts); ``names`` words the
    outcomes (the published value labels)."""
    fig = go.Figure()
    for column, outcome in (
        ("successful_count", "successful"),
        ("successful_with_issues_count", "successful_with_issues"),
        ("unsuccessful_count", "unsuccessful"),
    ):
        label = names.get(outcome, outcome)
        fig.add_bar(
            x=df[x].to_list(),
            y=df[column].to_list(),
            name=label,
            marker_color=OUTCOME_COLOURS[outcome],
            hovertemplate="%{x|%d %b %Y}: %{y:,} " + label + "<extra></extra>",
        )
    fig.update_layout(barmode="stack", bargap=0.25)
    return _layout(fig, title, y_title="completed changes")


def rate_by_category(
    df: pl.DataFrame,
    *,
    category: str,
    rate: str,
    numerator: str,
    denominator: str,
    title: str,
    target: float | None = None,
) -> go.Figure:
    """Horizontal bars of a published rate per category, labelled with numerator / denominator."""
    labels = [
        f"{r:.1%}  ({n:,}/{d:,})" if r is not None else "—"
        for r, n, d in df.select(rate, numerator, denominator).iter_rows()
    ]
    fig = go.Figure(
        go.Bar(
            y=df[category].to_list(),
            x=df[rate].to_list(),
            orientation="h",
            text=labels,
            textposition="auto",
            marker_color=COLOURS["primary"],
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    if target is not None:
        fig.add_vline(x=target, line_dash="dot", line_color=COLOURS["neutral"])
    fig.update_xaxes(tickformat=".0%", range=[0, 1.05])
    fig.update_yaxes(autorange="reversed", automargin=True)
    height = max(220, 60 + 28 * df.height)
    return _layout(fig, title, height=height)


def count_bars(
    df: pl.DataFrame,
    *,
    category: str,
    values: dict[str, str],
    title: str,
    stacked: bool = False,
    x_title: str | None = None,
) -> go.Figure:
    """Horizontal bars of published counts per category (one trace per value column)."""
    fig = go.Figure()
    for i, (column, label) in enumerate(values.items()):
        fig.add_bar(
            y=df[category].to_list(),
            x=df[column].to_list(),
            name=label,
            orientation="h",
            marker_color=SERIES[i % len(SERIES)],
            hovertemplate="%{y}: %{x:,} " + label.lower() + "<extra></extra>",
        )
    fig.update_layout(barmode="stack" if stacked else "group", bargap=0.2)
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title_text=x_title)
    height = max(240, 70 + (22 if stacked else 14 * max(len(values), 1) + 8) * df.height)
    return _layout(fig, title, height=height)


def distribution(
    df: pl.DataFrame,
    *,
    value: str,
    group: str,
    title: str,
    order: Sequence[str] | None = None,
    log: bool = True,
    unit: str = "hours",
) -> go.Figure:
    """Box plots with every point, one per group: the whole distribution, not just the median."""
    fig = go.Figure()
    groups = list(order) if order else sorted(df[group].unique().drop_nulls().to_list())
    for i, g in enumerate(groups):
        values = df.filter(pl.col(group) == g)[value].to_list()
        if not values:
            continue
        fig.add_box(
            x=values,
            name=str(g),
            orientation="h",
            boxpoints="outliers",
            marker={"color": SERIES[i % len(SERIES)], "size": 4},
            line={"width": 1.5},
            hovertemplate="%{x:.1f} " + unit + "<extra>" + str(g) + "</extra>",
        )
    fig.update_layout(showlegend=False)
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(type="log" if log else "linear", title_text=unit + (" (log scale)" if log else ""))
    return _layout(fig, title, height=max(240, 80 + 42 * len(groups)))


def histogram(df: pl.DataFrame, *, value: str, title: str, x_title: str, nbins: int = 40) -> go.Figure:
    """Histogram of one published per-record value (e.g. start variance in minutes)."""
    fig = go.Figure(
        go.Histogram(
            x=df[value].to_list(),
            nbinsx=nbins,
            marker_color=COLOURS["primary"],
            hovertemplate="%{x}: %{y:,} changes<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_dash="dot", line_color=COLOURS["neutral"])
    fig.update_xaxes(title_text=x_title)
    return _layout(fig, title, y_title="changes")


SCHEDULE_ROW_PX = 24  # px per change row of the schedule
UNGROUPED = "(none)"


def schedule(
    df: pl.DataFrame,
    *,
    group: str,
    title: str,
    hover: Sequence[tuple[str, str]] = (),
    bands: Sequence[tuple[object, object, str]] = (),
    x_range: tuple[object, object] | None = None,
) -> go.Figure:
    """The interactive forward schedule: one bar per change from ``planned_start_at`` to
    ``planned_end_at``, on a two-level axis (``group``, e.g. the service or CI, then the change
    number): groups ordered by their first planned start, the changes in each by planned start.

    One colour meaning with the CAB page and pack (changeboard.reports.palette): the bar's colour is
    the published risk indicator (``risk_level``), a colliding change (``has_collision``) is outlined
    and hatched in the collision colour, blackout windows (``bands``: start, end, label) are shaded.
    Zoom with the range slider under the chart (or by dragging); the time axis is drawn above and
    below the bars; ``hover`` (column, label) pairs make the tooltip."""
    frame = df.with_columns(
        pl.col(group).cast(pl.String).fill_null(UNGROUPED).alias("_group"),
        pl.col("has_collision").fill_null(False).alias("_collides"),
    )
    first = frame.group_by("_group").agg(pl.col("planned_start_at").min().alias("_first"))
    frame = frame.join(first, on="_group").sort(["_first", "_group", "planned_start_at", "number"])
    fig = go.Figure()
    for b_start, b_end, label in bands:
        fig.add_vrect(
            x0=b_start,
            x1=b_end,
            fillcolor=palette.BLACKOUT,
            opacity=0.16,
            line_width=0,
            layer="below",
            annotation_text=label,
            annotation_position="top left",
            annotation_font_size=10,
            annotation_font_color=palette.BLACKOUT,
        )
    starts = frame["planned_start_at"].to_list()
    ends = frame["planned_end_at"].to_list()
    widths = [(e - s).total_seconds() * 1000 if s and e else 0 for s, e in zip(starts, ends, strict=True)]
    collides = frame["_collides"].to_list()
    risk = frame["risk_level"].to_list() if "risk_level" in frame.columns else [None] * frame.height
    fig.add_bar(
        base=starts,
        x=widths,
        y=[frame["_group"].to_list(), frame["number"].to_list()],
        orientation="h",
        name="changes",
        showlegend=False,
        marker={
            "color": [palette.RISK_COLOURS.get(str(r), palette.RISK_UNKNOWN) for r in risk],
            "line": {
                "color": [palette.COLLISION if c else "rgba(0,0,0,0)" for c in collides],
                "width": [2.5 if c else 0 for c in collides],
            },
            "pattern": {
                "shape": ["/" if c else "" for c in collides],
                "fgcolor": palette.COLLISION,
                "size": 6,
            },
        },
        customdata=frame.select([c for c, _ in hover]).rows() if hover else None,
        hovertemplate="<br>".join(f"{label}: %{{customdata[{j}]}}" for j, (_, label) in enumerate(hover))
        + "<extra></extra>",
    )
    # the legend: what a colour and an outline mean (the same as the CAB timeline's)
    for level, colour in palette.RISK_COLOURS.items():
        fig.add_bar(
            x=[None], y=[[None], [None]], orientation="h", name=f"risk indicator {level}", marker_color=colour
        )
    fig.add_bar(
        x=[None],
        y=[[None], [None]],
        orientation="h",
        name="collides",
        marker={
            "color": "white",
            "line": {"color": palette.COLLISION, "width": 2},
            "pattern": {"shape": "/"},
        },
    )
    if bands:
        fig.add_bar(
            x=[None],
            y=[[None], [None]],
            orientation="h",
            name="blackout window",
            marker={"color": palette.BLACKOUT, "opacity": 0.3},
        )
    # a second, top time axis matching the bottom one: the axis stays in view on a long schedule
    if starts:
        fig.add_scatter(
            x=[min(s for s in starts if s), max(e for e in ends if e)],
            y=[[frame["_group"][0]] * 2, [frame["number"][0]] * 2],
            xaxis="x2",
            mode="markers",
            marker={"opacity": 0},
            hoverinfo="skip",
            showlegend=False,
        )
    rows = frame.height
    fig = _layout(fig, title, height=max(360, 250 + SCHEDULE_ROW_PX * rows))
    fig.update_layout(title={"yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 10}})
    fig.update_layout(
        barmode="overlay",
        legend={
            "orientation": "h",
            "yref": "container",
            "yanchor": "bottom",
            "y": 0,
            "x": 0,
            "xanchor": "left",
        },
        # room above for the title over the top time axis, below for the range slider and the legend
        margin={"t": 118, "b": 96},
        hovermode="closest",
        xaxis={
            "type": "date",
            "range": list(x_range) if x_range else None,
            "showgrid": True,
            "gridcolor": "#eaeef2",
            "rangeslider": {"visible": True, "thickness": 0.06},
            "tickformat": "%a %d %b\n%H:%M",
        },
        xaxis2={
            "type": "date",
            "overlaying": "x",
            "matches": "x",
            "side": "top",
            "showgrid": False,
            "tickformat": "%a %d %b\n%H:%M",
        },
    )
    fig.update_yaxes(autorange="reversed", automargin=True, type="multicategory", dividercolor="#d0d7de")
    return fig


def stacked_bars(
    df: pl.DataFrame,
    *,
    x: str,
    series: dict[str, str],
    title: str,
    colours: Sequence[str] | None = None,
    line: tuple[str, str] | None = None,
    y_title: str = "changes",
) -> go.Figure:
    """Stacked bars of published counts per period (e.g. the backlog by age bucket), with an optional
    line of another published count (e.g. overdue changes)."""
    fig = go.Figure()
    palette = list(colours or SERIES)
    for i, (column, label) in enumerate(series.items()):
        fig.add_bar(
            x=df[x].to_list(),
            y=df[column].to_list(),
            name=label,
            marker_color=palette[i % len(palette)],
            hovertemplate="%{x|%d %b %Y}: %{y:,} " + label + "<extra></extra>",
        )
    if line is not None:
        column, label = line
        fig.add_scatter(
            x=df[x].to_list(),
            y=df[column].to_list(),
            name=label,
            mode="lines+markers",
            line={"color": COLOURS["bad"], "width": 2},
            hovertemplate="%{x|%d %b %Y}: %{y:,} " + label + "<extra></extra>",
        )
    fig.update_layout(barmode="stack", bargap=0.25)
    return _layout(fig, title, y_title=y_title)


def heat_table(
    df: pl.DataFrame,
    *,
    row: str,
    column: str,
    value: str,
    text: str,
    title: str,
    threshold: float | None = None,
) -> go.Figure:
    """A heat table of a published 0..1 value (e.g. coverage) per row x column, each cell labelled with
    ``text`` (e.g. '86.7 % (1,496 / 1,725)'); missing cells stay blank. Cells below ``threshold`` are
    red, the rest run from amber to green."""
    rows = sorted(df[row].unique().drop_nulls().to_list())
    cols = df[column].unique(maintain_order=True).drop_nulls().to_list()
    lookup = {(r, c): (v, t) for r, c, v, t in df.select(row, column, value, text).iter_rows()}
    z = [[lookup.get((r, c), (None, ""))[0] for c in cols] for r in rows]
    labels = [[lookup.get((r, c), (None, ""))[1] for c in cols] for r in rows]
    cut = threshold if threshold is not None else 0.8
    scale = [
        [0.0, COLOURS["bad"]],
        [max(cut - 0.001, 0.0), "#f4b6b9"],
        [cut, "#fff1c2"],
        [1.0, "#aceebb"],
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=cols,
            y=rows,
            text=labels,
            texttemplate="%{text}",
            textfont={"size": 11},
            colorscale=scale,
            zmin=0,
            zmax=1,
            xgap=2,
            ygap=2,
            hovertemplate="%{y} · %{x}: %{text}<extra></extra>",
            colorbar={"tickformat": ".0%", "title": {"text": "coverage"}, "len": 0.8},
        )
    )
    fig.update_xaxes(side="top", type="category", showgrid=False)
    fig.update_yaxes(autorange="reversed", type="category", automargin=True, showgrid=False)
    fig = _layout(fig, title, height=max(240, 90 + 30 * len(rows)))
    fig.update_layout(margin={"t": 80})
    return fig


def calendar_scatter(
    df: pl.DataFrame,
    *,
    x: str,
    y: str,
    colour: str,
    title: str,
    text: str | None = None,
    colours: dict[str, str] | None = None,
) -> go.Figure:
    """Points on a time axis by category (e.g. releases by date, coloured by state)."""
    fig = go.Figure()
    palette = colours or {}
    for i, key in enumerate(df[colour].unique(maintain_order=True).to_list()):
        part = df.filter(pl.col(colour) == key) if key is not None else df.filter(pl.col(colour).is_null())
        fig.add_scatter(
            x=part[x].to_list(),
            y=part[y].to_list(),
            mode="markers",
            name=str(key),
            text=part[text].to_list() if text else None,
            marker={
                "size": 11,
                "color": palette.get(str(key), SERIES[i % len(SERIES)]),
                "line": {"width": 1, "color": "white"},
            },
            hovertemplate="%{text}<br>%{x|%d %b %Y %H:%M}<extra></extra>" if text else None,
        )
    fig.update_yaxes(automargin=True, type="category")
    return _layout(fig, title, height=max(260, 90 + 26 * df[y].n_unique()))


def category_histogram(
    df: pl.DataFrame,
    *,
    column: str,
    title: str,
    order: Sequence[str] | None = None,
    colour: str | None = None,
) -> go.Figure:
    """Bars of how many records fall in each category (drawn from the records, not a published metric)."""
    fig = go.Figure(
        go.Histogram(
            y=df[column].cast(pl.String).to_list(),
            marker_color=colour or COLOURS["primary"],
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        )
    )
    fig.update_yaxes(
        automargin=True,
        type="category",
        categoryorder="array" if order else "total descending",
        categoryarray=list(order) if order else None,
        autorange="reversed" if order else None,
    )
    fig.update_layout(bargap=0.25)
    return _layout(fig, title, height=max(220, 80 + 34 * df[column].n_unique()))


def score_bars(df: pl.DataFrame, *, category: str, value: str, title: str, decimals: int = 0) -> go.Figure:
    """Horizontal bars of a published score, green above zero and red below."""
    values = df[value].to_list()
    fig = go.Figure(
        go.Bar(
            y=df[category].to_list(),
            x=values,
            orientation="h",
            marker_color=[COLOURS["good"] if (v or 0) >= 0 else COLOURS["bad"] for v in values],
            text=[f"{v:,.{decimals}f}" if v is not None else "—" for v in values],
            textposition="outside",
            hovertemplate=f"%{{y}}: %{{x:,.{decimals}f}}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.add_vline(x=0, line_color=COLOURS["neutral"])
    return _layout(fig, title, height=max(240, 70 + 22 * df.height))
