"""Sample export generator: realistic ServiceNow and Jira Service Management exports.

Writes, under one folder, the files a change manager would export from two ITSM tools, with the
stories the metrics must find and the warts the connectors must survive:

- ``servicenow/``: list CSV exports (display values, every value quoted, Windows-1252, Europe/London
  display times) of ``change_request``, ``change_task``, ``rm_release``, ``rm_m2m_release_task``,
  ``cmdb_ci``, ``cmdb_rel_ci``, ``task_ci`` and ``incident`` (in two parts, the first below the 10,000-row export cap).
- ``jira/changes.csv``: a Jira Service Management change export for a second business unit (UTF-8,
  repeated column names, ``dd/MMM/yy h:mm AM/PM`` dates in America/New_York).
- ``changeboard/change_windows.csv``: blackout and maintenance windows in changeboard's own format.

Stories: failure odds rise with risk and are highest for emergency changes; a few hot CIs carry a large
share of changes; major incidents are fixed by an emergency change on the same CI (``rfc``); changes
happen mid-week and avoid freezes; failed changes cause incidents 1-48 h later on the same or a related
CI, a minority linked through ``caused_by``; the other incidents are spread thinly over the estate,
independent of where the changes are (more on applications, services and end-user services), and
about a third of them name no CI; a forward schedule with collisions, a blackout violation, overdue
changes and an open backlog.

Everything is vectorised with numpy and written with polars in chunks, so a million changes and five
million incidents take minutes. The same seed and arguments give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

# ----------------------------------------------------------------------------------------------
# Tunables
# ----------------------------------------------------------------------------------------------

HISTORY_MONTHS = 18
FORWARD_DAYS = 14
INCIDENTS_PER_CHANGE = 3
MIN_CHANGES = 100
MIN_CIS = 150
MAX_CIS = 100_000
CHANGES_PER_CI = 4  # default CIs = changes // 4 (clamped to MIN_CIS..MAX_CIS)
JIRA_SHARE = 0.15
MIN_JIRA_CHANGES = 50
EXPORT_CAP = 10_000  # ServiceNow's default list-export row limit
# The incident export comes in two parts, as a user who knows the cap exports it (by number range):
# the first part stays below the cap, so the demo's own files never look cut at it (the ingest warns
# about a file of exactly EXPORT_CAP rows, which real exports cut by the cap are).
INCIDENT_FIRST_PART = 8_000
CHUNK_ROWS = 200_000  # rows per polars write chunk (bounds memory)

SN_TZ = "Europe/London"
JIRA_TZ = "America/New_York"
SN_TS_FORMAT = "%Y-%m-%d %H:%M:%S"
JIRA_TS_FORMAT = "%d/%b/%y %-I:%M %p"
WINDOW_TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

SN_EXPORT_TOML = 'system = "servicenow"\ntimezone = "Europe/London"\n'
JIRA_EXPORT_TOML = 'system = "jira"\ntimezone = "America/New_York"\ndate_format = "%d/%b/%y %I:%M %p"\n'

MINUTE = 60.0
HOUR = 3_600.0
DAY = 86_400.0

# Change type / risk mix and the failure model.
T_STD, T_NORMAL, T_EMERG = 0, 1, 2
TYPE_LABELS = ("Standard", "Normal", "Emergency")
TYPE_SHARE = (0.45, 0.45, 0.10)
R_LOW, R_MOD, R_HIGH, R_VHIGH = 0, 1, 2, 3
RISK_LABELS = ("Low", "Moderate", "High", "Very High")
RISK_MIX = {  # P(risk | type)
    T_STD: (0.80, 0.20, 0.0, 0.0),
    T_NORMAL: (0.35, 0.40, 0.20, 0.05),
    T_EMERG: (0.08, 0.30, 0.48, 0.14),
}
FAIL_P_BY_RISK = np.array([0.02, 0.06, 0.16, 0.40])
FAIL_MULT_BY_TYPE = np.array([0.35, 1.0, 1.8])
# Close code of a closed change, given it went bad or not: Successful, with issues, Unsuccessful.
CLOSE_MIX_BAD = (0.20, 0.30, 0.50)
CLOSE_MIX_GOOD = (0.93, 0.07, 0.0)
# Caused incidents of a bad change: P(any), then 1 + Poisson(extra), capped.
CAUSE_P_ANY = 0.75
CAUSE_EXTRA_MEAN = 1.0
CAUSE_MAX = 4
CAUSE_SAME_CI = 0.6  # else a CI one relationship away
CAUSE_HOURS = (1.0, 48.0)
CAUSED_BY_FILLED_MAJOR = 0.45  # P(caused_by filled) for P1/P2 caused incidents
CAUSED_BY_FILLED_OTHER = 0.20
# Major incidents fixed by an emergency change within 0-12 h.
FIX_SHARE_OF_MAJORS = 0.8
FIX_MAX_SHARE_OF_EMERGENCIES = 0.6
FIX_WINDOW_HOURS = 12.0

# Lifecycle classes of changes (share of changes; minimum count).
K_HIST, K_CANCEL, K_FWD, K_OVERDUE, K_BACKLOG, K_IMPL, K_FIX = range(7)
CLASS_SHARE = {
    K_FWD: (0.03, 12),
    K_OVERDUE: (0.004, 3),
    K_BACKLOG: (0.015, 10),
    K_IMPL: (0.001, 2),
    K_CANCEL: (0.04, 5),
}
RELEASE_MEMBER_SHARE = 0.30  # of normal changes
RELEASE_MEAN_SIZE = 3.4  # member changes per release (geometric): about one release per 25 changes

# Day-of-week (Mon..Sun) and hour-of-day (UTC) rhythms.
DOW_CHANGE = {
    T_STD: (0.17, 0.21, 0.21, 0.21, 0.15, 0.03, 0.02),
    T_NORMAL: (0.10, 0.26, 0.26, 0.25, 0.08, 0.03, 0.02),
    T_EMERG: (0.16, 0.15, 0.15, 0.15, 0.15, 0.12, 0.12),
}
HOUR_CHANGE = {
    T_STD: (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.3, 0.3, 0.3, 0, 0, 0, 0),
    T_NORMAL: (0, 0, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0, 1, 2, 3, 2, 1, 0),
    T_EMERG: (1, 1, 1, 1, 1, 1, 1, 1, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1, 1, 1, 1, 1, 1, 1),
}
DOW_INCIDENT = (1.0, 1.0, 1.0, 1.0, 1.0, 0.55, 0.5)
HOUR_INCIDENT = (1, 1, 1, 1, 1, 1.5, 2, 4, 7, 9, 9, 8, 7, 8, 8, 7, 6, 5, 4, 3, 2, 2, 1.5, 1)
FREEZE_FACTOR = 0.01  # relative chance of a non-emergency change on a freeze day
TREND = 0.3  # change volume grows by this fraction over the history
MAINTENANCE_SNAP = 0.85  # share of normal changes on maintenance-window services moved into a window

# Incidents.
P_LABELS = ("1 - Critical", "2 - High", "3 - Moderate", "4 - Low", "5 - Planning")
P_MIX_BACKGROUND = (0.003, 0.017, 0.25, 0.62, 0.11)
P_MIX_CAUSED = (0.04, 0.14, 0.45, 0.32, 0.05)
RESOLVE_MEDIAN_HOURS = (3.0, 8.0, 30.0, 70.0, 160.0)
INC_STATE_LABELS = ("New", "In Progress", "On Hold", "Resolved", "Closed", "Canceled")
INC_CANCELED_SHARE = 0.015
# Background incidents logged without a CI, by the class of the CI behind them: user-reported ones
# (applications, services) often leave the field empty, monitoring-raised ones (infrastructure) rarely.
# About 35 % of background incidents overall.
INC_NO_CI_SHARE = (0.55, 0.55, 0.15, 0.15, 0.15, 0.15)
# Background incidents fall on CIs far more evenly than changes and independently of them. A service's
# incident volume follows its user base (log-normal, larger for end-user services) and grows only
# sub-linearly with its size; within the service, users report against applications and the
# service itself more than against infrastructure.
INCIDENT_CLASS_MULT = (1.5, 1.5, 0.8, 0.8, 0.6, 0.6)
INCIDENT_CI_SIGMA = 0.5  # log-normal per-CI noise
INCIDENT_SVC_SIGMA = 0.5  # log-normal per-service noise (the user base)
INCIDENT_SIZE_EXP = 0.3  # service incident volume ~ (CIs in the service) ** this
END_USER_INCIDENT_MULT = 2.0  # services every employee uses: more users, more incidents
END_USER_SERVICES = frozenset(
    {"Email", "Identity & Access", "HR Portal", "Intranet", "Print & Mail", "Contact Centre"}
)

# Warts: (share, minimum count).
WART_EMPTY_CI = (0.003, 3)
WART_END_BEFORE_START = (0.001, 2)
WART_UNKNOWN_CLOSE = (0.001, 2)  # each unknown code
WART_EMPTY_CLOSE = (0.002, 3)
WART_DUPLICATES = (0.001, 3)
WART_FORMULA = (0.002, 4)
WART_CANCEL_STAMP = 0.35  # share of canceled changes with work_end = closed_at
WART_PHANTOM_CI = (0.0005, 3)
UNAUTHORIZED_LATE_APPROVAL = 0.012
UNAUTHORIZED_FLAG_ONLY = 0.004

# ----------------------------------------------------------------------------------------------
# Vocabulary
# ----------------------------------------------------------------------------------------------

SERVICE_BASES = (
    ("Payments", "pay"),
    ("Online Banking", "obk"),
    ("Mobile Banking", "mob"),
    ("Card Processing", "crd"),
    ("Customer Portal", "cpt"),
    ("Loans Origination", "lno"),
    ("Mortgages", "mtg"),
    ("Fraud Detection", "frd"),
    ("Treasury", "trs"),
    ("Trading Platform", "trd"),
    ("Payroll", "prl"),
    ("HR Portal", "hrp"),
    ("Email", "eml"),
    ("Identity & Access", "iam"),
    ("Data Warehouse", "dwh"),
    ("CRM", "crm"),
    ("ERP Finance", "erp"),
    ("Document Management", "dms"),
    ("Contact Centre", "ccc"),
    ("Notifications", "ntf"),
    ("Open Banking API", "oba"),
    ("ATM Network", "atm"),
    ("Branch Services", "brs"),
    ("Savings", "sav"),
    ("Wealth Management", "wlt"),
    ("Insurance Claims", "icl"),
    ("Procurement", "prc"),
    ("Reporting & MI", "rmi"),
    ("Core Banking", "cbs"),
    ("FX Rates", "fxr"),
    ("Statements", "stm"),
    ("Collections", "col"),
    ("Customer Onboarding", "kyc"),
    ("Chat Assistant", "bot"),
    ("Intranet", "itn"),
    ("Print & Mail", "prt"),
    ("Market Data", "mkd"),
    ("Sanctions Screening", "snc"),
    ("Audit Logging", "aud"),
    ("Backup Service", "bkp"),
)
REGIONS = (
    ("UK", "uk"),
    ("EU", "eu"),
    ("US", "us"),
    ("APAC", "ap"),
    ("Nordics", "no"),
    ("Iberia", "ib"),
    ("DACH", "de"),
    ("LATAM", "la"),
)
SITES = ("lon", "man", "edi", "dub", "ams", "fra", "nyc", "sgp")
PHANTOM_CIS = ("lnx-legacy-901", "win-dc-old-07", "ora-decom-03", "sw-lab-999", "app-shadow-reporting-01")

C_SVC, C_APP, C_SRV, C_DB, C_LB, C_NG = range(6)
CLASS_LABELS = ("Business Service", "Application", "Server", "Database", "Load Balancer", "Network Gear")
CLASS_SHARE_CI = (0.03, 0.25, 0.40, 0.15, 0.07, 0.10)
CLASS_CHANGE_MULT = (0.0, 1.6, 1.0, 0.8, 0.6, 0.6)
OP_STATUS = ("Operational", "Non-Operational", "Repair in Progress", "Retired")
INSTALL_STATUS = ("Installed", "In Maintenance", "Retired")
ENVIRONMENTS = ("Production", "Test", "Development")
CRITICALITY = ("1 - most critical", "2 - somewhat critical", "3 - less critical", "4 - not critical")
REL_TYPES = ("Depends on::Used by", "Runs on::Runs", "Connects to::Connected by")

PLATFORM_GROUPS = (
    "Linux Platform",
    "Windows Platform",
    "Unix Platform",
    "Database Administration",
    "Network Operations",
    "Load Balancing & DNS",
    "Service Desk",
    "Change Management",
    "Cloud Engineering",
)
G_LINUX, G_WINDOWS, G_UNIX, G_DBA, G_NETWORK, G_LB, G_DESK = range(7)

FIRST_NAMES = (
    "Alice", "Ben", "Chloé", "Daniel", "Emma", "Farah", "George", "Hannah", "Isaac", "Julia", "Kwame", "Laura",
    "Mohammed", "Nina", "Oliver", "Priya", "Quentin", "Rachel", "Samuel", "Tara", "Umar", "Victoria", "William",
    "Xin", "Yusuf", "Zoë", "José", "Renée", "Björn", "Søren", "François", "Núria", "Aoife", "Callum", "Deepa",
    "Eilidh", "Fiona", "Gareth", "Harriet", "Imran", "Jack", "Keira", "Liam", "Maya", "Niall", "Olga", "Pedro",
    "Rhys", "Sanjay", "Tomás", "Ursula", "Vikram", "Wen", "Yara", "Zainab", "Ahmed", "Bethan", "Ciarán", "Dev", "Elena",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "O'Brien",
    "Müller", "García", "Núñez", "Åberg", "Kowalski", "Nguyen", "Khan", "Singh", "Okafor", "Murphy", "Kelly",
    "MacLeod", "Hughes", "Edwards", "Lewis", "Harris", "Martin", "Cooper", "King", "Lee", "Baker", "Ahmed", "Hill",
    "Moore", "Clark", "Turner", "Scott", "Young", "Allen", "Mitchell", "Campbell", "Anderson", "Bell", "Ward",
    "Morris", "Parker", "Price", "Fischer",
)  # fmt: skip

# Short descriptions: (prefix, suffix) around the CI name, per CI class.
CHANGE_TEMPLATES: dict[int, tuple[tuple[str, str], ...]] = {
    C_SVC: (("Planned maintenance – ", ""), ("DR failover test for ", "")),
    C_APP: (
        ("Deploy new release to ", ""),
        ("Update configuration of ", ""),
        ("Rotate API keys for ", ""),
        ("Upgrade Java runtime on ", ""),
        ("Scale out ", " – add two instances"),
        ("Enable feature flag on ", ""),
        ('Restart "', '" after config change'),
    ),
    C_SRV: (
        ("Apply monthly OS patches to ", ""),
        ("Kernel upgrade on ", ""),
        ("Increase disk on ", " to 500 GB"),
        ("Replace failed PSU in ", ""),
        ("Reboot ", " to clear memory leak"),
        ("Install monitoring agent on ", ""),
    ),
    C_DB: (
        ("Increase tablespace on ", ""),
        ("Apply quarterly CPU patch to ", ""),
        ("Rebuild indexes on ", ""),
        ("Fail over ", " to standby"),
        ("Upgrade ", " to PostgreSQL 16"),
    ),
    C_LB: (
        ("Renew TLS certificate on ", ""),
        ("Add pool member on ", ""),
        ("Update health monitor on ", ""),
        ("Firmware upgrade – ", ""),
    ),
    C_NG: (
        ("Firmware upgrade – ", ""),
        ("Add firewall rule on ", ", see description"),
        ("Replace line card in ", ""),
        ("Update ACLs on ", ""),
    ),
}
# Emergency changes raised to fix a major incident.
FIX_TEMPLATES = (
    ("Emergency fix: restore service on ", ""),
    ("Roll back last deployment on ", " – emergency"),
    ("Emergency restart of ", " to restore service"),
    ("Hotfix for major incident on ", ""),
)
FIX_REASON = "Major incident in progress; emergency fix to restore service."
# ServiceNow prefixes values starting with - = + @ with an apostrophe (formula escaping).
FORMULA_TEMPLATES = (
    ("'-- remove route 10.20.0.0/16 from ", ""),
    ("'=SUM fix in billing report on ", ""),
    ("'+1 node for ", " cluster"),
    ("'@ops restart ", " after patching"),
)
CHANGE_REASONS = (
    "Vendor security advisory; patch required within 30 days.",
    "Capacity forecast shows 85% utilisation by month end.",
    'Business request from the "Digital" programme.',
    "Recurring incidents; fix agreed in problem review.",
    "Certificate expires in 14 days – renewal required.",
    "End-of-support version, upgrade to a supported release.",
    "Audit finding: configuration drift from the baseline.",
    "Cost saving of £12k a year by consolidating instances.",
)
CHANGE_NOTES = (
    "Customer impact expected to be minimal.",
    "Rollback tested in pre-production.",
    "Run during the agreed maintenance window, low traffic.",
    "Coordinate with the service desk before starting.\nNotify major incident manager if checks fail.",
    "Vendor engineer on site; access request raised.",
)
JUSTIFICATIONS = (
    "Keeps the service within vendor support.",
    "Reduces incident volume on this CI.",
    "Required by the security patching policy.",
    "Delivers the requested business feature.",
    "",
)
IMPLEMENTATION_PLANS = (
    "1. Notify service desk\n2. Drain traffic\n3. Apply change\n4. Run smoke tests\n5. Restore traffic",
    "1. Take backup\n2. Apply change per runbook RB-112\n3. Validate with monitoring",
    "Follow standard template steps; no deviations.",
)
BACKOUT_PLANS = (
    "Restore from the pre-change backup and restart services.",
    "Redeploy the previous release (blue/green switch back).",
    "Revert configuration from version control.",
    "",
)
TEST_PLANS = (
    "Smoke tests, synthetic transactions and a dashboard check.",
    "Business verification by the service owner.",
    "Automated regression suite in pre-production, then production smoke test.",
    "",
)
CLOSE_CODE_LABELS = (
    "",
    "Successful",
    "Successful with issues",
    "Unsuccessful",
    "Partially completed",
    "Rolled back - vendor",
)
CC_NONE, CC_OK, CC_ISSUES, CC_FAIL, CC_PARTIAL, CC_VENDOR = range(6)
CLOSE_NOTES = (
    "",
    "Implemented as planned; all checks passed.",
    "Implemented – minor issues during validation, resolved in window.",
    "Backed out after post-implementation checks failed.",
    "Part of the scope completed; remainder moved to a new change.",
    "Vendor patch failed validation; rolled back.",
)
CANCEL_NOTE = "Cancelled – no longer required."

STATE_LABELS = ("New", "Assess", "Authorize", "Scheduled", "Implement", "Review", "Closed", "Canceled")
ST_NEW, ST_ASSESS, ST_AUTH, ST_SCHED, ST_IMPL, ST_REVIEW, ST_CLOSED, ST_CANCELED = range(8)
APPROVAL_LABELS = ("Approved", "Requested", "Not Yet Requested", "Rejected")
AP_APPROVED, AP_REQUESTED, AP_NOT_YET, AP_REJECTED = range(4)
IMPACT_LABELS = ("1 - High", "2 - Medium", "3 - Low")
CHANGE_PRIORITY_LABELS = ("1 - Critical", "2 - High", "3 - Moderate", "4 - Low")
CATEGORY_BY_CLASS = ("Service", "Application Software", "Hardware", "Software", "Network", "Network")

TASK_TYPES = ("planning", "implementation", "testing", "review")
TASK_STATES = ("Pending", "Open", "In Progress", "Closed", "Canceled")
TS_PENDING, TS_OPEN, TS_PROGRESS, TS_CLOSED, TS_CANCELED = range(5)
TASK_TITLES = (
    "Prepare implementation plan for ",
    "Implement change on ",
    "Post-implementation testing of ",
    "Post-implementation review for ",
)

RELEASE_STATES = (
    "Draft",
    "Scoping",
    "Planning",
    "Development",
    "Testing",
    "Deploying",
    "Completed",
    "Canceled",
)
RL_DRAFT, RL_SCOPING, RL_PLANNING, RL_DEV, RL_TESTING, RL_DEPLOYING, RL_COMPLETED, RL_CANCELED = range(8)
RELEASE_TYPES = ("Major", "Minor", "Patch")
RELEASE_TYPE_MIX = (0.15, 0.55, 0.30)

INCIDENT_TEMPLATES: dict[int, tuple[str, ...]] = {
    C_SVC: ("Customers report outage of ", "Degraded service – "),
    C_APP: (
        "Users unable to log in to ",
        "Error 500 on ",
        "Slow response – ",
        "Timeouts calling ",
        "Batch job failed on ",
    ),
    C_SRV: ("High CPU on ", "Disk space alert on ", "Server not responding: ", "Memory exhaustion on "),
    C_DB: ("Deadlocks on ", "Replication lag on ", "Connection pool exhausted on "),
    C_LB: ("Health checks failing on ", "Certificate error on "),
    C_NG: ("Packet loss via ", "Interface down on "),
}
INCIDENT_CATEGORY_BY_CLASS = ("Inquiry / Help", "Software", "Hardware", "Database", "Network", "Network")
INC_CLOSE_CODES = (
    "Solution provided",
    "Workaround provided",
    "Resolved by caller",
    "Known error",
    "Duplicate",
    "User error",
    "Resolved by change",
    "Solved (Permanently)",
    "Solved (Work Around)",
)
INC_CLOSE_MIX = (0.45, 0.15, 0.10, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05)
INC_CC_BY_CHANGE = 6

# Jira Service Management (second business unit).
JIRA_PROJECT_KEY = "ITCM"
JIRA_PROJECT_NAME = "Retail IT Change"
JIRA_HEADER = (
    "Summary", "Issue key", "Issue id", "Issue Type", "Status", "Project key", "Project name", "Priority",
    "Resolution", "Assignee", "Assignee Id", "Reporter", "Reporter Id", "Created", "Updated", "Resolved",
    "Description", "Labels", "Labels", "Labels", "Custom field (Change type)", "Custom field (Change risk)",
    "Custom field (Change reason)", "Custom field (Change start date)", "Custom field (Change completion date)",
    "Custom field (Actual start)", "Custom field (Actual end)", "Custom field (Affected services)",
    "Custom field (Affected services)", "Custom field (Impact)", "Custom field (Impact)",
    "Custom field (Approvals)", "Fix versions", "Comment", "Comment", "Comment", "Status Category",
)  # fmt: skip
JIRA_STATUSES = (
    "Planning",
    "Awaiting approval",
    "Awaiting implementation",
    "Implementing",
    "Completed",
    "Canceled",
    "Declined",
    "Failed",
)
(
    JS_PLANNING,
    JS_AWAIT_APPROVAL,
    JS_AWAIT_IMPL,
    JS_IMPLEMENTING,
    JS_COMPLETED,
    JS_CANCELED,
    JS_DECLINED,
    JS_FAILED,
) = range(8)
JIRA_RESOLUTION = ("", "", "", "", "Done", "Won't Do", "Declined", "Failed")
JIRA_STATUS_CATEGORY = ("To Do", "To Do", "In Progress", "In Progress", "Done", "Done", "Done", "Done")
JIRA_RISKS = ("Low", "Medium", "High", "Critical")
JIRA_PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
JIRA_REASONS = ("Repair", "Upgrade", "Maintenance", "New functionality", "Other")
JIRA_IMPACTS = ("Minor / Localized", "Moderate / Limited", "Significant / Large", "Extensive / Widespread")
JIRA_IMPACT_2 = ("Customer facing", "Internal", "")
JIRA_LABELS = ("retail", "pos", "stores", "peak", "ecommerce", "security", "vendor", "cab-approved", "pci")
JIRA_UNKNOWN_SERVICES = ("Store Wi-Fi", "POS Tills", "Click & Collect", "Loyalty Kiosk", "Price Labels")
JIRA_SUMMARIES = (
    ("Roll out POS firmware update for ", ""),
    ("Deploy weekly price update to ", ""),
    ("Patch store servers supporting ", ""),
    ("Update payment terminal keys – ", ""),
    ("Enable new promotion engine in ", ""),
    ("Replace store router behind ", ", phase 2"),
)
JIRA_DESCRIPTIONS = (
    "Rollout to all stores in waves.\nWave 1: 20 pilot stores, then the rest.",
    "Vendor release notes attached; checked by store operations.",
    'Requested by Retail Ops, see "Q4 readiness" plan.',
    "Outside trading hours only – stores close at 22:00.",
    "",
)
JIRA_COMMENTS = (  # any status
    "CAB approved; implement in the agreed window.",
    "Pre-checks done:\n- backups verified\n- rollback tested",
    "Moved by one day; store network freeze in place.",
    "Please confirm the window; stores need 24 h notice.",
)
JIRA_COMMENT_DONE = (
    "Smoke test passed; monitoring quiet for 1 h.",
    "Stores confirmed; no trading impact observed.",
)
JIRA_COMMENT_FAILED = "Rolled back; vendor patch failed validation.\nRaising a new change."
APPROVALS_CF = "com.atlassian.servicedesk.plugins.approvals.internal.customfield.ApprovalsCFValue@"

# ServiceNow files are Windows-1252: non-ASCII text is held in polars as ASCII control-character
# placeholders and translated byte-for-byte after writing (much faster than re-encoding).
_CP1252_CHARS = "–—’£€éèáíóúñöüäçøåÉßÅë"
_PLACEHOLDERS = bytes([*range(1, 9), 11, 12, *range(14, 32)])[: len(_CP1252_CHARS)]
_SN_TRANS = {ord(c): chr(b) for c, b in zip(_CP1252_CHARS, _PLACEHOLDERS, strict=True)}
_CP1252_BYTES = bytes.maketrans(_PLACEHOLDERS, _CP1252_CHARS.encode("cp1252"))
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent random stream per component, so components do not shift each other."""
    return np.random.default_rng([seed % (2**63), zlib.crc32(stream.encode())])


