//! What confirmed money does, whatever the gateway: the payment becomes `succeeded` (once: a
//! guarded update from the status it had), then its order is settled under lock — `paid` when
//! the succeeded payments and the account credit applied to it cover `final_amount_pkr`, and in
//! the same transaction what the money buys: a new order's services with their provisioning
//! jobs, or a renewal order's months added to its services (once, since the paid transition
//! happens once), plus the e-mail. Money beyond what the order needs — an over-payment, or a
//! payment that arrives after the order was paid, cancelled or expired — goes to the customer's
//! account credit with a notice; a payment short of the amount is flagged for the operator.

use super::PaymentStatus;
use super::payments::{self, Payment, Transition};
use crate::accounts::credit::{self, CreditKind, NewCreditEntry};
use crate::accounts::users;
use crate::error::{AppError, AppResult};
use crate::mail;
use crate::money::format_pkr;
use crate::orders::OrderStatus;
use crate::orders::orders::{self, Order};

/// What settling an order came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// This payment (or the credit applied) completed the order: it is now paid.
    Paid,
    /// The payment was already confirmed (a repeated callback or review): nothing changed.
    AlreadyConfirmed,
    /// Less than the order's amount has been received so far.
    Partial { received: i64, due: i64 },
    /// Money for an order no longer awaiting payment, kept in the customer's account credit.
    Credited { amount: i64 },
    /// Money the shop cannot place by itself (its customer's account is gone): flagged.
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
    settle_order(tx, payment.order_id, Some(payment), public_url).await
}

/// Settles an order the account credit applied at checkout or renewal paid in full (no
/// payment: the credit is the money), inside the caller's transaction; anything else unchanged.
pub async fn settle_if_credit_covers(
    tx: &mut sqlx::PgConnection,
    order: &Order,
    public_url: &str,
) -> AppResult<Option<Settled>> {
    if order.status != OrderStatus::PendingPayment
        || order.credit_applied_pkr == 0
        || order.due_pkr() > 0
    {
        return Ok(None);
    }
    Ok(Some(settle_order(tx, order.id, None, public_url).await?))
}

