//! The customer's tickets as pages: `/account/tickets` (theirs, and a form to open one) and
//! `/account/tickets/{id}` (the conversation, a reply form, and Close). The same verbs as the
//! API.

use askama::Template;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::api::MAX_UPLOAD_BYTES;
use super::attachments::Upload;
use super::tickets::{self, NewTicket, TicketDetail};
use super::{Department, TicketStatus};
use crate::accounts::extract::PageUser;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::forms::{Choice, Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::{Layout, render_with};
use crate::web::upload::FormParts;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/account/tickets",
            get(list)
                .post(open)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/account/tickets/{id}", get(show))
        .route(
            "/account/tickets/{id}/reply",
            post(reply).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/account/tickets/{id}/close", post(close))
        .route("/account/tickets/{id}/files/{attachment_id}", get(file))
}

/// A ticket form as a page sends it (a file input makes it `multipart/form-data`): its fields,
/// and its files checked, or why they were refused (a 422 naming `file`).
pub(super) struct PageForm {
    pub form: FormParts,
    pub files: AppResult<Vec<Upload>>,
}

impl PageForm {
    pub async fn read(headers: &HeaderMap, body: Body) -> Self {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let refused = |why: &str| Self {
            form: FormParts::default(),
            files: Err(AppError::invalid("file", why)),
        };
        let Ok(bytes) = to_bytes(body, MAX_UPLOAD_BYTES).await else {
            return refused("send at most three files of 5 MB each");
        };
        let Ok(form) = crate::web::upload::read_form(content_type, bytes, 20).await else {
            return refused("we could not read the form; please send it again");
        };
        let files = form
            .files("file")
            .map(|part| {
                Upload::check(
                    "file",
                    &part.file_name,
                    part.declared.as_deref(),
                    &part.bytes,
                )
            })
            .collect();
        Self { form, files }
    }

    pub fn text(&self, name: &str) -> String {
        self.form.text(name).unwrap_or_default().to_owned()
    }
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
    ("file", "Files"),
];

/// The reply form's fields, for problems beside them.
pub(super) const REPLY_FIELDS: &[(&str, &str)] = &[("message", "Message"), ("file", "Files")];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct OpenForm {
    subject: String,
    department: String,
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

/// A file as shown with its message.
pub struct FileRow {
    pub url: String,
    pub name: String,
    pub size: String,
    pub image: bool,
}

/// A message as shown in a conversation.
pub struct MessageRow {
    pub from_operator: bool,
    pub internal: bool,
    pub body: String,
    pub when: String,
    pub files: Vec<FileRow>,
}

/// A size in the words people use: `840 KB`, `2.4 MB`.
fn size_label(bytes: i32) -> String {
    let bytes = f64::from(bytes);
    if bytes < 1024.0 * 1024.0 {
        format!("{} KB", (bytes / 1024.0).ceil())
    } else {
        format!("{:.1} MB", bytes / (1024.0 * 1024.0))
    }
}

impl MessageRow {
    /// The conversation, its files linked under `files_url` (`…/files/{attachment_id}`).
    pub fn of(detail: &TicketDetail, files_url: &str) -> Vec<Self> {
        detail
            .messages
            .iter()
            .map(|m| Self {
                from_operator: m.from_operator,
                internal: m.internal,
                body: m.body.clone(),
                when: pkt(Some(m.created_at)),
                files: m
                    .attachments
                    .iter()
                    .map(|a| FileRow {
                        url: format!("{files_url}/{}", a.id),
                        name: a.file_name.clone(),
                        size: size_label(a.size),
                        image: a.content_type.starts_with("image/"),
                    })
                    .collect(),
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
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let sent = PageForm::read(&headers, body).await;
    let form = OpenForm {
        subject: sent.text("subject"),
        department: sent.text("department"),
        message: sent.text("message"),
    };
    let outcome = match (Department::parse(form.department.trim()), sent.files) {
        (_, Err(err)) => Err(err),
        (Some(department), Ok(files)) => {
            let new = NewTicket {
                subject: form.subject.clone(),
                department,
                message: form.message.clone(),
                service_id: None,
                order_id: None,
            };
            tickets::open(&state, &visitor.user, &new, &files).await
        }
        (None, Ok(_)) => Err(AppError::invalid("department", "choose who should answer")),
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
            messages: MessageRow::of(&detail, &format!("/account/tickets/{id}/files")),
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
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let sent = PageForm::read(&headers, body).await;
    let message = sent.text("message");
    let outcome = match sent.files {
        Ok(files) => tickets::reply_as_customer(&state, &visitor.user, id, &message, &files).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/account/tickets/{id}?notice=sent")).into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, REPLY_FIELDS)?;
            ticket_page(
                &state,
                &visitor,
                id,
                failure.status,
                None,
                message,
                failure.errors,
            )
            .await
        }
    }
}

/// A file on one of the customer's tickets (not one of an internal note: 404).
async fn file(
    State(state): State<AppState>,
    visitor: PageUser,
    Path((id, attachment_id)): Path<(i32, i32)>,
) -> AppResult<Response> {
    super::api::send_file(&state, id, attachment_id, Some(visitor.user.id)).await
}

async fn close(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    tickets::close_by_customer(&state, &visitor.user, id).await?;
    Ok(Redirect::to(&format!("/account/tickets/{id}?notice=closed")).into_response())
}