def _share(n: int, share: float, minimum: int) -> int:
    """A count that is a share of n but at least a minimum."""
    return max(minimum, round(share * n))


def _dow(days: np.ndarray) -> np.ndarray:
    """Day of week (Monday = 0) of days since the epoch."""
    return (days + 3) % 7


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: float, size: int) -> np.ndarray:
    """Log-normal draws with the given median."""
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(size))


def _codes(rng: np.random.Generator, probs: Sequence[float], size: int) -> np.ndarray:
    """Draw category codes 0..k-1 with the given probabilities."""
    p = np.asarray(probs, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum()).astype(np.int8)


def _pick(rng: np.random.Generator, candidates: np.ndarray, k: int) -> np.ndarray:
    """Up to k distinct candidates, sorted."""
    k = min(k, len(candidates))
    return np.sort(rng.choice(candidates, size=k, replace=False)) if k else np.empty(0, dtype=np.int64)


def _rank_within(groups: np.ndarray, order_key: np.ndarray | None = None) -> np.ndarray:
    """0-based rank of each element within its group (ordered by order_key, then position)."""
    order = np.lexsort((order_key, groups)) if order_key is not None else np.argsort(groups, kind="stable")
    g = groups[order]
    first = np.r_[True, g[1:] != g[:-1]]
    starts = np.maximum.accumulate(np.where(first, np.arange(len(g)), 0))
    rank = np.empty(len(g), dtype=np.int64)
    rank[order] = np.arange(len(g)) - starts
    return rank


def _floor_to(t: np.ndarray, step: float) -> np.ndarray:
    return np.floor(t / step) * step


def _last_past(as_of: float, *cols: np.ndarray) -> np.ndarray:
    """Per row, the latest of the given timestamps that are not in the future (NaN-aware)."""
    stack = np.vstack(cols)
    stack = np.where(stack <= as_of, stack, np.nan)
    out = np.full(stack.shape[1], -np.inf)
    for row in stack:
        out = np.fmax(out, row)
    return out


def _sn(text: str) -> str:
    """Text for a ServiceNow (cp1252) file: non-ASCII characters as placeholders."""
    out = text.translate(_SN_TRANS)
    if not out.isascii():
        raise ValueError(f"character not supported in the Windows-1252 sample vocabulary: {text!r}")
    return out


def _to_cp1252(data: bytes) -> bytes:
    """Turn polars' UTF-8 CSV bytes (with placeholders) into Windows-1252."""
    if not data.isascii():
        data = data.decode("utf-8").encode("cp1252")
    return data.translate(_CP1252_BYTES)


def _table(values: Sequence[str], *, sn: bool) -> pl.Series:
    """A lookup table with a trailing empty string (index -1 means empty)."""
    vals = [_sn(v) for v in values] if sn else list(values)
    return pl.Series([*vals, ""], dtype=pl.String)


def _look(table: pl.Series, idx: np.ndarray) -> pl.Series:
    """table[idx], with negative indexes giving the empty string."""
    idx = np.asarray(idx)
    return table.gather(np.where(idx < 0, len(table) - 1, idx))


