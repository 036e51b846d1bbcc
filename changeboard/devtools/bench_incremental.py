"""The benchmark's incremental phase: after the full build at the largest scale, a 1 % delta
(:mod:`changeboard.devtools.delta`) is ingested and built incrementally; the ingest of the delta, the
carry-over of the previous version's incremental tables, dbt and the publish are measured
separately, beside the full build.

``changeboard bench`` runs it at its largest scale (:func:`measure`). On its own, for a quicker
figure: ``python -m changeboard.devtools.bench_incremental --changes 100000 --workdir DIR`` generates,
ingests, builds in full, then runs the phase (no ingest floors, serving or CAB pack).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

SHARE = 0.01
DELTA_SEED = 20


def _incremental_child(samples: str, data_root: str, as_of: str, delta_dir: str) -> dict[str, Any]:
    """In a child process: write a 1 % delta, ingest it, build incrementally; the time of each part."""
    import resource

    import duckdb

    from changeboard import timing
    from changeboard.devtools.delta import write_delta
    from changeboard.paths import DataDir
    from changeboard.pipeline import build_run, ingest_run

    data = DataDir(Path(data_root)).ensure()
    started = time.perf_counter()
    counts = write_delta(Path(samples), Path(delta_dir), seed=DELTA_SEED, step=1, share=SHARE)
    delta_seconds = time.perf_counter() - started
    run_id = ingest_run.new_run_id()
    started = time.perf_counter()
    report = ingest_run.ingest_paths(data, [Path(delta_dir)], run_id=run_id)
    ingest_seconds = time.perf_counter() - started
    if report.failed:
        raise RuntimeError("; ".join(f"{r.path}: {r.error}" for r in report.failed))
    phases: dict[str, float] = {}

    def heard(name: str, seconds: float, _details: Mapping[str, object]) -> None:
        phases[name] = phases.get(name, 0.0) + seconds

    started = time.perf_counter()
    with timing.listening(heard):
        pub = build_run.build(data, run_id=run_id, as_of=as_of, try_incremental=True)
    build_seconds = time.perf_counter() - started
    # the build's own peak: its processes (dbt) are this child's only children; the child's own peak
    # (peak_rss_mb) also holds writing the delta, which reads the sample's files into polars
    build_peak_mb = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    con = duckdb.connect()
    try:
        con.execute(f"attach '{pub.path}' as v (read_only)")
        incidents = con.execute("select count(*) from v.main.fct_incidents").fetchall()[0][0]
        has_affected = con.execute(
            "select count(*) from information_schema.tables where table_catalog = 'v' "
            "and table_name = 'int_incidents_attributed_to_changes__affected'"
        ).fetchall()[0][0]
        affected = (
            con.execute(
                "select count(*) from v.intermediate.int_incidents_attributed_to_changes__affected"
            ).fetchall()[0][0]
            if has_affected
            else None
        )
    finally:
        con.close()
    dbt_seconds = float(pub.meta.get("dbt_seconds", 0.0))  # type: ignore[arg-type]
    copy_seconds = phases.get("build.carry_over", 0.0)
    return {
        "seconds": build_seconds,
        "delta_rows": {
            "incidents": counts.incidents,
            "changes": counts.changes,
            "relationships": counts.relationships,
        },
        "delta_write_seconds": delta_seconds,
        "ingest_seconds": ingest_seconds,
        "build_kind": pub.meta.get("build_kind"),
        "build_reason": pub.meta.get("build_reason"),
        "copy_seconds": copy_seconds,
        "dbt_seconds": dbt_seconds,
        "publish_seconds": phases.get("build.publish", 0.0),
        "other_seconds": max(
            0.0, build_seconds - dbt_seconds - copy_seconds - phases.get("build.publish", 0.0)
        ),
        "incidents": incidents,
        "affected_incidents": affected,
        "warehouse_mb": round(pub.path.stat().st_size / 2**20, 1),
        "build_peak_rss_mb": build_peak_mb,
        "slowest_nodes": _slowest_nodes(data.root / "dbt" / "target" / "run_results.json"),
    }


def _slowest_nodes(run_results: Path, n: int = 12) -> list[tuple[str, float]]:
    if not run_results.exists():
        return []
    results = json.loads(run_results.read_text(encoding="utf-8")).get("results", [])
    timed = sorted(
        ((r["unique_id"], float(r.get("execution_time") or 0.0)) for r in results), key=lambda x: -x[1]
    )
    return [(uid.split(".", 1)[-1], round(t, 2)) for uid, t in timed[:n]]


def measure(root: Path, as_of: datetime, log: Callable[[str], None], watch: Path) -> dict[str, Any]:
    """The incremental phase on a scale the bench has ingested and built in full (``root/data``)."""
    from changeboard.devtools import bench

    data_root = root / "data"
    if not (data_root / "CURRENT.json").exists():
        return {"status": "not run", "reason": "no published version (the full build did not publish)"}
    log(f"incremental: ingest a {SHARE:.0%} delta, build incrementally, publish")
    delta_dir = root / "delta"
    shutil.rmtree(delta_dir, ignore_errors=True)
    return bench._attempt(
        log,
        "incremental build",
        lambda: bench._in_child(
            _incremental_child,
            str(root / "samples"),
            str(data_root),
            as_of.strftime("%Y-%m-%d %H:%M:%S"),
            str(delta_dir),
            timeout=bench.TIMEOUTS["build"],
            watch=watch,
        ),
    )


def print_incremental(result: Mapping[str, Any], console: Console) -> None:
    """One block per scale that ran the incremental phase, beside that scale's full build."""
    for scale, build in (result.get("build") or {}).items():
        inc = build.get("incremental") if isinstance(build, dict) else None
        if not inc:
            continue
        console.print(f"[bold]Incremental build at {int(scale):,} changes[/] (a {SHARE:.0%} delta)")
        if inc.get("status") != "ok":
            console.print(f"  {inc.get('status')}: {str(inc.get('reason') or inc.get('error', ''))[:300]}")
            continue
        full = build.get("seconds")
        console.print(
            f"  delta ingest {inc['ingest_seconds']:.1f} s; build {inc['seconds']:.1f} s "
            f"(carry-over of the previous version's tables {inc['copy_seconds']:.1f} s, "
            f"dbt {inc['dbt_seconds']:.1f} s, "
            f"publish {inc['publish_seconds']:.1f} s); full build {full:.1f} s"
            if isinstance(full, int | float)
            else f"  delta ingest {inc['ingest_seconds']:.1f} s; build {inc['seconds']:.1f} s"
        )
        console.print(
            f"  {inc['build_kind']} ({inc['build_reason']}); attribution recomputed for "
            f"{inc['affected_incidents']:,} of {inc['incidents']:,} incidents; load 1m mean "
            f"{inc.get('load_1m_mean')} max {inc.get('load_1m_max')}; peak RSS of dbt "
            f"{inc.get('build_peak_rss_mb')} MiB (of the child, which also writes the delta: "
            f"{inc.get('peak_rss_mb')} MiB)"
        )
        console.print(
            "  slowest dbt nodes: " + ", ".join(f"{n} {t:.1f}s" for n, t in inc["slowest_nodes"][:8])
        )


