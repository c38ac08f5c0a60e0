//! From paid order to running server, and the driver calls of a service's life.
//!
//! [`create_services_for_order`] runs inside the payment's settle transaction: one service per
//! unit bought (status `provisioning`), each with its `provision_service` job, so a paid order
//! can never exist without its services and their jobs.
//!
//! The job ([`run_provision`]) picks the driver from the service's location:
//! - no active automated backend → `manual`: the service waits in the operator's queue until
//!   `POST /api/v1/admin/services/{id}/provision` (see [`crate::services::lifecycle`]);
//! - `proxmox` → a persisted step machine, each step recorded in `services.provisioning_step`
//!   (and the task it waits on in `task_upid`) before the next begins, each looking before it
//!   acts: `pending` → allocate VM id + IP + password → `allocated` → clone (a VM already at
//!   that id carrying our marker is ours: carry on; one without it: burn the id, allocate
//!   another) → `cloning` (wait on the UPID until stopped with `exitstatus == "OK"`) → `cloned`
//!   → config (cores, memory, cloud-init user/password, ipconfig0, nameserver) → `configured` →
//!   resize (skipped when the disk is already that big) → `resized` → start (skipped when
//!   running) → `done`: the service is active and the customer e-mailed.
//!
//! Errors are classified by the client: locked and transient ones retry with backoff; a task
//! still running snoozes the job without using an attempt; anything else — or retries spent —
//! marks the service `failed` with the reason, for the operator to see and retry. Never a
//! silent stall.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context;
use chrono::{Months, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::logs;
use super::services::{self, NewService, Service};
use super::{ProvisioningStep, ServiceAction, ServiceStatus};
use crate::accounts::users;
use crate::catalog::os_templates;
use crate::crypto::generate_password;
use crate::db::text_enum::TransitionError;
use crate::db::timed;
use crate::jobs::{self, Job};
use crate::jobs::{Permanent, Snooze};
use crate::mail;
use crate::orders::orders::Order;
use crate::provisioning::Provisioning;
use crate::provisioning::backends::{self, Backend, Template};
use crate::provisioning::proxmox::{
    CloneRequest, PowerAction, ProxmoxClient, PveError, PveErrorKind, TaskOutcome, Upid,
    encode_sshkeys, ipconfig,
};

pub use crate::jobs::kinds::{PROVISION_SERVICE, SERVICE_ACTION};

/// How long one run of a job waits on a Proxmox task before snoozing.
const TASK_WAIT: Duration = Duration::from_secs(60);
const TASK_POLL: Duration = Duration::from_millis(500);
/// When a snoozed job looks again.
const SNOOZE: Duration = Duration::from_secs(10);

/// The payload of a [`PROVISION_SERVICE`] job.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProvisionJob {
    pub service_id: i32,
}

/// What a driver can be asked to do to a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverAction {
    Start,
    Stop,
    Reboot,
    ResetPassword,
    Suspend,
    Resume,
    Terminate,
}

impl DriverAction {
    /// The log's name for what the driver did (`reset_password` is logged as `password_reset`,
    /// the founding document's word).
    pub fn log_action(self) -> ServiceAction {
        match self {
            Self::Start => ServiceAction::Start,
            Self::Stop => ServiceAction::Stop,
            Self::Reboot => ServiceAction::Reboot,
            Self::ResetPassword => ServiceAction::PasswordReset,
            Self::Suspend => ServiceAction::Suspend,
            Self::Resume => ServiceAction::Resume,
            Self::Terminate => ServiceAction::Terminate,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Reboot => "reboot",
            Self::ResetPassword => "reset_password",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Terminate => "terminate",
        }
    }
}

/// The payload of a [`SERVICE_ACTION`] job.
#[derive(Debug, Serialize, Deserialize)]
pub struct ActionJob {
    pub service_id: i32,
    pub action: DriverAction,
    /// The operator or customer who asked (`None`: the system, e.g. an overdue suspension).
    pub requested_by: Option<i32>,
}

