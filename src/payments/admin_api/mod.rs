//! The operator's payment queue: `/api/v1/admin/payments*` — list (e.g. `?status=review`),
//! inspect with events and receipt, approve or reject a manual transfer. Audited.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PaymentStatus;
use super::api::ImageBytes;
use super::payments::{self, Payment, PaymentFilter};
use super::refunds::{self, Refund, RefundRequest};
use super::review;
use super::settle::Settled;
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::orders::orders::{self, Order};
use crate::web::extract::{AppJson, ClientIp};
use crate::web::upload::FileBytes;

pub mod invoices;
pub mod reports;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_payments))
        .routes(routes!(find_payment))
        .routes(routes!(find_receipt))
        .routes(routes!(find_receipt_by_id))
        .routes(routes!(approve_payment))
        .routes(routes!(reject_payment))
        .routes(routes!(refund_payment))
        .merge(invoices::router())
        .merge(reports::router())
}

/// `GET /admin/payments` filter and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PaymentQuery {
    /// Only payments in this status (`review`: the queue to check); absent or empty means any.
    #[param(schema_with = status_filter)]
    status: Option<String>,
    /// A payment or order id, or part of the transaction id or reference (case-insensitive).
    search: Option<String>,
    /// The page to show, from 1.
    #[serde(default = "crate::web::paging::first_page")]
    #[param(default = 1, minimum = 1)]
    page: i64,
    /// Items per page, 1 to 100.
    #[serde(default = "crate::web::paging::admin_per_page")]
    #[param(default = 25, minimum = 1, maximum = 100)]
    per_page: i64,
}

/// A page of payments for the operator, oldest first (a queue).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentPage {
    pub items: Vec<Payment>,
    /// How many payments match, over all pages: exact up to 10,000; beyond, the database's
    /// estimate (`total_exact` false), never under 10,001.
    pub total: i64,
    /// Whether `total` is an exact count (false: an estimate; page on until a page comes back
    /// short).
    pub total_exact: bool,
    pub page: i64,
    pub per_page: i64,
}

/// A payment with its order, its history and whether it has a receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentDetail {
    pub payment: Payment,
    /// The order it pays (null only if the order was deleted).
    pub order: Option<Order>,
    /// What happened to it, oldest first.
    pub events: Vec<payments::PaymentEvent>,
    /// Whether the customer attached a receipt (`GET /admin/payments/{id}/receipt`).
    pub has_receipt: bool,
    /// Every receipt the customer sent, oldest first (`GET /admin/payments/{id}/receipts/{receipt_id}`).
    pub receipts: Vec<payments::ReceiptInfo>,
    /// What was refunded of it, oldest first.
    pub refunds: Vec<Refund>,
}

/// What a review came to for the order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// This payment completed the order: it is now paid.
    OrderPaid,
    /// Less than the order's amount has been received so far.
    Partial,
    /// Money for an order no longer awaiting payment: it went to the customer's account
    /// credit. (Money beyond the amount of an order it paid goes there too; that is
    /// `order_paid`.)
    Credited,
    /// Money the shop could not place (the order's customer account is gone): the payment is
    /// flagged for the operator.
    Flagged,
    /// The payment was already confirmed: nothing changed.
    AlreadyConfirmed,
    /// The payment was rejected.
    Rejected,
}

/// The reviewed payment and what the review came to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewResponse {
    pub payment: Payment,
    pub outcome: ReviewOutcome,
}

fn status_filter() -> utoipa::openapi::schema::Schema {
    crate::web::openapi::status_or_empty::<PaymentStatus>(
        "Only payments in this status (`review`: the queue to check); absent or empty means any",
    )
}

