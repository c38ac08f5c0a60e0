-- Provisioning: the backends that build servers, the VM ids and IP addresses our database
-- allocates for them, each service's place in its provisioning step machine, and renewals.

-- Where and how servers of a location are built. A location with no active backend is served
-- by hand (the manual driver). One active backend per location.
create table provisioning_backends (
    id serial primary key,
    name varchar(100) not null unique check (length(btrim(name)) > 0),
    driver varchar(20) not null check (driver in ('manual', 'proxmox')),
    location_id integer not null references locations(id) on delete restrict,
    is_active boolean not null default true,
    -- Proxmox VE: the API, its token (secret sealed with the credential key) and the node's
    -- certificate to pin, the node and storage to build on, and the VM id range we own.
    api_url varchar(255),
    token_id varchar(255),
    token_secret_encrypted varchar(255),
    tls_ca_pem text,
    node varchar(100),
    storage varchar(100),
    bridge varchar(50),
    vmid_min integer,
    vmid_max integer,
    -- The IP pool's network: every address of ip_addresses for this backend is in it.
    ip_gateway inet,
    ip_prefix smallint check (ip_prefix between 1 and 128),
    nameservers varchar(255),
    created_at timestamp with time zone not null default current_timestamp,
    updated_at timestamp with time zone not null default current_timestamp,
    check (driver <> 'proxmox' or (api_url is not null and token_id is not null
        and token_secret_encrypted is not null and node is not null and storage is not null
        and vmid_min is not null and vmid_max is not null and ip_gateway is not null
        and ip_prefix is not null)),
    check (vmid_min is null or (vmid_min >= 100 and vmid_max >= vmid_min
        and vmid_max <= 999999999))
);
create unique index provisioning_backends_location_key on provisioning_backends (location_id)
    where is_active;
select trigger_updated_at('provisioning_backends');

-- The template a backend clones for a plan, and the size it gives the clone.
create table backend_templates (
    backend_id integer not null references provisioning_backends(id) on delete cascade,
    plan_id varchar(50) not null references plans(id) on delete cascade,
    template_vmid integer not null check (template_vmid >= 100),
    cores integer not null check (cores between 1 and 512),
    memory_mb integer not null check (memory_mb between 256 and 4194304),
    disk_gb integer not null check (disk_gb between 1 and 65536),
    -- The user cloud-init creates: 'Administrator' on Windows templates, 'root' or a user on Linux.
    username varchar(100) not null default 'root',
    primary key (backend_id, plan_id)
);
create index backend_templates_plan_id_idx on backend_templates (plan_id);

-- A backend's IP pool. An address is free when no service holds it and it was released long
-- enough ago (the hold keeps a terminated customer's address from going straight to another).
create table ip_addresses (
    id serial primary key,
    backend_id integer not null references provisioning_backends(id) on delete cascade,
    address inet not null unique,
    service_id integer unique references services(id) on delete set null,
    released_at timestamp with time zone,
    created_at timestamp with time zone not null default current_timestamp
);
create index ip_addresses_free_idx on ip_addresses (backend_id, address) where service_id is null;

-- Every VM id a backend has handed out, never reused: a service's, or one burnt because a VM
-- that is not ours already had it.
create table vm_ids (
    backend_id integer not null references provisioning_backends(id) on delete cascade,
    vmid integer not null,
    service_id integer references services(id) on delete set null,
    burnt_reason varchar(255),
    created_at timestamp with time zone not null default current_timestamp,
    primary key (backend_id, vmid)
);
create index vm_ids_service_id_idx on vm_ids (service_id);

-- What a service is, where it runs, and where its provisioning stands.
alter table services
    add column plan_id varchar(50) references plans(id) on delete restrict,
    add column location_id integer references locations(id) on delete restrict,
    add column backend_id integer references provisioning_backends(id) on delete set null,
    add column vmid integer,
    -- The driver's step machine: the last step done, and the Proxmox task being waited on.
    add column provisioning_step varchar(30) not null default 'pending'
        check (provisioning_step in ('pending', 'allocated', 'cloning', 'cloned', 'configured',
                                     'resized', 'starting', 'done')),
    add column task_upid varchar(255),
    add column validity_months integer check (validity_months > 0),
    add column suspended_reason varchar(255);
create index services_plan_id_idx on services (plan_id);
create index services_location_id_idx on services (location_id);
create index services_backend_id_idx on services (backend_id);

-- Renewal orders: an order is a new purchase or the renewal of services it names.
alter table orders
    add column kind varchar(20) not null default 'new' check (kind in ('new', 'renewal'));
alter table order_items
    add column service_id integer references services(id) on delete set null;
create index order_items_service_id_idx on order_items (service_id);
create index orders_kind_status_idx on orders (kind, status);

-- Renewal reminders already sent: one per service, due date and days-before threshold.
create table renewal_notices (
    service_id integer not null references services(id) on delete cascade,
    due_date timestamp with time zone not null,
    days_before integer not null check (days_before >= 0),
    sent_at timestamp with time zone not null default current_timestamp,
    primary key (service_id, due_date, days_before)
);
