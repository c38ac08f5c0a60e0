//! Repository of `services`: the servers customers own — their type, status, access details
//! and renewal dates. Status changes are guarded by the status they leave, so a stale
//! transition (a retried provisioning job, a suspension racing a renewal) changes nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, PgPool};

use super::{ProvisioningStep, ServiceStatus};
use crate::db::timed;
use crate::db::total::{self, Total};

/// A row of `services`. `password_encrypted` (AES-256-GCM, never plaintext) is not serialised:
/// it is decrypted and shown only where the customer asks for it.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
#[schema(
    description = "A service as the operator sees it: every column but the sealed password \
    (revealed only by `GET /admin/services/{id}/credentials`) and the provisioning task id"
)]
pub struct Service {
    pub id: i32,
    /// The order item it was bought by; `null` for a service an operator created by hand.
    pub order_item_id: Option<i32>,
    /// The customer who owns it.
    pub user_id: Option<i32>,
    #[schema(schema_with = super::service_type_schema)]
    pub service_type: String,
    pub status: ServiceStatus,
    pub hostname: Option<String>,
    pub ip_address: Option<String>,
    /// The login name on the server.
    pub username: Option<String>,
    #[serde(skip)]
    pub password_encrypted: Option<String>,
    /// The VM's id in the hosting system.
    pub server_id: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: Option<DateTime<Utc>>,
    /// RFC 3339, UTC.
    pub updated_at: Option<DateTime<Utc>>,
    /// When the current period began (RFC 3339, UTC).
    pub last_renewal_date: Option<DateTime<Utc>>,
    /// When the current period ends and renewal is due (RFC 3339, UTC).
    pub next_renewal_date: Option<DateTime<Utc>>,
    /// When it was terminated (RFC 3339, UTC).
    pub termination_date: Option<DateTime<Utc>>,
    /// Why provisioning failed (status `failed`).
    pub failure_reason: Option<String>,
    pub plan_id: Option<String>,
    pub location_id: Option<i32>,
    /// The backend that built it; `null` for a service provisioned by hand.
    pub backend_id: Option<i32>,
    /// Its VM id on that backend.
    pub vmid: Option<i32>,
    pub provisioning_step: ProvisioningStep,
    /// The Proxmox task being waited on, so a restarted worker polls it instead of acting again.
    #[serde(skip)]
    pub task_upid: Option<String>,
    /// The months one renewal period lasts.
    pub validity_months: Option<i32>,
    /// Why it is suspended (status `suspended`).
    pub suspended_reason: Option<String>,
    /// The operating system it runs (chosen at order or at the last reinstall); null when its
    /// plan offered no choice.
    #[serde(rename = "template_id")]
    pub os_template_id: Option<i32>,
    /// That system's name when it was chosen (`Ubuntu 24.04`).
    #[serde(rename = "template_name")]
    pub os_template_name: Option<String>,
    /// The SSH public keys it was built with, one per line.
    #[serde(skip)]
    pub ssh_keys: Option<String>,
}

/// What a new service records; every service starts `provisioning`.
#[derive(Clone, Debug)]
pub struct NewService<'a> {
    /// The order item it was bought by; `None` for a service an operator created by hand.
    pub order_item_id: Option<i32>,
    pub user_id: i32,
    /// `rdp` or `vps`.
    pub service_type: &'a str,
    pub plan_id: Option<&'a str>,
    pub location_id: Option<i32>,
    pub validity_months: Option<i32>,
}

/// The columns of [`Service`], for `concat!` into each statement.
macro_rules! service_columns {
    () => {
        "id, order_item_id, user_id, service_type, status, hostname, ip_address, username, \
         password_encrypted, server_id, created_at, updated_at, last_renewal_date, \
         next_renewal_date, termination_date, failure_reason, plan_id, location_id, \
         backend_id, vmid, provisioning_step, task_upid, validity_months, suspended_reason, \
         os_template_id, os_template_name, ssh_keys"
    };
}

/// Creates a service being provisioned.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewService<'_>) -> sqlx::Result<Service> {
    timed(
        "services.insert",
        sqlx::query_as(concat!(
            "insert into services (order_item_id, user_id, service_type, status, plan_id,
                                   location_id, validity_months)
             values ($1, $2, $3, 'provisioning', $4, $5, $6) returning ",
            service_columns!()
        ))
        .bind(new.order_item_id)
        .bind(new.user_id)
        .bind(new.service_type)
        .bind(new.plan_id)
        .bind(new.location_id)
        .bind(new.validity_months)
        .fetch_one(db),
    )
    .await
}

/// Records the operating system a service is built with and the SSH keys it accepts.
pub async fn set_system(
    db: impl PgExecutor<'_>,
    id: i32,
    os_template_id: Option<i32>,
    os_template_name: Option<&str>,
    ssh_keys: Option<&str>,
) -> sqlx::Result<()> {
    timed(
        "services.set_system",
        sqlx::query(
            "update services set os_template_id = $2, os_template_name = $3, ssh_keys = $4
             where id = $1",
        )
        .bind(id)
        .bind(os_template_id)
        .bind(os_template_name)
        .bind(ssh_keys)
        .execute(db),
    )
    .await?;
    Ok(())
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

/// Which services an operator's list shows: any of the given filters, all when `None`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServiceFilter<'a> {
    pub status: Option<ServiceStatus>,
    pub user_id: Option<i32>,
    pub location_id: Option<i32>,
    /// A service id, part of its hostname (through its trigram index), or the beginning of its
    /// IP address (a B-tree range).
    pub search: Option<&'a str>,
}

