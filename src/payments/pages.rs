//! The customer's payment step, on the order page (`/account/orders/{id}`, rendered by
//! `orders::pages` with the [`PayView`] built here): the method choice (the enabled gateways),
//! the manual transfer's instructions with copy buttons and its "I have paid" form
//! (`POST /account/orders/{id}/payments/manual`, with an optional receipt image), and the
//! redirect page that sends the customer to a hosted checkout such as JazzCash
//! (`POST /account/orders/{id}/payments/start`).
//!
//! Every write goes through the same functions as the JSON API (`api::submit_manual`,
//! `api::start_attempt`), so the page and the API share one code path.

use askama::Template;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde::Deserialize;

use super::api::{
    MAX_RECEIPT_BYTES, parse_reference, sniff_image, start_attempt, start_without_attempt,
    submit_manual,
};
use super::manual::{self, Instructions};
use super::repo::{self, Payment};
use super::{MANUAL, Start};
use crate::accounts::extract::PageUser;
use crate::accounts::pages::{Failure, FormErrors, pkt, render_with, sentence};
use crate::app::AppState;
use crate::catalog::format_pkr;
use crate::error::{AppError, AppResult};
use crate::orders::OrderStatus;
use crate::orders::orders::{self, Order};
use crate::web::pages::Layout;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/account/orders/{id}/payments/manual",
            post(submit_manual_form),
        )
        .route("/account/orders/{id}/payments/start", post(start_payment))
        // The browser comes back from JazzCash with a cross-site form POST, which the CSRF
        // check exempts: the secure hash authenticates it instead.
        .route(
            "/payments/jazzcash/return",
            post(super::api::jazzcash_return).layer(axum::extract::DefaultBodyLimit::max(
                super::callbacks::MAX_CALLBACK_BYTES,
            )),
        )
}

/// The labels of the "I have paid" form's fields, for the sentences of their errors.
const MANUAL_FIELDS: &[(&str, &str)] = &[
    ("reference", "Transaction id"),
    ("channel", "Account"),
    ("paid_at", "Paid at"),
    ("receipt", "Receipt"),
];

/// The most a whole "I have paid" form may weigh: the receipt and a few short fields.
const MAX_MANUAL_FORM_BYTES: usize = MAX_RECEIPT_BYTES + 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Words shared with the operator's pages

/// How a payment was made, in words: the gateway and, for a transfer, its channel.
pub(crate) fn method_label(gateway: &str, channel: Option<&str>) -> String {
    match (gateway, channel) {
        (MANUAL, Some("bank")) => "Bank transfer".to_owned(),
        (MANUAL, Some("jazzcash")) => "JazzCash transfer".to_owned(),
        (MANUAL, Some("easypaisa")) => "Easypaisa transfer".to_owned(),
        (MANUAL, _) => "Manual transfer".to_owned(),
        (super::JAZZCASH, _) => "JazzCash checkout".to_owned(),
        (other, _) => other.to_owned(),
    }
}

/// A payment's status in the customer's words, for its badge.
pub(crate) fn payment_status_label(status: &str) -> &'static str {
    match status {
        "pending" => "Started",
        "review" => "Waiting for review",
        "succeeded" => "Paid",
        "failed" => "Failed",
        "rejected" => "Rejected",
        "refunded" => "Refunded",
        _ => "Unknown",
    }
}

/// Pakistan Standard Time, in which customers type when they paid.
fn pkt_offset() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600).expect("UTC+5 is a valid offset")
}

/// A `datetime-local` value typed in PKT (seconds optional).
fn parse_local(text: &str) -> Option<DateTime<Utc>> {
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .and_then(|naive| naive.and_local_timezone(pkt_offset()).single())
        .map(|moment| moment.with_timezone(&Utc))
}

// ---------------------------------------------------------------------------------------------
// The payment step of the order page

