//! The audit log: who changed what.
//!
//! Repository of `audit_log`: one row per operator action, naming the actor, the entity
//! (`entity_type` + `entity_id`, e.g. `plan` / `rdp-starter-one`) and the entity as JSON before
//! and after the change. Rows are only ever added, never changed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `audit_log`.
#[derive(Clone, Debug, FromRow, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_user_id: Option<i32>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What an audit entry records. `before` is `None` for a creation, `after` for a deletion.
#[derive(Clone, Debug)]
pub struct NewAuditEntry<'a> {
    pub actor_user_id: Option<i32>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<&'a str>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub ip_address: Option<&'a str>,
}

/// Who does an audited operation: the operator's account and the address they act from. Every
/// verb an operator calls takes one and writes its audit row in its own transaction.
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    pub user_id: i32,
    pub ip: &'a str,
}

impl Actor<'_> {
    /// The audit row of this actor's `action` on `entity_type` `entity_id`.
    pub fn entry<'e>(
        &'e self,
        action: &'e str,
        entity_type: &'e str,
        entity_id: Option<&'e str>,
    ) -> NewAuditEntry<'e> {
        NewAuditEntry {
            actor_user_id: Some(self.user_id),
            action,
            entity_type,
            entity_id,
            before: None,
            after: None,
            ip_address: Some(self.ip),
        }
    }
}

/// The columns of [`AuditEntry`], for `concat!` into each statement.
macro_rules! audit_columns {
    () => {
        "id, actor_user_id, action, entity_type, entity_id, before, after, ip_address, created_at"
    };
}

/// Records one action.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewAuditEntry<'_>) -> sqlx::Result<AuditEntry> {
    timed(
        "audit_log.insert",
        sqlx::query_as(concat!(
            "insert into audit_log (actor_user_id, action, entity_type, entity_id, before, after,
                                    ip_address)
             values ($1, $2, $3, $4, $5, $6, $7) returning ",
            audit_columns!()
        ))
        .bind(new.actor_user_id)
        .bind(new.action)
        .bind(new.entity_type)
        .bind(new.entity_id)
        .bind(&new.before)
        .bind(&new.after)
        .bind(new.ip_address)
        .fetch_one(db),
    )
    .await
}

/// A page of the log, newest first, optionally of one entity type and one entity id.
pub async fn list(
    db: impl PgExecutor<'_>,
    entity_type: Option<&str>,
    entity_id: Option<&str>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AuditEntry>> {
    timed(
        "audit_log.list",
        sqlx::query_as(concat!(
            "select ",
            audit_columns!(),
            " from audit_log
             where ($1::text is null or entity_type = $1) and ($2::text is null or entity_id = $2)
             order by created_at desc, id desc
             limit $3 offset $4"
        ))
        // Optional filters: planned with the values (ARCHITECTURE.md, "A request").
        .persistent(false)
        .bind(entity_type)
        .bind(entity_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

/// How many entries `list` would page through.
pub async fn count(
    db: impl PgExecutor<'_>,
    entity_type: Option<&str>,
    entity_id: Option<&str>,
) -> sqlx::Result<i64> {
    timed(
        "audit_log.count",
        sqlx::query_scalar(
            "select count(*) from audit_log
             where ($1::text is null or entity_type = $1) and ($2::text is null or entity_id = $2)",
        )
        // Optional filters: planned with the values (ARCHITECTURE.md, "A request").
        .persistent(false)
        .bind(entity_type)
        .bind(entity_id)
        .fetch_one(db),
    )
    .await
}
