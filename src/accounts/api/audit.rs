//! `GET /api/v1/admin/audit`: the audit log, filtered, with each entry's changes field by field.

use axum::Json;
use axum::extract::{Query, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::admin::{AuditLine, AuditQuery, audit_page};
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
struct AuditPage {
    items: Vec<AuditLine>,
    /// Exact up to 10,000; beyond, the database's estimate (`total_exact` false).
    total: i64,
    total_exact: bool,
    page: i64,
    per_page: i64,
}

/// The audit log, newest first: who changed what, when and from where, filtered by operator,
/// entity, action (or its start) and PKT days.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin",
    params(AuditQuery),
    responses(
        (status = OK, description = "A page of entries", body = AuditPage),
        (status = BAD_REQUEST, description = "A filter that makes no sense, named", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn list_audit(
    State(state): State<AppState>,
    _owner: ApiAdmin,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<AuditPage>> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    let filter = query.filter()?;
    let page = query.page()?;
    let per_page = query.per_page(25)?;
    let (items, total) = audit_page(&state.db, &filter, per_page, (page - 1) * per_page).await?;
    Ok(Json(AuditPage {
        items,
        total: total.count,
        total_exact: total.exact,
        page,
        per_page,
    }))
}
