//! Orders and billing: orders, their items and promo codes.
//!
//! [`OrderStatus`] and [`can_transition`] are the order life cycle; the repositories
//! ([`orders`], [`items`], [`promo_codes`]) hold the SQL, and their guarded updates make a stale
//! transition change nothing.

pub mod admin_api;
pub mod admin_pages;
pub mod api;
pub mod cart;
pub mod carts;
pub mod checkout;
pub mod idempotency;
pub mod items;
// `orders::orders` mirrors the table name, as every repository module here does.
#[allow(clippy::module_inception)]
pub mod orders;
pub mod pages;
pub mod pricing;
pub mod promo_codes;

use serde::{Deserialize, Serialize};

/// Where an order is in its life: it waits for payment, is paid, its servers are provisioned and
/// it becomes active; an unpaid order is cancelled (by the customer or an operator) or expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Processing,
    Active,
    Cancelled,
    Expired,
}

impl OrderStatus {
    /// Every status, in life-cycle order.
    pub const ALL: [Self; 6] = [
        Self::PendingPayment,
        Self::Paid,
        Self::Processing,
        Self::Active,
        Self::Cancelled,
        Self::Expired,
    ];

    /// The spelling stored in `orders.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::Processing => "processing",
            Self::Active => "active",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// No transition leaves this status.
    pub fn is_final(self) -> bool {
        Self::ALL.iter().all(|&to| !can_transition(self, to))
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown order status {text:?}"))
    }
}

/// Whether an order may move from `from` to `to`: pending_payment → paid, cancelled or expired;
/// paid → processing or active; processing → active. Nothing else, and never to itself.
pub fn can_transition(from: OrderStatus, to: OrderStatus) -> bool {
    use OrderStatus::*;
    matches!(
        (from, to),
        (PendingPayment, Paid | Cancelled | Expired)
            | (Paid, Processing | Active)
            | (Processing, Active)
    )
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_spelling() {
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        assert_eq!("pending_payment".parse(), Ok(PendingPayment));
        assert!("Paid".parse::<OrderStatus>().is_err());
        assert!("refunded".parse::<OrderStatus>().is_err());
        assert!("".parse::<OrderStatus>().is_err());
    }

    #[test]
    fn serde_uses_the_stored_spelling() {
        assert_eq!(
            serde_json::to_string(&PendingPayment).unwrap(),
            "\"pending_payment\""
        );
        assert_eq!(
            serde_json::from_str::<OrderStatus>("\"processing\"").unwrap(),
            Processing
        );
    }

    #[test]
    fn exactly_the_allowed_transitions_are_allowed() {
        let allowed = [
            (PendingPayment, Paid),
            (PendingPayment, Cancelled),
            (PendingPayment, Expired),
            (Paid, Processing),
            (Paid, Active),
            (Processing, Active),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                assert_eq!(
                    can_transition(from, to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn paid_orders_cannot_be_cancelled_or_unpaid() {
        assert!(!can_transition(Paid, Cancelled));
        assert!(!can_transition(Paid, PendingPayment));
        assert!(!can_transition(Active, Cancelled));
        assert!(!can_transition(Expired, Paid));
    }

    #[test]
    fn active_cancelled_and_expired_are_final() {
        let finals: Vec<_> = OrderStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, vec![Active, Cancelled, Expired]);
    }
}
