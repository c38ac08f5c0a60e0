//! The operator's JSON API for provisioning backends: `/api/v1/admin/backends*` — the backends
//! themselves (one active per location), the template each clones for a plan, their IP pools,
//! and a connection check. The API token secret is write-only: sealed with the credential key
//! for the backend's id, never returned (`has_token` says whether one is set). Every change is
//! written to the audit log in its transaction.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::backends::{self, Backend, Template};
use super::manage;
use super::validation::{self, BackendRequest, validate_backend};
use crate::accounts::extract::ApiAdmin;
use crate::accounts::validation::FieldErrors;
use crate::app::AppState;
use crate::catalog::plans;
use crate::error::{AppError, AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};

mod pool;
mod systems;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_backends, create_backend))
        .routes(routes!(find_backend, update_backend, delete_backend))
        .routes(routes!(check_backend))
        .routes(routes!(set_template, delete_template))
        .routes(routes!(pool::list_addresses, pool::add_addresses))
        .routes(routes!(pool::remove_address))
        .routes(routes!(systems::list_systems, systems::create_system))
        .routes(routes!(
            systems::find_system,
            systems::update_system,
            systems::delete_system
        ))
}

/// A backend as the operator sees it: every field but the token secret, and whether one is set.
#[derive(Debug, Serialize, ToSchema)]
struct BackendView {
    #[serde(flatten)]
    backend: Backend,
    /// Whether an API token secret is stored (the secret itself is never shown).
    has_token: bool,
}

impl From<&Backend> for BackendView {
    fn from(backend: &Backend) -> Self {
        Self {
            backend: backend.clone(),
            has_token: backend.token_secret_encrypted.is_some(),
        }
    }
}

/// A backend with the templates it clones for plans.
#[derive(Debug, Serialize, ToSchema)]
struct BackendDetail {
    #[serde(flatten)]
    view: BackendView,
    /// Its template for each plan, by plan id.
    templates: Vec<Template>,
}

/// Every backend.
#[derive(Debug, Serialize, ToSchema)]
struct BackendList {
    items: Vec<BackendView>,
}

/// What a backend's API answered a version request (a manual backend has no API: `ok` false).
#[derive(Debug, Serialize, ToSchema)]
struct BackendCheck {
    /// Whether the URL, token and certificate work.
    ok: bool,
    /// The Proxmox VE version; only when `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    version: Option<String>,
    /// Why the check failed; only when not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    error: Option<String>,
}

impl BackendCheck {
    fn failed(error: String) -> Self {
        Self {
            ok: false,
            version: None,
            error: Some(error),
        }
    }
}

async fn find_or_404(db: &sqlx::PgPool, id: i32) -> AppResult<Backend> {
    backends::find(db, id)
        .await?
        .ok_or(AppError::NotFound("backend"))
}

/// Every provisioning backend, by name.
#[utoipa::path(get, path = "/api/v1/admin/backends", tag = "admin",
    responses((status = OK, description = "Every backend, by name (token secrets never shown)", body = BackendList)),
    security(("bearer" = [])),
)]
async fn list_backends(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> AppResult<impl IntoResponse> {
    let items: Vec<BackendView> = backends::list(&state.db)
        .await?
        .iter()
        .map(BackendView::from)
        .collect();
    Ok(Json(BackendList { items }))
}

/// One backend, with its plan templates.
#[utoipa::path(get, path = "/api/v1/admin/backends/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The backend's id")),
    responses((status = OK, description = "The backend and its templates", body = BackendDetail)),
    security(("bearer" = [])),
)]
async fn find_backend(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let backend = find_or_404(&state.db, id).await?;
    let templates = backends::list_templates(&state.db, id).await?;
    Ok(Json(BackendDetail {
        view: BackendView::from(&backend),
        templates,
    }))
}

