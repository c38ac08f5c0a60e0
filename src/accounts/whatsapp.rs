//! A customer's notification channels: e-mail only, or e-mail + WhatsApp to a number they
//! proved is theirs (a 6-digit code sent to it over WhatsApp, typed back within 15 minutes, at
//! most 5 tries). [`notify_in`] is how every domain sends a WhatsApp notice: it queues the
//! template message only for a customer who chose WhatsApp.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::FromRow;
use utoipa::ToSchema;

use super::limits;
use super::users::User;
use crate::context::Context;
use crate::db::timed;
use crate::error::{AppError, AppResult};
use crate::mail::whatsapp::{self, TemplateMessage};

/// How long a code works.
const CODE_MINUTES: i64 = 15;
/// Wrong codes before it must be sent again.
const MAX_ATTEMPTS: i32 = 5;

/// A customer's notification channels as they stand.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Channels {
    /// Whether this shop sends WhatsApp messages at all.
    pub whatsapp_available: bool,
    /// `email` or `email_whatsapp`.
    pub channels: String,
    /// The verified WhatsApp number (international digits).
    pub whatsapp_number: Option<String>,
    pub whatsapp_verified_at: Option<DateTime<Utc>>,
    /// A number a code was sent to and not yet confirmed.
    pub pending_number: Option<String>,
}

#[derive(FromRow)]
struct Row {
    whatsapp_number: Option<String>,
    whatsapp_verified_at: Option<DateTime<Utc>>,
    notify_whatsapp: bool,
    pending_number: Option<String>,
}

/// The customer's channels.
pub async fn channels(ctx: &Context, user_id: i32) -> AppResult<Channels> {
    let row: Row = timed(
        "users.whatsapp",
        sqlx::query_as(
            "select u.whatsapp_number, u.whatsapp_verified_at, u.notify_whatsapp,
                    v.number as pending_number
             from users u left join whatsapp_verifications v
                  on v.user_id = u.id and v.expires_at > now() and v.attempts < $2
             where u.id = $1",
        )
        .bind(user_id)
        .bind(MAX_ATTEMPTS)
        .fetch_one(&ctx.db),
    )
    .await?;
    Ok(Channels {
        whatsapp_available: ctx.settings.whatsapp_enabled,
        channels: if row.notify_whatsapp {
            "email_whatsapp".to_owned()
        } else {
            "email".to_owned()
        },
        whatsapp_number: row
            .whatsapp_number
            .filter(|_| row.whatsapp_verified_at.is_some()),
        whatsapp_verified_at: row.whatsapp_verified_at,
        pending_number: row.pending_number,
    })
}

fn code_hash(user_id: i32, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{user_id}:{code}").as_bytes()))
}

fn new_code() -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the operating system has no randomness");
    format!("{:06}", u32::from_le_bytes(bytes) % 1_000_000)
}

fn unavailable() -> AppError {
    AppError::conflict("whatsapp", "this shop does not send WhatsApp messages")
}

/// Sends a code over WhatsApp to `number` (`+92 300 1234567`, `0300-1234567`), replacing any
/// earlier one. 422 `number` for something that is not a number; 409 when the shop has no
/// WhatsApp; 429 after 5 codes in an hour.
pub async fn send_code(ctx: &Context, user: &User, number: &str) -> AppResult<String> {
    if !ctx.settings.whatsapp_enabled {
        return Err(unavailable());
    }
    let digits = crate::config::international_digits(number).ok_or_else(|| {
        AppError::invalid(
            "number",
            "write the WhatsApp number as +92 300 1234567 or 0300-1234567",
        )
    })?;
    limits::limit(
        ctx,
        &[(
            format!("whatsapp_code:account:{}", user.id),
            limits::WHATSAPP_CODES_PER_ACCOUNT,
        )],
    )
    .await?;
    let code = new_code();
    let mut tx = ctx.db.begin().await?;
    timed(
        "whatsapp_verifications.upsert",
        sqlx::query(
            "insert into whatsapp_verifications (user_id, number, code_hash, expires_at)
             values ($1, $2, $3, $4)
             on conflict (user_id) do update set number = excluded.number,
                 code_hash = excluded.code_hash, attempts = 0,
                 expires_at = excluded.expires_at, created_at = now()",
        )
        .bind(user.id)
        .bind(&digits)
        .bind(code_hash(user.id, &code))
        .bind(Utc::now() + Duration::minutes(CODE_MINUTES))
        .execute(&mut *tx),
    )
    .await?;
    whatsapp::enqueue(
        &mut *tx,
        &TemplateMessage {
            to: digits.clone(),
            template: whatsapp::VERIFICATION_CODE.to_owned(),
            parameters: vec![code],
        },
    )
    .await?;
    tx.commit().await?;
    Ok(digits)
}

