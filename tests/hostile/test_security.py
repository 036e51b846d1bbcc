"""Security of what is served: localhost by default, Streamlit's protections on, the warehouse opened
read-only wherever it is served, secrets only from st.secrets or the environment and never logged, and
the pages that change data (CAB decisions) refusing anyone who is not a configured CAB member."""

from __future__ import annotations

import ast
import inspect
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from changeboard.paths import ENV_DATA_DIR, DataDir
from changeboard.store import requests as ops

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app"
INGEST = REPO / "ingest"
CORE = REPO / "changeboard"
CONFIG = APP / ".streamlit" / "config.toml"
# The pipeline owns the read-write connections (ingest db, the .building file); the benchmark writes
# its own scratch databases. Nothing else may open DuckDB read-write.
# pipeline/parquet.py: a .building file of a version published from an engine's Parquet (D34)
READ_WRITE_ALLOWED = {
    "changeboard/pipeline/build_run.py",
    "changeboard/pipeline/parquet.py",
    "ingest/load.py",
    "changeboard/pipeline/incremental.py",  # an in-memory instance attaching the published version read-only
    "changeboard/devtools/bench.py",
    "changeboard/devtools/bench_incremental.py",  # in-memory, attaches the version it measured read-only
    "changeboard/warehouse/compare.py",  # in-memory, attaches the two versions it compares read-only
    "changeboard/devtools/lint.py",  # a throwaway ingest file in a temp folder for sqlfluff's dbt templater
}
LOCALHOST = {"localhost", "127.0.0.1", "::1"}


