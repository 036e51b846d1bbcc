"""The guard rails of `./run lint` (issue #16, DECISIONLOG D27), run from a checkout.

Each check is a well-kept tool configured in pyproject.toml; this module only lays out what the tools
need and runs them one after the other, so that one run shows every finding:

- ruff check and ruff format --check (the version pinned in requirements.lock);
- mypy over the core packages, strict, with per-module relaxations in pyproject.toml;
- the count of `type: ignore` suppressions, which may not rise above the recorded ceiling;
- lint-imports (import-linter): the layers contract;
- sqlfluff with the dbt templater over the dbt project's models and tests;
- dbt-score over a manifest from `dbt parse` (naming per layer, documentation, uniqueness tests).

mypy and import-linter read modules from files, not through the editable install's import hook, so
they run over a mirror of the installed layout: the folders that [tool.setuptools.package-dir] maps into
`changeboard.*` (ingest/ -> changeboard/ingest/, app/ -> changeboard/app/) copied under one temporary
root, exactly as a wheel lays them out. Paths in their findings are mapped back to the checkout.

Exit status: 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Code that carries type-checked Python: the core and the folders mapped into the package.
TYPED_FOLDERS = ("changeboard", "ingest", "app")
TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore\b")


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


def package_dirs(pyproject: dict[str, object]) -> dict[str, str]:
    """The import package -> folder mapping of [tool.setuptools.package-dir]."""
    tool = pyproject.get("tool")
    assert isinstance(tool, dict)
    mapping = tool["setuptools"]["package-dir"]
    assert isinstance(mapping, dict)
    return {str(k): str(v) for k, v in mapping.items()}


def build_mirror(root: Path, mapping: dict[str, str], dest: Path) -> dict[str, str]:
    """Copy every .py file of the mapped folders under `dest` in the installed layout.

    Returns mirror-relative folder -> checkout folder (e.g. "changeboard/ingest" -> "ingest"), longest
    first, for mapping findings back.
    """
    back: dict[str, str] = {}
    for package, folder in mapping.items():
        source = root / folder
        target_rel = package.replace(".", "/")
        back[target_rel] = folder
        for path in source.rglob("*.py"):
            rel = path.relative_to(source)
            if "__pycache__" in rel.parts:
                continue
            # a sub-folder that is itself mapped elsewhere is copied by its own entry
            sub_package = ".".join((package, *rel.parts[:-1]))
            if any(
                other != package and (sub_package == other or sub_package.startswith(other + "."))
                for other in mapping
                if other.startswith(package + ".")
            ):
                continue
            out = dest / target_rel / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
    return dict(sorted(back.items(), key=lambda kv: -len(kv[0])))


def map_back(text: str, back: dict[str, str], mirror: Path) -> str:
    """Rewrite mirror paths in a tool's output to the checkout's paths."""
    text = text.replace(str(mirror) + os.sep, "")
    for mirrored, folder in back.items():
        if mirrored != folder:
            text = re.sub(rf"(?m)(^|[\s'\"(]){re.escape(mirrored)}/", rf"\g<1>{folder}/", text)
    return text


def count_type_ignores(root: Path, folders: Iterable[str] = TYPED_FOLDERS) -> dict[str, int]:
    """`type: ignore` comments per file (only files that have any)."""
    counts: dict[str, int] = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            n = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if TYPE_IGNORE.search(line))
            if n:
                counts[str(path.relative_to(root))] = n
    return counts


def mypy_relaxations(pyproject: dict[str, object]) -> list[tuple[str, str]]:
    """(module, error code) pairs that [[tool.mypy.overrides]] switch off, for the lint summary."""
    tool = pyproject.get("tool")
    assert isinstance(tool, dict)
    pairs: set[tuple[str, str]] = set()
    for override in tool.get("mypy", {}).get("overrides", []):
        modules = override["module"]
        for module in [modules] if isinstance(modules, str) else modules:
            for code in override.get("disable_error_code", []):
                pairs.add((module, code))
    return sorted(pairs)


def _run(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout


# multiprocessing's resource tracker warns about sqlfluff's worker semaphores at exit: noise, not findings
_NOISE = re.compile(r"resource_tracker|warnings\.warn\(")


def _timed(name: str, fn: Callable[[], tuple[bool, str]], *, full: bool = False) -> Outcome:
    print(f"--- {name}", flush=True)
    start = time.perf_counter()
    ok, detail = fn()
    seconds = time.perf_counter() - start
    lines = [line for line in detail.rstrip().splitlines() if line.strip() and not _NOISE.search(line)]
    # a passing check shows its closing line; a failing one (or a count) shows everything
    shown = lines if (full or not ok) else lines[-1:]
    if shown:
        print("\n".join(shown), flush=True)
    print(f"--- {name}: {'ok' if ok else 'FAILED'} ({seconds:.1f} s)\n", flush=True)
    return Outcome(name, ok, seconds, detail)


def main() -> int:
    if not (ROOT / "pyproject.toml").is_file() or not (ROOT / "dbt" / "dbt_project.yml").is_file():
        print("./run lint works in a checkout of changeboard (pyproject.toml and dbt/ beside the package)")
        return 2
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    ceiling = int(pyproject["tool"]["changeboard"]["lint"]["max_type_ignores"])
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="changeboard-lint-") as tmp_name:
        tmp = Path(tmp_name)
        mirror = tmp / "mirror"
        back = build_mirror(ROOT, package_dirs(pyproject), mirror)
        config = str(ROOT / "pyproject.toml")

        def ruff_check() -> tuple[bool, str]:
            rc, out = _run([str(BIN / "ruff"), "check", "--no-cache", "."], cwd=ROOT)
            return rc == 0, out

        def ruff_format() -> tuple[bool, str]:
            rc, out = _run([str(BIN / "ruff"), "format", "--check", "--no-cache", "."], cwd=ROOT)
            return rc == 0, out

        def mypy() -> tuple[bool, str]:
            rc, out = _run(
                [
                    str(BIN / "mypy"),
                    "--config-file",
                    config,
                    "--cache-dir",
                    str(ROOT / ".mypy_cache"),
                    "-p",
                    "changeboard",
                ],
                cwd=mirror,
            )
            return rc == 0, map_back(out, back, mirror)

        def type_ignores() -> tuple[bool, str]:
            counts = count_type_ignores(ROOT)
            total = sum(counts.values())
            lines = [
                f"  {n:3d}  {path}" for path, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            ]
            verdict = f"type: ignore suppressions: {total} (ceiling {ceiling}, [tool.changeboard.lint] in pyproject.toml)"
            if total > ceiling:
                verdict += " -- above the ceiling: type the code instead of suppressing"
            elif total < ceiling:
                verdict += f" -- below the ceiling: lower max_type_ignores to {total}"
            relaxed = mypy_relaxations(pyproject)
            modules = len({module for module, _ in relaxed})
            lines.append(
                f"mypy relaxations: {len(relaxed)} error codes off in {modules} modules "
                "([[tool.mypy.overrides]] in pyproject.toml, each with its reason)"
            )
            return total <= ceiling, "\n".join([verdict, *lines])

        def imports() -> tuple[bool, str]:
            rc, out = _run(
                [str(BIN / "lint-imports"), "--no-cache", config],
                cwd=mirror,
                env={"PYTHONPATH": str(mirror)},
            )
            return rc == 0, map_back(_strip_banner(out), back, mirror)

        dbt_env = dbt_environment(tmp)

        def sqlfluff() -> tuple[bool, str]:
            rc, out = _run(
                [
                    str(BIN / "sqlfluff"),
                    "lint",
                    "--processes",
                    str(min(2, os.cpu_count() or 1)),
                    "--disable-progress-bar",
                    "dbt/models",
                    "dbt/tests",
                ],
                cwd=ROOT,
                env={**dbt_env, "DBT_TARGET_PATH": str(tmp / "sqlfluff-target")},
            )
            return rc == 0, out

        def dbt_score() -> tuple[bool, str]:
            target = tmp / "parse-target"
            rc, out = _run(
                [
                    str(BIN / "dbt"),
                    "parse",
                    "--quiet",
                    "--no-partial-parse",
                    "--project-dir",
                    "dbt",
                    "--profiles-dir",
                    "dbt",
                    "--target-path",
                    str(target),
                ],
                cwd=ROOT,
                env=dbt_env,
            )
            if rc != 0:
                return False, "dbt parse failed:\n" + out
            rc, out = _run(
                [str(BIN / "dbt-score"), "lint", "--manifest", str(target / "manifest.json")], cwd=ROOT
            )
            return rc == 0, out

        for name, fn, full in (
            ("ruff check", ruff_check, False),
            ("ruff format --check", ruff_format, False),
            ("mypy (strict, with the overrides in pyproject.toml)", mypy, False),
            ("type: ignore count", type_ignores, True),
            ("lint-imports (layers contract)", imports, True),
            ("sqlfluff (dbt templater) on dbt/models and dbt/tests", sqlfluff, False),
            ("dbt-score on the parsed manifest", dbt_score, False),
        ):
            outcomes.append(_timed(name, fn, full=full))

    total = time.perf_counter() - started
    print("lint summary:")
    for o in outcomes:
        print(f"  {'ok    ' if o.ok else 'FAILED'}  {o.seconds:6.1f} s  {o.name}")
    failed = [o.name for o in outcomes if not o.ok]
    verdict = (
        f"{len(failed)} of {len(outcomes)} checks FAILED" if failed else f"all {len(outcomes)} checks pass"
    )
    print(f"lint: {verdict} ({total:.1f} s)")
    return 1 if failed else 0


def dbt_environment(tmp: Path) -> dict[str, str]:
    """The profile's paths pointed at a throwaway DuckDB pair (dbt/profiles.yml reads these)."""
    import duckdb

    ingest = tmp / "ingest.duckdb"
    duckdb.connect(str(ingest)).close()  # the profile attaches it read-only, so it must exist
    return {
        "CHANGEBOARD_BUILD_PATH": str(tmp / "warehouse_lint.duckdb"),
        "CHANGEBOARD_INGEST_DB": str(ingest),
        "DBT_LOG_PATH": str(tmp / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _strip_banner(out: str) -> str:
    """lint-imports opens with an ASCII-art banner; keep from its first report line on."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if (
            line.startswith(("---", "Contracts", "Missing", "Error", "Analyzed"))
            or "contract" in line.lower()
        ):
            return "\n".join(lines[i:])
    return out


if __name__ == "__main__":
    sys.exit(main())
