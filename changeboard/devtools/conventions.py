"""The project's own dbt-score rules and filters (house style B2/B4; DECISIONLOG D27).

dbt-score loads this module through `rule_namespaces` in pyproject.toml; `./run lint` runs it over the
manifest of `dbt parse`. (The name must not start with `dbt_`: dbt imports such modules it finds.)
"""

import re

from dbt_score import Macro, Model, RuleViolation, rule, rule_filter

# Folder under models/ -> the name prefixes a model there may carry (house style B2).
LAYER_PREFIXES: dict[str, tuple[str, ...]] = {
    "staging": ("stg_", "base_"),
    "intermediate": ("int_",),
    "marts": ("fct_", "dim_"),
    "reports": ("rpt_",),
}

_DISPATCH_IMPLEMENTATION = re.compile(r"^[a-z0-9]+__")


@rule
def model_name_matches_layer(model: Model) -> RuleViolation | None:
    """A model's name carries its layer's prefix: stg_/base_, int_, fct_/dim_, rpt_."""
    parts = model.original_file_path.split("/")
    if len(parts) < 2 or parts[0] != "models":
        return None
    layer = parts[1]
    prefixes = LAYER_PREFIXES.get(layer)
    if prefixes is None:
        return RuleViolation(message=f"models/{layer}/ is not a layer of the house style (B1/B2).")
    if not model.name.startswith(prefixes):
        return RuleViolation(message=f"A model in models/{layer}/ is named {' or '.join(prefixes)}...")
    return None


_BARE_ROUND = re.compile(r"(?<![\w.])round\s*\(", re.IGNORECASE)


@rule
def model_rounds_through_round_half_up(model: Model) -> RuleViolation | None:
    """A model rounds through the macro round_half_up: round() of a double differs between engines
    at an exact half (DECISIONLOG D47)."""
    if _BARE_ROUND.search(model.raw_code or ""):
        return RuleViolation(
            message="round() of a double is not portable at a half: use {{ round_half_up(...) }} (D47)."
        )
    return None


@rule_filter
def is_not_dispatch_implementation(macro: Macro) -> bool:
    """Only the dispatching macro is documented; its `<adapter>__name` implementations share its docs."""
    return not _DISPATCH_IMPLEMENTATION.match(macro.name)
