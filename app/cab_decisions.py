"""CAB decisions on every agenda item: a component the CAB page mounts (and the "CAB decisions" page).

:func:`render_cab_decisions` lists the items awaiting a decision at the meeting, form requests and ITSM
changes alike, in the chair's running order (else by risk, then planned start), each as a card with the
same evidence as the pack's row: the risk indicator and its reasons first, replan flag, blackout,
collisions, the CI / service / group history. A CAB member approves, approves with conditions, rejects
(with a reason) or defers (to a date); approving an item inside a blackout needs an explicit
confirmation. Decisions go to the request store (:func:`changeboard.store.cab_decisions.record_decision`:
one transaction, who and when, idempotent) and reach the warehouse (``fct_cab_decisions``) at the next
build. With sign-in configured only the configured CAB members may decide; in the demo anyone may, under
a typed name recorded as unverified. Everything a requester typed is shown as text, never as HTML.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import streamlit as st
from changeboard.app import identity, requests_data
from changeboard.app.forms import clean_line, clean_text

from changeboard.reports import cab, cab_meeting, cab_minutes
from changeboard.reports.cab import md_escape as md
from changeboard.store import cab_decisions as cd
from changeboard.store import requests as ops

MAX_ITEMS = 60
MAX_NOTE = 2000
CHOICES = ("approved", "approved_with_conditions", "rejected", "deferred")


def _who(key: str) -> identity.Identity | None:
    if identity.auth_configured():
        user = identity.signed_in_user()
        if user is None:
            identity.sign_in_prompt("Sign in to record CAB decisions.", key=key)
        return user
    name = clean_line(st.text_input("Your name (recorded with the decision)", key=f"{key}_name"))
    return identity.Identity(name=name, email=None, verified=False)


def _item_of(row: dict[str, Any]) -> cd.AgendaItem:
    return cd.AgendaItem.from_row(row)


def _decide(row: dict[str, Any], meeting_at: datetime, user: identity.Identity, key: str) -> None:
    """Form callback: record the decision before the page is drawn again."""
    number = str(row["number"])
    ss = st.session_state
    k = f"{key}_{number}"
    decision = ss.get(f"{k}_decision")
    note = clean_text(ss.get(f"{k}_note", ""))[:MAX_NOTE]
    defer = ss.get(f"{k}_defer")
    if decision == "approved" and note:
        ss[f"{key}_msg"] = (
            "error",
            f"{number}: not recorded: a plain approval records no text. Choose Approved with conditions to keep "
            "the text as its conditions, or clear it.",
        )
        return
    try:
        with requests_data.ops() as con:
            result = cd.record_decision(
                con,
                _item_of(row),
                str(decision),
                decided_by=user.key,
                identity_verified=user.verified,
                meeting_at=meeting_at,
                reason=note if decision in ("rejected", "deferred") else None,
                conditions=note if decision == "approved_with_conditions" else None,
                deferred_to=defer if decision == "deferred" else None,
                blackout_confirmed=bool(ss.get(f"{k}_blackout_ok")),
            )
    except (cd.DecisionRefused, ValueError) as exc:
        ss[f"{key}_msg"] = ("error", md(f"{number}: not recorded: {exc}."))
        return
    label = cd.LABELS[result.decision]
    extra = (
        f" ({result.conditions or result.reason or 'to ' + str(result.deferred_to)})"
        if (result.conditions or result.reason or result.deferred_to)
        else ""
    )
    again = " (already recorded)" if result.repeated else ""
    ss[f"{key}_msg"] = (
        "success",
        md(f"{number} {label.lower()}{extra} by {result.decided_by} at {result.decided_at}{again}."),
    )


def _save_order(
    rows: list[dict[str, Any]], meeting_at: datetime, user: identity.Identity, key: str, editor: str
) -> None:
    """Button callback: the editor's positions and time boxes stored as the meeting's running order."""
    st.session_state[f"{key}_order_open"] = True  # the chair sees the saved order
    edited = st.session_state.get(editor)
    frame = pl.DataFrame(rows)
    changes = (edited or {}).get("edited_rows", {}) if isinstance(edited, dict) else {}
    positions = frame["position"].to_list()
    boxes = frame["time box (min)"].to_list()
    moved: set[int] = set()
    for index, change in changes.items():
        i = int(index)
        if "position" in change and change["position"] is not None:
            positions[i] = int(change["position"])
            moved.add(i)
        if "time box (min)" in change:
            boxes[i] = None if change["time box (min)"] in (None, "", 0) else int(change["time box (min)"])
    # an item moved to position k goes before the item that held k (which moves down one)
    ordered = sorted(range(len(rows)), key=lambda i: (positions[i], i not in moved, i))
    try:
        with requests_data.ops() as con:
            n = cd.save_running_order(
                con, meeting_at, [(rows[i]["change_id"], boxes[i]) for i in ordered], updated_by=user.key
            )
    except ValueError as exc:
        st.session_state[f"{key}_msg"] = ("error", f"Running order not saved: {exc}.")
        return
    st.session_state[f"{key}_msg"] = ("success", f"Running order of {n} items saved by {user.key}.")


def _evidence(item: dict[str, Any]) -> None:
    """The pack row's evidence: risk and its reasons first, then replan, blackout, collisions, history."""
    if not item.get("in_warehouse", True):
        st.info(
            "Submitted through the form after the last build: its risk evidence, blackout and collision checks "
            "appear after the next build (`changeboard build`).",
            icon=":material/schedule:",
        )
        return
    st.markdown(f"**Risk {md(item['risk_level'])} ({md(item['risk_score'])})**")
    for reason in item["reason_list"]:
        st.text(f"• {reason}")
    if item.get("is_replan"):
        st.warning(md(f"REPLAN: {item.get('replan_reason')}"), icon=":material/event_busy:")
    if item.get("in_blackout"):
        st.error(
            md(
                f"Inside blackout window {item.get('blackout_window_name') or ''}: approving needs an explicit "
                "confirmation."
            ),
            icon=":material/block:",
        )
    if item.get("is_outside_maintenance_window"):
        st.warning("Outside every maintenance window of its CIs.", icon=":material/schedule:")
    if item["collision_list"]:
        st.caption(f"Collisions ({len(item['collision_list'])})")
        for line in item["collision_list"]:
            st.text(f"• {line}")
    else:
        st.caption("No collisions.")
    st.caption("Evidence (last 90 days)")
    st.text("\n".join(f"{label}: {text}" for label, text in item["evidence"]))


