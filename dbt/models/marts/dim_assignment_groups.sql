{#- One row per assignment group (team) that owns at least one change, with its change outcome
    counts and its change success score. The score and its component counts are
    rpt_change_success_score's all-time rows (period_grain 'all'): the metric is defined once,
    there (weights: seeds/change_success_score_weights.csv); this model adds the failed-change
    count and the last change opened. -#}
with

changes as (

    select * from {{ ref('fct_changes') }}

),

scores as (

    select * from {{ ref('rpt_change_success_score') }}
    where period_grain = 'all'

),

group_activity as (

    select
        assignment_group,
        count(*) filter (where is_failed) as failed_change_count,
        max(opened_at) as last_change_opened_at
    from changes
    where assignment_group is not null
    group by 1

),

final as (

    select
        scores.assignment_group,
        scores.change_count,
        scores.completed_count as completed_change_count,
        scores.successful_count as successful_change_count,
        scores.successful_with_issues_count as successful_with_issues_change_count,
        scores.unsuccessful_count as unsuccessful_change_count,
        coalesce(group_activity.failed_change_count, 0) as failed_change_count,
        scores.caused_p1_count,
        scores.caused_p2_count,
        scores.caused_p3_count,
        cast(scores.change_success_score as double) as change_success_score,
        group_activity.last_change_opened_at
    from scores
    left join group_activity
        on group_activity.assignment_group = scores.assignment_group

)

select * from final
