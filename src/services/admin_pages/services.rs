//! `/admin/services` (every service, filtered and paged) and `/admin/services/{id}` (everything
//! about one, with the forms that change it).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::queue::render_queue;
use super::rows::{AdminServiceRow, NoticeQuery, RequestRow, admin_rows, emails_of, see_other};
use crate::accounts::extract::PageAdmin;
use crate::accounts::users;
use crate::app::AppState;
use crate::catalog::names::Names;
use crate::error::{AppError, AppResult};
use crate::orders::items;
use crate::provisioning::backends;
use crate::services::ServiceStatus;
use crate::services::lifecycle::{
    self, Acted, Credentials, ManualProvision, RequestOutcome, RequestResolution, ServiceUpdate,
};
use crate::services::logs::{self, ServiceLog};
use crate::services::pages::console::ConsolePage;
use crate::services::pages::{
    REINSTALL_FIELDS, ReinstallCard, SNAPSHOT_FIELDS, SNAPSHOT_NOTICES, SnapshotCard,
    reinstall_card, reinstall_posted, snapshot_card,
};
use crate::services::pages::{ServiceRow, action_label, outcome_label};
use crate::services::services::{self, Service, ServiceFilter};
use crate::services::snapshots::{self, SnapshotAction};
use crate::web::extract::ClientIp;
use crate::web::forms::Choice;
use crate::web::forms::{Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::Layout;
use crate::web::pages::render_with;
use crate::web::paging::{PageOf, page_number};

/// Services per page of the list.
const PER_PAGE: i64 = 25;

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ListQuery {
    status: String,
    customer: String,
    location: String,
    search: String,
    page: Option<String>,
}

/// A status choice of the filter.
pub(super) struct StatusOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/services/services.html")]
pub(super) struct ServicesPage {
    layout: Layout,
    customer: String,
    search: String,
    statuses: Vec<StatusOption>,
    locations: Vec<Choice>,
    errors: FormErrors,
    rows: Vec<AdminServiceRow>,
    list: PageOf,
    previous_href: Option<String>,
    next_href: Option<String>,
    filtered: bool,
}

/// `/admin/services?status=&customer=&location=&page=`: the customer is an account id or an
/// e-mail; a filter that names nothing shows the problem beside its field.
pub(super) async fn list_services(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Query(query): Query<ListQuery>,
) -> AppResult<Response> {
    let names = Names::load(&state.db).await?;
    let status = query.status.trim().to_owned();
    let customer = query.customer.trim().to_owned();
    let location = query.location.trim().to_owned();
    let search = query.search.trim().to_owned();
    let mut errors = FormErrors::default();

    let status_filter = match status.as_str() {
        "" => None,
        text => match text.parse::<ServiceStatus>() {
            Ok(status) => Some(status),
            Err(_) => {
                errors.add("status", "Status", "is not a service status");
                None
            }
        },
    };
    let user_id = match customer.as_str() {
        "" => None,
        text => match text.parse::<i32>() {
            Ok(id) => Some(id),
            Err(_) => match users::find_by_email(&state.db, text).await? {
                Some(user) => Some(user.id),
                None => {
                    errors.add("customer", "Customer", "no account has this e-mail or id");
                    None
                }
            },
        },
    };
    let location_id = match location.as_str() {
        "" => None,
        text => match text.parse::<i32>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("location", "Location", "is not a location");
                None
            }
        },
    };
    let filter = ServiceFilter {
        status: status_filter,
        user_id,
        location_id,
        search: Some(search.as_str()).filter(|s| !s.is_empty()),
    };
    let (rows, list, next) = if errors.is_empty() {
        let total = services::count(&state.db, &filter).await?;
        let list = PageOf::new(total, page_number(query.page.as_deref()), PER_PAGE);
        let services = services::list(&state.db, &filter, PER_PAGE, list.offset(PER_PAGE)).await?;
        let next = list.next(services.len(), PER_PAGE);
        (admin_rows(&state, &names, &services).await?, list, next)
    } else {
        (Vec::new(), PageOf::nothing(), None)
    };
    let pairs: Vec<(&str, &str)> = [
        ("status", status.as_str()),
        ("customer", customer.as_str()),
        ("location", location.as_str()),
        ("search", search.as_str()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let href = |page: i64| {
        let mut pairs = pairs.clone();
        let page = page.to_string();
        if page != "1" {
            pairs.push(("page", &page));
        }
        match serde_urlencoded::to_string(&pairs).unwrap_or_default() {
            query if query.is_empty() => "/admin/services".to_owned(),
            query => format!("/admin/services?{query}"),
        }
    };
    let statuses = ServiceStatus::ALL
        .iter()
        .map(|s| StatusOption {
            value: s.as_str(),
            label: s.label(),
            selected: s.as_str() == status,
        })
        .collect();
    render_with(
        if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        },
        &ServicesPage {
            layout: Layout::for_page("Services", &admin.context),
            locations: names.location_options(location_id),
            statuses,
            errors,
            rows,
            list,
            previous_href: list.previous().map(href),
            next_href: next.map(href),
            filtered: !pairs.is_empty(),
            customer,
            search,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// One service

/// A log line as the operator sees it: everything, with who acted.
pub(super) struct LogRow {
    when: String,
    action: crate::services::ServiceAction,
    what: String,
    status: String,
    outcome: &'static str,
    details: Option<String>,
    by: String,
}

/// The credential fields of the provision and correction forms, as typed (never the password).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CredentialsForm {
    hostname: String,
    ip_address: String,
    username: String,
    password: String,
}

pub(super) const CREDENTIAL_FIELDS: &[(&str, &str)] = &[
    ("hostname", "Hostname"),
    ("ip_address", "IP address"),
    ("username", "Username"),
    ("password", "Password"),
];

/// Who owns the service.
pub(super) struct Owner {
    id: i32,
    name: String,
    email: String,
}

/// The backend that built the service.
pub(super) struct BackendLink {
    id: i32,
    name: String,
}

/// Which form of the page failed, to show its problems beside its own fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Which {
    #[default]
    None,
    Provision,
    Suspend,
    Terminate,
    Update,
}

#[derive(Template)]
#[template(path = "admin/services/service.html")]
pub(super) struct ServicePage {
    layout: Layout,
    notice: Option<Notice>,
    alert: Option<String>,
    service: Service,
    row: ServiceRow,
    customer: Option<Owner>,
    order_id: Option<i32>,
    backend: Option<BackendLink>,
    step: String,
    /// How long one renewal period lasts, in words.
    period: String,
    created: String,
    last_renewal: String,
    terminated: String,
    logs: Vec<LogRow>,
    /// The customer's requests still open, each with its forms.
    requests: Vec<RequestRow>,
    credentials: Option<Credentials>,
    can_provision: bool,
    can_suspend: bool,
    can_resume: bool,
    can_terminate: bool,
    can_retry: bool,
    can_reveal: bool,
    /// An active server built on Proxmox: its console can open.
    can_console: bool,
    /// The same usage card as the customer's page.
    usage: Option<crate::services::pages::usage::UsageCard>,
    /// The same snapshots card, its forms posting to the operator's routes.
    snapshots: Option<Result<SnapshotCard, String>>,
    snapshot_base: String,
    snapshot_errors: FormErrors,
    /// The same reinstall card, posting to the operator's route.
    reinstall_card: Option<ReinstallCard>,
    reinstall_errors: FormErrors,
    provision_form: CredentialsForm,
    provision_errors: FormErrors,
    update_form: CredentialsForm,
    update_errors: FormErrors,
    suspend_reason: String,
    suspend_errors: FormErrors,
    terminate_errors: FormErrors,
}

/// What the page shows besides the service: a notice, a failed form, revealed credentials.
#[derive(Default)]
pub(super) struct Extras {
    status: Option<StatusCode>,
    notice: Option<Notice>,
    alert: Option<String>,
    failed: Which,
    errors: FormErrors,
    form: CredentialsForm,
    reason: String,
    credentials: Option<Credentials>,
    /// The usage card's range (`?range=`; 24 hours by default).
    range: Option<crate::services::usage::Range>,
    /// A refused snapshot form's errors.
    snapshot_errors: Option<FormErrors>,
    /// A refused reinstall form's errors, and the form.
    reinstall_errors: Option<FormErrors>,
    reinstall_posted: Option<crate::services::reinstall::ReinstallRequest>,
}

impl Extras {
    /// A refusal of `form` (whose fields are `labels`) sorted onto the page; a 409 is its alert.
    fn refused(err: AppError, failed: Which, labels: &[(&str, &str)]) -> AppResult<Self> {
        let failure = Failure::from_error(err, labels)?;
        Ok(Self {
            status: Some(failure.status),
            alert: failure.alert,
            errors: failure.errors,
            failed,
            ..Self::default()
        })
    }
}

pub(super) async fn find_service(state: &AppState, id: i32) -> AppResult<Service> {
    services::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("service"))
}

