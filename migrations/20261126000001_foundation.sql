-- NextGenRDP foundation schema.
--
-- Every table and column of the founding document (shared/seed/nextgenrdp-schema-design.md) with
-- its seed type, default and foreign key, plus what the product needs now: roles, session
-- revocation and rotation, one-time tokens, plan availability per location, an audit log and a
-- durable job queue. The seed leaves status and type columns free text; here each gets a CHECK
-- with its allowed values, and money, quantities and months get range checks, so the database
-- itself refuses a bogus row whatever the code above it does.
--
-- Never edit this file once it has landed: sqlx checksums applied migrations. Add a new one.

-- updated_at is kept by the database, not by each UPDATE statement.
create function set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

create function trigger_updated_at(tablename regclass) returns void
language plpgsql as $$
begin
    execute format(
        'create trigger set_updated_at before update on %s for each row
         when (old is distinct from new) execute function set_updated_at()',
        tablename);
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- Users and authentication
-- ---------------------------------------------------------------------------------------------

create table users (
    id serial primary key,
    name varchar(100) not null check (length(btrim(name)) > 0),
    email varchar(255) not null unique check (position('@' in email) > 1),
    phone varchar(20),
    password_hash varchar(255) not null,
    is_verified boolean default false,
    created_at timestamp with time zone default current_timestamp,
    updated_at timestamp with time zone default current_timestamp,
    -- product additions
    role varchar(20) not null default 'customer' check (role in ('customer', 'admin')),
    email_verified_at timestamp with time zone,
    disabled_at timestamp with time zone,
    last_login_at timestamp with time zone
);
-- The seed's UNIQUE(email) is case-sensitive; an address differs from another only by its
-- spelling, so uniqueness is enforced on the lower-cased form too.
create unique index users_email_lower_key on users (lower(email));
select trigger_updated_at('users');

create table user_sessions (
    id serial primary key,
    user_id integer references users(id) on delete cascade,
    token_hash varchar(255) not null,
    expires_at timestamp with time zone not null,
    ip_address varchar(45),
    user_agent text,
    created_at timestamp with time zone default current_timestamp,
    -- product additions: rotation and revocation
    updated_at timestamp with time zone default current_timestamp,
    last_used_at timestamp with time zone,
    rotated_at timestamp with time zone,
    revoked_at timestamp with time zone,
    revoked_reason varchar(50)
        check (revoked_reason in ('logout', 'user_revoked', 'password_changed', 'password_reset',
                                  'token_reuse', 'account_disabled', 'expired'))
);
create unique index user_sessions_token_hash_key on user_sessions (token_hash);
create index user_sessions_user_id_idx on user_sessions (user_id);
create index user_sessions_expires_at_idx on user_sessions (expires_at);
select trigger_updated_at('user_sessions');

-- Refresh tokens a session has rotated away from. Presenting one again means it was stolen:
-- the whole session is revoked.
create table session_retired_tokens (
    token_hash varchar(255) primary key,
    session_id integer not null references user_sessions(id) on delete cascade,
    retired_at timestamp with time zone not null default current_timestamp
);
create index session_retired_tokens_session_id_idx on session_retired_tokens (session_id);

-- Single-use tokens sent by e-mail (verification, password reset); only their hash is kept.
create table one_time_tokens (
    id serial primary key,
    user_id integer not null references users(id) on delete cascade,
    purpose varchar(30) not null check (purpose in ('email_verification', 'password_reset')),
    token_hash varchar(255) not null unique,
    expires_at timestamp with time zone not null,
    used_at timestamp with time zone,
    created_at timestamp with time zone not null default current_timestamp
);
create index one_time_tokens_user_id_idx on one_time_tokens (user_id, purpose);

-- ---------------------------------------------------------------------------------------------
-- Products and plans
-- ---------------------------------------------------------------------------------------------

create table product_categories (
    id serial primary key,
    name varchar(50) not null,
    slug varchar(50) not null unique check (slug ~ '^[a-z0-9-]+$'),
    description text,
    display_order integer default 0,
    -- product additions
    created_at timestamp with time zone default current_timestamp,
    updated_at timestamp with time zone default current_timestamp
);
select trigger_updated_at('product_categories');

