-- The dashboard's charts at a million orders: each reads a range of one index (the amounts from
-- the index itself where it can), not the tables. Revenue per day and per month reads
-- `orders_earning_paid_at_idx` (20261205000009_scale_lists.sql); orders per day
-- `orders_created_at_idx`.

-- New customers per day.
create index users_created_at_idx on users (created_at);

-- Renewals collected (paid) and lapsed (cancelled or expired unpaid) per month.
create index orders_renewal_paid_idx on orders (paid_at)
    where kind = 'renewal' and status in ('paid', 'processing', 'active');
create index orders_renewal_lapsed_idx on orders (cancelled_at)
    where kind = 'renewal' and status in ('cancelled', 'expired');

-- Active services by plan and by location: an index-only count of the active ones.
create index services_active_plan_location_idx on services (plan_id, location_id)
    where status = 'active';
