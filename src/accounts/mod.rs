//! Accounts: customers and operators, their sessions and the one-time tokens e-mailed to them.

pub mod admin;
pub mod admin_pages;
pub mod api;
pub mod auth;
pub mod billing;
pub mod credit;
pub mod device;
pub mod extract;
pub mod hasher;
pub mod jwt;
pub mod limits;
pub mod origins;
pub mod pages;
pub mod sessions;
pub mod signin;
pub mod ssh_keys;
pub mod staff;
pub mod staff_admin;
pub mod tokens;
pub mod two_factor;
pub mod users;
pub mod validation;
pub mod whatsapp;

use crate::db::text_enum::text_enum;

text_enum! {
    /// What an account may do: customers buy; the staff roles run the shop, each its part (see
    /// [`staff::Permission`] for what each may do).
    pub enum Role {
        Customer = "customer",
        /// Everything, and manages the staff. Spelled `admin` before staff roles: old access
        /// tokens still say so.
        #[serde(alias = "admin")]
        Owner = "owner",
        /// Orders, payments, refunds, invoices and promo codes.
        Billing = "billing",
        /// Customers, tickets, services' status and customers' requests.
        Support = "support",
        /// Services, provisioning, backends and credentials.
        Technical = "technical",
    }
}

impl Role {
    /// The roles of the shop's staff (every role but `customer`).
    pub const STAFF: [Self; 4] = [Self::Owner, Self::Billing, Self::Support, Self::Technical];

    /// Whether this is a staff role (an operator of the back office).
    pub fn is_staff(self) -> bool {
        self != Self::Customer
    }

    /// Whether this role may do what `permission` covers.
    pub fn can(self, permission: staff::Permission) -> bool {
        permission.allows(self)
    }
}

/// An e-mail address, trimmed and lower-cased: the one spelling stored and looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain.tld` of at most 255 characters, without spaces.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let email = text.trim().to_lowercase();
        let Some((local, domain)) = email.split_once('@') else {
            return Err("must be an e-mail address like name@example.com");
        };
        let valid = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err("must be an e-mail address like name@example.com");
        }
        if email.len() > 255 {
            return Err("must be at most 255 characters");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// bcrypt cost for new password hashes (the seed's choice). Hashes made elsewhere with any cost
/// and the `$2a$`, `$2b$` or `$2y$` prefix still verify.
pub const BCRYPT_COST: u32 = 12;

/// Hashes a password with bcrypt. CPU-heavy: call it off the async worker threads.
pub fn hash_password(password: &str, cost: u32) -> anyhow::Result<String> {
    Ok(bcrypt::hash(password, cost)?)
}

/// Checks a password against a stored bcrypt hash; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ali.Khan@Example.PK ").unwrap().as_str(),
            "ali.khan@example.pk"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ali",
            "@example.pk",
            "ali@",
            "ali@example",
            "ali @x.pk",
            "a@b@c.pk",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn hashes_from_the_old_site_verify_whatever_their_prefix() {
        let hash = bcrypt::hash("correct horse", 4).unwrap();
        let rest = &hash[3..];
        for prefix in ["$2a", "$2b", "$2y"] {
            assert!(
                verify_password("correct horse", &format!("{prefix}{rest}")),
                "{prefix}"
            );
        }
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }
}
