//! The operator's catalog pages under `/admin/catalog`: an overview, and for plans, categories
//! and locations a list, a "new" form and an edit form with a Delete button. Plans can be put on
//! and off sale and moved up or down within their category from the list; locations opened and
//! closed.
//!
//! Every change goes through the admin API's operations ([`admin_api`]): the same validation,
//! the same audit rows, the same cache invalidation. A form that fails comes back with each
//! problem beside its field and the input kept; a delete the API refuses (orders refer to the
//! row) shows its reason. After a change the browser is sent back (303) with a `?notice=` code
//! that picks a fixed text.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::THEME_COLORS;
use super::admin_api::{
    self, Actor, AdminCategory, AdminLocation, AdminPlan, CategoryInput, LocationInput, PlanInput,
};
use crate::accounts::extract::PageAdmin;
use crate::accounts::pages::{Notice, notice, render_with};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;
use crate::web::pages::{Layout, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/catalog", get(overview))
        .route("/admin/catalog/plans", get(plan_list).post(create_plan))
        .route("/admin/catalog/plans/new", get(new_plan))
        .route(
            "/admin/catalog/plans/{id}",
            get(edit_plan).post(update_plan),
        )
        .route("/admin/catalog/plans/{id}/delete", post(delete_plan))
        .route("/admin/catalog/plans/{id}/activate", post(activate_plan))
        .route(
            "/admin/catalog/plans/{id}/deactivate",
            post(deactivate_plan),
        )
        .route("/admin/catalog/plans/{id}/move-up", post(move_plan_up))
        .route("/admin/catalog/plans/{id}/move-down", post(move_plan_down))
        .route(
            "/admin/catalog/categories",
            get(category_list).post(create_category),
        )
        .route("/admin/catalog/categories/new", get(new_category))
        .route(
            "/admin/catalog/categories/{id}",
            get(edit_category).post(update_category),
        )
        .route(
            "/admin/catalog/categories/{id}/delete",
            post(delete_category),
        )
        .route(
            "/admin/catalog/locations",
            get(location_list).post(create_location),
        )
        .route("/admin/catalog/locations/new", get(new_location))
        .route(
            "/admin/catalog/locations/{id}",
            get(edit_location).post(update_location),
        )
        .route(
            "/admin/catalog/locations/{id}/delete",
            post(delete_location),
        )
        .route(
            "/admin/catalog/locations/{id}/activate",
            post(activate_location),
        )
        .route(
            "/admin/catalog/locations/{id}/deactivate",
            post(deactivate_location),
        )
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

const PLANS: &str = "/admin/catalog/plans";
const CATEGORIES: &str = "/admin/catalog/categories";
const LOCATIONS: &str = "/admin/catalog/locations";

/// The fixed texts a `?notice=` code picks (code, kind, text).
const NOTICES: &[(&str, &str, &str)] = &[
    ("plan-created", "success", "The plan is created."),
    ("plan-saved", "success", "The plan is saved."),
    ("plan-deleted", "success", "The plan is deleted."),
    ("plan-activated", "success", "The plan is on sale again."),
    (
        "plan-deactivated",
        "success",
        "The plan is off sale. Existing orders and services are not affected.",
    ),
    ("plan-moved", "success", "The plan is moved."),
    ("category-created", "success", "The category is created."),
    ("category-saved", "success", "The category is saved."),
    ("category-deleted", "success", "The category is deleted."),
    ("location-created", "success", "The location is created."),
    ("location-saved", "success", "The location is saved."),
    ("location-deleted", "success", "The location is deleted."),
    (
        "location-activated",
        "success",
        "The location is open for sale again.",
    ),
    (
        "location-deactivated",
        "success",
        "The location is closed: no plan is sold there. Existing orders and services are not affected.",
    ),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
}

fn notice_of(query: &NoticeQuery) -> Option<Notice> {
    notice(query.notice.as_deref(), NOTICES)
}

fn see_other(target: &str) -> Response {
    Redirect::to(target).into_response()
}

fn actor<'a>(admin: &PageAdmin, ip: &'a str) -> Actor<'a> {
    Actor {
        user_id: admin.0.user.id,
        ip,
    }
}

