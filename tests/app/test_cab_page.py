"""AppTest: the CAB page renders the agenda with its evidence from the cab_pack feed, and the downloads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

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
    numbers = {n for v in shown for n in v["change"].tolist()}
    assert set(pack.agenda["number"]) == numbers
    evidence = next(v for v in shown if "CI evidence" in v.columns)
    assert evidence["why"].str.len().gt(0).all()
    # the four pack formats, and each non-empty section's CSV
    sections = sum(1 for name in cab.SECTIONS if pack.section(name).height)
    assert len(at.get("download_button")) == 4 + sections


def test_cab_page_with_nothing_to_review(app_env: DataDir) -> None:
    at = run_cab({"cab_date": date(2020, 1, 6)})
    texts = [m.value for m in at.markdown] + [i.value for i in at.info]
    assert any("Nothing to review" in t for t in texts), texts
    assert len(at.get("download_button")) == 4


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
    assert [list(v["change"]) for v in shown] == [r["number"].to_list() for r in listed]
    notes = [c.value for c in at.caption]
    for name in long:
        total = pack.section(name).height
        assert f"The 2 highest-risk of {total:,} changes" in " ".join(notes)
