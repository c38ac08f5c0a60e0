//! Categories in the operator API (`/admin/categories`): the handlers of the operations in
//! `catalog::manage`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{Items, RawQuery, actor};
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::catalog::manage::{self, AdminCategory, CategoryInput, numeric_id};
use crate::error::{AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};

/// Every category: `{"items": [...]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes `Items` for the document
struct AdminCategoryList {
    items: Vec<AdminCategory>,
}

/// Every category, including those with no plan on sale.
#[utoipa::path(get, path = "/api/v1/admin/categories", tag = "admin",
    operation_id = "admin_list_categories",
    responses(
        (status = OK, description = "Every category, in display order", body = AdminCategoryList),
        (status = BAD_REQUEST, description = "A query parameter was given (this endpoint takes none)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_categories_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: RawQuery,
) -> AppResult<impl IntoResponse> {
    crate::catalog::api::parameters(query, &[])?;
    Ok(Json(Items {
        items: manage::list_categories(&state.catalog_store()).await?,
    }))
}

/// One category.
#[utoipa::path(get, path = "/api/v1/admin/categories/{id}", tag = "admin",
    operation_id = "admin_find_category",
    params(("id" = i32, Path, description = "The category's numeric id (anything else is a 404)")),
    responses((status = OK, description = "The category", body = AdminCategory)),
    security(("bearer" = [])),
)]
pub(super) async fn find_category_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<String>,
) -> AppResult<Json<AdminCategory>> {
    Ok(Json(
        manage::find_category(&state.catalog_store(), numeric_id(&id, "category")?).await?,
    ))
}

/// Creates a category (audited).
#[utoipa::path(post, path = "/api/v1/admin/categories", tag = "admin",
    operation_id = "admin_create_category",
    request_body = CategoryInput,
    responses(
        (status = CREATED, description = "The category created", body = AdminCategory),
        (status = CONFLICT, description = "Another category already uses this slug (`errors.slug`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn create_category_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<CategoryInput>,
) -> AppResult<impl IntoResponse> {
    let created = manage::create_category(&state.catalog_store(), actor(&admin, &ip), body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Changes the fields given of a category (audited; an edit that changes nothing writes nothing).
#[utoipa::path(patch, path = "/api/v1/admin/categories/{id}", tag = "admin",
    operation_id = "admin_update_category",
    params(("id" = i32, Path, description = "The category's numeric id (anything else is a 404)")),
    request_body = CategoryInput,
    responses(
        (status = OK, description = "The category as it now is", body = AdminCategory),
        (status = CONFLICT, description = "Another category already uses this slug (`errors.slug`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn update_category_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    AppJson(body): AppJson<CategoryInput>,
) -> AppResult<Json<AdminCategory>> {
    let id = numeric_id(&id, "category")?;
    Ok(Json(
        manage::update_category(&state.catalog_store(), actor(&admin, &ip), id, body).await?,
    ))
}

/// Deletes a category that no plan belongs to (audited).
#[utoipa::path(delete, path = "/api/v1/admin/categories/{id}", tag = "admin",
    operation_id = "admin_delete_category",
    params(("id" = i32, Path, description = "The category's numeric id (anything else is a 404)")),
    responses(
        (status = NO_CONTENT, description = "Deleted"),
        (status = CONFLICT, description = "Plans (or other records) still belong to the category; `detail` says how many and what to do",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn delete_category_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    manage::delete_category(
        &state.catalog_store(),
        actor(&admin, &ip),
        numeric_id(&id, "category")?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
