-- The browser console (issue 20): a one-time link to a service's console, handed to its owner
-- (or an operator) and good for one websocket connection within a minute. Only its hash is kept;
-- it dies with the session that asked for it.
create table console_tokens (
    id bigserial primary key,
    token_hash varchar(64) not null unique,
    service_id integer not null references services(id) on delete cascade,
    user_id integer not null references users(id) on delete cascade,
    session_id integer not null references user_sessions(id) on delete cascade,
    -- Asked as the service's owner (false: as an operator).
    as_owner boolean not null,
    created_at timestamp with time zone not null default current_timestamp,
    expires_at timestamp with time zone not null,
    used_at timestamp with time zone,
    check (expires_at > created_at)
);

create index console_tokens_service_id_idx on console_tokens (service_id);
create index console_tokens_user_id_idx on console_tokens (user_id);
create index console_tokens_session_id_idx on console_tokens (session_id);
-- The worker's sweep of spent links.
create index console_tokens_expires_at_idx on console_tokens (expires_at);
