{#- One row per quarantined source row: the latest quarantine of each (source system, file, row)
    (a file ingested twice quarantines its bad rows twice). -#}
with

source as (

    select * from {{ source('ingest_meta', 'quarantine') }}

),

latest as (

    select *
    from (
        select
            source.*,
            row_number() over (
                partition by source_system, file_name, source_row
                order by quarantined_at desc nulls last, run_id desc
            ) as quarantine_rank
        from source
    ) as ranked
    where quarantine_rank = 1

),

renamed as (

    select
        -- ids
        coalesce(source_system, '?') || ':' || coalesce(file_name, '?') || ':'
            || coalesce(cast(source_row as {{ dbt.type_string() }}), '?') as quarantined_row_id,
        cast(run_id as {{ dbt.type_string() }}) as ingest_run_id,

        -- strings
        source_system,
        file_name,
        lower(entity) as entity,
        record_key,
        reason,
        {{ list_to_text('reasons', '; ') }} as reasons,
        raw_record,

        -- numerics
        source_row,

        -- timestamps
        cast(quarantined_at as timestamp) as quarantined_at

    from latest

)

select * from renamed
