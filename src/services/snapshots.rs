//! Snapshots of a Proxmox-built server: a customer keeps up to the plan's number of them
//! (`backend_templates.snapshot_limit`; 0 = none), takes one with a name, rolls the server back
//! to one (typed confirmation; the server restarts) or deletes one.
//!
//! Each request is a `service_logs` line (`snapshot_create`, `snapshot_rollback`,
//! `snapshot_delete`, `pending` until done) and a `snapshot_action` job. The job looks before it
//! acts — a snapshot already there is not taken twice, one already gone is not deleted twice —
//! and a VM locked by another task (or by an interrupted one) is retried with backoff; once the
//! retries are spent the request fails with what the operator must do on the node.

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use super::logs::{self, ServiceLog};
use super::provision::{Machine, classify};
use super::services::{self, Service};
use crate::audit::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::jobs::{self, Job, Permanent};
use crate::provisioning::Provisioning;
use crate::provisioning::backends::{self, Backend, BackendDriver};
use crate::provisioning::proxmox::{PowerAction, Snapshot};
use crate::services::{ServiceAction, ServiceStatus};

pub use crate::jobs::kinds::SNAPSHOT_ACTION;

/// What a snapshot request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotAction {
    Create,
    Rollback,
    Delete,
}

impl SnapshotAction {
    /// The `service_logs.action` of the request.
    pub fn log_action(self) -> ServiceAction {
        match self {
            Self::Create => ServiceAction::SnapshotCreate,
            Self::Rollback => ServiceAction::SnapshotRollback,
            Self::Delete => ServiceAction::SnapshotDelete,
        }
    }
}

/// The payload of a [`SNAPSHOT_ACTION`] job.
#[derive(Debug, Serialize, Deserialize)]
pub struct SnapshotJob {
    pub service_id: i32,
    pub action: SnapshotAction,
    pub name: String,
    pub requested_by: Option<i32>,
}

/// A snapshot as the customer sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SnapshotView {
    pub name: String,
    pub description: Option<String>,
    /// When it was taken (RFC 3339, UTC).
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `false` while it is being made or deleted, or when a task making it was interrupted
    /// (it cannot be rolled back to).
    pub complete: bool,
}

/// A server's snapshots and how many it may keep.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SnapshotList {
    /// Snapshots the plan lets the customer keep (0: none).
    pub limit: i32,
    /// Oldest first.
    pub items: Vec<SnapshotView>,
}

fn view(snapshot: Snapshot) -> SnapshotView {
    SnapshotView {
        created_at: snapshot
            .snaptime
            .filter(|t| *t > 0)
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
        complete: snapshot.snapstate.is_none(),
        description: snapshot.description.filter(|d| !d.is_empty()),
        name: snapshot.name,
    }
}

/// A snapshot's name as Proxmox takes it: a letter, then letters, digits, `-` or `_`; 2 to 40
/// characters; not `current` or `pending`.
pub fn parse_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    let valid = (2..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(
            "2 to 40 letters, digits, - or _, starting with a letter (e.g. before-update)".into(),
        );
    }
    if ["current", "pending"].contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("\"{name}\" is a reserved name; choose another"));
    }
    Ok(name.to_owned())
}

/// The backend of an active Proxmox-built service and the plan's snapshot limit, or the 409
/// saying why snapshots do not apply.
async fn target(db: &mut PgConnection, service: &Service) -> AppResult<(Backend, i32)> {
    if service.status != ServiceStatus::Active {
        return Err(AppError::conflict(
            "status",
            format!(
                "service {} is {}; snapshots are for an active server",
                service.id, service.status
            ),
        ));
    }
    let backend = match service.backend_id {
        Some(id) => backends::find(&mut *db, id).await?,
        None => None,
    }
    .filter(|b| b.driver == BackendDriver::Proxmox && service.vmid.is_some());
    let Some(backend) = backend else {
        return Err(AppError::conflict(
            "service",
            format!(
                "server #{} is run by hand, so it has no snapshots; ask us for a backup from \
                 a support ticket",
                service.id
            ),
        ));
    };
    let limit = backends::find_template(
        &mut *db,
        backend.id,
        service.plan_id.as_deref().unwrap_or_default(),
    )
    .await?
    .map_or(0, |t| t.snapshot_limit);
    Ok((backend, limit))
}

