//! The account flows, shared by the JSON API and the HTML pages: register, verify e-mail, log
//! in, refresh (rotation with reuse detection), log out, change / forget / reset a password.
//!
//! Each flow is one transaction; the e-mails it causes are enqueued in that transaction (the
//! outbox), so a mail exists exactly when the change that needs it does, and an SMTP outage only
//! delays it.

use chrono::{Duration, Utc};

use super::limits::{self, LOGIN_PER_ACCOUNT, LOGIN_PER_IP};
use super::sessions;
use super::signin::{Client, OpenedSession, SESSION_TTL_DAYS, open_session};
use super::tokens::{self, Purpose};
use super::users::{self, NewUser, User};
use super::validation::{FieldErrors, MAX_PASSWORD_BYTES, parse_person, password_problem};
use super::{Email, Role, device, origins, two_factor};
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::mail;
use crate::secrets;

/// How long an e-mail verification link works.
pub const VERIFICATION_TTL_HOURS: i64 = 24;
/// How long a password reset link works.
pub const RESET_TTL_HOURS: i64 = 1;

/// The refusal for a wrong e-mail or password: the same words and status either way, so the
/// answer does not tell whether an account exists.
fn bad_credentials() -> AppError {
    AppError::Unauthorized
}

/// A bcrypt hash (at the configured cost) of a random password nobody has, checked when the
/// e-mail is unknown so that a login for an unknown account costs the same time as a wrong
/// password.
static DUMMY_HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

async fn dummy_hash(cost: u32) -> AppResult<String> {
    DUMMY_HASH
        .get_or_try_init(|| hash_password(secrets::generate(), cost))
        .await
        .cloned()
}

/// Hashes a password off the async worker threads, on the hashing threads (see
/// [`super::hasher`]: a few, at a lower priority, so a login storm cannot take every core).
pub async fn hash_password(password: String, cost: u32) -> AppResult<String> {
    super::hasher::run(move || super::hash_password(&password, cost))
        .await
        .map_err(AppError::Internal)?
        .map_err(AppError::Internal)
}

/// Verifies a password off the async worker threads, on the hashing threads.
pub async fn verify_password(password: String, hash: String) -> AppResult<bool> {
    super::hasher::run(move || super::verify_password(&password, &hash))
        .await
        .map_err(AppError::Internal)
}

/// What a visitor types to register.
#[derive(Debug)]
pub struct Registration {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub password: String,
    /// A page of this site to come back to after confirming (the checkout a new buyer left):
    /// carried in the verification link.
    pub next: Option<String>,
}

