//! What the order pages show, shared by the customer's pages, the operator's and the payment
//! pages (which render the order page again after a failed payment form): an order as a row
//! and with its items, and the customer's order page itself.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::details::{OrderResponse, order_response};
use super::{OrderStatus, orders};
use crate::accounts::extract::PageUser;
use crate::app::AppState;
use crate::error::AppResult;
use crate::money::format_pkr;
use crate::payments::views::PayView;
use crate::web::forms::{Notice, pkt};
use crate::web::pages::{Layout, render_with};

/// An order as a row of a list.
pub struct OrderRow {
    pub id: i32,
    pub placed: String,
    pub status: String,
    pub status_label: &'static str,
    pub total: String,
}

impl OrderRow {
    /// The row of `order`; `in_review`: a transfer for it awaits the operator's check, which
    /// the row says rather than "Awaiting payment".
    pub fn new(order: &orders::Order, in_review: bool) -> Self {
        let status_label =
            if in_review && order.status == crate::orders::OrderStatus::PendingPayment {
                "Payment under review"
            } else {
                order.status.label()
            };
        Self {
            id: order.id,
            placed: pkt(order.created_at),
            status_label,
            status: order.status.to_string(),
            total: format_pkr(order.final_amount_pkr),
        }
    }
}

/// A line of an order as shown.
pub struct OrderLine {
    pub plan_name: String,
    pub location_name: String,
    pub months: String,
    pub quantity: i32,
    pub unit_price: String,
    pub line_total: String,
}

/// An order with its items, as its page shows it (the customer's and the operator's).
pub struct OrderView {
    pub id: i32,
    pub status: String,
    pub status_label: &'static str,
    pub placed: String,
    /// When an unpaid order expires (PKT).
    pub pay_before: Option<String>,
    pub paid_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub items: Vec<OrderLine>,
    pub subtotal: String,
    /// The discount, when there is one.
    pub discount: Option<String>,
    pub promo_code: Option<String>,
    pub total: String,
    /// The account credit spent on it and what was left to pay, when credit was applied.
    pub credit: Option<(String, String)>,
    /// The sales tax: its label (`Sales tax 13%, Sindh`), amount, and whether it was added to
    /// the prices (else it is inside them).
    pub tax: Option<(String, String, bool)>,
    pub notes: Option<String>,
    /// How it was paid, once it is.
    pub payment_method: Option<String>,
    pub payment_reference: Option<String>,
    pub can_cancel: bool,
}

impl OrderView {
    pub fn new(order: OrderResponse) -> Self {
        let items = order
            .items
            .iter()
            .map(|item| OrderLine {
                plan_name: item
                    .plan_name
                    .clone()
                    .or_else(|| item.plan_id.clone())
                    .unwrap_or_else(|| "—".into()),
                location_name: item.location_name.clone().unwrap_or_else(|| "—".into()),
                months: months_label(item.validity_months),
                quantity: item.quantity,
                unit_price: format_pkr(item.price_at_order_pkr),
                line_total: format_pkr(item.line_total_pkr),
            })
            .collect();
        Self {
            id: order.id,
            status_label: order.status.label(),
            can_cancel: order.status == OrderStatus::PendingPayment,
            status: order.status.to_string(),
            placed: pkt(order.created_at),
            pay_before: order.pay_before.map(|at| pkt(Some(at))),
            paid_at: order.paid_at.map(|at| pkt(Some(at))),
            cancelled_at: order.cancelled_at.map(|at| pkt(Some(at))),
            items,
            subtotal: format_pkr(order.total_amount_pkr),
            discount: (order.discount_amount_pkr > 0)
                .then(|| format_pkr(order.discount_amount_pkr)),
            promo_code: order.promo_code,
            total: order.final_amount_display,
            credit: (order.credit_applied_pkr > 0).then(|| {
                (
                    format_pkr(order.credit_applied_pkr),
                    format_pkr(order.amount_due_pkr),
                )
            }),
            tax: (order.tax_mode != super::tax::TaxMode::Off).then(|| {
                (
                    format!(
                        "Sales tax {}{}",
                        super::tax::rate_label(order.tax_rate_bp.max(0) as u32),
                        order
                            .tax_province
                            .map(|p| format!(", {}", p.label()))
                            .unwrap_or_default()
                    ),
                    format_pkr(order.tax_amount_pkr),
                    order.tax_mode == super::tax::TaxMode::Exclusive,
                )
            }),
            notes: order.notes.filter(|n| !n.trim().is_empty()),
            payment_method: order
                .payment_method
                .as_deref()
                .map(super::orders::payment_method_label),
            payment_reference: order.payment_reference,
        }
    }
}

#[derive(Template)]
#[template(path = "orders/order.html")]
pub(crate) struct OrderPage {
    layout: Layout,
    notice: Option<Notice>,
    order: OrderView,
    /// The payment step and the order's payments.
    pay: PayView,
}

/// The customer's order page with its payment step (also after a failed payment form).
pub(crate) async fn render_order_page(
    state: &AppState,
    visitor: &PageUser,
    order: orders::Order,
    status: StatusCode,
    notice: Option<Notice>,
    pay: PayView,
) -> AppResult<Response> {
    let order = OrderView::new(order_response(state, order).await?);
    render_with(
        status,
        &OrderPage {
            layout: Layout::for_page(format!("Order #{}", order.id), &visitor.context),
            notice,
            order,
            pay,
        },
    )
}

/// How many months, in words.
pub(crate) fn months_label(months: i32) -> String {
    if months == 1 {
        "1 month".to_owned()
    } else {
        format!("{months} months")
    }
}
