//! The operator's review of a manual transfer: approve (the money settles the order) or reject
//! (the customer is told why). Behind both the admin API and the payment queue's pages.

use serde_json::json;

use super::payments::{self, Payment, Transition};
use super::settle::{self, Settled};
use super::{MANUAL, PaymentEventKind, PaymentStatus};
use crate::accounts::users;
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::mail;
use crate::money::format_pkr;
use crate::orders::orders;

/// Checks the amount an operator saw arrive: 1 to 10,000,000 whole rupees.
pub fn check_received(amount_pkr: i64) -> AppResult<i32> {
    if !(1..=10_000_000).contains(&amount_pkr) {
        return Err(AppError::invalid(
            "amount_pkr",
            "must be the rupees that arrived: 1 to 10,000,000",
        ));
    }
    Ok(amount_pkr as i32)
}

/// Approves a manual transfer under review; approving twice is a 409 and changes nothing.
/// `received`: what actually arrived when it differs from what was asked (more goes to the
/// customer's credit once the order is paid; less leaves the order waiting for the rest).
pub async fn approve(
    state: &Context,
    actor: &Actor<'_>,
    id: i32,
    received: Option<i64>,
) -> AppResult<(Payment, Settled)> {
    let received = received.map(check_received).transpose()?;
    let mut tx = state.db.begin().await?;
    let mut payment = payments::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    if payment.gateway != MANUAL || payment.status != PaymentStatus::Review {
        return Err(AppError::conflict(
            "status",
            format!("payment {id} is {}, not waiting for review", payment.status),
        ));
    }
    let asked = payment.amount_pkr;
    if let Some(amount) = received
        && amount != asked
    {
        payments::set_received_amount(&mut *tx, id, amount).await?;
        payment.amount_pkr = amount;
    }
    let change = Transition {
        reviewed_by: Some(actor.user_id),
        ..Transition::default()
    };
    let settled = settle::confirm(
        &mut tx,
        &payment,
        &[PaymentStatus::Review],
        &change,
        &state.settings.public_url,
    )
    .await?;
    payments::insert_event(
        &mut *tx,
        Some(id),
        PaymentEventKind::Approved,
        None,
        Some(&if payment.amount_pkr == asked {
            format!("by user {}", actor.user_id)
        } else {
            format!(
                "by user {}: {} arrived ({} was asked)",
                actor.user_id,
                format_pkr(payment.amount_pkr),
                format_pkr(asked)
            )
        }),
    )
    .await?;
    let entity = id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!({ "status": payment.status, "amount_pkr": asked })),
            after: Some(json!({
                "status": "succeeded",
                "amount_pkr": payment.amount_pkr,
                "outcome": format!("{settled:?}"),
            })),
            ..actor.entry("payment.approve", "payment", Some(&entity))
        },
    )
    .await?;
    let payment = payments::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    tx.commit().await?;
    tracing::info!(
        payment.id = id,
        admin.id = actor.user_id,
        "payment {id} approved: {settled:?}"
    );
    Ok((payment, settled))
}

/// Rejects a manual transfer under review, telling the customer why.
pub async fn reject(
    state: &Context,
    actor: &Actor<'_>,
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
    let payment = payments::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    let change = Transition {
        failure_reason: Some(reason),
        reviewed_by: Some(actor.user_id),
        ..Transition::default()
    };
    if payment.gateway != MANUAL
        || !super::transition(
            &mut *tx,
            id,
            &[PaymentStatus::Review],
            PaymentStatus::Rejected,
            &change,
        )
        .await?
    {
        return Err(AppError::conflict(
            "status",
            format!("payment {id} is {}, not waiting for review", payment.status),
        ));
    }
    payments::insert_event(
        &mut *tx,
        Some(id),
        PaymentEventKind::Rejected,
        None,
        Some(reason),
    )
    .await?;
    metrics::counter!("payments_total", "gateway" => MANUAL, "outcome" => "rejected").increment(1);
    let entity = id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!({ "status": payment.status })),
            after: Some(json!({ "status": "rejected", "reason": reason })),
            ..actor.entry("payment.reject", "payment", Some(&entity))
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
                    format_pkr(payment.amount_pkr),
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
        crate::accounts::whatsapp::notify_in(
            &mut tx,
            customer.id,
            crate::mail::whatsapp::PAYMENT_REJECTED,
            &[super::order_reference(order.id), reason.to_owned()],
        )
        .await?;
    }
    let payment = payments::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    tx.commit().await?;
    Ok(payment)
}
