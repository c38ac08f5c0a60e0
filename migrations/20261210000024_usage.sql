-- Usage of each active Proxmox-built service (issue 20), read by the worker's `sample_usage`
-- job from the VM's status/current every 5 minutes: CPU and memory as they were, network and
-- disk as the bytes moved since the previous reading (a counter that went down — the VM
-- restarted — counts from zero). Five-minute samples are kept two days; hourly ones (averages
-- of CPU and memory, sums of bytes) 400 days.
create table service_usage_samples (
    service_id integer not null references services(id) on delete cascade,
    sampled_at timestamp with time zone not null,
    cpu real not null check (cpu >= 0),
    mem_bytes bigint not null check (mem_bytes >= 0),
    mem_max_bytes bigint not null check (mem_max_bytes >= 0),
    net_in_bytes bigint not null check (net_in_bytes >= 0),
    net_out_bytes bigint not null check (net_out_bytes >= 0),
    disk_read_bytes bigint not null check (disk_read_bytes >= 0),
    disk_write_bytes bigint not null check (disk_write_bytes >= 0),
    primary key (service_id, sampled_at)
);
-- The sweep of old samples.
create index service_usage_samples_sampled_at_idx on service_usage_samples (sampled_at);

create table service_usage_hourly (
    service_id integer not null references services(id) on delete cascade,
    hour timestamp with time zone not null,
    cpu real not null check (cpu >= 0),
    mem_bytes bigint not null check (mem_bytes >= 0),
    mem_max_bytes bigint not null check (mem_max_bytes >= 0),
    net_in_bytes bigint not null check (net_in_bytes >= 0),
    net_out_bytes bigint not null check (net_out_bytes >= 0),
    disk_read_bytes bigint not null check (disk_read_bytes >= 0),
    disk_write_bytes bigint not null check (disk_write_bytes >= 0),
    primary key (service_id, hour)
);
create index service_usage_hourly_hour_idx on service_usage_hourly (hour);

-- The counters as last read, to turn the next reading into bytes moved.
create table service_usage_counters (
    service_id integer primary key references services(id) on delete cascade,
    read_at timestamp with time zone not null,
    net_in bigint not null check (net_in >= 0),
    net_out bigint not null check (net_out >= 0),
    disk_read bigint not null check (disk_read >= 0),
    disk_write bigint not null check (disk_write >= 0)
);

-- Traffic (in + out) per service per calendar month in Pakistan time, added to at each sample:
-- what the plan's bandwidth allowance is checked against.
create table service_traffic (
    service_id integer not null references services(id) on delete cascade,
    month date not null check (extract(day from month) = 1),
    bytes bigint not null default 0 check (bytes >= 0),
    primary key (service_id, month)
);
