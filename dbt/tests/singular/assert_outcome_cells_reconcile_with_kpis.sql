-- A returned row means the outcome cells (rpt_change_outcome_cells) do not add up to the published
-- KPIs (rpt_change_kpis) of one dimension value in one period: a page combining filters would show
-- other numbers than the tiles (DECISIONLOG D45).
{%- set dimensions = {'all': "'all'", 'change_type': 'change_type', 'risk': 'risk', 'service': 'service_name',
    'assignment_group': 'assignment_group', 'source_system': 'source_system'} %}
with cell_sums as (
    {%- for dimension, column in dimensions.items() %}
    select
        period_grain,
        period_start,
        '{{ dimension }}' as dimension,
        {{ column }} as dimension_value,
        sum(completed_count) as completed_count,
        sum(change_success_numerator) as change_success_numerator,
        sum(failed_count) as failed_count,
        sum(unsuccessful_count) as unsuccessful_count,
        sum(backed_out_count) as backed_out_count
    from {{ ref('rpt_change_outcome_cells') }}
    group by 1, 2, 3, 4
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

kpis as (
    select
        period_grain,
        period_start,
        dimension,
        dimension_value,
        completed_count,
        change_success_numerator,
        failed_count,
        unsuccessful_count,
        backed_out_count
    from {{ ref('rpt_change_kpis') }}
    where completed_count > 0
)

select
    kpis.period_grain,
    kpis.period_start,
    kpis.dimension,
    kpis.dimension_value
from kpis
full outer join cell_sums
    on cell_sums.period_grain = kpis.period_grain
    and cell_sums.period_start = kpis.period_start
    and cell_sums.dimension = kpis.dimension
    and cell_sums.dimension_value = kpis.dimension_value
where kpis.period_grain is null
    or cell_sums.period_grain is null
    or kpis.completed_count <> cell_sums.completed_count
    or kpis.change_success_numerator <> cell_sums.change_success_numerator
    or kpis.failed_count <> cell_sums.failed_count
    or kpis.unsuccessful_count <> cell_sums.unsuccessful_count
    or kpis.backed_out_count <> cell_sums.backed_out_count
