//! Repository of `orders`: the customer's purchase, its amounts in PKR, its payment and its
//! status. Status changes are guarded by the status they expect to leave, so a stale transition
//! (a second payment confirmation, an expiry racing a payment) changes nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, PgPool};

use super::OrderStatus;
use crate::db::text_enum::text_enum;
use crate::db::timed;
use crate::db::total::{self, Total};

/// An order as stored (a row of `orders`). Amounts are whole PKR; `final_amount_pkr` is always
/// `total_amount_pkr - discount_amount_pkr`, plus `tax_amount_pkr` when prices exclude tax (the
/// database checks it). Times are RFC 3339, UTC.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct Order {
    pub id: i32,
    /// The customer who placed it.
    pub user_id: Option<i32>,
    pub status: OrderStatus,
    /// The subtotal before any discount, in whole PKR.
    pub total_amount_pkr: i32,
    /// The promo code's discount, in whole PKR (null: none).
    pub discount_amount_pkr: Option<i32>,
    /// What the customer pays, in whole PKR.
    pub final_amount_pkr: i32,
    pub promo_code: Option<String>,
    /// How it was paid, once paid: the gateway (`manual`, `jazzcash`), with the channel of a
    /// manual transfer after a colon (`manual:bank`).
    pub payment_method: Option<String>,
    /// The transaction id of the payment that settled it.
    pub payment_reference: Option<String>,
    /// The customer's notes at checkout.
    pub notes: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The promo code whose use this order holds.
    pub promo_code_id: Option<i32>,
    pub paid_at: Option<DateTime<Utc>>,
    /// When it was cancelled or expired.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// `new` (a purchase) or `renewal` (of the services its items name).
    pub kind: OrderKind,
    /// The customer's account credit spent on it, whole PKR (at most `final_amount_pkr`).
    pub credit_applied_pkr: i32,
    /// How its prices related to sales tax when it was placed: `off`, `inclusive` (the tax is
    /// inside the amount) or `exclusive` (the tax was added to it).
    pub tax_mode: crate::orders::tax::TaxMode,
    /// The province whose rate applied.
    pub tax_province: Option<crate::accounts::billing::Province>,
    /// The rate, in basis points (1600 = 16 %).
    pub tax_rate_bp: i32,
    /// The sales tax in `final_amount_pkr`, whole PKR.
    pub tax_amount_pkr: i32,
    /// The version of the terms of service in force when it was placed (`/terms?version=`);
    /// null for renewals, which continue under their first order's.
    pub terms_version: Option<i32>,
    /// The version of the refund policy in force when it was placed.
    pub refund_policy_version: Option<i32>,
}

text_enum! {
    /// What an order buys: new servers, or more time for existing ones.
    pub enum OrderKind {
        New = "new",
        Renewal = "renewal",
    }
}

impl Order {
    /// The discount, zero when none was recorded.
    pub fn discount_amount_pkr(&self) -> i32 {
        self.discount_amount_pkr.unwrap_or(0)
    }

    /// What is left to pay through a gateway: the amount less the credit applied to it.
    pub fn due_pkr(&self) -> i32 {
        self.final_amount_pkr - self.credit_applied_pkr
    }
}

/// How a payment was made, in words: the gateway (`payments.gateway`, or `credit`) and, for a
/// transfer, its channel. The orders' and payments' pages and the invoices say it alike.
pub fn method_label(gateway: &str, channel: Option<&str>) -> String {
    match (gateway, channel) {
        ("manual", Some("bank")) => "Bank transfer".to_owned(),
        ("manual", Some("jazzcash")) => "JazzCash transfer".to_owned(),
        ("manual", Some("easypaisa")) => "Easypaisa transfer".to_owned(),
        ("manual", _) => "Manual transfer".to_owned(),
        ("jazzcash", _) => "JazzCash checkout".to_owned(),
        ("easypaisa", _) => "Easypaisa checkout".to_owned(),
        ("credit", _) => "Account credit".to_owned(),
        (other, _) => other.to_owned(),
    }
}

/// An order's `payment_method` (`gateway` or `gateway:channel`) in words.
pub fn payment_method_label(stored: &str) -> String {
    match stored.split_once(':') {
        Some((gateway, channel)) => method_label(gateway, Some(channel)),
        None => method_label(stored, None),
    }
}

/// What a new order records; every order starts `pending_payment`.
#[derive(Clone, Debug)]
pub struct NewOrder<'a> {
    pub user_id: i32,
    pub total_amount_pkr: i32,
    pub discount_amount_pkr: i32,
    pub final_amount_pkr: i32,
    pub promo_code: Option<&'a str>,
    pub promo_code_id: Option<i32>,
    pub payment_method: Option<&'a str>,
    pub notes: Option<&'a str>,
}

