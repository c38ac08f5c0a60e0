//! What customers and operators do to services: reveal credentials, power actions, the manual
//! driver's provisioning by hand, suspend / resume / terminate / retry, and corrections. Every
//! change is one transaction that re-reads the service under lock, checks the status it leaves,
//! writes a `service_logs` line with who acted, and queues any driver call as a job.

use std::net::IpAddr;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use super::logs::{self, ServiceLog};
use super::provision::{self, ActionJob, DriverAction};
use super::renewals;
use super::services::{self, Service};
use crate::accounts::users;
use crate::accounts::validation::FieldErrors;
use crate::audit::{self, Actor, NewAuditEntry};
use crate::error::{AppError, AppResult};
use crate::mail;
use crate::provisioning::Provisioning;
use crate::provisioning::backends;
use crate::services::{ProvisioningStep, ServiceAction, ServiceStatus};

/// What a customer may ask of a running server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerAction {
    Start,
    Stop,
    Reboot,
    ResetPassword,
}

/// A service's login details, opened for its owner or an operator. `Debug` hides the password.
#[derive(Clone, Serialize, utoipa::ToSchema)]
#[schema(description = "A service's login details, decrypted for its owner or an operator")]
pub struct Credentials {
    /// The server's host name.
    pub hostname: Option<String>,
    /// The server's IPv4 or IPv6 address.
    pub ip_address: Option<String>,
    /// The login name.
    pub username: Option<String>,
    /// The login password, decrypted (stored sealed with AES-256-GCM). Each reveal is logged.
    pub password: Option<String>,
}

/// What an operator enters to provision a service by hand (manual driver). `Debug` hides the
/// password.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    description = "The login details of a server the operator built by hand (manual driver); \
    every field is checked and each one at fault named in `errors`"
)]
pub struct ManualProvision {
    /// A host name (RFC 1123): letters, digits, hyphens and dots, at most 253 characters;
    /// stored in lower case.
    #[schema(max_length = 253)]
    pub hostname: String,
    /// An IPv4 or IPv6 address; stored in its canonical spelling.
    pub ip_address: String,
    /// The login name: 1 to 100 characters, no spaces.
    #[schema(min_length = 1, max_length = 100)]
    pub username: String,
    /// The login password: 8 to 128 bytes, no control characters; kept exactly as typed, stored
    /// sealed.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    pub password: String,
}

/// An operator's correction of a service (`PATCH`): only the fields given change. `Debug` hides
/// the password.
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    description = "An operator's correction of a service's login details: only the fields \
    given change; at least one is needed"
)]
pub struct ServiceUpdate {
    /// A host name (RFC 1123), at most 253 characters; absent or `null` keeps it.
    #[schema(max_length = 253)]
    pub hostname: Option<String>,
    /// An IPv4 or IPv6 address; absent or `null` keeps it.
    pub ip_address: Option<String>,
    /// The login name: 1 to 100 characters, no spaces; absent or `null` keeps it.
    #[schema(min_length = 1, max_length = 100)]
    pub username: Option<String>,
    /// A new login password: 8 to 128 bytes, no control characters; absent or `null` keeps it.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

/// How an operator closes a customer's request on a service run by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    /// Carried out on the server.
    Done,
    /// Not carried out; the note tells the customer why.
    Declined,
}

impl RequestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Declined => "declined",
        }
    }
}

/// The operator's answer to a customer's request: the outcome, a note (required to decline)
/// and, for a password reset done by hand, the new password. `Debug` hides the password.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    description = "The operator's answer to a customer's request: the outcome, a note \
    (required to decline) and, for a password reset done by hand, the new password"
)]
pub struct RequestResolution {
    pub outcome: RequestOutcome,
    /// For the customer, at most 500 characters; required to decline.
    #[schema(max_length = 500)]
    pub note: Option<String>,
    /// Only when a `reset_password` request is done: the new password the operator set (8 to
    /// 128 bytes, no control characters), stored sealed for the customer to reveal.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

impl std::fmt::Debug for RequestResolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestResolution")
            .field("outcome", &self.outcome)
            .field("note", &self.note)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// The outcome of an action: the service as it is now and the log line written.
#[derive(Clone, Debug, Serialize)]
pub struct Acted {
    pub service: Service,
    pub log: ServiceLog,
    /// The status the service had before (for the audit log).
    pub previous_status: ServiceStatus,
}

/// Debug output that names the fields but never shows a password.
macro_rules! redacted_debug {
    ($type:ty, $password:ident => $shown:expr) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let $password = &self.password;
                f.debug_struct(stringify!($type))
                    .field("hostname", &self.hostname)
                    .field("ip_address", &self.ip_address)
                    .field("username", &self.username)
                    .field("password", &$shown)
                    .finish()
            }
        }
    };
}

