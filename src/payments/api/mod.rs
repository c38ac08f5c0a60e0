//! The customer's payment endpoints and the gateways' callbacks:
//! `POST|GET /api/v1/orders/{id}/payments`, `PUT /api/v1/payments/{id}/receipt`,
//! `POST /api/v1/payments/jazzcash/ipn`, and the handler of the browser's return
//! `POST /payments/jazzcash/return` (a page, routed in [`super::pages`]).

use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::callbacks::{self, Source, Standing};
use super::pay::{
    parse_reference, payable_order, start_attempt, start_without_attempt, submit_manual,
};
use super::payments::{self, Payment};
use super::{MANUAL, PaymentChannel, PaymentMethodName, Start};
use crate::accounts::extract::ApiUser;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::orders::orders::{self};
use crate::web::extract::{AppJson, ClientIp};
use crate::web::pages::{Layout, render};
use crate::web::upload::{self, FileUpload};

pub use super::receipts::MAX_RECEIPT_BYTES;

pub mod invoices;

/// Routes under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_payments, create_payment))
        .routes(routes!(upload_receipt).layer(DefaultBodyLimit::max(MAX_RECEIPT_BYTES + 1024)))
        .routes(routes!(jazzcash_ipn).layer(DefaultBodyLimit::max(callbacks::MAX_CALLBACK_BYTES)))
        .merge(invoices::router())
}

/// How to pay an order: `method` alone asks how (manual: the transfer instructions); a manual
/// transfer already made is reported with its `reference` (and optionally `channel` and
/// `paid_at`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreatePaymentRequest {
    /// One of the methods this server offers (`methods` of `GET /orders/{id}/payments`).
    #[schema(value_type = PaymentMethodName)]
    method: String,
    /// Manual: the transaction id (TID) of the transfer, 4 to 50 letters, digits, `-` or `_`;
    /// absent to get the instructions. Other methods take none.
    #[schema(min_length = 4, max_length = 50, pattern = "^[A-Za-z0-9_-]+$")]
    reference: Option<String>,
    /// Manual: which account it went to (bank, jazzcash, easypaisa).
    #[schema(value_type = Option<PaymentChannel>)]
    channel: Option<String>,
    /// Manual: when the customer paid (RFC 3339); not in the future.
    paid_at: Option<DateTime<Utc>>,
}

/// The manual transfer's instructions (nothing is recorded yet).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentInstructions {
    /// Always `manual`.
    #[schema(value_type = PaymentMethodName)]
    pub method: String,
    pub order_id: i32,
    /// How to pay (`kind: instructions`).
    pub start: Start,
}

/// A recorded payment: a manual transfer now awaiting review, or a started redirect attempt
/// with the form to submit.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentCreated {
    pub payment: Payment,
    /// Redirect methods (JazzCash) only: the signed form to submit from the browser
    /// (`kind: redirect`). Absent for a manual transfer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub start: Option<Start>,
}

/// A payment method this server offers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethodChoice {
    #[schema(value_type = PaymentMethodName)]
    pub method: String,
    /// What customers see.
    pub label: String,
}

/// An order's payments and the methods it can be paid with.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPayments {
    /// Every attempt, oldest first.
    pub items: Vec<Payment>,
    /// The methods this server offers, manual first.
    pub methods: Vec<PaymentMethodChoice>,
}

/// An image's bytes (PNG, JPEG or WebP).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // describes image bodies for the API document
pub struct ImageBytes(Vec<u8>);

