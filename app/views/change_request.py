"""Raise a change request: a form that loses nothing and never creates a request twice.

* What kind, where and when (type, template, service, CIs, window) are live widgets, so the notice
  period, blackouts and the collision preview update before anything is submitted. The description
  and plans are in one ``st.form``.
* The submit button's callback runs before the page is drawn: it validates in pure code
  (:func:`app.forms.validate`), and only without errors writes ONE transaction to the form's store
  (:func:`ingest.ops.submit`, SQLite WAL, ``synchronous=FULL``). The reference appears after the
  commit, so a confirmation always means a durable request.
* One idempotency key per form instance (``st.session_state`` and the ``?form=`` query parameter,
  which survives a refresh): a double click, a refresh or a retry returns the first reference;
  "Submit another request" starts a new key.
* Nothing typed is rendered as HTML or Markdown: the summary is a table and ``st.text``.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import UTC, date, datetime, time

import streamlit as st
from changeboard.app import components, identity, requests_data
from changeboard.app.forms import (
    CHANGE_TYPES,
    IMPACTS,
    LABELS,
    RISKS,
    ChangeRequest,
    Policy,
    PolicyError,
    Problem,
    add_working_days,
    by_field,
    errors,
    required_fields,
    validate,
    when,
)

from changeboard.store import requests as ops

P = "cr_"  # session_state prefix of this page
TEXT_FIELDS = (
    "title",
    "requester",
    "description",
    "justification",
    "implementation_plan",
    "test_plan",
    "backout_plan",
)
LIVE_FIELDS = {"change_type", "template", "window_start", "window_end", "service", "cis"}  # outside st.form
WIDGET_KEYS = (
    "type",
    "template",
    "service",
    "cis",
    "start_date",
    "start_time",
    "end_date",
    "end_time",
    "impact",
    "risk",
    *TEXT_FIELDS,
)
TYPE_HELP = {
    "standard": "pre-approved, from a template",
    "normal": "assessed by the CAB, needs notice",
    "emergency": "cannot wait: needs a justification",
}
_MD = re.compile(r"([\\`*_\[\]<>#|~$])")


def md_escape(text: str) -> str:
    """Text (a CMDB or blackout name inside a message) shown literally by Markdown-rendering widgets."""
    return _MD.sub(r"\\\1", text)


def ss(name: str, default: object = None) -> object:
    try:
        return st.session_state.get(P + name, default)
    except KeyError:  # a widget of a page that is no longer drawn (a stale double click)
        return default


# --- the form instance: idempotency key ----------------------------------------------------------------------


def _new_key() -> str:
    key = uuid.uuid4().hex
    st.session_state[P + "key"] = key
    st.query_params["form"] = key
    return key


def _form_key(user: identity.Identity | None) -> str:
    """This form instance's idempotency key; after a refresh, the one in the URL (and its request)."""
    key = ss("key")
    if key:
        return str(key)
    from_url = st.query_params.get("form", "")
    if re.fullmatch(r"[0-9a-f]{32}", from_url or ""):
        st.session_state[P + "key"] = from_url
        with requests_data.ops() as con:
            stored = ops.find_by_key(con, from_url)
        if stored is not None:
            mine = user is None or not user.verified or str(stored["created_by"]).lower() == user.key.lower()
            st.session_state[P + "reference"] = stored["reference"]
            st.session_state[P + "stored"] = stored if mine else None
        return from_url
    return _new_key()


def _reset() -> None:
    """'Submit another request': a new form instance with a new key and empty fields."""
    for name in (*WIDGET_KEYS, "reference", "stored", "attempted", "failure"):
        st.session_state.pop(P + name, None)
    _new_key()


# --- building the request from the widgets ------------------------------------------------------------------


def _at(day: object, clock: object) -> datetime | None:
    if isinstance(day, date) and isinstance(clock, time):
        return datetime.combine(day, clock, tzinfo=UTC)
    return None


