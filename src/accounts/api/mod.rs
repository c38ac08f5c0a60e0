//! JSON API of accounts: `/api/v1/auth/*`, `/api/v1/me*` and the operator's `/api/v1/admin/users`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Role;
use super::admin::{NewCustomer, ProfileChange};
use super::auth::{self, LoginOutcome, Registration};
use super::credit::{self, CreditEntry};
use super::extract::{ApiAdmin, ApiUser};
use super::jwt::{self, ACCESS_TOKEN_TTL_SECS};
use super::sessions::{self, Session};
use super::signin::{Client, OpenedSession};
use super::staff::Permission;
use super::users::{self, User};
use super::validation::{parse_name, parse_phone};
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp, UserAgent};

mod audit;
mod notifications;
mod ssh_keys;
mod staff;
mod two_factor;

pub fn router() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new()
        .merge(audit::router())
        .merge(staff::router())
        .routes(routes!(register))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(login))
        .routes(routes!(login_second_step))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(find_me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(list_sessions, revoke_other_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(list_users, create_user))
        .routes(routes!(find_user, update_user))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(find_my_credit))
        .routes(routes!(find_my_billing, change_my_billing))
        .routes(routes!(adjust_credit))
        .merge(two_factor::router())
        .merge(notifications::router())
        .merge(ssh_keys::router());
    // Login takes a guest cart the way the cart operations do (said in one place, there).
    if let Some(login) = router
        .get_openapi_mut()
        .paths
        .paths
        .get_mut("/api/v1/auth/login")
        .and_then(|item| item.post.as_mut())
    {
        login.parameters = Some(
            crate::orders::extract::guest_cart_parameters(
                "A guest cart's token (43 characters); its items join the account's cart",
                "The guest cart cookie, used when `X-Cart-Token` is absent",
            )
            .into(),
        );
    }
    router
}

/// An account as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: i32,
    pub name: String,
    /// Trimmed and lower-cased.
    pub email: String,
    /// In E.164 form (`+923001234567`), or null when none was given.
    pub phone: Option<String>,
    pub role: Role,
    /// What this account may do in the back office (empty for a customer): see the README's
    /// table of staff roles.
    pub permissions: Vec<Permission>,
    /// Whether the e-mail address has been confirmed.
    pub is_verified: bool,
    /// When the e-mail address was confirmed (RFC 3339, UTC).
    pub email_verified_at: Option<DateTime<Utc>>,
    /// When an operator disabled the account (RFC 3339, UTC); null while it is enabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// The last successful login (RFC 3339, UTC).
    pub last_login_at: Option<DateTime<Utc>>,
    /// RFC 3339, UTC.
    pub created_at: Option<DateTime<Utc>>,
    /// Whether logins ask for a code from an authenticator app.
    pub two_factor_enabled: bool,
}

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        let permissions = Permission::ALL
            .iter()
            .copied()
            .filter(|p| user.can(*p))
            .collect();
        Self {
            is_verified: user.is_verified(),
            id: user.id,
            name: user.name,
            email: user.email,
            phone: user.phone,
            role: user.role,
            permissions,
            email_verified_at: user.email_verified_at,
            disabled_at: user.disabled_at,
            last_login_at: user.last_login_at,
            created_at: user.created_at,
            two_factor_enabled: user.two_factor_enabled_at.is_some(),
        }
    }
}

/// A new customer account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    /// 1 to 100 characters.
    name: String,
    email: String,
    /// A Pakistani mobile number (`03001234567`) or an international one with `+`.
    #[serde(default)]
    phone: Option<String>,
    /// 8 characters to 72 bytes, not a common password.
    password: String,
}

/// The answer to a registration: the same whether or not the e-mail already had an account.
#[derive(Debug, Serialize, ToSchema)]
struct RegisteredResponse {
    status: RegisteredStatus,
    /// What happens next, in words for a person.
    message: String,
}

/// Always `verification_sent`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum RegisteredStatus {
    VerificationSent,
}