/// Creates the services a just-paid order bought — one per unit of each new-purchase item —
/// each with its provisioning job, and moves the order to `processing`. Runs inside the settle
/// transaction; returns the new services' ids.
pub async fn create_services_for_order(
    tx: &mut sqlx::PgConnection,
    order: &Order,
) -> crate::error::AppResult<Vec<i32>> {
    let Some(user_id) = order.user_id else {
        return Ok(Vec::new());
    };
    let items: Vec<ItemToBuild> = timed(
        "provision.order_items_to_build",
        sqlx::query_as(
            "select i.id, i.plan_id, i.location_id, i.quantity, i.validity_months,
                    case when c.slug like '%vps%' then 'vps' else 'rdp' end as service_type,
                    i.os_template_id, i.os_template_name, i.ssh_keys
             from order_items i
             left join plans p on p.id = i.plan_id
             left join product_categories c on c.id = p.category_id
             where i.order_id = $1 and i.service_id is null
               and not exists (select 1 from services s where s.order_item_id = i.id)
             order by i.id",
        )
        .bind(order.id)
        .fetch_all(&mut *tx),
    )
    .await?;
    let mut created = Vec::new();
    for item in items {
        for _ in 0..item.quantity {
            let service = services::insert(
                &mut *tx,
                &NewService {
                    order_item_id: Some(item.id),
                    user_id,
                    service_type: &item.service_type,
                    plan_id: item.plan_id.as_deref(),
                    location_id: item.location_id,
                    validity_months: Some(item.validity_months),
                },
            )
            .await?;
            if item.os_template_name.is_some() || item.ssh_keys.is_some() {
                services::set_system(
                    &mut *tx,
                    service.id,
                    item.os_template_id,
                    item.os_template_name.as_deref(),
                    item.ssh_keys.as_deref(),
                )
                .await?;
            }
            logs::insert(
                &mut *tx,
                service.id,
                ServiceAction::Create,
                "success",
                Some(&format!("bought by order {}", order.id)),
                None,
            )
            .await?;
            enqueue_provision(&mut *tx, service.id, None).await?;
            created.push(service.id);
        }
    }
    if !created.is_empty() {
        crate::orders::transition(
            &mut *tx,
            order.id,
            crate::orders::OrderStatus::Paid,
            crate::orders::OrderStatus::Processing,
        )
        .await?;
    }
    Ok(created)
}

/// An item of a paid order whose services are still to be created.
#[derive(sqlx::FromRow)]
struct ItemToBuild {
    id: i32,
    plan_id: Option<String>,
    location_id: Option<i32>,
    quantity: i32,
    validity_months: i32,
    service_type: String,
    os_template_id: Option<i32>,
    os_template_name: Option<String>,
    ssh_keys: Option<String>,
}

/// Queues the provisioning of a service. The first job of a service is deduplicated by its id;
/// an operator's retry (`retry` = the retry's number) is a new job.
pub async fn enqueue_provision(
    db: impl sqlx::PgExecutor<'_>,
    service_id: i32,
    retry: Option<i64>,
) -> sqlx::Result<Option<i64>> {
    let key = match retry {
        None => format!("provision:service:{service_id}"),
        Some(n) => format!("provision:service:{service_id}:retry:{n}"),
    };
    jobs::enqueue(
        db,
        PROVISION_SERVICE,
        &serde_json::json!({ "service_id": service_id }),
        Some(&key),
        None,
    )
    .await
}

/// Queues a driver action on a service.
pub async fn enqueue_action(
    db: impl sqlx::PgExecutor<'_>,
    job: &ActionJob,
) -> sqlx::Result<Option<i64>> {
    let payload = serde_json::to_value(job).map_err(|err| sqlx::Error::Encode(err.into()))?;
    jobs::enqueue(db, SERVICE_ACTION, &payload, None, None).await
}

/// The driver a service is built by.
pub enum Driver {
    Manual,
    Proxmox(Box<Backend>),
}

/// The driver of a service: the backend it was built on, else its location's active backend.
pub async fn driver_for(db: &PgPool, service: &Service) -> sqlx::Result<Driver> {
    let backend = match service.backend_id {
        Some(id) => backends::find(db, id).await?,
        None => match service.location_id {
            Some(location) if service.provisioning_step == ProvisioningStep::Pending => {
                backends::find_active_for_location(db, location).await?
            }
            _ => None,
        },
    };
    Ok(match backend {
        Some(backend) if backend.driver == backends::BackendDriver::Proxmox => {
            Driver::Proxmox(Box::new(backend))
        }
        _ => Driver::Manual,
    })
}

/// Runs a [`PROVISION_SERVICE`] job. On an error that retrying cannot fix, or once the job's
/// attempts are spent, the service is marked `failed` with the reason.
pub async fn run_provision(ctx: &Provisioning, db: &PgPool, job: &Job) -> anyhow::Result<()> {
    let ProvisionJob { service_id } = crate::jobs::payload(job)?;
    let result = provision(ctx, db, service_id).await;
    if let Err(err) = &result
        && !crate::jobs::is_snooze(err)
        && (crate::jobs::is_permanent(err) || job.attempts >= job.max_attempts)
    {
        let reason = format!("{err:#}");
        mark_failed(db, service_id, &reason).await?;
    }
    result
}

