"""The benchmark's small mode as a smoke test, so it never rots.

Runs ``run_bench`` end to end on a small generated estate (one scale) and checks that the JSON has
every section with positive numbers. It asserts nothing about speed: the figures are the
benchmark's to report (README, "Benchmark"), never a timed test's to enforce.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from changeboard.devtools.bench import GOALS, run_bench

# The run is dominated by fixed costs whatever the size (two interpreter starts per file, dbt's start-up
# and ~300 nodes, AppTest per page, the CAB command per format): about 3.5 minutes on 2 cores at 500
# changes as at 2,000, so it is marked slow and runs at a size that still exercises every path.
CHANGES = 2000

pytestmark = pytest.mark.slow


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    work = tmp_path_factory.mktemp("bench")
    out = work / "out" / "bench.json"
    console = Console(file=(work / "bench.log").open("w", encoding="utf-8"), width=200)
    result = run_bench(
        changes=CHANGES,
        incidents=None,
        cis=None,
        out=out,
        scales=[CHANGES],
        workdir=work,
        page_runs=2,
        console=console,
    )
    return result, out


def test_json_is_written_and_matches(result: tuple[dict[str, Any], Path]) -> None:
    res, out = result
    assert json.loads(out.read_text(encoding="utf-8"))["params"] == res["params"]
    assert res["params"]["scales"] == [CHANGES]
    assert res["params"]["incidents"] == 5 * CHANGES
    assert res["goals"] == GOALS
    for section in ("machine", "generate", "ingest", "build", "serving", "cab", "scaling", "checks"):
        assert section in res, section


def test_machine(result: tuple[dict[str, Any], Path]) -> None:
    m = result[0]["machine"]
    assert positive(m["cores"])
    assert positive(m["memory_gb"])
    for key in ("python", "duckdb", "dbt_core", "dbt_duckdb", "streamlit", "polars"):
        assert m[key], key
        assert m[key] != "not installed", key


def test_ingest_every_file_beside_its_floor(result: tuple[dict[str, Any], Path]) -> None:
    ingest = result[0]["ingest"][str(CHANGES)]
    files = {row["file"] for row in ingest["files"]}
    assert {"servicenow/change_request.csv", "servicenow/incident.csv", "jira/changes.csv"} <= files
    for row in ingest["files"]:
        conn, floor = row["connector"], row["floor"]
        assert conn["status"] == "ok", (row["file"], conn.get("error"))
        assert floor["status"] == "ok", (row["file"], floor.get("error"))
        for v in (
            row["rows"],
            conn["seconds"],
            conn["canonical_rows"],
            conn["rows_per_s"],
            conn["peak_rss_mb"],
        ):
            assert positive(v), row
        for v in (floor["read_csv_seconds"], floor["rows_per_s"], floor["peak_rss_mb"], row["floor_ratio"]):
            assert positive(v), row
        # one data row of the file is at least one canonical row
        assert floor["rows"] == row["rows"], row["file"]
        assert conn["canonical_rows"] >= row["rows"], row["file"]
        if row["encoding"] == "cp1252":
            assert positive(floor["transcode_seconds"])
        # where the connector's time went, heard through the code's timing hooks (changeboard.timing)
        for phase in ("open", "load", "hash", "land"):
            assert positive(conn["phases"][phase]), (row["file"], phase, conn["phases"])
    assert ingest["all_files"]["status"] == "ok"
    assert positive(ingest["all_files"]["rows_per_s"])
    # the changes again as one Table API JSON export: every record read, its peak judged
    as_json = ingest["table_api_json"]
    assert as_json["connector"]["status"] == "ok", as_json["connector"].get("error")
    change_request = next(r for r in ingest["files"] if r["file"] == "servicenow/change_request.csv")
    assert as_json["records"] == change_request["rows"]
    assert as_json["connector"]["results"][0]["rows_read"] == change_request["rows"]
    assert positive(as_json["connector"]["peak_rss_mb"])
    assert positive(as_json["mb"])


def test_build_beside_direct_sql(result: tuple[dict[str, Any], Path]) -> None:
    build = result[0]["build"][str(CHANGES)]
    assert build["status"] == "ok", build.get("error")
    assert build["floor"]["status"] == "ok", build["floor"].get("error")
    for key in ("seconds", "dbt_seconds", "dbt_model_seconds", "direct_sql_seconds", "peak_rss_mb"):
        assert positive(build[key]), key
    nodes = build["dbt_nodes"]
    for key in ("test_seconds", "tests", "models"):
        assert positive(nodes[key]), key
    assert not nodes["errors"]
    assert build["serial"]["status"] == "ok", build["serial"].get("error")
    assert positive(build["serial"]["node_seconds"])
    assert positive(build["dbt_model_seconds_concurrent"])
    assert isinstance(build["dbt_overhead"], float)
    assert build["dbt_overhead"] < 1
    assert {m["node"] for m in build["per_model"]} >= {"fct_changes", "fct_incidents", "rpt_change_kpis"}
    # every node's time in the build itself, slowest first, and the disk of each version
    timed = build["nodes_by_time"]
    assert [n["seconds"] for n in timed] == sorted((n["seconds"] for n in timed), reverse=True)
    assert {n["node"] for n in timed if n["kind"] == "model"} >= {"fct_changes", "fct_incidents"}
    assert sum(n["kind"] == "model" for n in timed) == nodes["models"]
    assert [v["published"] for v in build["versions"]] == [True]
    assert positive(build["versions"][0]["mb"])


def test_serving_every_page(result: tuple[dict[str, Any], Path]) -> None:
    serving = result[0]["serving"][str(CHANGES)]
    assert serving["status"] == "ok", serving.get("error")
    pages = serving["pages"]
    assert {"Overview", "Changes", "Lead times", "Data quality"} <= set(pages)
    for title, page in pages.items():
        assert not page["errors"], (title, page["errors"])
        assert positive(page["queries_per_run"]), title
        # each query labelled by who asked (the page line or the sidebar), found on the stack by the
        # listener of the app.query phase
        assert all("@" in label or label.startswith("sidebar:") for label in page["queries"]), page["queries"]
        assert positive(page["total_p50_ms"]), title
        assert positive(page["total_p95_ms"]), title
        for label, q in page["queries"].items():
            assert positive(q["p50_ms"]), (title, label)
            assert positive(q["p95_ms"]), (title, label)


def test_cab_and_scaling_and_checks(result: tuple[dict[str, Any], Path]) -> None:
    res = result[0]
    cab = res["cab"][str(CHANGES)]
    assert cab["status"] in ("ok", "not available"), cab
    if cab["status"] == "ok":
        for fmt, r in cab["formats"].items():
            assert r["status"] == "ok", (fmt, r)
            assert positive(r["seconds"]), (fmt, r)
    # one scale: every cost has one point and no growth factor yet
    assert res["scaling"]
    for name, s in res["scaling"].items():
        assert [p[0] for p in s["points"]] == [CHANGES], name
        assert all(positive(p[1]) for p in s["points"]), name
    goals = {c["goal"] for c in res["checks"]}
    assert "dbt overhead < 20 %" in goals
    assert "peak memory < 2 GB: ingest the changes as one Table API JSON export" in goals
    assert any(g.startswith("page Overview") for g in goals)


def test_growth_per_10x() -> None:
    from changeboard.devtools.bench import _growth, _scales, _sizes

    assert _growth((10_000, 1.0), (100_000, 10.0)) == pytest.approx(10.0)
    assert _growth((10_000, 1.0), (1_000_000, 100.0)) == pytest.approx(10.0)
    assert _growth((10_000, 1.0), (100_000, 100.0)) == pytest.approx(100.0)
    assert _scales(1_000_000, None) == [10_000, 100_000, 1_000_000]
    assert _scales(20_000, None) == [10_000, 20_000]
    assert _sizes(10_000, 1_000_000, 5_000_000, 100_000) == (50_000, 1_000)