redacted_debug!(Credentials, p => p.as_ref().map(|_| "[REDACTED]"));
redacted_debug!(ManualProvision, p => { let _ = p; "[REDACTED]" });
redacted_debug!(ServiceUpdate, p => p.as_ref().map(|_| "[REDACTED]"));

/// The service under lock, or NotFound (also when `owner` is given and it is someone else's).
async fn lock(tx: &mut PgConnection, service_id: i32, owner: Option<i32>) -> AppResult<Service> {
    services::find_for_update(&mut *tx, service_id)
        .await?
        .filter(|s| owner.is_none_or(|owner| s.user_id == Some(owner)))
        .ok_or(AppError::NotFound("service"))
}

/// The 409 for a service whose status does not allow `what`.
fn wrong_status(service: &Service, what: &str) -> AppError {
    AppError::conflict(
        "status",
        format!("service {} is {}; {what}", service.id, service.status),
    )
}

/// Re-reads the service after a change and pairs it with the log line written.
async fn acted(tx: &mut PgConnection, before: &Service, log: ServiceLog) -> AppResult<Acted> {
    let service = services::find(&mut *tx, before.id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    Ok(Acted {
        service,
        log,
        previous_status: before.status,
    })
}

/// Whether a driver job would act on a Proxmox VM for this service (what
/// [`provision::driver_for`] decides, read inside the caller's transaction).
async fn built_by_proxmox(tx: &mut PgConnection, service: &Service) -> sqlx::Result<bool> {
    let backend = match (service.backend_id, service.location_id) {
        (Some(id), _) => backends::find(&mut *tx, id).await?,
        (None, Some(location)) if service.provisioning_step == ProvisioningStep::Pending => {
            backends::find_active_for_location(&mut *tx, location).await?
        }
        _ => None,
    };
    Ok(backend.is_some_and(|b| b.driver == backends::BackendDriver::Proxmox))
}

/// Opens the service's credentials for `viewer` (its owner; `owner` None = an operator) and
/// logs the reveal. Someone else's service → NotFound.
pub async fn reveal_credentials(
    db: &PgPool,
    ctx: &Provisioning,
    service_id: i32,
    owner: Option<i32>,
    viewer: i32,
) -> AppResult<Credentials> {
    let mut tx = db.begin().await?;
    let credentials = reveal_credentials_in(&mut tx, ctx, service_id, owner, viewer).await?;
    tx.commit().await?;
    Ok(credentials)
}

/// An operator opens a service's credentials: logged on the service and audited.
pub async fn reveal_credentials_to_operator(
    db: &PgPool,
    ctx: &Provisioning,
    actor: &Actor<'_>,
    service_id: i32,
) -> AppResult<Credentials> {
    let mut tx = db.begin().await?;
    let credentials = reveal_credentials_in(&mut tx, ctx, service_id, None, actor.user_id).await?;
    let id = service_id.to_string();
    audit::insert(
        &mut *tx,
        &actor.entry("service.credentials_view", "service", Some(&id)),
    )
    .await?;
    tx.commit().await?;
    Ok(credentials)
}

/// The audit row of an operator's change to a service: its status before and after, and the
/// log line written.
async fn audit_acted(
    tx: &mut PgConnection,
    actor: &Actor<'_>,
    action: &str,
    acted: &Acted,
) -> AppResult<()> {
    let id = acted.service.id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(serde_json::json!({ "status": acted.previous_status })),
            after: Some(serde_json::json!({
                "status": acted.service.status,
                "log": { "action": acted.log.action, "details": acted.log.details },
            })),
            ..actor.entry(action, "service", Some(&id))
        },
    )
    .await?;
    Ok(())
}

