-- A returned row is an open / in-progress change scheduled in the forward schedule of the default
-- meeting (or awaiting a decision) that rpt_cab_agenda does not list: the agenda lost a change.
with

agenda as (

    select * from {{ ref('rpt_cab_agenda') }}

),

meeting as (

    select distinct cab_meeting_at, forward_schedule_end_at from agenda

),

expected as (

    select evidence.change_id
    from {{ ref('fct_change_risk_evidence') }} as evidence
    cross join meeting
    where evidence.is_awaiting_decision
        or (
            evidence.state_category in ('open', 'in_progress')
            and evidence.planned_start_at >= meeting.cab_meeting_at
            and evidence.planned_start_at < meeting.forward_schedule_end_at
        )

)

select expected.change_id
from expected
left join agenda
    on agenda.change_id = expected.change_id
    and agenda.agenda_section in ('awaiting_decision', 'scheduled')
where agenda.change_id is null
