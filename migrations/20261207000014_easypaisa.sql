-- Easypaisa hosted checkout (issue 18, Easypay): a third gateway beside manual transfers and
-- JazzCash. Its attempts are recorded like JazzCash's (`pending`, our order reference in
-- gateway_txn_id, unique per gateway), and settled only on what Easypay's transaction inquiry
-- says: its browser returns are not signed.
alter table payments drop constraint payments_gateway_check;
alter table payments add constraint payments_gateway_check
    check (gateway in ('manual', 'jazzcash', 'easypaisa'));
