//! Receipt images a customer attaches to a manual transfer, for the operator who reviews it.
//!
//! Receipts are evidence: once the payment leaves review they are frozen, and before that a new
//! image is added beside the earlier ones rather than over them, so the operator sees every
//! image the customer ever sent (a receipt swapped after approval was the audit's finding).

use super::MANUAL;
use super::{PaymentStatus, payments};
use crate::error::{AppError, AppResult};

/// The largest receipt image.
pub const MAX_RECEIPT_BYTES: usize = 2 * 1024 * 1024;

/// The most receipts one payment takes.
pub const MAX_PER_PAYMENT: i64 = 5;

/// Adds a receipt (already checked to be the image it claims) to a manual payment of the
/// customer `user_id` (`None`: whoever's) that is still awaiting review; its id.
pub async fn attach(
    db: &sqlx::PgPool,
    payment_id: i32,
    user_id: Option<i32>,
    content_type: &str,
    bytes: &[u8],
) -> AppResult<i32> {
    let mut tx = db.begin().await?;
    let payment = payments::find_for_update(&mut *tx, payment_id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    if let Some(user_id) = user_id
        && payments::find_for_user(&mut *tx, payment_id, user_id)
            .await?
            .is_none()
    {
        return Err(AppError::NotFound("payment"));
    }
    if payment.gateway != MANUAL {
        return Err(AppError::conflict(
            "payment",
            "only a manual transfer takes a receipt",
        ));
    }
    if !matches!(
        payment.status,
        PaymentStatus::Review | PaymentStatus::Pending
    ) {
        return Err(AppError::conflict(
            "payment",
            format!(
                "payment {} is {}: its receipts can no longer change",
                payment.id, payment.status
            ),
        ));
    }
    let held = payments::list_receipts(&mut *tx, payment.id).await?.len();
    if i64::try_from(held).unwrap_or(i64::MAX) >= MAX_PER_PAYMENT {
        return Err(AppError::conflict(
            "receipt",
            format!("a payment takes at most {MAX_PER_PAYMENT} receipts"),
        ));
    }
    let id = payments::add_receipt(&mut *tx, payment.id, content_type, bytes).await?;
    tx.commit().await?;
    tracing::info!(
        payment.id = payment.id,
        receipt.id = id,
        "receipt {id} added to payment {}",
        payment.id
    );
    Ok(id)
}
