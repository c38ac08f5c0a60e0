//! Credentials at rest: AES-256-GCM with a key id, so keys can be rotated.
//!
//! A sealed value is `v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`, short enough for the
//! seed's `varchar(255)` columns. The key id is the first 8 hex digits of a SHA-256 of the key
//! (no table of ids to keep in step); the nonce is 96 random bits per value. The row a value
//! belongs to (`service:42`, `backend:3`) is bound as associated data, so a sealed password
//! copied onto another row does not open there.
//!
//! A [`Keyring`] seals with its current key and opens with any of its keys; `nextgenrdp keys
//! rotate` re-seals every value under the current key (see [`crate::cli`]). The `aes-gcm` crate
//! (RustCrypto, audited, constant-time with AES-NI) was chosen over `ring`'s AEAD, which lettre
//! already pulls in, for its plain owned-key API; both are sound.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

/// A 32-byte key that never appears in logs or `Debug` output.
pub struct Key(SecretBox<[u8; 32]>);

impl Key {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(SecretBox::new(Box::new(bytes)))
    }

    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let bytes = hex::decode(text.trim()).context("the key is not hexadecimal")?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the key must be 32 bytes (64 hex characters)"))?;
        Ok(Self::from_bytes(bytes))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([REDACTED])")
    }
}

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// The keys a node seals and opens credentials with.
pub struct Keyring {
    current: (String, Aes256Gcm),
    previous: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let previous: Vec<&str> = self.previous.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keyring")
            .field("current", &self.current.0)
            .field("previous", &previous)
            .finish()
    }
}

/// The id of a key: 8 hex digits of a hash of it (reveals nothing usable about the key).
pub fn key_id(key: &Key) -> String {
    let mut hash = Sha256::new();
    hash.update(b"nextgenrdp credential key id\0");
    hash.update(key.expose());
    hex::encode(&hash.finalize()[..4])
}

impl Keyring {
    /// A keyring sealing with `current` and opening with it or any of `previous`.
    pub fn new(current: &Key, previous: &[Key]) -> Self {
        let entry = |key: &Key| {
            (
                key_id(key),
                Aes256Gcm::new_from_slice(key.expose()).expect("a 32-byte key"),
            )
        };
        Self {
            current: entry(current),
            previous: previous.iter().map(entry).collect(),
        }
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> &str {
        &self.current.0
    }

    /// Encrypts `plaintext` for the row named by `context` under the current key.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system gave no random bytes");
        let sealed = self
            .current
            .1
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short value cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!(
            "{VERSION}:{}:{}",
            self.current.0,
            URL_SAFE_NO_PAD.encode(bytes)
        )
    }

    /// Decrypts a value sealed for `context` with any key of the ring.
    pub fn open(&self, sealed: &str, context: &str) -> anyhow::Result<SecretString> {
        let (id, body) = parse(sealed)?;
        let cipher = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|(key_id, _)| key_id == id)
            .map(|(_, cipher)| cipher)
            .with_context(|| {
                format!(
                    "the value was sealed with key {id}, which this node does not have (after \
                     `nextgenrdp keys rotate`, restart every node with the new key)"
                )
            })?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .context("the sealed value is not base64")?;
        if bytes.len() < NONCE_LEN + 16 {
            bail!("the sealed value is too short");
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "the sealed value does not open (tampered, or sealed for another row)"
                )
            })?;
        let text = String::from_utf8(plain).context("the sealed value is not text")?;
        Ok(SecretString::from(text))
    }

    /// Whether `sealed` is under another key than the current one (a value to rotate).
    pub fn is_stale(&self, sealed: &str) -> bool {
        parse(sealed)
            .map(|(id, _)| id != self.current.0)
            .unwrap_or(true)
    }
}

fn parse(sealed: &str) -> anyhow::Result<(&str, &str)> {
    let mut parts = sealed.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(id), Some(body)) if id.len() == 8 => Ok((id, body)),
        _ => bail!("not a sealed value (expected v1:<key id>:<data>)"),
    }
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A strong password for a new server: 20 characters from upper and lower case letters, digits
/// and a few symbols that survive shells, RDP clients and URLs, with at least one of each class
/// (Windows' complexity rule). Look-alikes (0/O, 1/l/I) are left out for people typing it.
pub fn generate_password() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"-_.@#%+=";
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    loop {
        let mut random = [0u8; 20];
        getrandom::fill(&mut random).expect("the operating system gave no random bytes");
        // 256 is not a multiple of the alphabet; rejecting the top bytes keeps it uniform.
        let limit = 256 - 256 % all.len();
        if random.iter().any(|&b| usize::from(b) >= limit) {
            continue;
        }
        let password: String = random
            .iter()
            .map(|&b| char::from(all[usize::from(b) % all.len()]))
            .collect();
        let has = |set: &[u8]| password.bytes().any(|c| set.contains(&c));
        if has(UPPER) && has(LOWER) && has(DIGITS) && has(SYMBOLS) {
            return password;
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn key(byte: u8) -> Key {
        Key::from_bytes([byte; 32])
    }

    #[test]
    fn sealed_values_open_only_for_their_row_and_never_show_the_plaintext() {
        let ring = Keyring::new(&key(1), &[]);
        let sealed = ring.seal("Tr0ub4dor&3", "service:7");
        assert!(sealed.starts_with(&format!("v1:{}:", ring.current_id())));
        assert!(!sealed.contains("Tr0ub4dor"));
        assert!(sealed.len() < 255);
        assert_eq!(
            ring.open(&sealed, "service:7").unwrap().expose_secret(),
            "Tr0ub4dor&3"
        );
        assert!(ring.open(&sealed, "service:8").is_err());
        // The same value sealed twice differs (fresh nonce).
        assert_ne!(sealed, ring.seal("Tr0ub4dor&3", "service:7"));
    }

    #[test]
    fn a_rotated_ring_opens_old_values_and_knows_they_are_stale() {
        let old = Keyring::new(&key(1), &[]);
        let sealed = old.seal("secret", "backend:1");
        let new = Keyring::new(&key(2), &[key(1)]);
        assert_ne!(old.current_id(), new.current_id());
        assert!(new.is_stale(&sealed));
        assert_eq!(
            new.open(&sealed, "backend:1").unwrap().expose_secret(),
            "secret"
        );
        let resealed = new.seal("secret", "backend:1");
        assert!(!new.is_stale(&resealed));
        let without_old = Keyring::new(&key(2), &[]);
        let err = without_old.open(&sealed, "backend:1").unwrap_err();
        assert!(err.to_string().contains(old.current_id()), "{err}");
    }

    #[test]
    fn tampered_or_malformed_values_are_refused() {
        let ring = Keyring::new(&key(3), &[]);
        let sealed = ring.seal("secret", "service:1");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(
            ring.open(&String::from_utf8(tampered).unwrap(), "service:1")
                .is_err()
        );
        assert!(ring.open("plaintext", "service:1").is_err());
        assert!(ring.open("v1:zz:abc", "service:1").is_err());
    }

    #[test]
    fn generated_passwords_are_long_mixed_and_distinct() {
        let first = generate_password();
        assert_eq!(first.len(), 20);
        assert!(first.chars().any(|c| c.is_ascii_uppercase()));
        assert!(first.chars().any(|c| c.is_ascii_lowercase()));
        assert!(first.chars().any(|c| c.is_ascii_digit()));
        assert!(!first.contains(['0', 'O', '1', 'l', 'I', ' ', '"', '\'']));
        assert_ne!(first, generate_password());
    }

    #[test]
    fn tokens_compare_in_constant_time_and_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
