//! Opening a session: where both ways of signing in end — a password alone ([`super::auth`]),
//! or a password and then a second factor ([`super::two_factor`]).

use chrono::{Duration, Utc};

use super::sessions::{self, NewSession, Session};
use super::users::User;
use crate::error::AppResult;
use crate::secrets;

/// How long a refresh token (and a browser session) lives without use.
pub const SESSION_TTL_DAYS: i64 = 30;
/// Where a session is opened from.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The browser's login-device cookie ([`device`]), if it sent one.
    pub device: Option<String>,
}

/// A new session and the secret that proves it (a refresh token or a cookie value).
pub struct OpenedSession {
    pub user: User,
    pub session: Session,
    pub token: String,
}

/// Opens a session for `user`; `two_factor`: the login proved a second factor.
pub async fn open_session(
    tx: &mut sqlx::PgConnection,
    user: User,
    client: &Client,
    two_factor: bool,
) -> AppResult<OpenedSession> {
    let token = secrets::generate();
    let session = sessions::insert(
        &mut *tx,
        &NewSession {
            user_id: user.id,
            token_hash: &secrets::hash(&token),
            expires_at: Utc::now() + Duration::days(SESSION_TTL_DAYS),
            ip_address: client.ip.as_deref().map(|ip| &ip[..ip.len().min(45)]),
            user_agent: client.user_agent.as_deref(),
            two_factor,
        },
    )
    .await?;
    Ok(OpenedSession {
        user,
        session,
        token,
    })
}
