-- Hardening: two-factor sign-in, where accounts log in from, receipts kept instead of
-- replaced, JazzCash status inquiries, and no merchant password in any stored payload.

-- ---------------------------------------------------------------------------------------------
-- Two-factor sign-in (TOTP, RFC 6238)
-- ---------------------------------------------------------------------------------------------

-- Set when the account confirmed its authenticator; null while two-factor sign-in is off (or
-- only being set up).
alter table users add column two_factor_enabled_at timestamp with time zone;

-- The account's TOTP secret, sealed with the credential key like service passwords (bound to
-- the row: `two_factor:<user id>`). A row without users.two_factor_enabled_at is an enrolment
-- not confirmed yet.
create table user_two_factor (
    user_id integer primary key references users(id) on delete cascade,
    secret_encrypted text not null,
    -- The 30-second step of the last code accepted: each code works once, even inside its
    -- window.
    last_used_step bigint,
    created_at timestamp with time zone not null default current_timestamp
);

-- Single-use recovery codes (for a lost phone); only their SHA-256 is kept.
create table two_factor_recovery_codes (
    id serial primary key,
    user_id integer not null references users(id) on delete cascade,
    code_hash varchar(64) not null,
    used_at timestamp with time zone,
    created_at timestamp with time zone not null default current_timestamp,
    unique (user_id, code_hash)
);

-- The second step of a login: the password was right, a code is still due. Short-lived and
-- single-use; only the token's SHA-256 is kept.
create table two_factor_challenges (
    id serial primary key,
    user_id integer not null references users(id) on delete cascade,
    token_hash varchar(64) not null unique,
    expires_at timestamp with time zone not null,
    used_at timestamp with time zone,
    failures integer not null default 0 check (failures >= 0),
    ip_address varchar(45),
    user_agent text,
    created_at timestamp with time zone not null default current_timestamp
);
create index two_factor_challenges_user_id_idx on two_factor_challenges (user_id);
create index two_factor_challenges_expires_at_idx on two_factor_challenges (expires_at);

-- When the session last proved a second factor: its login, or a fresh code since (step-up).
alter table user_sessions add column two_factor_at timestamp with time zone;
alter table user_sessions drop constraint user_sessions_revoked_reason_check;
alter table user_sessions add constraint user_sessions_revoked_reason_check
    check (revoked_reason in ('logout', 'user_revoked', 'password_changed', 'password_reset',
                              'token_reuse', 'account_disabled', 'expired',
                              'two_factor_enabled', 'two_factor_reset'));

-- ---------------------------------------------------------------------------------------------
-- Where each account has logged in from: failed logins from elsewhere never lock it out there.
-- ---------------------------------------------------------------------------------------------

create table login_origins (
    user_id integer not null references users(id) on delete cascade,
    ip_address varchar(45) not null,
    last_login_at timestamp with time zone not null default current_timestamp,
    primary key (user_id, ip_address)
);
create index login_origins_last_login_at_idx on login_origins (last_login_at);

-- ---------------------------------------------------------------------------------------------
-- Payments
-- ---------------------------------------------------------------------------------------------

-- Receipts are kept, not replaced: the operator sees every image the customer sent.
alter table payment_receipts drop constraint payment_receipts_pkey;
alter table payment_receipts add column id serial primary key;
create index payment_receipts_payment_id_idx on payment_receipts (payment_id, id);

-- A gateway attempt's own expiry (JazzCash's pp_TxnExpiryDateTime): its order does not expire
-- before it, and reconciliation asks the gateway about it until a while after.
alter table payments add column expires_at timestamp with time zone;
update payments set expires_at = created_at + interval '1 day' where gateway = 'jazzcash';
create index payments_pending_gateway_idx on payments (gateway, created_at) where status = 'pending';

-- `inquiry`: what the gateway's status inquiry answered.
alter table payment_events drop constraint payment_events_kind_check;
alter table payment_events add constraint payment_events_kind_check
    check (kind in ('created', 'submitted', 'return', 'ipn', 'inquiry', 'approved', 'rejected',
                    'refused'));

-- The merchant's JazzCash password never stays in a stored payload (our own signed form posted
-- back to the IPN was recorded whole).
update payment_events set payload = jsonb_set(payload, '{pp_Password}', '"[redacted]"')
 where jsonb_typeof(payload) = 'object' and payload ? 'pp_Password'
   and payload ->> 'pp_Password' is distinct from '[redacted]';
update payments set request_payload = jsonb_set(request_payload, '{pp_Password}', '"[redacted]"')
 where jsonb_typeof(request_payload) = 'object' and request_payload ? 'pp_Password'
   and request_payload ->> 'pp_Password' is distinct from '[redacted]';
update payments set response_payload = jsonb_set(response_payload, '{pp_Password}', '"[redacted]"')
 where jsonb_typeof(response_payload) = 'object' and response_payload ? 'pp_Password'
   and response_payload ->> 'pp_Password' is distinct from '[redacted]';
