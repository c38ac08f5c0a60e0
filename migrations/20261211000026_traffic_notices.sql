-- Traffic notices and throttling (issue 20): the e-mails sent as a server's traffic this month
-- (Pakistan time) passes 80 % and 100 % of its plan's allowance, at most once each per month,
-- and the servers whose NIC is rate-limited until the month ends (`NEXTGENRDP_TRAFFIC_OVERAGE`).
create table service_traffic_notices (
    service_id integer not null references services(id) on delete cascade,
    month date not null,
    threshold integer not null check (threshold in (80, 100)),
    sent_at timestamp with time zone not null default current_timestamp,
    primary key (service_id, month, threshold)
);

create table service_throttles (
    service_id integer primary key references services(id) on delete cascade,
    month date not null,
    rate_mbytes double precision not null check (rate_mbytes > 0),
    applied_at timestamp with time zone not null default current_timestamp
);
