-- Catalog change notifications.
--
-- Every app node keeps an in-process copy of the catalog (src/catalog/cache.rs). Any statement
-- that changes a catalog table, whoever runs it (the admin API on any node, `nextgenrdp catalog
-- import`, an operator in psql), notifies channel `nextgenrdp_catalog`; each node LISTENs and
-- drops its copy. PostgreSQL delivers a notification when the transaction commits (never for a
-- rolled-back one) and folds identical notifications of one transaction into one, so an import
-- touching hundreds of rows still wakes each node once.

create function notify_catalog_changed() returns trigger
language plpgsql as $$
begin
    perform pg_notify('nextgenrdp_catalog', '');
    return null;
end;
$$;

create trigger notify_catalog_changed
    after insert or update or delete or truncate on product_categories
    for each statement execute function notify_catalog_changed();
create trigger notify_catalog_changed
    after insert or update or delete or truncate on plans
    for each statement execute function notify_catalog_changed();
create trigger notify_catalog_changed
    after insert or update or delete or truncate on plan_features
    for each statement execute function notify_catalog_changed();
create trigger notify_catalog_changed
    after insert or update or delete or truncate on locations
    for each statement execute function notify_catalog_changed();
create trigger notify_catalog_changed
    after insert or update or delete or truncate on plan_locations
    for each statement execute function notify_catalog_changed();