/// Creates a customer account and e-mails a verification link.
///
/// The answer is the same whether or not the e-mail already has an account (that owner is
/// e-mailed instead), so it tells nobody who has an account here. Log in once the address is
/// confirmed.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = CREATED, description = "Accepted: a confirmation link is on its way to the address (or, when it already has an account, a note to its owner)", body = RegisteredResponse),
        (status = UNPROCESSABLE_ENTITY, description = "A field is invalid (`errors` names each)", body = Problem,
            content_type = "application/problem+json"),
        (status = TOO_MANY_REQUESTS, description = "Too many registrations from this IP address; retry after `Retry-After` seconds",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the limit's window ends"))),
    ),
)]
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<RegisterRequest>,
) -> AppResult<impl IntoResponse> {
    auth::register(
        &state,
        Registration {
            name: body.name,
            email: body.email,
            phone: body.phone,
            password: body.password,
            next: None,
        },
        &ip,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisteredResponse {
            status: RegisteredStatus::VerificationSent,
            message: "check your e-mail: open the link we sent to confirm the address, then log in"
                .to_owned(),
        }),
    ))
}

/// The token of an e-mail verification link.
#[derive(Debug, Deserialize, ToSchema)]
struct VerifyEmailRequest {
    /// The `token` of the link the e-mail carried.
    token: String,
}

/// Confirms an account's e-mail address with the token of its verification link (once).
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "accounts",
    request_body = VerifyEmailRequest,
    responses(
        (status = OK, description = "The account, now verified", body = UserResponse),
        (status = UNPROCESSABLE_ENTITY, description = "The token is invalid, used or expired (`errors.token`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn verify_email(
    State(state): State<AppState>,
    AppJson(body): AppJson<VerifyEmailRequest>,
) -> AppResult<Json<UserResponse>> {
    Ok(Json(auth::verify_email(&state, &body.token).await?.into()))
}

/// An account's e-mail address.
#[derive(Debug, Deserialize, ToSchema)]
struct EmailRequest {
    email: String,
}

/// The answer to a request that sends an e-mail if an account qualifies: the same whether or
/// not it does, so it tells nothing about which accounts exist.
#[derive(Debug, Serialize, ToSchema)]
struct AcceptedResponse {
    status: AcceptedStatus,
    /// What happens next, in words for a person.
    message: String,
}

/// Always `accepted`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum AcceptedStatus {
    Accepted,
}

/// The same 202 whether or not the account exists.
fn accepted(message: &str) -> impl IntoResponse + use<> {
    (
        StatusCode::ACCEPTED,
        Json(AcceptedResponse {
            status: AcceptedStatus::Accepted,
            message: message.to_owned(),
        }),
    )
}

/// Sends a new verification link if an unverified account uses the e-mail.
#[utoipa::path(post, path = "/api/v1/auth/resend-verification", tag = "accounts",
    request_body = EmailRequest,
    responses(
        (status = ACCEPTED, description = "Accepted, whether or not such an account exists", body = AcceptedResponse),
        (status = TOO_MANY_REQUESTS, description = "Too many requests from this IP address or for this e-mail; retry after `Retry-After` seconds",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the limit's window ends"))),
    ),
)]
async fn resend_verification(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<EmailRequest>,
) -> AppResult<impl IntoResponse> {
    auth::resend_verification(&state, &body.email, &ip).await?;
    Ok(accepted(
        "if an unverified account uses this e-mail, a new link is on its way",
    ))
}

/// An account's credentials.
#[derive(Debug, Deserialize, ToSchema)]
struct LoginRequest {
    email: String,
    password: String,
}

/// The tokens a login or refresh hands out.
#[derive(Debug, Serialize, ToSchema)]
struct TokenResponse {
    /// A JWT for `Authorization: Bearer …`, valid for `expires_in` seconds.
    access_token: String,
    /// Trades for new tokens at `POST /auth/refresh`, once (each refresh rotates it); lives 30
    /// days without use.
    refresh_token: String,
    token_type: TokenType,
    /// Seconds the access token is valid for.
    expires_in: i64,
    user: UserResponse,
}

