-- One checkout (cart -> order) as one pgbench transaction: the SQL of the two requests of the
-- `checkout` scenario, in order, as the application sends them (bench/run runs pgbench with
-- -M prepared, as sqlx prepares every statement):
--
--   POST /api/v1/cart/items   (src/accounts/extract.rs, src/orders/cart.rs, carts.rs)
--   POST /api/v1/orders       (src/orders/checkout.rs `place_order`: one transaction; then the
--                              answer's items, src/orders/api.rs `order_response`)
--
-- A random customer of this client's own slice of the prepared data set (bench/run makes
-- 16 verified customers per client, each with a live session and an empty cart), so clients
-- never wait on each other's cart lock — as in the wrk scenario, where every connection has its
-- own customers. Variables from bench/run (-D): ubase, sbase (first user / session id),
-- per_client, plan, loc, months (the line added).
\set n random(0, :per_client - 1)
\set uid :ubase + :client_id * :per_client + :n
\set sid :sbase + :client_id * :per_client + :n
\set key random(1, 9000000000000000000)

-- POST /api/v1/cart/items: the bearer token's live session and user
select s.id as session_id, s.last_used_at as session_last_used_at, u.id, u.name, u.email, u.phone, u.password_hash,
       u.is_verified, u.role, u.email_verified_at, u.disabled_at, u.last_login_at,
       u.created_at, u.updated_at
  from user_sessions s join users u on u.id = s.user_id
 where s.id = :sid and s.revoked_at is null and s.expires_at > now()
   and u.disabled_at is null;
-- validate_item: the plan, where it is sold, the location's capacity
select id, category_id, name, description, cpu, ram, storage, bandwidth, os, price_pkr, is_active, theme_color, label, display_order, created_at, updated_at from plans where id = :plan;
select l.id, l.slug, l.name, l.country_code, l.city, l.is_active, l.display_order,
       l.created_at, l.updated_at
  from plan_locations pl join locations l on l.id = pl.location_id
 where pl.plan_id = :plan
 order by l.display_order nulls last, l.name, l.id;
select least(
     (select count(*) from ip_addresses a
      where a.backend_id = b.id and a.service_id is null
        and (a.released_at is null
             or a.released_at < now() - make_interval(days => 7))),
     b.vmid_max - coalesce((select max(vmid) from vm_ids v where v.backend_id = b.id),
                           b.vmid_min - 1)
 )::bigint
 from provisioning_backends b
 where b.location_id = :loc and b.is_active and b.driver = 'proxmox';
-- the customer's cart, the line added, the cart touched and priced
select id, user_id, token_hash, promo_code_id, created_at, updated_at from carts where user_id = :uid \gset cart_
insert into cart_items (cart_id, plan_id, location_id, validity_months, quantity)
 values (:cart_id, :plan, :loc, :months, 1)
 on conflict (cart_id, plan_id, location_id, validity_months)
 do update set quantity = cart_items.quantity + excluded.quantity
 returning id;
update carts set updated_at = now() where id = :cart_id;
select ci.id, ci.plan_id, ci.location_id, ci.validity_months, ci.quantity,
       p.name as plan_name, coalesce(p.is_active, true) as plan_active, p.price_pkr,
       c.slug as category_slug, p.theme_color,
       l.name as location_name, coalesce(l.is_active, true) as location_active,
       exists (select 1 from plan_locations pl
               where pl.plan_id = ci.plan_id and pl.location_id = ci.location_id) as sold_there
  from cart_items ci
  join plans p on p.id = ci.plan_id
  left join product_categories c on c.id = p.category_id
  join locations l on l.id = ci.location_id
 where ci.cart_id = :cart_id
 order by ci.id;

-- POST /api/v1/orders: the session again, then place_order's transaction
select s.id as session_id, s.last_used_at as session_last_used_at, u.id, u.name, u.email, u.phone, u.password_hash,
       u.is_verified, u.role, u.email_verified_at, u.disabled_at, u.last_login_at,
       u.created_at, u.updated_at
  from user_sessions s join users u on u.id = s.user_id
 where s.id = :sid and s.revoked_at is null and s.expires_at > now()
   and u.disabled_at is null;
begin;
insert into idempotency_keys (user_id, key) values (:uid, :key)
 on conflict do nothing returning user_id;
select id, user_id, token_hash, promo_code_id, created_at, updated_at from carts where user_id = :uid for update;
select ci.id, ci.plan_id, ci.location_id, ci.validity_months, ci.quantity,
       p.name as plan_name, coalesce(p.is_active, true) as plan_active, p.price_pkr,
       c.slug as category_slug, p.theme_color,
       l.name as location_name, coalesce(l.is_active, true) as location_active,
       exists (select 1 from plan_locations pl
               where pl.plan_id = ci.plan_id and pl.location_id = ci.location_id) as sold_there
  from cart_items ci
  join plans p on p.id = ci.plan_id
  left join product_categories c on c.id = p.category_id
  join locations l on l.id = ci.location_id
 where ci.cart_id = :cart_id
 order by ci.id \gset line_
select least(
     (select count(*) from ip_addresses a
      where a.backend_id = b.id and a.service_id is null
        and (a.released_at is null
             or a.released_at < now() - make_interval(days => 7))),
     b.vmid_max - coalesce((select max(vmid) from vm_ids v where v.backend_id = b.id),
                           b.vmid_min - 1)
 )::bigint
 from provisioning_backends b
 where b.location_id = :loc and b.is_active and b.driver = 'proxmox';
\set total :line_price_pkr * :line_validity_months * :line_quantity
insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                    final_amount_pkr, promo_code, payment_method, notes, promo_code_id)
 values (:uid, 'pending_payment', :total, 0, :total, null, null, null, null) returning id, user_id, status, total_amount_pkr, discount_amount_pkr, final_amount_pkr, promo_code, payment_method, payment_reference, notes, created_at, updated_at, promo_code_id, paid_at, cancelled_at, kind \gset order_
insert into order_items (order_id, plan_id, location_id, quantity,
                         price_at_order_pkr, validity_months)
 values (:order_id, :plan, :loc, :line_quantity, :line_price_pkr, :line_validity_months) returning id, order_id, plan_id, location_id, quantity, price_at_order_pkr, validity_months, start_date, end_date;
delete from cart_items where cart_id = :cart_id;
update carts set promo_code_id = null where id = :cart_id;
update idempotency_keys set order_id = :order_id where user_id = :uid and key = :key;
commit;
-- the answer's items
select oi.id, oi.plan_id, p.name as plan_name, oi.location_id, l.name as location_name,
       oi.quantity, oi.price_at_order_pkr, oi.validity_months, oi.start_date, oi.end_date
  from order_items oi
  left join plans p on p.id = oi.plan_id
  left join locations l on l.id = oi.location_id
 where oi.order_id = :order_id
 order by oi.id;
