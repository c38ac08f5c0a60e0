//! Plans in the operator API (`/admin/plans`): the shape the operator sees (with features and
//! locations), the body of POST and PATCH, the audited operations the admin pages share, and the
//! handlers. The body's checks are in `plan_draft`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::input::{Field, present};
use super::plan_draft::{PlanDraft, plan_draft};
use super::{Actor, Store, audit_json, plural, referenced, write_audit};
use crate::catalog::plans::{self, Plan};
use crate::catalog::{THEME_COLORS, categories, locations, plan_features};
use crate::error::{AppError, AppResult, ResultExt};
use crate::money::format_pkr;

/// A plan as the operator sees it, with its features and where it is sold.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AdminPlan {
    /// The plan's permanent id, `[a-z0-9-]` (`rdp-basic`); orders refer to it.
    pub id: String,
    pub category_id: Option<i32>,
    /// The category's slug.
    pub category: Option<String>,
    pub name: String,
    pub description: Option<String>,
    /// As shown to customers (`4 vCPU`).
    pub cpu: String,
    /// As shown to customers (`8 GB`).
    pub ram: String,
    /// As shown to customers (`100 GB NVMe`).
    pub storage: String,
    /// As shown to customers (`Unlimited`).
    pub bandwidth: String,
    pub os: Option<String>,
    /// The monthly price in whole PKR rupees.
    pub price_pkr: i32,
    /// The price as shown to customers (`Rs 2,500`).
    pub price_display: String,
    #[schema(schema_with = theme_color_schema)]
    pub theme_color: String,
    /// A badge on the plan's card (`Popular`).
    pub label: Option<String>,
    /// Plans are listed by this within their category, smallest first.
    pub display_order: i32,
    /// Whether it is on sale.
    pub is_active: bool,
    /// The card's feature lines, in order.
    pub features: Vec<String>,
    /// The ids of the locations it is sold in.
    pub location_ids: Vec<i32>,
    /// RFC 3339, UTC.
    pub created_at: Option<DateTime<Utc>>,
    /// RFC 3339, UTC.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The schema of a plan's `theme_color`: one of [`THEME_COLORS`].
fn theme_color_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(THEME_COLORS.iter().copied()))
        .description(Some("The colour of the plan's card"))
        .build()
}

impl AdminPlan {
    fn new(
        plan: Plan,
        category: Option<String>,
        features: Vec<String>,
        location_ids: Vec<i32>,
    ) -> Self {
        Self {
            price_display: format_pkr(plan.price_pkr),
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

/// The body of POST / PATCH `/admin/plans`. POST needs `id`, `category`, `name`, `cpu`, `ram`,
/// `storage`, `bandwidth` and `price_pkr`; PATCH takes any subset: an absent field keeps its
/// value, `null` (or blank) clears `description`, `os` and `label`. Text is trimmed. Unknown
/// fields are refused.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// Required on POST: 3 to 50 characters of `a-z`, `0-9` and `-`, no other plan's (409 if
    /// it is); `new`, `edit` and `delete` are reserved. On PATCH it may only repeat the plan's
    /// id (it never changes).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, pattern = "^[a-z0-9-]{3,50}$")]
    pub id: Field<String>,
    /// The slug of an existing category. Required on POST.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String)]
    pub category: Field<String>,
    /// Required on POST. At most 100 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub name: Field<String>,
    /// At most 2000 characters; `null` or blank clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Field<String>,
    /// Required on POST. At most 50 characters (`4 vCPU`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 50)]
    pub cpu: Field<String>,
    /// Required on POST. At most 50 characters (`8 GB`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 50)]
    pub ram: Field<String>,
    /// Required on POST. At most 100 characters (`100 GB NVMe`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub storage: Field<String>,
    /// Required on POST. At most 50 characters (`Unlimited`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 50)]
    pub bandwidth: Field<String>,
    /// At most 100 characters; `null` or blank clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub os: Field<String>,
    /// Required on POST. The monthly price in whole PKR rupees, 0 to 2,147,483,647 (read wide so
    /// an out-of-range number is a field error).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64, minimum = 0, maximum = 2147483647)]
    pub price_pkr: Field<i64>,
    /// The colour of the plan's card. Default `sky`.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = theme_color_schema)]
    pub theme_color: Field<String>,
    /// A badge on the plan's card, at most 50 characters; `null` or blank clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 50)]
    pub label: Field<String>,
    /// Plans are listed by this within their category, smallest first. Default 0.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i32)]
    pub display_order: Field<i32>,
    /// Whether it is on sale. Default `true`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub is_active: Field<bool>,
    /// The card's feature lines, in order, replacing the current ones: at most 30, each one
    /// non-blank line of at most 200 characters. Default none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Vec<String>, max_items = 30)]
    pub features: Field<Vec<String>>,
    /// The ids of existing locations it is sold in, replacing the current ones (repeats are
    /// dropped). Default none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Vec<i32>)]
    pub location_ids: Field<Vec<i32>>,
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

pub async fn list_plans(state: &Store) -> AppResult<Vec<AdminPlan>> {
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

pub async fn find_plan(state: &Store, id: &str) -> AppResult<AdminPlan> {
    let mut tx = state.db.begin().await?;
    let plan = plans::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("plan"))?;
    let plan = load_plan(&mut tx, plan).await?;
    tx.commit().await?;
    Ok(plan)
}

pub async fn create_plan(
    state: &Store,
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
    state: &Store,
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

pub async fn delete_plan(state: &Store, actor: Actor<'_>, id: &str) -> AppResult<()> {
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
}
