//! The customer's server pages: `/account/services` (their servers) and
//! `/account/services/{id}` (status in plain words, login details behind a "Reveal password"
//! form, power actions, renewal and the history).
//!
//! Every change goes through [`lifecycle`] or [`renewals`], which check the owner and the status
//! under lock and log what happened; the pages only turn the outcome into words. Someone else's
//! service is the 404 page, as if it did not exist.

pub mod console;
pub mod usage;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::lifecycle::{self, Credentials, CustomerAction};
use super::logs::{self, ServiceLog};
use super::renewals;
use super::services::{self, Service};
use super::snapshots::{self, SnapshotAction};
use crate::accounts::extract::PageUser;
use crate::app::AppState;
use crate::catalog::names::Names;
use crate::error::{AppError, AppResult};
use crate::orders::pricing::VALIDITY_MONTHS;
use crate::services::{ServiceAction, ServiceStatus};
use crate::web::forms::{Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::Layout;
use crate::web::pages::render_with;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/services", get(list_services))
        .route("/account/services/{id}", get(service_page))
        .route("/account/services/{id}/credentials", post(reveal))
        .route("/account/services/{id}/actions", post(act))
        .route("/account/services/{id}/renew", post(renew))
        .route("/account/services/{id}/console", get(console::console_page))
        .route("/account/services/{id}/rdp-file", get(rdp_file))
        .route("/account/services/{id}/snapshots", post(take_snapshot))
        .route("/account/services/{id}/reinstall", post(reinstall))
        .route(
            "/account/services/{id}/snapshots/{name}/rollback",
            post(roll_back_snapshot),
        )
        .route(
            "/account/services/{id}/snapshots/{name}/delete",
            post(delete_snapshot),
        )
        .route("/console/socket", get(console::console_socket))
}

fn see_other(target: &str) -> Response {
    Redirect::to(target).into_response()
}

// ---------------------------------------------------------------------------------------------
// Words shared with the operator's pages

/// `rdp` / `vps` as the shop sells them.
pub(crate) fn type_label(service_type: &str) -> &'static str {
    match service_type {
        "rdp" => "Windows RDP",
        "vps" => "Linux VPS",
        _ => "Server",
    }
}

/// A service as a row of a list (the customer's and the operator's).
pub(crate) struct ServiceRow {
    pub id: i32,
    pub kind: &'static str,
    pub plan: String,
    pub location: String,
    pub status: String,
    pub status_label: &'static str,
    pub ip: String,
    pub due: String,
}

impl ServiceRow {
    pub(crate) fn new(service: &Service, names: &Names) -> Self {
        Self {
            id: service.id,
            kind: type_label(&service.service_type),
            plan: names.plan(service.plan_id.as_deref()),
            location: names.location(service.location_id),
            status: service.status.to_string(),
            status_label: service.status.label(),
            ip: service.ip_address.clone().unwrap_or_else(|| "—".to_owned()),
            due: match service.status {
                ServiceStatus::Active | ServiceStatus::Suspended => date(service.next_renewal_date),
                _ => "—".to_owned(),
            },
        }
    }
}

/// A day as the shop shows a due date: `26 Nov 2026`.
pub(crate) fn date(moment: Option<chrono::DateTime<chrono::Utc>>) -> String {
    moment
        .map(|m| {
            m.with_timezone(&crate::web::forms::pkt_offset())
                .format("%-d %b %Y")
                .to_string()
        })
        .unwrap_or_else(|| "—".to_owned())
}

/// A log line's action in words: the driver's actions, the customer's requests, the system's.
pub(crate) fn action_label(action: ServiceAction) -> String {
    action.label()
}

/// A log status in words.
pub(crate) fn outcome_label(status: &str) -> &'static str {
    match status {
        "success" => "Done",
        "failed" => "Failed",
        "pending" => "In progress",
        _ => "—",
    }
}

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Template)]
#[template(path = "account/services.html")]
struct ServicesPage {
    layout: Layout,
    services: Vec<ServiceRow>,
}

