//! Services: the servers customers bought, and their logs.
//!
//! [`ServiceStatus`] is a service's life; [`services`] holds the SQL of the `services` table
//! (with status changes guarded by the status they leave) and [`logs`] that of `service_logs`.
//! [`provision`] turns a paid order into services and runs the job that builds each one on the
//! provisioning domain's backends; [`lifecycle`] holds the operator's and customer's verbs on a
//! service, [`renewals`] the hourly sweep of its due dates.

pub mod access;
pub mod admin_api;
pub mod admin_pages;
pub mod api;
pub mod console;
pub mod lifecycle;
pub mod logs;
pub mod pages;
pub mod provision;
pub mod reinstall;
pub mod renewals;
// `services::services` mirrors the table name, as every repository module here does.
#[allow(clippy::module_inception)]
pub mod services;
pub mod snapshots;
pub mod traffic;
pub mod usage;

use sqlx::PgExecutor;

use crate::db::text_enum::{TransitionError, text_enum};

text_enum! {
    /// Where a service is in its life: being provisioned, running, suspended (unpaid renewal, abuse),
    /// terminated for good, or failed to provision.
    pub enum ServiceStatus {
        Provisioning = "provisioning",
        Active = "active",
        Suspended = "suspended",
        Terminated = "terminated",
        Failed = "failed",
    }
}

impl ServiceStatus {
    /// The status in the customer's words.
    pub fn label(self) -> &'static str {
        match self {
            Self::Provisioning => "Being prepared",
            Self::Active => "Active",
            Self::Suspended => "Suspended",
            Self::Terminated => "Terminated",
            Self::Failed => "Setup problem",
        }
    }

    /// Whether the server exists and its owner can use or renew it.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Active | Self::Suspended)
    }

    /// Whether the server was built (it has credentials to show).
    pub fn is_built(self) -> bool {
        !matches!(self, Self::Provisioning | Self::Failed)
    }
}

text_enum! {
    /// What a line of a service's log (`service_logs.action`) says was done: the founding
    /// document's `create`, `suspend`, `resume`, `terminate` and `password_reset`, and every
    /// other action the product writes. A customer's request that waits for an operator (a
    /// server run by hand) is the action's `…_requested` form until it is done.
    pub enum ServiceAction {
        Create = "create",
        Provision = "provision",
        Update = "update",
        Retry = "retry",
        Start = "start",
        Stop = "stop",
        Reboot = "reboot",
        PasswordReset = "password_reset",
        Suspend = "suspend",
        Resume = "resume",
        Terminate = "terminate",
        Renew = "renew",
        RenewalOrder = "renewal_order",
        Reinstall = "reinstall",
        Console = "console",
        CredentialsViewed = "credentials_viewed",
        TrafficNotice = "traffic_notice",
        TrafficThrottle = "traffic_throttle",
        SnapshotCreate = "snapshot_create",
        SnapshotRollback = "snapshot_rollback",
        SnapshotDelete = "snapshot_delete",
        StartRequested = "start_requested",
        StopRequested = "stop_requested",
        RebootRequested = "reboot_requested",
        PasswordResetRequested = "password_reset_requested",
        ReinstallRequested = "reinstall_requested",
    }
}

impl ServiceAction {
    /// The customer's request for this action, as it waits for an operator.
    pub fn requested(self) -> Option<Self> {
        Some(match self {
            Self::Start => Self::StartRequested,
            Self::Stop => Self::StopRequested,
            Self::Reboot => Self::RebootRequested,
            Self::PasswordReset => Self::PasswordResetRequested,
            Self::Reinstall => Self::ReinstallRequested,
            _ => return None,
        })
    }

    /// The action a waiting request asks for (`None`: not a request).
    pub fn asked(self) -> Option<Self> {
        Some(match self {
            Self::StartRequested => Self::Start,
            Self::StopRequested => Self::Stop,
            Self::RebootRequested => Self::Reboot,
            Self::PasswordResetRequested => Self::PasswordReset,
            Self::ReinstallRequested => Self::Reinstall,
            _ => return None,
        })
    }

    /// A power action (start, stop, restart), done or asked for.
    pub fn is_power(self) -> bool {
        matches!(
            self.asked().unwrap_or(self),
            Self::Start | Self::Stop | Self::Reboot
        )
    }

