//! The operator's tickets as pages: `/admin/tickets` (the queue, by status and department) and
//! `/admin/tickets/{id}` (the conversation with internal notes, the reply or note form, and
//! status, priority and assignment). The same audited verbs as the API.

use askama::Template;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::api::MAX_UPLOAD_BYTES;
use super::canned::{self, CannedReplyInput};
use super::pages::{MessageRow, PageForm, REPLY_FIELDS, TicketRow};
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
        .route(
            "/admin/tickets/{id}/messages",
            post(write).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/admin/tickets/{id}/files/{attachment_id}", get(file))
        .route(
            "/admin/canned-replies",
            get(canned_list).post(canned_create),
        )
        .route("/admin/canned-replies/{id}", post(canned_update))
        .route("/admin/canned-replies/{id}/delete", post(canned_delete))
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

const CANNED_NOTICES: &[(&str, &str, &str)] = &[
    ("added", "success", "The canned reply is added."),
    ("saved", "success", "The canned reply is saved."),
    ("deleted", "success", "The canned reply is deleted."),
];

const CANNED_FIELDS: &[(&str, &str)] = &[("title", "Title"), ("body", "Text")];

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
pub(super) struct ShowQuery {
    notice: Option<String>,
    /// A canned reply to start the reply with.
    canned: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CannedForm {
    title: String,
    body: String,
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
    customer_id: i32,
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
    canned: Vec<Choice>,
    reply: String,
    errors: FormErrors,
}

/// What the reply form starts with.
enum Draft {
    /// The text sent back (empty on a fresh page).
    Text(String),
    /// A canned reply, filled in for the ticket.
    Canned(i32),
}

/// A canned reply as its edit form shows it.
struct CannedRow {
    id: i32,
    title: String,
    body: String,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "admin/support/canned.html")]
struct CannedPage {
    layout: Layout,
    notice: Option<Notice>,
    rows: Vec<CannedRow>,
    /// The add form as sent, with its problems.
    form: CannedForm,
    errors: FormErrors,
}

/// A canned-reply form sent back with its problems: the add form (`None`) or a row's.
type Refused = (Option<i32>, CannedForm, FormErrors);

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
            customer_id: ticket.user_id,
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
    draft: Draft,
    errors: FormErrors,
) -> AppResult<Response> {
    let detail = tickets::detail(state, id, None).await?;
    let ticket = &detail.ticket;
    let owner = users::find(&state.db, ticket.user_id).await?;
    let customer = owner
        .as_ref()
        .map_or_else(|| "—".to_owned(), |u| format!("{} <{}>", u.name, u.email));
    // A canned reply asked for starts the reply, filled in for this customer and ticket.
    let reply = match draft {
        Draft::Canned(canned_id) => {
            let found = canned::find(&state.db, canned_id).await?;
            let name = owner.as_ref().map_or("", |u| u.name.as_str());
            canned::fill(&found.body, name, id)
        }
        Draft::Text(text) => text,
    };
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
            messages: MessageRow::of(&detail, &format!("/admin/tickets/{id}/files")),
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
            canned: canned::list(&state.db)
                .await?
                .into_iter()
                .map(|c| Choice {
                    value: c.id.to_string(),
                    label: c.title,
                    selected: false,
                })
                .collect(),
            reply,
            errors,
        },
    )
}

async fn show(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Path(id): Path<i32>,
    Query(query): Query<ShowQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), NOTICES);
    let draft = match query.canned.as_deref().map(str::trim) {
        None | Some("") => Draft::Text(String::new()),
        Some(text) => Draft::Canned(
            text.parse()
                .map_err(|_| AppError::bad_request("canned", "must be a canned reply's id"))?,
        ),
    };
    ticket_page(
        &state,
        &admin,
        id,
        StatusCode::OK,
        notice,
        draft,
        FormErrors::default(),
    )
    .await
}

async fn write(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let sent = PageForm::read(&headers, body).await;
    let internal = sent.form.text("internal").is_some();
    let message = sent.text("message");
    let outcome = match sent.files {
        Ok(files) => {
            tickets::reply_as_operator(&state, &admin.actor(&ip), id, &message, internal, &files)
                .await
        }
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!(
            "/admin/tickets/{id}?notice={}",
            if internal { "noted" } else { "sent" }
        ))
        .into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, REPLY_FIELDS)?;
            ticket_page(
                &state,
                &admin,
                id,
                failure.status,
                None,
                Draft::Text(message),
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

/// A file on a ticket (notes' files too).
async fn file(
    State(state): State<AppState>,
    _admin: PageAdmin,
    Path((id, attachment_id)): Path<(i32, i32)>,
) -> AppResult<Response> {
    super::api::send_file(&state, id, attachment_id, None).await
}

async fn canned_page(
    state: &AppState,
    admin: &crate::accounts::extract::PageUser,
    status: StatusCode,
    notice: Option<Notice>,
    refused: Option<Refused>,
) -> AppResult<Response> {
    let (failed_id, mut sent, mut sent_errors) = refused.unwrap_or_default();
    let mut rows = Vec::new();
    for c in canned::list(&state.db).await? {
        if failed_id == Some(c.id) {
            rows.push(CannedRow {
                id: c.id,
                title: std::mem::take(&mut sent.title),
                body: std::mem::take(&mut sent.body),
                errors: std::mem::take(&mut sent_errors),
            });
        } else {
            rows.push(CannedRow {
                id: c.id,
                title: c.title,
                body: c.body,
                errors: FormErrors::default(),
            });
        }
    }
    let (form, errors) = if failed_id.is_none() {
        (sent, sent_errors)
    } else {
        (CannedForm::default(), FormErrors::default())
    };
    render_with(
        status,
        &CannedPage {
            layout: Layout::for_page("Canned replies", &admin.context),
            notice,
            rows,
            form,
            errors,
        },
    )
}

async fn canned_list(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), CANNED_NOTICES);
    canned_page(&state, &admin, StatusCode::OK, notice, None).await
}

fn canned_input(form: &CannedForm) -> CannedReplyInput {
    CannedReplyInput {
        title: Some(form.title.clone()),
        body: Some(form.body.clone()),
    }
}

async fn canned_create(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Form(form): Form<CannedForm>,
) -> AppResult<Response> {
    match canned::create(&state, &admin.actor(&ip), &canned_input(&form)).await {
        Ok(_) => Ok(Redirect::to("/admin/canned-replies?notice=added").into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, CANNED_FIELDS)?;
            let refused = (None, form, failure.errors);
            canned_page(&state, &admin, failure.status, None, Some(refused)).await
        }
    }
}

async fn canned_update(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<CannedForm>,
) -> AppResult<Response> {
    match canned::update(&state, &admin.actor(&ip), id, &canned_input(&form)).await {
        Ok(_) => Ok(Redirect::to("/admin/canned-replies?notice=saved").into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, CANNED_FIELDS)?;
            let refused = (Some(id), form, failure.errors);
            canned_page(&state, &admin, failure.status, None, Some(refused)).await
        }
    }
}

async fn canned_delete(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    canned::delete(&state, &admin.actor(&ip), id).await?;
    Ok(Redirect::to("/admin/canned-replies?notice=deleted").into_response())
}