/// Creates an unverified customer account and e-mails a verification link. Every problem of
/// the input is reported at once, by field.
///
/// The answer is the same whether or not the e-mail already has an account, and takes the
/// same time (the password is hashed either way): a taken address is never confirmed to a
/// stranger. Its owner is e-mailed instead ("someone tried to register with your address"), at
/// most a few times an hour.
pub async fn register(state: &Context, input: Registration, ip: &str) -> AppResult<()> {
    limits::limit(
        state,
        &[(limits::ip_key("register", ip), limits::REGISTER_PER_IP)],
    )
    .await?;
    let mut errors = FieldErrors::default();
    let person = parse_person(
        &mut errors,
        &input.name,
        &input.email,
        input.phone.as_deref(),
    );
    if let Some(problem) = password_problem(&input.password) {
        errors.add("password", problem);
    }
    let (Some((name, email, phone)), true) = (person, errors.is_empty()) else {
        return Err(AppError::Validation(errors.0));
    };
    let password_hash = hash_password(input.password, state.settings.bcrypt_cost).await?;

    let mut tx = state.db.begin().await?;
    let created = users::insert_if_new(
        &mut *tx,
        &NewUser {
            name: &name,
            email: email.as_str(),
            phone: phone.as_deref(),
            password_hash: &password_hash,
            role: Role::Customer,
        },
    )
    .await?;
    if let Some(user) = created {
        send_verification(&mut tx, state, &user, input.next.as_deref()).await?;
        tx.commit().await?;
        tracing::info!(user.id = user.id, "registered account {}", user.id);
        return Ok(());
    }
    let owner = users::find_by_email(&mut *tx, email.as_str()).await?;
    let key = format!("register-notice:account:{}", email.as_str());
    let may_mail = crate::web::rate_limit::hit(&mut *tx, &key, limits::REGISTER_NOTICE_PER_ACCOUNT)
        .await
        .is_ok();
    if let Some(owner) = owner.filter(|_| may_mail) {
        let login = format!("{}/login", state.settings.public_url);
        let forgot = format!("{}/forgot-password", state.settings.public_url);
        mail::enqueue(
            &mut *tx,
            &mail::notice_email(
                &owner.email,
                &owner.name,
                "Someone tried to register with your e-mail",
                &[
                    "Someone just tried to create a new NextGenRDP account with this e-mail \
                     address. You already have an account, so nothing was created."
                        .to_owned(),
                    format!(
                        "If it was you, log in at {login}; if you forgot your password, set a \
                         new one at {forgot}. If it was not you, you can ignore this e-mail."
                    ),
                ],
                Some(("Log in", &login)),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!("a registration for an address that has an account changed nothing");
    Ok(())
}

/// Issues a fresh verification token (voiding older ones) and enqueues its e-mail.
pub(super) async fn send_verification(
    tx: &mut sqlx::PgConnection,
    state: &Context,
    user: &User,
    next: Option<&str>,
) -> AppResult<()> {
    tokens::void_for_user(&mut *tx, user.id, Purpose::EmailVerification).await?;
    let token = secrets::generate();
    let expires = Utc::now() + Duration::hours(VERIFICATION_TTL_HOURS);
    tokens::insert(
        &mut *tx,
        user.id,
        Purpose::EmailVerification,
        &secrets::hash(&token),
        expires,
    )
    .await?;
    let mut link = format!("{}/verify-email?token={token}", state.settings.public_url);
    // `next` comes checked from the page (a path of this site); the confirm page checks it
    // again before following it.
    if let Some(next) = next.filter(|next| *next != "/account") {
        link.push('&');
        link.push_str(&serde_urlencoded::to_string([("next", next)]).unwrap_or_default());
    }
    mail::enqueue(
        &mut *tx,
        &mail::verification_email(&user.email, &user.name, &link),
    )
    .await?;
    Ok(())
}

/// Sends a new verification link when the account exists and is unverified. Says nothing
/// either way, so it cannot be used to find out who has an account.
/// Rate-limited per address and per account (an e-mail that cannot be one is a 422).
pub async fn resend_verification(state: &Context, email: &str, ip: &str) -> AppResult<()> {
    limits::limit(
        state,
        &[
            (limits::ip_key("resend", ip), limits::RESEND_PER_IP),
            (
                limits::account_key("resend", email)?,
                limits::RESEND_PER_ACCOUNT,
            ),
        ],
    )
    .await?;
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let mut tx = state.db.begin().await?;
    if let Some(user) = users::find_by_email(&mut *tx, email.as_str()).await?
        && !user.is_verified()
        && user.disabled_at.is_none()
    {
        send_verification(&mut tx, state, &user, None).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Marks the account of a verification token verified; the token works once.
pub async fn verify_email(state: &Context, token: &str) -> AppResult<User> {
    let mut tx = state.db.begin().await?;
    let user_id = tokens::consume(&mut *tx, Purpose::EmailVerification, &secrets::hash(token))
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "token",
                "this link is invalid, used or expired; ask for a new one",
            )
        })?;
    users::mark_verified(&mut *tx, user_id).await?;
    let user = users::find(&mut *tx, user_id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    tx.commit().await?;
    tracing::info!(
        user.id = user.id,
        "verified the e-mail of account {}",
        user.id
    );
    Ok(user)
}

/// What a login with the right password came to.
pub enum LoginOutcome {
    /// Signed in.
    Opened(Box<OpenedSession>),
    /// Two-factor sign-in is on: a code is due, with this single-use token
    /// ([`login_second_step`]) within a few minutes.
    SecondFactor { token: String },
}

/// Checks e-mail and password, with the login rate limits, and opens a session, or leads to the
/// second step when the account has two-factor sign-in. Unknown e-mail and wrong password answer
/// alike and take the same time; a disabled account is refused only after a correct password.
///
/// Rate limits: per IP, and per account by origin. Attempts from addresses and browsers the
/// account never logged in from share one bucket per account; an address it logged in from in
/// the last 90 days ([`origins`]), or a browser holding its login-device cookie ([`device`]),
/// counts in a bucket of its own. Guessing stays capped per account, but a stranger failing from
/// rotating addresses cannot lock the owner out of their usual address or browser. (Chosen over
/// exponential back-off, which a stranger would still drive for everybody.)
///
/// bcrypt reads a password's first 72 bytes only: a longer one is refused (422) rather than
/// silently cut. A hash in the old site's `$2y$`/`$2a$` form, or of a lower cost than
/// configured, is replaced at this login.
pub async fn login(
    state: &Context,
    email: &str,
    password: &str,
    client: &Client,
) -> AppResult<LoginOutcome> {
    let ip = client.ip.as_deref().unwrap_or("unknown");
    limits::limit(state, &[(limits::ip_key("login", ip), LOGIN_PER_IP)]).await?;
    let email = Email::parse(email).map_err(|problem| AppError::invalid("email", problem))?;
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::invalid(
            "password",
            "is longer than 72 bytes, more than a password can be here; if yours is, set a new \
             one with \"Forgot your password?\"",
        ));
    }
    let user = users::find_by_email(&state.db, email.as_str()).await?;
    let account = format!("login:account:{}", email.as_str());
    let device = client
        .device
        .as_deref()
        .and_then(|value| device::verify(state.settings.secrets.token_signing_key.expose(), value))
        .filter(|(id, _)| user.as_ref().is_some_and(|u| u.id == *id));
    let bucket = match device {
        Some((_, nonce)) => format!("{account}:device:{nonce}"),
        None if origins::is_familiar(&state.db, email.as_str(), ip).await? => {
            format!("{account}:ip:{ip}")
        }
        None => account,
    };
    limits::limit(state, &[(bucket, LOGIN_PER_ACCOUNT)]).await?;

    let hash = match &user {
        Some(user) => user.password_hash.clone(),
        None => dummy_hash(state.settings.bcrypt_cost).await?,
    };
    let matches = verify_password(password.to_owned(), hash).await?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(bad_credentials());
    };
    if user.disabled_at.is_some() {
        return Err(AppError::Forbidden(
            "this account is disabled; contact support".into(),
        ));
    }
    let rehashed = if needs_rehash(&user.password_hash, state.settings.bcrypt_cost) {
        Some(hash_password(password.to_owned(), state.settings.bcrypt_cost).await?)
    } else {
        None
    };
    let mut tx = state.db.begin().await?;
    if let Some(hash) = &rehashed {
        users::update_password_hash(&mut *tx, user.id, hash).await?;
        tracing::info!(user.id = user.id, "password hash upgraded at login");
    }
    if user.two_factor_enabled_at.is_some() {
        let token = two_factor::begin_login(&mut tx, &user, client).await?;
        tx.commit().await?;
        return Ok(LoginOutcome::SecondFactor { token });
    }
    let opened = open_session(&mut tx, user, client, false).await?;
    users::record_login(&mut *tx, opened.user.id).await?;
    if let Some(ip) = client.ip.as_deref() {
        origins::record(&mut *tx, opened.user.id, ip).await?;
    }
    tx.commit().await?;
    tracing::info!(
        user.id = opened.user.id,
        session.id = opened.session.id,
        "logged in"
    );
    Ok(LoginOutcome::Opened(Box::new(opened)))
}

