-- A returned row means the incidents counted as caused in fct_changes do not add up to the
-- change-caused incidents in fct_incidents: an incident would count for two changes, or none.
select
    changes_total,
    incidents_total
from (
    select
        (select coalesce(sum(caused_incident_count), 0) from {{ ref('fct_changes') }}) as changes_total,
        (select count(*) from {{ ref('fct_incidents') }} where is_change_caused) as incidents_total
) as totals
where changes_total <> incidents_total
