//! The operator's backend pages: `/admin/backends` (every backend with the capacity it leaves),
//! the new and edit forms (the Proxmox fields, the API token write-only), and on a backend's
//! page the template of each plan and the IP pool.
//!
//! The forms are checked here field by field ([`BackendForm::parse`]) before anything is
//! written; the database's own checks and the one-active-backend-per-location index are the
//! last word, their refusals shown beside the field they concern. The token secret is sealed
//! for the backend's id in the same transaction that creates or changes it, and every change
//! is audited.

use std::net::IpAddr;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Duration;
use serde::Deserialize;

use super::Provisioning;
use super::backends::{self, Backend, BackendFields, PoolAddress, Template as PlanTemplate};
use crate::accounts::extract::PageAdmin;
use crate::accounts::pages::{Failure, FormErrors, Notice, notice, pkt, render_with};
use crate::app::AppState;
use crate::audit::{self, NewAuditEntry};
use crate::error::{AppError, AppResult, ResultExt};
use crate::services::pages::{Choice, Names};
use crate::web::extract::ClientIp;
use crate::web::pages::Layout;

/// The most addresses one "add addresses" form may add (a range is expanded).
const MAX_NEW_ADDRESSES: usize = 4096;

pub fn router() -> Router<AppState> {
    Router::new()
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
    let names = Names::load(&state).await?;
    let hold_days = state.settings.provisioning.lifecycle.ip_hold_days;
    let mut rows = Vec::new();
    for backend in backends::list(&state.db).await? {
        let capacity = if !backend.is_active {
            "— (inactive)".to_owned()
        } else if backend.driver == "manual" {
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
            driver: backend.driver,
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

fn label(field: &str) -> &'static str {
    BACKEND_FIELDS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, label)| *label)
        .unwrap_or("Field")
}

/// A trimmed optional text: empty is `None`.
fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Whether a Proxmox API token id has the shape `user@realm!name`.
fn is_token_id(text: &str) -> bool {
    let Some((user, rest)) = text.split_once('@') else {
        return false;
    };
    let Some((realm, name)) = rest.split_once('!') else {
        return false;
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    word(user) && word(realm) && word(name)
}

/// Whether an address is inside `gateway/prefix`.
fn in_network(address: IpAddr, gateway: IpAddr, prefix: u8) -> bool {
    match (address, gateway) {
        (IpAddr::V4(a), IpAddr::V4(g)) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(g) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(g)) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(g) & mask
        }
        _ => false,
    }
}

/// Whether an address may go in the pool of `gateway/prefix`: inside it, and neither its
/// gateway nor (IPv4) its network or broadcast address.
fn fits(address: IpAddr, gateway: IpAddr, prefix: u8) -> bool {
    if address == gateway || !in_network(address, gateway, prefix) {
        return false;
    }
    match address {
        IpAddr::V4(v4) if prefix <= 30 => {
            let host_bits = u32::MAX >> prefix;
            let host = u32::from(v4) & host_bits;
            host != 0 && host != host_bits
        }
        _ => true,
    }
}

