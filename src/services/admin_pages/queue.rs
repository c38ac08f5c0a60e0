//! `/admin/provisioning`: the queue of services waiting on an operator or a build — manual
//! services to set up, builds in progress, failures, customers' open requests and failed jobs,
//! each with its button.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::rows::{AdminServiceRow, NoticeQuery, RequestRow, admin_rows, emails_of};
use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::catalog::names::Names;
use crate::error::AppResult;
use crate::jobs;
use crate::services::ServiceStatus;
use crate::services::logs::{self};
use crate::services::services::{self, Service, ServiceFilter};
use crate::web::forms::{Notice, notice, pkt};
use crate::web::pages::Layout;
use crate::web::pages::render_with;

/// How many rows each section of the provisioning queue shows at most.
const QUEUE_LIMIT: i64 = 100;
/// A failed job with its error.
pub(super) struct JobRow {
    id: i64,
    kind: String,
    service_id: Option<i64>,
    attempts: String,
    error: String,
    when: String,
}

#[derive(Template)]
#[template(path = "admin/services/provisioning.html")]
pub(super) struct QueuePage {
    layout: Layout,
    notice: Option<Notice>,
    alert: Option<String>,
    manual: Vec<AdminServiceRow>,
    building: Vec<AdminServiceRow>,
    failed: Vec<AdminServiceRow>,
    requests: Vec<RequestRow>,
    jobs: Vec<JobRow>,
}

pub(super) const QUEUE_NOTICES: &[(&str, &str, &str)] = &[
    (
        "service-retried",
        "success",
        "Provisioning was queued again; it resumes from its last step.",
    ),
    (
        "service-not-failed",
        "error",
        "That service is no longer failed; nothing was retried.",
    ),
    (
        "job-retried",
        "success",
        "The job is queued to run again now.",
    ),
    (
        "job-not-failed",
        "error",
        "That job is no longer failed; nothing was retried.",
    ),
    (
        "request-done",
        "success",
        "The request is marked done and the customer was e-mailed.",
    ),
    (
        "request-declined",
        "success",
        "The request is declined and the customer was e-mailed your note.",
    ),
];

pub(super) async fn queue(
    State(state): State<AppState>,
    admin: PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), QUEUE_NOTICES);
    render_queue(&state, &admin, StatusCode::OK, notice, None).await
}

/// The queue, with a notice after a change or the alert of a refused one.
pub(super) async fn render_queue(
    state: &AppState,
    admin: &PageAdmin,
    status: StatusCode,
    notice: Option<Notice>,
    alert: Option<String>,
) -> AppResult<Response> {
    let names = Names::load(&state.db).await?;
    let filter = |status| ServiceFilter {
        status: Some(status),
        ..ServiceFilter::default()
    };
    let provisioning = services::list(
        &state.db,
        &filter(ServiceStatus::Provisioning),
        QUEUE_LIMIT,
        0,
    )
    .await?;
    let (manual, building): (Vec<Service>, Vec<Service>) = provisioning
        .into_iter()
        .rev() // oldest first: the longest wait on top
        .partition(|s| s.backend_id.is_none());
    let failed = services::list(&state.db, &filter(ServiceStatus::Failed), QUEUE_LIMIT, 0).await?;

    let requests = logs::list_open_requests(&state.db, QUEUE_LIMIT).await?;
    let mut owners = BTreeMap::new();
    for log in &requests {
        if let Some(service_id) = log.service_id
            && !owners.contains_key(&service_id)
        {
            let service = services::find(&state.db, service_id).await?;
            // The server's address, as the operator looks it up: `203.0.113.7 · host.example`.
            let server = service
                .as_ref()
                .map(|s| {
                    [s.ip_address.as_deref(), s.hostname.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" · ")
                })
                .unwrap_or_default();
            owners.insert(service_id, (service.and_then(|s| s.user_id), server));
        }
    }
    let emails = emails_of(
        state,
        owners.values().filter_map(|(owner, _)| *owner).collect(),
    )
    .await?;
    let requests = requests
        .iter()
        .filter_map(|log| {
            let (owner, server) = owners.get(&log.service_id?)?;
            let customer = owner.and_then(|id| Some((id, emails.get(&id)?.clone())));
            RequestRow::new(log, customer, server.clone())
        })
        .collect();

    let jobs = jobs::list(&state.db, Some("failed"), QUEUE_LIMIT, 0)
        .await?
        .into_iter()
        .map(|job| JobRow {
            id: job.id,
            service_id: job.payload.get("service_id").and_then(|v| v.as_i64()),
            attempts: format!("{} of {}", job.attempts, job.max_attempts),
            error: job.last_error.unwrap_or_else(|| "—".to_owned()),
            when: pkt(job.finished_at.or(Some(job.updated_at))),
            kind: job.kind,
        })
        .collect();
    render_with(
        status,
        &QueuePage {
            layout: Layout::for_page("Provisioning", &admin.0.context),
            notice,
            alert,
            manual: admin_rows(state, &names, &manual).await?,
            building: admin_rows(state, &names, &building).await?,
            failed: admin_rows(state, &names, &failed).await?,
            requests,
            jobs,
        },
    )
}