/// [`reveal_credentials`] inside the caller's transaction.
async fn reveal_credentials_in(
    tx: &mut PgConnection,
    ctx: &Provisioning,
    service_id: i32,
    owner: Option<i32>,
    viewer: i32,
) -> AppResult<Credentials> {
    let service = lock(tx, service_id, owner).await?;
    // A customer sees them once the server is handed over; a Proxmox service has its password
    // from the allocation step on, before the VM exists.
    if owner.is_some()
        && matches!(
            service.status,
            ServiceStatus::Provisioning | ServiceStatus::Failed
        )
    {
        return Err(wrong_status(
            &service,
            "its login details are ready once it is provisioned",
        ));
    }
    let Some(sealed) = service.password_encrypted.as_deref() else {
        return Err(wrong_status(&service, "it has no login details yet"));
    };
    let password = ctx
        .keyring
        .open(sealed, &Provisioning::service_context(service.id))
        .map_err(|err| AppError::Internal(err.context(format!("opening service {service_id}"))))?;
    let who = if owner.is_some() {
        "the customer"
    } else {
        "an operator"
    };
    logs::insert(
        &mut *tx,
        service.id,
        ServiceAction::CredentialsViewed,
        "success",
        Some(&format!("login details shown to {who}")),
        Some(viewer),
    )
    .await?;
    Ok(Credentials {
        hostname: service.hostname,
        ip_address: service.ip_address,
        username: service.username,
        password: Some(password.expose_secret().to_owned()),
    })
}

impl CustomerAction {
    /// Every action, for error messages.
    pub const ALL: [Self; 4] = [Self::Start, Self::Stop, Self::Reboot, Self::ResetPassword];

    pub fn as_str(self) -> &'static str {
        self.driver_action().as_str()
    }

    fn driver_action(self) -> DriverAction {
        match self {
            Self::Start => DriverAction::Start,
            Self::Stop => DriverAction::Stop,
            Self::Reboot => DriverAction::Reboot,
            Self::ResetPassword => DriverAction::ResetPassword,
        }
    }

    /// The log's name for the action (`reset_password` is logged as `password_reset`).
    pub fn log_action(self) -> ServiceAction {
        self.driver_action().log_action()
    }
}

impl std::str::FromStr for CustomerAction {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|action| action.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
                format!("must be one of {}", names.join(", "))
            })
    }
}

/// A customer's power or password action on their service. Proxmox: queued as a driver job
/// (202-style: the log line is `pending`, the job writes the outcome). Manual driver: a
/// `pending` log line `<action>_requested` for the operator. Only an active service (Conflict
/// otherwise); someone else's → NotFound.
pub async fn customer_action(
    db: &PgPool,
    service_id: i32,
    user_id: i32,
    action: CustomerAction,
) -> AppResult<Acted> {
    let mut tx = db.begin().await?;
    let service = lock(&mut tx, service_id, Some(user_id)).await?;
    if service.status != ServiceStatus::Active {
        return Err(wrong_status(
            &service,
            &format!("only an active server can be asked to {}", action.as_str()),
        ));
    }
    super::reinstall::ensure_idle(&mut *tx, service.id).await?;
    let log = if built_by_proxmox(&mut tx, &service).await? {
        provision::enqueue_action(
            &mut *tx,
            &ActionJob {
                service_id: service.id,
                action: action.driver_action(),
                requested_by: Some(user_id),
            },
        )
        .await?;
        logs::insert(
            &mut *tx,
            service.id,
            action.log_action(),
            "pending",
            Some("queued"),
            Some(user_id),
        )
        .await?
    } else {
        let requested = action
            .log_action()
            .requested()
            .expect("every customer action has a request form");
        logs::insert(
            &mut *tx,
            service.id,
            requested,
            "pending",
            Some("asked by the customer; the operator will do it (manual driver)"),
            Some(user_id),
        )
        .await?
    };
    let acted = acted(&mut tx, &service, log).await?;
    tx.commit().await?;
    tracing::info!(
        service.id = service_id,
        user.id = user_id,
        "service {service_id}: customer asked to {}",
        action.as_str()
    );
    Ok(acted)
}

/// What a customer asked for, in words that follow "your request to".
fn request_words(action: ServiceAction, service_id: i32) -> String {
    match action {
        ServiceAction::Start => format!("start server #{service_id}"),
        ServiceAction::Stop => format!("stop server #{service_id}"),
        ServiceAction::Reboot => format!("restart server #{service_id}"),
        ServiceAction::PasswordReset => format!("reset the password of server #{service_id}"),
        ServiceAction::Reinstall => format!("reinstall server #{service_id}"),
        other => format!("{} on server #{service_id}", other.label().to_lowercase()),
    }
}

