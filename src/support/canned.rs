//! Canned replies (`canned_replies`): the answers operators give again and again ("how to
//! connect with Remote Desktop", "your transfer is not on our statement yet"), kept by the
//! operators. `{name}` and `{ticket}` in a body become the customer's name and the ticket's
//! number when it is used; the operator reads and edits the result before sending it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::db::timed;
use crate::error::{AppError, AppResult, ResultExt};

const MAX_TITLE_CHARS: usize = 100;

/// A canned reply.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct CannedReply {
    pub id: i32,
    /// What operators pick it by, unique (case aside).
    pub title: String,
    /// The text; `{name}` and `{ticket}` are filled in when it is used.
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A canned reply to add, or a change of one (absent fields are kept).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedReplyInput {
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub title: Option<String>,
    /// 1 to 10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub body: Option<String>,
}

macro_rules! columns {
    () => {
        "id, title, body, created_at, updated_at"
    };
}

/// Every canned reply, by title.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<CannedReply>> {
    timed(
        "canned_replies.list",
        sqlx::query_as(concat!(
            "select ",
            columns!(),
            " from canned_replies order by lower(title), id"
        ))
        .fetch_all(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i32) -> AppResult<CannedReply> {
    timed(
        "canned_replies.find",
        sqlx::query_as(concat!(
            "select ",
            columns!(),
            " from canned_replies where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await?
    .ok_or(AppError::NotFound("canned reply"))
}

/// A body with the customer's name and the ticket's number filled in.
pub fn fill(body: &str, customer_name: &str, ticket_id: i32) -> String {
    body.replace("{name}", customer_name)
        .replace("{ticket}", &format!("#{ticket_id}"))
}

/// The input's title and body, trimmed and checked (422 naming each field); `None` where absent.
fn parse(input: &CannedReplyInput) -> AppResult<(Option<String>, Option<String>)> {
    let mut errors = crate::accounts::validation::FieldErrors::default();
    let title = input.title.as_deref().map(str::trim);
    if let Some(title) = title
        && (title.is_empty() || title.chars().count() > MAX_TITLE_CHARS)
    {
        errors.add("title", &format!("write 1 to {MAX_TITLE_CHARS} characters"));
    }
    let body = input.body.as_deref().map(str::trim);
    if let Some(body) = body
        && (body.is_empty() || body.chars().count() > super::tickets::MAX_MESSAGE_CHARS)
    {
        errors.add(
            "body",
            &format!(
                "write 1 to {} characters",
                super::tickets::MAX_MESSAGE_CHARS
            ),
        );
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    Ok((title.map(str::to_owned), body.map(str::to_owned)))
}

fn taken(_: &dyn sqlx::error::DatabaseError) -> AppError {
    AppError::conflict("title", "another canned reply has this title")
}

/// Adds a canned reply (both fields required). Audited as `canned_reply.create`.
pub async fn create(
    ctx: &Context,
    actor: &Actor<'_>,
    input: &CannedReplyInput,
) -> AppResult<CannedReply> {
    let (title, body) = parse(input)?;
    let mut errors = crate::accounts::validation::FieldErrors::default();
    if title.is_none() {
        errors.add("title", "is required");
    }
    if body.is_none() {
        errors.add("body", "is required");
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    let mut tx = ctx.db.begin().await?;
    let created: CannedReply = timed(
        "canned_replies.insert",
        sqlx::query_as(concat!(
            "insert into canned_replies (title, body) values ($1, $2) returning ",
            columns!()
        ))
        .bind(title)
        .bind(body)
        .fetch_one(&mut *tx),
    )
    .await
    .on_constraint("canned_replies_title_key", taken)?;
    let id = created.id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            after: Some(json!({ "title": created.title })),
            ..actor.entry("canned_reply.create", "canned_reply", Some(&id))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Changes a canned reply's title or body. Audited as `canned_reply.update`.
pub async fn update(
    ctx: &Context,
    actor: &Actor<'_>,
    id: i32,
    input: &CannedReplyInput,
) -> AppResult<CannedReply> {
    let (title, body) = parse(input)?;
    let mut tx = ctx.db.begin().await?;
    let before = find(&mut *tx, id).await?;
    let after: CannedReply = timed(
        "canned_replies.update",
        sqlx::query_as(concat!(
            "update canned_replies set title = coalesce($2, title), body = coalesce($3, body)
             where id = $1 returning ",
            columns!()
        ))
        .bind(id)
        .bind(title)
        .bind(body)
        .fetch_one(&mut *tx),
    )
    .await
    .on_constraint("canned_replies_title_key", taken)?;
    let key = id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!({ "title": before.title, "body": before.body })),
            after: Some(json!({ "title": after.title, "body": after.body })),
            ..actor.entry("canned_reply.update", "canned_reply", Some(&key))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Removes a canned reply. Audited as `canned_reply.delete`.
pub async fn delete(ctx: &Context, actor: &Actor<'_>, id: i32) -> AppResult<()> {
    let mut tx = ctx.db.begin().await?;
    let before = find(&mut *tx, id).await?;
    timed(
        "canned_replies.delete",
        sqlx::query("delete from canned_replies where id = $1")
            .bind(id)
            .execute(&mut *tx),
    )
    .await?;
    let key = id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!({ "title": before.title, "body": before.body })),
            ..actor.entry("canned_reply.delete", "canned_reply", Some(&key))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_canned_reply_is_filled_in_for_the_ticket() {
        assert_eq!(
            super::fill("Hello {name}, about {ticket}: {other}", "Ayesha", 12),
            "Hello Ayesha, about #12: {other}"
        );
    }
}
