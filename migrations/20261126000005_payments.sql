-- Payments: every attempt to pay an order, through a gateway, with the raw payloads it
-- exchanged. An order is paid only when its succeeded payments cover final_amount_pkr exactly.

create table payments (
    id serial primary key,
    order_id integer not null references orders(id) on delete restrict,
    gateway varchar(30) not null check (gateway in ('manual', 'jazzcash')),
    amount_pkr integer not null check (amount_pkr >= 0),
    status varchar(20) not null default 'pending'
        check (status in ('pending', 'review', 'succeeded', 'failed', 'rejected', 'refunded')),
    -- The gateway's transaction id: JazzCash's pp_TxnRefNo (ours, per attempt), or the
    -- reference (TID) a customer typed for a manual transfer.
    gateway_txn_id varchar(100),
    -- What the gateway calls it on its side (JazzCash's retrieval reference).
    gateway_reference varchar(100),
    -- Which account a manual transfer went to (bank, jazzcash, easypaisa), or JazzCash's txn type.
    channel varchar(30),
    customer_paid_at timestamp with time zone,
    request_payload jsonb,
    response_payload jsonb,
    -- Why the operator should look twice: a reference already used, an amount that does not match.
    flag varchar(300),
    failure_reason varchar(500),
    reviewed_by integer references users(id) on delete set null,
    reviewed_at timestamp with time zone,
    created_at timestamp with time zone not null default current_timestamp,
    updated_at timestamp with time zone not null default current_timestamp,
    check (status <> 'review' or gateway = 'manual')
);
-- A gateway's transaction is recorded once: a repeated callback finds the same row.
create unique index payments_gateway_txn_key on payments (gateway, gateway_txn_id)
    where gateway <> 'manual';
create index payments_order_id_idx on payments (order_id);
create index payments_status_idx on payments (status, created_at);
create index payments_reviewed_by_idx on payments (reviewed_by);
create index payments_manual_reference_idx on payments (upper(gateway_txn_id)) where gateway = 'manual';
select trigger_updated_at('payments');

-- Every callback, submission and review of a payment, with its raw payload, whatever its
-- outcome (a forged callback is kept too, with why it was refused).
create table payment_events (
    id bigserial primary key,
    payment_id integer references payments(id) on delete cascade,
    kind varchar(30) not null
        check (kind in ('created', 'submitted', 'return', 'ipn', 'approved', 'rejected', 'refused')),
    payload jsonb,
    note varchar(500),
    created_at timestamp with time zone not null default current_timestamp
);
create index payment_events_payment_id_idx on payment_events (payment_id, created_at);

-- A receipt image a customer attached to a manual transfer.
create table payment_receipts (
    payment_id integer primary key references payments(id) on delete cascade,
    content_type varchar(50) not null check (content_type in ('image/png', 'image/jpeg', 'image/webp')),
    bytes bytea not null check (octet_length(bytes) <= 2097152),
    created_at timestamp with time zone not null default current_timestamp
);
