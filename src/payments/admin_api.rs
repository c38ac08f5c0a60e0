//! The operator's payment queue: `/api/v1/admin/payments*` — list (e.g. `?status=review`),
//! inspect with events and receipt, approve or reject a manual transfer. Audited.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::MANUAL;
use super::repo::{self, Payment, Transition};
use super::settle::{self, Settled};
use crate::accounts::extract::ApiAdmin;
use crate::accounts::users::{self, User};
use crate::app::AppState;
use crate::audit::{self, NewAuditEntry};
use crate::catalog::format_pkr;
use crate::error::{AppError, AppResult};
use crate::mail;
use crate::orders::orders;
use crate::web::extract::{AppJson, ClientIp};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/payments", get(list_payments))
        .route("/admin/payments/{id}", get(find_payment))
        .route("/admin/payments/{id}/receipt", get(find_receipt))
        .route("/admin/payments/{id}/approve", post(approve_payment))
        .route("/admin/payments/{id}/reject", post(reject_payment))
}

/// The statuses a payment can have.
pub const STATUSES: [&str; 6] = [
    "pending",
    "review",
    "succeeded",
    "failed",
    "rejected",
    "refunded",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentQuery {
    status: Option<String>,
    #[serde(default = "first_page")]
    page: i64,
    #[serde(default = "default_per_page")]
    per_page: i64,
}

fn first_page() -> i64 {
    1
}

fn default_per_page() -> i64 {
    25
}

async fn list_payments(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<PaymentQuery>, QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    let status = query.status.as_deref().filter(|s| !s.is_empty());
    if let Some(status) = status
        && !STATUSES.contains(&status)
    {
        return Err(AppError::bad_request(
            "status",
            format!("must be one of {}", STATUSES.join(", ")),
        ));
    }
    if query.page < 1 || !(1..=100).contains(&query.per_page) {
        return Err(AppError::bad_request(
            "page",
            "page ≥ 1 and per_page between 1 and 100",
        ));
    }
    let total = repo::count(&state.db, status).await?;
    let items = repo::list(
        &state.db,
        status,
        query.per_page,
        (query.page - 1) * query.per_page,
    )
    .await?;
    Ok(Json(
        json!({ "items": items, "total": total, "page": query.page, "per_page": query.per_page }),
    ))
}

async fn find_payment(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let payment = repo::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    let events = repo::list_events(&state.db, id).await?;
    let order = orders::find(&state.db, payment.order_id).await?;
    let has_receipt = repo::find_receipt(&state.db, id).await?.is_some();
    Ok(Json(
        json!({ "payment": payment, "order": order, "events": events, "has_receipt": has_receipt }),
    ))
}

async fn find_receipt(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let (content_type, bytes) = repo::find_receipt(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("receipt"))?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, "inline".to_owned()),
        ],
        bytes,
    ))
}

/// The outcome of a review, as the operator sees it.
fn review_response(payment: Payment, settled: Option<&Settled>) -> serde_json::Value {
    let outcome = match settled {
        Some(Settled::Paid) => "order_paid",
        Some(Settled::Partial { .. }) => "partial",
        Some(Settled::Flagged(_)) => "flagged",
        Some(Settled::AlreadyConfirmed) => "already_confirmed",
        None => "rejected",
    };
    json!({ "payment": payment, "outcome": outcome })
}

/// Approves a manual transfer under review; approving twice is a 409 and changes nothing.
pub async fn approve(
    state: &AppState,
    admin: &User,
    ip: &str,
    id: i32,
) -> AppResult<(Payment, Settled)> {
    let mut tx = state.db.begin().await?;
    let payment = repo::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    if payment.gateway != MANUAL || payment.status != "review" {
        return Err(AppError::conflict(
            "status",
            format!("payment {id} is {}, not waiting for review", payment.status),
        ));
    }
    let change = Transition {
        reviewed_by: Some(admin.id),
        ..Transition::default()
    };
    let settled = settle::confirm(
        &mut tx,
        &payment,
        &["review"],
        &change,
        &state.settings.public_url,
    )
    .await?;
    repo::insert_event(
        &mut *tx,
        Some(id),
        "approved",
        None,
        Some(&format!("by user {}", admin.id)),
    )
    .await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: Some(admin.id),
            action: "payment.approve",
            entity_type: "payment",
            entity_id: Some(&id.to_string()),
            before: Some(json!({ "status": payment.status })),
            after: Some(json!({ "status": "succeeded", "outcome": format!("{settled:?}") })),
            ip_address: Some(ip),
        },
    )
    .await?;
    let payment = repo::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    tx.commit().await?;
    tracing::info!(
        payment.id = id,
        admin.id = admin.id,
        "payment {id} approved: {settled:?}"
    );
    Ok((payment, settled))
}

/// Rejects a manual transfer under review, telling the customer why.
pub async fn reject(
    state: &AppState,
    admin: &User,
    ip: &str,
    id: i32,
    reason: &str,
) -> AppResult<Payment> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::invalid(
            "reason",
            "say why, in 1 to 500 characters",
        ));
    }
    let mut tx = state.db.begin().await?;
    let payment = repo::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    let change = Transition {
        failure_reason: Some(reason),
        reviewed_by: Some(admin.id),
        ..Transition::default()
    };
    if payment.gateway != MANUAL
        || !repo::transition(&mut *tx, id, &["review"], "rejected", &change).await?
    {
        return Err(AppError::conflict(
            "status",
            format!("payment {id} is {}, not waiting for review", payment.status),
        ));
    }
    repo::insert_event(&mut *tx, Some(id), "rejected", None, Some(reason)).await?;
    metrics::counter!("payments_total", "gateway" => MANUAL, "outcome" => "rejected").increment(1);
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: Some(admin.id),
            action: "payment.reject",
            entity_type: "payment",
            entity_id: Some(&id.to_string()),
            before: Some(json!({ "status": payment.status })),
            after: Some(json!({ "status": "rejected", "reason": reason })),
            ip_address: Some(ip),
        },
    )
    .await?;
    let order = orders::find(&mut *tx, payment.order_id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    if let Some(user_id) = order.user_id
        && let Some(customer) = users::find(&mut *tx, user_id).await?
    {
        let link = format!("{}/account/orders/{}", state.settings.public_url, order.id);
        let email = mail::notice_email(
            &customer.email,
            &customer.name,
            &format!("We could not confirm your payment for order {}", order.id),
            &[
                format!(
                    "We could not confirm the transfer of {} with reference {} for order {}.",
                    format_pkr(i64::from(payment.amount_pkr)),
                    payment.gateway_txn_id.as_deref().unwrap_or("-"),
                    order.id
                ),
                format!("Reason: {reason}"),
                "Please check the transaction id and submit it again, or reply to this e-mail."
                    .to_owned(),
            ],
            Some(("Open your order", &link)),
        );
        mail::enqueue(&mut *tx, &email).await?;
    }
    let payment = repo::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    tx.commit().await?;
    Ok(payment)
}

async fn approve_payment(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let (payment, settled) = approve(&state, &admin.user, &ip, id).await?;
    Ok(Json(review_response(payment, Some(&settled))))
}

#[derive(Debug, Deserialize)]
struct RejectRequest {
    reason: String,
}

async fn reject_payment(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<RejectRequest>,
) -> AppResult<impl IntoResponse> {
    let payment = reject(&state, &admin.user, &ip, id, &body.reason).await?;
    Ok(Json(review_response(payment, None)))
}
