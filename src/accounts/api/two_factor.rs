//! `/api/v1/me/two-factor*`: turning two-factor sign-in on and off, recovery codes, and the
//! fresh code (step-up) an operator's sensitive actions ask for. The verbs are in
//! [`crate::accounts::two_factor`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::extract::ApiUser;
use crate::accounts::two_factor::{self, Enrolment, Status};
use crate::app::AppState;
use crate::error::{AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            find_two_factor,
            start_two_factor,
            disable_two_factor
        ))
        .routes(routes!(confirm_two_factor))
        .routes(routes!(verify_two_factor))
        .routes(routes!(new_recovery_codes))
}

/// A code from the authenticator app (6 digits); where it says so, a recovery code does too.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    code: String,
}

/// New recovery codes (shown once).
#[derive(Debug, Serialize, ToSchema)]
struct RecoveryCodes {
    /// Ten single-use codes; the earlier ones no longer work.
    recovery_codes: Vec<String>,
}

/// Where the caller's two-factor sign-in stands.
#[utoipa::path(get, path = "/api/v1/me/two-factor", tag = "accounts",
    responses((status = OK, description = "On or off, and the recovery codes left", body = Status)),
    security(("bearer" = [])),
)]
async fn find_two_factor(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<Json<Status>> {
    Ok(Json(two_factor::status(&state, &caller.user).await?))
}

/// Starts turning two-factor sign-in on: a new secret (for the authenticator app, also as an
/// `otpauth://` URI for a QR code) and ten recovery codes. Nothing changes for logins until
/// `POST /me/two-factor/confirm` with the app's first code. Starting again replaces an
/// unconfirmed secret.
#[utoipa::path(post, path = "/api/v1/me/two-factor", tag = "accounts",
    responses(
        (status = CREATED, description = "The pending enrolment: secret, URI and recovery codes", body = Enrolment),
        (status = CONFLICT, description = "Two-factor sign-in is already on (`two-factor`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn start_two_factor(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<impl IntoResponse> {
    let enrolment = two_factor::start(&state, &caller.user).await?;
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(enrolment),
    ))
}

/// Confirms the pending enrolment with the authenticator app's current code: from now on every
/// login asks for a code. This session counts as signed in with both factors; the account's
/// other sessions end.
#[utoipa::path(post, path = "/api/v1/me/two-factor/confirm", tag = "accounts",
    request_body = CodeRequest,
    responses(
        (status = OK, description = "Two-factor sign-in is on", body = Status),
        (status = CONFLICT, description = "Nothing to confirm, or already on (`two-factor`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "Not the app's current code (`code`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn confirm_two_factor(
    State(state): State<AppState>,
    caller: ApiUser,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<CodeRequest>,
) -> AppResult<Json<Status>> {
    let status = two_factor::confirm(
        &state,
        &caller.user,
        caller.session_id,
        &body.code,
        Some(&ip),
    )
    .await?;
    Ok(Json(status))
}

/// Turns two-factor sign-in off, with a current code or a recovery code. An operator then has
/// no admin access until it is on again (when `NEXTGENRDP_OPERATOR_2FA=required`).
#[utoipa::path(delete, path = "/api/v1/me/two-factor", tag = "accounts",
    request_body = CodeRequest,
    responses(
        (status = NO_CONTENT, description = "Off"),
        (status = CONFLICT, description = "It is not on (`two-factor`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "Not a current or recovery code (`code`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn disable_two_factor(
    State(state): State<AppState>,
    caller: ApiUser,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<CodeRequest>,
) -> AppResult<StatusCode> {
    two_factor::disable(&state, &caller.user, &body.code, Some(&ip)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Proves a fresh code (or a recovery code) for this session: an operator's sensitive actions
/// (revealing a service password, approving a payment, changing credentials) then work for the
/// next 10 minutes.
#[utoipa::path(post, path = "/api/v1/me/two-factor/verify", tag = "accounts",
    request_body = CodeRequest,
    responses(
        (status = NO_CONTENT, description = "Confirmed for this session"),
        (status = CONFLICT, description = "Two-factor sign-in is not on (`two-factor`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "Not a current or recovery code (`code`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn verify_two_factor(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<CodeRequest>,
) -> AppResult<StatusCode> {
    two_factor::step_up(&state, &caller.user, caller.session_id, &body.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the recovery codes (with a current authenticator code); the old ones stop working.
#[utoipa::path(post, path = "/api/v1/me/two-factor/recovery-codes", tag = "accounts",
    request_body = CodeRequest,
    responses(
        (status = CREATED, description = "Ten new codes, shown once", body = RecoveryCodes),
        (status = CONFLICT, description = "Two-factor sign-in is not on (`two-factor`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "Not the app's current code (`code`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn new_recovery_codes(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<CodeRequest>,
) -> AppResult<impl IntoResponse> {
    let recovery_codes = two_factor::new_recovery_codes(&state, &caller.user, &body.code).await?;
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(RecoveryCodes { recovery_codes }),
    ))
}
