//! What Easypay tells us about an attempt — the customer's browser coming back to our
//! `postBackURL`, the answer of its transaction inquiry — checked, recorded and acted on, for the
//! return page and the reconciliation job alike.
//!
//! Easypay's browser returns are not signed, so a return only ever names the attempt: the
//! inquiry decides. A return that names no attempt we issued is refused (400), recorded bounded
//! like a refused JazzCash post. An attempt is paid only when the inquiry says `PAID` for this
//! store and order and for the attempt's amount; an answer with another amount flags the
//! payment for the operator instead. Settling goes through the same `settle::confirm` as every
//! gateway, idempotent on (gateway, transaction): a replayed return finds it paid.

use std::collections::BTreeMap;

use serde_json::json;

use super::callbacks::{
    self, CallbackOutcome, EXPIRY_GRACE, FIRST_ASK_AFTER, GIVE_UP_AFTER, ROUND, Reconciled,
    Refusal, Source, Standing,
};
use super::easypaisa::{Easypaisa, Inquiry, InquiryError};
use super::payments::{self, Payment, Transition};
use super::{EASYPAISA, PaymentEventKind, PaymentStatus};
use crate::context::Context;
use crate::error::{AppError, AppResult};

/// The fields a browser return carries: all that is kept of one.
const KNOWN_FIELDS: &[&str] = &["auth_token", "desc", "orderRefNumber", "status"];
/// The longest value kept of a return's field.
const VALUE_CHARS: usize = 100;

/// What the return page does next.
pub enum ReturnStep {
    /// First return: post `auth_token` and our `postBackURL` to Easypay's `Confirm.jsf` from the
    /// browser.
    Confirm {
        url: String,
        fields: BTreeMap<String, String>,
    },
    /// Final return: where the attempt stands, as the inquiry says.
    Outcome(CallbackOutcome),
}

/// A return's known fields, cut short.
fn kept(fields: &BTreeMap<String, String>) -> serde_json::Value {
    let kept: BTreeMap<&str, String> = fields
        .iter()
        .filter(|(name, _)| KNOWN_FIELDS.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str(), value.chars().take(VALUE_CHARS).collect()))
        .collect();
    json!(kept)
}

/// Handles the browser coming back from Easypay to `/payments/easypaisa/return`.
pub async fn easypaisa_return(
    state: &Context,
    merchant: Option<&Easypaisa>,
    fields: BTreeMap<String, String>,
    ip: &str,
) -> AppResult<ReturnStep> {
    let Some(merchant) = merchant else {
        return Err(AppError::NotFound("Easypaisa gateway"));
    };
    let field = |name: &str| fields.get(name).map(|v| v.trim()).unwrap_or_default();
    let refusal = |payment_id, field, why: String| Refusal {
        gateway: EASYPAISA,
        source: Source::Return,
        payload: kept(&fields),
        payment_id,
        field,
        why,
    };
    let token = field("auth_token");
    if !token.is_empty() {
        if token.len() > 200 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            let why = "auth_token is not a token".to_owned();
            return callbacks::refuse(state, ip, refusal(None, "auth_token", why))
                .await
                .map(ReturnStep::Outcome);
        }
        return Ok(ReturnStep::Confirm {
            url: merchant.confirm_url(),
            fields: BTreeMap::from([
                ("auth_token".to_owned(), token.to_owned()),
                (
                    "postBackURL".to_owned(),
                    format!("{}/payments/easypaisa/return", state.settings.public_url),
                ),
            ]),
        });
    }
    let order_ref = field("orderRefNumber");
    if order_ref.is_empty() {
        let why = "neither auth_token nor orderRefNumber".to_owned();
        return callbacks::refuse(state, ip, refusal(None, "orderRefNumber", why))
            .await
            .map(ReturnStep::Outcome);
    }
    let Some(attempt) = payments::find_by_txn(&state.db, EASYPAISA, order_ref).await? else {
        let why = format!("unknown order reference {order_ref:?}");
        return callbacks::refuse(state, ip, refusal(None, "orderRefNumber", why))
            .await
            .map(ReturnStep::Outcome);
    };
    // What the browser says is recorded; what Easypay's inquiry says decides.
    let answer = if attempt.status == PaymentStatus::Succeeded {
        None
    } else {
        Some(
            merchant
                .inquire(&callbacks::inquiry_client(), order_ref)
                .await,
        )
    };
    let mut tx = state.db.begin().await?;
    let payment = payments::find_for_update(&mut *tx, attempt.id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    payments::insert_event(
        &mut *tx,
        Some(payment.id),
        PaymentEventKind::Return,
        Some(&kept(&fields)),
        Some(field("status")).filter(|s| !s.is_empty()),
    )
    .await?;
    let standing = match answer {
        None => Standing::Paid,
        Some(answer) => {
            apply_inquiry(
                &mut tx,
                &state.settings.public_url,
                &payment,
                &answer,
                false,
            )
            .await?
        }
    };
    tx.commit().await?;
    let message = match standing {
        Standing::Paid => "Payment received".to_owned(),
        Standing::Pending => "We are confirming your payment with Easypaisa; we e-mail you as \
                              soon as it is confirmed"
            .to_owned(),
        Standing::Failed => "Payment not completed: Easypaisa did not take the payment".to_owned(),
    };
    Ok(ReturnStep::Outcome(CallbackOutcome {
        order_id: payment.order_id,
        standing,
        message,
    }))
}

