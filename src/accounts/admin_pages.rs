//! The owner's pages: `/admin/audit`, the audit log filtered by operator, entity, action and
//! PKT days, each entry with what it changed, field by field; and `/admin/staff`, the staff with
//! their roles, the role change and the invitation form.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::Role;
use super::admin::{AuditLine, AuditQuery, audit_page};
use super::extract::PageAdmin;
use super::users;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;
use crate::web::forms::{Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::{Layout, render, render_with};
use crate::web::paging::PageOf;

/// Entries per page.
const PER_PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(audit_log))
        .route("/admin/staff", get(staff_page).post(invite))
        .route("/admin/staff/{id}/role", axum::routing::post(change_role))
}

/// A staff member as a row.
struct StaffRow {
    id: i32,
    name: String,
    email: String,
    role: Role,
    two_factor: bool,
    invited: bool,
    last_login: String,
    is_self: bool,
}

impl StaffPage {
    /// The role chosen in the invitation form (kept when it comes back refused).
    fn role_str(&self) -> &str {
        self.role.trim()
    }
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct StaffPage {
    layout: Layout,
    notice: Option<Notice>,
    rows: Vec<StaffRow>,
    roles: Vec<(Role, &'static str)>,
    errors: FormErrors,
    alert: Option<String>,
    invite_name: String,
    invite_email: String,
    role: String,
    operator_two_factor: &'static str,
}

const STAFF_NOTICES: &[(&str, &str, &str)] = &[
    (
        "invited",
        "success",
        "Invitation sent: they choose a password from the e-mailed link, then set up two-factor sign-in.",
    ),
    (
        "role-changed",
        "success",
        "Role changed; their sessions ended, so they log in again into what the role opens.",
    ),
    (
        "self",
        "error",
        "You cannot change your own role: another owner can.",
    ),
    (
        "last-owner",
        "error",
        "That is the last owner: make someone else owner first.",
    ),
];

const INVITE_FIELDS: &[(&str, &str)] = &[("name", "Name"), ("email", "E-mail"), ("role", "Role")];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StaffQuery {
    notice: Option<String>,
}

async fn staff_view(
    state: &AppState,
    owner: &super::extract::PageUser,
    notice_code: Option<&str>,
    failure: Option<(FormErrors, Option<String>)>,
    form: &InviteForm,
) -> AppResult<StaffPage> {
    let rows = users::list_staff(&state.db)
        .await?
        .into_iter()
        .map(|u| StaffRow {
            two_factor: u.two_factor_enabled_at.is_some(),
            invited: !u.is_verified(),
            last_login: pkt(u.last_login_at),
            is_self: u.id == owner.user.id,
            role: u.role,
            id: u.id,
            name: u.name,
            email: u.email,
        })
        .collect();
    let (errors, alert) = failure.unwrap_or_default();
    Ok(StaffPage {
        layout: Layout::for_page("Staff", &owner.context),
        notice: notice(notice_code, STAFF_NOTICES),
        rows,
        roles: Role::STAFF
            .into_iter()
            .map(|r| (r, super::staff_admin::role_in_words(r)))
            .collect(),
        errors,
        alert,
        invite_name: form.name.clone(),
        invite_email: form.email.clone(),
        role: form.role.clone(),
        operator_two_factor: match state.settings.operator_two_factor {
            super::two_factor::OperatorPolicy::Required => "required",
            _ => "optional",
        },
    })
}

async fn staff_page(
    State(state): State<AppState>,
    PageAdmin(owner): PageAdmin,
    Query(query): Query<StaffQuery>,
) -> AppResult<Response> {
    render(
        &staff_view(
            &state,
            &owner,
            query.notice.as_deref(),
            None,
            &InviteForm::default(),
        )
        .await?,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InviteForm {
    name: String,
    email: String,
    role: String,
}

async fn invite(
    State(state): State<AppState>,
    PageAdmin(owner): PageAdmin,
    ClientIp(ip): ClientIp,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    let outcome = match Role::parse(form.role.trim()).filter(|r| r.is_staff()) {
        None => Err(AppError::invalid("role", "choose one of the staff roles")),
        Some(role) => {
            super::staff_admin::invite(&state, &owner.actor(&ip), &form.name, &form.email, role)
                .await
        }
    };
    match outcome {
        Ok(_) => Ok(Redirect::to("/admin/staff?notice=invited").into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, INVITE_FIELDS)?;
            let status = failure.status;
            let page = staff_view(
                &state,
                &owner,
                None,
                Some((failure.errors, failure.alert)),
                &form,
            )
            .await?;
            render_with(status, &page)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RoleForm {
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    PageAdmin(owner): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<RoleForm>,
) -> AppResult<Response> {
    let Some(role) = Role::parse(form.role.trim()) else {
        return Err(AppError::bad_request(
            "role",
            format!("must be one of {}", Role::spellings()),
        ));
    };
    let code = match super::staff_admin::set_role(&state, &owner.actor(&ip), id, role).await {
        Ok(_) => "role-changed",
        Err(AppError::Conflict { field, .. }) if field.as_deref() == Some("id") => "self",
        Err(AppError::Conflict { .. }) => "last-owner",
        Err(err) => return Err(err),
    };
    Ok(Redirect::to(&format!("/admin/staff?notice={code}")).into_response())
}

/// An entry as a row.
struct Row {
    when: String,
    actor: Option<(i32, String)>,
    action: String,
    entity: String,
    /// The entity's page in the back office, where it has one.
    href: Option<String>,
    changes: Vec<(String, String, String)>,
    ip: String,
}

/// The back office's page of an entity, by its type.
fn entity_href(entity_type: &str, id: &str) -> Option<String> {
    let base = match entity_type {
        "user" => "/admin/customers",
        "payment" => "/admin/payments",
        "order" => "/admin/orders",
        "service" => "/admin/services",
        "ticket" => "/admin/tickets",
        "plan" => "/admin/catalog/plans",
        "promo_code" => "/admin/promo-codes",
        "provisioning_backend" => "/admin/backends",
        _ => return None,
    };
    Some(format!("{base}/{id}"))
}

impl Row {
    fn new(line: AuditLine) -> Self {
        let entry = line.entry;
        let id = entry.entity_id.clone().unwrap_or_default();
        Self {
            when: pkt(Some(entry.created_at)),
            actor: entry.actor_user_id.zip(line.actor_name),
            href: entity_href(&entry.entity_type, &id),
            entity: if id.is_empty() {
                entry.entity_type.clone()
            } else {
                format!("{} {id}", entry.entity_type)
            },
            action: entry.action,
            changes: line
                .changes
                .into_iter()
                .map(|c| (c.field, readable(c.before), readable(c.after)))
                .collect(),
            ip: entry.ip_address.unwrap_or_default(),
        }
    }
}

/// A changed value as the operator reads it: a moment in PKT (`6 Dec 2026, 02:55 PKT`),
/// nothing as "—".
fn readable(value: Option<String>) -> String {
    match value.as_deref() {
        None | Some("null") => "—".to_owned(),
        Some(text) => match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(moment) => pkt(Some(moment.with_timezone(&chrono::Utc))),
            Err(_) => text.to_owned(),
        },
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    query: AuditQuery,
    staff: Vec<(i32, String)>,
    rows: Vec<Row>,
    list: PageOf,
    previous_href: Option<String>,
    next_href: Option<String>,
}

impl AuditPage {
    fn field<'a>(&self, value: &'a Option<String>) -> &'a str {
        value.as_deref().unwrap_or("")
    }

    fn actor_selected(&self, id: &i32) -> bool {
        self.query.actor.as_deref().map(str::trim) == Some(id.to_string().as_str())
    }
}

/// The list's address with the same filters on `page`.
fn href(query: &AuditQuery, page: i64) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let fields = [
        ("actor", &query.actor),
        ("entity_type", &query.entity_type),
        ("entity_id", &query.entity_id),
        ("action", &query.action),
        ("from", &query.from),
        ("to", &query.to),
    ];
    for (name, value) in &fields {
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            pairs.push((name, value));
        }
    }
    let page = page.to_string();
    pairs.push(("page", &page));
    format!(
        "/admin/audit?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

async fn audit_log(
    State(state): State<AppState>,
    PageAdmin(owner): PageAdmin,
    Query(query): Query<AuditQuery>,
) -> AppResult<Response> {
    let filter = query.filter()?;
    let page = query.page()?;
    let (lines, total) = audit_page(&state.db, &filter, PER_PAGE, (page - 1) * PER_PAGE).await?;
    let list = PageOf::new(total, page, PER_PAGE);
    let next = list.next(lines.len(), PER_PAGE);
    let staff = users::list_staff(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, format!("{} ({})", u.name, u.role)))
        .collect();
    render(&AuditPage {
        layout: Layout::for_page("Audit log", &owner.context),
        rows: lines.into_iter().map(Row::new).collect(),
        previous_href: list.previous().map(|p| href(&query, p)),
        next_href: next.map(|p| href(&query, p)),
        staff,
        list,
        query,
    })
}
