-- Fixed-window rate-limit counters, shared by every app node (nothing of it lives in one
-- process's memory). Keys look like 'login:ip:203.0.113.7' or 'login:account:a@b.pk'.
create table rate_limits (
    key varchar(300) primary key,
    window_start timestamp with time zone not null,
    hits integer not null check (hits >= 0)
);
create index rate_limits_window_start_idx on rate_limits (window_start);