/// Always `Bearer`.
#[derive(Debug, Serialize, ToSchema)]
enum TokenType {
    Bearer,
}

fn token_response(state: &AppState, opened: OpenedSession) -> AppResult<Json<TokenResponse>> {
    let role = opened.user.role;
    let access_token = jwt::issue(
        state.settings.secrets.token_signing_key.expose(),
        opened.user.id,
        opened.session.id,
        role,
    )?;
    Ok(Json(TokenResponse {
        access_token,
        refresh_token: opened.token,
        token_type: TokenType::Bearer,
        expires_in: ACCESS_TOKEN_TTL_SECS,
        user: opened.user.into(),
    }))
}

/// A login whose password was right, for an account with two-factor sign-in: the code is due.
#[derive(Debug, Serialize, ToSchema)]
struct MfaRequired {
    /// Always `true`.
    mfa_required: bool,
    /// Send it with the code to `POST /auth/mfa` within 5 minutes; it works once.
    mfa_token: String,
}

/// What a login answers: the session's tokens, or (two-factor sign-in on) the second step.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
enum LoginResponse {
    Tokens(TokenResponse),
    SecondStep(MfaRequired),
}

/// Opens a session with e-mail and password; a guest cart the client holds joins the account's
/// cart. An account with two-factor sign-in answers `{"mfa_required": true, "mfa_token": …}`
/// instead: send the token with a code to `POST /auth/mfa`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = OK, description = "A new session's tokens, or the second step's token when two-factor sign-in is on", body = LoginResponse),
        (status = UNAUTHORIZED, description = "Wrong e-mail or password (the same answer for both)",
            body = Problem, content_type = "application/problem+json"),
        (status = FORBIDDEN, description = "The account is disabled", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "Not an e-mail address (`email`), or a password longer than 72 bytes (`password`)",
            body = Problem, content_type = "application/problem+json"),
        (status = TOO_MANY_REQUESTS, description = "Too many attempts from this IP address or for this account; retry after `Retry-After` seconds",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the limit's window ends"))),
    ),
)]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    headers: axum::http::HeaderMap,
    AppJson(body): AppJson<LoginRequest>,
) -> AppResult<Json<LoginResponse>> {
    let client = Client {
        ip: Some(ip),
        user_agent,
        device: None,
    };
    match auth::login(&state, &body.email, &body.password, &client).await? {
        LoginOutcome::Opened(opened) => signed_in(&state, &headers, *opened)
            .await
            .map(|tokens| Json(LoginResponse::Tokens(tokens))),
        LoginOutcome::SecondFactor { token } => Ok(Json(LoginResponse::SecondStep(MfaRequired {
            mfa_required: true,
            mfa_token: token,
        }))),
    }
}

/// A login's tokens; a guest cart the client holds (cookie or `X-Cart-Token`) joins the
/// account's cart.
async fn signed_in(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    opened: OpenedSession,
) -> AppResult<TokenResponse> {
    let guest_cart = crate::orders::extract::guest_cart_token(headers);
    crate::orders::cart::merge_guest_cart(&state.db, guest_cart.as_deref(), opened.user.id).await?;
    token_response(state, opened).map(|Json(tokens)| tokens)
}

/// The second step of a login: its token and a code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MfaRequest {
    /// The `mfa_token` the login answered.
    mfa_token: String,
    /// The 6-digit code of the authenticator app, or one of the recovery codes.
    code: String,
}

/// Completes a login of an account with two-factor sign-in: the login's `mfa_token` and a code
/// (authenticator or recovery code) give the usual tokens. A code works once; after 5 wrong
/// codes the login must start over.
#[utoipa::path(post, path = "/api/v1/auth/mfa", tag = "accounts",
    request_body = MfaRequest,
    responses(
        (status = OK, description = "The new session's tokens", body = TokenResponse),
        (status = UNPROCESSABLE_ENTITY, description = "A wrong or already used code (`code`), or a token that expired, was used or failed too often (`mfa_token`): log in again",
            body = Problem, content_type = "application/problem+json"),
        (status = TOO_MANY_REQUESTS, description = "Too many codes from this IP address or for this account; retry after `Retry-After` seconds",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the limit's window ends"))),
    ),
)]
async fn login_second_step(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    headers: axum::http::HeaderMap,
    AppJson(body): AppJson<MfaRequest>,
) -> AppResult<Json<TokenResponse>> {
    let client = Client {
        ip: Some(ip),
        user_agent,
        device: None,
    };
    let opened = auth::login_second_step(&state, &body.mfa_token, &body.code, &client).await?;
    signed_in(&state, &headers, opened).await.map(Json)
}

