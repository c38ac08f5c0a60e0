//! The audit log: who changed what.
//!
//! Repository of `audit_log`: one row per operator action, naming the actor, the entity
//! (`entity_type` + `entity_id`, e.g. `plan` / `rdp-starter-one`) and the entity as JSON before
//! and after the change. Rows are only ever added, never changed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;
use crate::db::total::{self, Total};

/// A row of `audit_log`.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_user_id: Option<i32>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
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

/// Which entries a page of the log shows; every field is optional.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// The operator who acted.
    pub actor: Option<i32>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// An action, or the start of one (`payment.` for every payment action).
    pub action: Option<String>,
    /// From this moment (inclusive) to that one (exclusive).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// The entries of one entity type, and of one entity when `id` is given.
    pub fn entity(entity_type: &str, id: Option<&str>) -> Self {
        Self {
            entity_type: Some(entity_type.to_owned()),
            entity_id: id.map(str::to_owned),
            ..Self::default()
        }
    }

    fn action_pattern(&self) -> Option<String> {
        self.action.as_deref().map(|action| {
            let escaped = action
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("{escaped}%")
        })
    }
}

/// The filter clause `list` and `count` share ($1 actor … $6 to).
macro_rules! audit_where {
    () => {
        " from audit_log
         where ($1::int is null or actor_user_id = $1)
           and ($2::text is null or entity_type = $2)
           and ($3::text is null or entity_id = $3)
           and ($4::text is null or action like $4)
           and ($5::timestamptz is null or created_at >= $5)
           and ($6::timestamptz is null or created_at < $6)"
    };
}

/// A page of the log, newest first, filtered: each filter is served by an index
/// (`audit_log_actor_idx`, `audit_log_entity_idx`, `audit_log_created_at_idx`), the newest
/// entries read first.
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AuditEntry>> {
    timed(
        "audit_log.list",
        sqlx::query_as(concat!(
            "select ",
            audit_columns!(),
            audit_where!(),
            " order by created_at desc, id desc limit $7 offset $8"
        ))
        // Optional filters: planned with the values (ARCHITECTURE.md, "A request").
        .persistent(false)
        .bind(filter.actor)
        .bind(filter.entity_type.as_deref())
        .bind(filter.entity_id.as_deref())
        .bind(filter.action_pattern())
        .bind(filter.from)
        .bind(filter.to)
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

/// How many entries `list` would page through: exact up to 10,000, else estimated.
pub async fn count(db: &sqlx::PgPool, filter: &AuditFilter) -> sqlx::Result<Total> {
    let sql = crate::total_sql!("audit_log.count", audit_where!());
    let pattern = filter.action_pattern();
    total::count(db, sql, |query| {
        query
            .bind(filter.actor)
            .bind(filter.entity_type.clone())
            .bind(filter.entity_id.clone())
            .bind(pattern.clone())
            .bind(filter.from)
            .bind(filter.to)
    })
    .await
}

/// One field an entry changed, its values as short text (`None`: absent on that side).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What an entry changed, field by field: the keys whose values differ between `before` and
/// `after` (objects), in key order; a value that is not an object is one field, `value`.
pub fn changes(
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Vec<Change> {
    use serde_json::Value;
    let text = |value: &Value| match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    };
    let fields = |value: Option<&Value>| -> std::collections::BTreeMap<String, Value> {
        match value {
            Some(Value::Object(map)) => map.clone().into_iter().collect(),
            Some(Value::Null) | None => Default::default(),
            Some(other) => [("value".to_owned(), other.clone())].into_iter().collect(),
        }
    };
    let (before, after) = (fields(before), fields(after));
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|key| before.get(*key) != after.get(*key))
        .map(|key| Change {
            field: key.clone(),
            before: before.get(key).map(text),
            after: after.get(key).map(text),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn changes_name_the_fields_that_moved() {
        let before = json!({ "price": 4500, "name": "Starter", "active": true });
        let after = json!({ "price": 5000, "name": "Starter", "note": "new" });
        assert_eq!(
            changes(Some(&before), Some(&after)),
            vec![
                Change {
                    field: "active".into(),
                    before: Some("true".into()),
                    after: None
                },
                Change {
                    field: "note".into(),
                    before: None,
                    after: Some("new".into())
                },
                Change {
                    field: "price".into(),
                    before: Some("4500".into()),
                    after: Some("5000".into())
                },
            ]
        );
        // A creation lists what was made; a scalar is one field.
        assert_eq!(changes(None, Some(&json!({ "a": 1 }))).len(), 1);
        assert_eq!(
            changes(Some(&json!("x")), Some(&json!("y")))[0].field,
            "value"
        );
    }

    #[test]
    fn an_action_filter_matches_its_start_literally() {
        let filter = AuditFilter {
            action: Some("user_x%".into()),
            ..Default::default()
        };
        assert_eq!(filter.action_pattern().unwrap(), "user\\_x\\%%");
    }
}