/// What the order's status means, in a sentence or two for its alert.
pub struct StatusNote {
    /// `success`, `info` or `error` (the `.alert-*` class).
    pub kind: &'static str,
    /// The alert's `id`, for tests and styling.
    pub id: &'static str,
    pub title: String,
    pub text: String,
}

/// A way to pay, as a choice on the order page.
pub struct MethodChoice {
    pub name: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// An account of the channel select.
pub struct ChannelOption {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

/// The "I have paid" form as typed, with its problems after a failed submit.
#[derive(Default)]
pub struct ManualForm {
    pub reference: String,
    pub channel: String,
    pub paid_at: String,
    pub errors: FormErrors,
    pub alert: Option<String>,
}

/// The manual transfer's panel: what to do, and the form to say it is done.
pub struct ManualPanel {
    pub instructions: Instructions,
    pub channels: Vec<ChannelOption>,
    pub form: ManualForm,
}

/// A hosted checkout's panel: one button that starts an attempt.
pub struct RedirectPanel {
    pub name: &'static str,
    /// The provider's name ("JazzCash").
    pub provider: &'static str,
}

/// A hosted checkout's provider, by the gateway's name.
fn provider_name(gateway: &str) -> &'static str {
    match gateway {
        super::JAZZCASH => "JazzCash",
        _ => "the payment page",
    }
}

/// One payment of the order, as its customer sees it (never the operator's flag).
pub struct PaymentRow {
    pub id: i32,
    pub method: String,
    pub amount: String,
    pub status: String,
    pub status_label: &'static str,
    pub reference: String,
    pub when: String,
    /// Why it failed or was rejected.
    pub note: Option<String>,
}

impl PaymentRow {
    fn new(payment: &Payment) -> Self {
        Self {
            id: payment.id,
            method: method_label(&payment.gateway, payment.channel.as_deref()),
            amount: format_pkr(i64::from(payment.amount_pkr)),
            status_label: payment_status_label(&payment.status),
            status: payment.status.clone(),
            reference: payment
                .gateway_txn_id
                .clone()
                .unwrap_or_else(|| "—".to_owned()),
            when: pkt(Some(payment.created_at)),
            note: payment
                .failure_reason
                .clone()
                .filter(|_| ["failed", "rejected"].contains(&payment.status.as_str())),
        }
    }
}

/// The payment part of the customer's order page.
pub struct PayView {
    pub status: StatusNote,
    /// The order awaits payment and nothing is waiting for review: the pay section shows.
    pub payable: bool,
    pub methods: Vec<MethodChoice>,
    pub manual: Option<ManualPanel>,
    pub redirect: Option<RedirectPanel>,
    pub payments: Vec<PaymentRow>,
    pub max_receipt_mb: usize,
}

/// What `order`'s status means for its customer, given its payments (oldest first).
fn status_note(order: &Order, payments: &[Payment], pay_before: Option<String>) -> StatusNote {
    let note = |kind, id, title: &str, text: String| StatusNote {
        kind,
        id,
        title: title.to_owned(),
        text,
    };
    let amount = format_pkr(i64::from(order.final_amount_pkr));
    match order.status.parse::<OrderStatus>() {
        Ok(OrderStatus::PendingPayment) => {
            if payments.iter().any(|p| p.status == "review") {
                return note(
                    "info",
                    "payment-review",
                    "We're checking your transfer",
                    "Usually within an hour. We e-mail you as soon as it is confirmed, and your \
                     server is set up right after."
                        .to_owned(),
                );
            }
            match payments.last() {
                Some(last) if last.status == "rejected" => note(
                    "error",
                    "payment-rejected",
                    "We could not confirm your transfer",
                    format!(
                        "{} Check the transaction id and submit it again below, or reply to our \
                         e-mail.",
                        sentence(
                            "",
                            last.failure_reason.as_deref().unwrap_or("no reason given")
                        )
                    ),
                ),
                Some(last) if last.status == "failed" => note(
                    "error",
                    "payment-failed",
                    "Your last payment did not go through",
                    format!(
                        "{} No money was taken for it; you can pay again below.",
                        sentence(
                            "",
                            last.failure_reason
                                .as_deref()
                                .unwrap_or("it was not completed")
                        )
                    ),
                ),
                _ => note(
                    "info",
                    "payment-due",
                    "Awaiting your payment",
                    match pay_before {
                        Some(at) => {
                            format!("Pay {amount} before {at}; after that the order expires.")
                        }
                        None => format!("Pay {amount} to start your server."),
                    },
                ),
            }
        }
        Ok(OrderStatus::Paid) => note(
            "success",
            "order-paid",
            "Paid",
            "Thank you! Your server is being prepared; we e-mail you as soon as it is ready, \
             and its login details will be on your services page."
                .to_owned(),
        ),
        Ok(OrderStatus::Processing) => note(
            "success",
            "order-processing",
            "Paid · setting up",
            "We are setting up your server now; we e-mail you when it is ready, and its login \
             details will be on your services page."
                .to_owned(),
        ),
        Ok(OrderStatus::Active) => note(
            "success",
            "order-active",
            "Active",
            "Your server is running; its address and login details are on your services page."
                .to_owned(),
        ),
        Ok(OrderStatus::Cancelled) => note(
            "info",
            "order-cancelled",
            "Cancelled",
            "This order is cancelled and can no longer be paid.".to_owned(),
        ),
        Ok(OrderStatus::Expired) => note(
            "info",
            "order-expired",
            "Expired",
            "This order was not paid in time and can no longer be paid; place a new one from \
             your cart."
                .to_owned(),
        ),
        Err(_) => note("info", "order-status", "Order", String::new()),
    }
}

/// The channel select: one option per channel the shop has an account on, with its providers.
fn channel_options(accounts: &[manual::Account], selected: &str) -> Vec<ChannelOption> {
    manual::CHANNELS
        .iter()
        .filter_map(|&channel| {
            let providers: Vec<&str> = accounts
                .iter()
                .filter(|a| a.channel == channel)
                .map(|a| a.provider.as_str())
                .collect();
            if providers.is_empty() {
                return None;
            }
            let kind = match channel {
                "bank" => "Bank transfer",
                "jazzcash" => "JazzCash wallet",
                _ => "Easypaisa wallet",
            };
            Some(ChannelOption {
                value: channel,
                label: format!("{kind} — {}", providers.join(", ")),
                selected: channel == selected,
            })
        })
        .collect()
}

/// The payment part of `order`'s page: what its status means, its payments, and while it
/// awaits payment the chosen method's panel (`chosen` from `?pay=`, else the first gateway).
pub async fn pay_view(
    state: &AppState,
    order: &Order,
    chosen: Option<&str>,
    form: ManualForm,
) -> AppResult<PayView> {
    let payments = repo::list_for_order(&state.db, order.id).await?;
    let expiry = chrono::Duration::hours(i64::from(state.settings.order_expiry_hours));
    let pay_before = order
        .created_at
        .filter(|_| order.status == OrderStatus::PendingPayment.as_str())
        .map(|at| pkt(Some(crate::orders::checkout::pay_before(at, expiry))));
    let status = status_note(order, &payments, pay_before);
    let payable = order.status == OrderStatus::PendingPayment.as_str()
        && !payments.iter().any(|p| p.status == "review");
    let gateways = state.settings.payments.gateways();
    let chosen = chosen
        .and_then(|name| gateways.iter().find(|g| g.name() == name))
        .or(gateways.first())
        .copied();
    let methods = gateways
        .iter()
        .map(|g| MethodChoice {
            name: g.name(),
            label: g.label(),
            selected: chosen.is_some_and(|c| c.name() == g.name()),
        })
        .collect();
    let (mut manual, mut redirect) = (None, None);
    if payable && let Some(gateway) = chosen {
        if gateway.records_attempt_on_start() {
            redirect = Some(RedirectPanel {
                name: gateway.name(),
                provider: provider_name(gateway.name()),
            });
        } else if let Start::Instructions(instructions) =
            start_without_attempt(state, gateway, order)
        {
            manual = Some(ManualPanel {
                channels: channel_options(&instructions.accounts, &form.channel),
                instructions,
                form,
            });
        }
    }
    Ok(PayView {
        status,
        payable,
        methods,
        manual,
        redirect,
        payments: payments.iter().map(PaymentRow::new).collect(),
        max_receipt_mb: MAX_RECEIPT_BYTES / (1024 * 1024),
    })
}

/// The visitor's own order; anyone else's is the 404 page, as if it did not exist.
async fn own_order(state: &AppState, visitor: &PageUser, id: i32) -> AppResult<Order> {
    orders::find_for_user(&state.db, id, visitor.user.id)
        .await?
        .ok_or(AppError::NotFound("order"))
}

fn see_other(target: &str) -> Response {
    Redirect::to(target).into_response()
}

// ---------------------------------------------------------------------------------------------
// "I have paid": the manual transfer's reference, with an optional receipt

/// The "I have paid" form as submitted.
#[derive(Debug, Default)]
struct Submitted {
    reference: String,
    channel: String,
    paid_at: String,
    receipt: Option<Bytes>,
}

/// The most parts a payment form may have (it has four).
const MAX_FORM_PARTS: usize = 20;

impl Submitted {
    fn set(&mut self, name: &str, value: String) {
        match name {
            "reference" => self.reference = value,
            "channel" => self.channel = value,
            "paid_at" => self.paid_at = value,
            _ => {}
        }
    }