def _hex_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 16-byte ids (the source of 32-hex-digit sys_ids)."""
    return rng.integers(0, 256, size=(n, 16), dtype=np.uint8)


def _hex_ids(raw: np.ndarray) -> pl.Series:
    """Lowercase hex strings from rows of bytes."""
    n, width = raw.shape
    chars = np.empty((n, 2 * width), dtype=np.uint8)
    chars[:, 0::2] = _HEX[raw >> 4]
    chars[:, 1::2] = _HEX[raw & 15]
    offsets = np.arange(0, 2 * width * n + 1, 2 * width, dtype=np.int64)
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.ravel()))
    return pl.Series(pl.from_arrow(arr)).cast(pl.String)


def _numbers(prefix: str, values: np.ndarray, width: int = 7) -> pl.Series:
    """Record numbers like CHG0030001; negative values give the empty string."""
    s = pl.Series(values.astype(np.int64))
    num = pl.concat_str([pl.lit(prefix), s.cast(pl.String).str.zfill(width)], separator="")
    out = pl.select(pl.when(s >= 0).then(num).otherwise(pl.lit("")))
    return out.to_series()


def _ts(secs: np.ndarray, tz: str, fmt: str) -> pl.Series:
    """Format epoch seconds (NaN = empty) as display values in a time zone."""
    s = pl.Series("t", np.floor(secs), nan_to_null=True).cast(pl.Int64)
    out = pl.select(
        pl.from_epoch(pl.lit(s), time_unit="s")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(tz)
        .dt.strftime(fmt)
        .fill_null("")
    )
    return out.to_series()


def _concat(*parts: pl.Series | str) -> pl.Series:
    """Concatenate string Series and literals element-wise."""
    return pl.select(pl.concat_str([pl.lit(p) for p in parts], separator="")).to_series()


# ----------------------------------------------------------------------------------------------
# Time frame, people
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    as_of: float  # epoch seconds UTC
    hist_start: float
    asof_day: int  # days since epoch of as_of (floor)
    hist_day0: int
    fwd_day0: int  # first forward-schedule day
    fwd_days: int  # number of forward-schedule days
    cal_day0: int  # first day of the freeze calendar
    freeze: np.ndarray  # bool per day from cal_day0: a global blackout covers the day (set with the windows)


def _months_back(d: datetime, months: int) -> datetime:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    day = min(d.day, 28)
    return d.replace(year=y, month=m + 1, day=day)


def _make_frame(as_of: datetime) -> tuple[_Frame, datetime]:
    start = _months_back(as_of, HISTORY_MONTHS)
    a = as_of.timestamp()
    h = start.timestamp()
    asof_day = int(a // DAY)
    hist_day0 = int(h // DAY)
    frame = _Frame(
        as_of=a,
        hist_start=h,
        asof_day=asof_day,
        hist_day0=hist_day0,
        fwd_day0=asof_day + 1,
        fwd_days=FORWARD_DAYS - 2,
        cal_day0=hist_day0,
        freeze=np.zeros(asof_day + 60 - hist_day0, dtype=bool),
    )
    return frame, start


@dataclass(frozen=True)
class _People:
    names: list[str]
    groups: list[str]
    n_users: int
    n_groups: int


def _make_people(seed: int, n_ci: int) -> _People:
    rng = _rng(seed, "people")
    groups = list(PLATFORM_GROUPS) + [f"{b} App Support" for b, _ in SERVICE_BASES]
    combos = len(FIRST_NAMES) * len(LAST_NAMES)
    n_users = min(combos, max(2 * len(groups), n_ci // 5))
    pick = rng.permutation(combos)[:n_users]
    names = [f"{FIRST_NAMES[i // len(LAST_NAMES)]} {LAST_NAMES[i % len(LAST_NAMES)]}" for i in pick.tolist()]
    return _People(names=names, groups=groups, n_users=n_users, n_groups=len(groups))


def _member_of(rng: np.random.Generator, group: np.ndarray, people: _People) -> np.ndarray:
    """A random user of each group (user u belongs to group u mod n_groups)."""
    g = group.astype(np.int64)
    count = (people.n_users - 1 - g) // people.n_groups + 1
    k = np.floor(rng.random(len(g)) * count).astype(np.int64)
    return g + k * people.n_groups


# ----------------------------------------------------------------------------------------------
# CMDB
# ----------------------------------------------------------------------------------------------


@dataclass
class _Cmdb:
    names: list[str]
    cls: np.ndarray
    svc: np.ndarray  # owning business service (a CI index)
    n_svc: int
    group: np.ndarray
    owner: np.ndarray
    op_status: np.ndarray
    install: np.ndarray
    env: np.ndarray
    crit: np.ndarray
    created: np.ndarray
    updated: np.ndarray
    rel_parent: np.ndarray
    rel_child: np.ndarray
    rel_type: np.ndarray
    rel_updated: np.ndarray
    nbr_off: np.ndarray
    nbr: np.ndarray
    w_change: np.ndarray
    w_incident: np.ndarray


def _service_name(i: int) -> tuple[str, str, str]:
    """Name, short code and slug of the i-th business service (unique)."""
    base, code = SERVICE_BASES[i % len(SERVICE_BASES)]
    slug = base.lower().replace(" & ", "-and-").replace(" ", "-")
    v = i // len(SERVICE_BASES)
    if v == 0:
        return base, code, slug
    if v <= len(REGIONS):
        region, rc = REGIONS[v - 1]
        return f"{base} {region}", f"{code}{rc}", f"{slug}-{rc}"
    region, rc = REGIONS[(v - 1 - len(REGIONS)) % len(REGIONS)]
    num = (v - 1 - len(REGIONS)) // len(REGIONS) + 2
    return f"{base} {region} {num}", f"{code}{rc}{num}", f"{slug}-{rc}{num}"


def _class_counts(n_ci: int) -> list[int]:
    counts = [max(1, round(s * n_ci)) for s in CLASS_SHARE_CI]
    counts[C_SVC] = max(5, counts[C_SVC])
    counts[C_APP] = max(counts[C_SVC], counts[C_APP])
    counts[C_SRV] = max(counts[C_APP], counts[C_SRV])
    counts[C_NG] = n_ci - sum(counts[:C_NG])
    if counts[C_NG] < 1:
        raise ValueError(f"cis={n_ci} is too small for the sample CMDB")
    return counts


def _fmt_names(fmt: Sequence[str], idx: np.ndarray, *vals: np.ndarray) -> list[str]:
    """Build names from a handful of per-group parts (loops over CIs: at most 100k)."""
    return [fmt[i].format(*v) for i, *v in zip(idx.tolist(), *(x.tolist() for x in vals), strict=True)]


def _make_cmdb(seed: int, n_ci: int, frame: _Frame, people: _People) -> _Cmdb:
    rng = _rng(seed, "cmdb")
    counts = _class_counts(n_ci)
    n_svc, n_app, n_srv, n_db, n_lb, n_ng = counts
    off = np.cumsum([0, *counts])
    cls = np.repeat(np.arange(6, dtype=np.int8), counts)
    svc_info = [_service_name(i) for i in range(n_svc)]
    w_svc = 1.0 / np.arange(1, n_svc + 1) ** 0.8
    w_svc /= w_svc.sum()

    # Ownership: every application belongs to one service, every other CI to one application/service.
    app_svc = np.concatenate([np.arange(n_svc), rng.choice(n_svc, n_app - n_svc, p=w_svc)])
    w_app = w_svc[app_svc] * rng.lognormal(0, 0.5, n_app)
    w_app /= w_app.sum()
    srv_app = np.concatenate([np.arange(n_app), rng.choice(n_app, n_srv - n_app, p=w_app)])
    db_app = rng.choice(n_app, n_db, p=w_app)
    lb_svc = rng.choice(n_svc, n_lb, p=w_svc)
    ng_lb = rng.integers(0, n_lb, n_ng)
    # A second load balancer of the same service for some network gear.
    lb_order = np.argsort(lb_svc, kind="stable")
    lb_off = np.r_[0, np.cumsum(np.bincount(lb_svc, minlength=n_svc))]
    s_ng = lb_svc[ng_lb]
    ng_lb2 = lb_order[
        lb_off[s_ng] + np.floor(rng.random(n_ng) * (lb_off[s_ng + 1] - lb_off[s_ng])).astype(np.int64)
    ]

    svc = np.empty(n_ci, dtype=np.int64)
    svc[off[C_SVC] : off[C_APP]] = np.arange(n_svc)
    svc[off[C_APP] : off[C_SRV]] = app_svc
    svc[off[C_SRV] : off[C_DB]] = app_svc[srv_app]
    svc[off[C_DB] : off[C_LB]] = app_svc[db_app]
    svc[off[C_LB] : off[C_NG]] = lb_svc
    svc[off[C_NG] :] = lb_svc[ng_lb]

    # Names: unique by construction (class prefixes, rank within the owning service).
    code = np.array([c for _, c, _ in svc_info], dtype=object)
    slug = np.array([s for _, _, s in svc_info], dtype=object)
    names: list[str] = [n for n, _, _ in svc_info]
    app_rank = _rank_within(app_svc) + 1
    names += [f"app-{s}-{k:02d}" for s, k in zip(slug[app_svc].tolist(), app_rank.tolist(), strict=True)]
    srv_svc = app_svc[srv_app]
    os_code = _codes(rng, (0.70, 0.25, 0.05), n_srv)
    srv_rank = _rank_within(srv_svc) + 1
    names += _fmt_names(("lnx-{}-{:03d}", "win-{}-{:03d}", "aix-{}-{:03d}"), os_code, code[srv_svc], srv_rank)
    db_svc = app_svc[db_app]
    db_kind = _codes(rng, (0.4, 0.4, 0.2), n_db)
    names += _fmt_names(
        ("ora-{}-{:02d}", "pg-{}-{:02d}", "sql-{}-{:02d}"), db_kind, code[db_svc], _rank_within(db_svc) + 1
    )
    names += [
        f"lb-{c}-{k:02d}"
        for c, k in zip(code[lb_svc].tolist(), (_rank_within(lb_svc) + 1).tolist(), strict=True)
    ]
    ng_kind = _codes(rng, (0.5, 0.3, 0.2), n_ng)
    site = np.array(SITES, dtype=object)[rng.integers(0, len(SITES), n_ng)]
    names += _fmt_names(
        ("sw-{}-{:03d}", "fw-{}-{:03d}", "rtr-{}-{:03d}"), ng_kind, site, np.arange(1, n_ng + 1)
    )

    # Relationships (parent, child, type).
    apps = off[C_APP] + np.arange(n_app)
    srvs = off[C_SRV] + np.arange(n_srv)
    dbs = off[C_DB] + np.arange(n_db)
    lbs = off[C_LB] + np.arange(n_lb)
    ngs = off[C_NG] + np.arange(n_ng)
    # Each load balancer fronts 1-3 servers of its service.
    srv_order = np.argsort(srv_svc, kind="stable")
    srv_cnt = np.bincount(srv_svc, minlength=n_svc)
    srv_off = np.r_[0, np.cumsum(srv_cnt)]
    lb_k = rng.integers(1, 4, n_lb)
    lb_rep = np.repeat(np.arange(n_lb), lb_k)
    s_of = lb_svc[lb_rep]
    has = srv_cnt[s_of] > 0
    pick = srv_off[s_of] + np.floor(rng.random(len(lb_rep)) * np.maximum(srv_cnt[s_of], 1)).astype(np.int64)
    lb_srv = np.unique(np.c_[lb_rep[has], srvs[srv_order[pick[has]]]], axis=0)
    second = rng.random(n_ng) < 0.3
    ng_pairs = np.unique(
        np.r_[np.c_[np.arange(n_ng), ng_lb], np.c_[np.arange(n_ng)[second], ng_lb2[second]]], axis=0
    )
    rel_parent = np.concatenate(
        [app_svc, apps[db_app], apps[srv_app], lb_svc, lbs[lb_srv[:, 0]], ngs[ng_pairs[:, 0]]]
    )
    rel_child = np.concatenate([apps, dbs, srvs, lbs, lb_srv[:, 1], lbs[ng_pairs[:, 1]]])
    rel_type = np.concatenate(
        [
            np.zeros(n_app + n_db, dtype=np.int8),
            np.ones(n_srv, dtype=np.int8),
            np.zeros(n_lb, dtype=np.int8),
            np.full(len(lb_srv) + len(ng_pairs), 2, dtype=np.int8),
        ]
    )
    # Undirected adjacency (CSR) for "one relationship away".
    src = np.concatenate([rel_parent, rel_child])
    dst = np.concatenate([rel_child, rel_parent])
    order = np.argsort(src, kind="stable")
    nbr = dst[order]
    nbr_off = np.r_[0, np.cumsum(np.bincount(src, minlength=n_ci))]

    # Attributes.
    op_status = _codes(rng, (0.95, 0.02, 0.01, 0.02), n_ci)
    op_status[:n_svc] = 0
    install = np.select([op_status == 3, op_status == 2], [2, 1], 0).astype(np.int8)
    env = _codes(rng, (0.80, 0.12, 0.08), n_ci)
    env[:n_svc] = 0
    svc_crit = _codes(rng, (0.20, 0.35, 0.30, 0.15), n_svc)
    crit = svc_crit[svc]
    base_group = len(PLATFORM_GROUPS) + (svc % len(SERVICE_BASES))
    group = np.select(
        [cls == C_SRV, cls == C_DB, cls == C_LB, cls == C_NG],
        [
            np.array([G_LINUX, G_WINDOWS, G_UNIX])[
                np.r_[np.zeros(off[C_SRV], np.int8), os_code, np.zeros(n_ci - off[C_DB], np.int8)]
            ],
            G_DBA,
            G_LB,
            G_NETWORK,
        ],
        base_group,
    ).astype(np.int16)
    owner = rng.integers(0, people.n_users, n_ci)
    old = rng.random(n_ci) < 0.9
    created = np.where(
        old,
        frame.hist_start - rng.uniform(30, 1500, n_ci) * DAY,
        rng.uniform(frame.hist_start, frame.as_of - 30 * DAY, n_ci),
    )
    created = _floor_to(created, 1.0)
    updated = np.floor(created + (frame.as_of - created) * rng.random(n_ci) ** 0.5)
    rel_updated = np.floor(
        np.maximum(created[rel_parent], created[rel_child]) + rng.uniform(0, 30, len(rel_parent)) * DAY
    )
    rel_updated = np.minimum(rel_updated, frame.as_of)

    # Change weights: Zipf over CIs ranked by service popularity, class and noise (a few hot CIs).
    active = (cls != C_SVC) & (op_status != 3)
    score = (
        w_svc[svc]
        * np.asarray(CLASS_CHANGE_MULT)[cls]
        * rng.lognormal(0, 1.0, n_ci)
        * np.where(env == 0, 1.0, 0.5)
    )
    score = np.where(active, score, 0.0)
    rank = np.empty(n_ci, dtype=np.int64)
    rank[np.argsort(-score, kind="stable")] = np.arange(n_ci)
    w_change = np.where(active, 1.0 / (rank + 1.0) ** 0.85, 0.0)
    w_change /= w_change.sum()
    # Background incident weights: much flatter than the change weights and not tied to them.
    live = op_status != 3
    w_ci = (
        np.asarray(INCIDENT_CLASS_MULT)[cls]
        * rng.lognormal(0, INCIDENT_CI_SIGMA, n_ci)
        * np.where(env == 0, 1.0, 0.3)
        * live
    )
    end_user = np.array([SERVICE_BASES[i % len(SERVICE_BASES)][0] in END_USER_SERVICES for i in range(n_svc)])
    users = rng.lognormal(0, INCIDENT_SVC_SIGMA, n_svc) * np.where(end_user, END_USER_INCIDENT_MULT, 1.0)
    svc_volume = users * np.bincount(svc, minlength=n_ci)[:n_svc] ** INCIDENT_SIZE_EXP
    w_incident = w_ci / np.bincount(svc, weights=w_ci, minlength=n_ci)[svc] * svc_volume[svc]
    w_incident /= w_incident.sum()

    return _Cmdb(
        names=names,
        cls=cls,
        svc=svc,
        n_svc=n_svc,
        group=group,
        owner=owner,
        op_status=op_status,
        install=install,
        env=env,
        crit=crit,
        created=created,
        updated=updated,
        rel_parent=rel_parent,
        rel_child=rel_child,
        rel_type=rel_type,
        rel_updated=rel_updated,
        nbr_off=nbr_off,
        nbr=nbr,
        w_change=w_change,
        w_incident=w_incident,
    )


def _neighbour(rng: np.random.Generator, cmdb: _Cmdb, ci: np.ndarray) -> np.ndarray:
    """A random CI one relationship away (the CI itself when it has none)."""
    lo = cmdb.nbr_off[ci]
    deg = cmdb.nbr_off[ci + 1] - lo
    k = lo + np.floor(rng.random(len(ci)) * np.maximum(deg, 1)).astype(np.int64)
    return np.where(deg > 0, cmdb.nbr[np.minimum(k, len(cmdb.nbr) - 1)], ci)


# ----------------------------------------------------------------------------------------------
# Change windows
# ----------------------------------------------------------------------------------------------


@dataclass
class _Windows:
    rows: list[tuple[str, str, str, float, float]]  # kind, name, scope, start, end
    blackout_svcs: np.ndarray  # services (CI indexes) under the upcoming blackout
    blackout: tuple[float, float]
    maint_svcs: np.ndarray


def _day_start(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def _make_windows(frame: _Frame, cmdb: _Cmdb, start: datetime, as_of: datetime) -> tuple[_Windows, _Frame]:
    """Freezes, the upcoming blackout and weekly maintenance windows; the frame gains the freeze calendar."""
    rows: list[tuple[str, str, str, float, float]] = []
    lo, hi = frame.hist_start, frame.as_of + 60 * DAY
    for year in range(start.year - 1, as_of.year + 1):
        s, e = _day_start(date(year, 12, 20)), _day_start(date(year + 1, 1, 3))
        if e > lo and s < hi:
            rows.append(("blackout", f"Year-end change freeze {year}/{str(year + 1)[2:]}", "", s, e))
        for month, last in ((3, 31), (6, 30), (9, 30)):
            qe = date(year + 1, month, last)
            s, e = _day_start(qe - timedelta(days=2)), _day_start(qe + timedelta(days=2))
            if e > lo and s < hi:
                rows.append(("blackout", f"Quarter-end freeze Q{month // 3} {year + 1}", "", s, e))
    # Freeze calendar by day (global windows start and end at midnight UTC).
    days = (frame.cal_day0 + np.arange(len(frame.freeze))) * DAY
    freeze = np.zeros(len(days), dtype=bool)
    for _, _, _, s, e in rows:
        freeze |= (days >= s) & (days < e)
    frame = replace(frame, freeze=freeze)

    # Services ranked by change volume: the upcoming blackout and the maintenance windows use top ones.
    svc_weight = np.bincount(cmdb.svc, weights=cmdb.w_change, minlength=len(cmdb.names))[: cmdb.n_svc]
    ranked = np.argsort(-svc_weight, kind="stable")
    blackout_svcs = ranked[[0, 2, 5]] if cmdb.n_svc > 5 else ranked[:1]
    maint_svcs = ranked[1:5]
    bo = ((frame.asof_day + 3) * DAY, (frame.asof_day + 7) * DAY)
    for s in blackout_svcs.tolist():
        rows.append(("blackout", "Peak trading blackout", cmdb.names[s], *bo))
    mw_days = np.arange(frame.hist_day0, frame.asof_day + 28)
    mw_days = mw_days[np.isin(_dow(mw_days), (1, 3))]
    for s in maint_svcs.tolist():
        for d in mw_days.tolist():
            rows.append(
                (
                    "maintenance",
                    f"{cmdb.names[s]} weekly maintenance (Tue/Thu)",
                    cmdb.names[s],
                    d * DAY + 20 * HOUR,
                    d * DAY + 26 * HOUR,
                )
            )
    rows.sort(key=lambda r: (r[3], r[0], r[2]))
    return _Windows(rows=rows, blackout_svcs=blackout_svcs, blackout=bo, maint_svcs=maint_svcs), frame


# ----------------------------------------------------------------------------------------------
# Change timelines (shared by ServiceNow and Jira)
# ----------------------------------------------------------------------------------------------


def _draw_types(rng: np.random.Generator, n: int, p_std: float, p_emerg: float) -> np.ndarray:
    return _codes(rng, (p_std, max(0.0, 1 - p_std - p_emerg), p_emerg), n)


def _draw_risk(rng: np.random.Generator, typ: np.ndarray) -> np.ndarray:
    risk = np.zeros(len(typ), dtype=np.int8)
    for t, mix in RISK_MIX.items():
        m = typ == t
        risk[m] = _codes(rng, mix, int(m.sum()))
    return risk


def _draw_bad(rng: np.random.Generator, typ: np.ndarray, risk: np.ndarray) -> np.ndarray:
    p = np.minimum(FAIL_P_BY_RISK[risk] * FAIL_MULT_BY_TYPE[typ], 0.9)
    return rng.random(len(typ)) < p


def _hours(rng: np.random.Generator, typ: np.ndarray) -> np.ndarray:
    """Planned start time of day (seconds) by change type, on a 15-minute grid."""
    out = np.zeros(len(typ))
    for t, w in HOUR_CHANGE.items():
        m = typ == t
        out[m] = _codes(rng, w, int(m.sum())) * HOUR
    return out + rng.integers(0, 4, len(typ)) * 15 * MINUTE


def _starts_history(rng: np.random.Generator, typ: np.ndarray, frame: _Frame) -> np.ndarray:
    """Planned starts over the history, by weekly rhythm, growth trend and freezes."""
    first = frame.hist_day0 + 21
    n_days = frame.asof_day - first
    d = np.arange(n_days)
    frozen = frame.freeze[first - frame.cal_day0 : first - frame.cal_day0 + n_days]
    day = np.zeros(len(typ), dtype=np.int64)
    for t, dow_w in DOW_CHANGE.items():
        m = typ == t
        w = np.asarray(dow_w)[_dow(first + d)] * (1 + TREND * d / max(n_days - 1, 1))
        if t != T_EMERG:
            w = np.where(frozen, w * FREEZE_FACTOR, w)
        day[m] = first + rng.choice(n_days, int(m.sum()), p=w / w.sum())
    return day * DAY + _hours(rng, typ)


def _starts_forward(rng: np.random.Generator, typ: np.ndarray, frame: _Frame) -> np.ndarray:
    """Planned starts in the forward schedule (never past as_of + 14 days)."""
    first, n_days = frame.fwd_day0, frame.fwd_days
    d = np.arange(n_days)
    frozen = frame.freeze[first - frame.cal_day0 : first - frame.cal_day0 + n_days]
    day = np.zeros(len(typ), dtype=np.int64)
    for t, dow_w in DOW_CHANGE.items():
        m = typ == t
        w = np.asarray(dow_w)[_dow(first + d)]
        if t != T_EMERG:
            w = np.where(frozen, w * FREEZE_FACTOR, w)
        day[m] = first + rng.choice(n_days, int(m.sum()), p=w / w.sum())
    return day * DAY + np.minimum(_hours(rng, typ), 20 * HOUR)


def _lifecycle(
    rng: np.random.Generator,
    typ: np.ndarray,
    risk: np.ndarray,
    bad: np.ndarray,
    start: np.ndarray,
    frame: _Frame,
) -> dict[str, np.ndarray]:
    """Opened, approval, planned end, actual window and close times around a planned start."""
    n = len(typ)
    std, normal = typ == T_STD, typ == T_NORMAL
    appr_median = np.where(normal, np.array([8.0, 20.0, 48.0, 96.0])[risk], 1.5) * HOUR
    appr = _lognormal(rng, appr_median, 0.7, n)
    queue = np.where(
        normal, np.maximum(_lognormal(rng, 3 * DAY, 0.6, n), 2 * HOUR), _lognormal(rng, 2 * HOUR, 0.5, n)
    )
    lead_std = np.maximum(_lognormal(rng, 1.5 * DAY, 0.8, n), HOUR)
    opened = np.where(std, start - lead_std, start - appr - queue)
    opened = np.maximum(opened, frame.hist_start + rng.uniform(0, DAY, n))
    opened = np.minimum(opened, start - 10 * MINUTE)
    approved = start - queue
    approved = np.where(approved <= opened, opened + (start - opened) * 0.5, approved)
    approved = np.where(std, np.nan, approved)
    planned = np.where(std, 1.0, np.where(normal, 2.0, 1.5)) * HOUR
    planned = np.clip(_floor_to(_lognormal(rng, planned, 0.55, n), 15 * MINUTE), 0.5 * HOUR, 6 * HOUR)
    end = start + planned
    u = rng.random(n)
    delay = np.select(
        [u < 0.85, u < 0.93],
        [
            np.clip(rng.normal(0, 5 * MINUTE, n), -20 * MINUTE, 20 * MINUTE),
            rng.uniform(0.5 * HOUR, 4 * HOUR, n),
        ],
        rng.uniform(-1.5 * HOUR, -0.25 * HOUR, n),
    )
    work_start = np.floor(start + delay + rng.uniform(0, 59, n))
    early = ~np.isnan(approved) & (work_start < approved)
    work_start = np.where(early, np.floor(approved + rng.uniform(60, 600, n)), work_start)
    dur = np.clip(planned * _lognormal(rng, 1.0, 0.3, n) * np.where(bad, 1.35, 1.0), 0.5 * HOUR, 6 * HOUR)
    work_end = np.floor(work_start + dur)
    review = np.select(
        [std, normal],
        [np.clip(_lognormal(rng, 2 * HOUR, 1.0, n), 5 * MINUTE, 2 * DAY), _lognormal(rng, 2.5 * DAY, 0.6, n)],
        _lognormal(rng, 1.5 * DAY, 0.6, n),
    )
    closed = np.floor(work_end + review)
    return {
        "opened": np.floor(opened),
        "approved": np.floor(approved),
        "start": start,
        "end": end,
        "work_start": work_start,
        "work_end": work_end,
        "closed": closed,
    }


# ----------------------------------------------------------------------------------------------
# ServiceNow changes
# ----------------------------------------------------------------------------------------------

Cols = dict[str, np.ndarray]


def _concat_cols(a: Cols, b: Cols) -> Cols:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _class_plan(n_base: int) -> np.ndarray:
    counts = {k: _share(n_base, s, m) for k, (s, m) in CLASS_SHARE.items()}
    n_hist = n_base - sum(counts.values())
    return np.repeat(np.array([K_HIST, *counts], dtype=np.int8), [n_hist, *counts.values()])


def _base_changes(
    rng: np.random.Generator,
    n_base: int,
    p_std: float,
    p_emerg: float,
    frame: _Frame,
    cmdb: _Cmdb,
    win: _Windows,
) -> Cols:
    """Change records other than incident fixes: attributes and planned starts."""
    kind = rng.permutation(_class_plan(n_base))
    typ = _draw_types(rng, n_base, p_std, p_emerg)
    risk = _draw_risk(rng, typ)
    bad = _draw_bad(rng, typ, risk)
    ci = rng.choice(len(cmdb.names), n_base, p=cmdb.w_change)
    start = np.full(n_base, np.nan)

    hist = (kind == K_HIST) | (kind == K_CANCEL)
    start[hist] = _starts_history(rng, typ[hist], frame)
    # Normal changes on services with maintenance windows move into the nearest Tue/Thu evening.
    snap = (
        hist
        & (typ == T_NORMAL)
        & np.isin(cmdb.svc[ci], win.maint_svcs)
        & (rng.random(n_base) < MAINTENANCE_SNAP)
    )
    day = np.floor(start[snap] / DAY).astype(np.int64)
    new_day = day + np.array([1, 0, 1, 0, -1, -2, 2])[_dow(day)]
    ok = (new_day < frame.asof_day) & ~frame.freeze[
        np.clip(new_day - frame.cal_day0, 0, len(frame.freeze) - 1)
    ]
    hour = (20 + rng.integers(0, 6, len(day)) * 0.5) * HOUR
    start[np.flatnonzero(snap)[ok]] = (new_day * DAY + hour)[ok]

    fwd = kind == K_FWD
    start[fwd] = _starts_forward(rng, typ[fwd], frame)
    od = kind == K_OVERDUE
    start[od] = _floor_to(frame.as_of - rng.uniform(HOUR, 10 * DAY, int(od.sum())), 15 * MINUTE)
    im = kind == K_IMPL
    start[im] = _floor_to(frame.as_of - rng.uniform(0.25 * HOUR, 2 * HOUR, int(im.sum())), 5 * MINUTE)
    bl = kind == K_BACKLOG
    start[bl] = frame.as_of  # placeholder, re-based on the backlog's age later
    return {"kind": kind, "typ": typ, "risk": risk, "bad": bad, "ci": ci.astype(np.int64), "start": start}


def _assign_releases(rng: np.random.Generator, chg: Cols, frame: _Frame, cmdb: _Cmdb) -> np.ndarray:
    """Group normal changes into releases by service; members move to just before the deployment."""
    n = len(chg["kind"])
    release = np.full(n, -1, dtype=np.int64)
    normal = chg["typ"] == T_NORMAL
    next_id = 0
    for kinds in ((K_HIST,), (K_FWD,)):
        member = np.flatnonzero(normal & np.isin(chg["kind"], kinds) & (rng.random(n) < RELEASE_MEMBER_SHARE))
        if len(member) == 0:
            continue
        # Per service in time order, each member starts a new release with probability 1 / mean size.
        svc = cmdb.svc[chg["ci"][member]]
        order = np.lexsort((chg["start"][member], svc))
        first = np.r_[True, svc[order][1:] != svc[order][:-1]] | (
            rng.random(len(member)) < 1 / RELEASE_MEAN_SIZE
        )
        rel = np.empty(len(member), dtype=np.int64)
        rel[order] = np.cumsum(first) - 1
        release[member] = next_id + rel
        if kinds == (K_HIST,):
            # Members are implemented 0-2 days before the release's deployment day.
            last_day = np.zeros(rel.max() + 1, dtype=np.int64)
            np.maximum.at(last_day, rel, np.floor(chg["start"][member] / DAY).astype(np.int64))
            day = last_day[rel] - _codes(rng, (0.5, 0.3, 0.2), len(member))
            blocked = (_dow(day) >= 5) | frame.freeze[np.clip(day - frame.cal_day0, 0, len(frame.freeze) - 1)]
            day = np.where(blocked, last_day[rel], day)
            chg["start"][member] = day * DAY + (18 + rng.integers(0, 8, len(member)) * 0.5) * HOUR
        next_id += rel.max() + 1
    return release


def _avoid_upcoming_blackout(chg: Cols, frame: _Frame, cmdb: _Cmdb, win: _Windows) -> None:
    """Forward changes on blacked-out services move after the blackout."""
    s, e = win.blackout
    fwd = (chg["kind"] == K_FWD) & (chg["typ"] != T_EMERG) & np.isin(cmdb.svc[chg["ci"]], win.blackout_svcs)
    inside = fwd & (chg["start"] >= s - 6 * HOUR) & (chg["start"] < e)
    shift = np.ceil((e - s) / DAY + 1) * DAY
    limit = (frame.fwd_day0 + frame.fwd_days) * DAY
    moved = chg["start"] + shift
    chg["start"] = np.where(inside, np.where(moved < limit, moved, chg["start"] - shift), chg["start"])


def _inject_forward_stories(rng: np.random.Generator, chg: Cols, cmdb: _Cmdb, win: _Windows) -> None:
    """Collisions (same CI, CIs one relationship apart) and changes inside the upcoming blackout."""
    fwd = np.flatnonzero((chg["kind"] == K_FWD) & (chg["release"] < 0) & (chg["typ"] != T_EMERG))
    k = max(3, len(fwd) // 20)
    chosen = rng.permutation(fwd)
    same_a, same_b = chosen[:k], chosen[k : 2 * k]
    rel_a, rel_b = chosen[2 * k : 3 * k], chosen[3 * k : 4 * k]
    for a, b, related in ((same_a, same_b, False), (rel_a, rel_b, True)):
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        chg["ci"][b] = _neighbour(rng, cmdb, chg["ci"][a]) if related else chg["ci"][a]
        length = chg["end"][b] - chg["start"][b]
        chg["start"][b] = chg["start"][a] + _floor_to(
            rng.uniform(0, 0.7, n) * (chg["end"][a] - chg["start"][a]), 15 * MINUTE
        )
        chg["end"][b] = chg["start"][b] + length
    # A few normal changes scheduled inside the upcoming blackout of their service.
    bo = chosen[4 * k : 4 * k + max(2, k // 2)]
    svc_cis = np.flatnonzero(
        np.isin(cmdb.svc, win.blackout_svcs[:1]) & (cmdb.cls != C_SVC) & (cmdb.op_status != 3)
    )
    if len(bo) and len(svc_cis):
        w = cmdb.w_change[svc_cis] + 1e-12
        chg["ci"][bo] = rng.choice(svc_cis, len(bo), p=w / w.sum())
        s, e = win.blackout
        length = chg["end"][bo] - chg["start"][bo]
        chg["start"][bo] = _floor_to(rng.uniform(s + 6 * HOUR, e - 12 * HOUR, len(bo)), HOUR)
        chg["end"][bo] = chg["start"][bo] + length


def _change_states(rng: np.random.Generator, chg: Cols, frame: _Frame) -> None:
    """State, approval and the timestamps each lifecycle class keeps."""
    n = len(chg["kind"])
    a = frame.as_of
    kind, typ = chg["kind"], chg["typ"]
    state = np.full(n, ST_CLOSED, dtype=np.int8)
    approval = np.full(n, AP_APPROVED, dtype=np.int8)
    nan = np.nan

    # Implemented in the past (history, incident fixes): state follows the clock.
    done = np.isin(kind, (K_HIST, K_FIX))
    not_started = done & (chg["work_start"] > a)
    implementing = done & ~not_started & (chg["work_end"] > a)
    reviewing = done & ~not_started & ~implementing & (chg["closed"] > a)
    state[not_started] = ST_SCHED
    state[implementing] = ST_IMPL
    state[reviewing] = ST_REVIEW
    for col, mask in (
        ("work_start", not_started),
        ("work_end", not_started | implementing),
        ("closed", not_started | implementing | reviewing),
    ):
        chg[col][mask] = nan

    # Implementing right now.
    im = kind == K_IMPL
    state[im] = ST_IMPL
    chg["work_start"][im] = np.minimum(chg["start"][im] + rng.uniform(0, 300, int(im.sum())), a - MINUTE)
    chg["work_end"][im] = nan
    chg["closed"][im] = nan

    # Overdue: scheduled and approved, planned start in the past, not started.
    od = kind == K_OVERDUE
    state[od] = ST_SCHED
    for col in ("work_start", "work_end", "closed"):
        chg[col][od] = nan

    # Forward schedule.
    fwd = kind == K_FWD
    opened = chg["opened"]
    late = fwd & (opened > a - 0.5 * HOUR)
    opened[late] = np.floor(a - rng.uniform(HOUR, 72 * HOUR, int(late.sum())))
    fstate = np.select(
        [typ == T_STD, typ == T_NORMAL],
        [np.where(rng.random(n) < 0.85, ST_SCHED, ST_NEW), _codes(rng, (0.15, 0.25, 0.25, 0.35), n)],
        np.where(rng.random(n) < 0.6, ST_SCHED, ST_AUTH),
    ).astype(np.int8)
    state[fwd] = fstate[fwd]
    chg["approved"][fwd] = np.where(
        (fstate[fwd] == ST_SCHED) & (typ[fwd] != T_STD),
        np.floor(opened[fwd] + (a - opened[fwd]) * rng.uniform(0.3, 0.95, int(fwd.sum()))),
        nan,
    )
    for col in ("work_start", "work_end", "closed"):
        chg[col][fwd] = nan

    # Backlog of open changes of all ages.
    bl = kind == K_BACKLOG
    nb = int(bl.sum())
    lead = chg["start"][bl] - opened[bl]
    dur = chg["end"][bl] - chg["start"][bl]
    age = np.exp(rng.uniform(np.log(0.05), np.log(400), nb)) * DAY
    opened[bl] = np.floor(np.maximum(a - age, frame.hist_start))
    bstate = _codes(rng, (0.4, 0.3, 0.3), nb)
    unplanned = (bstate == ST_NEW) & (rng.random(nb) < 0.6)
    chg["start"][bl] = np.where(unplanned, nan, _floor_to(opened[bl] + lead, 15 * MINUTE))
    chg["end"][bl] = chg["start"][bl] + dur
    state[bl] = bstate
    for col in ("approved", "work_start", "work_end", "closed"):
        chg[col][bl] = nan

    # Canceled: at some point between opening and a day after the planned start.
    cx = kind == K_CANCEL
    nc = int(cx.sum())
    when = opened[cx] + (np.minimum(chg["start"][cx] + DAY, a) - opened[cx]) * rng.uniform(0.05, 1.0, nc)
    when = np.floor(np.minimum(when, a - MINUTE))
    cap = np.where(typ[cx] == T_STD, AP_APPROVED, _codes(rng, (0.35, 0.15, 0.15, 0.35), nc)).astype(np.int8)
    appr = chg["approved"][cx]
    appr = np.where(
        cap == AP_REJECTED, np.floor(opened[cx] + (when - opened[cx]) * rng.uniform(0.5, 1.0, nc)), appr
    )
    appr = np.where(
        (cap == AP_APPROVED) & (appr > when), np.floor(opened[cx] + (when - opened[cx]) * 0.5), appr
    )
    appr = np.where(np.isin(cap, (AP_REQUESTED, AP_NOT_YET)) | (typ[cx] == T_STD), nan, appr)
    state[cx] = ST_CANCELED
    approval[cx] = cap
    chg["approved"][cx] = appr
    chg["closed"][cx] = when
    chg["work_start"][cx] = nan
    chg["work_end"][cx] = np.where(rng.random(nc) < WART_CANCEL_STAMP, when, nan)

    # Approval field of open changes.
    approval = np.where(np.isin(state, (ST_NEW, ST_ASSESS)), AP_NOT_YET, approval)
    approval = np.where(state == ST_AUTH, AP_REQUESTED, approval).astype(np.int8)
    chg["approved"][np.isin(state, (ST_NEW, ST_ASSESS, ST_AUTH))] = nan
    chg["approved"][typ == T_STD] = nan

    # Implemented before approval (approved retrospectively) and changes flagged unauthorized.
    closed_impl = (state == ST_CLOSED) & (typ != T_STD)
    late_appr = closed_impl & (rng.random(n) < UNAUTHORIZED_LATE_APPROVAL)
    ws, cl = chg["work_start"], chg["closed"]
    chg["approved"][late_appr] = np.floor(
        ws[late_appr] + (cl[late_appr] - ws[late_appr]) * rng.uniform(0.2, 0.8, int(late_appr.sum()))
    )
    unauth = (late_appr & (rng.random(n) < 0.5)) | (closed_impl & (rng.random(n) < UNAUTHORIZED_FLAG_ONLY))
    chg["state"], chg["approval"], chg["unauthorized"] = state, approval, unauth


def _fix_changes(rng: np.random.Generator, inc_opened: np.ndarray, inc_ci: np.ndarray, frame: _Frame) -> Cols:
    """Emergency changes that fix major incidents: same CI, implemented 0-12 h after the incident."""
    n = len(inc_opened)
    typ = np.full(n, T_EMERG, dtype=np.int8)
    risk = _codes(rng, (0.05, 0.40, 0.45, 0.10), n)
    bad = _draw_bad(rng, typ, risk)
    opened = np.floor(inc_opened + rng.uniform(2, 20, n) * MINUTE)
    work_start = np.floor(inc_opened + 0.5 * HOUR + (FIX_WINDOW_HOURS - 1.0) * HOUR * rng.beta(1.3, 3.0, n))
    start = np.maximum(_floor_to(work_start, 5 * MINUTE), opened + 5 * MINUTE)
    start = np.minimum(start, work_start)
    approved = np.floor(opened + (start - opened) * rng.uniform(0.3, 0.9, n))
    planned = np.clip(_floor_to(_lognormal(rng, 1.5 * HOUR, 0.4, n), 15 * MINUTE), 0.5 * HOUR, 3 * HOUR)
    dur = np.clip(planned * _lognormal(rng, 1.0, 0.25, n) * np.where(bad, 1.3, 1.0), 0.5 * HOUR, 3 * HOUR)
    work_end = np.floor(work_start + dur)
    closed = np.floor(work_end + _lognormal(rng, 1.5 * DAY, 0.6, n))
    return {
        "kind": np.full(n, K_FIX, dtype=np.int8),
        "typ": typ,
        "risk": risk,
        "bad": bad,
        "ci": inc_ci.astype(np.int64),
        "start": start,
        "opened": opened,
        "approved": approved,
        "end": start + planned,
        "work_start": work_start,
        "work_end": work_end,
        "closed": closed,
        "release": np.full(n, -1, dtype=np.int64),
    }


# ----------------------------------------------------------------------------------------------
# Incidents
# ----------------------------------------------------------------------------------------------


def _caused_incidents(
    rng: np.random.Generator, chg: Cols, idx: np.ndarray, frame: _Frame, cmdb: _Cmdb
) -> Cols:
    """Incidents caused by bad changes: 1-48 h after work_end, same or related CI."""
    k = np.where(rng.random(len(idx)) < CAUSE_P_ANY, 1 + rng.poisson(CAUSE_EXTRA_MEAN, len(idx)), 0)
    k = np.minimum(k, CAUSE_MAX)
    src = np.repeat(idx, k)
    lo, hi = CAUSE_HOURS
    opened = np.floor(chg["work_end"][src] + lo * HOUR + (hi - lo) * HOUR * rng.beta(1.2, 3.0, len(src)))
    keep = opened < frame.as_of
    src, opened = src[keep], opened[keep]
    ci = chg["ci"][src]
    ci = np.where(rng.random(len(src)) < CAUSE_SAME_CI, ci, _neighbour(rng, cmdb, ci))
    pri = _codes(rng, P_MIX_CAUSED, len(src))
    filled = rng.random(len(src)) < np.where(pri <= 1, CAUSED_BY_FILLED_MAJOR, CAUSED_BY_FILLED_OTHER)
    return {
        "opened": opened,
        "ci": ci,
        "pri": pri,
        "cause": src,
        "caused_by": np.where(filled, src, -1),
    }


def _background_incidents(rng: np.random.Generator, n: int, frame: _Frame, cmdb: _Cmdb) -> Cols:
    """Incidents not caused by a change, spread over CIs and business hours."""
    first, n_days = frame.hist_day0, frame.asof_day - frame.hist_day0
    w = np.asarray(DOW_INCIDENT)[_dow(first + np.arange(n_days))]
    day = first + rng.choice(n_days, n, p=w / w.sum())
    opened = np.floor(day * DAY + _codes(rng, HOUR_INCIDENT, n) * HOUR + rng.uniform(0, HOUR, n))
    opened = np.maximum(opened, frame.hist_start)
    ci = rng.choice(len(cmdb.names), n, p=cmdb.w_incident)
    return {
        "opened": opened,
        "ci": ci.astype(np.int64),
        "pri": _codes(rng, P_MIX_BACKGROUND, n),
        "cause": np.full(n, -1, dtype=np.int64),
        "caused_by": np.full(n, -1, dtype=np.int64),
    }


def _finish_incidents(
    rng: np.random.Generator, inc: Cols, fix_we: np.ndarray, frame: _Frame, cmdb: _Cmdb
) -> None:
    """Resolution, closure, state, close code, warts and the update stamp of every incident."""
    n = len(inc["opened"])
    a = frame.as_of
    opened, pri = inc["opened"], inc["pri"]
    fixed = inc["rfc"] >= 0
    resolve = _lognormal(rng, np.asarray(RESOLVE_MEDIAN_HOURS)[pri] * HOUR, 0.9, n)
    resolved = np.floor(opened + np.maximum(resolve, 5 * MINUTE))
    resolved[fixed] = np.floor(
        np.maximum(fix_we, opened[fixed]) + rng.uniform(10 * MINUTE, 2 * HOUR, int(fixed.sum()))
    )
    closed = np.floor(resolved + rng.uniform(1, 7, n) * DAY)
    state = np.where(closed <= a, 4, 3).astype(np.int8)
    open_ = resolved > a
    state[open_] = _codes(rng, (0.15, 0.60, 0.25), n)[open_]
    canceled = ~fixed & (inc["cause"] < 0) & (rng.random(n) < INC_CANCELED_SHARE)
    state[canceled] = 5
    resolved = np.where(open_ | canceled, np.nan, resolved)
    closed = np.where(open_ | (state == 3), np.nan, closed)
    wait = np.minimum(
        _lognormal(rng, 4 * HOUR, 1.0, int(canceled.sum())),
        (a - opened[canceled]) * rng.random(int(canceled.sum())),
    )
    closed[canceled] = np.floor(opened[canceled] + wait)
    code = _codes(rng, INC_CLOSE_MIX, n)
    code[fixed] = INC_CC_BY_CHANGE
    code = np.where(np.isin(state, (3, 4)), code, -1)
    last = _last_past(a, opened, resolved, closed)
    upd = np.where(
        np.isin(state, (3, 4, 5)),
        last + rng.uniform(0, 30 * MINUTE, n),
        last + (a - last) * rng.random(n) * 0.5,
    )
    inc["updated"] = np.floor(np.minimum(upd, a))
    inc["resolved"], inc["closed"], inc["state"], inc["close_code"] = (
        resolved,
        closed,
        state,
        code.astype(np.int8),
    )
    # Some incidents name no CI; a few name a CI unknown to the CMDB.
    no_ci = np.asarray(INC_NO_CI_SHARE)[cmdb.cls[inc["ci"]]]
    inc["ci_hidden"] = ~fixed & (inc["cause"] < 0) & (rng.random(n) < no_ci)
    phantom = np.full(n, -1, dtype=np.int64)
    cand = np.flatnonzero(~fixed & (inc["cause"] < 0) & ~inc["ci_hidden"])
    k = _share(n, *WART_PHANTOM_CI) if n else 0
    ph = _pick(rng, cand, k)
    phantom[ph] = np.arange(len(ph)) % len(PHANTOM_CIS)
    inc["phantom"] = phantom
    # Problems: most major incidents and a few others, grouped by CI.
    has_prb = rng.random(n) < np.where(pri <= 1, 0.4, 0.02)
    prb = np.full(n, -1, dtype=np.int64)
    sel = np.flatnonzero(has_prb)
    if len(sel):
        grp = inc["ci"][sel] * 1_000_000 + _rank_within(inc["ci"][sel], opened[sel]) // 3
        _, first_idx, inv = np.unique(grp, return_index=True, return_inverse=True)
        order = np.argsort(opened[sel][first_idx], kind="stable")
        num = np.empty(len(order), dtype=np.int64)
        num[order] = np.arange(len(order))
        prb[sel] = num[inv]
    inc["problem"] = prb
    inc["tpl"] = rng.integers(0, 1 << 30, n)
    inc["desk"] = rng.random(n) < 0.15


# ----------------------------------------------------------------------------------------------
# Assembling the ServiceNow dataset
# ----------------------------------------------------------------------------------------------


@dataclass
class _Dataset:
    chg: Cols
    inc: Cols
    tasks: Cols
    task_ci: Cols
    rel: Cols
    m2m: Cols


def _build_servicenow(
    seed: int,
    n_chg: int,
    n_inc: int,
    frame: _Frame,
    cmdb: _Cmdb,
    win: _Windows,
    people: _People,
    say: Callable[[str], None],
) -> _Dataset:
    rng = _rng(seed, "changes")
    n_emerg = round(TYPE_SHARE[T_EMERG] * n_chg)
    expected_majors = n_inc * sum(P_MIX_BACKGROUND[:2]) + 0.1 * n_chg * sum(P_MIX_CAUSED[:2])
    n_fix = int(
        min(FIX_SHARE_OF_MAJORS * expected_majors, FIX_MAX_SHARE_OF_EMERGENCIES * n_emerg, 0.3 * n_inc)
    )
    n_base = n_chg - n_fix
    p_emerg = max(0.02, (n_emerg - n_fix) / n_base)
    p_std = TYPE_SHARE[T_STD] * n_chg / n_base

    say(f"changes: {n_chg:,} ({n_fix:,} incident fixes)")
    chg = _base_changes(rng, n_base, p_std, p_emerg, frame, cmdb, win)
    chg["release"] = _assign_releases(rng, chg, frame, cmdb)
    _avoid_upcoming_blackout(chg, frame, cmdb, win)
    chg.update(_lifecycle(rng, chg["typ"], chg["risk"], chg["bad"], chg["start"], frame))
    _inject_forward_stories(rng, chg, cmdb, win)

    # Incidents caused by the base changes, then the background.
    say(f"incidents: {n_inc:,}")
    irng = _rng(seed, "incidents")
    done = (chg["kind"] == K_HIST) & (chg["work_end"] <= frame.as_of)
    caused = _caused_incidents(irng, chg, np.flatnonzero(done & chg["bad"]), frame, cmdb)
    n_caused = min(len(caused["opened"]), n_inc)
    caused = {k: v[:n_caused] for k, v in caused.items()}
    inc = _concat_cols(caused, _background_incidents(irng, n_inc - n_caused, frame, cmdb))

    # Major incidents fixed by emergency changes (promote a few if there are not enough majors).
    eligible = (inc["opened"] >= frame.hist_start + DAY) & (inc["opened"] <= frame.as_of - 18 * HOUR)
    majors = np.flatnonzero(eligible & (inc["pri"] <= 1))
    if len(majors) < n_fix:
        extra = _pick(
            irng, np.flatnonzero(eligible & (inc["pri"] > 1) & (inc["cause"] < 0)), n_fix - len(majors)
        )
        inc["pri"][extra] = 1
        majors = np.sort(np.r_[majors, extra])
    fixed = _pick(irng, majors, n_fix)
    fix = _fix_changes(rng, inc["opened"][fixed], inc["ci"][fixed], frame)
    n_fix = len(fixed)

    # The fixes' own failures cause incidents too; drop as many background incidents to keep the total.
    fix_bad = np.flatnonzero(fix["bad"] & (fix["work_end"] <= frame.as_of)) + n_base
    chg = _concat_cols(chg, fix)
    caused2 = _caused_incidents(irng, chg, fix_bad, frame, cmdb)
    rfc = np.full(len(inc["opened"]), -1, dtype=np.int64)
    rfc[fixed] = n_base + np.arange(n_fix)
    droppable = np.flatnonzero((inc["cause"] < 0) & (rfc < 0))
    n2 = min(len(caused2["opened"]), len(droppable))
    drop = _pick(irng, droppable, n2)
    keep = np.ones(len(rfc), dtype=bool)
    keep[drop] = False
    inc = _concat_cols({k: v[keep] for k, v in inc.items()}, {k: v[:n2] for k, v in caused2.items()})
    inc["rfc"] = np.r_[rfc[keep], np.full(n2, -1, dtype=np.int64)]

    _change_states(rng, chg, frame)
    _change_details(rng, chg, frame, cmdb, people)
    fix_we = chg["work_end"][inc["rfc"][inc["rfc"] >= 0]]
    fix_we = np.where(np.isnan(fix_we), inc["opened"][inc["rfc"] >= 0] + FIX_WINDOW_HOURS * HOUR, fix_we)
    _finish_incidents(irng, inc, fix_we, frame, cmdb)

    # Numbers follow creation order.
    chg["number"] = _creation_rank(chg["opened"])
    inc["number"] = _creation_rank(inc["opened"])
    rel, m2m = _releases(_rng(seed, "releases"), chg, frame, cmdb)
    tasks = _tasks(_rng(seed, "tasks"), chg, frame)
    task_ci = _task_cis(_rng(seed, "task_ci"), chg, cmdb)
    return _Dataset(chg=chg, inc=inc, tasks=tasks, task_ci=task_ci, rel=rel, m2m=m2m)


def _creation_rank(opened: np.ndarray) -> np.ndarray:
    rank = np.empty(len(opened), dtype=np.int64)
    rank[np.argsort(opened, kind="stable")] = np.arange(len(opened))
    return rank


def _change_details(rng: np.random.Generator, chg: Cols, frame: _Frame, cmdb: _Cmdb, people: _People) -> None:
    """Close codes, descriptive fields, flags, warts and the update stamp."""
    n = len(chg["kind"])
    a = frame.as_of
    typ, risk, state = chg["typ"], chg["risk"], chg["state"]
    closed = state == ST_CLOSED
    cc = np.where(chg["bad"], _codes(rng, CLOSE_MIX_BAD, n) + 1, _codes(rng, CLOSE_MIX_GOOD, n) + 1)
    cc = np.where(closed, cc, CC_NONE).astype(np.int8)

    # Warts on closed changes (disjoint picks).
    closed_idx = rng.permutation(np.flatnonzero(closed & (chg["kind"] == K_HIST)))
    k_empty, k_unknown, k_swap = (  # counts of each wart
        _share(n, *WART_EMPTY_CLOSE),
        _share(n, *WART_UNKNOWN_CLOSE),
        _share(n, *WART_END_BEFORE_START),
    )
    cuts = np.cumsum([k_empty, k_unknown, k_unknown])
    cc[closed_idx[: cuts[0]]] = CC_NONE
    cc[closed_idx[cuts[0] : cuts[1]]] = CC_PARTIAL
    cc[closed_idx[cuts[1] : cuts[2]]] = CC_VENDOR
    # work_end before work_start, on changes that caused no incidents (keeps the cause story clean).
    swap = _pick(rng, np.flatnonzero(closed & (chg["kind"] == K_HIST) & ~chg["bad"]), k_swap)
    ws, we = chg["work_start"][swap].copy(), chg["work_end"][swap].copy()
    chg["work_start"][swap], chg["work_end"][swap] = we, ws
    chg["close_code"] = cc
    hide = np.flatnonzero(np.isin(chg["kind"], (K_HIST, K_CANCEL, K_BACKLOG)))
    chg["ci_hidden"] = np.zeros(n, dtype=bool)
    chg["ci_hidden"][_pick(rng, hide, _share(n, *WART_EMPTY_CI))] = True

    # Templates: a short description per CI class, a few formula-escaped.
    cls = cmdb.cls[chg["ci"]]
    counts = np.array([len(CHANGE_TEMPLATES[c]) for c in range(6)])
    offs = np.r_[0, np.cumsum(counts)]
    tpl = offs[cls] + np.floor(rng.random(n) * counts[cls]).astype(np.int64)
    is_fix = chg["kind"] == K_FIX
    tpl[is_fix] = offs[-1] + rng.integers(0, len(FIX_TEMPLATES), int(is_fix.sum()))
    formula = _pick(rng, np.arange(n), _share(n, *WART_FORMULA))
    tpl[formula] = offs[-1] + len(FIX_TEMPLATES) + np.arange(len(formula)) % len(FORMULA_TEMPLATES)
    chg["tpl"] = tpl
    for name, size in (
        ("reason", CHANGE_REASONS),
        ("note", CHANGE_NOTES),
        ("just", JUSTIFICATIONS),
        ("impl", IMPLEMENTATION_PLANS),
        ("backout", BACKOUT_PLANS),
        ("test", TEST_PLANS),
    ):
        chg[name] = rng.integers(0, len(size), n)
    chg["reason"][is_fix] = len(CHANGE_REASONS)  # FIX_REASON
    chg["just"] = np.where(typ == T_STD, len(JUSTIFICATIONS) - 1, chg["just"])

    impact = np.clip(np.array([2, 1, 1, 0])[risk] + rng.integers(-1, 2, n) * (rng.random(n) < 0.3), 0, 2)
    prio = np.clip(impact + (rng.random(n) < 0.6), 0, 3)
    prio = np.where(typ == T_EMERG, np.minimum(prio, 1), prio)
    chg["impact"], chg["priority"] = impact.astype(np.int8), prio.astype(np.int8)
    chg["category"] = cls
    cab = np.select(
        [typ == T_STD, typ == T_EMERG, risk >= R_HIGH, risk == R_MOD],
        [False, rng.random(n) < 0.7, True, rng.random(n) < 0.5],
        rng.random(n) < 0.1,
    )
    chg["cab"] = cab
    group = np.where(rng.random(n) < 0.9, cmdb.group[chg["ci"]], rng.integers(0, people.n_groups, n))
    chg["group"] = group
    assignee = _member_of(rng, group, people)
    chg["assignee"] = np.where(np.isin(state, (ST_NEW, ST_ASSESS)) & (rng.random(n) < 0.5), -1, assignee)
    chg["requester"] = rng.integers(0, people.n_users, n)

    last = _last_past(
        a,
        chg["opened"],
        chg["approved"],
        chg["start"],
        chg["end"],
        chg["work_start"],
        chg["work_end"],
        chg["closed"],
    )
    terminal = np.isin(state, (ST_CLOSED, ST_CANCELED))
    upd = np.where(terminal, last + rng.uniform(MINUTE, 6 * HOUR, n), last + (a - last) * rng.random(n) * 0.6)
    chg["updated"] = np.floor(np.minimum(upd, a))


def _releases(rng: np.random.Generator, chg: Cols, frame: _Frame, cmdb: _Cmdb) -> tuple[Cols, Cols]:
    """Release records from the member changes, plus a few canceled and draft releases."""
    a = frame.as_of
    rel = chg["release"]
    member = np.flatnonzero(rel >= 0)
    n_rel = int(rel.max()) + 1 if len(member) else 0
    r = rel[member]

    def agg(values: np.ndarray, fn: np.ufunc, init: float) -> np.ndarray:
        out = np.full(n_rel, init)
        fn.at(out, r, values)
        return out

    first_open = agg(chg["opened"][member], np.minimum, np.inf)
    last_end = agg(chg["end"][member], np.maximum, -np.inf)
    first_ws = agg(
        np.where(np.isnan(chg["work_start"][member]), np.inf, chg["work_start"][member]), np.minimum, np.inf
    )
    pending = agg(np.isnan(chg["work_end"][member]).astype(float), np.maximum, 0.0) > 0
    last_we = agg(np.nan_to_num(chg["work_end"][member], nan=-np.inf), np.maximum, -np.inf)
    svc = np.zeros(n_rel, dtype=np.int64)
    svc[r] = cmdb.svc[chg["ci"][member]]

    deployed = np.floor(last_we + rng.uniform(0.25 * HOUR, 2 * HOUR, n_rel))
    completed = ~pending & (deployed <= a)
    created = np.floor(first_open - rng.uniform(0.5, 5, n_rel) * DAY)
    start = _floor_to(first_open + rng.uniform(0, DAY, n_rel), HOUR)
    end = _floor_to(last_end + rng.uniform(HOUR, 3 * HOUR, n_rel), HOUR)
    to_go = (end - a) / DAY
    state = np.select(
        [completed, first_ws < np.inf, to_go > 10, to_go > 5, to_go > 2],
        [RL_COMPLETED, RL_DEPLOYING, RL_SCOPING + (rng.random(n_rel) < 0.5), RL_DEV, RL_TESTING],
        RL_DEPLOYING,
    ).astype(np.int8)
    work_start = np.where(first_ws < np.inf, first_ws, np.nan)
    work_end = np.where(completed, deployed, np.nan)

    # Extra releases without members: canceled in the history, drafts beyond the forward schedule.
    n_cx, n_dr = max(1, n_rel // 30), max(1, n_rel // 50)
    cx_start = _floor_to(rng.uniform(frame.hist_start + 30 * DAY, a - 30 * DAY, n_cx), HOUR)
    dr_start = _floor_to(a + rng.uniform(20, 60, n_dr) * DAY, HOUR)
    svc_extra = rng.choice(cmdb.n_svc, n_cx + n_dr)
    rows = {
        "svc": np.r_[svc, svc_extra],
        "state": np.r_[state, np.full(n_cx, RL_CANCELED), np.full(n_dr, RL_DRAFT)].astype(np.int8),
        "start": np.r_[start, cx_start, dr_start],
        "end": np.r_[end, cx_start + 14 * DAY, dr_start + 21 * DAY],
        "work_start": np.r_[work_start, np.full(n_cx + n_dr, np.nan)],
        "work_end": np.r_[work_end, np.full(n_cx + n_dr, np.nan)],
        "created": np.r_[created, cx_start - 10 * DAY, np.floor(a - rng.uniform(1, 10, n_dr) * DAY)],
    }
    canceled_at = np.r_[
        np.full(n_rel, np.nan), np.floor(cx_start + rng.uniform(1, 10, n_cx) * DAY), np.full(n_dr, np.nan)
    ]
    m = len(rows["svc"])
    rows["created"] = np.minimum(rows["created"], a - HOUR)
    rows["type"] = _codes(rng, RELEASE_TYPE_MIX, m)
    last = _last_past(
        a, rows["created"], rows["start"], rows["end"], rows["work_start"], rows["work_end"], canceled_at
    )
    terminal = np.isin(rows["state"], (RL_COMPLETED, RL_CANCELED))
    rows["updated"] = np.floor(
        np.minimum(
            np.where(terminal, last + rng.uniform(MINUTE, DAY, m), last + (a - last) * rng.random(m) * 0.5), a
        )
    )
    rows["number"] = _creation_rank(rows["created"])
    month = np.floor(rows["end"]).astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    rows["year"], rows["month"] = 1970 + month // 12, month % 12 + 1
    rows["seq"] = _rank_within(rows["svc"] * 100_000 + month, rows["start"]) + 1
    # Link rows: the release's number to each member change.
    m2m = {
        "release": r,
        "change": member,
        "updated": np.floor(
            np.minimum(
                np.maximum(chg["opened"][member], rows["created"][r]) + rng.uniform(MINUTE, DAY, len(member)),
                a,
            )
        ),
    }
    order = np.lexsort((chg["number"][member], rows["number"][r]))
    m2m = {k: v[order] for k, v in m2m.items()}
    return rows, m2m


def _tasks(rng: np.random.Generator, chg: Cols, frame: _Frame) -> Cols:
    """1-3 change tasks per change, consistent with the change's state and windows."""
    a = frame.as_of
    n = len(chg["kind"])
    k = _codes(rng, (0.3, 0.4, 0.3), n) + 1
    layout = np.array([[1, -1, -1], [1, 2, -1], [0, 1, 2]])
    three_review = rng.random(n) < 0.4
    order = np.argsort(chg["number"], kind="stable")
    src = np.repeat(order, k[order])
    pos = np.arange(len(src)) - np.repeat(np.r_[0, np.cumsum(k[order])[:-1]], k[order])
    ttype = layout[k[src] - 1, pos]
    ttype = np.where((k[src] == 3) & three_review[src], np.array([1, 2, 3])[pos], ttype)
    m = len(src)
    c = {
        key: chg[key][src]
        for key in ("opened", "approved", "start", "end", "work_start", "work_end", "closed", "state")
    }
    st = c["state"]
    created = np.floor(np.minimum(c["opened"] + rng.uniform(1, 30, m) * MINUTE, a))
    t_ps = np.select(
        [ttype == 0, ttype == 1, ttype == 2], [c["opened"] + HOUR, c["start"], c["end"]], c["end"] + DAY
    )
    t_pe = np.select(
        [ttype == 0, ttype == 1, ttype == 2],
        [np.maximum(c["start"] - HOUR, c["opened"] + 2 * HOUR), c["end"], c["end"] + HOUR],
        c["end"] + 3 * DAY,
    )
    t_ps, t_pe = _floor_to(t_ps, 15 * MINUTE), _floor_to(t_pe, 15 * MINUTE)
    review_ws = np.maximum(c["closed"] - rng.uniform(HOUR, DAY, m), c["work_end"])
    review_ws = np.where(np.isnan(review_ws), c["work_end"] + rng.uniform(HOUR, DAY, m), review_ws)
    t_ws = np.select(
        [ttype == 0, ttype == 1, ttype == 2],
        [
            c["opened"] + rng.uniform(0.5, 4, m) * HOUR,
            c["work_start"],
            c["work_end"] + rng.uniform(1, 10, m) * MINUTE,
        ],
        review_ws,
    )
    t_we = np.select(
        [ttype == 0, ttype == 1, ttype == 2],
        [t_ws + rng.uniform(0.5, 2, m) * HOUR, c["work_end"], t_ws + rng.uniform(10, 60, m) * MINUTE],
        c["closed"],
    )
    # State of each task from its change's state.
    state = np.full(m, TS_PENDING, dtype=np.int8)
    state[np.isin(st, (ST_CLOSED,))] = TS_CLOSED
    state[st == ST_CANCELED] = TS_CANCELED
    open_plan = np.isin(st, (ST_NEW, ST_ASSESS, ST_AUTH))
    state[open_plan & (ttype == 0)] = TS_OPEN
    state[(st == ST_SCHED) & (ttype == 0)] = TS_CLOSED
    impl = st == ST_IMPL
    state[impl] = np.select(
        [ttype[impl] == 0, ttype[impl] == 1, ttype[impl] == 2], [TS_CLOSED, TS_PROGRESS, TS_OPEN], TS_PENDING
    )
    rev = st == ST_REVIEW
    state[rev] = np.where(ttype[rev] == 3, TS_PROGRESS, TS_CLOSED)
    started = np.isin(state, (TS_PROGRESS, TS_CLOSED))
    t_ws = np.where(started, np.minimum(t_ws, a), np.nan)
    t_we = np.where(state == TS_CLOSED, np.minimum(t_we, a), np.nan)
    # A review task of a change in Review has no end; planning ends before the change is scheduled.
    code = np.where(state == TS_CLOSED, CC_OK, CC_NONE)
    code = np.where(
        (state == TS_CLOSED) & (ttype == 1),
        np.where(np.isin(chg["close_code"][src], (CC_OK, CC_ISSUES, CC_FAIL)), chg["close_code"][src], CC_OK),
        code,
    )
    last = _last_past(a, created, t_ps, t_pe, t_ws, t_we)
    terminal = np.isin(state, (TS_CLOSED, TS_CANCELED))
    upd = np.where(terminal, last + rng.uniform(MINUTE, HOUR, m), last + (a - last) * rng.random(m) * 0.5)
    return {
        "change": src,
        "type": ttype,
        "state": state,
        "planned_start": np.where(np.isnan(c["start"]) & (ttype != 0), np.nan, t_ps),
        "planned_end": np.where(np.isnan(c["start"]), np.nan, t_pe),
        "work_start": t_ws,
        "work_end": t_we,
        "close_code": code.astype(np.int8),
        "created": created,
        "updated": np.floor(np.minimum(upd, a)),
    }


