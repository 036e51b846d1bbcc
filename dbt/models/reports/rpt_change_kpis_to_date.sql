{#- The change KPIs of the period before the current one, cut to the days of the current period begun
    by "now" (var as_of or the build time): the like-for-like comparison of a month (week) to date.
    Same columns and definitions as rpt_change_kpis (both are the macro change_kpis), plus the window
    they cover: [period_start, compare_end), compared_days days, against current_period_start. One
    row per (period_grain, dimension, dimension_value) that had an event in that window. -#}

{{ change_kpis(to_date=true) }}
