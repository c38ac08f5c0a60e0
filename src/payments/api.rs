//! The customer's payment endpoints and the gateways' callbacks:
//! `POST|GET /api/v1/orders/{id}/payments`, `PUT /api/v1/payments/{id}/receipt`,
//! `POST /api/v1/payments/jazzcash/ipn` and the browser return `POST /payments/jazzcash/return`.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::repo::{self, NewPayment, Payment, Transition};
use super::settle::{self, Settled};
use super::{
    JAZZCASH, MANUAL, PaymentGateway, Start, StartContext, jazzcash, manual, order_reference,
};
use crate::accounts::extract::ApiUser;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::orders::OrderStatus;
use crate::orders::orders::{self, Order};
use crate::web::extract::AppJson;
use crate::web::pages::{Layout, render};

/// The largest receipt image.
pub const MAX_RECEIPT_BYTES: usize = 2 * 1024 * 1024;

/// Routes under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/orders/{id}/payments",
            get(list_payments).post(create_payment),
        )
        .route(
            "/payments/{id}/receipt",
            put(upload_receipt).layer(DefaultBodyLimit::max(MAX_RECEIPT_BYTES + 1024)),
        )
        .route("/payments/jazzcash/ipn", post(jazzcash_ipn))
}

/// Page routes (the browser comes back from JazzCash with a cross-site form POST, which the
/// CSRF check exempts: the secure hash authenticates it instead).
pub fn pages_router() -> Router<AppState> {
    Router::new().route("/payments/jazzcash/return", post(jazzcash_return))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePaymentRequest {
    method: String,
    /// Manual: the transaction id (TID) of the transfer; absent to get the instructions.
    reference: Option<String>,
    /// Manual: which account it went to (bank, jazzcash, easypaisa).
    channel: Option<String>,
    /// Manual: when the customer paid.
    paid_at: Option<DateTime<Utc>>,
}

/// The caller's order, still awaiting payment.
async fn payable_order(state: &AppState, id: i32, user_id: i32) -> AppResult<Order> {
    let order = orders::find_for_user(&state.db, id, user_id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    if order.status != OrderStatus::PendingPayment.as_str() {
        return Err(AppError::conflict(
            "order",
            format!("order {} is {}; it cannot be paid", order.id, order.status),
        ));
    }
    Ok(order)
}

/// Checks a manual transfer's reference: 4 to 50 letters, digits, `-` or `_`.
pub(crate) fn parse_reference(reference: &str) -> AppResult<String> {
    let reference = reference.trim();
    if !(4..=50).contains(&reference.len())
        || !reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AppError::invalid(
            "reference",
            "must be the transaction id: 4 to 50 letters or digits",
        ));
    }
    Ok(reference.to_owned())
}

async fn create_payment(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    AppJson(body): AppJson<CreatePaymentRequest>,
) -> AppResult<Response> {
    let payments = &state.settings.payments;
    let gateway = payments.gateway(&body.method).ok_or_else(|| {
        let offered: Vec<&str> = payments.gateways().iter().map(|g| g.name()).collect();
        AppError::invalid("method", format!("must be one of: {}", offered.join(", ")))
    })?;
    let order = payable_order(&state, id, caller.user.id).await?;
    match (gateway.name(), body.reference) {
        (MANUAL, None) => {
            let start = start_without_attempt(&state, gateway, &order);
            Ok(
                Json(json!({ "method": MANUAL, "order_id": order.id, "start": start }))
                    .into_response(),
            )
        }
        (MANUAL, Some(reference)) => {
            let reference = parse_reference(&reference)?;
            let payment = submit_manual(
                &state,
                &order,
                &reference,
                body.channel.as_deref(),
                body.paid_at,
            )
            .await?;
            Ok((StatusCode::CREATED, Json(json!({ "payment": payment }))).into_response())
        }
        (_, Some(_)) => Err(AppError::invalid(
            "reference",
            "only manual transfers take a reference",
        )),
        (_, None) => {
            let (payment, start) = start_attempt(&state, gateway, &order).await?;
            Ok((
                StatusCode::CREATED,
                Json(json!({ "payment": payment, "start": start })),
            )
                .into_response())
        }
    }
}

/// How to pay `order` with a gateway that records nothing until the customer acts (the manual
/// transfer's instructions).
pub(crate) fn start_without_attempt(
    state: &AppState,
    gateway: &dyn PaymentGateway,
    order: &Order,
) -> Start {
    gateway.start(&StartContext {
        order,
        txn_ref: "",
        public_url: &state.settings.public_url,
        now: Utc::now(),
    })
}

