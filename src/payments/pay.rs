//! The customer's payment verbs, behind both the JSON API and the order page: check out or renew
//! (spending account credit when asked, and paying at once when it covers everything), find the
//! order still awaiting payment, start a gateway (the manual transfer's instructions, or a
//! JazzCash attempt with its signed form) and report a manual transfer for review.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use sqlx::PgPool;

use super::payments::{self, NewPayment, Payment};
use super::{MANUAL, PaymentGateway, Start, StartContext, jazzcash, manual, settle};
use super::{PaymentEventKind, PaymentStatus};
use crate::accounts::users::User;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::orders::OrderStatus;
use crate::orders::checkout::{CheckoutInput, Placed, place_order_in};
use crate::orders::orders::{self, Order};
use crate::provisioning::Provisioning;
use crate::services::renewals::renew_in;

/// Checkout: places the order from the customer's cart (`orders::checkout::place_order_in`)
/// and, when the account credit spent on it covers all of it, settles it at once through the
/// same path as any payment (its services are created and provisioned) — all in one
/// transaction.
///
/// An order left to pay is e-mailed to its customer in the same transaction ("order placed":
/// the amount, the `NGR-` reference, how to pay, the transfer accounts and the deadline).
pub async fn checkout(
    db: &PgPool,
    ctx: &Provisioning,
    payment: &super::PaymentSettings,
    order_expiry_hours: u32,
    user: &User,
    input: &CheckoutInput<'_>,
) -> AppResult<Placed> {
    let mut tx = db.begin().await?;
    let mut placed = place_order_in(&mut tx, user, input, ctx.lifecycle.ip_hold_days).await?;
    if placed.created
        && settle::settle_if_credit_covers(&mut tx, &placed.order, &ctx.public_url)
            .await?
            .is_some()
    {
        placed.order = orders::find(&mut *tx, placed.order.id)
            .await?
            .ok_or(AppError::NotFound("order"))?;
    }
    if placed.created && placed.order.status == OrderStatus::PendingPayment {
        let items = crate::orders::items::list_details_for_order(&mut *tx, placed.order.id).await?;
        let expiry = chrono::Duration::hours(i64::from(order_expiry_hours));
        let email = order_placed_email(
            user,
            &placed.order,
            &items,
            payment,
            expiry,
            &ctx.public_url,
        );
        crate::mail::enqueue(&mut *tx, &email).await?;
        let pay_before = placed.order.created_at.map_or_else(String::new, |at| {
            crate::web::forms::pkt(Some(crate::orders::checkout::pay_before(at, expiry)))
        });
        crate::accounts::whatsapp::notify_in(
            &mut tx,
            user.id,
            crate::mail::whatsapp::ORDER_PLACED,
            &[
                super::order_reference(placed.order.id),
                crate::money::format_pkr(placed.order.due_pkr()),
                pay_before,
            ],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(placed)
}

/// The "order placed" e-mail: what was ordered, the amount to pay and its reference, how to
/// pay (the accounts for a transfer, unless they are the development stand-ins) and by when.
fn order_placed_email(
    user: &User,
    order: &Order,
    items: &[crate::orders::items::OrderItemDetail],
    payment: &super::PaymentSettings,
    expiry: chrono::Duration,
    public_url: &str,
) -> crate::mail::Email {
    use crate::money::format_pkr;
    let reference = super::order_reference(order.id);
    let due = format_pkr(order.due_pkr());
    let mut lines = vec![format!("Thank you for your order {reference}:")];
    lines.push(
        items
            .iter()
            .map(|item| {
                let months = if item.validity_months == 1 {
                    "1 month".to_owned()
                } else {
                    format!("{} months", item.validity_months)
                };
                format!(
                    "{} × {}{}, {months}",
                    item.quantity,
                    item.plan_name.as_deref().unwrap_or("a plan"),
                    item.location_name
                        .as_deref()
                        .map(|l| format!(" in {l}"))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let mut amount = format!("Amount to pay: {due}");
    if order.credit_applied_pkr > 0 {
        amount.push_str(&format!(
            " ({} of your account credit already pays part of it)",
            format_pkr(order.credit_applied_pkr)
        ));
    }
    lines.push(amount);
    if let Some(created) = order.created_at {
        lines.push(format!(
            "Pay before {}; after that the order expires and nothing is charged.",
            crate::web::forms::pkt(Some(crate::orders::checkout::pay_before(created, expiry)))
        ));
    }
    let methods: Vec<&str> = payment.gateways().iter().map(|g| g.label()).collect();
    lines.push(format!(
        "How to pay: open your order and choose {}.",
        methods.join(", or ")
    ));
    let accounts = payment.manual.shown_accounts();
    if accounts.is_empty() {
        lines.push(format!(
            "For a transfer, ask us for our account details first, and write {reference} in \
             the transfer's note."
        ));
    } else {
        let listed: Vec<String> = accounts
            .iter()
            .map(|a| format!("{}: {} · {}", a.provider, a.title, a.number))
            .collect();
        lines.push(format!(
            "For a bank or wallet transfer, send exactly {due} to one of these accounts, write \
             {reference} in the transfer's note, then enter the transaction id on your order's \
             page:\n{}",
            listed.join("\n")
        ));
    }
    crate::mail::notice_email(
        &user.email,
        &user.name,
        &format!("Order {reference} placed: {due} to pay"),
        &lines,
        Some((
            "Pay for your order",
            &format!("{public_url}/account/orders/{}", order.id),
        )),
    )
}

/// Renewal: a renewal order for one of the customer's services
/// (`services::renewals::renew_in`), settled at once when the account credit spent on it covers
/// all of it — in one transaction.
pub async fn renew(
    db: &PgPool,
    ctx: &Provisioning,
    user_id: i32,
    service_id: i32,
    months: i32,
    use_credit: bool,
) -> AppResult<Order> {
    let mut tx = db.begin().await?;
    let mut order = renew_in(&mut tx, ctx, user_id, service_id, months, use_credit).await?;
    if settle::settle_if_credit_covers(&mut tx, &order, &ctx.public_url)
        .await?
        .is_some()
    {
        order = orders::find(&mut *tx, order.id)
            .await?
            .ok_or(AppError::NotFound("order"))?;
    }
    tx.commit().await?;
    Ok(order)
}

/// The caller's order, still awaiting payment.
pub async fn payable_order(state: &Context, id: i32, user_id: i32) -> AppResult<Order> {
    let order = orders::find_for_user(&state.db, id, user_id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    if order.status != OrderStatus::PendingPayment {
        return Err(AppError::conflict(
            "order",
            format!("order {} is {}; it cannot be paid", order.id, order.status),
        ));
    }
    Ok(order)
}

/// Checks a manual transfer's reference: 4 to 50 letters, digits, `-` or `_`.
pub fn parse_reference(reference: &str) -> AppResult<String> {
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

/// How to pay `order` with a gateway that records nothing until the customer acts (the manual
/// transfer's instructions).
pub fn start_without_attempt(
    state: &Context,
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
pub async fn start_attempt(
    state: &Context,
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
    let payment = payments::insert(
        &mut *tx,
        &NewPayment {
            order_id: order.id,
            gateway: gateway.name(),
            amount_pkr: order.due_pkr(),
            status: PaymentStatus::Pending,
            gateway_txn_id: Some(&txn_ref),
            channel: None,
            customer_paid_at: None,
            request_payload: Some(payload.clone()),
            flag: None,
            // As signed in the form (pp_TxnExpiryDateTime).
            expires_at: Some(now + jazzcash::ATTEMPT_LIFETIME),
        },
    )
    .await?;
    payments::insert_event(
        &mut *tx,
        Some(payment.id),
        PaymentEventKind::Created,
        Some(&payload),
        None,
    )
    .await?;
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
    state: &Context,
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
    let seen = payments::count_manual_reference(&mut *tx, reference).await?;
    let flag = (seen > 0)
        .then(|| format!("reference {reference} was already submitted on another payment"));
    let payload = json!({ "reference": reference, "channel": channel, "paid_at": paid_at });
    let payment = payments::insert(
        &mut *tx,
        &NewPayment {
            order_id: order.id,
            gateway: MANUAL,
            amount_pkr: order.due_pkr(),
            status: PaymentStatus::Review,
            gateway_txn_id: Some(reference),
            channel,
            customer_paid_at: paid_at,
            request_payload: Some(payload.clone()),
            flag: flag.as_deref(),
            expires_at: None,
        },
    )
    .await?;
    payments::insert_event(
        &mut *tx,
        Some(payment.id),
        PaymentEventKind::Submitted,
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
