//! Durable background jobs.
//!
//! Repository of the `jobs` table, the queue the worker runs. A job is enqueued — in the same
//! transaction as the business write that needs it, so it exists exactly when that write does —
//! with a `kind` (what to run), a JSON `payload` and optionally a `dedupe_key` (a job enqueued
//! twice with the same key is one job). Enqueuing also sends `NOTIFY nextgenrdp_jobs` with the
//! kind as payload (delivered at commit), so an idle worker wakes at once instead of at its next
//! poll.
//!
//! Workers [`claim`] ready jobs with `FOR UPDATE SKIP LOCKED`, so any number of them run each
//! job once; a claimed job is `running` until [`complete`]d or [`fail`]ed (back to `queued` at a
//! later `run_at`, or `failed` for good). A worker that dies leaves its jobs `running`:
//! [`reclaim_stale`] puts those whose lock is too old back in the queue.
//!
//! Statuses: `queued` → `running` → `succeeded` | `failed` (or `queued` again to retry).

pub mod admin_api;
pub mod admin_pages;
pub mod kinds;

use chrono::{DateTime, Utc};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor, PgPool};

use crate::audit::{self, Actor, NewAuditEntry};
use crate::db::text_enum::text_enum;
use crate::db::timed;
use crate::db::total::{self, Total};
use crate::error::{AppError, AppResult};

/// An error retrying cannot fix (an unknown job kind, an invalid payload, an invalid address):
/// the job fails for good at once. Return it (possibly with context) from a job.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

impl Permanent {
    pub fn error(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Permanent(message.into()))
    }
}

/// Whether the error (or one of its causes) is [`Permanent`].
pub fn is_permanent(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<Permanent>())
}

/// Not a failure: the job waits on something outside (a Proxmox task still running) and asks to
/// run again after the delay, without using one of its attempts.
#[derive(Debug, thiserror::Error)]
#[error("{message} (looking again in {} s)", .delay.as_secs())]
pub struct Snooze {
    pub delay: Duration,
    pub message: String,
}

impl Snooze {
    pub fn error(delay: Duration, message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Snooze {
            delay,
            message: message.into(),
        })
    }
}

/// The snooze the error asks for, if it is one.
pub fn snooze_of(err: &anyhow::Error) -> Option<&Snooze> {
    err.chain().find_map(|cause| cause.downcast_ref::<Snooze>())
}

/// Whether the error is a [`Snooze`].
pub fn is_snooze(err: &anyhow::Error) -> bool {
    snooze_of(err).is_some()
}

/// Decodes a job's payload; a payload that does not decode never will (a permanent error). The
/// message names the kind of mismatch only, never the payload's values.
pub fn payload<T: for<'de> Deserialize<'de>>(job: &Job) -> anyhow::Result<T> {
    T::deserialize(&job.payload).map_err(|err| {
        Permanent::error(format!(
            "the payload of a {} job is invalid ({:?} error)",
            job.kind,
            err.classify()
        ))
    })
}

text_enum! {
    /// A job's status.
    pub enum JobStatus {
        /// Waiting for its `run_at` and a worker (also a failed attempt waiting to be retried).
        Queued = "queued",
        /// A worker is running it.
        Running = "running",
        Succeeded = "succeeded",
        /// Every attempt failed; an operator may retry it.
        Failed = "failed",
    }
}

/// The channel `enqueue` notifies, with the job's kind as payload.
pub const NOTIFY_CHANNEL: &str = "nextgenrdp_jobs";

/// A row of `jobs`.
#[derive(Clone, Debug, FromRow, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    pub dedupe_key: Option<String>,
    /// How many times it has been claimed (the current run included).
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_at: Option<DateTime<Utc>>,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The columns of [`Job`], for `concat!` into each statement.
macro_rules! job_columns {
    () => {
        "id, kind, payload, status, dedupe_key, attempts, max_attempts, run_at, locked_at, \
         locked_by, last_error, created_at, updated_at, finished_at"
    };
}