/// The columns of [`Order`], for `concat!` into each statement.
macro_rules! order_columns {
    () => {
        "id, user_id, status, total_amount_pkr, discount_amount_pkr, final_amount_pkr, \
         promo_code, payment_method, payment_reference, notes, created_at, updated_at, \
         promo_code_id, paid_at, cancelled_at, kind, credit_applied_pkr, tax_mode, tax_province, \
         tax_rate_bp, tax_amount_pkr, terms_version, refund_policy_version"
    };
}

/// Creates an order awaiting payment.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewOrder<'_>) -> sqlx::Result<Order> {
    timed(
        "orders.insert",
        sqlx::query_as(concat!(
            "insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                                 final_amount_pkr, promo_code, payment_method, notes, promo_code_id,
                                 terms_version, refund_policy_version)
             values ($1, 'pending_payment', $2, $3, $4, $5, $6, $7, $8,
                     (select max(version) from policy_versions where page = 'terms'),
                     (select max(version) from policy_versions where page = 'refund-policy'))
             returning ",
            order_columns!()
        ))
        .bind(new.user_id)
        .bind(new.total_amount_pkr)
        .bind(new.discount_amount_pkr)
        .bind(new.final_amount_pkr)
        .bind(new.promo_code)
        .bind(new.payment_method)
        .bind(new.notes)
        .bind(new.promo_code_id)
        .fetch_one(db),
    )
    .await
}

/// Records the sales tax of an order awaiting payment, and the amount to pay with it.
pub async fn set_tax(
    db: impl PgExecutor<'_>,
    id: i32,
    mode: crate::orders::tax::TaxMode,
    province: crate::accounts::billing::Province,
    rate_bp: i32,
    tax_amount_pkr: i32,
    final_amount_pkr: i32,
) -> sqlx::Result<Order> {
    timed(
        "orders.set_tax",
        sqlx::query_as(concat!(
            "update orders set tax_mode = $2, tax_province = $3, tax_rate_bp = $4,
                 tax_amount_pkr = $5, final_amount_pkr = $6
             where id = $1 and status = 'pending_payment' returning ",
            order_columns!()
        ))
        .bind(id)
        .bind(mode)
        .bind(province)
        .bind(rate_bp)
        .bind(tax_amount_pkr)
        .bind(final_amount_pkr)
        .fetch_one(db),
    )
    .await
}

/// A renewal order: `months` more of one service at its monthly price (one item naming the
/// service), awaiting payment.
pub struct NewRenewal<'a> {
    pub user_id: Option<i32>,
    pub service_id: i32,
    pub plan_id: Option<&'a str>,
    pub location_id: Option<i32>,
    pub monthly_price_pkr: i32,
    pub months: i32,
    /// What it costs (`pricing::Line::total`, checked by `pricing::order_amount`).
    pub total_pkr: i32,
    pub notes: &'a str,
}

/// Writes a renewal order and its item in the caller's transaction.
pub async fn insert_renewal(
    tx: &mut sqlx::PgConnection,
    new: &NewRenewal<'_>,
) -> sqlx::Result<Order> {
    let order: Order = timed(
        "renewals.insert_order",
        sqlx::query_as(concat!(
            "insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                                 final_amount_pkr, kind, notes)
             values ($1, 'pending_payment', $2, 0, $2, 'renewal', $3)
             returning ",
            order_columns!()
        ))
        .bind(new.user_id)
        .bind(new.total_pkr)
        .bind(new.notes)
        .fetch_one(&mut *tx),
    )
    .await?;
    timed(
        "renewals.insert_item",
        sqlx::query(
            "insert into order_items (order_id, plan_id, location_id, quantity,
                                      price_at_order_pkr, validity_months, service_id)
             values ($1, $2, $3, 1, $4, $5, $6)",
        )
        .bind(order.id)
        .bind(new.plan_id)
        .bind(new.location_id)
        .bind(new.monthly_price_pkr)
        .bind(new.months)
        .bind(new.service_id)
        .execute(&mut *tx),
    )
    .await?;
    Ok(order)
}

