//! Repository of `service_logs`: what was done to a service (created, suspended, password
//! reset, ...), whether it worked, and which operator did it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use super::ServiceAction;
use crate::db::timed;

/// A row of `service_logs`. `status` is `success`, `failed` or `pending`; `performed_by` is the
/// operator, `None` when the system acted on its own.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct ServiceLog {
    pub id: i32,
    pub service_id: Option<i32>,
    /// What was done; a customer's request waiting for the operator is the action's
    /// `…_requested` form (`reboot_requested`).
    pub action: ServiceAction,
    #[schema(schema_with = super::log_status_schema)]
    pub status: String,
    pub details: Option<String>,
    /// The user who acted (customer or operator); `null` when the system acted on its own.
    pub performed_by: Option<i32>,
    /// RFC 3339, UTC.
    pub created_at: Option<DateTime<Utc>>,
}

/// The columns of [`ServiceLog`], for `concat!` into each statement.
macro_rules! log_columns {
    () => {
        "id, service_id, action, status, details, performed_by, created_at"
    };
}

/// Records one action on a service.
pub async fn insert(
    db: impl PgExecutor<'_>,
    service_id: i32,
    action: ServiceAction,
    status: &str,
    details: Option<&str>,
    performed_by: Option<i32>,
) -> sqlx::Result<ServiceLog> {
    timed(
        "service_logs.insert",
        sqlx::query_as(concat!(
            "insert into service_logs (service_id, action, status, details, performed_by)
             values ($1, $2, $3, $4, $5) returning ",
            log_columns!()
        ))
        .bind(service_id)
        .bind(action)
        .bind(status)
        .bind(details)
        .bind(performed_by)
        .fetch_one(db),
    )
    .await
}

/// The service's log, newest first.
pub async fn list_for_service(
    db: impl PgExecutor<'_>,
    service_id: i32,
) -> sqlx::Result<Vec<ServiceLog>> {
    timed(
        "service_logs.list_for_service",
        sqlx::query_as(concat!(
            "select ",
            log_columns!(),
            " from service_logs where service_id = $1 order by created_at desc, id desc"
        ))
        .bind(service_id)
        .fetch_all(db),
    )
    .await
}

/// A page of the service's log, newest first.
pub async fn page_for_service(
    db: impl PgExecutor<'_>,
    service_id: i32,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ServiceLog>> {
    timed(
        "service_logs.page_for_service",
        sqlx::query_as(concat!(
            "select ",
            log_columns!(),
            " from service_logs where service_id = $1
             order by created_at desc, id desc limit $2 offset $3"
        ))
        .bind(service_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

/// How many lines the service's log holds.
pub async fn count_for_service(db: impl PgExecutor<'_>, service_id: i32) -> sqlx::Result<i64> {
    timed(
        "service_logs.count_for_service",
        sqlx::query_scalar("select count(*) from service_logs where service_id = $1")
            .bind(service_id)
            .fetch_one(db),
    )
    .await
}

/// The customers' requests the operator has yet to carry out (`pending` lines named
/// `<action>_requested`, written for services run by hand), newest first.
pub async fn list_open_requests(
    db: impl PgExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<ServiceLog>> {
    timed(
        "service_logs.list_open_requests",
        sqlx::query_as(concat!(
            "select ",
            log_columns!(),
            " from service_logs
             where status = 'pending' and action like '%\\_requested'
             order by created_at desc, id desc
             limit $1"
        ))
        .bind(limit)
        .fetch_all(db),
    )
    .await
}

/// One log line, locked until the transaction ends (to close a customer's request once).
pub async fn find_for_update(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<ServiceLog>> {
    timed(
        "service_logs.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            log_columns!(),
            " from service_logs where id = $1 for update"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// Closes a `pending` line with its outcome (`success` or `failed`) and new details; `None`
/// when it was no longer pending.
pub async fn close_pending(
    db: impl PgExecutor<'_>,
    id: i32,
    status: &str,
    details: &str,
) -> sqlx::Result<Option<ServiceLog>> {
    timed(
        "service_logs.close_pending",
        sqlx::query_as(concat!(
            "update service_logs set status = $2, details = $3
             where id = $1 and status = 'pending' returning ",
            log_columns!()
        ))
        .bind(id)
        .bind(status)
        .bind(details)
        .fetch_optional(db),
    )
    .await
}

/// How many times `action` was logged for the service.
pub async fn count_action(
    db: impl PgExecutor<'_>,
    service_id: i32,
    action: ServiceAction,
) -> sqlx::Result<i64> {
    timed(
        "service_logs.count_action",
        sqlx::query_scalar(
            "select count(*) from service_logs where service_id = $1 and action = $2",
        )
        .bind(service_id)
        .bind(action)
        .fetch_one(db),
    )
    .await
}

/// Closes the oldest `pending` line of `action` on the service (a queued driver action now
/// done or failed) with `status` and `details`; false when there is none.
pub async fn close_oldest_pending_action(
    db: impl PgExecutor<'_>,
    service_id: i32,
    action: ServiceAction,
    status: &str,
    details: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "service_logs.close_oldest_pending_action",
        sqlx::query(
            "update service_logs set status = $3, details = $4
             where id = (select id from service_logs
                         where service_id = $1 and action = $2 and status = 'pending'
                         order by id limit 1
                         for update skip locked)",
        )
        .bind(service_id)
        .bind(action)
        .bind(status)
        .bind(details)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}
