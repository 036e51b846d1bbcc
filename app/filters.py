"""Sidebar filters shared by every page, persisted in ``st.session_state`` across page switches.

The pure part (:class:`Filters` and the period helpers) is testable without Streamlit; the sidebar
itself is :func:`render_sidebar`, called once per run by the entrypoint so the widgets exist on every
page. Filter values select rows; they never feed arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import streamlit as st

GRAINS = ("month", "week")
DEFAULT_TREND_PERIODS = {"month": 12, "week": 13}

# Filter name -> (rpt_change_kpis dimension, fct_changes column, label). The order is the precedence
# used when more than one filter is set (rpt_change_kpis breaks down by one dimension at a time).
DIMENSIONS: dict[str, tuple[str, str, str]] = {
    "service": ("service", "service_name", "Service"),
    "assignment_group": ("assignment_group", "assignment_group", "Assignment group"),
    "change_type": ("change_type", "change_type", "Change type"),
    "risk": ("risk", "risk", "Risk"),
    "source_system": ("source_system", "source_system", "Source system"),
}

STATE_PREFIX = "flt_"


def next_period(start: date, grain: str) -> date:
    """First day of the period after the one starting at ``start``."""
    if grain == "week":
        return start + timedelta(days=7)
    return date(start.year + (start.month == 12), start.month % 12 + 1, 1)


def previous_period(start: date, grain: str) -> date:
    """First day of the period before the one starting at ``start``."""
    if grain == "week":
        return start - timedelta(days=7)
    return date(start.year - (start.month == 1), (start.month - 2) % 12 + 1, 1)


def periods_back(start: date, grain: str, n: int) -> date:
    """First day of the period ``n - 1`` periods before ``start`` (a window of ``n`` periods)."""
    for _ in range(max(n - 1, 0)):
        start = previous_period(start, grain)
    return start


def period_label(start: date, grain: str) -> str:
    """Human label of a period: 'Nov 2026' or 'week of 23 Nov 2026'."""
    if grain == "week":
        return f"week of {start.day} {start:%b %Y} (W{start.isocalendar().week:02d})"
    return f"{start:%b %Y}"


@dataclass(frozen=True)
class Filters:
    """The filters in force for one run of a page."""

    grain: str = "month"
    period_start: date | None = None
    trend_periods: int = 12
    dims: dict[str, str] = field(default_factory=dict)  # filter name -> selected value

    @property
    def period_end(self) -> date | None:
        """Exclusive end of the selected period."""
        return next_period(self.period_start, self.grain) if self.period_start else None

    @property
    def previous_start(self) -> date | None:
        return previous_period(self.period_start, self.grain) if self.period_start else None

    @property
    def trend_start(self) -> date | None:
        return periods_back(self.period_start, self.grain, self.trend_periods) if self.period_start else None

    @property
    def label(self) -> str:
        return period_label(self.period_start, self.grain) if self.period_start else "no period"

    def kpi_slice(self) -> tuple[str, str, list[str]]:
        """The rpt_change_kpis (dimension, dimension_value) the filters select, and the filters that the
        published KPIs cannot apply (the report breaks down by one dimension at a time)."""
        chosen = [(name, value) for name, value in self.dims.items() if value]
        if not chosen:
            return "all", "all", []
        name, value = chosen[0]
        return DIMENSIONS[name][0], value, [DIMENSIONS[n][2] for n, _ in chosen[1:]]

    def record_filters(self) -> dict[str, str]:
        """fct_changes column -> value for the record-level queries (all filters apply)."""
        return {DIMENSIONS[name][1]: value for name, value in self.dims.items() if value}

    def describe(self) -> str:
        """One line saying what is selected."""
        parts = [self.label]
        parts += [f"{DIMENSIONS[n][2].lower()}: {v}" for n, v in self.dims.items() if v]
        return " · ".join(parts)


def _key(name: str) -> str:
    return STATE_PREFIX + name


def current() -> Filters:
    """The filters in force, read from session state (set by :func:`render_sidebar`)."""
    ss = st.session_state
    grain = ss.get(_key("grain"), "month")
    start = ss.get(_key("period"))
    return Filters(
        grain=grain,
        period_start=start if isinstance(start, date) else None,
        trend_periods=int(ss.get(_key("trend"), DEFAULT_TREND_PERIODS[grain])),
        dims={name: ss.get(_key(name)) for name in DIMENSIONS if ss.get(_key(name))},
    )


def render_sidebar(periods_by_grain: dict[str, list[date]], choices: dict[str, list[str]]) -> Filters:
    """Draw the filters in the sidebar and return them.

    ``periods_by_grain`` lists the published periods (newest first) per grain; ``choices`` lists the
    values per filter name. Values that are no longer offered (another grain, another version) are
    reset instead of raising.
    """
    ss = st.session_state
    sb = st.sidebar
    sb.markdown("**Filters** (kept across pages)")
    grain = sb.segmented_control(
        "Grain",
        GRAINS,
        default="month",
        required=True,
        key=_key("grain"),
        format_func=str.capitalize,
        persist_state="session",
    )
    grain = grain or "month"
    periods = periods_by_grain.get(grain, [])
    if ss.get(_key("period")) not in periods:
        ss.pop(_key("period"), None)
    sb.selectbox(
        "Period",
        periods,
        index=0 if periods else None,
        key=_key("period"),
        format_func=lambda d: period_label(d, grain),
        help="KPIs are for this period, compared with the one before. Trends end with it.",
        persist_state="session",
    )
    trend_max = 36 if grain == "month" else 52
    if _key("trend") not in ss:
        ss[_key("trend")] = DEFAULT_TREND_PERIODS[grain]
    ss[_key("trend")] = min(max(int(ss[_key("trend")]), 3), trend_max)
    sb.slider(
        f"Trend length ({grain}s)",
        min_value=3,
        max_value=trend_max,
        key=_key("trend"),
        persist_state="session",
    )
    for name, (_dim, _col, label) in DIMENSIONS.items():
        options = choices.get(name, [])
        if ss.get(_key(name)) not in (None, *options):
            ss.pop(_key(name), None)
        sb.selectbox(
            label,
            options,
            index=None,
            placeholder="All",
            key=_key(name),
            persist_state="session",
        )
    if any(ss.get(_key(n)) for n in DIMENSIONS):
        sb.button("Clear filters", on_click=clear_dimension_filters, key="flt_clear")
    return current()


def clear_dimension_filters() -> None:
    """Reset service, group, type, risk and source (callback of the Clear button)."""
    for name in DIMENSIONS:
        st.session_state[_key(name)] = None
