{#- Apache Spark (issue #21, DECISIONLOG D34): what the project needs from Spark beyond its models'
    dispatched macros, in one place. None of these macros is called on DuckDB. -#}

{#- The Spark name of a column type as the project writes it (contracts' data_type, seeds'
    column_types). The project writes the types every engine reads the same way: bigint, integer,
    double, boolean, date, timestamp, and varchar for text; Spark 4 refuses a varchar without a
    length, so varchar (and text) become string. -#}
{% macro spark_column_type(data_type) -%}
    {%- set normalized = data_type | trim | lower -%}
    {%- if normalized in ('varchar', 'text', 'character varying') -%}
        string
    {%- else -%}
        {{ data_type }}
    {%- endif -%}
{%- endmacro %}

{#- The contract check's query of the declared column types (dbt-adapters' default, with the types
    passed through spark_column_type). -#}
{% macro spark__get_empty_schema_sql(columns) %}
    {%- set translated = {} -%}
    {%- for name in columns -%}
        {%- set column = columns[name] -%}
        {%- set copy = {} -%}
        {%- do copy.update(column) -%}
        {%- if column.get('data_type') is not none -%}
            {%- do copy.update({'data_type': spark_column_type(column['data_type'])}) -%}
        {%- endif -%}
        {%- do translated.update({name: copy}) -%}
    {%- endfor -%}
    {{ return(default__get_empty_schema_sql(translated)) }}
{% endmacro %}

{#- A seed's table: its columns typed with spark_column_type (dbt-spark's own, otherwise). -#}
{% macro spark__create_csv_table(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
    {% set sql %}
        create table {{ this.render() }} (
            {%- for col_name in agate_table.column_names -%}
                {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                {%- set type = spark_column_type(column_override.get(col_name, inferred_type)) -%}
                {%- set column_name = (col_name | string) -%}
                {{ adapter.quote_seed_column(column_name, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
            {%- endfor -%}
        )
        {{ file_format_clause() }}
        {{ partition_cols(label="partitioned by") }}
        {{ clustered_cols(label="clustered by") }}
        {{ location_clause() }}
        {{ comment_clause() }}
    {% endset %}
    {% call statement('_') -%}
        {{ sql }}
    {%- endcall %}
    {{ return(sql) }}
{% endmacro %}

{#- A seed's rows as SQL literals, escaped here, instead of dbt-spark's bindings: its session
    connection pastes a binding between quotes unescaped (an apostrophe breaks the insert) and
    turns an empty cell into the text 'None'. An empty cell is null, as dbt-duckdb loads it; a
    number is written as text and cast to the column's type, as dbt-spark does. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                    {%- set type = spark_column_type(column_override.get(col_name, inferred_type)) -%}
                    {%- set value = row[loop.index0] -%}
                    {%- if value is none -%}
                        cast(null as {{ type }})
                    {%- else -%}
                        cast({{ spark_string_literal(value) }} as {{ type }})
                    {%- endif -%}
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}

{#- A value as a Spark SQL string literal: backslashes and apostrophes escaped (Spark reads a
    backslash in a literal as an escape). -#}
{% macro spark_string_literal(value) -%}
    {%- if value is sameas true or value is sameas false -%}
        '{{ 'true' if value else 'false' }}'
    {%- else -%}
        '{{ (value | string) | replace("\\", "\\\\") | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}

{#- Declares the exported raw tables (`changeboard parquet export DIR`) as Spark tables over their
    Parquet folders: one per source table of the project, DIR/<schema>/<table>. Replaces earlier
    declarations (the files of a new export are read afresh). Run it once per export:
    dbt run-operation register_parquet_sources --target spark --args '{root: DIR}'. -#}
{% macro register_parquet_sources(root) %}
    {%- set root = root.rstrip('/') -%}
    {%- set schemas = [] -%}
    {%- for source in graph.sources.values() -%}
        {%- if source.schema not in schemas -%}
            {%- do schemas.append(source.schema) -%}
            {%- do run_query('create schema if not exists ' ~ source.schema) -%}
        {%- endif -%}
        {%- set table = source.schema ~ '.' ~ source.identifier -%}
        {%- do run_query('drop table if exists ' ~ table) -%}
        {%- do run_query("create table " ~ table ~ " using parquet location '" ~ root ~ "/" ~ source.schema ~ "/" ~ source.identifier ~ "'") -%}
        {{ log('registered ' ~ table, info=true) }}
    {%- endfor -%}
{% endmacro %}

{#- dbt.listagg with its order: dbt-spark's ignores order_by_clause (collect_list's order is the
    order rows happened to arrive in), so a CAB list would come unsorted. Here the values are
    collected with their sort keys, sorted (array_sort: ascending, nulls last, as the project's
    `order by` clauses ask) and joined; nulls are skipped, as string_agg skips them. Works on
    Spark 3.x and 4.x (Spark 4's own listagg ... within group would be 4.x only). -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if not order_by_clause -%}
        {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- else -%}
        {%- set clause = order_by_clause | trim -%}
        {%- if clause[:8] | lower != 'order by' -%}
            {{ exceptions.raise_compiler_error("spark__listagg: order_by_clause must start with 'order by', not " ~ clause) }}
        {%- endif -%}
        {%- set keys = clause[8:].split(',') | map('trim') | list -%}
        {%- for key in keys if (key | lower).endswith(' desc') or (key | lower).endswith(' asc') or ' nulls ' in (key | lower) -%}
            {{ exceptions.raise_compiler_error("spark__listagg: only plain ascending keys are supported, not " ~ key) }}
        {%- endfor -%}
        {%- set fields -%}
            {%- for key in keys -%}'k{{ loop.index0 }}', {{ key }}, {% endfor -%}'v', {{ measure }}
        {%- endset -%}
        {%- set collected = 'transform(array_sort(collect_list(case when ' ~ measure ~ ' is not null then named_struct(' ~ fields ~ ') end)), listagg_element -> listagg_element.v)' -%}
    {%- endif -%}
    {%- if limit_num -%}
        {%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}
    {%- endif -%}
    array_join({{ collected }}, {{ delimiter_text }})
{%- endmacro %}

{#- Contracts on Spark: integer widths. Spark's row_number(), rank(), datediff(), length(), ...
    return int where DuckDB returns bigint, so a column a contract declares bigint can come out int.
    The check below is dbt's (assert_columns_equivalent: same names, same number, same types) except
    that a narrower integer (tinyint, smallint, int) passes for a declared bigint; the table then
    holds the declared types (spark__get_select_subquery casts every contracted column to its
    type). Any other difference still fails the contract. -#}
{% macro spark__get_assert_columns_equivalent(sql) -%}
    {%- set user_defined_columns = model['columns'] -%}
    {%- if not user_defined_columns -%}
        {{ exceptions.raise_contract_error([], []) }}
    {%- endif -%}
    {%- set sql_columns = format_columns(get_column_schema_from_query(sql, config.get('sql_header', none))) -%}
    {%- set yaml_columns = format_columns(get_column_schema_from_query(get_empty_schema_sql(user_defined_columns))) -%}
    {%- if sql_columns | length != yaml_columns | length -%}
        {%- do exceptions.raise_contract_error(yaml_columns, sql_columns) -%}
    {%- endif -%}
    {%- for sql_col in sql_columns -%}
        {%- set yaml_col = yaml_columns | selectattr('name', 'equalto', sql_col['name']) | list -%}
        {%- if not yaml_col -%}
            {%- do exceptions.raise_contract_error(yaml_columns, sql_columns) -%}
        {%- endif -%}
        {#- the Thrift connection names types as Hive's protocol does (INT_TYPE, BIGINT_TYPE) -#}
        {%- set widened = (sql_col['data_type'] | lower | replace('_type', '')) in ('tinyint', 'smallint', 'int', 'integer')
            and (yaml_col[0]['data_type'] | lower | replace('_type', '')) == 'bigint' -%}
        {%- if sql_col['formatted'] != yaml_col[0]['formatted'] and not widened -%}
            {%- do exceptions.raise_contract_error(yaml_columns, sql_columns) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{% macro spark__get_select_subquery(sql) %}
    select
    {%- for column in model['columns'].values() %}
        cast({{ adapter.quote(column['name']) if column.get('quote') else column['name'] }} as {{ spark_column_type(column['data_type']) }}) as {{ adapter.quote(column['name']) if column.get('quote') else column['name'] }}{{ ',' if not loop.last }}
    {%- endfor %}
    from (
        {{ sql }}
    ) as model_subq
{%- endmacro %}

{#- period_spine (changeboard_aggregates.sql) with Spark's own sequence(): the portable default
    builds 100,000 numbers from cross-joined digit lists and keeps the few it needs, which Spark
    plans as four cartesian products per spine (minutes for each of the five models that use one
    on a small sample). -#}
{% macro spark__period_spine(grain, start_expression, end_expression) -%}
    select explode(sequence(
        cast(date_trunc('{{ grain }}', {{ start_expression }}) as date),
        cast(date_trunc('{{ grain }}', {{ end_expression }}) as date),
        interval 1 {{ grain }}
    )) as period_start
{%- endmacro %}