    /// Reads a `multipart/form-data` body (with the receipt; parsed by `multer`, the parser
    /// behind axum's own `Multipart`) or an urlencoded one.
    async fn read(content_type: &str, body: Bytes) -> Result<Self, String> {
        let mut submitted = Self::default();
        let Ok(boundary) = multer::parse_boundary(content_type) else {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).map_err(|_| "not a form".to_owned())?;
            for (name, value) in pairs {
                submitted.set(&name, value);
            }
            return Ok(submitted);
        };
        let stream =
            futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut parts = 0;
        while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
            parts += 1;
            if parts > MAX_FORM_PARTS {
                return Err("too many parts".to_owned());
            }
            let name = field.name().unwrap_or_default().to_owned();
            let is_file = field.file_name().is_some();
            let data = field.bytes().await.map_err(|e| e.to_string())?;
            match (name.as_str(), is_file) {
                ("receipt", true) => submitted.receipt = Some(data).filter(|d| !d.is_empty()),
                (_, true) => {}
                (name, false) => submitted.set(name, String::from_utf8_lossy(&data).into_owned()),
            }
        }
        Ok(submitted)
    }
}

/// The receipt's content type, or why it is refused.
fn check_receipt(bytes: &[u8]) -> Result<&'static str, &'static str> {
    if bytes.len() > MAX_RECEIPT_BYTES {
        return Err("must be at most 2 MB");
    }
    sniff_image(bytes).ok_or("must be a PNG, JPEG or WebP image; this file is not one")
}

