//! Two-factor sign-in: a TOTP authenticator (RFC 6238: 30-second steps, 6 digits, one step of
//! clock drift either way) and ten single-use recovery codes.
//!
//! The verbs, each one transaction, shared by the JSON API and the pages: [`start`] an
//! enrolment (a new secret and recovery codes, pending), [`confirm`] it with a first code,
//! [`disable`] it, [`new_recovery_codes`], [`step_up`] (a fresh code for a sensitive action),
//! the login's second step ([`begin_login`], [`finish_login`]), and [`reset`] for an operator
//! who lost the device (`nextgenrdp user reset-2fa`).
//!
//! The secret is sealed with the credential key, bound to its row, like service passwords. A
//! code is accepted once: the step it belongs to is recorded under the row's lock, so the same
//! code (or an older one) replayed inside its window is refused. Recovery codes carry 80 random
//! bits and are stored as SHA-256 only.

pub mod user_two_factor;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::json;
use totp_rs::{Algorithm, TOTP};

use super::sessions;
use super::signin::{self, Client, OpenedSession};
use super::users::{self, User};
use crate::audit::{self, NewAuditEntry};
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::mail;
use crate::secrets;

/// Seconds per TOTP step.
const STEP_SECS: u64 = 30;
/// Digits of a code.
const DIGITS: usize = 6;
/// Recovery codes issued at once.
pub const RECOVERY_CODES: usize = 10;
/// How long the second step of a login may wait for its code.
const CHALLENGE_TTL: Duration = Duration::minutes(5);
/// Wrong codes one login's second step tolerates before it must start over.
pub const CHALLENGE_MAX_FAILURES: i32 = 5;
/// How long a proved code covers sensitive operator actions (reveal a password, approve a
/// payment, change credentials) before another is asked for.
pub const STEP_UP_WINDOW: Duration = Duration::minutes(10);
/// Who the authenticator app says the code is for.
const ISSUER: &str = "NextGenRDP";

pub use crate::config::OperatorPolicy;

/// The row context a secret is sealed with: a sealed value copied to another account does not
/// open.
pub fn secret_context(user_id: i32) -> String {
    format!("two_factor:{user_id}")
}

fn totp(secret: Vec<u8>, account: &str) -> TOTP {
    // The label's `issuer:account` form has no room for a colon in the account.
    TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret,
        Some(ISSUER.to_owned()),
        account.replace(':', "_"),
    )
}

/// The step of a six-digit `code` for `secret` at `now` (this step, the one before or the one
/// after), compared in constant time; `None` when it matches none.
pub fn matching_step(secret: &[u8], code: &str, now: DateTime<Utc>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let generator = totp(secret.to_vec(), "");
    let now = u64::try_from(now.timestamp()).ok()?;
    let current = now / STEP_SECS;
    let mut found = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = generator.generate(step * STEP_SECS);
        if crate::crypto::constant_time_eq(expected.as_bytes(), code.as_bytes()) {
            found = Some(step);
        }
    }
    found.and_then(|step| i64::try_from(step).ok())
}

/// The code of `secret` at `at` (for tests and the CLI's checks).
pub fn code_at(secret: &[u8], at: DateTime<Utc>) -> String {
    totp(secret.to_vec(), "").generate(u64::try_from(at.timestamp()).unwrap_or(0))
}

/// Crockford's base32 alphabet: no I, L, O or U to misread.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Ten fresh recovery codes like `k7qm-2x9d-h4tw-0bn3` (16 characters, 80 bits).
fn fresh_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).expect("the operating system has no randomness");
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)]))
                .collect();
            chars
                .chunks(4)
                .map(|group| group.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// A recovery code as typed, in its one stored spelling: lower case, without spaces or dashes,
/// the letters people confuse with digits read as those digits. `None` when it cannot be one.
pub fn normalize_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect();
    (code.len() == 16 && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(code)
}

fn recovery_hash(user_id: i32, normalized: &str) -> String {
    secrets::hash(&format!("recovery:{user_id}:{normalized}"))
}

/// A new enrolment: what the authenticator app needs, and the recovery codes (shown once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// The shared secret in base32, for typing into an authenticator app by hand.
    pub secret: String,
    /// The `otpauth://totp/...` URI the QR code carries.
    pub otpauth_uri: String,
    /// Ten single-use codes for when the phone is lost; shown only now.
    pub recovery_codes: Vec<String>,
}

