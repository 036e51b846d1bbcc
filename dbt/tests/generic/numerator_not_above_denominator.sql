{#- Fails on every row whose numerator exceeds its denominator (a rate above 100 %) or where
    the numerator is set while the denominator is null. -#}
{% test numerator_not_above_denominator(model, numerator, denominator) %}
select *
from {{ model }}
where {{ numerator }} > {{ denominator }}
    or ({{ numerator }} is not null and {{ denominator }} is null)
{% endtest %}
