//! Repository of `orders`: the customer's purchase, its amounts in PKR, its payment and its
//! status. Status changes are guarded by the status they expect to leave, so a stale transition
//! (a second payment confirmation, an expiry racing a payment) changes nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `orders`. `final_amount_pkr` is always `total_amount_pkr - discount_amount_pkr`
/// (the database checks it).
#[derive(Clone, Debug, FromRow, Serialize)]
pub struct Order {
    pub id: i32,
    pub user_id: Option<i32>,
    pub status: String,
    pub total_amount_pkr: i32,
    pub discount_amount_pkr: Option<i32>,
    pub final_amount_pkr: i32,
    pub promo_code: Option<String>,
    pub payment_method: Option<String>,
    pub payment_reference: Option<String>,
    pub notes: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Order {
    /// The discount, zero when none was recorded.
    pub fn discount_amount_pkr(&self) -> i32 {
        self.discount_amount_pkr.unwrap_or(0)
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
    pub payment_method: Option<&'a str>,
    pub notes: Option<&'a str>,
}

/// The columns of [`Order`], for `concat!` into each statement.
macro_rules! order_columns {
    () => {
        "id, user_id, status, total_amount_pkr, discount_amount_pkr, final_amount_pkr, \
         promo_code, payment_method, payment_reference, notes, created_at, updated_at"
    };
}

/// Creates an order awaiting payment.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewOrder<'_>) -> sqlx::Result<Order> {
    timed(
        "orders.insert",
        sqlx::query_as(concat!(
            "insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                                 final_amount_pkr, promo_code, payment_method, notes)
             values ($1, 'pending_payment', $2, $3, $4, $5, $6, $7) returning ",
            order_columns!()
        ))
        .bind(new.user_id)
        .bind(new.total_amount_pkr)
        .bind(new.discount_amount_pkr)
        .bind(new.final_amount_pkr)
        .bind(new.promo_code)
        .bind(new.payment_method)
        .bind(new.notes)
        .fetch_one(db),
    )
    .await
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

/// A page of every order for the operator, newest first, optionally of one status and one user.
pub async fn list(
    db: impl PgExecutor<'_>,
    status: Option<&str>,
    user_id: Option<i32>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Order>> {
    timed(
        "orders.list",
        sqlx::query_as(concat!(
            "select ",
            order_columns!(),
            " from orders
             where ($1::text is null or status = $1) and ($2::int is null or user_id = $2)
             order by created_at desc, id desc
             limit $3 offset $4"
        ))
        .bind(status)
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

/// How many orders `list` would page through.
pub async fn count(
    db: impl PgExecutor<'_>,
    status: Option<&str>,
    user_id: Option<i32>,
) -> sqlx::Result<i64> {
    timed(
        "orders.count",
        sqlx::query_scalar(
            "select count(*) from orders
             where ($1::text is null or status = $1) and ($2::int is null or user_id = $2)",
        )
        .bind(status)
        .bind(user_id)
        .fetch_one(db),
    )
    .await
}

/// Moves the order from `from` to `to`; false (and nothing changed) when it is no longer in
/// `from`. Whether the transition is allowed is [`super::can_transition`]'s to say.
pub async fn update_status(
    db: impl PgExecutor<'_>,
    id: i32,
    from: &str,
    to: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "orders.update_status",
        sqlx::query("update orders set status = $3 where id = $1 and status = $2")
            .bind(id)
            .bind(from)
            .bind(to)
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
) -> sqlx::Result<bool> {
    let done = timed(
        "orders.set_payment",
        sqlx::query("update orders set payment_method = $2, payment_reference = $3 where id = $1")
            .bind(id)
            .bind(method)
            .bind(reference)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Orders still awaiting payment that were placed before `older_than`, oldest first: the ones
/// to expire.
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
             where status = 'pending_payment' and created_at < $1
             order by created_at, id
             limit $2"
        ))
        .bind(older_than)
        .bind(limit)
        .fetch_all(db),
    )
    .await
}
