//! The operator's tickets over JSON: `/api/v1/admin/tickets*`. Every change is audited.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::api::{MAX_UPLOAD_BYTES, TicketPage, read_upload};
use super::canned::{self, CannedReply, CannedReplyInput};
use super::tickets::{self, QueueFilter, TicketChange, TicketDetail};
use super::{Department, TicketStatus};
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};
use crate::web::upload::FileBytes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ticket_queue))
        .routes(routes!(admin_find_ticket, admin_update_ticket))
        .routes(routes!(admin_write_ticket))
        .routes(routes!(admin_send_files).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .routes(routes!(admin_find_file))
        .routes(routes!(list_canned_replies, create_canned_reply))
        .routes(routes!(update_canned_reply, delete_canned_reply))
}

/// Files an operator sends on a ticket, as `multipart/form-data`.
#[derive(ToSchema)]
#[allow(dead_code)] // describes the form for the API document
pub struct OperatorFilesUpload {
    /// One to three files (repeat the field): PNG, JPEG or WebP images or PDFs, each at most
    /// 5 MB, checked by their bytes.
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
    /// The message to send with them (optional).
    #[schema(max_length = 10000)]
    message: Option<String>,
    /// `true`: with an internal note, never shown to the customer.
    internal: Option<bool>,
}

/// Every canned reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct CannedReplyList {
    pub items: Vec<CannedReply>,
}

/// The queue's filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `open` (every ticket not closed; the default), `awaiting_us`, `awaiting_customer`,
    /// `closed` or `all`.
    pub status: Option<String>,
    /// `sales`, `technical` or `billing`.
    pub department: Option<Department>,
    /// The page to show, from 1.
    #[serde(default = "crate::web::paging::first_page")]
    #[param(default = 1, minimum = 1)]
    pub page: i64,
    /// Items per page, 1 to 100.
    #[serde(default = "crate::web::paging::admin_per_page")]
    #[param(default = 25, minimum = 1, maximum = 100)]
    pub per_page: i64,
}

/// An operator's message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorMessage {
    /// 1 to 10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub message: String,
    /// A note for operators only: never shown or mailed to the customer.
    #[serde(default)]
    pub internal: bool,
}

