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

/// A customer's power or password action on their service. Proxmox: queued as a driver job
/// (202-style: the log line is `pending`, the job writes the outcome). Manual driver: a
/// `pending` log line `<action>_requested` for the operator. Only an active service (Conflict
/// otherwise); someone else's → NotFound.
pub async fn customer_action(
    _db: &PgPool,
    _service_id: i32,
    _user_id: i32,
    _action: CustomerAction,
) -> AppResult<Acted> {
    todo!()
}

/// The operator provisions a manual service by hand: credentials sealed, service active (its
/// first period starts), order active when all its services are, customer e-mailed. Only a
/// `provisioning` (or `failed`) service; validation errors by field.
pub async fn provision_by_hand(
    _db: &PgPool,
    _ctx: &Provisioning,
    _service_id: i32,
    _input: &ManualProvision,
    _admin_id: i32,
) -> AppResult<Acted> {
    todo!()
}

/// Operator: active → suspended (reason given), driver stop queued.
pub async fn suspend(
    _db: &PgPool,
    _service_id: i32,
    _admin_id: i32,
    _reason: Option<&str>,
) -> AppResult<Acted> {
    todo!()
}

/// Operator: suspended → active, driver start queued.
pub async fn resume(_db: &PgPool, _service_id: i32, _admin_id: i32) -> AppResult<Acted> {
    todo!()
}

/// Operator: active/suspended/failed/provisioning → terminated, driver delete queued, IP
/// released (held back before reuse), pending renewal orders cancelled.
pub async fn terminate(_db: &PgPool, _service_id: i32, _admin_id: i32) -> AppResult<Acted> {
    todo!()
}

/// Operator: failed → provisioning, a new provisioning job queued (the step machine resumes
/// from its last step).
pub async fn retry(_db: &PgPool, _service_id: i32, _admin_id: i32) -> AppResult<Acted> {
    todo!()
}

/// Operator: corrects hostname, IP, username or password (password sealed).
pub async fn update(
    _db: &PgPool,
    _ctx: &Provisioning,
    _service_id: i32,
    _update: &ServiceUpdate,
    _admin_id: i32,
) -> AppResult<Acted> {
    todo!()
}
