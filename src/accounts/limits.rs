//! The rate limits of the account flows attackers hammer (login, its second step, register,
//! password reset, resend), per client IP and per account, and the one place their keys are
//! spelled. Counted in PostgreSQL (see [`crate::web::rate_limit`]) so every node shares them.

use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::web::rate_limit::{self, Limit};

pub const LOGIN_PER_IP: Limit = Limit::per_minutes(30, 10);
/// Per account, from one kind of origin: unfamiliar addresses share one bucket; an address or
/// browser the account logged in from before has a bucket of its own (see `auth::login`).
pub const LOGIN_PER_ACCOUNT: Limit = Limit::per_minutes(10, 15);
/// Second steps of logins (authenticator codes) per IP.
pub const TWO_FACTOR_PER_IP: Limit = Limit::per_minutes(30, 10);
/// Codes per account, whatever the login they answer: bounds guessing by someone who has the
/// password.
pub const TWO_FACTOR_PER_ACCOUNT: Limit = Limit::per_minutes(10, 15);
pub const REGISTER_PER_IP: Limit = Limit::per_minutes(10, 60);
/// "Someone tried to register with your address" mails per address.
pub const REGISTER_NOTICE_PER_ACCOUNT: Limit = Limit::per_minutes(3, 60);
pub const FORGOT_PER_IP: Limit = Limit::per_minutes(10, 60);
pub const FORGOT_PER_ACCOUNT: Limit = Limit::per_minutes(5, 60);
pub const RESET_PER_IP: Limit = Limit::per_minutes(20, 60);
pub const RESEND_PER_IP: Limit = Limit::per_minutes(10, 60);
pub const RESEND_PER_ACCOUNT: Limit = Limit::per_minutes(5, 60);
/// WhatsApp verification codes sent for one account (each is a paid message).
pub const WHATSAPP_CODES_PER_ACCOUNT: Limit = Limit::per_minutes(5, 60);

/// Counts a hit against each key's limit; the first over its limit answers 429.
pub async fn limit(state: &Context, hits: &[(String, Limit)]) -> AppResult<()> {
    for (key, limit) in hits {
        rate_limit::hit(&state.db, key, *limit).await?;
    }
    Ok(())
}

/// The rate-limit key of an account's e-mail; one that cannot be an address is a 422 before
/// anything is counted or looked up (it could not name an account anyway).
pub fn account_key(action: &str, email: &str) -> AppResult<String> {
    let email =
        super::Email::parse(email).map_err(|problem| AppError::invalid("email", problem))?;
    Ok(format!("{action}:account:{}", email.as_str()))
}

/// The per-IP key of an action.
pub fn ip_key(action: &str, ip: &str) -> String {
    format!("{action}:ip:{ip}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_rate_limit_keys_ignore_case_and_spaces() {
        assert_eq!(
            account_key("login", " Ali@Example.PK ").unwrap(),
            "login:account:ali@example.pk"
        );
        assert!(account_key("login", "ali\u{0}@example.pk").is_err());
        assert!(account_key("login", &"a".repeat(300)).is_err());
    }
}
