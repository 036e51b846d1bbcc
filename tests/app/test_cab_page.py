"""AppTest: the CAB page renders the agenda with its evidence from the cab_pack feed, and the downloads."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
from streamlit.testing.v1 import AppTest

from changeboard.paths import DataDir
from changeboard.reports import cab
from changeboard.warehouse.versions import connect_published

ENTRY = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"


def run_cab(state: dict[str, object] | None = None) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=120)
    at.run()
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.switch_page("views/cab.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_cab_page_shows_the_agenda_and_downloads(app_env: DataDir) -> None:
    con, pub = connect_published(app_env)
    try:
        pack = cab.cab_pack(con, None, warehouse_version=pub.version)
    finally:
        con.close()
    at = run_cab()
    assert [t.value for t in at.title][:1] == ["CAB meeting pack"]
    headers = [h.value for h in at.subheader]
    for _name, (order, label, _blurb) in cab.SECTIONS.items():
        assert any(h.startswith(f"{order}. {label}") for h in headers), headers
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Awaiting a CAB decision"] == str(pack.section("awaiting_decision").height)
    assert tiles["Collisions"] == str(pack.collisions.height)
    shown = [df.value for df in at.dataframe if "CI evidence" in df.value.columns]
    numbers = {n for v in shown for n in v["Change"].tolist()}
    assert set(pack.agenda["number"]) == numbers
    evidence = next(v for v in shown if "CI evidence" in v.columns)
    assert evidence["Why"].str.len().gt(0).all()
    # the four pack formats, and each non-empty section's CSV
    sections = sum(1 for name in cab.SECTIONS if pack.section(name).height)
    # and the minutes (4) and the decisions' exports (3)
    assert len(at.get("download_button")) == 4 + sections + 7


def test_cab_page_with_nothing_to_review(app_env: DataDir) -> None:
    at = run_cab({"cab_date": date(2020, 1, 6)})
    texts = [m.value for m in at.markdown] + [i.value for i in at.info]
    assert any("Nothing to review" in t for t in texts), texts
    assert len(at.get("download_button")) == 4 + 7


def test_cab_page_lists_the_highest_risk_as_the_printed_pack(app_env: DataDir, monkeypatch) -> None:
    """A section longer than the pack's limit shows the pack's listed rows and says how many there are."""
    monkeypatch.setattr(cab, "DEFAULT_SECTION_LIMIT", 2)
    con, pub = connect_published(app_env)
    try:
        pack = cab.cab_pack(con, None, warehouse_version=pub.version)
    finally:
        con.close()
    long = [name for name in cab.SECTIONS if pack.section(name).height > 2]
    assert long, "the sample needs a section of more than two changes"
    at = run_cab()
    shown = [df.value for df in at.dataframe if "CI evidence" in df.value.columns]
    listed = [cab.listed_rows(pack.section(name), 2) for name in cab.SECTIONS if pack.section(name).height]
    assert [list(v["Change"]) for v in shown] == [r["number"].to_list() for r in listed]
    notes = [c.value for c in at.caption]
    for name in long:
        total = pack.section(name).height
        assert f"The 2 highest-risk of {total:,} changes" in " ".join(notes)


def test_cab_page_decides_itsm_changes_and_form_requests(built_copy: DataDir, monkeypatch) -> None:
    """Every item awaiting a decision has a card with the pack row's evidence; decisions of each kind are
    stored with who and when; approving inside a blackout is refused without the confirmation."""
    from changeboard.app import cab_decisions as cab_decisions_app

    from changeboard.paths import ENV_DATA_DIR
    from changeboard.store import cab_decisions as cd
    from changeboard.store.requests import connect_ops, submit

    data = built_copy
    monkeypatch.setenv(ENV_DATA_DIR, str(data.root))
    con = connect_ops(data.ops_db)
    ref = submit(
        con, {"created_by": "alice", "title": "Late form request", "change_type": "normal", "cis": []}, "t1"
    )
    con.close()
    wh, pub = connect_published(data)
    try:
        pack = cab.cab_pack(wh, None, warehouse_version=pub.version)
    finally:
        wh.close()
    awaiting = pack.section("awaiting_decision")
    at = run_cab({"cab_page_name": "Ann Chair"})
    cards = [c for c in at.main if str(getattr(c, "key", "") or "").startswith("cab_page_item_")]
    shown = {str(c.key).removeprefix("cab_page_item_") for c in cards}
    assert shown >= set(awaiting["number"].head(cab_decisions_app.MAX_ITEMS)) | {ref}
    from changeboard.reports import cab_meeting

    risky = cab_meeting.items_to_decide(pack).row(0, named=True)
    assert risky["risk_score"] == awaiting["risk_score"].max()
    first = cards[0]
    # risk and its reasons first, as the pack's row
    assert f"**Risk {risky['risk_level']} ({risky['risk_score']})**" in [m.value for m in first.markdown]
    itsm = awaiting.filter(pl.col("source_system") != "form")["number"].to_list()[:3]
    blackout = awaiting.filter(pl.col("in_blackout") & (pl.col("source_system") != "form"))
    plans = [
        (itsm[0], "approved_with_conditions", "only after 22:00"),
        (itsm[1], "rejected", "no backout plan"),
        (itsm[2], "deferred", ""),
        (ref, "approved", ""),
    ]
    for number, decision, note in plans:
        at.radio(key=f"cab_page_{number}_decision").set_value(decision)
        at.text_area(key=f"cab_page_{number}_note").input(note)
        at.button(key=f"FormSubmitter:cab_page_{number}_form-Record decision").click()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(number in s.value for s in at.success), [e.value for e in at.error]
    con = connect_ops(data.ops_db)
    try:
        got = {r["number"]: r for r in cd.list_decisions(con)}
        assert {n: got[n]["decision"] for n, *_ in plans} == {n: d for n, d, _ in plans}
        assert got[itsm[0]]["conditions"] == "only after 22:00"
        assert got[itsm[1]]["reason"] == "no backout plan"
        assert got[itsm[2]]["deferred_to"] == str(pack.meeting_at.date() + timedelta(days=7))
        assert {r["decided_by"] for r in got.values()} == {"Ann Chair"}
        assert got[ref]["source_system"] == "form"
    finally:
        con.close()
    if blackout.height:
        number = blackout["number"][0]
        at.radio(key=f"cab_page_{number}_decision").set_value("approved")
        at.button(key=f"FormSubmitter:cab_page_{number}_form-Record decision").click()
        at.run()
        assert any("explicit confirmation" in e.value for e in at.error), [e.value for e in at.error]
        at.checkbox(key=f"cab_page_{number}_blackout_ok").check()
        at.button(key=f"FormSubmitter:cab_page_{number}_form-Record decision").click()
        at.run()
        assert any(number in s.value for s in at.success)
