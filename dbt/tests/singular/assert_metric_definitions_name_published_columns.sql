-- A returned row is a declared metric (rpt_metric_definitions) whose value, numerator, denominator,
-- band or base column is not a column of its published model, or whose confidence metric is not one that
-- rpt_data_quality computes (metric_confidence_inputs()): a page would ask for a number nobody
-- publishes. Declarations, not data: a metric whose inputs have no rows in this build (delivery data
-- alone has no changes) has no confidence row and still passes.
-- It checks the project's declarations against the published catalog (information_schema), which
-- DuckDB has and Spark has not; the declarations are the same on every engine, so it runs on DuckDB.
{{ config(enabled=(target.type == 'duckdb')) }}
-- depends_on: {{ ref('rpt_change_kpis') }}
-- depends_on: {{ ref('rpt_dora') }}
-- depends_on: {{ ref('rpt_backlog') }}
-- depends_on: {{ ref('fct_releases') }}
with

definitions as (

    select * from {{ ref('rpt_metric_definitions') }}

),

named as (

    select metric, model_name, 'value' as role, value_column as column_name
    from definitions
    union all
    select metric, model_name, 'numerator' as role, numerator_column as column_name
    from definitions
    where numerator_column is not null
    union all
    select metric, model_name, 'denominator' as role, denominator_column as column_name
    from definitions
    where denominator_column is not null
    union all
    select metric, model_name, 'band' as role, band_column as column_name
    from definitions
    where band_column is not null
    union all
    select metric, model_name, 'base' as role, base_column as column_name
    from definitions
    where base_column is not null

),

published as (

    select distinct
        lower(table_name) as table_name,
        lower(column_name) as column_name
    from information_schema.columns
    where lower(table_schema) = lower('{{ target.schema }}')

),

missing_columns as (

    select named.metric, named.model_name, named.role, named.column_name
    from named
    left join published
        on published.table_name = lower(named.model_name)
        and published.column_name = lower(named.column_name)
    where published.column_name is null

),

confidence as (

    select * from (
        values
        {%- for metric in metric_confidence_inputs() %}
        ('{{ metric }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as confidence (metric)

),

missing_confidence as (

    select definitions.metric, definitions.model_name, 'confidence' as role, definitions.confidence_metric as column_name
    from definitions
    left join confidence
        on confidence.metric = definitions.confidence_metric
    where definitions.confidence_metric is not null
        and confidence.metric is null

)

select * from missing_columns
union all
select * from missing_confidence
