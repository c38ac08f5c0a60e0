//! The customer's JSON API for their servers: `/api/v1/services*` — list, inspect with its log,
//! reveal the login details, power and password actions, renew. Someone else's service is a 404
//! on every route, as if it did not exist.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::console::{self, ConsoleAddress};
use super::lifecycle::{self, Credentials, CustomerAction};
use super::logs::{self, ServiceLog};
use super::reinstall::{self, ReinstallRequest, Requester};
use super::services::{self, Service};
use super::snapshots::{self, SnapshotAction, SnapshotList};
use super::usage::{self, Range, Usage};
use crate::accounts::extract::ApiUser;
use crate::app::AppState;
use crate::catalog::names::Names;
use crate::error::{AppError, AppResult, Problem};
use crate::orders::details::{OrderResponse, order_response};
use crate::services::{ServiceAction, ServiceStatus};
use crate::web::extract::AppJson;
use crate::web::paging::Paging;
use crate::web::upload::{FileBytes, file_response};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services))
        .routes(routes!(find_service))
        .routes(routes!(list_service_logs))
        .routes(routes!(reveal_credentials))
        .routes(routes!(act_on_service))
        .routes(routes!(renew_service))
        .routes(routes!(open_console))
        .routes(routes!(download_rdp_file))
        .routes(routes!(list_snapshots, take_snapshot))
        .routes(routes!(roll_back_snapshot))
        .routes(routes!(delete_snapshot))
        .routes(routes!(find_usage))
        .routes(routes!(reinstall_service))
}

/// The query of `GET /services/{id}/usage`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// `24h` (five-minute samples; the default), `7d` or `30d` (hours).
    #[param(value_type = Option<String>, example = "24h")]
    pub range: Option<String>,
}

impl UsageQuery {
    pub fn range(&self) -> AppResult<Range> {
        self.range.as_deref().unwrap_or("24h").parse()
    }
}

/// A Remote Desktop connection file (`.rdp`), described for the API document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // describes `.rdp` bodies for the API document
pub struct RdpFile(Vec<u8>);

/// A service as its customer sees it: no backend internals, no failure details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceView {
    pub id: i32,
    #[schema(schema_with = super::service_type_schema)]
    pub service_type: String,
    pub status: ServiceStatus,
    pub plan_id: Option<String>,
    pub plan_name: Option<String>,
    pub location_id: Option<i32>,
    pub location_name: Option<String>,
    pub hostname: Option<String>,
    pub ip_address: Option<String>,
    /// The login name on the server.
    pub username: Option<String>,
    /// Whether `GET /services/{id}/credentials` has a password to show.
    pub has_credentials: bool,
    /// The months one renewal period lasts.
    pub validity_months: Option<i32>,
    /// Why it is suspended (status `suspended`).
    pub suspended_reason: Option<String>,
    /// The operating system it runs (chosen at order or at the last reinstall); null when its
    /// plan offers no choice.
    pub template_id: Option<i32>,
    /// That system's name (`Ubuntu 24.04`).
    pub template_name: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: Option<DateTime<Utc>>,
    /// When the current period began (RFC 3339, UTC).
    pub last_renewal_date: Option<DateTime<Utc>>,
    /// When the current period ends and renewal is due (RFC 3339, UTC).
    pub next_renewal_date: Option<DateTime<Utc>>,
    /// When it was terminated (RFC 3339, UTC).
    pub termination_date: Option<DateTime<Utc>>,
}

/// A log line as the customer sees it: who acted, not which operator.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogView {
    /// What was done; a request waiting for the operator is the action's `…_requested` form.
    pub action: ServiceAction,
    #[schema(schema_with = super::log_status_schema)]
    pub status: String,
    pub details: Option<String>,
    pub by: LogAuthor,
    /// RFC 3339, UTC.
    pub created_at: Option<DateTime<Utc>>,
}

/// Who wrote a log line: the customer, an operator, or the system on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogAuthor {
    You,
    Operator,
    System,
}

/// The caller's services: `{"items": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceList {
    /// Newest first.
    pub items: Vec<ServiceView>,
}

/// One service with its log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceDetail {
    pub service: ServiceView,
    /// Newest first.
    pub logs: Vec<LogView>,
}

/// The answer to a customer's action: the service and the log line of the request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionAccepted {
    pub service: ServiceView,
    /// `pending`: a queued job (or, for a server run by hand, the operator) carries it out.
    pub log: LogView,
}

