-- Account credit spent on orders (issue 18, second slice). An order may be paid in part or in
-- whole with the customer's credit, taken at checkout or renewal: `credit_applied_pkr` is how
-- much, written in the same transaction as the `spent` entry of the ledger (whose order_id names
-- the order). The order is paid when its succeeded payments and this credit cover
-- final_amount_pkr exactly; what a gateway asks for is the rest. If the order ends unpaid
-- (cancelled, expired, a renewal replaced), the credit goes back to the account as a `returned`
-- entry, in the transaction that ends it.
alter table orders add column credit_applied_pkr integer not null default 0;
alter table orders add constraint orders_credit_applied_check
    check (credit_applied_pkr >= 0 and credit_applied_pkr <= final_amount_pkr);

alter table credit_entries drop constraint credit_entries_kind_check;
alter table credit_entries add constraint credit_entries_kind_check
    check (kind in ('adjustment', 'overpayment', 'refund', 'spent', 'returned'));
