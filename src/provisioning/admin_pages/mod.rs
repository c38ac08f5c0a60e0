//! The operator's backend pages (and, in [`systems`], the operating systems' page
//! `/admin/os-templates`): `/admin/backends` (every backend with the capacity it leaves),
//! the new and edit forms (the Proxmox fields, the API token write-only), and on a backend's
//! page the template of each plan and the IP pool.
//!
//! A backend form is turned into the API's [`BackendRequest`] and checked by the same rules
//! ([`validation`](super::validation)) before anything is written, its problems shown beside
//! the fields; the database's own checks and the one-active-backend-per-location index are the
//! last word, their refusals shown the same way. The token secret is sealed for the backend's
//! id in the same transaction that creates or changes it, and every change is audited.

use std::net::IpAddr;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Duration;
use serde::Deserialize;

use super::backends::{self, Backend, BackendFields, PoolAddress, Template as PlanTemplate};
use super::manage;
use super::validation::{
    self, BackendRequest, MAX_ADDRESSES, expand_range, pool_network, unfit, validate_backend,
};
use crate::accounts::extract::PageAdmin;
use crate::accounts::validation::FieldErrors;
use crate::app::AppState;
use crate::catalog::names::Names;
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;
use crate::web::forms::Choice;
use crate::web::forms::{Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::Layout;
use crate::web::pages::render_with;

mod systems;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/os-templates",
            get(systems::list).post(systems::create),
        )
        .route("/admin/os-templates/{id}", post(systems::update))
        .route("/admin/os-templates/{id}/delete", post(systems::delete))
        .route("/admin/backends", get(list_backends).post(create_backend))
        .route("/admin/backends/new", get(new_backend))
        .route(
            "/admin/backends/{id}",
            get(backend_page).post(update_backend),
        )
        .route("/admin/backends/{id}/templates", post(set_template))
        .route(
            "/admin/backends/{id}/templates/delete",
            post(delete_template),
        )
        .route("/admin/backends/{id}/addresses", post(add_addresses))
        .route(
            "/admin/backends/{id}/addresses/remove",
            post(remove_address),
        )
}

fn see_other(target: &str) -> Response {
    Redirect::to(target).into_response()
}

// ---------------------------------------------------------------------------------------------
// The list

struct BackendRow {
    id: i32,
    name: String,
    driver: String,
    location: String,
    active: bool,
    /// Servers it can still take, in words.
    capacity: String,
}

#[derive(Template)]
#[template(path = "admin/backends/backends.html")]
struct BackendsPage {
    layout: Layout,
    notice: Option<Notice>,
    rows: Vec<BackendRow>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
}

const LIST_NOTICES: &[(&str, &str, &str)] = &[("created", "success", "The backend is created.")];

