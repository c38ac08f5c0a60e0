-- The operator's side at a million orders: indexes for the searches, lists and queues that read
-- every row before.

-- Searches by part of an e-mail or a name (`ilike '%…%'`): trigram GIN indexes answer them from
-- the index for a pattern of three characters or more. pg_trgm ships with PostgreSQL and is a
-- trusted extension (the database's owner may create it). Chosen over a full-text index, which
-- matches words, not the middle of an address.
create extension if not exists pg_trgm;
create index users_email_trgm_idx on users using gin (email gin_trgm_ops);
create index users_name_trgm_idx on users using gin (name gin_trgm_ops);

-- The operator's service list by status, newest first: read in order, not sorted whole. It
-- serves what the status-only index served.
create index services_status_created_idx on services (status, created_at desc, id desc);
drop index services_status_idx;

-- Customers' requests still open (the provisioning queue): pending log lines are few among
-- every service's history.
create index service_logs_pending_idx on service_logs (created_at desc, id desc)
    where status = 'pending';