def _task_cis(rng: np.random.Generator, chg: Cols, cmdb: _Cmdb) -> Cols:
    """Affected CIs: the primary CI plus 0-3 others, mostly one relationship away."""
    n = len(chg["kind"])
    order = np.argsort(chg["number"], kind="stable")
    extra = _codes(rng, (0.5, 0.3, 0.15, 0.05), n)[order]
    k = 1 + extra
    src = np.repeat(order, k)
    first = np.r_[0, np.cumsum(k)[:-1]]
    is_primary = np.zeros(len(src), dtype=bool)
    is_primary[first] = True
    ci = chg["ci"][src].copy()
    sec = ~is_primary
    related = _neighbour(rng, cmdb, ci[sec])
    rand = rng.choice(len(cmdb.names), int(sec.sum()), p=cmdb.w_change)
    ci[sec] = np.where(rng.random(int(sec.sum())) < 0.8, related, rand)
    # Drop repeats of the same CI on one change.
    key = src * (len(cmdb.names) + 1) + ci
    _, first_seen = np.unique(key, return_index=True)
    keep = np.sort(first_seen)
    src, ci = src[keep], ci[keep]
    upd = np.floor(chg["opened"][src] + rng.uniform(1, 120, len(src)) * MINUTE)
    upd = np.minimum(upd, np.maximum(chg["updated"][src], chg["opened"][src]))
    return {"change": src, "ci": ci, "updated": upd}


