//! `nextgenrdp keys rotate`: a fresh credential key, and every sealed value (service and
//! server passwords, backend tokens, two-factor secrets) re-sealed under it. The top of the
//! house beside the CLI: it reaches into the domains whose rows hold sealed values.

use anyhow::{Context, bail};

use crate::crypto::{Key, Keyring};

/// Gets the keyring for `keys rotate` ready: with the credential key in the environment, the
/// ring as configured (the operator set the new key and listed the old ones); with keys in
/// `<data-dir>/secrets`, a freshly generated key becomes current and the old one is appended to
/// the previous-keys file first, so no value is ever sealed with a key that is not on disk.
pub fn prepare_rotation(common: &crate::config::CommonConfig) -> anyhow::Result<Keyring> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    use crate::config::{
        CREDENTIAL_KEY_ENV, CREDENTIAL_KEY_FILE, PREVIOUS_CREDENTIAL_KEYS_ENV,
        PREVIOUS_CREDENTIAL_KEYS_FILE, Secrets,
    };
    let secrets = Secrets::load(common)?;
    if std::env::var(CREDENTIAL_KEY_ENV).is_ok() {
        if secrets.previous_credential_keys.is_empty() {
            tracing::warn!(
                "{PREVIOUS_CREDENTIAL_KEYS_ENV} is empty: values sealed with an older key cannot \
                 be opened and will be reported"
            );
        }
        return Ok(secrets.keyring());
    }
    if std::env::var(PREVIOUS_CREDENTIAL_KEYS_ENV).is_ok() {
        bail!(
            "{PREVIOUS_CREDENTIAL_KEYS_ENV} is set but {CREDENTIAL_KEY_ENV} is not: set both in \
             the environment, or neither to rotate the keys kept in the data directory"
        );
    }
    let dir = common.data_dir.join("secrets");
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).context("the operating system gave no random bytes")?;
    let new = Key::from_bytes(bytes);
    let old = &secrets.credential_key;
    let previous_path = dir.join(PREVIOUS_CREDENTIAL_KEYS_FILE);
    let mut previous = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&previous_path)
        .with_context(|| format!("opening {}", previous_path.display()))?;
    writeln!(previous, "{}", hex::encode(old.expose()))
        .and_then(|()| previous.sync_all())
        .with_context(|| format!("writing {}", previous_path.display()))?;
    let current_path = dir.join(CREDENTIAL_KEY_FILE);
    let staged = dir.join(format!("{CREDENTIAL_KEY_FILE}.new"));
    let _ = std::fs::remove_file(&staged);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staged)
        .with_context(|| format!("creating {}", staged.display()))?;
    file.write_all(hex::encode(new.expose()).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", staged.display()))?;
    std::fs::rename(&staged, &current_path)
        .with_context(|| format!("replacing {}", current_path.display()))?;
    let mut keys = secrets.previous_credential_keys;
    keys.push(Key::from_bytes(*old.expose()));
    Ok(Keyring::new(&new, &keys))
}

/// What [`reseal_all`] re-encrypted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    pub passwords: usize,
    pub tokens: usize,
    /// Two-factor sign-in secrets.
    pub two_factor: usize,
}

/// Re-seals every stored credential not yet under the ring's current key, in one transaction:
/// either all move to the new key or none does. A value no key of the ring opens stops it.
pub async fn reseal_all(db: &sqlx::PgPool, ring: &Keyring) -> anyhow::Result<Resealed> {
    use secrecy::ExposeSecret;

    use crate::accounts::two_factor;
    use crate::provisioning::{Provisioning, backends};
    use crate::services::services;
    let mut tx = db.begin().await?;
    let mut done = Resealed::default();
    for (id, sealed) in services::list_sealed_passwords(&mut *tx).await? {
        if !ring.is_stale(&sealed) {
            continue;
        }
        let context = Provisioning::service_context(id);
        let plain = ring
            .open(&sealed, &context)
            .with_context(|| format!("the password of service {id}"))?;
        let resealed = ring.seal(plain.expose_secret(), &context);
        crate::db::timed(
            "services.reseal_password",
            sqlx::query("update services set password_encrypted = $2 where id = $1")
                .bind(id)
                .bind(&resealed)
                .execute(&mut *tx),
        )
        .await?;
        done.passwords += 1;
    }
    for (id, sealed) in backends::list_sealed_secrets(&mut *tx).await? {
        if !ring.is_stale(&sealed) {
            continue;
        }
        let context = Provisioning::backend_context(id);
        let plain = ring
            .open(&sealed, &context)
            .with_context(|| format!("the API token of backend {id}"))?;
        backends::set_token_secret(&mut *tx, id, &ring.seal(plain.expose_secret(), &context))
            .await?;
        done.tokens += 1;
    }
    for (user_id, sealed) in two_factor::user_two_factor::list_sealed_secrets(&mut *tx).await? {
        if !ring.is_stale(&sealed) {
            continue;
        }
        let context = two_factor::secret_context(user_id);
        let plain = ring
            .open(&sealed, &context)
            .with_context(|| format!("the two-factor secret of account {user_id}"))?;
        two_factor::user_two_factor::reseal_secret(
            &mut *tx,
            user_id,
            &ring.seal(plain.expose_secret(), &context),
        )
        .await?;
        done.two_factor += 1;
    }
    tx.commit().await?;
    Ok(done)
}
