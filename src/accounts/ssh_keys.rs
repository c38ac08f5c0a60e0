//! A customer's SSH public keys: added once with a name, chosen when a Linux server is ordered or
//! reinstalled, and handed to the server through cloud-init (`sshkeys`) so they log in without a
//! password. Only public keys, checked as OpenSSH keys (`ssh-ed25519 AAAA… name`) by the
//! `ssh-key` crate; each is kept once per account (by its SHA-256 fingerprint).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, PgPool};
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PublicKey};

use crate::db::timed;
use crate::error::{AppError, AppResult};

/// Keys one account may keep.
pub const MAX_KEYS: i64 = 20;
/// The shortest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;
/// A public key line this long is not a public key.
const MAX_KEY_CHARS: usize = 16 * 1024;

/// An SSH public key of an account.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct SshKey {
    pub id: i32,
    /// The name the customer gave it (e.g. "Laptop").
    pub name: String,
    /// The key in OpenSSH's one-line form, its comment replaced by the name.
    pub public_key: String,
    /// `SHA256:…`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    /// `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, …
    pub algorithm: String,
    /// RFC 3339, UTC.
    pub created_at: DateTime<Utc>,
}

/// A checked key: the line to store, its fingerprint and its algorithm.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub line: String,
    pub fingerprint: String,
    pub algorithm: String,
}

/// Checks `text` is one OpenSSH public key (a private key, two keys, a DSA key or an RSA key
/// under 2048 bits is refused, saying which) and returns it with `name` as its comment.
pub fn parse(text: &str, name: &str) -> Result<Parsed, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("paste your public key (the one line of your .pub file)".into());
    }
    if text.len() > MAX_KEY_CHARS {
        return Err("that is too long for a public key".into());
    }
    if text.contains("PRIVATE KEY") {
        return Err(
            "that is a private key: never share it. Paste the public key instead (the .pub file)"
                .into(),
        );
    }
    if text.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
        return Err("paste one key at a time".into());
    }
    let key = PublicKey::from_openssh(text).map_err(|_| {
        "not an OpenSSH public key: it starts with ssh-ed25519, ssh-rsa or ecdsa-sha2-… \
         followed by a long block of letters (run `cat ~/.ssh/id_ed25519.pub`)"
            .to_owned()
    })?;
    match key.key_data() {
        KeyData::Dsa(_) => {
            return Err(
                "DSA keys are no longer accepted by OpenSSH; make an ed25519 key \
                        (`ssh-keygen -t ed25519`)"
                    .into(),
            );
        }
        KeyData::Rsa(rsa) => {
            let bytes = rsa.n.as_positive_bytes().map_or(0, <[u8]>::len);
            if bytes * 8 < MIN_RSA_BITS {
                return Err(format!(
                    "this RSA key has {} bits; use at least {MIN_RSA_BITS} (or an ed25519 key)",
                    bytes * 8
                ));
            }
        }
        _ => {}
    }
    let algorithm = key.algorithm().as_str().to_owned();
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    let mut key = key;
    key.set_comment(name);
    let line = key
        .to_openssh()
        .map_err(|_| "not an OpenSSH public key".to_owned())?;
    Ok(Parsed {
        line,
        fingerprint,
        algorithm,
    })
}

/// A key's name: 1 to 100 characters on one line.
fn parse_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("give the key a name, e.g. \"Laptop\"".into());
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("at most 100 characters on one line".into());
    }
    Ok(name.to_owned())
}

macro_rules! key_columns {
    () => {
        "id, name, public_key, fingerprint, algorithm, created_at"
    };
}

/// The account's keys, oldest first.
pub async fn list(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<Vec<SshKey>> {
    timed(
        "ssh_keys.list",
        sqlx::query_as(concat!(
            "select ",
            key_columns!(),
            " from ssh_keys where user_id = $1 order by id"
        ))
        .bind(user_id)
        .fetch_all(db),
    )
    .await
}

/// The account's keys with these ids, in the order given; a 422 naming `field` when one is not
/// the account's (or repeats).
pub async fn find_many(
    db: impl PgExecutor<'_>,
    user_id: i32,
    ids: &[i32],
    field: &str,
) -> AppResult<Vec<SshKey>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<SshKey> = timed(
        "ssh_keys.find_many",
        sqlx::query_as(concat!(
            "select ",
            key_columns!(),
            " from ssh_keys where user_id = $1 and id = any($2)"
        ))
        .bind(user_id)
        .bind(ids)
        .fetch_all(db),
    )
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match found.iter().find(|k| k.id == *id) {
            Some(key) if !out.iter().any(|k: &SshKey| k.id == *id) => out.push(key.clone()),
            Some(_) => {
                return Err(AppError::invalid(
                    field,
                    format!("key {id} is listed twice"),
                ));
            }
            None => {
                return Err(AppError::invalid(
                    field,
                    format!("you have no SSH key {id}; add it on your account first"),
                ));
            }
        }
    }
    Ok(out)
}