/// Records the customer's transfer for review (and its receipt), then back to the order page;
/// a form with problems comes back with each beside its field, and nothing stored.
async fn submit_manual_form(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let order = own_order(&state, &visitor, id).await?;
    if order.status != OrderStatus::PendingPayment.as_str() {
        return Ok(see_other(&format!(
            "/account/orders/{id}?notice=not-payable"
        )));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut form = ManualForm::default();
    let bytes = to_bytes(body, MAX_MANUAL_FORM_BYTES).await;
    let submitted = match &bytes {
        Ok(bytes) => Submitted::read(content_type, bytes.clone())
            .await
            .unwrap_or_else(|why| {
                tracing::debug!("unreadable payment form: {why}");
                form.alert =
                    Some("We could not read the form. Please fill it in again.".to_owned());
                Submitted::default()
            }),
        Err(_) => {
            form.errors
                .add("receipt", "Receipt", "must be at most 2 MB");
            Submitted::default()
        }
    };
    // Missing fields are only worth a word when the form could be read at all.
    let readable = bytes.is_ok() && form.alert.is_none();
    form.reference = submitted.reference.trim().chars().take(60).collect();
    form.channel = submitted.channel.trim().chars().take(20).collect();
    form.paid_at = submitted.paid_at.trim().chars().take(30).collect();

    let reference = match parse_reference(&form.reference) {
        Ok(reference) => Some(reference),
        Err(_) if form.reference.is_empty() => {
            if readable {
                form.errors.add(
                    "reference",
                    "Transaction id",
                    "is required: the TID on your receipt or SMS",
                );
            }
            None
        }
        Err(_) => {
            form.errors.add(
                "reference",
                "Transaction id",
                "must be 4 to 50 letters or digits (dashes allowed), as on your receipt",
            );
            None
        }
    };
    let channel = match form.channel.as_str() {
        "" => {
            if readable {
                form.errors.add(
                    "channel",
                    "Account",
                    "must be chosen: which account did you pay into?",
                );
            }
            None
        }
        known if manual::CHANNELS.contains(&known) => Some(known.to_owned()),
        _ => {
            form.errors
                .add("channel", "Account", "must be one of the accounts shown");
            None
        }
    };
    let paid_at = match form.paid_at.as_str() {
        "" => None,
        text => {
            let parsed = parse_local(text);
            if parsed.is_none() {
                form.errors
                    .add("paid_at", "Paid at", "must be a date and time");
            }
            parsed
        }
    };
    let receipt = match submitted.receipt {
        None => None,
        Some(bytes) => match check_receipt(&bytes) {
            Ok(content_type) => Some((content_type, bytes)),
            Err(problem) => {
                form.errors.add("receipt", "Receipt", problem);
                None
            }
        },
    };
    let reference = match reference {
        Some(reference) if form.errors.is_empty() && form.alert.is_none() => reference,
        _ => return manual_form_failed(&state, &visitor, &order, form).await,
    };
    match submit_manual(&state, &order, &reference, channel.as_deref(), paid_at).await {
        Ok(payment) => {
            if let Some((content_type, bytes)) = receipt {
                super::receipts::attach(&state.db, payment.id, None, content_type, &bytes).await?;
            }
            Ok(see_other(&format!(
                "/account/orders/{id}?notice=payment-submitted"
            )))
        }
        Err(err) => {
            let failure = Failure::from_error(err, MANUAL_FIELDS)?;
            form.errors = failure.errors;
            form.alert = failure.alert;
            manual_form_failed(&state, &visitor, &order, form).await
        }
    }
}

/// The order page again, with the "I have paid" form as typed and its problems.
async fn manual_form_failed(
    state: &AppState,
    visitor: &PageUser,
    order: &Order,
    form: ManualForm,
) -> AppResult<Response> {
    let pay = pay_view(state, order, Some(MANUAL), form).await?;
    crate::orders::pages::render_order_page(
        state,
        visitor,
        order.clone(),
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        pay,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// A hosted checkout (JazzCash): the redirect page

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StartForm {
    method: String,
}

#[derive(Template)]
#[template(path = "payments/redirect.html")]
struct RedirectPage {
    layout: Layout,
    order_id: i32,
    amount: String,
    provider: &'static str,
    url: String,
    fields: Vec<(String, String)>,
}

/// The scheme, host and port of a form's target, for the page's `form-action`; `None` for
/// anything that is not a plain http(s) URL.
fn form_origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !["https", "http"].contains(&scheme) {
        return None;
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = &url[..scheme.len() + 3 + host_end];
    let host = &rest[..host_end];
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    plain.then_some(origin)
}

/// Starts an attempt with a hosted checkout (the same code path as the API) and renders the
/// form that takes the customer there: app.js submits it at once, its button otherwise.
async fn start_payment(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    Form(form): Form<StartForm>,
) -> AppResult<Response> {
    let order = own_order(&state, &visitor, id).await?;
    let Some(gateway) = state.settings.payments.gateway(form.method.trim()) else {
        return Ok(see_other(&format!("/account/orders/{id}")));
    };
    if order.status != OrderStatus::PendingPayment.as_str() {
        return Ok(see_other(&format!(
            "/account/orders/{id}?notice=not-payable"
        )));
    }
    if !gateway.records_attempt_on_start() {
        return Ok(see_other(&format!(
            "/account/orders/{id}?pay={}",
            gateway.name()
        )));
    }
    let (payment, start) = start_attempt(&state, gateway, &order).await?;
    let Start::Redirect { url, fields } = start else {
        return Ok(see_other(&format!("/account/orders/{id}")));
    };
    tracing::info!(
        order.id = order.id,
        payment.id = payment.id,
        "{} attempt {} started from the order page",
        gateway.name(),
        payment.id
    );
    let origin = form_origin(&url).map(str::to_owned);
    let page = RedirectPage {
        layout: Layout::for_page(format!("Pay order #{id}"), &visitor.context),
        order_id: order.id,
        amount: format_pkr(i64::from(order.final_amount_pkr)),
        provider: provider_name(gateway.name()),
        url,
        fields: fields.into_iter().collect(),
    };
    let mut response = render_with(StatusCode::OK, &page)?;
    let headers = response.headers_mut();
    // The signed form carries the merchant's credentials: never cached.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The page's one form posts to the provider: the policy names it, nothing else changes.
    if let Some(origin) = origin {
        let policy = crate::web::CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        );
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn multipart_bodies_are_split_into_named_fields() {
        let body: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"reference\"\r\n\r\nTID1234\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"receipt\"; filename=\"a;b.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n--XyZ--\r\n";
        let submitted = Submitted::read(
            "multipart/form-data; boundary=\"XyZ\"",
            Bytes::from_static(body),
        )
        .await
        .unwrap();
        assert_eq!(submitted.reference, "TID1234");
        assert_eq!(
            submitted.receipt.as_deref(),
            Some(&b"\x89PNG\r\n\x1a\n"[..])
        );
    }

    #[tokio::test]
    async fn broken_multipart_bodies_are_refused() {
        let broken = Submitted::read(
            "multipart/form-data; boundary=XyZ",
            Bytes::from_static(b"--XyZ\r\nno end"),
        )
        .await;
        assert!(broken.is_err());
        let form = Submitted::read(
            "application/x-www-form-urlencoded",
            Bytes::from_static(b"reference=TID9&x=1"),
        )
        .await
        .unwrap();
        assert_eq!(form.reference, "TID9");
    }

    #[tokio::test]
    async fn an_empty_file_input_is_no_receipt() {
        let body: &[u8] =
            b"--b\r\nContent-Disposition: form-data; name=\"receipt\"; filename=\"\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\r\n--b--\r\n";
        let submitted =
            Submitted::read("multipart/form-data; boundary=b", Bytes::from_static(body))
                .await
                .unwrap();
        assert!(submitted.receipt.is_none());
    }

    #[test]
    fn only_plain_https_origins_reach_the_policy() {
        assert_eq!(
            form_origin(super::super::jazzcash::SANDBOX_URL),
            Some("https://sandbox.jazzcash.com.pk")
        );
        assert_eq!(
            form_origin("http://127.0.0.1:9000/pay"),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(form_origin("javascript:alert(1)"), None);
        assert_eq!(form_origin("https://evil.test; script-src *"), None);
    }

    #[test]
    fn paid_at_is_typed_in_pakistan_time() {
        assert_eq!(
            parse_local("2026-03-01T10:30").unwrap().to_rfc3339(),
            "2026-03-01T05:30:00+00:00"
        );
        assert!(parse_local("yesterday").is_none());
    }
}