/// The operator closes a customer's request (a `pending` `<action>_requested` line of a
/// service run by hand): done (for a password reset, optionally with the new password, sealed)
/// or declined with a note. The request line takes the outcome, a new line records the
/// operator's act and the customer is e-mailed. A line of another service → NotFound; one that
/// is no request or already closed → Conflict; a missing note or a bad password → 422.
pub async fn resolve_request(
    db: &PgPool,
    ctx: &Provisioning,
    actor: &Actor<'_>,
    service_id: i32,
    log_id: i32,
    resolution: &RequestResolution,
) -> AppResult<Acted> {
    let mut tx = db.begin().await?;
    let acted =
        resolve_request_in(&mut tx, ctx, service_id, log_id, actor.user_id, resolution).await?;
    audit_acted(&mut tx, actor, "service.resolve_request", &acted).await?;
    tx.commit().await?;
    Ok(acted)
}

/// [`resolve_request`] inside the caller's transaction.
async fn resolve_request_in(
    tx: &mut PgConnection,
    ctx: &Provisioning,
    service_id: i32,
    log_id: i32,
    admin_id: i32,
    resolution: &RequestResolution,
) -> AppResult<Acted> {
    let outcome = resolution.outcome;
    let note = resolution
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let mut errors = FieldErrors::default();
    if note.is_some_and(|n| n.chars().count() > 500) {
        errors.add("note", "must be at most 500 characters");
    } else if outcome == RequestOutcome::Declined && note.is_none() {
        errors.add("note", "is required to decline: tell the customer why");
    }
    let password = match (&resolution.password, outcome) {
        (None, _) => None,
        (Some(password), RequestOutcome::Done) => {
            errors.check("password", parse_password(password))
        }
        (Some(_), RequestOutcome::Declined) => {
            errors.add("password", "is set only when the request is done");
            None
        }
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    let before = lock(tx, service_id, None).await?;
    let request = logs::find_for_update(&mut *tx, log_id)
        .await?
        .filter(|line| line.service_id == Some(service_id))
        .ok_or(AppError::NotFound("service request"))?;
    let Some(asked) = request.action.asked() else {
        return Err(AppError::conflict(
            "log_id",
            format!(
                "log line {log_id} of service {service_id} is `{}`, not a customer's request",
                request.action
            ),
        ));
    };
    if request.status != "pending" {
        return Err(AppError::conflict(
            "status",
            format!(
                "request {log_id} of service {service_id} is already closed ({})",
                request.status
            ),
        ));
    }
    if password.is_some() && asked != ServiceAction::PasswordReset {
        return Err(AppError::invalid(
            "password",
            "is set only when a password reset is done",
        ));
    }
    if let Some(password) = &password {
        let Some(username) = before
            .username
            .as_deref()
            .filter(|_| before.status != ServiceStatus::Terminated)
        else {
            return Err(wrong_status(
                &before,
                "a new password needs a running service with login details",
            ));
        };
        let sealed = ctx
            .keyring
            .seal(password, &Provisioning::service_context(service_id));
        services::set_password(&mut *tx, service_id, username, &sealed).await?;
    }

    let mut outcome_text = match outcome {
        RequestOutcome::Done => "done by the operator".to_owned(),
        RequestOutcome::Declined => format!("declined: {}", note.unwrap_or_default()),
    };
    if outcome == RequestOutcome::Done {
        if password.is_some() {
            outcome_text.push_str("; new password set");
        }
        if let Some(note) = note {
            outcome_text.push_str(&format!(" ({note})"));
        }
    }
    let request_details = match request.details.as_deref() {
        Some(asked) if !asked.is_empty() => format!("{asked}; {outcome_text}"),
        _ => outcome_text.clone(),
    };
    let status = match outcome {
        RequestOutcome::Done => "success",
        RequestOutcome::Declined => "failed",
    };
    let act_details = format!("request #{log_id} {outcome_text}");
    if logs::close_pending(&mut *tx, log_id, status, &request_details)
        .await?
        .is_none()
    {
        return Err(AppError::conflict(
            "status",
            format!("request {log_id} of service {service_id} is already closed"),
        ));
    }
    let log = logs::insert(
        &mut *tx,
        service_id,
        asked,
        status,
        Some(&act_details),
        Some(admin_id),
    )
    .await?;

    if let Some(user_id) = before.user_id
        && let Some(user) = users::find(&mut *tx, user_id).await?
    {
        let what = request_words(asked, service_id);
        let (subject, mut paragraphs) = match outcome {
            RequestOutcome::Done => (
                format!("Your request on server #{service_id} was carried out"),
                vec![format!("Your request to {what} was carried out.")],
            ),
            RequestOutcome::Declined => (
                format!("Your request on server #{service_id} was declined"),
                vec![
                    format!("Your request to {what} was not carried out."),
                    format!("Our team's note: {}", note.unwrap_or_default()),
                ],
            ),
        };
        if password.is_some() {
            paragraphs.push(
                "Sign in to reveal the new password. For your safety we never send passwords \
                 by e-mail."
                    .to_owned(),
            );
        }
        let link = format!("{}/account/services/{service_id}", ctx.public_url);
        let email = mail::notice_email(
            &user.email,
            &user.name,
            &subject,
            &paragraphs,
            Some(("See your server", &link)),
        );
        mail::enqueue(&mut *tx, &email).await?;
    }
    tracing::info!(
        service.id = service_id,
        service_log.id = log_id,
        admin.id = admin_id,
        "service {service_id}: request {log_id} ({asked}) {}",
        outcome.as_str()
    );
    acted(tx, &before, log).await
}

/// A host name: dot-separated labels of letters, digits and inner hyphens (RFC 1123), at most
/// 253 characters.
pub fn parse_hostname(text: &str) -> Result<String, &'static str> {
    let name = text.trim().trim_end_matches('.');
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(
            "must be a host name: letters, digits, hyphens and dots, at most 253 characters",
        );
    }
    Ok(name.to_ascii_lowercase())
}