/// A refresh token to trade.
#[derive(Debug, Deserialize, ToSchema)]
struct RefreshRequest {
    refresh_token: String,
}

/// Trades a refresh token for a new access token and a new refresh token (the old one stops working).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "accounts",
    request_body = RefreshRequest,
    responses(
        (status = OK, description = "The session's new tokens", body = TokenResponse),
        (status = UNAUTHORIZED, description = "Unknown, expired or revoked refresh token",
            body = Problem, content_type = "application/problem+json"),
        (status = FORBIDDEN, description = "The token was already used: it was copied, so the session has been ended",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn refresh(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> AppResult<Json<TokenResponse>> {
    let opened = auth::refresh(&state, &body.refresh_token).await?;
    token_response(&state, opened)
}

/// Ends the caller's session: its access and refresh tokens stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    responses((status = NO_CONTENT, description = "Logged out")),
    security(("bearer" = [])),
)]
async fn logout(State(state): State<AppState>, caller: ApiUser) -> AppResult<StatusCode> {
    sessions::revoke(&state.db, caller.session_id, caller.user.id, "logout").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// E-mails a password reset link if an account uses the e-mail.
#[utoipa::path(post, path = "/api/v1/auth/forgot-password", tag = "accounts",
    request_body = EmailRequest,
    responses(
        (status = ACCEPTED, description = "Accepted, whether or not such an account exists", body = AcceptedResponse),
        (status = TOO_MANY_REQUESTS, description = "Too many requests from this IP address or for this e-mail; retry after `Retry-After` seconds",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the limit's window ends"))),
    ),
)]
async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<EmailRequest>,
) -> AppResult<impl IntoResponse> {
    auth::forgot_password(&state, &body.email, &ip).await?;
    Ok(accepted(
        "if an account uses this e-mail, a reset link is on its way",
    ))
}

/// A new password, with the token of a reset link.
#[derive(Debug, Deserialize, ToSchema)]
struct ResetRequest {
    /// The `token` of the link the e-mail carried.
    token: String,
    /// 8 characters to 72 bytes, not a common password.
    password: String,
}

/// Sets a new password with a reset link's token (once); every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = "accounts",
    request_body = ResetRequest,
    responses(
        (status = OK, description = "The account (its e-mail now verified); log in with the new password", body = UserResponse),
        (status = UNPROCESSABLE_ENTITY, description = "The password is too weak (`errors.password`), or the token invalid, used or expired (`errors.token`)",
            body = Problem, content_type = "application/problem+json"),
        (status = TOO_MANY_REQUESTS, description = "Too many attempts from this IP address; retry after `Retry-After` seconds",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the limit's window ends"))),
    ),
)]
async fn reset_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<ResetRequest>,
) -> AppResult<Json<UserResponse>> {
    Ok(Json(
        auth::reset_password(&state, &body.token, &body.password, &ip)
            .await?
            .into(),
    ))
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = OK, description = "The caller's account", body = UserResponse)),
    security(("bearer" = [])),
)]
async fn find_me(caller: ApiUser) -> Json<UserResponse> {
    Json(caller.user.into())
}

/// Changes to the caller's profile; an absent field is left as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateMeRequest {
    /// 1 to 100 characters.
    name: Option<String>,
    /// `null` or "" clears the phone; absent leaves it.
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
}

