-- A returned row is a change with no or several decisions in force (fct_cab_decisions.is_latest):
-- every decided change has exactly one latest decision.
select
    change_id,
    sum(case when is_latest then 1 else 0 end) as latest_count
from {{ ref('fct_cab_decisions') }}
group by 1
having sum(case when is_latest then 1 else 0 end) <> 1
