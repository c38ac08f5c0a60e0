//! The operator's refunds: money of a succeeded payment given back, in whole or in part, into
//! the customer's account credit or outside the shop (a transfer the operator made, with its
//! reference). One verb, [`refund`], behind the admin API and the payment page: it locks the
//! payment, refuses more than is left of it, writes the refund (append-only), the ledger's
//! `refund` entry when it goes to credit, the payment's move to `refunded` once nothing is left,
//! the order's servers terminated when the operator chose so, the audit row and the e-mail — in
//! one transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use super::PaymentStatus;
use super::payments::{self, Payment, Transition};
use crate::accounts::credit::{self, CreditKind, NewCreditEntry};
use crate::accounts::users;
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::db::text_enum::text_enum;
use crate::db::timed;
use crate::error::{AppError, AppResult};
use crate::mail;
use crate::money::format_pkr;
use crate::orders::orders;
use crate::services::ServiceStatus;

text_enum! {
    /// Where refunded money goes.
    pub enum RefundDestination {
        /// Into the customer's account credit, to spend on orders and renewals.
        Credit = "credit",
        /// Outside the shop: a bank, JazzCash or Easypaisa transfer the operator made.
        External = "external",
    }
}

text_enum! {
    /// What a refund does to the servers the order bought or renewed: the operator chooses.
    pub enum RefundServices {
        /// They keep running.
        Keep = "keep",
        /// They are terminated now.
        Cancel = "cancel",
    }
}

/// A refund of (part of) a payment.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct Refund {
    pub id: i32,
    pub payment_id: i32,
    /// Whole PKR given back.
    pub amount_pkr: i32,
    pub destination: RefundDestination,
    /// The transfer's transaction id (external refunds).
    pub reference: Option<String>,
    pub reason: String,
    pub services: RefundServices,
    /// The operator who made it.
    pub created_by: Option<i32>,
    pub created_at: DateTime<Utc>,
}

macro_rules! refund_columns {
    () => {
        "id, payment_id, amount_pkr, destination, reference, reason, services, created_by, \
         created_at"
    };
}

/// What the operator asks for.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Whole PKR to give back: 1 up to what is left of the payment.
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub amount_pkr: i64,
    /// `credit` (the customer's account credit) or `external` (a transfer you made).
    pub to: RefundDestination,
    /// The transfer's transaction id: required for `external`, 4 to 100 characters.
    #[serde(default)]
    #[schema(min_length = 4, max_length = 100)]
    pub reference: Option<String>,
    /// Why, 1 to 500 characters; the customer reads it.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    /// `keep` the order's servers running, or `cancel` them (terminated now).
    pub services: RefundServices,
}

/// The refunds of a payment, oldest first.
pub async fn list_for_payment(
    db: impl PgExecutor<'_>,
    payment_id: i32,
) -> sqlx::Result<Vec<Refund>> {
    timed(
        "refunds.list_for_payment",
        sqlx::query_as(concat!(
            "select ",
            refund_columns!(),
            " from refunds where payment_id = $1 order by id"
        ))
        .bind(payment_id)
        .fetch_all(db),
    )
    .await
}

/// Checks a request before anything is read: the amount's range, the reason, and the
/// reference an external refund needs. A 422 names the field.
pub fn check(request: &RefundRequest) -> AppResult<(i32, Option<String>, String)> {
    if !(1..=10_000_000).contains(&request.amount_pkr) {
        return Err(AppError::invalid(
            "amount_pkr",
            "must be 1 to 10,000,000 rupees",
        ));
    }
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::invalid(
            "reason",
            "say why, in 1 to 500 characters",
        ));
    }
    let reference = request
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match (request.to, reference) {
        (RefundDestination::External, None) => {
            return Err(AppError::invalid(
                "reference",
                "an external refund needs the transaction id of the transfer you made",
            ));
        }
        (_, Some(r)) if !(4..=100).contains(&r.chars().count()) => {
            return Err(AppError::invalid(
                "reference",
                "must be 4 to 100 characters",
            ));
        }
        _ => {}
    }
    Ok((
        request.amount_pkr as i32,
        reference.map(str::to_owned),
        reason.to_owned(),
    ))
}

