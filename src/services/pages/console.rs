//! The browser console: `/account/services/{id}/console` (the customer's page; the operator's
//! is in `admin_pages`) and `/console/socket?token=…`, the websocket both pages (and API
//! clients, through `POST …/console`) connect to.
//!
//! The page holds a one-time link made when it is rendered; noVNC (vendored, `static/novnc.js`)
//! connects to our socket, and the socket relays to the VM's console on Proxmox
//! (`provisioning::vnc`). What may open and for how long is `services::console`'s.

use askama::Template;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sqlx::PgPool;

use crate::accounts::extract::PageUser;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::provisioning::Provisioning;
use crate::provisioning::vnc::{self, Ended, Wire};
use crate::services::console::{self, Link, Opened, Slot};
use crate::services::services;
use crate::web::assets;
use crate::web::pages::{Layout, render_with};

/// The console page, the customer's and the operator's.
#[derive(Template)]
#[template(path = "account/console.html")]
pub struct ConsolePage {
    pub layout: Layout,
    pub service_id: i32,
    /// Where "Back" goes: the service's page.
    pub back: String,
    /// `/console/socket?token=…`.
    pub socket: String,
    pub novnc_url: String,
    pub console_js_url: String,
    /// Why the console cannot open (the page then says what to do instead).
    pub refusal: Option<String>,
    /// For a refusal: the server is run by hand (the page offers a ticket).
    pub by_hand: bool,
}

impl ConsolePage {
    /// The page for `link`, or for the refusal `err` (a 409 or 503 shown in words; anything
    /// else is returned as the error it is).
    pub fn build(
        layout: Layout,
        service_id: i32,
        back: String,
        outcome: AppResult<Link>,
    ) -> AppResult<(StatusCode, Self)> {
        let (status, socket, refusal, by_hand) = match outcome {
            Ok(link) => (StatusCode::OK, link.socket_path(), None, false),
            Err(AppError::Conflict { detail, field }) => (
                StatusCode::CONFLICT,
                String::new(),
                Some(detail),
                field.as_deref() == Some("service"),
            ),
            Err(AppError::Unavailable(detail)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                String::new(),
                Some(detail),
                false,
            ),
            Err(err) => return Err(err),
        };
        Ok((
            status,
            Self {
                layout,
                service_id,
                back,
                socket,
                novnc_url: assets::url("novnc.js"),
                console_js_url: assets::url("console.js"),
                refusal,
                by_hand,
            },
        ))
    }

    /// The rendered page; never cached (it holds a one-time link).
    pub fn respond(self, status: StatusCode) -> AppResult<Response> {
        let mut response = render_with(status, &self)?;
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, private"),
        );
        Ok(response)
    }
}

/// `GET /account/services/{id}/console`: the customer's console page.
pub(super) async fn console_page(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    let service = services::find_for_user(&state.db, id, visitor.user.id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    let session = visitor.session_id;
    let outcome = console::grant(
        &state.db,
        &state.consoles,
        service.id,
        Some(visitor.user.id),
        visitor.user.id,
        session,
    )
    .await;
    let layout = Layout::for_page(format!("Console · Server #{id}"), &visitor.context);
    let (status, page) =
        ConsolePage::build(layout, id, format!("/account/services/{id}"), outcome)?;
    page.respond(status)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SocketQuery {
    token: String,
}

/// `GET /console/socket?token=…`: spends the link, takes a console place and, once the
/// websocket is up, relays it to the VM's console. A used, expired or foreign link is a 403
/// before any upgrade; so is a page of another site (`Origin`).
pub(super) async fn console_socket(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SocketQuery>,
    upgrade: WebSocketUpgrade,
) -> AppResult<Response> {
    if !origin_allowed(&state, &headers) {
        return Err(AppError::Forbidden(
            "the console opens only from this shop's pages".into(),
        ));
    }
    let opened = console::redeem(&state.db, query.token.trim()).await?;
    let slot = state.consoles.take(opened.user_id)?;
    let db = state.db.clone();
    let ctx = state.provisioning.clone();
    let (bounds, every) = (state.consoles.bounds, state.consoles.check_every);
    Ok(upgrade
        .protocols(["binary"])
        .on_upgrade(move |socket| run(socket, db, ctx, opened, slot, (bounds, every)))
        .into_response())
}

/// Whether a websocket's `Origin` (a browser always sends one) is this shop or an origin its
/// API allows (`NEXTGENRDP_CORS_ORIGINS`); a client that sends none is not a browser page.
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let own = host.is_some_and(|host| {
        origin == format!("http://{host}") || origin == format!("https://{host}")
    });
    own || state.settings.public_url.trim_end_matches('/') == origin
        || state
            .settings
            .cors_origins
            .iter()
            .any(|o| o.trim().trim_end_matches('/') == origin)
}

/// The browser's websocket as a relay side.
struct Browser(WebSocket);

impl Wire for Browser {
    async fn recv(&mut self) -> Option<Result<Vec<u8>, String>> {
        loop {
            return match self.0.recv().await? {
                Ok(Message::Binary(data)) => Some(Ok(data.to_vec())),
                Ok(Message::Close(_)) => None,
                Ok(_) => continue,
                Err(err) => Some(Err(err.to_string())),
            };
        }
    }

    async fn send(&mut self, data: Vec<u8>) -> Result<(), String> {
        self.0
            .send(Message::Binary(data.into()))
            .await
            .map_err(|err| err.to_string())
    }
}

/// One console, from the upgraded socket to its close.
async fn run(
    socket: WebSocket,
    db: PgPool,
    ctx: std::sync::Arc<Provisioning>,
    opened: Opened,
    slot: Slot,
    (bounds, every): (vnc::Bounds, std::time::Duration),
) {
    let mut browser = Browser(socket);
    let ended = match console::connect(&ctx, &opened).await {
        Ok((mut server, client, password)) => {
            match vnc::handshake(&mut browser, &mut server, &password).await {
                Ok(()) => {
                    let stop = console::watch(&db, &client, &opened, every);
                    vnc::relay(&mut browser, &mut server, bounds, stop).await
                }
                Err(err) => Ended::Failed(err),
            }
        }
        Err(err) => {
            tracing::warn!(
                service.id = opened.service_id,
                "console: reaching Proxmox failed: {err:#}"
            );
            let reason = "We could not reach your server's console just now. Try again in a \
                          minute; if it keeps failing, open a support ticket.";
            vnc::refuse_browser(&mut browser, reason).await;
            Ended::Failed(vnc::RelayError::Server(err.to_string()))
        }
    };
    tracing::info!(
        service.id = opened.service_id,
        user.id = opened.user_id,
        "console closed: {ended:?}"
    );
    let mut reason = ended.message();
    // A close frame's reason holds at most 123 bytes.
    while reason.len() > 123 {
        reason.pop();
    }
    let _ = browser
        .0
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: reason.into(),
        })))
        .await;
    drop(slot);
}