/// Creates a backend (audited); its API token secret is stored sealed.
#[utoipa::path(post, path = "/api/v1/admin/backends", tag = "admin",
    request_body(content = BackendRequest, description = "`name`, `driver` and `location_id` are required; a `proxmox` backend needs its API and network fields too"),
    responses(
        (status = CREATED, description = "The new backend", body = BackendView),
        (status = CONFLICT, description = "The name is taken (`errors.name`), or the location already has an active backend (`errors.location_id`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn create_backend(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<BackendRequest>,
) -> AppResult<impl IntoResponse> {
    let (fields, secret) = validate_backend(&state.db, body, None).await?;
    let created = manage::create_backend(
        &state.db,
        &state.provisioning,
        &admin.actor(&ip),
        &fields,
        secret.as_deref(),
    )
    .await?;
    let view = BackendView::from(&created);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Changes a backend (audited).
///
/// Absent fields are kept, `null` clears an optional one, and a `token_secret` replaces the
/// stored one (which, as a change of credentials, needs a second factor proved in the last 10
/// minutes).
#[utoipa::path(patch, path = "/api/v1/admin/backends/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The backend's id")),
    request_body = BackendRequest,
    responses(
        (status = OK, description = "The backend as changed", body = BackendView),
        (status = CONFLICT, description = "The name is taken (`errors.name`), or the location already has an active backend (`errors.location_id`)",
            body = Problem, content_type = "application/problem+json"),
        (status = FORBIDDEN, description = "A new `token_secret` without a fresh second factor: send a code to `POST /me/two-factor/verify` (`two-factor`), then retry",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn update_backend(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<BackendRequest>,
) -> AppResult<impl IntoResponse> {
    if body.token_secret.is_some() {
        admin.require_recent_two_factor()?;
    }
    let before = find_or_404(&state.db, id).await?;
    let (fields, secret) = validate_backend(&state.db, body, Some(&before)).await?;
    let after = manage::update_backend(
        &state.db,
        &state.provisioning,
        &admin.actor(&ip),
        &before,
        &fields,
        secret.as_deref(),
    )
    .await?;
    Ok(Json(BackendView::from(&after)))
}

/// Deletes a backend that never built anything (audited).
///
/// One that did is a 409: deactivate it instead, as its VM ids must never be handed out again.
#[utoipa::path(delete, path = "/api/v1/admin/backends/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The backend's id")),
    responses(
        (status = NO_CONTENT, description = "Deleted, with its templates and free addresses"),
        (status = CONFLICT, description = "The backend has built servers (VM ids or addresses handed out); deactivate it instead",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn delete_backend(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<StatusCode> {
    let before = find_or_404(&state.db, id).await?;
    manage::delete_backend(&state.db, &admin.actor(&ip), &before).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks the backend's API for its version: whether the URL, token and certificate work.
#[utoipa::path(post, path = "/api/v1/admin/backends/{id}/check", tag = "admin",
    params(("id" = i32, Path, description = "The backend's id")),
    responses((status = OK, description = "The outcome (a failed check is a 200 with `ok` false and the `error`)", body = BackendCheck)),
    security(("bearer" = [])),
)]
async fn check_backend(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<Json<BackendCheck>> {
    let backend = find_or_404(&state.db, id).await?;
    if backend.driver != backends::BackendDriver::Proxmox {
        return Ok(Json(BackendCheck::failed(
            "a manual backend has no API to check".to_owned(),
        )));
    }
    let client = match state.provisioning.client(&backend) {
        Ok(client) => client,
        Err(err) => return Ok(Json(BackendCheck::failed(format!("{err:#}")))),
    };
    Ok(Json(match client.version().await {
        Ok(version) => BackendCheck {
            ok: true,
            version: Some(version),
            error: None,
        },
        Err(err) => BackendCheck::failed(err.to_string()),
    }))
}

/// The template a backend clones for a plan, and the clone's size.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BackendTemplateRequest)]
struct TemplateRequest {
    /// The VM id of the Proxmox template to clone.
    #[schema(minimum = 100, maximum = 999_999_999)]
    template_vmid: i64,
    /// CPU cores of the clone.
    #[schema(minimum = 1, maximum = 512)]
    cores: i64,
    /// Memory of the clone, in MiB.
    #[schema(minimum = 256, maximum = 4_194_304)]
    memory_mb: i64,
    /// Disk of the clone, in GiB.
    #[schema(minimum = 1, maximum = 65_536)]
    disk_gb: i64,
    /// The login user cloud-init creates: 1 to 100 characters without spaces; default `root`.
    username: Option<String>,
    /// Snapshots a customer may keep of a server of this plan (0 to 20; default 0: none).
    #[schema(minimum = 0, maximum = 20)]
    #[serde(default)]
    snapshot_limit: i64,
}

/// Sets (creates or replaces) the template the backend clones for a plan.
#[utoipa::path(put, path = "/api/v1/admin/backends/{id}/templates/{plan_id}", tag = "admin",
    params(
        ("id" = i32, Path, description = "The backend's id"),
        ("plan_id" = String, Path, description = "The plan's id (`rdp-basic`)"),
    ),
    request_body = TemplateRequest,
    responses((status = OK, description = "The template as stored", body = Template)),
    security(("bearer" = [])),
)]
async fn set_template(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path((id, plan_id)): Path<(i32, String)>,
    AppJson(body): AppJson<TemplateRequest>,
) -> AppResult<impl IntoResponse> {
    find_or_404(&state.db, id).await?;
    plans::find(&state.db, &plan_id)
        .await?
        .ok_or(AppError::NotFound("plan"))?;
    let mut errors = FieldErrors::default();
    let mut number = |field: &str, value: i64| -> i32 {
        if let Some(problem) = validation::template_number_problem(field, value) {
            errors.add(field, &problem);
        }
        i32::try_from(value).unwrap_or_default()
    };
    let template_vmid = number("template_vmid", body.template_vmid);
    let cores = number("cores", body.cores);
    let memory_mb = number("memory_mb", body.memory_mb);
    let disk_gb = number("disk_gb", body.disk_gb);
    let snapshot_limit = number("snapshot_limit", body.snapshot_limit);
    let username = body
        .username
        .map(|u| u.trim().to_owned())
        .unwrap_or_else(|| "root".to_owned());
    if let Some(problem) = validation::template_username_problem(&username) {
        errors.add("username", problem);
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    let template = manage::set_template(
        &state.db,
        &admin.actor(&ip),
        &Template {
            backend_id: id,
            plan_id: plan_id.clone(),
            template_vmid,
            cores,
            memory_mb,
            disk_gb,
            username,
            snapshot_limit,
        },
    )
    .await?;
    Ok(Json(template))
}

/// Removes the template a backend clones for a plan.
#[utoipa::path(delete, path = "/api/v1/admin/backends/{id}/templates/{plan_id}", tag = "admin",
    params(
        ("id" = i32, Path, description = "The backend's id"),
        ("plan_id" = String, Path, description = "The plan's id (`rdp-basic`)"),
    ),
    responses((status = NO_CONTENT, description = "Removed")),
    security(("bearer" = [])),
)]
async fn delete_template(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path((id, plan_id)): Path<(i32, String)>,
) -> AppResult<StatusCode> {
    manage::delete_template(&state.db, &admin.actor(&ip), id, &plan_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
