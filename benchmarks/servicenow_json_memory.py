"""Benchmark (not a test): a 1 GB ServiceNow Table API export loads in bounded memory.

Writes ``{"result": [...]}`` with N change_request records of about 1 KB each (streamed, never held
in memory), then ingests it in a child process and prints the child's peak RSS, rows/s and the
ledger counts. The target: under 2 GB peak for 1M records / 1 GB.

    .venv/bin/python benchmarks/servicenow_json_memory.py --records 1000000 --workdir /tmp/cb-bench
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import sys, time, resource
from pathlib import Path
from changeboard.paths import DataDir
from changeboard.pipeline.ingest_run import ingest_paths
t = time.perf_counter()
report = ingest_paths(DataDir(Path(sys.argv[2])).ensure(), [Path(sys.argv[1])], force=True)
secs = time.perf_counter() - t
r = report.results[0]
print(f"status={r.status} error={r.error} counts={r.counts} seconds={secs:.1f} rows_per_s={r.counts.rows_read / secs:,.0f}")
print(f"child_peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f}")
"""


def write_export(path: Path, records: int) -> int:
    """Stream a Table API export of ``records`` change requests; return its size in bytes."""
    pad = "x" * 120
    with path.open("w", encoding="utf-8") as f:
        f.write('{"result": [')
        for i in range(records):
            rec = {
                "sys_id": f"{i:032x}",
                "number": f"CHG{i:07d}",
                "short_description": f"Change {i} to the web tier",
                "description": pad,
                "type": ("normal", "standard", "emergency")[i % 3],
                "state": ("3", "-1", "4", "-5")[i % 4],
                "close_code": "successful" if i % 4 == 0 else "",
                "risk": str(1 + i % 4),
                "impact": str(1 + i % 3),
                "priority": str(1 + i % 5),
                "approval": "approved",
                "category": "Software",
                "assignment_group": {
                    "link": "https://acme.service-now.com/api/now/table/sys_user_group/287ebd7da9fe198100f92cc8d1d2154e",
                    "value": "287ebd7da9fe198100f92cc8d1d2154e",
                },
                "cmdb_ci": {
                    "link": "https://acme.service-now.com/api/now/table/cmdb_ci/b0c25d1bc0a8000b0036a5c5e0d7f5d1",
                    "value": f"{i % 5000:032x}",
                },
                "start_date": "2026-02-16 22:00:00",
                "end_date": "2026-02-16 23:00:00",
                "work_start": "2026-02-16 22:05:00",
                "work_end": "2026-02-16 22:40:00",
                "opened_at": "2026-02-10 09:00:00",
                "closed_at": "2026-02-17 08:00:00",
                "sys_created_on": "2026-02-10 09:00:00",
                "sys_updated_on": "2026-02-17 08:00:00",
                "sys_mod_count": "7",
            }
            if i:
                f.write(",")
            f.write(json.dumps(rec))
        f.write("]}")
    return path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/changeboard-bench-json"))
    ap.add_argument("--reuse", action="store_true", help="Reuse an export written by an earlier run.")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    export = args.workdir / "change_request.json"
    if not (args.reuse and export.exists()):
        t = time.perf_counter()
        size = write_export(export, args.records)
        print(
            f"wrote {export} ({size / 2**30:.2f} GiB, {args.records:,} records) in {time.perf_counter() - t:.0f}s"
        )
    shutil.rmtree(args.workdir / "data", ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(export), str(args.workdir / "data")],
        capture_output=True,
        text=True,
        check=False,
    )
    print(proc.stdout.strip() or proc.stderr[-3000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak RSS of the ingest process: {peak:,.0f} MiB ({'OK' if peak < 2048 else 'OVER'} the 2 GiB bound)"
    )


if __name__ == "__main__":
    main()
