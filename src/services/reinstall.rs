//! Reinstalling a Proxmox-built server: the customer (typed confirmation; at most
//! [`DAILY_LIMIT`] a day) or an operator (audited, no limit) picks one of the plan's operating
//! systems and, for Linux, SSH keys; the server is rebuilt on the **same VM id and address**
//! with a new generated password.
//!
//! A reinstall that failed does not count against the day's three.
//!
//! A reinstall is a row of `service_reinstalls` and a `reinstall_service` job running a step
//! machine like provisioning's, each step recorded before the next begins and each looking
//! before it acts, so a crash or a lost answer resumes where it stopped:
//! `pending` → stop (skipped when stopped) → `stopped` → destroy (only a VM carrying our
//! marker; skipped when gone) → `destroyed` → clone the system's template VM at the same id (a
//! VM found there with our marker is that clone, from a lost answer) → `cloning` (wait on the
//! UPID) → `cloned` → a new password, then cloud-init (user, password, keys, address) →
//! `configured` → disk → `resized` → start → `starting` → `done`, with a `reinstall` line in
//! `service_logs` from `pending` to `success` and an e-mail to the customer. A failure for good
//! ends it `failed` with the reason on the log line; asking again starts over from the top,
//! every step looking at what is there.
//!
//! While a reinstall runs the server is busy: power actions, snapshots and the console are
//! refused ([`ensure_idle`]).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection, PgExecutor, PgPool};

use super::logs::{self, ServiceLog};
use super::provision::{Driver, Machine, classify, driver_for, is_ours};
use super::services::{self, Service};
use super::{ServiceAction, ServiceStatus};
use crate::accounts::{ssh_keys, users};
use crate::audit::{self, Actor};
use crate::catalog::os_templates::{self, OsFamily, OsTemplate};
use crate::crypto::generate_password;
use crate::db::text_enum::text_enum;
use crate::db::timed;
use crate::error::{AppError, AppResult, ResultExt};
use crate::jobs::{self, Job, Permanent, Snooze};
use crate::mail;
use crate::provisioning::Provisioning;
use crate::provisioning::backends;
use crate::provisioning::proxmox::{PowerAction, PveErrorKind, Upid};

pub use crate::jobs::kinds::REINSTALL_SERVICE;

/// Reinstalls a customer may ask for one server in 24 hours.
pub const DAILY_LIMIT: i64 = 3;

text_enum! {
    /// The last step of a reinstall done.
    pub enum ReinstallStep {
        Pending = "pending",
        Stopped = "stopped",
        Destroyed = "destroyed",
        Cloning = "cloning",
        Cloned = "cloned",
        Configured = "configured",
        Resized = "resized",
        Starting = "starting",
        Done = "done",
        Failed = "failed",
    }
}

impl ReinstallStep {
    /// The step in words, for the service page.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "stopping the server",
            Self::Stopped => "removing the old system",
            Self::Destroyed | Self::Cloning => "copying the new system",
            Self::Cloned => "applying your settings",
            Self::Configured => "sizing the disk",
            Self::Resized | Self::Starting => "starting up",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// A row of `service_reinstalls`.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct Reinstall {
    pub id: i64,
    pub service_id: i32,
    /// The system it installs (`templates` of the plan); null when the plan offers no choice.
    #[serde(rename = "template_id")]
    pub os_template_id: Option<i32>,
    #[serde(rename = "template_name")]
    pub os_template_name: Option<String>,
    #[serde(skip)]
    pub ssh_keys: Option<String>,
    pub step: ReinstallStep,
    #[serde(skip)]
    pub task_upid: Option<String>,
    /// Why it failed (step `failed`).
    pub error: Option<String>,
    #[serde(skip)]
    pub requested_by: Option<i32>,
    /// RFC 3339, UTC.
    pub created_at: DateTime<Utc>,
    /// When it ended, done or failed (RFC 3339, UTC); null while it runs.
    pub finished_at: Option<DateTime<Utc>>,
}

macro_rules! reinstall_columns {
    () => {
        "id, service_id, os_template_id, os_template_name, ssh_keys, step, task_upid, error, \
         requested_by, created_at, finished_at"
    };
}

