//! The operator's catalog API: `/api/v1/admin/categories`, `/api/v1/admin/plans` and
//! `/api/v1/admin/locations`, each with GET (list, everything including inactive rows), POST
//! (create), and GET / PATCH / DELETE on `/{id}`. Operators only ([`ApiAdmin`]: anonymous → 401,
//! customer → 403).
//!
//! * **Bodies.** POST and PATCH take the same JSON object; POST needs the required fields, PATCH
//!   any subset (an absent field keeps its value, `null` clears an optional one). Unknown fields
//!   are refused. A plan names its category by **slug** (`"category": "rdp"`), as the catalog
//!   file and `GET /api/v1/plans?category=` do; its `features` (ordered strings) and
//!   `location_ids` (where it is sold) are replaced wholesale when given. A plan's `id` never
//!   changes (orders refer to it).
//! * **Validation** reports every field at fault at once (422, `errors` by field), including an
//!   unknown `category` or `location_ids`. A taken plan id or slug is a 409 naming the field.
//! * **Deleting** what orders (or, for a category, plans; for a location, plans selling it)
//!   refer to is a 409 saying why and what to do instead: deactivate. Deactivating a plan or a
//!   location takes it off sale and never touches existing orders or services.
//! * **Audit.** Every change writes one `audit_log` row (actor, `plan.update`-style action,
//!   entity, before/after JSON, client IP) in the transaction of the change; an edit that
//!   changes nothing writes nothing.
//! * **Cache.** After each commit the node's catalog cache is invalidated at once; other nodes
//!   hear it through the database's notification (see [`super::cache`]).
//!
//! The `create_*` / `update_*` / `delete_*` functions are the operations themselves, for the
//! admin pages to share.
//!
//! One file per concern: `input` holds the body fields and their rules shared by all three;
//! `categories`, `locations` and `plans` each hold their entity's shape, body, checks,
//! operations and handlers (`plan_draft` the plan's checks, the longest). This file holds the
//! router and what every entity's operations share: the actor, the audit row, the refusals.

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
pub use plan_draft::{MAX_FEATURE_CHARS, MAX_FEATURES};
pub use plans::{
    AdminPlan, PlanInput, create_plan, delete_plan, find_plan, list_plans, update_plan,
};

use axum::extract::Query;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::audit::{self, NewAuditEntry};
use crate::error::{AppError, AppResult};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            categories::list_categories_handler,
            categories::create_category_handler
        ))
        .routes(routes!(
            categories::find_category_handler,
            categories::update_category_handler,
            categories::delete_category_handler
        ))
        .routes(routes!(
            plans::list_plans_handler,
            plans::create_plan_handler
        ))
        .routes(routes!(
            plans::find_plan_handler,
            plans::update_plan_handler,
            plans::delete_plan_handler
        ))
        .routes(routes!(
            locations::list_locations_handler,
            locations::create_location_handler
        ))
        .routes(routes!(
            locations::find_location_handler,
            locations::update_location_handler,
            locations::delete_location_handler
        ))
}

/// Who makes a change, for the audit log.
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    pub user_id: i32,
    pub ip: &'a str,
}

/// A list answer: `{"items": [...]}`.
#[derive(Serialize, utoipa::ToSchema)]
struct Items<T> {
    items: Vec<T>,
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
fn numeric_id(text: &str, what: &'static str) -> AppResult<i32> {
    text.parse().map_err(|_| AppError::NotFound(what))
}

type RawQuery = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// A slug another row of the same table already uses.
fn slug_taken(what: &'static str) -> impl FnOnce(&dyn sqlx::error::DatabaseError) -> AppError {
    move |_| AppError::conflict("slug", format!("another {what} already uses this slug"))
}

/// The operator making a change through the API, for the audit log.
fn actor<'a>(admin: &ApiAdmin, ip: &'a str) -> Actor<'a> {
    Actor {
        user_id: admin.0.user.id,
        ip,
    }
}
