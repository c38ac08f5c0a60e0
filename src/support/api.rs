//! The customer's tickets over JSON: `/api/v1/tickets*`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::attachments::{self, MAX_FILE_BYTES, MAX_FILES_PER_MESSAGE, Upload};
use super::tickets::{self, NewTicket, Ticket, TicketDetail};
use crate::accounts::extract::ApiUser;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::web::extract::AppJson;
use crate::web::paging::Paging;
use crate::web::upload::FileBytes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, open_ticket))
        .routes(routes!(find_ticket))
        .routes(routes!(reply))
        .routes(routes!(close_ticket))
        .routes(routes!(send_files).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .routes(routes!(find_file))
}

/// The largest upload: three files at the limit and the form around them.
pub(super) const MAX_UPLOAD_BYTES: usize = MAX_FILES_PER_MESSAGE * MAX_FILE_BYTES + 64 * 1024;

/// Files to send on a ticket, as `multipart/form-data`.
#[derive(ToSchema)]
#[allow(dead_code)] // describes the form for the API document
pub struct FilesUpload {
    /// One to three files (repeat the field): PNG, JPEG or WebP images or PDFs, each at most
    /// 5 MB, checked by their bytes.
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
    /// The message to send with them (optional: without it, the message names the files).
    #[schema(max_length = 10000)]
    message: Option<String>,
}

/// An upload read: the message, the text fields, and the files checked.
pub(super) struct ReadUpload {
    pub form: crate::web::upload::FormParts,
    pub files: Vec<Upload>,
}

impl ReadUpload {
    pub fn message(&self) -> &str {
        self.form.text("message").unwrap_or_default()
    }
}

/// Reads a multipart upload of ticket files (415 for any other body, 400 when it cannot be
/// read, 422 naming `file` when there is none or one is refused).
pub(super) async fn read_upload(headers: &HeaderMap, body: Bytes) -> AppResult<ReadUpload> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !crate::web::upload::is_multipart(content_type) {
        return Err(AppError::UnsupportedMediaType);
    }
    let form = crate::web::upload::read_form(content_type, body, 10)
        .await
        .map_err(|why| AppError::bad_request("body", format!("not a readable form: {why}")))?;
    let mut files = Vec::new();
    for part in form.files("file") {
        files.push(Upload::check(
            "file",
            &part.file_name,
            part.declared.as_deref(),
            &part.bytes,
        )?);
    }
    if files.is_empty() {
        return Err(AppError::invalid("file", "send at least one file"));
    }
    Ok(ReadUpload { form, files })
}

/// A page of tickets.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    pub items: Vec<Ticket>,
    /// How many there are over all pages (the operator's queue: exact up to 10,000, then
    /// estimated, `total_exact` false).
    pub total: i64,
    pub total_exact: bool,
    pub page: i64,
    pub per_page: i64,
}

/// A message to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// 1 to 10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub message: String,
}

/// The caller's tickets, the most recently moved first.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "support",
    security(("bearer" = [])),
    params(Paging),
    responses((status = OK, description = "A page of the caller's tickets", body = TicketPage)),
)]
async fn list_tickets(
    State(state): State<AppState>,
    caller: ApiUser,
    query: Result<Query<Paging>, QueryRejection>,
) -> AppResult<Json<TicketPage>> {
    let paging = Paging::parse(query)?;
    Ok(Json(TicketPage {
        total: tickets::count_for_user(&state.db, caller.user.id).await?,
        total_exact: true,
        items: tickets::list_for_user(&state.db, caller.user.id, paging.per_page, paging.offset())
            .await?,
        page: paging.page,
        per_page: paging.per_page,
    }))
}

