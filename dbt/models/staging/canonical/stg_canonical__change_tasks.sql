{#- One row per change task. -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'change_task'),
        partition_by=['source_system', 'source_id'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last'
    ) }}

),

renamed as (

    select
        -- ids
        source_system || ':' || source_id as change_task_id,
        source_system || ':' || trim(change_ref) as change_id,
        source_system,
        source_id,
        number,

        -- strings
        trim(change_ref) as change_ref,
        task_type_raw,
        state_raw,
        close_code_raw,
        title,
        assignment_group,
        nullif(trim(ci_ref), '') as ci_ref,

        -- timestamps
        cast(planned_start_at as timestamp) as planned_start_at,
        cast(planned_end_at as timestamp) as planned_end_at,
        cast(actual_start_at as timestamp) as actual_start_at,
        cast(actual_end_at as timestamp) as actual_end_at,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