def main(argv: list[str] | None = None) -> None:
    """Generate, ingest, full build, then the incremental phase (no other bench sections)."""
    from changeboard.devtools import bench

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    console = Console()
    changes = args.changes
    incidents = round(changes * bench.DEFAULT_INCIDENTS / bench.DEFAULT_CHANGES)
    cis = max(bench.MIN_CIS, round(changes * bench.DEFAULT_CIS / bench.DEFAULT_CHANGES))
    root = args.workdir.resolve() / f"scale_{changes}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    as_of = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def log(msg: str) -> None:
        console.log(msg)

    res: dict[str, Any] = {"changes": changes, "incidents": incidents, "load_at_start": os.getloadavg()}
    log(f"generating {changes:,} changes, {incidents:,} incidents")
    res["generate"] = bench._attempt(
        log,
        "generate",
        lambda: bench._in_child(
            bench._generate_child,
            str(root / "samples"),
            changes,
            incidents,
            cis,
            as_of.isoformat(),
            timeout=bench.TIMEOUTS["generate"],
            watch=root,
        ),
    )
    log("ingest (all files)")
    res["ingest"] = bench._attempt(
        log,
        "ingest",
        lambda: bench._in_child(
            bench._ingest_child,
            [str(root / "samples")],
            str(root / "data"),
            timeout=bench.TIMEOUTS["ingest"],
            watch=root,
        ),
    )
    res["ingest"].pop("results", None)
    log("full build")
    res["build"] = bench._attempt(
        log,
        "build",
        lambda: bench._in_child(
            bench._build_child,
            str(root / "data"),
            as_of.strftime("%Y-%m-%d %H:%M:%S"),
            f"bench-{changes}",
            timeout=bench.TIMEOUTS["build"],
            watch=root,
        ),
    )
    res["build"]["slowest_nodes"] = _slowest_nodes(root / "data" / "dbt" / "target" / "run_results.json")
    res["build"]["incremental"] = measure(root, as_of, log, root)
    out = args.out or root / "bench_incremental.json"
    out.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
    print_incremental({"build": {str(changes): res["build"]}}, console)
    console.print(f"full build slowest nodes: {res['build']['slowest_nodes'][:8]}")
    console.print(f"JSON: {out}")


if __name__ == "__main__":
    main()
