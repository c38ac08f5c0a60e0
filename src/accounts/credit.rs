//! Account credit: an append-only ledger per account (`credit_entries`), the balance the newest
//! entry's `balance_after_pkr`, never negative. Every movement goes through [`record`], which
//! takes the account's row lock first, so concurrent movements of one account apply one after
//! the other and a spend the balance cannot cover is refused, not written.
//!
//! Who moves it: the operator's adjustments ([`adjust_by_operator`]), checkout and renewal
//! spending it on an order ([`spend_on_order`]) and an order ending unpaid giving it back
//! (`orders::transition`), over-payments and late payments (`payments::settle`), and refunds to
//! credit (`payments::refunds`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgExecutor};
use utoipa::ToSchema;

use super::users;
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::db::text_enum::text_enum;
use crate::db::timed;
use crate::error::{AppError, AppResult};

text_enum! {
    /// Why credit moved.
    pub enum CreditKind {
        /// An operator gave or took back credit, with a reason.
        Adjustment = "adjustment",
        /// A payment larger than its order, or one that arrived after the order ended.
        Overpayment = "overpayment",
        /// A refund paid into the account's credit.
        Refund = "refund",
        /// Credit spent on an order.
        Spent = "spent",
        /// Credit spent on an order that then ended unpaid, given back.
        Returned = "returned",
    }
}

/// One movement of an account's credit.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct CreditEntry {
    pub id: i64,
    pub user_id: i32,
    pub kind: CreditKind,
    /// Whole PKR: positive when credit is given, negative when spent or taken back.
    pub amount_pkr: i32,
    /// The balance after this movement, whole PKR (never negative).
    pub balance_after_pkr: i32,
    pub reason: String,
    pub order_id: Option<i32>,
    pub payment_id: Option<i32>,
    /// The invoice or credit note behind it (a refund's credit note).
    pub invoice_id: Option<i32>,
    /// The operator who made an adjustment (null for the shop's own movements).
    pub created_by: Option<i32>,
    pub created_at: DateTime<Utc>,
}

macro_rules! entry_columns {
    () => {
        "id, user_id, kind, amount_pkr, balance_after_pkr, reason, order_id, payment_id, \
         invoice_id, created_by, created_at"
    };
}

/// A movement to record.
#[derive(Clone, Debug)]
pub struct NewCreditEntry<'a> {
    pub user_id: i32,
    pub kind: CreditKind,
    pub amount_pkr: i32,
    pub reason: &'a str,
    pub order_id: Option<i32>,
    pub payment_id: Option<i32>,
    pub invoice_id: Option<i32>,
    pub created_by: Option<i32>,
}