async fn provision(ctx: &Provisioning, db: &PgPool, service_id: i32) -> anyhow::Result<()> {
    let Some(service) = services::find(db, service_id).await? else {
        return Err(Permanent::error(format!(
            "service {service_id} does not exist"
        )));
    };
    if service.status != ServiceStatus::Provisioning {
        tracing::info!(
            service.id = service_id,
            "service {service_id} is {}; nothing to provision",
            service.status
        );
        return Ok(());
    }
    match driver_for(db, &service).await? {
        Driver::Manual => {
            // The operator's queue lists provisioning services without a backend.
            logs::insert(
                db,
                service_id,
                ServiceAction::Provision,
                "pending",
                Some("waiting for an operator to set up the server (manual driver)"),
                None,
            )
            .await?;
            Ok(())
        }
        Driver::Proxmox(backend) => {
            let machine = Machine::new(ctx, db, *backend)?;
            machine.run(service).await
        }
    }
}

/// Marks a service that could not be provisioned `failed`, with the reason.
async fn mark_failed(db: &PgPool, service_id: i32, reason: &str) -> Result<(), TransitionError> {
    let reason: String = reason.chars().take(2000).collect();
    let mut tx = db.begin().await?;
    if crate::services::transition(
        &mut *tx,
        service_id,
        ServiceStatus::Provisioning,
        ServiceStatus::Failed,
        Some(&reason),
    )
    .await?
    {
        logs::insert(
            &mut *tx,
            service_id,
            ServiceAction::Provision,
            "failed",
            Some(&reason),
            None,
        )
        .await?;
        tracing::error!(service.id = service_id, "provisioning failed: {reason}");
        // Only the Proxmox driver runs unattended: the manual one just queues for an operator.
        metrics::counter!("provisioning_total", "driver" => "proxmox", "outcome" => "failed")
            .increment(1);
    }
    tx.commit().await?;
    Ok(())
}

/// Makes a provisioned service active: starts its first period, e-mails the customer, and makes
/// its order active once all of the order's services are. Returns false (nothing changed) when
/// the service was no longer provisioning.
pub async fn activate(
    tx: &mut sqlx::PgConnection,
    ctx: &Provisioning,
    service: &Service,
    performed_by: Option<i32>,
    details: &str,
) -> Result<bool, TransitionError> {
    if !crate::services::transition(
        &mut *tx,
        service.id,
        ServiceStatus::Provisioning,
        ServiceStatus::Active,
        None,
    )
    .await?
    {
        return Ok(false);
    }
    // An operator's hand (`performed_by`) is the manual driver; the unattended one is Proxmox.
    let driver = if performed_by.is_some() {
        "manual"
    } else {
        "proxmox"
    };
    metrics::counter!("provisioning_total", "driver" => driver, "outcome" => "active").increment(1);
    let now = Utc::now();
    let months = service.validity_months.unwrap_or(1).max(1) as u32;
    let next = now.checked_add_months(Months::new(months)).unwrap_or(now);
    services::set_renewal_dates(&mut *tx, service.id, now, next).await?;
    if let Some(item_id) = service.order_item_id {
        // The order item's period, as the founding document keeps it: the first period.
        crate::orders::items::cover_period(&mut *tx, item_id, now, next).await?;
    }
    services::set_step(&mut *tx, service.id, ProvisioningStep::Done, None).await?;
    logs::insert(
        &mut *tx,
        service.id,
        ServiceAction::Provision,
        "success",
        Some(details),
        performed_by,
    )
    .await?;
    if let Some(item_id) = service.order_item_id {
        crate::orders::activate_if_provisioned(&mut *tx, item_id).await?;
    }
    if let Some(user_id) = service.user_id
        && let Some(user) = users::find(&mut *tx, user_id).await?
    {
        let link = format!("{}/account/services/{}", ctx.public_url, service.id);
        let email = mail::notice_email(
            &user.email,
            &user.name,
            &format!("Your server #{} is ready", service.id),
            &[
                format!(
                    "Your {} server #{} is ready to use.",
                    service.service_type.to_uppercase(),
                    service.id
                ),
                "Sign in to see its address and reveal its login details. For your safety we \
                 never send passwords by e-mail."
                    .to_owned(),
            ],
            Some(("See your server", &link)),
        );
        mail::enqueue(&mut *tx, &email).await?;
        crate::accounts::whatsapp::notify_in(
            &mut *tx,
            user.id,
            crate::mail::whatsapp::SERVER_READY,
            &[
                format!("#{}", service.id),
                service.plan_id.clone().unwrap_or_default(),
            ],
        )
        .await?;
    }
    Ok(true)
}