/// Adds a key to the account: 422 naming `name` or `public_key`; 409 when the account has this
/// key already or [`MAX_KEYS`] of them.
pub async fn add(db: &PgPool, user_id: i32, name: &str, public_key: &str) -> AppResult<SshKey> {
    let mut errors = std::collections::BTreeMap::new();
    let name = parse_name(name).map_err(|e| errors.insert("name".to_owned(), e));
    let parsed = parse(public_key, name.as_deref().unwrap_or("key"))
        .map_err(|e| errors.insert("public_key".to_owned(), e));
    let (Ok(name), Ok(parsed)) = (name, parsed) else {
        return Err(AppError::Validation(errors));
    };
    let mut tx = db.begin().await?;
    // One writer per account at a time: the count and the insert see the same keys.
    sqlx::query("select id from users where id = $1 for update")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let existing = list(&mut *tx, user_id).await?;
    if let Some(same) = existing
        .iter()
        .find(|k| k.fingerprint == parsed.fingerprint)
    {
        return Err(AppError::conflict(
            "public_key",
            format!(
                "this key is on your account already, named \"{}\"",
                same.name
            ),
        ));
    }
    if existing.len() as i64 >= MAX_KEYS {
        return Err(AppError::conflict(
            "public_key",
            format!("an account keeps at most {MAX_KEYS} keys; remove one first"),
        ));
    }
    let key: SshKey = sqlx::query_as(concat!(
        "insert into ssh_keys (user_id, name, public_key, fingerprint, algorithm)
         values ($1, $2, $3, $4, $5) returning ",
        key_columns!()
    ))
    .bind(user_id)
    .bind(&name)
    .bind(&parsed.line)
    .bind(&parsed.fingerprint)
    .bind(&parsed.algorithm)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(key)
}

/// Removes one of the account's keys (servers that have it keep it until reinstalled);
/// NotFound when it is not the account's.
pub async fn remove(db: &PgPool, user_id: i32, id: i32) -> AppResult<SshKey> {
    sqlx::query_as(concat!(
        "delete from ssh_keys where id = $1 and user_id = $2 returning ",
        key_columns!()
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound("SSH key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real keys made with `ssh-keygen` (ed25519; RSA of 1024 bits; ECDSA P-256).
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID3/678gAwNvxxq17AZ+Re4wN9owv5H0iUqHFaLXVlmD ayesha@laptop";
    const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCsZVYFtRj2Jc7e0qQemQV1X/JTw4vjCpfb/DJyZof2unmrfKnFhumsem/S65IZrwDyWvFDEdtWgb1gKWzWmM5iF8TEZNN5IE1amRiCSvHPAHEVKSBxJqFY31gX1BblVBjTQJ+9oTrO4fWT65zT35AL5zbpf0escdmqGaxT/Xg3Fw== old";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNkvbj+aqKb3/vJJX0ymyiNcA22o3GphPmtlin9u2VRHorV7n/EFHCrvtxVuE3lNG9K9FMq/JMf6xf/FIi41/lk= ec";

    #[test]
    fn an_ed25519_key_is_kept_with_its_name_and_fingerprint() {
        let parsed = parse(&format!("  {ED25519}\n"), "Laptop").unwrap();
        assert_eq!(parsed.algorithm, "ssh-ed25519");
        assert_eq!(
            parsed.line,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID3/678gAwNvxxq17AZ+Re4wN9owv5H0iUqHFaLXVlmD Laptop"
        );
        // As `ssh-keygen -lf` prints it.
        assert_eq!(
            parsed.fingerprint,
            "SHA256:nq6Jx8aZ8WUG5ppqovyQsD9eJGP8qUpjcw7+AaHgA9Q"
        );
        // The comment does not change the key.
        assert_eq!(
            parse(ED25519, "Other").unwrap().fingerprint,
            parsed.fingerprint
        );
    }

    #[test]
    fn short_rsa_keys_are_refused_and_ecdsa_kept() {
        assert!(parse(RSA_1024, "x").unwrap_err().contains("1024 bits"));
        assert_eq!(parse(ECDSA, "x").unwrap().algorithm, "ecdsa-sha2-nistp256");
    }

    #[test]
    fn private_keys_garbage_and_two_keys_are_refused_saying_why() {
        let private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
        assert!(parse(private, "x").unwrap_err().contains("private key"));
        assert!(
            parse("ssh-ed25519 not-base64", "x")
                .unwrap_err()
                .contains("not an OpenSSH")
        );
        assert!(parse("", "x").unwrap_err().contains("paste"));
        let two = format!("{ED25519}\n{ED25519}");
        assert!(parse(&two, "x").unwrap_err().contains("one key"));
        assert!(parse_name("  ").is_err());
        assert!(parse_name("a\nb").is_err());
    }
}
