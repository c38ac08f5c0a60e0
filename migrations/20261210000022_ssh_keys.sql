-- A customer's SSH public keys (issue 20): named, checked as OpenSSH keys, each once per account
-- (by its SHA-256 fingerprint), chosen when a Linux server is ordered or reinstalled.
create table ssh_keys (
    id serial primary key,
    user_id integer not null references users(id) on delete cascade,
    name varchar(100) not null check (length(btrim(name)) > 0),
    public_key text not null check (length(public_key) <= 16384),
    fingerprint varchar(100) not null check (fingerprint like 'SHA256:%'),
    algorithm varchar(50) not null,
    created_at timestamp with time zone not null default current_timestamp,
    unique (user_id, fingerprint)
);