async fn find(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Reinstall>> {
    timed(
        "service_reinstalls.find",
        sqlx::query_as(concat!(
            "select ",
            reinstall_columns!(),
            " from service_reinstalls where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// The service's latest reinstall, running or not.
pub async fn latest(db: impl PgExecutor<'_>, service_id: i32) -> sqlx::Result<Option<Reinstall>> {
    timed(
        "service_reinstalls.latest",
        sqlx::query_as(concat!(
            "select ",
            reinstall_columns!(),
            " from service_reinstalls where service_id = $1 order by created_at desc, id desc
              limit 1"
        ))
        .bind(service_id)
        .fetch_optional(db),
    )
    .await
}

async fn set_step(
    db: impl PgExecutor<'_>,
    id: i64,
    step: ReinstallStep,
    task_upid: Option<&str>,
) -> sqlx::Result<()> {
    timed(
        "service_reinstalls.set_step",
        sqlx::query("update service_reinstalls set step = $2, task_upid = $3 where id = $1")
            .bind(id)
            .bind(step)
            .bind(task_upid)
            .execute(db),
    )
    .await?;
    Ok(())
}

/// Ends a reinstall `done` or `failed` (with why); false when it had ended already.
async fn finish(
    db: impl PgExecutor<'_>,
    id: i64,
    step: ReinstallStep,
    error: Option<&str>,
) -> sqlx::Result<bool> {
    let done = timed(
        "service_reinstalls.finish",
        sqlx::query(
            "update service_reinstalls set step = $2, error = $3, task_upid = null,
                                           finished_at = current_timestamp
             where id = $1 and finished_at is null",
        )
        .bind(id)
        .bind(step)
        .bind(error)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Refuses work on a server being reinstalled (409).
pub async fn ensure_idle(db: impl PgExecutor<'_>, service_id: i32) -> AppResult<()> {
    let running: bool = timed(
        "service_reinstalls.running",
        sqlx::query_scalar(
            "select exists (select 1 from service_reinstalls
                            where service_id = $1 and finished_at is null)",
        )
        .bind(service_id)
        .fetch_one(db),
    )
    .await?;
    if running {
        return Err(AppError::conflict(
            "service",
            "the server is being reinstalled; wait until it is done",
        ));
    }
    Ok(())
}

/// What a reinstall request asks.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReinstallRequest {
    /// One of the plan's `templates`; required when the plan offers a choice.
    #[serde(default)]
    pub template_id: Option<i32>,
    /// Ids of the owner's SSH keys the new system accepts (Linux only).
    #[serde(default)]
    pub ssh_key_ids: Vec<i32>,
    /// The server's short name (`srv12`) typed again: everything on it is erased.
    #[serde(default)]
    pub confirm: String,
}

/// The short name a reinstall's confirmation must repeat.
pub fn confirmation(service: &Service) -> String {
    format!("srv{}", service.id)
}

/// Who asks for a reinstall.
pub enum Requester<'a> {
    /// The owner, through the shop (rate-limited).
    Customer(i32),
    /// An operator (audited; no daily limit).
    Operator(&'a Actor<'a>, i32),
}

/// The system a reinstall installs: one the plan offers (required when it offers any).
fn choose(offered: &[OsTemplate], named: Option<i32>) -> AppResult<Option<&OsTemplate>> {
    match (named, offered.is_empty()) {
        (None, true) => Ok(None),
        (None, false) => Err(AppError::invalid(
            "template_id",
            format!("choose the system to install: {}", names_of(offered)),
        )),
        (Some(_), true) => Err(AppError::invalid(
            "template_id",
            "this server's plan offers no choice of system; leave template_id out",
        )),
        (Some(id), false) => offered
            .iter()
            .find(|t| t.id == id)
            .map(Some)
            .ok_or_else(|| {
                AppError::invalid(
                    "template_id",
                    format!(
                        "this server's plan does not offer that system; choose one of: {}",
                        names_of(offered)
                    ),
                )
            }),
    }
}

fn names_of(offered: &[OsTemplate]) -> String {
    offered
        .iter()
        .map(|t| format!("{} ({})", t.name, t.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The service, if the requester may see it (someone else's → 404).
async fn visible(db: &PgPool, service_id: i32, who: &Requester<'_>) -> AppResult<Service> {
    services::find(db, service_id)
        .await?
        .filter(|s| match who {
            Requester::Customer(user) => s.user_id == Some(*user),
            Requester::Operator(..) => true,
        })
        .ok_or(AppError::NotFound("service"))
}

/// Asks for a reinstall: checks the request, the confirmation and the daily limit, then writes
/// the reinstall, its `pending` log line and its job in one transaction. A server run by hand
/// gets a `reinstall_requested` line for the operator instead.
pub async fn request(
    db: &PgPool,
    service_id: i32,
    who: &Requester<'_>,
    req: &ReinstallRequest,
) -> AppResult<ServiceLog> {
    let service = visible(db, service_id, who).await?;
    if service.status != ServiceStatus::Active {
        return Err(AppError::conflict(
            "status",
            format!(
                "service {} is {}; only an active server can be reinstalled",
                service.id, service.status
            ),
        ));
    }
    let offered =
        os_templates::list_for_plan(db, service.plan_id.as_deref().unwrap_or_default()).await?;
    let system = choose(&offered, req.template_id)?;
    let mut key_ids = req.ssh_key_ids.clone();
    key_ids.sort_unstable();
    let keys = if key_ids.is_empty() {
        Vec::new()
    } else {
        if system.is_some_and(|t| t.family == OsFamily::Windows) {
            return Err(AppError::invalid(
                "ssh_key_ids",
                "SSH keys are for Linux systems; a Windows server signs in with its password",
            ));
        }
        let owner = service.user_id.ok_or(AppError::NotFound("service"))?;
        ssh_keys::find_many(db, owner, &key_ids, "ssh_key_ids").await?
    };
    if req.confirm.trim() != confirmation(&service) {
        return Err(AppError::invalid(
            "confirm",
            format!(
                "type {} to confirm: everything on the server is erased",
                confirmation(&service)
            ),
        ));
    }
    let requested_by = match who {
        Requester::Customer(user) => *user,
        Requester::Operator(_, user) => *user,
    };
    let system_name = system.map_or_else(|| "the plan's system".to_owned(), |t| t.name.clone());
    let mut tx = db.begin().await?;
    let service = services::find_for_update(&mut *tx, service.id)
        .await?
        .filter(|s| s.status == ServiceStatus::Active)
        .ok_or_else(|| AppError::conflict("status", "the server is no longer active"))?;
    if matches!(who, Requester::Customer(_)) {
        let since = Utc::now() - Duration::hours(24);
        let recent: i64 = timed(
            "service_reinstalls.count_since",
            sqlx::query_scalar(
                "select count(*) from service_reinstalls
                 where service_id = $1 and created_at > $2 and step <> 'failed'",
            )
            .bind(service.id)
            .bind(since)
            .fetch_one(&mut *tx),
        )
        .await?;
        if recent >= DAILY_LIMIT {
            return Err(AppError::TooManyRequests {
                retry_after_secs: 3600,
            });
        }
    }
    let automated = driver_for_tx(&mut tx, &service).await?.is_some();
    let log = if automated {
        let keys_text = keys
            .iter()
            .map(|k| k.public_key.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let reinstall: Reinstall = timed(
            "service_reinstalls.insert",
            sqlx::query_as(concat!(
                "insert into service_reinstalls
                     (service_id, os_template_id, os_template_name, ssh_keys, requested_by)
                 values ($1, $2, $3, $4, $5) returning ",
                reinstall_columns!()
            ))
            .bind(service.id)
            .bind(system.map(|t| t.id))
            .bind(system.map(|t| t.name.as_str()))
            .bind(Some(keys_text.as_str()).filter(|k| !k.is_empty()))
            .bind(requested_by)
            .fetch_one(&mut *tx),
        )
        .await
        .on_constraint("service_reinstalls_one_running_idx", |_| {
            AppError::conflict(
                "service",
                "the server is being reinstalled; wait until it is done",
            )
        })?;
        jobs::enqueue(
            &mut *tx,
            REINSTALL_SERVICE,
            &serde_json::json!({ "reinstall_id": reinstall.id }),
            Some(&format!("reinstall:{}", reinstall.id)),
            None,
        )
        .await?;
        logs::insert(
            &mut *tx,
            service.id,
            ServiceAction::Reinstall,
            "pending",
            Some(&format!("reinstall with {system_name} queued")),
            Some(requested_by),
        )
        .await?
    } else {
        logs::insert(
            &mut *tx,
            service.id,
            ServiceAction::ReinstallRequested,
            "pending",
            Some(&format!(
                "reinstall with {system_name} asked for; the server is run by hand, so the \
                 operator does it"
            )),
            Some(requested_by),
        )
        .await?
    };
    if let Requester::Operator(actor, _) = who {
        let id = service.id.to_string();
        audit::insert(
            &mut *tx,
            &crate::audit::NewAuditEntry {
                after: Some(serde_json::json!({
                    "template_id": system.map(|t| t.id),
                    "template_name": system.map(|t| t.name.as_str()),
                    "ssh_keys": keys.len(),
                })),
                ..actor.entry("service.reinstall", "service", Some(&id))
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(log)
}

/// The Proxmox backend of a service (in the request's transaction), if it has one.
async fn driver_for_tx(
    tx: &mut PgConnection,
    service: &Service,
) -> sqlx::Result<Option<backends::Backend>> {
    let Some(id) = service.backend_id else {
        return Ok(None);
    };
    Ok(backends::find(&mut *tx, id)
        .await?
        .filter(|b| b.driver == backends::BackendDriver::Proxmox && service.vmid.is_some()))
}

/// The payload of a [`REINSTALL_SERVICE`] job.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReinstallJob {
    pub reinstall_id: i64,
}

/// Runs a [`REINSTALL_SERVICE`] job; once it is done, or has failed for good, the reinstall
/// ends and its log line says how.
pub async fn run_job(ctx: &Provisioning, db: &PgPool, job: &Job) -> anyhow::Result<()> {
    let ReinstallJob { reinstall_id } = jobs::payload(job)?;
    let Some(reinstall) = find(db, reinstall_id).await? else {
        return Err(Permanent::error(format!(
            "reinstall {reinstall_id} does not exist"
        )));
    };
    if reinstall.finished_at.is_some() {
        return Ok(());
    }
    let result = carry_out(ctx, db, &reinstall).await;
    let last = job.attempts >= job.max_attempts;
    let failed = match &result {
        Err(err) if !jobs::is_snooze(err) && (jobs::is_permanent(err) || last) => {
            Some(format!("{err:#}"))
        }
        _ => None,
    };
    if let Some(reason) = failed {
        let mut tx = db.begin().await?;
        if finish(&mut *tx, reinstall.id, ReinstallStep::Failed, Some(&reason)).await? {
            close_log(
                &mut tx,
                &reinstall,
                "failed",
                &format!("reinstall failed: {reason}"),
            )
            .await?;
        }
        tx.commit().await?;
        tracing::error!(
            service.id = reinstall.service_id,
            "reinstall failed: {reason}"
        );
    }
    result
}

async fn close_log(
    tx: &mut PgConnection,
    reinstall: &Reinstall,
    status: &str,
    details: &str,
) -> sqlx::Result<()> {
    if !logs::close_oldest_pending_action(
        &mut *tx,
        reinstall.service_id,
        ServiceAction::Reinstall,
        status,
        details,
    )
    .await?
    {
        logs::insert(
            &mut *tx,
            reinstall.service_id,
            ServiceAction::Reinstall,
            status,
            Some(details),
            reinstall.requested_by,
        )
        .await?;
    }
    Ok(())
}

/// Runs the steps from where the reinstall stands to the end.
async fn carry_out(ctx: &Provisioning, db: &PgPool, reinstall: &Reinstall) -> anyhow::Result<()> {
    let Some(service) = services::find(db, reinstall.service_id).await? else {
        return Err(Permanent::error("the service disappeared"));
    };
    if service.status != ServiceStatus::Active {
        return Err(Permanent::error(format!(
            "the service is {} now; reinstall abandoned",
            service.status
        )));
    }
    let Driver::Proxmox(backend) = driver_for(db, &service).await? else {
        return Err(Permanent::error("the service has no Proxmox backend"));
    };
    let machine = Machine::new(ctx, db, *backend)?;
    let vmid = machine.vmid(&service)?;
    if reinstall.step == ReinstallStep::Pending {
        // The image must exist before the old system is deleted: a backend without a template
        // VM for the system fails the reinstall with the server untouched.
        machine.image(&service, reinstall.os_template_id).await?;
    }
    let mut reinstall = reinstall.clone();
    loop {
        match reinstall.step {
            ReinstallStep::Pending => {
                let running = machine
                    .client
                    .vm_status(&machine.node, vmid)
                    .await
                    .map_err(classify)?
                    .is_some_and(|s| s.is_running());
                if running {
                    let upid = machine
                        .client
                        .power(&machine.node, vmid, PowerAction::Stop)
                        .await
                        .map_err(classify)?;
                    machine.wait(&upid, "the stop").await?;
                }
                set_step(db, reinstall.id, ReinstallStep::Stopped, None).await?;
            }
            ReinstallStep::Stopped => {
                if let Some(config) = machine
                    .client
                    .vm_config(&machine.node, vmid)
                    .await
                    .map_err(classify)?
                {
                    if !is_ours(&config, service.id) {
                        return Err(Permanent::error(format!(
                            "VM {vmid} does not carry this service's marker; it is not deleted. \
                             Check the node"
                        )));
                    }
                    let upid = machine
                        .client
                        .delete_vm(&machine.node, vmid)
                        .await
                        .map_err(classify)?;
                    machine
                        .wait(&upid, "the deletion of the old system")
                        .await?;
                }
                set_step(db, reinstall.id, ReinstallStep::Destroyed, None).await?;
            }
            ReinstallStep::Destroyed => {
                let image = machine.image(&service, reinstall.os_template_id).await?;
                if let Some(next) = look_for_clone(&machine, &service, vmid).await? {
                    set_step(db, reinstall.id, next, None).await?;
                } else {
                    match machine.start_clone(&service, vmid, &image).await {
                        Ok(upid) => {
                            set_step(
                                db,
                                reinstall.id,
                                ReinstallStep::Cloning,
                                Some(upid.as_str()),
                            )
                            .await?;
                        }
                        // Made meanwhile (a lost answer): the next run looks at it.
                        Err(err) if err.kind == PveErrorKind::AlreadyExists => {
                            return Err(anyhow::Error::new(err));
                        }
                        Err(err) => return Err(classify(err)),
                    }
                }
            }
            ReinstallStep::Cloning => {
                let Some(upid) = reinstall.task_upid.as_deref() else {
                    set_step(db, reinstall.id, ReinstallStep::Destroyed, None).await?;
                    return Err(Snooze::error(
                        std::time::Duration::from_secs(1),
                        "no clone task recorded; looking again",
                    ));
                };
                let upid: Upid =
                    upid.parse()
                        .map_err(|e: crate::provisioning::proxmox::PveError| {
                            Permanent::error(e.to_string())
                        })?;
                if let Err(err) = machine.wait(&upid, "the clone").await {
                    if !jobs::is_snooze(&err) && jobs::is_permanent(&err) {
                        set_step(db, reinstall.id, ReinstallStep::Destroyed, None).await?;
                    }
                    return Err(err);
                }
                set_step(db, reinstall.id, ReinstallStep::Cloned, None).await?;
            }
            ReinstallStep::Cloned => {
                let image = machine.image(&service, reinstall.os_template_id).await?;
                let password = generate_password();
                let sealed = ctx
                    .keyring
                    .seal(&password, &Provisioning::service_context(service.id));
                let mut tx = db.begin().await?;
                services::set_password(&mut *tx, service.id, &image.username, &sealed).await?;
                services::set_system(
                    &mut *tx,
                    service.id,
                    reinstall.os_template_id,
                    reinstall.os_template_name.as_deref(),
                    reinstall.ssh_keys.as_deref(),
                )
                .await?;
                tx.commit().await?;
                let service = services::find(db, service.id)
                    .await?
                    .ok_or_else(|| Permanent::error("the service disappeared"))?;
                machine
                    .apply_config(
                        &service,
                        &image,
                        &machine.password(&service)?,
                        reinstall.ssh_keys.as_deref(),
                    )
                    .await?;
                set_step(db, reinstall.id, ReinstallStep::Configured, None).await?;
            }
            ReinstallStep::Configured => {
                machine.grow_disk(&service).await?;
                set_step(db, reinstall.id, ReinstallStep::Resized, None).await?;
            }
            ReinstallStep::Resized => {
                if let Some(upid) = machine.power_on(&service).await? {
                    set_step(
                        db,
                        reinstall.id,
                        ReinstallStep::Starting,
                        Some(upid.as_str()),
                    )
                    .await?;
                    machine.wait_started(&upid).await?;
                }
                set_step(db, reinstall.id, ReinstallStep::Done, None).await?;
            }
            ReinstallStep::Starting => {
                if let Some(upid) = reinstall.task_upid.as_deref().and_then(|u| u.parse().ok()) {
                    machine.wait_started(&upid).await?;
                }
                if let Some(upid) = machine.power_on(&service).await? {
                    machine.wait_started(&upid).await?;
                }
                set_step(db, reinstall.id, ReinstallStep::Done, None).await?;
            }
            ReinstallStep::Done => return done(ctx, db, &reinstall, vmid).await,
            ReinstallStep::Failed => return Ok(()),
        }
        reinstall = find(db, reinstall.id)
            .await?
            .ok_or_else(|| Permanent::error("the reinstall disappeared"))?;
    }
}

/// At step `destroyed`, a VM at our id with our marker is the new clone (asked for, its answer
/// lost): wait while it is being made, then carry on from `cloned`. Anyone else's VM there
/// stops the reinstall.
async fn look_for_clone(
    machine: &Machine<'_>,
    service: &Service,
    vmid: u32,
) -> anyhow::Result<Option<ReinstallStep>> {
    let Some(config) = machine
        .client
        .vm_config(&machine.node, vmid)
        .await
        .map_err(classify)?
    else {
        return Ok(None);
    };
    if !is_ours(&config, service.id) {
        return Err(Permanent::error(format!(
            "VM id {vmid} was taken by a VM that is not ours while the server was reinstalled; \
             check the node"
        )));
    }
    if config.get("lock").and_then(|l| l.as_str()) == Some("clone") {
        return Err(Snooze::error(
            std::time::Duration::from_secs(10),
            "the clone of the new system is still running",
        ));
    }
    Ok(Some(ReinstallStep::Cloned))
}

/// Step `done`: the reinstall ends, its log line says so and the customer is told.
async fn done(
    ctx: &Provisioning,
    db: &PgPool,
    reinstall: &Reinstall,
    vmid: u32,
) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    if !finish(&mut *tx, reinstall.id, ReinstallStep::Done, None).await? {
        return Ok(());
    }
    let system = reinstall
        .os_template_name
        .clone()
        .unwrap_or_else(|| "the plan's system".to_owned());
    close_log(
        &mut tx,
        reinstall,
        "success",
        &format!("reinstalled with {system} on VM {vmid}; a new password was set"),
    )
    .await?;
    if let Some(service) = services::find(&mut *tx, reinstall.service_id).await?
        && let Some(user_id) = service.user_id
        && let Some(user) = users::find(&mut *tx, user_id).await?
    {
        let link = format!("{}/account/services/{}", ctx.public_url, service.id);
        let email = mail::notice_email(
            &user.email,
            &user.name,
            &format!("Your server #{} was reinstalled", service.id),
            &[
                format!(
                    "Your server #{} now runs a fresh {system}. Its address is the same; its \
                     password is new.",
                    service.id
                ),
                "Sign in to reveal the new login details. For your safety we never send \
                 passwords by e-mail."
                    .to_owned(),
            ],
            Some(("See your server", &link)),
        );
        mail::enqueue(&mut *tx, &email).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The systems a service's owner may reinstall with (its plan's), for the page's form.
pub async fn choices(db: &PgPool, service: &Service) -> sqlx::Result<Vec<OsTemplate>> {
    os_templates::list_for_plan(db, service.plan_id.as_deref().unwrap_or_default()).await
}
