//! The operator's policy pages over JSON: publish a new version of the terms, the refund
//! policy, the privacy policy or the FAQ.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::catalog::policies::{self, PolicyInput, PolicyPage, PolicyVersion};
use crate::error::{AppError, AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};

/// Publishes a new version of a policy page (the title kept when absent). Orders placed from
/// now on record it (`terms_version`, `refund_policy_version`).
#[utoipa::path(put, path = "/api/v1/admin/policies/{page}", tag = "admin",
    security(("bearer" = [])),
    params(("page" = PolicyPage, Path, description = "`terms`, `refund-policy`, `privacy` or `faq`")),
    request_body = PolicyInput,
    responses(
        (status = CREATED, description = "The version published", body = PolicyVersion),
        (status = NOT_FOUND, description = "No such page", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "Another version was published since `based_on_version` (`version`)", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "An empty or too long `title` or `body`", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
pub(super) async fn publish_policy(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(page): Path<String>,
    AppJson(body): AppJson<PolicyInput>,
) -> AppResult<impl IntoResponse> {
    let page = PolicyPage::parse(&page).ok_or(AppError::NotFound("page"))?;
    let published = policies::publish(&state, &admin.actor(&ip), page, &body).await?;
    Ok((StatusCode::CREATED, Json(published)))
}
