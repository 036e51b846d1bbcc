{#- One row per data-quality check (check_type, source_system, entity, metric): the scorecard of
    docs/metrics.md. check_type:
    - coverage: share of records carrying a field (changes with CI, planned window, actual
      window, close code, approval time; incidents with CI, with an explicit cause);
    - negative_duration: share of records whose durations are not negative;
    - cmdb_alignment: share of records whose CI references the CMDB knows, and of changed CIs
      whose CMDB record was updated after their last implemented change;
    - quarantine: share of the rows read from the latest ingest of each file that were loaded;
    - reference: share of explicit references (an incident's caused-by / fixed-by change or
      release, a change's release, a deployment's release or change) that name a record in the
      extract; the dangling ones are counted, with examples, never dropped silently;
    - metric_confidence: per metric (over all sources), the coverage of its weakest input; below
      var('coverage_threshold') (0.8) the metric is low-confidence wherever it is shown.
    Every row is numerator / denominator = coverage, issue_count = denominator - numerator.
    source_system `all` sums every source. -#}
{%- set threshold = var('coverage_threshold') -%}
{#- (field, entity, label: "N of M <population> <label>", numerator condition, population condition) -#}
{%- set change_fields = [
    ['change_ci', 'change', 'have a CI known to the CMDB', 'primary_ci_id is not null', 'true', 'changes'],
    ['change_planned_window', 'change', 'have a planned window', 'planned_start_at is not null and planned_end_at is not null', 'true', 'changes'],
    ['change_actual_window', 'change', 'have an actual window', 'actual_start_at is not null and actual_end_at is not null', 'is_completed', 'completed changes'],
    ['change_close_code', 'change', 'have a usable close code', "outcome in ('successful', 'successful_with_issues', 'unsuccessful', 'canceled')", "state_category = 'closed'", 'closed changes'],
    ['change_approval_time', 'change', 'have an approval time', 'approved_at is not null', "change_type in ('normal', 'emergency') and actual_start_at is not null", 'implemented normal / emergency changes'],
    ['change_both_windows', 'change', 'have both a planned and an actual window', 'is_window_checked', 'is_completed', 'completed changes'],
    ['change_lead_time_to_production', 'change', 'have a usable lead time to production', 'lead_time_to_production_hours is not null', 'is_delivered and actual_end_at is not null', 'delivered changes with an actual end'],
    ['change_request_lead_time', 'change', 'have a usable request lead time', 'request_lead_time_hours is not null', 'is_delivered', 'delivered changes'],
    ['change_non_negative_durations', 'change', 'have no negative duration', 'not has_negative_duration', 'true', 'changes'],
] -%}
{%- set incident_fields = [
    ['incident_ci', 'incident', 'have a CI known to the CMDB', 'ci_id is not null', 'true', 'incidents'],
    ['incident_explicit_cause', 'incident', 'have an explicit cause', 'has_explicit_cause', 'true', 'incidents'],
    ['incident_non_negative_durations', 'incident', 'have no negative time to restore', 'not has_negative_duration', 'true', 'incidents'],
] -%}
{%- set check_types = {
    'change_ci': 'coverage', 'change_planned_window': 'coverage', 'change_actual_window': 'coverage',
    'change_close_code': 'coverage', 'change_approval_time': 'coverage', 'change_both_windows': 'coverage',
    'change_lead_time_to_production': 'coverage', 'change_request_lead_time': 'coverage',
    'change_non_negative_durations': 'negative_duration', 'incident_ci': 'coverage',
    'incident_explicit_cause': 'coverage', 'incident_non_negative_durations': 'negative_duration',
    'release_lead_time': 'coverage', 'deployment_lead_time': 'coverage',
} -%}
{#- explicit references: (metric, entity, population, what a resolved one does) -#}
{%- set reference_checks = [
    ['incident_cause_reference', 'incident', 'caused-by change references of incidents', 'name a change in the extract'],
    ['incident_fix_reference', 'incident', 'fixed-by change references of incidents (rfc)', 'name a change in the extract'],
    ['incident_release_reference', 'incident', 'release references of incidents (caused by / fixed in)', 'name a release in the extract'],
    ['change_release_reference', 'change', 'release references of changes (release field, release membership)', 'name a release in the extract'],
    ['deployment_release_reference', 'deployment', 'release references of deployment records', 'name a release in the extract'],
    ['deployment_change_reference', 'deployment', 'change references of deployment records', 'name a change in the extract'],
] -%}
{#- field -> what to change in the export so that the field is there (the low-confidence badge's advice) -#}
{%- set fixes = {
    'change_ci': "Export each change's configuration item (ServiceNow cmdb_ci, or the mapped CI column) and a CMDB export whose CI ids match it.",
    'change_planned_window': 'Export the planned start and end of every change (ServiceNow start_date / end_date).',
    'change_actual_window': 'Export the actual start and end of completed changes (ServiceNow work_start / work_end).',
    'change_close_code': 'Export the close code of closed changes (ServiceNow close_code) with values the source maps to successful, successful with issues, unsuccessful or canceled.',
    'change_approval_time': 'Export when normal and emergency changes were approved (ServiceNow approval_set, or the approval history).',
    'change_both_windows': 'Export both the planned (start_date / end_date) and the actual (work_start / work_end) windows of completed changes.',
    'change_lead_time_to_production': 'Export opened_at and the actual end (work_end) of completed changes, the end after the opening.',
    'change_request_lead_time': 'Export opened_at and closed_at of completed changes, the close after the opening.',
    'change_non_negative_durations': 'Check the exported change timestamps: an end before its start (often fields in different time zones) gives a negative duration.',
    'incident_ci': "Export each incident's configuration item (ServiceNow cmdb_ci) and a CMDB export whose CI ids match it.",
    'incident_explicit_cause': "Export the incident's caused-by change (ServiceNow caused_by) where it is recorded.",
    'incident_non_negative_durations': 'Check the exported incident timestamps: a resolution before the opening gives a negative time to restore.',
    'release_lead_time': "Export the release's deployment time and its member changes (their opened_at).",
    'deployment_lead_time': "Export each deployment's commit (sha) with the change or release it delivers, or the release's member changes (their opened_at): a deployment's lead time starts there.",
} -%}
{%- set metric_inputs = metric_confidence_inputs() -%}
with

changes as (

    select * from {{ ref('fct_changes') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

candidates as (

    select * from {{ ref('fct_incident_change_candidates') }}

),

releases as (

    select * from {{ ref('fct_releases') }}

),

raw_incidents as (

    select * from {{ ref('stg_canonical__incidents') }}

),

configuration_items as (

    select * from {{ ref('stg_canonical__configuration_items') }}

),

change_cis as (

    select * from {{ ref('int_changes_joined_to_configuration_items') }}

),

ingest_runs as (

    select * from {{ ref('stg_ingest_meta__ingest_runs') }}

),

raw_changes as (

    select * from {{ ref('stg_canonical__changes') }}

),

raw_releases as (

    select * from {{ ref('stg_canonical__releases') }}

),

incident_links as (

    select * from {{ ref('stg_canonical__incident_links') }}

),

release_changes as (

    select * from {{ ref('stg_canonical__release_changes') }}

),

deployments as (

    select * from {{ ref('fct_deployments') }}

),

-- per-record inputs, each record twice: its own source and `all` ---------------------------------

change_rows as (

    select source_system as scope_source, changes.* from changes
    union all
    select 'all' as scope_source, changes.* from changes

),

explicit_incidents as (

    select distinct incident_id
    from candidates
    where method like 'explicit%'

),

incident_records as (

    select
        incidents.incident_id,
        incidents.source_system,
        incidents.ci_id,
        explicit_incidents.incident_id is not null as has_explicit_cause,
        coalesce(coalesce(raw_incidents.resolved_at, raw_incidents.closed_at) < raw_incidents.opened_at, false)
            as has_negative_duration,
        raw_incidents.ci_ref is not null as names_ci,
        raw_incidents.ci_ref is not null and incidents.ci_id is not null as names_known_ci
    from incidents
    left join explicit_incidents
        on explicit_incidents.incident_id = incidents.incident_id
    left join raw_incidents
        on raw_incidents.incident_id = incidents.incident_id

),

incident_rows as (

    select source_system as scope_source, incident_records.* from incident_records
    union all
    select 'all' as scope_source, incident_records.* from incident_records

),

field_counts as (

    {%- for field in change_fields %}
    select
        scope_source as source_system,
        '{{ field[1] }}' as entity,
        '{{ field[0] }}' as metric,
        '{{ field[2] }}' as label,
        '{{ field[5] }}' as population,
        count(*) filter (where ({{ field[4] }}) and coalesce({{ field[3] }}, false)) as numerator,
        count(*) filter (where {{ field[4] }}) as denominator
    from change_rows
    group by 1
    union all
    {%- endfor %}
    {%- for field in incident_fields %}
    select
        scope_source as source_system,
        '{{ field[1] }}' as entity,
        '{{ field[0] }}' as metric,
        '{{ field[2] }}' as label,
        '{{ field[5] }}' as population,
        count(*) filter (where ({{ field[4] }}) and coalesce({{ field[3] }}, false)) as numerator,
        count(*) filter (where {{ field[4] }}) as denominator
    from incident_rows
    group by 1
    union all
    {%- endfor %}
    select
        'all' as source_system,
        'release' as entity,
        'release_lead_time' as metric,
        'have a usable lead time (first member opened -> deployed)' as label,
        'deployed releases' as population,
        count(*) filter (where is_deployed and release_lead_time_hours is not null) as numerator,
        count(*) filter (where is_deployed) as denominator
    from releases
    union all
    select
        'all' as source_system,
        'deployment' as entity,
        'deployment_lead_time' as metric,
        'have a usable lead time (work start -> deployed; none when the data dates no start, or it is negative)' as label,
        'counted deployment records' as population,
        count(*) filter (where is_counted_deployment and lead_time_hours is not null) as numerator,
        count(*) filter (where is_counted_deployment) as denominator
    from deployments

),

-- CMDB alignment -------------------------------------------------------------------------------

change_reference_flags as (

    select
        change_cis.change_id,
        min(case when change_cis.is_resolved then 1 else 0 end) = 1 as names_only_known_cis
    from change_cis
    group by 1

),

change_alignment as (

    select
        change_rows.scope_source as source_system,
        count(*) filter (where change_reference_flags.names_only_known_cis) as numerator,
        count(*) as denominator
    from change_rows
    inner join change_reference_flags
        on change_reference_flags.change_id = change_rows.change_id
    group by 1

),

incident_alignment as (

    select
        scope_source as source_system,
        count(*) filter (where names_known_ci) as numerator,
        count(*) filter (where names_ci) as denominator
    from incident_rows
    group by 1

),

last_implemented_changes as (

    select
        primary_ci_id as ci_id,
        max(actual_end_at) as last_change_end_at
    from changes
    where actual_end_at is not null
        and primary_ci_id is not null
    group by 1

),

cmdb_freshness as (

    select
        configuration_items.source_system,
        configuration_items.updated_at >= last_implemented_changes.last_change_end_at as is_updated_after_change
    from last_implemented_changes
    inner join configuration_items
        on configuration_items.ci_id = last_implemented_changes.ci_id
    where configuration_items.updated_at is not null

),

cmdb_freshness_counts as (

    select
        scope_source as source_system,
        count(*) filter (where is_updated_after_change) as numerator,
        count(*) as denominator
    from (
        select source_system as scope_source, is_updated_after_change from cmdb_freshness
        union all
        select 'all' as scope_source, is_updated_after_change from cmdb_freshness
    ) as scoped
    group by 1

),

alignment_counts as (

    select
        source_system,
        'change' as entity,
        'change_ci_known_to_cmdb' as metric,
        'name only CIs the CMDB knows' as label,
        'changes naming a CI' as population,
        numerator,
        denominator
    from change_alignment
    union all
    select
        source_system,
        'incident' as entity,
        'incident_ci_known_to_cmdb' as metric,
        'name a CI the CMDB knows' as label,
        'incidents naming a CI' as population,
        numerator,
        denominator
    from incident_alignment
    union all
    select
        source_system,
        'configuration_item' as entity,
        'cmdb_updated_after_change' as metric,
        'were updated in the CMDB after their last implemented change' as label,
        'changed CIs with a CMDB update time' as population,
        numerator,
        denominator
    from cmdb_freshness_counts

),

-- explicit references: resolved or dangling -------------------------------------------------------

change_keys as (

    select distinct lower(number) as number_key
    from raw_changes

),

release_keys as (

    select distinct lower(coalesce(number, source_id)) as number_key
    from raw_releases

),

explicit_references as (

    -- (source, check, referring record, referenced record, what it must resolve to); a model that
    -- resolves it itself (fct_deployments) gives is_resolved_by_model
    select
        source_system,
        'incident_cause_reference' as metric,
        number as record_ref,
        caused_by_change_ref as target_ref,
        'change' as target_kind,
        cast(null as boolean) as is_resolved_by_model
    from raw_incidents
    where caused_by_change_ref is not null
    union all
    select
        source_system,
        case kind when 'caused_by' then 'incident_cause_reference' else 'incident_fix_reference' end as metric,
        incident_ref as record_ref,
        target_ref,
        'change' as target_kind,
        cast(null as boolean) as is_resolved_by_model
    from incident_links
    where target_type = 'change' and kind in ('caused_by', 'fixed_by')
    union all
    select
        source_system,
        'incident_fix_reference' as metric,
        number as record_ref,
        fixed_by_change_ref as target_ref,
        'change' as target_kind,
        cast(null as boolean) as is_resolved_by_model
    from raw_incidents
    where fixed_by_change_ref is not null
    union all
    select
        source_system,
        'incident_release_reference' as metric,
        incident_ref as record_ref,
        target_ref,
        'release' as target_kind,
        cast(null as boolean) as is_resolved_by_model
    from incident_links
    where target_type = 'release'
    union all
    select
        source_system,
        'change_release_reference' as metric,
        number as record_ref,
        release_ref as target_ref,
        'release' as target_kind,
        cast(null as boolean) as is_resolved_by_model
    from raw_changes
    where release_ref is not null
    union all
    select
        source_system,
        'change_release_reference' as metric,
        change_ref as record_ref,
        release_ref as target_ref,
        'release' as target_kind,
        cast(null as boolean) as is_resolved_by_model
    from release_changes
    union all
    select
        source_system,
        'deployment_release_reference' as metric,
        source_id as record_ref,
        release_ref as target_ref,
        'release' as target_kind,
        release_id is not null as is_resolved_by_model
    from deployments
    where release_ref is not null
    union all
    select
        source_system,
        'deployment_change_reference' as metric,
        source_id as record_ref,
        change_ref as target_ref,
        'change' as target_kind,
        change_id is not null as is_resolved_by_model
    from deployments
    where change_ref is not null

),

distinct_references as (

    -- a reference seen twice (the incident's field and its link) is one reference
    select
        explicit_references.source_system,
        explicit_references.metric,
        explicit_references.record_ref,
        lower(explicit_references.target_ref) as target_key,
        min(explicit_references.target_ref) as target_ref,
        coalesce(
            bool_or(explicit_references.is_resolved_by_model),
            bool_or(change_keys.number_key is not null or release_keys.number_key is not null)
        ) as is_resolved
    from explicit_references
    left join change_keys
        on explicit_references.target_kind = 'change'
        and change_keys.number_key = lower(explicit_references.target_ref)
    left join release_keys
        on explicit_references.target_kind = 'release'
        and release_keys.number_key = lower(explicit_references.target_ref)
    group by 1, 2, 3, 4

),

reference_counts as (

    select
        scoped.source_system,
        scoped.metric,
        count(*) filter (where scoped.is_resolved) as numerator,
        count(*) as denominator,
        {{ dbt.listagg(
            "case when not scoped.is_resolved then scoped.record_ref || ' -> ' || scoped.target_ref end",
            "', '",
            "order by case when not scoped.is_resolved then scoped.record_ref || ' -> ' || scoped.target_ref end",
            5
        ) }} as examples
    from (
        select source_system, metric, record_ref, target_ref, is_resolved from distinct_references
        union all
        select 'all' as source_system, metric, record_ref, target_ref, is_resolved from distinct_references
    ) as scoped
    group by 1, 2

),

reference_checks as (

    select
        reference_counts.source_system,
        checks_declared.entity,
        reference_counts.metric,
        checks_declared.label,
        checks_declared.population,
        reference_counts.numerator,
        reference_counts.denominator,
        case when reference_counts.numerator < reference_counts.denominator then reference_counts.examples end
            as examples
    from reference_counts
    inner join (
        values
        {%- for check in reference_checks %}
        ('{{ check[0] }}', '{{ check[1] }}', '{{ check[2] }}', '{{ check[3] }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as checks_declared (metric, entity, population, label)
        on checks_declared.metric = reference_counts.metric

),

-- quarantine: the latest ingest of each file ------------------------------------------------------

latest_file_runs as (

    select *
    from (
        select
            ingest_runs.*,
            row_number() over (
                partition by source_system, file_name
                order by started_at desc, ingest_run_id desc
            ) as run_rank
        from ingest_runs
        -- skipped duplicates and failed files load nothing and name no source system
        where status = 'succeeded' and rows_read is not null
    ) as ranked
    where run_rank = 1

),

quarantine_counts as (

    select
        scope_source as source_system,
        'source_row' as entity,
        'rows_loaded' as metric,
        'were loaded (not quarantined)' as label,
        'rows read from the latest ingest of each file' as population,
        sum(rows_read - coalesce(quarantined, 0)) as numerator,
        sum(rows_read) as denominator
    from (
        select coalesce(source_system, 'unknown') as scope_source, rows_read, quarantined from latest_file_runs
        union all
        select 'all' as scope_source, rows_read, quarantined from latest_file_runs
    ) as scoped
    group by 1

),

-- all checks ---------------------------------------------------------------------------------------

checks as (

    select
        case metric
            {%- for field, check_type in check_types.items() %}
            when '{{ field }}' then '{{ check_type }}'
            {%- endfor %}
        end as check_type,
        field_counts.*,
        cast(null as {{ dbt.type_string() }}) as examples
    from field_counts
    union all
    select
        'cmdb_alignment' as check_type,
        alignment_counts.*,
        cast(null as {{ dbt.type_string() }}) as examples
    from alignment_counts
    union all
    select
        'quarantine' as check_type,
        quarantine_counts.*,
        cast(null as {{ dbt.type_string() }}) as examples
    from quarantine_counts
    union all
    select
        'reference' as check_type,
        reference_checks.*
    from reference_checks

),

metric_map as (

    select * from (
        values
        {%- for metric, fields in metric_inputs.items() %}
        {%- set outer_last = loop.last %}
        {%- for field in fields %}
        ('{{ metric }}', '{{ field }}'){{ ',' if not (outer_last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    ) as metric_map (metric_name, input_field)

),

metric_inputs as (

    select
        metric_map.metric_name,
        checks.*,
        row_number() over (
            partition by metric_map.metric_name, checks.source_system
            order by {{ safe_rate('checks.numerator', 'checks.denominator') }} nulls first, checks.metric
        ) as weakness_rank
    from metric_map
    inner join checks
        on checks.metric = metric_map.input_field

),

metric_checks as (

    select
        'metric_confidence' as check_type,
        source_system,
        entity,
        metric_name as metric,
        label,
        population,
        numerator,
        denominator,
        metric as weakest_input,
        cast(null as {{ dbt.type_string() }}) as examples
    from metric_inputs
    where weakness_rank = 1
        -- one flag per metric, over every source (the app looks a metric up by name)
        and source_system = 'all'

),

all_checks as (

    select
        check_type,
        source_system,
        entity,
        metric,
        label,
        population,
        numerator,
        denominator,
        cast(null as {{ dbt.type_string() }}) as weakest_input,
        examples
    from checks
    union all
    select * from metric_checks

),

final as (

    select
        check_type || '|' || source_system || '|' || metric as data_quality_check_id,
        check_type,
        source_system,
        entity,
        metric,
        weakest_input,
        cast(numerator as bigint) as numerator,
        cast(denominator as bigint) as denominator,
        cast(denominator - numerator as bigint) as issue_count,
        examples,
        {{ safe_rate('numerator', 'denominator') }} as coverage,
        {#- an explicit cause is welcome but rare by nature: informational, no threshold -#}
        case when metric in ('incident_explicit_cause') then cast(null as double) else cast({{ threshold }} as double) end
            as threshold,
        metric not in ('incident_explicit_cause')
            and coalesce({{ safe_rate('numerator', 'denominator') }} < {{ threshold }}, false) as is_low_confidence,
        case
            when coalesce(denominator, 0) = 0 then 'no ' || population || ' to check'
            else
                case when check_type = 'metric_confidence' then 'weakest input: ' else '' end
                || cast(numerator as {{ dbt.type_string() }}) || ' of ' || cast(denominator as {{ dbt.type_string() }}) || ' ' || population || ' '
                || label || ' (' || {{ percent_text(safe_rate('numerator', 'denominator')) }}
                || case when metric in ('incident_explicit_cause') then ')' else '; threshold ' || {{ percent_text(threshold) }} || ')' end
                || case when examples is not null then '; e.g. ' || examples else '' end
        end as reason,
        case coalesce(weakest_input, metric)
            {%- for field, fix in fixes.items() %}
            when '{{ field }}' then '{{ fix | replace("'", "''") }}'
            {%- endfor %}
        end as how_to_fix
    from all_checks

)

select * from final
