-- Snapshots (issue 20): how many a customer may keep of a server of this plan on this backend
-- (0: none), set with the plan's template beside its cores, memory and disk.
alter table backend_templates
    add column snapshot_limit integer not null default 0 check (snapshot_limit between 0 and 20);