/// Any order by id (for operators and the worker).
pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Order>> {
    timed(
        "orders.find",
        sqlx::query_as(concat!(
            "select ",
            order_columns!(),
            " from orders where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// The order only if it belongs to `user_id`: someone else's order is `None`, as if absent.
pub async fn find_for_user(
    db: impl PgExecutor<'_>,
    id: i32,
    user_id: i32,
) -> sqlx::Result<Option<Order>> {
    timed(
        "orders.find_for_user",
        sqlx::query_as(concat!(
            "select ",
            order_columns!(),
            " from orders where id = $1 and user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(db),
    )
    .await
}

/// The order, locked until the end of the caller's transaction.
pub async fn find_for_update(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Order>> {
    timed(
        "orders.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            order_columns!(),
            " from orders where id = $1 for update"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// A page of the user's orders, newest first.
pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: i32,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Order>> {
    timed(
        "orders.list_for_user",
        sqlx::query_as(concat!(
            "select ",
            order_columns!(),
            " from orders where user_id = $1
             order by created_at desc, id desc
             limit $2 offset $3"
        ))
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

/// How many orders the user has.
pub async fn count_for_user(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<i64> {
    timed(
        "orders.count_for_user",
        sqlx::query_scalar("select count(*) from orders where user_id = $1")
            .bind(user_id)
            .fetch_one(db),
    )
    .await
}

/// What the operator filters orders by; every field is optional.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter<'a> {
    pub status: Option<&'a str>,
    pub user_id: Option<i32>,
    /// Placed at or after.
    pub from: Option<DateTime<Utc>>,
    /// Placed before.
    pub to: Option<DateTime<Utc>>,
    /// An order id, part of the customer's e-mail, or the order's whole payment reference (in
    /// any case).
    pub search: Option<&'a str>,
}

/// The order a search names by its number (`42`), if it is one. A search matches that order,
/// the order whose payment reference it is (in any case: `upper(payment_reference)`'s index; the
/// payment search finds parts of references) and the orders of every account whose e-mail
/// contains it (the e-mail's trigram index, then the orders' `(user_id, created_at)` index): no
/// scan of the orders.
fn order_number(search: &str) -> Option<i32> {
    crate::db::search_number(search)
}

/// The operator's order filters as one `from … where …` clause, parameters `$1` to `$7`
/// ([`bind_filter!`]): the page, its total and a search's page-with-total read the same rows.
macro_rules! order_filter {
    () => {
        "from orders o
         where ($1::text is null or o.status = $1) and ($2::int is null or o.user_id = $2)
           and ($3::timestamptz is null or o.created_at >= $3)
           and ($4::timestamptz is null or o.created_at < $4)
           and ($5::text is null or o.id = $7 or upper(o.payment_reference) = upper($5)
                or o.user_id = any(array(select id from users where email ilike $6)))"
    };
}

/// Binds `$1` to `$7` of [`order_filter!`].
macro_rules! bind_filter {
    ($query:expr, $filter:expr) => {
        $query
            .bind($filter.status.map(str::to_owned))
            .bind($filter.user_id)
            .bind($filter.from)
            .bind($filter.to)
            .bind($filter.search.map(str::to_owned))
            .bind($filter.search.map(crate::db::contains_pattern))
            .bind($filter.search.and_then(order_number))
    };
}

/// A search's page and total in one statement, the matching orders visited once: at most
/// 10,001 of them (`db::total`'s bound), their count, and the ids of the page asked.
const SEARCH_PAGE: &str = concat!(
    "with matching as materialized (select o.id, o.created_at ",
    order_filter!(),
    " limit 10001)
     select (select count(*) from matching),
            array(select id from matching order by created_at desc, id desc
                  limit $8 offset $9)"
);

/// A search by text alone (no other filter), answered from the matching accounts' figures
/// (`customer_orders`, kept by the database): the total is the sum of their orders plus the
/// order the text names by number or reference; the page's orders can only belong to the
/// accounts whose last orders are the newest (`offset + limit` of them, ties included), so only
/// those accounts' newest orders are read. Parameters: the e-mail pattern, the order number,
/// the text, `offset + limit`, `limit`, `offset`.
const SEARCH_BY_CUSTOMERS: &str = "
    with customers as materialized (
             select c.user_id, c.orders, c.last_order_at from customer_orders c
             where c.user_id = any(array(select id from users where email ilike $1))),
         named as materialized (
             select o.id, o.created_at from orders o
             where (o.id = $2 or upper(o.payment_reference) = upper($3))
               and (o.user_id is null
                    or o.user_id <> all(array(select user_id from customers)))),
         newest as (
             select o.id, o.created_at
             from (select user_id from customers
                   order by last_order_at desc nulls last
                   fetch first $4 rows with ties) as c
             cross join lateral (
                 select o.id, o.created_at from orders o where o.user_id = c.user_id
                 order by o.created_at desc, o.id desc limit $4) as o
             union all
             select id, created_at from named)
    select (select coalesce(sum(orders), 0) from customers)::bigint
               + (select count(*) from named),
           array(select id from newest order by created_at desc, id desc
                 limit $5 offset $6)";

/// How deep a search by text alone pages through [`SEARCH_BY_CUSTOMERS`]; deeper pages gather
/// every match ([`SEARCH_PAGE`]).
const SEARCH_BY_CUSTOMERS_DEPTH: i64 = 1_000;

/// A page of every order for the operator, newest first, filtered.
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &OrderFilter<'_>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Order>> {
    timed(
        "orders.list",
        bind_filter!(
            sqlx::query_as(concat!(
                "select o.id, o.user_id, o.status, o.total_amount_pkr, o.discount_amount_pkr,
                        o.final_amount_pkr, o.promo_code, o.payment_method, o.payment_reference,
                        o.notes, o.created_at, o.updated_at, o.promo_code_id, o.paid_at,
                        o.cancelled_at, o.kind, o.credit_applied_pkr, o.tax_mode, o.tax_province, \
                        o.tax_rate_bp, o.tax_amount_pkr, o.terms_version, \
                        o.refund_policy_version ",
                order_filter!(),
                " order by o.created_at desc, o.id desc limit $8 offset $9"
            )),
            filter
        )
        .bind(limit)
        .bind(offset)
        // Optional filters: planned with the values (ARCHITECTURE.md, "A request").
        .persistent(false)
        .fetch_all(db),
    )
    .await
}

/// How many orders `list` would page through: exact up to 10,000, else estimated.
pub async fn count(db: &PgPool, filter: &OrderFilter<'_>) -> sqlx::Result<Total> {
    let sql = crate::total_sql!("orders.count", order_filter!());
    total::count(db, sql, |query| bind_filter!(query, filter)).await
}

/// A page of the operator's orders and how many match. A search by text alone, on the first
/// thousand orders, reads the matching accounts' figures ([`SEARCH_BY_CUSTOMERS`]); a search
/// with other filters gathers its matching orders once for the total and the page
/// ([`SEARCH_PAGE`]); past 10,000 matches, and without a search, the page and the total are
/// read apart.
pub async fn page(
    db: &PgPool,
    filter: &OrderFilter<'_>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Order>, Total)> {
    if let Some(search) = filter.search
        && filter.status.is_none()
        && filter.user_id.is_none()
        && filter.from.is_none()
        && filter.to.is_none()
        && offset.saturating_add(limit) <= SEARCH_BY_CUSTOMERS_DEPTH
    {
        let (matched, ids): (i64, Vec<i32>) = timed(
            "orders.search_by_customers",
            sqlx::query_as(SEARCH_BY_CUSTOMERS)
                .bind(crate::db::contains_pattern(search))
                .bind(order_number(search))
                .bind(search)
                .bind(offset + limit)
                .bind(limit)
                .bind(offset)
                .persistent(false)
                .fetch_one(db),
        )
        .await?;
        let total = Total {
            count: matched,
            exact: true,
        };
        return Ok((list_by_ids(db, &ids).await?, total));
    }
    if filter.search.is_some() {
        let (matched, ids): (i64, Vec<i32>) = timed(
            "orders.search_page",
            bind_filter!(sqlx::query_as(SEARCH_PAGE), filter)
                .bind(limit)
                .bind(offset)
                .persistent(false)
                .fetch_one(db),
        )
        .await?;
        if matched <= total::EXACT_UP_TO {
            let total = Total {
                count: matched,
                exact: true,
            };
            return Ok((list_by_ids(db, &ids).await?, total));
        }
    }
    let total = count(db, filter).await?;
    Ok((list(db, filter, limit, offset).await?, total))
}

/// Replaces the order's notes (`None` clears them); false when there is no such order.
pub async fn set_notes(
    db: impl PgExecutor<'_>,
    id: i32,
    notes: Option<&str>,
) -> sqlx::Result<bool> {
    let done = timed(
        "orders.set_notes",
        sqlx::query("update orders set notes = $2 where id = $1")
            .bind(id)
            .bind(notes)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The account id and e-mail of each of these orders' customers, by order id (orders whose
/// account is gone are absent): one statement for a page of payments.
pub async fn customer_emails(
    db: impl PgExecutor<'_>,
    order_ids: &[i32],
) -> sqlx::Result<std::collections::BTreeMap<i32, (i32, String)>> {
    let rows: Vec<(i32, i32, String)> = timed(
        "orders.customer_emails",
        sqlx::query_as(
            "select o.id, u.id, u.email from orders o join users u on u.id = o.user_id
             where o.id = any($1)",
        )
        .bind(order_ids)
        .fetch_all(db),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(order, user, email)| (order, (user, email)))
        .collect())
}

/// The orders of these ids, newest first.
async fn list_by_ids(db: impl PgExecutor<'_>, ids: &[i32]) -> sqlx::Result<Vec<Order>> {
    timed(
        "orders.list_by_ids",
        sqlx::query_as(concat!(
            "select ",
            order_columns!(),
            " from orders where id = any($1) order by created_at desc, id desc"
        ))
        .bind(ids)
        .fetch_all(db),
    )
    .await
}

/// Moves the order from `from` to `to`; false (and nothing changed) when it is no longer in
/// `from`. Whether the transition is allowed is [`super::can_transition`]'s to say.
/// Whether it moved, and then whose it is and the credit applied to it.
pub(super) async fn set_status(
    db: impl PgExecutor<'_>,
    id: i32,
    from: OrderStatus,
    to: OrderStatus,
) -> sqlx::Result<Option<(Option<i32>, i32)>> {
    timed(
        "orders.update_status",
        sqlx::query_as(
            "update orders set status = $3,
                 paid_at = case when $3 = 'paid' then now() else paid_at end,
                 cancelled_at = case when $3 in ('cancelled', 'expired') then now() else cancelled_at end
             where id = $1 and status = $2
             returning user_id, credit_applied_pkr",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .fetch_optional(db),
    )
    .await
}

/// Adds `amount` of account credit to what the order has applied (the caller records the
/// ledger's `spent` entry in the same transaction); the order as it is now.
pub(super) async fn add_credit_applied(
    db: impl PgExecutor<'_>,
    id: i32,
    amount: i32,
) -> sqlx::Result<Order> {
    timed(
        "orders.add_credit_applied",
        sqlx::query_as(concat!(
            "update orders set credit_applied_pkr = credit_applied_pkr + $2 where id = $1
             returning ",
            order_columns!()
        ))
        .bind(id)
        .bind(amount)
        .fetch_one(db),
    )
    .await
}

/// See [`super::activate_if_provisioned`].
pub(super) async fn activate_if_provisioned(
    db: impl PgExecutor<'_>,
    item_id: i32,
) -> sqlx::Result<bool> {
    let done = timed(
        "provision.activate_order",
        sqlx::query(
            "update orders o set status = 'active'
             from order_items i
             where i.id = $1 and o.id = i.order_id and o.status in ('paid', 'processing')
               and not exists (
                   select 1 from services s join order_items i2 on i2.id = s.order_item_id
                   where i2.order_id = o.id and s.status <> 'active')",
        )
        .bind(item_id)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records how the order was paid (method, and the transaction reference when there is one).
pub async fn set_payment(
    db: impl PgExecutor<'_>,
    id: i32,
    method: &str,
    reference: Option<&str>,
) -> sqlx::Result<Option<Order>> {
    timed(
        "orders.set_payment",
        sqlx::query_as(concat!(
            "update orders set payment_method = $2, payment_reference = $3 where id = $1
             returning ",
            order_columns!()
        ))
        .bind(id)
        .bind(method)
        .bind(reference)
        .fetch_optional(db),
    )
    .await
}

/// New orders still awaiting payment that were placed before `older_than`, oldest first: the
/// ones to expire. Renewal orders stay open until paid, replaced, or their service ends; an
/// order with a reported transfer awaiting review, or a gateway attempt (JazzCash) still live,
/// waits too: until an hour after that attempt's own expiry, so a customer paying at the last
/// minute is not charged for an order that expired under them.
pub async fn list_expired_unpaid(
    db: impl PgExecutor<'_>,
    older_than: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Order>> {
    timed(
        "orders.list_expired_unpaid",
        sqlx::query_as(concat!(
            "select ",
            order_columns!(),
            " from orders
             where status = 'pending_payment' and created_at < $1 and kind = 'new'
               -- A transfer the customer reported is the operator's to judge, however late.
               and not exists (select 1 from payments p
                               where p.order_id = orders.id and p.status = 'review')
               and not exists (select 1 from payments p
                               where p.order_id = orders.id and p.status = 'pending'
                                 and p.expires_at + interval '1 hour' > now())
             order by created_at, id
             limit $2"
        ))
        .bind(older_than)
        .bind(limit)
        .fetch_all(db),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_page_counts_to_the_same_bound_as_every_total() {
        assert!(SEARCH_PAGE.contains(&format!(" limit {})", total::EXACT_UP_TO + 1)));
    }
}
