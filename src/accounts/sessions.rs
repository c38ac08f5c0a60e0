//! Repository of `user_sessions` and `session_retired_tokens`: login sessions, refresh-token
//! rotation with reuse detection, and revocation.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `user_sessions`; `token_hash` is the hash of the current refresh token.
#[derive(Clone, Debug, FromRow, Serialize)]
pub struct Session {
    pub id: i32,
    pub user_id: Option<i32>,
    #[serde(skip)]
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    /// When this session last proved a second factor (its login, or a step-up since).
    pub two_factor_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Usable: neither revoked nor expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

macro_rules! session_columns {
    () => {
        "id, user_id, token_hash, expires_at, ip_address, user_agent, created_at, last_used_at, \
         rotated_at, revoked_at, revoked_reason, two_factor_at"
    };
}

/// What a new session records.
#[derive(Debug)]
pub struct NewSession<'a> {
    pub user_id: i32,
    pub token_hash: &'a str,
    pub expires_at: DateTime<Utc>,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// The login proved a second factor.
    pub two_factor: bool,
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewSession<'_>) -> sqlx::Result<Session> {
    timed(
        "user_sessions.insert",
        sqlx::query_as(concat!(
            "insert into user_sessions (user_id, token_hash, expires_at, ip_address, user_agent,
                                        two_factor_at)
             values ($1, $2, $3, $4, $5, case when $6 then now() end) returning ",
            session_columns!()
        ))
        .bind(new.user_id)
        .bind(new.token_hash)
        .bind(new.expires_at)
        .bind(new.ip_address)
        .bind(new.user_agent)
        .bind(new.two_factor)
        .fetch_one(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Session>> {
    timed(
        "user_sessions.find",
        sqlx::query_as(concat!(
            "select ",
            session_columns!(),
            " from user_sessions where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// The session whose current refresh token hashes to `token_hash`, locked for rotation.
pub async fn find_by_token_hash_for_update(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<Session>> {
    timed(
        "user_sessions.find_by_token_hash_for_update",
        sqlx::query_as(concat!(
            "select ",
            session_columns!(),
            " from user_sessions where token_hash = $1 for update"
        ))
        .bind(token_hash)
        .fetch_optional(db),
    )
    .await
}

/// The session a retired (already rotated) refresh token belonged to: seeing one means reuse.
pub async fn find_by_retired_token_hash(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<i32>> {
    timed(
        "user_sessions.find_by_retired_token_hash",
        sqlx::query_scalar("select session_id from session_retired_tokens where token_hash = $1")
            .bind(token_hash)
            .fetch_optional(db),
    )
    .await
}

/// Replaces the session's refresh token: the old hash is retired (so its reuse is detected) and
/// the expiry slides. Run in the transaction that locked the row.
pub async fn rotate(
    db: &mut sqlx::PgConnection,
    id: i32,
    old_hash: &str,
    new_hash: &str,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    timed(
        "user_sessions.retire_token",
        sqlx::query(
            "insert into session_retired_tokens (token_hash, session_id) values ($1, $2)
             on conflict (token_hash) do nothing",
        )
        .bind(old_hash)
        .bind(id)
        .execute(&mut *db),
    )
    .await?;
    timed(
        "user_sessions.rotate",
        sqlx::query(
            "update user_sessions
             set token_hash = $2, expires_at = $3, rotated_at = now(), last_used_at = now()
             where id = $1",
        )
        .bind(id)
        .bind(new_hash)
        .bind(expires_at)
        .execute(&mut *db),
    )
    .await?;
    Ok(())
}

pub async fn touch(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<()> {
    timed(
        "user_sessions.touch",
        sqlx::query("update user_sessions set last_used_at = now() where id = $1")
            .bind(id)
            .execute(db),
    )
    .await?;
    Ok(())
}

/// Revokes one session of `user_id`; false when it is not theirs or already revoked.
pub async fn revoke(
    db: impl PgExecutor<'_>,
    id: i32,
    user_id: i32,
    reason: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "user_sessions.revoke",
        sqlx::query(
            "update user_sessions set revoked_at = now(), revoked_reason = $3
             where id = $1 and user_id = $2 and revoked_at is null",
        )
        .bind(id)
        .bind(user_id)
        .bind(reason)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live session of a user except `keep` (the current one), returning how many.
pub async fn revoke_all_for_user(
    db: impl PgExecutor<'_>,
    user_id: i32,
    keep: Option<i32>,
    reason: &str,
) -> sqlx::Result<u64> {
    let done = timed(
        "user_sessions.revoke_all_for_user",
        sqlx::query(
            "update user_sessions set revoked_at = now(), revoked_reason = $3
             where user_id = $1 and revoked_at is null and ($2::int is null or id <> $2)",
        )
        .bind(user_id)
        .bind(keep)
        .bind(reason)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}

/// The user's sessions that are neither revoked nor expired, newest first.
pub async fn list_live_for_user(
    db: impl PgExecutor<'_>,
    user_id: i32,
) -> sqlx::Result<Vec<Session>> {
    timed(
        "user_sessions.list_live_for_user",
        sqlx::query_as(concat!(
            "select ",
            session_columns!(),
            " from user_sessions
             where user_id = $1 and revoked_at is null and expires_at > now()
             order by coalesce(last_used_at, created_at) desc, id desc"
        ))
        .bind(user_id)
        .fetch_all(db),
    )
    .await
}

/// Deletes sessions expired or revoked before `before` (with their retired tokens).
pub async fn delete_stale(db: impl PgExecutor<'_>, before: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = timed(
        "user_sessions.delete_stale",
        sqlx::query("delete from user_sessions where expires_at < $1 or revoked_at < $1")
            .bind(before)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}

/// A live session together with its (enabled) account: what authenticates a request.
#[derive(Clone, Debug, FromRow)]
pub struct SessionUser {
    pub session_id: i32,
    pub session_last_used_at: Option<DateTime<Utc>>,
    /// When the session last proved a second factor.
    pub session_two_factor_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    pub user: super::users::User,
}

impl SessionUser {
    /// Whether the session's "last used" time is old enough to be worth a write.
    pub fn needs_touch(&self, now: DateTime<Utc>) -> bool {
        self.session_last_used_at
            .is_none_or(|at| now - at > chrono::Duration::minutes(5))
    }
}

/// The account behind a live session id, if the session is neither revoked nor expired and the
/// account is not disabled. Checked on every authenticated request, so a revocation takes
/// effect at once.
pub async fn find_live_user(
    db: impl PgExecutor<'_>,
    session_id: i32,
) -> sqlx::Result<Option<SessionUser>> {
    timed(
        "user_sessions.find_live_user",
        sqlx::query_as(
            "select s.id as session_id, s.last_used_at as session_last_used_at,
                    s.two_factor_at as session_two_factor_at, u.id, u.name, u.email, u.phone,
                    u.password_hash, u.is_verified, u.role, u.email_verified_at, u.disabled_at,
                    u.last_login_at, u.created_at, u.updated_at, u.two_factor_enabled_at
             from user_sessions s join users u on u.id = s.user_id
             where s.id = $1 and s.revoked_at is null and s.expires_at > now()
               and u.disabled_at is null",
        )
        .bind(session_id)
        .fetch_optional(db),
    )
    .await
}

/// The same, looked up by the hash of the session's token (browser cookie sessions).
pub async fn find_live_user_by_token_hash(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<SessionUser>> {
    timed(
        "user_sessions.find_live_user_by_token_hash",
        sqlx::query_as(
            "select s.id as session_id, s.last_used_at as session_last_used_at,
                    s.two_factor_at as session_two_factor_at, u.id, u.name, u.email, u.phone,
                    u.password_hash, u.is_verified, u.role, u.email_verified_at, u.disabled_at,
                    u.last_login_at, u.created_at, u.updated_at, u.two_factor_enabled_at
             from user_sessions s join users u on u.id = s.user_id
             where s.token_hash = $1 and s.revoked_at is null and s.expires_at > now()
               and u.disabled_at is null",
        )
        .bind(token_hash)
        .fetch_optional(db),
    )
    .await
}

/// Revokes a session whoever owns it (token theft); returns its user when it was live.
pub async fn revoke_by_id(
    db: impl PgExecutor<'_>,
    id: i32,
    reason: &str,
) -> sqlx::Result<Option<i32>> {
    timed(
        "user_sessions.revoke_by_id",
        sqlx::query_scalar(
            "update user_sessions set revoked_at = now(), revoked_reason = $2
             where id = $1 and revoked_at is null returning user_id",
        )
        .bind(id)
        .bind(reason)
        .fetch_optional(db),
    )
    .await
}

/// Records that the session proved a second factor now (a login's code, or a step-up).
pub async fn mark_two_factor(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<()> {
    timed(
        "user_sessions.mark_two_factor",
        sqlx::query("update user_sessions set two_factor_at = now() where id = $1")
            .bind(id)
            .execute(db),
    )
    .await?;
    Ok(())
}
