//! Checkout and the unpaid order's end: placing an order from the cart in one transaction,
//! cancelling it, and expiring it when it stays unpaid. Each is one guarded transaction.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::items::{self, NewOrderItem};
use super::orders::{self, NewOrder, Order};
use super::{OrderStatus, carts, idempotency, promo_codes};
use crate::accounts::billing::{self, Province};
use crate::accounts::ssh_keys;
use crate::accounts::users::User;
use crate::audit::{self, Actor, NewAuditEntry};
use crate::error::{AppError, AppResult};

/// The outcome of a checkout request.
pub struct Placed {
    pub order: Order,
    /// False when an earlier request with the same Idempotency-Key created this order.
    pub created: bool,
}

/// Checks an `Idempotency-Key`: 1 to 200 visible ASCII characters.
pub fn parse_idempotency_key(key: &str) -> AppResult<&str> {
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::bad_request(
            "Idempotency-Key",
            "must be 1 to 200 visible ASCII characters, e.g. a UUID",
        ));
    }
    Ok(key)
}

/// What a checkout asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckoutInput<'a> {
    /// Names this checkout, so a retry cannot place a second order.
    pub idempotency_key: Option<&'a str>,
    pub notes: Option<&'a str>,
    /// Spend the account's credit on the order (as much as it holds, up to the amount).
    pub use_credit: bool,
    /// The buyer's province, for sales tax (kept in their billing profile); without it, the
    /// profile's. Required when the shop charges sales tax and the profile has none.
    pub province: Option<Province>,
}

