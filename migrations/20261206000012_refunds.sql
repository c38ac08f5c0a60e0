-- Operator refunds (issue 18, third slice): money of a succeeded payment given back, in whole or
-- in part, either into the customer's account credit (with a `refund` entry of the ledger) or
-- outside the shop (a bank, JazzCash or Easypaisa transfer the operator made, named by its
-- reference). The refunds of a payment never add up to more than it: the writer locks the
-- payment row, sums what was refunded and refuses the rest; a payment refunded in full becomes
-- `refunded`. What happens to the order's servers is the operator's explicit choice, recorded.
-- Append-only, like the ledger: a refund is never edited.
create table refunds (
    id serial primary key,
    payment_id integer not null references payments(id) on delete restrict,
    amount_pkr integer not null check (amount_pkr > 0),
    destination varchar(10) not null check (destination in ('credit', 'external')),
    -- The transfer's transaction id (required for an external refund).
    reference varchar(100) check (reference is null or length(btrim(reference)) > 0),
    reason varchar(500) not null check (length(btrim(reason)) > 0),
    services varchar(10) not null check (services in ('keep', 'cancel')),
    created_by integer references users(id) on delete set null,
    created_at timestamp with time zone not null default current_timestamp,
    check (destination = 'credit' or reference is not null)
);
create index refunds_payment_idx on refunds (payment_id);
create index refunds_created_by_idx on refunds (created_by) where created_by is not null;
create function append_only() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only: record a new row instead', tg_table_name
        using errcode = 'restrict_violation';
end
$$;
create trigger refunds_no_update before update on refunds
    for each row execute function append_only();