async fn list_backends(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let names = Names::load(&state.db).await?;
    let hold_days = state.provisioning.lifecycle.ip_hold_days;
    let mut rows = Vec::new();
    for backend in backends::list(&state.db).await? {
        let capacity = if !backend.is_active {
            "— (inactive)".to_owned()
        } else if backend.driver == backends::BackendDriver::Manual {
            "no limit (by hand)".to_owned()
        } else {
            match backends::location_capacity(&state.db, backend.location_id, hold_days).await? {
                Some(free) => format!("{free} server{}", if free == 1 { "" } else { "s" }),
                None => "no limit (by hand)".to_owned(),
            }
        };
        rows.push(BackendRow {
            id: backend.id,
            location: names.location(Some(backend.location_id)),
            name: backend.name,
            driver: backend.driver.to_string(),
            active: backend.is_active,
            capacity,
        });
    }
    render_with(
        StatusCode::OK,
        &BackendsPage {
            layout: Layout::for_page("Backends", &admin.context),
            notice: notice(query.notice.as_deref(), LIST_NOTICES),
            rows,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// The backend form

/// The backend form as typed (the token secret is never shown again).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct BackendForm {
    name: String,
    driver: String,
    location_id: String,
    is_active: Option<String>,
    api_url: String,
    token_id: String,
    token_secret: String,
    tls_ca_pem: String,
    node: String,
    storage: String,
    bridge: String,
    vmid_min: String,
    vmid_max: String,
    ip_gateway: String,
    ip_prefix: String,
    nameservers: String,
}

const BACKEND_FIELDS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("driver", "Driver"),
    ("location_id", "Location"),
    ("api_url", "API URL"),
    ("token_id", "Token id"),
    ("token_secret", "Token secret"),
    ("tls_ca_pem", "CA certificate"),
    ("node", "Node"),
    ("storage", "Storage"),
    ("bridge", "Bridge"),
    ("vmid_min", "First VM id"),
    ("vmid_max", "Last VM id"),
    ("ip_gateway", "Gateway"),
    ("ip_prefix", "Prefix length"),
    ("nameservers", "Nameservers"),
];

/// A trimmed optional text: empty is `None`.
fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl BackendForm {
    fn of(backend: &Backend) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let number = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_default();
        Self {
            name: backend.name.clone(),
            driver: backend.driver.to_string(),
            location_id: backend.location_id.to_string(),
            is_active: backend.is_active.then(|| "on".to_owned()),
            api_url: text(&backend.api_url),
            token_id: text(&backend.token_id),
            token_secret: String::new(),
            tls_ca_pem: text(&backend.tls_ca_pem),
            node: text(&backend.node),
            storage: text(&backend.storage),
            bridge: text(&backend.bridge),
            vmid_min: number(backend.vmid_min),
            vmid_max: number(backend.vmid_max),
            ip_gateway: text(&backend.ip_gateway),
            ip_prefix: backend.ip_prefix.map(|p| p.to_string()).unwrap_or_default(),
            nameservers: text(&backend.nameservers),
        }
    }

    fn active(&self) -> bool {
        self.is_active.is_some()
    }

    fn proxmox(&self) -> bool {
        self.driver == "proxmox"
    }

    /// The form as the API's request: every field explicit (blank is `null`), the Proxmox
    /// fields only for a Proxmox backend, a blank token secret keeping the stored one. Numbers
    /// that are not numbers are the second half, beside their field.
    fn request(&self) -> (BackendRequest, FieldErrors) {
        let mut typing = FieldErrors::default();
        // "Choose a location" is blank: a choice, not "keep the stored one".
        let location_id = self.location_id.trim().parse().ok();
        if location_id.is_none() {
            typing.add("location_id", "choose a location");
        }
        let proxmox = self.proxmox();
        let text = |value: &str| Some(optional(value).filter(|_| proxmox));
        let mut number = |field: &str, value: &str| {
            let value = optional(value).filter(|_| proxmox)?;
            let parsed = value.trim_start_matches('/').parse::<i64>().ok();
            if parsed.is_none() {
                typing.add(field, "must be a whole number");
            }
            parsed
        };
        let request = BackendRequest {
            name: Some(self.name.clone()),
            driver: Some(self.driver.clone()),
            location_id,
            is_active: Some(self.active()),
            api_url: text(&self.api_url),
            token_id: text(&self.token_id),
            token_secret: optional(&self.token_secret).filter(|_| proxmox),
            tls_ca_pem: text(&self.tls_ca_pem),
            node: text(&self.node),
            storage: text(&self.storage),
            bridge: text(&self.bridge),
            vmid_min: Some(number("vmid_min", &self.vmid_min)),
            vmid_max: Some(number("vmid_max", &self.vmid_max)),
            ip_gateway: text(&self.ip_gateway),
            ip_prefix: Some(number("ip_prefix", &self.ip_prefix)),
            nameservers: text(&self.nameservers),
        };
        (request, typing)
    }

    /// Checks the form by the backend rules, over `current` when editing. Returns the fields to
    /// store and the new token secret, if one was typed; a refusal names the fields.
    async fn parse(
        &self,
        db: &sqlx::PgPool,
        current: Option<&Backend>,
    ) -> AppResult<(BackendFields, Option<String>)> {
        let (request, typing) = self.request();
        match validate_backend(db, request, current).await {
            Ok(_) if !typing.is_empty() => Err(AppError::Validation(typing.0)),
            Err(AppError::Validation(mut errors)) => {
                // A number that was not one is that field's problem, not "is required".
                errors.extend(typing.0);
                Err(AppError::Validation(errors))
            }
            checked => checked,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/backends/form.html")]
struct FormPage {
    layout: Layout,
    has_secret: bool,
    form: BackendForm,
    locations: Vec<Choice>,
    errors: FormErrors,
    alert: Option<String>,
}

/// The new or edit form, with problems after a failed submit.
fn form_page(
    admin: &PageAdmin,
    names: &Names,
    backend: Option<&Backend>,
    form: BackendForm,
    failure: Option<Failure>,
) -> AppResult<Response> {
    let (status, errors, alert) = match failure {
        Some(f) => (f.status, f.errors, f.alert),
        None => (StatusCode::OK, FormErrors::default(), None),
    };
    let title = match backend {
        Some(b) => format!("Backend {}", b.name),
        None => "New backend".to_owned(),
    };
    render_with(
        status,
        &FormPage {
            layout: Layout::for_page(title, &admin.0.context),
            has_secret: backend.is_some_and(|b| b.token_secret_encrypted.is_some()),
            locations: names.location_options(form.location_id.trim().parse().ok()),
            form,
            errors,
            alert,
        },
    )
}

/// A refusal of the form's own checks (422, problems beside the fields).
fn invalid(errors: FormErrors) -> Failure {
    Failure {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        errors,
        alert: None,
    }
}

async fn new_backend(State(state): State<AppState>, admin: PageAdmin) -> AppResult<Response> {
    let names = Names::load(&state.db).await?;
    let form = BackendForm {
        driver: "proxmox".to_owned(),
        is_active: Some("on".to_owned()),
        bridge: "vmbr0".to_owned(),
        ..BackendForm::default()
    };
    form_page(&admin, &names, None, form, None)
}

async fn create_backend(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(form): Form<BackendForm>,
) -> AppResult<Response> {
    let names = Names::load(&state.db).await?;
    let (fields, secret) = match form.parse(&state.db, None).await {
        Ok(parsed) => parsed,
        Err(err) => {
            let failure = Failure::from_error(err, BACKEND_FIELDS)?;
            return form_page(&admin, &names, None, form, Some(failure));
        }
    };
    let outcome = manage::create_backend(
        &state.db,
        &state.provisioning,
        &admin.0.actor(&ip),
        &fields,
        secret.as_deref(),
    )
    .await;
    match outcome {
        Ok(backend) => {
            tracing::info!(backend.id = backend.id, "an operator created a backend");
            Ok(see_other(&format!(
                "/admin/backends/{}?notice=created",
                backend.id
            )))
        }
        Err(err) => {
            let failure = Failure::from_error(err, BACKEND_FIELDS)?;
            form_page(&admin, &names, None, form, Some(failure))
        }
    }
}

async fn find_backend(state: &AppState, id: i32) -> AppResult<Backend> {
    backends::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("backend"))
}

async fn update_backend(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<BackendForm>,
) -> AppResult<Response> {
    if !form.token_secret.trim().is_empty()
        && let Some(step_up) = admin.0.two_factor_step_up(&format!("/admin/backends/{id}"))
    {
        return Ok(step_up);
    }
    let before = find_backend(&state, id).await?;
    let (fields, secret) = match form.parse(&state.db, Some(&before)).await {
        Ok(parsed) => parsed,
        Err(err) => {
            let failure = Failure::from_error(err, BACKEND_FIELDS)?;
            return render_backend(&state, &admin, before, Extras::form(form, failure)).await;
        }
    };
    let outcome = manage::update_backend(
        &state.db,
        &state.provisioning,
        &admin.0.actor(&ip),
        &before,
        &fields,
        secret.as_deref(),
    )
    .await
    .map(|_| ());
    match outcome {
        Ok(()) => Ok(see_other(&format!("/admin/backends/{id}?notice=saved"))),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, BACKEND_FIELDS)?;
            render_backend(&state, &admin, before, Extras::form(form, failure)).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One backend: its form, templates and IP pool

struct TemplateRow {
    plan_id: String,
    plan: String,
    template: PlanTemplate,
}

struct AddressRow {
    address: String,
    service_id: Option<i32>,
    /// When it was released and until when it is held back, in words.
    released: String,
    available: bool,
}

impl AddressRow {
    fn new(address: PoolAddress, hold_days: u32) -> Self {
        let released = match address.released_at {
            Some(at) if !address.available && address.service_id.is_none() => format!(
                "released {}; held back until {}",
                pkt(Some(at)),
                pkt(Some(at + Duration::days(i64::from(hold_days))))
            ),
            Some(at) => format!("released {}", pkt(Some(at))),
            None => "—".to_owned(),
        };
        Self {
            address: address.address,
            service_id: address.service_id,
            released,
            available: address.available,
        }
    }
}

/// The template form as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct TemplateForm {
    plan_id: String,
    template_vmid: String,
    cores: String,
    memory_mb: String,
    disk_gb: String,
    username: String,
    snapshot_limit: String,
}

const TEMPLATE_FIELDS: &[(&str, &str)] = &[
    ("plan_id", "Plan"),
    ("template_vmid", "Template VM id"),
    ("cores", "Cores"),
    ("memory_mb", "Memory (MB)"),
    ("disk_gb", "Disk (GB)"),
    ("username", "Username"),
    ("snapshot_limit", "Snapshots"),
];

impl TemplateForm {
    fn parse(&self, backend_id: i32, names: &Names) -> Result<PlanTemplate, FormErrors> {
        let mut errors = FormErrors::default();
        let plan_id = self.plan_id.trim();
        if plan_id.is_empty() || names.plan(Some(plan_id)) == plan_id {
            errors.add("plan_id", "Plan", "choose a plan");
        }
        let mut number = |field: &str, label: &str, text: &str| match text.trim().parse::<i32>() {
            Ok(n) => {
                if let Some(problem) = validation::template_number_problem(field, i64::from(n)) {
                    errors.add(field, label, &problem);
                }
                n
            }
            Err(_) => {
                errors.add(field, label, "must be a whole number");
                0
            }
        };
        let template = PlanTemplate {
            backend_id,
            plan_id: plan_id.to_owned(),
            template_vmid: number("template_vmid", "Template VM id", &self.template_vmid),
            cores: number("cores", "Cores", &self.cores),
            memory_mb: number("memory_mb", "Memory (MB)", &self.memory_mb),
            disk_gb: number("disk_gb", "Disk (GB)", &self.disk_gb),
            username: self.username.trim().to_owned(),
            snapshot_limit: if self.snapshot_limit.trim().is_empty() {
                0
            } else {
                number("snapshot_limit", "Snapshots", &self.snapshot_limit)
            },
        };
        if let Some(problem) = validation::template_username_problem(&template.username) {
            errors.add("username", "Username", problem);
        }
        if errors.is_empty() {
            Ok(template)
        } else {
            Err(errors)
        }
    }
}

#[derive(Template)]
#[template(path = "admin/backends/backend.html")]
struct BackendPage {
    layout: Layout,
    notice: Option<Notice>,
    backend: Backend,
    location: String,
    capacity: Option<String>,
    // The edit form
    has_secret: bool,
    form: BackendForm,
    locations: Vec<Choice>,
    errors: FormErrors,
    alert: Option<String>,
    // Templates
    templates: Vec<TemplateRow>,
    plans: Vec<Choice>,
    template_form: TemplateForm,
    template_errors: FormErrors,
    // The pool
    addresses: Vec<AddressRow>,
    hold_days: u32,
    addresses_input: String,
    address_errors: FormErrors,
}

/// What the backend page shows besides the backend: a notice or a failed form.
#[derive(Default)]
struct Extras {
    status: Option<StatusCode>,
    notice: Option<Notice>,
    alert: Option<String>,
    form: Option<BackendForm>,
    errors: FormErrors,
    template_form: Option<TemplateForm>,
    template_errors: FormErrors,
    addresses_input: String,
    address_errors: FormErrors,
}

impl Extras {
    fn form(form: BackendForm, failure: Failure) -> Self {
        Self {
            status: Some(failure.status),
            alert: failure.alert,
            errors: failure.errors,
            form: Some(form),
            ..Self::default()
        }
    }
}

const BACKEND_NOTICES: &[(&str, &str, &str)] = &[
    (
        "created",
        "success",
        "The backend is created. Add its plan templates and IP pool below.",
    ),
    ("saved", "success", "The backend is saved."),
    ("template-saved", "success", "The template is saved."),
    ("template-deleted", "success", "The template is deleted."),
    (
        "addresses-added",
        "success",
        "The addresses are added to the pool; any already in a pool were skipped.",
    ),
    (
        "address-removed",
        "success",
        "The address is removed from the pool.",
    ),
    (
        "address-held",
        "error",
        "That address is held by a service (or not in this pool), so it stays.",
    ),
];

async fn render_backend(
    state: &AppState,
    admin: &PageAdmin,
    backend: Backend,
    extras: Extras,
) -> AppResult<Response> {
    let names = Names::load(&state.db).await?;
    let hold_days = state.provisioning.lifecycle.ip_hold_days;
    let capacity = if backend.is_active && backend.driver == backends::BackendDriver::Proxmox {
        backends::location_capacity(&state.db, backend.location_id, hold_days)
            .await?
            .map(|free| format!("{free} more server{}", if free == 1 { "" } else { "s" }))
    } else {
        None
    };
    let templates = backends::list_templates(&state.db, backend.id)
        .await?
        .into_iter()
        .map(|t| TemplateRow {
            plan_id: t.plan_id.clone(),
            plan: names.plan(Some(&t.plan_id)),
            template: t,
        })
        .collect();
    let addresses = backends::list_addresses(&state.db, backend.id, hold_days)
        .await?
        .into_iter()
        .map(|a| AddressRow::new(a, hold_days))
        .collect();
    let form = extras.form.unwrap_or_else(|| BackendForm::of(&backend));
    let template_form = extras.template_form.unwrap_or_else(|| TemplateForm {
        username: "Administrator".to_owned(),
        ..TemplateForm::default()
    });
    let page = BackendPage {
        layout: Layout::for_page(format!("Backend {}", backend.name), &admin.0.context),
        notice: extras.notice,
        location: names.location(Some(backend.location_id)),
        capacity,
        has_secret: backend.token_secret_encrypted.is_some(),
        locations: names.location_options(form.location_id.trim().parse().ok()),
        form,
        errors: extras.errors,
        alert: extras.alert,
        templates,
        plans: names.plan_options(template_form.plan_id.trim()),
        template_form,
        template_errors: extras.template_errors,
        addresses,
        hold_days,
        addresses_input: extras.addresses_input,
        address_errors: extras.address_errors,
        backend,
    };
    render_with(extras.status.unwrap_or(StatusCode::OK), &page)
}

async fn backend_page(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<i32>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let backend = find_backend(&state, id).await?;
    let extras = Extras {
        notice: notice(query.notice.as_deref(), BACKEND_NOTICES),
        ..Extras::default()
    };
    render_backend(&state, &admin, backend, extras).await
}

async fn set_template(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<TemplateForm>,
) -> AppResult<Response> {
    let backend = find_backend(&state, id).await?;
    let names = Names::load(&state.db).await?;
    let failure = match form.parse(id, &names) {
        Err(errors) => invalid(errors),
        Ok(template) => {
            let outcome = manage::set_template(&state.db, &admin.0.actor(&ip), &template)
                .await
                .map(|_| ());
            match outcome {
                Ok(()) => {
                    return Ok(see_other(&format!(
                        "/admin/backends/{id}?notice=template-saved#templates"
                    )));
                }
                Err(err) => Failure::from_error(err, TEMPLATE_FIELDS)?,
            }
        }
    };
    let extras = Extras {
        status: Some(failure.status),
        alert: failure.alert,
        template_errors: failure.errors,
        template_form: Some(form),
        ..Extras::default()
    };
    render_backend(&state, &admin, backend, extras).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DeleteTemplateForm {
    plan_id: String,
}

async fn delete_template(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<DeleteTemplateForm>,
) -> AppResult<Response> {
    find_backend(&state, id).await?;
    // Already gone (a second click): the same page, nothing written.
    match manage::delete_template(&state.db, &admin.0.actor(&ip), id, form.plan_id.trim()).await {
        Ok(()) | Err(AppError::NotFound(_)) => {}
        Err(err) => return Err(err),
    }
    Ok(see_other(&format!(
        "/admin/backends/{id}?notice=template-deleted#templates"
    )))
}

/// The addresses typed in the pool form: one a line (or separated by commas or spaces), or a
/// range `a-b` of one family; each must fit the backend's network (the API's rules).
fn parse_addresses(text: &str, backend: &Backend) -> Result<Vec<String>, String> {
    let Some((gateway, prefix)) = pool_network(backend) else {
        return Err("set the backend's gateway and prefix length first".to_owned());
    };
    let mut out: Vec<IpAddr> = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    let mut outside: Vec<String> = Vec::new();
    for item in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        let addresses = if item.contains('-') {
            expand_range(item).ok()
        } else {
            item.parse::<IpAddr>().ok().map(|a| vec![a])
        };
        let Some(addresses) = addresses else {
            bad.push(item.to_owned());
            continue;
        };
        for address in addresses {
            match unfit(address, gateway, prefix) {
                Some(_) => outside.push(address.to_string()),
                None => out.push(address),
            }
        }
        if out.len() as u128 > MAX_ADDRESSES {
            return Err(format!("add at most {MAX_ADDRESSES} addresses at a time"));
        }
    }
    let shown = |list: &[String]| {
        let mut text = list.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if list.len() > 5 {
            text.push_str(&format!(" and {} more", list.len() - 5));
        }
        text
    };
    if !bad.is_empty() {
        return Err(format!(
            "these are not IP addresses or ranges (a-b, lowest first): {}",
            shown(&bad)
        ));
    }
    if !outside.is_empty() {
        return Err(format!(
            "these are outside the network {gateway}/{prefix}, or its gateway, network or \
             broadcast address: {}",
            shown(&outside)
        ));
    }
    if out.is_empty() {
        return Err("type at least one address".to_owned());
    }
    out.sort();
    out.dedup();
    Ok(out.iter().map(IpAddr::to_string).collect())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AddressesForm {
    addresses: String,
}

async fn add_addresses(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<AddressesForm>,
) -> AppResult<Response> {
    let backend = find_backend(&state, id).await?;
    let addresses = match parse_addresses(&form.addresses, &backend) {
        Ok(addresses) => addresses,
        Err(problem) => {
            let mut errors = FormErrors::default();
            errors.add("addresses", "Addresses", &problem);
            let extras = Extras {
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                addresses_input: form.addresses.chars().take(20_000).collect(),
                address_errors: errors,
                ..Extras::default()
            };
            return render_backend(&state, &admin, backend, extras).await;
        }
    };
    manage::add_addresses(
        &state.db,
        &state.provisioning,
        &admin.0.actor(&ip),
        id,
        addresses,
    )
    .await?;
    Ok(see_other(&format!(
        "/admin/backends/{id}?notice=addresses-added#pool"
    )))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RemoveAddressForm {
    address: String,
}

async fn remove_address(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<RemoveAddressForm>,
) -> AppResult<Response> {
    find_backend(&state, id).await?;
    let Ok(address) = form.address.trim().parse::<IpAddr>() else {
        return Ok(see_other(&format!(
            "/admin/backends/{id}?notice=address-held#pool"
        )));
    };
    let removed = match manage::remove_address(
        &state.db,
        &state.provisioning,
        &admin.0.actor(&ip),
        id,
        &address.to_string(),
    )
    .await
    {
        Ok(()) => true,
        Err(AppError::NotFound(_) | AppError::Conflict { .. }) => false,
        Err(err) => return Err(err),
    };
    let code = if removed {
        "address-removed"
    } else {
        "address-held"
    };
    Ok(see_other(&format!(
        "/admin/backends/{id}?notice={code}#pool"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_form_becomes_a_request_whose_numbers_are_numbers() {
        let form = BackendForm {
            driver: "proxmox".into(),
            location_id: "3".into(),
            vmid_min: "five".into(),
            ip_prefix: "/24".into(),
            node: " ".into(),
            ..BackendForm::default()
        };
        let (request, typing) = form.request();
        assert_eq!(typing.get("vmid_min"), Some("must be a whole number"));
        assert_eq!(request.ip_prefix, Some(Some(24)));
        assert_eq!(request.node, Some(None), "blank is no value");
        assert_eq!(request.location_id, Some(3));
    }

    #[test]
    fn a_manual_backend_form_drops_its_proxmox_fields_and_needs_a_location() {
        let form = BackendForm {
            driver: "manual".into(),
            api_url: "https://pve1.example.pk:8006".into(),
            token_secret: "secret".into(),
            vmid_min: "five".into(),
            ..BackendForm::default()
        };
        let (request, typing) = form.request();
        assert_eq!(request.api_url, Some(None));
        assert!(request.token_secret.is_none());
        assert!(typing.get("vmid_min").is_none());
        assert_eq!(typing.get("location_id"), Some("choose a location"));
    }
}