def _card(
    item: dict[str, Any], meeting_at: datetime, user: identity.Identity, allowed: bool, key: str
) -> None:
    number = str(item["number"])
    with st.container(border=True, key=f"{key}_item_{number}"):
        kind = (
            "form request" if item.get("source_system") == "form" else f"{item.get('source_system')} change"
        )
        box = f" · {item['timebox_minutes']} min" if item.get("timebox_minutes") else ""
        head = st.columns([1, 5])
        head[0].markdown(f"**{item['position']}. {number}**")
        head[1].text(str(item.get("title") or ""))
        st.caption(
            md(
                f"{kind}{box} · {cab.type_and_risk(item)} · "
                f"planned {cab.fmt_window(item.get('planned_start_at'), item.get('planned_end_at'))} · "
                f"CIs {item.get('ci_names') or item.get('primary_ci_name') or '—'} · "
                f"service {item.get('service_name') or '—'}"
            )
        )
        left, right = st.columns([3, 2], gap="medium")
        with left:
            _evidence(item)
        with right:
            _decision_controls(item, meeting_at, user, allowed, key)


def _decision_controls(
    item: dict[str, Any], meeting_at: datetime, user: identity.Identity, allowed: bool, key: str
) -> None:
    """The decision already recorded, and the form to record one (unless a final decision stands)."""
    number = str(item["number"])
    k = f"{key}_{number}"
    decided = item.get("decision")
    if decided:
        note = f": {item['decision_note']}" if item.get("decision_note") else ""
        text = f"{cd.LABELS[decided]}{note} — by {item['decided_by']} at {item['decided_at']}"
        (st.info if decided == "deferred" else st.success)(md(text), icon=":material/gavel:")
    if not allowed or (decided and decided != "deferred"):
        return
    with st.form(key=f"{k}_form", border=False):
        st.radio(
            "Decision",
            CHOICES,
            format_func=lambda c: cd.LABELS[c],
            horizontal=True,
            key=f"{k}_decision",
        )
        st.text_area(
            "Reason (to reject or defer) or conditions (to approve with conditions)",
            key=f"{k}_note",
            max_chars=MAX_NOTE,
            height=68,
        )
        st.date_input("Defer to", value=meeting_at.date() + timedelta(days=7), key=f"{k}_defer")
        if item.get("in_blackout"):
            st.checkbox(
                f"I confirm approving {number} inside blackout {item.get('blackout_window_name') or ''}",
                key=f"{k}_blackout_ok",
            )
        st.form_submit_button(
            "Record decision",
            type="primary",
            icon=":material/gavel:",
            on_click=_decide,
            args=(item, meeting_at, user, key),
        )