impl BackendForm {
    fn of(backend: &Backend) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let number = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_default();
        Self {
            name: backend.name.clone(),
            driver: backend.driver.clone(),
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

    /// Checks every field; `has_secret` is whether a token secret is already stored (editing).
    /// Returns the fields to store and the new token secret, if one was typed.
    fn parse(
        &self,
        names: &Names,
        has_secret: bool,
    ) -> Result<(BackendFields, Option<String>), FormErrors> {
        let mut errors = FormErrors::default();
        let mut problem = |field: &str, text: &str| errors.add(field, label(field), text);

        let name = self.name.trim();
        if name.is_empty() {
            problem("name", "is required");
        } else if name.chars().count() > 100 {
            problem("name", "must be at most 100 characters");
        }
        if !matches!(self.driver.as_str(), "manual" | "proxmox") {
            problem("driver", "must be manual or proxmox");
        }
        let location_id = self.location_id.trim().parse::<i32>().ok();
        if location_id.is_none_or(|id| names.location(Some(id)) == "—") {
            problem("location_id", "choose a location");
        }

        let mut fields = BackendFields {
            name: name.to_owned(),
            driver: self.driver.clone(),
            location_id: location_id.unwrap_or_default(),
            is_active: self.active(),
            ..BackendFields::default()
        };
        let mut secret = None;
        if self.proxmox() {
            let api_url = self.api_url.trim();
            let host = api_url.strip_prefix("https://").unwrap_or("");
            if api_url.is_empty() {
                problem("api_url", "is required");
            } else if host.is_empty()
                || host.starts_with('/')
                || api_url.chars().any(char::is_whitespace)
                || api_url.len() > 255
            {
                problem(
                    "api_url",
                    "must be an https:// address like https://pve1.example.pk:8006",
                );
            }
            let token_id = self.token_id.trim();
            if token_id.is_empty() {
                problem("token_id", "is required");
            } else if !is_token_id(token_id) {
                problem(
                    "token_id",
                    "must look like user@realm!name, e.g. ngr@pve!shop",
                );
            }
            if !self.token_secret.trim().is_empty() {
                secret = Some(self.token_secret.trim().to_owned());
            } else if !has_secret {
                problem("token_secret", "is required");
            }
            let pem = self.tls_ca_pem.trim();
            if !pem.is_empty() && !pem.contains("-----BEGIN CERTIFICATE-----") {
                problem(
                    "tls_ca_pem",
                    "must be a PEM certificate (-----BEGIN CERTIFICATE-----)",
                );
            }
            for (field, value) in [("node", &self.node), ("storage", &self.storage)] {
                if value.trim().is_empty() {
                    problem(field, "is required");
                } else if value.trim().chars().count() > 100 {
                    problem(field, "must be at most 100 characters");
                }
            }
            let vmid = |text: &str| -> Result<i32, &'static str> {
                match text.trim() {
                    "" => Err("is required"),
                    text => text
                        .parse::<i32>()
                        .ok()
                        .filter(|n| (100..=999_999_999).contains(n))
                        .ok_or("must be a whole number from 100 to 999999999"),
                }
            };
            let vmid_min = vmid(&self.vmid_min)
                .map_err(|e| problem("vmid_min", e))
                .ok();
            let vmid_max = vmid(&self.vmid_max)
                .map_err(|e| problem("vmid_max", e))
                .ok();
            if let (Some(min), Some(max)) = (vmid_min, vmid_max)
                && min > max
            {
                problem("vmid_max", "must not be below the first VM id");
            }
            let gateway = match self.ip_gateway.trim() {
                "" => {
                    problem("ip_gateway", "is required");
                    None
                }
                text => text
                    .parse::<IpAddr>()
                    .map_err(|_| problem("ip_gateway", "must be an IP address like 203.0.113.1"))
                    .ok(),
            };
            let most = if matches!(gateway, Some(IpAddr::V6(_))) {
                128
            } else {
                32
            };
            let prefix = match self.ip_prefix.trim() {
                "" => {
                    problem("ip_prefix", "is required");
                    None
                }
                text => text
                    .trim_start_matches('/')
                    .parse::<i16>()
                    .ok()
                    .filter(|p| (1..=most).contains(p))
                    .ok_or(())
                    .map_err(|_| {
                        problem("ip_prefix", &format!("must be a number from 1 to {most}"))
                    })
                    .ok(),
            };
            let nameservers: Vec<&str> = self
                .nameservers
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if nameservers.iter().any(|s| s.parse::<IpAddr>().is_err()) {
                problem(
                    "nameservers",
                    "must be IP addresses separated by commas or spaces",
                );
            }
            fields.api_url = Some(api_url.to_owned());
            fields.token_id = Some(token_id.to_owned());
            fields.tls_ca_pem = optional(pem);
            fields.node = optional(&self.node);
            fields.storage = optional(&self.storage);
            fields.bridge = optional(&self.bridge);
            fields.vmid_min = vmid_min;
            fields.vmid_max = vmid_max;
            fields.ip_gateway = gateway.map(|g| g.to_string());
            fields.ip_prefix = prefix;
            fields.nameservers = (!nameservers.is_empty()).then(|| nameservers.join(","));
        }
        if errors.is_empty() {
            Ok((fields, secret))
        } else {
            Err(errors)
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
    let names = Names::load(&state).await?;
    let form = BackendForm {
        driver: "proxmox".to_owned(),
        is_active: Some("on".to_owned()),
        bridge: "vmbr0".to_owned(),
        ..BackendForm::default()
    };
    form_page(&admin, &names, None, form, None)
}

/// The database's refusals of a backend write, beside their field.
fn constraint_errors<T>(result: sqlx::Result<T>) -> AppResult<T> {
    result
        .on_constraint("provisioning_backends_location_key", |_| {
            AppError::conflict("location_id", "this location already has an active backend")
        })
        .on_constraint("provisioning_backends_name_key", |_| {
            AppError::conflict("name", "another backend already has this name")
        })
}

fn audit_json(backend: &Backend) -> serde_json::Value {
    let mut value = serde_json::to_value(backend).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("created_at");
        object.remove("updated_at");
        object.insert(
            "token_secret_set".into(),
            backend.token_secret_encrypted.is_some().into(),
        );
    }
    value
}

async fn write_audit(
    tx: &mut sqlx::PgConnection,
    admin: &PageAdmin,
    ip: &str,
    action: &str,
    id: i32,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> AppResult<()> {
    audit::insert(
        tx,
        &NewAuditEntry {
            actor_user_id: Some(admin.0.user.id),
            action,
            entity_type: "provisioning_backend",
            entity_id: Some(&id.to_string()),
            before,
            after,
            ip_address: Some(ip),
        },
    )
    .await?;
    Ok(())
}

async fn create_backend(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(form): Form<BackendForm>,
) -> AppResult<Response> {
    let names = Names::load(&state).await?;
    let (fields, secret) = match form.parse(&names, false) {
        Ok(parsed) => parsed,
        Err(errors) => return form_page(&admin, &names, None, form, Some(invalid(errors))),
    };
    let outcome = async {
        let mut tx = state.db.begin().await?;
        // The row check wants a secret for Proxmox: a placeholder, sealed for the real id below.
        let placeholder = secret.as_ref().map(|_| "sealing");
        let backend = constraint_errors(backends::insert(&mut *tx, &fields, placeholder).await)?;
        let backend = match &secret {
            Some(secret) => {
                let sealed = state
                    .settings
                    .provisioning
                    .keyring
                    .seal(secret, &Provisioning::backend_context(backend.id));
                backends::set_token_secret(&mut *tx, backend.id, &sealed).await?;
                backends::find(&mut *tx, backend.id)
                    .await?
                    .ok_or(AppError::NotFound("backend"))?
            }
            None => backend,
        };
        write_audit(
            &mut tx,
            &admin,
            &ip,
            "backend.create",
            backend.id,
            None,
            Some(audit_json(&backend)),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, AppError>(backend)
    }
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
    let names = Names::load(&state).await?;
    let before = find_backend(&state, id).await?;
    let has_secret = before.token_secret_encrypted.is_some();
    let (fields, secret) = match form.parse(&names, has_secret) {
        Ok(parsed) => parsed,
        Err(errors) => {
            return render_backend(&state, &admin, before, Extras::form(form, invalid(errors)))
                .await;
        }
    };
    let outcome = async {
        let mut tx = state.db.begin().await?;
        if let Some(secret) = &secret {
            let sealed = state
                .settings
                .provisioning
                .keyring
                .seal(secret, &Provisioning::backend_context(id));
            backends::set_token_secret(&mut *tx, id, &sealed).await?;
        }
        let after = constraint_errors(backends::update(&mut *tx, id, &fields).await)?
            .ok_or(AppError::NotFound("backend"))?;
        write_audit(
            &mut tx,
            &admin,
            &ip,
            "backend.update",
            id,
            Some(audit_json(&before)),
            Some(audit_json(&after)),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    }
    .await;
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
}

const TEMPLATE_FIELDS: &[(&str, &str)] = &[
    ("plan_id", "Plan"),
    ("template_vmid", "Template VM id"),
    ("cores", "Cores"),
    ("memory_mb", "Memory (MB)"),
    ("disk_gb", "Disk (GB)"),
    ("username", "Username"),
];

impl TemplateForm {
    fn parse(&self, backend_id: i32, names: &Names) -> Result<PlanTemplate, FormErrors> {
        let mut errors = FormErrors::default();
        let plan_id = self.plan_id.trim();
        if plan_id.is_empty() || names.plan(Some(plan_id)) == plan_id {
            errors.add("plan_id", "Plan", "choose a plan");
        }
        let mut number = |field: &str, label: &str, text: &str, min: i32, max: i32| match text
            .trim()
            .parse::<i32>()
        {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                errors.add(
                    field,
                    label,
                    &format!("must be a whole number from {min} to {max}"),
                );
                0
            }
        };
        let template = PlanTemplate {
            backend_id,
            plan_id: plan_id.to_owned(),
            template_vmid: number(
                "template_vmid",
                "Template VM id",
                &self.template_vmid,
                100,
                999_999_999,
            ),
            cores: number("cores", "Cores", &self.cores, 1, 512),
            memory_mb: number("memory_mb", "Memory (MB)", &self.memory_mb, 256, 4_194_304),
            disk_gb: number("disk_gb", "Disk (GB)", &self.disk_gb, 1, 65_536),
            username: self.username.trim().to_owned(),
        };
        if template.username.is_empty() {
            errors.add("username", "Username", "is required");
        } else if template.username.chars().count() > 100 {
            errors.add("username", "Username", "must be at most 100 characters");
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
    let names = Names::load(state).await?;
    let hold_days = state.settings.provisioning.lifecycle.ip_hold_days;
    let capacity = if backend.is_active && backend.driver == "proxmox" {
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
    let names = Names::load(&state).await?;
    let failure = match form.parse(id, &names) {
        Err(errors) => invalid(errors),
        Ok(template) => {
            let outcome = async {
                let mut tx = state.db.begin().await?;
                let saved = backends::upsert_template(&mut *tx, &template).await?;
                write_audit(
                    &mut tx,
                    &admin,
                    &ip,
                    "backend.template.set",
                    id,
                    None,
                    serde_json::to_value(&saved).ok(),
                )
                .await?;
                tx.commit().await?;
                Ok::<_, AppError>(())
            }
            .await;
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
    let mut tx = state.db.begin().await?;
    if backends::delete_template(&mut *tx, id, form.plan_id.trim()).await? {
        write_audit(
            &mut tx,
            &admin,
            &ip,
            "backend.template.delete",
            id,
            Some(serde_json::json!({ "plan_id": form.plan_id.trim() })),
            None,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(see_other(&format!(
        "/admin/backends/{id}?notice=template-deleted#templates"
    )))
}

/// The addresses typed in the pool form: one a line (or separated by commas or spaces), or a
/// range `a-b` of one family; each must be inside the backend's network and not its gateway.
fn parse_addresses(text: &str, backend: &Backend) -> Result<Vec<String>, String> {
    let network = match (&backend.ip_gateway, backend.ip_prefix) {
        (Some(gateway), Some(prefix)) => gateway
            .parse::<IpAddr>()
            .ok()
            .map(|g| (g, u8::try_from(prefix).unwrap_or(0))),
        _ => None,
    };
    let mut out: Vec<String> = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    let mut outside: Vec<String> = Vec::new();
    let mut push = |address: IpAddr, out: &mut Vec<String>| {
        if let Some((gateway, prefix)) = network
            && !fits(address, gateway, prefix)
        {
            outside.push(address.to_string());
        } else {
            out.push(address.to_string());
        }
    };
    for item in text
        .split(|c: char| c == '\n' || c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if let Some((from, to)) = item.split_once('-') {
            let range = match (from.trim().parse::<IpAddr>(), to.trim().parse::<IpAddr>()) {
                (Ok(IpAddr::V4(a)), Ok(IpAddr::V4(b))) if u32::from(a) <= u32::from(b) => {
                    let count = (u32::from(b) - u32::from(a)) as usize + 1;
                    (count <= MAX_NEW_ADDRESSES).then(|| {
                        (u32::from(a)..=u32::from(b))
                            .map(|n| IpAddr::V4(n.into()))
                            .collect::<Vec<_>>()
                    })
                }
                (Ok(IpAddr::V6(a)), Ok(IpAddr::V6(b))) if u128::from(a) <= u128::from(b) => {
                    let span = u128::from(b) - u128::from(a);
                    (span < MAX_NEW_ADDRESSES as u128).then(|| {
                        (0..=span)
                            .map(|i| IpAddr::V6((u128::from(a) + i).into()))
                            .collect::<Vec<_>>()
                    })
                }
                _ => None,
            };
            match range {
                Some(addresses) => addresses.into_iter().for_each(|a| push(a, &mut out)),
                None => bad.push(item.to_owned()),
            }
        } else {
            match item.parse::<IpAddr>() {
                Ok(address) => push(address, &mut out),
                Err(_) => bad.push(item.to_owned()),
            }
        }
        if out.len() > MAX_NEW_ADDRESSES {
            return Err(format!(
                "add at most {MAX_NEW_ADDRESSES} addresses at a time"
            ));
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
        let (gateway, prefix) = network.expect("outside needs a network");
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
    Ok(out)
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
    let mut tx = state.db.begin().await?;
    let added = backends::add_addresses(&mut *tx, id, &addresses).await?;
    write_audit(
        &mut tx,
        &admin,
        &ip,
        "backend.addresses.add",
        id,
        None,
        Some(serde_json::json!({ "typed": addresses.len(), "added": added })),
    )
    .await?;
    tx.commit().await?;
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
    let mut tx = state.db.begin().await?;
    let removed = backends::remove_address(&mut *tx, id, &address.to_string()).await?;
    if removed {
        write_audit(
            &mut tx,
            &admin,
            &ip,
            "backend.addresses.remove",
            id,
            Some(serde_json::json!({ "address": address.to_string() })),
            None,
        )
        .await?;
    }
    tx.commit().await?;
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
    fn token_ids_and_networks_are_checked() {
        assert!(is_token_id("ngr@pve!shop"));
        assert!(!is_token_id("ngr@pve"));
        assert!(!is_token_id("ngr!shop"));
        assert!(!is_token_id("@pve!shop"));
        let gateway: IpAddr = "203.0.113.1".parse().unwrap();
        assert!(in_network("203.0.113.77".parse().unwrap(), gateway, 24));
        assert!(!in_network("203.0.114.7".parse().unwrap(), gateway, 24));
        assert!(!in_network("2001:db8::1".parse().unwrap(), gateway, 24));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(in_network("2001:db8::ff".parse().unwrap(), v6, 64));
        assert!(fits("203.0.113.77".parse().unwrap(), gateway, 24));
        assert!(!fits("203.0.113.0".parse().unwrap(), gateway, 24));
        assert!(!fits("203.0.113.255".parse().unwrap(), gateway, 24));
        assert!(!fits(gateway, gateway, 24));
    }
}