    /// The action in the customer's and the operator's words ("Restart requested").
    pub fn label(self) -> String {
        let words = match self {
            Self::Create => "Ordered",
            Self::Provision => "Setup",
            Self::Update => "Details corrected",
            Self::Retry => "Setup retried",
            Self::Start | Self::StartRequested => "Start",
            Self::Stop | Self::StopRequested => "Stop",
            Self::Reboot | Self::RebootRequested => "Restart",
            Self::PasswordReset | Self::PasswordResetRequested => "Password reset",
            Self::Suspend => "Suspension",
            Self::Resume => "Resumed",
            Self::Terminate => "Deletion",
            Self::Renew => "Renewal",
            Self::RenewalOrder => "Renewal order",
            Self::Reinstall | Self::ReinstallRequested => "Reinstall",
            Self::Console => "Console opened",
            Self::CredentialsViewed => "Login details viewed",
            Self::TrafficNotice => "Traffic notice",
            Self::TrafficThrottle => "Network limit",
            Self::SnapshotCreate => "Snapshot",
            Self::SnapshotRollback => "Rolled back to a snapshot",
            Self::SnapshotDelete => "Snapshot deleted",
        };
        if self.asked().is_some() {
            format!("{words} requested")
        } else {
            words.to_owned()
        }
    }
}

text_enum! {
    /// The last step of the provisioning step machine done (a Proxmox-built service; one built
    /// by hand stays `pending`).
    pub enum ProvisioningStep {
        Pending = "pending",
        Allocated = "allocated",
        Cloning = "cloning",
        Cloned = "cloned",
        Configured = "configured",
        Resized = "resized",
        Starting = "starting",
        Done = "done",
    }
}

impl ProvisioningStep {
    /// The step in words, with its place: "copying the system image (step 3 of 8)".
    pub fn label(self) -> String {
        let words = match self {
            Self::Pending => "waiting to start",
            Self::Allocated => "address reserved",
            Self::Cloning => "copying the system image",
            Self::Cloned => "system image copied",
            Self::Configured => "settings applied",
            Self::Resized => "disk sized",
            Self::Starting => "starting up",
            Self::Done => "ready",
        };
        let place = Self::ALL.iter().position(|&s| s == self).unwrap_or(0) + 1;
        format!("{words} (step {place} of {})", Self::ALL.len())
    }
}

/// Whether a service may move from `from` to `to`: provisioning ends `active` or `failed`; a
/// failed one is provisioned again; an active one is suspended and resumed; any but a
/// terminated one is terminated. Nothing else, and never to itself.
pub fn can_transition(from: ServiceStatus, to: ServiceStatus) -> bool {
    use ServiceStatus::*;
    matches!(
        (from, to),
        (Provisioning, Active | Failed)
            | (Failed, Provisioning)
            | (Active, Suspended)
            | (Suspended, Active)
            | (Provisioning | Active | Suspended | Failed, Terminated)
    )
}

/// Moves service `id` from `from` to `to` if it is still `from` (guarded: `false` when another
/// request moved it first), recording `failure_reason` (`None` clears it); a move the table does
/// not have is refused before the database is asked. The one writer of `services.status`.
pub async fn transition(
    db: impl PgExecutor<'_>,
    id: i32,
    from: ServiceStatus,
    to: ServiceStatus,
    failure_reason: Option<&str>,
) -> Result<bool, TransitionError> {
    if !can_transition(from, to) {
        return Err(TransitionError::NotAllowed {
            machine: "a service",
            from: from.as_str(),
            to: to.as_str(),
        });
    }
    Ok(services::set_status(db, id, from, to, failure_reason).await?)
}

/// A string schema of the given values, for the `#[schema(schema_with = ...)]` of a text column
/// the database restricts to a few values.
fn one_of(values: &[&str], description: &str) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .build()
}

/// The schema of `services.service_type`.
pub(crate) fn service_type_schema() -> utoipa::openapi::Object {
    one_of(&["rdp", "vps"], "Windows RDP or Linux VPS")
}

/// The schema of `service_logs.status`.
pub(crate) fn log_status_schema() -> utoipa::openapi::Object {
    one_of(
        &["success", "failed", "pending"],
        "Whether the action worked; `pending` while a queued job or the operator has yet to do it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_spelling() {
        assert!(crate::db::text_enum::spellings_match_serde(
            ServiceStatus::ALL
        ));
        for &status in ServiceStatus::ALL {
            assert_eq!(status.as_str().parse::<ServiceStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!("suspended".parse(), Ok(ServiceStatus::Suspended));
        assert!("Active".parse::<ServiceStatus>().is_err());
        assert!("deleted".parse::<ServiceStatus>().is_err());
    }

    #[test]
    fn exactly_the_allowed_moves_are_allowed() {
        use ServiceStatus::*;
        let allowed = [
            (Provisioning, Active),
            (Provisioning, Failed),
            (Failed, Provisioning),
            (Active, Suspended),
            (Suspended, Active),
            (Provisioning, Terminated),
            (Active, Terminated),
            (Suspended, Terminated),
            (Failed, Terminated),
        ];
        for &from in ServiceStatus::ALL {
            for &to in ServiceStatus::ALL {
                assert_eq!(
                    can_transition(from, to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }
}
