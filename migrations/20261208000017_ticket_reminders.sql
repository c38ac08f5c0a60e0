-- Tickets left awaiting the customer close by themselves (issue 19): a reminder first, then the
-- close. `reminded_at` says the reminder went out for the current wait; any new message clears
-- it.
alter table tickets add column reminded_at timestamp with time zone;
create index tickets_awaiting_customer_idx on tickets (last_message_at)
    where status = 'awaiting_customer';