/// An IPv4 or IPv6 address, in its canonical spelling.
pub fn parse_ip_address(text: &str) -> Result<String, &'static str> {
    text.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| "must be an IPv4 or IPv6 address")
}

/// A login name: 1 to 100 characters, no spaces.
pub fn parse_username(text: &str) -> Result<String, &'static str> {
    let name = text.trim();
    if name.is_empty()
        || name.chars().count() > 100
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("must be 1 to 100 characters without spaces");
    }
    Ok(name.to_owned())
}

/// A server password: 8 to 128 characters (bytes, so that it always fits sealed), no control
/// characters. Kept exactly as typed.
pub fn parse_password(text: &str) -> Result<String, &'static str> {
    if !(8..=128).contains(&text.len()) || text.chars().any(char::is_control) {
        return Err("must be 8 to 128 characters");
    }
    Ok(text.to_owned())
}

/// The operator provisions a manual service by hand: credentials sealed, service active (its
/// first period starts), order active when all its services are, customer e-mailed. Only a
/// `provisioning` (or `failed`) service; validation errors by field.
pub async fn provision_by_hand(
    db: &PgPool,
    ctx: &Provisioning,
    actor: &Actor<'_>,
    service_id: i32,
    input: &ManualProvision,
) -> AppResult<Acted> {
    let mut tx = db.begin().await?;
    let acted = provision_by_hand_in(&mut tx, ctx, service_id, input, actor.user_id).await?;
    audit_acted(&mut tx, actor, "service.provision", &acted).await?;
    tx.commit().await?;
    Ok(acted)
}

/// [`provision_by_hand`] inside the caller's transaction.
async fn provision_by_hand_in(
    tx: &mut PgConnection,
    ctx: &Provisioning,
    service_id: i32,
    input: &ManualProvision,
    admin_id: i32,
) -> AppResult<Acted> {
    let mut errors = FieldErrors::default();
    let hostname = errors.check("hostname", parse_hostname(&input.hostname));
    let ip_address = errors.check("ip_address", parse_ip_address(&input.ip_address));
    let username = errors.check("username", parse_username(&input.username));
    let password = errors.check("password", parse_password(&input.password));
    let (Some(hostname), Some(ip_address), Some(username), Some(password)) =
        (hostname, ip_address, username, password)
    else {
        return Err(AppError::Validation(errors.0));
    };
    let before = lock(tx, service_id, None).await?;
    match before.status {
        ServiceStatus::Provisioning => {}
        ServiceStatus::Failed => {
            crate::services::transition(
                &mut *tx,
                service_id,
                ServiceStatus::Failed,
                ServiceStatus::Provisioning,
                None,
            )
            .await?;
        }
        _ => {
            return Err(wrong_status(
                &before,
                "only a provisioning or failed service can be provisioned",
            ));
        }
    }
    let sealed = ctx
        .keyring
        .seal(&password, &Provisioning::service_context(service_id));
    services::set_credentials(
        &mut *tx,
        service_id,
        &hostname,
        &ip_address,
        &username,
        &sealed,
    )
    .await?;
    let service = services::find(&mut *tx, service_id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    let details = format!("provisioned by hand: {hostname} ({ip_address}), user {username}");
    if !provision::activate(&mut *tx, ctx, &service, Some(admin_id), &details).await? {
        return Err(wrong_status(&service, "it is no longer provisioning"));
    }
    let log = logs::list_for_service(&mut *tx, service_id)
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound("service log"))?;
    tracing::info!(
        service.id = service_id,
        admin.id = admin_id,
        "service {service_id} provisioned by hand"
    );
    acted(tx, &before, log).await
}