/// Places an order from the customer's cart, in the caller's transaction: claims the
/// idempotency key, locks the cart, re-prices it from the catalog, claims a use of its promo
/// code (never more than `max_uses`, whatever the concurrency), writes the order and its items,
/// spends the account's credit on it when asked, empties the cart. Refuses more servers than a
/// location's backend can build. Anything wrong rolls all of it back. (`payments::pay::checkout`
/// opens the transaction and settles an order the credit paid in full.)
pub async fn place_order_in(
    tx: &mut sqlx::PgConnection,
    user: &User,
    input: &CheckoutInput<'_>,
    ip_hold_days: u32,
) -> AppResult<Placed> {
    if !user.is_verified() {
        return Err(AppError::Forbidden(
            "verify your e-mail address before checking out; we sent you a link".into(),
        ));
    }
    let (idempotency_key, notes) = (input.idempotency_key, input.notes);
    if let Some(key) = idempotency_key
        && !idempotency::claim(&mut *tx, user.id, key).await?
    {
        let order_id = idempotency::find_order(&mut *tx, user.id, key).await?;
        let order = match order_id {
            Some(id) => orders::find(&mut *tx, id).await?,
            None => None,
        };
        return match order {
            Some(order) => Ok(Placed {
                order,
                created: false,
            }),
            None => Err(AppError::conflict(
                "Idempotency-Key",
                "this key was already used",
            )),
        };
    }

    let cart = carts::find_for_user_for_update(&mut *tx, user.id)
        .await?
        .ok_or_else(|| AppError::invalid("cart", "your cart is empty"))?;
    let lines = carts::list_lines(&mut *tx, cart.id).await?;
    let promo = match cart.promo_code_id {
        Some(id) => promo_codes::find_for_update(&mut *tx, id).await?,
        None => None,
    };
    let view = super::cart::price(&lines, promo.as_ref());
    if lines.is_empty() {
        return Err(AppError::invalid("cart", "your cart is empty"));
    }
    if let Some(problem) = view.problems.first() {
        return Err(AppError::conflict("cart", problem.clone()));
    }
    // A location with an automated backend sells only what its IP pool can still build.
    let mut per_location: std::collections::BTreeMap<i32, i32> = Default::default();
    for line in &lines {
        *per_location.entry(line.location_id).or_default() += line.quantity;
    }
    for (location, quantity) in per_location {
        super::cart::check_capacity(&mut *tx, location, quantity, ip_hold_days).await?;
    }
    if let Some(promo_view) = &view.promo
        && let Some(problem) = &promo_view.problem
    {
        return Err(AppError::conflict(
            "promo_code",
            format!("{problem}; remove it or use another"),
        ));
    }
    if let Some(promo) = &promo
        && !promo_codes::claim_use(&mut *tx, promo.id).await?
    {
        return Err(AppError::conflict(
            "promo_code",
            "this promo code has just been used up",
        ));
    }
    let to_i32 = |amount: i64| {
        i32::try_from(amount).map_err(|_| AppError::invalid("cart", "the order is too large"))
    };
    let order = orders::insert(
        &mut *tx,
        &NewOrder {
            user_id: user.id,
            total_amount_pkr: to_i32(view.subtotal_pkr)?,
            discount_amount_pkr: to_i32(view.discount_pkr)?,
            final_amount_pkr: to_i32(view.total_pkr)?,
            promo_code: promo.as_ref().map(|p| p.code.as_str()),
            promo_code_id: promo.as_ref().map(|p| p.id),
            payment_method: None,
            notes: notes.map(str::trim).filter(|n| !n.is_empty()),
        },
    )
    .await?;
    for line in &lines {
        // The keys as they are now: deleting one later does not change what was bought.
        let keys = ssh_keys::find_many(&mut *tx, user.id, &line.ssh_key_ids, "cart").await?;
        let keys = keys
            .iter()
            .map(|k| k.public_key.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        items::insert(
            &mut *tx,
            &NewOrderItem {
                order_id: order.id,
                plan_id: &line.plan_id,
                location_id: line.location_id,
                quantity: line.quantity,
                price_at_order_pkr: line.price_pkr,
                validity_months: line.validity_months,
                os_template_id: line.os_template_id,
                os_template_name: line.os_template_name.as_deref(),
                ssh_keys: Some(keys.as_str()).filter(|k| !k.is_empty()),
            },
        )
        .await?;
    }
    let province = match input.province {
        Some(province) => {
            billing::set_province(&mut *tx, user.id, province).await?;
            Some(province)
        }
        None => billing::find(&mut *tx, user.id).await?.province,
    };
    let settings = super::billing::settings(&mut *tx).await?;
    if province.is_none() && settings.tax_mode != super::tax::TaxMode::Off {
        return Err(AppError::invalid(
            "province",
            format!(
                "choose the province you are in ({}): sales tax depends on it",
                Province::spellings()
            ),
        ));
    }
    let order = super::billing::apply_tax(&mut *tx, &settings, order, province).await?;
    let order = if input.use_credit {
        super::apply_credit(&mut *tx, order).await?
    } else {
        order
    };
    carts::clear(&mut *tx, cart.id).await?;
    if let Some(key) = idempotency_key {
        idempotency::set_order(&mut *tx, user.id, key, order.id).await?;
    }
    tracing::info!(
        order.id = order.id,
        user.id = user.id,
        "placed order {} for Rs {}",
        order.id,
        order.final_amount_pkr
    );
    Ok(Placed {
        order,
        created: true,
    })
}

/// Why an order cannot be cancelled or expired: it is no longer waiting for payment.
fn not_pending(order: &Order) -> AppError {
    AppError::conflict(
        "status",
        format!(
            "order {} is {}; only an order awaiting payment can be cancelled",
            order.id, order.status
        ),
    )
}

/// Ends an unpaid order (`cancelled` or `expired`) and gives back its promo code use, in one
/// transaction that re-reads the order under lock. `owner`: only that customer's order (else
/// 404); `None` for operators and the expiry job.
pub async fn end_unpaid(
    db: &PgPool,
    order_id: i32,
    owner: Option<i32>,
    to: OrderStatus,
) -> AppResult<Order> {
    let mut tx = db.begin().await?;
    let order = end_unpaid_in(&mut tx, order_id, owner, to).await?;
    tx.commit().await?;
    tracing::info!(
        order.id = order.id,
        "order {} is now {}",
        order.id,
        order.status
    );
    Ok(order)
}

/// An operator cancels an unpaid order, in the audit log (one transaction).
pub async fn cancel_by_operator(db: &PgPool, actor: &Actor<'_>, order_id: i32) -> AppResult<Order> {
    let mut tx = db.begin().await?;
    let order = end_unpaid_in(&mut tx, order_id, None, OrderStatus::Cancelled).await?;
    let entity = order_id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(serde_json::json!({ "status": OrderStatus::PendingPayment })),
            after: Some(serde_json::json!({ "status": order.status })),
            ..actor.entry("order.cancel", "order", Some(&entity))
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        order.id = order.id,
        admin.id = actor.user_id,
        "order {order_id} cancelled"
    );
    Ok(order)
}

