//! A backend's IP pool: listed, filled from a list or a range inside the backend's network,
//! emptied of addresses no service holds.

use std::collections::BTreeSet;
use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::{audit_backend, find_or_404};
use crate::accounts::extract::ApiAdmin;
use crate::accounts::validation::FieldErrors;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::provisioning::backends;
use crate::web::extract::{AppJson, ClientIp};

/// Whether `address` is in the network of `gateway`/`prefix`.
fn in_network(address: IpAddr, gateway: IpAddr, prefix: u8) -> bool {
    match (address, gateway) {
        (IpAddr::V4(a), IpAddr::V4(g)) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(g) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(g)) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(g) & mask
        }
        _ => false,
    }
}

pub(super) async fn list_addresses(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    find_or_404(&state.db, id).await?;
    let items = backends::list_addresses(
        &state.db,
        id,
        state.settings.provisioning.lifecycle.ip_hold_days,
    )
    .await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddressesRequest {
    addresses: Option<Vec<String>>,
    /// `first-last`, both inclusive.
    range: Option<String>,
}

/// The most addresses one request adds.
const MAX_ADDRESSES: u128 = 4096;

/// The addresses of `first-last`.
fn expand_range(text: &str) -> Result<Vec<IpAddr>, String> {
    let (first, last) = text
        .split_once('-')
        .ok_or("must look like 203.0.113.10-203.0.113.20")?;
    let parse = |s: &str| {
        s.trim()
            .parse::<IpAddr>()
            .map_err(|_| format!("{:?} is not an IP address", s.trim()))
    };
    let (first, last) = (parse(first)?, parse(last)?);
    let (start, end, v4) = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), true)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), false),
        _ => return Err("both ends must be IPv4 or both IPv6".into()),
    };
    if end < start {
        return Err("the last address must not be before the first".into());
    }
    if end - start >= MAX_ADDRESSES {
        return Err(format!("at most {MAX_ADDRESSES} addresses at a time"));
    }
    Ok((start..=end)
        .map(|n| {
            if v4 {
                IpAddr::from(std::net::Ipv4Addr::from(n as u32))
            } else {
                IpAddr::from(std::net::Ipv6Addr::from(n))
            }
        })
        .collect())
}

/// Why `address` cannot be in the pool of a backend on `gateway`/`prefix`, if it cannot.
fn unfit(address: IpAddr, gateway: IpAddr, prefix: u8) -> Option<String> {
    if !in_network(address, gateway, prefix) {
        return Some(format!("{address} is outside {gateway}/{prefix}"));
    }
    if address == gateway {
        return Some(format!("{address} is the gateway"));
    }
    if let IpAddr::V4(v4) = address
        && prefix <= 30
    {
        let host_bits = u32::MAX >> prefix;
        let host = u32::from(v4) & host_bits;
        if host == 0 || host == host_bits {
            return Some(format!(
                "{address} is the network or broadcast address of {gateway}/{prefix}"
            ));
        }
    }
    None
}

/// Adds addresses (a list and/or a range) to the backend's pool; each must be inside the
/// backend's network and not its gateway. Addresses already in a pool are skipped.
pub(super) async fn add_addresses(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<AddressesRequest>,
) -> AppResult<impl IntoResponse> {
    let backend = find_or_404(&state.db, id).await?;
    let mut errors = FieldErrors::default();
    let network = backend
        .ip_gateway
        .as_deref()
        .and_then(|g| g.parse::<IpAddr>().ok())
        .zip(backend.ip_prefix.and_then(|p| u8::try_from(p).ok()));
    let Some((gateway, prefix)) = network else {
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
    let hold = state.settings.provisioning.lifecycle.ip_hold_days;
    let mut tx = state.db.begin().await?;
    let before: BTreeSet<String> = backends::list_addresses(&mut *tx, id, hold)
        .await?
        .into_iter()
        .map(|a| a.address)
        .collect();
    backends::add_addresses(&mut *tx, id, &wanted).await?;
    let after: BTreeSet<String> = backends::list_addresses(&mut *tx, id, hold)
        .await?
        .into_iter()
        .map(|a| a.address)
        .collect();
    let (added, skipped): (Vec<String>, Vec<String>) = wanted
        .into_iter()
        .partition(|a| after.contains(a) && !before.contains(a));
    audit_backend(
        &mut tx,
        admin.user.id,
        &ip,
        "backend.addresses_add",
        id,
        None,
        Some(json!({ "added": added })),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({ "added": added, "skipped": skipped })))
}

/// Removes a free address from the pool; one a service holds is a 409.
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
    let mut tx = state.db.begin().await?;
    let hold = state.settings.provisioning.lifecycle.ip_hold_days;
    let pooled = backends::list_addresses(&mut *tx, id, hold)
        .await?
        .into_iter()
        .find(|a| a.address == address)
        .ok_or(AppError::NotFound("address"))?;
    if let Some(service) = pooled.service_id {
        return Err(AppError::conflict(
            "address",
            format!("{address} is held by service {service}; terminate the service first"),
        ));
    }
    if !backends::remove_address(&mut *tx, id, &address).await? {
        return Err(AppError::conflict(
            "address",
            format!("{address} was just given to a service"),
        ));
    }
    audit_backend(
        &mut tx,
        admin.user.id,
        &ip,
        "backend.address_remove",
        id,
        Some(json!({ "address": address })),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses_only() {
        let gw: IpAddr = "203.0.113.1".parse().unwrap();
        assert!(in_network("203.0.113.200".parse().unwrap(), gw, 24));
        assert!(!in_network("203.0.114.2".parse().unwrap(), gw, 24));
        assert!(!in_network("2001:db8::1".parse().unwrap(), gw, 24));
        assert!(in_network(
            "10.9.9.9".parse().unwrap(),
            "10.0.0.1".parse().unwrap(),
            8
        ));
        let gw6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(in_network("2001:db8::ff".parse().unwrap(), gw6, 64));
        assert!(!in_network("2001:db9::ff".parse().unwrap(), gw6, 64));
    }

    #[test]
    fn the_gateway_network_and_broadcast_addresses_are_unfit() {
        let gw: IpAddr = "203.0.113.1".parse().unwrap();
        for bad in [
            "203.0.113.1",
            "203.0.113.0",
            "203.0.113.255",
            "198.51.100.7",
        ] {
            assert!(unfit(bad.parse().unwrap(), gw, 24).is_some(), "{bad}");
        }
        assert!(unfit("203.0.113.10".parse().unwrap(), gw, 24).is_none());
    }

    #[test]
    fn ranges_expand_inclusively_and_refuse_nonsense() {
        let range = expand_range("203.0.113.10-203.0.113.12").unwrap();
        assert_eq!(range.len(), 3);
        assert_eq!(range[2].to_string(), "203.0.113.12");
        assert!(expand_range("203.0.113.12-203.0.113.10").is_err());
        assert!(expand_range("203.0.113.10").is_err());
        assert!(expand_range("203.0.113.10-2001:db8::1").is_err());
        assert!(expand_range("10.0.0.0-10.1.0.0").is_err());
    }
}