/// A numeric id from the path; anything else names no row.
fn numeric_id(text: &str, what: &'static str) -> AppResult<i32> {
    text.parse().map_err(|_| AppError::NotFound(what))
}

/// The problems of a submitted form, by field, as sentences shown beside each field.
#[derive(Debug, Default)]
pub struct FieldMessages(BTreeMap<String, String>);

impl FieldMessages {
    /// The problem of `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records a problem of a field (the first one found stays).
    fn add(&mut self, field: &str, label: &str, problem: &str) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| sentence(label, problem));
    }
}

/// "is required" about "Name" → "Name is required."; a message that names its own subject
/// ("no category has the slug …") is only capitalised.
fn sentence(label: &str, problem: &str) -> String {
    let problem = problem.trim().trim_end_matches('.');
    // The API's word for a blank number field.
    let problem = if problem == "must not be null" {
        "is required"
    } else {
        problem
    };
    let text = if problem.starts_with("is ") || problem.starts_with("must ") {
        format!("{label} {problem}")
    } else {
        let mut chars = problem.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => label.to_owned(),
        }
    };
    format!("{text}.")
}

/// Why a form was refused: its status, the problems by field, and a problem of the whole form.
struct Refusal {
    status: StatusCode,
    errors: FieldMessages,
    alert: Option<String>,
}

impl Refusal {
    /// A refusal by the form's own checks (422).
    fn local(errors: FieldMessages) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            alert: None,
        }
    }

    /// Sorts the admin API's refusal onto the form whose fields are `labels`, after the
    /// form's own findings in `errors`; anything not about the input stays an error.
    fn from_api(
        err: AppError,
        labels: &[(&str, &str)],
        mut errors: FieldMessages,
    ) -> AppResult<Self> {
        let status = err.status();
        let problems: Vec<(String, String)> = match err {
            AppError::Validation(problems) => problems.into_iter().collect(),
            AppError::Conflict {
                detail,
                field: Some(field),
            } => vec![(field, detail)],
            other => return Err(other),
        };
        let mut alert = None;
        for (field, problem) in problems {
            match labels.iter().find(|(name, _)| *name == field) {
                Some((name, label)) => errors.add(name, label, &problem),
                None => alert = Some(sentence(&field, &problem)),
            }
        }
        Ok(Self {
            status,
            errors,
            alert,
        })
    }

    /// A delete the API refused (409: orders or plans refer to the row), with its reason.
    fn from_delete(err: AppError) -> AppResult<Self> {
        match err {
            AppError::Conflict { detail, .. } => Ok(Self {
                status: StatusCode::CONFLICT,
                errors: FieldMessages::default(),
                alert: Some(format!("Not deleted: {}.", detail.trim_end_matches('.'))),
            }),
            other => Err(other),
        }
    }
}

/// The value of a form field (the last one sent); empty when absent.
fn value_of(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
        .unwrap_or_default()
}

fn is_checked(pairs: &[(String, String)], name: &str) -> bool {
    pairs.iter().any(|(key, _)| key == name)
}

/// A text field for the API: blank means "no value" (an optional field is cleared, a required
/// one is reported missing).
fn text(value: &str) -> Option<Option<String>> {
    if value.trim().is_empty() {
        Some(None)
    } else {
        Some(Some(value.to_owned()))
    }
}

