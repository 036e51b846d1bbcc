{#- One row per quarantined source row (the latest quarantine of each source system, file and row):
    the rows the loader could not use, and why, for the Data quality page. -#}
with

quarantined_rows as (

    select * from {{ ref('stg_ingest_meta__quarantined_rows') }}

),

final as (

    select
        quarantined_row_id,
        ingest_run_id,
        source_system,
        file_name,
        entity,
        source_row,
        record_key,
        reason,
        reasons,
        raw_record,
        quarantined_at
    from quarantined_rows

)

select * from final
