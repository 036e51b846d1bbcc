{#- One row per (period_grain, period_start, assignment_group): the change success score with
    each component. period_grain `all` (period_start null) covers every change of the group (the
    figure dim_assignment_groups shows); `month` assigns a change by closed_at (else actual_end_at,
    for a change that caused incidents but is not closed). Outcome components count completed
    changes; incident components are the P1 / P2 / P3 incidents whose primary, counted cause is
    one of the group's changes. Weights: seeds/change_success_score_weights.csv (they carry their
    sign). Definition: models/docs.md (change_success_score). -#}
with

changes as (

    select * from {{ ref('fct_changes') }}

),

weights as (

    select * from {{ ref('change_success_score_weights') }}

),

weight_pivot as (

    select
        {%- for component in ['successful', 'successful_with_issues', 'unsuccessful', 'caused_p1', 'caused_p2', 'caused_p3'] %}
        coalesce(max(case when component = '{{ component }}' then cast(weight as double) end), 0) as {{ component }}_weight
        {{- ',' if not loop.last }}
        {%- endfor %}
    from weights

),

periodised as (

    select
        'all' as period_grain,
        cast(null as date) as period_start,
        changes.*
    from changes
    where assignment_group is not null
    union all
    select
        'month' as period_grain,
        {{ period_start("'month'", 'coalesce(changes.closed_at, changes.actual_end_at)') }} as period_start,
        changes.*
    from changes
    where assignment_group is not null
        and coalesce(changes.closed_at, changes.actual_end_at) is not null

),

components as (

    select
        period_grain,
        period_start,
        assignment_group,
        count(*) as change_count,
        count(*) filter (where is_completed) as completed_count,
        count(*) filter (where is_completed and is_clean_success) as successful_count,
        count(*) filter (where is_completed and outcome = 'successful_with_issues') as successful_with_issues_count,
        count(*) filter (where is_completed and is_failed_itil) as unsuccessful_count,
        cast(coalesce(sum(caused_p1_count), 0) as bigint) as caused_p1_count,
        cast(coalesce(sum(caused_p2_count), 0) as bigint) as caused_p2_count,
        cast(coalesce(sum(caused_p3_count), 0) as bigint) as caused_p3_count
    from periodised
    group by 1, 2, 3

),

final as (

    select
        components.period_grain,
        components.period_start,
        components.assignment_group,
        components.change_count,
        components.completed_count,
        components.successful_count,
        components.successful_with_issues_count,
        components.unsuccessful_count,
        components.caused_p1_count,
        components.caused_p2_count,
        components.caused_p3_count,
        components.successful_count * weight_pivot.successful_weight as successful_points,
        components.successful_with_issues_count * weight_pivot.successful_with_issues_weight as successful_with_issues_points,
        components.unsuccessful_count * weight_pivot.unsuccessful_weight as unsuccessful_points,
        components.caused_p1_count * weight_pivot.caused_p1_weight
            + components.caused_p2_count * weight_pivot.caused_p2_weight
            + components.caused_p3_count * weight_pivot.caused_p3_weight as caused_incident_points,
        components.successful_count * weight_pivot.successful_weight
            + components.successful_with_issues_count * weight_pivot.successful_with_issues_weight
            + components.unsuccessful_count * weight_pivot.unsuccessful_weight
            + components.caused_p1_count * weight_pivot.caused_p1_weight
            + components.caused_p2_count * weight_pivot.caused_p2_weight
            + components.caused_p3_count * weight_pivot.caused_p3_weight as change_success_score
    from components
    cross join weight_pivot

)

select * from final
