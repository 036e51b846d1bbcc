"""The raw schema is declared once, in ingest/canonical.py; dbt's source declaration must match it."""

from __future__ import annotations

from pathlib import Path

import yaml
from changeboard.ingest.canonical import ENTITIES, META_COLUMNS

SOURCES = (
    Path(__file__).resolve().parents[2]
    / "dbt"
    / "models"
    / "staging"
    / "canonical"
    / "_canonical__sources.yml"
)


def test_every_canonical_table_and_column_is_a_dbt_source() -> None:
    spec = yaml.safe_load(SOURCES.read_text())
    (source,) = [s for s in spec["sources"] if s["name"] == "canonical"]
    tables = {t["name"]: [c["name"] for c in t.get("columns", [])] for t in source["tables"]}
    assert set(ENTITIES) <= set(tables), set(ENTITIES) - set(tables)
    for name, entity in ENTITIES.items():
        declared = [c for c in tables[name] if c not in META_COLUMNS]
        assert declared == list(entity.columns), name
