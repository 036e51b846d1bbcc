-- A returned row is an assignment group whose all-time change success score in
-- rpt_change_success_score differs from dim_assignment_groups.change_success_score: the metric
-- would have two definitions.
select
    scores.assignment_group,
    scores.change_success_score as report_score,
    groups.change_success_score as dimension_score
from {{ ref('rpt_change_success_score') }} as scores
inner join {{ ref('dim_assignment_groups') }} as groups
    on groups.assignment_group = scores.assignment_group
where scores.period_grain = 'all'
    and abs(scores.change_success_score - groups.change_success_score) > 0.000001