pub(super) async fn render_service(
    state: &AppState,
    admin: &PageAdmin,
    service: Service,
    extras: Extras,
) -> AppResult<Response> {
    let names = Names::load(&state.db).await?;
    let customer = match service.user_id {
        Some(id) => users::find(&state.db, id).await?.map(|u| Owner {
            id: u.id,
            name: u.name,
            email: u.email,
        }),
        None => None,
    };
    let order_id = match service.order_item_id {
        Some(item) => items::find(&state.db, item).await?.and_then(|i| i.order_id),
        None => None,
    };
    let backend = match service.backend_id {
        Some(id) => backends::find(&state.db, id).await?.map(|b| BackendLink {
            id: b.id,
            name: b.name,
        }),
        None => None,
    };
    let list = logs::list_for_service(&state.db, service.id).await?;
    let emails = emails_of(state, list.iter().filter_map(|l| l.performed_by).collect()).await?;
    let requests = list
        .iter()
        .filter(|log| log.status == "pending" && log.action.asked().is_some())
        .filter_map(|log| RequestRow::new(log, None, String::new()))
        .collect();
    let logs = list
        .iter()
        .map(|log: &ServiceLog| LogRow {
            when: pkt(log.created_at),
            action: log.action,
            what: action_label(log.action),
            status: log.status.clone(),
            outcome: outcome_label(&log.status),
            details: log.details.clone(),
            by: log
                .performed_by
                .and_then(|id| emails.get(&id).cloned())
                .unwrap_or_else(|| "system".to_owned()),
        })
        .collect();
    let status = service.status;
    let Extras {
        status: http_status,
        notice,
        alert,
        failed,
        errors,
        form,
        reason,
        credentials,
        range,
        snapshot_errors,
        reinstall_errors,
        reinstall_posted,
    } = extras;
    let (mut provision_errors, mut update_errors, mut suspend_errors, mut terminate_errors) = (
        FormErrors::default(),
        FormErrors::default(),
        FormErrors::default(),
        FormErrors::default(),
    );
    let (mut provision_form, mut update_form) =
        (CredentialsForm::default(), CredentialsForm::default());
    match failed {
        Which::Provision => (provision_errors, provision_form) = (errors, form),
        Which::Update => (update_errors, update_form) = (errors, form),
        Which::Suspend => suspend_errors = errors,
        Which::Terminate => terminate_errors = errors,
        Which::None => {}
    }
    // The correction form starts from what is recorded (the password stays write-only).
    if failed != Which::Update {
        update_form = CredentialsForm {
            hostname: service.hostname.clone().unwrap_or_default(),
            ip_address: service.ip_address.clone().unwrap_or_default(),
            username: service.username.clone().unwrap_or_default(),
            password: String::new(),
        };
    }
    provision_form.password = String::new();
    update_form.password = String::new();
    let revealed = credentials.is_some();
    let usage = crate::services::pages::usage::usage_card(
        &state.db,
        &service,
        range.unwrap_or(crate::services::usage::Range::Day),
    )
    .await?;
    let snapshots = snapshot_card(state, &service).await?;
    let reinstall_card = reinstall_card(state, &service, reinstall_posted.as_ref()).await?;
    let page = ServicePage {
        usage,
        snapshots,
        snapshot_base: format!("/admin/services/{}", service.id),
        snapshot_errors: snapshot_errors.unwrap_or_default(),
        reinstall_card,
        reinstall_errors: reinstall_errors.unwrap_or_default(),
        layout: Layout::for_page(format!("Service #{}", service.id), &admin.0.context),
        notice,
        alert,
        row: ServiceRow::new(&service, &names),
        customer,
        order_id,
        backend,
        step: service.provisioning_step.label(),
        period: match service.validity_months {
            Some(1) => "1 month".to_owned(),
            Some(months) => format!("{months} months"),
            None => "—".to_owned(),
        },
        created: pkt(service.created_at),
        last_renewal: pkt(service.last_renewal_date),
        terminated: pkt(service.termination_date),
        logs,
        requests,
        credentials,
        can_provision: matches!(status, ServiceStatus::Provisioning | ServiceStatus::Failed)
            && service.backend_id.is_none(),
        can_suspend: status == ServiceStatus::Active,
        can_resume: status == ServiceStatus::Suspended,
        can_terminate: status != ServiceStatus::Terminated,
        can_retry: status == ServiceStatus::Failed,
        can_reveal: service.password_encrypted.is_some(),
        can_console: service.status == ServiceStatus::Active
            && service.backend_id.is_some()
            && service.vmid.is_some(),
        provision_form,
        provision_errors,
        update_form,
        update_errors,
        suspend_reason: reason,
        suspend_errors,
        terminate_errors,
        service,
    };
    let mut response = render_with(http_status.unwrap_or(StatusCode::OK), &page)?;
    if revealed {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, private"),
        );
    }
    Ok(response)
}

