//! E-mail: what a mail is ([`Email`]), how it is queued ([`enqueue`], a `send_email` job the
//! worker runs), how it leaves ([`Mailer`]: SMTP, or `.eml` files when no server is configured)
//! and the account mails' texts ([`verification_email`], [`password_reset_email`],
//! [`password_changed_email`], rendered from `templates/email/`).
//!
//! Mail is never sent from a request: the request enqueues a `send_email` job in the same
//! transaction as the business write that needs it, so the mail exists exactly when that write
//! does, and the worker sends it, retrying while the server is unreachable.
//!
//! WhatsApp template messages ([`whatsapp`]) take the same road: a `send_whatsapp` job enqueued
//! with the write, sent by the worker through the WhatsApp Business Cloud API.

mod mailer;
mod templates;
pub mod whatsapp;

use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;

use crate::jobs;

pub use mailer::Mailer;
pub use templates::{
    notice_email, password_changed_email, password_reset_email, verification_email,
};

pub use crate::jobs::kinds::SEND_EMAIL;

/// One e-mail to one recipient, with a plain-text and an HTML version of the same content.
///
/// It is the payload of a `send_email` job: it may hold links with secret tokens, so it is never
/// logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// The recipient: `someone@example.pk` or `Name <someone@example.pk>`.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Documents to attach, rendered when the mail is sent (the payload stays small).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A document a mail carries, named by reference; the worker renders it when it sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attachment {
    /// An invoice or credit note, as PDF.
    Invoice { invoice_id: i32 },
}

/// A rendered attachment: its file name, content type and bytes.
#[derive(Clone, Debug)]
pub struct File {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Email {
    /// The recipient and subject only: the bodies may hold links with tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Queues `email` as a `send_email` job and returns the job's id. Pass the transaction of the
/// write that calls for the mail, so that the mail is sent exactly when that write commits.
pub async fn enqueue(db: impl PgExecutor<'_>, email: &Email) -> sqlx::Result<i64> {
    let payload = serde_json::to_value(email).map_err(|err| sqlx::Error::Encode(err.into()))?;
    // Without a dedupe key every enqueue inserts a job, so there always is an id.
    jobs::enqueue(db, SEND_EMAIL, &payload, None, None)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}