impl Enrolment {
    /// The QR code of [`Enrolment::otpauth_uri`] as an SVG `data:` URI, for an `<img>`.
    pub fn qr_data_uri(&self) -> String {
        qr_data_uri(&self.otpauth_uri)
    }
}

/// An SVG QR code of `text`, as a `data:` URI (the pages' CSP allows `data:` images).
pub fn qr_data_uri(text: &str) -> String {
    let svg = match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(220, 220)
            .build(),
        Err(_) => String::new(),
    };
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

/// Where an account's two-factor sign-in stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// Whether logins ask for a code.
    pub enabled: bool,
    /// When it was turned on (RFC 3339, UTC).
    pub enabled_at: Option<DateTime<Utc>>,
    /// Whether an enrolment was started and awaits its first code.
    pub pending: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
}

/// The account's two-factor state.
pub async fn status(state: &Context, user: &User) -> AppResult<Status> {
    let has_secret = user_two_factor::exists(&state.db, user.id).await?;
    let left = user_two_factor::count_unused_recovery_codes(&state.db, user.id).await?;
    Ok(Status {
        enabled: user.two_factor_enabled_at.is_some(),
        enabled_at: user.two_factor_enabled_at,
        pending: user.two_factor_enabled_at.is_none() && has_secret,
        recovery_codes_left: if user.two_factor_enabled_at.is_some() {
            left
        } else {
            0
        },
    })
}

/// Starts (or restarts) an enrolment: a new secret and new recovery codes, pending until
/// [`confirm`]. Refused (409) while two-factor sign-in is on: turn it off first.
pub async fn start(state: &Context, user: &User) -> AppResult<Enrolment> {
    if user.two_factor_enabled_at.is_some() {
        return Err(AppError::conflict(
            "two-factor",
            "two-factor sign-in is already on; turn it off first to move it to a new device",
        ));
    }
    let mut secret = [0u8; 20];
    getrandom::fill(&mut secret).map_err(|err| AppError::Internal(anyhow::anyhow!(err)))?;
    let generator = totp(secret.to_vec(), &user.email);
    let keyring = state.settings.secrets.keyring();
    let sealed = keyring.seal(&hex::encode(secret), &secret_context(user.id));
    let codes = fresh_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|code| recovery_hash(user.id, &code.replace('-', "")))
        .collect();
    let mut tx = state.db.begin().await?;
    user_two_factor::put_secret(&mut *tx, user.id, &sealed).await?;
    user_two_factor::replace_recovery_codes(&mut tx, user.id, &hashes).await?;
    tx.commit().await?;
    Ok(Enrolment {
        secret: generator.get_secret_base32(),
        otpauth_uri: generator.get_url(),
        recovery_codes: codes,
    })
}

/// The key (base32) and `otpauth://` URI of an enrolment not confirmed yet, to show again after
/// a wrong first code; `None` when none is pending.
pub async fn pending_setup(state: &Context, user: &User) -> AppResult<Option<(String, String)>> {
    if user.two_factor_enabled_at.is_some() {
        return Ok(None);
    }
    let mut tx = state.db.begin().await?;
    let row = user_two_factor::find_for_update(&mut *tx, user.id).await?;
    tx.commit().await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let generator = totp(open_secret(state, &row)?, &user.email);
    Ok(Some((generator.get_secret_base32(), generator.get_url())))
}

