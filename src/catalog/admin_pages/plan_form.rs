//! The plan's forms: new (`/admin/catalog/plans/new`) and edit (`/admin/catalog/plans/{id}`)
//! with its Delete button. The form's fields as typed, read back into the admin API's body.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::form::{Refusal, display_order, is_checked, text, value_of};
use super::{PLANS, actor, see_other};
use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::catalog::THEME_COLORS;
use crate::catalog::manage::{self, AdminCategory, AdminLocation, AdminPlan, PlanInput};
use crate::error::AppResult;
use crate::web::extract::ClientIp;
use crate::web::forms::{FormErrors, parse_rupees};
use crate::web::pages::Layout;
use crate::web::pages::render_with;

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
    fn input(&self, creating: bool, errors: &mut FormErrors) -> Option<PlanInput> {
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

#[derive(Template)]
#[template(path = "admin/catalog/plan_form.html")]
struct PlanFormPage {
    layout: Layout,
    /// `None` while creating.
    plan_id: Option<String>,
    form: PlanForm,
    errors: FormErrors,
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
        None => (StatusCode::OK, FormErrors::default(), None),
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
            categories: manage::list_categories(&state.catalog_store()).await?,
            locations: manage::list_locations(&state.catalog_store()).await?,
            theme_colors: THEME_COLORS,
        },
    )
}

pub(super) async fn new_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
) -> AppResult<Response> {
    let mut form = PlanForm::blank();
    if let Some(first) = manage::list_categories(&state.catalog_store())
        .await?
        .first()
    {
        form.category = first.slug.clone();
    }
    plan_form_page(&state, &admin, None, form, None).await
}

pub(super) async fn create_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = PlanForm::from_pairs(&pairs);
    let mut errors = FormErrors::default();
    let Some(input) = form.input(true, &mut errors) else {
        return plan_form_page(&state, &admin, None, form, Some(Refusal::local(errors))).await;
    };
    // A price the form could not read went out as -1, which the API refuses: it reports the
    // form's other problems and writes nothing.
    match manage::create_plan(&state.catalog_store(), actor(&admin, &ip), input).await {
        Ok(_) => Ok(see_other(&format!("{PLANS}?notice=plan-created"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, PLAN_FIELDS, errors)?;
            plan_form_page(&state, &admin, None, form, Some(refusal)).await
        }
    }
}

pub(super) async fn edit_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let plan = manage::find_plan(&state.catalog_store(), &id).await?;
    plan_form_page(
        &state,
        &admin,
        Some(plan.id.clone()),
        PlanForm::of(&plan),
        None,
    )
    .await
}

pub(super) async fn update_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let current = manage::find_plan(&state.catalog_store(), &id).await?;
    let mut form = PlanForm::from_pairs(&pairs);
    form.id.clone_from(&current.id);
    let mut errors = FormErrors::default();
    let Some(input) = form.input(false, &mut errors) else {
        return plan_form_page(&state, &admin, Some(id), form, Some(Refusal::local(errors))).await;
    };
    match manage::update_plan(&state.catalog_store(), actor(&admin, &ip), &id, input).await {
        Ok(_) => Ok(see_other(&format!("{PLANS}?notice=plan-saved"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, PLAN_FIELDS, errors)?;
            plan_form_page(&state, &admin, Some(id), form, Some(refusal)).await
        }
    }
}

pub(super) async fn delete_plan(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    match manage::delete_plan(&state.catalog_store(), actor(&admin, &ip), &id).await {
        Ok(()) => Ok(see_other(&format!("{PLANS}?notice=plan-deleted"))),
        Err(err) => {
            let refusal = Refusal::from_delete(err)?;
            let plan = manage::find_plan(&state.catalog_store(), &id).await?;
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
