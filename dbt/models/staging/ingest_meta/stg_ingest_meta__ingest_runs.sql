{#- One row per loader run over one delivered file (ingest database, meta.ingest_run). -#}
with

source as (

    select * from {{ source('ingest_meta', 'ingest_run') }}

),

renamed as (

    select
        -- ids
        cast(run_id as {{ dbt.type_string() }}) as ingest_run_id,
        pipeline_run_id,
        file_sha256,

        -- strings
        source_system,
        source_table,
        file_name,
        file_path,
        landed_path,
        lower(status) as status,
        {{ list_to_text('warnings', '; ') }} as warnings,
        error,

        -- numerics
        rows_read,
        inserted,
        updated,
        unchanged,
        superseded,
        quarantined,
        cast(duration_seconds as double) as duration_seconds,

        -- timestamps
        cast(started_at as timestamp) as started_at,
        cast(finished_at as timestamp) as finished_at

    from source

)

select * from renamed
