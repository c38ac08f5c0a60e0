-- The credit ledger names the fiscal document behind a movement, where there is one: a refund to
-- credit of an invoiced order links its credit note (issue 18: "linked order/payment/invoice").
alter table credit_entries
    add column invoice_id integer references invoices(id) on delete restrict;
create index credit_entries_invoice_idx on credit_entries (invoice_id) where invoice_id is not null;
