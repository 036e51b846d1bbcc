"""Hostile change titles (script tags, formulas, SQL) from an export, through dbt, to what is served.

One small generated sample plus a ``change_request_hostile.csv`` that re-titles every ServiceNow change
with a hostile string are ingested in one run and built (as of 2026-11-26). Then: the app shows a
``<script>`` title as text (never through ``unsafe_allow_html``), the CAB pack escapes it in HTML and
Markdown, and CSV downloads (the app's and the form-request export's) neutralise formulas.
"""

from __future__ import annotations

import ast
import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from changeboard.paths import ENV_DATA_DIR, DataDir
from changeboard.warehouse.versions import connect_published
from tests.hostile.corpus import FORMULA_START, HOSTILE_TITLES, IMG, SCRIPT

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app"


@pytest.fixture(scope="module")
def warehouse(hostile_data: DataDir) -> Iterator[duckdb.DuckDBPyConnection]:
    con, _pub = connect_published(hostile_data)
    try:
        yield con
    finally:
        con.close()


def test_titles_reach_the_warehouse_verbatim(warehouse: duckdb.DuckDBPyConnection) -> None:
    titles = {r[0] for r in warehouse.execute("select distinct title from fct_changes").fetchall()}
    assert set(HOSTILE_TITLES) <= titles


# --- the app -------------------------------------------------------------------------------------------


@pytest.fixture
def served(hostile_data: DataDir) -> Iterator[DataDir]:
    old = os.environ.get(ENV_DATA_DIR)
    os.environ[ENV_DATA_DIR] = str(hostile_data.root)
    try:
        yield hostile_data
    finally:
        if old is None:
            os.environ.pop(ENV_DATA_DIR, None)
        else:
            os.environ[ENV_DATA_DIR] = old


def _run(page: str) -> AppTest:
    at = AppTest.from_file(str(APP / "streamlit_app.py"), default_timeout=90)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _cells(at: AppTest) -> list[str]:
    out: list[str] = []
    for df in at.dataframe:
        value = df.value
        for col in value.columns:
            out.extend(str(v) for v in value[col].tolist() if isinstance(v, str))
    return out


def _html_elements(at: AppTest) -> list[str]:
    """Bodies of every element that may render raw HTML (markdown with allow_html, st.html)."""
    bodies = []
    for kind in ("markdown", "caption", "latex", "title", "header", "subheader", "divider"):
        for el in at.get(kind):
            if getattr(el.proto, "allow_html", False):
                bodies.append(el.proto.body)
    bodies.extend(str(el.proto) for el in at.get("html"))
    return bodies


@pytest.mark.parametrize("page", ["views/cab.py", "views/changes.py"])
def test_app_shows_a_script_title_as_text(served: DataDir, page: str) -> None:
    at = _run(page)
    cells = _cells(at)
    shown = [t for t in HOSTILE_TITLES if t in cells]
    print(f"\n[escaping] {page}: {len(at.dataframe)} tables, hostile titles shown as text: {len(shown)}")
    if page == "views/cab.py":
        assert SCRIPT in cells, "the CAB page should list the <script> title (as text) in its agenda"
    for body in _html_elements(at):
        for hostile in (SCRIPT, IMG, "onerror="):
            assert hostile not in body, f"an HTML-rendering element carries {hostile!r}"


