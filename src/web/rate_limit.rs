//! Rate limits on the endpoints attackers hammer (login, register, password reset, resend),
//! per client IP and per account, counted in PostgreSQL so every node shares the count.
//!
//! A fixed window per key, bumped by one upsert: cheap, and exact enough for abuse control.
//! Over the limit the caller gets 429 with `Retry-After` until the window ends.

use std::time::Duration;

use sqlx::PgExecutor;

use crate::db::timed;
use crate::error::AppError;

/// A limit: at most `hits` per `window`.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub hits: i32,
    pub window: Duration,
}

impl Limit {
    pub const fn per_minutes(hits: i32, minutes: u64) -> Self {
        Self {
            hits,
            window: Duration::from_secs(minutes * 60),
        }
    }
}

/// Counts one hit on `key`; 429 when the key is over its limit in the current window.
pub async fn hit(db: impl PgExecutor<'_>, key: &str, limit: Limit) -> Result<(), AppError> {
    let window_secs = limit.window.as_secs_f64();
    let (hits, retry_after): (i32, f64) = timed(
        "rate_limits.hit",
        sqlx::query_as(
            "insert into rate_limits (key, window_start, hits) values ($1, now(), 1)
             on conflict (key) do update set
                 hits = case when rate_limits.window_start <= now() - make_interval(secs => $2)
                             then 1 else rate_limits.hits + 1 end,
                 window_start = case when rate_limits.window_start <= now() - make_interval(secs => $2)
                                     then now() else rate_limits.window_start end
             returning hits,
                 extract(epoch from (window_start + make_interval(secs => $2) - now()))::float8",
        )
        .bind(key)
        .bind(window_secs)
        .fetch_one(db),
    )
    .await?;
    if hits > limit.hits {
        return Err(AppError::TooManyRequests {
            retry_after_secs: retry_after.ceil().max(1.0) as u64,
        });
    }
    Ok(())
}

/// Forgets counters whose window ended more than `older_than` ago (periodic clean-up).
pub async fn delete_expired(db: impl PgExecutor<'_>, older_than: Duration) -> sqlx::Result<u64> {
    let done = timed(
        "rate_limits.delete_expired",
        sqlx::query(
            "delete from rate_limits where window_start < now() - make_interval(secs => $1)",
        )
        .bind(older_than.as_secs_f64())
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}
