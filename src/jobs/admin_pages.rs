//! The operator's job retry from the provisioning queue page (`POST /admin/jobs/{id}/retry`):
//! the same verb as the API's, then back to the queue with a notice.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;

use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/jobs/{id}/retry", post(retry_job))
}

/// Puts a failed job back in the queue (its attempts are kept), audited, and wakes a worker.
async fn retry_job(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let notice = match super::retry_failed(&state.db, &admin.0.actor(&ip), id).await {
        Ok(_) => "job-retried",
        Err(AppError::Conflict { .. }) => "job-not-failed",
        Err(err) => return Err(err),
    };
    Ok(Redirect::to(&format!("/admin/provisioning?notice={notice}")).into_response())
}