/// The account's secret, opened.
fn open_secret(state: &Context, row: &user_two_factor::Secret) -> AppResult<Vec<u8>> {
    let plain = state
        .settings
        .secrets
        .keyring()
        .open(&row.secret_encrypted, &secret_context(row.user_id))
        .map_err(AppError::Internal)?;
    hex::decode(plain.expose_secret()).map_err(|err| AppError::Internal(err.into()))
}

/// What proved the second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// A code from the authenticator app.
    Totp,
    /// One of the recovery codes (now used up).
    RecoveryCode,
}

/// Checks `code` (an authenticator code, or a recovery code when `recovery` is allowed) for
/// `user_id` inside `tx`, using it up. A wrong, replayed or used code is a 422 on `code`.
async fn check_code(
    state: &Context,
    tx: &mut sqlx::PgConnection,
    user_id: i32,
    code: &str,
    recovery: bool,
) -> AppResult<Proof> {
    let row = user_two_factor::find_for_update(&mut *tx, user_id)
        .await?
        .ok_or_else(|| AppError::conflict("two-factor", "two-factor sign-in is not set up"))?;
    let secret = open_secret(state, &row)?;
    if let Some(step) = matching_step(&secret, code, Utc::now()) {
        if user_two_factor::claim_step(&mut *tx, user_id, step).await? {
            return Ok(Proof::Totp);
        }
        return Err(AppError::invalid(
            "code",
            "this code was already used; wait for the next one",
        ));
    }
    if recovery
        && let Some(normalized) = normalize_recovery_code(code)
        && user_two_factor::use_recovery_code(
            &mut *tx,
            user_id,
            &recovery_hash(user_id, &normalized),
        )
        .await?
    {
        return Ok(Proof::RecoveryCode);
    }
    Err(AppError::invalid(
        "code",
        if recovery {
            "is not the current code of your authenticator app, nor an unused recovery code"
        } else {
            "is not the current code of your authenticator app"
        },
    ))
}

/// Confirms a pending enrolment with the app's first code: from now on logins ask for a code.
/// This session counts as having proved it; every other session of the account ends (it was
/// opened with a password alone).
pub async fn confirm(
    state: &Context,
    user: &User,
    session_id: i32,
    code: &str,
    ip: Option<&str>,
) -> AppResult<Status> {
    if user.two_factor_enabled_at.is_some() {
        return Err(AppError::conflict(
            "two-factor",
            "two-factor sign-in is already on",
        ));
    }
    let mut tx = state.db.begin().await?;
    if user_two_factor::find_for_update(&mut *tx, user.id)
        .await?
        .is_none()
    {
        return Err(AppError::conflict(
            "two-factor",
            "no enrolment to confirm: start one first (POST /api/v1/me/two-factor)",
        ));
    }
    check_code(state, &mut tx, user.id, code, false).await?;
    let enabled_at = users::set_two_factor(&mut *tx, user.id, true)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    sessions::mark_two_factor(&mut *tx, session_id).await?;
    sessions::revoke_all_for_user(&mut *tx, user.id, Some(session_id), "two_factor_enabled")
        .await?;
    record_change(&mut tx, user, "user.two_factor_enable", ip, true).await?;
    mail::enqueue(
        &mut *tx,
        &mail::notice_email(
            &user.email,
            &user.name,
            "Two-factor sign-in is on",
            &[
                "Two-factor sign-in is now on for your NextGenRDP account: each login asks for \
                 the code of your authenticator app."
                    .to_owned(),
                "Keep your recovery codes somewhere safe. If this was not you, reset your \
                 password at once and contact us."
                    .to_owned(),
            ],
            None,
        ),
    )
    .await?;
    let left = user_two_factor::count_unused_recovery_codes(&mut *tx, user.id).await?;
    tx.commit().await?;
    tracing::info!(user.id = user.id, "two-factor sign-in turned on");
    Ok(Status {
        enabled: true,
        enabled_at: Some(enabled_at),
        pending: false,
        recovery_codes_left: left,
    })
}

