//! The login-device cookie: a browser where an account logged in before says so with a value
//! only this shop can make (HMAC-SHA256 with the token-signing key over the account id and a
//! random nonce). Failed logins from elsewhere never lock that browser out (see `auth::login`);
//! it grants nothing else.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The cookie's name.
pub const DEVICE_COOKIE: &str = "ngr_device";
/// How long the cookie lives.
pub const DEVICE_COOKIE_DAYS: i64 = 365;

fn mac(key: &[u8; 32], user_id: i32, nonce: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("login-device:{user_id}:{nonce}").as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// A new cookie value for `user_id`: `<id>.<nonce>.<mac>`.
pub fn issue(key: &[u8; 32], user_id: i32) -> String {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).expect("the operating system has no randomness");
    let nonce = hex::encode(nonce);
    format!("{user_id}.{nonce}.{}", mac(key, user_id, &nonce))
}

/// The account and nonce of a genuine cookie value; `None` for anything else.
pub fn verify(key: &[u8; 32], value: &str) -> Option<(i32, String)> {
    let mut parts = value.split('.');
    let (id, nonce, sent) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || nonce.len() != 24 || !nonce.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let user_id: i32 = id.parse().ok()?;
    let expected = mac(key, user_id, nonce);
    let same = expected.len() == sent.len()
        && expected
            .bytes()
            .zip(sent.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then(|| (user_id, nonce.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_made_with_the_key_verify_and_only_for_their_account() {
        let key = [7u8; 32];
        let value = issue(&key, 42);
        let (user, nonce) = verify(&key, &value).unwrap();
        assert_eq!(user, 42);
        assert_eq!(nonce.len(), 24);
        assert_ne!(issue(&key, 42), value, "a nonce per browser");
        assert_eq!(verify(&[8u8; 32], &value), None);
        let other = value.replacen("42.", "43.", 1);
        assert_eq!(verify(&key, &other), None);
        assert_eq!(verify(&key, "42"), None);
        assert_eq!(verify(&key, &format!("{value}.x")), None);
    }
}
