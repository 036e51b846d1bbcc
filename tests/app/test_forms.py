"""Every validation rule of the change-request form, in pure code (app/forms.py): no Streamlit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from changeboard.app.forms import (
    Blackout,
    ChangeRequest,
    Policy,
    PolicyError,
    add_working_days,
    clean_line,
    clean_text,
    errors,
    load_policy,
    policy_from_mapping,
    policy_path,
    required_fields,
    validate,
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # a Thursday
POLICY = Policy()


def good(**overrides: object) -> ChangeRequest:
    """A valid normal change, 10 days out; overrides replace fields."""
    start = NOW + timedelta(days=10)
    values: dict[str, object] = {
        "title": "Patch lnx-pay-030 kernel",
        "change_type": "normal",
        "requester": "Alice Martin",
        "description": "Apply the November kernel patch.",
        "justification": "Security advisory.",
        "service": "Payments",
        "cis": ["lnx-pay-030"],
        "window_start": start,
        "window_end": start + timedelta(hours=2),
        "impact": "2 - Medium",
        "risk": "Low",
        "implementation_plan": "yum update kernel; reboot",
        "test_plan": "smoke tests",
        "backout_plan": "boot previous kernel",
    }
    values.update(overrides)
    return ChangeRequest.create(**values)


def fields_of(problems: list) -> list[tuple[str, str]]:
    return [(p.field, p.severity) for p in problems]


def test_a_complete_normal_change_has_no_problem() -> None:
    assert validate(good(), POLICY, NOW) == []


@pytest.mark.parametrize("change_type", ["standard", "normal", "emergency"])
def test_every_type_requires_title_requester_and_window(change_type: str) -> None:
    req = ChangeRequest.create(change_type=change_type)
    found = {p.field for p in errors(validate(req, POLICY, NOW))}
    assert {"title", "requester", "window_start", "window_end"} <= found


def test_normal_requires_plans_assessment_and_justification() -> None:
    req = good(
        description="",
        justification="",
        impact="",
        risk="",
        implementation_plan="",
        test_plan="",
        backout_plan="",
    )
    found = {p.field for p in errors(validate(req, POLICY, NOW))}
    assert found == {
        "description",
        "justification",
        "impact",
        "risk",
        "implementation_plan",
        "test_plan",
        "backout_plan",
    }
    assert set(required_fields("normal")) >= found


def test_standard_requires_a_template_and_nothing_else() -> None:
    start = NOW + timedelta(days=2)
    req = ChangeRequest.create(
        title="Renew the TLS certificate",
        change_type="standard",
        requester="Bob",
        window_start=start,
        window_end=start + timedelta(hours=1),
    )
    problems = validate(req, POLICY, NOW)
    assert fields_of(problems) == [("template", "error")]
    assert "pre-approved" in problems[0].message
    ok = ChangeRequest.create(**{**req.__dict__, "template": POLICY.standard_templates[0]})
    assert validate(ok, POLICY, NOW) == []


def test_standard_template_must_be_on_the_pre_approved_list() -> None:
    req = good(change_type="standard", template="Something I made up")
    problems = errors(validate(req, POLICY, NOW))
    assert fields_of(problems) == [("template", "error")]
    assert "not on the pre-approved list" in problems[0].message


def test_a_template_is_ignored_for_other_types() -> None:
    assert validate(good(template="anything"), POLICY, NOW) == []


def test_emergency_requires_justification_instead_of_notice() -> None:
    start = NOW + timedelta(hours=2)  # no notice at all
    req = good(
        change_type="emergency",
        justification="",
        test_plan="",
        window_start=start,
        window_end=start + timedelta(hours=1),
    )
    problems = errors(validate(req, POLICY, NOW))
    assert fields_of(problems) == [("justification", "error")]
    assert "instead" in problems[0].message
    assert "cannot wait" in problems[0].message
    with_reason = good(
        change_type="emergency",
        justification="Payments are failing",
        test_plan="",
        window_start=start,
        window_end=start + timedelta(hours=1),
    )
    assert validate(with_reason, POLICY, NOW) == []


def test_normal_change_needs_working_days_notice() -> None:
    start = NOW + timedelta(days=2)  # Saturday: only 1 working day (Friday) after Thursday
    problems = validate(good(window_start=start, window_end=start + timedelta(hours=1)), POLICY, NOW)
    assert fields_of(problems) == [("window_start", "error")]
    msg = problems[0].message
    assert "3 working days' notice" in msg
    assert "Tue 1 Dec 2026 10:00 UTC" in msg


def test_notice_is_exactly_the_configured_working_days() -> None:
    earliest = add_working_days(NOW, 3)
    assert earliest == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # Thu -> Fri, Mon, Tue
    at_limit = good(window_start=earliest, window_end=earliest + timedelta(hours=1))
    assert validate(at_limit, POLICY, NOW) == []
    early = good(window_start=earliest - timedelta(minutes=1), window_end=earliest + timedelta(hours=1))
    assert fields_of(validate(early, POLICY, NOW)) == [("window_start", "error")]


def test_notice_days_are_configurable_per_type_and_skip_holidays() -> None:
    policy = policy_from_mapping({"notice_working_days": {"normal": 1}, "holidays": ["2026-11-27"]})
    assert policy.notice_days("normal") == 1
    # Thursday + 1 working day, Friday being a holiday -> Monday
    assert add_working_days(NOW, 1, policy.holidays) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    start = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert validate(good(window_start=start, window_end=start + timedelta(hours=1)), policy, NOW) == []


def test_a_weekend_submission_counts_from_monday() -> None:
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    assert add_working_days(saturday, 1) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def test_window_end_must_be_after_start() -> None:
    start = NOW + timedelta(days=10)
    for end in (start, start - timedelta(hours=1)):
        problems = validate(good(window_start=start, window_end=end), POLICY, NOW)
        assert fields_of(problems) == [("window_end", "error")]
        assert "must end after it starts" in problems[0].message


def test_window_must_not_start_in_the_past() -> None:
    start = NOW - timedelta(hours=1)
    problems = validate(good(window_start=start, window_end=NOW + timedelta(hours=1)), POLICY, NOW)
    assert fields_of(problems) == [("window_start", "error")]
    assert "past" in problems[0].message


def test_window_length_is_bounded() -> None:
    start = NOW + timedelta(days=10)
    problems = validate(good(window_start=start, window_end=start + timedelta(hours=100)), POLICY, NOW)
    assert fields_of(problems) == [("window_end", "error")]
    assert "longest allowed is 72" in problems[0].message


def _freeze(scope: str = "") -> Blackout:
    start = NOW + timedelta(days=9)
    return Blackout("Year-end freeze", start, start + timedelta(days=3), scope)


def test_blackout_warns_by_default_and_does_not_block() -> None:
    problems = validate(good(), POLICY, NOW, blackouts=[_freeze()])
    assert fields_of(problems) == [("window_start", "warning")]
    assert "Year-end freeze" in problems[0].message
    assert errors(problems) == []


def test_blackout_refused_when_policy_says_so() -> None:
    policy = policy_from_mapping({"blackout": "refuse"})
    problems = validate(good(), policy, NOW, blackouts=[_freeze()])
    assert fields_of(problems) == [("window_start", "error")]
    assert "refuses" in problems[0].message


def test_emergency_blackout_mode_is_separate() -> None:
    policy = policy_from_mapping({"blackout": "refuse", "blackout_emergency": "warn"})
    req = good(change_type="emergency", test_plan="")
    assert fields_of(validate(req, policy, NOW, blackouts=[_freeze()])) == [("window_start", "warning")]


def test_scoped_blackout_applies_only_to_its_ci_or_service() -> None:
    assert validate(good(), POLICY, NOW, blackouts=[_freeze("Trading")]) == []
    assert fields_of(validate(good(), POLICY, NOW, blackouts=[_freeze("payments")])) == [
        ("window_start", "warning")
    ]
    assert fields_of(validate(good(), POLICY, NOW, blackouts=[_freeze("LNX-PAY-030")])) == [
        ("window_start", "warning")
    ]


def test_blackout_outside_the_window_is_silent() -> None:
    far = Blackout("later", NOW + timedelta(days=30), NOW + timedelta(days=31))
    assert validate(good(), POLICY, NOW, blackouts=[far]) == []


def test_policy_file_blackouts_are_used(tmp_path: Path) -> None:
    f = tmp_path / "changeboard.toml"
    f.write_text(
        '[form]\nblackout = "refuse"\nstandard_templates = ["Only this one"]\n'
        '[[form.blackouts]]\nname = "Freeze"\nstart = 2026-12-05T00:00:00Z\nend = "2026-12-08T00:00:00Z"\n',
        encoding="utf-8",
    )
    policy = load_policy(f)
    assert policy.standard_templates == ("Only this one",)
    assert fields_of(validate(good(), policy, NOW)) == [("window_start", "error")]


def test_policy_file_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHANGEBOARD_POLICY", raising=False)
    assert policy_path(tmp_path) is None
    assert load_policy(None) == Policy()
    (tmp_path / "changeboard.toml").write_text("[form]\n", encoding="utf-8")
    assert policy_path(tmp_path) == tmp_path / "changeboard.toml"
    monkeypatch.setenv("CHANGEBOARD_POLICY", str(tmp_path / "other.toml"))
    assert policy_path(tmp_path) == tmp_path / "other.toml"
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(policy_path(tmp_path))


@pytest.mark.parametrize(
    "form",
    [
        {"blackout": "sometimes"},
        {"notice_working_days": {"normal": -1}},
        {"notice_working_days": {"weird": 1}},
        {"nonsense": 1},
        {"blackouts": [{"name": "x", "start": "not a date", "end": "2026-12-01"}]},
        {"blackouts": [{"name": "x"}]},
    ],
)
def test_bad_policy_settings_are_refused_with_the_key(form: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        policy_from_mapping(form)


def test_lengths_are_bounded() -> None:
    policy = policy_from_mapping({"max_lengths": {"title": 20, "description": 10}})
    problems = validate(good(title="x" * 21, description="y" * 11), policy, NOW)
    assert sorted(fields_of(problems)) == [("description", "error"), ("title", "error")]
    assert "21 characters long; the limit is 20" in next(p.message for p in problems if p.field == "title")


def test_title_too_short() -> None:
    assert fields_of(validate(good(title="fix"), POLICY, NOW)) == [("title", "error")]


def test_too_many_cis() -> None:
    problems = validate(good(cis=[f"ci-{i}" for i in range(21)]), POLICY, NOW)
    assert fields_of(problems) == [("cis", "error")]


def test_impact_risk_and_type_must_be_known_choices() -> None:
    problems = validate(good(impact="9 - Cosmic", risk="Spicy"), POLICY, NOW)
    assert sorted(fields_of(problems)) == [("impact", "error"), ("risk", "error")]
    assert fields_of(validate(good(change_type="urgent"), POLICY, NOW))[0] == ("change_type", "error")


def test_control_and_bidi_characters_are_stripped() -> None:
    assert clean_line("a\x00b\x1b[31mc\u202ed\nnext\tline") == "a b [31mc d next line"
    assert clean_text("line one\r\nline two\x07\u2066\n\n") == "line one\nline two"
    req = good(title="  Patch\x00 the\u202e  kernel ", cis=["lnx-1", "lnx-1", " ", "lnx-2\x00"])
    assert req.title == "Patch the kernel"
    assert req.cis == ("lnx-1", "lnx-2")


def test_html_is_kept_as_text_not_removed() -> None:
    # nothing is executed or rendered: the text is stored as typed (the page renders it as text)
    req = good(title="<script>alert(1)</script> patch")
    assert req.title == "<script>alert(1)</script> patch"
    assert validate(req, POLICY, NOW) == []


def test_store_fields_are_iso_utc() -> None:
    start = datetime(2026, 12, 10, 9, 0)  # naive = UTC
    fields = good(window_start=start, window_end=start + timedelta(hours=1)).store_fields()
    assert fields["window_start"] == "2026-12-10T09:00:00+00:00"
    assert fields["cis"] == ["lnx-pay-030"]


def test_holidays_are_dates() -> None:
    assert policy_from_mapping({"holidays": [date(2026, 12, 25)]}).holidays == frozenset({date(2026, 12, 25)})
