{#- Fails on every row whose rate lies outside [0, 1]; null rates (empty denominators) pass. -#}
{% test rate_between_0_and_1(model, column_name) %}
select *
from {{ model }}
where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}
