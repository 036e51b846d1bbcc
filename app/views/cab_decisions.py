"""CAB decisions: approve or reject the change requests raised through the form."""

from __future__ import annotations

from changeboard.app import components
from changeboard.app.cab_decisions import render_cab_decisions

components.page_header(
    "CAB decisions",
    "Requests raised through the form that wait for a CAB decision. Decisions are stored with who and when, "
    "and reach the warehouse at the next pipeline run.",
)
render_cab_decisions()
