{#- One row per (period_grain, period_start): the change backlog as of each period's end (the
    next period's start, or "now" for the current period), reconstructed from opened_at and the
    time each change left the backlog (closed_at; for a closed or canceled change without
    closed_at, its actual end, else its last update). Open changes by age bucket (whole days since
    opened_at: 0-1, 2-5, 6-30, 31-90, > 90), overdue changes (open, planned start in the past, not
    yet implementing at the period end), and the period's opened, closed and growth (opened -
    closed). The join of changes to period ends is a pure inequality (interval) join against a
    small spine, which DuckDB runs as an IEJoin; its output is the sum of the changes' lifetimes
    in periods. -#}
{%- set far_future = "cast('9999-12-31 00:00:00' as timestamp)" -%}
{#- var('backlog_period_grains') (default week, month) and var('backlog_since') (default: the first
    opened change) bound the spine; unit tests narrow them. -#}
{%- set grains = var('backlog_period_grains', ['week', 'month']) -%}
{%- set since = var('backlog_since', none) -%}
with

changes as (

    select * from {{ ref('fct_changes') }}

),

now_at as (

    select {{ as_of_timestamp() }} as as_of

),

lifetimes as (

    select
        changes.change_id,
        changes.opened_at,
        coalesce(
            changes.closed_at,
            case when changes.state_category in ('closed', 'canceled')
                then coalesce(changes.actual_end_at, changes.updated_at, changes.opened_at) end
        ) as left_backlog_at,
        changes.planned_start_at,
        changes.actual_start_at
    from changes
    cross join now_at
    where changes.opened_at is not null
        and changes.opened_at <= now_at.as_of

),

{% for grain in grains %}
{{ grain }}_spine as (

    {{ period_spine(grain, ("cast('" ~ since ~ "' as timestamp)") if since else '(select min(opened_at) from lifetimes)', '(select as_of from now_at)') }}

),
{% endfor %}

periods as (

    {%- for grain in grains %}
    select
        '{{ grain }}' as period_grain,
        {{ grain }}_spine.period_start,
        least(cast({{ dbt.dateadd(grain, 1, grain ~ '_spine.period_start') }} as timestamp), now_at.as_of) as period_end_at,
        cast({{ dbt.dateadd(grain, 1, grain ~ '_spine.period_start') }} as timestamp) as next_period_start_at
    from {{ grain }}_spine
    cross join now_at
    {#- a period that begins at "now" (a build at 00:00 on the 1st) has not begun: it holds nothing #}
    where cast({{ grain }}_spine.period_start as timestamp) < now_at.as_of
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

open_at_end as (

    select
        periods.period_grain,
        periods.period_start,
        lifetimes.change_id,
        floor({{ hours_between('lifetimes.opened_at', 'periods.period_end_at') }} / 24) as age_days,
        lifetimes.planned_start_at < periods.period_end_at
            and coalesce(lifetimes.actual_start_at, {{ far_future }}) >= periods.period_end_at as is_overdue
    from periods
    inner join lifetimes
        on lifetimes.opened_at < periods.period_end_at
        and coalesce(lifetimes.left_backlog_at, {{ far_future }}) > periods.period_end_at

),

backlog as (

    select
        period_grain,
        period_start,
        count(*) as open_count,
        count(*) filter (where age_days <= 1) as open_0_1_days_count,
        count(*) filter (where age_days between 2 and 5) as open_2_5_days_count,
        count(*) filter (where age_days between 6 and 30) as open_6_30_days_count,
        count(*) filter (where age_days between 31 and 90) as open_31_90_days_count,
        count(*) filter (where age_days > 90) as open_over_90_days_count,
        count(*) filter (where is_overdue) as overdue_count
    from open_at_end
    group by 1, 2

),

opened as (

    select
        periods.period_grain,
        periods.period_start,
        count(*) as opened_count
    from periods
    inner join lifetimes
        on lifetimes.opened_at >= cast(periods.period_start as timestamp)
        and lifetimes.opened_at < periods.next_period_start_at
    group by 1, 2

),

closed as (

    select
        periods.period_grain,
        periods.period_start,
        count(*) as closed_count
    from periods
    inner join lifetimes
        on lifetimes.left_backlog_at >= cast(periods.period_start as timestamp)
        and lifetimes.left_backlog_at < periods.period_end_at
    group by 1, 2

),

final as (

    select
        periods.period_grain,
        periods.period_start,
        periods.period_end_at,
        periods.period_end_at < periods.next_period_start_at as is_current_period,
        coalesce(backlog.open_count, 0) as open_count,
        coalesce(backlog.open_0_1_days_count, 0) as open_0_1_days_count,
        coalesce(backlog.open_2_5_days_count, 0) as open_2_5_days_count,
        coalesce(backlog.open_6_30_days_count, 0) as open_6_30_days_count,
        coalesce(backlog.open_31_90_days_count, 0) as open_31_90_days_count,
        coalesce(backlog.open_over_90_days_count, 0) as open_over_90_days_count,
        coalesce(backlog.overdue_count, 0) as overdue_count,
        coalesce(opened.opened_count, 0) as opened_count,
        coalesce(closed.closed_count, 0) as closed_count,
        coalesce(opened.opened_count, 0) - coalesce(closed.closed_count, 0) as backlog_growth
    from periods
    left join backlog
        on backlog.period_grain = periods.period_grain
        and backlog.period_start = periods.period_start
    left join opened
        on opened.period_grain = periods.period_grain
        and opened.period_start = periods.period_start
    left join closed
        on closed.period_grain = periods.period_grain
        and closed.period_start = periods.period_start

)

select * from final
