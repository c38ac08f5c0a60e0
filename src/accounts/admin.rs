//! The operator's verbs on accounts (each audited in its transaction).

use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::auth::{hash_password, send_verification};
use super::tokens::{self, Purpose};
use super::users::{self, NewUser, User};
use super::validation::{FieldErrors, parse_name, parse_person, parse_phone};
use super::{Email, Role, sessions};
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::web::forms::{parse_day, pkt_midnight};
use crate::{mail, secrets};

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

/// A customer account an operator opens (on the phone, say): who it is for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub name: String,
    pub email: String,
    /// Pakistani mobile, as people write it (`0300-1234567`, `+92 300 1234567`).
    pub phone: Option<String>,
}

/// How long the "choose your password" link of an account an operator opened works.
pub const OPENED_ACCOUNT_TTL_DAYS: i64 = 7;

/// Opens a customer account for someone (audited as `user.create`). The operator never knows
/// its password: the customer is e-mailed a link to choose one (it works once, for 7 days, and
/// confirms the address). 422 naming each field at fault; 409 when the e-mail has an account.
pub async fn create_customer(
    state: &Context,
    actor: &Actor<'_>,
    input: &NewCustomer,
) -> AppResult<User> {
    let mut errors = FieldErrors::default();
    let Some((name, email, phone)) = parse_person(
        &mut errors,
        &input.name,
        &input.email,
        input.phone.as_deref(),
    ) else {
        return Err(AppError::Validation(errors.0));
    };
    // A password nobody knows until the customer chooses one.
    let hash = hash_password(secrets::generate(), state.settings.bcrypt_cost).await?;
    let mut tx = state.db.begin().await?;
    let user = users::insert_if_new(
        &mut *tx,
        &NewUser {
            name: &name,
            email: email.as_str(),
            phone: phone.as_deref(),
            password_hash: &hash,
            role: Role::Customer,
        },
    )
    .await?
    .ok_or_else(|| AppError::conflict("email", "an account with this e-mail exists"))?;
    let token = secrets::generate();
    tokens::insert(
        &mut *tx,
        user.id,
        Purpose::PasswordReset,
        &secrets::hash(&token),
        Utc::now() + Duration::days(OPENED_ACCOUNT_TTL_DAYS),
    )
    .await?;
    let link = format!("{}/reset-password?token={token}", state.settings.public_url);
    mail::enqueue(
        &mut *tx,
        &mail::notice_email(
            &user.email,
            &user.name,
            "Your NextGenRDP account is ready: choose your password",
            &[
                "We opened a NextGenRDP account for you with this e-mail address.".to_owned(),
                format!(
                    "Choose your password to log in (the link works once, for {OPENED_ACCOUNT_TTL_DAYS} days)."
                ),
            ],
            Some(("Choose your password", &link)),
        ),
    )
    .await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            after: Some(json!({ "name": user.name, "email": user.email, "phone": user.phone })),
            ..actor.entry("user.create", "user", Some(&user.id.to_string()))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// An operator's change to an account's profile: each field given replaces what is there.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    pub name: Option<String>,
    /// An empty string removes the phone number.
    pub phone: Option<String>,
    /// A new address is unconfirmed until the customer follows the link e-mailed to it.
    pub email: Option<String>,
}

/// Changes an account's name, phone or e-mail (audited as `user.update`, before → after). A new
/// e-mail must be confirmed again: a link is sent to it. 422 naming each field at fault; 409 when
/// another account has the e-mail; 403 when a non-owner touches another staff member's account.
pub async fn update_profile(
    state: &Context,
    actor: &Actor<'_>,
    id: i32,
    change: &ProfileChange,
) -> AppResult<User> {
    let mut errors = FieldErrors::default();
    let name = change
        .name
        .as_deref()
        .and_then(|name| errors.check("name", parse_name(name)));
    let phone = match change.phone.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(phone) => errors.check("phone", parse_phone(phone)).map(Some),
    };
    let email = change
        .email
        .as_deref()
        .and_then(|email| errors.check("email", Email::parse(email)));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    let mut tx = state.db.begin().await?;
    let before = users::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    // A staff account's e-mail leads to its password: only an owner changes one.
    if before.is_staff() && id != actor.user_id {
        let owner = users::find(&mut *tx, actor.user_id)
            .await?
            .is_some_and(|u| u.role == Role::Owner);
        if !owner {
            return Err(AppError::Forbidden(
                "only an owner changes a staff member's account".to_owned(),
            ));
        }
    }
    let mut after = users::update_profile(
        &mut *tx,
        id,
        name.as_deref().unwrap_or(&before.name),
        match &phone {
            Some(phone) => phone.as_deref(),
            None => before.phone.as_deref(),
        },
    )
    .await?
    .ok_or(AppError::NotFound("account"))?;
    if let Some(email) = email.filter(|e| !e.as_str().eq_ignore_ascii_case(&before.email)) {
        if users::find_by_email(&mut *tx, email.as_str())
            .await?
            .is_some()
        {
            return Err(AppError::conflict(
                "email",
                "another account has this e-mail",
            ));
        }
        after = users::change_email(&mut *tx, id, email.as_str())
            .await?
            .ok_or(AppError::NotFound("account"))?;
        send_verification(&mut tx, state, &after, None).await?;
    }
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(
                json!({ "name": before.name, "email": before.email, "phone": before.phone }),
            ),
            after: Some(json!({ "name": after.name, "email": after.email, "phone": after.phone })),
            ..actor.entry("user.update", "user", Some(&id.to_string()))
        },
    )
    .await?;
    tx.commit().await?;
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
