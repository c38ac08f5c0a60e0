//! Payments: every attempt to pay an order, through a gateway, recorded with its raw payloads.
//!
//! A gateway is one [`PaymentGateway`]: how a customer starts paying an order with it
//! (instructions to follow, or a signed form that redirects to the provider). Adding one touches
//! this folder (its file, its callback routes in `api.rs`, its name in the `payments.gateway`
//! check) and the configuration. What happens once money is confirmed is the same for every
//! gateway and lives in [`settle`]: the order is paid only when its succeeded payments cover
//! `final_amount_pkr` exactly, in one guarded transaction, exactly once.

pub mod admin_api;
pub mod admin_pages;
pub mod api;
pub mod callbacks;
pub mod jazzcash;
pub mod manual;
pub mod pages;
pub mod receipts;
pub mod repo;
pub mod settle;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::orders::orders::Order;

/// The gateways' names, as stored in `payments.gateway`.
pub const MANUAL: &str = "manual";
pub const JAZZCASH: &str = "jazzcash";

/// How a customer pays an attempt.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Start {
    /// Send money yourself, then tell us the transaction id.
    Instructions(manual::Instructions),
    /// Submit this form (method POST) from the browser to the provider.
    Redirect {
        /// The provider's form address (the form's `action`).
        url: String,
        /// The form's fields, to post exactly as given (they are signed).
        fields: BTreeMap<String, String>,
    },
}

/// What a gateway needs to start an attempt.
pub struct StartContext<'a> {
    pub order: &'a Order,
    /// The attempt's transaction reference (for gateways that issue one).
    pub txn_ref: &'a str,
    /// The shop's public address, for return URLs.
    pub public_url: &'a str,
    pub now: DateTime<Utc>,
}

/// A way to pay.
pub trait PaymentGateway: Send + Sync {
    /// The name stored in `payments.gateway` and used as `method` in the API.
    fn name(&self) -> &'static str;
    /// What customers see.
    fn label(&self) -> &'static str;
    /// Whether starting creates a `pending` attempt right away (a redirect gateway: its
    /// callbacks must find the attempt); manual transfers are recorded when the customer
    /// submits their reference instead.
    fn records_attempt_on_start(&self) -> bool;
    /// How to pay `context.order`.
    fn start(&self, context: &StartContext<'_>) -> Start;
}

/// The gateways this node offers, from configuration.
#[derive(Clone, Debug, Default)]
pub struct PaymentSettings {
    pub manual: manual::ManualTransfer,
    pub jazzcash: Option<jazzcash::JazzCash>,
}

impl PaymentSettings {
    /// The enabled gateways, manual first.
    pub fn gateways(&self) -> Vec<&dyn PaymentGateway> {
        let mut gateways: Vec<&dyn PaymentGateway> = vec![&self.manual];
        if let Some(jazzcash) = &self.jazzcash {
            gateways.push(jazzcash);
        }
        gateways
    }

    /// The gateway called `name`, if enabled.
    pub fn gateway(&self, name: &str) -> Option<&dyn PaymentGateway> {
        self.gateways().into_iter().find(|g| g.name() == name)
    }
}

impl PaymentGateway for jazzcash::JazzCash {
    fn name(&self) -> &'static str {
        JAZZCASH
    }

    fn label(&self) -> &'static str {
        "JazzCash (wallet or card)"
    }

    fn records_attempt_on_start(&self) -> bool {
        true
    }

    fn start(&self, context: &StartContext<'_>) -> Start {
        let fields = self.checkout_form(&jazzcash::FormRequest {
            txn_ref: context.txn_ref,
            amount_pkr: context.order.final_amount_pkr,
            bill_reference: &order_reference(context.order.id),
            description: &format!("NextGenRDP order {}", context.order.id),
            return_url: &format!("{}/payments/jazzcash/return", context.public_url),
            now: context.now,
        });
        Start::Redirect {
            url: self.form_url.clone(),
            fields,
        }
    }
}

/// The reference customers put in a transfer note and JazzCash carries as bill reference.
pub fn order_reference(order_id: i32) -> String {
    format!("NGR-{order_id}")
}