/// Operator: active → suspended (reason given), driver stop queued.
pub async fn suspend(
    db: &PgPool,
    actor: &Actor<'_>,
    service_id: i32,
    reason: Option<&str>,
) -> AppResult<Acted> {
    let mut tx = db.begin().await?;
    let acted = suspend_in(&mut tx, service_id, actor.user_id, reason).await?;
    audit_acted(&mut tx, actor, "service.suspend", &acted).await?;
    tx.commit().await?;
    Ok(acted)
}

/// [`suspend`] inside the caller's transaction.
async fn suspend_in(
    tx: &mut PgConnection,
    service_id: i32,
    admin_id: i32,
    reason: Option<&str>,
) -> AppResult<Acted> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 255) {
        return Err(AppError::invalid(
            "reason",
            "must be at most 255 characters",
        ));
    }
    let reason = reason.unwrap_or("suspended by an operator");
    let before = lock(tx, service_id, None).await?;
    if before.status != ServiceStatus::Active
        || !crate::services::transition(
            &mut *tx,
            service_id,
            ServiceStatus::Active,
            ServiceStatus::Suspended,
            None,
        )
        .await?
    {
        return Err(wrong_status(
            &before,
            "only an active service can be suspended",
        ));
    }
    services::set_suspended_reason(&mut *tx, service_id, Some(reason)).await?;
    let log = logs::insert(
        &mut *tx,
        service_id,
        ServiceAction::Suspend,
        "success",
        Some(reason),
        Some(admin_id),
    )
    .await?;
    queue(tx, service_id, DriverAction::Suspend, admin_id).await?;
    acted(tx, &before, log).await
}

/// Queues a driver job asked for by an operator.
async fn queue(
    tx: &mut PgConnection,
    service_id: i32,
    action: DriverAction,
    admin_id: i32,
) -> sqlx::Result<()> {
    provision::enqueue_action(
        &mut *tx,
        &ActionJob {
            service_id,
            action,
            requested_by: Some(admin_id),
        },
    )
    .await?;
    Ok(())
}

/// Operator: suspended → active, driver start queued.
pub async fn resume(db: &PgPool, actor: &Actor<'_>, service_id: i32) -> AppResult<Acted> {
    let mut tx = db.begin().await?;
    let acted = resume_in(&mut tx, service_id, actor.user_id).await?;
    audit_acted(&mut tx, actor, "service.resume", &acted).await?;
    tx.commit().await?;
    Ok(acted)
}

/// [`resume`] inside the caller's transaction.
async fn resume_in(tx: &mut PgConnection, service_id: i32, admin_id: i32) -> AppResult<Acted> {
    let before = lock(tx, service_id, None).await?;
    if before.status != ServiceStatus::Suspended
        || !crate::services::transition(
            &mut *tx,
            service_id,
            ServiceStatus::Suspended,
            ServiceStatus::Active,
            None,
        )
        .await?
    {
        return Err(wrong_status(
            &before,
            "only a suspended service can be resumed",
        ));
    }
    services::set_suspended_reason(&mut *tx, service_id, None).await?;
    let details = format!(
        "resumed by an operator (was: {})",
        before
            .suspended_reason
            .as_deref()
            .unwrap_or("no reason recorded")
    );
    let log = logs::insert(
        &mut *tx,
        service_id,
        ServiceAction::Resume,
        "success",
        Some(&details),
        Some(admin_id),
    )
    .await?;
    queue(tx, service_id, DriverAction::Resume, admin_id).await?;
    acted(tx, &before, log).await
}

/// Operator: active/suspended/failed/provisioning → terminated, driver delete queued, IP
/// released (held back before reuse), pending renewal orders cancelled.
pub async fn terminate(db: &PgPool, actor: &Actor<'_>, service_id: i32) -> AppResult<Acted> {
    let mut tx = db.begin().await?;
    let acted = terminate_audited(&mut tx, actor, service_id).await?;
    tx.commit().await?;
    Ok(acted)
}

/// [`terminate`] inside the caller's transaction, audited (a refund that cancels an order's
/// servers).
pub async fn terminate_audited(
    tx: &mut PgConnection,
    actor: &Actor<'_>,
    service_id: i32,
) -> AppResult<Acted> {
    let acted = terminate_in(tx, service_id, actor.user_id).await?;
    audit_acted(tx, actor, "service.terminate", &acted).await?;
    Ok(acted)
}

