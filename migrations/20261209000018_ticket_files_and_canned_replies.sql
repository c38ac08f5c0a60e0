-- Files on tickets (issue 19): a screenshot of the error, a PDF of the bank's slip. Each file
-- belongs to the message it was sent with (so an internal note's file stays internal), is
-- checked by its bytes (PNG, JPEG, WebP or PDF; `content_type` is what the bytes are, never what
-- the browser said) and is at most 5 MiB. Mails link to the ticket; they never carry the file.
create table ticket_attachments (
    id serial primary key,
    ticket_id integer not null references tickets(id) on delete cascade,
    message_id integer not null references ticket_messages(id) on delete cascade,
    file_name varchar(120) not null check (length(btrim(file_name)) > 0),
    content_type varchar(20) not null
        check (content_type in ('image/png', 'image/jpeg', 'image/webp', 'application/pdf')),
    size integer not null check (size > 0 and size <= 5242880),
    bytes bytea not null check (octet_length(bytes) = size),
    created_at timestamp with time zone not null default current_timestamp
);
create index ticket_attachments_ticket_idx on ticket_attachments (ticket_id, id);
create index ticket_attachments_message_idx on ticket_attachments (message_id);

-- Answers the operators give again and again, kept by the operators themselves. `{name}` and
-- `{ticket}` in a body become the customer's name and the ticket's number when it is used.
create table canned_replies (
    id serial primary key,
    title varchar(100) not null check (length(btrim(title)) > 0),
    body text not null check (length(btrim(body)) > 0 and length(body) <= 10000),
    created_at timestamp with time zone not null default current_timestamp,
    updated_at timestamp with time zone not null default current_timestamp
);
create unique index canned_replies_title_key on canned_replies (lower(title));
select trigger_updated_at('canned_replies');
