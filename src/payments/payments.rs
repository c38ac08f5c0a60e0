//! Repository of `payments`, `payment_events` and `payment_receipts`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, PgPool};

use super::{PaymentEventKind, PaymentStatus};
use crate::db::timed;
use crate::db::total::{self, Total};

/// A row of `payments`: one attempt to pay an order. Times are RFC 3339, UTC.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub id: i32,
    pub order_id: i32,
    /// The payment method.
    #[schema(value_type = crate::payments::PaymentMethodName)]
    pub gateway: String,
    /// The amount this attempt is for, in whole PKR.
    pub amount_pkr: i32,
    pub status: PaymentStatus,
    /// Manual: the transaction id (TID) the customer quoted; JazzCash: the attempt's
    /// `pp_TxnRefNo`.
    pub gateway_txn_id: Option<String>,
    /// JazzCash's retrieval reference, once it answered.
    pub gateway_reference: Option<String>,
    /// Manual: the account the money was sent to.
    #[schema(value_type = Option<crate::payments::PaymentChannel>)]
    pub channel: Option<String>,
    /// Manual: when the customer says they paid.
    pub customer_paid_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub request_payload: Option<serde_json::Value>,
    #[serde(skip)]
    pub response_payload: Option<serde_json::Value>,
    /// Why an operator should look at it (e.g. a transaction id quoted before).
    pub flag: Option<String>,
    /// Why it failed or was rejected.
    pub failure_reason: Option<String>,
    /// The operator (user id) who approved or rejected it.
    pub reviewed_by: Option<i32>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A gateway attempt's own expiry (JazzCash's `pp_TxnExpiryDateTime`): its order does not
    /// expire before it.
    pub expires_at: Option<DateTime<Utc>>,
}

macro_rules! payment_columns {
    () => {
        "id, order_id, gateway, amount_pkr, status, gateway_txn_id, gateway_reference, channel, \
         customer_paid_at, request_payload, response_payload, flag, failure_reason, reviewed_by, \
         reviewed_at, created_at, updated_at, expires_at"
    };
}

/// The columns of [`Payment`] from a `payments p` joined to other tables.
macro_rules! payment_columns_of_p {
    () => {
        "p.id, p.order_id, p.gateway, p.amount_pkr, p.status, p.gateway_txn_id, \
         p.gateway_reference, p.channel, p.customer_paid_at, p.request_payload, \
         p.response_payload, p.flag, p.failure_reason, p.reviewed_by, p.reviewed_at, \
         p.created_at, p.updated_at, p.expires_at"
    };
}

