//! The plan list (`/admin/catalog/plans`): the plans grouped by category in the shop's order,
//! and its buttons that put a plan on or off sale and move it up or down within its category.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::{NoticeQuery, PLANS, actor, notice_of, see_other};
use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::catalog::manage::{self, AdminPlan, PlanInput};
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;
use crate::web::forms::Notice;
use crate::web::pages::{Layout, render};

/// A plan as a row of the list.
struct PlanRow {
    plan: AdminPlan,
    category: String,
    /// Whether it can move up / down within its category.
    first: bool,
    last: bool,
}

/// The plans of one category, in the order the shop shows them.
struct PlanGroup {
    name: String,
    rows: Vec<PlanRow>,
}

#[derive(Template)]
#[template(path = "admin/catalog/plans.html")]
struct PlanListPage {
    layout: Layout,
    notice: Option<Notice>,
    groups: Vec<PlanGroup>,
    total: usize,
}

/// The shop's order within a category: display order, price, id.
fn shop_order(a: &AdminPlan, b: &AdminPlan) -> std::cmp::Ordering {
    (a.display_order, a.price_pkr, &a.id).cmp(&(b.display_order, b.price_pkr, &b.id))
}

pub(super) async fn plan_list(
    State(state): State<AppState>,
    admin: PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let categories = manage::list_categories(&state.catalog_store()).await?;
    let mut plans = manage::list_plans(&state.catalog_store()).await?;
    plans.sort_by(shop_order);
    let total = plans.len();
    let mut by_category: HashMap<Option<i32>, Vec<AdminPlan>> = HashMap::new();
    for plan in plans {
        by_category.entry(plan.category_id).or_default().push(plan);
    }
    let mut sections: Vec<(String, Vec<AdminPlan>)> = categories
        .iter()
        .filter_map(|c| {
            by_category
                .remove(&Some(c.id))
                .map(|plans| (c.name.clone(), plans))
        })
        .collect();
    // Plans of no (or an unknown) category come last.
    let mut rest: Vec<AdminPlan> = by_category.into_values().flatten().collect();
    if !rest.is_empty() {
        rest.sort_by(shop_order);
        sections.push(("No category".to_owned(), rest));
    }
    let groups = sections
        .into_iter()
        .map(|(name, plans)| {
            let count = plans.len();
            PlanGroup {
                rows: plans
                    .into_iter()
                    .enumerate()
                    .map(|(i, plan)| PlanRow {
                        category: plan.category.clone().unwrap_or_default(),
                        first: i == 0,
                        last: i + 1 == count,
                        plan,
                    })
                    .collect(),
                name,
            }
        })
        .collect();
    render(&PlanListPage {
        layout: Layout::for_page("Plans", &admin.0.context),
        notice: notice_of(&query),
        groups,
        total,
    })
}

pub(super) async fn activate_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_plan_active(&state, &admin, &ip, &id, true).await
}

pub(super) async fn deactivate_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_plan_active(&state, &admin, &ip, &id, false).await
}

async fn set_plan_active(
    state: &AppState,
    admin: &PageAdmin,
    ip: &str,
    id: &str,
    active: bool,
) -> AppResult<Response> {
    let input = PlanInput {
        is_active: Some(Some(active)),
        ..PlanInput::default()
    };
    let plan = manage::update_plan(&state.catalog_store(), actor(admin, ip), id, input).await?;
    let code = if active {
        "plan-activated"
    } else {
        "plan-deactivated"
    };
    Ok(see_other(&format!(
        "{PLANS}?notice={code}#plan-{}",
        plan.id
    )))
}

pub(super) async fn move_plan_up(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    move_plan(&state, &admin, &ip, &id, true).await
}

pub(super) async fn move_plan_down(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    move_plan(&state, &admin, &ip, &id, false).await
}

