//! Provisioning: turning a paid order into running servers, and the drivers that do it.
//!
//! - [`backends`]: the operator's provisioning backends (one per location at most), the plan
//!   templates they clone, and the VM ids and IP addresses our database allocates for them.
//! - [`provision`]: what a paid order does (one service per unit, each with its provisioning
//!   job) and the job itself: the `manual` driver leaves the service in the operator's queue;
//!   the `proxmox` driver runs a persisted step machine whose every step looks before it acts.
//! - [`proxmox`]: the Proxmox VE API client.
//! - [`validation`]: the rules of a backend's fields and its IP pool, shared by the operator's
//!   JSON API ([`admin_api`]) and pages ([`admin_pages`]).
//!
//! A location with no active backend is served by hand (the manual driver).

pub mod admin_api;
pub mod admin_pages;
pub mod backends;
pub mod manage;
pub mod provision;
pub mod proxmox;
pub mod validation;

use std::sync::Arc;

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

    /// The associated data a backend's API token secret is sealed for.
    pub fn backend_context(backend_id: i32) -> String {
        format!("backend:{backend_id}")
    }
}