/// [`terminate`] inside the caller's transaction.
async fn terminate_in(tx: &mut PgConnection, service_id: i32, admin_id: i32) -> AppResult<Acted> {
    let before = lock(tx, service_id, None).await?;
    if before.status == ServiceStatus::Terminated
        || !crate::services::transition(
            &mut *tx,
            service_id,
            before.status,
            ServiceStatus::Terminated,
            None,
        )
        .await?
    {
        return Err(wrong_status(&before, "it cannot be terminated again"));
    }
    let mut cancelled = Vec::new();
    while let Some(order) = renewals::pending_renewal_order(&mut *tx, service_id).await? {
        crate::orders::transition(
            &mut *tx,
            order,
            crate::orders::OrderStatus::PendingPayment,
            crate::orders::OrderStatus::Cancelled,
        )
        .await?;
        cancelled.push(order.to_string());
    }
    let mut details = if built_by_proxmox(tx, &before).await? {
        // The job deletes the VM, then releases its address.
        queue(tx, service_id, DriverAction::Terminate, admin_id).await?;
        "terminated by an operator; VM deletion queued".to_owned()
    } else {
        backends::release_ip(&mut *tx, service_id).await?;
        "terminated by an operator; delete the server by hand (manual driver)".to_owned()
    };
    if !cancelled.is_empty() {
        details.push_str(&format!(
            "; renewal order(s) {} cancelled",
            cancelled.join(", ")
        ));
    }
    let log = logs::insert(
        &mut *tx,
        service_id,
        ServiceAction::Terminate,
        "success",
        Some(&details),
        Some(admin_id),
    )
    .await?;
    acted(tx, &before, log).await
}

/// Operator: failed → provisioning, a new provisioning job queued (the step machine resumes
/// from its last step).
pub async fn retry(db: &PgPool, actor: &Actor<'_>, service_id: i32) -> AppResult<Acted> {
    let mut tx = db.begin().await?;
    let acted = retry_in(&mut tx, service_id, actor.user_id).await?;
    audit_acted(&mut tx, actor, "service.retry", &acted).await?;
    tx.commit().await?;
    Ok(acted)
}

/// [`retry`] inside the caller's transaction.
async fn retry_in(tx: &mut PgConnection, service_id: i32, admin_id: i32) -> AppResult<Acted> {
    let before = lock(tx, service_id, None).await?;
    if before.status != ServiceStatus::Failed
        || !crate::services::transition(
            &mut *tx,
            service_id,
            ServiceStatus::Failed,
            ServiceStatus::Provisioning,
            None,
        )
        .await?
    {
        return Err(wrong_status(
            &before,
            "only a failed service can be retried",
        ));
    }
    // Each retry is a new job: its number keeps its dedupe key apart from earlier ones.
    let number = logs::count_action(&mut *tx, service_id, ServiceAction::Retry).await? + 1;
    provision::enqueue_provision(&mut *tx, service_id, Some(number)).await?;
    let details = format!(
        "retry {number} from step {}; last failure: {}",
        before.provisioning_step,
        before.failure_reason.as_deref().unwrap_or("-")
    );
    let log = logs::insert(
        &mut *tx,
        service_id,
        ServiceAction::Retry,
        "success",
        Some(&details),
        Some(admin_id),
    )
    .await?;
    acted(tx, &before, log).await
}

/// Operator: corrects hostname, IP, username or password (password sealed).
pub async fn update(
    db: &PgPool,
    ctx: &Provisioning,
    actor: &Actor<'_>,
    service_id: i32,
    update: &ServiceUpdate,
) -> AppResult<Acted> {
    let mut tx = db.begin().await?;
    let acted = update_in(&mut tx, ctx, service_id, update, actor.user_id).await?;
    audit_acted(&mut tx, actor, "service.update", &acted).await?;
    tx.commit().await?;
    Ok(acted)
}

