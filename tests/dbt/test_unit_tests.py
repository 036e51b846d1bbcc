"""The dbt unit tests (every formula on fixed inputs, unit_tests: in dbt/models) run once per suite.

Production builds leave them out (DECISIONLOG D23); the session's sample build runs them
(tests/conftest.py ``built_data``, ``unit_tests=True``), and a failing one fails that build. This test
proves they really ran there: every unit test dbt parsed has a passing result, none was skipped or
deselected on the way.
"""

from __future__ import annotations

import json

from changeboard.paths import DataDir


def test_every_dbt_unit_test_ran_and_passed_in_the_sample_build(built_data: DataDir) -> None:
    target = built_data.root / "dbt" / "target"
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    declared = set(manifest["unit_tests"])
    ran = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    assert len(declared) >= 27  # every formula's edge cases (docs/metrics.md); a lost yml would shrink it
    assert set(ran) == declared
    assert {uid: status for uid, status in ran.items() if status != "pass"} == {}
    # and the build published the models those tests cover: the data tests ran in the same build
    assert sum(1 for r in results if r["unique_id"].startswith("test.")) > 100
