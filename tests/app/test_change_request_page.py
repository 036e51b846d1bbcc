"""AppTest of the Requests pages: the change-request form, My requests and CAB decisions.

Each test gets its own data directory whose published warehouse is the session's sample (the
``versions`` folder is linked, read-only) and whose form store starts empty, so nothing here changes the
shared fixture.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from changeboard.app.forms import DEFAULT_TEMPLATES
from streamlit.testing.v1 import AppTest

from changeboard.paths import ENV_DATA_DIR, DataDir
from changeboard.store import requests as ops

APP = Path(__file__).resolve().parents[2] / "app"
ENTRY = APP / "streamlit_app.py"
FORM = "views/change_request.py"
MINE = "views/my_requests.py"
CAB = "views/cab_decisions.py"
TIMEOUT = 60
XSS = "<script>alert('x')</script> <img src=x onerror=alert(1)> **bold** [link](http://evil.example)"


@pytest.fixture
def form_data(built_data: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataDir:
    data = DataDir(tmp_path / "data")
    data.root.mkdir()
    (data.root / "versions").symlink_to(built_data.versions, target_is_directory=True)
    shutil.copy(built_data.current_pointer, data.current_pointer)
    monkeypatch.setenv(ENV_DATA_DIR, str(data.root))
    monkeypatch.delenv("CHANGEBOARD_POLICY", raising=False)
    monkeypatch.delenv("CHANGEBOARD_CAB_MEMBERS", raising=False)
    return data


def stored(data: DataDir) -> list[dict[str, object]]:
    if not data.ops_db.exists():
        return []
    con = ops.connect_ops(data.ops_db)
    try:
        return ops.list_requests(con)
    finally:
        con.close()


def open_page(page: str, secrets: dict[str, object] | None = None) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    for k, v in (secrets or {}).items():
        at.secrets[k] = v
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def window(days: int = 10) -> tuple[datetime, datetime]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=2)


def fill(
    at: AppTest, *, change_type: str = "normal", title: str = "Patch the payments database", **over: object
) -> None:
    """Fill every field a normal change needs (``over`` replaces text fields; None leaves one empty)."""
    at.radio(key="cr_type").set_value(change_type)
    at.run()
    at.selectbox(key="cr_service").set_value("Payments")
    at.run()
    ci = at.multiselect(key="cr_cis").options[0].split(" · ")[0]
    at.multiselect(key="cr_cis").set_value([ci])
    start, end = over.get("window") or window()  # type: ignore[misc]
    at.date_input(key="cr_start_date").set_value(start.date())
    at.time_input(key="cr_start_time").set_value(time(start.hour, start.minute))
    at.date_input(key="cr_end_date").set_value(end.date())
    at.time_input(key="cr_end_time").set_value(time(end.hour, end.minute))
    at.run()
    texts = {
        "requester": "Alice Martin",
        "title": title,
        "description": "Apply the vendor's patch.",
        "justification": "Fixes a known defect.",
        "implementation_plan": "1. stop 2. patch 3. start",
        "test_plan": "smoke tests",
        "backout_plan": "restore the snapshot",
    }
    texts.update({k: v for k, v in over.items() if k in texts})  # type: ignore[misc]
    for name, value in texts.items():
        if value is None:
            continue
        widget = (
            at.text_input(key=f"cr_{name}")
            if name in ("requester", "title")
            else at.text_area(key=f"cr_{name}")
        )
        widget.input(str(value))
    if over.get("impact", "") is not None:
        at.selectbox(key="cr_impact").set_value("2 - Medium")
    if over.get("risk", "") is not None:
        at.selectbox(key="cr_risk").set_value("Low")


def submit(at: AppTest) -> AppTest:
    at.button(key="cr_submit").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def errors_text(at: AppTest) -> list[str]:
    """Error messages as a person reads them (the page escapes Markdown in messages)."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]


