"""One colour meaning for every schedule: the CAB pack's timeline (matplotlib), the CAB page and the
Backlog & schedule page (plotly) colour a change by its published risk indicator
(fct_change_risk_evidence.risk_level), outline a colliding change in COLLISION and shade blackout
windows in BLACKOUT. Change a colour here and every schedule follows."""

from __future__ import annotations

RISK_COLOURS = {"low": "#4c9a5b", "medium": "#e0a526", "high": "#c8423b"}
RISK_UNKNOWN = "#8888aa"  # a change without a published risk indicator
BLACKOUT = "#6b6b6b"
COLLISION = "#b0122b"
