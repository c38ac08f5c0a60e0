//! Locations in the operator API (`/admin/locations`): the handlers of the operations in
//! `catalog::manage`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{Items, RawQuery, actor};
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::catalog::manage::{self, AdminLocation, LocationInput, numeric_id};
use crate::error::{AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};

/// Every location: `{"items": [...]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes `Items` for the document
struct AdminLocationList {
    items: Vec<AdminLocation>,
}

/// Every location, open or not.
#[utoipa::path(get, path = "/api/v1/admin/locations", tag = "admin",
    operation_id = "admin_list_locations",
    responses(
        (status = OK, description = "Every location, in display order", body = AdminLocationList),
        (status = BAD_REQUEST, description = "A query parameter was given (this endpoint takes none)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_locations_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: RawQuery,
) -> AppResult<impl IntoResponse> {
    crate::catalog::api::parameters(query, &[])?;
    Ok(Json(Items {
        items: manage::list_locations(&state.catalog_store()).await?,
    }))
}

/// One location.
#[utoipa::path(get, path = "/api/v1/admin/locations/{id}", tag = "admin",
    operation_id = "admin_find_location",
    params(("id" = i32, Path, description = "The location's numeric id (anything else is a 404)")),
    responses((status = OK, description = "The location", body = AdminLocation)),
    security(("bearer" = [])),
)]
pub(super) async fn find_location_handler(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<String>,
) -> AppResult<Json<AdminLocation>> {
    Ok(Json(
        manage::find_location(&state.catalog_store(), numeric_id(&id, "location")?).await?,
    ))
}

/// Creates a location (audited).
#[utoipa::path(post, path = "/api/v1/admin/locations", tag = "admin",
    operation_id = "admin_create_location",
    request_body = LocationInput,
    responses(
        (status = CREATED, description = "The location created", body = AdminLocation),
        (status = CONFLICT, description = "Another location already uses this slug (`errors.slug`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn create_location_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<LocationInput>,
) -> AppResult<impl IntoResponse> {
    let created = manage::create_location(&state.catalog_store(), actor(&admin, &ip), body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Changes the fields given of a location (audited; an edit that changes nothing writes nothing).
#[utoipa::path(patch, path = "/api/v1/admin/locations/{id}", tag = "admin",
    operation_id = "admin_update_location",
    params(("id" = i32, Path, description = "The location's numeric id (anything else is a 404)")),
    request_body = LocationInput,
    responses(
        (status = OK, description = "The location as it now is", body = AdminLocation),
        (status = CONFLICT, description = "Another location already uses this slug (`errors.slug`)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn update_location_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    AppJson(body): AppJson<LocationInput>,
) -> AppResult<Json<AdminLocation>> {
    let id = numeric_id(&id, "location")?;
    Ok(Json(
        manage::update_location(&state.catalog_store(), actor(&admin, &ip), id, body).await?,
    ))
}

/// Deletes a location no order or plan refers to (audited).
#[utoipa::path(delete, path = "/api/v1/admin/locations/{id}", tag = "admin",
    operation_id = "admin_delete_location",
    params(("id" = i32, Path, description = "The location's numeric id (anything else is a 404)")),
    responses(
        (status = NO_CONTENT, description = "Deleted"),
        (status = CONFLICT, description = "Orders or plans still refer to the location; `detail` says how many and to deactivate it instead",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn delete_location_handler(
    State(state): State<AppState>,
    admin: ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    manage::delete_location(
        &state.catalog_store(),
        actor(&admin, &ip),
        numeric_id(&id, "location")?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
