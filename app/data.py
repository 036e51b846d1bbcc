"""The app's questions to the warehouse: one typed function per question.

Rules (STYLE.md B5.3): keyword-only options, values bound as DuckDB parameters (never formatted into
SQL), selects only from the public ``fct_`` / ``dim_`` / ``rpt_`` models, returns polars. Results are
cached per published version by :func:`app.db.query`. Identifiers that vary (a filter column, a
named subset of changes) come from the whitelists below, never from the user.

The app shows the numbers the dbt models publish; it never recomputes a metric. The only counting
done here is for the *exploratory* attribution controls on the Incidents page, which are labelled as
such on screen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime

import polars as pl
from changeboard.app import db

# Columns a record-level filter may constrain (fct_changes / fct_incidents).
CHANGE_FILTER_COLUMNS = frozenset(
    {"service_name", "assignment_group", "change_type", "risk", "source_system"}
)
INCIDENT_FILTER_COLUMNS = frozenset({"service_name"})

# Which timestamp assigns a change to a period (docs/metrics.md conventions).
EVENT_COLUMNS = {
    "closed": "closed_at",  # outcome metrics
    "opened": "opened_at",  # intake metrics
    "deployed": "actual_end_at",  # deployment metrics
    "planned": "planned_start_at",  # schedule
}

# Named subsets of fct_changes behind each KPI (constant SQL, no user values).
CHANGE_SUBSETS = {
    "all": "true",
    "completed": "is_completed",
    "successful": "is_successful",  # fct_changes' flag: the success predicate is written once, in dbt
    "unsuccessful": "is_completed and is_failed_itil",
    "failed": "is_completed and is_failed",
    "failed_incident": "is_completed and is_failed_incident",
    "disagreement": "is_completed and (is_failed_itil <> is_failed_incident)",
    "unauthorized": "is_completed and is_unauthorized",
    "outside_window": "is_completed and is_outside_window",
    "window_checked": "is_completed and is_window_checked",
    "emergency": "is_emergency",
    "caused_incident": "has_caused_incident",
    "open": "state_category in ('open', 'in_progress')",
    "negative_duration": "has_negative_duration",
}

CHANGE_COLUMNS = (
    "number",
    "title",
    "change_type",
    "risk",
    "state",
    "outcome",
    "is_backed_out",
    "service_name",
    "assignment_group",
    "primary_ci_name",
    "release_id",
    "opened_at",
    "approved_at",
    "planned_start_at",
    "planned_end_at",
    "actual_start_at",
    "actual_end_at",
    "closed_at",
    "request_lead_time_hours",
    "approval_time_hours",
    "queue_time_hours",
    "implementation_hours",
    "lead_time_to_production_hours",
    "start_variance_minutes",
    "end_variance_minutes",
    "is_failed_itil",
    "is_failed_incident",
    "is_failed",
    "caused_incident_count",
    "caused_p1_count",
    "caused_p2_count",
    "caused_p3_count",
    "is_unauthorized",
    "unauthorized_reason",
    "is_outside_window",
    "in_blackout",
    "source_system",
    "change_id",
)

DURATION_COLUMNS = {
    "request_lead_time_hours": "Request lead time",
    "approval_time_hours": "Approval time",
    "queue_time_hours": "Queue time",
    "implementation_hours": "Implementation",
    "lead_time_to_production_hours": "Lead time to production",
}


def _where(filters: Mapping[str, str] | None, allowed: frozenset[str]) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    for column, value in (filters or {}).items():
        if column not in allowed:
            raise ValueError(f"not a filterable column: {column!r}")
        if value is None:
            continue
        clauses.append(f"{column} = ?")
        params.append(value)
    return "".join(f" and {c}" for c in clauses), params


# Rows of a record list shown at a time (``CHANGEBOARD_PAGE_ROWS``, default 500); the CSV download
# holds them all.
ENV_PAGE_ROWS = "CHANGEBOARD_PAGE_ROWS"


def _page_rows() -> int:
    text = os.environ.get(ENV_PAGE_ROWS, "500")
    try:
        rows = int(text)
    except ValueError:
        rows = 0
    if not 10 <= rows <= 100_000:
        raise ValueError(
            f"{ENV_PAGE_ROWS}={text!r}: the rows of a record list page must be a number from 10 to 100000"
        )
    return rows


PAGE_ROWS = _page_rows()


@dataclass(frozen=True)
class Records:
    """The records behind a number, as a query rather than a frame: counted, shown a page at a time
    and downloaded whole, so a period of 30,000 changes costs the page a count and 500 rows.

    ``sql`` is constant text from this module (values bound as ``?``); ``where``, ``columns`` and
    ``order`` narrow, project and sort its output by column name (names from the code, never the user).
    """

    sql: str
    params: tuple[object, ...] = ()
    order: str = ""
    columns: tuple[str, ...] = ()
    condition: str = ""
    keyed: str = ""  # the same select with the table's rowid as _row (see of_table)
    # Columns added to the rows a page or a download holds, not to the rows counted or sorted: a
    # select over `shown` (every column of those rows) that keeps them and adds its own.
    decorate: str = ""

    @classmethod
    def of_table(
        cls, select_list: str, table: str, where: str, params: tuple[object, ...] = (), *, order: str
    ) -> Records:
        """Records of one table: a page then sorts the row ids and reads the wide rows of that page only
        (DuckDB otherwise reads every column of every matching row before keeping 500: 2-3x slower)."""
        return cls(
            f"select {select_list} from {table} where {where}",
            params,
            order=order,
            keyed=f"select rowid as _row, {select_list} from {table} where {where}",
        )

    def select(self, *columns: str) -> Records:
        return replace(self, columns=columns)

    def sort(self, order: str) -> Records:
        return replace(self, order=order)

    def where(self, condition: str) -> Records:
        """Only the rows meeting ``condition`` (over the output's column names)."""
        both = f"({self.condition}) and ({condition})" if self.condition else condition
        return replace(self, condition=both)

    def _rows(self) -> str:
        return f"from ({self.sql}) as records" + (f" where {self.condition}" if self.condition else "")

    def _select(self) -> str:
        order = f" order by {self.order}" if self.order else ""
        if self.decorate:
            return self._decorated(f"select * {self._rows()}")
        return f"select {', '.join(self.columns) or '*'} {self._rows()}{order}"

    def _decorated(self, rows: str) -> str:
        order = f" order by {self.order}" if self.order else ""
        return (
            f"with shown as ({rows}) select {', '.join(self.columns) or '*'} "
            f"from ({self.decorate}) as records{order}"
        )

    def count(self) -> int:
        return int(db.query(f"select count(*) as n {self._rows()}", self.params)["n"][0])

    def is_empty(self) -> bool:
        return self.count() == 0

    def page(self, number: int = 0, *, size: int | None = None) -> pl.DataFrame:
        """Rows ``number * size`` to ``(number + 1) * size`` in order (size: PAGE_ROWS)."""
        size = PAGE_ROWS if size is None else int(size)
        if not self.keyed:
            return db.query(f"{self._select()} limit ? offset ?", (*self.params, size, int(number) * size))
        where = f" where {self.condition}" if self.condition else ""
        order = f" order by {self.order}" if self.order else ""
        keys = f"select _row from ({self.keyed}) as records{where}{order} limit ? offset ?"
        paged = f"from ({self.keyed}) as records where _row in ({keys})"
        params = (*self.params, *self.params, size, int(number) * size)
        if self.decorate:
            return db.query(self._decorated(f"select * exclude (_row) {paged}"), params)
        return db.query(f"select {', '.join(self.columns) or '* exclude (_row)'} {paged}{order}", params)

    def frame(self) -> pl.DataFrame:
        """Every row (for charts over a narrow projection; record lists page instead)."""
        return db.query(self._select(), self.params)

    def download(self, convert: Callable[[pl.DataFrame], bytes]) -> Callable[[], bytes]:
        """Every row, converted when the user asks for the file (see :func:`app.db.deferred`)."""
        return db.deferred(self._select(), self.params, convert)


# --- the warehouse itself -------------------------------------------------------------------------


def warehouse_version() -> pl.DataFrame:
    """The version row the build wrote (version, built_at, ...)."""
    return db.query("select * from warehouse_version")


def metric_definitions() -> pl.DataFrame:
    """rpt_metric_definitions: every KPI's label, unit, direction, value / numerator / denominator
    columns, population, band and confidence metric, and its help text (the dbt doc block)."""
    return db.query("select * from rpt_metric_definitions order by display_order")


# --- filter choices and periods ---------------------------------------------------------------------


def dimension_values() -> pl.DataFrame:
    """Every (dimension, dimension_value) the KPI report breaks down by, for the sidebar filters."""
    return db.query(
        "select distinct dimension, dimension_value from rpt_change_kpis "
        "where dimension <> 'all' and dimension_value <> '(none)' order by dimension, dimension_value"
    )


def periods(*, grain: str) -> list[date]:
    """Published periods of a grain, newest first."""
    df = db.query(
        "select distinct period_start from rpt_change_kpis where period_grain = ? and dimension = 'all' "
        "order by period_start desc",
        (grain,),
    )
    return df["period_start"].to_list()


# --- published KPIs --------------------------------------------------------------------------------


def change_kpis(*, grain: str, dimension: str, value: str, start: date, end: date) -> pl.DataFrame:
    """rpt_change_kpis rows of one slice for the periods starting in [start, end), oldest first."""
    return db.query(
        "select * from rpt_change_kpis where period_grain = ? and dimension = ? and dimension_value = ? "
        "and period_start >= ? and period_start < ? order by period_start",
        (grain, dimension, value, start, end),
    )


def change_kpis_by(*, grain: str, dimension: str, period_start: date) -> pl.DataFrame:
    """rpt_change_kpis rows of every value of one dimension in one period."""
    return db.query(
        "select * from rpt_change_kpis where period_grain = ? and dimension = ? and period_start = ? "
        "order by completed_count desc, dimension_value",
        (grain, dimension, period_start),
    )


# The columns of rpt_change_outcome_cells a page may group by (the sidebar's filter columns and the
# primary CI); every one is also a filter column of fct_changes except the CI.
CELL_GROUP_COLUMNS = frozenset({*CHANGE_FILTER_COLUMNS, "primary_ci_name", "period_start"})
CELL_COUNTS = (
    "completed_count",
    "successful_count",
    "successful_with_issues_count",
    "unsuccessful_count",
    "backed_out_count",
    "failed_count",
    "change_success_numerator",
    "successful_incident_caused_count",
)


# The rpt_change_kpis dimension a cell column breaks down by (app/filters.py DIMENSIONS, in reverse).
KPI_DIMENSIONS = {
    "change_type": "change_type",
    "risk": "risk",
    "service_name": "service",
    "assignment_group": "assignment_group",
    "source_system": "source_system",
}


def outcome_rates() -> list[tuple[str, str, str]]:
    """(rate, numerator, denominator) of every rate rpt_metric_definitions declares over rpt_change_kpis
    whose numerator and denominator are additive outcome cells: the only formulas outcome_counts
    applies to summed cells (DECISIONLOG D49)."""
    declared = metric_definitions().filter(
        (pl.col("model_name") == "rpt_change_kpis")
        & (pl.col("unit") == "pct")
        & pl.col("numerator_column").is_in(CELL_COUNTS)
        & pl.col("denominator_column").is_in(CELL_COUNTS)
    )
    return [
        (
            _identifier(r["value_column"]),
            _identifier(r["numerator_column"]),
            _identifier(r["denominator_column"]),
        )
        for r in declared.iter_rows(named=True)
    ]


def outcome_counts(
    *,
    grain: str,
    by: str,
    start: date,
    end: date,
    filters: Mapping[str, str | None] | None = None,
) -> pl.DataFrame:
    """The published outcome counts and rates of the periods starting in [start, end) and the changes
    every filter selects, by ``by`` (a filter column, primary_ci_name or period_start) as
    ``dimension_value``: the counts of CELL_COUNTS and the declared rates of :func:`outcome_rates`.
    Most completed changes first (oldest first by period); only values with completed changes.

    Where rpt_change_kpis publishes the slice (by period under at most one filter; by one of its
    dimensions without a filter, over one period) the rows are read from it, rates included. Any other
    combination sums rpt_change_outcome_cells (which add up to rpt_change_kpis, DECISIONLOG D45) and
    divides the declared numerator by the declared denominator exactly as the warehouse does (safe_rate:
    unrounded, null on no completed change) (DECISIONLOG D49)."""
    if by not in CELL_GROUP_COLUMNS:
        raise ValueError(f"not a cell column: {by!r}")
    rates = outcome_rates()
    chosen = {c: v for c, v in (filters or {}).items() if v is not None}
    if by == "period_start" and len(chosen) <= 1:
        ((column, value),) = chosen.items() if chosen else (("all", "all"),)
        dimension = "all" if column == "all" else KPI_DIMENSIONS.get(column)
        if dimension is not None:
            return _published_outcomes(grain, "period_start", dimension, value, start, end, rates)
    if by in KPI_DIMENSIONS and not chosen and start < end and _one_period(grain, start, end):
        return _published_outcomes(grain, "dimension_value", KPI_DIMENSIONS[by], None, start, end, rates)
    return summed_outcome_counts(grain=grain, by=by, start=start, end=end, filters=chosen, rates=rates)


def _one_period(grain: str, start: date, end: date) -> bool:
    """[start, end) is exactly one week or one calendar month starting at ``start``."""
    if grain == "week":
        return (end - start).days == 7
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start.day == 1 and end == following


def _published_outcomes(
    grain: str,
    by: str,
    dimension: str,
    value: str | None,
    start: date,
    end: date,
    rates: list[tuple[str, str, str]],
) -> pl.DataFrame:
    """rpt_change_kpis rows of one slice (``value``) or of every value of ``dimension`` (None), in the
    shape of :func:`summed_outcome_counts`."""
    counts = ", ".join(f"cast({c} as bigint) as {c}" for c in CELL_COUNTS)
    published = ", ".join(r for r, _, _ in rates)
    where = "" if value is None else " and dimension_value = ?"
    order = "dimension_value" if by == "period_start" else "completed_count desc, dimension_value"
    return db.query(
        f"select {by} as dimension_value, {counts}, {published} from rpt_change_kpis "
        f"where period_grain = ? and dimension = ? and period_start >= ? and period_start < ?{where} "
        f"and completed_count > 0 order by {order}",
        (grain, dimension, start, end, *([] if value is None else [value])),
    )


def summed_outcome_counts(
    *,
    grain: str,
    by: str,
    start: date,
    end: date,
    filters: Mapping[str, str] | None = None,
    rates: list[tuple[str, str, str]] | None = None,
) -> pl.DataFrame:
    """The cells of rpt_change_outcome_cells the filters select, summed by ``by``, with each declared
    rate (rate, numerator, denominator: :func:`outcome_rates`) computed as the warehouse's safe_rate
    macro does: numerator as double / denominator, null when the denominator is 0, unrounded."""
    if by not in CELL_GROUP_COLUMNS:
        raise ValueError(f"not a cell column: {by!r}")
    where, params = _where(filters, CHANGE_FILTER_COLUMNS)
    sums = ", ".join(f"cast(sum({c}) as bigint) as {c}" for c in CELL_COUNTS)
    divided = ", ".join(
        f"case when {d} > 0 then cast({n} as double) / {d} end as {r}"
        for r, n, d in (outcome_rates() if rates is None else rates)
    )
    order = "dimension_value" if by == "period_start" else "completed_count desc, dimension_value"
    return db.query(
        f"select *, {divided} from (select {by} as dimension_value, {sums} from rpt_change_outcome_cells "
        f"where period_grain = ? and period_start >= ? and period_start < ?{where} group by 1) "
        f"where completed_count > 0 order by {order}",
        (grain, start, end, *params),
    )


def kpi_to_date(*, grain: str, dimension: str, value: str, previous_start: date) -> dict[str, object] | None:
    """The like-for-like row of the period before a period to date (rpt_change_kpis_to_date: the same
    days of ``previous_start``'s period), or None when it is not published (no event in those days,
    or ``previous_start`` is not the period before the build's current one)."""
    df = db.query(
        "select * from rpt_change_kpis_to_date where period_grain = ? and dimension = ? "
        "and dimension_value = ? and period_start = ?",
        (grain, dimension, value, previous_start),
    )
    return None if df.is_empty() else df.row(0, named=True)


def dora(*, grain: str, start: date, end: date) -> pl.DataFrame:
    """rpt_dora rows for the periods starting in [start, end), oldest first."""
    return db.query(
        "select * from rpt_dora where period_grain = ? and period_start >= ? and period_start < ? "
        "order by period_start",
        (grain, start, end),
    )


# --- records behind the numbers ----------------------------------------------------------------------


def changes(
    *,
    start: date | None = None,
    end: date | None = None,
    event: str = "closed",
    subset: str = "all",
    filters: Mapping[str, str] | None = None,
) -> Records:
    """Changes whose ``event`` timestamp falls in [start, end), of a named subset, newest first."""
    column = EVENT_COLUMNS[event]
    condition = CHANGE_SUBSETS[subset]
    where, params = _where(filters, CHANGE_FILTER_COLUMNS)
    period = ""
    if start is not None and end is not None:
        period = f" and {column} >= ? and {column} < ?"
        params = [start, end, *params]
    return Records.of_table(
        ", ".join(CHANGE_COLUMNS),
        "fct_changes",
        f"{condition}{period}{where}",
        tuple(params),
        order=f"{column} desc nulls last, number",
    )


def durations(
    *, start: date, end: date, filters: Mapping[str, str] | None = None, event: str = "closed"
) -> pl.DataFrame:
    """Long frame (change_type, assignment_group, measure, hours) of the published durations of
    completed changes in the period: the points behind the lead-time distributions (the records
    themselves are the page's paged list)."""
    column = EVENT_COLUMNS[event]
    where, params = _where(filters, CHANGE_FILTER_COLUMNS)
    unions = " union all ".join(
        f"select change_type, assignment_group, '{label}' as measure, {col} as hours "
        f"from base where {col} is not null"
        for col, label in DURATION_COLUMNS.items()
    )
    sql = (
        f"with base as (select * from fct_changes where is_completed and {column} >= ? and {column} < ?{where}) "
        f"{unions}"
    )
    return db.query(sql, (start, end, *params))


def incidents(
    *,
    start: date,
    end: date,
    service: str | None = None,
    change_caused_only: bool = False,
    cause_filters: Mapping[str, str] | None = None,
) -> Records:
    """Incidents opened in [start, end) with their primary cause, its method, confidence and evidence;
    highest priority first, then newest. ``cause_filters`` (fct_changes column -> value) keep the
    incidents whose primary cause is a change they select (a change-caused incident's type, risk,
    group and source are its cause change's)."""
    params: list[object] = [start, end]
    where = "opened_at >= ? and opened_at < ?"
    if service:
        where += " and service_name = ?"
        params.append(service)
    if change_caused_only:
        where += " and is_change_caused"
    if cause_filters:
        clauses, values = _where(cause_filters, CHANGE_FILTER_COLUMNS)
        where += f" and primary_cause_change_id in (select change_id from fct_changes where true{clauses})"
        params += values
    return Records.of_table(
        "number, title, priority, state, service_name, ci_name, opened_at, resolved_at, time_to_restore_hours, "
        "outage_hours, primary_cause_change_number as cause_change, primary_cause_method, primary_cause_confidence, "
        "primary_cause_evidence as evidence, primary_cause_release_id, is_change_caused, is_release_caused, "
        "incident_id",
        "fct_incidents",
        where,
        tuple(params),
        order="priority nulls last, opened_at desc, number",
    )


def candidates(
    *, start: date, end: date, service: str | None = None, change_filters: Mapping[str, str] | None = None
) -> Records:
    """Every candidate cause of the incidents opened in [start, end), with evidence, newest first;
    ``change_filters`` (fct_changes column -> value) keep the candidates whose change they select."""
    # both tables are stored in the order of the incident's opening: the period filter on each lets
    # DuckDB read only the period's row groups of both sides of the join
    params: list[object] = [start, end, start, end]
    sql = (
        "select k.incident_number as incident, i.priority, i.service_name, k.change_number as change, k.method, "
        "k.confidence, k.hours_after_change, k.relationship_path, k.is_counted, k.is_primary, k.evidence, "
        "k.incident_opened_at "
        "from fct_incident_change_candidates k "
        "join fct_incidents i on i.incident_id = k.incident_id "
        "where k.incident_opened_at >= ? and k.incident_opened_at < ? and i.opened_at >= ? and i.opened_at < ?"
    )
    if service:
        sql += " and i.service_name = ?"
        params.append(service)
    if change_filters:
        clauses, values = _where(change_filters, CHANGE_FILTER_COLUMNS)
        sql += f" and k.change_id in (select change_id from fct_changes where true{clauses})"
        params += values
    return Records(sql, tuple(params), order="incident_opened_at desc, confidence desc, incident, change")


def exploratory_attribution(
    *, start: date, end: date, window_hours: float, min_confidence: float, service: str | None = None
) -> pl.DataFrame:
    """EXPLORATORY, not a published figure: incidents opened in [start, end) that would have at least
    one cause candidate under another attribution window / confidence threshold, per best method.

    Explicit links always count (as in the published model). Candidates only exist within the
    model's own window, so a wider window than the model's finds nothing more.
    """
    params: list[object] = [start, end, window_hours, min_confidence]
    sql = (
        "with kept as (select k.incident_id, k.method, k.confidence from fct_incident_change_candidates k "
        "where k.incident_opened_at >= ? and k.incident_opened_at < ? "
        "and (k.method like 'explicit%' or (coalesce(k.hours_after_change, 0) <= ? and k.confidence >= ?))"
    )
    if service:
        # both stored in opening order: the period filter on each reads only the period's row groups
        sql += (
            " and k.incident_id in (select incident_id from fct_incidents "
            "where opened_at >= ? and opened_at < ? and service_name = ?)"
        )
        params += [start, end, service]
    sql += (
        "), best as (select incident_id, arg_max(method, confidence) as method from kept group by incident_id) "
        "select method, count(*) as incidents, sum(count(*)) over () as total_incidents "
        "from best group by method order by incidents desc"
    )
    return db.query(sql, tuple(params))


# --- services, CIs and groups --------------------------------------------------------------------------


def services() -> pl.DataFrame:
    """dim_services, most changes first."""
    return db.query("select * from dim_services order by change_count desc, service_name")


def configuration_items(*, limit: int = 20, order_by: str = "change_count") -> pl.DataFrame:
    """The hottest CIs by a published count (change_count, failed_change_count or caused_incident_count)."""
    if order_by not in {"change_count", "failed_change_count", "caused_incident_count", "incident_count"}:
        raise ValueError(f"not an orderable column: {order_by!r}")
    return db.query(
        f"select * from dim_configuration_items where ci_class <> 'service' and {order_by} > 0 "
        f"order by {order_by} desc, name limit ?",
        (int(limit),),
    )


def ci_choices(*, search: str | None = None, limit: int = 1000) -> pl.DataFrame:
    """CIs with any change or incident for the CI history picker: the ``limit`` busiest, those whose
    name contains ``search`` when given; ``matching`` holds how many there are in all."""
    sql = (
        "select ci_id, name, ci_class, service_name, count(*) over () as matching from dim_configuration_items "
        "where ci_class <> 'service' and (change_count > 0 or incident_count > 0)"
    )
    params: list[object] = []
    if search:
        sql += " and contains(lower(name), lower(?))"
        params.append(search)
    return db.query(sql + " order by change_count desc, name limit ?", (*params, int(limit)))


# A CI's integer key in the version being read: the facts are filtered on it (an integer compare over
# a million-row fact instead of a text one; 1M changes / 5M incidents: 124 -> 10 ms for the busiest CI).
CI_KEY_OF = "(select ci_key from dim_configuration_items where ci_id = ?)"


def ci_history(*, ci_id: str) -> tuple[Records, Records]:
    """The changes whose primary CI is ``ci_id`` and the incidents on it, newest first."""
    chg = Records.of_table(
        ", ".join(CHANGE_COLUMNS),
        "fct_changes",
        f"primary_ci_key = {CI_KEY_OF}",
        (ci_id,),
        order="coalesce(actual_end_at, opened_at) desc, number",
    )
    inc = Records.of_table(
        "number, title, priority, state, opened_at, resolved_at, time_to_restore_hours, primary_cause_method, "
        "primary_cause_confidence, is_change_caused, incident_id",
        "fct_incidents",
        f"ci_key = {CI_KEY_OF}",
        (ci_id,),
        order="opened_at desc, number",
    )
    return chg, inc


def ci_related_changes(*, ci_id: str) -> Records:
    """Changes on the CI's CMDB neighbours that were candidate causes of incidents on the CI (the
    relationship path says how they are connected), newest first."""
    return Records.of_table(
        "change_number as change, change_primary_ci_name as change_ci, relationship_path, method, confidence, "
        "incident_number as incident, incident_opened_at as opened_at, evidence",
        "fct_incident_change_candidates",
        f"incident_ci_key = {CI_KEY_OF} and change_primary_ci_key is distinct from {CI_KEY_OF}",
        (ci_id, ci_id),
        order="opened_at desc, incident, change",
    )


def assignment_groups() -> pl.DataFrame:
    """dim_assignment_groups, best change success score first."""
    return db.query("select * from dim_assignment_groups order by change_success_score desc nulls last")


# --- settings in force (rpt_attribution_settings) ------------------------------------------------------


def settings() -> pl.DataFrame:
    """rpt_attribution_settings: one row per dbt var in force for this build."""
    return db.query(
        "select setting, setting_group, value, numeric_value, description, effective_as_of "
        "from rpt_attribution_settings order by setting_group, setting",
    )


def as_of() -> datetime:
    """The build's "now" (every age, window and schedule is computed against it)."""
    return db.query("select max(effective_as_of) as as_of from rpt_attribution_settings")["as_of"][0]


def attribution_setting(name: str) -> float:
    """A numeric setting in force for this build (rpt_attribution_settings)."""
    df = db.query(
        "select numeric_value from rpt_attribution_settings where setting = ? and numeric_value is not null",
        (name,),
    )
    if df.is_empty():
        raise LookupError(f"rpt_attribution_settings publishes no numeric setting {name!r}")
    return float(df["numeric_value"][0])


# --- data quality ------------------------------------------------------------------------------------------


def data_quality(*, check_type: str) -> pl.DataFrame:
    """rpt_data_quality rows of one check type (coverage, metric_confidence, ...), by source and field."""
    return db.query(
        "select check_type, source_system, entity, metric, weakest_input, numerator, denominator, "
        "issue_count, coverage, threshold, is_low_confidence, reason, how_to_fix from rpt_data_quality "
        "where check_type = ? order by source_system = 'all' desc, source_system, entity, metric",
        (check_type,),
    )


def metric_confidence() -> pl.DataFrame:
    """The per-metric confidence rows the KPI tiles read (metric named as the rpt_change_kpis column)."""
    df = data_quality(check_type="metric_confidence")
    return df.filter(pl.col("source_system") == "all")


def quarantine(*, limit: int = 500) -> pl.DataFrame:
    """rpt_quarantine: the rows the loader could not use (file, row, reason), newest first."""
    return db.query(
        "select file_name, source_row, reason, entity, record_key, source_system, reasons, quarantined_at, "
        "raw_record, ingest_run_id from rpt_quarantine "
        "order by quarantined_at desc, source_system, file_name, source_row limit ?",
        (int(limit),),
    )


def quarantine_count() -> int:
    return int(db.query("select count(*) as n from rpt_quarantine")["n"][0])


def ingest_runs(*, limit: int = 30) -> pl.DataFrame:
    """The last loader runs (rpt_ingest_runs), newest first."""
    return db.query(
        "select started_at, source_system, source_table, file_name, status, rows_read, inserted, updated, "
        "unchanged, superseded, quarantined, duration_seconds, warnings, error, is_latest_for_file, "
        "pipeline_run_id, ingest_run_id from rpt_ingest_runs "
        "order by started_at desc nulls last, ingest_run_id desc limit ?",
        (int(limit),),
    )


# --- releases ------------------------------------------------------------------------------------------------


RELEASE_COLUMNS = (
    "number",
    "name",
    "release_type",
    "state",
    "deployed_at",
    "released_at",
    "planned_start_at",
    "planned_end_at",
    "first_member_opened_at",
    "release_lead_time_hours",
    "member_change_count",
    "completed_member_change_count",
    "failed_member_change_count",
    "caused_incident_count",
    "caused_p1_count",
    "caused_p2_count",
    "caused_p3_count",
    "caused_p1_p3_count",
    "is_deployed",
    "has_failed_member_change",
    "is_failed",
    "source_system",
    "release_id",
)


def _members(filters: Mapping[str, str] | None) -> tuple[str, list[object]]:
    """' and release_id in (...)': the releases with at least one member change the filters select
    (fct_changes column -> value); empty without filters."""
    clauses, params = _where(filters, CHANGE_FILTER_COLUMNS)
    if not clauses:
        return "", []
    return (
        f" and release_id in (select release_id from fct_changes where release_id is not null{clauses})",
        params,
    )


def releases(*, failed_only: bool = False, member_filters: Mapping[str, str] | None = None) -> pl.DataFrame:
    """fct_releases (the deployed, failed ones only when asked; with ``member_filters``, the releases
    with a member change they select), most recently deployed (else planned) first."""
    members, params = _members(member_filters)
    where = " where true" + (" and is_deployed and is_failed" if failed_only else "") + members
    return db.query(
        f"select {', '.join(RELEASE_COLUMNS)} from fct_releases{where} "
        "order by coalesce(deployed_at, planned_end_at, planned_start_at) desc nulls last, release_id",
        tuple(params),
    )


def release_totals(
    *, start: date | None = None, end: date | None = None, member_filters: Mapping[str, str] | None = None
) -> dict[str, object]:
    """Counts over fct_releases, named as the columns they count or sum (so the declared metrics read
    them): is_failed / is_deployed (the release failure rate's numerator / denominator),
    member_change_count, caused_incident_count, caused_p1_p3_count. With ``start`` / ``end``: the
    releases deployed in [start, end); without: every release."""
    where, params = " where true", list[object]()
    if start is not None and end is not None:
        where, params = " where deployed_at >= ? and deployed_at < ?", [start, end]
    members, member_params = _members(member_filters)
    where += members
    params += member_params
    return db.query(
        "select count(*) filter (where is_failed) as is_failed, count(*) filter (where is_deployed) as is_deployed, "
        "count(*) as release_count, coalesce(sum(member_change_count), 0) as member_change_count, "
        "coalesce(sum(caused_incident_count), 0) as caused_incident_count, "
        "coalesce(sum(caused_p1_count + caused_p2_count + caused_p3_count), 0) as caused_p1_p3_count "
        f"from fct_releases{where}",
        tuple(params),
    ).row(0, named=True)


def release_calendar(*, member_filters: Mapping[str, str] | None = None) -> pl.DataFrame:
    """One point per release with a deployment time or a planned end: ``when``, ``status`` (failed,
    deployed, not deployed (planned end)), ``label`` and release_type ('(no type)' when absent)."""
    return db.query(
        'select coalesce(deployed_at, planned_end_at) as "when", '
        "case when is_failed then 'failed' when is_deployed then 'deployed' "
        "else 'not deployed (planned end)' end as status, "
        "number || ' · ' || coalesce(name, '') as label, coalesce(release_type, '(no type)') as release_type, "
        "number, name, release_id from fct_releases where coalesce(deployed_at, planned_end_at) is not null"
        + (members := _members(member_filters))[0]
        + ' order by status, "when", release_id',
        tuple(members[1]),
    )


def release_lead_times(*, member_filters: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Release lead time of every deployed release that has one, with its type ('(no type)' when absent)."""
    return db.query(
        "select coalesce(release_type, '(no type)') as release_type, release_lead_time_hours, number, release_id "
        "from fct_releases where is_deployed and release_lead_time_hours is not null"
        + (members := _members(member_filters))[0]
        + " order by release_id",
        tuple(members[1]),
    )


def releases_causing_incidents(
    *, limit: int = 12, member_filters: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """The releases with most caused incidents (at least one), by priority: caused_p1/p2/p3_count and
    lower_priority (P4-P5), labelled 'number · name' (without a trailing ' release')."""
    return db.query(
        "select number || ' · ' || regexp_replace(coalesce(name, ''), ' release$', '') as label, "
        "caused_p1_count, caused_p2_count, caused_p3_count, "
        "caused_incident_count - caused_p1_p3_count as lower_priority, caused_incident_count, release_id "
        "from fct_releases where caused_incident_count > 0"
        + (members := _members(member_filters))[0]
        + " order by caused_incident_count desc, release_id limit ?",
        (*members[1], int(limit)),
    )


# --- backlog and schedule --------------------------------------------------------------------------------------


# The additive counts of rpt_backlog_cells (rpt_backlog is their sum per period, DECISIONLOG D51).
BACKLOG_CELL_COUNTS = (
    "open_count",
    "open_0_1_days_count",
    "open_2_5_days_count",
    "open_6_30_days_count",
    "open_31_90_days_count",
    "open_over_90_days_count",
    "overdue_count",
    "opened_count",
    "closed_count",
    "backlog_growth",
)


def backlog(
    *,
    grain: str,
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """rpt_backlog rows of a grain (periods starting in [start, end) when given), oldest first; under
    ``filters`` (fct_changes column -> value), the same rows with their counts summed over the
    rpt_backlog_cells the filters select, as rpt_backlog sums all of them (DECISIONLOG D45, D51)."""
    span = ""
    params: list[object] = [grain]
    if start is not None and end is not None:
        span = " and periods.period_start >= ? and periods.period_start < ?"
        params += [start, end]
    if not filters:
        return db.query(
            f"select * from rpt_backlog as periods where period_grain = ?{span} order by period_start",
            tuple(params),
        )
    where, values = _where(filters, CHANGE_FILTER_COLUMNS)
    sums = ", ".join(f"cast(sum({c}) as bigint) as {c}" for c in BACKLOG_CELL_COUNTS)
    counts = ", ".join(f"coalesce(cells.{c}, 0) as {c}" for c in BACKLOG_CELL_COUNTS)
    return db.query(
        f"select periods.period_grain, periods.period_start, periods.period_end_at, periods.is_current_period, "
        f"{counts} from rpt_backlog as periods left join (select period_grain, period_start, {sums} "
        f"from rpt_backlog_cells where period_grain = ?{where} group by 1, 2) as cells "
        "on cells.period_grain = periods.period_grain and cells.period_start = periods.period_start "
        f"where periods.period_grain = ?{span} order by periods.period_start",
        (grain, *values, *params),
    )


def overdue_changes(*, now: datetime, filters: Mapping[str, str] | None = None) -> Records:
    """The changes overdue "now": fct_backlog_snapshots' overdue rows of the snapshot taken at the
    build's ``now`` (the rows rpt_backlog's overdue tile counts for the current period; one grain's),
    with whole days overdue, oldest planned start first."""
    where, params = _where(filters, CHANGE_FILTER_COLUMNS)
    return Records.of_table(
        ", ".join(BACKLOG_SNAPSHOT_COLUMNS),
        "fct_backlog_snapshots",
        "is_overdue and period_end_at = ? and period_grain = "
        f"(select min(period_grain) from fct_backlog_snapshots where period_end_at = ?){where}",
        (now, now, *params),
        order="planned_start_at, number",
    )


def forward_schedule(*, start: datetime, end: datetime, filters: Mapping[str, str] | None = None) -> Records:
    """Open and in-progress changes whose planned window overlaps [start, end), earliest first, with
    ``has_collision`` and, on the rows a page or download holds, ``collides_with``: the changes each
    collides with (fct_change_collisions), '—' for none, and ``risk_level``: the published risk
    indicator (fct_change_risk_evidence: low / medium / high)."""
    where, params = _where(filters, CHANGE_FILTER_COLUMNS)
    condition = (
        f"state_category in ('open', 'in_progress') and planned_start_at < ? and planned_end_at > ?{where}"
    )
    return replace(
        Records.of_table(
            f"{', '.join(CHANGE_COLUMNS)}, change_id in (select change_id_a from fct_change_collisions "
            "union all select change_id_b from fct_change_collisions) as has_collision",
            "fct_changes",
            condition,
            (end, start, *params),
            order="planned_start_at, number",
        ),
        # partners of the rows shown only: ordering every scheduled change's partners cost ~100 ms at 1M
        decorate=(
            "select shown.*, coalesce(listed.partners, '—') as collides_with, evidence.risk_level "
            "from shown left join ("
            "select change_id, string_agg(partner, ', ' order by overlap_start_at, collision_id) as partners from ("
            "select change_id_a as change_id, change_number_b || ' (' || collision_kind || ')' as partner, "
            "overlap_start_at, collision_id from fct_change_collisions "
            "where change_id_a in (select change_id from shown) "
            "union all "
            "select change_id_b, change_number_a || ' (' || collision_kind || ')', overlap_start_at, collision_id "
            "from fct_change_collisions where change_id_b in (select change_id from shown)) "
            "group by change_id) as listed on listed.change_id = shown.change_id "
            # the published risk indicator, the colour every schedule shares (changeboard.reports.palette)
            "left join (select change_id, risk_level from fct_change_risk_evidence "
            "where change_id in (select change_id from shown)) as evidence on evidence.change_id = shown.change_id"
        ),
    )


def collisions() -> Records:
    """fct_change_collisions, earliest overlap first."""
    return Records(
        "select change_number_a, change_number_b, collision_kind, description, overlap_start_at, "
        "overlap_end_at, overlap_minutes, shared_ci_name, relationship_path, in_blackout_a, in_blackout_b, "
        "is_outside_maintenance_window_a, is_outside_maintenance_window_b, change_id_a, change_id_b, "
        "collision_id from fct_change_collisions",
        order="overlap_start_at, collision_id",
    )


def change_windows(*, start: datetime, end: datetime, kind: str | None = None) -> pl.DataFrame:
    """dim_change_windows overlapping [start, end) (blackout or maintenance), earliest first."""
    sql = (
        "select kind, name, scope_kind, coalesce(scope_ci_name, scope_ref, 'every CI') as scope, start_at, "
        "end_at, duration_hours, change_window_id from dim_change_windows where start_at < ? and end_at > ?"
    )
    params: list[object] = [end, start]
    if kind is not None:
        sql += " and kind = ?"
        params.append(kind)
    return db.query(sql + " order by start_at, name", tuple(params))


# --- CMDB neighbours, success score, state durations ----------------------------------------------------------


def ci_neighbours(*, ci_id: str) -> pl.DataFrame:
    """A CI's CMDB neighbours within two relationships (dim_ci_relationships), nearest first."""
    return db.query(
        "select r.neighbour_ci_name, r.distance, r.relationship_path, r.is_neighbour_service, "
        "n.ci_class as neighbour_class, n.change_count as neighbour_change_count, "
        "n.failed_change_count as neighbour_failed_change_count, r.neighbour_ci_id "
        "from dim_ci_relationships r left join dim_configuration_items n on n.ci_id = r.neighbour_ci_id "
        "where r.ci_id = ? order by r.distance, r.neighbour_ci_name",
        (ci_id,),
    )


def ci_neighbour_counts(*, ci_id: str) -> dict[str, int]:
    """How many CMDB neighbours the CI has one relationship away (``direct``) and two (``two_hop``)."""
    return db.query(
        "select count(*) filter (where distance = 1) as direct, count(*) filter (where distance = 2) as two_hop "
        "from dim_ci_relationships where ci_id = ?",
        (ci_id,),
    ).row(0, named=True)


def success_scores(*, period_start: date | None = None) -> pl.DataFrame:
    """rpt_change_success_score rows of every group: all time (``period_start`` None) or one month,
    best score first, with ``score_per_change``: the score divided by the group's completed changes,
    so that a group's volume does not decide its rank (+3 when every change succeeded cleanly)."""
    per_change = (
        "select *, change_success_score / nullif(completed_count, 0) as score_per_change "
        "from rpt_change_success_score where "
    )
    if period_start is None:
        return db.query(
            per_change + "period_grain = 'all' order by change_success_score desc, assignment_group",
        )
    return db.query(
        per_change + "period_grain = 'month' and period_start = ? "
        "order by change_success_score desc, assignment_group",
        (period_start,),
    )


def rates_by(
    *, grain: str, dimension: str, period_start: date, min_volume: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The published rates (rpt_change_kpis) of every value of ``dimension`` in one period, split by
    the minimum-volume rule: (values with at least ``min_volume`` completed changes, worst failed-change
    rate first; values with fewer, busiest first), so that one failure in two changes does not top a
    league table of rates."""
    rows = db.query(
        "select dimension_value, completed_count, failed_count, failed_rate, change_success_numerator, "
        "change_success_rate, change_caused_incident_count from rpt_change_kpis "
        "where period_grain = ? and dimension = ? and period_start = ? and completed_count > 0 "
        "order by failed_rate desc, completed_count desc, dimension_value",
        (grain, dimension, period_start),
    )
    enough = pl.col("completed_count") >= min_volume
    return rows.filter(enough), rows.filter(~enough).sort(
        ["completed_count", "dimension_value"], descending=[True, False]
    )


def state_durations(*, record_type: str = "change") -> pl.DataFrame:
    """rpt_state_durations rows of one record type (every subtype), most time spent first."""
    return db.query(
        "select record_subtype, state, stay_count, record_count, median_hours, p90_hours, total_hours "
        "from rpt_state_durations where record_type = ? order by record_subtype, total_hours desc, state",
        (record_type,),
    )


def kpi_pair(
    *, grain: str, dimension: str, value: str, period_start: date, previous_start: date
) -> tuple[dict[str, object] | None, dict[str, object] | None]:
    """The published KPI row of the selected period and of the one before (None when absent)."""
    df = db.query(
        "select * from rpt_change_kpis where period_grain = ? and dimension = ? and dimension_value = ? "
        "and period_start in (?, ?)",
        (grain, dimension, value, period_start, previous_start),
    )
    by_start = {row["period_start"]: row for row in df.iter_rows(named=True)}
    return by_start.get(period_start), by_start.get(previous_start)


def dora_pair(
    *, grain: str, period_start: date, previous_start: date
) -> tuple[dict[str, object] | None, dict[str, object] | None]:
    """The published DORA row of the selected period and of the one before (None when absent)."""
    df = db.query(
        "select * from rpt_dora where period_grain = ? and period_start in (?, ?)",
        (grain, period_start, previous_start),
    )
    by_start = {row["period_start"]: row for row in df.iter_rows(named=True)}
    return by_start.get(period_start), by_start.get(previous_start)


def open_changes(*, filters: Mapping[str, str] | None = None) -> Records:
    """Open and in-progress changes with their planned windows (the forward schedule), earliest first."""
    where, params = _where(filters, CHANGE_FILTER_COLUMNS)
    return Records.of_table(
        ", ".join(CHANGE_COLUMNS),
        "fct_changes",
        f"state_category in ('open', 'in_progress'){where}",
        tuple(params),
        order="planned_start_at nulls last, number",
    )


def release_changes(*, filters: Mapping[str, str] | None = None) -> Records:
    """Changes that belong to a release, by release, newest first."""
    where, params = _where(filters, CHANGE_FILTER_COLUMNS)
    return Records.of_table(
        ", ".join(CHANGE_COLUMNS),
        "fct_changes",
        f"release_id is not null{where}",
        tuple(params),
        order="release_id, coalesce(actual_end_at, planned_start_at, opened_at) desc, number",
    )


# --- the records behind a declared metric (click-through) ------------------------------------------------

# What a record list shows per public model a metric may take its records from (rpt_metric_definitions.
# record_model), and its order. Which records are a metric's numerator and denominator is not written
# here: it is the flags the metric declares in the warehouse (numerator_flags / denominator_flags), held
# to the published counts by the dbt test assert_metric_records_match_published_counts.
INCIDENT_RECORD_COLUMNS = (
    "number",
    "title",
    "priority",
    "state",
    "service_name",
    "ci_name",
    "opened_at",
    "resolved_at",
    "time_to_restore_hours",
    "outage_hours",
    "primary_cause_change_number",
    "primary_cause_method",
    "primary_cause_confidence",
    "primary_cause_evidence",
    "primary_cause_release_deployed_at",
    "is_change_caused",
    "is_release_caused",
    "is_outage",
    "primary_cause_release_id",
    "incident_id",
)
PRODUCTION_CHANGE_COLUMNS = (
    "number",
    "title",
    "change_type",
    "risk",
    "state",
    "outcome",
    "service_name",
    "assignment_group",
    "primary_ci_name",
    "release_id",
    "actual_start_at",
    "actual_end_at",
    "closed_at",
    "lead_time_to_production_hours",
    "failed_deployment_recovery_hours",
    "caused_incident_count",
    "is_successful",
    "is_backed_out",
    "is_failed_incident",
    "is_failed",
    "is_rework",
    "source_system",
    "change_id",
)
DEPLOYMENT_COLUMNS = (
    "deployed_at",
    "environment",
    "status",
    "service_ref",
    "release_ref",
    "change_ref",
    "commit_sha",
    "lead_time_start_at",
    "lead_time_source",
    "lead_time_hours",
    "source_system",
    "deployment_id",
)
BACKLOG_SNAPSHOT_COLUMNS = (
    "number",
    "title",
    "state",
    "age_days",
    "age_bucket",
    "is_overdue",
    "days_overdue",
    "planned_start_at",
    "planned_end_at",
    "actual_start_at",
    "change_type",
    "risk",
    "service_name",
    "assignment_group",
    "primary_ci_name",
    "opened_at",
    "period_start",
    "period_end_at",
    "source_system",
    "change_id",
)
BACKLOG_MOVEMENT_COLUMNS = (
    "number",
    "title",
    "state",
    "movement",
    "moved_at",
    "change_type",
    "risk",
    "service_name",
    "assignment_group",
    "primary_ci_name",
    "opened_at",
    "closed_at",
    "period_start",
    "is_opened",
    "is_left",
    "source_system",
    "change_id",
)
RECORD_MODELS: dict[str, tuple[tuple[str, ...], str]] = {
    "fct_changes": (CHANGE_COLUMNS, "number"),
    "fct_incidents": (INCIDENT_RECORD_COLUMNS, "number"),
    "fct_releases": (RELEASE_COLUMNS, "number"),
    "fct_production_changes": (PRODUCTION_CHANGE_COLUMNS, "number"),
    "fct_deployments": (DEPLOYMENT_COLUMNS, "deployment_id"),
    "fct_backlog_snapshots": (BACKLOG_SNAPSHOT_COLUMNS, "number"),
    "fct_backlog_movements": (BACKLOG_MOVEMENT_COLUMNS, "number"),
}
# Columns of a record model's own that a chart's bar may select (the backlog chart's age buckets).
RECORD_CATEGORIES: dict[str, frozenset[str]] = {"fct_backlog_snapshots": frozenset({"age_bucket"})}
# Record models whose rows carry the change's filter columns (the sidebar's filters apply to them).
CHANGE_RECORD_MODELS = frozenset(
    {"fct_changes", "fct_production_changes", "fct_backlog_snapshots", "fct_backlog_movements"}
)
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class MetricRecords:
    """The records behind one value of a declared metric: its numerator's (for a count: the records it
    counts; for a metric resting on a base, a median, a frequency or a sum: the records of its base,
    ``role`` 'base', with ``measure`` the column whose median or sum (``aggregate``) the value is) and
    its denominator's (None for a count or a base); for a difference (``role`` 'difference'), the
    records it adds (numerator, flagged ``flags[0]``) and those it takes away (denominator, ``flags[1]``)."""

    metric: str
    numerator: Records
    denominator: Records | None
    role: str = "numerator"
    measure: str | None = None
    aggregate: str | None = None  # median or sum (rpt_metric_definitions.measure_aggregate)
    flags: tuple[str, str] | None = None  # a difference: the flags of what it adds and takes away


def _identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"rpt_metric_definitions names {name!r}, which is not a column name")
    return name


def _flags(text: str) -> str:
    """'is_completed,is_failed' -> 'is_completed and is_failed' ('true' for none)."""
    names = [_identifier(n.strip()) for n in text.split(",") if n.strip()]
    return " and ".join(names) or "true"


def metric_records(
    *,
    metric: str,
    start: date,
    end: date,
    filters: Mapping[str, str] | None = None,
    category: tuple[str, str | None] | None = None,
    published: Mapping[str, object] | None = None,
    grain: str | None = None,
) -> MetricRecords | None:
    """The records behind ``metric`` in [start, end): those of its declared model whose declared event
    falls in the period and whose declared flags are all true (and, for a median, whose measure is
    known), under the record ``filters`` (fct_changes column -> value; an incident is filtered by the
    change that caused it, or, for a metric fct_releases publishes, by its release's member changes as
    the release tiles are; a release by its member changes, a deployment record not at all) and a chart's ``category`` (a
    fct_changes column and its value, None for '(none)'). ``published``: the metric's published row of
    the period, which says, for a metric declaring ``when`` (rpt_dora's deployment_source), whose
    records the period's are. None when the metric declares no records, or declares ``when`` and no
    published row is given. ``grain``: the period's grain (week, month), which selects a snapshot's
    records (a metric declaring record_grain_column: the backlog open at the period's end; DECISIONLOG
    D51); when not given, the published row's period_grain."""
    rows = metric_definitions().filter(pl.col("metric") == metric)
    if rows.is_empty() or rows["record_model"][0] is None:
        return None
    row = rows.row(0, named=True)
    model, event_column = str(row["record_model"]), str(row["record_event_column"])
    base, measure = row["base_flags"], row["measure_column"]
    if row["when_column"] is not None:
        if published is None:
            return None
        if published.get(str(row["when_column"])) == row["when_value"]:
            model, event_column = str(row["when_record_model"]), str(row["when_record_event_column"])
            base, measure = row["when_base_flags"], row["when_measure_column"]
    if model not in RECORD_MODELS:
        raise ValueError(f"metric {metric}: its records are in {model}, which the app cannot list")
    columns, tiebreak = RECORD_MODELS[model]
    event = _identifier(event_column)
    known = f" and {_identifier(str(measure))} is not null" if measure is not None else ""
    constraints: dict[str, str | None] = dict(filters or {})
    own: list[object] = []  # a category of the record model's own (a backlog age bucket)
    if category is not None and category[0] in RECORD_CATEGORIES.get(model, ()):
        own = [category[1]]
    elif category is not None:
        constraints[category[0]] = category[1]  # None: is null
    clauses: list[str] = []
    params: list[object] = []
    for column, value in constraints.items():
        if column not in CHANGE_FILTER_COLUMNS:
            raise ValueError(f"not a filterable column: {column!r}")
        clauses.append(f"{column} is null" if value is None else f"{column} = ?")
        params += [] if value is None else [value]
    scope = ""
    if clauses and model in CHANGE_RECORD_MODELS:
        scope = "".join(f" and {c}" for c in clauses)
    elif clauses and model == "fct_incidents" and row["model_name"] == "fct_releases":
        # counted on a release (release-caused incidents): the releases with a member change the filters select
        scope = f" and primary_cause_release_id in (select release_id from fct_changes where {' and '.join(clauses)})"
    elif clauses and model == "fct_incidents":
        scope = f" and primary_cause_change_id in (select change_id from fct_changes where {' and '.join(clauses)})"
    elif clauses and model == "fct_releases":  # the releases with a member change the filters select
        scope = f" and release_id in (select release_id from fct_changes where {' and '.join(clauses)})"
    else:
        params = []
    snapshot = ""
    period: list[object] = [start, end]
    if row["record_grain_column"] is not None:
        grain = grain or (None if published is None else str(published.get("period_grain") or "")) or None
        if grain is None:
            raise ValueError(f"metric {metric}: its records are snapshots per period grain; give the grain")
        snapshot = f" and {_identifier(str(row['record_grain_column']))} = ?"
        period.append(grain)
    if own and category is not None:
        snapshot += f" and {category[0]} is not distinct from ?"
        period += own

    def listed(flags: str) -> Records:
        return Records.of_table(
            ", ".join(columns),
            model,
            f"{_flags(flags)}{known} and {event} >= ? and {event} < ?{snapshot}{scope}",
            (*period, *params),
            order=f"{event} desc nulls last, {tiebreak}",
        )

    if base is not None:
        aggregate = None if measure is None else str(row["measure_aggregate"] or "median")
        return MetricRecords(
            metric, listed(str(base)), None, role="base", measure=measure, aggregate=aggregate
        )
    if row["subtract_flags"] is not None:
        added, removed = str(row["numerator_flags"] or ""), str(row["subtract_flags"])
        return MetricRecords(
            metric, listed(added), listed(removed), role="difference", flags=(added, removed)
        )
    denominator = row["denominator_flags"]
    return MetricRecords(
        metric,
        listed(str(row["numerator_flags"] or "")),
        None if denominator is None else listed(str(denominator)),
    )


def display_labels() -> pl.DataFrame:
    """rpt_display_labels: (kind, name, label): the header of a column (kind 'column') and the wording
    of an enumerated value (kind 'value') every table of the app shows (the dbt seed display_labels)."""
    return db.query("select kind, name, label from rpt_display_labels order by kind, name")
