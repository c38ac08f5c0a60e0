//! Repository of `promo_codes`: discount codes, looked up whatever the case they are typed in,
//! and their usage counter, claimed atomically so a code is never used more than `max_uses`
//! times however many checkouts race for it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::text_enum::text_enum;
use crate::db::timed;

/// A promo code (a row of `promo_codes`). `discount_type` is `percentage` (`discount_value` is
/// 1–100) or `fixed_amount` (`discount_value` in whole PKR); `current_uses` is how many orders
/// have used it.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct PromoCode {
    pub id: i32,
    /// Upper case letters, digits, `-` or `_`; matched whatever the case it is typed in.
    pub code: String,
    pub discount_type: DiscountType,
    /// A percentage (1–100) or whole PKR, by `discount_type`.
    pub discount_value: i32,
    /// The smallest order subtotal it applies to, in whole PKR (null: 0).
    pub min_order_value: Option<i32>,
    /// The largest discount a percentage code gives, in whole PKR (null: no cap).
    pub max_discount_amount: Option<i32>,
    /// Valid from this instant (RFC 3339, UTC); null: at once.
    pub valid_from: Option<DateTime<Utc>>,
    /// Valid until this instant (RFC 3339, UTC); null: no end.
    pub valid_until: Option<DateTime<Utc>>,
    /// Whether it can be used (null: true).
    pub is_active: Option<bool>,
    /// How many orders may use it (null: no limit).
    pub max_uses: Option<i32>,
    /// How many orders have used it (null: 0).
    pub current_uses: Option<i32>,
    /// RFC 3339, UTC.
    pub created_at: Option<DateTime<Utc>>,
    /// RFC 3339, UTC.
    pub updated_at: Option<DateTime<Utc>>,
}

text_enum! {
    /// How a promo code discounts: a percentage of the subtotal, or a fixed amount of PKR.
    pub enum DiscountType {
        Percentage = "percentage",
        FixedAmount = "fixed_amount",
    }
}

impl PromoCode {
    /// Active unless switched off (the column defaults to on).
    pub fn is_active(&self) -> bool {
        self.is_active.unwrap_or(true)
    }

    /// How many times it has been used.
    pub fn current_uses(&self) -> i32 {
        self.current_uses.unwrap_or(0)
    }

    /// The smallest order total it applies to.
    pub fn min_order_value(&self) -> i32 {
        self.min_order_value.unwrap_or(0)
    }
}

/// A promo code's editable fields (for both creating and updating one).
#[derive(Clone, Debug)]
pub struct PromoCodeFields<'a> {
    pub code: &'a str,
    pub discount_type: DiscountType,
    pub discount_value: i32,
    pub min_order_value: i32,
    pub max_discount_amount: Option<i32>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub is_active: bool,
    pub max_uses: Option<i32>,
}

/// The columns of [`PromoCode`], for `concat!` into each statement.
macro_rules! promo_code_columns {
    () => {
        "id, code, discount_type, discount_value, min_order_value, max_discount_amount, \
         valid_from, valid_until, is_active, max_uses, current_uses, created_at, updated_at"
    };
}

/// Creates a code, unused; the database refuses a code equal to another but for case.
pub async fn insert(
    db: impl PgExecutor<'_>,
    fields: &PromoCodeFields<'_>,
) -> sqlx::Result<PromoCode> {
    timed(
        "promo_codes.insert",
        sqlx::query_as(concat!(
            "insert into promo_codes (code, discount_type, discount_value, min_order_value,
                                      max_discount_amount, valid_from, valid_until, is_active,
                                      max_uses)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning ",
            promo_code_columns!()
        ))
        .bind(fields.code)
        .bind(fields.discount_type)
        .bind(fields.discount_value)
        .bind(fields.min_order_value)
        .bind(fields.max_discount_amount)
        .bind(fields.valid_from)
        .bind(fields.valid_until)
        .bind(fields.is_active)
        .bind(fields.max_uses)
        .fetch_one(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<PromoCode>> {
    timed(
        "promo_codes.find",
        sqlx::query_as(concat!(
            "select ",
            promo_code_columns!(),
            " from promo_codes where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// Looks a code up as the customer typed it: `save10` finds `SAVE10`.
pub async fn find_by_code(db: impl PgExecutor<'_>, code: &str) -> sqlx::Result<Option<PromoCode>> {
    timed(
        "promo_codes.find_by_code",
        sqlx::query_as(concat!(
            "select ",
            promo_code_columns!(),
            " from promo_codes where upper(code) = upper($1)"
        ))
        .bind(code)
        .fetch_optional(db),
    )
    .await
}

/// Every code with its usage count, newest first.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<PromoCode>> {
    timed(
        "promo_codes.list",
        sqlx::query_as(concat!(
            "select ",
            promo_code_columns!(),
            " from promo_codes order by created_at desc, id desc"
        ))
        .fetch_all(db),
    )
    .await
}

/// Replaces every editable field; the usage count is kept (and the database refuses a
/// `max_uses` below it).
pub async fn update(
    db: impl PgExecutor<'_>,
    id: i32,
    fields: &PromoCodeFields<'_>,
) -> sqlx::Result<Option<PromoCode>> {
    timed(
        "promo_codes.update",
        sqlx::query_as(concat!(
            "update promo_codes
             set code = $2, discount_type = $3, discount_value = $4, min_order_value = $5,
                 max_discount_amount = $6, valid_from = $7, valid_until = $8, is_active = $9,
                 max_uses = $10
             where id = $1 returning ",
            promo_code_columns!()
        ))
        .bind(id)
        .bind(fields.code)
        .bind(fields.discount_type)
        .bind(fields.discount_value)
        .bind(fields.min_order_value)
        .bind(fields.max_discount_amount)
        .bind(fields.valid_from)
        .bind(fields.valid_until)
        .bind(fields.is_active)
        .bind(fields.max_uses)
        .fetch_optional(db),
    )
    .await
}

/// Deletes a code (orders keep the code's text they were placed with).
pub async fn delete(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<bool> {
    let done = timed(
        "promo_codes.delete",
        sqlx::query("delete from promo_codes where id = $1")
            .bind(id)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts one use of the code, in one statement: false when it has no uses left (or does not
/// exist). Concurrent claims serialise on the row, so exactly `max_uses` of them succeed.
/// Whether the code is active and valid today is the caller's to check.
pub async fn claim_use(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<bool> {
    let claimed: Option<i32> = timed(
        "promo_codes.claim_use",
        sqlx::query_scalar(
            "update promo_codes set current_uses = coalesce(current_uses, 0) + 1
             where id = $1 and (max_uses is null or coalesce(current_uses, 0) < max_uses)
             returning current_uses",
        )
        .bind(id)
        .fetch_optional(db),
    )
    .await?;
    Ok(claimed.is_some())
}

/// Gives back a use claimed by an order that did not go through; false when the count is
/// already zero (it never goes below).
pub async fn release_use(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<bool> {
    let done = timed(
        "promo_codes.release_use",
        sqlx::query(
            "update promo_codes set current_uses = current_uses - 1
             where id = $1 and coalesce(current_uses, 0) > 0",
        )
        .bind(id)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A code by id, locked until the transaction ends (checkout re-checks it under the lock).
pub async fn find_for_update(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<PromoCode>> {
    timed(
        "promo_codes.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            promo_code_columns!(),
            " from promo_codes where id = $1 for update"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}