def _is_constant_text(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_constant_text(node.left) and _is_constant_text(node.right)
    return False


def test_unsafe_html_only_with_constant_strings() -> None:
    """Every ``unsafe_allow_html=True``, ``st.html`` and ``components.html`` in app/ takes a constant."""
    uses = []
    for path in sorted(APP.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            unsafe = any(
                k.arg == "unsafe_allow_html"
                and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in node.keywords
            )
            raw_html = name.endswith((".html", "components.v1.html")) and name.split(".")[0] in (
                "st",
                "components",
                "stc",
            )
            if unsafe or raw_html:
                args = [*node.args, *(k.value for k in node.keywords if k.arg in ("body", "html"))]
                uses.append(
                    (f"{path.relative_to(REPO)}:{node.lineno}", all(_is_constant_text(a) for a in args))
                )
    print(f"\n[escaping] raw-HTML uses in app/: {len(uses)} {uses}")
    assert all(ok for _where, ok in uses), [w for w, ok in uses if not ok]


# --- the CAB pack -----------------------------------------------------------------------------------------


def test_cab_pack_escapes_hostile_titles(warehouse: duckdb.DuckDBPyConnection) -> None:
    from changeboard.reports import cab

    pack = cab.cab_pack(warehouse, None)
    on_agenda = set(pack.agenda["title"].to_list())
    assert SCRIPT in on_agenda or IMG in on_agenda, "no hostile title on the agenda to check"
    html = cab.render_html(pack)
    assert "<script" not in html.lower()
    assert IMG not in html
    assert "<img src=x" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html or "&lt;img src=x onerror=alert(1)&gt;" in html
    md = cab.render_markdown(pack)
    assert "<script" not in md.lower()
    assert "<img" not in md.lower()  # the Markdown pack has no image of its own
    assert "&lt;script&gt;" in md or "&lt;img" in md
    print(
        f"\n[escaping] CAB pack: {pack.agenda.height} agenda items, HTML {len(html):,} B and Markdown escaped"
    )


# --- CSV downloads ------------------------------------------------------------------------------------------


def _parsed(payload: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(payload.decode("utf-8-sig"), newline="")))


def test_app_csv_download_neutralises_formulas(warehouse: duckdb.DuckDBPyConnection) -> None:
    from changeboard.app.components import safe_csv

    frame = warehouse.sql("select number, title, change_type, service_name from fct_changes").pl()
    rows = _parsed(safe_csv(frame))
    assert len(rows) == frame.height + 1
    cells = [c for r in rows[1:] for c in r]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    for t in HOSTILE_TITLES:
        expected = "'" + t if t.startswith(FORMULA_START) else t
        assert expected in cells, t
    # Lists, categoricals and a leading tab / CR are covered too.
    odd = pl.DataFrame(
        {
            "tags": [["=1+1", "ok"], ["@x"]],
            "cat": pl.Series(["=cmd", "fine"], dtype=pl.Categorical),
            "enum": pl.Series(["-1", "b"], dtype=pl.Enum(["-1", "b"])),
            "ws": ["\t=1", "\r=2"],
            "n": [-1, 2],
        }
    )
    rows = _parsed(safe_csv(odd))
    body = [c for r in rows[1:] for c in r[:4]]
    assert not [c for c in body if c.startswith(FORMULA_START)], body
    assert [r[4] for r in rows[1:]] == ["-1", "2"]  # numbers stay numbers


def test_request_export_neutralises_formulas_when_asked(tmp_path: Path) -> None:
    from changeboard.store import export as export_requests
    from changeboard.store import requests as ops

    db = tmp_path / "ops.sqlite"
    con = ops.connect_ops(db)
    try:
        for i, title in enumerate(HOSTILE_TITLES):
            ops.submit(
                con,
                {
                    "title": title,
                    "description": "=cmd|' /C calc'!A0",
                    "change_type": "normal",
                    "service": "@SUM(1)",
                    "cis": ["+app-01"],
                    "window_start": "2026-12-10T09:00:00+00:00",
                    "window_end": "2026-12-10T10:00:00+00:00",
                    "impact": "2 - Medium",
                    "risk": "Moderate",
                    "justification": "-1",
                    "implementation_plan": "plan",
                    "test_plan": "test",
                    "backout_plan": "back",
                    "created_by": '=HYPERLINK("http://x")',
                    "identity_verified": False,
                },
                f"k{i}",
            )
    finally:
        con.close()
    out = tmp_path / "import.csv"
    assert export_requests.export(db, "servicenow-csv", out, excel_safe=True) == len(HOSTILE_TITLES)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"), newline="")))
    cells = [c for r in rows[1:] for c in r]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    titles = [r[rows[0].index("u_short_description")] for r in rows[1:]]
    assert sorted(titles) == sorted("'" + t if t.startswith(FORMULA_START) else t for t in HOSTILE_TITLES)


@pytest.mark.parametrize(
    "cell",
    [
        "\u2003=HYPERLINK(1)",  # an em space folds (NFKC) to a space: skipped like one
        "\u2009\uff0b1",  # thin space, fullwidth plus
        " " * 20 + "=1",  # more leading spaces than the folded head once looked at
        "\u3000" * 30 + "@SUM(1)",
    ],
)
def test_both_formula_checks_agree_on_leading_spaces(cell: str) -> None:
    """The export's per-cell check and the app's frame-wide regex see the same cells as formulas."""
    from changeboard.store.export import FORMULA_REGEX, runs_as_formula

    assert runs_as_formula(cell)
    assert pl.Series([cell]).str.contains(FORMULA_REGEX).item()