/// Starts an attempt with a redirect gateway (JazzCash): a fresh transaction reference, the
/// signed form, and the `pending` payment its callbacks will find, recorded with the request
/// (password redacted). The API and the order page both start attempts here.
pub(crate) async fn start_attempt(
    state: &AppState,
    gateway: &dyn PaymentGateway,
    order: &Order,
) -> AppResult<(Payment, Start)> {
    let now = Utc::now();
    let txn_ref = jazzcash::new_txn_ref(now);
    let start = gateway.start(&StartContext {
        order,
        txn_ref: &txn_ref,
        public_url: &state.settings.public_url,
        now,
    });
    let payload = match &start {
        Start::Redirect { fields, .. } => redact(fields),
        Start::Instructions(_) => json!(null),
    };
    let mut tx = state.db.begin().await?;
    let payment = repo::insert(
        &mut *tx,
        &NewPayment {
            order_id: order.id,
            gateway: gateway.name(),
            amount_pkr: order.final_amount_pkr,
            status: "pending",
            gateway_txn_id: Some(&txn_ref),
            channel: None,
            customer_paid_at: None,
            request_payload: Some(payload.clone()),
            flag: None,
        },
    )
    .await?;
    repo::insert_event(&mut *tx, Some(payment.id), "created", Some(&payload), None).await?;
    tx.commit().await?;
    Ok((payment, start))
}

/// The request as stored: without the merchant's password.
fn redact(fields: &BTreeMap<String, String>) -> serde_json::Value {
    let mut copy = fields.clone();
    if copy.contains_key("pp_Password") {
        copy.insert("pp_Password".into(), "[redacted]".into());
    }
    json!(copy)
}

