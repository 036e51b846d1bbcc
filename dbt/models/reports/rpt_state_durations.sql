{#- One row per (record_type, record_subtype, state): the time changes and incidents spent in each
    state, from their state history (Jira changelog, ServiceNow audit export): a stay lasts from
    the transition into the state to the record's next transition. The current state (no next
    transition) is left out, so open records do not shorten the statistics. record_subtype is the
    change type (standard, normal, emergency, other) or the incident priority (P1..P5), `all`
    sums every subtype. Median and p90 in hours. -#}
with

histories as (

    select * from {{ ref('stg_canonical__state_histories') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

stays as (

    select
        record_id,
        record_type,
        to_state as state,
        changed_at as entered_at,
        lead(changed_at) over (partition by record_type, record_id order by changed_at, state_history_id) as left_at
    from histories
    where to_state is not null

),

typed as (

    select
        stays.record_type,
        coalesce(
            case stays.record_type
                when 'change' then changes.change_type
                when 'incident' then 'P' || cast(incidents.priority as {{ dbt.type_string() }})
            end,
            'unknown'
        ) as record_subtype,
        lower(stays.state) as state,
        stays.record_id,
        {{ hours_between('stays.entered_at', 'stays.left_at') }} as hours_in_state
    from stays
    left join changes
        on stays.record_type = 'change'
        and changes.change_id = stays.record_id
    left join incidents
        on stays.record_type = 'incident'
        and incidents.incident_id = stays.record_id
    where stays.left_at is not null

),

scoped as (

    select record_type, record_subtype, state, record_id, hours_in_state from typed
    union all
    select record_type, 'all' as record_subtype, state, record_id, hours_in_state from typed

),

final as (

    select
        record_type || '|' || record_subtype || '|' || state as state_duration_id,
        record_type,
        record_subtype,
        state,
        count(*) as stay_count,
        count(distinct record_id) as record_count,
        cast({{ percentile('hours_in_state', 0.5) }} as double) as median_hours,
        cast({{ percentile('hours_in_state', 0.9) }} as double) as p90_hours,
        cast({{ exact_sum('hours_in_state') }} as double) as total_hours
    from scoped
    group by 1, 2, 3, 4

)

select * from final
