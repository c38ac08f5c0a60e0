//! Orders and billing: orders, their items and promo codes.
//!
//! [`OrderStatus`] and [`can_transition`] are the order life cycle and [`transition`] its one
//! writer; the repositories ([`orders`], [`items`], [`promo_codes`]) hold the SQL, and their
//! guarded updates make a stale transition change nothing.

pub mod admin_api;
pub mod admin_pages;
pub mod api;
pub mod billing;
pub mod cart;
pub mod carts;
pub mod checkout;
pub mod details;
pub mod extract;
pub mod idempotency;
pub mod items;
// `orders::orders` mirrors the table name, as every repository module here does.
#[allow(clippy::module_inception)]
pub mod orders;
pub mod pages;
pub mod pricing;
pub mod promo_codes;
pub mod promos;
pub mod tax;
pub mod views;

use sqlx::{PgConnection, PgExecutor};

use crate::accounts::credit::{self, CreditKind, NewCreditEntry};
use crate::db::text_enum::{TransitionError, text_enum};
use crate::error::{AppError, AppResult};

text_enum! {
    /// Where an order is in its life: it waits for payment, is paid, its servers are provisioned and
    /// it becomes active; an unpaid order is cancelled (by the customer or an operator) or expires.
    pub enum OrderStatus {
        PendingPayment = "pending_payment",
        Paid = "paid",
        Processing = "processing",
        Active = "active",
        Cancelled = "cancelled",
        Expired = "expired",
    }
}

impl OrderStatus {
    /// No transition leaves this status.
    pub fn is_final(self) -> bool {
        Self::ALL.iter().all(|&to| !can_transition(self, to))
    }

    /// The status in the customer's and the operator's words.
    pub fn label(self) -> &'static str {
        match self {
            Self::PendingPayment => "Awaiting payment",
            Self::Paid => "Paid",
            Self::Processing => "Processing",
            Self::Active => "Active",
            Self::Cancelled => "Cancelled",
            Self::Expired => "Expired",
        }
    }
}

/// Moves order `id` from `from` to `to` if it is still `from` (a guarded compare-and-set: a
/// concurrent change wins and this answers `false`); a move the life cycle does not allow is
/// refused before the database is asked. The one writer of `orders.status`. An order that
/// ends unpaid (cancelled or expired) gives the account credit applied to it back, in the same
/// transaction.
pub async fn transition(
    tx: &mut PgConnection,
    id: i32,
    from: OrderStatus,
    to: OrderStatus,
) -> AppResult<bool> {
    if !can_transition(from, to) {
        return Err(TransitionError::NotAllowed {
            machine: "an order",
            from: from.as_str(),
            to: to.as_str(),
        }
        .into());
    }
    let Some((user_id, credit_applied)) = orders::set_status(&mut *tx, id, from, to).await? else {
        return Ok(false);
    };
    if matches!(to, OrderStatus::Cancelled | OrderStatus::Expired)
        && credit_applied > 0
        && let Some(user_id) = user_id
    {
        credit::record(
            tx,
            &NewCreditEntry {
                user_id,
                kind: CreditKind::Returned,
                amount_pkr: credit_applied,
                reason: &format!("order {id} was {to} unpaid: the credit spent on it is back"),
                order_id: Some(id),
                payment_id: None,
                invoice_id: None,
                created_by: None,
            },
        )
        .await?;
    }
    Ok(true)
}

/// Spends the customer's account credit on an order awaiting payment, as much as the balance
/// holds up to what is still due (in the caller's transaction, the ledger's `spent` entry with
/// it); the order as it is now. An order without a customer is returned unchanged.
pub async fn apply_credit(tx: &mut PgConnection, order: orders::Order) -> AppResult<orders::Order> {
    if order.status != OrderStatus::PendingPayment {
        return Err(AppError::conflict(
            "order",
            format!("order {} is {}; it cannot be paid", order.id, order.status),
        ));
    }
    let Some(user_id) = order.user_id else {
        return Ok(order);
    };
    let spent = credit::spend_on_order(&mut *tx, user_id, order.id, order.due_pkr()).await?;
    if spent == 0 {
        return Ok(order);
    }
    Ok(orders::add_credit_applied(&mut *tx, order.id, spent).await?)
}

/// The order that bought the item `item_id` becomes active once every service it bought is
/// active (`paid` or `processing` → `active`; a guarded update, so the last of several services
/// to finish moves it, once). Whether it moved.
pub async fn activate_if_provisioned(db: impl PgExecutor<'_>, item_id: i32) -> sqlx::Result<bool> {
    orders::activate_if_provisioned(db, item_id).await
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
        for &status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        assert!(crate::db::text_enum::spellings_match_serde(
            OrderStatus::ALL
        ));
        assert!(crate::db::text_enum::spellings_match_serde(
            orders::OrderKind::ALL
        ));
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
        for &from in OrderStatus::ALL {
            for &to in OrderStatus::ALL {
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
            .iter()
            .copied()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, vec![Active, Cancelled, Expired]);
    }
}
