//! What customers and operators do to services: reveal credentials, power actions, the manual
//! driver's provisioning by hand, suspend / resume / terminate / retry, and corrections. Every
//! change is one transaction that re-reads the service under lock, checks the status it leaves,
//! writes a `service_logs` line with who acted, and queues any driver call as a job.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::logs::ServiceLog;
use super::services::Service;
use crate::error::AppResult;
use crate::provisioning::Provisioning;

/// What a customer may ask of a running server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerAction {
    Start,
    Stop,
    Reboot,
    ResetPassword,
}

/// A service's login details, opened for its owner or an operator.
#[derive(Clone, Debug, Serialize)]
pub struct Credentials {
    pub hostname: Option<String>,
    pub ip_address: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// What an operator enters to provision a service by hand (manual driver).
#[derive(Clone, Debug, Deserialize)]
pub struct ManualProvision {
    pub hostname: String,
    pub ip_address: String,
    pub username: String,
    pub password: String,
}

/// An operator's correction of a service (`PATCH`): only the fields given change.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ServiceUpdate {
    pub hostname: Option<String>,
    pub ip_address: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// The outcome of an action: the service as it is now and the log line written.
#[derive(Clone, Debug, Serialize)]
pub struct Acted {
    pub service: Service,
    pub log: ServiceLog,
}

/// Opens the service's credentials for `viewer` (its owner; `owner` None = an operator) and
/// logs the reveal. Someone else's service → NotFound.
pub async fn reveal_credentials(
    _db: &PgPool,
    _ctx: &Provisioning,
    _service_id: i32,
    _owner: Option<i32>,
    _viewer: i32,
) -> AppResult<Credentials> {
    todo!()
}
