-- The operator's side at a million orders, continued: the dashboard's revenue, the unfiltered
-- lists, and the searches by reference, hostname and IP address.

-- Revenue today and this month: a range scan of the earning orders' payment times that reads
-- the amounts from the index (no visit to the table), however many orders came before this
-- month. Chosen over a revenue-per-day table kept by a trigger: exact without a second copy of
-- the money to keep right, at the cost of reading this month's paid orders (22,000 a month at
-- a million orders over two years: 3 ms).
create index orders_earning_paid_at_idx on orders (paid_at) include (final_amount_pkr)
    where status in ('paid', 'processing', 'active');

-- Every service and every payment, newest (services) or oldest (payments) first: read in
-- order, not sorted whole (70 ms at 500,000 rows).
create index services_created_idx on services (created_at desc, id desc);
create index payments_created_idx on payments (created_at, id);

-- Searches by part of a reference or a hostname (`ilike '%…%'`), as for the e-mails
-- (20261205000008_scale.sql): trigram indexes, combined by the planner with the primary keys
-- when the search is also a number.
create index payments_gateway_txn_id_trgm_idx on payments using gin (gateway_txn_id gin_trgm_ops);
create index payments_gateway_reference_trgm_idx on payments
    using gin (gateway_reference gin_trgm_ops);
create index services_hostname_trgm_idx on services using gin (hostname gin_trgm_ops);

-- The order search matches a whole payment reference, in any case: the order's reference is a
-- copy of its settled payment's, whose parts the payment search finds. One B-tree probe instead
-- of a trigram scan over a million references (0.6 ms of the order search at a million orders).
create index orders_payment_reference_upper_idx on orders (upper(payment_reference));

-- An IP address is searched by its beginning (`10.0.16.` finds the subnet; addresses are stored
-- in their canonical lower-case spelling): a B-tree range, not trigrams, which split an address
-- at its dots into one- to three-digit words nearly every address shares (a search for
-- `10.0.16.` read 325 index pages for 16 candidates, none of them a match).
create index services_ip_address_prefix_idx on services (ip_address text_pattern_ops);

-- Each customer's orders in two figures, kept by the database in the transactions that add,
-- remove or move an order: how many, and when the newest was placed. An order search by part of
-- an e-mail reads them from the accounts it matches — the total is their sum, and the page's
-- orders can only come from the accounts with the newest last orders — instead of gathering
-- every order of every matching account (5,620 orders of 1,111 accounts for `ustomer42` at a
-- million orders, a cost that grows with the shop). Exact, and kept beside the orders rather
-- than on `users`, whose `updated_at` would move with every order.
create table customer_orders (
    user_id integer primary key references users(id) on delete cascade,
    orders integer not null default 0 check (orders >= 0),
    last_order_at timestamp with time zone
);
insert into customer_orders (user_id, orders, last_order_at)
select user_id, count(*), max(created_at) from orders where user_id is not null group by user_id;
create index customer_orders_last_order_idx on customer_orders (last_order_at desc);

create function count_customer_orders() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') and old.user_id is not null then
        update customer_orders
           set orders = orders - 1,
               last_order_at = (select max(created_at) from orders where user_id = old.user_id)
         where user_id = old.user_id;
    end if;
    if tg_op in ('INSERT', 'UPDATE') and new.user_id is not null then
        insert into customer_orders as c (user_id, orders, last_order_at)
        values (new.user_id, 1, new.created_at)
        on conflict (user_id) do update
            set orders = c.orders + 1,
                last_order_at = greatest(c.last_order_at, excluded.last_order_at);
    end if;
    return null;
end
$$;
create trigger orders_count_customer_orders after insert or delete on orders
    for each row execute function count_customer_orders();
create trigger orders_recount_customer_orders after update of user_id, created_at on orders
    for each row
    when (old.user_id is distinct from new.user_id or old.created_at is distinct from new.created_at)
    execute function count_customer_orders();

-- Customers' open requests (the provisioning queue, the dashboard): only the pending lines that
-- are requests. The index of every pending line (20261205000008_scale.sql) also held each
-- renewal order's line, which stays pending, so the queue read more of them with every renewal
-- raised (10,000 after one day's sweep at a million orders: 2.1 -> 4.5 ms).
create index service_logs_open_requests_idx on service_logs (created_at desc, id desc)
    where status = 'pending' and action like '%\_requested';
drop index service_logs_pending_idx;