# ----------------------------------------------------------------------------------------------
# Writers
# ----------------------------------------------------------------------------------------------


def _write_sn_csv(path: Path, n_rows: int, build: Callable[[int, int], pl.DataFrame]) -> int:
    """Write a ServiceNow list export in chunks: quote-everything, LF, Windows-1252."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for lo in range(0, max(n_rows, 1), CHUNK_ROWS):
            hi = min(lo + CHUNK_ROWS, n_rows)
            buf = io.BytesIO()
            build(lo, hi).write_csv(buf, quote_style="always", include_header=lo == 0, line_terminator="\n")
            fh.write(_to_cp1252(buf.getvalue()))
    return n_rows


class _SnTables:
    """Lookup tables of ServiceNow display values (cp1252 placeholders applied)."""

    def __init__(self, cmdb: _Cmdb, people: _People) -> None:
        self.ci = _table([*cmdb.names, *PHANTOM_CIS], sn=True)
        self.user = _table(people.names, sn=True)
        self.group = _table(people.groups, sn=True)
        self.n_ci = len(cmdb.names)


def _ts_cols(df: pl.DataFrame, cols: Sequence[str], tz: str, fmt: str) -> pl.DataFrame:
    """Format several epoch-second columns in parallel."""
    exprs = [
        pl.from_epoch(pl.col(c).cast(pl.Int64), time_unit="s")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(tz)
        .dt.strftime(fmt)
        .fill_null("")
        .alias(c)
        for c in cols
    ]
    return df.with_columns(exprs)


def _epochs(**cols: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({k: pl.Series(k, np.floor(v), nan_to_null=True) for k, v in cols.items()})


def _write_servicenow(
    out: Path, seed: int, ds: _Dataset, cmdb: _Cmdb, people: _People, say: Callable[[str], None]
) -> dict[str, int]:
    sn = out / "servicenow"
    sn.mkdir(parents=True, exist_ok=True)
    (sn / "_export.toml").write_text(SN_EXPORT_TOML, encoding="utf-8", newline="\n")
    tb = _SnTables(cmdb, people)
    written: dict[str, int] = {}
    chg, inc = ds.chg, ds.inc
    chg_num = np.empty(len(chg["number"]), dtype=np.int64)
    chg_num[:] = chg["number"]

    def chg_ref(idx: np.ndarray) -> pl.Series:
        return _numbers("CHG", np.where(idx >= 0, 30001 + chg_num[np.maximum(idx, 0)], -1))

    # change_request: rows by number, a few exact duplicates next to their original.
    say("writing servicenow/change_request.csv")
    order = np.argsort(chg["number"], kind="stable")
    rng = _rng(seed, "write_changes")
    dup = _pick(rng, np.arange(len(order)), _share(len(order), *WART_DUPLICATES))
    rows = np.sort(np.r_[np.arange(len(order)), dup], kind="stable")
    row_chg = order[rows]
    ids = _hex_bytes(_rng(seed, "sys_id_change"), len(order))
    templates = (
        [t for c in range(6) for t in CHANGE_TEMPLATES[c]] + list(FIX_TEMPLATES) + list(FORMULA_TEMPLATES)
    )
    pre = _table([p for p, _ in templates], sn=True)
    suf = _table([s for _, s in templates], sn=True)
    svc_name = lambda ci: _look(tb.ci, cmdb.svc[ci])  # noqa: E731

    def build_chg(lo: int, hi: int) -> pl.DataFrame:
        i = row_chg[lo:hi]
        ci = chg["ci"][i]
        ci_name = _look(tb.ci, ci)
        closed = chg["state"][i] == ST_CLOSED
        canceled = chg["state"][i] == ST_CANCELED
        notes_idx = np.where(closed, chg["close_code"][i], -1)
        close_notes = _look(_table(CLOSE_NOTES, sn=True), notes_idx)
        close_notes = pl.select(
            pl.when(pl.lit(pl.Series(canceled))).then(pl.lit(_sn(CANCEL_NOTE))).otherwise(pl.lit(close_notes))
        ).to_series()
        desc = _concat(
            _look(_table([*CHANGE_REASONS, FIX_REASON], sn=True), chg["reason"][i]),
            "\nService: ",
            svc_name(ci),
            ". CI: ",
            ci_name,
            ".\n",
            _look(_table(CHANGE_NOTES, sn=True), chg["note"][i]),
        )
        times = _ts_cols(
            _epochs(
                start_date=chg["start"][i],
                end_date=chg["end"][i],
                work_start=chg["work_start"][i],
                work_end=chg["work_end"][i],
                opened_at=chg["opened"][i],
                approval_set=chg["approved"][i],
                closed_at=chg["closed"][i],
                sys_created_on=chg["opened"][i],
                sys_updated_on=chg["updated"][i],
            ),
            [
                "start_date",
                "end_date",
                "work_start",
                "work_end",
                "opened_at",
                "approval_set",
                "closed_at",
                "sys_created_on",
                "sys_updated_on",
            ],
            SN_TZ,
            SN_TS_FORMAT,
        )
        typ_lbl = _look(_table(TYPE_LABELS, sn=True), chg["typ"][i])
        return pl.DataFrame(
            {
                "sys_id": _hex_ids(ids[i]),
                "number": chg_ref(i),
                "short_description": _concat(_look(pre, chg["tpl"][i]), ci_name, _look(suf, chg["tpl"][i])),
                "description": desc,
                "type": typ_lbl,
                "chg_model": typ_lbl,
                "state": _look(_table(STATE_LABELS, sn=True), chg["state"][i]),
                "risk": _look(_table(RISK_LABELS, sn=True), chg["risk"][i]),
                "impact": _look(_table(IMPACT_LABELS, sn=True), chg["impact"][i]),
                "priority": _look(_table(CHANGE_PRIORITY_LABELS, sn=True), chg["priority"][i]),
                "approval": _look(_table(APPROVAL_LABELS, sn=True), chg["approval"][i]),
                "category": _look(_table(CATEGORY_BY_CLASS, sn=True), chg["category"][i]),
                "requested_by": _look(tb.user, chg["requester"][i]),
                "assignment_group": _look(tb.group, chg["group"][i]),
                "assigned_to": _look(tb.user, chg["assignee"][i]),
                "cmdb_ci": _look(tb.ci, np.where(chg["ci_hidden"][i], -1, ci)),
                "business_service": svc_name(ci),
                "start_date": times["start_date"],
                "end_date": times["end_date"],
                "work_start": times["work_start"],
                "work_end": times["work_end"],
                "opened_at": times["opened_at"],
                "approval_set": times["approval_set"],
                "closed_at": times["closed_at"],
                "sys_created_on": times["sys_created_on"],
                "sys_updated_on": times["sys_updated_on"],
                "close_code": _look(_table(CLOSE_CODE_LABELS, sn=True), chg["close_code"][i]),
                "close_notes": close_notes,
                "unauthorized": pl.Series(chg["unauthorized"][i]).cast(pl.String),
                "cab_required": pl.Series(chg["cab"][i]).cast(pl.String),
                "justification": _look(_table(JUSTIFICATIONS, sn=True), chg["just"][i]),
                "implementation_plan": _look(_table(IMPLEMENTATION_PLANS, sn=True), chg["impl"][i]),
                "backout_plan": _look(
                    _table(BACKOUT_PLANS, sn=True), np.where(chg["typ"][i] == T_STD, 0, chg["backout"][i])
                ),
                "test_plan": _look(_table(TEST_PLANS, sn=True), chg["test"][i]),
                "sys_class_name": pl.Series([_sn("Change Request")] * len(i), dtype=pl.String),
            }
        )

    written["servicenow/change_request.csv"] = _write_sn_csv(
        sn / "change_request.csv", len(row_chg), build_chg
    )

    # change_task.
    say("writing servicenow/change_task.csv")
    t = ds.tasks
    t_ids = _hex_bytes(_rng(seed, "sys_id_task"), len(t["change"]))
    title = _table(TASK_TITLES, sn=True)

    def build_task(lo: int, hi: int) -> pl.DataFrame:
        s = slice(lo, hi)
        c = t["change"][s]
        ci = chg["ci"][c]
        times = _ts_cols(
            _epochs(
                planned_start_date=t["planned_start"][s],
                planned_end_date=t["planned_end"][s],
                work_start=t["work_start"][s],
                work_end=t["work_end"][s],
                sys_created_on=t["created"][s],
                sys_updated_on=t["updated"][s],
            ),
            [
                "planned_start_date",
                "planned_end_date",
                "work_start",
                "work_end",
                "sys_created_on",
                "sys_updated_on",
            ],
            SN_TZ,
            SN_TS_FORMAT,
        )
        return pl.DataFrame(
            {
                "sys_id": _hex_ids(t_ids[s]),
                "number": _numbers("CTASK", 10001 + np.arange(lo, hi)),
                "change_request": chg_ref(c),
                "change_task_type": _look(_table(TASK_TYPES, sn=True), t["type"][s]),
                "state": _look(_table(TASK_STATES, sn=True), t["state"][s]),
                "short_description": _concat(_look(title, t["type"][s]), _look(tb.ci, ci)),
                "assignment_group": _look(tb.group, chg["group"][c]),
                "cmdb_ci": _look(tb.ci, np.where(chg["ci_hidden"][c], -1, ci)),
                "planned_start_date": times["planned_start_date"],
                "planned_end_date": times["planned_end_date"],
                "work_start": times["work_start"],
                "work_end": times["work_end"],
                "close_code": _look(_table(CLOSE_CODE_LABELS, sn=True), t["close_code"][s]),
                "sys_created_on": times["sys_created_on"],
                "sys_updated_on": times["sys_updated_on"],
            }
        )

    written["servicenow/change_task.csv"] = _write_sn_csv(
        sn / "change_task.csv", len(t["change"]), build_task
    )

    # rm_release and rm_m2m_release_task.
    say("writing servicenow/rm_release.csv")
    r = ds.rel
    r_order = np.argsort(r["number"], kind="stable")
    r_ids = _hex_bytes(_rng(seed, "sys_id_release"), len(r_order))

    def build_rel(lo: int, hi: int) -> pl.DataFrame:
        i = r_order[lo:hi]
        times = _ts_cols(
            _epochs(
                start_date=r["start"][i],
                end_date=r["end"][i],
                work_start=r["work_start"][i],
                work_end=r["work_end"][i],
                sys_created_on=r["created"][i],
                sys_updated_on=r["updated"][i],
            ),
            ["start_date", "end_date", "work_start", "work_end", "sys_created_on", "sys_updated_on"],
            SN_TZ,
            SN_TS_FORMAT,
        )
        rtype = _look(_table(RELEASE_TYPES, sn=True), r["type"][i])
        return pl.DataFrame(
            {
                "sys_id": _hex_ids(r_ids[i]),
                "number": _numbers("RLSE", 10001 + r["number"][i]),
                "short_description": _concat(
                    _look(tb.ci, r["svc"][i]),
                    " ",
                    pl.Series(r["year"][i]).cast(pl.String),
                    ".",
                    pl.Series(r["month"][i]).cast(pl.String).str.zfill(2),
                    ".",
                    pl.Series(r["seq"][i]).cast(pl.String),
                    " ",
                    rtype.str.to_lowercase(),
                    " release",
                ),
                "state": _look(_table(RELEASE_STATES, sn=True), r["state"][i]),
                "release_type": rtype,
                "start_date": times["start_date"],
                "end_date": times["end_date"],
                "work_start": times["work_start"],
                "work_end": times["work_end"],
                "sys_created_on": times["sys_created_on"],
                "sys_updated_on": times["sys_updated_on"],
            }
        )

    written["servicenow/rm_release.csv"] = _write_sn_csv(sn / "rm_release.csv", len(r_order), build_rel)
    m = ds.m2m
    m_ids = _hex_bytes(_rng(seed, "sys_id_m2m"), len(m["change"]))

    def build_m2m(lo: int, hi: int) -> pl.DataFrame:
        s = slice(lo, hi)
        return pl.DataFrame(
            {
                "sys_id": _hex_ids(m_ids[s]),
                "release": _numbers("RLSE", 10001 + r["number"][m["release"][s]]),
                "task": chg_ref(m["change"][s]),
                "sys_updated_on": _ts(m["updated"][s], SN_TZ, SN_TS_FORMAT),
            }
        )

    written["servicenow/rm_m2m_release_task.csv"] = _write_sn_csv(
        sn / "rm_m2m_release_task.csv", len(m["change"]), build_m2m
    )

    # CMDB.
    say("writing servicenow/cmdb_ci.csv")
    ci_ids = _hex_bytes(_rng(seed, "sys_id_ci"), len(cmdb.names))

    def build_ci(lo: int, hi: int) -> pl.DataFrame:
        s = slice(lo, hi)
        times = _ts_cols(
            _epochs(sys_created_on=cmdb.created[s], sys_updated_on=cmdb.updated[s]),
            ["sys_created_on", "sys_updated_on"],
            SN_TZ,
            SN_TS_FORMAT,
        )
        return pl.DataFrame(
            {
                "sys_id": _hex_ids(ci_ids[s]),
                "name": tb.ci.slice(lo, hi - lo),
                "sys_class_name": _look(_table(CLASS_LABELS, sn=True), cmdb.cls[s]),
                "operational_status": _look(_table(OP_STATUS, sn=True), cmdb.op_status[s]),
                "install_status": _look(_table(INSTALL_STATUS, sn=True), cmdb.install[s]),
                "environment": _look(_table(ENVIRONMENTS, sn=True), cmdb.env[s]),
                "busines_criticality": _look(_table(CRITICALITY, sn=True), cmdb.crit[s]),
                "support_group": _look(tb.group, cmdb.group[s]),
                "owned_by": _look(tb.user, cmdb.owner[s]),
                "sys_created_on": times["sys_created_on"],
                "sys_updated_on": times["sys_updated_on"],
            }
        )

    written["servicenow/cmdb_ci.csv"] = _write_sn_csv(sn / "cmdb_ci.csv", len(cmdb.names), build_ci)
    rel_ids = _hex_bytes(_rng(seed, "sys_id_rel"), len(cmdb.rel_parent))

    def build_rel_ci(lo: int, hi: int) -> pl.DataFrame:
        s = slice(lo, hi)
        return pl.DataFrame(
            {
                "sys_id": _hex_ids(rel_ids[s]),
                "parent": _look(tb.ci, cmdb.rel_parent[s]),
                "child": _look(tb.ci, cmdb.rel_child[s]),
                "type": _look(_table(REL_TYPES, sn=True), cmdb.rel_type[s]),
                "sys_updated_on": _ts(cmdb.rel_updated[s], SN_TZ, SN_TS_FORMAT),
            }
        )

    written["servicenow/cmdb_rel_ci.csv"] = _write_sn_csv(
        sn / "cmdb_rel_ci.csv", len(cmdb.rel_parent), build_rel_ci
    )

    say("writing servicenow/task_ci.csv")
    tc = ds.task_ci
    tc_ids = _hex_bytes(_rng(seed, "sys_id_task_ci"), len(tc["change"]))

    def build_task_ci(lo: int, hi: int) -> pl.DataFrame:
        s = slice(lo, hi)
        return pl.DataFrame(
            {
                "sys_id": _hex_ids(tc_ids[s]),
                "task": chg_ref(tc["change"][s]),
                "ci_item": _look(tb.ci, tc["ci"][s]),
                "sys_updated_on": _ts(tc["updated"][s], SN_TZ, SN_TS_FORMAT),
            }
        )

    written["servicenow/task_ci.csv"] = _write_sn_csv(sn / "task_ci.csv", len(tc["change"]), build_task_ci)

    # Incidents: numbered by creation, exported in two parts (the first below the export cap).
    inc_order = np.argsort(inc["number"], kind="stable")
    inc_ids = _hex_bytes(_rng(seed, "sys_id_incident"), len(inc_order))
    inc_tpls = [p for c in range(6) for p in INCIDENT_TEMPLATES[c]]
    inc_counts = np.array([len(INCIDENT_TEMPLATES[c]) for c in range(6)])
    inc_offs = np.r_[0, np.cumsum(inc_counts)]
    inc_pre = _table(inc_tpls, sn=True)
    inc_ci_name = np.where(inc["phantom"] >= 0, tb.n_ci + inc["phantom"], inc["ci"])
    inc_cls = np.where(inc["phantom"] >= 0, C_SRV, cmdb.cls[inc["ci"]])
    impact_of = np.array(
        [[0, 0], [0, 1], [0, 2], [1, 2], [2, 2]]
    )  # impact choices per priority (urgency = p - impact)

    def build_inc(lo: int, hi: int) -> pl.DataFrame:
        i = inc_order[lo:hi]
        pri = inc["pri"][i]
        flip = (inc["tpl"][i] >> 20) & 1
        impact = impact_of[pri, flip]
        urgency = np.clip(pri - impact, 0, 2)
        cls = inc_cls[i]
        tpl = inc_offs[cls] + inc["tpl"][i] % inc_counts[cls]
        ci = inc["ci"][i]
        shown = np.where(inc["ci_hidden"][i], -1, inc_ci_name[i])
        svc = np.where(inc["phantom"][i] >= 0, -1, cmdb.svc[ci])
        group = np.where(inc["desk"][i], G_DESK, cmdb.group[ci])
        times = _ts_cols(
            _epochs(
                opened_at=inc["opened"][i],
                resolved_at=inc["resolved"][i],
                closed_at=inc["closed"][i],
                sys_created_on=inc["opened"][i],
                sys_updated_on=inc["updated"][i],
            ),
            ["opened_at", "resolved_at", "closed_at", "sys_created_on", "sys_updated_on"],
            SN_TZ,
            SN_TS_FORMAT,
        )
        return pl.DataFrame(
            {
                "sys_id": _hex_ids(inc_ids[i]),
                "number": _numbers("INC", 10001 + inc["number"][i]),
                "short_description": _concat(_look(inc_pre, tpl), _look(tb.ci, inc_ci_name[i])),
                "priority": _look(_table(P_LABELS, sn=True), pri),
                "impact": _look(_table(IMPACT_LABELS, sn=True), impact),
                "urgency": _look(_table(IMPACT_LABELS, sn=True), urgency),
                "state": _look(_table(INC_STATE_LABELS, sn=True), inc["state"][i]),
                "category": _look(_table(INCIDENT_CATEGORY_BY_CLASS, sn=True), cls),
                "assignment_group": _look(tb.group, group),
                "cmdb_ci": _look(tb.ci, shown),
                "business_service": _look(tb.ci, svc),
                "caused_by": chg_ref(inc["caused_by"][i]),
                "rfc": chg_ref(inc["rfc"][i]),
                "problem_id": _numbers(
                    "PRB", np.where(inc["problem"][i] >= 0, 40001 + inc["problem"][i], -1)
                ),
                "opened_at": times["opened_at"],
                "resolved_at": times["resolved_at"],
                "closed_at": times["closed_at"],
                "close_code": _look(_table(INC_CLOSE_CODES, sn=True), inc["close_code"][i]),
                "sys_created_on": times["sys_created_on"],
                "sys_updated_on": times["sys_updated_on"],
            }
        )

    n_inc = len(inc_order)
    say("writing servicenow/incident.csv")
    first = min(n_inc, INCIDENT_FIRST_PART)
    written["servicenow/incident.csv"] = _write_sn_csv(sn / "incident.csv", first, build_inc)
    if n_inc > first:
        written["servicenow/incident_2.csv"] = _write_sn_csv(
            sn / "incident_2.csv", n_inc - first, lambda lo, hi: build_inc(first + lo, first + hi)
        )
    return written


def _write_windows(out: Path, win: _Windows) -> dict[str, int]:
    rows = win.rows
    df = pl.DataFrame(
        {
            "window_id": [f"W{i + 1:05d}" for i in range(len(rows))],
            "kind": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "scope": [r[2] for r in rows],
            "start_at": _ts(np.array([r[3] for r in rows]), "UTC", WINDOW_TS_FORMAT),
            "end_at": _ts(np.array([r[4] for r in rows]), "UTC", WINDOW_TS_FORMAT),
        }
    )
    path = out / "changeboard" / "change_windows.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_csv(path, line_terminator="\n")
    return {"changeboard/change_windows.csv": len(rows)}


# ----------------------------------------------------------------------------------------------
# Jira Service Management
# ----------------------------------------------------------------------------------------------


def _jira_account_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Cloud account ids: 24 hex digits, some in the newer '712020:<uuid>' form."""
    raw = _hex_ids(rng.integers(0, 256, size=(n, 16), dtype=np.uint8)).to_list()
    modern = rng.random(n) < 0.4
    return [
        f"712020:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}" if m else h[:24]
        for h, m in zip(raw, modern.tolist(), strict=True)
    ]