/// Turns two-factor sign-in off with a current code (or a recovery code).
pub async fn disable(state: &Context, user: &User, code: &str, ip: Option<&str>) -> AppResult<()> {
    if user.two_factor_enabled_at.is_none() {
        return Err(AppError::conflict(
            "two-factor",
            "two-factor sign-in is not on",
        ));
    }
    let mut tx = state.db.begin().await?;
    check_code(state, &mut tx, user.id, code, true).await?;
    // The code is checked (and used up) before the row goes: a wrong code changes nothing.
    user_two_factor::delete(&mut tx, user.id).await?;
    users::set_two_factor(&mut *tx, user.id, false).await?;
    record_change(&mut tx, user, "user.two_factor_disable", ip, false).await?;
    mail::enqueue(
        &mut *tx,
        &mail::notice_email(
            &user.email,
            &user.name,
            "Two-factor sign-in is off",
            &[
                "Two-factor sign-in was turned off for your NextGenRDP account: logins now ask \
                 for your password only."
                    .to_owned(),
                "If this was not you, reset your password at once and contact us.".to_owned(),
            ],
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user.id = user.id, "two-factor sign-in turned off");
    Ok(())
}

/// Replaces the recovery codes (a current code proves the phone is at hand); the old ones stop
/// working.
pub async fn new_recovery_codes(
    state: &Context,
    user: &User,
    code: &str,
) -> AppResult<Vec<String>> {
    if user.two_factor_enabled_at.is_none() {
        return Err(AppError::conflict(
            "two-factor",
            "two-factor sign-in is not on",
        ));
    }
    let codes = fresh_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|code| recovery_hash(user.id, &code.replace('-', "")))
        .collect();
    let mut tx = state.db.begin().await?;
    check_code(state, &mut tx, user.id, code, false).await?;
    user_two_factor::replace_recovery_codes(&mut tx, user.id, &hashes).await?;
    tx.commit().await?;
    Ok(codes)
}

/// A fresh code for a sensitive action: the session counts as having proved the second factor
/// now, for the next [`STEP_UP_WINDOW`].
pub async fn step_up(state: &Context, user: &User, session_id: i32, code: &str) -> AppResult<()> {
    if user.two_factor_enabled_at.is_none() {
        return Err(AppError::conflict(
            "two-factor",
            "two-factor sign-in is not on: turn it on first (POST /api/v1/me/two-factor)",
        ));
    }
    let mut tx = state.db.begin().await?;
    check_code(state, &mut tx, user.id, code, true).await?;
    sessions::mark_two_factor(&mut *tx, session_id).await?;
    tx.commit().await?;
    Ok(())
}

/// The second step a login with the right password leads to: a short-lived, single-use token
/// that [`finish_login`] trades, with a code, for a session.
pub async fn begin_login(
    tx: &mut sqlx::PgConnection,
    user: &User,
    client: &Client,
) -> AppResult<String> {
    let token = secrets::generate();
    user_two_factor::insert_challenge(
        &mut *tx,
        &user_two_factor::NewChallenge {
            user_id: user.id,
            token_hash: &secrets::hash(&token),
            expires_at: Utc::now() + CHALLENGE_TTL,
            ip_address: client.ip.as_deref().map(|ip| &ip[..ip.len().min(45)]),
            user_agent: client.user_agent.as_deref(),
        },
    )
    .await?;
    Ok(token)
}

/// The account a second-step token belongs to (for its rate limit), whatever its state.
pub async fn challenge_user(db: &sqlx::PgPool, token: &str) -> sqlx::Result<Option<i32>> {
    Ok(user_two_factor::find_challenge(db, &secrets::hash(token))
        .await?
        .map(|challenge| challenge.user_id))
}

