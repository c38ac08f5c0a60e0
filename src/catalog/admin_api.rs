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

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sqlx::PgConnection;

use super::categories::{self, Category, CategoryFields};
use super::locations::{self, Location, LocationFields};
use super::plans::{self, Plan, PlanFields};
use super::{THEME_COLORS, format_pkr, is_valid_slug, plan_features};
use crate::accounts::extract::ApiAdmin;
use crate::accounts::validation::FieldErrors;
use crate::app::AppState;
use crate::audit::{self, NewAuditEntry};
use crate::error::{AppError, AppResult, ResultExt};
use crate::web::extract::{AppJson, ClientIp};

/// At most this many features per plan, each at most `MAX_FEATURE_CHARS` long.
pub const MAX_FEATURES: usize = 30;
pub const MAX_FEATURE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/categories",
            get(list_categories_handler).post(create_category_handler),
        )
        .route(
            "/admin/categories/{id}",
            get(find_category_handler)
                .patch(update_category_handler)
                .delete(delete_category_handler),
        )
        .route(
            "/admin/plans",
            get(list_plans_handler).post(create_plan_handler),
        )
        .route(
            "/admin/plans/{id}",
            get(find_plan_handler)
                .patch(update_plan_handler)
                .delete(delete_plan_handler),
        )
        .route(
            "/admin/locations",
            get(list_locations_handler).post(create_location_handler),
        )
        .route(
            "/admin/locations/{id}",
            get(find_location_handler)
                .patch(update_location_handler)
                .delete(delete_location_handler),
        )
}

/// Who makes a change, for the audit log.
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    pub user_id: i32,
    pub ip: &'a str,
}

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