/// Every payment, oldest first (a queue), optionally of one status or searched, a page at a
/// time.
#[utoipa::path(get, path = "/api/v1/admin/payments", tag = "admin",
    operation_id = "admin_list_payments",
    security(("bearer" = [])),
    params(PaymentQuery),
    responses(
        (status = OK, description = "A page of the matching payments", body = PaymentPage),
        (status = BAD_REQUEST, description = "An unknown or malformed query parameter, an unknown `status`, `page` < 1 or `per_page` outside 1–100",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_payments(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<PaymentQuery>, QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            text.parse::<PaymentStatus>()
                .map_err(|unknown| AppError::bad_request("status", unknown.to_string()))?,
        ),
    };
    crate::web::paging::check(query.page, query.per_page)?;
    let filter = PaymentFilter {
        status,
        search: query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty()),
    };
    let total = payments::count(&state.db, &filter).await?;
    let items = payments::list(
        &state.db,
        &filter,
        query.per_page,
        crate::web::paging::offset(query.page, query.per_page),
    )
    .await?;
    Ok(Json(PaymentPage {
        items,
        total: total.count,
        total_exact: total.exact,
        page: query.page,
        per_page: query.per_page,
    }))
}

/// One payment with its order, its events and whether it has a receipt.
#[utoipa::path(get, path = "/api/v1/admin/payments/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The payment's id")),
    responses(
        (status = OK, description = "The payment in detail", body = PaymentDetail),
    ),
)]
async fn find_payment(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let payment = payments::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    let events = payments::list_events(&state.db, id).await?;
    let order = orders::find(&state.db, payment.order_id).await?;
    let receipts = payments::list_receipts(&state.db, id).await?;
    Ok(Json(PaymentDetail {
        payment,
        order,
        events,
        has_receipt: !receipts.is_empty(),
        receipts,
        refunds: refunds::list_for_payment(&state.db, id).await?,
    }))
}

/// The newest receipt image the customer attached to a manual payment, as uploaded.
#[utoipa::path(get, path = "/api/v1/admin/payments/{id}/receipt", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The payment's id")),
    responses(
        (status = OK, description = "The image, with the type it was uploaded as",
            content((ImageBytes = "image/png"), (ImageBytes = "image/jpeg"), (ImageBytes = "image/webp"), (FileBytes = "application/octet-stream")),
            headers(("Content-Disposition" = String, description = "`inline`"))),
        (status = NOT_FOUND, description = "No such payment, or it has no receipt",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn find_receipt(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    image(payments::find_receipt(&state.db, id).await?)
}

/// A stored receipt as an inline image of its (sniffed) type.
fn image(found: Option<(String, Vec<u8>)>) -> AppResult<impl IntoResponse + use<>> {
    let (content_type, bytes) = found.ok_or(AppError::NotFound("receipt"))?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, "inline".to_owned()),
        ],
        bytes,
    ))
}