/// The longest order note, the customer's at checkout or the operator's.
pub const MAX_NOTES: usize = 1000;

/// An operator sets the order's notes (empty clears them), in any status; audited as
/// `order.notes` with the notes before and after. 422 naming `notes` past [`MAX_NOTES`]
/// characters.
pub async fn set_notes_by_operator(
    db: &PgPool,
    actor: &Actor<'_>,
    order_id: i32,
    notes: &str,
) -> AppResult<Order> {
    let notes = notes.trim();
    if notes.chars().count() > MAX_NOTES {
        return Err(AppError::invalid(
            "notes",
            format!("must be at most {MAX_NOTES} characters"),
        ));
    }
    let notes = Some(notes).filter(|n| !n.is_empty());
    let mut tx = db.begin().await?;
    let before = orders::find_for_update(&mut *tx, order_id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    orders::set_notes(&mut *tx, order_id, notes).await?;
    let entity = order_id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(serde_json::json!({ "notes": before.notes })),
            after: Some(serde_json::json!({ "notes": notes })),
            ..actor.entry("order.notes", "order", Some(&entity))
        },
    )
    .await?;
    let order = orders::find(&mut *tx, order_id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    tx.commit().await?;
    Ok(order)
}

/// [`end_unpaid`] inside the caller's transaction.
async fn end_unpaid_in(
    tx: &mut sqlx::PgConnection,
    order_id: i32,
    owner: Option<i32>,
    to: OrderStatus,
) -> AppResult<Order> {
    let order = orders::find_for_update(&mut *tx, order_id)
        .await?
        .filter(|o| owner.is_none() || o.user_id == owner)
        .ok_or(AppError::NotFound("order"))?;
    if order.status != OrderStatus::PendingPayment {
        return Err(not_pending(&order));
    }
    super::transition(&mut *tx, order.id, OrderStatus::PendingPayment, to).await?;
    if let Some(promo_id) = order.promo_code_id {
        promo_codes::release_use(&mut *tx, promo_id).await?;
    }
    let order = orders::find(&mut *tx, order.id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    Ok(order)
}

/// When an order placed at `created_at` expires unpaid.
pub fn pay_before(created_at: DateTime<Utc>, expiry: Duration) -> DateTime<Utc> {
    created_at + expiry
}

/// Expires every order unpaid for longer than `expiry` (the periodic job), 100 at a time, each
/// in its own transaction, progress logged after each batch; returns how many.
pub async fn expire_unpaid(db: &PgPool, expiry: Duration) -> anyhow::Result<usize> {
    let mut expired = 0;
    loop {
        let batch = orders::list_expired_unpaid(db, Utc::now() - expiry, 100).await?;
        if batch.is_empty() {
            return Ok(expired);
        }
        for order in batch {
            match end_unpaid(db, order.id, None, OrderStatus::Expired).await {
                Ok(_) => expired += 1,
                // Paid or cancelled meanwhile: nothing to expire.
                Err(AppError::Conflict { .. }) => {}
                Err(err) => return Err(anyhow::anyhow!("expiring order {}: {err}", order.id)),
            }
        }
        tracing::info!(expired, "order expiry: batch done");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_visible_ascii_of_sane_length() {
        assert!(parse_idempotency_key("6f1c2a1e-8b1f-4c55-9a4f-3d2b5c7e9a10").is_ok());
        assert!(parse_idempotency_key("").is_err());
        assert!(parse_idempotency_key("has space").is_err());
        assert!(parse_idempotency_key(&"k".repeat(201)).is_err());
    }
}
