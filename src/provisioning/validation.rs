//! The rules a provisioning backend's fields and its IP pool obey, written once for the JSON API
//! and the operator's pages: a backend's fields merged over the stored backend and checked rule
//! by rule (problems keyed by field), and the network arithmetic of the pool (membership,
//! fitness, ranges).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Deserialize;

use super::backends::{Backend, BackendDriver, BackendFields};
use crate::accounts::validation::FieldErrors;
use crate::catalog::locations;
use crate::error::{AppError, AppResult};

/// The most addresses one request adds to a pool (a range is expanded).
pub const MAX_ADDRESSES: u128 = 4096;

/// The VM ids a backend may hand out.
const VMIDS: std::ops::RangeInclusive<i64> = 100..=999_999_999;

/// A backend as the operator sends it; on PATCH every field is optional and `null` clears an
/// optional one (the pages send every field, blank as `null`). `token_secret` is write-only
/// (no `Debug`, so it is never logged).
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    description = "A backend as the operator sends it. On PATCH every field is optional (absent keeps the current value) and `null` clears an optional one."
)]
pub struct BackendRequest {
    /// Required on creation; 1 to 100 characters, unique.
    pub name: Option<String>,
    /// Required on creation. A `proxmox` backend needs `api_url`, `token_id`, `token_secret`,
    /// `node`, `storage`, `vmid_min`, `vmid_max`, `ip_gateway` and `ip_prefix`.
    #[schema(value_type = Option<super::backends::BackendDriver>)]
    pub driver: Option<String>,
    /// Required on creation: the location whose servers it builds.
    pub location_id: Option<i32>,
    /// Default on creation: true. A location has at most one active backend.
    pub is_active: Option<bool>,
    /// An `https://` address of at most 255 characters (`https://pve1.example.pk:8006`).
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub api_url: Option<Option<String>>,
    /// `user@realm!name`, e.g. `ngr@pve!shop`.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub token_id: Option<Option<String>>,
    /// The API token's secret: 1 to 150 characters without spaces. Write-only: stored sealed,
    /// never returned (`has_token` says whether one is set); absent keeps the current one.
    #[schema(write_only)]
    pub token_secret: Option<String>,
    /// A PEM certificate (`-----BEGIN CERTIFICATE----- …`) trusted for the API instead of the
    /// public roots.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub tls_ca_pem: Option<Option<String>>,
    /// The Proxmox node, at most 100 characters.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub node: Option<Option<String>>,
    /// The Proxmox storage, at most 100 characters.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub storage: Option<Option<String>>,
    /// The network bridge, at most 50 characters.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub bridge: Option<Option<String>>,
    /// The first VM id to hand out, 100 to 999999999; given with `vmid_max`.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 100, maximum = 999_999_999)]
    pub vmid_min: Option<Option<i64>>,
    /// The last VM id to hand out, not below `vmid_min`.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 100, maximum = 999_999_999)]
    pub vmid_max: Option<Option<i64>>,
    /// The gateway of the IP pool's network, an IPv4 or IPv6 address; given with `ip_prefix`.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub ip_gateway: Option<Option<String>>,
    /// The prefix length of the IP pool's network: 1 to 32 (IPv4) or 1 to 128 (IPv6).
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 128)]
    pub ip_prefix: Option<Option<i64>>,
    /// The VMs' DNS servers: IP addresses separated by spaces or commas.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
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

