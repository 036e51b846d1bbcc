"""The Requests pages' questions: the form's store (SQLite, read-write) and the published warehouse
(read-only, public models only, values bound as parameters).

Optional models another issue adds are detected at run time (``information_schema``) and used when
present: a CI relationships model (``dim_ci_relationships``: ``ci_id``, ``neighbour_ci_id``,
optional ``distance``) widens the collision preview to related CIs; ``rpt_cab_agenda`` (with a
``number`` column) says which requests are on the CAB agenda; a change-windows model
(``dim_change_windows`` / ``fct_change_windows`` with ``start_at``, ``end_at`` and optional ``kind``,
``name``, ``scope_ci_name`` or ``scope_ref``) adds published blackouts to the policy's own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import polars as pl
from changeboard.app import db
from changeboard.app.forms import Blackout, Policy, load_policy, policy_path

from changeboard.store.requests import connect_ops

RELATIONSHIP_MODELS = ("dim_ci_relationships",)
CHANGE_WINDOW_MODELS = ("dim_change_windows", "fct_change_windows")
AGENDA_MODEL = "rpt_cab_agenda"


# --- the form's store -------------------------------------------------------------------------------------


@contextmanager
def ops() -> Iterator[sqlite3.Connection]:
    """A short-lived connection to the form's store (open per request: cheap, WAL, waits on a lock)."""
    con = connect_ops(db.data_dir().ops_db)
    try:
        yield con
    finally:
        con.close()


def policy() -> Policy:
    """The change policy: ``$CHANGEBOARD_POLICY`` or ``<data dir>/changeboard.toml``, else defaults."""
    return load_policy(policy_path(db.data_dir().root))


# --- warehouse helpers ------------------------------------------------------------------------------------


def columns(model: str) -> set[str]:
    """Columns of a published model (empty when the model is absent)."""
    df = db.query(
        "select column_name from information_schema.columns where table_schema = 'main' and table_name = ?",
        (model,),
    )
    return set(df["column_name"].to_list())


def services() -> list[str]:
    """Business service names for the searchable picker."""
    df = db.query(
        "select distinct service_name from dim_services where service_name is not null order by service_name"
    )
    return df["service_name"].to_list()


def configuration_items() -> pl.DataFrame:
    """CIs (not services) for the searchable picker: ci_id, name, ci_class, service_name."""
    return db.query(
        "select ci_id, name, ci_class, service_name from dim_configuration_items "
        "where ci_class <> 'service' and name is not null order by name, ci_id"
    )


def relationship_model() -> str | None:
    """The published CI relationships model, if one with (ci_id, neighbour_ci_id) exists."""
    for model in RELATIONSHIP_MODELS:
        if {"ci_id", "neighbour_ci_id"} <= columns(model):
            return model
    return None


_SCHEDULE_COLUMNS = (
    "number, title, change_type, state, primary_ci_name, service_name, planned_start_at, planned_end_at"
)


