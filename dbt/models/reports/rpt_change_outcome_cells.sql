{#- One row per (period_grain, period_start, change_type, risk, service_name, assignment_group,
    source_system, primary CI) with a completed change closed in the period: the additive outcome
    counts of rpt_change_kpis (by closed_at), at the grain of every sidebar filter at once. A page
    that combines filters, or breaks one filter down by another (a service's changes by type), sums
    these counts over the cells it selects and divides the declared numerator by the declared
    denominator, as rpt_kpi_strip_weekly does with weeks; medians are not additive and are not here
    (DECISIONLOG D45). A missing value is '(none)', as in rpt_change_kpis; the singular test
    assert_outcome_cells_reconcile_with_kpis checks that the cells add up to rpt_change_kpis. -#}
with

changes as (

    select * from {{ ref('fct_changes') }}

),

grains as (

    select * from (
        values {% for grain in var('kpi_period_grains') %}('{{ grain }}'){{ ', ' if not loop.last }}{% endfor %}
    ) as grains (period_grain)

),

completed as (

    select
        change_id,
        closed_at,
        outcome,
        is_successful,
        is_clean_success,
        is_failed_itil,
        is_backed_out,
        is_failed,
        is_failed_incident,
        coalesce(change_type, '(none)') as change_type,
        coalesce(risk, '(none)') as risk,
        coalesce(service_name, '(none)') as service_name,
        coalesce(assignment_group, '(none)') as assignment_group,
        coalesce(source_system, '(none)') as source_system,
        primary_ci_id,
        coalesce(primary_ci_name, '(none)') as primary_ci_name
    from changes
    where is_completed
        and closed_at is not null

),

cells as (

    select
        grains.period_grain,
        {{ period_start('grains.period_grain', 'completed.closed_at') }} as period_start,
        completed.change_type,
        completed.risk,
        completed.service_name,
        completed.assignment_group,
        completed.source_system,
        completed.primary_ci_id,
        completed.primary_ci_name,
        count(*) as completed_count,
        count(*) filter (where completed.is_clean_success) as successful_count,
        count(*) filter (where completed.outcome = 'successful_with_issues') as successful_with_issues_count,
        count(*) filter (where completed.is_failed_itil) as unsuccessful_count,
        count(*) filter (where completed.is_backed_out) as backed_out_count,
        count(*) filter (where completed.is_failed) as failed_count,
        count(*) filter (where completed.is_successful) as change_success_numerator,
        count(*) filter (
            where completed.is_successful and completed.is_failed_incident
        ) as successful_incident_caused_count
    from completed
    cross join grains
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

)

select * from cells
