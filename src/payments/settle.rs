//! What confirmed money does, whatever the gateway: the payment becomes `succeeded` (once: a
//! guarded update from the status it had), then its order is settled under lock — `paid` when
//! the succeeded payments cover `final_amount_pkr` exactly, and in the same transaction what the
//! money buys: a new order's services with their provisioning jobs, or a renewal order's months
//! added to its services (once, since the paid transition happens once), plus the e-mail; any
//! mismatch is flagged on the payment for the operator, never accepted silently.

use super::PaymentStatus;
use super::payments::{self, Payment, Transition};
use crate::accounts::users;
use crate::error::{AppError, AppResult};
use crate::mail;
use crate::money::format_pkr;
use crate::orders::OrderStatus;
use crate::orders::orders;

/// What settling an order came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// This payment completed the order: it is now paid.
    Paid,
    /// The payment was already confirmed (a repeated callback or review): nothing changed.
    AlreadyConfirmed,
    /// Less than the order's amount has been received so far.
    Partial { received: i64, due: i64 },
    /// More than the order's amount, or money for an order no longer awaiting payment.
    Flagged(String),
}

/// Confirms `payment` (from one of `from`) and settles its order, inside the caller's
/// transaction, which must have locked the payment row.
pub async fn confirm(
    tx: &mut sqlx::PgConnection,
    payment: &Payment,
    from: &[PaymentStatus],
    change: &Transition<'_>,
    public_url: &str,
) -> AppResult<Settled> {
    if !super::transition(&mut *tx, payment.id, from, PaymentStatus::Succeeded, change).await? {
        return Ok(Settled::AlreadyConfirmed);
    }
    let gateway = payment.gateway.clone();
    metrics::counter!("payments_total", "gateway" => gateway, "outcome" => "confirmed")
        .increment(1);
    settle_order(tx, payment, public_url).await
}

async fn settle_order(
    tx: &mut sqlx::PgConnection,
    via: &Payment,
    public_url: &str,
) -> AppResult<Settled> {
    let order = orders::find_for_update(&mut *tx, via.order_id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let received = payments::succeeded_total(&mut *tx, order.id).await?;
    let due = i64::from(order.final_amount_pkr);
    if order.status != OrderStatus::PendingPayment {
        let flag = format!(
            "order {} was already {} when {} arrived: refund or credit it",
            order.id,
            order.status,
            format_pkr(via.amount_pkr)
        );
        payments::set_flag(&mut *tx, via.id, &flag).await?;
        tracing::warn!(order.id = order.id, payment.id = via.id, "{flag}");
        return Ok(Settled::Flagged(flag));
    }
    if received < due {
        let flag = format!("{} of {} received", format_pkr(received), format_pkr(due));
        payments::set_flag(&mut *tx, via.id, &flag).await?;
        return Ok(Settled::Partial { received, due });
    }
    if received > due {
        let flag = format!(
            "{} received for {} due: the order was not marked paid",
            format_pkr(received),
            format_pkr(due)
        );
        payments::set_flag(&mut *tx, via.id, &flag).await?;
        tracing::warn!(order.id = order.id, payment.id = via.id, "{flag}");
        return Ok(Settled::Flagged(flag));
    }
    crate::orders::transition(
        &mut *tx,
        order.id,
        OrderStatus::PendingPayment,
        OrderStatus::Paid,
    )
    .await?;
    let method = match &via.channel {
        Some(channel) => format!("{}:{channel}", via.gateway),
        None => via.gateway.clone(),
    };
    orders::set_payment(&mut *tx, order.id, &method, via.gateway_txn_id.as_deref()).await?;
    // What the money buys, in the same transaction as the paid transition (which happens once):
    // new servers to provision, or renewal periods to add.
    let renewal = order.kind == crate::orders::orders::OrderKind::Renewal;
    if renewal {
        crate::services::renewals::apply_paid_renewal(&mut *tx, &order).await?;
    } else {
        crate::services::provision::create_services_for_order(&mut *tx, &order).await?;
    }
    if let Some(user_id) = order.user_id
        && let Some(user) = users::find(&mut *tx, user_id).await?
    {
        let link = format!("{public_url}/account/orders/{}", order.id);
        let email = mail::notice_email(
            &user.email,
            &user.name,
            &format!("Payment received for order {}", order.id),
            &[
                format!(
                    "We received {} for order {}. Thank you!",
                    format_pkr(due),
                    order.id
                ),
                if renewal {
                    "Your renewal is applied: your server's next due date has moved forward."
                        .to_owned()
                } else {
                    "Your server is being prepared now; we e-mail you as soon as it is ready."
                        .to_owned()
                },
            ],
            Some(("View your order", &link)),
        );
        mail::enqueue(&mut *tx, &email).await?;
    }
    tracing::info!(
        order.id = order.id,
        payment.id = via.id,
        "order {} paid",
        order.id
    );
    Ok(Settled::Paid)
}
