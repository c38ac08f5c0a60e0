//! Provisioning: the machinery servers are built on — the operator's backends, the Proxmox
//! client, and the keyring and thresholds a service's life runs by.
//!
//! - [`backends`]: the operator's provisioning backends (one per location at most), the plan
//!   templates they clone, and the VM ids and IP addresses our database allocates for them.
//! - [`proxmox`]: the Proxmox VE API client; [`Provisioning::client`] opens one for a backend.
//! - [`vnc`]: the browser console's relay to a VM's VNC websocket (RFB handshake and copy).
//! - [`validation`]: the rules of a backend's fields and its IP pool, shared by the operator's
//!   JSON API ([`admin_api`]) and pages ([`admin_pages`]).
//!
//! A location with no active backend is served by hand (the manual driver). What a paid order
//! does with all this — one service per unit and the job that builds it — is the services
//! domain's (`services::provision`): this domain knows machines, not customers' services.

pub mod admin_api;
pub mod admin_pages;
pub mod backends;
pub mod manage;
pub mod proxmox;
pub mod systems;
pub mod validation;
pub mod vnc;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use self::backends::Backend;
use self::proxmox::{ClientConfig, ProxmoxClient};
use crate::jobs::Permanent;

use crate::crypto::Keyring;

pub use crate::config::LifecycleConfig;

impl LifecycleConfig {
    /// Checks the thresholds make sense together.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.renewal_reminder_days.is_empty()
            || self
                .renewal_reminder_days
                .iter()
                .any(|d| *d == 0 || *d > 60)
        {
            anyhow::bail!("NEXTGENRDP_RENEWAL_REMINDER_DAYS must list days between 1 and 60");
        }
        if self.terminate_after_days <= self.suspend_after_days {
            anyhow::bail!(
                "NEXTGENRDP_TERMINATE_AFTER_DAYS ({}) must be more than NEXTGENRDP_SUSPEND_AFTER_DAYS ({})",
                self.terminate_after_days,
                self.suspend_after_days
            );
        }
        Ok(())
    }

    /// How many days before the due date the renewal order is raised.
    pub fn renewal_lead_days(&self) -> u32 {
        self.renewal_reminder_days
            .iter()
            .copied()
            .max()
            .unwrap_or(7)
    }
}

/// What provisioning and the service lifecycle need, shared by the web server and the worker.
#[derive(Debug)]
pub struct Provisioning {
    /// Seals and opens service passwords and backend tokens.
    pub keyring: Keyring,
    pub lifecycle: LifecycleConfig,
    /// The shop's address, for links in e-mails.
    pub public_url: String,
}

impl Provisioning {
    pub fn new(keyring: Keyring, lifecycle: LifecycleConfig, public_url: String) -> Arc<Self> {
        Arc::new(Self {
            keyring,
            lifecycle,
            public_url,
        })
    }

    /// The associated data a service's password is sealed for.
    pub fn service_context(service_id: i32) -> String {
        format!("service:{service_id}")
    }

    /// The Proxmox client of a backend, its token opened with the keyring.
    pub fn client(&self, backend: &Backend) -> anyhow::Result<ProxmoxClient> {
        let sealed = backend
            .token_secret_encrypted
            .as_deref()
            .context("the backend has no API token")?;
        let secret = self
            .keyring
            .open(sealed, &Provisioning::backend_context(backend.id))
            .context("opening the backend's API token")?;
        ProxmoxClient::new(ClientConfig {
            api_url: backend.api_url.clone().unwrap_or_default(),
            token_id: backend.token_id.clone().unwrap_or_default(),
            token_secret: secret,
            ca_pem: backend.tls_ca_pem.clone(),
            timeout: Duration::from_secs(30),
        })
        .map_err(|err| Permanent::error(err.to_string()))
    }

    /// The associated data a backend's API token secret is sealed for.
    pub fn backend_context(backend_id: i32) -> String {
        format!("backend:{backend_id}")
    }
}
