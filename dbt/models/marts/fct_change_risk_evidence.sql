{#- One row per change a CAB may discuss: every open or in-progress change, and every emergency
    or failed change that started, ended or closed within var('risk_evidence_days') before "now"
    (for the retrospective and post-implementation review lists). Each row carries the agenda
    inputs (type, risk, window, CIs, service, collisions, blackout / maintenance flags) and the
    risk evidence, computed AS OF THE BUILD ("now" = macro as_of_timestamp, stated in
    evidence_as_of): success rate, failures and caused incidents of the same primary CI, service
    and assignment group over the last var('risk_evidence_days') days (completed changes by
    closed_at), open incidents on its CIs, the primary CI's last failure and what it caused, and
    an explainable risk score built from seeds/cab_risk_weights.csv. rpt_cab_agenda selects the
    default meeting from these rows; the CAB pack selects any meeting time T with the same rules
    (documented in fct_change_risk_evidence.yml) without rebuilding dbt. -#}
{%- set evidence_days = var('risk_evidence_days') -%}
with

changes as (

    select * from {{ ref('fct_changes') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

change_cis as (

    select * from {{ ref('int_changes_joined_to_configuration_items') }}

),

window_checks as (

    select * from {{ ref('int_changes_checked_against_change_windows') }}

),

collisions as (

    select * from {{ ref('fct_change_collisions') }}

),

weights as (

    select * from {{ ref('cab_risk_weights') }}

),

now_and_since as (

    select
        {{ as_of_timestamp() }} as evidence_as_of,
        {{ dbt.dateadd('day', -1 * evidence_days, as_of_timestamp()) }} as evidence_since

),

weight_pivot as (

    select
        {%- for factor in ['risk_very_high', 'risk_high', 'risk_moderate', 'risk_low', 'emergency', 'ci_failure_rate',
            'service_failure_rate', 'group_failure_rate', 'recent_failure_on_ci', 'open_incident_on_ci', 'collision',
            'blackout', 'outside_maintenance_window', 'min_sample', 'level_medium', 'level_high'] %}
        coalesce(max(case when factor = '{{ factor }}' then cast(weight as double) end), 0) as {{ factor }}_weight,
        coalesce(max(case when factor = '{{ factor }}' then cast(cap as double) end), 0) as {{ factor }}_cap
        {{- ',' if not loop.last }}
        {%- endfor %}
    from weights

),

candidates as (

    select changes.*
    from changes
    cross join now_and_since
    where changes.state_category in ('open', 'in_progress')
        or (
            (changes.is_emergency or changes.is_failed)
            and coalesce(changes.actual_end_at, changes.closed_at, changes.actual_start_at, changes.opened_at)
                >= now_and_since.evidence_since
        )

),

-- history: completed changes closed within the evidence period ---------------------------------

recent_completed as (

    select changes.*
    from changes
    cross join now_and_since
    where changes.is_completed
        and changes.closed_at >= now_and_since.evidence_since
        and changes.closed_at <= now_and_since.evidence_as_of

),

ci_history as (

    select
        primary_ci_id,
        count(*) as completed_count,
        count(*) filter (where is_successful) as successful_count,
        count(*) filter (where is_failed) as failed_count,
        cast(coalesce(sum(caused_incident_count), 0) as bigint) as caused_incident_count
    from recent_completed
    where primary_ci_id is not null
    group by 1

),

service_history as (

    select
        service_id,
        count(*) as completed_count,
        count(*) filter (where is_successful) as successful_count,
        count(*) filter (where is_failed) as failed_count,
        cast(coalesce(sum(caused_incident_count), 0) as bigint) as caused_incident_count
    from recent_completed
    where service_id is not null
    group by 1

),

group_history as (

    select
        assignment_group,
        count(*) as completed_count,
        count(*) filter (where is_successful) as successful_count,
        count(*) filter (where is_failed) as failed_count,
        cast(coalesce(sum(caused_incident_count), 0) as bigint) as caused_incident_count
    from recent_completed
    where assignment_group is not null
    group by 1

),

-- the primary CI's last failure (any time before now) and what it caused --------------------------

failed_changes as (

    select
        changes.primary_ci_id,
        changes.change_id,
        changes.number,
        coalesce(changes.actual_end_at, changes.closed_at) as failed_at,
        changes.caused_incident_count,
        row_number() over (
            partition by changes.primary_ci_id
            order by coalesce(changes.actual_end_at, changes.closed_at) desc, changes.change_id desc
        ) as failure_rank
    from changes
    cross join now_and_since
    where changes.is_failed
        and changes.primary_ci_id is not null
        and coalesce(changes.actual_end_at, changes.closed_at) <= now_and_since.evidence_as_of

),

caused_incident_lists as (

    select
        primary_cause_change_id as change_id,
        {{ dbt.listagg("number || ' (P' || coalesce(cast(priority as " ~ dbt.type_string() ~ "), '?') || ')'", "', '", "order by number") }}
            as caused_incidents
    from incidents
    where primary_cause_change_id in (
        -- only the changes shown: the candidates and the CIs' last failures
        select change_id from candidates
        union
        select change_id
        from failed_changes
        where failure_rank <= 2
    )
    group by 1

),

last_failures as (

    select
        failed_changes.primary_ci_id,
        failed_changes.change_id as last_failed_change_id,
        failed_changes.number as last_failed_change_number,
        failed_changes.failed_at as last_failed_at,
        failed_changes.caused_incident_count as last_failure_caused_incident_count,
        caused_incident_lists.caused_incidents as last_failure_caused_incidents
    from failed_changes
    left join caused_incident_lists
        on caused_incident_lists.change_id = failed_changes.change_id
    where failed_changes.failure_rank <= 2

),

-- the candidate's CIs, their open incidents, its collisions ---------------------------------------

candidate_cis as (

    select distinct
        change_cis.change_id,
        change_cis.ci_id,
        change_cis.ci_name
    from change_cis
    inner join candidates
        on candidates.change_id = change_cis.change_id
    where change_cis.ci_id is not null
        and not change_cis.is_service

),

ci_lists as (

    select
        change_id,
        count(*) as ci_count,
        {{ dbt.listagg('ci_name', "', '", 'order by ci_name') }} as ci_names
    from candidate_cis
    group by 1

),

open_incidents as (

    select
        incidents.incident_id,
        incidents.ci_id
    from incidents
    cross join now_and_since
    where incidents.resolved_at is null
        and incidents.closed_at is null
        and coalesce(incidents.state, '') not in ('canceled', 'resolved', 'closed')
        and incidents.opened_at <= now_and_since.evidence_as_of
        and incidents.ci_id is not null

),

open_incident_counts as (

    select
        candidate_cis.change_id,
        count(distinct open_incidents.incident_id) as open_incident_count
    from candidate_cis
    inner join open_incidents
        on open_incidents.ci_id = candidate_cis.ci_id
    group by 1

),

collision_sides as (

    select
        change_id_a as change_id,
        description
    from collisions
    union all
    select
        change_id_b as change_id,
        description
    from collisions

),

collision_lists as (

    select
        change_id,
        count(*) as collision_count,
        {{ dbt.listagg('description', "'; '", 'order by description') }} as collision_descriptions
    from collision_sides
    group by 1

),

-- assembled --------------------------------------------------------------------------------------

joined as (

    select
        candidates.*,
        now_and_since.evidence_as_of,
        now_and_since.evidence_since,
        ci_lists.ci_names,
        coalesce(ci_lists.ci_count, 0) as ci_count,
        coalesce(window_checks.in_blackout, false) as cab_in_blackout,
        window_checks.blackout_window_name,
        -- not is_outside_maintenance_window: candidates.* holds fct_changes' column of that name (null
        -- unless scheduled); two columns of one name are ambiguous (Spark refuses; DuckDB took the first)
        coalesce(window_checks.is_outside_maintenance_window, false) as checked_outside_maintenance_window,
        coalesce(collision_lists.collision_count, 0) as collision_count,
        collision_lists.collision_descriptions,
        coalesce(ci_history.completed_count, 0) as ci_completed_count,
        coalesce(ci_history.successful_count, 0) as ci_successful_count,
        coalesce(ci_history.failed_count, 0) as ci_failed_count,
        coalesce(ci_history.caused_incident_count, 0) as ci_caused_incident_count,
        coalesce(service_history.completed_count, 0) as service_completed_count,
        coalesce(service_history.successful_count, 0) as service_successful_count,
        coalesce(service_history.failed_count, 0) as service_failed_count,
        coalesce(service_history.caused_incident_count, 0) as service_caused_incident_count,
        coalesce(group_history.completed_count, 0) as group_completed_count,
        coalesce(group_history.successful_count, 0) as group_successful_count,
        coalesce(group_history.failed_count, 0) as group_failed_count,
        coalesce(group_history.caused_incident_count, 0) as group_caused_incident_count,
        coalesce(open_incident_counts.open_incident_count, 0) as open_incident_count,
        last_failures.last_failed_change_id,
        last_failures.last_failed_change_number,
        last_failures.last_failed_at,
        last_failures.last_failure_caused_incident_count,
        last_failures.last_failure_caused_incidents,
        caused_incident_lists.caused_incidents,
        weight_pivot.*
    from candidates
    cross join now_and_since
    cross join weight_pivot
    left join ci_lists
        on ci_lists.change_id = candidates.change_id
    left join window_checks
        on window_checks.change_id = candidates.change_id
    left join collision_lists
        on collision_lists.change_id = candidates.change_id
    left join ci_history
        on ci_history.primary_ci_id = candidates.primary_ci_id
    left join service_history
        on service_history.service_id = candidates.service_id
    left join group_history
        on group_history.assignment_group = candidates.assignment_group
    left join open_incident_counts
        on open_incident_counts.change_id = candidates.change_id
    -- a nested subquery, against B3.8; excepted until it becomes a CTE (DECISIONLOG D27)
    left join (  -- noqa: ST05
        -- the primary CI's latest failed change other than the candidate itself
        select *
        from (
            select
                candidates.change_id,
                last_failures.*,
                row_number() over (
                    partition by candidates.change_id
                    order by last_failures.last_failed_at desc, last_failures.last_failed_change_id desc
                ) as other_failure_rank
            from candidates
            inner join last_failures
                on last_failures.primary_ci_id = candidates.primary_ci_id
                and last_failures.last_failed_change_id <> candidates.change_id
        ) as other_failures
        where other_failure_rank = 1
    ) as last_failures
        on last_failures.change_id = candidates.change_id
    left join caused_incident_lists
        on caused_incident_lists.change_id = candidates.change_id

),

points as (

    select
        joined.*,
        case risk
            when 'very_high' then risk_very_high_weight
            when 'high' then risk_high_weight
            when 'moderate' then risk_moderate_weight
            when 'low' then risk_low_weight
            else 0
        end as risk_points,
        case when is_emergency then emergency_weight else 0 end as emergency_points,
        case when ci_completed_count >= min_sample_weight
            then least(ci_failure_rate_cap, ci_failure_rate_weight * ci_failed_count / ci_completed_count) else 0 end
            as ci_failure_points,
        case when service_completed_count >= min_sample_weight
            then least(service_failure_rate_cap, service_failure_rate_weight * service_failed_count / service_completed_count) else 0 end
            as service_failure_points,
        case when group_completed_count >= min_sample_weight
            then least(group_failure_rate_cap, group_failure_rate_weight * group_failed_count / group_completed_count) else 0 end
            as group_failure_points,
        case when last_failed_at >= evidence_since then recent_failure_on_ci_weight else 0 end as recent_failure_points,
        least(open_incident_on_ci_cap, open_incident_on_ci_weight * open_incident_count) as open_incident_points,
        least(collision_cap, collision_weight * collision_count) as collision_points,
        case when cab_in_blackout then blackout_weight else 0 end as blackout_points,
        case when checked_outside_maintenance_window then outside_maintenance_window_weight else 0 end as maintenance_points
    from joined

),

scored as (

    select
        points.*,
        least(100.0, {{ round_half_up(
            'risk_points + emergency_points + ci_failure_points + service_failure_points + group_failure_points
            + recent_failure_points + open_incident_points + collision_points + blackout_points + maintenance_points'
        ) }}) as raw_risk_score
    from points

),

final as (

    select
        change_id,
        number,
        source_id,
        source_system,
        title,
        change_type,
        risk,
        state,
        state_category,
        outcome,
        origin,
        origin = 'form' as is_from_form,
        is_emergency,
        is_failed,
        state_category = 'open'
            and state in ({% for state in var('cab_awaiting_states', ['new', 'assess', 'authorize']) %}'{{ state }}'{{ ', ' if not loop.last }}{% endfor %})
            and approved_at is null
            and coalesce(change_type, '') <> 'standard' as is_awaiting_decision,
        assignment_group,
        primary_ci_id,
        primary_ci_name,
        service_id,
        service_name,
        ci_names,
        ci_count,
        opened_at,
        approved_at,
        planned_start_at,
        planned_end_at,
        actual_start_at,
        actual_end_at,
        closed_at,
        coalesce(actual_start_at, opened_at) as retrospective_at,
        coalesce(actual_end_at, closed_at) as review_at,
        cab_in_blackout as in_blackout,
        blackout_window_name,
        checked_outside_maintenance_window as is_outside_maintenance_window,
        collision_count,
        collision_descriptions,
        caused_incident_count,
        caused_incidents,
        evidence_as_of,
        evidence_since,
        ci_completed_count,
        ci_successful_count,
        ci_failed_count,
        {{ safe_rate('ci_successful_count', 'ci_completed_count') }} as ci_success_rate,
        ci_caused_incident_count,
        service_completed_count,
        service_successful_count,
        service_failed_count,
        {{ safe_rate('service_successful_count', 'service_completed_count') }} as service_success_rate,
        service_caused_incident_count,
        group_completed_count,
        group_successful_count,
        group_failed_count,
        {{ safe_rate('group_successful_count', 'group_completed_count') }} as group_success_rate,
        group_caused_incident_count,
        open_incident_count,
        last_failed_change_id,
        last_failed_change_number,
        last_failed_at,
        last_failure_caused_incident_count,
        last_failure_caused_incidents,
        cast(raw_risk_score as integer) as risk_score,
        case
            when raw_risk_score >= level_high_weight then 'high'
            when raw_risk_score >= level_medium_weight then 'medium'
            else 'low'
        end as risk_level,
        coalesce(concat_ws('; ',
            case when risk_points > 0 then 'risk ' || replace(risk, '_', ' ') || ' (+' || cast(cast({{ round_half_up('risk_points') }} as integer) as {{ dbt.type_string() }}) || ')' end,
            case when emergency_points > 0 then 'emergency change (+' || cast(cast({{ round_half_up('emergency_points') }} as integer) as {{ dbt.type_string() }}) || ')' end,
            case when ci_completed_count >= min_sample_weight and ci_failed_count > 0
                then 'CI ' || primary_ci_name || ': ' || cast(ci_failed_count as {{ dbt.type_string() }}) || ' of ' || cast(ci_completed_count as {{ dbt.type_string() }})
                    || ' changes failed in {{ evidence_days }} days (+' || cast(cast({{ round_half_up('ci_failure_points') }} as integer) as {{ dbt.type_string() }}) || ')' end,
            case when service_completed_count >= min_sample_weight and service_failed_count > 0
                then 'service ' || service_name || ': ' || cast(service_failed_count as {{ dbt.type_string() }}) || ' of ' || cast(service_completed_count as {{ dbt.type_string() }})
                    || ' changes failed in {{ evidence_days }} days (+' || cast(cast({{ round_half_up('service_failure_points') }} as integer) as {{ dbt.type_string() }}) || ')' end,
            case when group_completed_count >= min_sample_weight and group_failed_count > 0
                then 'group ' || assignment_group || ': ' || cast(group_failed_count as {{ dbt.type_string() }}) || ' of ' || cast(group_completed_count as {{ dbt.type_string() }})
                    || ' changes failed in {{ evidence_days }} days (+' || cast(cast({{ round_half_up('group_failure_points') }} as integer) as {{ dbt.type_string() }}) || ')' end,
            case when recent_failure_points > 0
                then 'last failure on ' || primary_ci_name || ': ' || last_failed_change_number || ' on ' || cast(cast(last_failed_at as date) as {{ dbt.type_string() }})
                    || ', caused ' || cast(coalesce(last_failure_caused_incident_count, 0) as {{ dbt.type_string() }}) || ' incident(s)'
                    || coalesce(': ' || last_failure_caused_incidents, '')
                    || ' (+' || cast(cast({{ round_half_up('recent_failure_points') }} as integer) as {{ dbt.type_string() }}) || ')' end,
            case when open_incident_points > 0
                then cast(open_incident_count as {{ dbt.type_string() }}) || ' open incident(s) on its CIs (+' || cast(cast({{ round_half_up('open_incident_points') }} as integer) as {{ dbt.type_string() }}) || ')' end,
            case when collision_points > 0
                then 'collides with ' || cast(collision_count as {{ dbt.type_string() }}) || ' change(s) (+' || cast(cast({{ round_half_up('collision_points') }} as integer) as {{ dbt.type_string() }}) || ')' end,
            case when blackout_points > 0
                then 'inside blackout ' || coalesce(blackout_window_name, '') || ' (+' || cast(cast({{ round_half_up('blackout_points') }} as integer) as {{ dbt.type_string() }}) || ')' end,
            case when maintenance_points > 0
                then 'outside every maintenance window (+' || cast(cast({{ round_half_up('maintenance_points') }} as integer) as {{ dbt.type_string() }}) || ')' end,
            case when ci_completed_count < min_sample_weight and primary_ci_id is not null
                then 'CI ' || primary_ci_name || ': only ' || cast(ci_completed_count as {{ dbt.type_string() }}) || ' completed change(s) in {{ evidence_days }} days, too few to rate' end
        ), '') as risk_reasons
    from scored

)

select * from final
