//! JSON API of accounts: `/api/v1/auth/*`, `/api/v1/me*` and the operator's `/api/v1/admin/users`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Role;
use super::auth::{self, Client, OpenedSession, Registration};
use super::extract::{ApiAdmin, ApiUser};
use super::jwt::{self, ACCESS_TOKEN_TTL_SECS};
use super::sessions::{self, Session};
use super::users::{self, User};
use super::validation::{parse_name, parse_phone};
use crate::app::AppState;
use crate::audit::{self, NewAuditEntry};
use crate::error::{AppError, AppResult};
use crate::web::extract::{AppJson, ClientIp, UserAgent};
use crate::web::rate_limit::{self, Limit};

/// Per-IP and per-account limits of the endpoints attackers hammer.
pub mod limits {
    use super::Limit;
    pub const LOGIN_PER_IP: Limit = Limit::per_minutes(30, 10);
    pub const LOGIN_PER_ACCOUNT: Limit = Limit::per_minutes(10, 15);
    pub const REGISTER_PER_IP: Limit = Limit::per_minutes(10, 60);
    pub const FORGOT_PER_IP: Limit = Limit::per_minutes(10, 60);
    pub const FORGOT_PER_ACCOUNT: Limit = Limit::per_minutes(5, 60);
    pub const RESET_PER_IP: Limit = Limit::per_minutes(20, 60);
    pub const RESEND_PER_IP: Limit = Limit::per_minutes(10, 60);
    pub const RESEND_PER_ACCOUNT: Limit = Limit::per_minutes(5, 60);
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/verify-email", post(verify_email))
        .route("/auth/resend-verification", post(resend_verification))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/forgot-password", post(forgot_password))
        .route("/auth/reset-password", post(reset_password))
        .route("/me", get(find_me).patch(update_me))
        .route("/me/password", post(change_password))
        .route(
            "/me/sessions",
            get(list_sessions).delete(revoke_other_sessions),
        )
        .route("/me/sessions/{id}", delete(revoke_session))
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}", get(find_user))
        .route("/admin/users/{id}/disable", post(disable_user))
        .route("/admin/users/{id}/enable", post(enable_user))
}

/// An account as the API shows it (never the password hash).
#[derive(Debug, Serialize)]
pub struct UserResponse {
    pub id: i32,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub role: String,
    pub is_verified: bool,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
}

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        Self {
            is_verified: user.is_verified(),
            id: user.id,
            name: user.name,
            email: user.email,
            phone: user.phone,
            role: user.role,
            email_verified_at: user.email_verified_at,
            disabled_at: user.disabled_at,
            last_login_at: user.last_login_at,
            created_at: user.created_at,
        }
    }
}

/// Counts a hit against each key's limit; the first over its limit answers 429.
pub(crate) async fn limit(state: &AppState, hits: &[(String, Limit)]) -> AppResult<()> {
    for (key, limit) in hits {
        rate_limit::hit(&state.db, key, *limit).await?;
    }
    Ok(())
}

pub(crate) fn account_key(action: &str, email: &str) -> String {
    format!("{action}:account:{}", email.trim().to_lowercase())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    name: String,
    email: String,
    #[serde(default)]
    phone: Option<String>,
    password: String,
}

async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<RegisterRequest>,
) -> AppResult<impl IntoResponse> {
    limit(
        &state,
        &[(format!("register:ip:{ip}"), limits::REGISTER_PER_IP)],
    )
    .await?;
    let user = auth::register(
        &state,
        Registration {
            name: body.name,
            email: body.email,
            phone: body.phone,
            password: body.password,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(UserResponse::from(user))))
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    token: String,
}

async fn verify_email(
    State(state): State<AppState>,
    AppJson(body): AppJson<TokenRequest>,
) -> AppResult<Json<UserResponse>> {
    Ok(Json(auth::verify_email(&state, &body.token).await?.into()))
}

#[derive(Debug, Deserialize)]
struct EmailRequest {
    email: String,
}

/// The same 202 whether or not the account exists.
fn accepted(message: &str) -> impl IntoResponse + use<> {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "status": "accepted", "message": message })),
    )
}

async fn resend_verification(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<EmailRequest>,
) -> AppResult<impl IntoResponse> {
    limit(
        &state,
        &[
            (format!("resend:ip:{ip}"), limits::RESEND_PER_IP),
            (
                account_key("resend", &body.email),
                limits::RESEND_PER_ACCOUNT,
            ),
        ],
    )
    .await?;
    auth::resend_verification(&state, &body.email).await?;
    Ok(accepted(
        "if an unverified account uses this e-mail, a new link is on its way",
    ))
}

#[derive(Debug, Deserialize)]
struct LoginRequest {
    email: String,
    password: String,
}

/// The tokens a login or refresh hands out.
#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
    user: UserResponse,
}

