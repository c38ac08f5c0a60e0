//! Sales tax on services, in whole rupees. Pakistan's provinces tax IT services at their own
//! rates (Sindh 13 %, Punjab 16 %, Khyber Pakhtunkhwa and Balochistan 15 %, Islamabad 16 % at
//! the time of writing), so a rate is a number of basis points (1 300 = 13 %) the shop reads
//! from its tax table for the buyer's province. The shop shows its prices either with the tax
//! in them ([`TaxMode::Inclusive`]) or before it ([`TaxMode::Exclusive`]); a seller not
//! registered for sales tax charges none ([`TaxMode::Off`]).
//!
//! The rounding rule, the same everywhere: the tax is computed on the value excluding tax and
//! rounded to the nearest whole rupee, half a rupee up. With prices including tax, the value
//! excluding tax is the price divided by (1 + rate), rounded the same way, and the tax is the
//! rest — so the value, the tax and the total always add up exactly.

use crate::db::text_enum::text_enum;

text_enum! {
    /// How the shop's prices relate to the tax.
    pub enum TaxMode {
        /// No sales tax (a seller not registered for it): the document is a plain invoice.
        Off = "off",
        /// Prices include the tax: the customer pays the price; the tax is part of it.
        Inclusive = "inclusive",
        /// Prices are before tax: the customer pays the price plus the tax.
        Exclusive = "exclusive",
    }
}

/// An amount split into the value excluding tax, the tax and the total, whole PKR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaxSplit {
    /// The value excluding tax (the taxable value).
    pub net_pkr: i64,
    pub tax_pkr: i64,
    /// What the customer pays: `net_pkr + tax_pkr`.
    pub gross_pkr: i64,
}

/// Basis points in a whole: a rate of 10 000 would be 100 %.
const WHOLE: i64 = 10_000;

/// `numerator / denominator` rounded to the nearest integer, half up (both non-negative, the
/// denominator positive).
fn div_round_half_up(numerator: i64, denominator: i64) -> i64 {
    (2 * numerator + denominator) / (2 * denominator)
}

/// Splits `amount_pkr` — a price as the shop shows it, after any discount — at `rate_bp`
/// basis points under `mode`. A negative amount is treated as zero.
pub fn split(amount_pkr: i64, rate_bp: u32, mode: TaxMode) -> TaxSplit {
    let amount = amount_pkr.max(0);
    let rate = i64::from(rate_bp);
    match mode {
        TaxMode::Off => TaxSplit {
            net_pkr: amount,
            tax_pkr: 0,
            gross_pkr: amount,
        },
        TaxMode::Exclusive => {
            let tax = div_round_half_up(amount * rate, WHOLE);
            TaxSplit {
                net_pkr: amount,
                tax_pkr: tax,
                gross_pkr: amount + tax,
            }
        }
        TaxMode::Inclusive => {
            let net = div_round_half_up(amount * WHOLE, WHOLE + rate);
            TaxSplit {
                net_pkr: net,
                tax_pkr: amount - net,
                gross_pkr: amount,
            }
        }
    }
}

/// A rate in basis points as people write it: `1300` → `13%`, `1650` → `16.5%`.
pub fn rate_label(rate_bp: u32) -> String {
    let (whole, rest) = (rate_bp / 100, rate_bp % 100);
    match rest {
        0 => format!("{whole}%"),
        r if r % 10 == 0 => format!("{whole}.{}%", r / 10),
        r => format!("{whole}.{r:02}%"),
    }
}

#[cfg(test)]
mod tests {
    use super::TaxMode::*;
    use super::*;

