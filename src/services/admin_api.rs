//! The operator's JSON API for services: `/api/v1/admin/services*` — list and inspect, provision
//! by hand (manual driver), suspend / resume / terminate / retry, correct the login details,
//! reveal them — and `/api/v1/admin/service-requests`, the customers' requests waiting for the
//! operator, closed with `POST .../requests/{log_id}/resolve`. Every change (and every reveal)
//! is written to the audit log in its transaction.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::ServiceStatus;
use super::lifecycle::{self, Acted, ManualProvision, RequestResolution, ServiceUpdate};
use super::logs;
use super::services::{self, ServiceFilter};
use crate::accounts::extract::ApiAdmin;
use crate::accounts::users;
use crate::app::AppState;
use crate::audit::{self, NewAuditEntry};
use crate::error::{AppError, AppResult};
use crate::web::extract::{AppJson, ClientIp};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/services", get(list_services))
        .route("/admin/service-requests", get(list_requests))
        .route(
            "/admin/services/{id}",
            get(find_service).patch(update_service),
        )
        .route("/admin/services/{id}/credentials", get(reveal_credentials))
        .route("/admin/services/{id}/provision", post(provision_service))
        .route("/admin/services/{id}/suspend", post(suspend_service))
        .route("/admin/services/{id}/resume", post(resume_service))
        .route("/admin/services/{id}/terminate", post(terminate_service))
        .route("/admin/services/{id}/retry", post(retry_service))
        .route(
            "/admin/services/{id}/requests/{log_id}/resolve",
            post(resolve_request),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceQuery {
    status: Option<String>,
    user_id: Option<i32>,
    location_id: Option<i32>,
    #[serde(default = "first_page")]
    page: i64,
    #[serde(default = "default_per_page")]
    per_page: i64,
}

fn first_page() -> i64 {
    1
}

fn default_per_page() -> i64 {
    25
}

async fn list_services(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<ServiceQuery>, QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(text.parse::<ServiceStatus>().map_err(|_| {
            let all: Vec<&str> = ServiceStatus::ALL.iter().map(|s| s.as_str()).collect();
            AppError::bad_request("status", format!("must be one of {}", all.join(", ")))
        })?),
        None => None,
    };
    if query.page < 1 {
        return Err(AppError::bad_request("page", "must be 1 or more"));
    }
    if !(1..=100).contains(&query.per_page) {
        return Err(AppError::bad_request(
            "per_page",
            "must be between 1 and 100",
        ));
    }
    let filter = ServiceFilter {
        status: status.map(ServiceStatus::as_str),
        user_id: query.user_id,
        location_id: query.location_id,
    };
    let total = services::count(&state.db, &filter).await?;
    let items = services::list(
        &state.db,
        &filter,
        query.per_page,
        (query.page - 1) * query.per_page,
    )
    .await?;
    Ok(Json(
        json!({ "items": items, "total": total, "page": query.page, "per_page": query.per_page }),
    ))
}

/// The customers' requests on services run by hand, newest first.
async fn list_requests(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> AppResult<impl IntoResponse> {
    let items = logs::list_open_requests(&state.db, 200).await?;
    Ok(Json(json!({ "items": items })))
}

async fn find_service(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let service = services::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    let logs = logs::list_for_service(&state.db, id).await?;
    let customer = match service.user_id {
        Some(user_id) => users::find(&state.db, user_id).await?,
        None => None,
    };
    let has_credentials = service.password_encrypted.is_some();
    Ok(Json(json!({
        "service": service,
        "has_credentials": has_credentials,
        "logs": logs,
        "customer": customer.map(|u| json!({ "id": u.id, "name": u.name, "email": u.email })),
    })))
}

/// Writes the audit entry of an operator's change to a service.
async fn audit_acted(
    tx: &mut sqlx::PgConnection,
    admin: i32,
    ip: &str,
    action: &str,
    acted: &Acted,
) -> AppResult<()> {
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: Some(admin),
            action,
            entity_type: "service",
            entity_id: Some(&acted.service.id.to_string()),
            before: Some(json!({ "status": acted.previous_status })),
            after: Some(json!({
                "status": acted.service.status,
                "log": { "action": acted.log.action, "details": acted.log.details },
            })),
            ip_address: Some(ip),
        },
    )
    .await?;
    Ok(())
}