/// The account's balance in whole PKR (0 with no entries).
pub async fn balance(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<i32> {
    let newest: Option<i32> = timed(
        "credit.balance",
        sqlx::query_scalar(
            "select balance_after_pkr from credit_entries where user_id = $1
             order by id desc limit 1",
        )
        .bind(user_id)
        .fetch_optional(db),
    )
    .await?;
    Ok(newest.unwrap_or(0))
}

/// The account's newest movements, newest first.
pub async fn entries(
    db: impl PgExecutor<'_>,
    user_id: i32,
    limit: i64,
) -> sqlx::Result<Vec<CreditEntry>> {
    timed(
        "credit.entries",
        sqlx::query_as(concat!(
            "select ",
            entry_columns!(),
            " from credit_entries where user_id = $1 order by id desc limit $2"
        ))
        .bind(user_id)
        .bind(limit)
        .fetch_all(db),
    )
    .await
}

/// Records a movement inside the caller's transaction: locks the account, reads its balance
/// and writes the entry with the balance after it. A movement that would take the balance
/// below zero is a 409 naming `amount_pkr`, and nothing is written.
pub async fn record(tx: &mut PgConnection, new: &NewCreditEntry<'_>) -> AppResult<CreditEntry> {
    users::find_for_update(&mut *tx, new.user_id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    let before = balance(&mut *tx, new.user_id).await?;
    let after = i64::from(before) + i64::from(new.amount_pkr);
    if after < 0 {
        return Err(AppError::conflict(
            "amount_pkr",
            format!(
                "the account's credit is {}: it cannot go below zero",
                crate::money::format_pkr(before)
            ),
        ));
    }
    let after = i32::try_from(after).map_err(|_| {
        AppError::conflict(
            "amount_pkr",
            "the balance would be more than an account can hold",
        )
    })?;
    let entry = timed(
        "credit.insert",
        sqlx::query_as(concat!(
            "insert into credit_entries (user_id, kind, amount_pkr, balance_after_pkr, reason,
                                         order_id, payment_id, created_by, invoice_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning ",
            entry_columns!()
        ))
        .bind(new.user_id)
        .bind(new.kind)
        .bind(new.amount_pkr)
        .bind(after)
        .bind(new.reason)
        .bind(new.order_id)
        .bind(new.payment_id)
        .bind(new.created_by)
        .bind(new.invoice_id)
        .fetch_one(&mut *tx),
    )
    .await?;
    Ok(entry)
}

/// Spends up to `at_most` of the account's credit on `order_id` (as much as the balance holds),
/// inside the caller's transaction; how much was spent (0 when there is no credit).
pub async fn spend_on_order(
    tx: &mut PgConnection,
    user_id: i32,
    order_id: i32,
    at_most: i32,
) -> AppResult<i32> {
    users::find_for_update(&mut *tx, user_id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    let amount = balance(&mut *tx, user_id).await?.min(at_most);
    if amount <= 0 {
        return Ok(0);
    }
    record(
        tx,
        &NewCreditEntry {
            user_id,
            kind: CreditKind::Spent,
            amount_pkr: -amount,
            reason: &format!("spent on order {order_id}"),
            order_id: Some(order_id),
            payment_id: None,
            invoice_id: None,
            created_by: None,
        },
    )
    .await?;
    Ok(amount)
}

/// Checks an operator's adjustment: a non-zero amount of at most Rs 10,000,000 either way and a
/// reason of 1 to 500 characters. A 400 names the field at fault.
pub fn check_adjustment(amount_pkr: i64, reason: &str) -> AppResult<(i32, String)> {
    const LIMIT: i64 = 10_000_000;
    if amount_pkr == 0 {
        return Err(AppError::bad_request("amount_pkr", "must not be zero"));
    }
    if !(-LIMIT..=LIMIT).contains(&amount_pkr) {
        return Err(AppError::bad_request(
            "amount_pkr",
            "must be between -10,000,000 and 10,000,000",
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::bad_request(
            "reason",
            "must be 1 to 500 characters",
        ));
    }
    Ok((amount_pkr as i32, reason.to_owned()))
}

/// The operator gives (positive) or takes back (negative) credit, with a reason. Audited.
pub async fn adjust_by_operator(
    state: &Context,
    actor: &Actor<'_>,
    user_id: i32,
    amount_pkr: i64,
    reason: &str,
) -> AppResult<CreditEntry> {
    let (amount_pkr, reason) = check_adjustment(amount_pkr, reason)?;
    let mut tx = state.db.begin().await?;
    let entry = record(
        &mut tx,
        &NewCreditEntry {
            user_id,
            kind: CreditKind::Adjustment,
            amount_pkr,
            reason: &reason,
            order_id: None,
            payment_id: None,
            invoice_id: None,
            created_by: Some(actor.user_id),
        },
    )
    .await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            after: Some(json!({
                "amount_pkr": entry.amount_pkr,
                "balance_after_pkr": entry.balance_after_pkr,
                "reason": entry.reason,
            })),
            ..actor.entry("credit.adjust", "user", Some(&user_id.to_string()))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_spelled_as_stored() {
        assert!(crate::db::text_enum::spellings_match_serde(CreditKind::ALL));
    }

    #[test]
    fn an_adjustment_needs_an_amount_and_a_reason() {
        assert!(check_adjustment(0, "x").is_err());
        assert!(check_adjustment(10_000_001, "x").is_err());
        assert!(check_adjustment(-10_000_001, "x").is_err());
        assert!(check_adjustment(500, "  ").is_err());
        assert!(check_adjustment(500, &"x".repeat(501)).is_err());
        assert_eq!(
            check_adjustment(-500, " goodwill ").unwrap(),
            (-500, "goodwill".to_owned())
        );
    }
}