async fn settle_order(
    tx: &mut sqlx::PgConnection,
    order_id: i32,
    via: Option<&Payment>,
    public_url: &str,
) -> AppResult<Settled> {
    let order = orders::find_for_update(&mut *tx, order_id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let user = match order.user_id {
        Some(user_id) => users::find(&mut *tx, user_id).await?,
        None => None,
    };
    let paid_by_gateways = payments::succeeded_total(&mut *tx, order.id).await?;
    let received = paid_by_gateways + i64::from(order.credit_applied_pkr);
    let due = i64::from(order.final_amount_pkr);
    if let Some(via) = via
        && order.status != OrderStatus::PendingPayment
    {
        let why = format!(
            "payment {} of {} arrived when order {} was already {}",
            via.id,
            format_pkr(via.amount_pkr),
            order.id,
            order.status
        );
        return credit_or_flag(
            tx,
            via,
            &order,
            user.as_ref(),
            i64::from(via.amount_pkr),
            &why,
        )
        .await;
    }
    if received < due {
        if let Some(via) = via {
            let flag = format!("{} of {} received", format_pkr(received), format_pkr(due));
            payments::set_flag(&mut *tx, via.id, &flag).await?;
        }
        return Ok(Settled::Partial { received, due });
    }
    crate::orders::transition(
        &mut *tx,
        order.id,
        OrderStatus::PendingPayment,
        OrderStatus::Paid,
    )
    .await?;
    let (method, reference) = match via {
        Some(via) => (
            match &via.channel {
                Some(channel) => format!("{}:{channel}", via.gateway),
                None => via.gateway.clone(),
            },
            via.gateway_txn_id.as_deref(),
        ),
        None => (super::CREDIT.to_owned(), None),
    };
    // The order as paid (with its method), for the invoice numbered in this transaction (so a
    // number is never skipped or reused).
    let paid = orders::set_payment(&mut *tx, order.id, &method, reference)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let invoice = super::invoices::issue_for_order(&mut *tx, &paid).await?;
    // What the money buys, in the same transaction as the paid transition (which happens once):
    // new servers to provision, or renewal periods to add.
    let renewal = order.kind == crate::orders::orders::OrderKind::Renewal;
    if renewal {
        crate::services::renewals::apply_paid_renewal(&mut *tx, &order).await?;
    } else {
        crate::services::provision::create_services_for_order(&mut *tx, &order).await?;
    }
    // More than the order needed: the rest is the customer's credit.
    let extra = received - due;
    let mut credited = None;
    if extra > 0
        && let Some(via) = via
    {
        let why = format!(
            "payment {} was {} more than order {} needed",
            via.id,
            format_pkr(extra),
            order.id
        );
        if let Settled::Credited { amount } =
            credit_or_flag(tx, via, &order, None, extra, &why).await?
        {
            credited = Some(amount);
        }
    }
    if let Some(user) = &user {
        let link = format!("{public_url}/account/orders/{}", order.id);
        let mut lines = vec![if order.credit_applied_pkr > 0 {
            format!(
                "We received {} for order {} ({} of it from your account credit). Thank you!",
                format_pkr(due),
                order.id,
                format_pkr(order.credit_applied_pkr)
            )
        } else {
            format!(
                "We received {} for order {}. Thank you!",
                format_pkr(due),
                order.id
            )
        }];
        lines.push(if renewal {
            "Your renewal is applied: your server's next due date has moved forward.".to_owned()
        } else {
            "Your server is being prepared now; we e-mail you as soon as it is ready.".to_owned()
        });
        if let Some(amount) = credited {
            lines.push(format!(
                "You paid {} more than the order needed: it is in your account credit, and \
                 checkout and renewals can spend it.",
                format_pkr(amount)
            ));
        }
        lines.push(format!(
            "Your {} {} is attached, and on your account's billing page.",
            invoice.title().to_lowercase(),
            invoice.code
        ));
        let mut email = mail::notice_email(
            &user.email,
            &user.name,
            &format!("Payment received for order {}", order.id),
            &lines,
            Some(("View your order", &link)),
        );
        email.attachments.push(mail::Attachment::Invoice {
            invoice_id: invoice.id,
        });
        mail::enqueue(&mut *tx, &email).await?;
        crate::accounts::whatsapp::notify_in(
            &mut *tx,
            user.id,
            crate::mail::whatsapp::PAYMENT_APPROVED,
            &[
                super::order_reference(order.id),
                format_pkr(order.final_amount_pkr),
            ],
        )
        .await?;
    }
    tracing::info!(
        order.id = order.id,
        payment.id = via.map(|v| v.id),
        "order {} paid",
        order.id
    );
    Ok(Settled::Paid)
}

/// Puts `amount` of payment `via` in its customer's account credit (kind `overpayment`), with
/// an e-mail when `notify` names the customer; flags the payment for the operator instead when
/// the order has no customer any more.
async fn credit_or_flag(
    tx: &mut sqlx::PgConnection,
    via: &Payment,
    order: &Order,
    notify: Option<&users::User>,
    amount: i64,
    why: &str,
) -> AppResult<Settled> {
    let (Some(user_id), Ok(amount_pkr)) = (order.user_id, i32::try_from(amount)) else {
        let flag = format!("{why}: refund it (the order has no customer account)");
        payments::set_flag(&mut *tx, via.id, &flag).await?;
        tracing::warn!(order.id = order.id, payment.id = via.id, "{flag}");
        return Ok(Settled::Flagged(flag));
    };
    let entry = credit::record(
        &mut *tx,
        &NewCreditEntry {
            user_id,
            kind: CreditKind::Overpayment,
            amount_pkr,
            reason: &format!("{why}: kept as credit"),
            order_id: Some(order.id),
            payment_id: Some(via.id),
            invoice_id: None,
            created_by: None,
        },
    )
    .await?;
    tracing::info!(
        order.id = order.id,
        payment.id = via.id,
        user.id = user_id,
        "{why}: {amount} credited"
    );
    if let Some(user) = notify {
        let email = mail::notice_email(
            &user.email,
            &user.name,
            &format!("{} added to your account credit", format_pkr(amount)),
            &[format!(
                "We received {} for order {} after it was {}, so it did not pay for \
                     anything. It is in your account credit now ({} in all): checkout and \
                     renewals can spend it, or write to us for a refund.",
                format_pkr(via.amount_pkr),
                order.id,
                order.status.label().to_lowercase(),
                format_pkr(entry.balance_after_pkr)
            )],
            None,
        );
        mail::enqueue(&mut *tx, &email).await?;
    }
    Ok(Settled::Credited { amount })
}
