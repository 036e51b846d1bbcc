-- A returned row is an incident whose primary cause in fct_incidents is not the candidate
-- flagged is_primary in fct_incident_change_candidates (the two marts disagree).
with primary_candidates as (
    select
        incident_id,
        change_id
    from {{ ref('fct_incident_change_candidates') }}
    where is_primary
)

select
    incidents.incident_id,
    incidents.primary_cause_change_id,
    primary_candidates.change_id as candidate_primary_change_id
from {{ ref('fct_incidents') }} as incidents
full outer join primary_candidates
    on primary_candidates.incident_id = incidents.incident_id
where incidents.primary_cause_change_id is distinct from primary_candidates.change_id