def _sources(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


# --- binding and Streamlit's protections -------------------------------------------------------------------


def test_streamlit_config_binds_localhost_with_protections_on() -> None:
    cfg = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    server, client = cfg["server"], cfg["client"]
    assert server["address"] in LOCALHOST
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True
    assert client["showErrorDetails"] == "none"
    assert client.get("disableDataExport") is True, (
        "st.dataframe's own CSV export writes formulas as they are; downloads go through safe_csv"
    )
    assert cfg["browser"]["gatherUsageStats"] is False
    print(f"\n[security] config.toml: address={server['address']}, XSRF on, CORS on, errors hidden")


def test_serve_binds_localhost_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from changeboard import cli

    assert inspect.signature(cli.serve).parameters["address"].default in LOCALHOST
    calls: list[tuple[list[str], dict[str, str], Path]] = []

    def fake_exec(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
        calls.append((cmd, env, cwd))  # the real one replaces the process with Streamlit

    monkeypatch.setattr(cli, "_exec_streamlit", fake_exec)
    result = CliRunner().invoke(cli.app, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    cmd, _env, cwd = calls[0]
    assert cmd[cmd.index("--server.address") + 1] in LOCALHOST
    assert Path(cwd) == APP  # so that app/.streamlit/config.toml applies
    joined = " ".join(cmd)
    for weakening in ("enableXsrfProtection", "enableCORS", "showErrorDetails", "disableDataExport"):
        assert weakening not in joined
    # the documentation server binds the loopback address too
    assert '"--bind", "127.0.0.1"' in (CORE / "cli.py").read_text(encoding="utf-8")


def test_readme_says_how_to_expose_safely() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "## Exposing changeboard safely" in readme


# --- read-only warehouse --------------------------------------------------------------------------------


def _duckdb_connects(path: Path) -> list[tuple[int, bool]]:
    """(line, read_only) of every duckdb.connect(...) call in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("duckdb.connect", "connect"):
            if ast.unparse(node.func) == "connect" and "import duckdb" not in path.read_text(
                encoding="utf-8"
            ):
                continue
            ro = any(
                k.arg == "read_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
            out.append((node.lineno, ro))
    return out


def test_duckdb_is_opened_read_only_outside_the_pipeline() -> None:
    read_write, read_only = [], []
    for path in _sources(APP, INGEST, CORE):
        for line, ro in _duckdb_connects(path):
            (read_only if ro else read_write).append(f"{_rel(path)}:{line}")
    outside = [w for w in read_write if w.split(":")[0] not in READ_WRITE_ALLOWED]
    print(
        f"\n[security] duckdb.connect read-only: {read_only}\n[security] read-write (allowed): {read_write}"
    )
    assert not outside, f"read-write DuckDB connections outside the pipeline: {outside}"
    assert read_only, "expected the served warehouse to be opened read-only somewhere"


def test_the_app_reads_the_warehouse_through_the_read_only_reader() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in _sources(APP))
    assert "duckdb.connect" not in text
    assert "read_only=True" in (CORE / "warehouse" / "versions.py").read_text(encoding="utf-8")


# --- secrets -----------------------------------------------------------------------------------------------

SECRET_NAME = re.compile(r"secret|password|passwd|token|api_?key|credential|cookie|st\.secrets|auth", re.I)
OUTPUT_CALLS = re.compile(
    r"^(print|console\.print|console\.log|log\w*\.\w+|logger\.\w+|logging\.\w+|warnings\.warn|"
    r"st\.(write|text|code|json|markdown|caption|info|error|warning|success|exception|toast|metric))$"
)


def test_secrets_are_never_logged_or_shown() -> None:
    leaks = []
    for path in _sources(APP, INGEST, CORE):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and OUTPUT_CALLS.match(ast.unparse(node.func)):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    # names and attribute accesses only: the literal text of a message may say "sign-in"
                    names = [ast.unparse(n) for n in ast.walk(arg) if isinstance(n, ast.Name | ast.Attribute)]
                    hits = [n for n in names if SECRET_NAME.search(n)]
                    if hits:
                        leaks.append(f"{_rel(path)}:{node.lineno} {hits}")
    assert not leaks, leaks


def test_secrets_come_only_from_st_secrets_or_the_environment() -> None:
    readers = []
    for path in _sources(APP, INGEST, CORE):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                text = ast.unparse(node)
                if "secrets.toml" in text or (
                    re.search(r"\bopen\(|read_text\(|tomllib\.load", text) and "secret" in text
                ):
                    readers.append(f"{_rel(path)}:{node.lineno}")
    assert not readers, f"code reading a secrets file itself: {readers}"
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8")
    assert "secrets.toml" in ignored


# --- pages that change data ---------------------------------------------------------------------------------

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret",
    "client_id": "changeboard",
    "client_secret": "not-a-secret",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
}
CAB_PAGE = "views/cab_decisions.py"


@pytest.fixture
def form_data(hostile_data: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataDir:
    data = DataDir(tmp_path / "data")
    data.root.mkdir()
    (data.root / "versions").symlink_to(hostile_data.versions, target_is_directory=True)
    shutil.copy(hostile_data.current_pointer, data.current_pointer)
    monkeypatch.setenv(ENV_DATA_DIR, str(data.root))
    monkeypatch.delenv("CHANGEBOARD_CAB_MEMBERS", raising=False)
    con = ops.connect_ops(data.ops_db)
    try:
        ops.submit(
            con, {"created_by": "Alice", "title": "<script>alert(1)</script>", "change_type": "normal"}, "a"
        )
    finally:
        con.close()
    return data


def _cab_page(user: dict[str, object], members: list[str] | None) -> AppTest:
    at = AppTest.from_file(str(APP / "streamlit_app.py"), default_timeout=60)
    at.secrets["auth"] = AUTH
    if members is not None:
        at.secrets["changeboard"] = {"cab_members": members}
    at.user = user
    at.run()
    at.switch_page(CAB_PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _status(data: DataDir) -> str:
    con = ops.connect_ops(data.ops_db)
    try:
        return str(ops.list_requests(con)[0]["status"])
    finally:
        con.close()


@pytest.mark.skipif(not (APP / "cab_decisions.py").exists(), reason="app/cab_decisions.py is not written yet")
@pytest.mark.parametrize(
    ("user", "members", "allowed"),
    [
        (
            {"is_logged_in": True, "email": "mallory@example.com", "name": "Mallory"},
            ["cab@example.com"],
            False,
        ),
        ({"is_logged_in": True, "email": "CAB@example.com", "name": "Cab"}, ["cab@example.com"], True),
        (
            {"is_logged_in": True, "email": "cab@example.com", "name": "Cab"},
            None,
            False,
        ),  # no members configured
        ({"is_logged_in": False}, ["cab@example.com"], False),
        ({"is_logged_in": True, "name": "No email"}, ["cab@example.com"], False),
    ],
    ids=["non-member", "member", "no-members-configured", "signed-out", "no-email"],
)
def test_only_cab_members_can_decide_when_sign_in_is_configured(
    form_data: DataDir, user: dict[str, object], members: list[str] | None, allowed: bool
) -> None:
    at = _cab_page(user, members)
    buttons = [b.key or "" for b in at.button]
    con = ops.connect_ops(form_data.ops_db)
    try:
        ref = str(ops.list_requests(con)[0]["reference"])
    finally:
        con.close()
    # the form request's decision form (the meeting's ITSM changes have theirs too)
    approve = [k for k in buttons if k == f"FormSubmitter:cabd_{ref}_form-Record decision"]
    print(
        f"\n[security] CAB decisions as {user.get('email') or user.get('name') or 'signed out'}: buttons {buttons}"
    )
    assert bool(approve) is allowed
    assert not [t for t in at.text_input if (t.key or "").endswith("_name")], (
        "with sign-in configured nobody types their own name"
    )
    if allowed:
        at.button(key=approve[0]).click()  # the decision's default choice: approved
        at.run()
        assert _status(form_data) == "approved"
        con = ops.connect_ops(form_data.ops_db)
        try:
            ref = str(ops.list_requests(con)[0]["reference"])
            assert [d["decided_by"] for d in ops.decisions(con, ref)] == ["cab@example.com"]
        finally:
            con.close()
    else:
        assert _status(form_data) == "submitted"


def test_can_decide_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    identity = pytest.importorskip("changeboard.app.identity")
    monkeypatch.setenv(identity.ENV_CAB_MEMBERS, "cab@example.com, lead@example.com")
    member = identity.Identity(name="Cab", email="cab@example.com", verified=True)
    stranger = identity.Identity(name="Eve", email="eve@example.com", verified=True)
    assert identity.can_decide(member)[0] is True
    assert identity.can_decide(stranger)[0] is False
    assert identity.can_decide(None)[0] is False
    monkeypatch.setenv(identity.ENV_CAB_MEMBERS, "")
    assert identity.can_decide(member)[0] is False  # nobody may decide until members are configured