def render_cab_decisions(pack: cab.CabPack, *, key: str = "cabd") -> None:
    """The meeting's items to decide (form requests and ITSM changes), each with its evidence and the
    decision controls; the chair's running order and time boxes; the decisions recorded."""
    user = _who(key)
    if user is None:
        return
    allowed, why = identity.can_decide(user)
    if not user.verified:
        st.warning(identity.UNVERIFIED_NOTE, icon=":material/person_alert:")
    if not allowed:
        st.info(why, icon=":material/lock:")
    msg = st.session_state.pop(f"{key}_msg", None)
    if msg:
        (st.success if msg[0] == "success" else st.error)(msg[1])

    meeting_at = pack.meeting_at
    with requests_data.ops() as con:
        pending = ops.list_requests(con, statuses=["submitted"])
        order = cd.running_order(con, meeting_at)
        rows = cab_meeting.items_to_decide(pack, order, pending)
        latest = cd.latest_decisions(con, rows["change_id"].to_list())
        recorded = cd.list_decisions(con, meeting_at=meeting_at)
    rows = cab_meeting.with_decisions(rows, latest)
    _attendees(meeting_at, user, allowed, key)
    open_items = rows.filter(pl.col("decision").is_null() | (pl.col("decision") == "deferred")).height
    st.subheader(f"Items to decide ({rows.height}, {open_items} open)")
    stale = rows["replan_stale_days"].drop_nulls() if "replan_stale_days" in rows.columns else None
    days = int(stale[0]) if stale is not None and stale.len() else cab.DEFAULT_STALE_AFTER_DAYS
    st.caption(
        "In the chair's running order, else by risk (highest first) then planned start. Items flagged REPLAN "
        f"have a planned window that has already passed, or no update for {days} days or more."
    )
    if rows.height == 0:
        st.caption("No item awaits a CAB decision at this meeting.")
        return
    # the first MAX_ITEMS in the running order, and every form request the warehouse does not hold yet
    shown = rows.filter((pl.col("position") <= MAX_ITEMS) | ~pl.col("in_warehouse"))
    if allowed:
        _order_editor(shown, meeting_at, user, key)
    in_wh = shown.filter(pl.col("in_warehouse"))
    collisions = cab.collision_index(cab.involving(pack.collisions, in_wh["change_id"]))
    items = cab._items(in_wh.drop("position"), collisions, {}) if in_wh.height else []
    by_id = {i["change_id"]: i for i in items}
    for row in shown.iter_rows(named=True):
        item = {**row, **by_id.get(row["change_id"], {}), "position": row["position"]}
        item.setdefault("collision_list", [])
        _card(item, meeting_at, user, allowed, key)
    if rows.height > shown.height:
        st.caption(
            f"The first {MAX_ITEMS} of {rows.height} items in the running order; reorder to bring others up."
        )
    if recorded:
        st.subheader(f"Decisions recorded at this meeting ({len(recorded)})")
        st.dataframe(
            {
                "change": [r["number"] for r in recorded],
                "title": [r["title"] for r in recorded],
                "decision": [cd.LABELS[str(r["decision"])] for r in recorded],
                "reason / conditions / deferred to": [
                    r.get("reason") or r.get("conditions") or r.get("deferred_to") or "" for r in recorded
                ],
                "by": [r["decided_by"] for r in recorded],
                "verified": [bool(r["identity_verified"]) for r in recorded],
                "at": [r["decided_at"] for r in recorded],
            },
            hide_index=True,
            key=f"{key}_recorded",
        )


def _order_editor(rows: pl.DataFrame, meeting_at: datetime, user: identity.Identity, key: str) -> None:
    """The chair reorders (position) and time-boxes (minutes) the items; stored with the meeting."""
    table = rows.select(
        "position",
        pl.col("number").alias("change"),
        pl.col("title"),
        pl.col("risk_level").alias("risk") if "risk_level" in rows.columns else pl.lit(None).alias("risk"),
        pl.col("timebox_minutes").alias("time box (min)"),
        "change_id",
    )
    # the editor's key follows the stored order: once saved, the editor starts again from it (an edit
    # kept across the save would apply to whichever item now sits in that row)
    digest = hashlib.sha256(
        repr(table.select("change_id", "position", "time box (min)").rows()).encode()
    ).hexdigest()[:12]
    editor = f"{key}_order_{digest}"
    expanded = bool(st.session_state.get(f"{key}_order_open"))
    with st.expander(
        "Running order and time boxes (chair)", icon=":material/format_list_numbered:", expanded=expanded
    ):
        st.caption(
            "Set an item's position to move it (it goes before the item that held that position) and its "
            "time box in minutes; the printed pack and the minutes list the items in this order."
        )
        st.container(key=f"{key}_order_box").data_editor(
            table.drop("change_id").to_dicts(),
            key=editor,
            hide_index=True,
            disabled=["change", "title", "risk"],
            column_config={
                "position": st.column_config.NumberColumn(min_value=1, step=1),
                "time box (min)": st.column_config.NumberColumn(min_value=1, max_value=480, step=1),
            },
        )
        st.button(
            "Save running order",
            key=f"{key}_order_save",
            icon=":material/save:",
            on_click=_save_order,
            args=(table.to_dicts(), meeting_at, user, key, editor),
        )


