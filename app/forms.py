"""The change-request form's rules, in pure code (no Streamlit, no database): STYLE.md B5.7.

:class:`ChangeRequest` is what the requester typed, already cleaned (:func:`clean_line` /
:func:`clean_text` strip control and bidi characters). :func:`validate` returns every
:class:`Problem` with the field it belongs to and a message in plain words; ``severity='error'``
blocks the submission, ``'warning'`` is shown and the request is accepted.

The policy (:class:`Policy`) comes from a ``[form]`` table in a ``changeboard.toml`` file
(:func:`load_policy`; the README's "The change-request form" section documents every key):

* notice in working days per change type (normal 3, standard 0 by default); emergency changes need a
  justification instead of notice;
* blackout windows: ``warn`` (default) or ``refuse``, separately for emergency changes;
* the list of pre-approved standard change templates;
* the longest window, and the length limit of every text field.

All times are UTC. A working day is Monday to Friday and not one of the policy's holidays.
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

CHANGE_TYPES = ("standard", "normal", "emergency")
IMPACTS = ("1 - High", "2 - Medium", "3 - Low")
RISKS = ("Very High", "High", "Moderate", "Low")
ENV_POLICY = "CHANGEBOARD_POLICY"
POLICY_FILE = "changeboard.toml"

# Field -> label shown on the form (also used in messages).
LABELS: dict[str, str] = {
    "title": "Title",
    "description": "Description",
    "justification": "Justification",
    "change_type": "Change type",
    "template": "Standard change template",
    "service": "Service",
    "cis": "Configuration items",
    "window_start": "Window start",
    "window_end": "Window end",
    "impact": "Impact",
    "risk": "Risk",
    "implementation_plan": "Implementation plan",
    "test_plan": "Test plan",
    "backout_plan": "Backout plan",
    "requester": "Requester",
}

# What each type requires besides title, requester and a window (which every type requires).
REQUIRED_BY_TYPE: dict[str, tuple[str, ...]] = {
    "standard": ("template",),
    "normal": (
        "description",
        "justification",
        "impact",
        "risk",
        "implementation_plan",
        "test_plan",
        "backout_plan",
    ),
    "emergency": ("description", "justification", "impact", "risk", "implementation_plan", "backout_plan"),
}
ALWAYS_REQUIRED = ("title", "requester", "change_type", "window_start", "window_end")

DEFAULT_MAX_LENGTHS: dict[str, int] = {
    "title": 160,
    "description": 4000,
    "justification": 4000,
    "implementation_plan": 4000,
    "test_plan": 4000,
    "backout_plan": 4000,
    "requester": 120,
    "service": 200,
    "template": 200,
    "ci": 200,
}
DEFAULT_TEMPLATES = (
    "Monthly OS patching (Linux)",
    "Monthly OS patching (Windows)",
    "TLS certificate renewal",
    "Add disk space to a server",
    "Restart an application service",
    "Firewall rule (pre-approved pattern)",
)
MIN_TITLE = 5
MAX_CIS = 20

# C0/C1 controls (except tab and newline in multi-line text), bidi overrides and isolates, BOM.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\ufeff"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI + "]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f" + _BIDI + "]")


# --- cleaning (before validation) -------------------------------------------------------------------


def clean_line(value: object) -> str:
    """One line of text: NFC, control / bidi characters removed, runs of whitespace collapsed."""
    text = unicodedata.normalize("NFC", str(value or ""))
    text = _CONTROL_LINE.sub(" ", text)
    return " ".join(text.split())


def clean_text(value: object) -> str:
    """Multi-line text: NFC, CRLF -> LF, control / bidi characters removed (tab and newline kept)."""
    text = unicodedata.normalize("NFC", str(value or "")).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


# --- the request and its problems -------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRequest:
    """A change request as typed on the form (cleaned by :meth:`create`). Times are aware UTC."""

    title: str = ""
    change_type: str = "normal"
    requester: str = ""
    description: str = ""
    justification: str = ""
    template: str = ""
    service: str = ""
    cis: tuple[str, ...] = ()
    window_start: datetime | None = None
    window_end: datetime | None = None
    impact: str = ""
    risk: str = ""
    implementation_plan: str = ""
    test_plan: str = ""
    backout_plan: str = ""

    @classmethod
    def create(cls, **values: object) -> ChangeRequest:
        """Build a request from raw widget values: every text cleaned, CIs de-duplicated, times in UTC."""
        single = {"title", "change_type", "requester", "template", "service", "impact", "risk"}
        out: dict[str, object] = {}
        for f in fields(cls):
            if f.name not in values:
                continue
            v = values[f.name]
            if f.name == "cis":
                seen: dict[str, None] = {}
                for ci in v or ():  # type: ignore[attr-defined]
                    c = clean_line(ci)
                    if c:
                        seen.setdefault(c, None)
                out["cis"] = tuple(seen)
            elif f.name in ("window_start", "window_end"):
                out[f.name] = as_utc(v) if isinstance(v, datetime) else None
            elif f.name in single:
                out[f.name] = clean_line(v)
            else:
                out[f.name] = clean_text(v)
        if "change_type" in out:
            out["change_type"] = str(out["change_type"]).lower()
        return cls(**out)  # type: ignore[arg-type]

    def store_fields(self) -> dict[str, object]:
        """The columns of ``ingest.ops.submit`` (times as ISO 8601 UTC text), without identity."""
        return {
            "title": self.title,
            "description": self.description or None,
            "justification": self.justification or None,
            "change_type": self.change_type,
            "template": self.template or None,
            "service": self.service or None,
            "cis": list(self.cis),
            "window_start": iso(self.window_start),
            "window_end": iso(self.window_end),
            "impact": self.impact or None,
            "risk": self.risk or None,
            "implementation_plan": self.implementation_plan or None,
            "test_plan": self.test_plan or None,
            "backout_plan": self.backout_plan or None,
        }


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: the field it concerns and what to do, in plain words."""

    field: str
    message: str
    severity: str = "error"  # 'error' blocks the submission, 'warning' does not

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True)
class Blackout:
    """A change freeze: for everything (``scope`` empty) or for one CI or service (by name)."""

    name: str
    start: datetime
    end: datetime
    scope: str = ""

    def applies_to(self, req: ChangeRequest) -> bool:
        if not self.scope:
            return True
        scope = self.scope.casefold()
        return scope == req.service.casefold() or any(scope == ci.casefold() for ci in req.cis)


