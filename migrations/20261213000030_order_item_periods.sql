-- The founding document's `order_items.start_date` / `end_date` for every item (issue 23): a
-- renewal item has had its period from the start; a new purchase's item now gets its service's
-- first period when the service goes live (`orders::items::cover_period`). This fills the items
-- bought before: the first period of each live-once service is [its activation, its first due
-- date]; a service since renewed has its first due date as the start of its first renewal (and
-- its start that minus the item's months), one never renewed has `last_renewal_date` /
-- `next_renewal_date`. An item of several servers covers them all.
with periods as (
    select s.order_item_id as item_id,
           coalesce(r.first_due - make_interval(months => oi.validity_months),
                    s.last_renewal_date) as starts,
           coalesce(r.first_due, s.next_renewal_date) as ends
    from services s
    join order_items oi on oi.id = s.order_item_id
    left join lateral (
        select min(ri.start_date) as first_due
        from order_items ri
        where ri.service_id = s.id and ri.start_date is not null
    ) r on true
    where oi.service_id is null
      and oi.start_date is null
      and s.last_renewal_date is not null
)
update order_items oi
set start_date = p.starts, end_date = p.ends
from (
    select item_id, min(starts) as starts, max(ends) as ends
    from periods
    group by item_id
) p
where oi.id = p.item_id
  and p.starts is not null
  and p.ends is not null
  and p.ends >= p.starts;
