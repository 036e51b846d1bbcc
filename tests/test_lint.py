"""The guard rails of `./run lint` (changeboard/devtools/lint.py; DECISIONLOG D27): fast checks that the
pieces the lint run relies on mean what they say. `./run lint` itself runs before the tests."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from changeboard.devtools import lint

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _locked(name: str) -> str:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    found = re.search(rf"(?m)^{re.escape(name)}==(\S+)$", text)
    assert found, f"{name} is not pinned in requirements.lock"
    return found.group(1)


def test_pre_commit_ruff_is_the_locked_ruff() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    revs = [repo["rev"] for repo in config["repos"] if repo["repo"].endswith("/ruff-pre-commit")]
    assert len(revs) == 1, "exactly one ruff-pre-commit repo in .pre-commit-config.yaml"
    assert revs[0] == f"v{_locked('ruff')}", (
        f"pre-commit runs ruff {revs[0]} but requirements.lock pins ruff=={_locked('ruff')}: "
        "bump the hook's rev with the lock"
    )


def test_the_lint_tools_are_pinned_and_installed() -> None:
    for tool, package in (
        ("ruff", "ruff"),
        ("mypy", "mypy"),
        ("sqlfluff", "sqlfluff"),
        ("dbt-score", "dbt-score"),
        ("lint-imports", "import-linter"),
    ):
        _locked(package)
        assert (BIN / tool).exists(), f"{tool} is missing from the environment: ./run setup"


def _mirror(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mirror = tmp_path / "mirror"
    back = lint.build_mirror(ROOT, lint.package_dirs(pyproject), mirror)
    return mirror, back


def _lint_imports(mirror: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=mirror,
        env={**os.environ, "PYTHONPATH": str(mirror)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_mirror_lays_out_the_installed_package(tmp_path: Path) -> None:
    mirror, back = _mirror(tmp_path)
    assert (mirror / "changeboard" / "cli.py").is_file()
    assert (mirror / "changeboard" / "ingest" / "canonical.py").is_file()
    assert (mirror / "changeboard" / "ingest" / "sources" / "__init__.py").is_file()
    assert (mirror / "changeboard" / "app" / "data.py").is_file()
    assert not (mirror / "ingest").exists()
    assert not list(mirror.rglob("__pycache__"))
    # findings in the mirror are reported at the checkout's paths
    out = lint.map_back(
        f"{mirror}/changeboard/ingest/load.py:3: error\nchangeboard/app/db.py:1: error\n"
        "changeboard/cli.py:2: error",
        back,
        mirror,
    )
    assert out.splitlines() == [
        "ingest/load.py:3: error",
        "app/db.py:1: error",
        "changeboard/cli.py:2: error",
    ]


def test_the_layers_contract_holds_and_catches_an_upward_import(tmp_path: Path) -> None:
    mirror, _ = _mirror(tmp_path)
    kept = _lint_imports(mirror)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "0 broken" in kept.stdout
    assert "Layers: CLI -> dev tools -> dashboards" in kept.stdout  # the layers contract is among those kept
    # ingest importing the pipeline (a layer above it) breaks the contract
    canonical = mirror / "changeboard" / "ingest" / "canonical.py"
    canonical.write_text(canonical.read_text(encoding="utf-8") + "\nimport changeboard.pipeline.build_run\n")
    broken = _lint_imports(mirror)
    assert broken.returncode != 0
    assert "changeboard.ingest.canonical -> changeboard.pipeline.build_run" in broken.stdout


def test_type_ignores_are_counted_per_file(tmp_path: Path) -> None:
    pkg = tmp_path / "changeboard"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1  # type: ignore[assignment]\ny = 2  #type:ignore\nz = 3  # typed\n")
    (pkg / "b.py").write_text("s = 'no suppression here'\n")
    assert lint.count_type_ignores(tmp_path, folders=("changeboard",)) == {"changeboard/a.py": 2}


def test_the_type_ignore_ceiling_holds_today() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    ceiling = pyproject["tool"]["changeboard"]["lint"]["max_type_ignores"]
    assert sum(lint.count_type_ignores(ROOT).values()) <= ceiling