/// [`update`] inside the caller's transaction.
async fn update_in(
    tx: &mut PgConnection,
    ctx: &Provisioning,
    service_id: i32,
    update: &ServiceUpdate,
    admin_id: i32,
) -> AppResult<Acted> {
    let mut errors = FieldErrors::default();
    let mut field =
        |name: &str, value: &Option<String>, parse: fn(&str) -> Result<String, &'static str>| {
            value.as_deref().and_then(|v| errors.check(name, parse(v)))
        };
    let hostname = field("hostname", &update.hostname, parse_hostname);
    let ip_address = field("ip_address", &update.ip_address, parse_ip_address);
    let username = field("username", &update.username, parse_username);
    let password = field("password", &update.password, parse_password);
    if update.hostname.is_none()
        && update.ip_address.is_none()
        && update.username.is_none()
        && update.password.is_none()
    {
        errors.add(
            "body",
            "give at least one of hostname, ip_address, username, password",
        );
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    let before = lock(tx, service_id, None).await?;
    if before.status == ServiceStatus::Terminated {
        return Err(wrong_status(
            &before,
            "a terminated service cannot be corrected",
        ));
    }
    let sealed = password.as_deref().map(|p| {
        ctx.keyring
            .seal(p, &Provisioning::service_context(service_id))
    });
    let merged = (
        hostname.as_deref().or(before.hostname.as_deref()),
        ip_address.as_deref().or(before.ip_address.as_deref()),
        username.as_deref().or(before.username.as_deref()),
        sealed.as_deref().or(before.password_encrypted.as_deref()),
    );
    let (Some(hostname_now), Some(ip_now), Some(username_now), Some(sealed_now)) = merged else {
        return Err(wrong_status(
            &before,
            "it has no login details yet: provision it (all four fields) first",
        ));
    };
    services::set_credentials(
        &mut *tx,
        service_id,
        hostname_now,
        ip_now,
        username_now,
        sealed_now,
    )
    .await?;
    let mut changed = Vec::new();
    for (name, new, old) in [
        ("hostname", &hostname, &before.hostname),
        ("ip_address", &ip_address, &before.ip_address),
        ("username", &username, &before.username),
    ] {
        if let Some(new) = new {
            changed.push(format!("{name}: {} → {new}", old.as_deref().unwrap_or("-")));
        }
    }
    if password.is_some() {
        changed.push("password changed".to_owned());
    }
    let log = logs::insert(
        &mut *tx,
        service_id,
        ServiceAction::Update,
        "success",
        Some(&changed.join("; ")),
        Some(admin_id),
    )
    .await?;
    acted(tx, &before, log).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_follow_rfc_1123() {
        assert_eq!(
            parse_hostname("RDP1.Lahore.example.pk."),
            Ok("rdp1.lahore.example.pk".to_owned())
        );
        assert!(parse_hostname("server-7").is_ok());
        for bad in ["", "-a.example", "a-.example", "a..b", "a_b.example", "a b"] {
            assert!(parse_hostname(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse_hostname(&"a".repeat(64)).is_err(),
            "a label is at most 63"
        );
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.len() > 253 && parse_hostname(&long).is_err());
    }

    #[test]
    fn addresses_usernames_and_passwords_are_checked() {
        assert_eq!(
            parse_ip_address(" 203.0.113.9 "),
            Ok("203.0.113.9".to_owned())
        );
        assert_eq!(
            parse_ip_address("2001:DB8::1"),
            Ok("2001:db8::1".to_owned())
        );
        assert!(parse_ip_address("203.0.113.256").is_err());
        assert!(parse_username("Administrator").is_ok());
        assert!(parse_username("two words").is_err());
        assert!(parse_username(&"u".repeat(101)).is_err());
        assert!(parse_password("  spaces kept  ").is_ok());
        assert!(parse_password("short").is_err());
        assert!(parse_password(&"p".repeat(129)).is_err());
    }

    #[test]
    fn customer_actions_parse_and_name_the_allowed_ones() {
        assert_eq!("reset_password".parse(), Ok(CustomerAction::ResetPassword));
        let err = "explode".parse::<CustomerAction>().unwrap_err();
        assert_eq!(err, "must be one of start, stop, reboot, reset_password");
    }

    #[test]
    fn debug_output_never_shows_a_password() {
        let input = ManualProvision {
            hostname: "h".into(),
            ip_address: "203.0.113.9".into(),
            username: "root".into(),
            password: "Secret-Pass-123".into(),
        };
        assert!(!format!("{input:?}").contains("Secret-Pass-123"));
        let credentials = Credentials {
            hostname: None,
            ip_address: None,
            username: None,
            password: Some("Secret-Pass-123".into()),
        };
        assert!(!format!("{credentials:?}").contains("Secret-Pass-123"));
        let resolution = RequestResolution {
            outcome: RequestOutcome::Done,
            note: None,
            password: Some("Secret-Pass-123".into()),
        };
        assert!(!format!("{resolution:?}").contains("Secret-Pass-123"));
    }
}
