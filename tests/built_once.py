"""A data directory built once per test run, however many pytest-xdist workers ask for it.

The first worker to ask builds it in the run's shared temporary folder while the others wait on a
lock; each worker then works on its own copy, so a test on one worker never sees another's writes
(DECISIONLOG D60). Two workers building the same sample side by side took a build each, at half speed.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from changeboard.paths import DataDir


def built_once(
    factory: pytest.TempPathFactory, worker_id: str, name: str, build: Callable[[DataDir], None]
) -> DataDir:
    """This worker's copy of the data directory ``build`` fills (``worker_id`` is xdist's fixture)."""
    data = DataDir(factory.mktemp(name)).ensure()
    if worker_id == "master":  # not under xdist: nobody to share with
        build(data)
        return data
    shared = factory.getbasetemp().parent / f"{name}_shared"
    done = shared.with_name(f"{name}_shared.done")
    with shared.with_name(f"{name}_shared.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)  # a worker that failed half way
            build(DataDir(shared).ensure())
            done.touch()
    return copy_data_dir(DataDir(shared), data.root)


def copy_data_dir(data: DataDir, root: Path) -> DataDir:
    """A copy of a data directory at ``root``: its exports, ingest database and published versions.
    The pointer names a bare file and the warehouse link is relative, so the copy serves its own."""
    shutil.copytree(data.root, root, symlinks=True, dirs_exist_ok=True)
    return DataDir(root).ensure()