/// A display order: blank is 0.
fn display_order(value: &str, label: &str, errors: &mut FieldMessages) -> Option<Option<i32>> {
    let value = value.trim();
    if value.is_empty() {
        return Some(Some(0));
    }
    match value.parse::<i32>() {
        Ok(order) => Some(Some(order)),
        Err(_) => {
            errors.add(
                "display_order",
                label,
                "must be a whole number like 1, 2 or 10",
            );
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Overview

#[derive(Template)]
#[template(path = "admin/catalog/overview.html")]
struct OverviewPage {
    layout: Layout,
    plans: usize,
    plans_on_sale: usize,
    categories: usize,
    locations: usize,
    locations_open: usize,
}

async fn overview(State(state): State<AppState>, admin: PageAdmin) -> AppResult<Response> {
    let plans = admin_api::list_plans(&state).await?;
    let categories = admin_api::list_categories(&state).await?;
    let locations = admin_api::list_locations(&state).await?;
    render(&OverviewPage {
        layout: Layout::for_page("Catalog", &admin.0.context),
        plans: plans.len(),
        plans_on_sale: plans.iter().filter(|p| p.is_active).count(),
        categories: categories.len(),
        locations: locations.len(),
        locations_open: locations.iter().filter(|l| l.is_active).count(),
    })
}

// ---------------------------------------------------------------------------------------------
// Plans

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

async fn plan_list(
    State(state): State<AppState>,
    admin: PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let categories = admin_api::list_categories(&state).await?;
    let mut plans = admin_api::list_plans(&state).await?;
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

const PLAN_FIELDS: &[(&str, &str)] = &[
    ("id", "Plan ID"),
    ("category", "Category"),
    ("name", "Name"),
    ("description", "Description"),
    ("cpu", "CPU"),
    ("ram", "Memory"),
    ("storage", "Storage"),
    ("bandwidth", "Bandwidth"),
    ("os", "Operating system"),
    ("price_pkr", "Monthly price"),
    ("theme_color", "Theme colour"),
    ("label", "Label"),
    ("display_order", "Display order"),
    ("is_active", "On sale"),
    ("features", "Features"),
    ("location_ids", "Locations"),
];

fn plan_label(field: &str) -> &'static str {
    PLAN_FIELDS
        .iter()
        .find(|(name, _)| *name == field)
        .map_or("Field", |(_, label)| label)
}

/// The plan form's fields as typed.
#[derive(Clone, Debug, Default)]
struct PlanForm {
    id: String,
    category: String,
    name: String,
    description: String,
    cpu: String,
    ram: String,
    storage: String,
    bandwidth: String,
    os: String,
    price_pkr: String,
    theme_color: String,
    label: String,
    display_order: String,
    is_active: bool,
    /// One per line.
    features: String,
    location_ids: Vec<String>,
}

impl PlanForm {
    fn blank() -> Self {
        Self {
            theme_color: "sky".to_owned(),
            display_order: "0".to_owned(),
            is_active: true,
            ..Self::default()
        }
    }

    fn of(plan: &AdminPlan) -> Self {
        Self {
            id: plan.id.clone(),
            category: plan.category.clone().unwrap_or_default(),
            name: plan.name.clone(),
            description: plan.description.clone().unwrap_or_default(),
            cpu: plan.cpu.clone(),
            ram: plan.ram.clone(),
            storage: plan.storage.clone(),
            bandwidth: plan.bandwidth.clone(),
            os: plan.os.clone().unwrap_or_default(),
            price_pkr: plan.price_pkr.to_string(),
            theme_color: plan.theme_color.clone(),
            label: plan.label.clone().unwrap_or_default(),
            display_order: plan.display_order.to_string(),
            is_active: plan.is_active,
            features: plan.features.join("\n"),
            location_ids: plan.location_ids.iter().map(ToString::to_string).collect(),
        }
    }

    fn from_pairs(pairs: &[(String, String)]) -> Self {
        Self {
            id: value_of(pairs, "id"),
            category: value_of(pairs, "category"),
            name: value_of(pairs, "name"),
            description: value_of(pairs, "description"),
            cpu: value_of(pairs, "cpu"),
            ram: value_of(pairs, "ram"),
            storage: value_of(pairs, "storage"),
            bandwidth: value_of(pairs, "bandwidth"),
            os: value_of(pairs, "os"),
            price_pkr: value_of(pairs, "price_pkr"),
            theme_color: value_of(pairs, "theme_color"),
            label: value_of(pairs, "label"),
            display_order: value_of(pairs, "display_order"),
            is_active: is_checked(pairs, "is_active"),
            features: value_of(pairs, "features"),
            location_ids: pairs
                .iter()
                .filter(|(key, _)| key == "location_ids")
                .map(|(_, value)| value.clone())
                .collect(),
        }
    }

    fn sells_in(&self, location_id: &i32) -> bool {
        let id = location_id.to_string();
        self.location_ids.contains(&id)
    }

    /// The admin API's body for this form: every field, so an edit replaces the plan whole.
    /// Problems the API cannot see (a price that is not a number) go to `errors`; `None` when
    /// the form must not be sent at all.
    fn input(&self, creating: bool, errors: &mut FieldMessages) -> Option<PlanInput> {
        let price = self.price_pkr.trim();
        let price_pkr = if price.is_empty() {
            Some(None)
        } else {
            match parse_rupees(price) {
                Some(amount) => Some(Some(amount)),
                None => {
                    errors.add(
                        "price_pkr",
                        plan_label("price_pkr"),
                        "must be a whole number of rupees, like 2500",
                    );
                    // Out of range, so the API refuses the form too (and reports the rest).
                    Some(Some(-1))
                }
            }
        };
        let display_order = display_order(&self.display_order, plan_label("display_order"), errors);
        let mut location_ids = Vec::with_capacity(self.location_ids.len());
        for id in &self.location_ids {
            match id.trim().parse::<i32>() {
                Ok(id) => location_ids.push(id),
                Err(_) => {
                    errors.add(
                        "location_ids",
                        plan_label("location_ids"),
                        "must be chosen from the list",
                    );
                    return None;
                }
            }
        }
        let features = self
            .features
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        Some(PlanInput {
            id: creating.then(|| Some(self.id.trim().to_owned())),
            category: text(&self.category),
            name: text(&self.name),
            description: text(&self.description),
            cpu: text(&self.cpu),
            ram: text(&self.ram),
            storage: text(&self.storage),
            bandwidth: text(&self.bandwidth),
            os: text(&self.os),
            price_pkr,
            theme_color: text(&self.theme_color),
            label: text(&self.label),
            display_order: Some(display_order?),
            is_active: Some(Some(self.is_active)),
            features: Some(Some(features)),
            location_ids: Some(Some(location_ids)),
        })
    }
}

/// Rupees as an operator may type them: `2500`, `2,500`, `Rs 2,500`.
fn parse_rupees(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text
        .strip_prefix("Rs.")
        .or_else(|| text.strip_prefix("Rs"))
        .or_else(|| text.strip_prefix("rs"))
        .unwrap_or(text);
    let digits: String = text
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    digits.parse().ok()
}

#[derive(Template)]
#[template(path = "admin/catalog/plan_form.html")]
struct PlanFormPage {
    layout: Layout,
    /// `None` while creating.
    plan_id: Option<String>,
    form: PlanForm,
    errors: FieldMessages,
    alert: Option<String>,
    categories: Vec<AdminCategory>,
    locations: Vec<AdminLocation>,
    theme_colors: &'static [&'static str],
}

async fn plan_form_page(
    state: &AppState,
    admin: &PageAdmin,
    plan_id: Option<String>,
    form: PlanForm,
    refusal: Option<Refusal>,
) -> AppResult<Response> {
    let (status, errors, alert) = match refusal {
        Some(r) => (r.status, r.errors, r.alert),
        None => (StatusCode::OK, FieldMessages::default(), None),
    };
    let title = match &plan_id {
        Some(id) => format!("Edit plan {id}"),
        None => "New plan".to_owned(),
    };
    render_with(
        status,
        &PlanFormPage {
            layout: Layout::for_page(title, &admin.0.context),
            plan_id,
            form,
            errors,
            alert,
            categories: admin_api::list_categories(state).await?,
            locations: admin_api::list_locations(state).await?,
            theme_colors: THEME_COLORS,
        },
    )
}

async fn new_plan(State(state): State<AppState>, admin: PageAdmin) -> AppResult<Response> {
    let mut form = PlanForm::blank();
    if let Some(first) = admin_api::list_categories(&state).await?.first() {
        form.category = first.slug.clone();
    }
    plan_form_page(&state, &admin, None, form, None).await
}

async fn create_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = PlanForm::from_pairs(&pairs);
    let mut errors = FieldMessages::default();
    let Some(input) = form.input(true, &mut errors) else {
        return plan_form_page(&state, &admin, None, form, Some(Refusal::local(errors))).await;
    };
    // A price the form could not read went out as -1, which the API refuses: it reports the
    // form's other problems and writes nothing.
    match admin_api::create_plan(&state, actor(&admin, &ip), input).await {
        Ok(_) => Ok(see_other(&format!("{PLANS}?notice=plan-created"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, PLAN_FIELDS, errors)?;
            plan_form_page(&state, &admin, None, form, Some(refusal)).await
        }
    }
}

async fn edit_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let plan = admin_api::find_plan(&state, &id).await?;
    plan_form_page(
        &state,
        &admin,
        Some(plan.id.clone()),
        PlanForm::of(&plan),
        None,
    )
    .await
}

async fn update_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let current = admin_api::find_plan(&state, &id).await?;
    let mut form = PlanForm::from_pairs(&pairs);
    form.id.clone_from(&current.id);
    let mut errors = FieldMessages::default();
    let Some(input) = form.input(false, &mut errors) else {
        return plan_form_page(&state, &admin, Some(id), form, Some(Refusal::local(errors))).await;
    };
    match admin_api::update_plan(&state, actor(&admin, &ip), &id, input).await {
        Ok(_) => Ok(see_other(&format!("{PLANS}?notice=plan-saved"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, PLAN_FIELDS, errors)?;
            plan_form_page(&state, &admin, Some(id), form, Some(refusal)).await
        }
    }
}

async fn delete_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    match admin_api::delete_plan(&state, actor(&admin, &ip), &id).await {
        Ok(()) => Ok(see_other(&format!("{PLANS}?notice=plan-deleted"))),
        Err(err) => {
            let refusal = Refusal::from_delete(err)?;
            let plan = admin_api::find_plan(&state, &id).await?;
            plan_form_page(
                &state,
                &admin,
                Some(plan.id.clone()),
                PlanForm::of(&plan),
                Some(refusal),
            )
            .await
        }
    }
}