/// One of the receipts the customer attached to a manual payment, as uploaded.
#[utoipa::path(get, path = "/api/v1/admin/payments/{id}/receipts/{receipt_id}", tag = "admin",
    security(("bearer" = [])),
    params(
        ("id" = i32, Path, description = "The payment's id"),
        ("receipt_id" = i32, Path, description = "The receipt's id (`receipts` of the payment)"),
    ),
    responses(
        (status = OK, description = "The image, with the type it was uploaded as",
            content((ImageBytes = "image/png"), (ImageBytes = "image/jpeg"), (ImageBytes = "image/webp"), (FileBytes = "application/octet-stream")),
            headers(("Content-Disposition" = String, description = "`inline`"))),
        (status = NOT_FOUND, description = "No such payment, or no such receipt of it",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn find_receipt_by_id(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path((id, receipt_id)): Path<(i32, i32)>,
) -> AppResult<impl IntoResponse> {
    image(payments::find_receipt_by_id(&state.db, id, receipt_id).await?)
}

/// The outcome of a review, as the operator sees it.
fn review_response(payment: Payment, settled: Option<&Settled>) -> ReviewResponse {
    let outcome = match settled {
        Some(Settled::Paid) => ReviewOutcome::OrderPaid,
        Some(Settled::Partial { .. }) => ReviewOutcome::Partial,
        Some(Settled::Flagged(_)) => ReviewOutcome::Flagged,
        Some(Settled::Credited { .. }) => ReviewOutcome::Credited,
        Some(Settled::AlreadyConfirmed) => ReviewOutcome::AlreadyConfirmed,
        None => ReviewOutcome::Rejected,
    };
    ReviewResponse { payment, outcome }
}

/// What an approval may say (the whole body is optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ApproveRequest {
    /// The rupees that actually arrived, when they differ from the payment's `amount_pkr`
    /// (1 to 10,000,000). More than the order needs goes to the customer's account credit once
    /// it is paid; less leaves the order waiting for the rest.
    #[schema(minimum = 1, maximum = 10_000_000)]
    amount_pkr: Option<i64>,
}

/// Approves a manual transfer under review (audited).
///
/// The payment succeeds and, when the order's succeeded payments and the credit spent on it
/// now cover it, the order is paid; money beyond that, or money for an order no longer awaiting
/// payment, goes to the customer's account credit.
#[utoipa::path(post, path = "/api/v1/admin/payments/{id}/approve", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The payment's id")),
    request_body(content = ApproveRequest, description = "Optional: a bare POST approves the amount that was asked"),
    responses(
        (status = OK, description = "Approved; the payment and what it did to the order", body = ReviewResponse),
        (status = UNPROCESSABLE_ENTITY, description = "`amount_pkr` out of range",
            body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The payment is not a manual transfer awaiting review (`status`), e.g. already approved",
            body = Problem, content_type = "application/problem+json"),
        (status = FORBIDDEN, description = "No fresh second factor: send a code to `POST /me/two-factor/verify` (`two-factor`), then retry",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn approve_payment(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    headers: HeaderMap,
    body: Result<AppJson<ApproveRequest>, AppError>,
) -> AppResult<impl IntoResponse> {
    // The body is optional: a bare POST approves the amount that was asked.
    let body = match body {
        Ok(AppJson(body)) => body,
        Err(AppError::UnsupportedMediaType) if !headers.contains_key(header::CONTENT_TYPE) => {
            ApproveRequest::default()
        }
        Err(err) => return Err(err),
    };
    admin.require_recent_two_factor()?;
    let (payment, settled) =
        review::approve(&state, &admin.actor(&ip), id, body.amount_pkr).await?;
    Ok(Json(review_response(payment, Some(&settled))))
}

/// Why a transfer is rejected; the customer is told by e-mail.
#[derive(Debug, Deserialize, ToSchema)]
struct RejectRequest {
    /// 1 to 500 characters (surrounding spaces ignored).
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// Rejects a manual transfer under review (audited) and e-mails the customer why.
#[utoipa::path(post, path = "/api/v1/admin/payments/{id}/reject", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The payment's id")),
    request_body = RejectRequest,
    responses(
        (status = OK, description = "Rejected (`outcome: rejected`)", body = ReviewResponse),
        (status = CONFLICT, description = "The payment is not a manual transfer awaiting review (`status`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "`reason` is empty or longer than 500 characters",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn reject_payment(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<RejectRequest>,
) -> AppResult<impl IntoResponse> {
    let payment = review::reject(&state, &admin.actor(&ip), id, &body.reason).await?;
    Ok(Json(review_response(payment, None)))
}

/// A refund and the payment as it is after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundResponse {
    pub refund: Refund,
    /// `refunded` once nothing of it is left to refund.
    pub payment: Payment,
}

/// Refunds a succeeded payment in whole or in part (audited as `payment.refund`).
///
/// To the customer's account credit (`"to": "credit"`, a `refund` entry of their ledger) or as a
/// transfer you made (`"to": "external"` with its `reference`). The refunds of a payment never
/// add up to more than it; once all of it is refunded its status is `refunded`. `services`
/// says what happens to the servers the order bought or renewed: `keep` them, or `cancel`
/// (terminated now). The customer is e-mailed.
#[utoipa::path(post, path = "/api/v1/admin/payments/{id}/refund", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The payment's id")),
    request_body = RefundRequest,
    responses(
        (status = CREATED, description = "Refunded", body = RefundResponse),
        (status = NOT_FOUND, description = "No such payment",
            body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The payment is not `succeeded` (`status`), more than is left of it (`amount_pkr`), or credit for an order whose account is gone (`to`)",
            body = Problem, content_type = "application/problem+json"),
        (status = FORBIDDEN, description = "No fresh second factor: send a code to `POST /me/two-factor/verify` (`two-factor`), then retry",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "`amount_pkr` out of range, no `reason`, or an external refund without its `reference`",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn refund_payment(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<RefundRequest>,
) -> AppResult<impl IntoResponse> {
    admin.require_recent_two_factor()?;
    let (refund, payment) = refunds::refund(&state, &admin.actor(&ip), id, &body).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(RefundResponse { refund, payment }),
    ))
}