def _write_jira(
    out: Path, seed: int, n_chg: int, frame: _Frame, cmdb: _Cmdb, people: _People, say: Callable[[str], None]
) -> dict[str, int]:
    rng = _rng(seed, "jira")
    n = max(MIN_JIRA_CHANGES, round(JIRA_SHARE * n_chg))
    say(f"jira changes: {n:,}")
    a = frame.as_of
    kind = rng.permutation(_class_plan(n))
    typ = _draw_types(rng, n, TYPE_SHARE[T_STD], TYPE_SHARE[T_EMERG])
    risk = _draw_risk(rng, typ)
    bad = _draw_bad(rng, typ, risk)
    start = np.full(n, np.nan)
    hist = np.isin(kind, (K_HIST, K_CANCEL))
    start[hist] = _starts_history(rng, typ[hist], frame)
    fwd = kind == K_FWD
    start[fwd] = _starts_forward(rng, typ[fwd], frame)
    od = kind == K_OVERDUE
    start[od] = _floor_to(a - rng.uniform(HOUR, 10 * DAY, int(od.sum())), 15 * MINUTE)
    im = kind == K_IMPL
    start[im] = _floor_to(a - rng.uniform(0.25 * HOUR, 2 * HOUR, int(im.sum())), 5 * MINUTE)
    bl = kind == K_BACKLOG
    start[bl] = a
    life = _lifecycle(rng, typ, risk, bad, start, frame)
    opened, ws, we = life["opened"], life["work_start"], life["work_end"]
    end = life["end"]
    resolved = np.floor(we + rng.uniform(1, 30, n) * MINUTE)

    status = np.full(n, JS_COMPLETED, dtype=np.int8)
    h = kind == K_HIST
    status[h & bad & (rng.random(n) < 0.5)] = JS_FAILED
    not_started = h & (ws > a)
    running = h & ~not_started & (resolved > a)
    status[not_started] = JS_AWAIT_IMPL
    status[running | im] = JS_IMPLEMENTING
    ws = np.where(not_started | od | fwd | bl, np.nan, ws)
    ws[im] = np.minimum(start[im] + rng.uniform(0, 300, int(im.sum())), a - MINUTE)
    we = np.where(not_started | running | im | od | fwd | bl, np.nan, we)
    resolved = np.where(np.isin(status, (JS_COMPLETED, JS_FAILED)) & h, resolved, np.nan)
    cx = kind == K_CANCEL
    nc = int(cx.sum())
    when = np.floor(
        np.minimum(
            opened[cx] + (np.minimum(start[cx] + DAY, a) - opened[cx]) * rng.uniform(0.05, 1.0, nc),
            a - MINUTE,
        )
    )
    status[cx] = np.where(rng.random(nc) < 0.6, JS_CANCELED, JS_DECLINED)
    resolved[cx] = when
    ws[cx], we[cx] = np.nan, np.nan
    late = fwd & (opened > a - 0.5 * HOUR)
    opened[late] = np.floor(a - rng.uniform(HOUR, 72 * HOUR, int(late.sum())))
    status[fwd] = np.select(
        [typ[fwd] == T_STD, typ[fwd] == T_NORMAL],
        [JS_AWAIT_IMPL, _codes(rng, (0.3, 0.35, 0.35), int(fwd.sum()))],
        np.where(rng.random(int(fwd.sum())) < 0.5, JS_AWAIT_APPROVAL, JS_AWAIT_IMPL),
    )
    status[od] = JS_AWAIT_IMPL
    nb = int(bl.sum())
    lead = start[bl] - opened[bl]
    dur = end[bl] - start[bl]
    opened[bl] = np.floor(
        np.maximum(a - np.exp(rng.uniform(np.log(0.05), np.log(400), nb)) * DAY, frame.hist_start)
    )
    start[bl] = _floor_to(opened[bl] + lead, 15 * MINUTE)
    end[bl] = start[bl] + dur
    status[bl] = np.where(rng.random(nb) < 0.6, JS_PLANNING, JS_AWAIT_APPROVAL)

    # Comments between creation and the last event, then the update stamp after all of them.
    last = _last_past(a, opened, start, end, ws, we, resolved)
    terminal = np.isin(status, (JS_COMPLETED, JS_CANCELED, JS_DECLINED, JS_FAILED))
    n_comments = _codes(rng, (0.25, 0.35, 0.25, 0.15), n)
    n_comments = np.where(status == JS_FAILED, np.maximum(n_comments, 1), n_comments)
    upper = np.where(terminal, last, a)
    c_times = np.sort(rng.random((n, 3)), axis=1) * (upper - opened)[:, None] + opened[:, None]
    c_times = np.where(np.arange(3)[None, :] < n_comments[:, None], np.floor(c_times), np.nan)
    last = np.fmax(last, np.max(np.where(np.isnan(c_times), -np.inf, c_times), axis=1))
    updated = np.floor(
        np.minimum(
            np.where(
                terminal, last + rng.uniform(MINUTE, 3 * HOUR, n), last + (a - last) * rng.random(n) * 0.5
            ),
            a,
        )
    )

    # Keys follow creation order; the export lists the newest first.
    rank = _creation_rank(opened)
    issue_id = 10000 + np.cumsum(rng.integers(1, 40, n))[rank]
    order = np.argsort(-rank, kind="stable")
    accounts = _jira_account_ids(rng, people.n_users)
    users = pl.Series([*people.names, ""], dtype=pl.String)
    account_s = pl.Series([*accounts, ""], dtype=pl.String)
    assignee = np.where(
        (status == JS_PLANNING) & (rng.random(n) < 0.5), -1, rng.integers(0, people.n_users, n)
    )
    reporter = rng.integers(0, people.n_users, n)
    svc_w = 1.0 / np.arange(1, cmdb.n_svc + 1) ** 0.9
    svc_pick = rng.choice(cmdb.n_svc, (n, 2), p=svc_w / svc_w.sum())
    svc_names = pl.Series([*cmdb.names[: cmdb.n_svc], *JIRA_UNKNOWN_SERVICES, ""], dtype=pl.String)
    unknown = rng.random((n, 2)) < 0.06
    svc_idx = np.where(unknown, cmdb.n_svc + rng.integers(0, len(JIRA_UNKNOWN_SERVICES), (n, 2)), svc_pick)
    two = (rng.random(n) < 0.3) & (svc_idx[:, 0] != svc_idx[:, 1])
    svc_idx[:, 1] = np.where(two, svc_idx[:, 1], len(svc_names) - 1)
    n_labels = _codes(rng, (0.3, 0.35, 0.25, 0.1), n)
    label_pick = np.argsort(rng.random((n, len(JIRA_LABELS))), axis=1)[:, :3]
    label_pick = np.where(np.arange(3)[None, :] < n_labels[:, None], label_pick, -1)
    approvals_hex = _hex_ids(rng.integers(0, 256, size=(n, 4), dtype=np.uint8)).str.strip_chars_start("0")
    approvals = _concat(APPROVALS_CF, approvals_hex)
    approvals = pl.select(
        pl.when(pl.lit(pl.Series(typ == T_STD))).then(pl.lit("")).otherwise(pl.lit(approvals))
    ).to_series()
    impact = np.clip(risk + rng.integers(-1, 2, n) * (rng.random(n) < 0.3), 0, 3)
    priority = np.clip(3 - risk + rng.integers(-1, 2, n) * (rng.random(n) < 0.3), 0, 4)
    reason = np.where(typ == T_EMERG, 0, _codes(rng, (0.15, 0.3, 0.3, 0.15, 0.1), n))
    month = _ts(np.where(np.isnan(we), start, we), JIRA_TZ, "%Y.%m")
    fix_version = pl.select(
        pl.when(pl.lit(pl.Series((typ == T_NORMAL) & (rng.random(n) < 0.25) & ~np.isnan(start))))
        .then(pl.concat_str([pl.lit("Retail "), pl.lit(month)]))
        .otherwise(pl.lit(""))
    ).to_series()
    # Comment texts: general ones, the last one tells the outcome of completed and failed changes.
    comment_texts = [*JIRA_COMMENTS, *JIRA_COMMENT_DONE, JIRA_COMMENT_FAILED]
    comment_body = rng.integers(0, len(JIRA_COMMENTS), (n, 3))
    last_slot = np.arange(3)[None, :] == (n_comments - 1)[:, None]
    done_body = len(JIRA_COMMENTS) + rng.integers(0, len(JIRA_COMMENT_DONE), (n, 3))
    comment_body = np.where(
        last_slot & (status == JS_COMPLETED)[:, None] & (rng.random((n, 1)) < 0.7), done_body, comment_body
    )
    comment_body = np.where(last_slot & (status == JS_FAILED)[:, None], len(comment_texts) - 1, comment_body)
    comment_author = rng.integers(0, people.n_users, (n, 3))
    summary_tpl = rng.integers(0, len(JIRA_SUMMARIES), n)
    fmt = lambda x: _ts(x, JIRA_TZ, JIRA_TS_FORMAT)  # noqa: E731
    look = lambda vals, idx: _look(pl.Series([*vals, ""], dtype=pl.String), idx)  # noqa: E731

    comments = []
    for j in range(3):
        body = _concat(
            fmt(c_times[:, j]),
            ";",
            _look(account_s, comment_author[:, j]),
            ";",
            look(comment_texts, comment_body[:, j]),
        )
        comments.append(
            pl.select(
                pl.when(pl.lit(pl.Series(~np.isnan(c_times[:, j])))).then(pl.lit(body)).otherwise(pl.lit(""))
            ).to_series()
        )
    columns: list[pl.Series] = [
        _concat(
            look([p for p, _ in JIRA_SUMMARIES], summary_tpl),
            _look(svc_names, svc_idx[:, 0]),
            look([s for _, s in JIRA_SUMMARIES], summary_tpl),
        ),
        _numbers(f"{JIRA_PROJECT_KEY}-", rank + 1, width=0),
        pl.Series(issue_id).cast(pl.String),
        pl.Series(["Change"] * n, dtype=pl.String),
        look(JIRA_STATUSES, status),
        pl.Series([JIRA_PROJECT_KEY] * n, dtype=pl.String),
        pl.Series([JIRA_PROJECT_NAME] * n, dtype=pl.String),
        look(JIRA_PRIORITIES, priority),
        look(JIRA_RESOLUTION, status),
        _look(users, assignee),
        _look(account_s, assignee),
        _look(users, reporter),
        _look(account_s, reporter),
        fmt(opened),
        fmt(updated),
        fmt(resolved),
        look(JIRA_DESCRIPTIONS, rng.integers(0, len(JIRA_DESCRIPTIONS), n)),
        look(JIRA_LABELS, label_pick[:, 0]),
        look(JIRA_LABELS, label_pick[:, 1]),
        look(JIRA_LABELS, label_pick[:, 2]),
        look(TYPE_LABELS, typ),
        look(JIRA_RISKS, risk),
        look(JIRA_REASONS, reason),
        fmt(start),
        fmt(end),
        fmt(ws),
        fmt(we),
        _look(svc_names, svc_idx[:, 0]),
        _look(svc_names, svc_idx[:, 1]),
        look(JIRA_IMPACTS, impact),
        look(JIRA_IMPACT_2, _codes(rng, (0.4, 0.5, 0.1), n)),
        approvals,
        fix_version,
        *comments,
        look(JIRA_STATUS_CATEGORY, status),
    ]
    path = out / "jira" / "changes.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    (out / "jira" / "_export.toml").write_text(JIRA_EXPORT_TOML, encoding="utf-8", newline="\n")
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(JIRA_HEADER)
        for lo in range(0, n, CHUNK_ROWS):
            idx = order[lo : lo + CHUNK_ROWS]
            writer.writerows(zip(*(col.gather(idx).to_list() for col in columns), strict=True))
    return {"jira/changes.csv": n}


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------