/// Records an inquiry's answer about `payment` (locked by the caller) and acts on it: paid for
/// the attempt's amount settles the order; paid for another amount flags the payment; ended
/// unpaid, or still unpaid once the attempt has `expired`, fails it; anything else waits.
async fn apply_inquiry(
    tx: &mut sqlx::PgConnection,
    public_url: &str,
    payment: &Payment,
    answer: &Result<Inquiry, InquiryError>,
    expired: bool,
) -> AppResult<Standing> {
    let inquiry = match answer {
        Ok(inquiry) => inquiry,
        Err(err) => {
            payments::insert_event(
                &mut *tx,
                Some(payment.id),
                PaymentEventKind::Inquiry,
                None,
                Some(&err.to_string()),
            )
            .await?;
            return Ok(Standing::Pending);
        }
    };
    payments::insert_event(
        &mut *tx,
        Some(payment.id),
        PaymentEventKind::Inquiry,
        Some(&inquiry.raw),
        Some(&inquiry.status),
    )
    .await?;
    if inquiry.paid() {
        if inquiry.amount_pkr != Some(i64::from(payment.amount_pkr)) {
            let said = inquiry
                .amount_pkr
                .map_or("no amount".to_owned(), crate::money::format_pkr);
            payments::set_flag(
                &mut *tx,
                payment.id,
                &format!(
                    "Easypaisa's inquiry says paid, but {said} for an attempt of {}: check it",
                    crate::money::format_pkr(payment.amount_pkr)
                ),
            )
            .await?;
            return Ok(Standing::Pending);
        }
        let change = Transition {
            response_payload: Some(inquiry.raw.clone()),
            gateway_reference: Some(inquiry.transaction_id.as_str()).filter(|t| !t.is_empty()),
            failure_reason: None,
            reviewed_by: None,
        };
        super::settle::confirm(
            &mut *tx,
            payment,
            &[PaymentStatus::Pending, PaymentStatus::Failed],
            &change,
            public_url,
        )
        .await?;
        return Ok(Standing::Paid);
    }
    if payment.status == PaymentStatus::Pending && (inquiry.ended_unpaid() || expired) {
        let reason = format!("Easypaisa: {}", inquiry.status);
        callbacks::fail_attempt(&mut *tx, payment, &reason, Transition::default()).await?;
        return Ok(Standing::Failed);
    }
    Ok(match payment.status {
        PaymentStatus::Succeeded => Standing::Paid,
        PaymentStatus::Failed => Standing::Failed,
        _ => Standing::Pending,
    })
}

/// The periodic reconciliation's Easypaisa half: asks Easypay about every attempt still
/// pending, through the same [`apply_inquiry`] as a return.
pub async fn reconcile(
    db: &sqlx::PgPool,
    merchant: &Easypaisa,
    public_url: &str,
) -> anyhow::Result<Reconciled> {
    let now = chrono::Utc::now();
    let attempts = payments::list_pending_attempts(
        db,
        EASYPAISA,
        now - GIVE_UP_AFTER,
        now - FIRST_ASK_AFTER,
        ROUND,
    )
    .await?;
    let client = callbacks::inquiry_client();
    let mut done = Reconciled::default();
    for attempt in attempts {
        let Some(order_ref) = attempt.gateway_txn_id.clone() else {
            continue;
        };
        done.asked += 1;
        let answer = merchant.inquire(&client, &order_ref).await;
        let mut tx = db.begin().await?;
        let Some(payment) = payments::find_for_update(&mut *tx, attempt.id).await? else {
            continue;
        };
        if payment.status != PaymentStatus::Pending {
            continue; // settled meanwhile by a return
        }
        let expired = payment.expires_at.is_some_and(|at| now > at + EXPIRY_GRACE);
        match apply_inquiry(&mut tx, public_url, &payment, &answer, expired).await? {
            Standing::Paid => done.paid += 1,
            Standing::Failed => done.failed += 1,
            Standing::Pending if answer.is_err() => done.unanswered += 1,
            Standing::Pending => {}
        }
        tx.commit().await?;
    }
    Ok(done)
}
