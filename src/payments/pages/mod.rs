//! The customer's payment step, on the order page (`/account/orders/{id}`, rendered by
//! `orders::pages` with the [`PayView`] built here): the method choice (the enabled gateways),
//! the manual transfer's instructions with copy buttons and its "I have paid" form
//! (`POST /account/orders/{id}/payments/manual`, with an optional receipt image), and the
//! redirect page that sends the customer to a hosted checkout such as JazzCash
//! (`POST /account/orders/{id}/payments/start`).
//!
//! Every write goes through the same verbs as the JSON API (`pay::submit_manual`,
//! `pay::start_attempt`), so the page and the API share one code path; what the order page
//! shows of payments is built in `views`.

use askama::Template;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::manual::{self};
use super::pay::{parse_reference, start_attempt, submit_manual};
use super::receipts::MAX_RECEIPT_BYTES;
use super::views::{ManualForm, pay_view, provider_name};
use super::{MANUAL, Start};
use crate::accounts::extract::PageUser;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;
use crate::orders::OrderStatus;
use crate::orders::orders::{self, Order};
use crate::web::forms::sniff_image;
use crate::web::forms::{Failure, pkt_offset};
use crate::web::pages::Layout;
use crate::web::pages::{allow_form_to, render_with};

mod billing;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/account/billing",
            axum::routing::get(billing::billing_page).post(billing::save_billing),
        )
        .route(
            "/account/invoices/{id}/pdf",
            axum::routing::get(billing::download),
        )
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
        // Easypay sends the browser back twice (with a token, then with the order's
        // reference), by GET or POST; nothing in it is believed without Easypay's inquiry.
        .route(
            "/payments/easypaisa/return",
            axum::routing::get(super::api::easypaisa_return)
                .post(super::api::easypaisa_return)
                .layer(axum::extract::DefaultBodyLimit::max(
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

/// A `datetime-local` value typed in PKT (seconds optional).
fn parse_local(text: &str) -> Option<DateTime<Utc>> {
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .and_then(|naive| naive.and_local_timezone(pkt_offset()).single())
        .map(|moment| moment.with_timezone(&Utc))
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

    /// Reads a `multipart/form-data` body (with the receipt) or an urlencoded one.
    async fn read(content_type: &str, body: Bytes) -> Result<Self, String> {
        let form = crate::web::upload::read_form(content_type, body, MAX_FORM_PARTS).await?;
        let mut submitted = Self {
            receipt: form.files("receipt").next().map(|file| file.bytes.clone()),
            ..Self::default()
        };
        for (name, value) in form.fields {
            submitted.set(&name, value);
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
    if order.status != OrderStatus::PendingPayment {
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
    crate::orders::views::render_order_page(
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

/// Starts an attempt with a hosted checkout (the same code path as the API) and renders the
/// form that takes the customer there: app.js submits it at once, its button otherwise.
async fn start_payment(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    Form(form): Form<StartForm>,
) -> AppResult<Response> {
    let order = own_order(&state, &visitor, id).await?;
    let Some(gateway) = state.payments.gateway(form.method.trim()) else {
        return Ok(see_other(&format!("/account/orders/{id}")));
    };
    if order.status != OrderStatus::PendingPayment {
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
    let target = url.clone();
    let page = RedirectPage {
        layout: Layout::for_page(format!("Pay order #{id}"), &visitor.context),
        order_id: order.id,
        amount: format_pkr(order.due_pkr()),
        provider: provider_name(gateway.name()),
        url,
        fields: fields.into_iter().collect(),
    };
    let mut response = render_with(StatusCode::OK, &page)?;
    allow_form_to(&mut response, &target);
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
    fn paid_at_is_typed_in_pakistan_time() {
        assert_eq!(
            parse_local("2026-03-01T10:30").unwrap().to_rfc3339(),
            "2026-03-01T05:30:00+00:00"
        );
        assert!(parse_local("yesterday").is_none());
    }
}