async fn list_services(State(state): State<AppState>, visitor: PageUser) -> AppResult<Response> {
    let names = Names::load(&state.db).await?;
    let rows = services::list_for_user(&state.db, visitor.user.id)
        .await?
        .iter()
        .map(|s| ServiceRow::new(s, &names))
        .collect();
    render_with(
        StatusCode::OK,
        &ServicesPage {
            layout: Layout::for_page("Your servers", &visitor.context),
            services: rows,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// One service

/// A line of the customer's history: what happened, in words, with no internal details.
struct HistoryRow {
    when: String,
    what: String,
    outcome: &'static str,
    status: String,
    note: Option<String>,
}

impl HistoryRow {
    /// A line of `service`'s history. Setup's `pending` line is "In progress" only while the
    /// server is still being set up: once it is ready (or past), the setup is done.
    fn new(log: &ServiceLog, service: &Service) -> Self {
        let settled = log.status == "pending"
            && log.action == ServiceAction::Provision
            && service.status != ServiceStatus::Provisioning;
        let (status, note) = if settled {
            let done = if service.status == ServiceStatus::Failed {
                "failed"
            } else {
                "success"
            };
            (done.to_owned(), None)
        } else {
            (log.status.clone(), customer_note(log))
        };
        Self {
            when: pkt(log.created_at),
            what: action_label(log.action),
            outcome: outcome_label(&status),
            status,
            note,
        }
    }
}

/// What the history says of the server's power: whether it was last seen running (`None`: not
/// known yet; a new server runs), and whether a power action is still waiting to be done.
fn power(logs: &[ServiceLog]) -> (Option<bool>, bool) {
    let waiting = logs
        .iter()
        .any(|log| log.status == "pending" && log.action.is_power());
    // Newest first: the last power action done says how it was left.
    let running = logs
        .iter()
        .find(|log| log.status == "success" && log.action.is_power())
        .map(|log| log.action.asked().unwrap_or(log.action) != ServiceAction::Stop);
    (running, waiting)
}

/// The details a customer may read: order numbers and reasons of their own account. Driver
/// errors, VM ids and the like stay on the operator's page.
fn customer_note(log: &ServiceLog) -> Option<String> {
    let details = log.details.as_deref()?;
    use ServiceAction::*;
    let snapshot = matches!(
        log.action,
        SnapshotCreate | SnapshotRollback | SnapshotDelete
    );
    match (log.action, log.status.as_str()) {
        (Create, _) | (Renew, "success") | (RenewalOrder, _) => Some(details.to_owned()),
        (Suspend, _) if details == renewals::OVERDUE => Some("the renewal was not paid".to_owned()),
        (Provision, "pending") if details.contains("manual") => {
            Some("our team is setting up your server".to_owned())
        }
        (Provision, "failed") => Some("we are looking into it".to_owned()),
        // The snapshot's name and what happened to it; a failure's cause (locks, commands for
        // the node) is the operator's.
        (_, "pending" | "success") if snapshot => Some(details.to_owned()),
        (_, "failed") if snapshot => Some("it did not work out; we are looking into it".to_owned()),
        _ => None,
    }
}

/// What the page says about the service's state, in plain words.
struct Explanation {
    /// `info`, `success` or `error` (the `.alert-*` class).
    kind: &'static str,
    text: String,
    /// The renewal order to pay, when the service waits on one.
    pay_order: Option<i32>,
}

fn explain(service: &Service, pending_order: Option<i32>) -> Explanation {
    let (kind, text) = match service.status {
        ServiceStatus::Provisioning if service.backend_id.is_none() => (
            "info",
            "Your server is being prepared by our team. We e-mail you as soon as it is ready; \
             its address and login appear here then."
                .to_owned(),
        ),
        ServiceStatus::Provisioning => (
            "info",
            format!(
                "Your server is being prepared: {}. This usually takes a few minutes; we \
                 e-mail you when it is ready.",
                service.provisioning_step.label()
            ),
        ),
        ServiceStatus::Active => (
            "success",
            format!(
                "Your server is running. It is paid until {}; renew before then to keep it.",
                date(service.next_renewal_date)
            ),
        ),
        ServiceStatus::Suspended
            if service.suspended_reason.as_deref() == Some(renewals::OVERDUE) =>
        {
            (
                "error",
                match pending_order {
                    Some(order) => format!(
                        "Your server is suspended because the renewal was not paid. Pay order \
                     #{order} to resume it; your data is kept until it is deleted."
                    ),
                    None => "Your server is suspended because the renewal was not paid. Renew it \
                         below and pay the order to resume it."
                        .to_owned(),
                },
            )
        }
        ServiceStatus::Suspended => (
            "error",
            match service.suspended_reason.as_deref() {
                Some(reason) => {
                    format!("Your server is suspended: {reason}. Contact us to resolve it.")
                }
                None => "Your server is suspended. Contact us to resolve it.".to_owned(),
            },
        ),
        ServiceStatus::Terminated => (
            "info",
            format!(
                "This server was deleted on {}. Its data is gone; order a new server any time.",
                date(service.termination_date)
            ),
        ),
        ServiceStatus::Failed => (
            "error",
            "Setting up your server ran into a problem. We are on it and will e-mail you when \
             it is ready; there is no need to order again."
                .to_owned(),
        ),
    };
    Explanation {
        kind,
        text,
        pay_order: pending_order.filter(|_| service.status == ServiceStatus::Suspended),
    }
}

/// A choice of the renewal's months.
struct MonthOption {
    value: i32,
    label: String,
    selected: bool,
}

/// A power or password action the page offers.
struct ActionButton {
    value: &'static str,
    label: &'static str,
    hint: &'static str,
}

const ACTIONS: &[ActionButton] = &[
    ActionButton {
        value: "start",
        label: "Start",
        hint: "the server",
    },
    ActionButton {
        value: "stop",
        label: "Stop",
        hint: "the server",
    },
    ActionButton {
        value: "reboot",
        label: "Restart",
        hint: "the server",
    },
    ActionButton {
        value: "reset_password",
        label: "Reset password",
        hint: "of the server's login",
    },
];

/// What a request becomes on a server run by hand: a task for the operator.
const BY_HAND_NOTICES: &[(&str, &str, &str)] = &[
    (
        "start-requested",
        "success",
        "Start requested. Our team starts your server by hand; the history below shows when it is done.",
    ),
    (
        "stop-requested",
        "success",
        "Stop requested. Our team stops your server by hand; the history below shows when it is done.",
    ),
    (
        "reboot-requested",
        "success",
        "Restart requested. Our team restarts your server by hand; the history below shows when it is done.",
    ),
    (
        "reset_password-requested",
        "success",
        "Password reset requested. Our team sets a new password by hand; reveal it once the history shows it is done.",
    ),
];

const SERVICE_NOTICES: &[(&str, &str, &str)] = &[
    (
        "start-requested",
        "success",
        "Start requested. It takes a minute or two; the history below shows when it is done.",
    ),
    (
        "stop-requested",
        "success",
        "Stop requested. It takes a minute or two; the history below shows when it is done.",
    ),
    (
        "reboot-requested",
        "success",
        "Restart requested. It takes a minute or two; the history below shows when it is done.",
    ),
    (
        "reset_password-requested",
        "success",
        "Password reset requested. Reveal the password again once the history shows it is done.",
    ),
];

#[derive(Template)]
#[template(path = "account/service.html")]
struct ServicePage {
    layout: Layout,
    notice: Option<Notice>,
    alert: Option<String>,
    row: ServiceRow,
    explanation: Explanation,
    hostname: Option<String>,
    ip_address: Option<String>,
    username: Option<String>,
    /// The password, only right after the customer asked to reveal it.
    password: Option<String>,
    can_reveal: bool,
    /// A Windows server (Remote Desktop) rather than a Linux one (SSH).
    is_rdp: bool,
    /// The command that connects (`mstsc /v:…` or `ssh user@…`), once the server is active.
    connect_line: Option<String>,
    /// The usage card of an active Proxmox server: charts and the month's traffic.
    usage: Option<usage::UsageCard>,
    /// The snapshots card: the list, or why it could not be read (`None`: no card).
    snapshots: Option<Result<SnapshotCard, String>>,
    /// Where the card's forms post (`/account/services/{id}`).
    snapshot_base: String,
    snapshot_errors: FormErrors,
    /// The reinstall card of an active server (`None`: no card).
    reinstall_card: Option<ReinstallCard>,
    reinstall_errors: FormErrors,
    can_act: bool,
    /// The actions the server's state allows (Start when stopped; Stop and Restart when running).
    actions: Vec<&'static ActionButton>,
    /// A power action is waiting to be done: the power buttons wait too.
    power_waiting: bool,
    /// Done by the operator by hand (no automation behind the server).
    by_hand: bool,
    running: bool,
    can_renew: bool,
    months: Vec<MonthOption>,
    renew_errors: FormErrors,
    pending_order: Option<i32>,
    /// The account's credit, when it has some a renewal can spend (`Rs 2,000`).
    credit_balance: Option<String>,
    history: Vec<HistoryRow>,
}

/// What a service page shows besides the service: a notice, a failed form, the password.
#[derive(Default)]
struct Extras {
    status: Option<StatusCode>,
    notice: Option<Notice>,
    alert: Option<String>,
    credentials: Option<Credentials>,
    renew_errors: FormErrors,
    months: Option<i32>,
    snapshot_errors: FormErrors,
    reinstall_errors: FormErrors,
    /// A refused reinstall form, shown again.
    reinstall_posted: Option<super::reinstall::ReinstallRequest>,
    /// The usage card's range (`?range=`; 24 hours by default).
    range: Option<super::usage::Range>,
}

async fn own_service(state: &AppState, visitor: &PageUser, id: i32) -> AppResult<Service> {
    services::find_for_user(&state.db, id, visitor.user.id)
        .await?
        .ok_or(AppError::NotFound("service"))
}

async fn render_service(
    state: &AppState,
    visitor: &PageUser,
    service: Service,
    extras: Extras,
) -> AppResult<Response> {
    let names = Names::load(&state.db).await?;
    let pending_order = renewals::pending_renewal_order(&state.db, service.id).await?;
    let balance = crate::accounts::credit::balance(&state.db, visitor.user.id).await?;
    let logs = logs::list_for_service(&state.db, service.id).await?;
    let history = logs
        .iter()
        .map(|log| HistoryRow::new(log, &service))
        .collect();
    let (running, power_waiting) = power(&logs);
    let running = running.unwrap_or(true);
    let actions = ACTIONS
        .iter()
        .filter(|a| match a.value {
            "start" => !running,
            "stop" | "reboot" => running,
            _ => true,
        })
        .collect();
    let live = matches!(
        service.status,
        ServiceStatus::Active | ServiceStatus::Suspended
    );
    let selected = extras
        .months
        .or(service.validity_months)
        .filter(|m| VALIDITY_MONTHS.contains(m))
        .unwrap_or(1);
    let (hostname, ip_address, username, password) = match extras.credentials {
        Some(c) => (
            c.hostname.or(service.hostname.clone()),
            c.ip_address.or(service.ip_address.clone()),
            c.username.or(service.username.clone()),
            c.password,
        ),
        None => (
            service.hostname.clone(),
            service.ip_address.clone(),
            service.username.clone(),
            None,
        ),
    };
    let revealed = password.is_some();
    let is_rdp = service.service_type == "rdp";
    let connect_line = ip_address
        .as_deref()
        .filter(|_| service.status == ServiceStatus::Active)
        .map(|ip| {
            if is_rdp {
                super::access::mstsc_line(ip)
            } else {
                super::access::ssh_line(username.as_deref().unwrap_or("root"), ip)
            }
        });
    let snapshots = snapshot_card(state, &service).await?;
    let reinstall_card = reinstall_card(state, &service, extras.reinstall_posted.as_ref()).await?;
    let usage = usage::usage_card(
        &state.db,
        &service,
        extras.range.unwrap_or(super::usage::Range::Day),
    )
    .await?;
    let page = ServicePage {
        layout: Layout::for_page(format!("Server #{}", service.id), &visitor.context),
        notice: extras.notice,
        alert: extras.alert,
        row: ServiceRow::new(&service, &names),
        explanation: explain(&service, pending_order),
        hostname,
        ip_address,
        username,
        password,
        can_reveal: live && service.password_encrypted.is_some(),
        is_rdp,
        connect_line,
        usage,
        snapshots,
        snapshot_base: format!("/account/services/{}", service.id),
        snapshot_errors: extras.snapshot_errors,
        reinstall_card,
        reinstall_errors: extras.reinstall_errors,
        can_act: service.status == ServiceStatus::Active,
        actions,
        power_waiting,
        by_hand: service.backend_id.is_none(),
        running,
        can_renew: live,
        months: VALIDITY_MONTHS
            .iter()
            .map(|&value| MonthOption {
                value,
                label: if value == 1 {
                    "1 month".to_owned()
                } else {
                    format!("{value} months")
                },
                selected: value == selected,
            })
            .collect(),
        renew_errors: extras.renew_errors,
        pending_order,
        credit_balance: (balance > 0).then(|| crate::money::format_pkr(balance)),
        history,
    };
    let mut response = render_with(extras.status.unwrap_or(StatusCode::OK), &page)?;
    if revealed {
        // A page with a password is never stored by the browser or a proxy.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, private"),
        );
    }
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
    range: Option<String>,
}

async fn service_page(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let service = own_service(&state, &visitor, id).await?;
    let notices = if service.backend_id.is_none() {
        BY_HAND_NOTICES
    } else {
        SERVICE_NOTICES
    };
    let extras = Extras {
        notice: notice(query.notice.as_deref(), notices)
            .or_else(|| notice(query.notice.as_deref(), SNAPSHOT_NOTICES)),
        // An unknown range shows the default one.
        range: query.range.as_deref().and_then(|r| r.parse().ok()),
        ..Extras::default()
    };
    render_service(&state, &visitor, service, extras).await
}

/// Opens the login details (logged by `lifecycle`) and shows them on the page, never in a URL.
async fn reveal(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    let service = own_service(&state, &visitor, id).await?;
    let outcome = lifecycle::reveal_credentials(
        &state.db,
        &state.provisioning,
        id,
        Some(visitor.user.id),
        visitor.user.id,
    )
    .await;
    let extras = match outcome {
        Ok(credentials) => Extras {
            credentials: Some(credentials),
            ..Extras::default()
        },
        Err(err @ AppError::NotFound(_)) => return Err(err),
        Err(err) => refusal(err)?,
    };
    render_service(&state, &visitor, service, extras).await
}

/// A refusal of a lifecycle call as the page's alert (a 409 shows its detail).
fn refusal(err: AppError) -> AppResult<Extras> {
    let failure = Failure::from_error(err, &[])?;
    Ok(Extras {
        status: Some(failure.status),
        alert: failure.alert,
        ..Extras::default()
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ActionForm {
    action: String,
}

async fn act(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    Form(form): Form<ActionForm>,
) -> AppResult<Response> {
    let service = own_service(&state, &visitor, id).await?;
    let action = match form.action.as_str() {
        "start" => CustomerAction::Start,
        "stop" => CustomerAction::Stop,
        "reboot" => CustomerAction::Reboot,
        "reset_password" => CustomerAction::ResetPassword,
        _ => {
            let extras = Extras {
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                alert: Some("Choose start, stop, restart or reset password.".to_owned()),
                ..Extras::default()
            };
            return render_service(&state, &visitor, service, extras).await;
        }
    };
    match lifecycle::customer_action(&state.db, id, visitor.user.id, action).await {
        Ok(_) => Ok(see_other(&format!(
            "/account/services/{id}?notice={}-requested",
            form.action
        ))),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => {
            let extras = refusal(err)?;
            render_service(&state, &visitor, service, extras).await
        }
    }
}

/// A snapshot as the card lists it.
pub(crate) struct SnapshotRow {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) taken: String,
    pub(crate) complete: bool,
}

/// The snapshots card of an active Proxmox server.
pub(crate) struct SnapshotCard {
    pub(crate) limit: i32,
    pub(crate) rows: Vec<SnapshotRow>,
}

impl SnapshotCard {
    pub(crate) fn room(&self) -> bool {
        (self.rows.len() as i32) < self.limit
    }
}

/// The card of an active server built on Proxmox (`None` for any other); the list is asked of
/// Proxmox, and when it does not answer the card says so instead of failing the page.
pub(crate) async fn snapshot_card(
    state: &AppState,
    service: &Service,
) -> AppResult<Option<Result<SnapshotCard, String>>> {
    if service.status != ServiceStatus::Active || service.backend_id.is_none() {
        return Ok(None);
    }
    let owner = service.user_id;
    match snapshots::list(&state.db, &state.provisioning, service.id, owner).await {
        Ok(list) => Ok(Some(Ok(SnapshotCard {
            limit: list.limit,
            rows: list
                .items
                .into_iter()
                .map(|s| SnapshotRow {
                    taken: pkt(s.created_at),
                    name: s.name,
                    description: s.description,
                    complete: s.complete,
                })
                .collect(),
        }))),
        Err(AppError::Unavailable(message)) => Ok(Some(Err(message))),
        Err(AppError::Conflict { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The reinstall card of an active server: the systems its plan offers, its owner's keys (for
/// a Linux system), the word to type, and a reinstall under way or the last one's failure.
pub(crate) struct ReinstallCard {
    pub(crate) systems: Vec<crate::catalog::os_templates::OsTemplate>,
    pub(crate) keys: Vec<crate::accounts::ssh_keys::SshKey>,
    /// The system preselected: the one just posted, else the one it runs now.
    pub(crate) current: Option<i32>,
    /// The keys ticked (those just posted).
    pub(crate) ticked: Vec<i32>,
    pub(crate) confirm: String,
    /// The step of a reinstall under way, in words.
    pub(crate) running: Option<&'static str>,
    pub(crate) running_system: String,
    pub(crate) last_failed: Option<String>,
    pub(crate) by_hand: bool,
}

impl ReinstallCard {
    pub(crate) fn is_current(&self, id: &i32) -> bool {
        self.current == Some(*id)
    }

    pub(crate) fn is_ticked(&self, id: &i32) -> bool {
        self.ticked.contains(id)
    }
}

/// The card of an active server (`None` for any other), showing `posted` again when it was
/// refused.
pub(crate) async fn reinstall_card(
    state: &AppState,
    service: &Service,
    posted: Option<&super::reinstall::ReinstallRequest>,
) -> AppResult<Option<ReinstallCard>> {
    use crate::catalog::os_templates::OsFamily;
    if service.status != ServiceStatus::Active {
        return Ok(None);
    }
    let systems = super::reinstall::choices(&state.db, service).await?;
    let keys = match service.user_id {
        Some(owner) if systems.iter().any(|t| t.family == OsFamily::Linux) => {
            crate::accounts::ssh_keys::list(&state.db, owner).await?
        }
        _ => Vec::new(),
    };
    let latest = super::reinstall::latest(&state.db, service.id).await?;
    let running = latest.as_ref().filter(|r| r.finished_at.is_none());
    Ok(Some(ReinstallCard {
        current: posted
            .and_then(|p| p.template_id)
            .or(service.os_template_id),
        ticked: posted.map(|p| p.ssh_key_ids.clone()).unwrap_or_default(),
        confirm: super::reinstall::confirmation(service),
        running: running.map(|r| r.step.label()),
        running_system: running
            .and_then(|r| r.os_template_name.clone())
            .unwrap_or_else(|| "the plan's system".to_owned()),
        last_failed: latest
            .as_ref()
            .filter(|r| r.step == super::reinstall::ReinstallStep::Failed)
            .and_then(|r| r.error.clone()),
        by_hand: service.backend_id.is_none(),
        systems,
        keys,
    }))
}

/// The reinstall form as posted: the system, the ticked keys (one pair each), the word typed.
pub(crate) fn reinstall_form(
    pairs: Vec<(String, String)>,
) -> AppResult<super::reinstall::ReinstallRequest> {
    let mut request = super::reinstall::ReinstallRequest::default();
    for (key, value) in pairs {
        match key.as_str() {
            "template_id" if !value.trim().is_empty() => {
                request.template_id = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| AppError::invalid("template_id", "choose a system"))?,
                );
            }
            "ssh_key_ids" => request.ssh_key_ids.push(
                value
                    .trim()
                    .parse()
                    .map_err(|_| AppError::invalid("ssh_key_ids", "choose keys from the list"))?,
            ),
            "confirm" => request.confirm = value,
            _ => {}
        }
    }
    Ok(request)
}

/// Asks for the reinstall a posted form names: the form as understood (to show again when
/// refused) and the outcome.
pub(crate) async fn reinstall_posted(
    state: &AppState,
    id: i32,
    requester: &super::reinstall::Requester<'_>,
    pairs: Vec<(String, String)>,
) -> (
    Option<super::reinstall::ReinstallRequest>,
    AppResult<crate::services::logs::ServiceLog>,
) {
    match reinstall_form(pairs) {
        Ok(request) => {
            let outcome = super::reinstall::request(&state.db, id, requester, &request).await;
            (Some(request), outcome)
        }
        Err(err) => (None, Err(err)),
    }
}

/// The fields of the snapshot forms, for a failure's messages.
pub(crate) const SNAPSHOT_FIELDS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("confirm", "Confirmation"),
    ("description", "Note"),
];

/// The fields of the reinstall form, for a failure's messages.
pub(crate) const REINSTALL_FIELDS: &[(&str, &str)] = &[
    ("template_id", "Operating system"),
    ("ssh_key_ids", "SSH keys"),
    ("confirm", "Confirmation"),
];

/// `POST /account/services/{id}/reinstall`.
async fn reinstall(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let service = own_service(&state, &visitor, id).await?;
    let requester = super::reinstall::Requester::Customer(visitor.user.id);
    let (posted, outcome) = reinstall_posted(&state, id, &requester, pairs).await;
    match outcome {
        Ok(_) => Ok(see_other(&format!(
            "/account/services/{id}?notice=reinstall-requested#reinstall"
        ))),
        Err(err @ AppError::NotFound("service")) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, REINSTALL_FIELDS)?;
            let extras = Extras {
                status: Some(failure.status),
                alert: failure.alert,
                reinstall_errors: failure.errors,
                reinstall_posted: posted,
                ..Extras::default()
            };
            render_service(&state, &visitor, service, extras).await
        }
    }
}

pub(crate) const SNAPSHOT_NOTICES: &[(&str, &str, &str)] = &[
    (
        "snapshot-requested",
        "success",
        "Snapshot requested. It takes a minute; the history below shows when it is done.",
    ),
    (
        "rollback-requested",
        "success",
        "Rollback requested. The server restarts on the snapshot in a minute or two; the history below shows when it is done.",
    ),
    (
        "snapshot-delete-requested",
        "success",
        "Deleting the snapshot. The history below shows when it is done.",
    ),
    (
        "reinstall-requested",
        "success",
        "Reinstall requested. It takes a few minutes; reveal the new password once the history below shows it done.",
    ),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SnapshotForm {
    name: String,
    description: String,
    confirm: String,
}

/// A snapshot request from the page: off to the page with a notice, or the page again with
/// what was wrong.
async fn snapshot_page_request(
    state: &AppState,
    visitor: &PageUser,
    id: i32,
    request: &snapshots::Request<'_>,
    notice: &str,
) -> AppResult<Response> {
    let service = own_service(state, visitor, id).await?;
    match snapshots::request(
        &state.db,
        &state.provisioning,
        id,
        Some(visitor.user.id),
        None,
        visitor.user.id,
        request,
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/account/services/{id}?notice={notice}#snapshots"
        ))),
        Err(err @ AppError::NotFound("service")) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, SNAPSHOT_FIELDS)?;
            let extras = Extras {
                status: Some(failure.status),
                alert: failure.alert,
                snapshot_errors: failure.errors,
                ..Extras::default()
            };
            render_service(state, visitor, service, extras).await
        }
    }
}

