//! Internal notes on a customer (`customer_notes`): what the staff want each other to know
//! ("prefers WhatsApp", "refunded once as a courtesy"). Never shown to the customer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::accounts::users;
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::db::timed;
use crate::error::{AppError, AppResult};

/// The longest note, in characters.
pub const MAX_NOTE: usize = 2000;

/// A note, with its author's name.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct Note {
    pub id: i32,
    pub user_id: i32,
    /// The staff member who wrote it; null once their account is gone.
    pub author_id: Option<i32>,
    pub author_name: Option<String>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// The notes on a customer, newest first.
pub async fn list(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<Vec<Note>> {
    timed(
        "customer_notes.list",
        sqlx::query_as(
            "select n.id, n.user_id, n.author_id, a.name as author_name, n.body, n.created_at
             from customer_notes n left join users a on a.id = n.author_id
             where n.user_id = $1
             order by n.id desc
             limit 200",
        )
        .bind(user_id)
        .fetch_all(db),
    )
    .await
}

/// Adds a note to customer `user_id` (1 to 2,000 characters, trimmed). Audited as
/// `customer.note`.
pub async fn add(ctx: &Context, actor: &Actor<'_>, user_id: i32, body: &str) -> AppResult<Note> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::invalid("body", "write the note first"));
    }
    if body.chars().count() > MAX_NOTE {
        return Err(AppError::invalid(
            "body",
            format!("must be at most {MAX_NOTE} characters"),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    users::find(&mut *tx, user_id)
        .await?
        .ok_or(AppError::NotFound("customer"))?;
    let id: i32 = timed(
        "customer_notes.insert",
        sqlx::query_scalar(
            "insert into customer_notes (user_id, author_id, body) values ($1, $2, $3)
             returning id",
        )
        .bind(user_id)
        .bind(actor.user_id)
        .bind(body)
        .fetch_one(&mut *tx),
    )
    .await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            after: Some(json!({ "note_id": id, "body": body })),
            ..actor.entry("customer.note", "user", Some(&user_id.to_string()))
        },
    )
    .await?;
    let note = list(&mut *tx, user_id)
        .await?
        .into_iter()
        .find(|note| note.id == id)
        .ok_or(AppError::NotFound("note"))?;
    tx.commit().await?;
    Ok(note)
}
