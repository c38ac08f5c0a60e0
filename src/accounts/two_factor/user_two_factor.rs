//! Repository of `user_two_factor`, `two_factor_recovery_codes` and `two_factor_challenges`.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `user_two_factor`: the sealed TOTP secret and the step of the last code accepted.
#[derive(Clone, Debug, FromRow)]
pub struct Secret {
    pub user_id: i32,
    pub secret_encrypted: String,
    pub last_used_step: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// Stores a new (unconfirmed) secret for the account, replacing one not confirmed yet.
pub async fn put_secret(db: impl PgExecutor<'_>, user_id: i32, sealed: &str) -> sqlx::Result<()> {
    timed(
        "user_two_factor.put",
        sqlx::query(
            "insert into user_two_factor (user_id, secret_encrypted) values ($1, $2)
             on conflict (user_id) do update
                 set secret_encrypted = excluded.secret_encrypted, last_used_step = null,
                     created_at = now()",
        )
        .bind(user_id)
        .bind(sealed)
        .execute(db),
    )
    .await?;
    Ok(())
}

/// Whether the account has a secret (confirmed or pending).
pub async fn exists(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<bool> {
    timed(
        "user_two_factor.exists",
        sqlx::query_scalar("select exists (select 1 from user_two_factor where user_id = $1)")
            .bind(user_id)
            .fetch_one(db),
    )
    .await
}

/// The account's secret, locked until the transaction ends (codes are checked under lock).
pub async fn find_for_update(
    db: impl PgExecutor<'_>,
    user_id: i32,
) -> sqlx::Result<Option<Secret>> {
    timed(
        "user_two_factor.find_for_update",
        sqlx::query_as(
            "select user_id, secret_encrypted, last_used_step, created_at from user_two_factor
             where user_id = $1 for update",
        )
        .bind(user_id)
        .fetch_optional(db),
    )
    .await
}

/// Records that the code of `step` was used; false when that step (or a later one) already was:
/// a replayed code.
pub async fn claim_step(db: impl PgExecutor<'_>, user_id: i32, step: i64) -> sqlx::Result<bool> {
    let done = timed(
        "user_two_factor.claim_step",
        sqlx::query(
            "update user_two_factor set last_used_step = $2
             where user_id = $1 and (last_used_step is null or last_used_step < $2)",
        )
        .bind(user_id)
        .bind(step)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets the account's secret and its recovery codes.
pub async fn delete(db: &mut sqlx::PgConnection, user_id: i32) -> sqlx::Result<bool> {
    timed(
        "two_factor_recovery_codes.delete_for_user",
        sqlx::query("delete from two_factor_recovery_codes where user_id = $1")
            .bind(user_id)
            .execute(&mut *db),
    )
    .await?;
    let done = timed(
        "user_two_factor.delete",
        sqlx::query("delete from user_two_factor where user_id = $1")
            .bind(user_id)
            .execute(&mut *db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every sealed secret, for `keys rotate`.
pub async fn list_sealed_secrets(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(i32, String)>> {
    timed(
        "user_two_factor.list_sealed",
        sqlx::query_as("select user_id, secret_encrypted from user_two_factor order by user_id")
            .fetch_all(db),
    )
    .await
}

/// Replaces a secret with the same value sealed under another key (`keys rotate`).
pub async fn reseal_secret(
    db: impl PgExecutor<'_>,
    user_id: i32,
    sealed: &str,
) -> sqlx::Result<()> {
    timed(
        "user_two_factor.reseal",
        sqlx::query("update user_two_factor set secret_encrypted = $2 where user_id = $1")
            .bind(user_id)
            .bind(sealed)
            .execute(db),
    )
    .await?;
    Ok(())
}

/// Replaces the account's recovery codes with new ones (their hashes).
pub async fn replace_recovery_codes(
    db: &mut sqlx::PgConnection,
    user_id: i32,
    hashes: &[String],
) -> sqlx::Result<()> {
    timed(
        "two_factor_recovery_codes.delete_for_user",
        sqlx::query("delete from two_factor_recovery_codes where user_id = $1")
            .bind(user_id)
            .execute(&mut *db),
    )
    .await?;
    timed(
        "two_factor_recovery_codes.insert",
        sqlx::query(
            "insert into two_factor_recovery_codes (user_id, code_hash)
             select $1, unnest($2::text[])",
        )
        .bind(user_id)
        .bind(hashes)
        .execute(&mut *db),
    )
    .await?;
    Ok(())
}

/// Uses up one recovery code; false when it is not one of the account's unused codes.
pub async fn use_recovery_code(
    db: impl PgExecutor<'_>,
    user_id: i32,
    hash: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "two_factor_recovery_codes.use",
        sqlx::query(
            "update two_factor_recovery_codes set used_at = now()
             where user_id = $1 and code_hash = $2 and used_at is null",
        )
        .bind(user_id)
        .bind(hash)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many of the account's recovery codes are still unused.
pub async fn count_unused_recovery_codes(
    db: impl PgExecutor<'_>,
    user_id: i32,
) -> sqlx::Result<i64> {
    timed(
        "two_factor_recovery_codes.count_unused",
        sqlx::query_scalar(
            "select count(*) from two_factor_recovery_codes where user_id = $1 and used_at is null",
        )
        .bind(user_id)
        .fetch_one(db),
    )
    .await
}

/// A row of `two_factor_challenges`: a login whose password was right and whose code is due.
#[derive(Clone, Debug, FromRow)]
pub struct Challenge {
    pub id: i32,
    pub user_id: i32,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub failures: i32,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

impl Challenge {
    /// Still answerable: not used, not expired, not failed too often.
    pub fn is_open(&self, now: DateTime<Utc>, max_failures: i32) -> bool {
        self.used_at.is_none() && self.expires_at > now && self.failures < max_failures
    }
}

/// What a new challenge records.
pub struct NewChallenge<'a> {
    pub user_id: i32,
    pub token_hash: &'a str,
    pub expires_at: DateTime<Utc>,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

pub async fn insert_challenge(db: impl PgExecutor<'_>, new: &NewChallenge<'_>) -> sqlx::Result<()> {
    timed(
        "two_factor_challenges.insert",
        sqlx::query(
            "insert into two_factor_challenges (user_id, token_hash, expires_at, ip_address, user_agent)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(new.user_id)
        .bind(new.token_hash)
        .bind(new.expires_at)
        .bind(new.ip_address)
        .bind(new.user_agent)
        .execute(db),
    )
    .await?;
    Ok(())
}

/// The challenge of a token.
pub async fn find_challenge(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<Challenge>> {
    timed(
        "two_factor_challenges.find",
        sqlx::query_as(
            "select id, user_id, expires_at, used_at, failures, ip_address, user_agent
             from two_factor_challenges where token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(db),
    )
    .await
}

/// The challenge of a token, locked until the transaction ends.
pub async fn find_challenge_for_update(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<Challenge>> {
    timed(
        "two_factor_challenges.find_for_update",
        sqlx::query_as(
            "select id, user_id, expires_at, used_at, failures, ip_address, user_agent
             from two_factor_challenges where token_hash = $1 for update",
        )
        .bind(token_hash)
        .fetch_optional(db),
    )
    .await
}

/// Marks a challenge answered: its token works no more.
pub async fn close_challenge(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<()> {
    timed(
        "two_factor_challenges.close",
        sqlx::query("update two_factor_challenges set used_at = now() where id = $1")
            .bind(id)
            .execute(db),
    )
    .await?;
    Ok(())
}

/// Counts a wrong code against a challenge.
pub async fn count_failure(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<()> {
    timed(
        "two_factor_challenges.count_failure",
        sqlx::query("update two_factor_challenges set failures = failures + 1 where id = $1")
            .bind(id)
            .execute(db),
    )
    .await?;
    Ok(())
}

/// Deletes challenges that expired before `before` (periodic clean-up).
pub async fn delete_stale_challenges(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let done = timed(
        "two_factor_challenges.delete_stale",
        sqlx::query("delete from two_factor_challenges where expires_at < $1")
            .bind(before)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}
