//! The operator's JSON API for services: `/api/v1/admin/services*` — list and inspect, provision
//! by hand (manual driver), suspend / resume / terminate / retry, correct the login details,
//! reveal them — and `/api/v1/admin/service-requests`, the customers' requests waiting for the
//! operator, closed with `POST .../requests/{log_id}/resolve`. Every change (and every reveal)
//! is written to the audit log in its transaction.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::openapi::Required;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use super::ServiceStatus;
use super::api::{
    NewSnapshot, ReinstallRequested, RollbackConfirmation, SnapshotRequested, UsageQuery,
};
use super::console::{self, ConsoleAddress};
use super::lifecycle::{
    self, Acted, Credentials, ManualProvision, RequestResolution, ServiceUpdate,
};
use super::logs::{self, ServiceLog};
use super::reinstall::{self, ReinstallRequest, Requester};
use super::services::{self, Service, ServiceFilter};
use super::snapshots::{self, SnapshotAction, SnapshotList};
use super::usage::{self, Usage};
use crate::accounts::extract::ApiAdmin;
use crate::accounts::users;
use crate::app::AppState;

use crate::error::{AppError, AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};
use crate::web::paging::Paging;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services))
        .routes(routes!(list_requests))
        .routes(routes!(find_service, update_service))
        .routes(routes!(list_service_logs))
        .routes(routes!(reveal_credentials))
        .routes(routes!(provision_service))
        .routes(suspend_route())
        .routes(routes!(resume_service))
        .routes(routes!(terminate_service))
        .routes(routes!(retry_service))
        .routes(routes!(resolve_request))
        .routes(routes!(open_console))
        .routes(routes!(list_snapshots, take_snapshot))
        .routes(routes!(roll_back_snapshot))
        .routes(routes!(delete_snapshot))
        .routes(routes!(reinstall_service))
        .routes(routes!(find_usage))
}

/// `routes!(suspend_service)` with its body documented as optional. utoipa says so only for an
/// `Option<T>` body, whose schema would also admit a JSON `null`, which is refused.
fn suspend_route() -> UtoipaMethodRouter<AppState> {
    let (schemas, mut paths, router) = routes!(suspend_service);
    for item in paths.paths.values_mut() {
        if let Some(body) = item.post.as_mut().and_then(|op| op.request_body.as_mut()) {
            body.required = Some(Required::False);
        }
    }
    (schemas, paths, router)
}

/// The query of `GET /admin/services`: filters (each narrows the list; an empty `status` means
/// any) and the page. Any other parameter is a 400.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ServiceQuery {
    /// Only services in this status; absent or empty means any.
    #[param(schema_with = status_filter)]
    status: Option<String>,
    /// Only this customer's services.
    user_id: Option<i32>,
    /// Only services in this location.
    location_id: Option<i32>,
    /// A service id, part of its hostname (case-insensitive), or the beginning of its IP
    /// address (`10.0.16.` finds the subnet).
    search: Option<String>,
    /// The page, from 1.
    #[serde(default = "crate::web::paging::first_page")]
    #[param(minimum = 1, default = 1)]
    page: i64,
    /// Services per page, 1 to 100.
    #[serde(default = "crate::web::paging::admin_per_page")]
    #[param(minimum = 1, maximum = 100, default = 25)]
    per_page: i64,
}

/// A page of services, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ServicePage {
    items: Vec<Service>,
    /// How many services match, over all pages: exact up to 10,000; beyond, the database's
    /// estimate (`total_exact` false), never under 10,001.
    total: i64,
    /// Whether `total` is an exact count (false: an estimate; page on until a page comes back
    /// short).
    total_exact: bool,
    page: i64,
    per_page: i64,
}

/// The customers' open requests: `{"items": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ServiceRequests {
    /// `pending` log lines named `<action>_requested`, newest first, at most 200.
    items: Vec<ServiceLog>,
}

