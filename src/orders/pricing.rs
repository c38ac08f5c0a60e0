//! Pricing: what a cart costs and what a promo code takes off. Pure functions, no database, so
//! every rule is unit-tested on its own.
//!
//! Rules (all amounts are whole rupees, never floating point):
//! - a line costs `monthly price × months × quantity`; the subtotal is the sum of the lines;
//! - a percentage discount is `subtotal × percent / 100` rounded **down** to the rupee (the
//!   shop never gives more than the advertised percentage), then capped by
//!   `max_discount_amount`;
//! - a fixed discount is its amount, capped by `max_discount_amount`;
//! - a discount never exceeds the subtotal, so the total is never below 0;
//! - a code applies only when active, inside `[valid_from, valid_until)`, not used up, and the
//!   subtotal is at least `min_order_value`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::promo_codes::{DiscountType, PromoCode};

/// The months a plan can be bought for.
pub const VALIDITY_MONTHS: [i32; 4] = [1, 3, 6, 12];
/// The most units of one line.
pub const MAX_QUANTITY: i32 = 10;

/// One line of a cart or order.
#[derive(Clone, Copy, Debug)]
pub struct Line {
    pub monthly_price_pkr: i32,
    pub months: i32,
    pub quantity: i32,
}

impl Line {
    pub fn total(self) -> i64 {
        i64::from(self.monthly_price_pkr) * i64::from(self.months) * i64::from(self.quantity)
    }
}

/// An amount an order can hold (its columns are `integer` rupees), or `None` when it is too
/// large: checkout refuses such a cart, a renewal refuses to raise such an order.
pub fn order_amount(total: i64) -> Option<i32> {
    i32::try_from(total).ok().filter(|amount| *amount >= 0)
}

/// The sum of the lines.
pub fn subtotal(lines: &[Line]) -> i64 {
    lines.iter().map(|line| line.total()).sum()
}

/// Why a promo code does not apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum PromoRejection {
    Unknown,
    Inactive,
    NotYetValid { valid_from: DateTime<Utc> },
    Expired { valid_until: DateTime<Utc> },
    UsedUp,
    BelowMinimum { min_order_value_pkr: i32 },
}

impl std::fmt::Display for PromoRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown => f.write_str("this promo code does not exist"),
            Self::Inactive => f.write_str("this promo code is no longer active"),
            Self::NotYetValid { .. } => f.write_str("this promo code is not valid yet"),
            Self::Expired { .. } => f.write_str("this promo code has expired"),
            Self::UsedUp => f.write_str("this promo code has been used up"),
            Self::BelowMinimum {
                min_order_value_pkr,
            } => write!(
                f,
                "this promo code needs an order of at least {}",
                crate::money::format_pkr(*min_order_value_pkr)
            ),
        }
    }
}

/// The discount `promo` gives on `subtotal` at `now`, or why it does not apply.
pub fn discount(
    subtotal: i64,
    promo: &PromoCode,
    now: DateTime<Utc>,
) -> Result<i64, PromoRejection> {
    if !promo.is_active() {
        return Err(PromoRejection::Inactive);
    }
    if let Some(valid_from) = promo.valid_from
        && now < valid_from
    {
        return Err(PromoRejection::NotYetValid { valid_from });
    }
    if let Some(valid_until) = promo.valid_until
        && now >= valid_until
    {
        return Err(PromoRejection::Expired { valid_until });
    }
    if promo
        .max_uses
        .is_some_and(|max| promo.current_uses() >= max)
    {
        return Err(PromoRejection::UsedUp);
    }
    if subtotal < i64::from(promo.min_order_value()) {
        return Err(PromoRejection::BelowMinimum {
            min_order_value_pkr: promo.min_order_value(),
        });
    }
    let raw = match promo.discount_type {
        DiscountType::Percentage => subtotal * i64::from(promo.discount_value.clamp(0, 100)) / 100,
        DiscountType::FixedAmount => i64::from(promo.discount_value.max(0)),
    };
    let capped = match promo.max_discount_amount {
        Some(cap) => raw.min(i64::from(cap.max(0))),
        None => raw,
    };
    Ok(capped.clamp(0, subtotal.max(0)))
}

/// A priced cart or order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub subtotal_pkr: i64,
    pub discount_pkr: i64,
    pub total_pkr: i64,
}

