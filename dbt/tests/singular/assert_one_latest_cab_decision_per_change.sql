-- A returned row is a change with no or several decisions in force (fct_cab_decisions.is_latest):
-- every decided change has exactly one latest decision.
select
    change_id,
    count(*) filter (where is_latest) as latest_count
from {{ ref('fct_cab_decisions') }}
group by 1
having count(*) filter (where is_latest) <> 1
