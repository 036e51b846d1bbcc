{#- One row per (period_grain, period_start, dimension, dimension_value): every ITIL change KPI
    as numerator, denominator and rate. A change lands in a period by the event the metric is
    about: outcome metrics by closed_at, intake metrics by opened_at, deployment metrics
    (incident-based fail rate, lead time to production) by actual_end_at, incidents caused by
    changes by the incident's opened_at. Definitions: models/docs.md. Periods are dense within
    each (grain, dimension value)'s own range: every period from its first to its last period with
    an event appears, the empty ones with zero counts and null rates and medians (charts show the
    gap), and nothing is invented before the first or after the last event. -#}
{{ change_kpis() }}