/// Turns a client error into a job error: retryable ones retry, the rest are permanent.
pub(crate) fn classify(err: PveError) -> anyhow::Error {
    if err.is_retryable() {
        anyhow::Error::new(err)
    } else {
        Permanent::error(err.to_string())
    }
}

/// The marker our VMs carry in their description, naming the service they belong to.
fn marker(service_id: i32) -> String {
    format!("nextgenrdp service {service_id}")
}

pub(crate) fn is_ours(
    config: &serde_json::Map<String, serde_json::Value>,
    service_id: i32,
) -> bool {
    config
        .get("description")
        .and_then(|d| d.as_str())
        .is_some_and(|d| d.lines().any(|line| line.trim() == marker(service_id)))
}

/// What a clone is made from.
pub(crate) struct Image {
    /// The Proxmox template VM cloned.
    pub(crate) template_vmid: i32,
    /// The user cloud-init creates.
    pub(crate) username: String,
}

/// The Proxmox step machine for one service on one backend.
pub(crate) struct Machine<'a> {
    ctx: &'a Provisioning,
    db: &'a PgPool,
    backend: Backend,
    pub(crate) client: ProxmoxClient,
    pub(crate) node: String,
}

impl<'a> Machine<'a> {
    pub(crate) fn new(
        ctx: &'a Provisioning,
        db: &'a PgPool,
        backend: Backend,
    ) -> anyhow::Result<Self> {
        let client = ctx.client(&backend)?;
        let node = backend.node.clone().unwrap_or_default();
        Ok(Self {
            ctx,
            db,
            backend,
            client,
            node,
        })
    }

    async fn run(&self, mut service: Service) -> anyhow::Result<()> {
        loop {
            match service.provisioning_step {
                ProvisioningStep::Pending => self.allocate(&service).await?,
                ProvisioningStep::Allocated => self.clone_vm(&service).await?,
                ProvisioningStep::Cloning => self.wait_clone(&service).await?,
                ProvisioningStep::Cloned => self.configure(&service).await?,
                ProvisioningStep::Configured => self.resize(&service).await?,
                ProvisioningStep::Resized | ProvisioningStep::Starting => {
                    self.start(&service).await?
                }
                ProvisioningStep::Done => return self.finish(&service).await,
            }
            service = services::find(self.db, service.id)
                .await?
                .context("the service disappeared")?;
            if service.status != ServiceStatus::Provisioning {
                return Ok(());
            }
        }
    }

    pub(crate) fn vmid(&self, service: &Service) -> anyhow::Result<u32> {
        service
            .vmid
            .and_then(|v| u32::try_from(v).ok())
            .context("the service has no VM id")
    }

    async fn template(&self, service: &Service) -> anyhow::Result<Template> {
        let plan = service.plan_id.as_deref().unwrap_or_default();
        backends::find_template(self.db, self.backend.id, plan)
            .await?
            .ok_or_else(|| {
                Permanent::error(format!(
                    "backend {} has no template for plan {plan}: add one on its page, then retry",
                    self.backend.name
                ))
            })
    }

    /// What a clone is made from: the system's template VM on this backend and its user when a
    /// system is chosen, else the plan's.
    pub(crate) async fn image(
        &self,
        service: &Service,
        system: Option<i32>,
    ) -> anyhow::Result<Image> {
        let template = self.template(service).await?;
        let Some(system) = system else {
            return Ok(Image {
                template_vmid: template.template_vmid,
                username: template.username,
            });
        };
        let Some(os) = os_templates::find(self.db, system).await? else {
            return Err(Permanent::error(format!(
                "the operating system {system} was deleted; choose another"
            )));
        };
        let template_vmid = backends::find_os_image(self.db, self.backend.id, system)
            .await?
            .ok_or_else(|| {
                Permanent::error(format!(
                    "backend {} has no template VM for {}: add one on the operating systems \
                     page, then retry",
                    self.backend.name, os.name
                ))
            })?;
        Ok(Image {
            template_vmid,
            username: os.username,
        })
    }

