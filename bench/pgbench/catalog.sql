-- The catalog's SQL, as one pgbench transaction: what src/catalog/cache.rs `load` runs to take
-- a snapshot (every catalog endpoint and storefront page is served from that snapshot, reloaded
-- at most once a second per node). Statements as the application sends them (bench/run runs
-- pgbench with -M prepared, as sqlx prepares every statement). The plans query's category
-- filter is unset (NULL) as in the snapshot; plan_ids (-D) are the ids of the plans on sale.
begin;
set transaction isolation level repeatable read, read only;
select id, name, slug, description, display_order, created_at, updated_at from product_categories order by display_order nulls last, name, id;
select id, slug, name, country_code, city, is_active, display_order, created_at, updated_at from locations where is_active order by display_order nulls last, name, id;
select p.id, p.category_id, p.name, p.description, p.cpu, p.ram, p.storage,
       p.bandwidth, p.os, p.price_pkr, p.is_active, p.theme_color, p.label,
       p.display_order, p.created_at, p.updated_at
  from plans p join product_categories c on c.id = p.category_id
 where p.is_active and (null::text is null or c.slug = null)
 order by c.display_order nulls last, p.display_order, p.price_pkr, p.id;
select id, plan_id, feature, position from plan_features
 where plan_id = any(:plan_ids) order by plan_id, position, id;
select pl.plan_id, pl.location_id
  from plan_locations pl join locations l on l.id = pl.location_id
 order by pl.plan_id, l.display_order nulls last, l.name, l.id;
commit;
