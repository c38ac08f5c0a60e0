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
pub mod provision;
pub mod proxmox;
pub mod validation;

use std::sync::Arc;

use clap::Args;

use crate::crypto::Keyring;

/// The thresholds of a service's life after it is sold, every one configurable.
#[derive(Args, Clone, Debug)]
pub struct LifecycleConfig {
    /// Days before a service's due date on which its renewal reminder is e-mailed (the renewal
    /// order is raised at the first of them), comma-separated.
    #[arg(
        long,
        env = "NEXTGENRDP_RENEWAL_REMINDER_DAYS",
        value_delimiter = ',',
        default_value = "7,3,1"
    )]
    pub renewal_reminder_days: Vec<u32>,

    /// Days past its due date an unpaid service keeps running before it is suspended.
    #[arg(long, env = "NEXTGENRDP_SUSPEND_AFTER_DAYS", default_value_t = 3)]
    pub suspend_after_days: u32,

    /// Days past its due date an unpaid service is terminated (its server deleted).
    #[arg(long, env = "NEXTGENRDP_TERMINATE_AFTER_DAYS", default_value_t = 14)]
    pub terminate_after_days: u32,

    /// Days a released IP address is held back before another customer gets it.
    #[arg(long, env = "NEXTGENRDP_IP_HOLD_DAYS", default_value_t = 7)]
    pub ip_hold_days: u32,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            renewal_reminder_days: vec![7, 3, 1],
            suspend_after_days: 3,
            terminate_after_days: 14,
            ip_hold_days: 7,
        }
    }
}

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
