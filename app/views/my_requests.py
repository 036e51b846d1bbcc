"""My requests: the requester's change requests and where each one is now.

Status, most advanced first (:func:`ingest.ops.derive_status`): rejected; implemented (the ITSM change
it was matched to is closed); matched to an ITSM change that arrived later; approved by the CAB; on
the CAB agenda (it reached the published warehouse); submitted. Everything typed is shown in tables.
"""

from __future__ import annotations

import polars as pl
import streamlit as st
from changeboard.app import components, identity, requests_data
from changeboard.app.forms import clean_line

from changeboard.store import requests as ops

P = "mr_"
MATCH_RULE = (
    "An ITSM change counts as this request's record when its title (or description, where the warehouse "
    "publishes one) quotes the request's reference, e.g. CR0000042; or, failing that, when it is on one of "
    "the request's configuration items, its planned window overlaps the request's window, and its title "
    f"is at least {ops.MATCH_TITLE_SIMILARITY:.0%} similar. Tip: quote the reference in the ITSM change's "
    "description or set it as its correlation ID (the export does)."
)


def main() -> None:
    components.page_header(
        "My requests", "The change requests you raised through the form, and their status."
    )
    if identity.auth_configured():
        user = identity.signed_in_user()
        if user is None:
            identity.sign_in_prompt("Sign in to see your requests.", key=P + "auth")
            st.stop()
        identity.sign_out_control(user, key=P + "auth")
        who = user.key
    else:
        st.warning(identity.UNVERIFIED_NOTE, icon=":material/person_alert:")
        who = clean_line(st.text_input("Your name, as you typed it on the form", key=P + "name"))
        if not who:
            components.empty_state("Type your name to see your requests.")
            return

    with requests_data.ops() as con:
        mine = ops.list_requests(con, created_by=who)
    if not mine:
        components.empty_state(
            "You have not raised any change request yet.", "Use Raise a change to raise one."
        )
        return

    on_agenda, agenda_source = requests_data.agenda_references()
    cis = sorted({str(c) for r in mine for c in r["cis"]})  # type: ignore[attr-defined]
    candidates = requests_data.itsm_candidates(cis)
    rows = []
    for r in mine:
        match = ops.match_request(r, candidates)
        status = ops.derive_status(r, on_agenda=r["reference"] in on_agenda, match=match)
        if match is not None:
            detail = f"{match.number} ({match.rule}; {match.state_category or 'state unknown'})"
        elif r.get("decision"):
            detail = f"{r['decision']} by {r['decided_by']} at {r['decided_at']}"
        else:
            detail = ""
        rows.append(
            {
                "reference": r["reference"],
                "status": status,
                "title": r["title"],
                "type": r["change_type"],
                "window_start": components.as_text(r["window_start"]) if r["window_start"] else "",
                "window_end": components.as_text(r["window_end"]) if r["window_end"] else "",
                "submitted_at": components.as_text(r["created_at"]),
                "detail": detail,
                "cab_comment": r.get("decision_comment") or "",
            }
        )
    table = pl.DataFrame(rows)
    counts = table.group_by("status").len().sort("len", descending=True)
    cols = st.columns(max(len(counts), 1))
    for col, row in zip(cols, counts.iter_rows(named=True), strict=False):
        col.metric(row["status"].capitalize(), row["len"])
    st.dataframe(table, hide_index=True, key=P + "table")
    st.caption(
        f"On the CAB agenda = the request is in the published warehouse's {agenda_source} (after a pipeline run)."
    )
    with st.expander("How a request is matched to an ITSM change", icon=":material/link:"):
        st.text(MATCH_RULE)


main()
