"""Where changeboard keeps its data: one data directory, resolved once.

Precedence: an explicit ``--data-dir``, then ``CHANGEBOARD_DATA_DIR``, then ``./data``.
Layout (see DECISIONLOG.md, "data architecture"):

    data/
      pipeline.lock           flock held by the one pipeline run at a time
      landing/<system>/       every ingested export, immutable, named by its sha256
      ingest/ingest.duckdb    raw canonical tables + ingest ledger + quarantine (pipeline only)
      ops/ops.sqlite          the change-request form's store (SQLite WAL, app writes)
      versions/               warehouse_<version>.duckdb, read-only once published
      CURRENT.json            the published version (atomically replaced)
      warehouse.duckdb        symlink to the published version: the analysts' stable path
      samples/                generated sample exports (demo)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_DATA_DIR = "CHANGEBOARD_DATA_DIR"


@dataclass(frozen=True)
class DataDir:
    """The paths under one changeboard data directory."""

    root: Path

    @classmethod
    def resolve(cls, explicit: str | Path | None = None) -> DataDir:
        """Resolve the data directory: explicit argument, then the environment, then ``./data``."""
        chosen = explicit or os.environ.get(ENV_DATA_DIR) or "data"
        return cls(Path(chosen).expanduser().resolve())

    @property
    def config_file(self) -> Path:
        """The data directory's settings (changeboard.toml: the [targets] table; DECISIONLOG D37)."""
        return self.root / "changeboard.toml"

    @property
    def lock_file(self) -> Path:
        return self.root / "pipeline.lock"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def ingest_db(self) -> Path:
        return self.root / "ingest" / "ingest.duckdb"

    @property
    def ops_db(self) -> Path:
        return self.root / "ops" / "ops.sqlite"

    @property
    def versions(self) -> Path:
        return self.root / "versions"

    @property
    def current_pointer(self) -> Path:
        return self.root / "CURRENT.json"

    @property
    def warehouse_link(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    def ensure(self) -> DataDir:
        """Create the directories (not the databases)."""
        for p in (self.root, self.landing, self.ingest_db.parent, self.ops_db.parent, self.versions):
            p.mkdir(parents=True, exist_ok=True)
        return self