    /// (province, rate, amount, mode) → (value excluding tax, tax, total).
    type Case = (&'static str, u32, i64, TaxMode, (i64, i64, i64));
    const CASES: &[Case] = &[
        // The provinces' rates on the plans' prices, both settings.
        ("Sindh", 1300, 4500, Exclusive, (4500, 585, 5085)),
        ("Sindh", 1300, 4500, Inclusive, (3982, 518, 4500)),
        ("Punjab", 1600, 4500, Exclusive, (4500, 720, 5220)),
        ("Punjab", 1600, 4500, Inclusive, (3879, 621, 4500)),
        (
            "Khyber Pakhtunkhwa",
            1500,
            1200,
            Exclusive,
            (1200, 180, 1380),
        ),
        (
            "Khyber Pakhtunkhwa",
            1500,
            1200,
            Inclusive,
            (1043, 157, 1200),
        ),
        (
            "Balochistan",
            1500,
            13_500,
            Inclusive,
            (11_739, 1761, 13_500),
        ),
        ("Islamabad", 1600, 54_000, Exclusive, (54_000, 8640, 62_640)),
        // Rounding edges: half a rupee goes up, less goes down.
        ("Sindh", 1300, 50, Exclusive, (50, 7, 57)),
        ("Sindh", 1300, 150, Exclusive, (150, 20, 170)),
        ("Sindh", 1300, 3, Exclusive, (3, 0, 3)),
        ("Sindh", 1300, 4, Exclusive, (4, 1, 5)),
        ("Punjab", 1600, 1, Exclusive, (1, 0, 1)),
        ("Punjab", 1600, 3, Exclusive, (3, 0, 3)),
        ("Punjab", 1600, 4, Exclusive, (4, 1, 5)),
        ("Punjab", 1600, 58, Inclusive, (50, 8, 58)),
        ("Punjab", 1600, 1, Inclusive, (1, 0, 1)),
        ("Sindh", 1300, 4, Inclusive, (4, 0, 4)),
        ("Sindh", 1300, 5, Inclusive, (4, 1, 5)),
        // A free order, no tax at all, and a zero rate.
        ("Sindh", 1300, 0, Exclusive, (0, 0, 0)),
        ("Sindh", 1300, 0, Inclusive, (0, 0, 0)),
        ("Sindh", 1300, 4500, Off, (4500, 0, 4500)),
        ("none", 0, 4500, Exclusive, (4500, 0, 4500)),
        ("none", 0, 4500, Inclusive, (4500, 0, 4500)),
    ];

    #[test]
    fn tax_per_province_and_setting_in_whole_rupees() {
        for &(province, rate, amount, mode, (net, tax, gross)) in CASES {
            assert_eq!(
                split(amount, rate, mode),
                TaxSplit {
                    net_pkr: net,
                    tax_pkr: tax,
                    gross_pkr: gross
                },
                "{province} {} on Rs {amount}, {mode:?}",
                rate_label(rate)
            );
        }
    }

    #[test]
    fn the_parts_always_add_up_and_inclusive_matches_exclusive_on_the_net() {
        for rate in [0, 1300, 1500, 1600, 1650, 2500] {
            for amount in 0..5_000 {
                for mode in [Off, Inclusive, Exclusive] {
                    let s = split(amount, rate, mode);
                    assert_eq!(
                        s.net_pkr + s.tax_pkr,
                        s.gross_pkr,
                        "{rate} {amount} {mode:?}"
                    );
                    assert!(s.tax_pkr >= 0 && s.net_pkr >= 0);
                }
                // Charging the net of an inclusive price exclusively gives the price back
                // within a rupee (the two roundings can meet half-way).
                let inclusive = split(amount, rate, Inclusive);
                let again = split(inclusive.net_pkr, rate, Exclusive);
                assert!((again.gross_pkr - amount).abs() <= 1, "{rate} {amount}");
            }
        }
    }

    #[test]
    fn settings_and_rates_are_spelled_as_people_write_them() {
        assert_eq!(TaxMode::parse("inclusive"), Some(Inclusive));
        assert_eq!(TaxMode::parse("exclusive"), Some(Exclusive));
        assert_eq!(TaxMode::parse("off"), Some(Off));
        assert!("vat".parse::<TaxMode>().is_err());
        assert!(crate::db::text_enum::spellings_match_serde(TaxMode::ALL));
        assert_eq!(rate_label(1300), "13%");
        assert_eq!(rate_label(1650), "16.5%");
        assert_eq!(rate_label(1625), "16.25%");
        assert_eq!(rate_label(0), "0%");
    }
}