pub(super) const SERVICE_NOTICES: &[(&str, &str, &str)] = &[
    (
        "provisioned",
        "success",
        "The service is active and the customer was e-mailed.",
    ),
    ("suspended", "success", "The service is suspended."),
    ("resumed", "success", "The service is active again."),
    (
        "terminated",
        "success",
        "The service is terminated: its server is being deleted and its address held back.",
    ),
    (
        "retried",
        "success",
        "Provisioning was queued again; it resumes from its last step.",
    ),
    ("updated", "success", "The service's details are saved."),
    (
        "request-done",
        "success",
        "The request is marked done and the customer was e-mailed.",
    ),
    (
        "request-declined",
        "success",
        "The request is declined and the customer was e-mailed your note.",
    ),
];

pub(super) async fn service_page(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<i32>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let service = find_service(&state, id).await?;
    let extras = Extras {
        notice: notice(query.notice.as_deref(), SERVICE_NOTICES)
            .or_else(|| notice(query.notice.as_deref(), SNAPSHOT_NOTICES)),
        range: query.range.as_deref().and_then(|r| r.parse().ok()),
        ..Extras::default()
    };
    render_service(&state, &admin, service, extras).await
}

/// After a change: back to the page with its notice, or the page again with the refusal.
pub(super) async fn after(
    state: &AppState,
    admin: &PageAdmin,
    id: i32,
    outcome: AppResult<Acted>,
    code: &str,
    refused: impl FnOnce(AppError) -> AppResult<Extras>,
) -> AppResult<Response> {
    match outcome {
        Ok(_) => Ok(see_other(&format!("/admin/services/{id}?notice={code}"))),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => {
            let extras = refused(err)?;
            let service = find_service(state, id).await?;
            render_service(state, admin, service, extras).await
        }
    }
}