/// The services a refund that cancels them terminates: those the order bought and those it
/// renewed, unless already terminated (what the payment page names before the operator confirms).
pub async fn services_to_terminate(
    db: &mut sqlx::PgConnection,
    order_id: i32,
) -> sqlx::Result<Vec<i32>> {
    let mut ids: Vec<i32> = crate::services::services::list_for_order(&mut *db, order_id)
        .await?
        .into_iter()
        .filter(|s| s.status != ServiceStatus::Terminated)
        .map(|s| s.id)
        .collect();
    for service_id in crate::orders::items::renewed_services(&mut *db, order_id).await? {
        let status = crate::services::services::find(&mut *db, service_id)
            .await?
            .map(|s| s.status);
        if status.is_some_and(|s| s != ServiceStatus::Terminated) && !ids.contains(&service_id) {
            ids.push(service_id);
        }
    }
    Ok(ids)
}

/// Refunds (part of) a succeeded payment. Audited as `payment.refund`.
pub async fn refund(
    state: &Context,
    actor: &Actor<'_>,
    payment_id: i32,
    request: &RefundRequest,
) -> AppResult<(Refund, Payment)> {
    let (amount, reference, reason) = check(request)?;
    let mut tx = state.db.begin().await?;
    let payment = payments::find_for_update(&mut *tx, payment_id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    if payment.status != PaymentStatus::Succeeded {
        return Err(AppError::conflict(
            "status",
            format!(
                "payment {payment_id} is {}; only a succeeded payment can be refunded",
                payment.status
            ),
        ));
    }
    let refunded: i64 = list_for_payment(&mut *tx, payment_id)
        .await?
        .iter()
        .map(|r| i64::from(r.amount_pkr))
        .sum();
    let left = i64::from(payment.amount_pkr) - refunded;
    if i64::from(amount) > left {
        return Err(AppError::conflict(
            "amount_pkr",
            format!(
                "{} of payment {payment_id} is left to refund",
                format_pkr(left)
            ),
        ));
    }
    let order = orders::find_for_update(&mut *tx, payment.order_id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let refund: Refund = timed(
        "refunds.insert",
        sqlx::query_as(concat!(
            "insert into refunds (payment_id, amount_pkr, destination, reference, reason,
                                  services, created_by)
             values ($1, $2, $3, $4, $5, $6, $7) returning ",
            refund_columns!()
        ))
        .bind(payment_id)
        .bind(amount)
        .bind(request.to)
        .bind(reference.as_deref())
        .bind(&reason)
        .bind(request.services)
        .bind(actor.user_id)
        .fetch_one(&mut *tx),
    )
    .await?;
    // The credit note first, so the ledger's entry can name it.
    let method = match request.to {
        RefundDestination::Credit => "Account credit".to_owned(),
        RefundDestination::External => "Transfer".to_owned(),
    };
    let credit_note = super::invoices::credit_note_for_refund(
        &mut tx,
        &order,
        &super::invoices::RefundFacts {
            refund_id: refund.id,
            amount_pkr: refund.amount_pkr,
            reason: &refund.reason,
            reference: refund.reference.as_deref(),
            method: &method,
        },
    )
    .await?;
    if request.to == RefundDestination::Credit {
        let Some(user_id) = order.user_id else {
            return Err(AppError::conflict(
                "to",
                "the order's customer account is gone: refund it externally",
            ));
        };
        let noted = credit_note
            .as_ref()
            .map(|note| format!(" (credit note {})", note.code))
            .unwrap_or_default();
        credit::record(
            &mut tx,
            &NewCreditEntry {
                user_id,
                kind: CreditKind::Refund,
                amount_pkr: amount,
                reason: &format!(
                    "refund of payment {payment_id} (order {}): {reason}{noted}",
                    order.id
                ),
                order_id: Some(order.id),
                payment_id: Some(payment_id),
                invoice_id: credit_note.as_ref().map(|note| note.id),
                created_by: Some(actor.user_id),
            },
        )
        .await?;
    }
    if i64::from(amount) == left {
        super::transition(
            &mut *tx,
            payment_id,
            &[PaymentStatus::Succeeded],
            PaymentStatus::Refunded,
            &Transition::default(),
        )
        .await?;
    }
    let mut terminated = Vec::new();
    if request.services == RefundServices::Cancel {
        for service_id in services_to_terminate(&mut tx, order.id).await? {
            crate::services::lifecycle::terminate_audited(&mut tx, actor, service_id).await?;
            terminated.push(service_id);
        }
    }
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!({ "status": payment.status, "refunded_pkr": refunded })),
            after: Some(json!({
                "refund_id": refund.id,
                "amount_pkr": amount,
                "to": request.to,
                "reference": reference,
                "reason": reason,
                "services": request.services,
                "terminated": terminated,
                "credit_note": credit_note.as_ref().map(|n| &n.code),
            })),
            ..actor.entry("payment.refund", "payment", Some(&payment_id.to_string()))
        },
    )
    .await?;
    if let Some(user_id) = order.user_id
        && let Some(user) = users::find(&mut *tx, user_id).await?
    {
        let how = match request.to {
            RefundDestination::Credit => {
                "It is in your account credit: checkout and renewals can spend it.".to_owned()
            }
            RefundDestination::External => format!(
                "We sent it back to you by transfer, reference {}; it may take a working day \
                 to arrive.",
                reference.as_deref().unwrap_or_default()
            ),
        };
        let mut lines = vec![
            format!(
                "We refunded {} of your payment for order {}: {reason}.",
                format_pkr(amount),
                order.id
            ),
            how,
        ];
        if let Some(note) = &credit_note {
            lines.push(format!(
                "Credit note {} records it against your invoice; it is on your account's \
                 billing page.",
                note.code
            ));
        }
        if !terminated.is_empty() {
            lines.push(format!(
                "The server{} of this order {} been stopped and deleted.",
                if terminated.len() == 1 { "" } else { "s" },
                if terminated.len() == 1 { "has" } else { "have" }
            ));
        }
        let email = mail::notice_email(
            &user.email,
            &user.name,
            &format!("Refund of {} for order {}", format_pkr(amount), order.id),
            &lines,
            None,
        );
        mail::enqueue(&mut *tx, &email).await?;
    }
    let payment = payments::find(&mut *tx, payment_id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    tx.commit().await?;
    tracing::info!(
        payment.id = payment_id,
        admin.id = actor.user_id,
        "payment {payment_id}: {amount} refunded to {}",
        request.to
    );
    Ok((refund, payment))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(amount: i64, to: RefundDestination, reference: Option<&str>) -> RefundRequest {
        RefundRequest {
            amount_pkr: amount,
            to,
            reference: reference.map(str::to_owned),
            reason: "server never worked".into(),
            services: RefundServices::Keep,
        }
    }

    #[test]
    fn a_refund_request_names_what_is_wrong() {
        use RefundDestination::*;
        assert!(check(&request(0, Credit, None)).is_err());
        assert!(check(&request(10_000_001, Credit, None)).is_err());
        assert!(check(&request(500, External, None)).is_err());
        assert!(check(&request(500, External, Some("  "))).is_err());
        assert!(check(&request(500, External, Some("abc"))).is_err());
        assert_eq!(
            check(&request(500, External, Some(" TID123 "))).unwrap(),
            (500, Some("TID123".into()), "server never worked".into())
        );
        assert!(check(&request(500, Credit, None)).is_ok());
        assert!(crate::db::text_enum::spellings_match_serde(
            RefundDestination::ALL
        ));
        assert!(crate::db::text_enum::spellings_match_serde(
            RefundServices::ALL
        ));
    }
}
