"""Where the tests find the shared real public exports: outside the repository, never copied into it.

``CHANGEBOARD_SHARED_DATASETS`` names the folder (a relative path is taken from the repository root);
the default is ``../shared/datasets`` beside the repository. Tests that need it skip, saying why and
how to point them at it, when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENV_SHARED_DATASETS = "CHANGEBOARD_SHARED_DATASETS"
DEFAULT_DATASETS = Path("..") / "shared" / "datasets"


def datasets_dir() -> Path:
    """The shared data sets folder: the environment variable's, else ../shared/datasets."""
    configured = Path(os.environ.get(ENV_SHARED_DATASETS) or DEFAULT_DATASETS)
    return (configured if configured.is_absolute() else REPO / configured).resolve()


DATASETS = datasets_dir()

requires_datasets = pytest.mark.skipif(
    not DATASETS.is_dir(),
    reason=(
        f"the shared real data sets are not at {DATASETS}: set {ENV_SHARED_DATASETS} to the folder that holds "
        "them (default ../shared/datasets beside the repository)"
    ),
)
