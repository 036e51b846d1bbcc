{#- One row per change that belongs to a release: the release chosen for the change. Membership
    comes from the change's own release reference and from release_change rows; release numbers
    resolve in the change's own source system first, then in any source. When a change belongs to
    several releases, the membership row wins over the reference, then the latest released. -#}
with

changes as (

    select * from {{ ref('stg_canonical__changes') }}

),

release_changes as (

    select * from {{ ref('stg_canonical__release_changes') }}

),

releases as (

    select * from {{ ref('stg_canonical__releases') }}

),

memberships as (

    select
        change_id,
        source_system,
        release_ref,
        'change_release_ref' as membership_method
    from changes
    where release_ref is not null
    union all
    select
        release_changes.change_id,
        release_changes.source_system,
        release_changes.release_ref,
        'release_membership' as membership_method
    from release_changes
    inner join changes
        on changes.change_id = release_changes.change_id

),

resolved as (

    select
        memberships.change_id,
        releases.release_id,
        releases.number as release_number,
        releases.released_at,
        memberships.membership_method,
        releases.source_system = memberships.source_system as is_same_source
    from memberships
    inner join releases
        on lower(coalesce(releases.number, releases.source_id)) = lower(memberships.release_ref)

),

release_counts as (

    select
        change_id,
        count(distinct release_id) as release_count
    from resolved
    group by 1

),

ranked as (

    select
        resolved.change_id,
        resolved.release_id,
        resolved.release_number,
        resolved.membership_method,
        release_counts.release_count,
        row_number() over (
            partition by resolved.change_id
            order by
                resolved.is_same_source desc,
                case resolved.membership_method when 'release_membership' then 0 else 1 end asc,
                resolved.released_at desc nulls last,
                resolved.release_id asc
        ) as release_rank
    from resolved
    inner join release_counts
        on release_counts.change_id = resolved.change_id

),

chosen as (

    select
        change_id,
        release_id,
        release_number,
        membership_method,
        release_count
    from ranked
    where release_rank = 1

)

select * from chosen
