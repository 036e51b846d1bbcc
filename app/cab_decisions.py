"""CAB decisions on form requests: a component any page can mount (the CAB page does, and so does the
Requests section's "CAB decisions" page).

:func:`render_cab_decisions` lists the pending requests (status ``submitted``) and lets a CAB member
approve or reject each with a comment. The decision goes to the form's store (:func:`ingest.ops.decide`:
one transaction, with who and when), and reaches the warehouse as an approval row at the next pipeline
run. With sign-in configured only the configured CAB members may decide; in the demo anyone may, under
a typed name recorded as unverified. Everything a requester typed is shown as text, never as HTML.
"""

from __future__ import annotations

import streamlit as st
from changeboard.app import identity, requests_data
from changeboard.app.components import as_text
from changeboard.app.forms import clean_line, clean_text

from changeboard.store import requests as ops

MAX_PENDING = 50
MAX_COMMENT = 2000


def _decide(reference: str, decision: str, who: str, key: str) -> None:
    """Button callback: record the decision before the page is drawn again."""
    comment = clean_text(st.session_state.get(f"{key}_comment_{reference}", ""))[:MAX_COMMENT]
    if decision == "rejected" and not comment:
        st.session_state[f"{key}_msg"] = ("error", reference, "A rejection needs a comment saying why.")
        return
    try:
        with requests_data.ops() as con:
            result = ops.decide(con, reference, decision, decided_by=who, comment=comment or None)
    except ops.DecisionRefused as exc:
        st.session_state[f"{key}_msg"] = ("error", reference, f"Not recorded: {exc}.")
        return
    text = f"{reference} {result.decision} by {result.decided_by} at {result.decided_at}."
    st.session_state[f"{key}_msg"] = ("success", reference, text)


def _who(key: str) -> identity.Identity | None:
    if identity.auth_configured():
        user = identity.signed_in_user()
        if user is None:
            identity.sign_in_prompt("Sign in to approve or reject requests.", key=key)
        return user
    name = clean_line(st.text_input("Your name (recorded with the decision)", key=f"{key}_name"))
    return identity.Identity(name=name, email=None, verified=False)


def _request_details(r: dict[str, object]) -> None:
    facts = {
        "Type": r["change_type"],
        "Template": r.get("template") or "",
        "Service": r.get("service") or "",
        "Configuration items": ", ".join(r["cis"]),  # type: ignore[arg-type]
        "Window": f"{as_text(r.get('window_start') or '')} to {as_text(r.get('window_end') or '')}",
        "Impact / risk": f"{r.get('impact') or '—'} / {r.get('risk') or '—'}",
        "Requester": f"{r['created_by']}{'' if r['identity_verified'] else ' (not verified)'}",
        "Submitted at": as_text(r["created_at"]),
    }
    st.dataframe(
        {"Field": list(facts), "Value": [str(v) for v in facts.values()]},
        hide_index=True,
        key=f"cabd_facts_{r['reference']}",
    )
    for name, label in (
        ("description", "Description"),
        ("justification", "Justification"),
        ("implementation_plan", "Implementation plan"),
        ("test_plan", "Test plan"),
        ("backout_plan", "Backout plan"),
    ):
        if r.get(name):
            st.caption(label)
            st.text(str(r[name]))


def render_cab_decisions(*, key: str = "cabd") -> None:
    """Pending form requests with Approve / Reject (and a comment), then the latest decisions."""
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
        kind, _reference, text = msg
        (st.success if kind == "success" else st.error)(text)

    with requests_data.ops() as con:
        pending = ops.list_requests(con, statuses=["submitted"])
        decided = ops.list_requests(con, statuses=["approved", "rejected"], limit=20)
    pending.sort(key=lambda r: (str(r.get("window_start") or "9999"), str(r["reference"])))
    st.subheader(f"Pending requests ({len(pending)})")
    if not pending:
        st.caption("No form request is waiting for a decision.")
    for r in pending[:MAX_PENDING]:
        ref = str(r["reference"])
        with st.container(border=True, key=f"{key}_req_{ref}"):
            head = st.columns([1, 4])
            head[0].markdown(f"**{ref}**")
            head[1].text(f"{r['title']}")
            with st.expander("Details", icon=":material/description:"):
                _request_details(r)
            if allowed:
                st.text_area(
                    "Comment",
                    key=f"{key}_comment_{ref}",
                    max_chars=MAX_COMMENT,
                    height=68,
                    placeholder="Conditions, or why it is rejected (required to reject)",
                )
                b1, b2, _ = st.columns([1, 1, 4])
                b1.button(
                    "Approve",
                    key=f"{key}_approve_{ref}",
                    type="primary",
                    icon=":material/check:",
                    on_click=_decide,
                    args=(ref, "approved", user.key, key),
                )
                b2.button(
                    "Reject",
                    key=f"{key}_reject_{ref}",
                    icon=":material/close:",
                    on_click=_decide,
                    args=(ref, "rejected", user.key, key),
                )
    if len(pending) > MAX_PENDING:
        st.caption(f"Showing the {MAX_PENDING} earliest windows of {len(pending)} pending requests.")
    if decided:
        st.subheader("Latest decisions")
        st.dataframe(
            {
                "reference": [r["reference"] for r in decided],
                "title": [r["title"] for r in decided],
                "decision": [r["decision"] for r in decided],
                "by": [r["decided_by"] for r in decided],
                "at": [r["decided_at"] for r in decided],
                "comment": [r.get("decision_comment") or "" for r in decided],
            },
            hide_index=True,
            key=f"{key}_decided",
        )
