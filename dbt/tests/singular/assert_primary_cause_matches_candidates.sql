-- A returned row is an incident whose primary cause in fct_incidents is not the candidate
-- flagged is_primary in fct_incident_change_candidates (the two marts disagree).
select
    incidents.incident_id,
    incidents.primary_cause_change_id,
    candidates.change_id as candidate_primary_change_id
from {{ ref('fct_incidents') }} as incidents
full outer join (
    select incident_id, change_id
    from {{ ref('fct_incident_change_candidates') }}
    where is_primary
) as candidates
    on candidates.incident_id = incidents.incident_id
where incidents.primary_cause_change_id is distinct from candidates.change_id
