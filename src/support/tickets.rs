//! Tickets and their messages (`tickets`, `ticket_messages`): the repository and the verbs of
//! both sides. Every verb runs in one transaction that locks the ticket's row, writes the
//! message and the status together, and enqueues the e-mail to the other side; the operator's
//! verbs write the audit log. [`set_status`] is the one writer of `tickets.status`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use super::attachments::{self, Attachment, MAX_FILES_PER_MESSAGE, Upload};
use super::{Department, Priority, TicketStatus};
use crate::accounts::staff::Permission;
use crate::accounts::users::{self, User};
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::db::timed;
use crate::error::{AppError, AppResult};
use crate::mail;

/// The longest message.
pub const MAX_MESSAGE_CHARS: usize = 10_000;
/// The longest subject.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// A ticket as stored.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct Ticket {
    pub id: i32,
    /// The customer who opened it.
    pub user_id: i32,
    pub subject: String,
    pub department: Department,
    /// `awaiting_us` (the customer spoke last), `awaiting_customer`, `closed`.
    pub status: TicketStatus,
    pub priority: Priority,
    /// The customer's server it is about.
    pub service_id: Option<i32>,
    /// The customer's order it is about.
    pub order_id: Option<i32>,
    /// The operator looking after it.
    pub assignee_id: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the conversation last moved.
    pub last_message_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

macro_rules! ticket_columns {
    () => {
        "id, user_id, subject, department, status, priority, service_id, order_id, assignee_id, \
         created_at, updated_at, last_message_at, closed_at"
    };
}

/// A message of a ticket.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct TicketMessage {
    pub id: i32,
    pub ticket_id: i32,
    /// Who wrote it (null once the account is gone).
    pub author_id: Option<i32>,
    /// Written by the shop (else by the customer).
    pub from_operator: bool,
    /// An operator's note the customer never sees (only in the operator's view).
    pub internal: bool,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// The files sent with it.
    #[sqlx(skip)]
    pub attachments: Vec<Attachment>,
}

/// A ticket with its conversation, oldest message first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TicketDetail {
    pub ticket: Ticket,
    pub messages: Vec<TicketMessage>,
}

/// What a customer opens a ticket with.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub subject: String,
    /// `sales`, `technical` or `billing`.
    pub department: Department,
    /// 1 to 10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub message: String,
    /// One of the customer's servers, if it is about one.
    #[serde(default)]
    pub service_id: Option<i32>,
    /// One of the customer's orders, if it is about one.
    #[serde(default)]
    pub order_id: Option<i32>,
}

/// The operator's change of a ticket; each field absent is kept.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketChange {
    pub status: Option<TicketStatus>,
    /// An operator's account id; `null` unassigns.
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<i32>)]
    pub assignee_id: Option<Option<i32>>,
    pub priority: Option<Priority>,
}

