"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and the connectors' one forbids
every part of changeboard outside changeboard.ingest.

lint-imports (grimp) finds a package's modules by walking its folder; in a checkout changeboard.ingest
and changeboard.app live in other folders (mapped by the editable install), so the contracts are
checked on the package as a wheel lays it out: setuptools' build_py into a temporary folder.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

from changeboard.ingest import sources

import changeboard

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
CONTRACTS = PYPROJECT["tool"]["importlinter"]["contracts"]
SOURCES_CONTRACT = "sources import only the base"


def _toml(value: object) -> str:
    return json.dumps(value)  # strings, lists of strings and booleans read the same in TOML


def test_every_source_module_is_in_the_independence_contract() -> None:
    (contract,) = [c for c in CONTRACTS if c["name"] == "sources are independent of each other"]
    modules = {f"changeboard.ingest.sources.{m.name}" for m in pkgutil.iter_modules(sources.__path__)}
    assert set(contract["modules"]) == modules - {"changeboard.ingest.sources.common"}


def test_the_sources_contract_forbids_all_of_changeboard_outside_ingest() -> None:
    (contract,) = [c for c in CONTRACTS if c["name"] == SOURCES_CONTRACT]
    assert contract["source_modules"] == ["changeboard.ingest.sources"]
    top = {f"changeboard.{m.name}" for m in pkgutil.iter_modules(changeboard.__path__)}
    top |= {"changeboard.app"}  # mapped from app/, not under changeboard/ in a checkout
    missing = top - {"changeboard.ingest"} - set(contract["forbidden_modules"])
    assert not missing, f"add to the contract's forbidden_modules: {sorted(missing)}"
    assert {"changeboard.ingest.registry", "changeboard.ingest.load"} <= set(contract["forbidden_modules"])


def test_every_import_contract_is_kept(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import setuptools; setuptools.setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(tree),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    lines = ["[tool.importlinter]", 'root_package = "changeboard"']
    for key, value in PYPROJECT["tool"]["importlinter"].items():
        if key not in ("contracts", "root_package"):
            lines.append(f"{key} = {_toml(value)}")
    for contract in CONTRACTS:
        lines.append("[[tool.importlinter.contracts]]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in contract.items())
    config = tmp_path / "importlinter.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    lint_imports = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run(
        [str(lint_imports), "--no-cache", str(config)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert f"{SOURCES_CONTRACT} KEPT" in proc.stdout
    assert "sources are independent of each other KEPT" in proc.stdout
    analyzed = next(line for line in proc.stdout.splitlines() if line.startswith("Analyzed"))
    assert int(analyzed.split()[1]) > 50, analyzed  # the whole package, ingest and app included