/// A service as the API shows it, with its plan's and location's names.
fn service_view(names: &Names, service: Service) -> ServiceView {
    ServiceView {
        plan_name: service.plan_id.as_ref().and_then(|p| names.plan_name(p)),
        location_name: service.location_id.and_then(|l| names.location_name(l)),
        has_credentials: service.password_encrypted.is_some()
            && !matches!(
                service.status,
                ServiceStatus::Provisioning | ServiceStatus::Failed
            ),
        id: service.id,
        service_type: service.service_type,
        status: service.status,
        plan_id: service.plan_id,
        location_id: service.location_id,
        hostname: service.hostname,
        ip_address: service.ip_address,
        username: service.username,
        validity_months: service.validity_months,
        suspended_reason: service.suspended_reason,
        template_id: service.os_template_id,
        template_name: service.os_template_name,
        created_at: service.created_at,
        last_renewal_date: service.last_renewal_date,
        next_renewal_date: service.next_renewal_date,
        termination_date: service.termination_date,
    }
}

pub(crate) fn log_view(log: ServiceLog, customer: i32) -> LogView {
    LogView {
        by: match log.performed_by {
            Some(id) if id == customer => LogAuthor::You,
            Some(_) => LogAuthor::Operator,
            None => LogAuthor::System,
        },
        action: log.action,
        status: log.status,
        details: log.details,
        created_at: log.created_at,
    }
}

/// The caller's service, or 404.
async fn own_service(state: &AppState, id: i32, user_id: i32) -> AppResult<Service> {
    services::find_for_user(&state.db, id, user_id)
        .await?
        .ok_or(AppError::NotFound("service"))
}

/// The caller's services, newest first.
#[utoipa::path(get, path = "/api/v1/services", tag = "services",
    operation_id = "list_services",
    responses((status = OK, description = "Every service of the caller, newest first", body = ServiceList)),
    security(("bearer" = [])),
)]
async fn list_services(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<Json<ServiceList>> {
    let rows = services::list_for_user(&state.db, caller.user.id).await?;
    let names = Names::load(&state.db).await?;
    let items: Vec<ServiceView> = rows.into_iter().map(|s| service_view(&names, s)).collect();
    Ok(Json(ServiceList { items }))
}

/// One of the caller's services with its log.
#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "services",
    operation_id = "find_service",
    params(("id" = i32, Path, description = "The service's id")),
    responses((status = OK, description = "The service and its log, newest first", body = ServiceDetail)),
    security(("bearer" = [])),
)]
async fn find_service(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<Json<ServiceDetail>> {
    let service = own_service(&state, id, caller.user.id).await?;
    let logs: Vec<LogView> = logs::list_for_service(&state.db, id)
        .await?
        .into_iter()
        .map(|l| log_view(l, caller.user.id))
        .collect();
    let names = Names::load(&state.db).await?;
    Ok(Json(ServiceDetail {
        service: service_view(&names, service),
        logs,
    }))
}

/// A page of the service's log: `{"items": [...], "total", "page", "per_page"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogPage {
    /// Newest first.
    pub items: Vec<LogView>,
    /// How many lines the log holds, over all pages.
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// One of the caller's services' log, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/services/{id}/logs", tag = "services",
    operation_id = "list_service_logs",
    params(("id" = i32, Path, description = "The service's id"), Paging),
    responses(
        (status = OK, description = "A page of the log, newest first", body = LogPage),
        (status = BAD_REQUEST, description = "An unknown query parameter, a `page` below 1 or a `per_page` outside 1 to 100",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn list_service_logs(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    paging: Result<Query<Paging>, QueryRejection>,
) -> AppResult<Json<LogPage>> {
    let paging = Paging::parse(paging)?;
    own_service(&state, id, caller.user.id).await?;
    let total = logs::count_for_service(&state.db, id).await?;
    let items = logs::page_for_service(&state.db, id, paging.per_page, paging.offset())
        .await?
        .into_iter()
        .map(|l| log_view(l, caller.user.id))
        .collect();
    Ok(Json(LogPage {
        items,
        total,
        page: paging.page,
        per_page: paging.per_page,
    }))
}

/// The service's login details, password included; never cached by the browser or a proxy.
#[utoipa::path(get, path = "/api/v1/services/{id}/credentials", tag = "services",
    operation_id = "reveal_service_credentials",
    params(("id" = i32, Path, description = "The service's id")),
    responses(
        (status = OK, description = "The login details, decrypted; the reveal is written to the service's log",
            body = Credentials, headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = CONFLICT, description = "No login details to show yet: the service is still provisioning, failed, or has none",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn reveal_credentials(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let credentials = lifecycle::reveal_credentials(
        &state.db,
        &state.provisioning,
        id,
        Some(caller.user.id),
        caller.user.id,
    )
    .await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(credentials)))
}

/// The body of `POST /services/{id}/actions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ActionRequest {
    /// What to do to the server (surrounding spaces ignored; anything else is a 422).
    #[schema(value_type = CustomerAction)]
    action: String,
}

/// Asks for a power or password action on one of the caller's active services.
#[utoipa::path(post, path = "/api/v1/services/{id}/actions", tag = "services",
    operation_id = "act_on_service",
    params(("id" = i32, Path, description = "The service's id")),
    request_body = ActionRequest,
    responses(
        (status = ACCEPTED, description = "Queued for the server's driver, or (a server run by hand) asked of the operator; the log line is `pending` until done",
            body = ActionAccepted),
        (status = CONFLICT, description = "The service is not active (`errors.status`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn act_on_service(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    AppJson(body): AppJson<ActionRequest>,
) -> AppResult<impl IntoResponse> {
    // Someone else's service is a 404 whatever the action says.
    own_service(&state, id, caller.user.id).await?;
    let action: CustomerAction = body
        .action
        .trim()
        .parse()
        .map_err(|problem: String| AppError::invalid("action", problem))?;
    let acted = lifecycle::customer_action(&state.db, id, caller.user.id, action).await?;
    let names = Names::load(&state.db).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ActionAccepted {
            service: service_view(&names, acted.service),
            log: log_view(acted.log, caller.user.id),
        }),
    ))
}

