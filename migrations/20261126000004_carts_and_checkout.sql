-- Carts (server-side, for guests and customers), checkout idempotency, and the order fields
-- checkout and expiry need.

create table carts (
    id bigserial primary key,
    -- a customer's cart, or a guest's identified by the hash of its cookie token
    user_id integer unique references users(id) on delete cascade,
    token_hash varchar(64) unique,
    promo_code_id integer references promo_codes(id) on delete set null,
    created_at timestamp with time zone not null default current_timestamp,
    updated_at timestamp with time zone not null default current_timestamp,
    check (user_id is not null or token_hash is not null)
);
create index carts_promo_code_id_idx on carts (promo_code_id);
create index carts_updated_at_idx on carts (updated_at) where user_id is null;
select trigger_updated_at('carts');

create table cart_items (
    id bigserial primary key,
    cart_id bigint not null references carts(id) on delete cascade,
    plan_id varchar(50) not null references plans(id) on delete cascade,
    location_id integer not null references locations(id) on delete cascade,
    validity_months integer not null check (validity_months in (1, 3, 6, 12)),
    quantity integer not null check (quantity between 1 and 10),
    created_at timestamp with time zone not null default current_timestamp,
    updated_at timestamp with time zone not null default current_timestamp,
    unique (cart_id, plan_id, location_id, validity_months)
);
create index cart_items_plan_id_idx on cart_items (plan_id);
create index cart_items_location_id_idx on cart_items (location_id);
select trigger_updated_at('cart_items');

-- One order per (customer, Idempotency-Key): a retried or duplicated checkout request returns
-- the order the first one created. The row is inserted first in the checkout transaction, so a
-- concurrent duplicate waits on it and then finds the order.
create table idempotency_keys (
    user_id integer not null references users(id) on delete cascade,
    key varchar(200) not null,
    order_id integer references orders(id) on delete cascade,
    created_at timestamp with time zone not null default current_timestamp,
    primary key (user_id, key)
);
create index idempotency_keys_order_id_idx on idempotency_keys (order_id);

-- Which promo code's use the order holds (released if it is cancelled or expires), and when it
-- was paid or cancelled. Unpaid orders expire a configurable time after created_at.
alter table orders
    add column promo_code_id integer references promo_codes(id) on delete set null,
    add column paid_at timestamp with time zone,
    add column cancelled_at timestamp with time zone;
create index orders_promo_code_id_idx on orders (promo_code_id);
create index orders_pending_created_at_idx on orders (created_at) where status = 'pending_payment';
