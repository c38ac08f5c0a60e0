//! The customer's tickets over JSON: `/api/v1/tickets*`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::tickets::{self, NewTicket, Ticket, TicketDetail};
use crate::accounts::extract::ApiUser;
use crate::app::AppState;
use crate::error::{AppResult, Problem};
use crate::web::extract::AppJson;
use crate::web::paging::Paging;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, open_ticket))
        .routes(routes!(find_ticket))
        .routes(routes!(reply))
        .routes(routes!(close_ticket))
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
    let opened = tickets::open(&state, &caller.user, &body).await?;
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
    let detail = tickets::reply_as_customer(&state, &caller.user, id, &body.message).await?;
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