create table plans (
    id varchar(50) primary key check (id ~ '^[a-z0-9-]{3,50}$'), -- e.g., 'rdp-starter-one'
    category_id integer references product_categories(id),
    name varchar(100) not null,
    description text,
    cpu varchar(50) not null,        -- e.g., '2 vCore'
    ram varchar(50) not null,        -- e.g., '4 GB RAM'
    storage varchar(100) not null,   -- e.g., '30 GB NVMe SSD'
    bandwidth varchar(50) not null,  -- e.g., '500 GB'
    os varchar(100),                 -- e.g., 'Windows Server 2022'
    price_pkr integer not null check (price_pkr >= 0),
    is_active boolean default true,
    theme_color varchar(20) default 'sky' check (theme_color ~ '^[a-z]+$'),
    label varchar(50),               -- e.g., 'Recommended', 'Most Selling'
    created_at timestamp with time zone default current_timestamp,
    updated_at timestamp with time zone default current_timestamp,
    -- product additions
    display_order integer not null default 0
);
create index plans_category_id_idx on plans (category_id);
-- The storefront's listing: active plans of a category by display order, then price.
create index plans_listing_idx on plans (category_id, display_order, price_pkr) where is_active;
select trigger_updated_at('plans');

create table plan_features (
    id serial primary key,
    plan_id varchar(50) references plans(id) on delete cascade,
    feature text not null check (length(btrim(feature)) > 0),
    -- product additions
    position integer not null default 0
);
create index plan_features_plan_id_idx on plan_features (plan_id, position);

create table locations (
    id serial primary key,
    name varchar(100) not null,
    country_code varchar(2) not null check (country_code ~ '^[A-Z]{2}$'),
    city varchar(100),
    is_active boolean default true,
    display_order integer default 0,
    -- product additions: a stable key for catalog files, and timestamps
    slug varchar(50) not null unique check (slug ~ '^[a-z0-9-]+$'),
    created_at timestamp with time zone default current_timestamp,
    updated_at timestamp with time zone default current_timestamp
);
create index locations_listing_idx on locations (display_order, name) where is_active;
select trigger_updated_at('locations');

-- Where a plan is sold. A plan with no rows here is not for sale anywhere.
create table plan_locations (
    plan_id varchar(50) not null references plans(id) on delete cascade,
    location_id integer not null references locations(id) on delete restrict,
    created_at timestamp with time zone not null default current_timestamp,
    primary key (plan_id, location_id)
);
create index plan_locations_location_id_idx on plan_locations (location_id);

-- ---------------------------------------------------------------------------------------------
-- Orders and billing
-- ---------------------------------------------------------------------------------------------

create table orders (
    id serial primary key,
    user_id integer references users(id) on delete set null,
    status varchar(50) not null
        check (status in ('pending_payment', 'paid', 'processing', 'active', 'cancelled', 'expired')),
    total_amount_pkr integer not null check (total_amount_pkr >= 0),
    discount_amount_pkr integer default 0 check (discount_amount_pkr >= 0),
    final_amount_pkr integer not null check (final_amount_pkr >= 0),
    promo_code varchar(50),
    payment_method varchar(50),
    payment_reference varchar(255),
    notes text,
    created_at timestamp with time zone default current_timestamp,
    updated_at timestamp with time zone default current_timestamp,
    -- The arithmetic is the database's to guard, not only the checkout code's.
    constraint orders_final_amount_check
        check (final_amount_pkr = total_amount_pkr - coalesce(discount_amount_pkr, 0))
);
create index orders_user_id_idx on orders (user_id, created_at desc);
create index orders_status_idx on orders (status, created_at);
create index orders_created_at_idx on orders (created_at desc);
select trigger_updated_at('orders');

create table order_items (
    id serial primary key,
    order_id integer references orders(id) on delete cascade,
    plan_id varchar(50) references plans(id),
    location_id integer references locations(id),
    quantity integer not null default 1 check (quantity > 0),
    price_at_order_pkr integer not null check (price_at_order_pkr >= 0),
    validity_months integer not null default 1 check (validity_months > 0),
    start_date timestamp with time zone,
    end_date timestamp with time zone,
    check (end_date is null or start_date is null or end_date >= start_date)
);
create index order_items_order_id_idx on order_items (order_id);
create index order_items_plan_id_idx on order_items (plan_id);
create index order_items_location_id_idx on order_items (location_id);

