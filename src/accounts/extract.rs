//! Who is calling: extractors that authenticate a request and check its role.
//!
//! The API authenticates with `Authorization: Bearer <access token>`; every request re-checks
//! the token's session in the database, so a logout, a revoked session or a disabled account
//! stops its tokens at once. Pages authenticate with the session cookie (see `pages`).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::sessions::{self, SessionUser};
use super::users::User;
use super::{jwt, secrets};
use crate::app::AppState;
use crate::error::AppError;

/// The name of the browser session cookie.
pub const SESSION_COOKIE: &str = "ngr_session";

/// An authenticated API caller.
#[derive(Clone, Debug)]
pub struct ApiUser {
    pub user: User,
    pub session_id: i32,
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or(AppError::Unauthorized)?;
        let claims = jwt::verify(state.settings.secrets.token_signing_key.expose(), token.trim())
            .ok_or(AppError::Unauthorized)?;
        let SessionUser { session_id, user } = sessions::find_live_user(&state.db, claims.sid)
            .await?
            .filter(|live| Some(live.user.id) == claims.user_id())
            .ok_or(AppError::Unauthorized)?;
        Ok(Self { user, session_id })
    }
}

/// An authenticated operator; a customer gets 403.
#[derive(Clone, Debug)]
pub struct ApiAdmin(pub ApiUser);

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = ApiUser::from_request_parts(parts, state).await?;
        if !caller.user.is_admin() {
            return Err(AppError::Forbidden("this needs an operator account".into()));
        }
        Ok(Self(caller))
    }
}

/// The account behind a browser session cookie value, if live.
pub async fn cookie_user(state: &AppState, cookie_value: &str) -> Result<Option<SessionUser>, AppError> {
    if cookie_value.is_empty() || cookie_value.len() > 100 {
        return Ok(None);
    }
    Ok(sessions::find_live_user_by_token_hash(&state.db, &secrets::hash(cookie_value)).await?)
}
