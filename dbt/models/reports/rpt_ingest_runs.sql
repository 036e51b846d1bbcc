{#- One row per loader run over one delivered file, newest first in the app: what was read,
    loaded, updated and quarantined, and how long it took. -#}
with

ingest_runs as (

    select * from {{ ref('stg_ingest_meta__ingest_runs') }}

),

final as (

    select
        ingest_run_id,
        pipeline_run_id,
        source_system,
        source_table,
        file_name,
        file_sha256,
        status,
        rows_read,
        inserted,
        updated,
        unchanged,
        superseded,
        quarantined,
        warnings,
        error,
        started_at,
        finished_at,
        duration_seconds,
        row_number() over (
            partition by source_system, file_name
            order by started_at desc, ingest_run_id desc
        ) = 1 as is_latest_for_file
    from ingest_runs

)

select * from final
