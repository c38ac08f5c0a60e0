//! The operator's server pages: `/admin/services` (every service, filtered and paged),
//! `/admin/services/{id}` (everything about one, with the forms that change it) and
//! `/admin/provisioning` (the queue: manual services to set up, builds in progress, failures,
//! customers' requests and failed jobs, each with its button). A customer's request is closed
//! (done, or declined with a note) from the queue or from its service's page.
//!
//! The queue is the services domain's: it lists services (waiting to be built by hand, building,
//! failed) and their customers' requests, as the provision job that builds them is
//! (`services::provision`).
//!
//! Changes go through `services::lifecycle` (locked, status-checked, audited with who acted);
//! the queue's "retry job" button posts to `jobs::admin_pages`. The pages only turn an outcome
//! into words, a refusal re-rendering the page with its detail. Files: [`services`] (the list
//! and one service), [`queue`], and [`rows`] (what both show).

mod queue;
mod rows;
mod services;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/services", get(services::list_services))
        .route("/admin/services/{id}", get(services::service_page))
        .route("/admin/services/{id}/provision", post(services::provision))
        .route("/admin/services/{id}/suspend", post(services::suspend))
        .route("/admin/services/{id}/resume", post(services::resume))
        .route("/admin/services/{id}/terminate", post(services::terminate))
        .route("/admin/services/{id}/retry", post(services::retry))
        .route("/admin/services/{id}/update", post(services::update))
        .route("/admin/services/{id}/credentials", post(services::reveal))
        .route("/admin/services/{id}/console", get(services::console))
        .route(
            "/admin/services/{id}/snapshots",
            post(services::take_snapshot),
        )
        .route("/admin/services/{id}/reinstall", post(services::reinstall))
        .route(
            "/admin/services/{id}/snapshots/{name}/rollback",
            post(services::roll_back_snapshot),
        )
        .route(
            "/admin/services/{id}/snapshots/{name}/delete",
            post(services::delete_snapshot),
        )
        .route(
            "/admin/services/{id}/requests/{log_id}/resolve",
            post(services::resolve_request),
        )
        .route("/admin/provisioning", get(queue::queue))
}
