-- OS choice and reinstall (issue 20).
--
-- The operating systems a shop offers (`os_templates`), which plans offer which
-- (`plan_os_templates`), and the Proxmox template VM each backend clones for each
-- (`backend_os_templates`). The size of a clone still comes from the plan's
-- `backend_templates` row; only the image and its login name come from the OS.
create table os_templates (
    id serial primary key,
    name varchar(60) not null unique check (length(btrim(name)) between 1 and 60),
    family varchar(10) not null check (family in ('linux', 'windows')),
    -- The user cloud-init creates: 'Administrator' on Windows, 'root' or a user on Linux.
    username varchar(32) not null check (length(username) between 1 and 32),
    is_active boolean not null default true,
    sort_order integer not null default 0,
    created_at timestamp with time zone not null default current_timestamp,
    updated_at timestamp with time zone not null default current_timestamp
);
select trigger_updated_at('os_templates');

create table plan_os_templates (
    plan_id varchar(50) not null references plans(id) on delete cascade,
    os_template_id integer not null references os_templates(id) on delete cascade,
    primary key (plan_id, os_template_id)
);
create index plan_os_templates_os_template_id_idx on plan_os_templates (os_template_id);

create table backend_os_templates (
    backend_id integer not null references provisioning_backends(id) on delete cascade,
    os_template_id integer not null references os_templates(id) on delete cascade,
    template_vmid integer not null check (template_vmid between 100 and 999999999),
    primary key (backend_id, os_template_id)
);
create index backend_os_templates_os_template_id_idx on backend_os_templates (os_template_id);

-- The choice travels cart line → order item → service. SSH keys are chosen by id in the cart
-- (the customer's own, sorted) and copied as text at checkout: deleting a key later does not
-- change what a bought server was built with.
alter table cart_items
    add column os_template_id integer references os_templates(id) on delete cascade,
    add column ssh_key_ids integer[] not null default '{}',
    drop constraint cart_items_cart_id_plan_id_location_id_validity_months_key,
    add constraint cart_items_line_key
        unique nulls not distinct (cart_id, plan_id, location_id, validity_months, os_template_id, ssh_key_ids);
create index cart_items_os_template_id_idx on cart_items (os_template_id);

alter table order_items
    add column os_template_id integer references os_templates(id) on delete set null,
    add column os_template_name varchar(60),
    add column ssh_keys text;
create index order_items_os_template_id_idx on order_items (os_template_id);

alter table services
    add column os_template_id integer references os_templates(id) on delete set null,
    add column os_template_name varchar(60),
    add column ssh_keys text;
create index services_os_template_id_idx on services (os_template_id);

-- A reinstall: a step machine like provisioning's, on the same VM id and address. One running
-- per service at a time; the rows are also the rate limit's count (3 a day).
create table service_reinstalls (
    id bigserial primary key,
    service_id integer not null references services(id) on delete cascade,
    os_template_id integer references os_templates(id) on delete set null,
    os_template_name varchar(60),
    ssh_keys text,
    step varchar(20) not null default 'pending'
        check (step in ('pending', 'stopped', 'destroyed', 'cloning', 'cloned', 'configured',
                        'resized', 'starting', 'done', 'failed')),
    task_upid text,
    error text,
    requested_by integer references users(id) on delete set null,
    created_at timestamp with time zone not null default current_timestamp,
    finished_at timestamp with time zone
);
create index service_reinstalls_service_id_idx on service_reinstalls (service_id, created_at desc);
create unique index service_reinstalls_one_running_idx on service_reinstalls (service_id)
    where finished_at is null;
create index service_reinstalls_os_template_id_idx on service_reinstalls (os_template_id);
create index service_reinstalls_requested_by_idx on service_reinstalls (requested_by);

-- The storefront's catalog cache reloads when the offered systems change, as for plans.
create trigger notify_catalog_changed
    after insert or update or delete or truncate on os_templates
    for each statement execute function notify_catalog_changed();
create trigger notify_catalog_changed
    after insert or update or delete or truncate on plan_os_templates
    for each statement execute function notify_catalog_changed();
