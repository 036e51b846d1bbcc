{#- The change KPIs of rpt_change_kpis and rpt_change_kpis_to_date, written once. `to_date` false: one
    row per (period_grain, period_start, dimension, dimension_value), every period (rpt_change_kpis).
    `to_date` true: only the period before the one "now" (macro as_of_timestamp) falls in, cut to the
    days of the current period begun by "now" (a month to date of 4 days is compared with the first 4
    days of the month before; a week with its first days), every event filtered by its own timestamp,
    plus the window columns current_period_start, compared_days and compare_end
    (rpt_change_kpis_to_date; DECISIONLOG D44). -#}
{% macro change_kpis(to_date=false) -%}
with

changes as (

    select * from {{ ref('fct_changes') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

grains as (

    select * from (
        values {% for grain in var('kpi_period_grains') %}('{{ grain }}'){{ ', ' if not loop.last }}{% endfor %}
    ) as grains (period_grain)

),
{%- if to_date %}

current_periods as (

    {#- the period "now" falls in, and the days of it begun by "now" (a begun day counts; at least one),
        as the app labels it: "month to date (4 of 31 days)" -#}
    select
        grains.period_grain,
        {{ period_start('grains.period_grain', as_of_timestamp()) }} as current_period_start,
        greatest(1, cast(ceil(
            cast({{ dbt.datediff(period_start('grains.period_grain', as_of_timestamp()), as_of_timestamp(), 'second') }} as double)
            / 86400
        ) as bigint)) as compared_days
    from grains

),

to_date_windows as (

    {#- the period before the current one, cut to the same days: [compare_start, compare_end) -#}
    select
        period_grain,
        current_period_start,
        compared_days,
        case period_grain
            when 'week' then {{ dbt.dateadd('day', -7, 'current_period_start') }}
            else {{ dbt.dateadd('month', -1, 'current_period_start') }}
        end as compare_start
    from current_periods

),

compare_windows as (

    select
        period_grain,
        current_period_start,
        compared_days,
        cast(compare_start as date) as compare_start,
        cast(least(
            {{ dbt.dateadd('day', 'compared_days', 'compare_start') }},
            current_period_start
        ) as date) as compare_end
    from to_date_windows

),
{%- endif %}

change_attributes as (

    {#- every change once, with only the columns the metrics read and its value of each dimension
        ('(none)' where it has none); each family groups it by every dimension at once (grouping sets,
        macro change_kpi_group_by). Formed as a change x dimension cross join (6x the changes) it held
        1.1-1.5 GB at 1M changes, and when a model beside it held the rest of DuckDB's 3GB it spilled
        33 GB and took 80-200 s instead of 3 (DECISIONLOG D55). -#}
    select
        changes.change_id,
        changes.change_type,
        changes.outcome,
        changes.opened_at,
        changes.closed_at,
        changes.actual_end_at,
        changes.is_completed,
        changes.is_delivered,
        changes.is_backed_out,
        changes.is_failed,
        changes.is_failed_itil,
        changes.is_successful,
        changes.is_clean_success,
        changes.is_failed_incident,
        changes.is_unauthorized,
        changes.is_outside_window,
        changes.is_window_checked,
        changes.is_emergency,
        changes.is_standard,
        changes.request_lead_time_hours,
        changes.lead_time_to_production_hours
        {%- for dimension, column in change_kpi_dimensions() if column %},
        coalesce(changes.{{ column }}, '(none)') as dimension__{{ dimension }}
        {%- endfor %}
    from changes

),

closed_metrics as (

    select
        grains.period_grain,
        {{ period_start('grains.period_grain', 'change_attributes.closed_at') }} as period_start,
        {{ change_kpi_dimension_columns() }},
        count(*) as changes_closed,
        count(*) filter (where is_completed) as completed_count,
        {#- the clean-success predicate is fct_changes.is_clean_success, defined once there -#}
        count(*) filter (where is_completed and is_clean_success) as successful_count,
        count(*) filter (where is_completed and outcome = 'successful_with_issues') as successful_with_issues_count,
        count(*) filter (where is_completed and is_failed_itil) as unsuccessful_count,
        {#- the success predicate is fct_changes.is_successful, defined once there -#}
        count(*) filter (where is_completed and is_successful) as change_success_numerator,
        count(*) filter (where is_completed and is_backed_out) as backed_out_count,
        count(*) filter (where is_completed and is_failed) as failed_count,
        {#- the failed changes that are not unsuccessful: successful, yet they caused a P1-P3 incident; and
            those of them deployed (actual end) in an earlier period than the one they closed in -#}
        count(*) filter (where is_completed and is_successful and is_failed_incident) as successful_incident_caused_count,
        count(*) filter (
            where is_completed and is_successful and is_failed_incident
                and {{ period_start('grains.period_grain', 'change_attributes.actual_end_at') }}
                < {{ period_start('grains.period_grain', 'change_attributes.closed_at') }}
        ) as successful_incident_caused_deployed_before_count,
        count(*) filter (where is_completed and is_unauthorized) as unauthorized_count,
        count(*) filter (where is_completed and is_outside_window) as outside_window_count,
        count(*) filter (where is_completed and is_window_checked) as window_checked_count,
        {#- lead times need dates, not outcomes: every delivered (closed, not canceled) change -#}
        {{ percentile('case when is_delivered then request_lead_time_hours end', 0.5) }} as request_lead_time_median_hours,
        {{ percentile('case when is_delivered then request_lead_time_hours end', 0.9) }} as request_lead_time_p90_hours,
        count(*) filter (where is_delivered and request_lead_time_hours is not null) as request_lead_time_count
    {{ change_kpi_events('change_attributes', 'change_attributes.closed_at', to_date) }}
    {{ change_kpi_group_by(period_start('grains.period_grain', 'change_attributes.closed_at')) }}

),

opened_metrics as (

    select
        grains.period_grain,
        {{ period_start('grains.period_grain', 'change_attributes.opened_at') }} as period_start,
        {{ change_kpi_dimension_columns() }},
        count(*) as changes_opened,
        count(*) filter (where is_emergency) as emergency_count,
        count(*) filter (where is_standard) as standard_count,
        count(*) filter (where change_type = 'normal') as normal_count
    {{ change_kpi_events('change_attributes', 'change_attributes.opened_at', to_date) }}
    {{ change_kpi_group_by(period_start('grains.period_grain', 'change_attributes.opened_at')) }}

),

deployed_metrics as (

    select
        grains.period_grain,
        {{ period_start('grains.period_grain', 'change_attributes.actual_end_at') }} as period_start,
        {{ change_kpi_dimension_columns() }},
        count(*) filter (where is_completed) as deployed_completed_count,
        count(*) filter (where is_completed and is_failed_incident) as incident_failed_count,
        {#- incident-caused failures deployed in the period that closed in another one (or are not closed):
            the failed-change rate (by close date) counts them there -#}
        count(*) filter (
            where is_completed and is_failed_incident
                and (
                    change_attributes.closed_at is null
                    or {{ period_start('grains.period_grain', 'change_attributes.closed_at') }}
                    <> {{ period_start('grains.period_grain', 'change_attributes.actual_end_at') }}
                )
        ) as incident_failed_closed_other_period_count,
        {{ percentile('lead_time_to_production_hours', 0.5) }} as lead_time_to_production_median_hours,
        {{ percentile('lead_time_to_production_hours', 0.9) }} as lead_time_to_production_p90_hours,
        count(lead_time_to_production_hours) as lead_time_to_production_count
    {{ change_kpi_events('change_attributes', 'change_attributes.actual_end_at', to_date, 'change_attributes.is_delivered') }}
    {{ change_kpi_group_by(period_start('grains.period_grain', 'change_attributes.actual_end_at')) }}

),

caused_incidents as (

    select
        incidents.opened_at,
        incidents.priority,
        incidents.outage_hours,
        incidents.is_outage
        {%- for dimension, column in change_kpi_dimensions() if column %},
        change_attributes.dimension__{{ dimension }}
        {%- endfor %}
    from incidents
    inner join change_attributes
        on change_attributes.change_id = incidents.primary_cause_change_id
    where incidents.is_change_caused
        and incidents.opened_at is not null

),

incident_metrics as (

    select
        grains.period_grain,
        {{ period_start('grains.period_grain', 'caused_incidents.opened_at') }} as period_start,
        {{ change_kpi_dimension_columns() }},
        count(*) as change_caused_incident_count,
        count(*) filter (where priority <= 3) as change_caused_p1_p3_incident_count,
        {#- an outage is fct_incidents.is_outage (P1/P2), defined once there -#}
        coalesce({{ exact_sum('outage_hours') }} filter (where is_outage), 0) as change_caused_outage_hours
    {{ change_kpi_events('caused_incidents', 'caused_incidents.opened_at', to_date) }}
    {{ change_kpi_group_by(period_start('grains.period_grain', 'caused_incidents.opened_at')) }}

),

period_keys as (

    select period_grain, period_start, dimension, dimension_value from closed_metrics
    union
    select period_grain, period_start, dimension, dimension_value from opened_metrics
    union
    select period_grain, period_start, dimension, dimension_value from deployed_metrics
    union
    select period_grain, period_start, dimension, dimension_value from incident_metrics

),

key_ranges as (

    select
        period_grain,
        dimension,
        dimension_value,
        min(period_start) as first_period_start,
        max(period_start) as last_period_start
    from period_keys
    group by 1, 2, 3

),

period_spine as (

    {%- for grain in var('kpi_period_grains') %}
    select
        '{{ grain }}' as period_grain,
        spine.period_start
    from (
        {{ period_spine(grain,
            "(select min(first_period_start) from key_ranges where period_grain = '" ~ grain ~ "')",
            "(select max(last_period_start) from key_ranges where period_grain = '" ~ grain ~ "')") }}
    ) as spine
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

dense_keys as (

    select
        key_ranges.period_grain,
        period_spine.period_start,
        key_ranges.dimension,
        key_ranges.dimension_value
    from key_ranges
    inner join period_spine
        on period_spine.period_grain = key_ranges.period_grain
        and period_spine.period_start >= key_ranges.first_period_start
        and period_spine.period_start <= key_ranges.last_period_start

),

joined as (

    select
        period_keys.period_grain,
        period_keys.period_start,
        period_keys.dimension,
        period_keys.dimension_value,
        coalesce(opened_metrics.changes_opened, 0) as changes_opened,
        coalesce(closed_metrics.changes_closed, 0) as changes_closed,
        coalesce(closed_metrics.completed_count, 0) as completed_count,
        coalesce(closed_metrics.successful_count, 0) as successful_count,
        coalesce(closed_metrics.successful_with_issues_count, 0) as successful_with_issues_count,
        coalesce(closed_metrics.unsuccessful_count, 0) as unsuccessful_count,
        coalesce(closed_metrics.change_success_numerator, 0) as change_success_numerator,
        coalesce(closed_metrics.backed_out_count, 0) as backed_out_count,
        coalesce(closed_metrics.failed_count, 0) as failed_count,
        coalesce(closed_metrics.successful_incident_caused_count, 0) as successful_incident_caused_count,
        coalesce(closed_metrics.successful_incident_caused_deployed_before_count, 0)
            as successful_incident_caused_deployed_before_count,
        coalesce(closed_metrics.unauthorized_count, 0) as unauthorized_count,
        coalesce(closed_metrics.outside_window_count, 0) as outside_window_count,
        coalesce(closed_metrics.window_checked_count, 0) as window_checked_count,
        coalesce(opened_metrics.emergency_count, 0) as emergency_count,
        coalesce(opened_metrics.standard_count, 0) as standard_count,
        coalesce(opened_metrics.normal_count, 0) as normal_count,
        coalesce(deployed_metrics.deployed_completed_count, 0) as deployed_completed_count,
        coalesce(deployed_metrics.incident_failed_count, 0) as incident_failed_count,
        coalesce(deployed_metrics.incident_failed_closed_other_period_count, 0)
            as incident_failed_closed_other_period_count,
        coalesce(incident_metrics.change_caused_incident_count, 0) as change_caused_incident_count,
        coalesce(incident_metrics.change_caused_p1_p3_incident_count, 0) as change_caused_p1_p3_incident_count,
        coalesce(incident_metrics.change_caused_outage_hours, 0) as change_caused_outage_hours,
        closed_metrics.request_lead_time_median_hours,
        closed_metrics.request_lead_time_p90_hours,
        coalesce(closed_metrics.request_lead_time_count, 0) as request_lead_time_count,
        deployed_metrics.lead_time_to_production_median_hours,
        deployed_metrics.lead_time_to_production_p90_hours,
        coalesce(deployed_metrics.lead_time_to_production_count, 0) as lead_time_to_production_count
    from dense_keys as period_keys
    left join closed_metrics
        using (period_grain, period_start, dimension, dimension_value)
    left join opened_metrics
        using (period_grain, period_start, dimension, dimension_value)
    left join deployed_metrics
        using (period_grain, period_start, dimension, dimension_value)
    left join incident_metrics
        using (period_grain, period_start, dimension, dimension_value)

),

rated as (

    select
        period_grain,
        period_start,
        dimension,
        dimension_value,

        -- intake (by opened_at)
        changes_opened,
        emergency_count,
        standard_count,
        normal_count,
        {{ safe_rate('emergency_count', 'changes_opened') }} as emergency_ratio,
        {{ safe_rate('standard_count', 'changes_opened') }} as standard_share,
        {{ safe_rate('normal_count', 'changes_opened') }} as normal_share,

        -- outcomes (by closed_at)
        changes_closed,
        changes_opened - changes_closed as backlog_growth,
        completed_count,
        successful_count,
        successful_with_issues_count,
        unsuccessful_count,
        backed_out_count,
        change_success_numerator,
        {{ safe_rate('change_success_numerator', 'completed_count') }} as change_success_rate,
        {{ safe_rate('successful_count', 'completed_count') }} as clean_success_rate,
        {{ safe_rate('unsuccessful_count', 'completed_count') }} as unsuccessful_rate,
        {{ safe_rate('backed_out_count', 'completed_count') }} as backout_rate,
        failed_count,
        successful_incident_caused_count,
        successful_incident_caused_deployed_before_count,
        {{ safe_rate('failed_count', 'completed_count') }} as failed_rate,
        unauthorized_count,
        {{ safe_rate('unauthorized_count', 'completed_count') }} as unauthorized_ratio,
        outside_window_count,
        window_checked_count,
        {{ safe_rate('outside_window_count', 'window_checked_count') }} as outside_window_ratio,
        request_lead_time_median_hours,
        request_lead_time_p90_hours,
        request_lead_time_count,

        -- deployment (by actual_end_at)
        deployed_completed_count,
        incident_failed_count,
        incident_failed_closed_other_period_count,
        {{ safe_rate('incident_failed_count', 'deployed_completed_count') }} as incident_fail_rate,
        lead_time_to_production_median_hours,
        lead_time_to_production_p90_hours,
        lead_time_to_production_count,

        -- incidents caused by changes (by the incident's opened_at)
        change_caused_incident_count,
        change_caused_p1_p3_incident_count,
        cast(change_caused_outage_hours as double) as change_caused_outage_hours

    from joined

)

{%- if to_date %}
select
    rated.*,
    compare_windows.current_period_start,
    compare_windows.compared_days,
    compare_windows.compare_end
from rated
inner join compare_windows
    on compare_windows.period_grain = rated.period_grain
{%- else %}
select * from rated
{%- endif %}{%- endmacro %}

{#- The FROM of one KPI family's CTE: its events (`relation`) once per period grain, those with an
    event time (and `condition`); in a to-date build only those inside the compared days. -#}
{% macro change_kpi_events(relation, event_column, to_date, condition=none) -%}
    from {{ relation }}
    cross join grains
    {%- if to_date %}
    inner join compare_windows
        on compare_windows.period_grain = grains.period_grain
    {%- endif %}
    where {{ event_column }} is not null
    {%- if condition %}
        and {{ condition }}
    {%- endif %}
    {%- if to_date %}
        and {{ event_column }} >= compare_windows.compare_start
        and {{ event_column }} < compare_windows.compare_end
    {%- endif %}
{%- endmacro %}


{#- The dimensions of var kpi_dimensions as (dimension, column of fct_changes): 'all' has none (every
    change); an unknown name stops the build naming it, instead of grouping every change as '(none)', and
    so does a name listed twice. -#}
{% macro change_kpi_dimensions() -%}
    {%- set columns = {
        'change_type': 'change_type',
        'risk': 'risk',
        'service': 'service_name',
        'assignment_group': 'assignment_group',
        'source_system': 'source_system',
    } -%}
    {%- set dimensions = [] -%}
    {%- for dimension in var('kpi_dimensions') -%}
        {%- if dimension != 'all' and dimension not in columns -%}
            {{ exceptions.raise_compiler_error(
                "var kpi_dimensions: unknown dimension '" ~ dimension ~ "' (known: all, "
                ~ (columns.keys() | list | join(', ')) ~ ")") }}
        {%- endif -%}
        {%- if dimension in dimensions | map(attribute=0) | list -%}
            {{ exceptions.raise_compiler_error(
                "var kpi_dimensions: dimension '" ~ dimension ~ "' is listed twice (each one is a grouping set; "
                ~ "twice would publish its rows twice)") }}
        {%- endif -%}
        {%- do dimensions.append((dimension, columns.get(dimension))) -%}
    {%- endfor -%}
    {{ return(dimensions) }}
{%- endmacro %}

{#- A KPI family's GROUP BY: the period grain and start, and one grouping set per dimension (the
    empty set for 'all'), so the changes are read once for every dimension. -#}
{% macro change_kpi_group_by(period_start_expression) -%}
    {%- set dimensions = change_kpi_dimensions() -%}
    group by
        grains.period_grain,
        {{ period_start_expression }}
        {%- if dimensions | selectattr(1) | list %},
        {#- sqlfluff's duckdb dialect does not parse grouping sets (DuckDB and Spark run them) #}
        grouping sets (  -- noqa: PRS
            {% for dimension, column in dimensions -%}
            {% if column %}(dimension__{{ dimension }}){% else %}(){% endif %}{{ ',' if not loop.last }}
            {% endfor -%}
        )
        {%- endif %}
{%- endmacro %}

{#- The dimension and dimension_value columns of a row of change_kpi_group_by: the dimension whose
    column the row's grouping set holds ('all' for the empty set) and that column's value. -#}
{% macro change_kpi_dimension_columns() -%}
    {%- set grouped = change_kpi_dimensions() | selectattr(1) | list -%}
    {%- if grouped -%}
        case
            {%- for dimension, column in grouped %}
            when grouping(dimension__{{ dimension }}) = 0 then '{{ dimension }}'
            {%- endfor %}
            else 'all'
        end as dimension,
        coalesce({% for dimension, column in grouped %}dimension__{{ dimension }}, {% endfor %}'all') as dimension_value
    {%- else -%}
        'all' as dimension,
        'all' as dimension_value
    {%- endif -%}
{%- endmacro %}
