//! Services: the servers customers bought, and their logs.
//!
//! [`ServiceStatus`] is a service's life; [`services`] holds the SQL of the `services` table
//! (with status changes guarded by the status they leave) and [`logs`] that of `service_logs`.

pub mod admin_api;
pub mod admin_pages;
pub mod api;
pub mod lifecycle;
pub mod logs;
pub mod pages;
pub mod renewals;
// `services::services` mirrors the table name, as every repository module here does.
#[allow(clippy::module_inception)]
pub mod services;

use serde::{Deserialize, Serialize};

/// Where a service is in its life: being provisioned, running, suspended (unpaid renewal, abuse),
/// terminated for good, or failed to provision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Provisioning,
    Active,
    Suspended,
    Terminated,
    Failed,
}

impl ServiceStatus {
    /// Every status.
    pub const ALL: [Self; 5] = [
        Self::Provisioning,
        Self::Active,
        Self::Suspended,
        Self::Terminated,
        Self::Failed,
    ];

    /// The spelling stored in `services.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Terminated => "terminated",
            Self::Failed => "failed",
        }
    }
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

impl std::fmt::Display for ServiceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ServiceStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown service status {text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_spelling() {
        for status in ServiceStatus::ALL {
            assert_eq!(status.as_str().parse::<ServiceStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!("suspended".parse(), Ok(ServiceStatus::Suspended));
        assert!("Active".parse::<ServiceStatus>().is_err());
        assert!("deleted".parse::<ServiceStatus>().is_err());
    }
}
