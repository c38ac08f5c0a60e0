//! The operator's view of the job queue: `/api/v1/admin/jobs*` — list by status (e.g. the
//! `failed` ones, with their last error), and retry a failed job. Payloads are not shown: an
//! e-mail job's payload holds links with one-time tokens.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Job;
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::audit::{self, NewAuditEntry};
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/jobs", get(list_jobs))
        .route("/admin/jobs/{id}/retry", post(retry_job))
}

/// The statuses a job can have.
pub const STATUSES: [&str; 4] = ["queued", "running", "succeeded", "failed"];

/// A job as the operator sees it: no payload, but the service it concerns, if any.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub service_id: Option<i64>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        let service_id = job.payload.get("service_id").and_then(|v| v.as_i64());
        Self {
            id: job.id,
            kind: job.kind,
            status: job.status,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            run_at: job.run_at,
            last_error: job.last_error,
            created_at: job.created_at,
            finished_at: job.finished_at,
            service_id,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobQuery {
    status: Option<String>,
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

async fn list_jobs(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<JobQuery>, QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    let status = query.status.as_deref().filter(|s| !s.is_empty());
    if let Some(status) = status
        && !STATUSES.contains(&status)
    {
        return Err(AppError::bad_request(
            "status",
            format!("must be one of {}", STATUSES.join(", ")),
        ));
    }
    if query.page < 1 || !(1..=100).contains(&query.per_page) {
        return Err(AppError::bad_request(
            "page",
            "page ≥ 1 and per_page between 1 and 100",
        ));
    }
    let counts: serde_json::Map<String, serde_json::Value> = super::count_by_status(&state.db)
        .await?
        .into_iter()
        .map(|(status, count)| (status, count.into()))
        .collect();
    let total = counts
        .iter()
        .filter(|(s, _)| status.is_none_or(|wanted| wanted == s.as_str()))
        .map(|(_, n)| n.as_i64().unwrap_or(0))
        .sum::<i64>();
    let items: Vec<JobView> = super::list(
        &state.db,
        status,
        query.per_page,
        (query.page - 1) * query.per_page,
    )
    .await?
    .into_iter()
    .map(JobView::from)
    .collect();
    Ok(Json(json!({
        "items": items, "total": total, "counts": counts,
        "page": query.page, "per_page": query.per_page,
    })))
}

async fn retry_job(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> AppResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let job = super::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("job"))?;
    if !super::retry(&mut *tx, id).await? {
        return Err(AppError::conflict(
            "status",
            format!(
                "job {id} is {}; only a failed job can be retried",
                job.status
            ),
        ));
    }
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: Some(admin.user.id),
            action: "job.retry",
            entity_type: "job",
            entity_id: Some(&id.to_string()),
            before: Some(json!({ "status": job.status, "last_error": job.last_error })),
            after: Some(json!({ "status": "queued" })),
            ip_address: Some(&ip),
        },
    )
    .await?;
    // Wake a worker at once.
    sqlx::query("select pg_notify($1, $2)")
        .bind(super::NOTIFY_CHANNEL)
        .bind(&job.kind)
        .execute(&mut *tx)
        .await?;
    let job = super::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("job"))?;
    tx.commit().await?;
    tracing::info!(
        job.id = id,
        admin.id = admin.user.id,
        "failed job {id} retried"
    );
    Ok(Json(json!({ "job": JobView::from(job) })))
}