async fn activate_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_plan_active(&state, &admin, &ip, &id, true).await
}

async fn deactivate_plan(
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
    let plan = admin_api::update_plan(state, actor(admin, ip), id, input).await?;
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

async fn move_plan_up(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    move_plan(&state, &admin, &ip, &id, true).await
}

async fn move_plan_down(
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
    let plans = admin_api::list_plans(state).await?;
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
        admin_api::update_plan(state, actor(admin, ip), &plan_id, input).await?;
    }
    Ok(see_other(&format!("{PLANS}?notice=plan-moved#plan-{id}")))
}

// ---------------------------------------------------------------------------------------------
// Categories

struct CategoryRow {
    category: AdminCategory,
    plans: usize,
}

#[derive(Template)]
#[template(path = "admin/catalog/categories.html")]
struct CategoryListPage {
    layout: Layout,
    notice: Option<Notice>,
    rows: Vec<CategoryRow>,
}

async fn category_list(
    State(state): State<AppState>,
    admin: PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let plans = admin_api::list_plans(&state).await?;
    let rows = admin_api::list_categories(&state)
        .await?
        .into_iter()
        .map(|category| CategoryRow {
            plans: plans
                .iter()
                .filter(|p| p.category_id == Some(category.id))
                .count(),
            category,
        })
        .collect();
    render(&CategoryListPage {
        layout: Layout::for_page("Categories", &admin.0.context),
        notice: notice_of(&query),
        rows,
    })
}

