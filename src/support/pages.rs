//! The customer's tickets as pages: `/account/tickets` (theirs, and a form to open one) and
//! `/account/tickets/{id}` (the conversation, a reply form, and Close). The same verbs as the
//! API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::tickets::{self, NewTicket, TicketDetail};
use super::{Department, TicketStatus};
use crate::accounts::extract::PageUser;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::forms::{Choice, Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::{Layout, render_with};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/tickets", get(list).post(open))
        .route("/account/tickets/{id}", get(show))
        .route("/account/tickets/{id}/reply", post(reply))
        .route("/account/tickets/{id}/close", post(close))
}

const NOTICES: &[(&str, &str, &str)] = &[
    (
        "opened",
        "success",
        "Your ticket is open. We answer here and by e-mail.",
    ),
    ("sent", "success", "Your message is sent."),
    (
        "closed",
        "success",
        "The ticket is closed. Write on it again to reopen it.",
    ),
];

const OPEN_FIELDS: &[(&str, &str)] = &[
    ("subject", "Subject"),
    ("department", "Department"),
    ("message", "Message"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct OpenForm {
    subject: String,
    department: String,
    message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ReplyForm {
    message: String,
}

/// A ticket in a list.
pub struct TicketRow {
    pub id: i32,
    pub subject: String,
    pub department: &'static str,
    pub status: String,
    pub status_label: &'static str,
    pub moved: String,
}

/// A message as shown in a conversation.
pub struct MessageRow {
    pub from_operator: bool,
    pub internal: bool,
    pub body: String,
    pub when: String,
}

impl MessageRow {
    pub fn of(detail: &TicketDetail) -> Vec<Self> {
        detail
            .messages
            .iter()
            .map(|m| Self {
                from_operator: m.from_operator,
                internal: m.internal,
                body: m.body.clone(),
                when: pkt(Some(m.created_at)),
            })
            .collect()
    }
}

impl TicketRow {
    /// The row as the customer (`operator` false) or the operator sees it.
    pub fn of(ticket: &tickets::Ticket, operator: bool) -> Self {
        Self {
            id: ticket.id,
            subject: ticket.subject.clone(),
            department: ticket.department.label(),
            status: ticket.status.to_string(),
            status_label: if operator {
                ticket.status.operator_label()
            } else {
                ticket.status.label()
            },
            moved: pkt(Some(ticket.last_message_at)),
        }
    }
}

#[derive(Template)]
#[template(path = "support/tickets.html")]
struct ListPage {
    layout: Layout,
    notice: Option<Notice>,
    rows: Vec<TicketRow>,
    form: OpenForm,
    departments: Vec<Choice>,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "support/ticket.html")]
struct TicketPage {
    layout: Layout,
    notice: Option<Notice>,
    row: TicketRow,
    messages: Vec<MessageRow>,
    /// Whose page it is: "You" for the customer's messages here.
    operator_view: bool,
    closed: bool,
    reply: String,
    errors: FormErrors,
}

fn department_choices(selected: &str) -> Vec<Choice> {
    Department::ALL
        .iter()
        .map(|d| Choice {
            value: d.as_str().to_owned(),
            label: d.label().to_owned(),
            selected: d.as_str() == selected,
        })
        .collect()
}

async fn list_page(
    state: &AppState,
    visitor: &PageUser,
    status: StatusCode,
    notice: Option<Notice>,
    form: OpenForm,
    errors: FormErrors,
) -> AppResult<Response> {
    let rows = tickets::list_for_user(&state.db, visitor.user.id, 100, 0)
        .await?
        .iter()
        .map(|t| TicketRow::of(t, false))
        .collect();
    render_with(
        status,
        &ListPage {
            layout: Layout::for_page("Support", &visitor.context),
            notice,
            rows,
            departments: department_choices(&form.department),
            form,
            errors,
        },
    )
}

async fn list(
    State(state): State<AppState>,
    visitor: PageUser,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), NOTICES);
    list_page(
        &state,
        &visitor,
        StatusCode::OK,
        notice,
        OpenForm::default(),
        FormErrors::default(),
    )
    .await
}

async fn open(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<OpenForm>,
) -> AppResult<Response> {
    let outcome = match Department::parse(form.department.trim()) {
        Some(department) => {
            let new = NewTicket {
                subject: form.subject.clone(),
                department,
                message: form.message.clone(),
                service_id: None,
                order_id: None,
            };
            tickets::open(&state, &visitor.user, &new).await
        }
        None => Err(crate::error::AppError::invalid(
            "department",
            "choose who should answer",
        )),
    };
    match outcome {
        Ok(opened) => Ok(Redirect::to(&format!(
            "/account/tickets/{}?notice=opened",
            opened.ticket.id
        ))
        .into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, OPEN_FIELDS)?;
            list_page(&state, &visitor, failure.status, None, form, failure.errors).await
        }
    }
}

async fn ticket_page(
    state: &AppState,
    visitor: &PageUser,
    id: i32,
    status: StatusCode,
    notice: Option<Notice>,
    reply: String,
    errors: FormErrors,
) -> AppResult<Response> {
    let detail = tickets::detail(state, id, Some(visitor.user.id)).await?;
    render_with(
        status,
        &TicketPage {
            layout: Layout::for_page(format!("Ticket #{id}"), &visitor.context),
            notice,
            row: TicketRow::of(&detail.ticket, false),
            messages: MessageRow::of(&detail),
            operator_view: false,
            closed: detail.ticket.status == TicketStatus::Closed,
            reply,
            errors,
        },
    )
}

async fn show(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), NOTICES);
    ticket_page(
        &state,
        &visitor,
        id,
        StatusCode::OK,
        notice,
        String::new(),
        FormErrors::default(),
    )
    .await
}

async fn reply(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    Form(form): Form<ReplyForm>,
) -> AppResult<Response> {
    match tickets::reply_as_customer(&state, &visitor.user, id, &form.message).await {
        Ok(_) => Ok(Redirect::to(&format!("/account/tickets/{id}?notice=sent")).into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, &[("message", "Message")])?;
            ticket_page(
                &state,
                &visitor,
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

async fn close(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    tickets::close_by_customer(&state, &visitor.user, id).await?;
    Ok(Redirect::to(&format!("/account/tickets/{id}?notice=closed")).into_response())
}
