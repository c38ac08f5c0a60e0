insert into users (name, email, password_hash, created_at)
select 'Bench ' || n, 'bench' || n || '@example.pk', 'x', now() - make_interval(mins => (n * 5.256)::int)
from generate_series(1, 200000) n;
insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr, final_amount_pkr,
                    created_at, paid_at, kind, cancelled_at)
select (select min(id) from users) + (n % 200000),
       case when n % 20 < 10 then 'active' when n % 20 < 15 then 'expired' when n % 20 < 18 then 'cancelled' else 'paid' end,
       4500, 0, 4500, at,
       case when n % 20 < 10 or n % 20 >= 18 then at end,
       case when n % 5 = 0 then 'renewal' else 'new' end,
       case when n % 20 >= 10 and n % 20 < 18 then at + interval '1 day' end
from generate_series(1, 1000000) n, lateral (select now() - make_interval(secs => n * 63.07) as at) x;
insert into order_items (order_id, plan_id, location_id, quantity, price_at_order_pkr, validity_months)
select o.id, (array['rdp-starter-one','rdp-business-two','vps-nano-one'])[1 + o.id % 3],
       (select min(id) from locations) + o.id % 3, 1, 4500, 1
from orders o;
insert into services (user_id, service_type, status, plan_id, location_id)
select (select min(id) from users) + n % 200000, 'rdp', case when n % 10 = 0 then 'suspended' else 'active' end,
       (array['rdp-starter-one','rdp-business-two','vps-nano-one'])[1 + n % 3], (select min(id) from locations) + n % 3
from generate_series(1, 500000) n;

