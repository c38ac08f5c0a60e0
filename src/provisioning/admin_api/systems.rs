//! The operating systems the shop offers: `/api/v1/admin/os-templates*` — each with the plans
//! that offer it and the template VM each backend clones for it, changed as a whole (audited).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::provisioning::systems::{self, System, SystemRequest};
use crate::web::extract::{AppJson, ClientIp};

/// Every system the shop knows.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SystemList {
    items: Vec<System>,
}

/// Every operating system, in list order, with its plans and backend template VMs.
#[utoipa::path(get, path = "/api/v1/admin/os-templates", tag = "admin",
    responses((status = OK, description = "Every system, in list order", body = SystemList)),
    security(("bearer" = [])),
)]
pub(super) async fn list_systems(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> AppResult<impl IntoResponse> {
    Ok(Json(SystemList {
        items: systems::list(&state.db).await?,
    }))
}

/// Adds an operating system customers may choose (audited).
#[utoipa::path(post, path = "/api/v1/admin/os-templates", tag = "admin",
    request_body = SystemRequest,
    responses(
        (status = CREATED, description = "The system as stored", body = System),
        (status = CONFLICT, description = "Another system has this name",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn create_system(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<SystemRequest>,
) -> AppResult<impl IntoResponse> {
    let system = systems::create(&state.catalog_store(), &admin.actor(&ip), &body).await?;
    Ok((StatusCode::CREATED, Json(system)))
}

/// One operating system with its plans and backend template VMs.
#[utoipa::path(get, path = "/api/v1/admin/os-templates/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The system's id")),
    responses((status = OK, description = "The system", body = System)),
    security(("bearer" = [])),
)]
pub(super) async fn find_system(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let system = systems::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("os template"))?;
    Ok(Json(system))
}

/// Replaces an operating system: its fields, the plans that offer it and the backends'
/// template VMs (audited). Servers already built keep what they were built with.
#[utoipa::path(put, path = "/api/v1/admin/os-templates/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The system's id")),
    request_body = SystemRequest,
    responses(
        (status = OK, description = "The system as stored", body = System),
        (status = CONFLICT, description = "Another system has this name",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn update_system(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<SystemRequest>,
) -> AppResult<impl IntoResponse> {
    let system = systems::update(&state.catalog_store(), &admin.actor(&ip), id, &body).await?;
    Ok(Json(system))
}

/// Deletes an operating system (audited): plans stop offering it, cart lines choosing it go,
/// and the servers built with it keep its name.
#[utoipa::path(delete, path = "/api/v1/admin/os-templates/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The system's id")),
    responses((status = NO_CONTENT, description = "Deleted")),
    security(("bearer" = [])),
)]
pub(super) async fn delete_system(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    systems::delete(&state.catalog_store(), &admin.actor(&ip), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
