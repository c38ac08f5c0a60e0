//! The operator's tickets as pages: `/admin/tickets` (the queue, by status and department) and
//! `/admin/tickets/{id}` (the conversation with internal notes, the reply or note form, and
//! status, priority and assignment). The same audited verbs as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::pages::{MessageRow, TicketRow};
use super::tickets::{self, QueueFilter, TicketChange};
use super::{Department, Priority, TicketStatus};
use crate::accounts::extract::PageAdmin;
use crate::accounts::users;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;
use crate::web::forms::{Choice, Failure, FormErrors, Notice, notice};
use crate::web::pages::{Layout, render_with};
use crate::web::paging::{PageOf, page_number};

const PER_PAGE: i64 = 25;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/tickets", get(queue))
        .route("/admin/tickets/{id}", get(show).post(update))
        .route("/admin/tickets/{id}/messages", post(write))
}

const NOTICES: &[(&str, &str, &str)] = &[
    ("sent", "success", "Your reply is sent to the customer."),
    (
        "noted",
        "success",
        "Your note is kept (the customer does not see it).",
    ),
    ("updated", "success", "The ticket is updated."),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct QueueQuery {
    status: String,
    department: String,
    page: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct WriteForm {
    message: String,
    internal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct UpdateForm {
    status: String,
    priority: String,
    /// `me`, `nobody`, or empty (unchanged).
    assign: String,
}

struct QueueRow {
    row: TicketRow,
    priority: String,
    customer: String,
}

#[derive(Template)]
#[template(path = "admin/support/tickets.html")]
struct QueuePage {
    layout: Layout,
    status: String,
    departments: Vec<Choice>,
    rows: Vec<QueueRow>,
    list: PageOf,
    alert: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/support/ticket.html")]
struct TicketPage {
    layout: Layout,
    notice: Option<Notice>,
    row: TicketRow,
    messages: Vec<MessageRow>,
    operator_view: bool,
    customer: String,
    customer_id: i32,
    priority: String,
    assignee: String,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    reply: String,
    errors: FormErrors,
}

async fn queue(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Query(query): Query<QueueQuery>,
) -> AppResult<Response> {
    let layout = Layout::for_page("Tickets", &admin.context);
    let departments = Department::ALL
        .iter()
        .map(|d| Choice {
            value: d.as_str().to_owned(),
            label: d.label().to_owned(),
            selected: d.as_str() == query.department.trim(),
        })
        .collect();
    let status = query.status.trim().to_owned();
    let (filter_status, all) = match status.as_str() {
        "" | "open" => (None, false),
        "all" => (None, true),
        text => match TicketStatus::parse(text) {
            Some(s) => (Some(s), false),
            None => {
                return render_with(
                    StatusCode::BAD_REQUEST,
                    &QueuePage {
                        layout,
                        status,
                        departments,
                        rows: Vec::new(),
                        list: PageOf::nothing(),
                        alert: Some(format!(
                            "Status must be open, all or one of {}.",
                            TicketStatus::spellings()
                        )),
                    },
                );
            }
        },
    };
    let filter = QueueFilter {
        status: filter_status,
        all,
        department: Department::parse(query.department.trim()),
    };
    let total = tickets::queue_count(&state.db, &filter).await?;
    let list = PageOf::new(total, page_number(query.page.as_deref()), PER_PAGE);
    let found = tickets::queue(&state.db, &filter, PER_PAGE, list.offset(PER_PAGE)).await?;
    let mut rows = Vec::with_capacity(found.len());
    for ticket in &found {
        let customer = users::find(&state.db, ticket.user_id)
            .await?
            .map_or_else(|| "—".to_owned(), |u| format!("{} <{}>", u.name, u.email));
        rows.push(QueueRow {
            row: TicketRow::of(ticket, true),
            priority: ticket.priority.to_string(),
            customer,
        });
    }
    render_with(
        StatusCode::OK,
        &QueuePage {
            layout,
            status,
            departments,
            rows,
            list,
            alert: None,
        },
    )
}

async fn ticket_page(
    state: &AppState,
    admin: &crate::accounts::extract::PageUser,
    id: i32,
    status: StatusCode,
    notice: Option<Notice>,
    reply: String,
    errors: FormErrors,
) -> AppResult<Response> {
    let detail = tickets::detail(state, id, None).await?;
    let ticket = &detail.ticket;
    let customer = users::find(&state.db, ticket.user_id)
        .await?
        .map_or_else(|| "—".to_owned(), |u| format!("{} <{}>", u.name, u.email));
    let assignee = match ticket.assignee_id {
        Some(id) => users::find(&state.db, id)
            .await?
            .map_or_else(|| "—".to_owned(), |u| u.name),
        None => "nobody".to_owned(),
    };
    let choices = |all: Vec<(String, String)>, current: &str| -> Vec<Choice> {
        all.into_iter()
            .map(|(value, label)| Choice {
                selected: value == current,
                value,
                label,
            })
            .collect()
    };
    render_with(
        status,
        &TicketPage {
            layout: Layout::for_page(format!("Ticket #{id}"), &admin.context),
            notice,
            row: TicketRow::of(ticket, true),
            messages: MessageRow::of(&detail),
            operator_view: true,
            customer,
            customer_id: ticket.user_id,
            priority: ticket.priority.to_string(),
            assignee,
            statuses: choices(
                TicketStatus::ALL
                    .iter()
                    .map(|s| (s.as_str().to_owned(), s.operator_label().to_owned()))
                    .collect(),
                ticket.status.as_str(),
            ),
            priorities: choices(
                Priority::ALL
                    .iter()
                    .map(|p| (p.as_str().to_owned(), p.as_str().to_owned()))
                    .collect(),
                ticket.priority.as_str(),
            ),
            reply,
            errors,
        },
    )
}

async fn show(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Path(id): Path<i32>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), NOTICES);
    ticket_page(
        &state,
        &admin,
        id,
        StatusCode::OK,
        notice,
        String::new(),
        FormErrors::default(),
    )
    .await
}

async fn write(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<WriteForm>,
) -> AppResult<Response> {
    let internal = form.internal.is_some();
    match tickets::reply_as_operator(&state, &admin.actor(&ip), id, &form.message, internal).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/admin/tickets/{id}?notice={}",
            if internal { "noted" } else { "sent" }
        ))
        .into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, &[("message", "Message")])?;
            ticket_page(
                &state,
                &admin,
                id,
                failure.status,
                None,
                form.message,
                failure.errors,
            )
            .await
        }
    }
}

async fn update(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<UpdateForm>,
) -> AppResult<Response> {
    let status = match form.status.trim() {
        "" => None,
        text => Some(
            TicketStatus::parse(text)
                .ok_or_else(|| AppError::bad_request("status", "unknown status"))?,
        ),
    };
    let priority = match form.priority.trim() {
        "" => None,
        text => Some(
            Priority::parse(text)
                .ok_or_else(|| AppError::bad_request("priority", "unknown priority"))?,
        ),
    };
    let assignee_id = match form.assign.trim() {
        "" => None,
        "me" => Some(Some(admin.user.id)),
        "nobody" => Some(None),
        _ => return Err(AppError::bad_request("assign", "use me or nobody")),
    };
    let change = TicketChange {
        status,
        assignee_id,
        priority,
    };
    tickets::update_by_operator(&state, &admin.actor(&ip), id, &change).await?;
    Ok(Redirect::to(&format!("/admin/tickets/{id}?notice=updated")).into_response())
}
