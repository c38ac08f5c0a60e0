//! Opaque secret tokens (refresh tokens, e-mailed one-time tokens, session cookies): 256 random
//! bits, URL-safe, stored only as their SHA-256. A fast hash suffices here, unlike for
//! passwords: the input has full entropy, so there is nothing to brute-force.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A fresh random token (43 URL-safe characters).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system has no randomness");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The hash a token is stored and looked up by.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_and_hash_stably() {
        let token = generate();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
        assert_ne!(token, generate());
        assert_eq!(hash(&token), hash(&token));
        assert_eq!(hash(&token).len(), 64);
    }
}
