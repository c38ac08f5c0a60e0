//! WhatsApp Business Cloud API template messages: the notices a customer who chose e-mail +
//! WhatsApp also gets on their phone. Like e-mail, a message is a durable `send_whatsapp` job
//! enqueued in the transaction of the write it tells of ([`enqueue`]); the worker sends it
//! ([`WhatsApp::send`]: `POST {api}/{phone-number-id}/messages` with a bearer token) and retries
//! while Meta is unreachable or rate-limits; a refusal (an unknown template, a number not on
//! WhatsApp) fails the job for good.
//!
//! Business-initiated messages must be pre-approved templates: the shop's operator creates each
//! of [`TEMPLATES`] in Meta's WhatsApp Manager with the body parameters listed there.

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgExecutor;

use crate::jobs::{self, Permanent, kinds::SEND_WHATSAPP};

/// A code to verify the customer's number: `{{1}}` the code.
pub const VERIFICATION_CODE: &str = "ngr_verification_code";
/// An order placed: `{{1}}` the `NGR-` reference, `{{2}}` the amount, `{{3}}` the deadline.
pub const ORDER_PLACED: &str = "ngr_order_placed";
/// A payment confirmed: `{{1}}` the reference, `{{2}}` the amount.
pub const PAYMENT_APPROVED: &str = "ngr_payment_approved";
/// A transfer not confirmed: `{{1}}` the reference, `{{2}}` the reason.
pub const PAYMENT_REJECTED: &str = "ngr_payment_rejected";
/// A server ready: `{{1}}` the server's number, `{{2}}` its plan.
pub const SERVER_READY: &str = "ngr_server_ready";
/// A renewal due: `{{1}}` the server's number, `{{2}}` the due date, `{{3}}` the amount.
pub const RENEWAL_REMINDER: &str = "ngr_renewal_reminder";
/// A ticket answered: `{{1}}` the ticket's number, `{{2}}` its subject.
pub const TICKET_REPLY: &str = "ngr_ticket_reply";

/// Every template the shop sends, with what its body parameters are (for the README and the
/// operator creating them in WhatsApp Manager).
pub const TEMPLATES: &[(&str, &[&str])] = &[
    (VERIFICATION_CODE, &["code"]),
    (ORDER_PLACED, &["reference", "amount", "pay before"]),
    (PAYMENT_APPROVED, &["reference", "amount"]),
    (PAYMENT_REJECTED, &["reference", "reason"]),
    (SERVER_READY, &["server number", "plan"]),
    (RENEWAL_REMINDER, &["server number", "due date", "amount"]),
    (TICKET_REPLY, &["ticket number", "subject"]),
];

/// One template message to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMessage {
    /// The recipient, international digits (`923001234567`).
    pub to: String,
    /// One of [`TEMPLATES`].
    pub template: String,
    /// The body parameters, in order.
    pub parameters: Vec<String>,
}

/// Queues `message` in the caller's transaction; the worker sends it.
pub async fn enqueue(db: impl PgExecutor<'_>, message: &TemplateMessage) -> sqlx::Result<i64> {
    let payload = serde_json::to_value(message).map_err(|err| sqlx::Error::Encode(err.into()))?;
    jobs::enqueue(db, SEND_WHATSAPP, &payload, None, None)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// The Cloud API as configured.
pub struct WhatsApp {
    token: SecretString,
    phone_number_id: String,
    api_url: String,
    language: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for WhatsApp {
    /// Never shows the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsApp")
            .field("phone_number_id", &self.phone_number_id)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl crate::config::WhatsAppConfig {
    /// The API when both the token and the phone number id are set; `None` when neither is;
    /// an error naming the missing one otherwise.
    pub fn settings(&self) -> anyhow::Result<Option<WhatsApp>> {
        let token = self
            .whatsapp_token
            .clone()
            .filter(|t| !t.expose_secret().trim().is_empty());
        let id = self
            .whatsapp_phone_number_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty());
        match (token, id) {
            (None, None) => Ok(None),
            (Some(token), Some(id)) => {
                anyhow::ensure!(
                    id.bytes().all(|b| b.is_ascii_digit()),
                    "NEXTGENRDP_WHATSAPP_PHONE_NUMBER_ID {id:?} is not a phone number id (digits)"
                );
                Ok(Some(WhatsApp {
                    token,
                    phone_number_id: id.to_owned(),
                    api_url: self.whatsapp_api_url.trim_end_matches('/').to_owned(),
                    language: self.whatsapp_language.clone(),
                    http: reqwest::Client::builder()
                        .timeout(std::time::Duration::from_secs(20))
                        .build()
                        .context("building the WhatsApp HTTP client")?,
                }))
            }
            (None, Some(_)) => anyhow::bail!(
                "NEXTGENRDP_WHATSAPP_PHONE_NUMBER_ID is set without NEXTGENRDP_WHATSAPP_TOKEN"
            ),
            (Some(_), None) => anyhow::bail!(
                "NEXTGENRDP_WHATSAPP_TOKEN is set without NEXTGENRDP_WHATSAPP_PHONE_NUMBER_ID"
            ),
        }
    }
}

/// What the Graph API answers a send.
#[derive(Deserialize)]
struct Sent {
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
}

impl WhatsApp {
    /// Sends `message`; WhatsApp's message id. A 4xx other than 429 (a template not approved,
    /// a number not on WhatsApp, a bad token) is [`Permanent`]; anything else may pass later.
    pub async fn send(&self, message: &TemplateMessage) -> anyhow::Result<String> {
        let parameters: Vec<_> = message
            .parameters
            .iter()
            .map(|text| json!({ "type": "text", "text": text }))
            .collect();
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to,
            "type": "template",
            "template": {
                "name": message.template,
                "language": { "code": self.language },
                "components": [{ "type": "body", "parameters": parameters }],
            },
        });
        let url = format!("{}/{}/messages", self.api_url, self.phone_number_id);
        let response = self
            .http
            .post(&url)
            .bearer_auth(self.token.expose_secret())
            .json(&body)
            .send()
            .await
            .context("WhatsApp's API did not answer")?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(300).collect();
        if status.is_success() {
            let sent: Sent = serde_json::from_str(&text)
                .with_context(|| format!("WhatsApp's answer is not a send result: {excerpt}"))?;
            return sent
                .messages
                .into_iter()
                .next()
                .map(|m| m.id)
                .context("WhatsApp's answer names no message");
        }
        let why = format!("WhatsApp refused the message ({status}): {excerpt}");
        if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(Permanent::error(why))
        } else {
            Err(anyhow::anyhow!(why))
        }
    }
}