/// The refusal of an unknown, used, expired or exhausted second step: log in again.
fn challenge_gone() -> AppError {
    AppError::invalid(
        "mfa_token",
        "this sign-in has expired or was already used; log in again with your password",
    )
}

/// Trades a login's second-step token and a code (authenticator or recovery) for a session
/// that has proved both factors. A wrong code counts against the token; after
/// [`CHALLENGE_MAX_FAILURES`] the login must start over.
pub async fn finish_login(
    state: &Context,
    token: &str,
    code: &str,
    client: &Client,
) -> AppResult<(OpenedSession, Proof)> {
    let mut tx = state.db.begin().await?;
    let challenge = user_two_factor::find_challenge_for_update(&mut *tx, &secrets::hash(token))
        .await?
        .filter(|c| c.is_open(Utc::now(), CHALLENGE_MAX_FAILURES))
        .ok_or_else(challenge_gone)?;
    let user = users::find(&mut *tx, challenge.user_id)
        .await?
        .filter(|u| u.disabled_at.is_none() && u.two_factor_enabled_at.is_some())
        .ok_or_else(challenge_gone)?;
    let proof = match check_code(state, &mut tx, user.id, code, true).await {
        Ok(proof) => proof,
        Err(err @ AppError::Validation(_)) => {
            user_two_factor::count_failure(&mut *tx, challenge.id).await?;
            tx.commit().await?;
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    user_two_factor::close_challenge(&mut *tx, challenge.id).await?;
    let opened = signin::open_session(&mut tx, user, client, true).await?;
    users::record_login(&mut *tx, opened.user.id).await?;
    if let Some(ip) = client.ip.as_deref() {
        super::origins::record(&mut *tx, opened.user.id, ip).await?;
    }
    if proof == Proof::RecoveryCode {
        let left = user_two_factor::count_unused_recovery_codes(&mut *tx, opened.user.id).await?;
        mail::enqueue(
            &mut *tx,
            &mail::notice_email(
                &opened.user.email,
                &opened.user.name,
                "A recovery code was used to log in",
                &[
                    format!(
                        "Someone logged in to your NextGenRDP account with one of your recovery \
                         codes. {left} unused codes are left."
                    ),
                    "If this was you, make new codes on your account page once your \
                     authenticator app works again. If not, reset your password at once and \
                     contact us."
                        .to_owned(),
                ],
                None,
            ),
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(
        user.id = opened.user.id,
        session.id = opened.session.id,
        "logged in with a second factor"
    );
    Ok((opened, proof))
}

/// Turns two-factor sign-in off for an account whose owner lost the device, ends its sessions
/// and tells them by e-mail; audited. For `nextgenrdp user reset-2fa` (no acting account).
pub async fn reset(db: &sqlx::PgPool, user: &User) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    let had = user_two_factor::delete(&mut tx, user.id).await?;
    users::set_two_factor(&mut *tx, user.id, false).await?;
    let ended = sessions::revoke_all_for_user(&mut *tx, user.id, None, "two_factor_reset").await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: None,
            action: "user.two_factor_reset",
            entity_type: "user",
            entity_id: Some(&user.id.to_string()),
            before: Some(json!({ "two_factor_enabled_at": user.two_factor_enabled_at })),
            after: Some(
                json!({ "two_factor_enabled_at": null, "sessions_ended": ended, "by": "cli" }),
            ),
            ip_address: None,
        },
    )
    .await?;
    mail::enqueue(
        &mut *tx,
        &mail::notice_email(
            &user.email,
            &user.name,
            "Two-factor sign-in was reset",
            &[
                "The shop reset two-factor sign-in on your NextGenRDP account and logged out \
                 every device. Log in with your password and set it up again with your new \
                 phone."
                    .to_owned(),
                "If you did not ask for this, contact us at once.".to_owned(),
            ],
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(had)
}

/// The audit row of a change to an account's own two-factor setting.
async fn record_change(
    tx: &mut sqlx::PgConnection,
    user: &User,
    action: &str,
    ip: Option<&str>,
    enabled: bool,
) -> sqlx::Result<()> {
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: Some(user.id),
            action,
            entity_type: "user",
            entity_id: Some(&user.id.to_string()),
            before: Some(json!({ "two_factor_enabled": !enabled })),
            after: Some(json!({ "two_factor_enabled": enabled })),
            ip_address: ip,
        },
    )
    .await?;
    Ok(())
}

/// Why an operator is refused: two-factor sign-in is required and this session has not proved a
/// second factor.
pub fn operator_refusal(user: &User) -> AppError {
    AppError::TwoFactor(if user.two_factor_enabled_at.is_some() {
        "this session was opened without your second factor: log out and log in again with \
         your authenticator code"
            .to_owned()
    } else {
        "operators must turn on two-factor sign-in first: POST /api/v1/me/two-factor, or the \
         page /account/two-factor"
            .to_owned()
    })
}

/// Refuses a sensitive operator action (revealing a password, approving a payment, changing
/// credentials) when this session has not proved a code in the last [`STEP_UP_WINDOW`]. An
/// account without two-factor sign-in (allowed when `NEXTGENRDP_OPERATOR_2FA=optional`) has
/// nothing to prove.
pub fn require_recent(user: &User, two_factor_at: Option<DateTime<Utc>>) -> AppResult<()> {
    if user.two_factor_enabled_at.is_none() {
        return Ok(());
    }
    match two_factor_at {
        Some(at) if Utc::now() - at <= STEP_UP_WINDOW => Ok(()),
        _ => Err(AppError::TwoFactor(
            "confirm it is you: send a current authenticator code to POST \
             /api/v1/me/two-factor/verify (or the page /account/two-factor/verify), then retry"
                .to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_this_step_and_one_either_side_only() {
        // RFC 6238's SHA-1 test secret; at T = 59 s the 8-digit code is 94287082.
        let secret = b"12345678901234567890";
        let at = DateTime::from_timestamp(59, 0).unwrap();
        assert_eq!(code_at(secret, at), "287082");
        assert_eq!(matching_step(secret, "287082", at), Some(1));
        let later = DateTime::from_timestamp(59 + 30, 0).unwrap();
        assert_eq!(matching_step(secret, "287082", later), Some(1));
        let too_late = DateTime::from_timestamp(59 + 60, 0).unwrap();
        assert_eq!(matching_step(secret, "287082", too_late), None);
        assert_eq!(matching_step(secret, "287083", at), None);
        assert_eq!(matching_step(secret, "28708", at), None);
        assert_eq!(matching_step(secret, "2870820", at), None);
        assert_eq!(matching_step(secret, " 287082 ", at), Some(1));
    }

    #[test]
    fn recovery_codes_carry_eighty_bits_and_read_forgivingly() {
        let codes = fresh_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            assert_eq!(normalize_recovery_code(code).unwrap().len(), 16);
        }
        assert_ne!(codes[0], codes[1]);
        assert_eq!(
            normalize_recovery_code(" K7QM-2X9D h4tw-OBN3 ").as_deref(),
            Some("k7qm2x9dh4tw0bn3")
        );
        assert_eq!(normalize_recovery_code("123456"), None);
        assert_eq!(normalize_recovery_code("k7qm-2x9d-h4tw-0bnu"), None);
    }

    #[test]
    fn the_qr_code_is_an_svg_image() {
        let uri = qr_data_uri("otpauth://totp/NextGenRDP:a@b.pk?secret=ABC&issuer=NextGenRDP");
        assert!(uri.starts_with("data:image/svg+xml;base64,"));
        let svg = base64::engine::general_purpose::STANDARD
            .decode(&uri["data:image/svg+xml;base64,".len()..])
            .unwrap();
        assert!(String::from_utf8(svg).unwrap().contains("<svg"));
    }
}