const CATEGORY_FIELDS: &[(&str, &str)] = &[
    ("slug", "Slug"),
    ("name", "Name"),
    ("description", "Description"),
    ("display_order", "Display order"),
];

#[derive(Clone, Debug, Default)]
struct CategoryForm {
    slug: String,
    name: String,
    description: String,
    display_order: String,
}

impl CategoryForm {
    fn of(category: &AdminCategory) -> Self {
        Self {
            slug: category.slug.clone(),
            name: category.name.clone(),
            description: category.description.clone().unwrap_or_default(),
            display_order: category.display_order.to_string(),
        }
    }

    fn from_pairs(pairs: &[(String, String)]) -> Self {
        Self {
            slug: value_of(pairs, "slug"),
            name: value_of(pairs, "name"),
            description: value_of(pairs, "description"),
            display_order: value_of(pairs, "display_order"),
        }
    }

    fn input(&self, errors: &mut FieldMessages) -> Option<CategoryInput> {
        Some(CategoryInput {
            slug: text(&self.slug),
            name: text(&self.name),
            description: text(&self.description),
            display_order: Some(display_order(&self.display_order, "Display order", errors)?),
        })
    }
}

#[derive(Template)]
#[template(path = "admin/catalog/category_form.html")]
struct CategoryFormPage {
    layout: Layout,
    category_id: Option<i32>,
    plans: usize,
    form: CategoryForm,
    errors: FieldMessages,
    alert: Option<String>,
}