/// A message's text, trimmed: 1 to 10,000 characters (a 422 names `field`). With files it may
/// be empty: the message then names them.
fn parse_message(field: &str, text: &str, files: &[Upload]) -> AppResult<String> {
    if files.len() > MAX_FILES_PER_MESSAGE {
        return Err(AppError::invalid(
            "file",
            format!("send at most {MAX_FILES_PER_MESSAGE} files with one message"),
        ));
    }
    let text = text.trim();
    if text.is_empty() && !files.is_empty() {
        let names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
        return Ok(format!(
            "Sent {}: {}",
            plural_files(files.len()),
            names.join(", ")
        ));
    }
    if text.is_empty() || text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::invalid(
            field,
            format!("write 1 to {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok(text.to_owned())
}

fn plural_files(count: usize) -> String {
    if count == 1 {
        "a file".to_owned()
    } else {
        format!("{count} files")
    }
}

/// The mail's line about the files sent with a message, if any: they stay on the ticket.
fn files_line(files: &[Upload]) -> Option<String> {
    (!files.is_empty()).then(|| {
        let names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
        format!(
            "With {} ({}): open the ticket to see {}.",
            plural_files(files.len()),
            names.join(", "),
            if files.len() == 1 { "it" } else { "them" }
        )
    })
}

/// A message and its files.
async fn insert_message(
    tx: &mut sqlx::PgConnection,
    ticket_id: i32,
    author_id: i32,
    from_operator: bool,
    internal: bool,
    body: &str,
    files: &[Upload],
) -> AppResult<TicketMessage> {
    let mut message: TicketMessage = timed(
        "ticket_messages.insert",
        sqlx::query_as(
            "insert into ticket_messages (ticket_id, author_id, from_operator, internal, body)
             values ($1, $2, $3, $4, $5)
             returning id, ticket_id, author_id, from_operator, internal, body, created_at",
        )
        .bind(ticket_id)
        .bind(author_id)
        .bind(from_operator)
        .bind(internal)
        .bind(body)
        .fetch_one(&mut *tx),
    )
    .await?;
    attachments::insert(tx, ticket_id, message.id, files).await?;
    message.attachments = attachments::list(&mut *tx, ticket_id)
        .await?
        .into_iter()
        .filter(|a| a.message_id == message.id)
        .collect();
    Ok(message)
}

/// Moves ticket `id` to `to` (closing stamps `closed_at`, anything else clears it) and, when
/// `moved`, its conversation's clock. The one writer of `tickets.status`.
async fn set_status(
    tx: &mut sqlx::PgConnection,
    id: i32,
    to: TicketStatus,
    moved: bool,
) -> sqlx::Result<Ticket> {
    timed(
        "tickets.set_status",
        sqlx::query_as(concat!(
            "update tickets set status = $2,
                 closed_at = case when $2 = 'closed' then coalesce(closed_at, now()) end,
                 last_message_at = case when $3 then now() else last_message_at end,
                 reminded_at = case when $3 then null else reminded_at end
             where id = $1 returning ",
            ticket_columns!()
        ))
        .bind(id)
        .bind(to)
        .bind(moved)
        .fetch_one(&mut *tx),
    )
    .await
}

/// A ticket by id, locked for the caller's transaction; `owner`: only that customer's.
async fn find_for_update(
    tx: &mut sqlx::PgConnection,
    id: i32,
    owner: Option<i32>,
) -> AppResult<Ticket> {
    let ticket: Option<Ticket> = timed(
        "tickets.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            ticket_columns!(),
            " from tickets where id = $1 and ($2::int is null or user_id = $2) for update"
        ))
        .bind(id)
        .bind(owner)
        .fetch_optional(&mut *tx),
    )
    .await?;
    ticket.ok_or(AppError::NotFound("ticket"))
}

/// A ticket's messages, oldest first; `internal`: with the operators' notes.
pub async fn messages(
    db: &mut sqlx::PgConnection,
    ticket_id: i32,
    internal: bool,
) -> sqlx::Result<Vec<TicketMessage>> {
    let mut found: Vec<TicketMessage> = timed(
        "ticket_messages.list",
        sqlx::query_as(
            "select id, ticket_id, author_id, from_operator, internal, body, created_at
             from ticket_messages where ticket_id = $1 and ($2 or not internal) order by id",
        )
        .bind(ticket_id)
        .bind(internal)
        .fetch_all(&mut *db),
    )
    .await?;
    for file in attachments::list(&mut *db, ticket_id).await? {
        if let Some(message) = found.iter_mut().find(|m| m.id == file.message_id) {
            message.attachments.push(file);
        }
    }
    Ok(found)
}

/// A ticket with its conversation; `owner`: only that customer's (their view, without the
/// operators' notes), else the operator's view.
pub async fn detail(ctx: &Context, id: i32, owner: Option<i32>) -> AppResult<TicketDetail> {
    let ticket: Ticket = timed(
        "tickets.find",
        sqlx::query_as(concat!(
            "select ",
            ticket_columns!(),
            " from tickets where id = $1 and ($2::int is null or user_id = $2)"
        ))
        .bind(id)
        .bind(owner)
        .fetch_optional(&ctx.db),
    )
    .await?
    .ok_or(AppError::NotFound("ticket"))?;
    let mut conn = ctx.db.acquire().await?;
    let messages = messages(&mut conn, id, owner.is_none()).await?;
    Ok(TicketDetail { ticket, messages })
}

/// The operators to tell about a ticket: its assignee, else every active operator whose role
/// answers tickets.
async fn operators_to_tell(
    tx: &mut sqlx::PgConnection,
    ticket: &Ticket,
) -> sqlx::Result<Vec<(String, String)>> {
    timed(
        "tickets.operators_to_tell",
        sqlx::query_as(
            "select email, name from users
             where role = any($2) and disabled_at is null
               and ($1::int is null or id = $1)
             order by id",
        )
        .bind(ticket.assignee_id)
        .bind(
            Permission::Tickets
                .roles()
                .iter()
                .map(|role| role.as_str())
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx),
    )
    .await
}

