-- A returned row means the incidents counted as caused in fct_changes do not add up to the
-- change-caused incidents in fct_incidents: an incident would count for two changes, or none.
with change_totals as (
    select coalesce(sum(caused_incident_count), 0) as changes_total
    from {{ ref('fct_changes') }}
),

incident_totals as (
    select count(*) as incidents_total
    from {{ ref('fct_incidents') }}
    where is_change_caused
)

select
    change_totals.changes_total,
    incident_totals.incidents_total
from change_totals
cross join incident_totals
where change_totals.changes_total <> incident_totals.incidents_total
