-- Support tickets (issue 19, first slice): a customer's question to the shop and the
-- conversation that answers it. A ticket is `awaiting_us` when the customer spoke last (a new
-- ticket, a reply — which reopens a closed one), `awaiting_customer` when an operator answered,
-- `closed` when either side closed it. Operators' internal notes sit in the same conversation,
-- never shown or mailed to the customer.
create table tickets (
    id serial primary key,
    user_id integer not null references users(id) on delete cascade,
    subject varchar(200) not null check (length(btrim(subject)) > 0),
    department varchar(20) not null check (department in ('sales', 'technical', 'billing')),
    status varchar(20) not null default 'awaiting_us'
        check (status in ('awaiting_us', 'awaiting_customer', 'closed')),
    priority varchar(10) not null default 'normal'
        check (priority in ('low', 'normal', 'high', 'urgent')),
    -- What it is about, when the customer said (one of their own).
    service_id integer references services(id) on delete set null,
    order_id integer references orders(id) on delete set null,
    assignee_id integer references users(id) on delete set null,
    created_at timestamp with time zone not null default current_timestamp,
    updated_at timestamp with time zone not null default current_timestamp,
    -- When the conversation last moved (the queue's age).
    last_message_at timestamp with time zone not null default current_timestamp,
    closed_at timestamp with time zone,
    check ((status = 'closed') = (closed_at is not null))
);
create index tickets_user_idx on tickets (user_id, id desc);
create index tickets_queue_idx on tickets (status, last_message_at);
create index tickets_assignee_idx on tickets (assignee_id) where assignee_id is not null;
create index tickets_service_idx on tickets (service_id) where service_id is not null;
create index tickets_order_idx on tickets (order_id) where order_id is not null;
select trigger_updated_at('tickets');

create table ticket_messages (
    id serial primary key,
    ticket_id integer not null references tickets(id) on delete cascade,
    author_id integer references users(id) on delete set null,
    from_operator boolean not null,
    -- An operator's note the customer never sees.
    internal boolean not null default false,
    body text not null check (length(btrim(body)) > 0 and length(body) <= 10000),
    created_at timestamp with time zone not null default current_timestamp,
    check (from_operator or not internal)
);
create index ticket_messages_ticket_idx on ticket_messages (ticket_id, id);
create index ticket_messages_author_idx on ticket_messages (author_id) where author_id is not null;
