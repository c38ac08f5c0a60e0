//! What the payment pages and the order pages show of payments: a method and a status in
//! words, the payment step of the customer's order page ([`PayView`], [`pay_view`]) and a
//! payment as a row of the operator's tables. Used by this domain's pages and by the order
//! pages (`orders::views`), which render them.

use super::PaymentStatus;
use super::Start;
use super::manual::{self, Instructions};
use super::pay::start_without_attempt;
use super::payments::{self, Payment};
use super::receipts::MAX_RECEIPT_BYTES;
use crate::app::AppState;
use crate::error::AppResult;
use crate::money::format_pkr;
use crate::orders::OrderStatus;
use crate::orders::orders::Order;
use crate::web::forms::{FormErrors, pkt, sentence};

// ---------------------------------------------------------------------------------------------
// Words shared with the operator's pages

pub(crate) use crate::orders::orders::method_label;

// ---------------------------------------------------------------------------------------------
// The payment step of the order page

/// What the order's status means, in a sentence or two for its alert.
pub struct StatusNote {
    /// `success`, `info` or `error` (the `.alert-*` class).
    pub kind: &'static str,
    /// The alert's `id`, for tests and styling.
    pub id: &'static str,
    pub title: String,
    pub text: String,
}

/// A way to pay, as a choice on the order page.
pub struct MethodChoice {
    pub name: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// An account of the channel select.
pub struct ChannelOption {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

/// The "I have paid" form as typed, with its problems after a failed submit.
#[derive(Default)]
pub struct ManualForm {
    pub reference: String,
    pub channel: String,
    pub paid_at: String,
    pub errors: FormErrors,
    pub alert: Option<String>,
}

/// The manual transfer's panel: what to do, and the form to say it is done.
pub struct ManualPanel {
    pub instructions: Instructions,
    pub channels: Vec<ChannelOption>,
    pub form: ManualForm,
}

/// A hosted checkout's panel: one button that starts an attempt.
pub struct RedirectPanel {
    pub name: &'static str,
    /// The provider's name ("JazzCash").
    pub provider: &'static str,
}

/// A hosted checkout's provider, by the gateway's name.
pub(crate) fn provider_name(gateway: &str) -> &'static str {
    match gateway {
        super::JAZZCASH => "JazzCash",
        super::EASYPAISA => "Easypaisa",
        _ => "the payment page",
    }
}

/// One payment of the order, as its customer sees it (never the operator's flag).
pub struct PaymentRow {
    pub id: i32,
    pub method: String,
    pub amount: String,
    pub status: String,
    pub status_label: &'static str,
    pub reference: String,
    pub when: String,
    /// Why it failed or was rejected.
    pub note: Option<String>,
}

impl PaymentRow {
    fn new(payment: &Payment) -> Self {
        Self {
            id: payment.id,
            method: method_label(&payment.gateway, payment.channel.as_deref()),
            amount: format_pkr(payment.amount_pkr),
            status_label: payment.status.label(),
            status: payment.status.to_string(),
            reference: payment
                .gateway_txn_id
                .clone()
                .unwrap_or_else(|| "—".to_owned()),
            when: pkt(Some(payment.created_at)),
            note: payment.failure_reason.clone().filter(|_| {
                matches!(
                    payment.status,
                    PaymentStatus::Failed | PaymentStatus::Rejected
                )
            }),
        }
    }
}

/// When `order` must be paid by: a new purchase expires; a renewal is due on its servers' due
/// date, after which the grace period runs.
async fn deadline(state: &AppState, order: &Order) -> AppResult<Deadline> {
    if order.status != OrderStatus::PendingPayment {
        return Ok(Deadline::None);
    }
    if order.kind == crate::orders::orders::OrderKind::Renewal {
        let Some(due) = crate::services::renewals::due_date_of_order(&state.db, order.id).await?
        else {
            return Ok(Deadline::None);
        };
        let lifecycle = &state.provisioning.lifecycle;
        let day = |at: chrono::DateTime<chrono::Utc>| {
            at.with_timezone(&crate::web::forms::pkt_offset())
                .format("%-d %b %Y")
                .to_string()
        };
        return Ok(Deadline::Renewal {
            due: day(due),
            suspend_on: day(due + chrono::Duration::days(i64::from(lifecycle.suspend_after_days))),
            delete_on: day(due + chrono::Duration::days(i64::from(lifecycle.terminate_after_days))),
        });
    }
    let expiry = chrono::Duration::hours(i64::from(state.settings.order_expiry_hours));
    Ok(order.created_at.map_or(Deadline::None, |at| {
        Deadline::Expires(pkt(Some(crate::orders::checkout::pay_before(at, expiry))))
    }))
}

/// The payment part of the customer's order page.
pub struct PayView {
    pub status: StatusNote,
    /// The order awaits payment and nothing is waiting for review: the pay section shows.
    pub payable: bool,
    pub methods: Vec<MethodChoice>,
    pub manual: Option<ManualPanel>,
    pub redirect: Option<RedirectPanel>,
    pub payments: Vec<PaymentRow>,
    pub max_receipt_mb: usize,
}

/// When an unpaid order must be paid, and what happens otherwise.
enum Deadline {
    /// A new purchase: it expires at this moment (PKT).
    Expires(String),
    /// A renewal (it never expires): the servers' due date, and when an unpaid server is
    /// suspended and then deleted.
    Renewal {
        due: String,
        suspend_on: String,
        delete_on: String,
    },
    None,
}

/// What `order`'s status means for its customer, given its payments (oldest first).
fn status_note(order: &Order, payments: &[Payment], deadline: Deadline) -> StatusNote {
    let note = |kind, id, title: &str, text: String| StatusNote {
        kind,
        id,
        title: title.to_owned(),
        text,
    };
    let amount = if order.credit_applied_pkr > 0 {
        format!(
            "the remaining {} ({} of your account credit already pays part of it)",
            format_pkr(order.due_pkr()),
            format_pkr(order.credit_applied_pkr)
        )
    } else {
        format_pkr(order.final_amount_pkr)
    };
    match order.status {
        OrderStatus::PendingPayment => {
            if payments.iter().any(|p| p.status == PaymentStatus::Review) {
                return note(
                    "info",
                    "payment-review",
                    "We're checking your transfer",
                    if order.kind == crate::orders::orders::OrderKind::Renewal {
                        "Usually within an hour. We e-mail you as soon as it is confirmed, and \
                         your server's new period starts right after; it keeps running meanwhile."
                    } else {
                        "Usually within an hour. We e-mail you as soon as it is confirmed, and \
                         your server is set up right after."
                    }
                    .to_owned(),
                );
            }
            match payments.last() {
                Some(last) if last.status == PaymentStatus::Rejected => note(
                    "error",
                    "payment-rejected",
                    "We could not confirm your transfer",
                    format!(
                        "{} Check the transaction id and submit it again below, or reply to our \
                         e-mail.",
                        sentence(
                            "",
                            last.failure_reason.as_deref().unwrap_or("no reason given")
                        )
                    ),
                ),
                Some(last) if last.status == PaymentStatus::Failed => note(
                    "error",
                    "payment-failed",
                    "Your last payment did not go through",
                    format!(
                        "{} No money was taken for it; you can pay again below.",
                        sentence(
                            "",
                            last.failure_reason
                                .as_deref()
                                .unwrap_or("it was not completed")
                        )
                    ),
                ),
                _ => note(
                    "info",
                    "payment-due",
                    "Awaiting your payment",
                    match deadline {
                        Deadline::Expires(at) => {
                            format!(
                                "Pay {amount} before {at}; after that the order expires. Your \
                                 server is set up as soon as the payment is confirmed."
                            )
                        }
                        Deadline::Renewal {
                            due,
                            suspend_on,
                            delete_on,
                        } => format!(
                            "Your server keeps running: this renewal is due on {due}. Pay \
                             {amount} to extend it. Unpaid, the server is suspended on \
                             {suspend_on} and deleted with its data on {delete_on}."
                        ),
                        Deadline::None => format!("Pay {amount} to complete this order."),
                    },
                ),
            }
        }
        OrderStatus::Paid => note(
            "success",
            "order-paid",
            "Paid",
            "Thank you! Your server is being prepared; we e-mail you as soon as it is ready, \
             and its login details will be on your services page."
                .to_owned(),
        ),
        OrderStatus::Processing => note(
            "success",
            "order-processing",
            "Paid · setting up",
            "We are setting up your server now; we e-mail you when it is ready, and its login \
             details will be on your services page."
                .to_owned(),
        ),
        OrderStatus::Active => note(
            "success",
            "order-active",
            "Active",
            "Your server is running; its address and login details are on your services page."
                .to_owned(),
        ),
        OrderStatus::Cancelled => note(
            "info",
            "order-cancelled",
            "Cancelled",
            if order.credit_applied_pkr > 0 {
                format!(
                    "This order is cancelled and can no longer be paid. The {} of account \
                     credit spent on it is back in your account.",
                    format_pkr(order.credit_applied_pkr)
                )
            } else {
                "This order is cancelled and can no longer be paid.".to_owned()
            },
        ),
        OrderStatus::Expired => note(
            "info",
            "order-expired",
            "Expired",
            "This order was not paid in time and can no longer be paid; place a new one from \
             your cart."
                .to_owned(),
        ),
    }
}

/// The channel select: one option per channel the shop has an account on, with its providers.
fn channel_options(accounts: &[manual::Account], selected: &str) -> Vec<ChannelOption> {
    manual::CHANNELS
        .iter()
        .filter_map(|&channel| {
            let providers: Vec<&str> = accounts
                .iter()
                .filter(|a| a.channel == channel)
                .map(|a| a.provider.as_str())
                .collect();
            if providers.is_empty() {
                return None;
            }
            let kind = match channel {
                "bank" => "Bank transfer",
                "jazzcash" => "JazzCash wallet",
                _ => "Easypaisa wallet",
            };
            Some(ChannelOption {
                value: channel,
                label: format!("{kind} — {}", providers.join(", ")),
                selected: channel == selected,
            })
        })
        .collect()
}

/// The payment part of `order`'s page: what its status means, its payments, and while it
/// awaits payment the chosen method's panel (`chosen` from `?pay=`, else the first gateway).
pub async fn pay_view(
    state: &AppState,
    order: &Order,
    chosen: Option<&str>,
    form: ManualForm,
) -> AppResult<PayView> {
    let payments = payments::list_for_order(&state.db, order.id).await?;
    let deadline = deadline(state, order).await?;
    let status = status_note(order, &payments, deadline);
    let payable = order.status == OrderStatus::PendingPayment
        && !payments.iter().any(|p| p.status == PaymentStatus::Review);
    let gateways = state.payments.gateways();
    let chosen = chosen
        .and_then(|name| gateways.iter().find(|g| g.name() == name))
        .or(gateways.first())
        .copied();
    let methods = gateways
        .iter()
        .map(|g| MethodChoice {
            name: g.name(),
            label: g.label(),
            selected: chosen.is_some_and(|c| c.name() == g.name()),
        })
        .collect();
    let (mut manual, mut redirect) = (None, None);
    if payable && let Some(gateway) = chosen {
        if gateway.records_attempt_on_start() {
            redirect = Some(RedirectPanel {
                name: gateway.name(),
                provider: provider_name(gateway.name()),
            });
        } else if let Start::Instructions(instructions) =
            start_without_attempt(state, gateway, order)
        {
            manual = Some(ManualPanel {
                channels: channel_options(&instructions.accounts, &form.channel),
                instructions,
                form,
            });
        }
    }
    Ok(PayView {
        status,
        payable,
        methods,
        manual,
        redirect,
        payments: payments.iter().map(PaymentRow::new).collect(),
        max_receipt_mb: MAX_RECEIPT_BYTES / (1024 * 1024),
    })
}

/// A payment as a row of the operator's tables (the queue, an order's page).
pub struct AdminPaymentRow {
    pub id: i32,
    pub order_id: i32,
    /// The customer's account id and e-mail; `None` when the account is gone or not shown.
    pub customer: Option<(i32, String)>,
    pub method: String,
    pub amount: String,
    pub status: String,
    pub status_label: &'static str,
    pub reference: String,
    pub flag: Option<String>,
    pub submitted: String,
}

impl AdminPaymentRow {
    pub fn new(payment: &Payment, customer: Option<(i32, String)>) -> Self {
        Self {
            id: payment.id,
            order_id: payment.order_id,
            customer,
            method: method_label(&payment.gateway, payment.channel.as_deref()),
            amount: format_pkr(payment.amount_pkr),
            status: payment.status.to_string(),
            status_label: payment.status.label(),
            reference: payment
                .gateway_txn_id
                .clone()
                .unwrap_or_else(|| "—".to_owned()),
            flag: payment.flag.clone(),
            submitted: pkt(Some(payment.created_at)),
        }
    }
}

/// The payments of an order, for the operator's order page.
pub async fn rows_for_order(state: &AppState, order_id: i32) -> AppResult<Vec<AdminPaymentRow>> {
    let payments = payments::list_for_order(&state.db, order_id).await?;
    Ok(payments
        .iter()
        .map(|p| AdminPaymentRow::new(p, None))
        .collect())
}
