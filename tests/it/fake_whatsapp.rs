//! A local stand-in for the WhatsApp Business Cloud API's send endpoint
//! (`POST /{version}/{phone-number-id}/messages`), started by the tests: it checks the bearer
//! token and the message's shape as Meta documents it, keeps every message it accepted, and
//! answers like Graph (a `wamid`), or with an error when the test says so.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const TOKEN: &str = "EAAG-test-token";
pub const PHONE_NUMBER_ID: &str = "109876543210";

#[derive(Default)]
struct Book {
    sent: Vec<Value>,
    /// Answer the next sends with this status (and Graph's error body) instead.
    fail_with: Option<u16>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeWhatsApp {
    pub url: String,
    book: Arc<Mutex<Book>>,
}

impl FakeWhatsApp {
    pub async fn start() -> Self {
        let book = Arc::new(Mutex::new(Book::default()));
        let app = axum::Router::new()
            .route("/v21.0/{phone_number_id}/messages", post(send))
            .with_state(book.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{address}/v21.0"),
            book,
        }
    }

    /// The shop's settings against this fake.
    pub fn config(&self) -> nextgenrdp::config::WhatsAppConfig {
        nextgenrdp::config::WhatsAppConfig {
            whatsapp_token: Some(secrecy::SecretString::from(TOKEN)),
            whatsapp_phone_number_id: Some(PHONE_NUMBER_ID.into()),
            whatsapp_api_url: self.url.clone(),
            whatsapp_language: "en".into(),
        }
    }

    /// Every message accepted so far.
    pub fn sent(&self) -> Vec<Value> {
        self.book.lock().unwrap().sent.clone()
    }

    /// The (template, parameters) of the messages sent to `to`.
    pub fn templates_to(&self, to: &str) -> Vec<(String, Vec<String>)> {
        self.sent()
            .iter()
            .filter(|m| m["to"] == to)
            .map(|m| {
                let parameters = m["template"]["components"][0]["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["text"].as_str().unwrap().to_owned())
                    .collect();
                (
                    m["template"]["name"].as_str().unwrap().to_owned(),
                    parameters,
                )
            })
            .collect()
    }

    /// From now on, answer `status` (None: accept again).
    pub fn fail_with(&self, status: Option<u16>) {
        self.book.lock().unwrap().fail_with = status;
    }
}

async fn send(
    State(book): State<Arc<Mutex<Book>>>,
    Path(phone_number_id): Path<String>,
    headers: HeaderMap,
    Json(message): Json<Value>,
) -> Response {
    let error = |status: StatusCode, code: u32, text: &str| {
        (
            status,
            Json(json!({ "error": { "message": text, "type": "OAuthException", "code": code } })),
        )
            .into_response()
    };
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {TOKEN}"))
    {
        return error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token");
    }
    if phone_number_id != PHONE_NUMBER_ID {
        return error(StatusCode::BAD_REQUEST, 100, "Unknown phone number id");
    }
    let well_formed = message["messaging_product"] == "whatsapp"
        && message["type"] == "template"
        && message["to"]
            .as_str()
            .is_some_and(|to| to.bytes().all(|b| b.is_ascii_digit()))
        && message["template"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("ngr_"))
        && message["template"]["language"]["code"].is_string()
        && message["template"]["components"][0]["type"] == "body";
    if !well_formed {
        return error(StatusCode::BAD_REQUEST, 100, "(#100) Invalid parameter");
    }
    let mut book = book.lock().unwrap();
    if let Some(status) = book.fail_with {
        let status = StatusCode::from_u16(status).unwrap();
        return error(
            status,
            if status.is_server_error() { 2 } else { 131026 },
            "refused on purpose",
        );
    }
    book.sent.push(message.clone());
    let id = format!("wamid.TEST{}", book.sent.len());
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": message["to"], "wa_id": message["to"] }],
        "messages": [{ "id": id }],
    }))
    .into_response()
}