/// The body of `POST /services/{id}/renew`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RenewRequest {
    /// How many months to renew for.
    #[schema(schema_with = validity_months_schema)]
    validity_months: i32,
    /// Spend the account's credit on the renewal (as much as the balance holds, up to the
    /// amount). Credit that covers all of it pays the renewal at once (`status` `paid`).
    #[serde(default)]
    use_credit: bool,
}

/// The schema of a renewal's `validity_months`: one of
/// [`VALIDITY_MONTHS`](crate::orders::pricing::VALIDITY_MONTHS).
fn validity_months_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int32,
        )))
        .enum_values(Some(crate::orders::pricing::VALIDITY_MONTHS))
        .description(Some("How many months to renew for"))
        .build()
}

/// Renews one of the caller's services: raises a renewal order to pay.
#[utoipa::path(post, path = "/api/v1/services/{id}/renew", tag = "services",
    operation_id = "renew_service",
    params(("id" = i32, Path, description = "The service's id")),
    request_body = RenewRequest,
    responses(
        (status = CREATED, description = "The renewal order, awaiting payment (at the monthly price the service was bought at), or already paid when `use_credit` and the account's credit covered it; an older unpaid renewal order of the service is cancelled (the credit spent on it given back)",
            body = OrderResponse),
        (status = CONFLICT, description = "Only an active or suspended service can be renewed (`errors.status`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn renew_service(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    AppJson(body): AppJson<RenewRequest>,
) -> AppResult<impl IntoResponse> {
    own_service(&state, id, caller.user.id).await?;
    let order = crate::payments::pay::renew(
        &state.db,
        &state.provisioning,
        caller.user.id,
        id,
        body.validity_months,
        body.use_credit,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(order_response(&state, order).await?),
    ))
}