async fn find(db: &mut PgConnection, service_id: i32, owner: Option<i32>) -> AppResult<Service> {
    services::find(&mut *db, service_id)
        .await?
        .filter(|s| owner.is_none_or(|o| s.user_id == Some(o)))
        .ok_or(AppError::NotFound("service"))
}

/// The snapshots on the VM now, asked of Proxmox (503 when it cannot be reached).
async fn live(
    ctx: &Provisioning,
    backend: &Backend,
    service: &Service,
) -> AppResult<Vec<Snapshot>> {
    let unreachable = |err: String| {
        tracing::warn!(service.id = service.id, "listing snapshots failed: {err}");
        AppError::Unavailable("the server's host did not answer; try again in a minute".into())
    };
    let client = ctx
        .client(backend)
        .map_err(|e| unreachable(e.to_string()))?;
    let vmid = u32::try_from(service.vmid.unwrap_or_default()).unwrap_or_default();
    client
        .list_snapshots(backend.node.as_deref().unwrap_or_default(), vmid)
        .await
        .map_err(|e| unreachable(e.to_string()))
}

/// The service's snapshots (its owner's: `owner`; an operator's: `None`).
pub async fn list(
    db: &PgPool,
    ctx: &Provisioning,
    service_id: i32,
    owner: Option<i32>,
) -> AppResult<SnapshotList> {
    let mut conn = db.acquire().await?;
    let service = find(&mut conn, service_id, owner).await?;
    let (backend, limit) = target(&mut conn, &service).await?;
    drop(conn);
    let items = live(ctx, &backend, &service)
        .await?
        .into_iter()
        .map(view)
        .collect();
    Ok(SnapshotList { limit, items })
}

/// What a snapshot request asks.
#[derive(Debug)]
pub struct Request<'a> {
    pub action: SnapshotAction,
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// For a rollback: the snapshot's name typed again.
    pub confirm: Option<&'a str>,
}