/// Records a manual transfer for review; a reference quoted before is flagged for the operator.
pub async fn submit_manual(
    state: &AppState,
    order: &Order,
    reference: &str,
    channel: Option<&str>,
    paid_at: Option<DateTime<Utc>>,
) -> AppResult<Payment> {
    if let Some(channel) = channel
        && !manual::CHANNELS.contains(&channel)
    {
        return Err(AppError::invalid(
            "channel",
            format!("must be one of {}", manual::CHANNELS.join(", ")),
        ));
    }
    if paid_at.is_some_and(|at| at > Utc::now() + chrono::Duration::minutes(5)) {
        return Err(AppError::invalid("paid_at", "must not be in the future"));
    }
    let mut tx = state.db.begin().await?;
    let seen = repo::count_manual_reference(&mut *tx, reference).await?;
    let flag = (seen > 0)
        .then(|| format!("reference {reference} was already submitted on another payment"));
    let payload = json!({ "reference": reference, "channel": channel, "paid_at": paid_at });
    let payment = repo::insert(
        &mut *tx,
        &NewPayment {
            order_id: order.id,
            gateway: MANUAL,
            amount_pkr: order.final_amount_pkr,
            status: "review",
            gateway_txn_id: Some(reference),
            channel,
            customer_paid_at: paid_at,
            request_payload: Some(payload.clone()),
            flag: flag.as_deref(),
        },
    )
    .await?;
    repo::insert_event(
        &mut *tx,
        Some(payment.id),
        "submitted",
        Some(&payload),
        flag.as_deref(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        order.id = order.id,
        payment.id = payment.id,
        "manual payment {} submitted for review",
        payment.id
    );
    Ok(payment)
}

async fn list_payments(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let order = orders::find_for_user(&state.db, id, caller.user.id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let items = repo::list_for_order(&state.db, order.id).await?;
    let methods: Vec<_> = state
        .settings
        .payments
        .gateways()
        .iter()
        .map(|g| json!({ "method": g.name(), "label": g.label() }))
        .collect();
    Ok(Json(json!({ "items": items, "methods": methods })))
}

/// What an uploaded receipt is, by its first bytes (the declared type must agree).
pub(crate) fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Attaches a receipt image (PNG, JPEG or WebP, at most 2 MB) to one's own manual payment.
async fn upload_receipt(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<StatusCode> {
    let payment = repo::find_for_user(&state.db, id, caller.user.id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    if payment.gateway != MANUAL {
        return Err(AppError::conflict(
            "payment",
            "only a manual transfer takes a receipt",
        ));
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !["image/png", "image/jpeg", "image/webp"].contains(&declared) {
        return Err(AppError::UnsupportedMediaType);
    }
    if body.len() > MAX_RECEIPT_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    if sniff_image(&body) != Some(declared) {
        return Err(AppError::invalid(
            "receipt",
            "the file is not the PNG, JPEG or WebP image it claims to be",
        ));
    }
    repo::put_receipt(&state.db, payment.id, declared, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a JazzCash callback came to.
pub struct CallbackOutcome {
    pub order_id: i32,
    pub paid: bool,
    pub message: String,
}

/// Verifies and records a JazzCash result (browser return or IPN), idempotently on the
/// attempt's transaction reference. A forged, foreign or mismatched one is refused (400),
/// recorded with why, and changes nothing.
pub async fn handle_jazzcash(
    state: &AppState,
    fields: BTreeMap<String, String>,
    kind: &str,
) -> AppResult<CallbackOutcome> {
    let payload = json!(fields);
    let refuse = async |payment_id: Option<i32>, why: String| -> AppResult<CallbackOutcome> {
        repo::insert_event(
            &state.db,
            payment_id,
            "refused",
            Some(&payload),
            Some(&format!("{kind}: {why}")),
        )
        .await?;
        tracing::warn!(payment.id = ?payment_id, "refused a JazzCash {kind}: {why}");
        metrics::counter!("payments_total", "gateway" => JAZZCASH, "outcome" => "refused")
            .increment(1);
        Err(AppError::bad_request(
            "pp_SecureHash",
            format!("callback refused: {why}"),
        ))
    };
    let Some(merchant) = &state.settings.payments.jazzcash else {
        return Err(AppError::NotFound("JazzCash gateway"));
    };
    let callback = match merchant.verify(&fields) {
        Ok(callback) => callback,
        Err(why) => return refuse(None, why).await,
    };
    let mut tx = state.db.begin().await?;
    let Some(payment) = repo::find_by_txn_for_update(&mut *tx, JAZZCASH, &callback.txn_ref).await?
    else {
        drop(tx);
        return refuse(
            None,
            format!("unknown transaction reference {:?}", callback.txn_ref),
        )
        .await;
    };
    if callback.amount_paisa != i64::from(payment.amount_pkr) * 100 {
        drop(tx);
        return refuse(
            Some(payment.id),
            format!(
                "amount {} paisa does not match the attempt",
                callback.amount_paisa
            ),
        )
        .await;
    }
    if callback.bill_reference != order_reference(payment.order_id) {
        drop(tx);
        return refuse(
            Some(payment.id),
            "the bill reference names another order".to_owned(),
        )
        .await;
    }
    repo::insert_event(
        &mut *tx,
        Some(payment.id),
        kind,
        Some(&payload),
        Some(&callback.response_code),
    )
    .await?;
    let change = Transition {
        response_payload: Some(payload.clone()),
        gateway_reference: Some(&callback.retrieval_reference)
            .filter(|r| !r.is_empty())
            .map(String::as_str),
        failure_reason: None,
        reviewed_by: None,
    };
    let paid = if callback.succeeded() {
        let settled = settle::confirm(
            &mut tx,
            &payment,
            &["pending", "failed"],
            &change,
            &state.settings.public_url,
        )
        .await?;
        matches!(settled, Settled::Paid | Settled::AlreadyConfirmed)
            || payment.status == "succeeded"
    } else {
        if !callback.still_pending() {
            let reason = format!("{} {}", callback.response_code, callback.response_message);
            if repo::transition(
                &mut *tx,
                payment.id,
                &["pending"],
                "failed",
                &Transition {
                    failure_reason: Some(reason.trim()),
                    ..change
                },
            )
            .await?
            {
                metrics::counter!("payments_total", "gateway" => JAZZCASH, "outcome" => "failed")
                    .increment(1);
            }
        }
        false
    };
    tx.commit().await?;
    let message = if paid {
        "Payment received".to_owned()
    } else if callback.still_pending() {
        "Payment pending: pay the voucher and we confirm it automatically".to_owned()
    } else {
        format!("Payment not completed: {}", callback.response_message)
    };
    Ok(CallbackOutcome {
        order_id: payment.order_id,
        paid,
        message,
    })
}

/// Reads a callback's fields from a form or JSON body.
fn callback_fields(headers: &HeaderMap, body: &[u8]) -> AppResult<BTreeMap<String, String>> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let parsed: Result<BTreeMap<String, String>, String> = if is_json {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    } else {
        serde_urlencoded::from_bytes(body).map_err(|e| e.to_string())
    };
    parsed.map_err(|why| AppError::bad_request("body", format!("not a JazzCash result: {why}")))
}

async fn jazzcash_ipn(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<impl IntoResponse> {
    let fields = callback_fields(&headers, &body)?;
    let outcome = handle_jazzcash(&state, fields, "ipn").await?;
    Ok(Json(
        json!({ "pp_ResponseCode": "000", "pp_ResponseMessage": "received", "paid": outcome.paid }),
    ))
}

#[derive(Template)]
#[template(path = "payments/return.html")]
struct ReturnPage {
    layout: Layout,
    ok: bool,
    message: String,
    order_id: Option<i32>,
}

/// The page JazzCash sends the customer back to: it reconciles too, so the customer sees the
/// truth even when the IPN is late.
async fn jazzcash_return(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = match callback_fields(&headers, &body) {
        Ok(fields) => handle_jazzcash(&state, fields, "return").await,
        Err(err) => Err(err),
    };
    let (status, page) = match outcome {
        Ok(outcome) => (
            StatusCode::OK,
            ReturnPage { layout: Layout::new("Payment"), ok: outcome.paid, message: outcome.message, order_id: Some(outcome.order_id) },
        ),
        Err(err) => (
            err.status(),
            ReturnPage {
                layout: Layout::new("Payment"),
                ok: false,
                message: "We could not confirm this payment. If money left your account, contact us with your JazzCash transaction id.".into(),
                order_id: None,
            },
        ),
    };
    match render(&page) {
        Ok(mut response) => {
            *response.status_mut() = status;
            response
        }
        Err(err) => err.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_are_recognised_by_their_bytes() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"<svg onload=alert(1)>"), None);
    }

    #[test]
    fn references_are_transaction_ids() {
        assert_eq!(parse_reference(" TID123456 ").unwrap(), "TID123456");
        assert!(parse_reference("abc").is_err());
        assert!(parse_reference("1234'; drop table").is_err());
    }
}
