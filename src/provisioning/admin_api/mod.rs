//! The operator's JSON API for provisioning backends: `/api/v1/admin/backends*` — the backends
//! themselves (one active per location), the template each clones for a plan, their IP pools,
//! and a connection check. The API token secret is write-only: sealed with the credential key
//! for the backend's id, never returned (`has_token` says whether one is set). Every change is
//! written to the audit log in its transaction.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use self::pool::{add_addresses, list_addresses, remove_address};
use super::Provisioning;
use super::backends::{self, Backend, Template};
use super::validation::{self, BackendRequest, validate_backend};
use crate::accounts::extract::ApiAdmin;
use crate::accounts::validation::FieldErrors;
use crate::app::AppState;
use crate::audit::{self, NewAuditEntry};
use crate::catalog::plans;
use crate::error::{AppError, AppResult, ResultExt};
use crate::web::extract::{AppJson, ClientIp};

mod pool;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/backends", get(list_backends).post(create_backend))
        .route(
            "/admin/backends/{id}",
            get(find_backend)
                .patch(update_backend)
                .delete(delete_backend),
        )
        .route("/admin/backends/{id}/check", post(check_backend))
        .route(
            "/admin/backends/{id}/templates/{plan_id}",
            put(set_template).delete(delete_template),
        )
        .route(
            "/admin/backends/{id}/addresses",
            get(list_addresses).post(add_addresses),
        )
        .route(
            "/admin/backends/{id}/addresses/{address}",
            axum::routing::delete(remove_address),
        )
}

/// A backend as the operator sees it: every field but the token secret, and whether one is set.
pub(super) fn backend_view(backend: &Backend) -> Value {
    let mut value = serde_json::to_value(backend).unwrap_or_default();
    value["has_token"] = json!(backend.token_secret_encrypted.is_some());
    value
}

async fn find_or_404(db: &sqlx::PgPool, id: i32) -> AppResult<Backend> {
    backends::find(db, id)
        .await?
        .ok_or(AppError::NotFound("backend"))
}

