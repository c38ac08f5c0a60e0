//! The operator's tickets over JSON: `/api/v1/admin/tickets*`. Every change is audited.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::TicketPage;
use super::tickets::{self, QueueFilter, TicketChange, TicketDetail};
use super::{Department, TicketStatus};
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ticket_queue))
        .routes(routes!(admin_find_ticket, admin_update_ticket))
        .routes(routes!(admin_write_ticket))
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
    let detail =
        tickets::reply_as_operator(&state, &admin.actor(&ip), id, &body.message, body.internal)
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