/// The display orders that move `id` one place up (or down) among `plans` (its category's,
/// in shop order): the two swap their display orders; when orders are shared (so a swap would
/// change nothing) the whole category is numbered 1, 2, 3... in the new order. Only the
/// plans whose order changes are listed; empty when the plan is already first (last).
fn reorder(plans: &[&AdminPlan], id: &str, up: bool) -> Vec<(String, i32)> {
    let Some(at) = plans.iter().position(|p| p.id == id) else {
        return Vec::new();
    };
    let other = if up {
        at.checked_sub(1)
    } else {
        Some(at + 1).filter(|&next| next < plans.len())
    };
    let Some(other) = other else {
        return Vec::new();
    };
    let distinct = plans
        .windows(2)
        .all(|pair| pair[0].display_order < pair[1].display_order);
    if distinct {
        return vec![
            (plans[at].id.clone(), plans[other].display_order),
            (plans[other].id.clone(), plans[at].display_order),
        ];
    }
    let mut order: Vec<&AdminPlan> = plans.to_vec();
    order.swap(at, other);
    order
        .iter()
        .zip(1..)
        .filter(|(plan, position)| plan.display_order != *position)
        .map(|(plan, position)| (plan.id.clone(), position))
        .collect()
}

async fn move_plan(
    state: &AppState,
    admin: &PageAdmin,
    ip: &str,
    id: &str,
    up: bool,
) -> AppResult<Response> {
    let plans = manage::list_plans(&state.catalog_store()).await?;
    let plan = plans
        .iter()
        .find(|p| p.id == id)
        .ok_or(AppError::NotFound("plan"))?;
    let mut siblings: Vec<&AdminPlan> = plans
        .iter()
        .filter(|p| p.category_id == plan.category_id)
        .collect();
    siblings.sort_by(|a, b| shop_order(a, b));
    let changes = reorder(&siblings, id, up);
    if changes.is_empty() {
        return Ok(see_other(&format!("{PLANS}#plan-{id}")));
    }
    // Each change is one audited edit through the admin API.
    for (plan_id, order) in changes {
        let input = PlanInput {
            display_order: Some(Some(order)),
            ..PlanInput::default()
        };
        manage::update_plan(&state.catalog_store(), actor(admin, ip), &plan_id, input).await?;
    }
    Ok(see_other(&format!("{PLANS}?notice=plan-moved#plan-{id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(id: &str, display_order: i32, price_pkr: i32) -> AdminPlan {
        AdminPlan {
            id: id.to_owned(),
            category_id: Some(1),
            category: Some("rdp".to_owned()),
            name: id.to_owned(),
            description: None,
            cpu: "2 vCore".to_owned(),
            ram: "4 GB".to_owned(),
            storage: "40 GB".to_owned(),
            bandwidth: "1 TB".to_owned(),
            os: None,
            price_pkr,
            price_display: String::new(),
            theme_color: "sky".to_owned(),
            label: None,
            display_order,
            is_active: true,
            features: Vec::new(),
            location_ids: Vec::new(),
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn moving_swaps_distinct_orders() {
        let (a, b, c) = (
            plan("aaa", 1, 100),
            plan("bbb", 2, 100),
            plan("ccc", 5, 100),
        );
        let plans = [&a, &b, &c];
        assert_eq!(
            reorder(&plans, "ccc", true),
            [("ccc".to_owned(), 2), ("bbb".to_owned(), 5)]
        );
        assert_eq!(
            reorder(&plans, "aaa", false),
            [("aaa".to_owned(), 2), ("bbb".to_owned(), 1)]
        );
        assert!(reorder(&plans, "aaa", true).is_empty());
        assert!(reorder(&plans, "ccc", false).is_empty());
    }

    #[test]
    fn moving_among_shared_orders_numbers_the_category() {
        // Same display order: the shop orders them by price.
        let (a, b, c) = (
            plan("aaa", 0, 100),
            plan("bbb", 0, 200),
            plan("ccc", 0, 300),
        );
        let plans = [&a, &b, &c];
        assert_eq!(
            reorder(&plans, "ccc", true),
            [
                ("aaa".to_owned(), 1),
                ("ccc".to_owned(), 2),
                ("bbb".to_owned(), 3)
            ]
        );
    }
}
