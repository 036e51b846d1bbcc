{#- One row per change: its number key, attribution window and a hash of everything the change
    attribution reads about it. The next incremental build compares its own with these to find the
    changes whose candidates may move (DuckDB only: other engines always build the attribution whole). -#}
{{ config(enabled=(target.type == 'duckdb')) }}
{{ attribution_change_fingerprints() }}
