//! Access tokens: short-lived JWTs (HS256) naming the user, their session and role.
//!
//! A valid signature is not enough to be let in: every request also checks that the session
//! (`sid`) is still live, so logging out or revoking a session stops its access tokens at once
//! rather than at expiry. `jsonwebtoken` over a hand-written HMAC: it rejects `alg: none` and
//! algorithm confusion for us, and we pin the algorithm to HS256 on decode.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Role;

/// How long an access token lives.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The session id (`user_sessions.id`).
    pub sid: i32,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn user_id(&self) -> Option<i32> {
        self.sub.parse().ok()
    }
}

/// Signs an access token for a session.
pub fn issue(key: &[u8; 32], user_id: i32, session_id: i32, role: Role) -> anyhow::Result<String> {
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: user_id.to_string(),
        sid: session_id,
        role,
        iat: now,
        exp: now + ACCESS_TOKEN_TTL_SECS,
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key),
    )?)
}

/// Verifies signature (HS256 only), expiry (no leeway) and the claims' shape.
pub fn verify(key: &[u8; 32], token: &str) -> Option<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iat", "sub"]);
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(key), &validation)
        .ok()
        .map(|data| data.claims)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    const KEY: [u8; 32] = [9; 32];

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let token = issue(&KEY, 42, 7, Role::Owner).unwrap();
        let claims = verify(&KEY, &token).unwrap();
        assert_eq!(
            (claims.user_id(), claims.sid, claims.role),
            (Some(42), 7, Role::Owner)
        );
        assert_eq!(claims.exp - claims.iat, ACCESS_TOKEN_TTL_SECS);
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let token = issue(&[8; 32], 42, 7, Role::Customer).unwrap();
        assert!(verify(&KEY, &token).is_none());
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let token = issue(&KEY, 42, 7, Role::Customer).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(payload.replace("customer", "admin"));
        assert!(verify(&KEY, &format!("{}.{forged}.{}", parts[0], parts[2])).is_none());
    }

    #[test]
    fn a_token_issued_before_staff_roles_reads_admin_as_owner() {
        let claims: Claims =
            serde_json::from_str(r#"{"sub":"42","sid":7,"role":"admin","iat":1,"exp":2}"#).unwrap();
        assert_eq!(claims.role, Role::Owner);
    }

    #[test]
    fn alg_none_is_refused() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let now = Utc::now().timestamp();
        let payload = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"42","sid":7,"role":"admin","iat":{now},"exp":{}}}"#,
            now + 600
        ));
        assert!(verify(&KEY, &format!("{header}.{payload}.")).is_none());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: "42".into(),
            sid: 7,
            role: Role::Customer,
            iat: now - 1000,
            exp: now - 1,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&KEY),
        )
        .unwrap();
        assert!(verify(&KEY, &token).is_none());
    }
}