async fn category_form_page(
    state: &AppState,
    admin: &PageAdmin,
    category_id: Option<i32>,
    form: CategoryForm,
    refusal: Option<Refusal>,
) -> AppResult<Response> {
    let (status, errors, alert) = match refusal {
        Some(r) => (r.status, r.errors, r.alert),
        None => (StatusCode::OK, FieldMessages::default(), None),
    };
    let plans = match category_id {
        Some(id) => admin_api::list_plans(state)
            .await?
            .iter()
            .filter(|p| p.category_id == Some(id))
            .count(),
        None => 0,
    };
    let title = if category_id.is_some() {
        "Edit category"
    } else {
        "New category"
    };
    render_with(
        status,
        &CategoryFormPage {
            layout: Layout::for_page(title, &admin.0.context),
            category_id,
            plans,
            form,
            errors,
            alert,
        },
    )
}

async fn new_category(State(state): State<AppState>, admin: PageAdmin) -> AppResult<Response> {
    let form = CategoryForm {
        display_order: "0".to_owned(),
        ..CategoryForm::default()
    };
    category_form_page(&state, &admin, None, form, None).await
}

async fn create_category(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = CategoryForm::from_pairs(&pairs);
    let mut errors = FieldMessages::default();
    let Some(input) = form.input(&mut errors) else {
        return category_form_page(&state, &admin, None, form, Some(Refusal::local(errors))).await;
    };
    match admin_api::create_category(&state, actor(&admin, &ip), input).await {
        Ok(_) => Ok(see_other(&format!("{CATEGORIES}?notice=category-created"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, CATEGORY_FIELDS, errors)?;
            category_form_page(&state, &admin, None, form, Some(refusal)).await
        }
    }
}

async fn edit_category(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let category = admin_api::find_category(&state, numeric_id(&id, "category")?).await?;
    let form = CategoryForm::of(&category);
    category_form_page(&state, &admin, Some(category.id), form, None).await
}

async fn update_category(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let id = numeric_id(&id, "category")?;
    admin_api::find_category(&state, id).await?;
    let form = CategoryForm::from_pairs(&pairs);
    let mut errors = FieldMessages::default();
    let Some(input) = form.input(&mut errors) else {
        return category_form_page(&state, &admin, Some(id), form, Some(Refusal::local(errors)))
            .await;
    };
    match admin_api::update_category(&state, actor(&admin, &ip), id, input).await {
        Ok(_) => Ok(see_other(&format!("{CATEGORIES}?notice=category-saved"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, CATEGORY_FIELDS, errors)?;
            category_form_page(&state, &admin, Some(id), form, Some(refusal)).await
        }
    }
}

async fn delete_category(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = numeric_id(&id, "category")?;
    match admin_api::delete_category(&state, actor(&admin, &ip), id).await {
        Ok(()) => Ok(see_other(&format!("{CATEGORIES}?notice=category-deleted"))),
        Err(err) => {
            let refusal = Refusal::from_delete(err)?;
            let category = admin_api::find_category(&state, id).await?;
            let form = CategoryForm::of(&category);
            category_form_page(&state, &admin, Some(id), form, Some(refusal)).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Locations

struct LocationRow {
    location: AdminLocation,
    plans: usize,
}

#[derive(Template)]
#[template(path = "admin/catalog/locations.html")]
struct LocationListPage {
    layout: Layout,
    notice: Option<Notice>,
    rows: Vec<LocationRow>,
}

async fn location_list(
    State(state): State<AppState>,
    admin: PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let plans = admin_api::list_plans(&state).await?;
    let rows = admin_api::list_locations(&state)
        .await?
        .into_iter()
        .map(|location| LocationRow {
            plans: plans
                .iter()
                .filter(|p| p.location_ids.contains(&location.id))
                .count(),
            location,
        })
        .collect();
    render(&LocationListPage {
        layout: Layout::for_page("Locations", &admin.0.context),
        notice: notice_of(&query),
        rows,
    })
}

const LOCATION_FIELDS: &[(&str, &str)] = &[
    ("slug", "Slug"),
    ("name", "Name"),
    ("country_code", "Country code"),
    ("city", "City"),
    ("is_active", "Open for sale"),
    ("display_order", "Display order"),
];

#[derive(Clone, Debug, Default)]
struct LocationForm {
    slug: String,
    name: String,
    country_code: String,
    city: String,
    is_active: bool,
    display_order: String,
}

impl LocationForm {
    fn of(location: &AdminLocation) -> Self {
        Self {
            slug: location.slug.clone(),
            name: location.name.clone(),
            country_code: location.country_code.clone(),
            city: location.city.clone().unwrap_or_default(),
            is_active: location.is_active,
            display_order: location.display_order.to_string(),
        }
    }

    fn from_pairs(pairs: &[(String, String)]) -> Self {
        Self {
            slug: value_of(pairs, "slug"),
            name: value_of(pairs, "name"),
            country_code: value_of(pairs, "country_code"),
            city: value_of(pairs, "city"),
            is_active: is_checked(pairs, "is_active"),
            display_order: value_of(pairs, "display_order"),
        }
    }

    fn input(&self, errors: &mut FieldMessages) -> Option<LocationInput> {
        Some(LocationInput {
            slug: text(&self.slug),
            name: text(&self.name),
            country_code: text(&self.country_code),
            city: text(&self.city),
            is_active: Some(Some(self.is_active)),
            display_order: Some(display_order(&self.display_order, "Display order", errors)?),
        })
    }
}

#[derive(Template)]
#[template(path = "admin/catalog/location_form.html")]
struct LocationFormPage {
    layout: Layout,
    location_id: Option<i32>,
    form: LocationForm,
    errors: FieldMessages,
    alert: Option<String>,
}

fn location_form_page(
    admin: &PageAdmin,
    location_id: Option<i32>,
    form: LocationForm,
    refusal: Option<Refusal>,
) -> AppResult<Response> {
    let (status, errors, alert) = match refusal {
        Some(r) => (r.status, r.errors, r.alert),
        None => (StatusCode::OK, FieldMessages::default(), None),
    };
    let title = if location_id.is_some() {
        "Edit location"
    } else {
        "New location"
    };
    render_with(
        status,
        &LocationFormPage {
            layout: Layout::for_page(title, &admin.0.context),
            location_id,
            form,
            errors,
            alert,
        },
    )
}

async fn new_location(admin: PageAdmin) -> AppResult<Response> {
    let form = LocationForm {
        is_active: true,
        display_order: "0".to_owned(),
        ..LocationForm::default()
    };
    location_form_page(&admin, None, form, None)
}

async fn create_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = LocationForm::from_pairs(&pairs);
    let mut errors = FieldMessages::default();
    let Some(input) = form.input(&mut errors) else {
        return location_form_page(&admin, None, form, Some(Refusal::local(errors)));
    };
    match admin_api::create_location(&state, actor(&admin, &ip), input).await {
        Ok(_) => Ok(see_other(&format!("{LOCATIONS}?notice=location-created"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, LOCATION_FIELDS, errors)?;
            location_form_page(&admin, None, form, Some(refusal))
        }
    }
}

async fn edit_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let location = admin_api::find_location(&state, numeric_id(&id, "location")?).await?;
    location_form_page(&admin, Some(location.id), LocationForm::of(&location), None)
}

async fn update_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let id = numeric_id(&id, "location")?;
    admin_api::find_location(&state, id).await?;
    let form = LocationForm::from_pairs(&pairs);
    let mut errors = FieldMessages::default();
    let Some(input) = form.input(&mut errors) else {
        return location_form_page(&admin, Some(id), form, Some(Refusal::local(errors)));
    };
    match admin_api::update_location(&state, actor(&admin, &ip), id, input).await {
        Ok(_) => Ok(see_other(&format!("{LOCATIONS}?notice=location-saved"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, LOCATION_FIELDS, errors)?;
            location_form_page(&admin, Some(id), form, Some(refusal))
        }
    }
}

async fn delete_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = numeric_id(&id, "location")?;
    match admin_api::delete_location(&state, actor(&admin, &ip), id).await {
        Ok(()) => Ok(see_other(&format!("{LOCATIONS}?notice=location-deleted"))),
        Err(err) => {
            let refusal = Refusal::from_delete(err)?;
            let location = admin_api::find_location(&state, id).await?;
            location_form_page(&admin, Some(id), LocationForm::of(&location), Some(refusal))
        }
    }
}

async fn activate_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_location_active(&state, &admin, &ip, &id, true).await
}

async fn deactivate_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_location_active(&state, &admin, &ip, &id, false).await
}

async fn set_location_active(
    state: &AppState,
    admin: &PageAdmin,
    ip: &str,
    id: &str,
    active: bool,
) -> AppResult<Response> {
    let id = numeric_id(id, "location")?;
    let input = LocationInput {
        is_active: Some(Some(active)),
        ..LocationInput::default()
    };
    admin_api::update_location(state, actor(admin, ip), id, input).await?;
    let code = if active {
        "location-activated"
    } else {
        "location-deactivated"
    };
    Ok(see_other(&format!(
        "{LOCATIONS}?notice={code}#location-{id}"
    )))
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

    #[test]
    fn rupees_may_be_typed_with_commas() {
        assert_eq!(parse_rupees("2500"), Some(2500));
        assert_eq!(parse_rupees("2,500"), Some(2500));
        assert_eq!(parse_rupees("Rs 12,500"), Some(12500));
        assert_eq!(parse_rupees("-5"), Some(-5));
        assert_eq!(parse_rupees("abc"), None);
        assert_eq!(parse_rupees("25.5"), None);
    }

    #[test]
    fn problems_become_sentences_naming_the_field() {
        assert_eq!(sentence("Name", "is required"), "Name is required.");
        assert_eq!(
            sentence("Monthly price", "must not be null"),
            "Monthly price is required."
        );
        assert_eq!(
            sentence("Features", "feature 2 is blank"),
            "Feature 2 is blank."
        );
    }
}
