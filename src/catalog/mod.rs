//! The catalog: product categories, plans with their features, locations, and where each plan
//! is sold. It lives in PostgreSQL; `file` moves it in and out as TOML.

pub mod admin_api;
pub mod admin_pages;
pub mod api;
pub mod cache;
pub mod categories;
pub mod file;
pub mod locations;
pub mod manage;
pub mod names;
pub mod os_templates;
pub mod pages;
pub mod plan_features;
pub mod plans;
pub mod policies;

/// Colours a plan card may be themed with; the stylesheet has a rule for each.
pub const THEME_COLORS: &[&str] = &[
    "sky", "indigo", "emerald", "amber", "rose", "violet", "slate", "teal", "orange",
];

/// A plan id or slug: `[a-z0-9-]`, 3 to 50 characters, like `rdp-starter-one`.
pub fn is_valid_slug(text: &str) -> bool {
    (3..=50).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_digits_and_dashes() {
        assert!(is_valid_slug("rdp-starter-one"));
        assert!(!is_valid_slug("ab"));
        assert!(!is_valid_slug("RDP-starter"));
        assert!(!is_valid_slug("rdp_starter"));
        assert!(!is_valid_slug(&"a".repeat(51)));
    }
}
