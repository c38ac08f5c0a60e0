//! Plans in the operator API (`/admin/plans`): the handlers of the operations in
//! `catalog::manage`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{Items, RawQuery, actor};
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::catalog::manage::{self, AdminPlan, PlanInput};
use crate::error::{AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};

/// Every plan: `{"items": [...]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes `Items` for the document
struct AdminPlanList {
    items: Vec<AdminPlan>,
}

/// Every plan, on sale or not, with its features and locations.
#[utoipa::path(get, path = "/api/v1/admin/plans", tag = "admin",
    operation_id = "admin_list_plans",
    responses(
        (status = OK, description = "Every plan, by category id, display order, price and id", body = AdminPlanList),
        (status = BAD_REQUEST, description = "A query parameter was given (this endpoint takes none)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_plans_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: RawQuery,
) -> AppResult<impl IntoResponse> {
    crate::catalog::api::parameters(query, &[])?;
    Ok(Json(Items {
        items: manage::list_plans(&state.catalog_store()).await?,
    }))
}

/// One plan, on sale or not.
#[utoipa::path(get, path = "/api/v1/admin/plans/{id}", tag = "admin",
    operation_id = "admin_find_plan",
    params(("id" = String, Path, description = "The plan's id (`rdp-basic`)")),
    responses((status = OK, description = "The plan", body = AdminPlan)),
    security(("bearer" = [])),
)]
pub(super) async fn find_plan_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<String>,
) -> AppResult<Json<AdminPlan>> {
    Ok(Json(manage::find_plan(&state.catalog_store(), &id).await?))
}

/// Creates a plan with its features and locations (audited).
#[utoipa::path(post, path = "/api/v1/admin/plans", tag = "admin",
    operation_id = "admin_create_plan",
    request_body = PlanInput,
    responses(
        (status = CREATED, description = "The plan created", body = AdminPlan),
        (status = CONFLICT, description = "A plan with this id already exists (`errors.id`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn create_plan_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<PlanInput>,
) -> AppResult<impl IntoResponse> {
    let created = manage::create_plan(&state.catalog_store(), actor(&admin, &ip), body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Changes the fields given of a plan (audited; an edit that changes nothing writes nothing).
#[utoipa::path(patch, path = "/api/v1/admin/plans/{id}", tag = "admin",
    operation_id = "admin_update_plan",
    params(("id" = String, Path, description = "The plan's id (`rdp-basic`)")),
    request_body = PlanInput,
    responses((status = OK, description = "The plan as it now is", body = AdminPlan)),
    security(("bearer" = [])),
)]
pub(super) async fn update_plan_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    AppJson(body): AppJson<PlanInput>,
) -> AppResult<Json<AdminPlan>> {
    Ok(Json(
        manage::update_plan(&state.catalog_store(), actor(&admin, &ip), &id, body).await?,
    ))
}

/// Deletes a plan no order refers to (audited).
#[utoipa::path(delete, path = "/api/v1/admin/plans/{id}", tag = "admin",
    operation_id = "admin_delete_plan",
    params(("id" = String, Path, description = "The plan's id (`rdp-basic`)")),
    responses(
        (status = NO_CONTENT, description = "Deleted"),
        (status = CONFLICT, description = "Orders (or other records) still refer to the plan; `detail` says how many and to deactivate it instead",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn delete_plan_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    manage::delete_plan(&state.catalog_store(), actor(&admin, &ip), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
