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