def table(at: AppTest, column: str):  # type: ignore[no-untyped-def]
    """The first st.dataframe on the page that has ``column``."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a {column!r} column")


def test_fill_and_submit_shows_the_reference_and_stores_one_row(form_data: DataDir) -> None:
    at = open_page(FORM)
    assert [t.value for t in at.title] == ["Raise a change request"]
    assert any("identities are not verified" in w.value for w in at.warning)
    fill(at)
    submit(at)
    rows = stored(form_data)
    assert len(rows) == 1
    ref = rows[0]["reference"]
    assert errors_text(at) == []
    assert any(f"Request **{ref}** is stored" in s.value for s in at.success)
    assert rows[0]["created_by"] == "Alice Martin"
    assert rows[0]["identity_verified"] is False
    assert rows[0]["service"] == "Payments"
    assert rows[0]["impact"] == "2 - Medium"
    assert str(rows[0]["window_start"]).endswith("09:00:00+00:00")
    # the key is in the URL so a refresh finds the request instead of making a new one
    assert at.query_params["form"] == rows[0]["idempotency_key"]


def test_a_retry_after_a_lost_confirmation_stores_one_request(
    form_data: DataDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write commits, then the confirmation is lost (here: an error right after the commit); the
    requester still sees the filled form and submits again: the same reference, one request."""
    real_submit = ops.submit

    def commit_then_fail(con, fields, key):  # type: ignore[no-untyped-def]
        real_submit(con, fields, key)
        raise sqlite3.OperationalError("disk I/O error (injected after the commit)")

    at = open_page(FORM)
    fill(at)
    monkeypatch.setattr(ops, "submit", commit_then_fail)
    submit(at)
    assert any("could not be stored, and nothing was lost" in e for e in errors_text(at))
    assert at.text_input(key="cr_title").value == "Patch the payments database"  # input kept
    assert len(stored(form_data)) == 1
    monkeypatch.setattr(ops, "submit", real_submit)
    submit(at)
    rows = stored(form_data)
    assert len(rows) == 1
    assert any(f"Request **{rows[0]['reference']}** is stored" in x.value for x in at.success)


def test_refresh_keeps_one_request_and_submit_another_starts_a_new_one(form_data: DataDir) -> None:
    at = open_page(FORM)
    fill(at)
    submit(at)
    ref = stored(form_data)[0]["reference"]
    # (a real double click in a browser is in test_form_browser.py: AppTest cannot send a stale event)
    assert any(f"Request **{ref}** is stored" in x.value for x in at.success)
    assert len(stored(form_data)) == 1
    # a refresh (a new session with the same URL) shows the stored request, and makes nothing new
    again = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    again.query_params["form"] = stored(form_data)[0]["idempotency_key"]
    again.run()
    again.switch_page(FORM)
    again.run()
    assert any(f"Request **{ref}** is stored" in s.value for s in again.success)
    assert len(stored(form_data)) == 1
    # "Submit another request" starts a new form instance with a new key
    at.button(key="cr_another").click()
    at.run()
    assert at.query_params["form"] != stored(form_data)[0]["idempotency_key"]
    fill(at, title="A second, different change")
    submit(at)
    assert len(stored(form_data)) == 2


def test_invalid_input_shows_errors_next_to_fields_and_stores_nothing(form_data: DataDir) -> None:
    at = open_page(FORM)
    submit(at)  # everything empty
    errs = errors_text(at)
    assert "Title is required. A normal change needs it." in errs
    assert "Say who is requesting the change." in errs
    assert "Choose the date and time (UTC) the work starts." in errs
    assert "Backout plan is required. A normal change needs it." in errs
    assert any("shown next to the fields. Nothing has been stored yet." in e for e in errs)
    assert stored(form_data) == []
    # window end before start, with too little notice
    fill(at)
    start, _ = window(days=1)
    at.date_input(key="cr_start_date").set_value(start.date())
    at.date_input(key="cr_end_date").set_value((start - timedelta(days=1)).date())
    at.run()
    submit(at)
    errs = errors_text(at)
    assert any("must end after it starts" in e for e in errs)
    assert stored(form_data) == []
    # the message sits under the window widgets: the error follows the end-time input in the page order
    labels = [getattr(el, "label", None) or getattr(el, "value", None) for el in at.main]
    assert labels.index("Window end time (UTC)") < next(
        i for i, v in enumerate(labels) if "must end after" in str(v)
    )


def test_standard_change_needs_a_template(form_data: DataDir) -> None:
    at = open_page(FORM)
    fill(at, change_type="standard")
    submit(at)
    assert (
        "A standard change must use one of the pre-approved templates: pick one from the list."
        in errors_text(at)
    )
    assert stored(form_data) == []
    at.selectbox(key="cr_template").set_value(DEFAULT_TEMPLATES[0])
    at.run()
    submit(at)
    rows = stored(form_data)
    assert len(rows) == 1
    assert rows[0]["template"] == DEFAULT_TEMPLATES[0]
    assert rows[0]["change_type"] == "standard"


def test_emergency_change_needs_a_justification(form_data: DataDir) -> None:
    at = open_page(FORM)
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    fill(at, change_type="emergency", justification=None, window=(start, start + timedelta(hours=2)))
    submit(at)
    assert any("needs a justification instead" in e for e in errors_text(at))
    assert stored(form_data) == []
    at.text_area(key="cr_justification").input("Card payments fail since 10:00")
    submit(at)
    assert [r["change_type"] for r in stored(form_data)] == ["emergency"], errors_text(at)