/// Provisions a manual service by hand with the details the operator typed.
pub(super) async fn provision(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<CredentialsForm>,
) -> AppResult<Response> {
    let input = ManualProvision {
        hostname: form.hostname.trim().to_owned(),
        ip_address: form.ip_address.trim().to_owned(),
        username: form.username.trim().to_owned(),
        password: form.password.clone(),
    };
    let actor = admin.0.actor(&ip);
    let outcome =
        lifecycle::provision_by_hand(&state.db, &state.provisioning, &actor, id, &input).await;
    after(&state, &admin, id, outcome, "provisioned", |err| {
        let mut extras = Extras::refused(err, Which::Provision, CREDENTIAL_FIELDS)?;
        extras.form = form;
        Ok(extras)
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SuspendForm {
    reason: String,
}

pub(super) async fn suspend(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<SuspendForm>,
) -> AppResult<Response> {
    let reason = form.reason.trim();
    let outcome = if reason.is_empty() {
        Err(AppError::invalid("reason", "is required"))
    } else if reason.chars().count() > 255 {
        Err(AppError::invalid(
            "reason",
            "must be at most 255 characters",
        ))
    } else {
        let actor = admin.0.actor(&ip);
        lifecycle::suspend(&state.db, &actor, id, Some(reason)).await
    };
    after(&state, &admin, id, outcome, "suspended", |err| {
        let mut extras = Extras::refused(err, Which::Suspend, &[("reason", "Reason")])?;
        extras.reason = form.reason.chars().take(255).collect();
        Ok(extras)
    })
    .await
}

pub(super) async fn resume(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    let actor = admin.0.actor(&ip);
    let outcome = lifecycle::resume(&state.db, &actor, id).await;
    after(&state, &admin, id, outcome, "resumed", |err| {
        Extras::refused(err, Which::None, &[])
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TerminateForm {
    confirm: String,
}

/// Terminates only when the operator ticked the confirmation: deleting a server is final.
pub(super) async fn terminate(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<TerminateForm>,
) -> AppResult<Response> {
    let outcome = if form.confirm == "yes" {
        let actor = admin.0.actor(&ip);
        lifecycle::terminate(&state.db, &actor, id).await
    } else {
        Err(AppError::invalid(
            "confirm",
            "Tick the box to confirm that the server and its data are deleted for good",
        ))
    };
    after(&state, &admin, id, outcome, "terminated", |err| {
        Extras::refused(err, Which::Terminate, &[("confirm", "Confirmation")])
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RetryForm {
    /// `queue` when the button was on the provisioning queue (go back there).
    from: String,
}

pub(super) async fn retry(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<RetryForm>,
) -> AppResult<Response> {
    let actor = admin.0.actor(&ip);
    let outcome = lifecycle::retry(&state.db, &actor, id).await;
    if form.from == "queue" {
        return match outcome {
            Ok(_) => Ok(see_other("/admin/provisioning?notice=service-retried")),
            Err(AppError::Conflict { .. }) => {
                Ok(see_other("/admin/provisioning?notice=service-not-failed"))
            }
            Err(err) => Err(err),
        };
    }
    after(&state, &admin, id, outcome, "retried", |err| {
        Extras::refused(err, Which::None, &[])
    })
    .await
}

/// Corrects the recorded details: a blank field stays as it is (the password included).
pub(super) async fn update(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<CredentialsForm>,
) -> AppResult<Response> {
    let service = find_service(&state, id).await?;
    let changed = |typed: &str, recorded: Option<&str>| {
        let typed = typed.trim();
        (!typed.is_empty() && Some(typed) != recorded).then(|| typed.to_owned())
    };
    let input = ServiceUpdate {
        hostname: changed(&form.hostname, service.hostname.as_deref()),
        ip_address: changed(&form.ip_address, service.ip_address.as_deref()),
        username: changed(&form.username, service.username.as_deref()),
        password: (!form.password.is_empty()).then(|| form.password.clone()),
    };
    if (input.username.is_some() || input.password.is_some())
        && let Some(step_up) = admin.0.two_factor_step_up(&format!("/admin/services/{id}"))
    {
        return Ok(step_up);
    }
    let actor = admin.0.actor(&ip);
    let outcome = lifecycle::update(&state.db, &state.provisioning, &actor, id, &input).await;
    after(&state, &admin, id, outcome, "updated", |err| {
        let mut extras = Extras::refused(err, Which::Update, CREDENTIAL_FIELDS)?;
        extras.form = form;
        Ok(extras)
    })
    .await
}

/// Opens the service's credentials for the operator (logged by `lifecycle`).
pub(super) async fn reveal(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    if let Some(step_up) = admin.0.two_factor_step_up(&format!("/admin/services/{id}")) {
        return Ok(step_up);
    }
    let service = find_service(&state, id).await?;
    let actor = admin.0.actor(&ip);
    let outcome =
        lifecycle::reveal_credentials_to_operator(&state.db, &state.provisioning, &actor, id).await;
    let extras = match outcome {
        Ok(credentials) => Extras {
            credentials: Some(credentials),
            ..Extras::default()
        },
        Err(err @ AppError::NotFound(_)) => return Err(err),
        Err(err) => Extras::refused(err, Which::None, &[])?,
    };
    // Re-read: revealing writes a log line the page shows.
    let service = services::find(&state.db, id).await?.unwrap_or(service);
    render_service(&state, &admin, service, extras).await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct ResolveForm {
    outcome: String,
    note: String,
    /// A password reset's new password; empty keeps the recorded one.
    password: String,
    /// `queue` when the form was on the provisioning queue (go back there).
    from: String,
}

/// The fields of the request forms, to name a problem in the alert.
pub(super) const REQUEST_FIELDS: &[(&str, &str)] = &[
    ("outcome", "Outcome"),
    ("note", "Note"),
    ("password", "New password"),
];

/// Closes a customer's request (done, or declined with a note), from the queue or the service
/// page, and goes back there with a notice; a refusal shows that page again with its reason.
pub(super) async fn resolve_request(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path((id, log_id)): Path<(i32, i32)>,
    Form(form): Form<ResolveForm>,
) -> AppResult<Response> {
    let outcome = match form.outcome.as_str() {
        "done" => Ok(RequestOutcome::Done),
        "declined" => Ok(RequestOutcome::Declined),
        _ => Err(AppError::invalid("outcome", "must be done or declined")),
    };
    let outcome = match outcome {
        Ok(outcome) => {
            let resolution = RequestResolution {
                outcome,
                note: Some(form.note.clone()),
                password: (!form.password.is_empty()).then(|| form.password.clone()),
            };
            let actor = admin.0.actor(&ip);
            lifecycle::resolve_request(
                &state.db,
                &state.provisioning,
                &actor,
                id,
                log_id,
                &resolution,
            )
            .await
        }
        Err(err) => Err(err),
    };
    let code = match form.outcome.as_str() {
        "declined" => "request-declined",
        _ => "request-done",
    };
    // A refusal names the request: the page may list several.
    let refusal = |err: AppError| -> AppResult<Failure> {
        let mut failure = Failure::from_error(err, REQUEST_FIELDS)?;
        let problem = failure.alert.take().or_else(|| {
            REQUEST_FIELDS
                .iter()
                .find_map(|(field, _)| failure.errors.get(field).map(str::to_owned))
        });
        failure.alert = problem.map(|problem| format!("Request #{log_id}: {problem}"));
        Ok(failure)
    };
    if form.from == "queue" {
        return match outcome {
            Ok(_) => Ok(see_other(&format!("/admin/provisioning?notice={code}"))),
            Err(err @ AppError::NotFound(_)) => Err(err),
            Err(err) => {
                let failure = refusal(err)?;
                render_queue(&state, &admin, failure.status, None, failure.alert).await
            }
        };
    }
    after(&state, &admin, id, outcome, code, |err| {
        let failure = refusal(err)?;
        Ok(Extras {
            status: Some(failure.status),
            alert: failure.alert,
            ..Extras::default()
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The provisioning queue

/// `GET /admin/services/{id}/console`: the operator's browser console of any active Proxmox
/// service (after a fresh second factor, as for the password).
pub(super) async fn console(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    let back = format!("/admin/services/{id}");
    if let Some(step_up) = admin.0.two_factor_step_up(&format!("{back}/console")) {
        return Ok(step_up);
    }
    let service = find_service(&state, id).await?;
    let outcome = crate::services::console::grant(
        &state.db,
        &state.consoles,
        service.id,
        None,
        admin.0.user.id,
        admin.0.session_id,
    )
    .await;
    let layout = Layout::for_page(format!("Console · Server #{id}"), &admin.0.context);
    let (status, page) = ConsolePage::build(layout, id, back, outcome)?;
    page.respond(status)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SnapshotForm {
    name: String,
    description: String,
    confirm: String,
}

/// An operator's snapshot request from the page (audited): back to the page with a notice, or
/// the page again with what was wrong.
async fn operator_snapshot(
    state: &AppState,
    admin: &PageAdmin,
    ip: &str,
    id: i32,
    request: &snapshots::Request<'_>,
    code: &str,
) -> AppResult<Response> {
    let service = find_service(state, id).await?;
    let actor = admin.0.actor(ip);
    let outcome = snapshots::request(
        &state.db,
        &state.provisioning,
        id,
        None,
        Some(&actor),
        admin.0.user.id,
        request,
    )
    .await;
    match outcome {
        Ok(_) => Ok(see_other(&format!(
            "/admin/services/{id}?notice={code}#snapshots"
        ))),
        Err(err @ AppError::NotFound("service")) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, SNAPSHOT_FIELDS)?;
            let extras = Extras {
                status: Some(failure.status),
                alert: failure.alert,
                snapshot_errors: Some(failure.errors),
                ..Extras::default()
            };
            render_service(state, admin, service, extras).await
        }
    }
}

pub(super) async fn take_snapshot(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<SnapshotForm>,
) -> AppResult<Response> {
    let request = snapshots::Request {
        action: SnapshotAction::Create,
        name: &form.name,
        description: Some(&form.description),
        confirm: None,
    };
    operator_snapshot(&state, &admin, &ip, id, &request, "snapshot-requested").await
}

pub(super) async fn roll_back_snapshot(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path((id, name)): Path<(i32, String)>,
    Form(form): Form<SnapshotForm>,
) -> AppResult<Response> {
    let request = snapshots::Request {
        action: SnapshotAction::Rollback,
        name: &name,
        description: None,
        confirm: Some(&form.confirm),
    };
    operator_snapshot(&state, &admin, &ip, id, &request, "rollback-requested").await
}

pub(super) async fn delete_snapshot(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path((id, name)): Path<(i32, String)>,
) -> AppResult<Response> {
    let request = snapshots::Request {
        action: SnapshotAction::Delete,
        name: &name,
        description: None,
        confirm: None,
    };
    operator_snapshot(
        &state,
        &admin,
        &ip,
        id,
        &request,
        "snapshot-delete-requested",
    )
    .await
}

/// `POST /admin/services/{id}/reinstall`: the operator's reinstall (audited; no daily limit).
pub(super) async fn reinstall(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let service = find_service(&state, id).await?;
    let actor = admin.0.actor(&ip);
    let requester = crate::services::reinstall::Requester::Operator(&actor, admin.0.user.id);
    let (posted, outcome) = reinstall_posted(&state, id, &requester, pairs).await;
    match outcome {
        Ok(_) => Ok(see_other(&format!(
            "/admin/services/{id}?notice=reinstall-requested#reinstall"
        ))),
        Err(err @ AppError::NotFound("service")) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, REINSTALL_FIELDS)?;
            let extras = Extras {
                status: Some(failure.status),
                alert: failure.alert,
                reinstall_errors: Some(failure.errors),
                reinstall_posted: posted,
                ..Extras::default()
            };
            render_service(&state, &admin, service, extras).await
        }
    }
}