/// Pays one of the caller's orders that awaits payment.
///
/// Manual transfer: `{"method": "manual"}` answers the instructions (200, nothing recorded);
/// once the money is sent, `{"method": "manual", "reference": "<TID>"}` records the transfer
/// for an operator's review (201). JazzCash: `{"method": "jazzcash"}` records a `pending`
/// attempt and answers the signed form to submit from the browser (201).
#[utoipa::path(post, path = "/api/v1/orders/{id}/payments", tag = "payments",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The order's id")),
    request_body = CreatePaymentRequest,
    responses(
        (status = OK, description = "Manual transfer without a reference: the instructions", body = PaymentInstructions),
        (status = CREATED, description = "A manual transfer recorded for review, or a JazzCash attempt started (with `start`)", body = PaymentCreated),
        (status = CONFLICT, description = "The order is no longer awaiting payment (`order`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A method this server does not offer, a malformed reference (or one for a method that takes none), an unknown channel, or `paid_at` in the future",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn create_payment(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    AppJson(body): AppJson<CreatePaymentRequest>,
) -> AppResult<Response> {
    let payments = &state.payments;
    let gateway = payments.gateway(&body.method).ok_or_else(|| {
        let offered: Vec<&str> = payments.gateways().iter().map(|g| g.name()).collect();
        AppError::invalid("method", format!("must be one of: {}", offered.join(", ")))
    })?;
    let order = payable_order(&state, id, caller.user.id).await?;
    match (gateway.name(), body.reference) {
        (MANUAL, None) => {
            let start = start_without_attempt(&state, gateway, &order);
            Ok(Json(PaymentInstructions {
                method: MANUAL.to_owned(),
                order_id: order.id,
                start,
            })
            .into_response())
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
            Ok((
                StatusCode::CREATED,
                Json(PaymentCreated {
                    payment,
                    start: None,
                }),
            )
                .into_response())
        }
        (_, Some(_)) => Err(AppError::invalid(
            "reference",
            "only manual transfers take a reference",
        )),
        (_, None) => {
            let (payment, start) = start_attempt(&state, gateway, &order).await?;
            Ok((
                StatusCode::CREATED,
                Json(PaymentCreated {
                    payment,
                    start: Some(start),
                }),
            )
                .into_response())
        }
    }
}

/// The payments of one of the caller's orders, and the methods it can be paid with.
#[utoipa::path(get, path = "/api/v1/orders/{id}/payments", tag = "payments",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The order's id")),
    responses(
        (status = OK, description = "The order's payments and the methods on offer", body = OrderPayments),
    ),
)]
async fn list_payments(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let order = orders::find_for_user(&state.db, id, caller.user.id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let items = payments::list_for_order(&state.db, order.id).await?;
    let methods: Vec<_> = state
        .payments
        .gateways()
        .iter()
        .map(|g| PaymentMethodChoice {
            method: g.name().to_owned(),
            label: g.label().to_owned(),
        })
        .collect();
    Ok(Json(OrderPayments { items, methods }))
}

/// Attaches a receipt image (PNG, JPEG or WebP, at most 2 MB) to one's own manual payment.
///
/// Send it as a `multipart/form-data` form with the image as its `file` part, or as the raw
/// body: `application/octet-stream`, or the image's own type (`image/png`, `image/jpeg`,
/// `image/webp`; its bytes must be of that type). A new receipt is kept beside the earlier ones
/// (at most 5), and once the payment has been approved or rejected its receipts no longer change
/// (409).
#[utoipa::path(put, path = "/api/v1/payments/{id}/receipt", tag = "payments",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The payment's id")),
    request_body(description = "The receipt image, at most 2 MB (a raw body, `application/octet-stream` or the image's own type, is taken too)",
        content((FileUpload = "multipart/form-data"))),
    responses(
        (status = NO_CONTENT, description = "Stored"),
        (status = CONFLICT, description = "The payment is not a manual transfer or no longer awaits review (`payment`), or already has 5 receipts (`receipt`)",
            body = Problem, content_type = "application/problem+json"),
        (status = PAYLOAD_TOO_LARGE, description = "The image is larger than 2 MB",
            body = Problem, content_type = "application/problem+json"),
        (status = UNSUPPORTED_MEDIA_TYPE, description = "`Content-Type` is not a form, octet-stream, image/png, image/jpeg or image/webp",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "The bytes are not a PNG, JPEG or WebP image, or not the type declared (`receipt`); a form without its `file` part (`file`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn upload_receipt(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<StatusCode> {
    let payment = payments::find_for_user(&state.db, id, caller.user.id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    if payment.gateway != MANUAL {
        return Err(AppError::conflict(
            "payment",
            "only a manual transfer takes a receipt",
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (body, declared) = upload::image_upload(
        content_type,
        body,
        &["image/png", "image/jpeg", "image/webp"],
        "receipt",
        MAX_RECEIPT_BYTES,
    )
    .await?;
    super::receipts::attach(&state.db, payment.id, Some(caller.user.id), declared, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A JazzCash result as posted back (IPN or browser return). Every `pp…` field JazzCash sends is
/// covered by `pp_SecureHash` and accepted, including ones not listed here (`pp_Version`,
/// `pp_TxnCurrency`, `pp_TxnDateTime`, `ppmpf_1`…); all values are strings.
#[derive(ToSchema)]
#[allow(dead_code)] // describes the callback's fields for the API document
pub struct JazzCashResult {
    /// HMAC-SHA256 (hex) of the other non-empty `pp…` fields, keyed with the integrity salt.
    #[schema(rename = "pp_SecureHash")]
    secure_hash: String,
    /// Must be this shop's merchant id.
    #[schema(rename = "pp_MerchantID")]
    merchant_id: String,
    /// The amount in paisa (PKR × 100); must match the attempt.
    #[schema(rename = "pp_Amount", pattern = "^[0-9]+$")]
    amount: String,
    /// The attempt's transaction reference (from the form this server signed).
    #[schema(rename = "pp_TxnRefNo")]
    txn_ref_no: String,
    /// `NGR-<order id>`; must name the attempt's order.
    #[schema(rename = "pp_BillReference")]
    bill_reference: String,
    /// `000` means paid; anything else failed (or, for a voucher, is still pending).
    #[schema(rename = "pp_ResponseCode")]
    response_code: String,
    #[schema(rename = "pp_ResponseMessage", required = false)]
    response_message: String,
    /// JazzCash's own reference for the transaction.
    #[schema(rename = "pp_RetreivalReferenceNo", required = false)]
    retrieval_reference_no: String,
    /// `MWALLET`, `MPAY` (card) or `OTC` (voucher: unpaid results stay pending).
    #[schema(rename = "pp_TxnType", required = false)]
    txn_type: String,
}

/// What the IPN answers JazzCash.
#[derive(Debug, Serialize, ToSchema)]
pub struct IpnAck {
    /// Always `000`: the result was received and recorded.
    #[serde(rename = "pp_ResponseCode")]
    pub response_code: String,
    /// Always `received`.
    #[serde(rename = "pp_ResponseMessage")]
    pub response_message: String,
    /// Whether the order's payment is now confirmed.
    pub paid: bool,
}

/// JazzCash's instant payment notification: the result of an attempt, server to server.
///
/// Authenticated by its secure hash, not a token. Idempotent on the attempt's transaction
/// reference: a repeated notification changes nothing. A forged, foreign or mismatched result,
/// or a request instead of a result (no `pp_ResponseCode`), is refused (400), recorded with why
/// (its known fields only, cut short) and changes nothing; an address with more than 20 refused
/// in 10 minutes gets 429, unrecorded. JSON `null` values count as empty strings. At most 16 KB.
#[utoipa::path(post, path = "/api/v1/payments/jazzcash/ipn", tag = "payments",
    request_body(description = "The result's fields, as a form (as JazzCash posts it) or a JSON object of strings",
        content((JazzCashResult = "application/x-www-form-urlencoded"), (JazzCashResult = "application/json"))),
    responses(
        (status = OK, description = "Received and recorded", body = IpnAck),
        (status = BAD_REQUEST, description = "Not a JazzCash result, or refused: a request rather than a result, a bad secure hash, another merchant, an unknown transaction reference, or an amount or bill reference that does not match the attempt",
            body = Problem, content_type = "application/problem+json"),
        (status = PAYLOAD_TOO_LARGE, description = "More than 16 KB",
            body = Problem, content_type = "application/problem+json"),
        (status = TOO_MANY_REQUESTS, description = "Too many refused posts from this address; retry after `Retry-After` seconds",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the limit's window ends"))),
        (status = NOT_FOUND, description = "JazzCash is not enabled on this server",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn jazzcash_ipn(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<impl IntoResponse> {
    let fields = callbacks::fields_of(&headers, &body)?;
    let outcome = callbacks::jazzcash_result(
        &state,
        state.payments.jazzcash.as_ref(),
        fields,
        Source::Ipn,
        &ip,
    )
    .await?;
    Ok(Json(IpnAck {
        response_code: "000".to_owned(),
        response_message: "received".to_owned(),
        paid: outcome.paid(),
    }))
}

#[derive(Template)]
#[template(path = "payments/return.html")]
struct ReturnPage {
    layout: Layout,
    /// `paid`, `pending` or `failed`.
    standing: &'static str,
    message: String,
    order_id: Option<i32>,
}

/// The page JazzCash sends the customer back to: it reconciles too, so the customer sees the
/// truth even when the IPN is late. Routed with the pages ([`super::pages::router`]).
pub(crate) async fn jazzcash_return(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = match callbacks::fields_of(&headers, &body) {
        Ok(fields) => {
            callbacks::jazzcash_result(
                &state,
                state.payments.jazzcash.as_ref(),
                fields,
                Source::Return,
                &ip,
            )
            .await
        }
        Err(err) => Err(err),
    };
    let (status, page) = match outcome {
        Ok(outcome) => (
            StatusCode::OK,
            ReturnPage {
                layout: Layout::new("Payment").with_contact(&state.settings.contact),
                standing: match outcome.standing {
                    Standing::Paid => "paid",
                    Standing::Pending => "pending",
                    Standing::Failed => "failed",
                },
                message: outcome.message,
                order_id: Some(outcome.order_id),
            },
        ),
        Err(err) => (
            err.status(),
            ReturnPage {
                layout: Layout::new("Payment").with_contact(&state.settings.contact),
                standing: "failed",
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

#[derive(Template)]
#[template(path = "payments/easypaisa_confirm.html")]
struct EasypaisaConfirmPage {
    layout: Layout,
    url: String,
    fields: Vec<(String, String)>,
}

/// The page Easypay sends the customer back to, twice: with an `auth_token` (we send the browser
/// on to Easypay's `Confirm.jsf`), then with the order's reference (we ask Easypay's inquiry
/// and show where the payment stands). Routed with the pages ([`super::pages::router`]).
pub(crate) async fn easypaisa_return(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    uri: axum::http::Uri,
    body: Bytes,
) -> Response {
    // GET carries the fields in the query, POST in the form body.
    let text = if body.is_empty() {
        uri.query().unwrap_or_default().as_bytes().to_vec()
    } else {
        body.to_vec()
    };
    let outcome =
        match serde_urlencoded::from_bytes::<std::collections::BTreeMap<String, String>>(&text) {
            Ok(fields) => {
                crate::payments::easypaisa_results::easypaisa_return(
                    &state,
                    state.payments.easypaisa.as_ref(),
                    fields,
                    &ip,
                )
                .await
            }
            Err(err) => Err(AppError::bad_request(
                "body",
                format!("not an Easypaisa return: {err}"),
            )),
        };
    let rendered = match outcome {
        Ok(crate::payments::easypaisa_results::ReturnStep::Confirm { url, fields }) => {
            let target = url.clone();
            render(&EasypaisaConfirmPage {
                layout: Layout::new("Payment").with_contact(&state.settings.contact),
                url,
                fields: fields.into_iter().collect(),
            })
            .map(|mut response| {
                crate::web::pages::allow_form_to(&mut response, &target);
                (StatusCode::OK, response)
            })
        }
        Ok(crate::payments::easypaisa_results::ReturnStep::Outcome(outcome)) => {
            render(&ReturnPage {
                layout: Layout::new("Payment").with_contact(&state.settings.contact),
                standing: match outcome.standing {
                    Standing::Paid => "paid",
                    Standing::Pending => "pending",
                    Standing::Failed => "failed",
                },
                message: outcome.message,
                order_id: Some(outcome.order_id),
            })
            .map(|response| (StatusCode::OK, response))
        }
        Err(err) => render(&ReturnPage {
            layout: Layout::new("Payment").with_contact(&state.settings.contact),
            standing: "failed",
            message: "We could not confirm this payment. If money left your account, contact us \
                      with your Easypaisa transaction id."
                .into(),
            order_id: None,
        })
        .map(|response| (err.status(), response)),
    };
    match rendered {
        Ok((status, mut response)) => {
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
        use crate::web::forms::sniff_image;
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