/// Changes the caller's name or phone.
#[utoipa::path(patch, path = "/api/v1/me", tag = "accounts",
    request_body = UpdateMeRequest,
    responses((status = OK, description = "The account as changed", body = UserResponse)),
    security(("bearer" = [])),
)]
async fn update_me(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<UpdateMeRequest>,
) -> AppResult<Json<UserResponse>> {
    let mut errors = super::validation::FieldErrors::default();
    let name = match body.name {
        Some(name) => errors.check("name", parse_name(&name)),
        None => Some(caller.user.name.clone()),
    };
    let phone = match body.phone {
        None => Some(caller.user.phone.clone()),
        Some(None) => Some(None),
        Some(Some(text)) if text.trim().is_empty() => Some(None),
        Some(Some(text)) => errors.check("phone", parse_phone(&text)).map(Some),
    };
    let (Some(name), Some(phone)) = (name, phone) else {
        return Err(AppError::Validation(errors.0));
    };
    let user = users::update_profile(&state.db, caller.user.id, &name, phone.as_deref())
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok(Json(user.into()))
}

/// The current password and the new one.
#[derive(Debug, Deserialize, ToSchema)]
struct ChangePasswordRequest {
    current_password: String,
    /// 8 characters to 72 bytes, not a common password.
    new_password: String,
}

