//! Repository of `one_time_tokens`: e-mailed single-use tokens (verification, password reset),
//! stored only as hashes.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// What a one-time token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    EmailVerification,
    PasswordReset,
    /// The link of an invitation to the staff: choose a password.
    StaffInvite,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerification => "email_verification",
            Self::PasswordReset => "password_reset",
            Self::StaffInvite => "staff_invite",
        }
    }
}

/// A row of `one_time_tokens`.
#[derive(Clone, Debug, FromRow)]
pub struct OneTimeToken {
    pub id: i32,
    pub user_id: i32,
    pub purpose: String,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: i32,
    purpose: Purpose,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<OneTimeToken> {
    timed(
        "one_time_tokens.insert",
        sqlx::query_as(
            "insert into one_time_tokens (user_id, purpose, token_hash, expires_at)
             values ($1, $2, $3, $4)
             returning id, user_id, purpose, token_hash, expires_at, used_at, created_at",
        )
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(token_hash)
        .bind(expires_at)
        .fetch_one(db),
    )
    .await
}

/// Uses a token: returns its user when it exists, has this purpose, is unexpired and unused;
/// marks it used in the same statement, so two concurrent uses cannot both succeed.
pub async fn consume(
    db: impl PgExecutor<'_>,
    purpose: Purpose,
    token_hash: &str,
) -> sqlx::Result<Option<i32>> {
    timed(
        "one_time_tokens.consume",
        sqlx::query_scalar(
            "update one_time_tokens set used_at = now()
             where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()
             returning user_id",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .fetch_optional(db),
    )
    .await
}

/// Voids the unused tokens of a user for one purpose (a newer one was sent, or the password
/// changed).
pub async fn void_for_user(
    db: impl PgExecutor<'_>,
    user_id: i32,
    purpose: Purpose,
) -> sqlx::Result<u64> {
    let done = timed(
        "one_time_tokens.void_for_user",
        sqlx::query(
            "update one_time_tokens set used_at = now()
             where user_id = $1 and purpose = $2 and used_at is null",
        )
        .bind(user_id)
        .bind(purpose.as_str())
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}