/// Queues a job to run at `run_at` (now when `None`) and notifies [`NOTIFY_CHANNEL`]. Returns
/// its id, or `None` when a job with the same `dedupe_key` already exists (whatever its status):
/// then nothing is queued and nobody is notified.
pub async fn enqueue(
    db: impl PgExecutor<'_>,
    kind: &str,
    payload: &serde_json::Value,
    dedupe_key: Option<&str>,
    run_at: Option<DateTime<Utc>>,
) -> sqlx::Result<Option<i64>> {
    timed(
        "jobs.enqueue",
        sqlx::query_scalar(
            "with inserted as (
                 insert into jobs (kind, payload, dedupe_key, run_at)
                 values ($1, $2, $3, coalesce($4, now()))
                 on conflict (dedupe_key) do nothing
                 returning id
             )
             select inserted.id
             from inserted
             cross join lateral (
                 select pg_notify('nextgenrdp_jobs', $1) where inserted.id is not null
             ) as notified",
        )
        .bind(kind)
        .bind(payload)
        .bind(dedupe_key)
        .bind(run_at)
        .fetch_optional(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Job>> {
    timed(
        "jobs.find",
        sqlx::query_as(concat!(
            "select ",
            job_columns!(),
            " from jobs where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// Claims up to `limit` ready jobs (queued, `run_at` reached), of the given kinds or of any kind
/// when `kinds` is `None`, oldest `run_at` first: each becomes `running`, locked by `worker`,
/// with one more attempt. Jobs another worker is claiming are skipped, never waited for, so
/// concurrent claimers never get the same job.
pub async fn claim(
    db: impl PgExecutor<'_>,
    worker: &str,
    kinds: Option<&[String]>,
    limit: i64,
) -> sqlx::Result<Vec<Job>> {
    timed(
        "jobs.claim",
        sqlx::query_as(concat!(
            "with ready as (
                 select id from jobs
                 where status = 'queued' and run_at <= now()
                   and ($2::text[] is null or kind = any($2))
                 order by run_at, id
                 limit $3
                 for update skip locked
             ), claimed as (
                 update jobs
                 set status = 'running', locked_at = now(), locked_by = $1,
                     attempts = attempts + 1
                 where id in (select id from ready)
                 returning ",
            job_columns!(),
            "
             )
             select ",
            job_columns!(),
            " from claimed order by run_at, id"
        ))
        .bind(worker)
        .bind(kinds)
        .bind(limit)
        .fetch_all(db),
    )
    .await
}

/// Marks a running job succeeded; false when it is not running.
pub async fn complete(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    let done = timed(
        "jobs.complete",
        sqlx::query(
            "update jobs set status = 'succeeded', finished_at = now()
             where id = $1 and status = 'running'",
        )
        .bind(id)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a running job's failure: with `retry_at` it is queued again to run then; without, it
/// is `failed` for good. False when it is not running. Whether to retry (see `attempts` and
/// `max_attempts`) is the worker's decision.
pub async fn fail(
    db: impl PgExecutor<'_>,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> sqlx::Result<bool> {
    let done = timed(
        "jobs.fail",
        sqlx::query(
            "update jobs
             set last_error = $2,
                 status = case when $3::timestamptz is null then 'failed' else 'queued' end,
                 run_at = coalesce($3, run_at),
                 finished_at = case when $3::timestamptz is null then now() end,
                 locked_at = null, locked_by = null
             where id = $1 and status = 'running'",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a running job back in the queue to run at `run_at` without counting the attempt (it
/// waits on something outside, e.g. a Proxmox task). False when it is not running.
pub async fn snooze(
    db: impl PgExecutor<'_>,
    id: i64,
    note: &str,
    run_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = timed(
        "jobs.snooze",
        sqlx::query(
            "update jobs
             set status = 'queued', run_at = $3, last_error = $2,
                 attempts = greatest(attempts - 1, 0), locked_at = null, locked_by = null
             where id = $1 and status = 'running'",
        )
        .bind(id)
        .bind(note)
        .bind(run_at)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Returns jobs `worker` claimed but will not run (it is stopping) to the queue, to run now,
/// without counting the attempt.
pub async fn release(db: impl PgExecutor<'_>, ids: &[i64], worker: &str) -> sqlx::Result<()> {
    timed(
        "worker.release",
        sqlx::query(
            "update jobs
             set status = 'queued', attempts = greatest(attempts - 1, 0),
                 locked_at = null, locked_by = null
             where id = any($1) and status = 'running' and locked_by = $2",
        )
        .bind(ids)
        .bind(worker)
        .execute(db),
    )
    .await?;
    Ok(())
}

/// Puts a failed job back in the queue to run now (an operator's retry); its attempts are kept.
/// False when it is not failed.
pub async fn retry(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    let done = timed(
        "jobs.retry",
        sqlx::query(
            "update jobs set status = 'queued', run_at = now(), finished_at = null
             where id = $1 and status = 'failed'",
        )
        .bind(id)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An operator queues a failed job again, to run at once (audited; a worker is woken in the
/// same transaction). The job as it is now; a job that is not failed is a 409.
pub async fn retry_failed(db: &sqlx::PgPool, actor: &Actor<'_>, id: i64) -> AppResult<Job> {
    let mut tx = db.begin().await?;
    let job = find(&mut *tx, id).await?.ok_or(AppError::NotFound("job"))?;
    if !retry(&mut *tx, id).await? {
        return Err(AppError::conflict(
            "status",
            format!(
                "job {id} is {}; only a failed job can be retried",
                job.status
            ),
        ));
    }
    let entity = id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(serde_json::json!({ "status": job.status, "last_error": job.last_error })),
            after: Some(serde_json::json!({ "status": "queued" })),
            ..actor.entry("job.retry", "job", Some(&entity))
        },
    )
    .await?;
    notify(&mut *tx, &job.kind).await?;
    let job = find(&mut *tx, id).await?.ok_or(AppError::NotFound("job"))?;
    tx.commit().await?;
    tracing::info!(
        job.id = id,
        admin.id = actor.user_id,
        "failed job {id} retried"
    );
    Ok(job)
}

/// Wakes the workers listening for jobs (on commit of the caller's transaction).
pub async fn notify(db: impl PgExecutor<'_>, kind: &str) -> sqlx::Result<()> {
    timed(
        "jobs.notify",
        sqlx::query("select pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(kind)
            .execute(db),
    )
    .await?;
    Ok(())
}

/// A page of jobs, newest first, optionally of one status.
pub async fn list(
    db: impl PgExecutor<'_>,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Job>> {
    timed(
        "jobs.list",
        sqlx::query_as(concat!(
            "select ",
            job_columns!(),
            " from jobs where $1::text is null or status = $1
             order by id desc
             limit $2 offset $3"
        ))
        // Optional filters: planned with the values (ARCHITECTURE.md, "A request").
        .persistent(false)
        .bind(status)
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

/// How many jobs are in each status (statuses with none are absent), by status: exact up to
/// 10,000, else the planner's estimate (`db::total`). The succeeded jobs pile up — a mail or
/// two for every order — and counting them all read the whole table for every page.
pub async fn count_by_status(db: &PgPool) -> sqlx::Result<Vec<(String, Total)>> {
    let mut counts = Vec::with_capacity(JobStatus::ALL.len());
    for &status in JobStatus::ALL {
        let sql = crate::total_sql!("jobs.count_by_status", "from jobs where status = $1");
        let total = total::count_unless_large(db, sql, |q| q.bind(status)).await?;
        if total.count > 0 {
            counts.push((status.as_str().to_owned(), total));
        }
    }
    counts.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(counts)
}

/// Puts back in the queue the running jobs locked before `older_than` (their worker died or
/// hung), noting it in `last_error`. Returns how many.
pub async fn reclaim_stale(
    db: impl PgExecutor<'_>,
    older_than: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let done = timed(
        "jobs.reclaim_stale",
        sqlx::query(
            "update jobs
             set status = 'queued',
                 last_error = 'lock held by ' || coalesce(locked_by, 'unknown worker')
                              || ' since ' || locked_at || ' expired',
                 locked_at = null, locked_by = null
             where status = 'running' and locked_at < $1",
        )
        .bind(older_than)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}

/// The queue's figures by kind and status (`queued`, `running`, `failed`), for the metrics
/// scrape: how many, and for queued jobs how long the oldest ready one has waited.
#[derive(Clone, Debug, FromRow)]
pub struct QueueFigures {
    pub kind: String,
    pub status: String,
    pub count: i64,
    /// Seconds since the oldest job whose `run_at` has passed became ready (queued jobs only).
    pub oldest_ready_age_seconds: Option<f64>,
}

/// The queue's figures, in one statement over `jobs` (the `jobs_status_idx` index).
pub async fn queue_figures(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<QueueFigures>> {
    timed(
        "jobs.queue_figures",
        sqlx::query_as(
            "select kind, status, count(*) as count,
                    extract(epoch from now() - min(run_at) filter (
                        where status = 'queued' and run_at <= now()))::float8
                        as oldest_ready_age_seconds
             from jobs
             where status in ('queued', 'running', 'failed')
             group by kind, status
             order by kind, status",
        )
        .fetch_all(db),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_spelled_as_stored() {
        assert!(crate::db::text_enum::spellings_match_serde(JobStatus::ALL));
        assert_eq!("failed".parse(), Ok(JobStatus::Failed));
        assert!("done".parse::<JobStatus>().is_err());
    }
}
