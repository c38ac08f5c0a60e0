//! `GET /api/v1/admin/reports/revenue`: the revenue report (owner and billing).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::payments::reports::{self, Report, ReportQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(revenue_report))
}

/// Revenue over PKT days by plan, location or payment method: each earning order's amount
/// (by plan or location shared among its lines by their list value), and the period's total.
#[utoipa::path(get, path = "/api/v1/admin/reports/revenue", tag = "admin",
    params(ReportQuery),
    responses(
        (status = OK, description = "The report", body = Report),
        (status = BAD_REQUEST, description = "A day or grouping that makes no sense, named",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn revenue_report(
    State(state): State<AppState>,
    _billing: ApiAdmin,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> AppResult<Json<Report>> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    let (period, by) = query.parse()?;
    Ok(Json(reports::revenue(&state.db, period, by).await?))
}