/// A service as the operator sees it, with its log and its customer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AdminServiceDetail {
    service: Service,
    /// Whether a password is stored (`GET .../credentials` reveals it).
    has_credentials: bool,
    /// Newest first.
    logs: Vec<ServiceLog>,
    /// The owner; `null` if the service has none (or the account is gone).
    customer: Option<ServiceCustomer>,
}

/// Who owns a service.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ServiceCustomer {
    id: i32,
    name: String,
    email: String,
}

/// The answer to an operator's change: the service as it now is and the log line written.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ActedResponse {
    service: Service,
    log: ServiceLog,
}

fn status_filter() -> utoipa::openapi::schema::Schema {
    crate::web::openapi::status_or_empty::<ServiceStatus>(
        "Only services in this status; absent or empty means any",
    )
}

/// Every service, newest first, filtered and paged.
#[utoipa::path(get, path = "/api/v1/admin/services", tag = "admin",
    operation_id = "admin_list_services",
    params(ServiceQuery),
    responses(
        (status = OK, description = "One page of the matching services", body = ServicePage),
        (status = BAD_REQUEST, description = "An unknown or malformed query parameter, a `status` that is no service status, a `page` below 1 or a `per_page` outside 1 to 100 (named in `errors`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn list_services(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<ServiceQuery>, QueryRejection>,
) -> AppResult<Json<ServicePage>> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(
            text.parse::<ServiceStatus>()
                .map_err(|unknown| AppError::bad_request("status", unknown.to_string()))?,
        ),
        None => None,
    };
    crate::web::paging::check(query.page, query.per_page)?;
    let filter = ServiceFilter {
        status,
        user_id: query.user_id,
        location_id: query.location_id,
        search: query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty()),
    };
    let total = services::count(&state.db, &filter).await?;
    let items = services::list(
        &state.db,
        &filter,
        query.per_page,
        crate::web::paging::offset(query.page, query.per_page),
    )
    .await?;
    Ok(Json(ServicePage {
        items,
        total: total.count,
        total_exact: total.exact,
        page: query.page,
        per_page: query.per_page,
    }))
}

/// The customers' requests on services run by hand, newest first.
#[utoipa::path(get, path = "/api/v1/admin/service-requests", tag = "admin",
    operation_id = "admin_list_service_requests",
    responses((status = OK, description = "The open requests, newest first (at most 200)", body = ServiceRequests)),
    security(("bearer" = [])),
)]
async fn list_requests(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> AppResult<Json<ServiceRequests>> {
    let items = logs::list_open_requests(&state.db, 200).await?;
    Ok(Json(ServiceRequests { items }))
}

/// A page of a service's log, as the operator reads it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AdminLogPage {
    /// Newest first.
    items: Vec<ServiceLog>,
    /// How many lines the log holds, over all pages.
    total: i64,
    page: i64,
    per_page: i64,
}

