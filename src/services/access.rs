//! Ways into a server the page and the API hand out: the Remote Desktop connection file of a
//! Windows server (address and username; never the password) and the lines to type.

use super::services::Service;
use crate::error::{AppError, AppResult};
use crate::services::ServiceStatus;

/// The `.rdp` file of an active Windows server: what Remote Desktop (mstsc, Windows App on a
/// Mac or phone) opens to connect, asking for the password. 409 for a Linux server or one
/// without an address yet.
pub fn rdp_file(service: &Service) -> AppResult<String> {
    if service.service_type != "rdp" {
        return Err(AppError::conflict(
            "service",
            format!(
                "server #{} is a Linux VPS: connect with SSH, not Remote Desktop",
                service.id
            ),
        ));
    }
    if service.status != ServiceStatus::Active {
        return Err(AppError::conflict(
            "status",
            format!(
                "server #{} is {}; its connection file is for an active server",
                service.id, service.status
            ),
        ));
    }
    let Some(address) = service.ip_address.as_deref() else {
        return Err(AppError::conflict(
            "service",
            format!("server #{} has no address yet", service.id),
        ));
    };
    // An IPv6 address is bracketed, as a host:port would be.
    let address = if address.contains(':') {
        format!("[{address}]")
    } else {
        address.to_owned()
    };
    let mut lines = vec![format!("full address:s:{address}")];
    if let Some(username) = service.username.as_deref() {
        // The file format has no quoting: a line break would start a new setting.
        let username: String = username.chars().filter(|c| !c.is_control()).collect();
        lines.push(format!("username:s:{username}"));
    }
    lines.extend(
        [
            "prompt for credentials:i:1",
            "authentication level:i:2",
            "screen mode id:i:2",
            "session bpp:i:32",
            "autoreconnection enabled:i:1",
            "redirectclipboard:i:1",
            "redirectprinters:i:0",
            "audiomode:i:0",
        ]
        .map(str::to_owned),
    );
    Ok(lines.join("\r\n") + "\r\n")
}

/// The file name a browser saves the `.rdp` file as.
pub fn rdp_file_name(service: &Service) -> String {
    format!("nextgenrdp-server-{}.rdp", service.id)
}

/// The command that opens a Windows server's Remote Desktop from a Windows command line.
pub fn mstsc_line(address: &str) -> String {
    format!("mstsc /v:{address}")
}

/// The command that logs in to a Linux server.
pub fn ssh_line(username: &str, address: &str) -> String {
    format!("ssh {username}@{address}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(kind: &str, ip: Option<&str>) -> Service {
        Service {
            id: 7,
            order_item_id: None,
            user_id: Some(1),
            service_type: kind.to_owned(),
            status: ServiceStatus::Active,
            hostname: None,
            ip_address: ip.map(str::to_owned),
            username: Some("Administrator".into()),
            password_encrypted: Some("v1:sealed".into()),
            server_id: None,
            created_at: None,
            updated_at: None,
            last_renewal_date: None,
            next_renewal_date: None,
            termination_date: None,
            failure_reason: None,
            plan_id: None,
            location_id: None,
            backend_id: None,
            vmid: None,
            provisioning_step: crate::services::ProvisioningStep::Done,
            task_upid: None,
            validity_months: Some(1),
            suspended_reason: None,
            os_template_id: None,
            os_template_name: None,
            ssh_keys: None,
        }
    }

    #[test]
    fn the_rdp_file_names_the_address_and_user_and_never_a_password() {
        let file = rdp_file(&service("rdp", Some("203.0.113.10"))).unwrap();
        assert!(file.starts_with("full address:s:203.0.113.10\r\nusername:s:Administrator\r\n"));
        assert!(file.contains("prompt for credentials:i:1"));
        assert!(!file.to_lowercase().contains("password"));
        assert!(
            rdp_file(&service("rdp", Some("2001:db8::5")))
                .unwrap()
                .starts_with("full address:s:[2001:db8::5]")
        );
        assert!(rdp_file(&service("vps", Some("203.0.113.10"))).is_err());
        assert!(rdp_file(&service("rdp", None)).is_err());
    }
}