/// E-mails the operators a customer's message on `ticket`.
async fn tell_operators(
    tx: &mut sqlx::PgConnection,
    public_url: &str,
    ticket: &Ticket,
    customer: &User,
    body: &str,
    files: &[Upload],
    opened: bool,
) -> sqlx::Result<()> {
    let subject = if opened {
        format!("New ticket #{}: {}", ticket.id, ticket.subject)
    } else {
        format!("Reply on ticket #{}: {}", ticket.id, ticket.subject)
    };
    let link = format!("{public_url}/admin/tickets/{}", ticket.id);
    for (email, name) in operators_to_tell(&mut *tx, ticket).await? {
        let mut lines = vec![
            format!(
                "{} <{}> wrote ({}, {}):",
                customer.name,
                customer.email,
                ticket.department.label(),
                ticket.priority
            ),
            body.to_owned(),
        ];
        lines.extend(files_line(files));
        let message = mail::notice_email(
            &email,
            &name,
            &subject,
            &lines,
            Some(("Answer the ticket", &link)),
        );
        mail::enqueue(&mut *tx, &message).await?;
    }
    Ok(())
}

/// A customer opens a ticket: its first message, `awaiting_us`, and a mail to the operators. A
/// server or order named must be one of theirs (422 naming it).
/// `files` come with the first message.
pub async fn open(
    ctx: &Context,
    customer: &User,
    new: &NewTicket,
    files: &[Upload],
) -> AppResult<TicketDetail> {
    let mut errors = crate::accounts::validation::FieldErrors::default();
    let subject = new.subject.trim();
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS {
        errors.add(
            "subject",
            &format!("write 1 to {MAX_SUBJECT_CHARS} characters"),
        );
    }
    let body = match parse_message("message", &new.message, files) {
        Ok(body) => body,
        Err(AppError::Validation(found)) => {
            errors.0.extend(found);
            String::new()
        }
        Err(err) => return Err(err),
    };
    let mut tx = ctx.db.begin().await?;
    if let Some(service_id) = new.service_id
        && crate::services::services::find_for_user(&mut *tx, service_id, customer.id)
            .await?
            .is_none()
    {
        errors.add("service_id", "is not one of your servers");
    }
    if let Some(order_id) = new.order_id
        && crate::orders::orders::find_for_user(&mut *tx, order_id, customer.id)
            .await?
            .is_none()
    {
        errors.add("order_id", "is not one of your orders");
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    let ticket: Ticket = timed(
        "tickets.insert",
        sqlx::query_as(concat!(
            "insert into tickets (user_id, subject, department, service_id, order_id)
             values ($1, $2, $3, $4, $5) returning ",
            ticket_columns!()
        ))
        .bind(customer.id)
        .bind(subject)
        .bind(new.department)
        .bind(new.service_id)
        .bind(new.order_id)
        .fetch_one(&mut *tx),
    )
    .await?;
    let message =
        insert_message(&mut tx, ticket.id, customer.id, false, false, &body, files).await?;
    tell_operators(
        &mut tx,
        &ctx.settings.public_url,
        &ticket,
        customer,
        &body,
        files,
        true,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        ticket.id = ticket.id,
        user.id = customer.id,
        "ticket {} opened",
        ticket.id
    );
    Ok(TicketDetail {
        ticket,
        messages: vec![message],
    })
}

/// A customer writes on one of their tickets: it is the shop's turn again (a closed ticket
/// reopens), and the operators are told. With `files`, `text` may be empty.
pub async fn reply_as_customer(
    ctx: &Context,
    customer: &User,
    id: i32,
    text: &str,
    files: &[Upload],
) -> AppResult<TicketDetail> {
    let body = parse_message("message", text, files)?;
    let mut tx = ctx.db.begin().await?;
    find_for_update(&mut tx, id, Some(customer.id)).await?;
    insert_message(&mut tx, id, customer.id, false, false, &body, files).await?;
    let ticket = set_status(&mut tx, id, TicketStatus::AwaitingUs, true).await?;
    tell_operators(
        &mut tx,
        &ctx.settings.public_url,
        &ticket,
        customer,
        &body,
        files,
        false,
    )
    .await?;
    tx.commit().await?;
    detail(ctx, id, Some(customer.id)).await
}

/// A customer closes one of their tickets (a reply reopens it).
pub async fn close_by_customer(ctx: &Context, customer: &User, id: i32) -> AppResult<TicketDetail> {
    let mut tx = ctx.db.begin().await?;
    find_for_update(&mut tx, id, Some(customer.id)).await?;
    set_status(&mut tx, id, TicketStatus::Closed, false).await?;
    tx.commit().await?;
    detail(ctx, id, Some(customer.id)).await
}

/// An operator writes on a ticket: a reply is mailed to the customer and makes it their turn
/// (reopening a closed ticket); an `internal` note is neither shown nor mailed to them and moves
/// nothing. With `files`, `text` may be empty. Audited as `ticket.reply` / `ticket.note`.
pub async fn reply_as_operator(
    ctx: &Context,
    actor: &Actor<'_>,
    id: i32,
    text: &str,
    internal: bool,
    files: &[Upload],
) -> AppResult<TicketDetail> {
    let body = parse_message("message", text, files)?;
    let mut tx = ctx.db.begin().await?;
    let ticket = find_for_update(&mut tx, id, None).await?;
    let message = insert_message(&mut tx, id, actor.user_id, true, internal, &body, files).await?;
    if !internal {
        let ticket = set_status(&mut tx, id, TicketStatus::AwaitingCustomer, true).await?;
        if let Some(customer) = users::find(&mut *tx, ticket.user_id).await? {
            let link = format!("{}/account/tickets/{}", ctx.settings.public_url, ticket.id);
            let mut lines = vec![
                format!("We answered your ticket #{}:", ticket.id),
                body.clone(),
            ];
            lines.extend(files_line(files));
            let email = mail::notice_email(
                &customer.email,
                &customer.name,
                &format!("Re: {} [ticket #{}]", ticket.subject, ticket.id),
                &lines,
                Some(("Read and reply", &link)),
            );
            mail::enqueue(&mut *tx, &email).await?;
            crate::accounts::whatsapp::notify_in(
                &mut tx,
                customer.id,
                crate::mail::whatsapp::TICKET_REPLY,
                &[format!("#{}", ticket.id), ticket.subject.clone()],
            )
            .await?;
        }
    }
    let action = if internal {
        "ticket.note"
    } else {
        "ticket.reply"
    };
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!({ "status": ticket.status })),
            after: Some(json!({
                "message_id": message.id, "internal": internal, "files": files.len(),
            })),
            ..actor.entry(action, "ticket", Some(&id.to_string()))
        },
    )
    .await?;
    tx.commit().await?;
    detail(ctx, id, None).await
}

