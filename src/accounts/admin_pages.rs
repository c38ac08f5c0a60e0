//! The owner's records: `/admin/audit`, the audit log filtered by operator, entity, action and
//! PKT days, each entry with what it changed, field by field.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;

use super::admin::{AuditLine, AuditQuery, audit_page};
use super::extract::PageAdmin;
use super::users;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::forms::pkt;
use crate::web::pages::{Layout, render};
use crate::web::paging::PageOf;

/// Entries per page.
const PER_PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit", get(audit_log))
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
                .map(|c| {
                    (
                        c.field,
                        c.before.unwrap_or_else(|| "—".into()),
                        c.after.unwrap_or_else(|| "—".into()),
                    )
                })
                .collect(),
            ip: entry.ip_address.unwrap_or_default(),
        }
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
