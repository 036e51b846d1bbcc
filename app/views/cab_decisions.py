"""CAB decisions: decide every item awaiting the CAB at the next meeting (form requests and ITSM changes)."""

from __future__ import annotations

import streamlit as st
from changeboard.app import components, db
from changeboard.app.cab_decisions import render_cab_decisions

from changeboard.reports import cab


@st.cache_data(show_spinner=False, max_entries=8, ttl=3600)
def _pack(version: str) -> cab.CabPack:
    _pub, con = db.reader().current()
    cur = con.cursor()
    try:
        return cab.cab_pack(cur, None, warehouse_version=version)
    finally:
        cur.close()


components.page_header(
    "CAB decisions",
    "Every item awaiting a CAB decision at the next meeting, form requests and ITSM changes alike, with its "
    "risk evidence. Decisions are stored with who and when, and reach the warehouse (fct_cab_decisions) at "
    "the next build. Pick another meeting on the CAB meeting pack page.",
)
try:
    pack = _pack(db.published().version)
except cab.CabPackError as exc:
    st.error(f"The CAB agenda cannot be built from the published warehouse: {exc}.")
    st.stop()
st.caption(
    f"Meeting {cab.fmt_ts(pack.meeting_at)} UTC · evidence as of {cab.fmt_ts(pack.evidence_as_of)} UTC"
)
render_cab_decisions(pack, key="cabd")