@dataclass(frozen=True)
class Policy:
    """The organisation's change policy as it applies to the form (see the module docstring)."""

    notice_working_days: Mapping[str, int] = field(
        default_factory=lambda: {"standard": 0, "normal": 3, "emergency": 0}
    )
    blackout: str = "warn"  # 'warn' | 'refuse'
    blackout_emergency: str = "warn"
    holidays: frozenset[date] = frozenset()
    max_window_hours: float = 72.0
    standard_templates: tuple[str, ...] = DEFAULT_TEMPLATES
    max_lengths: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MAX_LENGTHS))
    blackouts: tuple[Blackout, ...] = ()

    def notice_days(self, change_type: str) -> int:
        return int(self.notice_working_days.get(change_type, 0))

    def max_length(self, name: str) -> int:
        return int(self.max_lengths.get(name, DEFAULT_MAX_LENGTHS.get(name, 4000)))

    def with_blackouts(self, more: Iterable[Blackout]) -> Policy:
        return replace(self, blackouts=(*self.blackouts, *more))


class PolicyError(ValueError):
    """The policy file cannot be used (says which key and why)."""


# --- time helpers ---------------------------------------------------------------------------------------


def as_utc(value: datetime) -> datetime:
    """Aware UTC (a naive datetime is taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat(timespec="seconds")


def is_working_day(day: date, holidays: frozenset[date] = frozenset()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: datetime, days: int, holidays: frozenset[date] = frozenset()) -> datetime:
    """``start`` moved forward by ``days`` working days at the same time of day.

    Submitted on Friday 10:00 with 3 days' notice, the earliest start is Wednesday 10:00. A
    submission made on a weekend or holiday counts from the next working day's start.
    """
    current = as_utc(start)
    if days <= 0:
        return current
    if not is_working_day(current.date(), holidays):
        while not is_working_day(current.date(), holidays):
            current = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current.date(), holidays):
            remaining -= 1
    return current


def when(value: datetime) -> str:
    """'Wed 2 Dec 2026 10:00 UTC'."""
    v = as_utc(value)
    return f"{v:%a} {v.day} {v:%b %Y %H:%M} UTC"


# --- validation -----------------------------------------------------------------------------------------


def _blank(req: ChangeRequest, name: str) -> bool:
    value = getattr(req, name)
    return value is None or value == "" or value == ()


def required_fields(change_type: str) -> tuple[str, ...]:
    """The fields a change type requires (the form marks them with an asterisk)."""
    return (*ALWAYS_REQUIRED, *REQUIRED_BY_TYPE.get(change_type, ()))


def _required_message(req: ChangeRequest, name: str) -> str:
    if name == "justification" and req.change_type == "emergency":
        return (
            "An emergency change skips the notice period, so it needs a justification instead: "
            "say why it cannot wait for the normal process."
        )
    if name == "template":
        return "A standard change must use one of the pre-approved templates: pick one from the list."
    if name == "requester":
        return "Say who is requesting the change."
    if name in ("window_start", "window_end"):
        edge = "starts" if name == "window_start" else "ends"
        return f"Choose the date and time (UTC) the work {edge}."
    article = {"standard": "A standard", "normal": "A normal", "emergency": "An emergency"}.get(
        req.change_type, "This"
    )
    return f"{LABELS[name]} is required. {article} change needs it."


def validate(
    req: ChangeRequest, policy: Policy, now: datetime, *, blackouts: Sequence[Blackout] = ()
) -> list[Problem]:
    """Every problem with the request, errors and warnings, each attached to one field.

    ``blackouts`` adds to ``policy.blackouts`` (e.g. the warehouse's published change windows).
    """
    now = as_utc(now)
    problems: list[Problem] = []

    if req.change_type not in CHANGE_TYPES:
        problems.append(Problem("change_type", "Choose standard, normal or emergency."))
    for name in required_fields(req.change_type):
        if name == "change_type":
            continue
        if _blank(req, name):
            problems.append(Problem(name, _required_message(req, name)))

    # lengths
    if req.title and len(req.title) < MIN_TITLE:
        problems.append(
            Problem("title", f"The title is too short: say what changes in at least {MIN_TITLE} characters.")
        )
    for name in (
        "title",
        "description",
        "justification",
        "implementation_plan",
        "test_plan",
        "backout_plan",
        "requester",
        "service",
        "template",
    ):
        limit = policy.max_length(name)
        length = len(getattr(req, name))
        if length > limit:
            problems.append(
                Problem(name, f"{LABELS[name]} is {length:,} characters long; the limit is {limit:,}.")
            )
    if len(req.cis) > MAX_CIS:
        problems.append(
            Problem("cis", f"{len(req.cis)} configuration items chosen; at most {MAX_CIS} fit one request.")
        )
    long_cis = [ci for ci in req.cis if len(ci) > policy.max_length("ci")]
    if long_cis:
        problems.append(Problem("cis", "A configuration item name is too long to be a CMDB name."))

    # choices
    if req.impact and req.impact not in IMPACTS:
        problems.append(Problem("impact", f"Choose one of: {', '.join(IMPACTS)}."))
    if req.risk and req.risk not in RISKS:
        problems.append(Problem("risk", f"Choose one of: {', '.join(RISKS)}."))
    if req.change_type == "standard" and req.template and req.template not in policy.standard_templates:
        problems.append(
            Problem(
                "template",
                "This template is not on the pre-approved list: pick one from the list, "
                "or raise a normal change instead.",
            )
        )

    problems.extend(_window_problems(req, policy, now, (*policy.blackouts, *blackouts)))
    return problems


def _window_problems(
    req: ChangeRequest, policy: Policy, now: datetime, blackouts: Sequence[Blackout]
) -> list[Problem]:
    start, end = req.window_start, req.window_end
    if start is None or end is None:
        return []
    start, end = as_utc(start), as_utc(end)
    problems: list[Problem] = []
    if end <= start:
        problems.append(
            Problem("window_end", f"The window must end after it starts ({when(start)}): move the end later.")
        )
        return problems
    hours = (end - start).total_seconds() / 3600
    if hours > policy.max_window_hours:
        problems.append(
            Problem(
                "window_end",
                f"The window lasts {hours:.0f} hours; the longest allowed is {policy.max_window_hours:g}. "
                "Split the work into several changes or shorten the window.",
            )
        )
    if start < now:
        problems.append(Problem("window_start", "The window starts in the past: choose a future start."))
    elif req.change_type != "emergency":
        days = policy.notice_days(req.change_type)
        earliest = add_working_days(now, days, policy.holidays)
        if days and start < earliest:
            problems.append(
                Problem(
                    "window_start",
                    f"A {req.change_type} change needs at least {days} working days' notice, so the earliest "
                    f"start is {when(earliest)}. Move the window, or raise an emergency change with a "
                    "justification if it cannot wait.",
                )
            )
    mode = policy.blackout_emergency if req.change_type == "emergency" else policy.blackout
    for b in blackouts:
        if b.applies_to(req) and start < as_utc(b.end) and as_utc(b.start) < end:
            scope = f" for {b.scope}" if b.scope else ""
            span = f"{when(b.start)} to {when(b.end)}"
            if mode == "refuse":
                problems.append(
                    Problem(
                        "window_start",
                        f"The window falls in the blackout '{b.name}'{scope} ({span}); "
                        "policy refuses changes then. Choose a window outside it.",
                    )
                )
            else:
                problems.append(
                    Problem(
                        "window_start",
                        f"The window falls in the blackout '{b.name}'{scope} ({span}). You can still "
                        "submit, but the CAB will expect a reason why it cannot wait.",
                        severity="warning",
                    )
                )
    return problems


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]


def by_field(problems: Iterable[Problem]) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {}
    for p in problems:
        out.setdefault(p.field, []).append(p)
    return out


# --- the policy file ------------------------------------------------------------------------------------


def _parse_time(value: object, key: str) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except ValueError as exc:
        raise PolicyError(f"{key}: {value!r} is not an ISO 8601 date or time") from exc


def policy_from_mapping(form: Mapping[str, object]) -> Policy:
    """A :class:`Policy` from the ``[form]`` table of a policy file (unknown keys are an error)."""
    known = {
        "notice_working_days",
        "blackout",
        "blackout_emergency",
        "holidays",
        "max_window_hours",
        "standard_templates",
        "max_lengths",
        "blackouts",
    }
    unknown = set(form) - known
    if unknown:
        raise PolicyError(
            f"[form]: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    base = Policy()
    kwargs: dict[str, object] = {}
    if "notice_working_days" in form:
        notice = dict(base.notice_working_days)
        for k, v in dict(form["notice_working_days"]).items():  # type: ignore[call-overload]
            if k not in CHANGE_TYPES or not isinstance(v, int) or v < 0:
                raise PolicyError(f"notice_working_days.{k}: expected a change type and a whole number >= 0")
            notice[k] = v
        kwargs["notice_working_days"] = notice
    for key in ("blackout", "blackout_emergency"):
        if key in form:
            if form[key] not in ("warn", "refuse"):
                raise PolicyError(f"{key}: expected 'warn' or 'refuse', got {form[key]!r}")
            kwargs[key] = form[key]
    if "holidays" in form:
        kwargs["holidays"] = frozenset(
            _parse_time(h, "holidays").date()
            for h in form["holidays"]  # type: ignore[attr-defined]
        )
    if "max_window_hours" in form:
        kwargs["max_window_hours"] = float(form["max_window_hours"])  # type: ignore[arg-type]
    if "standard_templates" in form:
        templates = tuple(clean_line(t) for t in form["standard_templates"] if clean_line(t))  # type: ignore[attr-defined]
        kwargs["standard_templates"] = templates
    if "max_lengths" in form:
        lengths = dict(base.max_lengths)
        lengths.update({str(k): int(v) for k, v in dict(form["max_lengths"]).items()})  # type: ignore[call-overload]
        kwargs["max_lengths"] = lengths
    if "blackouts" in form:
        blackouts = []
        for i, b in enumerate(form["blackouts"]):  # type: ignore[arg-type,var-annotated]
            key = f"blackouts[{i}]"
            if "start" not in b or "end" not in b:
                raise PolicyError(f"{key}: needs start and end")
            blackouts.append(
                Blackout(
                    name=clean_line(b.get("name") or "Blackout"),
                    start=_parse_time(b["start"], key + ".start"),
                    end=_parse_time(b["end"], key + ".end"),
                    scope=clean_line(b.get("scope") or ""),
                )
            )
        kwargs["blackouts"] = tuple(blackouts)
    return replace(base, **kwargs)  # type: ignore[arg-type]


def policy_path(data_root: Path | None = None) -> Path | None:
    """The policy file in use: ``$CHANGEBOARD_POLICY``, else ``<data dir>/changeboard.toml`` if present."""
    explicit = os.environ.get(ENV_POLICY)
    if explicit:
        return Path(explicit).expanduser()
    if data_root is not None and (data_root / POLICY_FILE).exists():
        return data_root / POLICY_FILE
    return None


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path`` (its ``[form]`` table), or the defaults when there is no file."""
    if path is None:
        return Policy()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"the policy file {path} does not exist (check ${ENV_POLICY})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: {exc}") from exc
    return policy_from_mapping(doc.get("form", {}))