impl ServiceFilter<'_> {
    fn search_id(&self) -> Option<i32> {
        self.search.and_then(crate::db::search_number)
    }

    fn search_pattern(&self) -> Option<String> {
        self.search.map(crate::db::contains_pattern)
    }

    /// Addresses are stored lower-case (IPv6 hex digits included).
    fn address_prefix(&self) -> Option<String> {
        self.search
            .map(|s| crate::db::prefix_pattern(&s.trim().to_ascii_lowercase()))
    }
}

/// A page of every service for the operator, newest first, filtered.
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &ServiceFilter<'_>,
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
               and ($3::int is null or location_id = $3)
               and ($4::text is null or id = $5 or hostname ilike $6 or ip_address like $9)
             order by created_at desc, id desc
             limit $7 offset $8"
        ))
        // Optional filters: planned with the values (ARCHITECTURE.md, "A request").
        .persistent(false)
        .bind(filter.status)
        .bind(filter.user_id)
        .bind(filter.location_id)
        .bind(filter.search)
        .bind(filter.search_id())
        .bind(filter.search_pattern())
        .bind(limit)
        .bind(offset)
        .bind(filter.address_prefix())
        .fetch_all(db),
    )
    .await
}

/// How many services `list` would page through: exact up to 10,000, else estimated.
pub async fn count(db: &PgPool, filter: &ServiceFilter<'_>) -> sqlx::Result<Total> {
    let sql = crate::total_sql!(
        "services.count",
        "from services
         where ($1::text is null or status = $1) and ($2::int is null or user_id = $2)
           and ($3::int is null or location_id = $3)
           and ($4::text is null or id = $5 or hostname ilike $6 or ip_address like $7)"
    );
    total::count(db, sql, |query| {
        query
            .bind(filter.status)
            .bind(filter.user_id)
            .bind(filter.location_id)
            .bind(filter.search.map(str::to_owned))
            .bind(filter.search_id())
            .bind(filter.search_pattern())
            .bind(filter.address_prefix())
    })
    .await
}

/// Records where the provisioning step machine stands: the step done, the task waited on.
pub async fn set_step(
    db: impl PgExecutor<'_>,
    id: i32,
    step: ProvisioningStep,
    task_upid: Option<&str>,
) -> sqlx::Result<bool> {
    let done = timed(
        "services.set_step",
        sqlx::query("update services set provisioning_step = $2, task_upid = $3 where id = $1")
            .bind(id)
            .bind(step)
            .bind(task_upid)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the backend and VM id the service is built on (`None`s for a manual service).
pub async fn set_placement(
    db: impl PgExecutor<'_>,
    id: i32,
    backend_id: Option<i32>,
    vmid: Option<i32>,
) -> sqlx::Result<bool> {
    let done = timed(
        "services.set_placement",
        sqlx::query(
            "update services set backend_id = $2, vmid = $3,
                    server_id = case when $3::int is null then server_id else $3::text end
             where id = $1",
        )
        .bind(id)
        .bind(backend_id)
        .bind(vmid)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores a new sealed password.
pub async fn set_password(
    db: impl PgExecutor<'_>,
    id: i32,
    username: &str,
    password_encrypted: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "services.set_password",
        sqlx::query("update services set username = $2, password_encrypted = $3 where id = $1")
            .bind(id)
            .bind(username)
            .bind(password_encrypted)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records why a service is suspended (`None` clears it).
pub async fn set_suspended_reason(
    db: impl PgExecutor<'_>,
    id: i32,
    reason: Option<&str>,
) -> sqlx::Result<bool> {
    let done = timed(
        "services.set_suspended_reason",
        sqlx::query("update services set suspended_reason = $2 where id = $1")
            .bind(id)
            .bind(reason)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every sealed password, locked, for key rotation.
pub async fn list_sealed_passwords(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(i32, String)>> {
    timed(
        "services.list_sealed_passwords",
        sqlx::query_as(
            "select id, password_encrypted from services
             where password_encrypted is not null order by id for update",
        )
        .fetch_all(db),
    )
    .await
}

/// Moves the service from `from` to `to`, recording `failure_reason` (`None` clears it); false
/// (and nothing changed) when it is no longer in `from`. Terminating stamps `termination_date`.
pub(super) async fn set_status(
    db: impl PgExecutor<'_>,
    id: i32,
    from: ServiceStatus,
    to: ServiceStatus,
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

/// Active or suspended services due for renewal by `before`, soonest first, from just after
/// `after` (the due date and id of the last one of the previous batch; keyset paging over the
/// partial index of due dates, so each batch costs the same however many came before).
pub async fn list_due_for_renewal(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
    after: Option<(DateTime<Utc>, i32)>,
    limit: i64,
) -> sqlx::Result<Vec<Service>> {
    timed(
        "services.list_due_for_renewal",
        sqlx::query_as(concat!(
            "select ",
            service_columns!(),
            " from services
             where status in ('active', 'suspended') and next_renewal_date <= $1
               and ($2::timestamptz is null or (next_renewal_date, id) > ($2, $3))
             order by next_renewal_date, id
             limit $4"
        ))
        // Optional filters: planned with the values (ARCHITECTURE.md, "A request").
        .persistent(false)
        .bind(before)
        .bind(after.map(|(due, _)| due))
        .bind(after.map_or(0, |(_, id)| id))
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
