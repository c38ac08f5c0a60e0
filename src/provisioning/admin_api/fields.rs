//! The fields of a backend as the operator sends them, merged over the stored backend and
//! checked rule by rule.

use std::net::IpAddr;

use serde::Deserialize;

use crate::accounts::validation::FieldErrors;
use crate::app::AppState;
use crate::catalog::locations;
use crate::error::{AppError, AppResult};
use crate::provisioning::backends::{Backend, BackendFields};

/// A backend as the operator sends it; on PATCH every field is optional and `null` clears an
/// optional one. `token_secret` is write-only (no `Debug`, so it is never logged).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendRequest {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub location_id: Option<i32>,
    pub is_active: Option<bool>,
    #[serde(default, with = "double_option")]
    pub api_url: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub token_id: Option<Option<String>>,
    pub token_secret: Option<String>,
    #[serde(default, with = "double_option")]
    pub tls_ca_pem: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub node: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub storage: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub bridge: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub vmid_min: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    pub vmid_max: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    pub ip_gateway: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub ip_prefix: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    pub nameservers: Option<Option<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// The request's value of an optional field, else the current one; blank text is no value.
fn merged(new: Option<Option<String>>, current: Option<&String>) -> Option<String> {
    match new {
        Some(value) => value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()),
        None => current.cloned(),
    }
}

fn merged_number<T: Into<i64> + Copy>(new: Option<Option<i64>>, current: Option<T>) -> Option<i64> {
    match new {
        Some(value) => value,
        None => current.map(Into::into),
    }
}