/// Writes a change of backend `id` to the audit log, in the change's transaction.
pub(super) async fn audit_backend(
    tx: &mut sqlx::PgConnection,
    actor: i32,
    ip: &str,
    action: &str,
    id: i32,
    before: Option<Value>,
    after: Option<Value>,
) -> AppResult<()> {
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: Some(actor),
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

async fn list_backends(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> AppResult<impl IntoResponse> {
    let items: Vec<Value> = backends::list(&state.db)
        .await?
        .iter()
        .map(backend_view)
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn find_backend(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let backend = find_or_404(&state.db, id).await?;
    let templates = backends::list_templates(&state.db, id).await?;
    let mut view = backend_view(&backend);
    view["templates"] = json!(templates);
    Ok(Json(view))
}

fn location_taken() -> AppError {
    AppError::conflict(
        "location_id",
        "the location already has an active backend; deactivate that one first",
    )
}

fn name_taken() -> AppError {
    AppError::conflict("name", "a backend with this name already exists")
}

/// Seals a backend's API token secret for its id and stores it, in the change's transaction.
pub(super) async fn store_token_secret(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    id: i32,
    secret: &str,
) -> AppResult<()> {
    let sealed = state
        .settings
        .provisioning
        .keyring
        .seal(secret, &Provisioning::backend_context(id));
    backends::set_token_secret(tx, id, &sealed).await?;
    Ok(())
}

/// A sealed-looking value that satisfies the row check until the real secret, sealed for the
/// new id, replaces it in the same transaction.
const PLACEHOLDER_SECRET: &str = "v1:00000000:placeholder";

async fn create_backend(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<BackendRequest>,
) -> AppResult<impl IntoResponse> {
    let (fields, secret) = validate_backend(&state.db, body, None).await?;
    let mut tx = state.db.begin().await?;
    let created = backends::insert(
        &mut *tx,
        &fields,
        secret.as_ref().map(|_| PLACEHOLDER_SECRET),
    )
    .await
    .on_constraint("provisioning_backends_location_key", |_| location_taken())
    .on_constraint("provisioning_backends_name_key", |_| name_taken())?;
    if let Some(secret) = &secret {
        store_token_secret(&state, &mut tx, created.id, secret).await?;
    }
    let created = backends::find(&mut *tx, created.id)
        .await?
        .ok_or(AppError::NotFound("backend"))?;
    let view = backend_view(&created);
    audit_backend(
        &mut tx,
        admin.user.id,
        &ip,
        "backend.create",
        created.id,
        None,
        Some(view.clone()),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn update_backend(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<BackendRequest>,
) -> AppResult<impl IntoResponse> {
    let before = find_or_404(&state.db, id).await?;
    let (fields, secret) = validate_backend(&state.db, body, Some(&before)).await?;
    let mut tx = state.db.begin().await?;
    backends::update(&mut *tx, id, &fields)
        .await
        .on_constraint("provisioning_backends_location_key", |_| location_taken())
        .on_constraint("provisioning_backends_name_key", |_| name_taken())?
        .ok_or(AppError::NotFound("backend"))?;
    if let Some(secret) = &secret {
        store_token_secret(&state, &mut tx, id, secret).await?;
    }
    let after = backends::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("backend"))?;
    let mut after_view = backend_view(&after);
    if secret.is_some() {
        after_view["token_secret"] = json!("replaced");
    }
    audit_backend(
        &mut tx,
        admin.user.id,
        &ip,
        "backend.update",
        id,
        Some(backend_view(&before)),
        Some(after_view),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(backend_view(&after)))
}

/// Deletes a backend that never built anything; one that did is a 409 (deactivate it instead:
/// its VM ids must never be handed out again).
async fn delete_backend(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<StatusCode> {
    let before = find_or_404(&state.db, id).await?;
    let mut tx = state.db.begin().await?;
    if !backends::delete_unused(&mut *tx, id).await? {
        return Err(AppError::conflict(
            "id",
            format!(
                "backend {} has built servers (VM ids or addresses handed out); deactivate it \
                 instead",
                before.name
            ),
        ));
    }
    audit_backend(
        &mut tx,
        admin.user.id,
        &ip,
        "backend.delete",
        id,
        Some(backend_view(&before)),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks the backend's API for its version: whether the URL, token and certificate work.
async fn check_backend(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let backend = find_or_404(&state.db, id).await?;
    if backend.driver != "proxmox" {
        return Ok(Json(
            json!({ "ok": false, "error": "a manual backend has no API to check" }),
        ));
    }
    let client = match super::provision::client_for(&state.settings.provisioning, &backend) {
        Ok(client) => client,
        Err(err) => return Ok(Json(json!({ "ok": false, "error": format!("{err:#}") }))),
    };
    Ok(Json(match client.version().await {
        Ok(version) => json!({ "ok": true, "version": version }),
        Err(err) => json!({ "ok": false, "error": err.to_string() }),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateRequest {
    template_vmid: i64,
    cores: i64,
    memory_mb: i64,
    disk_gb: i64,
    username: Option<String>,
}

/// Sets (creates or replaces) the template the backend clones for a plan.
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
    let mut tx = state.db.begin().await?;
    let before = backends::find_template(&mut *tx, id, &plan_id).await?;
    let template = backends::upsert_template(
        &mut *tx,
        &Template {
            backend_id: id,
            plan_id: plan_id.clone(),
            template_vmid,
            cores,
            memory_mb,
            disk_gb,
            username,
        },
    )
    .await?;
    audit_backend(
        &mut tx,
        admin.user.id,
        &ip,
        "backend.template_set",
        id,
        before.map(|t| json!(t)),
        Some(json!(template)),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(template))
}

async fn delete_template(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path((id, plan_id)): Path<(i32, String)>,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let before = backends::find_template(&mut *tx, id, &plan_id)
        .await?
        .ok_or(AppError::NotFound("template"))?;
    backends::delete_template(&mut *tx, id, &plan_id).await?;
    audit_backend(
        &mut tx,
        admin.user.id,
        &ip,
        "backend.template_delete",
        id,
        Some(json!(before)),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
