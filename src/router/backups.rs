//! The back office's `/admin/backups`: this node's backups (time, size, whether the checksum
//! verifies), the schedule and retention in force, a warning when the newest backup is older
//! than the schedule allows, "back up now" (a durable `backup` job, its progress shown), and the
//! owner's download (streamed; a fresh second factor first). Restore stays on the command line.

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;

use crate::accounts::extract::PageAdmin;
use crate::accounts::staff::Permission;
use crate::app::AppState;
use crate::backup::{self, Checksum, human_size};
use crate::db::timed;
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;
use crate::web::forms::{Notice, notice, pkt};
use crate::web::pages::{Layout, error_page, render};

/// How many of the newest backups have their checksum verified on each visit (each is read
/// whole the first time, then remembered while the file is unchanged; older ones say "not
/// checked").
const VERIFIED: usize = 10;
/// A daily schedule allows this long since the newest backup before the page warns.
const DAILY_SLACK: Duration = Duration::from_secs(26 * 3600);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/backups", get(backups_page).post(back_up_now))
        .route("/admin/backups/{name}/download", get(download))
}

const NOTICES: &[(&str, &str, &str)] = &[
    (
        "requested",
        "success",
        "A backup is queued: the worker takes it within moments. Reload to follow it.",
    ),
    (
        "already",
        "info",
        "A backup was asked for a moment ago; it is queued or running.",
    ),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
}

/// A backup as a row.
struct Row {
    name: String,
    taken: String,
    size: String,
    /// `verified`, `mismatch`, `missing` or `unchecked`.
    checksum: &'static str,
}

/// A recent `backup` job, as "progress".
struct JobRow {
    status: String,
    asked: String,
    finished: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/backups.html")]
struct BackupsPage {
    layout: Layout,
    notice: Option<Notice>,
    dir: String,
    daily: bool,
    keep_daily: u32,
    keep_weekly: u32,
    rows: Vec<Row>,
    jobs: Vec<JobRow>,
    /// Why the newest backup is too old (or missing) for the schedule.
    stale: Option<String>,
    can_download: bool,
    /// This node's worker backs up (`NEXTGENRDP_BACKUP_SCHEDULE` is not `off`).
    takes_backups: bool,
    /// The directory could not be read: why.
    unreadable: Option<String>,
}

/// A job's status, when it was asked for, when it finished, and its error.
type JobFields = (String, DateTime<Utc>, Option<DateTime<Utc>>, Option<String>);

/// The newest `backup` jobs.
async fn recent_jobs(db: &PgPool) -> sqlx::Result<Vec<JobRow>> {
    let rows: Vec<JobFields> = timed(
        "backups.recent_jobs",
        sqlx::query_as(
            "select status, created_at, finished_at, last_error from jobs
             where kind = 'backup' order by id desc limit 5",
        )
        .fetch_all(db),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(status, asked, finished, error)| JobRow {
            status,
            asked: pkt(Some(asked)),
            finished: finished.map(|at| pkt(Some(at))).unwrap_or_default(),
            error,
        })
        .collect())
}

async fn backups_page(
    State(state): State<AppState>,
    PageAdmin(staff): PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let policy = &state.settings.backups;
    let (listed, unreadable) = match backup::list(&policy.dir) {
        Ok(listed) => (listed, None),
        Err(err) => (Vec::new(), Some(format!("{err:#}"))),
    };
    let mut rows = Vec::with_capacity(listed.len());
    for (i, listed) in listed.iter().enumerate() {
        let checksum = if i < VERIFIED {
            match backup::verify_remembered(listed).await {
                Ok(Checksum::Verified) => "verified",
                Ok(Checksum::Mismatch) => "mismatch",
                Ok(Checksum::Missing) => "missing",
                Err(_) => "mismatch",
            }
        } else {
            "unchecked"
        };
        rows.push(Row {
            name: listed.name(),
            taken: pkt(Some(listed.taken)),
            size: human_size(listed.bytes),
            checksum,
        });
    }
    let now = Utc::now();
    let stale = match listed.first() {
        _ if !policy.daily => None,
        None => Some("There is no backup yet, though the schedule is daily.".to_owned()),
        Some(newest) if (now - newest.taken).to_std().unwrap_or_default() > DAILY_SLACK => {
            Some(format!(
                "The newest backup is from {}: more than a day old, though the schedule is \
                 daily. Is a worker running on this machine?",
                pkt(Some(newest.taken))
            ))
        }
        Some(_) => None,
    };
    render(&BackupsPage {
        layout: Layout::for_page("Backups", &staff.context),
        notice: notice(query.notice.as_deref(), NOTICES),
        dir: policy.dir.display().to_string(),
        daily: policy.daily,
        keep_daily: policy.keep_daily,
        keep_weekly: policy.keep_weekly,
        rows,
        jobs: recent_jobs(&state.db).await?,
        stale,
        can_download: staff.user.can(Permission::DownloadBackups),
        takes_backups: policy.takes_backups,
        unreadable,
    })
}

/// "Back up now": queues the job, then back to the page.
async fn back_up_now(
    State(state): State<AppState>,
    PageAdmin(staff): PageAdmin,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    let queued = backup::request_now(&state.db, &staff.actor(&ip)).await?;
    let code = if queued.is_some() {
        "requested"
    } else {
        "already"
    };
    Ok(Redirect::to(&format!("/admin/backups?notice={code}")).into_response())
}

/// Streams a backup file to the owner, after a fresh second factor.
async fn download(
    State(state): State<AppState>,
    PageAdmin(owner): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(name): Path<String>,
) -> AppResult<Response> {
    if let Some(step_up) = owner.two_factor_step_up(&format!("/admin/backups/{name}/download")) {
        return Ok(step_up);
    }
    let Some((file, bytes)) = backup::open_for_download(
        &state.db,
        &owner.actor(&ip),
        &state.settings.backups.dir,
        &name,
    )
    .await?
    else {
        return Ok(error_page(
            StatusCode::NOT_FOUND,
            "There is no such backup.",
        ));
    };
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut chunk = vec![0; 64 * 1024];
        match file.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok::<_, std::io::Error>(chunk), file))
            }
            Err(err) => Some((Err(err), file)),
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, bytes)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(stream))
        .map_err(|err| AppError::Internal(err.into()))
}
