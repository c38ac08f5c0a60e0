//! The operator's verbs on accounts (each audited in its transaction).

use serde_json::json;

use super::sessions;
use super::users::{self, User};
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::web::forms::{parse_day, pkt_midnight};

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

/// The audit log's filters as the API's query and the page's form give them; dates are PKT
/// days (`2026-12-01`), `to` included.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The operator's account id.
    pub actor: Option<String>,
    /// `user`, `payment`, `order`, `service`, `plan`, …
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// An action or its start (`payment.` for every payment action).
    pub action: Option<String>,
    /// From this PKT day (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// To this PKT day, included.
    pub to: Option<String>,
    /// The page, from 1.
    pub page: Option<String>,
    /// Entries per page, 1 to 100 (the API's; the page shows 50).
    pub per_page: Option<String>,
}

impl AuditQuery {
    /// The filter, or 400 naming the field that makes no sense.
    pub fn filter(&self) -> AppResult<audit::AuditFilter> {
        let text = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let actor =
            match text(&self.actor) {
                Some(actor) => Some(actor.parse::<i32>().map_err(|_| {
                    AppError::bad_request("actor", "must be an operator's account id")
                })?),
                None => None,
            };
        let from = parse_day("from", self.from.as_deref())?;
        let to = parse_day("to", self.to.as_deref())?;
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(AppError::bad_request("to", "must not be before from"));
        }
        Ok(audit::AuditFilter {
            actor,
            entity_type: text(&self.entity_type),
            entity_id: text(&self.entity_id),
            action: text(&self.action),
            from: from.map(pkt_midnight),
            to: to.and_then(|d| d.succ_opt()).map(pkt_midnight),
        })
    }

    /// The page asked for (1 when absent), or 400.
    pub fn page(&self) -> AppResult<i64> {
        number(&self.page, "page", 1, 1_000_000, 1)
    }

    /// Entries per page (`default` when absent), or 400.
    pub fn per_page(&self, default: i64) -> AppResult<i64> {
        number(&self.per_page, "per_page", 1, 100, default)
    }
}

fn number(value: &Option<String>, field: &str, min: i64, max: i64, default: i64) -> AppResult<i64> {
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| AppError::bad_request(field, format!("must be from {min} to {max}"))),
    }
}

/// An audit entry as the back office shows it: who (by name), and what changed, field by field.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuditLine {
    #[serde(flatten)]
    pub entry: audit::AuditEntry,
    /// The operator's name; null when the account is gone or no one acted (the system).
    pub actor_name: Option<String>,
    pub changes: Vec<audit::Change>,
}

/// A page of the audit log, newest first, with the actors' names.
pub async fn audit_page(
    db: &sqlx::PgPool,
    filter: &audit::AuditFilter,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<AuditLine>, crate::db::total::Total)> {
    let total = audit::count(db, filter).await?;
    let entries = audit::list(db, filter, limit, offset).await?;
    let mut names = std::collections::BTreeMap::new();
    for id in entries.iter().filter_map(|e| e.actor_user_id) {
        if let std::collections::btree_map::Entry::Vacant(slot) = names.entry(id)
            && let Some(user) = users::find(db, id).await?
        {
            slot.insert(user.name);
        }
    }
    let lines = entries
        .into_iter()
        .map(|entry| AuditLine {
            actor_name: entry.actor_user_id.and_then(|id| names.get(&id).cloned()),
            changes: audit::changes(entry.before.as_ref(), entry.after.as_ref()),
            entry,
        })
        .collect();
    Ok((lines, total))
}
