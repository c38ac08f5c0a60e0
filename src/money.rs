//! Money: every amount the shop handles is whole Pakistani rupees. [`Pkr`] is such an amount
//! with the one way the shop prints it (`Rs 12,500`); columns stay `integer`/`bigint` rupees.

use std::fmt;

/// An amount in whole rupees (negative for a refund or a discount shown as such).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pkr(pub i64);

impl Pkr {
    pub fn rupees(self) -> i64 {
        self.0
    }
}

impl From<i32> for Pkr {
    fn from(rupees: i32) -> Self {
        Self(i64::from(rupees))
    }
}

impl From<i64> for Pkr {
    fn from(rupees: i64) -> Self {
        Self(rupees)
    }
}

/// The way Pakistani shops print rupees: `Rs 12,500`.
impl fmt::Display for Pkr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rs {}", group_thousands(self.0))
    }
}

/// A number with its thousands grouped by commas, as the pages print counts: `1,234,567`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `amount` rupees as the shop prints them (`Rs 12,500`); takes `i32` columns and `i64` sums.
pub fn format_pkr(amount: impl Into<Pkr>) -> String {
    amount.into().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rupees_are_grouped_by_thousands() {
        assert_eq!(format_pkr(0i64), "Rs 0");
        assert_eq!(format_pkr(999), "Rs 999");
        assert_eq!(format_pkr(2500), "Rs 2,500");
        assert_eq!(format_pkr(1_234_567i64), "Rs 1,234,567");
        assert_eq!(format_pkr(-1500), "Rs -1,500");
        assert_eq!(
            Pkr::from(i64::MIN).to_string(),
            "Rs -9,223,372,036,854,775,808"
        );
        assert_eq!(group_thousands(1_000_000), "1,000,000");
        assert_eq!(group_thousands(100), "100");
    }
}