/// A one-time address of the service's browser console (an active server built on Proxmox).
#[utoipa::path(post, path = "/api/v1/services/{id}/console", tag = "services",
    operation_id = "open_service_console",
    params(("id" = i32, Path, description = "The service's id")),
    responses(
        (status = CREATED, description = "The console's websocket address, good for one connection within a minute; the opening is written to the service's log when it connects",
            body = ConsoleAddress, headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = CONFLICT, description = "The service is not active (`errors.status`), is run by hand and has no console (`errors.service`), or the caller has 2 consoles open already (`errors.console`)",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "Every console place of the server is in use; try again in a few minutes",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn open_console(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let link = console::grant(
        &state.db,
        &state.consoles,
        id,
        Some(caller.user.id),
        caller.user.id,
        caller.session_id,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(link.address(&state.settings.public_url)),
    ))
}

/// The Remote Desktop connection file of one of the caller's active Windows servers: its address
/// and username (never the password; Remote Desktop asks for it).
#[utoipa::path(get, path = "/api/v1/services/{id}/rdp-file", tag = "services",
    operation_id = "download_rdp_file",
    params(("id" = i32, Path, description = "The service's id")),
    responses(
        (status = OK, description = "The `.rdp` file", content((RdpFile = "application/x-rdp"), (FileBytes = "application/octet-stream")),
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"nextgenrdp-server-<id>.rdp\"`"))),
        (status = CONFLICT, description = "A Linux server (`errors.service`), not active (`errors.status`), or no address yet",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn download_rdp_file(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let service = own_service(&state, id, caller.user.id).await?;
    let file = super::access::rdp_file(&service)?;
    let name = super::access::rdp_file_name(&service);
    Ok(file_response(&name, "application/x-rdp", file.into_bytes()))
}

/// The body of `POST /services/{id}/snapshots`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSnapshot {
    /// 2 to 40 letters, digits, `-` or `_`, starting with a letter (`before-update`).
    #[schema(
        min_length = 2,
        max_length = 40,
        pattern = "^[A-Za-z][A-Za-z0-9_-]{1,39}$"
    )]
    pub name: String,
    /// A note (at most 200 characters).
    #[schema(max_length = 200)]
    pub description: Option<String>,
}

/// The body of a rollback: the snapshot's name typed again.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackConfirmation {
    /// The snapshot's name, to confirm: the server goes back to it and everything since is lost.
    pub confirm: String,
}

/// The answer to a snapshot request: the request's log line (`pending` until the job is done).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SnapshotRequested {
    pub log: LogView,
}

