//! The location pages: the list (`/admin/catalog/locations`) with how many plans sell in each
//! and its open / close buttons, and the new and edit forms with a Delete button.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::form::{Refusal, display_order, is_checked, text, value_of};
use super::{LOCATIONS, NoticeQuery, actor, notice_of, numeric_id, see_other};
use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::catalog::manage::{self, AdminLocation, LocationInput};
use crate::error::AppResult;
use crate::web::extract::ClientIp;
use crate::web::forms::FormErrors;
use crate::web::forms::Notice;
use crate::web::pages::render_with;
use crate::web::pages::{Layout, render};

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

pub(super) async fn location_list(
    State(state): State<AppState>,
    admin: PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let plans = manage::list_plans(&state.catalog_store()).await?;
    let rows = manage::list_locations(&state.catalog_store())
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

    fn input(&self, errors: &mut FormErrors) -> Option<LocationInput> {
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
    errors: FormErrors,
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
        None => (StatusCode::OK, FormErrors::default(), None),
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

pub(super) async fn new_location(admin: PageAdmin) -> AppResult<Response> {
    let form = LocationForm {
        is_active: true,
        display_order: "0".to_owned(),
        ..LocationForm::default()
    };
    location_form_page(&admin, None, form, None)
}

pub(super) async fn create_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = LocationForm::from_pairs(&pairs);
    let mut errors = FormErrors::default();
    let Some(input) = form.input(&mut errors) else {
        return location_form_page(&admin, None, form, Some(Refusal::local(errors)));
    };
    match manage::create_location(&state.catalog_store(), actor(&admin, &ip), input).await {
        Ok(_) => Ok(see_other(&format!("{LOCATIONS}?notice=location-created"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, LOCATION_FIELDS, errors)?;
            location_form_page(&admin, None, form, Some(refusal))
        }
    }
}

pub(super) async fn edit_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let location =
        manage::find_location(&state.catalog_store(), numeric_id(&id, "location")?).await?;
    location_form_page(&admin, Some(location.id), LocationForm::of(&location), None)
}

pub(super) async fn update_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let id = numeric_id(&id, "location")?;
    manage::find_location(&state.catalog_store(), id).await?;
    let form = LocationForm::from_pairs(&pairs);
    let mut errors = FormErrors::default();
    let Some(input) = form.input(&mut errors) else {
        return location_form_page(&admin, Some(id), form, Some(Refusal::local(errors)));
    };
    match manage::update_location(&state.catalog_store(), actor(&admin, &ip), id, input).await {
        Ok(_) => Ok(see_other(&format!("{LOCATIONS}?notice=location-saved"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, LOCATION_FIELDS, errors)?;
            location_form_page(&admin, Some(id), form, Some(refusal))
        }
    }
}

pub(super) async fn delete_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = numeric_id(&id, "location")?;
    match manage::delete_location(&state.catalog_store(), actor(&admin, &ip), id).await {
        Ok(()) => Ok(see_other(&format!("{LOCATIONS}?notice=location-deleted"))),
        Err(err) => {
            let refusal = Refusal::from_delete(err)?;
            let location = manage::find_location(&state.catalog_store(), id).await?;
            location_form_page(&admin, Some(id), LocationForm::of(&location), Some(refusal))
        }
    }
}

pub(super) async fn activate_location(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    set_location_active(&state, &admin, &ip, &id, true).await
}

pub(super) async fn deactivate_location(
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
    manage::update_location(&state.catalog_store(), actor(admin, ip), id, input).await?;
    let code = if active {
        "location-activated"
    } else {
        "location-deactivated"
    };
    Ok(see_other(&format!(
        "{LOCATIONS}?notice={code}#location-{id}"
    )))
}