/// Opens a ticket: the shop is told by e-mail and answers on it.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "support",
    security(("bearer" = [])),
    request_body = NewTicket,
    responses(
        (status = CREATED, description = "The ticket with its first message", body = TicketDetail),
        (status = UNPROCESSABLE_ENTITY, description = "An empty or too long subject or message, or a server or order not the caller's (named)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn open_ticket(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<NewTicket>,
) -> AppResult<impl IntoResponse> {
    let opened = tickets::open(&state, &caller.user, &body, &[]).await?;
    Ok((StatusCode::CREATED, Json(opened)))
}

/// One of the caller's tickets with its conversation; anyone else's is a 404.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "support",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The ticket's id")),
    responses(
        (status = OK, description = "The ticket and its messages, oldest first", body = TicketDetail),
        (status = NOT_FOUND, description = "No such ticket of the caller's", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn find_ticket(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<Json<TicketDetail>> {
    Ok(Json(
        tickets::detail(&state, id, Some(caller.user.id)).await?,
    ))
}

/// Writes on one of the caller's tickets (a closed one reopens).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/messages", tag = "support",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The ticket's id")),
    request_body = MessageRequest,
    responses(
        (status = CREATED, description = "The ticket as it is now", body = TicketDetail),
        (status = NOT_FOUND, description = "No such ticket of the caller's", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "An empty or too long `message`", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn reply(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    AppJson(body): AppJson<MessageRequest>,
) -> AppResult<impl IntoResponse> {
    let detail = tickets::reply_as_customer(&state, &caller.user, id, &body.message, &[]).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Closes one of the caller's tickets (writing on it reopens it).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/close", tag = "support",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The ticket's id")),
    responses(
        (status = OK, description = "The closed ticket", body = TicketDetail),
        (status = NOT_FOUND, description = "No such ticket of the caller's", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn close_ticket(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<Json<TicketDetail>> {
    Ok(Json(
        tickets::close_by_customer(&state, &caller.user, id).await?,
    ))
}

/// Sends files on one of the caller's tickets, with an optional message (a closed ticket
/// reopens; the shop is told by e-mail, which links to the ticket and never carries the files).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/attachments", tag = "support",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The ticket's id")),
    request_body(content = FilesUpload, content_type = "multipart/form-data"),
    responses(
        (status = CREATED, description = "The ticket as it is now, the files with their message", body = TicketDetail),
        (status = BAD_REQUEST, description = "The form cannot be read", body = Problem,
            content_type = "application/problem+json"),
        (status = NOT_FOUND, description = "No such ticket of the caller's", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "The ticket already holds 20 files (`file`)", body = Problem,
            content_type = "application/problem+json"),
        (status = PAYLOAD_TOO_LARGE, description = "The form is larger than three files of 5 MB",
            body = Problem, content_type = "application/problem+json"),
        (status = UNSUPPORTED_MEDIA_TYPE, description = "The body is not `multipart/form-data`",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "No file, more than three, one too large or not a PNG, JPEG, WebP or PDF (`file`), or a too long `message`",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn send_files(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<impl IntoResponse> {
    let upload = read_upload(&headers, body).await?;
    let detail =
        tickets::reply_as_customer(&state, &caller.user, id, upload.message(), &upload.files)
            .await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// A file sent on one of the caller's tickets (images inline, PDFs as a download).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments/{attachment_id}", tag = "support",
    security(("bearer" = [])),
    params(
        ("id" = i32, Path, description = "The ticket's id"),
        ("attachment_id" = i32, Path, description = "The file's id"),
    ),
    responses(
        (status = OK, description = "The file, of the type its bytes are",
            content((FileBytes = "image/png"), (FileBytes = "image/jpeg"), (FileBytes = "image/webp"), (FileBytes = "application/pdf"), (FileBytes = "application/octet-stream"))),
        (status = NOT_FOUND, description = "No such file on a ticket of the caller's", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn find_file(
    State(state): State<AppState>,
    caller: ApiUser,
    Path((id, attachment_id)): Path<(i32, i32)>,
) -> AppResult<Response> {
    send_file(&state, id, attachment_id, Some(caller.user.id)).await
}

/// File `attachment_id` of ticket `id` as a response (`owner`: only that customer's, never a
/// note's); every front door serves files through it.
pub(super) async fn send_file(
    state: &AppState,
    id: i32,
    attachment_id: i32,
    owner: Option<i32>,
) -> AppResult<Response> {
    let file = attachments::find(&state.db, id, attachment_id, owner).await?;
    Ok(crate::web::upload::file_response(
        &file.file_name,
        &file.content_type,
        file.bytes,
    ))
}