    /// Step `pending`: a VM id and an address from our database, and a sealed password.
    async fn allocate(&self, service: &Service) -> anyhow::Result<()> {
        let image = self.image(service, service.os_template_id).await?;
        let mut tx = self.db.begin().await?;
        let Some(vmid) = backends::allocate_vmid(&mut tx, self.backend.id, service.id).await?
        else {
            return Err(Permanent::error(format!(
                "backend {} has no VM id left in its range",
                self.backend.name
            )));
        };
        let Some(address) = backends::allocate_ip(
            &mut *tx,
            self.backend.id,
            service.id,
            self.ctx.lifecycle.ip_hold_days,
        )
        .await?
        else {
            return Err(Permanent::error(format!(
                "the IP pool of backend {} has no free address",
                self.backend.name
            )));
        };
        let password = generate_password();
        let sealed = self
            .ctx
            .keyring
            .seal(&password, &Provisioning::service_context(service.id));
        services::set_placement(&mut *tx, service.id, Some(self.backend.id), Some(vmid)).await?;
        services::set_credentials(
            &mut *tx,
            service.id,
            &format!("srv{}.{}", service.id, hostname_suffix(&self.backend)),
            &address,
            &image.username,
            &sealed,
        )
        .await?;
        services::set_step(&mut *tx, service.id, ProvisioningStep::Allocated, None).await?;
        tx.commit().await?;
        tracing::info!(service.id = service.id, vmid, %address, "allocated");
        Ok(())
    }

    /// Step `allocated`: clone the template, unless the VM already exists.
    async fn clone_vm(&self, service: &Service) -> anyhow::Result<()> {
        let vmid = self.vmid(service)?;
        if let Some(config) = self
            .client
            .vm_config(&self.node, vmid)
            .await
            .map_err(classify)?
        {
            return self.found_existing(service, vmid, &config).await;
        }
        let image = self.image(service, service.os_template_id).await?;
        match self.start_clone(service, vmid, &image).await {
            Ok(upid) => {
                services::set_step(
                    self.db,
                    service.id,
                    ProvisioningStep::Cloning,
                    Some(upid.as_str()),
                )
                .await?;
                Ok(())
            }
            Err(err) if err.kind == PveErrorKind::AlreadyExists => {
                // Created meanwhile (a lost answer, another node): look at whose it is.
                match self
                    .client
                    .vm_config(&self.node, vmid)
                    .await
                    .map_err(classify)?
                {
                    Some(config) => self.found_existing(service, vmid, &config).await,
                    None => Err(anyhow::Error::new(err)),
                }
            }
            Err(err) => Err(classify(err)),
        }
    }

    /// Asks for a full clone of the image at `vmid`, carrying the service's marker.
    pub(crate) async fn start_clone(
        &self,
        service: &Service,
        vmid: u32,
        image: &Image,
    ) -> Result<Upid, PveError> {
        let name = format!("ngr-{}", service.id);
        let description = marker(service.id);
        let request = CloneRequest {
            newid: vmid,
            name: &name,
            description: Some(&description),
            storage: self.backend.storage.as_deref(),
            full: true,
        };
        self.client
            .clone_vm(&self.node, image.template_vmid as u32, &request)
            .await
    }