/// Prices the lines with an optional promo; a promo that does not apply gives no discount and
/// its reason.
pub fn price(
    lines: &[Line],
    promo: Option<&PromoCode>,
    now: DateTime<Utc>,
) -> (Totals, Option<PromoRejection>) {
    let subtotal = subtotal(lines);
    let (discount, rejection) = match promo.map(|p| discount(subtotal, p, now)) {
        None => (0, None),
        Some(Ok(amount)) => (amount, None),
        Some(Err(why)) => (0, Some(why)),
    };
    (
        Totals {
            subtotal_pkr: subtotal,
            discount_pkr: discount,
            total_pkr: subtotal - discount,
        },
        rejection,
    )
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn promo(kind: &str, value: i32) -> PromoCode {
        PromoCode {
            id: 1,
            code: "SAVE".into(),
            discount_type: kind.parse().unwrap(),
            discount_value: value,
            min_order_value: Some(0),
            max_discount_amount: None,
            valid_from: None,
            valid_until: None,
            is_active: Some(true),
            max_uses: None,
            current_uses: Some(0),
            created_at: None,
            updated_at: None,
        }
    }

    const fn line(price: i32, months: i32, quantity: i32) -> Line {
        Line {
            monthly_price_pkr: price,
            months,
            quantity,
        }
    }

    #[test]
    fn the_subtotal_is_price_times_months_times_quantity() {
        assert_eq!(
            subtotal(&[line(2500, 3, 2), line(1200, 1, 1)]),
            2500 * 3 * 2 + 1200
        );
        assert_eq!(subtotal(&[]), 0);
    }

    #[test]
    fn percentages_round_down_to_the_rupee() {
        assert_eq!(discount(999, &promo("percentage", 10), Utc::now()), Ok(99));
        assert_eq!(
            discount(2500, &promo("percentage", 15), Utc::now()),
            Ok(375)
        );
    }

    #[test]
    fn the_cap_limits_the_discount() {
        let mut p = promo("percentage", 50);
        p.max_discount_amount = Some(1000);
        assert_eq!(discount(10_000, &p, Utc::now()), Ok(1000));
        assert_eq!(discount(1500, &p, Utc::now()), Ok(750));
        let mut fixed = promo("fixed_amount", 5000);
        fixed.max_discount_amount = Some(3000);
        assert_eq!(discount(10_000, &fixed, Utc::now()), Ok(3000));
    }

    #[test]
    fn a_discount_never_takes_the_total_below_zero() {
        assert_eq!(
            discount(800, &promo("fixed_amount", 1000), Utc::now()),
            Ok(800)
        );
        let (totals, _) = price(
            &[line(800, 1, 1)],
            Some(&promo("fixed_amount", 1000)),
            Utc::now(),
        );
        assert_eq!(totals.total_pkr, 0);
    }

    #[test]
    fn one_hundred_percent_off_makes_it_free() {
        let (totals, why) = price(
            &[line(4500, 12, 3)],
            Some(&promo("percentage", 100)),
            Utc::now(),
        );
        assert_eq!(why, None);
        assert_eq!((totals.discount_pkr, totals.total_pkr), (4500 * 36, 0));
    }

    #[test]
    fn the_minimum_order_value_is_inclusive() {
        let mut p = promo("fixed_amount", 500);
        p.min_order_value = Some(5000);
        assert_eq!(discount(5000, &p, Utc::now()), Ok(500));
        assert_eq!(
            discount(4999, &p, Utc::now()),
            Err(PromoRejection::BelowMinimum {
                min_order_value_pkr: 5000
            })
        );
    }

    #[test]
    fn the_validity_window_starts_inclusive_and_ends_exclusive() {
        let now = Utc::now();
        let mut p = promo("percentage", 10);
        p.valid_from = Some(now);
        p.valid_until = Some(now + Duration::hours(1));
        assert_eq!(discount(1000, &p, now), Ok(100));
        assert_eq!(
            discount(1000, &p, now - Duration::seconds(1)),
            Err(PromoRejection::NotYetValid { valid_from: now })
        );
        assert_eq!(
            discount(1000, &p, now + Duration::hours(1)),
            Err(PromoRejection::Expired {
                valid_until: now + Duration::hours(1)
            })
        );
        assert_eq!(discount(1000, &p, now + Duration::minutes(59)), Ok(100));
    }

    #[test]
    fn inactive_and_used_up_codes_say_so() {
        let mut p = promo("percentage", 10);
        p.is_active = Some(false);
        assert_eq!(
            discount(1000, &p, Utc::now()),
            Err(PromoRejection::Inactive)
        );
        let mut p = promo("percentage", 10);
        p.max_uses = Some(5);
        p.current_uses = Some(5);
        assert_eq!(discount(1000, &p, Utc::now()), Err(PromoRejection::UsedUp));
        p.current_uses = Some(4);
        assert_eq!(discount(1000, &p, Utc::now()), Ok(100));
    }

    #[test]
    fn a_rejected_code_gives_no_discount_and_its_reason() {
        let mut p = promo("percentage", 10);
        p.is_active = Some(false);
        let (totals, why) = price(&[line(1000, 1, 1)], Some(&p), Utc::now());
        assert_eq!(
            totals,
            Totals {
                subtotal_pkr: 1000,
                discount_pkr: 0,
                total_pkr: 1000
            }
        );
        assert_eq!(why, Some(PromoRejection::Inactive));
        assert_eq!(
            why.unwrap().to_string(),
            "this promo code is no longer active"
        );
    }
}
