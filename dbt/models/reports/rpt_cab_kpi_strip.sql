{#- One row per KPI for the CAB meeting at T (macro cab_meeting_timestamp): rpt_kpi_strip_weekly's
    rows for T's ISO week (the last 4 complete weeks before that week against the 4 before those).
    The strip is defined once, in rpt_kpi_strip_weekly; this model only picks the default meeting's
    week and adds T. -#}
with

strips as (

    select * from {{ ref('rpt_kpi_strip_weekly') }}

),

meeting as (

    select
        {{ cab_meeting_timestamp() }} as cab_meeting_at,
        {{ period_start("'week'", cab_meeting_timestamp()) }} as meeting_week_start

),

final as (

    select
        strips.kpi,
        strips.kpi_label,
        strips.kpi_order,
        strips.unit,
        strips.better_direction,
        meeting.cab_meeting_at,
        strips.current_period_start,
        strips.current_period_end,
        strips.previous_period_start,
        strips.previous_period_end,
        strips.current_numerator,
        strips.current_denominator,
        strips.current_value,
        strips.previous_numerator,
        strips.previous_denominator,
        strips.previous_value,
        strips.value_change
    from strips
    inner join meeting
        on strips.week_start = meeting.meeting_week_start

)

select * from final
