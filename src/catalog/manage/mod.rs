//! The operator's catalog operations: categories, plans and locations created, changed and
//! deleted, each checked (every field at fault at once), audited in its transaction (an edit
//! that changes nothing writes nothing) and followed by the node's catalog cache being dropped
//! (other nodes hear the database's notification, see [`super::cache`]). Behind both the admin
//! API (`catalog::admin_api`) and the back office's pages (`catalog::admin_pages`).
//!
//! One file per concern: `input` holds the body fields and their rules shared by all three;
//! `categories`, `locations` and `plans` each hold their entity's shape, body, checks and
//! operations (`plan_draft` the plan's shapes and checks, the longest).

mod categories;
mod input;
mod locations;
mod plan_draft;
mod plans;

pub use categories::{
    AdminCategory, CategoryInput, create_category, delete_category, find_category, list_categories,
    update_category,
};
pub use input::Field;
pub use locations::{
    AdminLocation, LocationInput, create_location, delete_location, find_location, list_locations,
    update_location,
};
pub use plan_draft::{AdminPlan, MAX_FEATURE_CHARS, MAX_FEATURES, PlanInput};
pub use plans::{create_plan, delete_plan, find_plan, list_plans, update_plan};

use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

pub use crate::audit::Actor;
use crate::audit::{self, NewAuditEntry};
use crate::catalog::cache::CatalogCache;
use crate::error::{AppError, AppResult};

/// What the catalog's operations work on: the database and this node's catalog cache.
#[derive(Clone)]
pub struct Store {
    pub db: PgPool,
    pub catalog: CatalogCache,
}

fn audit_json(value: &impl Serialize) -> Value {
    let mut value = serde_json::to_value(value).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("created_at");
        object.remove("updated_at");
    }
    value
}

async fn write_audit(
    tx: &mut PgConnection,
    actor: Actor<'_>,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> AppResult<()> {
    audit::insert(
        tx,
        &NewAuditEntry {
            actor_user_id: Some(actor.user_id),
            action,
            entity_type,
            entity_id: Some(entity_id),
            before,
            after,
            ip_address: Some(actor.ip),
        },
    )
    .await?;
    Ok(())
}

/// A delete the database refused because something still refers to the row.
fn referenced(what: &'static str) -> impl FnOnce(sqlx::Error) -> AppError {
    move |err| match err {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23503") => AppError::conflict(
            "id",
            format!(
                "{what} is still referenced by {}; deactivate it instead",
                db.table().unwrap_or("other records")
            ),
        ),
        other => other.into(),
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A numeric id from the path; anything else names no row.
pub fn numeric_id(text: &str, what: &'static str) -> AppResult<i32> {
    text.parse().map_err(|_| AppError::NotFound(what))
}

/// A slug another row of the same table already uses.
fn slug_taken(what: &'static str) -> impl FnOnce(&dyn sqlx::error::DatabaseError) -> AppError {
    move |_| AppError::conflict("slug", format!("another {what} already uses this slug"))
}
