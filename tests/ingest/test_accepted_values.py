"""The values a canonical column accepts are declared once (ingest/canonical.py): the dbt
accepted_values tests of the staging models must be exactly these."""

from __future__ import annotations

from pathlib import Path

import yaml
from changeboard.ingest.canonical import ACCEPTED_VALUES, ENTITIES, STAGING_MODELS

STAGING = Path(__file__).resolve().parents[2] / "dbt" / "models" / "staging" / "canonical"


def _accepted(model: str) -> dict[str, list[str]]:
    spec = yaml.safe_load((STAGING / f"{model}.yml").read_text(encoding="utf-8"))
    (m,) = [m for m in spec["models"] if m["name"] == model]
    out: dict[str, list[str]] = {}
    for col in m.get("columns", []):
        for test in col.get("data_tests", []):
            if isinstance(test, dict) and "accepted_values" in test:
                args = test["accepted_values"].get("arguments", test["accepted_values"])
                out[col["name"]] = [str(v) for v in args["values"]]
    return out


def test_dbt_accepted_values_are_the_canonical_declaration() -> None:
    for entity, columns in ACCEPTED_VALUES.items():
        assert entity in ENTITIES
        dbt = _accepted(STAGING_MODELS[entity])
        for column, values in columns.items():
            assert column in ENTITIES[entity].columns, (entity, column)
            assert dbt.get(column) == list(values), (entity, column, dbt.get(column), values)


def test_every_passed_through_dbt_enumeration_is_declared() -> None:
    """A staging column with accepted values that a connector fills directly (same name in the raw
    table) must be declared: else a mapping could write a value the build refuses."""
    for entity, model in STAGING_MODELS.items():
        for column in _accepted(model):
            if column in ENTITIES[entity].columns:
                assert column in ACCEPTED_VALUES.get(entity, {}), (entity, column)


def test_mapping_columns_prints_every_column_type_values_and_meaning() -> None:
    from typer.testing import CliRunner

    from changeboard.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["mapping", "columns", "change"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for column in ENTITIES["change"].columns:
        assert column in result.output, column
    assert "successful, successful_with_issues, unsuccessful, canceled, unknown" in result.output
    assert "form, itsm" in result.output
    assert "[source] system" in result.output  # the meaning, not eaten as markup
    every = runner.invoke(app, ["mapping", "columns"], env={"COLUMNS": "250"})
    assert all(f"{name}:" in every.output for name in ENTITIES)
    assert "recognised: Business Service" in every.output  # ci_class_raw's seed labels
    unknown = runner.invoke(app, ["mapping", "columns", "chnage"])
    assert unknown.exit_code == 1
    assert "unknown entity 'chnage'" in unknown.output