/// The answer to an operator's change.
fn acted_response(acted: Acted) -> Json<serde_json::Value> {
    Json(json!({ "service": acted.service, "log": acted.log }))
}

async fn reveal_credentials(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let credentials = lifecycle::reveal_credentials_in(
        &mut tx,
        &state.settings.provisioning,
        id,
        None,
        admin.user.id,
    )
    .await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: Some(admin.user.id),
            action: "service.credentials_view",
            entity_type: "service",
            entity_id: Some(&id.to_string()),
            before: None,
            after: None,
            ip_address: Some(&ip),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(credentials)))
}

async fn provision_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<ManualProvision>,
) -> AppResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let acted = lifecycle::provision_by_hand_in(
        &mut tx,
        &state.settings.provisioning,
        id,
        &body,
        admin.user.id,
    )
    .await?;
    audit_acted(&mut tx, admin.user.id, &ip, "service.provision", &acted).await?;
    tx.commit().await?;
    Ok(acted_response(acted))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuspendRequest {
    reason: Option<String>,
}

async fn suspend_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    headers: HeaderMap,
    body: Result<AppJson<SuspendRequest>, AppError>,
) -> AppResult<impl IntoResponse> {
    // The body is optional: a bare POST suspends without a reason.
    let body = match body {
        Ok(AppJson(body)) => body,
        Err(AppError::UnsupportedMediaType) if !headers.contains_key(header::CONTENT_TYPE) => {
            SuspendRequest::default()
        }
        Err(err) => return Err(err),
    };
    let mut tx = state.db.begin().await?;
    let acted = lifecycle::suspend_in(&mut tx, id, admin.user.id, body.reason.as_deref()).await?;
    audit_acted(&mut tx, admin.user.id, &ip, "service.suspend", &acted).await?;
    tx.commit().await?;
    Ok(acted_response(acted))
}

async fn resume_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let acted = lifecycle::resume_in(&mut tx, id, admin.user.id).await?;
    audit_acted(&mut tx, admin.user.id, &ip, "service.resume", &acted).await?;
    tx.commit().await?;
    Ok(acted_response(acted))
}

async fn terminate_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let acted = lifecycle::terminate_in(&mut tx, id, admin.user.id).await?;
    audit_acted(&mut tx, admin.user.id, &ip, "service.terminate", &acted).await?;
    tx.commit().await?;
    Ok(acted_response(acted))
}

async fn retry_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let acted = lifecycle::retry_in(&mut tx, id, admin.user.id).await?;
    audit_acted(&mut tx, admin.user.id, &ip, "service.retry", &acted).await?;
    tx.commit().await?;
    Ok(acted_response(acted))
}

async fn update_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<ServiceUpdate>,
) -> AppResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let acted = lifecycle::update_in(
        &mut tx,
        &state.settings.provisioning,
        id,
        &body,
        admin.user.id,
    )
    .await?;
    audit_acted(&mut tx, admin.user.id, &ip, "service.update", &acted).await?;
    tx.commit().await?;
    Ok(acted_response(acted))
}

/// Closes a customer's request: `{outcome: "done"|"declined", note?, password?}`.
async fn resolve_request(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path((id, log_id)): Path<(i32, i32)>,
    AppJson(body): AppJson<RequestResolution>,
) -> AppResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let acted = lifecycle::resolve_request_in(
        &mut tx,
        &state.settings.provisioning,
        id,
        log_id,
        admin.user.id,
        &body,
    )
    .await?;
    audit_acted(
        &mut tx,
        admin.user.id,
        &ip,
        "service.resolve_request",
        &acted,
    )
    .await?;
    tx.commit().await?;
    Ok(acted_response(acted))
}