/// Asks for a snapshot to be taken, rolled back to or deleted: checks it against the plan's limit
/// and the snapshots on the VM, then writes the `pending` log line and queues the job in one
/// transaction. `owner`: the customer's own service (someone else's → 404); `None` with an
/// `operator` acting (audited).
pub async fn request(
    db: &PgPool,
    ctx: &Provisioning,
    service_id: i32,
    owner: Option<i32>,
    operator: Option<&Actor<'_>>,
    requested_by: i32,
    req: &Request<'_>,
) -> AppResult<ServiceLog> {
    // Someone else's server does not exist, whatever the request says.
    let service = find(&mut *db.acquire().await?, service_id, owner).await?;
    let name = match req.action {
        SnapshotAction::Create => {
            parse_name(req.name).map_err(|problem| AppError::invalid("name", problem))?
        }
        _ => req.name.trim().to_owned(),
    };
    let description = req.description.map(str::trim).unwrap_or_default();
    if description.chars().count() > 200 || description.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "description",
            "at most 200 characters on one line",
        ));
    }
    // Look at the VM first (outside the transaction: Proxmox may take a moment).
    let (backend, limit) = target(&mut *db.acquire().await?, &service).await?;
    let existing = live(ctx, &backend, &service).await?;
    let found = existing.iter().find(|s| s.name == name);
    match req.action {
        SnapshotAction::Create => {
            if limit == 0 {
                return Err(AppError::conflict(
                    "service",
                    "this server's plan includes no snapshots",
                ));
            }
            if found.is_some() {
                return Err(AppError::conflict(
                    "name",
                    format!("there is a snapshot named \"{name}\" already"),
                ));
            }
            if existing.len() >= limit as usize {
                return Err(AppError::conflict(
                    "name",
                    format!(
                        "you keep at most {limit} snapshot{} of this server; delete one first",
                        if limit == 1 { "" } else { "s" }
                    ),
                ));
            }
        }
        SnapshotAction::Rollback | SnapshotAction::Delete => {
            let Some(snapshot) = found else {
                return Err(AppError::NotFound("snapshot"));
            };
            if req.action == SnapshotAction::Rollback {
                if snapshot.snapstate.is_some() {
                    return Err(AppError::conflict(
                        "name",
                        format!("snapshot \"{name}\" is incomplete; it cannot be rolled back to"),
                    ));
                }
                if req.confirm.map(str::trim) != Some(name.as_str()) {
                    return Err(AppError::invalid(
                        "confirm",
                        format!(
                            "type the snapshot's name, {name}, to confirm: the server goes back \
                             to it and everything since is lost"
                        ),
                    ));
                }
            }
        }
    }
    let mut tx = db.begin().await?;
    let service = services::find_for_update(&mut *tx, service_id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    target(&mut tx, &service).await?;
    super::reinstall::ensure_idle(&mut *tx, service.id).await?;
    let busy: bool = sqlx::query_scalar(
        "select exists (select 1 from service_logs where service_id = $1
                        and status = 'pending' and action like 'snapshot\\_%')",
    )
    .bind(service.id)
    .fetch_one(&mut *tx)
    .await?;
    if busy {
        return Err(AppError::conflict(
            "name",
            "a snapshot request is under way on this server; wait until it is done",
        ));
    }
    let details = match req.action {
        SnapshotAction::Create => format!("snapshot \"{name}\" queued"),
        SnapshotAction::Rollback => format!("roll back to \"{name}\" queued"),
        SnapshotAction::Delete => format!("deleting \"{name}\" queued"),
    };
    let log = logs::insert(
        &mut *tx,
        service.id,
        req.action.log_action(),
        "pending",
        Some(&details),
        Some(requested_by),
    )
    .await?;
    let payload = serde_json::json!({
        "service_id": service.id,
        "action": req.action,
        "name": name,
        "requested_by": requested_by,
        "description": description,
    });
    jobs::enqueue(&mut *tx, SNAPSHOT_ACTION, &payload, None, None).await?;
    if let Some(actor) = operator {
        let id = service.id.to_string();
        audit::insert(
            &mut *tx,
            &crate::audit::NewAuditEntry {
                after: Some(serde_json::json!({ "snapshot": name, "action": req.action })),
                ..actor.entry(req.action.log_action().as_str(), "service", Some(&id))
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(log)
}

/// The job's payload, with the description a create carries.
#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(flatten)]
    job: SnapshotJob,
    #[serde(default)]
    description: String,
}

/// Runs a [`SNAPSHOT_ACTION`] job and writes its outcome on the request's log line (once done,
/// or once it failed for good).
pub async fn run_job(ctx: &Provisioning, db: &PgPool, job: &Job) -> anyhow::Result<()> {
    let Payload {
        job: request,
        description,
    } = jobs::payload(job)?;
    let Some(service) = services::find(db, request.service_id).await? else {
        return Err(Permanent::error(format!(
            "service {} does not exist",
            request.service_id
        )));
    };
    let result = carry_out(ctx, db, &service, &request, &description).await;
    let last = job.attempts >= job.max_attempts;
    let outcome = match &result {
        Ok(details) => Some(("success", details.clone())),
        Err(err) if !jobs::is_snooze(err) && (jobs::is_permanent(err) || last) => {
            Some(("failed", format!("{err:#}")))
        }
        Err(_) => None,
    };
    if let Some((status, details)) = outcome {
        let action = request.action.log_action();
        if !logs::close_oldest_pending_action(db, service.id, action, status, &details).await? {
            logs::insert(
                db,
                service.id,
                action,
                status,
                Some(&details),
                request.requested_by,
            )
            .await?;
        }
    }
    result.map(|_| ())
}

/// The retryable error of a VM another task holds (or an interrupted one left locked), with
/// what to do on the node should it never clear.
fn locked(vmid: u32, lock: &str, name: &str) -> anyhow::Error {
    anyhow::Error::new(crate::provisioning::proxmox::PveError {
        kind: crate::provisioning::proxmox::PveErrorKind::Locked,
        status: None,
        message: format!(
            "VM {vmid} is locked ({lock}). If no task is running on the node, an interrupted \
             one left the lock: run `qm unlock {vmid}` there (and `qm delsnapshot {vmid} {name} \
             --force` for a half-made snapshot), then retry the job"
        ),
    })
}

async fn carry_out(
    ctx: &Provisioning,
    db: &PgPool,
    service: &Service,
    request: &SnapshotJob,
    description: &str,
) -> anyhow::Result<String> {
    let backend = match service.backend_id {
        Some(id) => backends::find(db, id).await?,
        None => None,
    }
    .ok_or_else(|| Permanent::error("the service has no Proxmox backend"))?;
    let machine = Machine::new(ctx, db, backend)?;
    let vmid = machine.vmid(service)?;
    let node = machine.node.clone();
    let name = request.name.as_str();
    let snapshots = machine
        .client
        .list_snapshots(&node, vmid)
        .await
        .map_err(classify)?;
    let found = snapshots.iter().find(|s| s.name == name);
    let status = machine
        .client
        .vm_status(&node, vmid)
        .await
        .map_err(classify)?
        .ok_or_else(|| Permanent::error(format!("VM {vmid} does not exist")))?;
    match request.action {
        SnapshotAction::Create => {
            match found {
                Some(s) if s.snapstate.is_none() => {
                    return Ok(format!("snapshot \"{name}\" taken"));
                }
                Some(s) => {
                    let state = s.snapstate.clone().unwrap_or_default();
                    return Err(locked(vmid, &format!("snapshot {name} is {state}"), name));
                }
                None => {}
            }
            if let Some(lock) = &status.lock {
                return Err(locked(vmid, lock, name));
            }
            let upid = machine
                .client
                .create_snapshot(&node, vmid, name, description)
                .await
                .map_err(classify)?;
            machine.wait(&upid, "the snapshot").await?;
            Ok(format!("snapshot \"{name}\" taken"))
        }
        SnapshotAction::Rollback => {
            let Some(snapshot) = found else {
                return Err(Permanent::error(format!(
                    "snapshot \"{name}\" no longer exists"
                )));
            };
            if snapshot.snapstate.is_some() {
                return Err(Permanent::error(format!(
                    "snapshot \"{name}\" is incomplete; it cannot be rolled back to"
                )));
            }
            if let Some(lock) = &status.lock {
                return Err(locked(vmid, lock, name));
            }
            // A rollback already done (the job was interrupted after it) leaves the VM on the
            // snapshot: its config names it as parent. Then only the start is left.
            let config = machine
                .client
                .vm_config(&node, vmid)
                .await
                .map_err(classify)?
                .unwrap_or_default();
            let on_it = config.get("parent").and_then(|p| p.as_str()) == Some(name);
            if !on_it || status.is_running() {
                let upid = machine
                    .client
                    .rollback_snapshot(&node, vmid, name)
                    .await
                    .map_err(classify)?;
                machine.wait(&upid, "the rollback").await?;
            }
            let running = machine
                .client
                .vm_status(&node, vmid)
                .await
                .map_err(classify)?
                .is_some_and(|s| s.is_running());
            if !running {
                let upid = machine
                    .client
                    .power(&node, vmid, PowerAction::Start)
                    .await
                    .map_err(classify)?;
                machine.wait(&upid, "the start after the rollback").await?;
            }
            Ok(format!("rolled back to \"{name}\" and started"))
        }
        SnapshotAction::Delete => {
            if found.is_none() {
                return Ok(format!("snapshot \"{name}\" deleted"));
            }
            if let Some(lock) = &status.lock {
                return Err(locked(vmid, lock, name));
            }
            let upid = machine
                .client
                .delete_snapshot(&node, vmid, name)
                .await
                .map_err(classify)?;
            machine.wait(&upid, "the snapshot's deletion").await?;
            Ok(format!("snapshot \"{name}\" deleted"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_follow_proxmox() {
        assert_eq!(parse_name(" before-update ").unwrap(), "before-update");
        assert!(parse_name("a").is_err());
        assert!(parse_name("1st").is_err());
        assert!(parse_name("with space").is_err());
        assert!(parse_name(&"a".repeat(41)).is_err());
        assert!(parse_name("Current").unwrap_err().contains("reserved"));
    }
}