/// Changes the caller's password; every other session of the account ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "accounts",
    request_body = ChangePasswordRequest,
    responses(
        (status = NO_CONTENT, description = "Changed"),
        (status = UNPROCESSABLE_ENTITY, description = "The current password is wrong (`errors.current_password`) or the new one too weak (`errors.new_password`)",
            body = Problem, content_type = "application/problem+json"),
        (status = FORBIDDEN, description = "An operator without a fresh second factor: send a code to `POST /me/two-factor/verify` (`two-factor`), then retry",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn change_password(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<ChangePasswordRequest>,
) -> AppResult<StatusCode> {
    if caller.user.is_staff() {
        caller.require_recent_two_factor()?;
    }
    auth::change_password(
        &state,
        &caller.user,
        caller.session_id,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A session as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
struct SessionResponse {
    id: i32,
    /// Whether this is the session of the token making the call.
    current: bool,
    /// The address it was opened from.
    ip_address: Option<String>,
    /// The browser or client it was opened with.
    user_agent: Option<String>,
    /// RFC 3339, UTC.
    created_at: Option<DateTime<Utc>>,
    /// When it was last used, to within a few minutes (RFC 3339, UTC).
    last_used_at: Option<DateTime<Utc>>,
    /// When it ends unless refreshed (RFC 3339, UTC).
    expires_at: DateTime<Utc>,
}

/// The caller's live sessions.
#[derive(Debug, Serialize, ToSchema)]
struct SessionList {
    items: Vec<SessionResponse>,
}

/// How many sessions were ended.
#[derive(Debug, Serialize, ToSchema)]
struct RevokedSessions {
    revoked: u64,
}

fn session_response(session: Session, current: i32) -> SessionResponse {
    SessionResponse {
        current: session.id == current,
        id: session.id,
        ip_address: session.ip_address,
        user_agent: session.user_agent,
        created_at: session.created_at,
        last_used_at: session.last_used_at,
        expires_at: session.expires_at,
    }
}

/// The caller's live sessions (devices logged in).
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "accounts",
    responses((status = OK, description = "Every live session of the account, the current one marked", body = SessionList)),
    security(("bearer" = [])),
)]
async fn list_sessions(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<impl IntoResponse> {
    let items: Vec<SessionResponse> = sessions::list_live_for_user(&state.db, caller.user.id)
        .await?
        .into_iter()
        .map(|s| session_response(s, caller.session_id))
        .collect();
    Ok(Json(SessionList { items }))
}

/// Ends one of the caller's sessions; someone else's session is a 404, as if it did not exist.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "accounts",
    params(("id" = i32, Path, description = "The session's id")),
    responses((status = NO_CONTENT, description = "Ended")),
    security(("bearer" = [])),
)]
async fn revoke_session(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<StatusCode> {
    if !sessions::revoke(&state.db, id, caller.user.id, "user_revoked").await? {
        return Err(AppError::NotFound("session"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the caller's account but the current one.
#[utoipa::path(delete, path = "/api/v1/me/sessions", tag = "accounts",
    responses((status = OK, description = "How many sessions were ended", body = RevokedSessions)),
    security(("bearer" = [])),
)]
async fn revoke_other_sessions(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<impl IntoResponse> {
    let revoked = sessions::revoke_all_for_user(
        &state.db,
        caller.user.id,
        Some(caller.session_id),
        "user_revoked",
    )
    .await?;
    Ok(Json(RevokedSessions { revoked }))
}

/// Paging of operator lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Part of a name or e-mail (case-insensitive); blank means everyone.
    search: Option<String>,
    /// The page, from 1.
    #[serde(default = "crate::web::paging::first_page")]
    #[param(default = 1, minimum = 1)]
    page: i64,
    /// Accounts per page, 1 to 100.
    #[serde(default = "crate::web::paging::admin_per_page")]
    #[param(default = 25, minimum = 1, maximum = 100)]
    per_page: i64,
}

/// A page of accounts.
#[derive(Debug, Serialize, ToSchema)]
struct UserPage {
    items: Vec<UserResponse>,
    /// How many accounts match, over all pages: exact up to 10,000; beyond, the database's
    /// estimate (`total_exact` false), never under 10,001.
    total: i64,
    /// Whether `total` is an exact count (false: an estimate; page on until a page comes back
    /// short).
    total_exact: bool,
    page: i64,
    per_page: i64,
}

/// The accounts, newest first, optionally searched by name or e-mail.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    params(UserListQuery),
    responses((status = OK, description = "A page of accounts", body = UserPage)),
    security(("bearer" = [])),
)]
async fn list_users(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<UserListQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    crate::web::paging::check(query.page, query.per_page)?;
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let total = users::count(&state.db, search).await?;
    let items: Vec<UserResponse> = users::list(
        &state.db,
        search,
        query.per_page,
        crate::web::paging::offset(query.page, query.per_page),
    )
    .await?
    .into_iter()
    .map(UserResponse::from)
    .collect();
    Ok(Json(UserPage {
        items,
        total: total.count,
        total_exact: total.exact,
        page: query.page,
        per_page: query.per_page,
    }))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The account's id")),
    responses((status = OK, description = "The account", body = UserResponse)),
    security(("bearer" = [])),
)]
async fn find_user(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<Json<UserResponse>> {
    Ok(Json(
        users::find(&state.db, id)
            .await?
            .ok_or(AppError::NotFound("account"))?
            .into(),
    ))
}

/// Opens a customer account for someone (audited as `user.create`). The operator never sets
/// its password: the customer is e-mailed a link to choose one (it works once, for 7 days, and
/// confirms the address).
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin",
    operation_id = "admin_create_user",
    request_body = NewCustomer,
    responses(
        (status = CREATED, description = "The account, unconfirmed until the customer chooses a password", body = UserResponse),
        (status = CONFLICT, description = "An account has this e-mail (`email`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A field is invalid (each named in `errors`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn create_user(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(input): AppJson<NewCustomer>,
) -> AppResult<(StatusCode, Json<UserResponse>)> {
    let user = super::admin::create_customer(&state, &admin.actor(&ip), &input).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Changes an account's name, phone or e-mail (audited as `user.update`, before → after); a new
/// e-mail is unconfirmed until the customer follows the link sent to it.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin",
    operation_id = "admin_update_user",
    params(("id" = i32, Path, description = "The account's id")),
    request_body = ProfileChange,
    responses(
        (status = OK, description = "The account as it now is", body = UserResponse),
        (status = FORBIDDEN, description = "A staff member's account, and the caller is not an owner",
            body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "Another account has this e-mail (`email`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A field is invalid (each named in `errors`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn update_user(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(change): AppJson<ProfileChange>,
) -> AppResult<Json<UserResponse>> {
    let user = super::admin::update_profile(&state, &admin.actor(&ip), id, &change).await?;
    Ok(Json(user.into()))
}

/// Disables an account and ends its sessions at once (audited).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/disable", tag = "admin",
    params(("id" = i32, Path, description = "The account's id")),
    responses(
        (status = OK, description = "The account, disabled (`disabled_at` set)", body = UserResponse),
        (status = CONFLICT, description = "An operator cannot disable their own account", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn disable_user(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Json<UserResponse>> {
    super::admin::set_disabled(&state, &admin.actor(&ip), id, true)
        .await
        .map(|user| Json(user.into()))
}

/// Re-enables a disabled account (audited).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/enable", tag = "admin",
    params(("id" = i32, Path, description = "The account's id")),
    responses((status = OK, description = "The account, enabled (`disabled_at` null)", body = UserResponse)),
    security(("bearer" = [])),
)]
async fn enable_user(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Json<UserResponse>> {
    super::admin::set_disabled(&state, &admin.actor(&ip), id, false)
        .await
        .map(|user| Json(user.into()))
}

/// The caller's account credit.
#[derive(Debug, Serialize, ToSchema)]
struct CreditResponse {
    /// Whole PKR, never negative.
    balance_pkr: i32,
    /// The newest 100 movements, newest first.
    entries: Vec<CreditEntry>,
}

/// The caller's account credit: the balance and its newest movements.
#[utoipa::path(get, path = "/api/v1/me/credit", tag = "accounts",
    responses((status = OK, description = "The balance and the newest 100 movements", body = CreditResponse)),
    security(("bearer" = [])),
)]
async fn find_my_credit(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<Json<CreditResponse>> {
    Ok(Json(CreditResponse {
        balance_pkr: credit::balance(&state.db, caller.user.id).await?,
        entries: credit::entries(&state.db, caller.user.id, 100).await?,
    }))
}

/// An operator's credit adjustment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AdjustCreditRequest {
    /// Whole PKR: positive gives credit, negative takes it back (never below a zero balance);
    /// not zero, at most 10,000,000 either way.
    amount_pkr: i64,
    /// Why, 1 to 500 characters (the customer sees it in their history).
    reason: String,
}

/// Gives an account credit, or takes it back, with a reason (audited).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/credit", tag = "admin",
    params(("id" = i32, Path, description = "The account's id")),
    request_body = AdjustCreditRequest,
    responses(
        (status = CREATED, description = "The movement recorded, with the balance after it", body = CreditEntry),
        (status = BAD_REQUEST, description = "A zero or too large `amount_pkr`, or an empty `reason`", body = Problem,
            content_type = "application/problem+json"),
        (status = NOT_FOUND, description = "No such account", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "The balance would go below zero (`amount_pkr`)", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn adjust_credit(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<AdjustCreditRequest>,
) -> AppResult<impl IntoResponse> {
    let entry =
        credit::adjust_by_operator(&state, &admin.actor(&ip), id, body.amount_pkr, &body.reason)
            .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// The caller's billing particulars, printed on their invoices.
#[utoipa::path(get, path = "/api/v1/me/billing", tag = "accounts",
    responses((status = OK, description = "The particulars (all null until given)", body = super::billing::BillingProfile)),
    security(("bearer" = [])),
)]
async fn find_my_billing(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<Json<super::billing::BillingProfile>> {
    Ok(Json(super::billing::find(&state.db, caller.user.id).await?))
}

/// Changes the caller's billing particulars: province (for sales tax), NTN or CNIC, address.
/// Each field absent is kept; `null` or "" clears it. Invoices already issued keep what they
/// printed.
#[utoipa::path(put, path = "/api/v1/me/billing", tag = "accounts",
    request_body = super::billing::BillingProfileChange,
    responses(
        (status = OK, description = "The particulars as changed", body = super::billing::BillingProfile),
        (status = UNPROCESSABLE_ENTITY, description = "A malformed tax number or too long an address (named)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn change_my_billing(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<super::billing::BillingProfileChange>,
) -> AppResult<Json<super::billing::BillingProfile>> {
    let mut db = state.db.acquire().await?;
    Ok(Json(
        super::billing::change(&mut db, caller.user.id, &body).await?,
    ))
}