def _request(user: identity.Identity | None) -> ChangeRequest:
    values = {name: ss(name, "") for name in TEXT_FIELDS}
    if user is not None and user.verified:
        values["requester"] = user.name or user.email or ""
    return ChangeRequest.create(
        **values,
        change_type=ss("type", "normal"),
        template=(ss("template") or "") if ss("type") == "standard" else "",
        service=ss("service") or "",
        cis=ss("cis") or (),
        window_start=_at(ss("start_date"), ss("start_time")),
        window_end=_at(ss("end_date"), ss("end_time")),
        impact=ss("impact") or "",
        risk=ss("risk") or "",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _problems(req: ChangeRequest, policy: Policy) -> list[Problem]:
    blackouts, _model = requests_data.warehouse_blackouts()
    return validate(req, policy, _now(), blackouts=blackouts)


def _submit(user: identity.Identity | None, policy: Policy) -> None:
    """The submit button's callback: validate, then one durable transaction, then the reference.

    Runs before the page is drawn, so the confirmation and the errors next to the fields come from this
    very submission. Repeating it (double click, retry) is safe: the key makes the write a no-op.
    """
    if ss("reference"):  # a second click after the confirmation: already stored, nothing to do
        return
    st.session_state[P + "attempted"] = True
    st.session_state.pop(P + "failure", None)
    req = _request(user)
    if errors(_problems(req, policy)):
        return
    fields = {
        **req.store_fields(),
        "created_by": user.key if user is not None and user.verified else req.requester,
        "identity_verified": bool(user is not None and user.verified),
    }
    try:
        with requests_data.ops() as con:
            reference = ops.submit(con, fields, str(ss("key")))
    except sqlite3.Error as exc:  # disk full, store unreachable: keep the input, offer a retry
        st.session_state[P + "failure"] = f"{type(exc).__name__}: {exc}"
        return
    st.session_state[P + "reference"] = reference
    st.session_state[P + "stored"] = None


# --- drawing ---------------------------------------------------------------------------------------------------


def _show(problems: dict[str, list[Problem]], name: str, visible: bool) -> None:
    """The problems of one field, right under it; ``visible`` once submitted (or a live field has a value)."""
    if not visible:
        return
    for p in problems.get(name, []):
        if p.is_error:
            st.error(md_escape(p.message), icon=":material/error:")
        else:
            st.warning(md_escape(p.message), icon=":material/warning:")


def _confirmation(reference: str, stored: dict[str, object] | None) -> None:
    st.success(
        f"Request **{reference}** is stored. Quote this reference in any conversation about the change. "
        "It reaches the CAB agenda after the next pipeline run.",
        icon=":material/task_alt:",
    )
    if stored is None:
        with requests_data.ops() as con:
            stored = ops.get_request(con, reference)
    if stored:
        rows = [
            ("Reference", reference),
            ("Title", stored["title"]),
            ("Type", stored["change_type"]),
            ("Service", stored["service"] or ""),
            ("Configuration items", ", ".join(stored["cis"])),  # type: ignore[arg-type]
            (
                "Window",
                f"{components.as_text(stored['window_start'])} to {components.as_text(stored['window_end'])}",
            ),
            ("Requester", stored["created_by"]),
            ("Status", stored["status"]),
            ("Submitted at", components.as_text(stored["created_at"])),
        ]
        st.dataframe(
            {"Field": [r[0] for r in rows], "Value": [str(r[1]) for r in rows]},
            hide_index=True,
            key=P + "summary",
        )
    cols = st.columns([1, 1, 3])
    cols[0].button("Submit another request", key=P + "another", on_click=_reset, icon=":material/add:")
    cols[1].page_link("views/my_requests.py", label="My requests", icon=":material/list_alt:")


def _preview(req: ChangeRequest, policy: Policy) -> None:
    """Notice period, collisions with scheduled changes, before anything is submitted."""
    days = policy.notice_days(req.change_type)
    if req.change_type == "emergency":
        st.caption("Emergency change: no notice period, but the justification must say why it cannot wait.")
    elif days:
        st.caption(
            f"A {req.change_type} change needs {days} working days' notice: the earliest start is "
            f"{when(add_working_days(_now(), days, policy.holidays))}."
        )
    if req.window_start is None or req.window_end is None or req.window_end <= req.window_start:
        st.caption("Choose a window to see the scheduled changes it would collide with.")
        return
    if not req.cis and not req.service:
        st.caption("Choose a service or configuration items to see collisions with scheduled changes.")
        return
    found, scope = requests_data.collisions(
        start=req.window_start, end=req.window_end, ci_names=req.cis, service=req.service or None
    )
    with st.container(border=True, key=P + "collisions"):
        if found.is_empty():
            st.markdown(
                ":material/check_circle: **No collisions**: no scheduled change overlaps this window."
            )
        else:
            st.markdown(
                f":material/warning: **{found.height} scheduled change(s) overlap this window.** "
                "You can still submit; the CAB sees the same overlap."
            )
            st.dataframe(found, hide_index=True, key=P + "collision_table")
        st.caption(f"Checked {scope}.")


def _signed_in_user() -> identity.Identity | None:
    """The verified user (the page stops at a sign-in prompt until there is one), or None in demo mode."""
    if not identity.auth_configured():
        st.warning(identity.UNVERIFIED_NOTE, icon=":material/person_alert:")
        return None
    user = identity.signed_in_user()
    if user is None:
        identity.sign_in_prompt("Sign in to raise a change request.", key=P + "auth")
        st.stop()
    identity.sign_out_control(user, key=P + "auth")
    return user


def _policy_or_stop() -> Policy:
    """The change policy in force; the form closes with the reason when it cannot be read."""
    try:
        return requests_data.policy()
    except PolicyError as exc:
        st.error(f"The change policy cannot be read, so the form is closed: {exc}", icon=":material/policy:")
        st.stop()
        raise  # st.stop() raises; this keeps the type checker's flow honest


def _change_type_and_template(
    req: ChangeRequest, policy: Policy, found: dict[str, list[Problem]], attempted: bool
) -> None:
    st.radio(
        "Change type",
        CHANGE_TYPES,
        index=1,
        key=P + "type",
        horizontal=True,
        format_func=lambda t: f"{t.capitalize()} ({TYPE_HELP[t]})",
    )
    if ss("type") == "standard":
        st.selectbox(
            "Standard change template",
            policy.standard_templates,
            index=None,
            key=P + "template",
            placeholder="Search the pre-approved templates",
        )
        _show(found, "template", attempted or bool(req.template))


def _service_and_cis(req: ChangeRequest, found: dict[str, list[Problem]], attempted: bool) -> None:
    services = requests_data.services()
    cis = requests_data.configuration_items()
    left, right = st.columns(2)
    with left:
        st.selectbox(
            "Service", services, index=None, key=P + "service", placeholder="Search services (type to filter)"
        )
    service = ss("service")
    options = cis.filter(cis["service_name"] == service) if service else cis
    labels = {r["name"]: f"{r['name']} · {r['ci_class']}" for r in options.iter_rows(named=True)}
    for chosen in ss("cis") or ():  # keep earlier choices visible when the service changes
        labels.setdefault(chosen, chosen)
    with right:
        st.multiselect(
            "Configuration items",
            list(labels),
            key=P + "cis",
            format_func=lambda n: labels.get(n, n),
            placeholder="Search the CMDB (type to filter)",
            max_selections=20,
        )
        _show(found, "cis", attempted or bool(req.cis))


def _window(req: ChangeRequest, found: dict[str, list[Problem]], attempted: bool) -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.date_input("Window start date (UTC)", value=None, key=P + "start_date", format="YYYY-MM-DD")
    c2.time_input("Window start time (UTC)", value=None, key=P + "start_time", step=900)
    c3.date_input("Window end date (UTC)", value=None, key=P + "end_date", format="YYYY-MM-DD")
    c4.time_input("Window end time (UTC)", value=None, key=P + "end_time", step=900)
    _show(found, "window_start", attempted or req.window_start is not None)
    _show(found, "window_end", attempted or req.window_end is not None)


def _what_where_when(
    req: ChangeRequest, policy: Policy, found: dict[str, list[Problem]], attempted: bool
) -> None:
    """Section 1, outside the form so that it reacts at once (type, template, service, CIs, window)."""
    st.subheader("1. What, where and when")
    _change_type_and_template(req, policy, found, attempted)
    _service_and_cis(req, found, attempted)
    _window(req, found, attempted)
    _preview(req, policy)


def _description_fields(
    user: identity.Identity | None, policy: Policy, found: dict[str, list[Problem]], attempted: bool
) -> None:
    if user is None:
        st.text_input(
            "Requester (your name)",
            key=P + "requester",
            max_chars=policy.max_length("requester"),
            placeholder="Not verified in demo mode",
        )
        _show(found, "requester", attempted)
    st.text_input(
        "Title",
        key=P + "title",
        max_chars=policy.max_length("title"),
        placeholder="What changes, on what",
    )
    _show(found, "title", attempted)
    st.text_area("Description", key=P + "description", max_chars=policy.max_length("description"))
    _show(found, "description", attempted)
    st.text_area(
        "Justification",
        key=P + "justification",
        max_chars=policy.max_length("justification"),
        placeholder="Why this change; for an emergency change, why it cannot wait",
    )
    _show(found, "justification", attempted)


def _assessment_and_plans(policy: Policy, found: dict[str, list[Problem]], attempted: bool) -> None:
    i, r = st.columns(2)
    with i:
        st.selectbox("Impact", IMPACTS, index=None, key=P + "impact", placeholder="Your assessment")
        _show(found, "impact", attempted)
    with r:
        st.selectbox("Risk", RISKS, index=None, key=P + "risk", placeholder="Your assessment")
        _show(found, "risk", attempted)
    for name in ("implementation_plan", "test_plan", "backout_plan"):
        st.text_area(LABELS[name], key=P + name, max_chars=policy.max_length(name), height=100)
        _show(found, name, attempted)


def _describe_it(
    req: ChangeRequest,
    user: identity.Identity | None,
    policy: Policy,
    found: dict[str, list[Problem]],
    attempted: bool,
) -> None:
    """Section 2, inside one st.form (typing does not rerun the page), ending in the submit button."""
    st.subheader("2. Describe it")
    required = [
        LABELS[f] for f in required_fields(req.change_type) if f not in LIVE_FIELDS and f != "change_type"
    ]
    st.caption(f"Required for a {req.change_type} change: {', '.join(required)}.")
    with st.form(P + "form", clear_on_submit=False, enter_to_submit=False, border=True):
        _description_fields(user, policy, found, attempted)
        _assessment_and_plans(policy, found, attempted)
        st.form_submit_button(
            "Submit request",
            type="primary",
            key=P + "submit",
            icon=":material/send:",
            on_click=_submit,
            args=(user, policy),
        )


def _outcome_of_submit(problems: list[Problem], attempted: bool) -> None:
    """Why the last submit stored nothing, if it did not."""
    if ss("failure"):
        st.error(
            "The request could not be stored, and nothing was lost: your input is still here. "
            "Click Submit request again to retry (it cannot create a duplicate).",
            icon=":material/sync_problem:",
        )
    elif attempted and errors(problems):
        n = len(errors(problems))
        st.error(
            f"{n} problem{'s' if n != 1 else ''} to fix, shown next to the fields. Nothing has been stored yet.",
            icon=":material/error:",
        )


def main() -> None:
    components.page_header(
        "Raise a change request",
        "For anyone who needs a change: no ITSM tool to learn. The CAB sees your request after the next "
        "pipeline run. All times are UTC.",
    )
    user = _signed_in_user()
    policy = _policy_or_stop()
    _form_key(user)
    reference = ss("reference")
    if reference:
        _confirmation(str(reference), ss("stored"))  # type: ignore[arg-type]
        return
    req = _request(user)
    problems = _problems(req, policy)
    found = by_field(problems)
    attempted = bool(ss("attempted"))
    _what_where_when(req, policy, found, attempted)
    _describe_it(req, user, policy, found, attempted)
    _outcome_of_submit(problems, attempted)


main()