/// Confirms the code sent to the pending number: the number becomes the account's and
/// WhatsApp notices are turned on. A wrong, expired or used-up code is a 422 `code`.
pub async fn confirm_code(ctx: &Context, user: &User, code: &str) -> AppResult<Channels> {
    let code = code.trim();
    let mut tx = ctx.db.begin().await?;
    let pending: Option<(String, String, i32, DateTime<Utc>)> = timed(
        "whatsapp_verifications.find",
        sqlx::query_as(
            "select number, code_hash, attempts, expires_at from whatsapp_verifications
             where user_id = $1 for update",
        )
        .bind(user.id)
        .fetch_optional(&mut *tx),
    )
    .await?;
    let Some((number, hash, attempts, expires_at)) = pending else {
        return Err(AppError::invalid("code", "ask for a code first"));
    };
    if attempts >= MAX_ATTEMPTS || expires_at <= Utc::now() {
        return Err(AppError::invalid(
            "code",
            "this code no longer works; ask for a new one",
        ));
    }
    let right = code.len() == 6
        && code.bytes().all(|b| b.is_ascii_digit())
        && crate::crypto::constant_time_eq(code_hash(user.id, code).as_bytes(), hash.as_bytes());
    if !right {
        timed(
            "whatsapp_verifications.miss",
            sqlx::query(
                "update whatsapp_verifications set attempts = attempts + 1 where user_id = $1",
            )
            .bind(user.id)
            .execute(&mut *tx),
        )
        .await?;
        tx.commit().await?;
        let left = MAX_ATTEMPTS - attempts - 1;
        return Err(AppError::invalid(
            "code",
            if left > 0 {
                format!("that is not the code we sent; {left} tries left")
            } else {
                "that is not the code we sent; ask for a new one".to_owned()
            },
        ));
    }
    timed(
        "users.whatsapp_verified",
        sqlx::query(
            "update users set whatsapp_number = $2, whatsapp_verified_at = now(),
                 notify_whatsapp = true where id = $1",
        )
        .bind(user.id)
        .bind(&number)
        .execute(&mut *tx),
    )
    .await?;
    timed(
        "whatsapp_verifications.delete",
        sqlx::query("delete from whatsapp_verifications where user_id = $1")
            .bind(user.id)
            .execute(&mut *tx),
    )
    .await?;
    tx.commit().await?;
    channels(ctx, user.id).await
}

/// E-mail only (`whatsapp` false), or e-mail + WhatsApp, which needs a verified number (409).
pub async fn set_whatsapp(ctx: &Context, user: &User, whatsapp: bool) -> AppResult<Channels> {
    if whatsapp && !ctx.settings.whatsapp_enabled {
        return Err(unavailable());
    }
    let changed = timed(
        "users.notify_whatsapp",
        sqlx::query(
            "update users set notify_whatsapp = $2
             where id = $1 and ($2 = false or whatsapp_verified_at is not null)",
        )
        .bind(user.id)
        .bind(whatsapp)
        .execute(&ctx.db),
    )
    .await?;
    if changed.rows_affected() == 0 {
        return Err(AppError::conflict(
            "whatsapp",
            "verify a WhatsApp number first",
        ));
    }
    channels(ctx, user.id).await
}

/// Queues `template` with `parameters` to the customer's WhatsApp, in the caller's transaction,
/// when they chose e-mail + WhatsApp (else nothing).
pub async fn notify_in(
    tx: &mut sqlx::PgConnection,
    user_id: i32,
    template: &str,
    parameters: &[String],
) -> sqlx::Result<()> {
    let number: Option<String> = timed(
        "users.whatsapp_recipient",
        sqlx::query_scalar(
            "select whatsapp_number from users
             where id = $1 and notify_whatsapp and whatsapp_verified_at is not null
               and disabled_at is null",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx),
    )
    .await?
    .flatten();
    if let Some(to) = number {
        whatsapp::enqueue(
            &mut *tx,
            &TemplateMessage {
                to,
                template: template.to_owned(),
                parameters: parameters.to_vec(),
            },
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = super::new_code();
            assert_eq!(code.len(), 6, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