/// Any service's log, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/admin/services/{id}/logs", tag = "admin",
    operation_id = "admin_list_service_logs",
    params(("id" = i32, Path, description = "The service's id"), Paging),
    responses(
        (status = OK, description = "A page of the log, newest first", body = AdminLogPage),
        (status = BAD_REQUEST, description = "An unknown query parameter, a `page` below 1 or a `per_page` outside 1 to 100",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn list_service_logs(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
    paging: Result<Query<Paging>, QueryRejection>,
) -> AppResult<Json<AdminLogPage>> {
    let paging = Paging::parse(paging)?;
    services::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    let total = logs::count_for_service(&state.db, id).await?;
    let items = logs::page_for_service(&state.db, id, paging.per_page, paging.offset()).await?;
    Ok(Json(AdminLogPage {
        items,
        total,
        page: paging.page,
        per_page: paging.per_page,
    }))
}

/// Any service, with its log and its customer.
#[utoipa::path(get, path = "/api/v1/admin/services/{id}", tag = "admin",
    operation_id = "admin_find_service",
    params(("id" = i32, Path, description = "The service's id")),
    responses((status = OK, description = "The service", body = AdminServiceDetail)),
    security(("bearer" = [])),
)]
async fn find_service(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<Json<AdminServiceDetail>> {
    let service = services::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    let logs = logs::list_for_service(&state.db, id).await?;
    let customer = match service.user_id {
        Some(user_id) => users::find(&state.db, user_id).await?,
        None => None,
    };
    let has_credentials = service.password_encrypted.is_some();
    Ok(Json(AdminServiceDetail {
        service,
        has_credentials,
        logs,
        customer: customer.map(|u| ServiceCustomer {
            id: u.id,
            name: u.name,
            email: u.email,
        }),
    }))
}

/// The answer to an operator's change.
fn acted_response(acted: Acted) -> Json<ActedResponse> {
    Json(ActedResponse {
        service: acted.service,
        log: acted.log,
    })
}

/// Any service's login details, password included (audited); never cached.
#[utoipa::path(get, path = "/api/v1/admin/services/{id}/credentials", tag = "admin",
    operation_id = "admin_reveal_service_credentials",
    params(("id" = i32, Path, description = "The service's id")),
    responses(
        (status = OK, description = "The login details, decrypted; the reveal is written to the audit log and the service's log",
            body = Credentials, headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = CONFLICT, description = "The service has no login details yet",
            body = Problem, content_type = "application/problem+json"),
        (status = FORBIDDEN, description = "No fresh second factor: send a code to `POST /me/two-factor/verify` (`two-factor`), then retry",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn reveal_credentials(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    admin.require_recent_two_factor()?;
    let actor = admin.actor(&ip);
    let credentials =
        lifecycle::reveal_credentials_to_operator(&state.db, &state.provisioning, &actor, id)
            .await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(credentials)))
}

/// Provisions a service by hand (manual driver): its login details, then active (audited).
#[utoipa::path(post, path = "/api/v1/admin/services/{id}/provision", tag = "admin",
    operation_id = "admin_provision_service",
    params(("id" = i32, Path, description = "The service's id")),
    request_body = ManualProvision,
    responses(
        (status = OK, description = "The service, now active (its first period started, the customer e-mailed), and the log line",
            body = ActedResponse),
        (status = CONFLICT, description = "Only a provisioning or failed service can be provisioned (`errors.status`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn provision_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<ManualProvision>,
) -> AppResult<impl IntoResponse> {
    let actor = admin.actor(&ip);
    let acted =
        lifecycle::provision_by_hand(&state.db, &state.provisioning, &actor, id, &body).await?;
    Ok(acted_response(acted))
}

/// The optional body of `POST /admin/services/{id}/suspend`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SuspendRequest {
    /// Why, at most 255 characters (shown to the customer); default "suspended by an operator".
    #[schema(max_length = 255)]
    reason: Option<String>,
}

/// Suspends an active service and queues the server's stop (audited).
#[utoipa::path(post, path = "/api/v1/admin/services/{id}/suspend", tag = "admin",
    operation_id = "admin_suspend_service",
    params(("id" = i32, Path, description = "The service's id")),
    request_body(content = SuspendRequest,
        description = "Optional: a bare POST with no `Content-Type` suspends without a reason"),
    responses(
        (status = OK, description = "The service, now suspended, and the log line", body = ActedResponse),
        (status = CONFLICT, description = "Only an active service can be suspended (`errors.status`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
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
    let actor = admin.actor(&ip);
    let acted = lifecycle::suspend(&state.db, &actor, id, body.reason.as_deref()).await?;
    Ok(acted_response(acted))
}

/// Resumes a suspended service and queues the server's start (audited).
#[utoipa::path(post, path = "/api/v1/admin/services/{id}/resume", tag = "admin",
    operation_id = "admin_resume_service",
    params(("id" = i32, Path, description = "The service's id")),
    responses(
        (status = OK, description = "The service, active again, and the log line", body = ActedResponse),
        (status = CONFLICT, description = "Only a suspended service can be resumed (`errors.status`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn resume_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let actor = admin.actor(&ip);
    let acted = lifecycle::resume(&state.db, &actor, id).await?;
    Ok(acted_response(acted))
}

/// Terminates a service for good (audited).
///
/// The server's deletion is queued (or, manual driver, left to the operator), its address
/// released, and its unpaid renewal orders cancelled.
#[utoipa::path(post, path = "/api/v1/admin/services/{id}/terminate", tag = "admin",
    operation_id = "admin_terminate_service",
    params(("id" = i32, Path, description = "The service's id")),
    responses(
        (status = OK, description = "The service, now terminated, and the log line", body = ActedResponse),
        (status = CONFLICT, description = "The service is already terminated (`errors.status`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn terminate_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let actor = admin.actor(&ip);
    let acted = lifecycle::terminate(&state.db, &actor, id).await?;
    Ok(acted_response(acted))
}

/// Retries a failed service's provisioning from its last step done (audited).
#[utoipa::path(post, path = "/api/v1/admin/services/{id}/retry", tag = "admin",
    operation_id = "admin_retry_service",
    params(("id" = i32, Path, description = "The service's id")),
    responses(
        (status = OK, description = "The service, provisioning again with a new job queued, and the log line", body = ActedResponse),
        (status = CONFLICT, description = "Only a failed service can be retried (`errors.status`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn retry_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let actor = admin.actor(&ip);
    let acted = lifecycle::retry(&state.db, &actor, id).await?;
    Ok(acted_response(acted))
}

/// Corrects a service's login details: only the fields given change (audited).
#[utoipa::path(patch, path = "/api/v1/admin/services/{id}", tag = "admin",
    operation_id = "admin_update_service",
    params(("id" = i32, Path, description = "The service's id")),
    request_body(content = ServiceUpdate, description = "At least one field (else 422, `errors.body`)"),
    responses(
        (status = OK, description = "The service as it now is and the log line", body = ActedResponse),
        (status = CONFLICT, description = "The service is terminated, or has no login details yet and not all four fields are given (`errors.status`)",
            body = Problem, content_type = "application/problem+json"),
        (status = FORBIDDEN, description = "A new username or password without a fresh second factor: send a code to `POST /me/two-factor/verify` (`two-factor`), then retry",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn update_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<ServiceUpdate>,
) -> AppResult<impl IntoResponse> {
    if body.username.is_some() || body.password.is_some() {
        admin.require_recent_two_factor()?;
    }
    let actor = admin.actor(&ip);
    let acted = lifecycle::update(&state.db, &state.provisioning, &actor, id, &body).await?;
    Ok(acted_response(acted))
}

/// Closes a customer's request on a service run by hand, done or declined (audited).
///
/// The request's log line takes the outcome, a new line records the operator's act, and the
/// customer is e-mailed.
#[utoipa::path(post, path = "/api/v1/admin/services/{id}/requests/{log_id}/resolve", tag = "admin",
    operation_id = "admin_resolve_service_request",
    params(
        ("id" = i32, Path, description = "The service's id"),
        ("log_id" = i32, Path, description = "The id of the request's log line (`<action>_requested`, `pending`)"),
    ),
    request_body = RequestResolution,
    responses(
        (status = OK, description = "The service and the log line of the operator's act", body = ActedResponse),
        (status = NOT_FOUND, description = "No such service, or no such log line of this service",
            body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The log line is not a customer's request (`errors.log_id`) or is already closed (`errors.status`), or a new password is given for a service without running login details",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn resolve_request(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path((id, log_id)): Path<(i32, i32)>,
    AppJson(body): AppJson<RequestResolution>,
) -> AppResult<impl IntoResponse> {
    let actor = admin.actor(&ip);
    let acted =
        lifecycle::resolve_request(&state.db, &state.provisioning, &actor, id, log_id, &body)
            .await?;
    Ok(acted_response(acted))
}

/// A one-time address of any active Proxmox service's browser console, for an operator with a
/// fresh second factor (the console is the server's keyboard and screen).
#[utoipa::path(post, path = "/api/v1/admin/services/{id}/console", tag = "admin",
    operation_id = "admin_open_service_console",
    params(("id" = i32, Path, description = "The service's id")),
    responses(
        (status = CREATED, description = "The console's websocket address, good for one connection within a minute; the opening is written to the service's log when it connects",
            body = ConsoleAddress, headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = CONFLICT, description = "The service is not active (`errors.status`), is run by hand (`errors.service`), or the operator has 2 consoles open already (`errors.console`)",
            body = Problem, content_type = "application/problem+json"),
        (status = FORBIDDEN, description = "No fresh second factor: send a code to `POST /me/two-factor/verify` (`two-factor`), then retry",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "Every console place of the server is in use",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn open_console(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    admin.require_recent_two_factor()?;
    let link = console::grant(
        &state.db,
        &state.consoles,
        id,
        None,
        admin.user.id,
        admin.session_id,
    )
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(link.address(&state.settings.public_url)),
    ))
}

/// The snapshots of any active Proxmox service, as the server holds them now.
#[utoipa::path(get, path = "/api/v1/admin/services/{id}/snapshots", tag = "admin",
    operation_id = "admin_list_snapshots",
    params(("id" = i32, Path, description = "The service's id")),
    responses(
        (status = OK, description = "The plan's limit and the snapshots, oldest first", body = SnapshotList),
        (status = CONFLICT, description = "Not active, or run by hand", body = Problem,
            content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "The server's host did not answer",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn list_snapshots(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<Json<SnapshotList>> {
    Ok(Json(
        snapshots::list(&state.db, &state.provisioning, id, None).await?,
    ))
}

/// Takes a snapshot of a service (within its plan's limit; audited).
#[utoipa::path(post, path = "/api/v1/admin/services/{id}/snapshots", tag = "admin",
    operation_id = "admin_take_snapshot",
    params(("id" = i32, Path, description = "The service's id")),
    request_body = NewSnapshot,
    responses(
        (status = ACCEPTED, description = "Queued", body = SnapshotRequested),
        (status = CONFLICT, description = "Not active, run by hand, no snapshots in the plan, the limit reached, the name taken, or another request under way",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A name Proxmox does not take (`name`), or a note too long (`description`)",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "The server's host did not answer",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn take_snapshot(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<NewSnapshot>,
) -> AppResult<impl IntoResponse> {
    let request = snapshots::Request {
        action: SnapshotAction::Create,
        name: &body.name,
        description: body.description.as_deref(),
        confirm: None,
    };
    operator_snapshot_request(&state, &admin, &ip, id, &request).await
}

/// Rolls a service back to a snapshot (audited; the server restarts on it).
#[utoipa::path(post, path = "/api/v1/admin/services/{id}/snapshots/{name}/rollback", tag = "admin",
    operation_id = "admin_roll_back_snapshot",
    params(
        ("id" = i32, Path, description = "The service's id"),
        ("name" = String, Path, description = "The snapshot's name"),
    ),
    request_body = RollbackConfirmation,
    responses(
        (status = ACCEPTED, description = "Queued", body = SnapshotRequested),
        (status = NOT_FOUND, description = "No such snapshot", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "`confirm` is not the snapshot's name",
            body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "Not active, run by hand, an incomplete snapshot, or another snapshot request under way",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "The server's host did not answer",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn roll_back_snapshot(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path((id, name)): Path<(i32, String)>,
    AppJson(body): AppJson<RollbackConfirmation>,
) -> AppResult<impl IntoResponse> {
    let request = snapshots::Request {
        action: SnapshotAction::Rollback,
        name: &name,
        description: None,
        confirm: Some(&body.confirm),
    };
    operator_snapshot_request(&state, &admin, &ip, id, &request).await
}

/// Deletes a snapshot of a service (audited).
#[utoipa::path(delete, path = "/api/v1/admin/services/{id}/snapshots/{name}", tag = "admin",
    operation_id = "admin_delete_snapshot",
    params(
        ("id" = i32, Path, description = "The service's id"),
        ("name" = String, Path, description = "The snapshot's name"),
    ),
    responses(
        (status = ACCEPTED, description = "Queued", body = SnapshotRequested),
        (status = NOT_FOUND, description = "No such snapshot", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "Not active, run by hand, an incomplete snapshot, or another snapshot request under way",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "The server's host did not answer",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn delete_snapshot(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path((id, name)): Path<(i32, String)>,
) -> AppResult<impl IntoResponse> {
    let request = snapshots::Request {
        action: SnapshotAction::Delete,
        name: &name,
        description: None,
        confirm: None,
    };
    operator_snapshot_request(&state, &admin, &ip, id, &request).await
}

async fn operator_snapshot_request(
    state: &AppState,
    admin: &crate::accounts::extract::ApiUser,
    ip: &str,
    id: i32,
    request: &snapshots::Request<'_>,
) -> AppResult<(axum::http::StatusCode, Json<SnapshotRequested>)> {
    let actor = admin.actor(ip);
    let log = snapshots::request(
        &state.db,
        &state.provisioning,
        id,
        None,
        Some(&actor),
        admin.user.id,
        request,
    )
    .await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(SnapshotRequested {
            log: owners_view(state, id, log).await?,
        }),
    ))
}

/// A log line of service `id` as its owner reads it ("you" for their own requests).
async fn owners_view(state: &AppState, id: i32, log: ServiceLog) -> AppResult<super::api::LogView> {
    let customer = services::find(&state.db, id)
        .await?
        .and_then(|s| s.user_id)
        .unwrap_or_default();
    Ok(super::api::log_view(log, customer))
}

/// Any service's usage over a range, and its traffic this month.
#[utoipa::path(get, path = "/api/v1/admin/services/{id}/usage", tag = "admin",
    operation_id = "admin_find_service_usage",
    params(("id" = i32, Path, description = "The service's id"), UsageQuery),
    responses(
        (status = OK, description = "The series, oldest first, with the month's traffic", body = Usage),
        (status = BAD_REQUEST, description = "`range` is not 24h, 7d or 30d", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn find_usage(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
    Path(id): Path<i32>,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Usage>> {
    let Query(query) = query.map_err(|err| AppError::bad_request("range", err.body_text()))?;
    let range = query.range()?;
    Ok(Json(usage::usage(&state.db, id, None, range).await?))
}

/// Reinstalls any active service with one of its plan's systems (audited; no daily limit):
/// everything on it is erased; the address stays, the password is new. The SSH keys are the
/// owner's.
#[utoipa::path(post, path = "/api/v1/admin/services/{id}/reinstall", tag = "admin",
    operation_id = "admin_reinstall_service",
    params(("id" = i32, Path, description = "The service's id")),
    request_body = ReinstallRequest,
    responses(
        (status = ACCEPTED, description = "Queued (audited); the log line is `pending` until the new system runs", body = ReinstallRequested),
        (status = CONFLICT, description = "Not active, or a reinstall already under way",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A `template_id` the plan does not offer, `ssh_key_ids` not the owner's or for Windows, or `confirm` is not `srv<id>`",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn reinstall_service(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<ReinstallRequest>,
) -> AppResult<impl IntoResponse> {
    let actor = admin.actor(&ip);
    let log = reinstall::request(
        &state.db,
        id,
        &Requester::Operator(&actor, admin.user.id),
        &body,
    )
    .await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(ReinstallRequested {
            log: owners_view(&state, id, log).await?,
        }),
    ))
}