/// A new attempt.
#[derive(Debug)]
pub struct NewPayment<'a> {
    pub order_id: i32,
    pub gateway: &'a str,
    pub amount_pkr: i32,
    pub status: PaymentStatus,
    pub gateway_txn_id: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub customer_paid_at: Option<DateTime<Utc>>,
    pub request_payload: Option<serde_json::Value>,
    pub flag: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewPayment<'_>) -> sqlx::Result<Payment> {
    timed(
        "payments.insert",
        sqlx::query_as(concat!(
            "insert into payments (order_id, gateway, amount_pkr, status, gateway_txn_id, channel,
                                   customer_paid_at, request_payload, flag, expires_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning ",
            payment_columns!()
        ))
        .bind(new.order_id)
        .bind(new.gateway)
        .bind(new.amount_pkr)
        .bind(new.status)
        .bind(new.gateway_txn_id)
        .bind(new.channel)
        .bind(new.customer_paid_at)
        .bind(&new.request_payload)
        .bind(new.flag)
        .bind(new.expires_at)
        .fetch_one(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Payment>> {
    timed(
        "payments.find",
        sqlx::query_as(concat!(
            "select ",
            payment_columns!(),
            " from payments where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// A payment locked until the transaction ends (reviews and callbacks re-read it under lock).
pub async fn find_for_update(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Payment>> {
    timed(
        "payments.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            payment_columns!(),
            " from payments where id = $1 for update"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// The attempt a gateway's transaction id belongs to, locked.
pub async fn find_by_txn_for_update(
    db: impl PgExecutor<'_>,
    gateway: &str,
    txn_id: &str,
) -> sqlx::Result<Option<Payment>> {
    timed(
        "payments.find_by_txn_for_update",
        sqlx::query_as(concat!(
            "select ",
            payment_columns!(),
            " from payments where gateway = $1 and gateway_txn_id = $2 for update"
        ))
        .bind(gateway)
        .bind(txn_id)
        .fetch_optional(db),
    )
    .await
}

/// The attempt a gateway's transaction id belongs to.
pub async fn find_by_txn(
    db: impl PgExecutor<'_>,
    gateway: &str,
    txn_id: &str,
) -> sqlx::Result<Option<Payment>> {
    timed(
        "payments.find_by_txn",
        sqlx::query_as(concat!(
            "select ",
            payment_columns!(),
            " from payments where gateway = $1 and gateway_txn_id = $2"
        ))
        .bind(gateway)
        .bind(txn_id)
        .fetch_optional(db),
    )
    .await
}

/// A gateway's attempts still `pending` that were started between `since` and `before`, oldest
/// first: the ones to ask the gateway about.
pub async fn list_pending_attempts(
    db: impl PgExecutor<'_>,
    gateway: &str,
    since: DateTime<Utc>,
    before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Payment>> {
    timed(
        "payments.list_pending_attempts",
        sqlx::query_as(concat!(
            "select ",
            payment_columns!(),
            " from payments
             where status = 'pending' and gateway = $1 and created_at >= $2 and created_at < $3
             order by created_at, id limit $4"
        ))
        .bind(gateway)
        .bind(since)
        .bind(before)
        .bind(limit)
        .fetch_all(db),
    )
    .await
}

/// A payment of a customer's own order (someone else's is `None`).
pub async fn find_for_user(
    db: impl PgExecutor<'_>,
    id: i32,
    user_id: i32,
) -> sqlx::Result<Option<Payment>> {
    timed(
        "payments.find_for_user",
        sqlx::query_as(concat!(
            "select ",
            payment_columns_of_p!(),
            " from payments p join orders o on o.id = p.order_id
             where p.id = $1 and o.user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(db),
    )
    .await
}

/// A customer's latest payments (of all their orders), newest first.
pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: i32,
    limit: i64,
) -> sqlx::Result<Vec<Payment>> {
    timed(
        "payments.list_for_user",
        sqlx::query_as(concat!(
            "select ",
            payment_columns_of_p!(),
            " from payments p join orders o on o.id = p.order_id
             where o.user_id = $1
             order by p.id desc
             limit $2"
        ))
        .bind(user_id)
        .bind(limit)
        .fetch_all(db),
    )
    .await
}

/// An order's payments, oldest first.
pub async fn list_for_order(db: impl PgExecutor<'_>, order_id: i32) -> sqlx::Result<Vec<Payment>> {
    timed(
        "payments.list_for_order",
        sqlx::query_as(concat!(
            "select ",
            payment_columns!(),
            " from payments where order_id = $1 order by id"
        ))
        .bind(order_id)
        .fetch_all(db),
    )
    .await
}

/// Which payments the operator's list shows; every field is optional.
#[derive(Clone, Copy, Debug, Default)]
pub struct PaymentFilter<'a> {
    pub status: Option<PaymentStatus>,
    /// A payment or order id, or part of the gateway's transaction id or reference (the
    /// customer's transfer reference for a manual payment; through their trigram indexes).
    pub search: Option<&'a str>,
}

impl PaymentFilter<'_> {
    fn search_id(&self) -> Option<i32> {
        self.search.and_then(crate::db::search_number)
    }

    fn search_pattern(&self) -> Option<String> {
        self.search.map(crate::db::contains_pattern)
    }
}

/// A page of payments for the operator, oldest first (a queue), filtered.
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &PaymentFilter<'_>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Payment>> {
    timed(
        "payments.list",
        sqlx::query_as(concat!(
            "select ",
            payment_columns!(),
            " from payments
             where ($1::text is null or status = $1)
               and ($2::text is null or id = $3 or order_id = $3
                    or gateway_txn_id ilike $4 or gateway_reference ilike $4)
             order by created_at, id limit $5 offset $6"
        ))
        // Optional filters: planned with the values (ARCHITECTURE.md, "A request").
        .persistent(false)
        .bind(filter.status)
        .bind(filter.search)
        .bind(filter.search_id())
        .bind(filter.search_pattern())
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

/// How many payments `list` would page through: exact up to 10,000, else estimated.
pub async fn count(db: &PgPool, filter: &PaymentFilter<'_>) -> sqlx::Result<Total> {
    let sql = crate::total_sql!(
        "payments.count",
        "from payments
         where ($1::text is null or status = $1)
           and ($2::text is null or id = $3 or order_id = $3
                or gateway_txn_id ilike $4 or gateway_reference ilike $4)"
    );
    total::count(db, sql, |query| {
        query
            .bind(filter.status)
            .bind(filter.search.map(str::to_owned))
            .bind(filter.search_id())
            .bind(filter.search_pattern())
    })
    .await
}

/// Other manual payments that quote the same transfer reference (any case).
pub async fn count_manual_reference(db: impl PgExecutor<'_>, reference: &str) -> sqlx::Result<i64> {
    timed(
        "payments.count_manual_reference",
        sqlx::query_scalar(
            "select count(*) from payments where gateway = 'manual' and upper(gateway_txn_id) = upper($1)
               and status <> 'rejected'",
        )
        .bind(reference)
        .fetch_one(db),
    )
    .await
}

/// Moves a payment from `from` to `to` (guarded: false when it is no longer in `from`),
/// recording the response, the reviewer and why; see [`super::transition`].
pub(super) async fn set_status(
    db: impl PgExecutor<'_>,
    id: i32,
    from: &[PaymentStatus],
    to: PaymentStatus,
    change: &Transition<'_>,
) -> sqlx::Result<bool> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let done = timed(
        "payments.transition",
        sqlx::query(
            "update payments set status = $3,
                 response_payload = coalesce($4, response_payload),
                 gateway_reference = coalesce($5, gateway_reference),
                 failure_reason = coalesce($6, failure_reason),
                 reviewed_by = coalesce($7, reviewed_by),
                 reviewed_at = case when $7::int is null then reviewed_at else now() end
             where id = $1 and status = any($2)",
        )
        .bind(id)
        .bind(&from)
        .bind(to)
        .bind(&change.response_payload)
        .bind(change.gateway_reference)
        .bind(change.failure_reason)
        .bind(change.reviewed_by)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What a status change records besides the status.
#[derive(Debug, Default)]
pub struct Transition<'a> {
    pub response_payload: Option<serde_json::Value>,
    pub gateway_reference: Option<&'a str>,
    pub failure_reason: Option<&'a str>,
    pub reviewed_by: Option<i32>,
}

/// Marks a payment for the operator's attention.
pub async fn set_flag(db: impl PgExecutor<'_>, id: i32, flag: &str) -> sqlx::Result<()> {
    timed(
        "payments.set_flag",
        sqlx::query("update payments set flag = $2 where id = $1")
            .bind(id)
            .bind(flag)
            .execute(db),
    )
    .await?;
    Ok(())
}

/// Records what a manual transfer under review actually brought, when the operator saw a
/// different amount arrive than was asked.
pub async fn set_received_amount(
    db: impl PgExecutor<'_>,
    id: i32,
    amount_pkr: i32,
) -> sqlx::Result<()> {
    timed(
        "payments.set_received_amount",
        sqlx::query("update payments set amount_pkr = $2 where id = $1 and status = 'review'")
            .bind(id)
            .bind(amount_pkr)
            .execute(db),
    )
    .await?;
    Ok(())
}

/// The sum of an order's succeeded payments.
pub async fn succeeded_total(db: impl PgExecutor<'_>, order_id: i32) -> sqlx::Result<i64> {
    timed(
        "payments.succeeded_total",
        sqlx::query_scalar(
            "select coalesce(sum(amount_pkr), 0)::bigint from payments where order_id = $1 and status = 'succeeded'",
        )
        .bind(order_id)
        .fetch_one(db),
    )
    .await
}

/// Something that happened to a payment (a row of `payment_events`): its creation, a
/// submission, a gateway callback, a review. `created_at` is RFC 3339, UTC.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct PaymentEvent {
    pub id: i64,
    pub payment_id: Option<i32>,
    pub kind: PaymentEventKind,
    /// The raw payload as received or sent (a gateway's fields, a submitted reference).
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
    /// A short note: a gateway's response code, a reviewer, why a callback was refused.
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Records a callback, submission or review with its raw payload.
pub async fn insert_event(
    db: impl PgExecutor<'_>,
    payment_id: Option<i32>,
    kind: PaymentEventKind,
    payload: Option<&serde_json::Value>,
    note: Option<&str>,
) -> sqlx::Result<()> {
    timed(
        "payment_events.insert",
        sqlx::query(
            "insert into payment_events (payment_id, kind, payload, note) values ($1, $2, $3, $4)",
        )
        .bind(payment_id)
        .bind(kind)
        .bind(payload)
        .bind(note.map(|n| &n[..n.len().min(500)]))
        .execute(db),
    )
    .await?;
    Ok(())
}

pub async fn list_events(
    db: impl PgExecutor<'_>,
    payment_id: i32,
) -> sqlx::Result<Vec<PaymentEvent>> {
    timed(
        "payment_events.list",
        sqlx::query_as(
            "select id, payment_id, kind, payload, note, created_at from payment_events
             where payment_id = $1 order by id",
        )
        .bind(payment_id)
        .fetch_all(db),
    )
    .await
}

/// Which of `order_ids` have a transfer awaiting the operator's review.
pub async fn orders_in_review(
    db: impl PgExecutor<'_>,
    order_ids: &[i32],
) -> sqlx::Result<Vec<i32>> {
    timed(
        "payments.orders_in_review",
        sqlx::query_scalar(
            "select distinct order_id from payments
             where order_id = any($1) and status = 'review'",
        )
        .bind(order_ids)
        .fetch_all(db),
    )
    .await
}

/// Adds a receipt image to a payment (earlier ones are kept); its id.
pub async fn add_receipt(
    db: impl PgExecutor<'_>,
    payment_id: i32,
    content_type: &str,
    bytes: &[u8],
) -> sqlx::Result<i32> {
    timed(
        "payment_receipts.add",
        sqlx::query_scalar(
            "insert into payment_receipts (payment_id, content_type, bytes) values ($1, $2, $3)
             returning id",
        )
        .bind(payment_id)
        .bind(content_type)
        .bind(bytes)
        .fetch_one(db),
    )
    .await
}

/// A receipt as listed (without its bytes). `created_at` is RFC 3339, UTC.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct ReceiptInfo {
    pub id: i32,
    /// `image/png`, `image/jpeg` or `image/webp`.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i32,
    /// When the customer sent it.
    pub created_at: DateTime<Utc>,
}

/// A payment's receipts, oldest first.
pub async fn list_receipts(
    db: impl PgExecutor<'_>,
    payment_id: i32,
) -> sqlx::Result<Vec<ReceiptInfo>> {
    timed(
        "payment_receipts.list",
        sqlx::query_as(
            "select id, content_type, octet_length(bytes) as size, created_at
             from payment_receipts where payment_id = $1 order by id",
        )
        .bind(payment_id)
        .fetch_all(db),
    )
    .await
}

/// One receipt of a payment: content type and bytes.
pub async fn find_receipt_by_id(
    db: impl PgExecutor<'_>,
    payment_id: i32,
    receipt_id: i32,
) -> sqlx::Result<Option<(String, Vec<u8>)>> {
    timed(
        "payment_receipts.find_by_id",
        sqlx::query_as(
            "select content_type, bytes from payment_receipts where payment_id = $1 and id = $2",
        )
        .bind(payment_id)
        .bind(receipt_id)
        .fetch_optional(db),
    )
    .await
}

/// A payment's newest receipt: content type and bytes.
pub async fn find_receipt(
    db: impl PgExecutor<'_>,
    payment_id: i32,
) -> sqlx::Result<Option<(String, Vec<u8>)>> {
    timed(
        "payment_receipts.find",
        sqlx::query_as(
            "select content_type, bytes from payment_receipts where payment_id = $1
             order by id desc limit 1",
        )
        .bind(payment_id)
        .fetch_optional(db),
    )
    .await
}