def collisions(
    *, start: datetime, end: datetime, ci_names: Sequence[str], service: str | None
) -> tuple[pl.DataFrame, str]:
    """Scheduled (open / in progress) changes whose planned window overlaps [start, end) on the same
    CIs, on related CIs (when the relationship model is published) or on the same service; and a
    sentence saying what was checked."""
    names = [n.lower() for n in ci_names]
    start_n, end_n = _naive(start), _naive(end)
    base = (
        f"select {_SCHEDULE_COLUMNS}, {{how}} as collision from fct_changes "
        "where state_category in ('open', 'in_progress') and planned_start_at < ? and planned_end_at > ? "
        "and source_system <> 'form' and {cond}"
    )
    parts: list[str] = []
    params: list[object] = []
    if names:
        parts.append(base.format(how="'same CI'", cond="list_contains(?, lower(primary_ci_name))"))
        params += [end_n, start_n, names]
    model = relationship_model()
    if names and model:
        model_cols = columns(model)
        hop_col = next((c for c in ("distance", "hops") if c in model_cols), None)
        hops = f"'related CI (distance ' || cast(min(r.{hop_col}) as varchar) || ')'" if hop_col else None
        parts.append(
            f"select {', '.join('c.' + c.strip() for c in _SCHEDULE_COLUMNS.split(','))}, "
            f"{hops or repr('related CI')} as collision from fct_changes c "
            f"join {model} r on r.neighbour_ci_id = c.primary_ci_id "
            "join dim_configuration_items i on i.ci_id = r.ci_id "
            "where c.state_category in ('open', 'in_progress') and c.planned_start_at < ? "
            "and c.planned_end_at > ? and c.source_system <> 'form' and list_contains(?, lower(i.name)) "
            "and not list_contains(?, lower(c.primary_ci_name)) "
            f"group by {', '.join('c.' + c.strip() for c in _SCHEDULE_COLUMNS.split(','))}"
        )
        params += [end_n, start_n, names, names]
    if service:
        parts.append(base.format(how="'same service'", cond="service_name = ?"))
        params += [end_n, start_n, service]
    if model:
        scope = f"the same CIs, CIs related to them in the CMDB ({model}) and the same service"
    else:
        scope = (
            "the same CIs and the same service only: the CMDB relationship model is not published yet, "
            "so changes on related CIs are not checked"
        )
    if not parts:
        return pl.DataFrame(), scope
    sql = (
        "select number, any_value(title) as title, any_value(change_type) as change_type, "
        "any_value(state) as state, any_value(primary_ci_name) as ci, any_value(service_name) as service, "
        "any_value(planned_start_at) as planned_start_at, any_value(planned_end_at) as planned_end_at, "
        "string_agg(distinct collision, ', ') as collision "
        f"from ({' union all '.join(parts)}) group by number order by planned_start_at, number limit 50"
    )
    return db.query(sql, tuple(params)), scope


def _naive(value: datetime) -> datetime:
    """fct_changes timestamps are naive UTC."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def warehouse_blackouts() -> tuple[list[Blackout], str | None]:
    """Blackouts from a published change-windows model (and which model), or ([], None)."""
    for model in CHANGE_WINDOW_MODELS:
        cols = columns(model)
        if not {"start_at", "end_at"} <= cols:
            continue
        kind = "kind = 'blackout'" if "kind" in cols else "true"
        name = "name" if "name" in cols else "'Blackout'"
        scope = next(
            (c for c in ("scope_ci_name", "scope_name", "scope_ref", "ci_name", "service_name") if c in cols),
            None,
        )
        df = db.query(
            f"select {name} as name, start_at, end_at, {scope or 'null'} as scope from {model} where {kind}"
        )
        out = [
            Blackout(
                name=str(r["name"] or "Blackout"),
                start=r["start_at"],
                end=r["end_at"],
                scope=r["scope"] or "",
            )
            for r in df.iter_rows(named=True)
            if r["start_at"] is not None and r["end_at"] is not None
        ]
        return out, model
    return [], None


# --- where requests are now ---------------------------------------------------------------------------------


def agenda_references() -> tuple[set[str], str]:
    """References of form requests on the CAB agenda, and where that was read from."""
    if "number" in columns(AGENDA_MODEL):
        df = db.query(f"select distinct number from {AGENDA_MODEL}")
        return set(df["number"].to_list()), AGENDA_MODEL
    df = db.query("select number from fct_changes where origin = 'form'")
    return set(df["number"].to_list()), "fct_changes (origin = 'form')"


def itsm_candidates(ci_names: Sequence[str]) -> list[dict[str, object]]:
    """ITSM changes that could be a request's later record: on one of the CIs, or quoting a reference."""
    desc = ", description" if "description" in columns("fct_changes") else ""
    cond = "regexp_matches(title, 'CR[0-9]{7}')"
    if desc:
        cond += " or regexp_matches(coalesce(description, ''), 'CR[0-9]{7}')"
    df = db.query(
        "select number, title, primary_ci_name, planned_start_at, planned_end_at, state_category, outcome, "
        f"source_system{desc} from fct_changes where source_system <> 'form' "
        f"and (list_contains(?, lower(primary_ci_name)) or {cond})",
        ([n.lower() for n in ci_names],),
    )
    return df.to_dicts()
