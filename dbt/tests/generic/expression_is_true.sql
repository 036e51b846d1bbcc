{#- Fails on every row where `expression` is not true (null counts as a failure unless the
    expression handles it). Optional `where` through the test config. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