/// Whether a stored hash should be replaced at the next login: not in bcrypt's `$2b$` form (the
/// old site's `$2y$` and `$2a$` hashes), or made at a lower cost than configured.
pub fn needs_rehash(hash: &str, cost: u32) -> bool {
    let mut parts = hash.split('$');
    let (Some(""), Some(version), Some(stored_cost)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    version != "2b" || stored_cost.parse::<u32>().is_ok_and(|stored| stored < cost)
}

/// The second step of a login: a code from the authenticator app (or a recovery code) for the
/// token [`login`] handed out. Rate-limited per IP and per account.
pub async fn login_second_step(
    state: &Context,
    token: &str,
    code: &str,
    client: &Client,
) -> AppResult<OpenedSession> {
    let ip = client.ip.as_deref().unwrap_or("unknown");
    limits::limit(
        state,
        &[(limits::ip_key("two-factor", ip), limits::TWO_FACTOR_PER_IP)],
    )
    .await?;
    if let Some(user_id) = two_factor::challenge_user(&state.db, token).await? {
        limits::limit(
            state,
            &[(
                format!("two-factor:account:{user_id}"),
                limits::TWO_FACTOR_PER_ACCOUNT,
            )],
        )
        .await?;
    }
    let (opened, _) = two_factor::finish_login(state, token, code, client).await?;
    Ok(opened)
}

/// A login-device cookie value for `user_id` (pages set it after a successful login).
pub fn device_cookie_value(state: &Context, user_id: i32) -> String {
    device::issue(state.settings.secrets.token_signing_key.expose(), user_id)
}

/// Trades a refresh token for a new one. A token that was already rotated away means it was
/// copied: the whole session is revoked and the caller must log in again.
pub async fn refresh(state: &Context, token: &str) -> AppResult<OpenedSession> {
    let hash = secrets::hash(token);
    let mut tx = state.db.begin().await?;
    let Some(session) = sessions::find_by_token_hash_for_update(&mut *tx, &hash).await? else {
        if let Some(session_id) = sessions::find_by_retired_token_hash(&mut *tx, &hash).await? {
            let revoked = sessions::revoke_by_id(&mut *tx, session_id, "token_reuse").await?;
            tx.commit().await?;
            if let Some(user_id) = revoked {
                tracing::warn!(
                    user.id = user_id,
                    session.id = session_id,
                    "refresh token reused: session {session_id} revoked"
                );
            }
            return Err(AppError::Forbidden(
                "this refresh token was already used; the session has been ended, log in again"
                    .into(),
            ));
        }
        return Err(AppError::Unauthorized);
    };
    if !session.is_live(Utc::now()) {
        return Err(AppError::Unauthorized);
    }
    let Some(live) = sessions::find_live_user(&mut *tx, session.id).await? else {
        return Err(AppError::Unauthorized);
    };
    let new_token = secrets::generate();
    sessions::rotate(
        &mut tx,
        session.id,
        &hash,
        &secrets::hash(&new_token),
        Utc::now() + Duration::days(SESSION_TTL_DAYS),
    )
    .await?;
    let session = sessions::find(&mut *tx, session.id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    tx.commit().await?;
    Ok(OpenedSession {
        user: live.user,
        session,
        token: new_token,
    })
}

/// Changes the password of a logged-in user who knows the current one, and ends every other
/// session of the account.
pub async fn change_password(
    state: &Context,
    user: &User,
    current_session: i32,
    current_password: &str,
    new_password: &str,
) -> AppResult<()> {
    if !verify_password(current_password.to_owned(), user.password_hash.clone()).await? {
        return Err(AppError::invalid(
            "current_password",
            "is not your current password",
        ));
    }
    if let Some(problem) = password_problem(new_password) {
        return Err(AppError::invalid("new_password", problem));
    }
    let hash = hash_password(new_password.to_owned(), state.settings.bcrypt_cost).await?;
    let mut tx = state.db.begin().await?;
    users::update_password_hash(&mut *tx, user.id, &hash).await?;
    sessions::revoke_all_for_user(&mut *tx, user.id, Some(current_session), "password_changed")
        .await?;
    tokens::void_for_user(&mut *tx, user.id, Purpose::PasswordReset).await?;
    mail::enqueue(
        &mut *tx,
        &mail::password_changed_email(&user.email, &user.name),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        user.id = user.id,
        "changed the password of account {}",
        user.id
    );
    Ok(())
}

/// E-mails a reset link if an enabled account has this address; silent either way.
pub async fn forgot_password(state: &Context, email: &str, ip: &str) -> AppResult<()> {
    limits::limit(
        state,
        &[
            (limits::ip_key("forgot", ip), limits::FORGOT_PER_IP),
            (
                limits::account_key("forgot", email)?,
                limits::FORGOT_PER_ACCOUNT,
            ),
        ],
    )
    .await?;
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let mut tx = state.db.begin().await?;
    if let Some(user) = users::find_by_email(&mut *tx, email.as_str()).await?
        && user.disabled_at.is_none()
    {
        tokens::void_for_user(&mut *tx, user.id, Purpose::PasswordReset).await?;
        let token = secrets::generate();
        let expires = Utc::now() + Duration::hours(RESET_TTL_HOURS);
        tokens::insert(
            &mut *tx,
            user.id,
            Purpose::PasswordReset,
            &secrets::hash(&token),
            expires,
        )
        .await?;
        let link = format!("{}/reset-password?token={token}", state.settings.public_url);
        mail::enqueue(
            &mut *tx,
            &mail::password_reset_email(&user.email, &user.name, &link),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Sets a new password with a reset token (once), and ends every session of the account.
pub async fn reset_password(
    state: &Context,
    token: &str,
    password: &str,
    ip: &str,
) -> AppResult<User> {
    limits::limit(
        state,
        &[(limits::ip_key("reset", ip), limits::RESET_PER_IP)],
    )
    .await?;
    if let Some(problem) = password_problem(password) {
        return Err(AppError::invalid("password", problem));
    }
    let hash = hash_password(password.to_owned(), state.settings.bcrypt_cost).await?;
    let mut tx = state.db.begin().await?;
    let user_id = tokens::consume(&mut *tx, Purpose::PasswordReset, &secrets::hash(token))
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "token",
                "this link is invalid, used or expired; ask for a new one",
            )
        })?;
    users::update_password_hash(&mut *tx, user_id, &hash).await?;
    // Whoever could read the mailbox could reset; whoever held a session must not keep it.
    sessions::revoke_all_for_user(&mut *tx, user_id, None, "password_reset").await?;
    // Receiving the link proves the address.
    users::mark_verified(&mut *tx, user_id).await?;
    let user = users::find(&mut *tx, user_id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    mail::enqueue(
        &mut *tx,
        &mail::password_changed_email(&user.email, &user.name),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user.id = user_id, "reset the password of account {user_id}");
    Ok(user)
}