create table promo_codes (
    id serial primary key,
    code varchar(50) not null unique check (code ~ '^[A-Za-z0-9_-]+$'),
    discount_type varchar(20) not null check (discount_type in ('percentage', 'fixed_amount')),
    discount_value integer not null check (discount_value >= 0),
    min_order_value integer default 0 check (min_order_value >= 0),
    max_discount_amount integer check (max_discount_amount >= 0),
    valid_from timestamp with time zone,
    valid_until timestamp with time zone,
    is_active boolean default true,
    max_uses integer check (max_uses >= 0),
    current_uses integer default 0 check (current_uses >= 0),
    created_at timestamp with time zone default current_timestamp,
    -- product additions
    updated_at timestamp with time zone default current_timestamp,
    check (discount_type <> 'percentage' or discount_value <= 100),
    check (valid_until is null or valid_from is null or valid_until > valid_from),
    -- Never more uses than allowed, whatever the concurrency of checkouts.
    constraint promo_codes_uses_within_max check (max_uses is null or current_uses <= max_uses)
);
-- Customers type codes in any case: SAVE10 and save10 are one code.
create unique index promo_codes_code_upper_key on promo_codes (upper(code));
select trigger_updated_at('promo_codes');

-- ---------------------------------------------------------------------------------------------
-- Service provisioning and management
-- ---------------------------------------------------------------------------------------------

create table services (
    id serial primary key,
    order_item_id integer references order_items(id) on delete set null,
    user_id integer references users(id) on delete set null,
    service_type varchar(20) not null check (service_type in ('rdp', 'vps')),
    status varchar(20) not null
        check (status in ('provisioning', 'active', 'suspended', 'terminated', 'failed')),
    hostname varchar(255),
    ip_address varchar(45),
    username varchar(100),
    password_encrypted varchar(255), -- AES-256-GCM with a key id, never plaintext
    server_id varchar(100),          -- the VM id in the hosting system
    created_at timestamp with time zone default current_timestamp,
    updated_at timestamp with time zone default current_timestamp,
    last_renewal_date timestamp with time zone,
    next_renewal_date timestamp with time zone,
    termination_date timestamp with time zone,
    -- product additions
    failure_reason text
);
create index services_order_item_id_idx on services (order_item_id);
create index services_user_id_idx on services (user_id, created_at desc);
create index services_status_idx on services (status);
create index services_next_renewal_date_idx on services (next_renewal_date)
    where status in ('active', 'suspended');
select trigger_updated_at('services');

create table service_logs (
    id serial primary key,
    service_id integer references services(id) on delete cascade,
    action varchar(50) not null, -- 'create', 'suspend', 'resume', 'terminate', 'password_reset', ...
    status varchar(20) not null check (status in ('success', 'failed', 'pending')),
    details text,
    performed_by integer references users(id), -- admin user who performed action, if applicable
    created_at timestamp with time zone default current_timestamp
);
create index service_logs_service_id_idx on service_logs (service_id, created_at desc);
create index service_logs_performed_by_idx on service_logs (performed_by);

-- ---------------------------------------------------------------------------------------------
-- Operations
-- ---------------------------------------------------------------------------------------------

-- Who changed what: every operator action, with the row before and after.
create table audit_log (
    id bigserial primary key,
    actor_user_id integer references users(id) on delete set null,
    action varchar(100) not null,
    entity_type varchar(50) not null,
    entity_id varchar(100),
    before jsonb,
    after jsonb,
    ip_address varchar(45),
    created_at timestamp with time zone not null default current_timestamp
);
create index audit_log_entity_idx on audit_log (entity_type, entity_id, created_at desc);
create index audit_log_actor_idx on audit_log (actor_user_id, created_at desc);
create index audit_log_created_at_idx on audit_log (created_at desc);

-- Durable background jobs, enqueued in the same transaction as the business write that needs
-- them and claimed with FOR UPDATE SKIP LOCKED, so any number of workers run each job once.
create table jobs (
    id bigserial primary key,
    kind varchar(100) not null,
    payload jsonb not null default '{}'::jsonb,
    status varchar(20) not null default 'queued'
        check (status in ('queued', 'running', 'succeeded', 'failed')),
    -- A job enqueued twice with the same key is one job (e.g. 'provision:service:42').
    dedupe_key varchar(200) unique,
    attempts integer not null default 0 check (attempts >= 0),
    max_attempts integer not null default 10 check (max_attempts > 0),
    run_at timestamp with time zone not null default current_timestamp,
    locked_at timestamp with time zone,
    locked_by varchar(100),
    last_error text,
    created_at timestamp with time zone not null default current_timestamp,
    updated_at timestamp with time zone not null default current_timestamp,
    finished_at timestamp with time zone
);
create index jobs_ready_idx on jobs (run_at) where status = 'queued';
create index jobs_status_idx on jobs (status, kind);
select trigger_updated_at('jobs');
