{#- One row per incident: a hash of everything the change attribution reads about it. The next
    incremental build compares its own with these to find the incidents to recompute (DuckDB only:
    other engines always build the attribution whole). -#}
{{ config(enabled=(target.type == 'duckdb')) }}
{{ attribution_incident_fingerprints() }}
