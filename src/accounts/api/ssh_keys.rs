//! The caller's SSH public keys over JSON: `/api/v1/me/ssh-keys`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::extract::ApiUser;
use crate::accounts::ssh_keys::{self, SshKey};
use crate::app::AppState;
use crate::error::{AppResult, Problem};
use crate::web::extract::AppJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_ssh_keys, add_ssh_key))
        .routes(routes!(remove_ssh_key))
}

/// The caller's keys: `{"items": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SshKeyList {
    /// Oldest first.
    pub items: Vec<SshKey>,
}

/// A key to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSshKey {
    /// What to call it (1 to 100 characters), e.g. "Laptop".
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The one line of the `.pub` file: `ssh-ed25519 AAAA… comment` (ed25519, ECDSA, or RSA of
    /// at least 2048 bits; the comment is replaced by `name`).
    #[schema(max_length = 16384)]
    pub public_key: String,
}

/// The caller's SSH public keys.
#[utoipa::path(get, path = "/api/v1/me/ssh-keys", tag = "accounts",
    operation_id = "list_ssh_keys",
    security(("bearer" = [])),
    responses((status = OK, description = "The keys, oldest first", body = SshKeyList)),
)]
async fn list_ssh_keys(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<Json<SshKeyList>> {
    let items = ssh_keys::list(&state.db, caller.user.id).await?;
    Ok(Json(SshKeyList { items }))
}

/// Adds an SSH public key, to choose when ordering or reinstalling a Linux server.
#[utoipa::path(post, path = "/api/v1/me/ssh-keys", tag = "accounts",
    operation_id = "add_ssh_key",
    security(("bearer" = [])),
    request_body = NewSshKey,
    responses(
        (status = CREATED, description = "The key as kept", body = SshKey),
        (status = CONFLICT, description = "The account has this key already, or 20 keys (`public_key`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "No name, or not an OpenSSH public key (a private key, DSA, RSA under 2048 bits), each named in `errors`",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn add_ssh_key(
    State(state): State<AppState>,
    caller: ApiUser,
    AppJson(body): AppJson<NewSshKey>,
) -> AppResult<impl IntoResponse> {
    let key = ssh_keys::add(&state.db, caller.user.id, &body.name, &body.public_key).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Removes one of the caller's keys (servers that have it keep it until reinstalled).
#[utoipa::path(delete, path = "/api/v1/me/ssh-keys/{id}", tag = "accounts",
    operation_id = "remove_ssh_key",
    params(("id" = i32, Path, description = "The key's id")),
    security(("bearer" = [])),
    responses(
        (status = NO_CONTENT, description = "Removed"),
        (status = NOT_FOUND, description = "No such key of the caller's", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn remove_ssh_key(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<StatusCode> {
    ssh_keys::remove(&state.db, caller.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