/// The tickets, the most urgent first, then the longest waiting.
#[utoipa::path(get, path = "/api/v1/admin/tickets", tag = "admin",
    security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = OK, description = "A page of the queue", body = TicketPage),
        (status = BAD_REQUEST, description = "A parameter is malformed (named)", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn ticket_queue(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> AppResult<Json<TicketPage>> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    crate::web::paging::check(query.page, query.per_page)?;
    let (status, all) = match query.status.as_deref().map(str::trim) {
        None | Some("") | Some("open") => (None, false),
        Some("all") => (None, true),
        Some(text) => match TicketStatus::parse(text) {
            Some(status) => (Some(status), false),
            None => {
                return Err(AppError::bad_request(
                    "status",
                    format!("use open, all or one of {}", TicketStatus::spellings()),
                ));
            }
        },
    };
    let filter = QueueFilter {
        status,
        all,
        department: query.department,
    };
    let total = tickets::queue_count(&state.db, &filter).await?;
    let offset = crate::web::paging::offset(query.page, query.per_page);
    Ok(Json(TicketPage {
        items: tickets::queue(&state.db, &filter, query.per_page, offset).await?,
        total: total.count,
        total_exact: total.exact,
        page: query.page,
        per_page: query.per_page,
    }))
}

/// Any ticket with its whole conversation, internal notes included.
#[utoipa::path(get, path = "/api/v1/admin/tickets/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The ticket's id")),
    responses(
        (status = OK, description = "The ticket and every message", body = TicketDetail),
        (status = NOT_FOUND, description = "No such ticket", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn admin_find_ticket(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<Json<TicketDetail>> {
    Ok(Json(tickets::detail(&state, id, None).await?))
}

/// Answers a ticket (mailed to the customer; their turn), or adds an internal note.
#[utoipa::path(post, path = "/api/v1/admin/tickets/{id}/messages", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The ticket's id")),
    request_body = OperatorMessage,
    responses(
        (status = CREATED, description = "The ticket as it is now", body = TicketDetail),
        (status = NOT_FOUND, description = "No such ticket", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "An empty or too long `message`", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn admin_write_ticket(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<OperatorMessage>,
) -> AppResult<impl IntoResponse> {
    let detail = tickets::reply_as_operator(
        &state,
        &admin.actor(&ip),
        id,
        &body.message,
        body.internal,
        &[],
    )
    .await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Changes a ticket's status, assignee or priority.
#[utoipa::path(patch, path = "/api/v1/admin/tickets/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The ticket's id")),
    request_body = TicketChange,
    responses(
        (status = OK, description = "The ticket as changed", body = TicketDetail),
        (status = NOT_FOUND, description = "No such ticket", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "`assignee_id` is not an active operator", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn admin_update_ticket(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<TicketChange>,
) -> AppResult<Json<TicketDetail>> {
    Ok(Json(
        tickets::update_by_operator(&state, &admin.actor(&ip), id, &body).await?,
    ))
}

/// Sends files on a ticket with an optional message: to the customer (mailed a link; their
/// turn), or with an internal note (`internal=true`).
#[utoipa::path(post, path = "/api/v1/admin/tickets/{id}/attachments", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The ticket's id")),
    request_body(content = OperatorFilesUpload, content_type = "multipart/form-data"),
    responses(
        (status = CREATED, description = "The ticket as it is now", body = TicketDetail),
        (status = BAD_REQUEST, description = "The form cannot be read", body = Problem,
            content_type = "application/problem+json"),
        (status = NOT_FOUND, description = "No such ticket", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "The ticket already holds 20 files (`file`)", body = Problem,
            content_type = "application/problem+json"),
        (status = PAYLOAD_TOO_LARGE, description = "The form is larger than three files of 5 MB",
            body = Problem, content_type = "application/problem+json"),
        (status = UNSUPPORTED_MEDIA_TYPE, description = "The body is not `multipart/form-data`",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "No file, more than three, or one refused (`file`), or a too long `message`",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn admin_send_files(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<impl IntoResponse> {
    let upload = read_upload(&headers, body).await?;
    let internal = match upload.form.text("internal").map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(AppError::invalid("internal", "must be true or false")),
    };
    let detail = tickets::reply_as_operator(
        &state,
        &admin.actor(&ip),
        id,
        upload.message(),
        internal,
        &upload.files,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// A file sent on a ticket (notes' files too).
#[utoipa::path(get, path = "/api/v1/admin/tickets/{id}/attachments/{attachment_id}", tag = "admin",
    security(("bearer" = [])),
    params(
        ("id" = i32, Path, description = "The ticket's id"),
        ("attachment_id" = i32, Path, description = "The file's id"),
    ),
    responses(
        (status = OK, description = "The file, of the type its bytes are",
            content((FileBytes = "image/png"), (FileBytes = "image/jpeg"), (FileBytes = "image/webp"), (FileBytes = "application/pdf"), (FileBytes = "application/octet-stream"))),
        (status = NOT_FOUND, description = "No such file on that ticket", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn admin_find_file(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path((id, attachment_id)): Path<(i32, i32)>,
) -> AppResult<Response> {
    super::api::send_file(&state, id, attachment_id, None).await
}

/// The canned replies, by title.
#[utoipa::path(get, path = "/api/v1/admin/canned-replies", tag = "admin",
    security(("bearer" = [])),
    responses((status = OK, description = "Every canned reply", body = CannedReplyList)),
)]
async fn list_canned_replies(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> AppResult<Json<CannedReplyList>> {
    Ok(Json(CannedReplyList {
        items: canned::list(&state.db).await?,
    }))
}

/// Adds a canned reply; `{name}` and `{ticket}` in its body are filled in when it is used.
#[utoipa::path(post, path = "/api/v1/admin/canned-replies", tag = "admin",
    security(("bearer" = [])),
    request_body = CannedReplyInput,
    responses(
        (status = CREATED, description = "Added", body = CannedReply),
        (status = CONFLICT, description = "Another canned reply has this `title`", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A missing, empty or too long `title` or `body`", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn create_canned_reply(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<CannedReplyInput>,
) -> AppResult<impl IntoResponse> {
    let created = canned::create(&state, &admin.actor(&ip), &body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Changes a canned reply's title or body.
#[utoipa::path(patch, path = "/api/v1/admin/canned-replies/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The canned reply's id")),
    request_body = CannedReplyInput,
    responses(
        (status = OK, description = "As changed", body = CannedReply),
        (status = NOT_FOUND, description = "No such canned reply", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "Another canned reply has this `title`", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "An empty or too long `title` or `body`", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn update_canned_reply(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<CannedReplyInput>,
) -> AppResult<Json<CannedReply>> {
    Ok(Json(
        canned::update(&state, &admin.actor(&ip), id, &body).await?,
    ))
}

/// Removes a canned reply.
#[utoipa::path(delete, path = "/api/v1/admin/canned-replies/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The canned reply's id")),
    responses(
        (status = NO_CONTENT, description = "Removed"),
        (status = NOT_FOUND, description = "No such canned reply", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn delete_canned_reply(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<StatusCode> {
    canned::delete(&state, &admin.actor(&ip), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
