-- Invoices and sales tax (issue 18, fourth slice).
--
-- Pakistan's provinces tax IT services at their own rates. The shop's tax setting (one row of
-- billing_settings, edited in the back office) is `off` (a seller not registered for sales tax:
-- plain invoices, no tax), `inclusive` (prices include the tax) or `exclusive` (the tax is added
-- to the price). The rate of an order is the tax table's rate for the buyer's province in force
-- on the day it is placed (PKT); the order keeps the mode, province, rate and tax it was placed
-- with, so a later change of the table never alters an order already raised.
--
-- A paid order gets one invoice, numbered inside the paying transaction from a counter row per
-- series (`NGR-2026` → NGR-2026-000001, NGR-2026-000002, …): the row is locked until the payment
-- commits, and a rolled-back payment rolls the number back too, so the numbers of a series are
-- gapless and never reused. An invoice is immutable: a correction (a refund) is a credit note,
-- in its own series (`NGR-CN-2026`), naming the invoice it corrects.

-- The provinces (and the federal capital) whose sales tax on services a buyer may owe.
create table tax_rates (
    id serial primary key,
    province varchar(30) not null check (province in
        ('punjab', 'sindh', 'khyber_pakhtunkhwa', 'balochistan', 'islamabad')),
    -- Basis points: 1600 = 16 %.
    rate_bp integer not null check (rate_bp >= 0 and rate_bp <= 5000),
    -- The rate applies to orders placed on or after this day (PKT) until a newer row's day.
    effective_from date not null,
    created_by integer references users(id) on delete set null,
    created_at timestamp with time zone not null default current_timestamp,
    unique (province, effective_from)
);
create index tax_rates_created_by_idx on tax_rates (created_by) where created_by is not null;
-- The rates at the time of writing (provincial sales tax on IT services); the operator checks
-- them against the current Finance Acts and adds a row when one changes.
insert into tax_rates (province, rate_bp, effective_from) values
    ('sindh', 1300, '2025-07-01'),
    ('punjab', 1600, '2025-07-01'),
    ('khyber_pakhtunkhwa', 1500, '2025-07-01'),
    ('balochistan', 1500, '2025-07-01'),
    ('islamabad', 1600, '2025-07-01');

-- The shop's billing settings: one row. The seller's particulars are copied onto every invoice
-- when it is issued (an invoice never changes when the settings do).
create table billing_settings (
    id boolean primary key default true check (id),
    tax_mode varchar(10) not null default 'off'
        check (tax_mode in ('off', 'inclusive', 'exclusive')),
    seller_name varchar(200) not null default 'NextGenRDP' check (length(btrim(seller_name)) > 0),
    seller_address varchar(500) not null default '',
    -- National Tax Number and Sales Tax Registration Number: required to charge sales tax.
    seller_ntn varchar(20),
    seller_strn varchar(20),
    -- Where the seller is: the tax province of a buyer who has not said theirs (renewals).
    seller_province varchar(30) check (seller_province in
        ('punjab', 'sindh', 'khyber_pakhtunkhwa', 'balochistan', 'islamabad')),
    -- The invoice numbers' prefix: NGR → NGR-2026-000123, credit notes NGR-CN-2026-000001.
    invoice_prefix varchar(10) not null default 'NGR' check (invoice_prefix ~ '^[A-Z0-9]{1,10}$'),
    -- The logo on the PDF: a PNG or JPEG of at most 512 KiB.
    logo bytea check (logo is null or octet_length(logo) <= 524288),
    logo_type varchar(20) check (logo_type in ('image/png', 'image/jpeg')),
    updated_by integer references users(id) on delete set null,
    updated_at timestamp with time zone not null default current_timestamp,
    check ((logo is null) = (logo_type is null)),
    check (tax_mode = 'off'
           or (seller_ntn is not null and seller_strn is not null and seller_province is not null))
);
create index billing_settings_updated_by_idx on billing_settings (updated_by)
    where updated_by is not null;
insert into billing_settings default values;

-- The buyer's particulars for invoices, edited on the account's billing page (and the province
-- also at checkout). Optional: a customer without a tax number buys like anyone.
create table billing_profiles (
    user_id integer primary key references users(id) on delete cascade,
    province varchar(30) check (province in
        ('punjab', 'sindh', 'khyber_pakhtunkhwa', 'balochistan', 'islamabad')),
    -- NTN (1234567-8) or CNIC (12345-1234567-1), stored in that dashed form.
    tax_id varchar(20) check (tax_id ~ '^([0-9]{7}-[0-9]|[0-9]{5}-[0-9]{7}-[0-9])$'),
    address varchar(500),
    updated_at timestamp with time zone not null default current_timestamp
);