async fn take_snapshot(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    Form(form): Form<SnapshotForm>,
) -> AppResult<Response> {
    let request = snapshots::Request {
        action: SnapshotAction::Create,
        name: &form.name,
        description: Some(&form.description),
        confirm: None,
    };
    snapshot_page_request(&state, &visitor, id, &request, "snapshot-requested").await
}

async fn roll_back_snapshot(
    State(state): State<AppState>,
    visitor: PageUser,
    Path((id, name)): Path<(i32, String)>,
    Form(form): Form<SnapshotForm>,
) -> AppResult<Response> {
    let request = snapshots::Request {
        action: SnapshotAction::Rollback,
        name: &name,
        description: None,
        confirm: Some(&form.confirm),
    };
    snapshot_page_request(&state, &visitor, id, &request, "rollback-requested").await
}

async fn delete_snapshot(
    State(state): State<AppState>,
    visitor: PageUser,
    Path((id, name)): Path<(i32, String)>,
) -> AppResult<Response> {
    let request = snapshots::Request {
        action: SnapshotAction::Delete,
        name: &name,
        description: None,
        confirm: None,
    };
    snapshot_page_request(&state, &visitor, id, &request, "snapshot-delete-requested").await
}

/// `GET /account/services/{id}/rdp-file`: the Remote Desktop connection file, as the API's.
async fn rdp_file(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    let service = own_service(&state, &visitor, id).await?;
    match super::access::rdp_file(&service) {
        Ok(file) => Ok(crate::web::upload::file_response(
            &super::access::rdp_file_name(&service),
            "application/x-rdp",
            file.into_bytes(),
        )),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => {
            let extras = refusal(err)?;
            render_service(&state, &visitor, service, extras).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RenewForm {
    validity_months: String,
    use_credit: Option<String>,
}

/// Raises a renewal order and sends the customer to it, where paying happens.
async fn renew(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    Form(form): Form<RenewForm>,
) -> AppResult<Response> {
    let service = own_service(&state, &visitor, id).await?;
    let months = form.validity_months.trim().parse::<i32>().ok();
    let outcome = match months {
        Some(months) => {
            crate::payments::pay::renew(
                &state.db,
                &state.provisioning,
                visitor.user.id,
                id,
                months,
                form.use_credit.is_some(),
            )
            .await
        }
        None => Err(AppError::invalid(
            "validity_months",
            "must be one of 1, 3, 6 or 12",
        )),
    };
    match outcome {
        Ok(order) => Ok(see_other(&format!("/account/orders/{}", order.id))),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, &[("validity_months", "Months")])?;
            let extras = Extras {
                status: Some(failure.status),
                alert: failure.alert,
                renew_errors: failure.errors,
                months,
                ..Extras::default()
            };
            render_service(&state, &visitor, service, extras).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_steps_read_as_words() {
        assert_eq!(
            action_label(ServiceAction::RebootRequested),
            "Restart requested"
        );
        assert_eq!(action_label(ServiceAction::PasswordReset), "Password reset");
        assert_eq!(action_label(ServiceAction::Console), "Console opened");
        assert_eq!(ServiceStatus::Failed.label(), "Setup problem");
    }
}
