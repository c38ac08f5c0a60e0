-- Account credit (issue 18, first slice): an append-only ledger per account. Each row is one
-- movement in whole rupees (positive: credit given, negative: credit spent or taken back) and
-- the balance after it, so the balance is the newest row's, and it is never negative: the
-- CHECK holds it, and the writer takes the account's row lock before reading the balance, so
-- two movements of one account are applied one after the other.
create table credit_entries (
    id bigserial primary key,
    user_id integer not null references users(id) on delete cascade,
    kind varchar(30) not null
        check (kind in ('adjustment', 'overpayment', 'refund', 'spent')),
    amount_pkr integer not null check (amount_pkr <> 0),
    balance_after_pkr integer not null check (balance_after_pkr >= 0),
    reason varchar(500) not null check (length(btrim(reason)) > 0),
    order_id integer references orders(id) on delete set null,
    payment_id integer references payments(id) on delete set null,
    created_by integer references users(id) on delete set null,
    created_at timestamp with time zone not null default current_timestamp
);
create index credit_entries_user_idx on credit_entries (user_id, id desc);
-- The entries of an order, a payment or an operator (and what deleting one of those touches).
create index credit_entries_order_idx on credit_entries (order_id) where order_id is not null;
create index credit_entries_payment_idx on credit_entries (payment_id) where payment_id is not null;
create index credit_entries_created_by_idx on credit_entries (created_by) where created_by is not null;

-- Append-only: a movement is corrected by another movement, never edited. (Rows go only with
-- their account, whose deletion removes its ledger.)
create function credit_entries_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'credit_entries is append-only: record a new entry instead'
        using errcode = 'restrict_violation';
end
$$;
create trigger credit_entries_no_update before update on credit_entries
    for each row execute function credit_entries_append_only();