fn token_response(state: &AppState, opened: OpenedSession) -> AppResult<Json<TokenResponse>> {
    let role: Role = opened
        .user
        .role
        .parse()
        .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?;
    let access_token = jwt::issue(
        state.settings.secrets.token_signing_key.expose(),
        opened.user.id,
        opened.session.id,
        role,
    )?;
    Ok(Json(TokenResponse {
        access_token,
        refresh_token: opened.token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL_SECS,
        user: opened.user.into(),
    }))
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    headers: axum::http::HeaderMap,
    AppJson(body): AppJson<LoginRequest>,
) -> AppResult<Json<TokenResponse>> {
    limit(
        &state,
        &[
            (format!("login:ip:{ip}"), limits::LOGIN_PER_IP),
            (account_key("login", &body.email), limits::LOGIN_PER_ACCOUNT),
        ],
    )
    .await?;
    let opened = auth::login(
        &state,
        &body.email,
        &body.password,
        &Client {
            ip: Some(ip),
            user_agent,
        },
    )
    .await?;
    // A guest cart the client holds (cookie or X-Cart-Token) joins the account's cart.
    let guest_cart = crate::orders::api::guest_cart_token(&headers);
    crate::orders::cart::merge_guest_cart(&state.db, guest_cart.as_deref(), opened.user.id).await?;
    token_response(&state, opened)
}

#[derive(Debug, Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> AppResult<Json<TokenResponse>> {
    let opened = auth::refresh(&state, &body.refresh_token).await?;
    token_response(&state, opened)
}

async fn logout(State(state): State<AppState>, caller: ApiUser) -> AppResult<StatusCode> {
    sessions::revoke(&state.db, caller.session_id, caller.user.id, "logout").await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<EmailRequest>,
) -> AppResult<impl IntoResponse> {
    limit(
        &state,
        &[
            (format!("forgot:ip:{ip}"), limits::FORGOT_PER_IP),
            (
                account_key("forgot", &body.email),
                limits::FORGOT_PER_ACCOUNT,
            ),
        ],
    )
    .await?;
    auth::forgot_password(&state, &body.email).await?;
    Ok(accepted(
        "if an account uses this e-mail, a reset link is on its way",
    ))
}

#[derive(Debug, Deserialize)]
struct ResetRequest {
    token: String,
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<ResetRequest>,
) -> AppResult<Json<UserResponse>> {
    limit(&state, &[(format!("reset:ip:{ip}"), limits::RESET_PER_IP)]).await?;
    Ok(Json(
        auth::reset_password(&state, &body.token, &body.password)
            .await?
            .into(),
    ))
}

async fn find_me(caller: ApiUser) -> Json<UserResponse> {
    Json(caller.user.into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateMeRequest {
    name: Option<String>,
    /// `null` or "" clears the phone; absent leaves it.
    #[serde(default, with = "double_option")]
    phone: Option<Option<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

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

#[derive(Debug, Deserialize)]
struct ChangePasswordRequest {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<ChangePasswordRequest>,
) -> AppResult<StatusCode> {
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
#[derive(Debug, Serialize)]
struct SessionResponse {
    id: i32,
    current: bool,
    ip_address: Option<String>,
    user_agent: Option<String>,
    created_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
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

async fn list_sessions(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<impl IntoResponse> {
    let items: Vec<SessionResponse> = sessions::list_live_for_user(&state.db, caller.user.id)
        .await?
        .into_iter()
        .map(|s| session_response(s, caller.session_id))
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// Ends one of the caller's sessions; someone else's session is a 404, as if it did not exist.
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
    Ok(Json(json!({ "revoked": revoked })))
}

/// Paging of operator lists.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    search: Option<String>,
    #[serde(default = "first_page")]
    page: i64,
    #[serde(default = "default_per_page")]
    per_page: i64,
}

fn first_page() -> i64 {
    1
}

fn default_per_page() -> i64 {
    25
}

async fn list_users(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<UserListQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    if query.page < 1 {
        return Err(AppError::bad_request("page", "must be 1 or more"));
    }
    if !(1..=100).contains(&query.per_page) {
        return Err(AppError::bad_request(
            "per_page",
            "must be between 1 and 100",
        ));
    }
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
        (query.page - 1) * query.per_page,
    )
    .await?
    .into_iter()
    .map(UserResponse::from)
    .collect();
    Ok(Json(
        json!({ "items": items, "total": total, "page": query.page, "per_page": query.per_page }),
    ))
}

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

async fn disable_user(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Json<UserResponse>> {
    set_disabled(&state, &admin.user, &ip, id, true)
        .await
        .map(Json)
}

async fn enable_user(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Json<UserResponse>> {
    set_disabled(&state, &admin.user, &ip, id, false)
        .await
        .map(Json)
}

/// Disables or re-enables an account; disabling ends its sessions at once. Audited.
pub async fn set_disabled(
    state: &AppState,
    admin: &User,
    ip: &str,
    id: i32,
    disabled: bool,
) -> AppResult<UserResponse> {
    if disabled && id == admin.id {
        return Err(AppError::conflict(
            "id",
            "you cannot disable your own account",
        ));
    }
    let mut tx = state.db.begin().await?;
    let before = users::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    users::set_disabled(&mut *tx, id, disabled).await?;
    if disabled {
        sessions::revoke_all_for_user(&mut *tx, id, None, "account_disabled").await?;
    }
    let after = users::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: Some(admin.id),
            action: if disabled {
                "user.disable"
            } else {
                "user.enable"
            },
            entity_type: "user",
            entity_id: Some(&id.to_string()),
            before: Some(json!({ "disabled_at": before.disabled_at })),
            after: Some(json!({ "disabled_at": after.disabled_at })),
            ip_address: Some(ip),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        user.id = id,
        admin.id = admin.id,
        "account {id} disabled={disabled}"
    );
    Ok(after.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_rate_limit_keys_ignore_case_and_spaces() {
        assert_eq!(
            account_key("login", " Ali@Example.PK "),
            "login:account:ali@example.pk"
        );
    }
}
