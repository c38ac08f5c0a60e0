//! Repository of `login_origins`: the addresses each account has logged in from, so that failed
//! logins from elsewhere cannot lock its owner out (see `auth::login`).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::db::timed;

/// How long an address stays familiar after the account's last login from it.
pub const REMEMBERED_DAYS: i64 = 90;

/// Records a successful login of `user_id` from `ip`.
pub async fn record(db: impl PgExecutor<'_>, user_id: i32, ip: &str) -> sqlx::Result<()> {
    timed(
        "login_origins.record",
        sqlx::query(
            "insert into login_origins (user_id, ip_address) values ($1, $2)
             on conflict (user_id, ip_address) do update set last_login_at = now()",
        )
        .bind(user_id)
        .bind(&ip[..ip.len().min(45)])
        .execute(db),
    )
    .await?;
    Ok(())
}

/// Whether the account with this e-mail logged in from `ip` within [`REMEMBERED_DAYS`].
pub async fn is_familiar(db: impl PgExecutor<'_>, email: &str, ip: &str) -> sqlx::Result<bool> {
    timed(
        "login_origins.is_familiar",
        sqlx::query_scalar(
            "select exists (
                 select 1 from login_origins o join users u on u.id = o.user_id
                 where lower(u.email) = lower($1) and o.ip_address = $2
                   and o.last_login_at > now() - make_interval(days => $3))",
        )
        .bind(email)
        .bind(ip)
        .bind(REMEMBERED_DAYS as i32)
        .fetch_one(db),
    )
    .await
}

/// Forgets addresses not used since `before` (periodic clean-up).
pub async fn delete_stale(db: impl PgExecutor<'_>, before: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = timed(
        "login_origins.delete_stale",
        sqlx::query("delete from login_origins where last_login_at < $1")
            .bind(before)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}