-- The tax an order was placed with. `final_amount_pkr` is what the customer pays: with prices
-- excluding tax it is the discounted total plus the tax; otherwise the discounted total (with
-- inclusive prices the tax is inside it).
alter table orders
    add column tax_mode varchar(10) not null default 'off'
        check (tax_mode in ('off', 'inclusive', 'exclusive')),
    add column tax_province varchar(30) check (tax_province in
        ('punjab', 'sindh', 'khyber_pakhtunkhwa', 'balochistan', 'islamabad')),
    add column tax_rate_bp integer not null default 0 check (tax_rate_bp >= 0),
    add column tax_amount_pkr integer not null default 0 check (tax_amount_pkr >= 0),
    add constraint orders_tax_off_check
        check (tax_mode <> 'off' or (tax_rate_bp = 0 and tax_amount_pkr = 0));
alter table orders drop constraint orders_final_amount_check;
alter table orders add constraint orders_final_amount_check
    check (final_amount_pkr = total_amount_pkr - coalesce(discount_amount_pkr, 0)
           + case when tax_mode = 'exclusive' then tax_amount_pkr else 0 end);

-- One counter per series; the paying transaction increments it under the row's lock.
create table invoice_counters (
    series varchar(30) primary key,
    last_number integer not null check (last_number > 0)
);

create table invoices (
    id serial primary key,
    kind varchar(12) not null check (kind in ('invoice', 'credit_note')),
    series varchar(30) not null,
    number integer not null check (number > 0),
    -- The number as printed: series-000123.
    code varchar(40) not null unique,
    order_id integer not null references orders(id) on delete restrict,
    -- The buyer's account (their particulars are in `buyer`, kept if the account goes).
    user_id integer references users(id) on delete set null,
    -- A credit note: the invoice it corrects and the refund it records.
    corrects_id integer references invoices(id) on delete restrict,
    refund_id integer unique references refunds(id) on delete restrict,
    issued_at timestamp with time zone not null default current_timestamp,
    -- The day of issue in Pakistan (PKT).
    issue_date date not null,
    tax_mode varchar(10) not null check (tax_mode in ('off', 'inclusive', 'exclusive')),
    tax_province varchar(30),
    tax_rate_bp integer not null check (tax_rate_bp >= 0),
    -- {name, address, ntn, strn} and {name, email, tax_id, address, province}, as issued.
    seller jsonb not null,
    buyer jsonb not null,
    -- [{description, plan_id, location, months, quantity, unit_price_pkr, amount_pkr}]
    lines jsonb not null check (jsonb_typeof(lines) = 'array'),
    subtotal_pkr integer not null check (subtotal_pkr >= 0),
    discount_pkr integer not null check (discount_pkr >= 0),
    -- The value excluding tax (the taxable value), the tax, and the total: value + tax.
    taxable_pkr integer not null check (taxable_pkr >= 0),
    tax_pkr integer not null check (tax_pkr >= 0),
    total_pkr integer not null check (total_pkr = taxable_pkr + tax_pkr),
    payment_method varchar(100),
    payment_reference varchar(255),
    unique (series, number),
    check ((kind = 'invoice') = (corrects_id is null)),
    check (kind = 'credit_note' or refund_id is null)
);
create unique index invoices_one_per_order_idx on invoices (order_id) where kind = 'invoice';
create index invoices_order_idx on invoices (order_id);
create index invoices_user_idx on invoices (user_id, id desc);
create index invoices_issue_date_idx on invoices (issue_date, id);
create index invoices_corrects_idx on invoices (corrects_id) where corrects_id is not null;

-- Immutable: the only change allowed is the database's own `on delete set null` of user_id
-- when the buyer's account is deleted.
create function invoices_immutable() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE' and new.user_id is null
       and to_jsonb(new) - 'user_id' = to_jsonb(old) - 'user_id' then
        return new;
    end if;
    raise exception 'invoices are immutable: issue a credit note instead'
        using errcode = 'restrict_violation';
end
$$;
create trigger invoices_immutable before update or delete on invoices
    for each row execute function invoices_immutable();