def generate(
    out_dir: Path,
    *,
    seed: int = 7,
    changes: int = 4000,
    incidents: int | None = None,
    cis: int | None = None,
    as_of: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write the sample exports under out_dir; return {relative file path: data rows written}.

    Args:
        out_dir: Folder to write into (created if missing; existing files are overwritten).
        seed: Random seed; the same seed and arguments give byte-identical files.
        changes: ServiceNow change requests (Jira gets another 15 %, at least 50).
        incidents: Incidents (default 3 per change).
        cis: Configuration items (default changes // 4, clamped to 150..100,000).
        as_of: The sample's "now" (default today 00:00 UTC); history covers the 18 months before.
        progress: Called with a short message at each step.

    Returns:
        Data rows written per CSV file, keyed by path relative to out_dir.
    """
    n_chg = int(changes)
    if n_chg < MIN_CHANGES:
        raise ValueError(f"changes must be at least {MIN_CHANGES}")
    n_inc = INCIDENTS_PER_CHANGE * n_chg if incidents is None else int(incidents)
    if n_inc < 0:
        raise ValueError("incidents must not be negative")
    n_ci = min(max(n_chg // CHANGES_PER_CI, MIN_CIS), MAX_CIS) if cis is None else int(cis)
    if as_of is None:
        as_of = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    elif as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    as_of = as_of.astimezone(UTC).replace(microsecond=0)
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    frame, start = _make_frame(as_of)
    people = _make_people(seed, n_ci)
    say(f"cmdb: {n_ci:,} CIs")
    cmdb = _make_cmdb(seed, n_ci, frame, people)
    win, frame = _make_windows(frame, cmdb, start, as_of)
    ds = _build_servicenow(seed, n_chg, n_inc, frame, cmdb, win, people, say)
    written = _write_servicenow(out, seed, ds, cmdb, people, say)
    written.update(_write_jira(out, seed, n_chg, frame, cmdb, people, say))
    written.update(_write_windows(out, win))
    say("done")
    return written
