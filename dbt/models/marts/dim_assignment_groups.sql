{#- One row per assignment group (team) that owns at least one change, with its change outcome
    counts and its change success score (weights: seeds/change_success_score_weights.csv). -#}
with

changes as (

    select * from {{ ref('fct_changes') }}

),

weights as (

    select * from {{ ref('change_success_score_weights') }}

),

group_counts as (

    select
        assignment_group,
        count(*) as change_count,
        count(*) filter (where is_completed) as completed_change_count,
        count(*) filter (where is_completed and outcome = 'successful') as successful_change_count,
        count(*) filter (where is_completed and outcome = 'successful_with_issues')
            as successful_with_issues_change_count,
        count(*) filter (where is_completed and outcome = 'unsuccessful') as unsuccessful_change_count,
        count(*) filter (where is_failed) as failed_change_count,
        cast(coalesce(sum(caused_p1_count), 0) as bigint) as caused_p1_count,
        cast(coalesce(sum(caused_p2_count), 0) as bigint) as caused_p2_count,
        cast(coalesce(sum(caused_p3_count), 0) as bigint) as caused_p3_count,
        max(opened_at) as last_change_opened_at
    from changes
    where assignment_group is not null
    group by 1

),

weight_pivot as (

    select
        max(weight) filter (where component = 'successful') as successful_weight,
        max(weight) filter (where component = 'successful_with_issues') as successful_with_issues_weight,
        max(weight) filter (where component = 'unsuccessful') as unsuccessful_weight,
        max(weight) filter (where component = 'caused_p1') as caused_p1_weight,
        max(weight) filter (where component = 'caused_p2') as caused_p2_weight,
        max(weight) filter (where component = 'caused_p3') as caused_p3_weight
    from weights

),

final as (

    select
        group_counts.assignment_group,
        group_counts.change_count,
        group_counts.completed_change_count,
        group_counts.successful_change_count,
        group_counts.successful_with_issues_change_count,
        group_counts.unsuccessful_change_count,
        group_counts.failed_change_count,
        group_counts.caused_p1_count,
        group_counts.caused_p2_count,
        group_counts.caused_p3_count,
        cast(
            group_counts.successful_change_count * weight_pivot.successful_weight
            + group_counts.successful_with_issues_change_count * weight_pivot.successful_with_issues_weight
            + group_counts.unsuccessful_change_count * weight_pivot.unsuccessful_weight
            + group_counts.caused_p1_count * weight_pivot.caused_p1_weight
            + group_counts.caused_p2_count * weight_pivot.caused_p2_weight
            + group_counts.caused_p3_count * weight_pivot.caused_p3_weight
            as double
        ) as change_success_score,
        group_counts.last_change_opened_at
    from group_counts
    cross join weight_pivot

)

select * from final