/// An operator changes a ticket's status, assignee (an operator's account) or priority.
/// Audited as `ticket.update`.
pub async fn update_by_operator(
    ctx: &Context,
    actor: &Actor<'_>,
    id: i32,
    change: &TicketChange,
) -> AppResult<TicketDetail> {
    let mut tx = ctx.db.begin().await?;
    let before = find_for_update(&mut tx, id, None).await?;
    if let Some(Some(assignee)) = change.assignee_id {
        let operator = users::find(&mut *tx, assignee).await?;
        if !operator.is_some_and(|u| u.can(Permission::Tickets) && u.disabled_at.is_none()) {
            return Err(AppError::invalid(
                "assignee_id",
                "is not an active operator's account",
            ));
        }
    }
    if let Some(status) = change.status
        && status != before.status
    {
        set_status(&mut tx, id, status, false).await?;
    }
    let after: Ticket = timed(
        "tickets.update",
        sqlx::query_as(concat!(
            "update tickets set assignee_id = case when $2 then $3 else assignee_id end,
                 priority = coalesce($4, priority)
             where id = $1 returning ",
            ticket_columns!()
        ))
        .bind(id)
        .bind(change.assignee_id.is_some())
        .bind(change.assignee_id.flatten())
        .bind(change.priority)
        .fetch_one(&mut *tx),
    )
    .await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!({
                "status": before.status, "assignee_id": before.assignee_id, "priority": before.priority,
            })),
            after: Some(json!({
                "status": after.status, "assignee_id": after.assignee_id, "priority": after.priority,
            })),
            ..actor.entry("ticket.update", "ticket", Some(&id.to_string()))
        },
    )
    .await?;
    tx.commit().await?;
    detail(ctx, id, None).await
}

