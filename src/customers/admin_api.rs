//! The operator's customer API: the whole picture of a customer, notes, and the actions on an
//! account the customer's page offers (end sessions, resend the confirmation e-mail).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::notes::{self, Note};
use super::{Picture, picture};
use crate::accounts::admin;
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(find_customer))
        .routes(routes!(add_customer_note))
        .routes(routes!(end_customer_sessions))
        .routes(routes!(resend_customer_verification))
}

/// A customer's whole picture: profile, signed-in devices, services, internal notes, and — for
/// the roles that see them — credit, orders and payments (`money`) and tickets (`support`).
#[utoipa::path(get, path = "/api/v1/admin/customers/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The customer's account id")),
    responses(
        (status = OK, description = "The picture", body = Picture),
        (status = NOT_FOUND, description = "No such account", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn find_customer(
    State(state): State<AppState>,
    ApiAdmin(viewer): ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<Json<Picture>> {
    Ok(Json(picture(&state.db, viewer.user.role, id).await?))
}

/// A new internal note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NoteRequest {
    /// 1 to 2,000 characters.
    body: String,
}

/// Adds an internal note on a customer (never shown to them; audited).
#[utoipa::path(post, path = "/api/v1/admin/customers/{id}/notes", tag = "admin",
    params(("id" = i32, Path, description = "The customer's account id")),
    request_body = NoteRequest,
    responses(
        (status = CREATED, description = "The note", body = Note),
        (status = NOT_FOUND, description = "No such account", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "An empty or too long note (`body`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn add_customer_note(
    State(state): State<AppState>,
    ApiAdmin(staff): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<NoteRequest>,
) -> AppResult<(StatusCode, Json<Note>)> {
    let note = notes::add(&state, &staff.actor(&ip), id, &body.body).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// How many sessions ended.
#[derive(Debug, Serialize, ToSchema)]
struct SessionsEnded {
    sessions_ended: u64,
}

/// Ends every session of a customer's account: each device must log in again (audited).
#[utoipa::path(post, path = "/api/v1/admin/customers/{id}/end-sessions", tag = "admin",
    params(("id" = i32, Path, description = "The customer's account id")),
    responses(
        (status = OK, description = "How many sessions ended", body = SessionsEnded),
        (status = NOT_FOUND, description = "No such account", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn end_customer_sessions(
    State(state): State<AppState>,
    ApiAdmin(staff): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Json<SessionsEnded>> {
    let sessions_ended = admin::end_sessions(&state, &staff.actor(&ip), id).await?;
    Ok(Json(SessionsEnded { sessions_ended }))
}

/// E-mails an unconfirmed customer a new confirmation link (audited).
#[utoipa::path(post, path = "/api/v1/admin/customers/{id}/resend-verification", tag = "admin",
    params(("id" = i32, Path, description = "The customer's account id")),
    responses(
        (status = NO_CONTENT, description = "The e-mail is on its way"),
        (status = NOT_FOUND, description = "No such account", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "Already confirmed, or the account is disabled",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn resend_customer_verification(
    State(state): State<AppState>,
    ApiAdmin(staff): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<StatusCode> {
    admin::resend_verification(&state, &staff.actor(&ip), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