/// The snapshots of one of the caller's active Proxmox servers, as the server holds them now.
#[utoipa::path(get, path = "/api/v1/services/{id}/snapshots", tag = "services",
    operation_id = "list_snapshots",
    params(("id" = i32, Path, description = "The service's id")),
    responses(
        (status = OK, description = "The plan's limit and the snapshots, oldest first", body = SnapshotList),
        (status = CONFLICT, description = "Not active (`errors.status`), or run by hand (`errors.service`)",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "The server's host did not answer",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn list_snapshots(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<Json<SnapshotList>> {
    Ok(Json(
        snapshots::list(&state.db, &state.provisioning, id, Some(caller.user.id)).await?,
    ))
}

/// Takes a snapshot of one of the caller's active servers (within the plan's limit).
#[utoipa::path(post, path = "/api/v1/services/{id}/snapshots", tag = "services",
    operation_id = "take_snapshot",
    params(("id" = i32, Path, description = "The service's id")),
    request_body = NewSnapshot,
    responses(
        (status = ACCEPTED, description = "Queued; the log line is `pending` until the snapshot is taken", body = SnapshotRequested),
        (status = CONFLICT, description = "Not active or run by hand (`errors.status`, `errors.service`), no snapshots in the plan, the limit reached, the name taken, or another snapshot request under way",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "The server's host did not answer",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A name Proxmox does not take (`name`), or a description too long (`description`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn take_snapshot(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    AppJson(body): AppJson<NewSnapshot>,
) -> AppResult<impl IntoResponse> {
    let request = snapshots::Request {
        action: SnapshotAction::Create,
        name: &body.name,
        description: body.description.as_deref(),
        confirm: None,
    };
    snapshot_request(&state, &caller, id, &request).await
}

/// Rolls one of the caller's servers back to a snapshot; the server restarts on it.
#[utoipa::path(post, path = "/api/v1/services/{id}/snapshots/{name}/rollback", tag = "services",
    operation_id = "roll_back_snapshot",
    params(
        ("id" = i32, Path, description = "The service's id"),
        ("name" = String, Path, description = "The snapshot's name"),
    ),
    request_body = RollbackConfirmation,
    responses(
        (status = ACCEPTED, description = "Queued; the log line is `pending` until the server runs on the snapshot", body = SnapshotRequested),
        (status = NOT_FOUND, description = "No such snapshot (or service of the caller's)", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "Not active or run by hand, an incomplete snapshot, or another snapshot request under way",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "The server's host did not answer",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "`confirm` is not the snapshot's name",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn roll_back_snapshot(
    State(state): State<AppState>,
    caller: ApiUser,
    Path((id, name)): Path<(i32, String)>,
    AppJson(body): AppJson<RollbackConfirmation>,
) -> AppResult<impl IntoResponse> {
    let request = snapshots::Request {
        action: SnapshotAction::Rollback,
        name: &name,
        description: None,
        confirm: Some(&body.confirm),
    };
    snapshot_request(&state, &caller, id, &request).await
}

/// Deletes a snapshot of one of the caller's servers.
#[utoipa::path(delete, path = "/api/v1/services/{id}/snapshots/{name}", tag = "services",
    operation_id = "delete_snapshot",
    params(
        ("id" = i32, Path, description = "The service's id"),
        ("name" = String, Path, description = "The snapshot's name"),
    ),
    responses(
        (status = ACCEPTED, description = "Queued; the log line is `pending` until it is deleted", body = SnapshotRequested),
        (status = NOT_FOUND, description = "No such snapshot (or service of the caller's)", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "Not active or run by hand, or another snapshot request under way",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "The server's host did not answer",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn delete_snapshot(
    State(state): State<AppState>,
    caller: ApiUser,
    Path((id, name)): Path<(i32, String)>,
) -> AppResult<impl IntoResponse> {
    let request = snapshots::Request {
        action: SnapshotAction::Delete,
        name: &name,
        description: None,
        confirm: None,
    };
    snapshot_request(&state, &caller, id, &request).await
}

async fn snapshot_request(
    state: &AppState,
    caller: &ApiUser,
    id: i32,
    request: &snapshots::Request<'_>,
) -> AppResult<(StatusCode, Json<SnapshotRequested>)> {
    let log = snapshots::request(
        &state.db,
        &state.provisioning,
        id,
        Some(caller.user.id),
        None,
        caller.user.id,
        request,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SnapshotRequested {
            log: log_view(log, caller.user.id),
        }),
    ))
}

/// The usage of one of the caller's servers over a range, and its traffic this month against the
/// plan's allowance.
#[utoipa::path(get, path = "/api/v1/services/{id}/usage", tag = "services",
    operation_id = "find_service_usage",
    params(("id" = i32, Path, description = "The service's id"), UsageQuery),
    responses(
        (status = OK, description = "The series, oldest first, with `traffic_used_bytes` and `traffic_allowance_bytes` (`null`: unmetered)", body = Usage),
        (status = BAD_REQUEST, description = "`range` is not 24h, 7d or 30d", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn find_usage(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Usage>> {
    let Query(query) = query.map_err(|err| AppError::bad_request("range", err.body_text()))?;
    let range = query.range()?;
    Ok(Json(
        usage::usage(&state.db, id, Some(caller.user.id), range).await?,
    ))
}

/// The answer to a reinstall request: its log line (`reinstall`, `pending` until the server
/// runs the new system; `reinstall_requested` on a server run by hand).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReinstallRequested {
    pub log: LogView,
}

/// Reinstalls one of the caller's active servers with one of its plan's systems: everything on
/// it is erased; the address stays, the password is new. At most 3 a day.
#[utoipa::path(post, path = "/api/v1/services/{id}/reinstall", tag = "services",
    operation_id = "reinstall_service",
    params(("id" = i32, Path, description = "The service's id")),
    request_body = ReinstallRequest,
    responses(
        (status = ACCEPTED, description = "Queued; the log line is `pending` until the new system runs", body = ReinstallRequested),
        (status = CONFLICT, description = "Not active (`errors.status`), or a reinstall already under way (`errors.service`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A `template_id` the plan does not offer (or none where it offers a choice), `ssh_key_ids` not yours or for Windows, or `confirm` is not the server's short name (`srv<id>`)",
            body = Problem, content_type = "application/problem+json"),
        (status = TOO_MANY_REQUESTS, description = "Three reinstalls of this server in the last 24 hours",
            body = Problem, content_type = "application/problem+json", headers(("Retry-After" = String))),
    ),
    security(("bearer" = [])),
)]
async fn reinstall_service(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    AppJson(body): AppJson<ReinstallRequest>,
) -> AppResult<impl IntoResponse> {
    let log =
        reinstall::request(&state.db, id, &Requester::Customer(caller.user.id), &body).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReinstallRequested {
            log: log_view(log, caller.user.id),
        }),
    ))
}