/// A name Proxmox accepts for a node, storage or bridge.
fn check_name(errors: &mut FieldErrors, field: &str, value: Option<&str>, max: usize) {
    if let Some(value) = value
        && (value.len() > max
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
    {
        errors.add(
            field,
            &format!("must be 1 to {max} letters, digits, -, _ or ."),
        );
    }
}

/// Merges a request over the current backend (or nothing, for a new one) and checks every
/// rule, reporting all problems at once. Returns the fields and the new token secret, if any.
pub(super) async fn validate_backend(
    state: &AppState,
    request: BackendRequest,
    current: Option<&Backend>,
) -> AppResult<(BackendFields, Option<String>)> {
    let mut errors = FieldErrors::default();
    let name = request
        .name
        .map(|n| n.trim().to_owned())
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "must be 1 to 100 characters");
    }
    let driver = request
        .driver
        .or_else(|| current.map(|c| c.driver.clone()))
        .unwrap_or_default();
    if !matches!(driver.as_str(), "manual" | "proxmox") {
        errors.add("driver", "must be manual or proxmox");
    }
    let location_id = request
        .location_id
        .or_else(|| current.map(|c| c.location_id));
    match location_id {
        None => errors.add("location_id", "is required"),
        Some(id) if locations::find(&state.db, id).await?.is_none() => {
            errors.add("location_id", "no such location")
        }
        Some(_) => {}
    }
    let is_active = request
        .is_active
        .unwrap_or_else(|| current.is_none_or(|c| c.is_active));

    let api_url = merged(request.api_url, current.and_then(|c| c.api_url.as_ref()));
    if let Some(url) = &api_url {
        let ok = url.len() <= 255
            && reqwest::Url::parse(url)
                .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
        if !ok {
            errors.add(
                "api_url",
                "must be an https:// URL, like https://pve.example.pk:8006",
            );
        }
    }
    let token_id = merged(request.token_id, current.and_then(|c| c.token_id.as_ref()));
    if let Some(id) = &token_id {
        let ok = id.len() <= 255
            && !id.chars().any(char::is_whitespace)
            && id.split_once('!').is_some_and(|(user, token)| {
                !token.is_empty()
                    && user
                        .split_once('@')
                        .is_some_and(|(u, realm)| !u.is_empty() && !realm.is_empty())
            });
        if !ok {
            errors.add("token_id", "must look like user@realm!token-name");
        }
    }
    let token_secret = request.token_secret.map(|s| s.trim().to_owned());
    if let Some(secret) = &token_secret
        && (secret.is_empty() || secret.len() > 150 || secret.chars().any(char::is_whitespace))
    {
        errors.add("token_secret", "must be 1 to 150 characters without spaces");
    }
    let has_token =
        token_secret.is_some() || current.is_some_and(|c| c.token_secret_encrypted.is_some());
    let tls_ca_pem = merged(
        request.tls_ca_pem,
        current.and_then(|c| c.tls_ca_pem.as_ref()),
    );
    if let Some(pem) = &tls_ca_pem
        && (pem.len() > 65536
            || !pem.contains("-----BEGIN CERTIFICATE-----")
            || !pem.contains("-----END CERTIFICATE-----"))
    {
        errors.add(
            "tls_ca_pem",
            "must be a PEM certificate (-----BEGIN CERTIFICATE----- …)",
        );
    }
    let node = merged(request.node, current.and_then(|c| c.node.as_ref()));
    check_name(&mut errors, "node", node.as_deref(), 100);
    let storage = merged(request.storage, current.and_then(|c| c.storage.as_ref()));
    check_name(&mut errors, "storage", storage.as_deref(), 100);
    let bridge = merged(request.bridge, current.and_then(|c| c.bridge.as_ref()));
    check_name(&mut errors, "bridge", bridge.as_deref(), 50);

    let vmid_min = merged_number(request.vmid_min, current.and_then(|c| c.vmid_min));
    let vmid_max = merged_number(request.vmid_max, current.and_then(|c| c.vmid_max));
    let vmid_range = 100..=999_999_999;
    for (field, value) in [("vmid_min", vmid_min), ("vmid_max", vmid_max)] {
        if value.is_some_and(|v| !vmid_range.contains(&v)) {
            errors.add(field, "must be between 100 and 999999999");
        }
    }
    match (vmid_min, vmid_max) {
        (Some(min), Some(max)) if max < min => errors.add("vmid_max", "must not be below vmid_min"),
        (Some(_), None) => errors.add("vmid_max", "is required with vmid_min"),
        (None, Some(_)) => errors.add("vmid_min", "is required with vmid_max"),
        _ => {}
    }

    let ip_gateway = merged(
        request.ip_gateway,
        current.and_then(|c| c.ip_gateway.as_ref()),
    );
    let gateway = match ip_gateway.as_deref().map(str::parse::<IpAddr>) {
        Some(Ok(ip)) => Some(ip),
        Some(Err(_)) => {
            errors.add("ip_gateway", "must be an IPv4 or IPv6 address");
            None
        }
        None => None,
    };
    let ip_prefix = merged_number(request.ip_prefix, current.and_then(|c| c.ip_prefix));
    match (gateway, ip_prefix) {
        (Some(IpAddr::V4(_)), Some(p)) if !(1..=32).contains(&p) => {
            errors.add("ip_prefix", "must be between 1 and 32 for IPv4")
        }
        (Some(IpAddr::V6(_)), Some(p)) if !(1..=128).contains(&p) => {
            errors.add("ip_prefix", "must be between 1 and 128 for IPv6")
        }
        (Some(_), None) => errors.add("ip_prefix", "is required with ip_gateway"),
        (None, Some(_)) if ip_gateway.is_none() => {
            errors.add("ip_gateway", "is required with ip_prefix")
        }
        _ => {}
    }
    let nameservers = merged(
        request.nameservers,
        current.and_then(|c| c.nameservers.as_ref()),
    )
    .map(|text| {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    if let Some(list) = &nameservers
        && (list.is_empty()
            || list.iter().any(|ns| ns.parse::<IpAddr>().is_err())
            || list.join(" ").len() > 255)
    {
        errors.add(
            "nameservers",
            "must be IP addresses separated by spaces or commas",
        );
    }

    if driver == "proxmox" {
        let required = [
            ("api_url", api_url.is_some()),
            ("token_id", token_id.is_some()),
            ("token_secret", has_token),
            ("node", node.is_some()),
            ("storage", storage.is_some()),
            ("vmid_min", vmid_min.is_some()),
            ("vmid_max", vmid_max.is_some()),
            ("ip_gateway", ip_gateway.is_some()),
            ("ip_prefix", ip_prefix.is_some()),
        ];
        for (field, present) in required {
            if !present {
                errors.add(field, "is required for a proxmox backend");
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    let fields = BackendFields {
        name,
        driver,
        location_id: location_id.unwrap_or_default(),
        is_active,
        api_url,
        token_id,
        tls_ca_pem,
        node,
        storage,
        bridge,
        // The ranges were checked above.
        vmid_min: vmid_min.map(|v| v as i32),
        vmid_max: vmid_max.map(|v| v as i32),
        ip_gateway: gateway.map(|g| g.to_string()),
        ip_prefix: ip_prefix.map(|p| p as i16),
        nameservers: nameservers.map(|list| list.join(" ")),
    };
    Ok((fields, token_secret))
}