def test_html_in_the_title_is_stored_and_shown_as_text(form_data: DataDir) -> None:
    at = open_page(FORM)
    fill(at, title=XSS)
    submit(at)
    rows = stored(form_data)
    assert rows[0]["title"] == XSS
    summary = table(at, "Field")
    assert XSS in summary["Value"].to_list()
    # never passed to a Markdown / HTML element
    for el in (*at.markdown, *at.success, *at.caption, *at.error, *at.warning, *at.info):
        assert "<script>" not in str(el.value)
        assert "evil.example" not in str(el.value)
    assert not at.get("html")
    # the CAB sees it as plain text too
    cab = open_page(CAB)
    assert XSS in [t.value for t in cab.text]
    for el in (*cab.markdown, *cab.caption):
        assert "<script>" not in str(el.value)


def test_my_requests_lists_the_requesters_requests(form_data: DataDir) -> None:
    con = ops.connect_ops(form_data.ops_db)
    try:
        ops.submit(con, {"created_by": "Alice Martin", "title": "Mine", "change_type": "normal"}, "a")
        ops.submit(con, {"created_by": "Bob", "title": "Not mine", "change_type": "normal"}, "b")
    finally:
        con.close()
    at = open_page(MINE)
    at.text_input(key="mr_name").input("alice martin")
    at.run()
    mine = table(at, "reference")
    assert mine["title"].to_list() == ["Mine"]
    assert mine["status"].to_list() == ["submitted"]


def test_cab_member_approves_and_rejects_with_a_comment(form_data: DataDir) -> None:
    con = ops.connect_ops(form_data.ops_db)
    try:
        a = ops.submit(con, {"created_by": "Alice", "title": "First request", "change_type": "normal"}, "a")
        b = ops.submit(con, {"created_by": "Bob", "title": "Second request", "change_type": "normal"}, "b")
    finally:
        con.close()
    at = open_page(CAB)
    assert any("identities are not verified" in w.value for w in at.warning)
    at.text_input(key="cabd_name").input("Carol (CAB)")
    at.run()
    # both requests were submitted after the last build: they are on the meeting's agenda all the same
    at.radio(key=f"cabd_{a}_decision").set_value("approved_with_conditions")
    at.text_area(key=f"cabd_{a}_note").input("Approved for the Tuesday window")
    at.button(key=f"FormSubmitter:cabd_{a}_form-Record decision").click()
    at.run()
    shown = [re.sub(r"\\(.)", r"\1", x.value) for x in at.success]  # as a person reads them
    assert any(
        f"{a} approved with conditions (Approved for the Tuesday window) by Carol (CAB)" in x for x in shown
    )
    # a rejection needs a reason
    at.radio(key=f"cabd_{b}_decision").set_value("rejected")
    at.button(key=f"FormSubmitter:cabd_{b}_form-Record decision").click()
    at.run()
    assert any("a rejection needs a reason" in e for e in errors_text(at)), errors_text(at)
    at.radio(key=f"cabd_{b}_decision").set_value("rejected")
    at.text_area(key=f"cabd_{b}_note").input("Collides with the payments freeze")
    at.button(key=f"FormSubmitter:cabd_{b}_form-Record decision").click()
    at.run()
    con = ops.connect_ops(form_data.ops_db)
    try:
        da, db_ = ops.decisions(con, a), ops.decisions(con, b)
        assert ops.get_request(con, a)["status"] == "approved"
        assert ops.get_request(con, b)["status"] == "rejected"
    finally:
        con.close()
    assert [(d["decision"], d["decided_by"], d["comment"]) for d in da] == [
        ("approved", "Carol (CAB)", "Conditions: Approved for the Tuesday window")
    ]
    assert [(d["decision"], d["comment"]) for d in db_] == [("rejected", "Collides with the payments freeze")]
    assert datetime.fromisoformat(str(da[0]["decided_at"])) <= datetime.now(UTC)
    decided = table(at, "decision")
    assert sorted(decided["decision"].to_list()) == ["Approved with conditions", "Rejected"]


AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret",
    "client_id": "changeboard",
    "client_secret": "not-a-secret",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
}


def test_with_sign_in_configured_the_form_requires_login(form_data: DataDir) -> None:
    at = open_page(FORM, secrets={"auth": AUTH, "changeboard": {"cab_members": ["cab@example.com"]}})
    assert [b.label for b in at.button] == ["Sign in"]
    assert any("Sign in to raise a change request." in i.value for i in at.info)
    assert not [w for w in at.warning if "not verified" in w.value]
    with pytest.raises(KeyError):
        at.button(key="cr_submit")
    cab = open_page(CAB, secrets={"auth": AUTH})
    assert "Sign in" in [b.label for b in cab.button]
    assert not cab.text_input
