-- Staff roles: the one operator role `admin` becomes `owner` (everything, manages the staff),
-- beside `billing`, `support` and `technical`, each a part of the back office (see
-- src/accounts/staff.rs and the README's table). The owner invites staff with an e-mailed link.

alter table users drop constraint users_role_check;
update users set role = 'owner' where role = 'admin';
alter table users add constraint users_role_check
    check (role in ('customer', 'owner', 'billing', 'support', 'technical'));

-- The staff list and "is there an active owner" read only the few staff rows.
create index users_staff_idx on users (role, id) where role <> 'customer';

alter table one_time_tokens drop constraint one_time_tokens_purpose_check;
alter table one_time_tokens add constraint one_time_tokens_purpose_check
    check (purpose in ('email_verification', 'password_reset', 'staff_invite'));

-- An operator can end a customer's sessions from the customer's page.
alter table user_sessions drop constraint user_sessions_revoked_reason_check;
alter table user_sessions add constraint user_sessions_revoked_reason_check
    check (revoked_reason in ('logout', 'user_revoked', 'password_changed', 'password_reset',
                              'token_reuse', 'account_disabled', 'expired',
                              'two_factor_enabled', 'two_factor_reset', 'ended_by_operator'));

-- The customer's page searches by phone too (`+923001234567` found by `0300 1234567`).
create index users_phone_trgm_idx on users using gin (phone gin_trgm_ops);

-- Internal notes on a customer, written by the staff, never shown to the customer.
create table customer_notes (
    id serial primary key,
    user_id integer not null references users (id) on delete cascade,
    author_id integer references users (id) on delete set null,
    body text not null check (length(btrim(body)) between 1 and 2000),
    created_at timestamptz not null default now()
);
create index customer_notes_user_id_idx on customer_notes (user_id, id desc);
create index customer_notes_author_id_idx on customer_notes (author_id);