def _add_attendee(meeting_at: datetime, user: identity.Identity, key: str) -> None:
    name = clean_line(st.session_state.get(f"{key}_attendee", ""))
    role = clean_line(st.session_state.get(f"{key}_attendee_role", ""))
    if not name:
        st.session_state[f"{key}_msg"] = ("error", "Type the attendee's name.")
        return
    with requests_data.ops() as con:
        cd.add_attendee(con, meeting_at, name, role=role or None, added_by=user.key)
    st.session_state[f"{key}_attendee"] = ""
    st.session_state[f"{key}_attendee_role"] = ""
    st.session_state[f"{key}_msg"] = ("success", f"{name} recorded as attending.")


def _export_payload(fmt: str) -> bytes:
    """Each change's decision in force, for the system of record (as ``changeboard cab decisions export``)."""
    from changeboard.app import db

    from changeboard.store import cab_export

    decisions = cab_export.read_decisions(db.data_dir().ops_db)
    _pub, con = db.reader().current()
    cur = con.cursor()
    try:  # the sys_id a decision did not record, from the published changes
        known = cab.known_source_ids(cur, [str(d["change_id"]) for d in decisions])
    finally:
        cur.close()
    keep, _left = cab_export.split(cab_export.with_source_ids(decisions, known), fmt)
    text = cab_export.render(keep, fmt)
    return text.encode("utf-8-sig" if fmt.endswith("csv") else "utf-8")


def _minutes_payload(meeting_at: datetime, fmt: str) -> bytes:
    """The minutes in ``fmt``, read from the store when the user downloads them (so they are current)."""
    from changeboard.app import db

    return cab_minutes.render(cab_minutes.read_minutes(db.data_dir().ops_db, meeting_at), fmt)


def _attendees(meeting_at: datetime, user: identity.Identity, allowed: bool, key: str) -> None:
    """Who attends (stored with the meeting) and the minutes: decisions, conditions, attendees."""
    with requests_data.ops() as con:
        present = cd.attendees(con, meeting_at)
    names = ", ".join(str(a["name"]) + (f" ({a['role']})" if a.get("role") else "") for a in present)
    st.caption(md(f"Attendees ({len(present)}): {names or 'none recorded yet'}"))
    if allowed:
        a1, a2, a3 = st.columns([3, 2, 1], vertical_alignment="bottom")
        a1.text_input("Attendee", key=f"{key}_attendee", placeholder="Name")
        a2.text_input("Role", key=f"{key}_attendee_role", placeholder="chair, network, security…")
        a3.button("Add", key=f"{key}_attendee_add", on_click=_add_attendee, args=(meeting_at, user, key))
    cols = st.columns(4)
    for col, (fmt, label) in zip(
        cols,
        (
            ("html", "Minutes (HTML)"),
            ("pdf", "Minutes (PDF)"),
            ("md", "Minutes (Markdown)"),
            ("ics", "Deferred (ICS)"),
        ),
        strict=True,
    ):
        col.download_button(
            label,
            data=functools.partial(_minutes_payload, meeting_at, fmt),
            file_name=f"cab-minutes-{meeting_at:%Y-%m-%d}.{fmt}",
            mime=cab_minutes.MEDIA_TYPES[fmt],
            key=f"{key}_minutes_{fmt}",
            icon=":material/description:",
            on_click="ignore",
        )
    cols = st.columns(4)
    for col, (fmt, label) in zip(
        cols[:3],
        (
            ("servicenow-csv", "Decisions: ServiceNow CSV"),
            ("json", "Decisions: ServiceNow JSON"),
            ("jira-csv", "Decisions: Jira CSV"),
        ),
        strict=True,
    ):
        col.download_button(
            label,
            data=functools.partial(_export_payload, fmt),
            file_name=f"cab-decisions-{fmt}.{'json' if fmt == 'json' else 'csv'}",
            mime="application/json" if fmt == "json" else "text/csv",
            key=f"{key}_export_{fmt}",
            icon=":material/upload_file:",
            on_click="ignore",
        )
    cols[3].caption(
        "Each change's decision in force, for the system of record (`changeboard cab decisions export`)."
    )
