//! The operator's view of the job queue: `/api/v1/admin/jobs*` — list by status (e.g. the
//! `failed` ones, with their last error), and retry a failed job. Payloads are not shown: an
//! e-mail job's payload holds links with one-time tokens.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Job, JobStatus};
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::web::extract::ClientIp;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(retry_job))
}

/// A job as the operator sees it: no payload, but the service it concerns, if any.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: i64,
    /// What the job does (`send_email`, `provision_service`, `service_action`, `backup`, …).
    pub kind: String,
    pub status: JobStatus,
    /// Attempts made so far.
    pub attempts: i32,
    pub max_attempts: i32,
    /// When it runs, or ran, next (RFC 3339, UTC).
    pub run_at: DateTime<Utc>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: DateTime<Utc>,
    /// When it succeeded or finally failed (RFC 3339, UTC).
    pub finished_at: Option<DateTime<Utc>>,
    /// The service the job concerns, if its payload names one.
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JobQuery {
    /// Only jobs of this status; absent or empty means every status.
    #[param(schema_with = status_filter)]
    status: Option<String>,
    /// The page, from 1.
    #[serde(default = "crate::web::paging::first_page")]
    #[param(default = 1, minimum = 1)]
    page: i64,
    /// Jobs per page, 1 to 100.
    #[serde(default = "crate::web::paging::admin_per_page")]
    #[param(default = 25, minimum = 1, maximum = 100)]
    per_page: i64,
}

/// A page of jobs, with how many there are of each status.
#[derive(Debug, Serialize, ToSchema)]
struct JobPage {
    items: Vec<JobView>,
    /// How many jobs match the status filter, on every page: exact up to 10,000 in a status,
    /// beyond that the database's estimate (`total_exact` false).
    total: i64,
    /// Whether `total` is an exact count.
    total_exact: bool,
    /// How many jobs there are of each status (statuses with none are absent); above 10,000 in
    /// a status (the succeeded ones, on a busy shop), the database's estimate.
    counts: BTreeMap<String, i64>,
    page: i64,
    per_page: i64,
}

/// A job as it is after a retry.
#[derive(Debug, Serialize, ToSchema)]
struct RetriedJob {
    job: JobView,
}

fn status_filter() -> utoipa::openapi::schema::Schema {
    crate::web::openapi::status_or_empty::<JobStatus>(
        "Only jobs of this status; absent or empty means every status",
    )
}

/// The job queue, newest first, optionally of one status (e.g. the failed ones with their last error).
#[utoipa::path(get, path = "/api/v1/admin/jobs", tag = "admin",
    params(JobQuery),
    responses((status = OK, description = "A page of jobs and the count of each status", body = JobPage)),
    security(("bearer" = [])),
)]
async fn list_jobs(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<JobQuery>, QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    let status = query.status.as_deref().filter(|s| !s.is_empty());
    if let Some(status) = status
        && JobStatus::parse(status).is_none()
    {
        return Err(AppError::bad_request(
            "status",
            format!("must be one of {}", JobStatus::spellings()),
        ));
    }
    crate::web::paging::check(query.page, query.per_page)?;
    let by_status = super::count_by_status(&state.db).await?;
    let matching = by_status
        .iter()
        .filter(|(s, _)| status.is_none_or(|wanted| wanted == s.as_str()));
    let total = matching.clone().map(|(_, t)| t.count).sum::<i64>();
    let total_exact = matching.clone().all(|(_, t)| t.exact);
    let counts: BTreeMap<String, i64> = by_status
        .into_iter()
        .map(|(status, total)| (status, total.count))
        .collect();
    let items: Vec<JobView> = super::list(
        &state.db,
        status,
        query.per_page,
        crate::web::paging::offset(query.page, query.per_page),
    )
    .await?
    .into_iter()
    .map(JobView::from)
    .collect();
    Ok(Json(JobPage {
        items,
        total,
        total_exact,
        counts,
        page: query.page,
        per_page: query.per_page,
    }))
}

/// Queues a failed job again, at once (audited).
#[utoipa::path(post, path = "/api/v1/admin/jobs/{id}/retry", tag = "admin",
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = OK, description = "The job, queued again", body = RetriedJob),
        (status = CONFLICT, description = "The job is not failed; only a failed job can be retried",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn retry_job(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> AppResult<impl IntoResponse> {
    let job = super::retry_failed(&state.db, &admin.actor(&ip), id).await?;
    Ok(Json(RetriedJob {
        job: JobView::from(job),
    }))
}
