-- A returned row is a metric_confidence row of rpt_data_quality whose coverage does not equal the
-- coverage of the input check it names as weakest (same source system), or that names no check.
with

checks as (

    select * from {{ ref('rpt_data_quality') }}

),

metric_rows as (

    select * from checks
    where check_type = 'metric_confidence'

),

input_rows as (

    select * from checks
    where check_type <> 'metric_confidence'

)

select metric_rows.*
from metric_rows
left join input_rows
    on input_rows.metric = metric_rows.weakest_input
    and input_rows.source_system = metric_rows.source_system
where input_rows.metric is null
    or input_rows.numerator <> metric_rows.numerator
    or input_rows.denominator <> metric_rows.denominator
