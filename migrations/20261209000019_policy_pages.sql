-- The pages a buyer looks for before paying (issue 19): terms of service, refund policy, privacy
-- policy and FAQ, in Markdown the operator edits in the back office. Every save is a new
-- version; versions are never changed or removed (what a customer agreed to stays readable), and
-- each order records the versions of the terms and the refund policy in force when it was
-- placed. Version 1 of each is the default text shipped here.
create table policy_versions (
    id serial primary key,
    page varchar(20) not null check (page in ('terms', 'refund-policy', 'privacy', 'faq')),
    version integer not null check (version > 0),
    title varchar(100) not null check (length(btrim(title)) > 0),
    body text not null check (length(btrim(body)) > 0 and length(body) <= 100000),
    created_at timestamp with time zone not null default current_timestamp,
    created_by integer references users(id) on delete set null,
    unique (page, version)
);
create index policy_versions_created_by_idx on policy_versions (created_by)
    where created_by is not null;

create function policy_versions_immutable() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE' and new.created_by is null
       and to_jsonb(new) - 'created_by' = to_jsonb(old) - 'created_by' then
        return new;
    end if;
    raise exception 'policy versions are immutable: publish a new version instead'
        using errcode = 'restrict_violation';
end
$$;
create trigger policy_versions_immutable before update or delete on policy_versions
    for each row execute function policy_versions_immutable();

alter table orders
    add column terms_version integer check (terms_version > 0),
    add column refund_policy_version integer check (refund_policy_version > 0);

insert into policy_versions (page, version, title, body) values
('terms', 1, 'Terms of service', $md$
These terms apply to every Windows RDP and Linux VPS server you buy from NextGenRDP. By placing
an order you agree to them and to our [refund policy](/refund-policy).

## Your account
- You give your real name, e-mail address and phone number, and keep your password to yourself.
- You are responsible for everything done with your account and your servers.
- You must be at least 18 years old, or have a parent's or guardian's permission.

## Orders and payment
- Prices are in Pakistani rupees (PKR). The amount to pay is shown before you place an order and
  on the order page; when the shop charges sales tax, it is shown separately.
- An order is yours once it is paid: by JazzCash, Easypaisa or a bank or wallet transfer that we
  check against our statement. An unpaid order expires after the time shown on it.
- Every paid order gets a tax invoice, downloadable from your account.

## Your server
- We set up your server after payment: automatically within minutes on most plans, or by hand
  during business hours. The login details are shown in your account, never sent by e-mail.
- A server runs for the period you paid for (one month or more). Renew it from your account
  before it ends; after a short grace period an unrenewed server is suspended, and later deleted
  with its data.
- Keep your own backups. We are not responsible for data lost on a server.

## Acceptable use
You may not use a server for:
- anything illegal in Pakistan or in the country where the server is located;
- sending spam, phishing, or attacking other systems (scanning, brute force, denial of service);
- mining cryptocurrency, unless your plan says it is allowed;
- hosting malware, pirated software or content that exploits anyone.

We may suspend a server that breaks these rules, or that harms our network or other customers,
and we tell you why. Serious or repeated abuse ends the service without a refund.

## Availability
We work to keep every server running, but we do not promise uninterrupted service. Planned
maintenance is announced by e-mail where possible.

## Changes
We may change these terms. The version you agreed to is recorded on each order; changes apply
to orders placed after they are published.

## Contact
Questions about these terms: open a ticket from your account or see the [contact page](/contact).
$md$),
('refund-policy', 1, 'Refund policy', $md$
We want you to be happy with your server. This policy says when we refund and how.

## Before your server is set up
If you paid and we have not yet set up your server, ask for a refund by opening a ticket: we
refund the full amount.

## After your server is set up
- **Within 24 hours** of your server becoming ready, if it does not work as described and we
  cannot fix it, we refund the full amount.
- After that, we do not refund the remaining days of a period, except where the law requires it
  or we could not provide the service.
- Servers suspended for breaking the [terms of service](/terms) are not refunded.

## How refunds are paid
- As **account credit** (immediately, usable on any order or renewal), or
- back to the **wallet or bank account** you paid from, within 7 working days of approval.

Each refund comes with a credit note for your records.

## How to ask
Open a ticket from your account (department: Billing) with your order number (`NGR-…`).
$md$),
('privacy', 1, 'Privacy policy', $md$
This policy explains what we keep about you and why.

## What we keep
- **Your account**: name, e-mail address, phone number, and your password (stored only as a
  one-way hash).
- **Your orders and payments**: what you bought, amounts, payment references, and receipts you
  upload. Card and wallet details stay with JazzCash or Easypaisa; we never see them.
- **Your servers**: their addresses, login details (encrypted), and their history.
- **Support**: your tickets, messages and the files you attach.
- **Security records**: sign-ins with their IP address and device, kept to protect your account.

## Why
To provide the servers you buy, take payment, issue invoices, answer your questions, prevent
fraud and abuse, and meet our legal and tax obligations.

## Who sees it
Our staff, to run the service. Payment providers see what they need to take your payment. We do
not sell your data or share it for advertising. We disclose it to authorities only when Pakistani
law requires it.

## How long
Account data stays while your account exists. Invoices and payment records are kept as long as
tax law requires, even after an account is deleted.

## Your choices
You can see and change your details in your account, end your other sessions, and ask us to
delete your account by opening a ticket.

## Contact
Questions about your data: see the [contact page](/contact).
$md$),
('faq', 1, 'Frequently asked questions', $md$
## How fast do I get my server?
Most plans are set up automatically within a few minutes of payment. Plans set up by hand are
ready within business hours; the order page shows where your server is.

## How do I pay?
JazzCash, Easypaisa, or a bank or wallet transfer to one of the accounts shown when you pay. A
transfer is checked against our statement, usually within a few hours during business hours.

## Where are my login details?
On your server's page in your account, behind a "Show" button. We never send passwords by
e-mail.

## How do I connect to a Windows RDP server?
On Windows, open **Remote Desktop Connection** (`mstsc`), enter your server's address and log in
with the username and password from your account. On a phone, use the Microsoft Remote Desktop
app.

## How do I connect to a Linux VPS?
Use SSH: `ssh root@<your server's address>` from a terminal, or PuTTY on Windows.

## Can I renew or upgrade?
Renew from your server's page before it ends. To change plans, open a ticket and we will help.

## Can I get a refund?
See the [refund policy](/refund-policy).

## How do I reach you?
Open a ticket from your account, or see the [contact page](/contact).
$md$);
