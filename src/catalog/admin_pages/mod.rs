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
//!
//! One file per concern: `form` holds what every form shares (the problems beside each field,
//! the refusal sorted onto the form, the field readers); `plans` the plan list with its on/off
//! sale and move buttons, `plan_form` the plan's new and edit forms; `categories` and
//! `locations` their list and forms. This file holds the router, the notices, the helpers every
//! page uses and the overview.

mod categories;
mod form;
mod locations;
mod plan_form;
mod plans;
mod policies;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::catalog::manage::{self, Actor, numeric_id};
use crate::error::AppResult;
use crate::web::forms::{Notice, notice};
use crate::web::pages::{Layout, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/catalog", get(overview))
        .route(
            "/admin/catalog/plans",
            get(plans::plan_list).post(plan_form::create_plan),
        )
        .route("/admin/catalog/plans/new", get(plan_form::new_plan))
        .route(
            "/admin/catalog/plans/{id}",
            get(plan_form::edit_plan).post(plan_form::update_plan),
        )
        .route(
            "/admin/catalog/plans/{id}/delete",
            post(plan_form::delete_plan),
        )
        .route(
            "/admin/catalog/plans/{id}/activate",
            post(plans::activate_plan),
        )
        .route(
            "/admin/catalog/plans/{id}/deactivate",
            post(plans::deactivate_plan),
        )
        .route(
            "/admin/catalog/plans/{id}/move-up",
            post(plans::move_plan_up),
        )
        .route(
            "/admin/catalog/plans/{id}/move-down",
            post(plans::move_plan_down),
        )
        .route(
            "/admin/catalog/categories",
            get(categories::category_list).post(categories::create_category),
        )
        .route(
            "/admin/catalog/categories/new",
            get(categories::new_category),
        )
        .route(
            "/admin/catalog/categories/{id}",
            get(categories::edit_category).post(categories::update_category),
        )
        .route(
            "/admin/catalog/categories/{id}/delete",
            post(categories::delete_category),
        )
        .route(
            "/admin/catalog/locations",
            get(locations::location_list).post(locations::create_location),
        )
        .route("/admin/catalog/locations/new", get(locations::new_location))
        .route(
            "/admin/catalog/locations/{id}",
            get(locations::edit_location).post(locations::update_location),
        )
        .route(
            "/admin/catalog/locations/{id}/delete",
            post(locations::delete_location),
        )
        .route(
            "/admin/catalog/locations/{id}/activate",
            post(locations::activate_location),
        )
        .route(
            "/admin/catalog/locations/{id}/deactivate",
            post(locations::deactivate_location),
        )
        .route("/admin/policies", get(policies::list))
        .route(
            "/admin/policies/{page}",
            get(policies::edit).post(policies::publish),
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
    admin.0.actor(ip)
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
    let plans = manage::list_plans(&state.catalog_store()).await?;
    let categories = manage::list_categories(&state.catalog_store()).await?;
    let locations = manage::list_locations(&state.catalog_store()).await?;
    render(&OverviewPage {
        layout: Layout::for_page("Catalog", &admin.0.context),
        plans: plans.len(),
        plans_on_sale: plans.iter().filter(|p| p.is_active).count(),
        categories: categories.len(),
        locations: locations.len(),
        locations_open: locations.iter().filter(|l| l.is_active).count(),
    })
}
