//! An order with its items as its customer and the operator see it: the answer of the orders
//! API, of the services API's renewal, and of the operator's order routes.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::items::{self, OrderItemDetail};
use super::orders::Order;
use super::{OrderStatus, checkout};
use crate::context::Context;
use crate::error::AppResult;
use crate::money::format_pkr;

/// An order as its customer (and the operator) sees it. Amounts are whole PKR; times are
/// RFC 3339, UTC.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderResponse {
    pub id: i32,
    pub status: OrderStatus,
    /// The subtotal before any discount, in whole PKR.
    pub total_amount_pkr: i32,
    /// The promo code's discount, in whole PKR (0: none).
    pub discount_amount_pkr: i32,
    /// What the customer pays: total − discount (+ the tax when prices exclude it), in whole
    /// PKR.
    pub final_amount_pkr: i32,
    /// Sales tax: `off`, `inclusive` (inside the amount) or `exclusive` (added to it).
    pub tax_mode: super::tax::TaxMode,
    /// The province whose rate applied.
    pub tax_province: Option<crate::accounts::billing::Province>,
    /// The rate in basis points (1600 = 16 %).
    pub tax_rate_bp: i32,
    /// The sales tax in `final_amount_pkr`, whole PKR.
    pub tax_amount_pkr: i32,
    /// `final_amount_pkr` formatted for display (`Rs 4,500`).
    pub final_amount_display: String,
    pub promo_code: Option<String>,
    /// The account credit spent on it at checkout or renewal, in whole PKR (0: none).
    pub credit_applied_pkr: i32,
    /// What is left to pay through a payment method: `final_amount_pkr − credit_applied_pkr`.
    pub amount_due_pkr: i32,
    /// How it was paid, once paid: the gateway (`manual`, `jazzcash`), with the channel of a
    /// manual transfer after a colon (`manual:bank`); `credit` when account credit paid all of
    /// it.
    pub payment_method: Option<String>,
    /// The transaction id of the payment that settled it.
    pub payment_reference: Option<String>,
    /// The customer's notes at checkout.
    pub notes: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// When an unpaid order expires (only while `pending_payment`; otherwise null).
    pub pay_before: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    /// When it was cancelled or expired.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The versions of the terms of service and the refund policy the customer agreed to by
    /// placing it (`GET /api/v1/policies/terms?version=`); null for renewals.
    pub terms_version: Option<i32>,
    pub refund_policy_version: Option<i32>,
    pub items: Vec<OrderItemResponse>,
}

/// A line of an order: a plan in a location for some months, at the price of the day it was
/// ordered. The plan and location names are null if they were deleted since.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItemResponse {
    pub id: i32,
    pub plan_id: Option<String>,
    pub plan_name: Option<String>,
    pub location_id: Option<i32>,
    pub location_name: Option<String>,
    pub quantity: i32,
    pub validity_months: i32,
    /// The unit price per month when ordered, in whole PKR.
    pub price_at_order_pkr: i32,
    /// Unit price × months × quantity, in whole PKR.
    pub line_total_pkr: i64,
}

impl From<OrderItemDetail> for OrderItemResponse {
    fn from(item: OrderItemDetail) -> Self {
        Self {
            line_total_pkr: item.line_total_pkr(),
            id: item.id,
            plan_id: item.plan_id,
            plan_name: item.plan_name,
            location_id: item.location_id,
            location_name: item.location_name,
            quantity: item.quantity,
            validity_months: item.validity_months,
            price_at_order_pkr: item.price_at_order_pkr,
        }
    }
}

/// Builds the response of an order with its items.
pub async fn order_response(state: &Context, order: Order) -> AppResult<OrderResponse> {
    let items = items::list_details_for_order(&state.db, order.id).await?;
    let expiry = Duration::hours(i64::from(state.settings.order_expiry_hours));
    Ok(OrderResponse {
        pay_before: (order.status == OrderStatus::PendingPayment)
            .then(|| order.created_at.map(|at| checkout::pay_before(at, expiry)))
            .flatten(),
        discount_amount_pkr: order.discount_amount_pkr(),
        credit_applied_pkr: order.credit_applied_pkr,
        amount_due_pkr: order.due_pkr(),
        final_amount_display: format_pkr(order.final_amount_pkr),
        id: order.id,
        status: order.status,
        total_amount_pkr: order.total_amount_pkr,
        final_amount_pkr: order.final_amount_pkr,
        tax_mode: order.tax_mode,
        tax_province: order.tax_province,
        tax_rate_bp: order.tax_rate_bp,
        tax_amount_pkr: order.tax_amount_pkr,
        promo_code: order.promo_code,
        payment_method: order.payment_method,
        payment_reference: order.payment_reference,
        notes: order.notes,
        created_at: order.created_at,
        paid_at: order.paid_at,
        cancelled_at: order.cancelled_at,
        terms_version: order.terms_version,
        refund_policy_version: order.refund_policy_version,
        items: items.into_iter().map(Into::into).collect(),
    })
}
