{#- One row per change: renamed, cast and mapped through the seeds. Normalised values a
    connector already filled (change_type, outcome, risk; read as connector_*) win over the seeds. -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'change'),
        partition_by=['source_system', 'number'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last, source_id desc',
        where='number is not null'
    ) }}

),

mapped as (

    select
        latest.*,
        latest.source_system || ':' || latest.number as change_id,
        lower(nullif(trim(latest.change_type), '')) as connector_change_type,
        lower(nullif(trim(latest.outcome), '')) as connector_outcome,
        lower(nullif(trim(latest.risk), '')) as connector_risk,
        {{ seed_lookup_value('type_map', 'change_type') }} as mapped_change_type,
        {{ seed_lookup_value('state_map', 'state') }} as mapped_state,
        {{ seed_lookup_value('state_map', 'state_category') }} as mapped_state_category,
        nullif(trim({{ seed_lookup_value('state_map', 'implied_outcome') }}), '') as state_implied_outcome,
        {{ seed_lookup_value('outcome_map', 'outcome') }} as mapped_outcome,
        {{ seed_lookup_value('outcome_map', 'is_backed_out') }} as mapped_is_backed_out,
        {{ seed_lookup_value('risk_map', 'risk') }} as mapped_risk,
        {{ seed_lookup_value('priority_map', 'priority') }} as mapped_priority,
        {{ regex_matches(
            "lower(coalesce(latest.close_code_raw, ''))", "'roll(ed)?[ -]?back|back(ed)?[ -]?out'"
        ) }} as close_code_says_backed_out
    from latest
    {{ seed_lookup_join('change_type_mapping', 'type_map', 'latest.source_system', 'latest.change_type_raw', 'change_type_raw') }}
    {{ seed_lookup_join('change_state_mapping', 'state_map', 'latest.source_system', 'latest.state_raw', 'state_raw') }}
    {{ seed_lookup_join('change_outcome_mapping', 'outcome_map', 'latest.source_system', 'latest.close_code_raw', 'close_code_raw') }}
    {{ seed_lookup_join('risk_mapping', 'risk_map', 'latest.source_system', 'latest.risk_raw', 'risk_raw') }}
    {{ seed_lookup_join('priority_mapping', 'priority_map', 'latest.source_system', 'latest.priority_raw', 'priority_raw') }}

),

state_resolved as (

    select
        *,
        coalesce(
            mapped_state_category,
            case
                when connector_outcome = 'canceled' then 'canceled'
                when connector_outcome is not null or closed_at is not null then 'closed'
                when actual_start_at is not null then 'in_progress'
                else 'open'
            end
        ) as resolved_state_category
    from mapped

),

outcome_resolved as (

    select
        *,
        case
            when connector_outcome is not null then connector_outcome
            when resolved_state_category = 'canceled' then 'canceled'
            when mapped_outcome is not null then mapped_outcome
            when close_code_says_backed_out then 'unsuccessful'
            when state_implied_outcome is not null then state_implied_outcome
            when resolved_state_category = 'closed' then 'unknown'
        end as resolved_outcome
    from state_resolved

),

renamed as (

    select
        -- ids
        change_id,
        source_system,
        source_id,
        number,

        -- strings
        title,
        coalesce(
            connector_change_type,
            mapped_change_type,
            case when nullif(trim(change_type_raw), '') is not null then 'other' end
        ) as change_type,
        change_type_raw,
        coalesce(mapped_state, lower(nullif(trim(state_raw), ''))) as state,
        resolved_state_category as state_category,
        state_raw,
        resolved_outcome as outcome,
        close_code_raw,
        coalesce(connector_risk, mapped_risk) as risk,
        risk_raw,
        case lower(trim(approval_raw))
            when 'approved' then 'approved'
            when 'requested' then 'requested'
            when 'not yet requested' then 'not_requested'
            when 'rejected' then 'rejected'
            when 'not required' then 'not_required'
        end as approval_status,
        approval_raw,
        category,
        requested_by,
        assignment_group,
        assigned_to,
        nullif(trim(primary_ci_ref), '') as primary_ci_ref,
        nullif(trim(service_ref), '') as service_ref,
        nullif(trim(release_ref), '') as release_ref,
        model_raw,
        coalesce(origin, case when source_system = 'form' then 'form' else 'itsm' end) as origin,

        -- numerics
        coalesce(mapped_priority, {{ leading_integer('priority_raw') }}) as priority,
        {{ leading_integer('impact_raw') }} as impact,

        -- booleans
        coalesce(
            resolved_outcome = 'unsuccessful'
            and (mapped_is_backed_out or close_code_says_backed_out),
            false
        ) as is_backed_out,
        coalesce({{ parse_boolean('unauthorized_raw') }}, false) as is_flagged_unauthorized,
        {{ parse_boolean('cab_required_raw') }} as is_cab_required,
        nullif(trim(implementation_plan), '') is not null as has_implementation_plan,
        nullif(trim(backout_plan), '') is not null as has_backout_plan,
        nullif(trim(test_plan), '') is not null as has_test_plan,

        -- timestamps
        cast(opened_at as timestamp) as opened_at,
        cast(approved_at as timestamp) as approved_at,
        cast(planned_start_at as timestamp) as planned_start_at,
        cast(planned_end_at as timestamp) as planned_end_at,
        cast(actual_start_at as timestamp) as actual_start_at,
        cast(actual_end_at as timestamp) as actual_end_at,
        cast(closed_at as timestamp) as closed_at,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at

    from outcome_resolved

)

select * from renamed
