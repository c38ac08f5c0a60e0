//! Repository of `services`: the servers customers own — their type, status, access details
//! and renewal dates. Status changes are guarded by the status they leave, so a stale
//! transition (a retried provisioning job, a suspension racing a renewal) changes nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `services`. `password_encrypted` (AES-256-GCM, never plaintext) is not serialised:
/// it is decrypted and shown only where the customer asks for it.
#[derive(Clone, Debug, FromRow, Serialize)]
pub struct Service {
    pub id: i32,
    pub order_item_id: Option<i32>,
    pub user_id: Option<i32>,
    pub service_type: String,
    pub status: String,
    pub hostname: Option<String>,
    pub ip_address: Option<String>,
    pub username: Option<String>,
    #[serde(skip)]
    pub password_encrypted: Option<String>,
    pub server_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub last_renewal_date: Option<DateTime<Utc>>,
    pub next_renewal_date: Option<DateTime<Utc>>,
    pub termination_date: Option<DateTime<Utc>>,
    pub failure_reason: Option<String>,
}

/// What a new service records; every service starts `provisioning`.
#[derive(Clone, Debug)]
pub struct NewService<'a> {
    /// The order item it was bought by; `None` for a service an operator created by hand.
    pub order_item_id: Option<i32>,
    pub user_id: i32,
    /// `rdp` or `vps`.
    pub service_type: &'a str,
}

/// The columns of [`Service`], for `concat!` into each statement.
macro_rules! service_columns {
    () => {
        "id, order_item_id, user_id, service_type, status, hostname, ip_address, username, \
         password_encrypted, server_id, created_at, updated_at, last_renewal_date, \
         next_renewal_date, termination_date, failure_reason"
    };
}

/// Creates a service being provisioned.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewService<'_>) -> sqlx::Result<Service> {
    timed(
        "services.insert",
        sqlx::query_as(concat!(
            "insert into services (order_item_id, user_id, service_type, status)
             values ($1, $2, $3, 'provisioning') returning ",
            service_columns!()
        ))
        .bind(new.order_item_id)
        .bind(new.user_id)
        .bind(new.service_type)
        .fetch_one(db),
    )
    .await
}

/// Any service by id (for operators and the worker).
pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Service>> {
    timed(
        "services.find",
        sqlx::query_as(concat!(
            "select ",
            service_columns!(),
            " from services where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// The service only if it belongs to `user_id`: someone else's is `None`, as if absent.
pub async fn find_for_user(
    db: impl PgExecutor<'_>,
    id: i32,
    user_id: i32,
) -> sqlx::Result<Option<Service>> {
    timed(
        "services.find_for_user",
        sqlx::query_as(concat!(
            "select ",
            service_columns!(),
            " from services where id = $1 and user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(db),
    )
    .await
}

/// The service, locked until the end of the caller's transaction.
pub async fn find_for_update(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Service>> {
    timed(
        "services.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            service_columns!(),
            " from services where id = $1 for update"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// Every service of the user, newest first.
pub async fn list_for_user(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<Vec<Service>> {
    timed(
        "services.list_for_user",
        sqlx::query_as(concat!(
            "select ",
            service_columns!(),
            " from services where user_id = $1 order by created_at desc, id desc"
        ))
        .bind(user_id)
        .fetch_all(db),
    )
    .await
}

/// A page of every service for the operator, newest first, optionally of one status and user.
pub async fn list(
    db: impl PgExecutor<'_>,
    status: Option<&str>,
    user_id: Option<i32>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Service>> {
    timed(
        "services.list",
        sqlx::query_as(concat!(
            "select ",
            service_columns!(),
            " from services
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

/// How many services `list` would page through.
pub async fn count(
    db: impl PgExecutor<'_>,
    status: Option<&str>,
    user_id: Option<i32>,
) -> sqlx::Result<i64> {
    timed(
        "services.count",
        sqlx::query_scalar(
            "select count(*) from services
             where ($1::text is null or status = $1) and ($2::int is null or user_id = $2)",
        )
        .bind(status)
        .bind(user_id)
        .fetch_one(db),
    )
    .await
}

/// Moves the service from `from` to `to`, recording `failure_reason` (`None` clears it); false
/// (and nothing changed) when it is no longer in `from`. Terminating stamps `termination_date`.
pub async fn update_status(
    db: impl PgExecutor<'_>,
    id: i32,
    from: &str,
    to: &str,
    failure_reason: Option<&str>,
) -> sqlx::Result<bool> {
    let done = timed(
        "services.update_status",
        sqlx::query(
            "update services
             set status = $3, failure_reason = $4,
                 termination_date = case when $3 = 'terminated'
                                         then coalesce(termination_date, now())
                                         else termination_date end
             where id = $1 and status = $2",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(failure_reason)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records how the customer reaches the server; `password_encrypted` must already be sealed.
pub async fn set_credentials(
    db: impl PgExecutor<'_>,
    id: i32,
    hostname: &str,
    ip_address: &str,
    username: &str,
    password_encrypted: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "services.set_credentials",
        sqlx::query(
            "update services
             set hostname = $2, ip_address = $3, username = $4, password_encrypted = $5
             where id = $1",
        )
        .bind(id)
        .bind(hostname)
        .bind(ip_address)
        .bind(username)
        .bind(password_encrypted)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the VM's id in the hosting system.
pub async fn set_server_id(
    db: impl PgExecutor<'_>,
    id: i32,
    server_id: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "services.set_server_id",
        sqlx::query("update services set server_id = $2 where id = $1")
            .bind(id)
            .bind(server_id)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a renewal: when it was last renewed and when it is due next.
pub async fn set_renewal_dates(
    db: impl PgExecutor<'_>,
    id: i32,
    last: DateTime<Utc>,
    next: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = timed(
        "services.set_renewal_dates",
        sqlx::query(
            "update services set last_renewal_date = $2, next_renewal_date = $3 where id = $1",
        )
        .bind(id)
        .bind(last)
        .bind(next)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Active or suspended services due for renewal by `before`, soonest first.
pub async fn list_due_for_renewal(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Service>> {
    timed(
        "services.list_due_for_renewal",
        sqlx::query_as(concat!(
            "select ",
            service_columns!(),
            " from services
             where status in ('active', 'suspended') and next_renewal_date <= $1
             order by next_renewal_date, id
             limit $2"
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(db),
    )
    .await
}

/// The services bought by an order (through its items), in creation order.
pub async fn list_for_order(db: impl PgExecutor<'_>, order_id: i32) -> sqlx::Result<Vec<Service>> {
    timed(
        "services.list_for_order",
        sqlx::query_as(concat!(
            "select ",
            service_columns!(),
            " from services
             where order_item_id in (select id from order_items where order_id = $1)
             order by id"
        ))
        .bind(order_id)
        .fetch_all(db),
    )
    .await
}
