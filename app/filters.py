"""Sidebar filters shared by every page, persisted in ``st.session_state`` across page switches.

The pure part (:class:`Filters` and the period helpers) is testable without Streamlit; the sidebar
itself is :func:`render_sidebar`, called once per run by the entrypoint so the widgets exist on every
page. Filter values select rows; they never feed arithmetic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

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


def period_label(start: date, grain: str, days_covered: int | None = None) -> str:
    """Human label of a period: 'Nov 2026' or 'week of 23 Nov 2026'; a period the data does not
    cover to its end says so: 'Dec 2026, month to date (4 of 31 days)'."""
    if grain == "week":
        label = f"week of {start.day} {start:%b %Y} (W{start.isocalendar().week:02d})"
    else:
        label = f"{start:%b %Y}"
    if days_covered is not None:
        length = (next_period(start, grain) - start).days
        label += f", {grain} to date ({days_covered} of {length} days)"
    return label


def days_covered(start: date, grain: str, as_of: datetime | date | None) -> int | None:
    """Days of the period the data covers when ``as_of`` (the build's "now") falls inside it; None
    for a complete period (or when "now" is unknown)."""
    if as_of is None:
        return None
    now = as_of if isinstance(as_of, datetime) else datetime(as_of.year, as_of.month, as_of.day)
    end = next_period(start, grain)
    if not (start <= now.date() < end):
        return None
    started = datetime(start.year, start.month, start.day, tzinfo=now.tzinfo)
    return max(1, -(-int((now - started).total_seconds()) // 86_400))  # a begun day counts


def default_period(periods: list[date], grain: str, as_of: datetime | date | None) -> date | None:
    """The period a page opens on: the newest complete one; the newest when none is complete."""
    complete = [p for p in periods if days_covered(p, grain, as_of) is None]
    if complete:
        return complete[0]
    return periods[0] if periods else None


@dataclass(frozen=True)
class Filters:
    """The filters in force for one run of a page."""

    grain: str = "month"
    period_start: date | None = None
    trend_periods: int = 12
    dims: dict[str, str] = field(default_factory=dict)  # filter name -> selected value
    # Days of the selected period the data covers, when the build's "now" falls inside it.
    partial_days: int | None = None

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
        if not self.period_start:
            return "no period"
        return period_label(self.period_start, self.grain, self.partial_days)

    @property
    def compared_window(self) -> str | None:
        """The days of the period before that a period to date is compared with, '1-4 Nov 2026' (None
        for a complete period). rpt_change_kpis_to_date publishes its figures (DECISIONLOG D44)."""
        if self.partial_days is None or not self.period_start or not self.previous_start:
            return None
        first = self.previous_start
        last = min(first + timedelta(days=self.partial_days - 1), self.period_start - timedelta(days=1))
        if first == last:
            return f"{first.day} {first:%b %Y}"
        return f"{first.day}{'' if first.month == last.month else f' {first:%b}'}–{last.day} {last:%b %Y}"

    @property
    def previous_label(self) -> str:
        """What a tile's change is measured against: 'before' (the whole period before), or 'on 1-4 Nov
        2026 (like for like)' for a period to date."""
        window = self.compared_window
        return f"on {window} (like for like)" if window else "before"

    @property
    def comparison_note(self) -> str | None:
        """How a period to date is compared (like for like), or None for a complete period."""
        window = self.compared_window
        if window is None:
            return None
        return (
            f"{self.label} is not complete: its figures cover {self.partial_days} days and are compared "
            f"like for like with the same days of the period before ({window})."
        )

    @property
    def combined(self) -> list[str]:
        """Labels of the dimension filters set, when more than one is (the published KPIs break down by
        one at a time); [] otherwise."""
        chosen = [DIMENSIONS[n][2] for n, v in self.dims.items() if v]
        return chosen if len(chosen) > 1 else []

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

    def describe(self, values: Mapping[str, str]) -> str:
        """One line saying what is selected, each filter's value in words (``values``: the published
        value labels, rpt_display_labels)."""
        return " · ".join([self.label, *self.chosen_in_words(values)])

    def chosen_in_words(self, values: Mapping[str, str], *, exclude: Collection[str] = ()) -> list[str]:
        """Each chosen filter but those in ``exclude`` as "change type: Normal" (its value in words)."""
        return [
            f"{DIMENSIONS[n][2].lower()}: {values.get(v, v)}"
            for n, v in self.dims.items()
            if v and n not in exclude
        ]


def _key(name: str) -> str:
    return STATE_PREFIX + name


AS_OF_KEY = STATE_PREFIX + "as_of"
URL_LOADED_KEY = STATE_PREFIX + "url_loaded"


def current() -> Filters:
    """The filters in force, read from session state (set by :func:`render_sidebar`)."""
    ss = st.session_state
    grain = ss.get(_key("grain"), "month")
    start = ss.get(_key("period"))
    start = start if isinstance(start, date) else None
    return Filters(
        grain=grain,
        period_start=start,
        trend_periods=int(ss.get(_key("trend"), DEFAULT_TREND_PERIODS[grain])),
        dims={name: ss.get(_key(name)) for name in DIMENSIONS if ss.get(_key(name))},
        partial_days=days_covered(start, grain, ss.get(AS_OF_KEY)) if start else None,
    )


def to_query(f: Filters) -> dict[str, str]:
    """The URL query parameters that reproduce ``f`` (a view can be bookmarked and shared)."""
    params = {"grain": f.grain}
    if f.period_start:
        params["period"] = f.period_start.isoformat()
    params["trend"] = str(f.trend_periods)
    params.update(f.dims)
    return params


def from_query(params: Mapping[str, str]) -> dict[str, object]:
    """Session-state values from URL query parameters; values that do not parse are left out (the
    sidebar then falls back to its defaults)."""
    state: dict[str, object] = {}
    if params.get("grain") in GRAINS:
        state[_key("grain")] = params["grain"]
    with contextlib.suppress(ValueError):
        state[_key("period")] = date.fromisoformat(params.get("period", ""))
    trend = params.get("trend", "")
    if trend.isdigit():
        state[_key("trend")] = int(trend)
    for name in DIMENSIONS:
        if params.get(name):
            state[_key(name)] = params[name]
    return state


URL_KEYS = ("grain", "period", "trend", *DIMENSIONS)


def _write_query(params: dict[str, str]) -> None:
    """Put the filters in the URL, leaving the parameters of other pages (the form's ``form``) alone."""
    for key in URL_KEYS:
        if key in params:
            if st.query_params.get(key) != params[key]:
                st.query_params[key] = params[key]
        elif key in st.query_params:
            del st.query_params[key]


def _load_url_once() -> None:
    """Seed the filters from the URL on a session's first run (a shared or bookmarked link)."""
    ss = st.session_state
    if ss.get(URL_LOADED_KEY):
        return
    ss[URL_LOADED_KEY] = True
    for key, value in from_query(st.query_params.to_dict()).items():
        ss[key] = value


def render_sidebar(
    periods_by_grain: dict[str, list[date]],
    choices: dict[str, list[str]],
    *,
    as_of: datetime | date | None = None,
    value_labels: Mapping[str, str] | None = None,
) -> Filters:
    """Draw the filters in the sidebar and return them; the URL's query parameters follow them.

    ``periods_by_grain`` lists the published periods (newest first) per grain; ``choices`` lists the
    values per filter name; ``as_of`` is the build's "now": the period opens on the newest complete
    one and a period "now" falls in is labelled as to date; ``value_labels`` words the filters' values
    (the URL and the queries keep the stored ones). Values that are no longer offered
    (another grain, another version, a stale link) are reset instead of raising.
    """
    ss = st.session_state
    sb = st.sidebar
    labels = value_labels or {}
    ss[AS_OF_KEY] = as_of
    _load_url_once()
    sb.markdown("**Filters** (kept across pages)")
    if ss.get(_key("grain")) not in GRAINS:  # first run, or a stale value: the widget's default
        ss[_key("grain")] = "month"
    grain = sb.segmented_control(
        "Grain",
        GRAINS,
        required=True,
        key=_key("grain"),
        format_func=str.capitalize,
        persist_state="session",
    )
    grain = grain or "month"
    periods = periods_by_grain.get(grain, [])
    if ss.get(_key("period")) not in periods:
        ss.pop(_key("period"), None)
        default = default_period(periods, grain, as_of)
        if default is not None:
            ss[_key("period")] = default
    sb.selectbox(
        "Period",
        periods,
        key=_key("period"),
        format_func=lambda d: period_label(d, grain, days_covered(d, grain, as_of)),
        help="KPIs are for this period, compared with the one before. Trends end with it. "
        "The newest complete period is chosen by default.",
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
            format_func=lambda v: labels.get(v, v),
            key=_key(name),
            persist_state="session",
        )
    if any(ss.get(_key(n)) for n in DIMENSIONS):
        sb.button("Clear filters", on_click=clear_dimension_filters, key="flt_clear")
    chosen = current()
    if chosen.comparison_note:
        sb.warning(chosen.comparison_note, icon=":material/date_range:")
    _write_query(to_query(chosen))
    return chosen


def clear_dimension_filters() -> None:
    """Reset service, group, type, risk and source (callback of the Clear button)."""
    for name in DIMENSIONS:
        st.session_state[_key(name)] = None