    /// A VM already has the service's id: ours carries on (waiting while it is still being
    /// cloned); anyone else's burns the id and a new one is allocated.
    async fn found_existing(
        &self,
        service: &Service,
        vmid: u32,
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> anyhow::Result<()> {
        if is_ours(config, service.id) {
            if config.get("lock").and_then(|l| l.as_str()) == Some("clone") {
                return Err(Snooze::error(
                    SNOOZE,
                    "the clone of our VM is still running",
                ));
            }
            tracing::info!(
                service.id = service.id,
                vmid,
                "VM {vmid} exists and is ours"
            );
            services::set_step(self.db, service.id, ProvisioningStep::Cloned, None).await?;
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        backends::burn_vmid(
            &mut *tx,
            self.backend.id,
            vmid as i32,
            "a VM that is not ours has this id",
        )
        .await?;
        services::set_placement(&mut *tx, service.id, Some(self.backend.id), None).await?;
        let Some(next) = backends::allocate_vmid(&mut tx, self.backend.id, service.id).await?
        else {
            return Err(Permanent::error(format!(
                "backend {} has no VM id left in its range",
                self.backend.name
            )));
        };
        services::set_placement(&mut *tx, service.id, Some(self.backend.id), Some(next)).await?;
        logs::insert(
            &mut *tx,
            service.id,
            ServiceAction::Provision,
            "pending",
            Some(&format!(
                "VM id {vmid} is taken by a VM that is not ours; using {next} instead"
            )),
            None,
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(
            service.id = service.id,
            vmid,
            next,
            "VM id taken by another VM"
        );
        Ok(())
    }

    /// Waits on a task; `Ok(())` when it ended OK. A failed task is classified by its exit
    /// status (a lock retries; anything else fails the service with the task's last log lines).
    pub(crate) async fn wait(&self, upid: &Upid, what: &str) -> anyhow::Result<()> {
        match self
            .client
            .wait_task(upid, TASK_WAIT, TASK_POLL)
            .await
            .map_err(classify)?
        {
            TaskOutcome::Ok => Ok(()),
            TaskOutcome::StillRunning => {
                Err(Snooze::error(SNOOZE, format!("{what} still running")))
            }
            TaskOutcome::Failed(status) => {
                let err = PveError::from_task_failure(&status);
                if err.is_retryable() {
                    return Err(anyhow::Error::new(err).context(format!("{what} failed")));
                }
                let tail = self
                    .client
                    .task_log_tail(upid, 5)
                    .await
                    .unwrap_or_default()
                    .join(" | ");
                Err(Permanent::error(format!(
                    "{what} failed: {status} [{tail}]"
                )))
            }
        }
    }

    /// Step `cloning`: wait for the clone task.
    async fn wait_clone(&self, service: &Service) -> anyhow::Result<()> {
        let Some(upid) = service.task_upid.as_deref() else {
            // No task recorded: look again from the clone step.
            services::set_step(self.db, service.id, ProvisioningStep::Allocated, None).await?;
            return Ok(());
        };
        let upid: Upid = upid
            .parse()
            .map_err(|e: PveError| Permanent::error(e.to_string()))?;
        if let Err(err) = self.wait(&upid, "the clone").await {
            if !crate::jobs::is_snooze(&err) && crate::jobs::is_permanent(&err) {
                // The failed clone left no VM (PVE removes it); start again from a fresh clone
                // when the operator retries.
                services::set_step(self.db, service.id, ProvisioningStep::Allocated, None).await?;
            }
            return Err(err);
        }
        services::set_step(self.db, service.id, ProvisioningStep::Cloned, None).await?;
        Ok(())
    }

    /// Step `cloned`: size and cloud-init.
    async fn configure(&self, service: &Service) -> anyhow::Result<()> {
        let image = self.image(service, service.os_template_id).await?;
        let password = self.password(service)?;
        self.apply_config(service, &image, &password, service.ssh_keys.as_deref())
            .await?;
        services::set_step(self.db, service.id, ProvisioningStep::Configured, None).await?;
        Ok(())
    }

    /// Sets the clone's size and cloud-init: cores, memory, user, password, SSH keys, address,
    /// name servers. Setting the same again changes nothing.
    pub(crate) async fn apply_config(
        &self,
        service: &Service,
        image: &Image,
        password: &SecretString,
        ssh_keys: Option<&str>,
    ) -> anyhow::Result<()> {
        let vmid = self.vmid(service)?;
        let template = self.template(service).await?;
        let address: IpAddr = service
            .ip_address
            .as_deref()
            .unwrap_or_default()
            .parse()
            .context("the service's address is not an IP address")?;
        let gateway: IpAddr = self
            .backend
            .ip_gateway
            .as_deref()
            .unwrap_or_default()
            .parse()
            .map_err(|_| Permanent::error("the backend's gateway is not an IP address"))?;
        let prefix = self.backend.ip_prefix.unwrap_or(24) as u8;
        let mut params = vec![
            ("cores", template.cores.to_string()),
            ("memory", template.memory_mb.to_string()),
            ("ciuser", image.username.clone()),
            ("cipassword", password.expose_secret().to_owned()),
            ("ipconfig0", ipconfig(address, prefix, gateway)),
        ];
        if let Some(keys) = ssh_keys.map(str::trim).filter(|k| !k.is_empty()) {
            params.push(("sshkeys", encode_sshkeys(keys)));
        }
        if let Some(ns) = self
            .backend
            .nameservers
            .as_deref()
            .filter(|n| !n.is_empty())
        {
            params.push(("nameserver", ns.to_owned()));
        }
        if let Some(upid) = self
            .client
            .update_config(&self.node, vmid, &params)
            .await
            .map_err(classify)?
        {
            self.wait(&upid, "the configuration").await?;
        }
        Ok(())
    }

    /// Step `configured`: grow the disk to the plan's size, unless it already is.
    async fn resize(&self, service: &Service) -> anyhow::Result<()> {
        self.grow_disk(service).await?;
        services::set_step(self.db, service.id, ProvisioningStep::Resized, None).await?;
        Ok(())
    }

    /// Grows the disk to the plan's size, unless it already is.
    pub(crate) async fn grow_disk(&self, service: &Service) -> anyhow::Result<()> {
        let vmid = self.vmid(service)?;
        let template = self.template(service).await?;
        let config = self
            .client
            .vm_config(&self.node, vmid)
            .await
            .map_err(classify)?
            .ok_or_else(|| Permanent::error(format!("VM {vmid} is gone")))?;
        let current = config
            .get("scsi0")
            .and_then(|d| d.as_str())
            .and_then(disk_size_gb);
        if current.is_some_and(|gb| gb >= f64::from(template.disk_gb)) {
            tracing::info!(
                service.id = service.id,
                "disk already {} GB or more",
                template.disk_gb
            );
        } else if let Some(upid) = self
            .client
            .resize_disk(&self.node, vmid, "scsi0", &format!("{}G", template.disk_gb))
            .await
            .map_err(classify)?
        {
            self.wait(&upid, "the disk resize").await?;
        }
        Ok(())
    }

    /// Step `resized`: start the VM, unless it runs.
    async fn start(&self, service: &Service) -> anyhow::Result<()> {
        if let Some(upid) = self.power_on(service).await? {
            services::set_step(
                self.db,
                service.id,
                ProvisioningStep::Starting,
                Some(upid.as_str()),
            )
            .await?;
            self.wait_started(&upid).await?;
        }
        services::set_step(self.db, service.id, ProvisioningStep::Done, None).await?;
        Ok(())
    }

    /// Starts the VM unless it runs; the start task to wait on, if one was begun.
    pub(crate) async fn power_on(&self, service: &Service) -> anyhow::Result<Option<Upid>> {
        let vmid = self.vmid(service)?;
        let running = self
            .client
            .vm_status(&self.node, vmid)
            .await
            .map_err(classify)?
            .is_some_and(|s| s.is_running());
        if running {
            return Ok(None);
        }
        let upid = self
            .client
            .power(&self.node, vmid, PowerAction::Start)
            .await
            .map_err(classify)?;
        Ok(Some(upid))
    }

    /// Waits for a start task; "already running" (started meanwhile) is what we wanted.
    pub(crate) async fn wait_started(&self, upid: &Upid) -> anyhow::Result<()> {
        match self.wait(upid, "the start").await {
            Err(err) if err.to_string().contains("already running") => Ok(()),
            other => other,
        }
    }

    /// Step `done`: the service is active.
    async fn finish(&self, service: &Service) -> anyhow::Result<()> {
        let mut tx = self.db.begin().await?;
        let Some(service) = services::find_for_update(&mut *tx, service.id).await? else {
            return Ok(());
        };
        let details = format!(
            "VM {} on {} ({}), address {}",
            service.vmid.unwrap_or_default(),
            self.node,
            self.backend.name,
            service.ip_address.as_deref().unwrap_or("-")
        );
        activate(&mut tx, self.ctx, &service, None, &details).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) fn password(&self, service: &Service) -> anyhow::Result<SecretString> {
        let sealed = service
            .password_encrypted
            .as_deref()
            .context("the service has no password")?;
        self.ctx
            .keyring
            .open(sealed, &Provisioning::service_context(service.id))
            .map_err(|err| Permanent::error(format!("{err:#}")))
    }
}

/// The domain part of generated hostnames: the backend's node name.
fn hostname_suffix(backend: &Backend) -> String {
    let node: String = backend
        .node
        .as_deref()
        .unwrap_or("node")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!("{node}.nextgenrdp")
}

/// The size of a drive from its config value (`local-lvm:vm-101-disk-0,size=32G`), in GB.
fn disk_size_gb(drive: &str) -> Option<f64> {
    let size = drive
        .split(',')
        .find_map(|part| part.trim().strip_prefix("size="))?;
    let (number, unit) = size.split_at(size.find(|c: char| c.is_ascii_alphabetic())?);
    let number: f64 = number.parse().ok()?;
    Some(match unit {
        "T" => number * 1024.0,
        "G" => number,
        "M" => number / 1024.0,
        "K" => number / 1024.0 / 1024.0,
        _ => return None,
    })
}

/// Runs a [`SERVICE_ACTION`] job: the driver call, then the service log line.
pub async fn run_action(ctx: &Provisioning, db: &PgPool, job: &Job) -> anyhow::Result<()> {
    let ActionJob {
        service_id,
        action,
        requested_by,
    } = crate::jobs::payload(job)?;
    let Some(service) = services::find(db, service_id).await? else {
        return Err(Permanent::error(format!(
            "service {service_id} does not exist"
        )));
    };
    let result = act(ctx, db, &service, action).await;
    let last = job.attempts >= job.max_attempts;
    let outcome = match &result {
        Ok(details) => Some(("success", details.clone())),
        Err(err) if !crate::jobs::is_snooze(err) && (crate::jobs::is_permanent(err) || last) => {
            Some(("failed", format!("{err:#}")))
        }
        Err(_) => None,
    };
    if let Some((status, details)) = outcome {
        // The line the request wrote ("queued") becomes the outcome; without one, a new line.
        if !logs::close_oldest_pending_action(db, service_id, action.log_action(), status, &details)
            .await?
        {
            logs::insert(
                db,
                service_id,
                action.log_action(),
                status,
                Some(&details),
                requested_by,
            )
            .await?;
        }
    }
    result.map(|_| ())
}

/// Carries out an action with the service's driver; returns what was done, for the log.
async fn act(
    ctx: &Provisioning,
    db: &PgPool,
    service: &Service,
    action: DriverAction,
) -> anyhow::Result<String> {
    let backend = match driver_for(db, service).await? {
        Driver::Proxmox(backend) if service.vmid.is_some() => backend,
        _ => {
            if action == DriverAction::Terminate {
                backends::release_ip(db, service.id).await?;
            }
            return Ok(format!(
                "{} recorded; the server is managed by hand (manual driver)",
                action.as_str()
            ));
        }
    };
    let machine = Machine::new(ctx, db, *backend)?;
    let vmid = machine.vmid(service)?;
    let node = machine.node.clone();
    let power = |action| {
        let machine = &machine;
        let node = node.clone();
        async move {
            let upid = machine
                .client
                .power(&node, vmid, action)
                .await
                .map_err(classify)?;
            machine.wait(&upid, "the power action").await
        }
    };
    match action {
        DriverAction::Start | DriverAction::Resume => {
            match power(PowerAction::Start).await {
                Ok(()) => {}
                Err(err) if err.to_string().contains("already running") => {}
                Err(err) => return Err(err),
            }
            Ok(format!("VM {vmid} started"))
        }
        DriverAction::Stop | DriverAction::Suspend => {
            let running = machine
                .client
                .vm_status(&node, vmid)
                .await
                .map_err(classify)?
                .is_some_and(|s| s.is_running());
            if running {
                power(PowerAction::Stop).await?;
            }
            Ok(format!("VM {vmid} stopped"))
        }
        DriverAction::Reboot => {
            power(PowerAction::Reboot).await?;
            Ok(format!("VM {vmid} rebooted"))
        }
        DriverAction::ResetPassword => {
            let username = service.username.clone().unwrap_or_else(|| "root".into());
            let password = generate_password();
            // Cloud-init's copy for the next boot, then the running guest through its agent.
            if let Some(upid) = machine
                .client
                .update_config(&node, vmid, &[("cipassword", password.clone())])
                .await
                .map_err(classify)?
            {
                machine.wait(&upid, "the password change").await?;
            }
            machine
                .client
                .set_user_password(&node, vmid, &username, &password)
                .await
                .map_err(classify)?;
            let sealed = ctx
                .keyring
                .seal(&password, &Provisioning::service_context(service.id));
            services::set_password(db, service.id, &username, &sealed).await?;
            Ok(format!("password of {username} reset"))
        }
        DriverAction::Terminate => {
            match machine
                .client
                .vm_status(&node, vmid)
                .await
                .map_err(classify)?
            {
                None => {}
                Some(status) => {
                    if status.is_running() {
                        power(PowerAction::Stop).await?;
                    }
                    let upid = machine
                        .client
                        .delete_vm(&node, vmid)
                        .await
                        .map_err(classify)?;
                    machine.wait(&upid, "the deletion").await?;
                }
            }
            backends::release_ip(db, service.id).await?;
            Ok(format!(
                "VM {vmid} deleted; its address is held back before reuse"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_sizes_are_read_from_drive_strings() {
        assert_eq!(disk_size_gb("local-lvm:vm-101-disk-0,size=32G"), Some(32.0));
        assert_eq!(
            disk_size_gb("local-lvm:vm-101-disk-0,iothread=1,size=1T"),
            Some(1024.0)
        );
        assert_eq!(disk_size_gb("local-lvm:vm-101-disk-0,size=512M"), Some(0.5));
        assert_eq!(disk_size_gb("local-lvm:vm-101-disk-0"), None);
    }

    #[test]
    fn our_vms_are_known_by_their_marker() {
        let mut config = serde_json::Map::new();
        config.insert("description".into(), marker(42).into());
        assert!(is_ours(&config, 42));
        assert!(!is_ours(&config, 4));
        config.insert("description".into(), "nextgenrdp service 420".into());
        assert!(!is_ours(&config, 42));
    }
}