/// A customer's tickets, the most recently moved first.
pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: i32,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Ticket>> {
    timed(
        "tickets.list_for_user",
        sqlx::query_as(concat!(
            "select ",
            ticket_columns!(),
            " from tickets where user_id = $1 order by last_message_at desc, id desc
              limit $2 offset $3"
        ))
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

pub async fn count_for_user(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<i64> {
    timed(
        "tickets.count_for_user",
        sqlx::query_scalar("select count(*) from tickets where user_id = $1")
            .bind(user_id)
            .fetch_one(db),
    )
    .await
}

/// The operator's queue filter: `open` is every ticket not closed.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueueFilter {
    /// `None`: open tickets; `Some(status)`: that status only.
    pub status: Option<TicketStatus>,
    /// Every status, closed included.
    pub all: bool,
    pub department: Option<Department>,
}

macro_rules! queue_filter {
    () => {
        "from tickets
         where (case when $1 then true
                     when $2::text is null then status <> 'closed'
                     else status = $2 end)
           and ($3::text is null or department = $3)"
    };
}

/// The operator's queue: the most urgent first, then the longest waiting.
pub async fn queue(
    db: impl PgExecutor<'_>,
    filter: &QueueFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Ticket>> {
    timed(
        "tickets.queue",
        sqlx::query_as(concat!(
            "select ",
            ticket_columns!(),
            " ",
            queue_filter!(),
            " order by case priority when 'urgent' then 0 when 'high' then 1
                                     when 'normal' then 2 else 3 end,
                       last_message_at, id
              limit $4 offset $5"
        ))
        .persistent(false)
        .bind(filter.all)
        .bind(filter.status)
        .bind(filter.department)
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

/// How many tickets the queue pages through: exact up to 10,000, else estimated.
pub async fn queue_count(
    db: &sqlx::PgPool,
    filter: &QueueFilter,
) -> sqlx::Result<crate::db::total::Total> {
    let sql = crate::total_sql!("tickets.queue_count", queue_filter!());
    crate::db::total::count(db, sql, |query| {
        query
            .bind(filter.all)
            .bind(filter.status)
            .bind(filter.department)
    })
    .await
}

/// What a round of [`close_stale`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StaleRound {
    pub reminded: usize,
    pub closed: usize,
}

/// Tickets answered and left waiting on the customer: after `days - 2` days (at least a day
/// before closing) the customer is reminded by e-mail; after `days`, and at least a day after
/// the reminder, the ticket closes with a last e-mail. A reply meanwhile starts the wait over.
/// The periodic `close_stale_tickets` job (hourly), each ticket in its own transaction.
pub async fn close_stale(db: &sqlx::PgPool, public_url: &str, days: u32) -> AppResult<StaleRound> {
    let days = i32::try_from(days.max(1)).unwrap_or(i32::MAX);
    let remind_after = (days - 2).max(0);
    let mut round = StaleRound::default();
    let due: Vec<(i32, bool)> = timed(
        "tickets.stale",
        sqlx::query_as(
            "select id, reminded_at is not null
             from tickets
             where status = 'awaiting_customer'
               and last_message_at < now() - make_interval(days => $1)
               and (reminded_at is null
                    or (last_message_at < now() - make_interval(days => $2)
                        and reminded_at < now() - interval '1 day'))
             order by last_message_at limit 500",
        )
        .bind(remind_after)
        .bind(days)
        .fetch_all(db),
    )
    .await?;
    for (id, reminded) in due {
        let mut tx = db.begin().await?;
        let ticket = find_for_update(&mut tx, id, None).await?;
        if ticket.status != TicketStatus::AwaitingCustomer {
            continue; // the customer wrote meanwhile
        }
        let customer = users::find(&mut *tx, ticket.user_id).await?;
        let link = format!("{public_url}/account/tickets/{}", ticket.id);
        let (subject, line) = if reminded {
            set_status(&mut tx, id, TicketStatus::Closed, false).await?;
            round.closed += 1;
            (
                format!("Closed: {} [ticket #{}]", ticket.subject, ticket.id),
                format!(
                    "We closed ticket #{} after {days} days without a reply. Write on it \
                     to reopen it whenever you need us.",
                    ticket.id
                ),
            )
        } else {
            timed(
                "tickets.set_reminded",
                sqlx::query("update tickets set reminded_at = now() where id = $1")
                    .bind(id)
                    .execute(&mut *tx),
            )
            .await?;
            round.reminded += 1;
            (
                format!(
                    "Waiting for you: {} [ticket #{}]",
                    ticket.subject, ticket.id
                ),
                format!(
                    "We answered ticket #{} and are waiting for your reply. If we do not \
                     hear from you, it closes on its own in {} day{}.",
                    ticket.id,
                    days - remind_after,
                    if days - remind_after == 1 { "" } else { "s" }
                ),
            )
        };
        if let Some(customer) = customer {
            let email = mail::notice_email(
                &customer.email,
                &customer.name,
                &subject,
                &[line],
                Some(("Open the ticket", &link)),
            );
            mail::enqueue(&mut *tx, &email).await?;
        }
        tx.commit().await?;
    }
    Ok(round)
}