/// A category as the operator sees it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AdminCategory {
    pub id: i32,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub display_order: i32,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<Category> for AdminCategory {
    fn from(c: Category) -> Self {
        Self {
            id: c.id,
            slug: c.slug,
            name: c.name,
            description: c.description,
            display_order: c.display_order.unwrap_or(0),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A location as the operator sees it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AdminLocation {
    pub id: i32,
    pub slug: String,
    pub name: String,
    pub country_code: String,
    pub city: Option<String>,
    pub is_active: bool,
    pub display_order: i32,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<Location> for AdminLocation {
    fn from(l: Location) -> Self {
        Self {
            id: l.id,
            slug: l.slug,
            name: l.name,
            country_code: l.country_code,
            city: l.city,
            is_active: l.is_active.unwrap_or(true),
            display_order: l.display_order.unwrap_or(0),
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

/// A plan as the operator sees it, with its features and where it is sold.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AdminPlan {
    pub id: String,
    pub category_id: Option<i32>,
    /// The category's slug.
    pub category: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub cpu: String,
    pub ram: String,
    pub storage: String,
    pub bandwidth: String,
    pub os: Option<String>,
    pub price_pkr: i32,
    pub price_display: String,
    pub theme_color: String,
    pub label: Option<String>,
    pub display_order: i32,
    pub is_active: bool,
    pub features: Vec<String>,
    pub location_ids: Vec<i32>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl AdminPlan {
    fn new(
        plan: Plan,
        category: Option<String>,
        features: Vec<String>,
        location_ids: Vec<i32>,
    ) -> Self {
        Self {
            price_display: format_pkr(i64::from(plan.price_pkr)),
            is_active: plan.is_active(),
            theme_color: plan.theme_color.unwrap_or_else(|| "sky".to_owned()),
            id: plan.id,
            category_id: plan.category_id,
            category,
            name: plan.name,
            description: plan.description,
            cpu: plan.cpu,
            ram: plan.ram,
            storage: plan.storage,
            bandwidth: plan.bandwidth,
            os: plan.os,
            price_pkr: plan.price_pkr,
            label: plan.label,
            display_order: plan.display_order,
            features,
            location_ids,
            created_at: plan.created_at,
            updated_at: plan.updated_at,
        }
    }
}

#[derive(Serialize)]
struct Items<T> {
    items: Vec<T>,
}

/// A field of a request body: absent (`None`), `null` (`Some(None)`) or a value.
pub type Field<T> = Option<Option<T>>;

/// Tells an absent field from an explicit `null`.
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Field<T>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The body of POST / PATCH `/admin/categories`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    #[serde(default, deserialize_with = "present")]
    pub slug: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub name: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub description: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub display_order: Field<i32>,
}

/// The body of POST / PATCH `/admin/locations`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    #[serde(default, deserialize_with = "present")]
    pub slug: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub name: Field<String>,
    /// Two letters, stored in capitals (`PK`).
    #[serde(default, deserialize_with = "present")]
    pub country_code: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub city: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub is_active: Field<bool>,
    #[serde(default, deserialize_with = "present")]
    pub display_order: Field<i32>,
}

/// The body of POST / PATCH `/admin/plans`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// Required on POST; on PATCH it may only repeat the plan's id.
    #[serde(default, deserialize_with = "present")]
    pub id: Field<String>,
    /// The category's slug.
    #[serde(default, deserialize_with = "present")]
    pub category: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub name: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub description: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub cpu: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub ram: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub storage: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub bandwidth: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub os: Field<String>,
    /// Whole rupees, 0 to 2,147,483,647 (read wide so an out-of-range number is a field error).
    #[serde(default, deserialize_with = "present")]
    pub price_pkr: Field<i64>,
    #[serde(default, deserialize_with = "present")]
    pub theme_color: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub label: Field<String>,
    #[serde(default, deserialize_with = "present")]
    pub display_order: Field<i32>,
    #[serde(default, deserialize_with = "present")]
    pub is_active: Field<bool>,
    #[serde(default, deserialize_with = "present")]
    pub features: Field<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub location_ids: Field<Vec<i32>>,
}

// ---------------------------------------------------------------------------------------------
// Field rules: each takes the input and what the field is when absent (the current value on
// PATCH, the default on POST; `None` for a required field on POST).
// ---------------------------------------------------------------------------------------------

/// A required line of text: trimmed, non-blank, at most `max` characters, no control characters.
fn text(
    errors: &mut FieldErrors,
    field: &str,
    input: Field<String>,
    fallback: Option<&str>,
    max: usize,
) -> Option<String> {
    match input {
        None => match fallback {
            Some(current) => Some(current.to_owned()),
            None => {
                errors.add(field, "is required");
                None
            }
        },
        Some(None) => {
            errors.add(field, "is required");
            None
        }
        Some(Some(value)) => {
            let value = value.trim();
            if value.is_empty() {
                errors.add(field, "is required");
                None
            } else {
                check_length(errors, field, value, max).then(|| value.to_owned())
            }
        }
    }
}

/// An optional text: `null` or blank clears it.
fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    input: Field<String>,
    fallback: Option<&str>,
    max: usize,
) -> Option<Option<String>> {
    match input {
        None => Some(fallback.map(str::to_owned)),
        Some(None) => Some(None),
        Some(Some(value)) => {
            let value = value.trim();
            if value.is_empty() {
                Some(None)
            } else {
                check_length(errors, field, value, max).then(|| Some(value.to_owned()))
            }
        }
    }
}

fn check_length(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> bool {
    if value.chars().count() > max {
        errors.add(field, &format!("must be at most {max} characters"));
        false
    } else if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.add(field, "must not contain control characters");
        false
    } else {
        true
    }
}

/// A required value that is not text (a number, a flag).
fn value<T>(
    errors: &mut FieldErrors,
    field: &str,
    input: Field<T>,
    fallback: Option<T>,
) -> Option<T> {
    match input {
        None => {
            if fallback.is_none() {
                errors.add(field, "is required");
            }
            fallback
        }
        Some(None) => {
            errors.add(field, "must not be null");
            None
        }
        Some(Some(value)) => Some(value),
    }
}

/// Words the pages use as paths (`/admin/catalog/plans/new`), so no id may be one of them.
const RESERVED_SLUGS: &[&str] = &["new", "edit", "delete"];

/// A slug: `[a-z0-9-]`, 3 to 50 characters.
fn slug(
    errors: &mut FieldErrors,
    field: &str,
    input: Field<String>,
    fallback: Option<&str>,
) -> Option<String> {
    let value = text(errors, field, input, fallback, 50)?;
    if RESERVED_SLUGS.contains(&value.as_str()) {
        errors.add(field, "is a reserved word; choose another");
        None
    } else if is_valid_slug(&value) {
        Some(value)
    } else {
        errors.add(field, "must be 3 to 50 characters of a-z, 0-9 and -");
        None
    }
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

// ---------------------------------------------------------------------------------------------
// Categories
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct CategoryDraft {
    slug: String,
    name: String,
    description: Option<String>,
    display_order: i32,
}

impl CategoryDraft {
    fn fields(&self) -> CategoryFields<'_> {
        CategoryFields {
            name: &self.name,
            slug: &self.slug,
            description: self.description.as_deref(),
            display_order: self.display_order,
        }
    }

    fn of(current: &AdminCategory) -> Self {
        Self {
            slug: current.slug.clone(),
            name: current.name.clone(),
            description: current.description.clone(),
            display_order: current.display_order,
        }
    }
}

fn category_draft(
    input: CategoryInput,
    current: Option<&AdminCategory>,
) -> AppResult<CategoryDraft> {
    let mut errors = FieldErrors::default();
    let slug = slug(
        &mut errors,
        "slug",
        input.slug,
        current.map(|c| c.slug.as_str()),
    );
    let name = text(
        &mut errors,
        "name",
        input.name,
        current.map(|c| c.name.as_str()),
        50,
    );
    let description = optional_text(
        &mut errors,
        "description",
        input.description,
        current.and_then(|c| c.description.as_deref()),
        MAX_DESCRIPTION_CHARS,
    );
    let display_order = value(
        &mut errors,
        "display_order",
        input.display_order,
        Some(current.map_or(0, |c| c.display_order)),
    );
    match (slug, name, description, display_order) {
        (Some(slug), Some(name), Some(description), Some(display_order)) if errors.is_empty() => {
            Ok(CategoryDraft {
                slug,
                name,
                description,
                display_order,
            })
        }
        _ => Err(AppError::Validation(errors.0)),
    }
}

fn slug_taken(what: &'static str) -> impl FnOnce(&dyn sqlx::error::DatabaseError) -> AppError {
    move |_| AppError::conflict("slug", format!("another {what} already uses this slug"))
}

pub async fn list_categories(state: &AppState) -> AppResult<Vec<AdminCategory>> {
    Ok(categories::list(&state.db)
        .await?
        .into_iter()
        .map(AdminCategory::from)
        .collect())
}

pub async fn find_category(state: &AppState, id: i32) -> AppResult<AdminCategory> {
    Ok(categories::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("category"))?
        .into())
}

pub async fn create_category(
    state: &AppState,
    actor: Actor<'_>,
    input: CategoryInput,
) -> AppResult<AdminCategory> {
    let draft = category_draft(input, None)?;
    let mut tx = state.db.begin().await?;
    let created: AdminCategory = categories::insert(&mut *tx, &draft.fields())
        .await
        .on_constraint("product_categories_slug_key", slug_taken("category"))?
        .into();
    let id = created.id.to_string();
    write_audit(
        &mut tx,
        actor,
        "category.create",
        "category",
        &id,
        None,
        Some(audit_json(&created)),
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(created)
}

pub async fn update_category(
    state: &AppState,
    actor: Actor<'_>,
    id: i32,
    input: CategoryInput,
) -> AppResult<AdminCategory> {
    let mut tx = state.db.begin().await?;
    let before: AdminCategory = categories::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("category"))?
        .into();
    let draft = category_draft(input, Some(&before))?;
    if draft == CategoryDraft::of(&before) {
        return Ok(before);
    }
    let after: AdminCategory = categories::update(&mut *tx, id, &draft.fields())
        .await
        .on_constraint("product_categories_slug_key", slug_taken("category"))?
        .ok_or(AppError::NotFound("category"))?
        .into();
    write_audit(
        &mut tx,
        actor,
        "category.update",
        "category",
        &id.to_string(),
        Some(audit_json(&before)),
        Some(audit_json(&after)),
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(after)
}

pub async fn delete_category(state: &AppState, actor: Actor<'_>, id: i32) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let before: AdminCategory = categories::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("category"))?
        .into();
    let plans = categories::count_plans(&mut *tx, id).await?;
    if plans > 0 {
        return Err(AppError::conflict(
            "id",
            format!(
                "category has {}; move them to another category or delete them first",
                plural(plans, "plan", "plans")
            ),
        ));
    }
    categories::delete(&mut *tx, id)
        .await
        .map_err(referenced("category"))?;
    write_audit(
        &mut tx,
        actor,
        "category.delete",
        "category",
        &id.to_string(),
        Some(audit_json(&before)),
        None,
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct LocationDraft {
    slug: String,
    name: String,
    country_code: String,
    city: Option<String>,
    is_active: bool,
    display_order: i32,
}

impl LocationDraft {
    fn fields(&self) -> LocationFields<'_> {
        LocationFields {
            slug: &self.slug,
            name: &self.name,
            country_code: &self.country_code,
            city: self.city.as_deref(),
            is_active: self.is_active,
            display_order: self.display_order,
        }
    }

    fn of(current: &AdminLocation) -> Self {
        Self {
            slug: current.slug.clone(),
            name: current.name.clone(),
            country_code: current.country_code.clone(),
            city: current.city.clone(),
            is_active: current.is_active,
            display_order: current.display_order,
        }
    }
}

fn location_draft(
    input: LocationInput,
    current: Option<&AdminLocation>,
) -> AppResult<LocationDraft> {
    let mut errors = FieldErrors::default();
    let slug = slug(
        &mut errors,
        "slug",
        input.slug,
        current.map(|c| c.slug.as_str()),
    );
    let name = text(
        &mut errors,
        "name",
        input.name,
        current.map(|c| c.name.as_str()),
        100,
    );
    let country_code = text(
        &mut errors,
        "country_code",
        input.country_code,
        current.map(|c| c.country_code.as_str()),
        2,
    )
    .map(|code| code.to_ascii_uppercase())
    .filter(|code| {
        let ok = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
        if !ok {
            errors.add("country_code", "must be a two-letter country code like PK");
        }
        ok
    });
    let city = optional_text(
        &mut errors,
        "city",
        input.city,
        current.and_then(|c| c.city.as_deref()),
        100,
    );
    let is_active = value(
        &mut errors,
        "is_active",
        input.is_active,
        Some(current.is_none_or(|c| c.is_active)),
    );
    let display_order = value(
        &mut errors,
        "display_order",
        input.display_order,
        Some(current.map_or(0, |c| c.display_order)),
    );
    match (slug, name, country_code, city, is_active, display_order) {
        (
            Some(slug),
            Some(name),
            Some(country_code),
            Some(city),
            Some(is_active),
            Some(display_order),
        ) if errors.is_empty() => Ok(LocationDraft {
            slug,
            name,
            country_code,
            city,
            is_active,
            display_order,
        }),
        _ => Err(AppError::Validation(errors.0)),
    }
}

pub async fn list_locations(state: &AppState) -> AppResult<Vec<AdminLocation>> {
    Ok(locations::list(&state.db)
        .await?
        .into_iter()
        .map(AdminLocation::from)
        .collect())
}

pub async fn find_location(state: &AppState, id: i32) -> AppResult<AdminLocation> {
    Ok(locations::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("location"))?
        .into())
}

pub async fn create_location(
    state: &AppState,
    actor: Actor<'_>,
    input: LocationInput,
) -> AppResult<AdminLocation> {
    let draft = location_draft(input, None)?;
    let mut tx = state.db.begin().await?;
    let created: AdminLocation = locations::insert(&mut *tx, &draft.fields())
        .await
        .on_constraint("locations_slug_key", slug_taken("location"))?
        .into();
    let id = created.id.to_string();
    write_audit(
        &mut tx,
        actor,
        "location.create",
        "location",
        &id,
        None,
        Some(audit_json(&created)),
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(created)
}

pub async fn update_location(
    state: &AppState,
    actor: Actor<'_>,
    id: i32,
    input: LocationInput,
) -> AppResult<AdminLocation> {
    let mut tx = state.db.begin().await?;
    let before: AdminLocation = locations::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("location"))?
        .into();
    let draft = location_draft(input, Some(&before))?;
    if draft == LocationDraft::of(&before) {
        return Ok(before);
    }
    let after: AdminLocation = locations::update(&mut *tx, id, &draft.fields())
        .await
        .on_constraint("locations_slug_key", slug_taken("location"))?
        .ok_or(AppError::NotFound("location"))?
        .into();
    write_audit(
        &mut tx,
        actor,
        "location.update",
        "location",
        &id.to_string(),
        Some(audit_json(&before)),
        Some(audit_json(&after)),
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(after)
}

pub async fn delete_location(state: &AppState, actor: Actor<'_>, id: i32) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let before: AdminLocation = locations::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("location"))?
        .into();
    let orders = locations::count_orders(&mut *tx, id).await?;
    if orders > 0 {
        return Err(AppError::conflict(
            "id",
            format!(
                "location is referenced by {}; deactivate it instead",
                plural(orders, "order", "orders")
            ),
        ));
    }
    let plans = locations::count_plans(&mut *tx, id).await?;
    if plans > 0 {
        return Err(AppError::conflict(
            "id",
            format!(
                "location is sold by {}; take it off those plans or deactivate it instead",
                plural(plans, "plan", "plans")
            ),
        ));
    }
    locations::delete(&mut *tx, id)
        .await
        .map_err(referenced("location"))?;
    write_audit(
        &mut tx,
        actor,
        "location.delete",
        "location",
        &id.to_string(),
        Some(audit_json(&before)),
        None,
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Plans
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct PlanDraft {
    id: String,
    category_id: i32,
    name: String,
    description: Option<String>,
    cpu: String,
    ram: String,
    storage: String,
    bandwidth: String,
    os: Option<String>,
    price_pkr: i32,
    is_active: bool,
    theme_color: String,
    label: Option<String>,
    display_order: i32,
    features: Vec<String>,
    location_ids: Vec<i32>,
}

impl PlanDraft {
    fn fields(&self) -> PlanFields<'_> {
        PlanFields {
            id: &self.id,
            category_id: self.category_id,
            name: &self.name,
            description: self.description.as_deref(),
            cpu: &self.cpu,
            ram: &self.ram,
            storage: &self.storage,
            bandwidth: &self.bandwidth,
            os: self.os.as_deref(),
            price_pkr: self.price_pkr,
            is_active: self.is_active,
            theme_color: &self.theme_color,
            label: self.label.as_deref(),
            display_order: self.display_order,
        }
    }

    /// The draft of an unchanged plan (`None` if it has no category, which a PATCH must fix).
    fn of(current: &AdminPlan) -> Option<Self> {
        Some(Self {
            id: current.id.clone(),
            category_id: current.category_id?,
            name: current.name.clone(),
            description: current.description.clone(),
            cpu: current.cpu.clone(),
            ram: current.ram.clone(),
            storage: current.storage.clone(),
            bandwidth: current.bandwidth.clone(),
            os: current.os.clone(),
            price_pkr: current.price_pkr,
            is_active: current.is_active,
            theme_color: current.theme_color.clone(),
            label: current.label.clone(),
            display_order: current.display_order,
            features: current.features.clone(),
            location_ids: current.location_ids.clone(),
        })
    }
}

/// Checks a plan body against the rules and the database (category and locations exist),
/// reporting every field at fault at once.
async fn plan_draft(
    tx: &mut PgConnection,
    input: PlanInput,
    current: Option<&AdminPlan>,
) -> AppResult<PlanDraft> {
    let mut errors = FieldErrors::default();
    let id = match current {
        None => slug(&mut errors, "id", input.id, None),
        Some(current) => match input.id {
            Some(Some(id)) if id.trim() != current.id => {
                errors.add(
                    "id",
                    "cannot be changed (orders refer to it); create a new plan instead",
                );
                None
            }
            _ => Some(current.id.clone()),
        },
    };
    let category_id = match input.category {
        None => match current.and_then(|c| c.category_id) {
            Some(id) => Some(id),
            None => {
                errors.add("category", "is required");
                None
            }
        },
        Some(None) => {
            errors.add("category", "is required");
            None
        }
        Some(Some(text)) => {
            let text = text.trim();
            match categories::find_by_slug(&mut *tx, text).await? {
                Some(category) => Some(category.id),
                None => {
                    errors.add("category", &format!("no category has the slug {text:?}"));
                    None
                }
            }
        }
    };
    let name = text(
        &mut errors,
        "name",
        input.name,
        current.map(|c| c.name.as_str()),
        100,
    );
    let description = optional_text(
        &mut errors,
        "description",
        input.description,
        current.and_then(|c| c.description.as_deref()),
        MAX_DESCRIPTION_CHARS,
    );
    let cpu = text(
        &mut errors,
        "cpu",
        input.cpu,
        current.map(|c| c.cpu.as_str()),
        50,
    );
    let ram = text(
        &mut errors,
        "ram",
        input.ram,
        current.map(|c| c.ram.as_str()),
        50,
    );
    let storage = text(
        &mut errors,
        "storage",
        input.storage,
        current.map(|c| c.storage.as_str()),
        100,
    );
    let bandwidth = text(
        &mut errors,
        "bandwidth",
        input.bandwidth,
        current.map(|c| c.bandwidth.as_str()),
        50,
    );
    let os = optional_text(
        &mut errors,
        "os",
        input.os,
        current.and_then(|c| c.os.as_deref()),
        100,
    );
    let price_pkr = value(
        &mut errors,
        "price_pkr",
        input.price_pkr,
        current.map(|c| i64::from(c.price_pkr)),
    )
    .and_then(|price| match i32::try_from(price) {
        Ok(price) if price >= 0 => Some(price),
        _ => {
            errors.add(
                "price_pkr",
                "must be a whole number of rupees from 0 to 2147483647",
            );
            None
        }
    });
    let theme_color = text(
        &mut errors,
        "theme_color",
        input.theme_color,
        Some(current.map_or("sky", |c| c.theme_color.as_str())),
        20,
    )
    .filter(|color| {
        let known = THEME_COLORS.contains(&color.as_str());
        if !known {
            errors.add(
                "theme_color",
                &format!("must be one of {}", THEME_COLORS.join(", ")),
            );
        }
        known
    });
    let label = optional_text(
        &mut errors,
        "label",
        input.label,
        current.and_then(|c| c.label.as_deref()),
        50,
    );
    let display_order = value(
        &mut errors,
        "display_order",
        input.display_order,
        Some(current.map_or(0, |c| c.display_order)),
    );
    let is_active = value(
        &mut errors,
        "is_active",
        input.is_active,
        Some(current.is_none_or(|c| c.is_active)),
    );
    let features = match value(
        &mut errors,
        "features",
        input.features,
        Some(current.map_or_else(Vec::new, |c| c.features.clone())),
    ) {
        Some(list) => parse_features(&mut errors, list),
        None => None,
    };
    let location_ids = match value(
        &mut errors,
        "location_ids",
        input.location_ids,
        Some(current.map_or_else(Vec::new, |c| c.location_ids.clone())),
    ) {
        Some(ids) => {
            let mut seen = BTreeSet::new();
            let ids: Vec<i32> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
            let existing = locations::existing_ids(&mut *tx, &ids).await?;
            let unknown: Vec<String> = ids
                .iter()
                .filter(|id| !existing.contains(id))
                .map(ToString::to_string)
                .collect();
            if unknown.is_empty() {
                Some(ids)
            } else {
                errors.add(
                    "location_ids",
                    &format!("no location has the id {}", unknown.join(", ")),
                );
                None
            }
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    match (
        id,
        category_id,
        name,
        description,
        cpu,
        ram,
        storage,
        bandwidth,
        os,
        price_pkr,
        theme_color,
        label,
        display_order,
        is_active,
        features,
        location_ids,
    ) {
        (
            Some(id),
            Some(category_id),
            Some(name),
            Some(description),
            Some(cpu),
            Some(ram),
            Some(storage),
            Some(bandwidth),
            Some(os),
            Some(price_pkr),
            Some(theme_color),
            Some(label),
            Some(display_order),
            Some(is_active),
            Some(features),
            Some(location_ids),
        ) => Ok(PlanDraft {
            id,
            category_id,
            name,
            description,
            cpu,
            ram,
            storage,
            bandwidth,
            os,
            price_pkr,
            is_active,
            theme_color,
            label,
            display_order,
            features,
            location_ids,
        }),
        // Every `None` above recorded an error.
        _ => Err(AppError::Validation(errors.0)),
    }
}

fn parse_features(errors: &mut FieldErrors, list: Vec<String>) -> Option<Vec<String>> {
    if list.len() > MAX_FEATURES {
        errors.add(
            "features",
            &format!("must list at most {MAX_FEATURES} features"),
        );
        return None;
    }
    let mut features = Vec::with_capacity(list.len());
    for (i, feature) in list.iter().enumerate() {
        let feature = feature.trim();
        if feature.is_empty() {
            errors.add("features", &format!("feature {} is blank", i + 1));
            return None;
        }
        if feature.chars().count() > MAX_FEATURE_CHARS || feature.chars().any(char::is_control) {
            errors.add(
                "features",
                &format!(
                    "feature {} must be one line of at most {MAX_FEATURE_CHARS} characters",
                    i + 1
                ),
            );
            return None;
        }
        features.push(feature.to_owned());
    }
    Some(features)
}

/// One plan with its category slug, features and locations.
async fn load_plan(tx: &mut PgConnection, plan: Plan) -> AppResult<AdminPlan> {
    let category = match plan.category_id {
        Some(id) => categories::find(&mut *tx, id).await?.map(|c| c.slug),
        None => None,
    };
    let features = plan_features::list_for_plan(&mut *tx, &plan.id)
        .await?
        .into_iter()
        .map(|f| f.feature)
        .collect();
    let location_ids = locations::ids_for_plan(&mut *tx, &plan.id).await?;
    Ok(AdminPlan::new(plan, category, features, location_ids))
}

/// Writes a plan's features and locations, then reads the whole plan back.
async fn save_plan_details(
    tx: &mut PgConnection,
    draft: &PlanDraft,
    plan: Plan,
) -> AppResult<AdminPlan> {
    plan_features::replace_for_plan(&mut *tx, &draft.id, &draft.features).await?;
    locations::replace_for_plan(&mut *tx, &draft.id, &draft.location_ids).await?;
    load_plan(tx, plan).await
}

pub async fn list_plans(state: &AppState) -> AppResult<Vec<AdminPlan>> {
    let mut tx = state.db.begin().await?;
    let slugs: HashMap<i32, String> = categories::list(&mut *tx)
        .await?
        .into_iter()
        .map(|c| (c.id, c.slug))
        .collect();
    let rows = plans::list(&mut *tx).await?;
    let ids: Vec<String> = rows.iter().map(|p| p.id.clone()).collect();
    let mut features: HashMap<String, Vec<String>> = HashMap::new();
    for f in plan_features::list_for_plans(&mut *tx, &ids).await? {
        features
            .entry(f.plan_id.unwrap_or_default())
            .or_default()
            .push(f.feature);
    }
    let mut sold_in: HashMap<String, Vec<i32>> = HashMap::new();
    for (plan, location) in locations::list_plan_location_ids(&mut *tx).await? {
        sold_in.entry(plan).or_default().push(location);
    }
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|p| {
            let category = p.category_id.and_then(|id| slugs.get(&id).cloned());
            let features = features.remove(&p.id).unwrap_or_default();
            let location_ids = sold_in.remove(&p.id).unwrap_or_default();
            AdminPlan::new(p, category, features, location_ids)
        })
        .collect())
}

pub async fn find_plan(state: &AppState, id: &str) -> AppResult<AdminPlan> {
    let mut tx = state.db.begin().await?;
    let plan = plans::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("plan"))?;
    let plan = load_plan(&mut tx, plan).await?;
    tx.commit().await?;
    Ok(plan)
}

pub async fn create_plan(
    state: &AppState,
    actor: Actor<'_>,
    input: PlanInput,
) -> AppResult<AdminPlan> {
    let mut tx = state.db.begin().await?;
    let draft = plan_draft(&mut tx, input, None).await?;
    let plan = plans::insert(&mut *tx, &draft.fields())
        .await
        .on_constraint("plans_pkey", |_| {
            AppError::conflict("id", "a plan with this id already exists")
        })?;
    let created = save_plan_details(&mut tx, &draft, plan).await?;
    write_audit(
        &mut tx,
        actor,
        "plan.create",
        "plan",
        &created.id,
        None,
        Some(audit_json(&created)),
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(created)
}

pub async fn update_plan(
    state: &AppState,
    actor: Actor<'_>,
    id: &str,
    input: PlanInput,
) -> AppResult<AdminPlan> {
    let mut tx = state.db.begin().await?;
    let row = plans::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("plan"))?;
    let before = load_plan(&mut tx, row).await?;
    let draft = plan_draft(&mut tx, input, Some(&before)).await?;
    if PlanDraft::of(&before).as_ref() == Some(&draft) {
        return Ok(before);
    }
    let plan = plans::update(&mut *tx, &draft.fields())
        .await?
        .ok_or(AppError::NotFound("plan"))?;
    let after = save_plan_details(&mut tx, &draft, plan).await?;
    write_audit(
        &mut tx,
        actor,
        "plan.update",
        "plan",
        id,
        Some(audit_json(&before)),
        Some(audit_json(&after)),
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(after)
}

pub async fn delete_plan(state: &AppState, actor: Actor<'_>, id: &str) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let row = plans::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("plan"))?;
    let orders = plans::count_orders(&mut *tx, id).await?;
    if orders > 0 {
        return Err(AppError::conflict(
            "id",
            format!(
                "plan is referenced by {}; deactivate it instead",
                plural(orders, "order", "orders")
            ),
        ));
    }
    let before = load_plan(&mut tx, row).await?;
    plans::delete(&mut *tx, id)
        .await
        .map_err(referenced("plan"))?;
    write_audit(
        &mut tx,
        actor,
        "plan.delete",
        "plan",
        id,
        Some(audit_json(&before)),
        None,
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

fn actor<'a>(admin: &ApiAdmin, ip: &'a str) -> Actor<'a> {
    Actor {
        user_id: admin.0.user.id,
        ip,
    }
}

async fn list_categories_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: RawQuery,
) -> AppResult<impl IntoResponse> {
    super::api::parameters(query, &[])?;
    Ok(Json(Items {
        items: list_categories(&state).await?,
    }))
}

async fn find_category_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<String>,
) -> AppResult<Json<AdminCategory>> {
    Ok(Json(
        find_category(&state, numeric_id(&id, "category")?).await?,
    ))
}

async fn create_category_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<CategoryInput>,
) -> AppResult<impl IntoResponse> {
    let created = create_category(&state, actor(&admin, &ip), body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn update_category_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    AppJson(body): AppJson<CategoryInput>,
) -> AppResult<Json<AdminCategory>> {
    let id = numeric_id(&id, "category")?;
    Ok(Json(
        update_category(&state, actor(&admin, &ip), id, body).await?,
    ))
}

async fn delete_category_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    delete_category(&state, actor(&admin, &ip), numeric_id(&id, "category")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_locations_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: RawQuery,
) -> AppResult<impl IntoResponse> {
    super::api::parameters(query, &[])?;
    Ok(Json(Items {
        items: list_locations(&state).await?,
    }))
}

async fn find_location_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<String>,
) -> AppResult<Json<AdminLocation>> {
    Ok(Json(
        find_location(&state, numeric_id(&id, "location")?).await?,
    ))
}

async fn create_location_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<LocationInput>,
) -> AppResult<impl IntoResponse> {
    let created = create_location(&state, actor(&admin, &ip), body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn update_location_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    AppJson(body): AppJson<LocationInput>,
) -> AppResult<Json<AdminLocation>> {
    let id = numeric_id(&id, "location")?;
    Ok(Json(
        update_location(&state, actor(&admin, &ip), id, body).await?,
    ))
}

async fn delete_location_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    delete_location(&state, actor(&admin, &ip), numeric_id(&id, "location")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_plans_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: RawQuery,
) -> AppResult<impl IntoResponse> {
    super::api::parameters(query, &[])?;
    Ok(Json(Items {
        items: list_plans(&state).await?,
    }))
}

async fn find_plan_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<String>,
) -> AppResult<Json<AdminPlan>> {
    Ok(Json(find_plan(&state, &id).await?))
}

async fn create_plan_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<PlanInput>,
) -> AppResult<impl IntoResponse> {
    let created = create_plan(&state, actor(&admin, &ip), body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn update_plan_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    AppJson(body): AppJson<PlanInput>,
) -> AppResult<Json<AdminPlan>> {
    Ok(Json(
        update_plan(&state, actor(&admin, &ip), &id, body).await?,
    ))
}

async fn delete_plan_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    delete_plan(&state, actor(&admin, &ip), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn absent_null_and_values_are_told_apart() {
        let input: PlanInput =
            serde_json::from_value(json!({ "label": null, "name": "RDP Pro" })).unwrap();
        assert_eq!(input.label, Some(None));
        assert_eq!(input.name, Some(Some("RDP Pro".to_owned())));
        assert_eq!(input.os, None);
    }

    #[test]
    fn a_category_body_reports_every_field_at_once() {
        let input: CategoryInput = serde_json::from_value(
            json!({ "slug": "No Good", "name": " ", "display_order": null }),
        )
        .unwrap();
        let Err(AppError::Validation(errors)) = category_draft(input, None) else {
            panic!("accepted")
        };
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["display_order", "name", "slug"]
        );
    }

    #[test]
    fn country_codes_are_two_letters_stored_in_capitals() {
        let input: LocationInput = serde_json::from_value(
            json!({ "slug": "pk-karachi", "name": "Karachi", "country_code": "pk" }),
        )
        .unwrap();
        assert_eq!(location_draft(input, None).unwrap().country_code, "PK");
        let input: LocationInput = serde_json::from_value(
            json!({ "slug": "pk-karachi", "name": "Karachi", "country_code": "P1" }),
        )
        .unwrap();
        let Err(AppError::Validation(errors)) = location_draft(input, None) else {
            panic!("accepted")
        };
        assert!(errors.contains_key("country_code"));
    }

    #[test]
    fn features_are_trimmed_and_bounded() {
        let mut errors = FieldErrors::default();
        assert_eq!(
            parse_features(&mut errors, vec![" NVMe ".into()]),
            Some(vec!["NVMe".to_owned()])
        );
        assert_eq!(
            parse_features(&mut errors, vec!["ok".into(), "".into()]),
            None
        );
        assert_eq!(errors.get("features"), Some("feature 2 is blank"));
    }
}
