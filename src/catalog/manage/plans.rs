//! The operator's plan operations (`/admin/plans` and the back office's plan pages): list, find,
//! create, update, delete, each audited. The shapes (what the operator sends and sees) and the
//! body's checks are in `plan_draft`.

use std::collections::HashMap;

use sqlx::PgConnection;

use super::plan_draft::{AdminPlan, PlanDraft, PlanInput, plan_draft};
use super::{Actor, Store, audit_json, plural, referenced, write_audit};
use crate::catalog::plans::{self, Plan};
use crate::catalog::{categories, locations, plan_features};
use crate::error::{AppError, AppResult, ResultExt};

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
