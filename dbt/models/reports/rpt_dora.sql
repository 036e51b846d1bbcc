{#- One row per (period_grain, period_start) from the first to the last deployment period: the
    DORA keys, each with its numerator / denominator and its band from
    seeds/dora_performance_bands.csv (band set: var('dora_band_set')). Deployments: in a period
    with deployment records of delivery tools (fct_deployments.is_counted_deployment), those
    records, by deployed_at, with their lead times; in any other period the changes that ended
    successfully (successful or successful with issues) on a production CI (or a CI whose
    environment is unknown: fct_production_changes), by actual_end_at, with their lead times to
    production (deployment_source says which). Change fail rate, recovery and rework are the change requests'
    (ITIL) view. Lead time needs dates, not outcomes: a closed change without a usable close code
    still has a lead time. -#}
{%- set band_metrics = [
    ('deployment_frequency', 'deployments_per_day'),
    ('lead_time_for_changes', 'lead_time_for_changes_median_hours'),
    ('change_fail_rate', 'change_fail_rate'),
    ('failed_deployment_recovery_time', 'failed_deployment_recovery_median_hours'),
] -%}
with

production_changes as (

    -- the change requests DORA counts, their recovery times and rework flags: defined once there
    select * from {{ ref('fct_production_changes') }}

),

deployments as (

    select * from {{ ref('fct_deployments') }}

),

bands as (

    select * from {{ ref('dora_performance_bands') }}
    where band_set = '{{ var("dora_band_set") }}'

),

grains as (

    select * from (values ('week', 7.0), ('month', null)) as grains (period_grain, fixed_days)

),

recoveries as (

    select
        change_id,
        actual_end_at,
        failed_deployment_recovery_hours as recovery_hours
    from production_changes
    where is_completed
        and is_failed

),

deployment_records as (

    select
        deployment_id,
        deployed_at,
        lead_time_hours
    from deployments
    where is_counted_deployment

),

deployment_times as (

    select actual_end_at as deployed_at from production_changes
    union all
    select deployed_at from deployment_records

),

spine as (

    {%- for grain in ['week', 'month'] %}
    select
        '{{ grain }}' as period_grain,
        period_start
    from (
        {{ period_spine(grain, '(select min(deployed_at) from deployment_times)', '(select max(deployed_at) from deployment_times)') }}
    ) as periods_{{ grain }}
    where period_start is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

change_periods as (

    select
        grains.period_grain,
        {{ period_start('grains.period_grain', 'production_changes.actual_end_at') }} as period_start,
        production_changes.*
    from production_changes
    cross join grains

),

period_metrics as (

    select
        change_periods.period_grain,
        change_periods.period_start,
        count(*) filter (where is_successful) as deployment_count,
        count(distinct cast(actual_end_at as date)) filter (where is_successful) as deployment_days,
        {{ percentile('lead_time_to_production_hours', 0.5) }} as lead_time_for_changes_median_hours,
        count(lead_time_to_production_hours) as lead_time_for_changes_count,
        count(*) filter (where is_completed) as completed_count,
        count(*) filter (where is_completed and is_failed_incident) as incident_failed_count,
        count(*) filter (where is_completed and is_rework) as rework_count
    from change_periods
    group by 1, 2

),

record_metrics as (

    select
        grains.period_grain,
        {{ period_start('grains.period_grain', 'deployment_records.deployed_at') }} as period_start,
        count(*) as deployment_count,
        count(distinct cast(deployed_at as date)) as deployment_days,
        {{ percentile('lead_time_hours', 0.5) }} as lead_time_for_changes_median_hours,
        count(lead_time_hours) as lead_time_for_changes_count
    from deployment_records
    cross join grains
    group by 1, 2

),

recovery_metrics as (

    select
        grains.period_grain,
        {{ period_start('grains.period_grain', 'recoveries.actual_end_at') }} as period_start,
        {{ percentile('recovery_hours', 0.5) }} as failed_deployment_recovery_median_hours,
        count(recovery_hours) as recovered_failure_count
    from recoveries
    cross join grains
    group by 1, 2

),

joined as (

    select
        spine.period_grain,
        spine.period_start,
        cast(coalesce(
            grains.fixed_days,
            {{ dbt.datediff('spine.period_start', dbt.dateadd('month', 1, 'spine.period_start'), 'day') }}
        ) as double) as days_in_period,
        case
            when coalesce(record_metrics.deployment_count, 0) > 0 then 'deployment_records'
            when coalesce(period_metrics.deployment_count, 0) > 0 then 'change_requests'
        end as deployment_source,
        coalesce(record_metrics.deployment_count, 0) as deployment_record_count,
        coalesce(period_metrics.deployment_count, 0) as change_deployment_count,
        coalesce(record_metrics.deployment_count, period_metrics.deployment_count, 0) as deployment_count,
        coalesce(record_metrics.deployment_days, period_metrics.deployment_days, 0) as deployment_days,
        case
            when record_metrics.deployment_count is not null then record_metrics.lead_time_for_changes_median_hours
            else period_metrics.lead_time_for_changes_median_hours
        end as lead_time_for_changes_median_hours,
        coalesce(record_metrics.lead_time_for_changes_count, period_metrics.lead_time_for_changes_count, 0)
            as lead_time_for_changes_count,
        coalesce(period_metrics.completed_count, 0) as completed_count,
        coalesce(period_metrics.incident_failed_count, 0) as incident_failed_count,
        coalesce(period_metrics.rework_count, 0) as rework_count,
        recovery_metrics.failed_deployment_recovery_median_hours,
        coalesce(recovery_metrics.recovered_failure_count, 0) as recovered_failure_count
    from spine
    inner join grains
        on grains.period_grain = spine.period_grain
    left join period_metrics
        on period_metrics.period_grain = spine.period_grain
        and period_metrics.period_start = spine.period_start
    left join recovery_metrics
        on recovery_metrics.period_grain = spine.period_grain
        and recovery_metrics.period_start = spine.period_start
    left join record_metrics
        on record_metrics.period_grain = spine.period_grain
        and record_metrics.period_start = spine.period_start

),

measured as (

    select
        *,
        deployment_count / days_in_period as deployments_per_day,
        deployment_days / (days_in_period / 7.0) as deployment_days_per_week,
        {{ safe_rate('incident_failed_count', 'completed_count') }} as change_fail_rate,
        {{ safe_rate('rework_count', 'completed_count') }} as rework_rate
    from joined

),

band_matches as (

    -- every band a period's metric value falls in; a correlated "order by band_rank limit 1"
    -- subquery would read shorter, but Spark runs only aggregated correlated subqueries
    {%- for metric, column in band_metrics %}
    select
        measured.period_grain,
        measured.period_start,
        '{{ metric }}' as metric,
        bands.band,
        bands.band_rank
    from measured
    inner join bands
        on bands.metric = '{{ metric }}'
        and measured.{{ column }} >= coalesce(bands.min_value, measured.{{ column }})
        and measured.{{ column }} < coalesce(bands.max_value, measured.{{ column }} + 1)
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

first_bands as (

    -- per period and metric the matching band of the lowest band_rank
    select
        period_grain,
        period_start,
        metric,
        {{ value_at_min('band', 'band_rank') }} as band
    from band_matches
    group by 1, 2, 3

),

banded as (

    select
        measured.*,
        {%- for metric, column in band_metrics %}
        {{ metric }}_bands.band as {{ metric }}_band{{ ',' if not loop.last }}
        {%- endfor %}
    from measured
    {%- for metric, column in band_metrics %}
    left join first_bands as {{ metric }}_bands
        on {{ metric }}_bands.period_grain = measured.period_grain
        and {{ metric }}_bands.period_start = measured.period_start
        and {{ metric }}_bands.metric = '{{ metric }}'
    {%- endfor %}

),

final as (

    select
        period_grain,
        period_start,
        days_in_period,
        deployment_source,
        deployment_count,
        deployment_record_count,
        change_deployment_count,
        deployments_per_day,
        deployment_days,
        deployment_days_per_week,
        deployment_frequency_band,
        lead_time_for_changes_median_hours,
        lead_time_for_changes_count,
        lead_time_for_changes_band,
        incident_failed_count as change_fail_numerator,
        completed_count as change_fail_denominator,
        change_fail_rate,
        change_fail_rate_band,
        failed_deployment_recovery_median_hours,
        recovered_failure_count,
        failed_deployment_recovery_time_band,
        rework_count as rework_numerator,
        completed_count as rework_denominator,
        rework_rate
    from banded

)

select * from final
