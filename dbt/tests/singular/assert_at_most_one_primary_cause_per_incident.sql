-- A returned row is an incident with more than one primary cause candidate (docs/metrics.md:
-- "each incident has at most one primary cause").
select
    incident_id,
    count(*) as primary_count
from {{ ref('fct_incident_change_candidates') }}
where is_primary
group by 1
having count(*) > 1