/// Whether a Proxmox API token id has the shape `user@realm!name`, each part letters, digits,
/// `-`, `_` or `.`.
pub fn is_token_id(text: &str) -> bool {
    let Some((user, rest)) = text.split_once('@') else {
        return false;
    };
    let Some((realm, name)) = rest.split_once('!') else {
        return false;
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    text.len() <= 255 && word(user) && word(realm) && word(name)
}

/// Merges a request over the current backend (or nothing, for a new one) and checks every
/// rule, reporting all problems at once (a 422 naming the fields). Returns the fields and the
/// new token secret, if any.
pub async fn validate_backend(
    db: &sqlx::PgPool,
    request: BackendRequest,
    current: Option<&Backend>,
) -> AppResult<(BackendFields, Option<String>)> {
    let location_known = match request
        .location_id
        .or_else(|| current.map(|c| c.location_id))
    {
        Some(id) => locations::find(db, id).await?.is_some(),
        None => false,
    };
    check_backend(request, current, location_known).map_err(|errors| AppError::Validation(errors.0))
}

/// [`validate_backend`] once the location is looked up: `location_known` is whether the merged
/// `location_id` names a location.
fn check_backend(
    request: BackendRequest,
    current: Option<&Backend>,
    location_known: bool,
) -> Result<(BackendFields, Option<String>), FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = request
        .name
        .map(|n| n.trim().to_owned())
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default();
    if name.is_empty() {
        errors.add("name", "is required");
    } else if name.chars().count() > 100 {
        errors.add("name", "must be at most 100 characters");
    }
    let driver = match (request.driver.as_deref(), current) {
        (Some(text), _) => BackendDriver::parse(text),
        (None, Some(current)) => Some(current.driver),
        (None, None) => None,
    };
    if driver.is_none() {
        errors.add("driver", "must be manual or proxmox");
    }
    let location_id = request
        .location_id
        .or_else(|| current.map(|c| c.location_id));
    match location_id {
        None => errors.add("location_id", "is required"),
        Some(_) if !location_known => errors.add("location_id", "no such location"),
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
                "must be an https:// address like https://pve1.example.pk:8006",
            );
        }
    }
    let token_id = merged(request.token_id, current.and_then(|c| c.token_id.as_ref()));
    if token_id.as_deref().is_some_and(|id| !is_token_id(id)) {
        errors.add(
            "token_id",
            "must look like user@realm!name, e.g. ngr@pve!shop",
        );
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
    for (field, value) in [("vmid_min", vmid_min), ("vmid_max", vmid_max)] {
        if value.is_some_and(|v| !VMIDS.contains(&v)) {
            errors.add(field, "must be between 100 and 999999999");
        }
    }
    match (vmid_min, vmid_max) {
        (Some(min), Some(max)) if max < min => {
            errors.add("vmid_max", "must not be below the first VM id")
        }
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
            errors.add(
                "ip_gateway",
                "must be an IPv4 or IPv6 address like 203.0.113.1",
            );
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

    if driver == Some(BackendDriver::Proxmox) {
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
        return Err(errors);
    }
    let fields = BackendFields {
        name,
        driver: driver.unwrap_or_default(),
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

/// The bounds of a plan template's numbers: `(field, min, max)`.
pub const TEMPLATE_BOUNDS: [(&str, i64, i64); 5] = [
    ("template_vmid", 100, 999_999_999),
    ("cores", 1, 512),
    ("memory_mb", 256, 4_194_304),
    ("disk_gb", 1, 65_536),
    ("snapshot_limit", 0, 20),
];

/// The problem with a template number, if it is outside its bounds.
pub fn template_number_problem(field: &str, value: i64) -> Option<String> {
    let (_, min, max) = TEMPLATE_BOUNDS.iter().find(|(name, _, _)| *name == field)?;
    (!(*min..=*max).contains(&value)).then(|| format!("must be between {min} and {max}"))
}

/// The problem with a template's login user (cloud-init's `ciuser`), if any: 1 to 100
/// characters, no whitespace.
pub fn template_username_problem(username: &str) -> Option<&'static str> {
    if username.is_empty() {
        Some("is required")
    } else if username.chars().count() > 100 {
        Some("must be at most 100 characters")
    } else if username.chars().any(char::is_whitespace) {
        Some("must not contain spaces")
    } else {
        None
    }
}

/// The network of a backend's pool, `gateway/prefix`, if the backend has one.
pub fn pool_network(backend: &Backend) -> Option<(IpAddr, u8)> {
    backend
        .ip_gateway
        .as_deref()
        .and_then(|g| g.parse::<IpAddr>().ok())
        .zip(backend.ip_prefix.and_then(|p| u8::try_from(p).ok()))
}

/// Whether `address` is in the network of `gateway`/`prefix`.
pub fn in_network(address: IpAddr, gateway: IpAddr, prefix: u8) -> bool {
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

/// Why `address` cannot be in the pool of a backend on `gateway`/`prefix`, if it cannot: it is
/// outside the network, its gateway, or (IPv4) its network or broadcast address.
pub fn unfit(address: IpAddr, gateway: IpAddr, prefix: u8) -> Option<String> {
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

/// The addresses of `first-last`, both inclusive, of one family, at most [`MAX_ADDRESSES`].
pub fn expand_range(text: &str) -> Result<Vec<IpAddr>, String> {
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
                IpAddr::from(Ipv4Addr::from(n as u32))
            } else {
                IpAddr::from(Ipv6Addr::from(n))
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxmox() -> BackendRequest {
        BackendRequest {
            name: Some("pve-lahore-1".into()),
            driver: Some("proxmox".into()),
            location_id: Some(1),
            api_url: Some(Some("https://pve1.example.pk:8006".into())),
            token_id: Some(Some("ngr@pve!shop".into())),
            token_secret: Some("5e1a0f6c-2b7d".into()),
            node: Some(Some("pve1".into())),
            storage: Some(Some("local-lvm".into())),
            vmid_min: Some(Some(5000)),
            vmid_max: Some(Some(5999)),
            ip_gateway: Some(Some("203.0.113.1".into())),
            ip_prefix: Some(Some(24)),
            nameservers: Some(Some("1.1.1.1, 8.8.8.8".into())),
            ..BackendRequest::default()
        }
    }

    #[test]
    fn a_complete_proxmox_backend_passes_with_its_nameservers_space_separated() {
        let (fields, secret) = check_backend(proxmox(), None, true)
            .map_err(|e| e.0)
            .unwrap();
        assert_eq!(fields.nameservers.as_deref(), Some("1.1.1.1 8.8.8.8"));
        assert!(fields.is_active);
        assert_eq!(secret.as_deref(), Some("5e1a0f6c-2b7d"));
    }

    #[test]
    fn every_broken_field_is_named_at_once() {
        let request = BackendRequest {
            name: Some(" ".into()),
            api_url: Some(Some("http://pve1.example.pk:8006".into())),
            token_id: Some(Some("ngr@pve".into())),
            tls_ca_pem: Some(Some("-----BEGIN CERTIFICATE----- only".into())),
            node: Some(Some("pve 1".into())),
            vmid_min: Some(Some(7000)),
            vmid_max: Some(Some(6000)),
            ip_prefix: Some(Some(33)),
            nameservers: Some(Some("dns.example".into())),
            ..proxmox()
        };
        let errors = check_backend(request, None, false).err().unwrap();
        for field in [
            "name",
            "location_id",
            "api_url",
            "token_id",
            "tls_ca_pem",
            "node",
            "vmid_max",
            "ip_prefix",
            "nameservers",
        ] {
            assert!(errors.get(field).is_some(), "{field}: {:?}", errors.0);
        }
    }

    #[test]
    fn a_proxmox_backend_needs_its_api_and_network_but_a_manual_one_does_not() {
        let bare = |driver: &str| BackendRequest {
            name: Some("b".into()),
            driver: Some(driver.into()),
            location_id: Some(1),
            ..BackendRequest::default()
        };
        assert!(check_backend(bare("manual"), None, true).is_ok());
        let errors = check_backend(bare("proxmox"), None, true).err().unwrap();
        assert_eq!(errors.0.len(), 9, "{:?}", errors.0);
        assert_eq!(
            errors.get("token_secret"),
            Some("is required for a proxmox backend")
        );
    }

    #[test]
    fn token_ids_have_the_shape_user_at_realm_bang_name() {
        assert!(is_token_id("ngr@pve!shop"));
        assert!(is_token_id("billing@pve!provisioner"));
        assert!(!is_token_id("ngr@pve"));
        assert!(!is_token_id("ngr!shop"));
        assert!(!is_token_id("@pve!shop"));
        assert!(!is_token_id("ngr@pve!"));
        assert!(!is_token_id("ngr@p ve!shop"));
    }

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

    #[test]
    fn template_rules_are_the_same_for_api_and_pages() {
        assert_eq!(template_number_problem("cores", 4), None);
        assert_eq!(
            template_number_problem("cores", 0).as_deref(),
            Some("must be between 1 and 512")
        );
        assert!(template_number_problem("memory_mb", 255).is_some());
        assert_eq!(template_username_problem("Administrator"), None);
        assert_eq!(template_username_problem(""), Some("is required"));
        assert_eq!(
            template_username_problem("Domain Admin"),
            Some("must not contain spaces")
        );
        assert!(template_username_problem(&"a".repeat(101)).is_some());
    }
}
