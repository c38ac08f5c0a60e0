//! A backend's IP pool: listed, filled from a list or a range inside the backend's network,
//! emptied of addresses no service holds.

use std::collections::BTreeSet;
use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::find_or_404;
use crate::accounts::extract::ApiAdmin;
use crate::accounts::validation::FieldErrors;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::provisioning::backends::{self, PoolAddress};
use crate::provisioning::manage;
use crate::provisioning::validation::{MAX_ADDRESSES, expand_range, pool_network, unfit};
use crate::web::extract::{AppJson, ClientIp};

/// A backend's IP pool.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AddressList {
    items: Vec<PoolAddress>,
}

/// What an addition did: the addresses added, and those skipped because a pool already has them.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AddedAddresses {
    added: Vec<String>,
    skipped: Vec<String>,
}

/// A backend's IP pool, by address, with who holds each.
#[utoipa::path(get, path = "/api/v1/admin/backends/{id}/addresses", tag = "admin",
    params(("id" = i32, Path, description = "The backend's id")),
    responses((status = OK, description = "Every address of the pool, by address", body = AddressList)),
    security(("bearer" = [])),
)]
pub(super) async fn list_addresses(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    find_or_404(&state.db, id).await?;
    let items =
        backends::list_addresses(&state.db, id, state.provisioning.lifecycle.ip_hold_days).await?;
    Ok(Json(AddressList { items }))
}

/// Addresses to add to a pool: a list, a range, or both (at most 4096 in all).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AddressesRequest {
    /// IPv4 or IPv6 addresses.
    addresses: Option<Vec<String>>,
    /// `first-last`, both inclusive (`203.0.113.10-203.0.113.20`).
    range: Option<String>,
}

/// Adds addresses (a list and/or a range) to the backend's pool (audited).
///
/// Each must be inside the backend's network and not its gateway. Addresses already in a pool
/// are skipped.
#[utoipa::path(post, path = "/api/v1/admin/backends/{id}/addresses", tag = "admin",
    params(("id" = i32, Path, description = "The backend's id")),
    request_body = AddressesRequest,
    responses(
        (status = OK, description = "What was added and what skipped (audited)", body = AddedAddresses),
        (status = UNPROCESSABLE_ENTITY, description = "An address or the range is not in the backend's network, is its gateway (or an IPv4 network or broadcast address), or is malformed; or the backend has no `ip_gateway`/`ip_prefix` yet",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn add_addresses(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<AddressesRequest>,
) -> AppResult<impl IntoResponse> {
    let backend = find_or_404(&state.db, id).await?;
    let mut errors = FieldErrors::default();
    let Some((gateway, prefix)) = pool_network(&backend) else {
        return Err(AppError::invalid(
            "addresses",
            "set the backend's ip_gateway and ip_prefix first",
        ));
    };
    let mut wanted = BTreeSet::new();
    let mut problems = Vec::new();
    for text in body.addresses.iter().flatten() {
        match text.trim().parse::<IpAddr>() {
            Ok(address) => match unfit(address, gateway, prefix) {
                Some(problem) => problems.push(problem),
                None => {
                    wanted.insert(address);
                }
            },
            Err(_) => problems.push(format!("{:?} is not an IP address", text.trim())),
        }
    }
    if !problems.is_empty() {
        errors.add("addresses", &problems.join("; "));
    }
    if let Some(range) = &body.range {
        match expand_range(range) {
            Ok(addresses) => {
                let mut range_problems = Vec::new();
                for address in addresses {
                    match unfit(address, gateway, prefix) {
                        Some(problem) => range_problems.push(problem),
                        None => {
                            wanted.insert(address);
                        }
                    }
                }
                if !range_problems.is_empty() {
                    let shown: Vec<String> = range_problems.iter().take(3).cloned().collect();
                    errors.add("range", &shown.join("; "));
                }
            }
            Err(problem) => errors.add("range", &problem),
        }
    }
    if body.addresses.is_none() && body.range.is_none() {
        errors.add("addresses", "give addresses, a range, or both");
    } else if errors.is_empty() && wanted.is_empty() {
        errors.add("addresses", "no address given");
    }
    if wanted.len() as u128 > MAX_ADDRESSES {
        errors.add(
            "addresses",
            &format!("at most {MAX_ADDRESSES} addresses at a time"),
        );
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    let wanted: Vec<String> = wanted.iter().map(IpAddr::to_string).collect();
    let manage::AddedAddresses { added, skipped } = manage::add_addresses(
        &state.db,
        &state.provisioning,
        &admin.actor(&ip),
        id,
        wanted,
    )
    .await?;
    Ok(Json(AddedAddresses { added, skipped }))
}

/// Removes a free address from the pool; one a service holds is a 409.
#[utoipa::path(delete, path = "/api/v1/admin/backends/{id}/addresses/{address}", tag = "admin",
    params(
        ("id" = i32, Path, description = "The backend's id"),
        ("address" = String, Path, description = "An IPv4 or IPv6 address of its pool"),
    ),
    responses(
        (status = NO_CONTENT, description = "Removed (audited)"),
        (status = NOT_FOUND, description = "No such backend, or the address is not in its pool",
            body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "A service holds the address; terminate the service first",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "`address` is not an IP address",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn remove_address(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path((id, address)): Path<(i32, String)>,
) -> AppResult<StatusCode> {
    find_or_404(&state.db, id).await?;
    let address = address
        .parse::<IpAddr>()
        .map_err(|_| AppError::invalid("address", "must be an IP address"))?
        .to_string();
    manage::remove_address(
        &state.db,
        &state.provisioning,
        &admin.actor(&ip),
        id,
        &address,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
