//! The owner's staff API: the staff list, invitations and roles; and the invited person's
//! `POST /api/v1/auth/accept-invite`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::UserResponse;
use crate::accounts::extract::ApiAdmin;
use crate::accounts::{Role, staff_admin, users};
use crate::app::AppState;
use crate::error::{AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_staff, invite_staff))
        .routes(routes!(change_role))
        .routes(routes!(accept_invite))
}

/// The staff: every account whose role is not `customer`, by name.
#[utoipa::path(get, path = "/api/v1/admin/staff", tag = "admin",
    responses((status = OK, description = "The staff", body = Vec<UserResponse>)),
    security(("bearer" = [])),
)]
async fn list_staff(
    State(state): State<AppState>,
    _owner: ApiAdmin,
) -> AppResult<Json<Vec<UserResponse>>> {
    Ok(Json(
        users::list_staff(&state.db)
            .await?
            .into_iter()
            .map(UserResponse::from)
            .collect(),
    ))
}

/// Someone to invite to the staff.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InviteRequest {
    name: String,
    email: String,
    /// `owner`, `billing`, `support` or `technical`.
    role: Role,
}

/// Invites someone to the staff: their account is made with the role, and a link to choose
/// their password (7 days, once) is e-mailed; at their first login they set up two-factor
/// sign-in. Audited as `staff.invite`.
#[utoipa::path(post, path = "/api/v1/admin/staff", tag = "admin",
    request_body = InviteRequest,
    responses(
        (status = CREATED, description = "The invited account (not yet confirmed)", body = UserResponse),
        (status = CONFLICT, description = "The address already has an account (`email`)", body = Problem,
            content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A bad name, address or role, named", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn invite_staff(
    State(state): State<AppState>,
    ApiAdmin(owner): ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<InviteRequest>,
) -> AppResult<(StatusCode, Json<UserResponse>)> {
    let user = staff_admin::invite(
        &state,
        &owner.actor(&ip),
        &body.name,
        &body.email,
        body.role,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// A new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleRequest {
    /// `customer` takes the account off the staff.
    role: Role,
}

/// Changes an account's role (its sessions end: it logs in again into what the role opens).
/// Not one's own, and never the last owner's. Audited as `staff.role`.
#[utoipa::path(patch, path = "/api/v1/admin/staff/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The account's id")),
    request_body = RoleRequest,
    responses(
        (status = OK, description = "The account with its new role", body = UserResponse),
        (status = NOT_FOUND, description = "No such account", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "One's own role, or the last owner", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn change_role(
    State(state): State<AppState>,
    ApiAdmin(owner): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<RoleRequest>,
) -> AppResult<Json<UserResponse>> {
    let user = staff_admin::set_role(&state, &owner.actor(&ip), id, body.role).await?;
    Ok(Json(user.into()))
}

/// An invitation accepted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AcceptInviteRequest {
    /// The `token` of the e-mailed link.
    token: String,
    /// At least 8 characters, not a common password.
    password: String,
}

/// The invited person chooses their password with the e-mailed link's token; then they log in
/// (and set up two-factor sign-in).
#[utoipa::path(post, path = "/api/v1/auth/accept-invite", tag = "accounts",
    request_body = AcceptInviteRequest,
    responses(
        (status = NO_CONTENT, description = "The password is set; log in"),
        (status = UNPROCESSABLE_ENTITY, description = "A used, expired or unknown link (`token`), or a weak password",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn accept_invite(
    State(state): State<AppState>,
    AppJson(body): AppJson<AcceptInviteRequest>,
) -> AppResult<StatusCode> {
    staff_admin::accept_invite(&state, body.token.trim(), &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
