//! The caller's notification channels over JSON: `/api/v1/me/notifications` (e-mail only, or
//! e-mail + WhatsApp) and `/api/v1/me/whatsapp` (a number, verified by a code sent to it).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::extract::ApiUser;
use crate::accounts::whatsapp::{self, Channels};
use crate::app::AppState;
use crate::error::{AppResult, Problem};
use crate::web::extract::AppJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(find_notifications, change_notifications))
        .routes(routes!(send_whatsapp_code))
        .routes(routes!(verify_whatsapp))
}

/// Which channels to use.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelsChange {
    /// `true`: e-mail + WhatsApp (needs a verified number); `false`: e-mail only.
    pub whatsapp: bool,
}

/// A WhatsApp number to verify.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppNumber {
    /// `+92 300 1234567`, `0300-1234567` or another country's number with its `+` code.
    #[schema(max_length = 30)]
    pub number: String,
}

/// Where the code went.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    /// The number, international digits.
    pub number: String,
    /// Minutes the code works.
    pub expires_in_minutes: i64,
}

/// The code sent to the number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppCode {
    /// The 6 digits of the WhatsApp message.
    #[schema(min_length = 6, max_length = 6)]
    pub code: String,
}

/// The caller's notification channels.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "accounts",
    security(("bearer" = [])),
    responses((status = OK, description = "The channels", body = Channels)),
)]
async fn find_notifications(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<Json<Channels>> {
    Ok(Json(whatsapp::channels(&state, caller.user.id).await?))
}

/// E-mail only, or e-mail + WhatsApp.
#[utoipa::path(put, path = "/api/v1/me/notifications", tag = "accounts",
    security(("bearer" = [])),
    request_body = ChannelsChange,
    responses(
        (status = OK, description = "The channels as changed", body = Channels),
        (status = CONFLICT, description = "No verified WhatsApp number, or the shop sends no WhatsApp (`whatsapp`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn change_notifications(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<ChannelsChange>,
) -> AppResult<Json<Channels>> {
    Ok(Json(
        whatsapp::set_whatsapp(&state, &caller.user, body.whatsapp).await?,
    ))
}

/// Sends a 6-digit code over WhatsApp to the number (it works 15 minutes; 5 codes an hour).
#[utoipa::path(post, path = "/api/v1/me/whatsapp", tag = "accounts",
    security(("bearer" = [])),
    request_body = WhatsAppNumber,
    responses(
        (status = ACCEPTED, description = "The code is on its way", body = CodeSent),
        (status = CONFLICT, description = "The shop sends no WhatsApp (`whatsapp`)", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "Not a phone number (`number`)", body = Problem,
            content_type = "application/problem+json"),
        (status = TOO_MANY_REQUESTS, description = "5 codes in the last hour", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn send_whatsapp_code(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<WhatsAppNumber>,
) -> AppResult<impl IntoResponse> {
    let number = whatsapp::send_code(&state, &caller.user, &body.number).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            number,
            expires_in_minutes: 15,
        }),
    ))
}

/// Confirms the number with the code: it becomes the account's and WhatsApp notices start.
#[utoipa::path(post, path = "/api/v1/me/whatsapp/verify", tag = "accounts",
    security(("bearer" = [])),
    request_body = WhatsAppCode,
    responses(
        (status = OK, description = "Verified; e-mail + WhatsApp", body = Channels),
        (status = UNPROCESSABLE_ENTITY, description = "A wrong, expired or used-up code (`code`)", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn verify_whatsapp(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<WhatsAppCode>,
) -> AppResult<Json<Channels>> {
    Ok(Json(
        whatsapp::confirm_code(&state, &caller.user, &body.code).await?,
    ))
}
