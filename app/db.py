"""Read access to the published warehouse for the app: read-only, one cursor per query.

The data directory comes from ``CHANGEBOARD_DATA_DIR`` (set by ``changeboard serve``), else
``st.secrets["changeboard"]["data_dir"]``, else ``./data``. The app never opens a DuckDB file
read-write and never opens the file the pipeline is building: it reads the published version the
pointer names (see ingest/warehouse.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import polars as pl
import streamlit as st

from changeboard.paths import ENV_DATA_DIR, DataDir
from changeboard.timing import phase
from changeboard.warehouse.versions import NoWarehouse, Published, WarehouseReader, read_pointer

__all__ = [
    "CONTRACT_VERSION",
    "NoWarehouse",
    "contract_problem",
    "data_dir",
    "deferred",
    "published",
    "query",
    "reader",
]

# The warehouse contract this app reads: the public models and columns it queries. The build publishes
# its own in rpt_warehouse_contract (dbt/models/reports/rpt_warehouse_contract.sql); raise both together.
# Checked once per served version at start-up, so no page probes for a model (DECISIONLOG D28).
# 2: rpt_metric_definitions targets, rpt_data_quality.how_to_fix, risk_level on the schedule;
# 3: rpt_change_kpis_to_date, rpt_change_outcome_cells, the reconciliation counts of rpt_change_kpis,
#    rpt_metric_definitions.base_column / min_base;
# 4: rpt_metric_definitions' records (record_model, record_event_column, numerator / denominator
#    flags), rpt_display_labels
# 5: fct_production_changes, fct_deployments as record models; rpt_metric_definitions' base_flags,
#    measure_column and when_* columns (the records of medians and DORA keys, DECISIONLOG D48)
# 6: fct_changes.is_clean_success / is_window_checked, fct_incidents.is_outage /
#    primary_cause_release_deployed_at, rpt_metric_definitions.measure_aggregate (the records of the clean
#    success rate, the outside-window ratio, the outage hours and release-caused incidents, DECISIONLOG D50)
# 7: fct_backlog_snapshots and fct_backlog_movements as record models; rpt_metric_definitions'
#    record_grain_column and subtract_flags (the records of the backlog's tiles, DECISIONLOG D51)
CONTRACT_VERSION = 7


def data_dir() -> DataDir:
    """The data directory the app serves."""
    explicit = os.environ.get(ENV_DATA_DIR)
    if not explicit:
        try:
            explicit = st.secrets.get("changeboard", {}).get("data_dir")
        except (FileNotFoundError, KeyError, AttributeError):
            explicit = None
        except Exception:  # no secrets file at all
            explicit = None
    return DataDir.resolve(explicit)


@st.cache_resource(show_spinner=False)
def _reader(root: str) -> WarehouseReader:
    return WarehouseReader(DataDir.resolve(root))


def reader() -> WarehouseReader:
    """The process-wide reader of the published warehouse."""
    return _reader(str(data_dir().root))


def published() -> Published:
    """The version being served (raises NoWarehouse before the first publish)."""
    return read_pointer(data_dir())


# Shared, not copied: st.cache_data pickles every result on store and unpickles it on every hit, which
# cost more than the query for large frames (1M changes: a month's 260k lead-time points take 31 ms
# to query, 47 ms to pickle and 28 ms to unpickle). Polars frames are immutable, so sessions can
# share one object; no caller changes a frame in place.
@st.cache_resource(show_spinner=False, max_entries=512, ttl=3600)
def _cached(version: str, sql: str, params: tuple[object, ...]) -> pl.DataFrame:
    # One cursor per query on the current version's read-only connection. DuckDB 2.0 cursors have no
    # .pl() and warn on Arrow output from a DB-API result, so the query runs as a relation.
    _pub, con = reader().current()
    cur = con.cursor()
    try:
        return cur.sql(sql, params=list(params)).pl()
    finally:
        cur.close()


def query(sql: str, params: tuple[object, ...] = ()) -> pl.DataFrame:
    """Run a query against the published version; results are cached per version (timed as the
    phase ``app.query``)."""
    with phase("app.query", sql=sql, params=params):
        return _cached(published().version, sql, params)


def contract_problem() -> str | None:
    """Why the app cannot read the version being served (its contract differs), or None when it can."""
    return _contract_problem(str(data_dir().root), published().version)


@st.cache_resource(show_spinner=False, max_entries=16)
def _contract_problem(root: str, version: str) -> str | None:
    """Checked once per (data directory, published version)."""
    _pub, con = reader().current()
    cur = con.cursor()
    try:
        tables = cur.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name = 'rpt_warehouse_contract'"
        ).fetchall()
        rows = (
            cur.execute("select contract_version from rpt_warehouse_contract").fetchall()
            if tables[0][0]
            else []
        )
    finally:
        cur.close()
    published_contract = rows[0][0] if len(rows) == 1 else None
    if published_contract == CONTRACT_VERSION:
        return None
    built = (
        "publishes no warehouse contract version (it was built by an older changeboard)"
        if published_contract is None
        else f"was built for warehouse contract {published_contract}"
    )
    return (
        f"The published warehouse (version {version}) {built}, but this app reads contract {CONTRACT_VERSION}. "
        "Its models or columns may differ from what the pages ask for, so no page is shown. Run "
        "`changeboard build` with this changeboard to publish a matching warehouse, or serve it with the "
        "changeboard that built it."
    )


def deferred(
    sql: str, params: tuple[object, ...], convert: Callable[[pl.DataFrame], bytes]
) -> Callable[[], bytes]:
    """A callable for a download button: runs the query when the user clicks (on Streamlit's download
    thread, uncached) against the version being served now, so the file holds what the page showed
    even if a newer version is published in between."""
    pinned, warehouse = published(), reader()

    def run() -> bytes:
        return convert(warehouse.frame_of(pinned, sql, list(params)))

    return run
