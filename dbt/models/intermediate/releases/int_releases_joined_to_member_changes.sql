{#- One row per release: its deployment time, defined here only. A release is deployed at its
    release date (released_at), else at the last actual end of its member changes (the change's
    chosen release, int_changes_joined_to_releases); never deployed when it has neither.
    fct_releases publishes it (deployed_at), fct_incidents places a release-caused incident by it
    (primary_cause_release_deployed_at) and the release attribution infers against it. -#}
with

releases as (

    select * from {{ ref('stg_canonical__releases') }}

),

change_releases as (

    select * from {{ ref('int_changes_joined_to_releases') }}

),

changes as (

    select * from {{ ref('stg_canonical__changes') }}

),

member_ends as (

    select
        change_releases.release_id,
        max(changes.actual_end_at) as last_member_actual_end_at
    from change_releases
    inner join changes
        on changes.change_id = change_releases.change_id
    group by 1

),

final as (

    select
        releases.release_id,
        releases.number as release_number,
        releases.released_at,
        member_ends.last_member_actual_end_at,
        coalesce(releases.released_at, member_ends.last_member_actual_end_at) as deployed_at
    from releases
    left join member_ends
        on member_ends.release_id = releases.release_id

)

select * from final
