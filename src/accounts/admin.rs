//! The operator's verbs on accounts (each audited in its transaction).

use serde_json::json;

use super::sessions;
use super::users::{self, User};
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::error::{AppError, AppResult};

/// Disables or re-enables an account; disabling ends its sessions at once. Audited.
pub async fn set_disabled(
    state: &Context,
    actor: &Actor<'_>,
    id: i32,
    disabled: bool,
) -> AppResult<User> {
    if disabled && id == actor.user_id {
        return Err(AppError::conflict(
            "id",
            "you cannot disable your own account",
        ));
    }
    let mut tx = state.db.begin().await?;
    let before = users::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    users::set_disabled(&mut *tx, id, disabled).await?;
    if disabled {
        sessions::revoke_all_for_user(&mut *tx, id, None, "account_disabled").await?;
    }
    let after = users::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!({ "disabled_at": before.disabled_at })),
            after: Some(json!({ "disabled_at": after.disabled_at })),
            ..actor.entry(
                if disabled {
                    "user.disable"
                } else {
                    "user.enable"
                },
                "user",
                Some(&id.to_string()),
            )
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        user.id = id,
        admin.id = actor.user_id,
        "account {id} disabled={disabled}"
    );
    Ok(after)
}

/// Ends every session of an account (it must log in again on each device), returning how
/// many ended. Audited as `user.end_sessions`.
pub async fn end_sessions(state: &Context, actor: &Actor<'_>, id: i32) -> AppResult<u64> {
    let mut tx = state.db.begin().await?;
    users::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    let ended = sessions::revoke_all_for_user(&mut *tx, id, None, "ended_by_operator").await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            after: Some(json!({ "sessions_ended": ended })),
            ..actor.entry("user.end_sessions", "user", Some(&id.to_string()))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

/// Sends an unverified account a new confirmation link (the old ones stop working). An
/// account already confirmed, or disabled, is refused with 409. Audited as
/// `user.resend_verification`.
pub async fn resend_verification(state: &Context, actor: &Actor<'_>, id: i32) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let user = users::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    if user.is_verified() {
        return Err(AppError::conflict(
            "id",
            "this e-mail address is already confirmed",
        ));
    }
    if user.disabled_at.is_some() {
        return Err(AppError::conflict(
            "id",
            "the account is disabled: enable it first",
        ));
    }
    super::auth::send_verification(&mut tx, state, &user, None).await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            after: Some(json!({ "email": user.email })),
            ..actor.entry("user.resend_verification", "user", Some(&id.to_string()))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
