//! The owner's verbs on the staff: invite someone (an account of a staff role, and an e-mailed
//! link to set its password), change a staff member's role, and the invited person's accepting
//! the invitation. Each audited in its transaction.

use chrono::{Duration, Utc};
use serde_json::json;

use super::auth::hash_password;
use super::tokens::{self, Purpose};
use super::users::{self, NewUser, User};
use super::validation::{parse_name, password_problem};
use super::{Email, Role, sessions};
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::{mail, secrets};

/// How long an invitation's link works.
pub const INVITE_TTL_DAYS: i64 = 7;

/// Invites `name` at `email` to the staff as `role`: the account is made (unconfirmed, with no
/// password anyone knows) and the link to choose its password is e-mailed. An address that
/// already has an account is refused (409: change that account's role instead).
pub async fn invite(
    ctx: &Context,
    actor: &Actor<'_>,
    name: &str,
    email: &str,
    role: Role,
) -> AppResult<User> {
    let name = parse_name(name).map_err(|why| AppError::invalid("name", why))?;
    let email = Email::parse(email).map_err(|why| AppError::invalid("email", why))?;
    if !role.is_staff() {
        return Err(AppError::invalid(
            "role",
            "must be a staff role: owner, billing, support or technical",
        ));
    }
    // A password nobody knows until the invitation is accepted.
    let hash = hash_password(secrets::generate(), ctx.settings.bcrypt_cost).await?;
    let mut tx = ctx.db.begin().await?;
    if users::find_by_email(&mut *tx, email.as_str())
        .await?
        .is_some()
    {
        return Err(AppError::conflict(
            "email",
            "an account with this e-mail exists: change its role on the staff page instead",
        ));
    }
    let user = users::insert(
        &mut *tx,
        &NewUser {
            name: &name,
            email: email.as_str(),
            phone: None,
            password_hash: &hash,
            role,
        },
    )
    .await?;
    let token = secrets::generate();
    tokens::insert(
        &mut *tx,
        user.id,
        Purpose::StaffInvite,
        &secrets::hash(&token),
        Utc::now() + Duration::days(INVITE_TTL_DAYS),
    )
    .await?;
    let link = format!("{}/invite?token={token}", ctx.settings.public_url);
    let inviter = users::find(&mut *tx, actor.user_id)
        .await?
        .map_or_else(|| "The shop's owner".to_owned(), |u| u.name);
    mail::enqueue(
        &mut *tx,
        &mail::notice_email(
            &user.email,
            &user.name,
            "You are invited to NextGenRDP's back office",
            &[
                format!(
                    "{inviter} invited you to run NextGenRDP with them, as {} ({}).",
                    role,
                    role_in_words(role)
                ),
                format!(
                    "Choose your password with the button below (the link works once, for {INVITE_TTL_DAYS} days). \
                     When you first log in you set up two-factor sign-in with an authenticator app on your phone."
                ),
            ],
            Some(("Choose your password", &link)),
        ),
    )
    .await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            after: Some(json!({ "email": user.email, "name": user.name, "role": role })),
            ..actor.entry("staff.invite", "user", Some(&user.id.to_string()))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// What a role does, for the invitation.
pub fn role_in_words(role: Role) -> &'static str {
    match role {
        Role::Owner => "everything, the staff included",
        Role::Billing => "orders, payments, refunds, invoices and promo codes",
        Role::Support => "customers, tickets and customers' requests",
        Role::Technical => "services, provisioning, backends and credentials",
        Role::Customer => "buying",
    }
}

/// Gives account `id` another role. Refused (409) for one's own account, and for the last
/// enabled owner (the shop would have no one to manage the staff). A change ends the account's
/// sessions, so it logs in again into what its new role opens.
pub async fn set_role(ctx: &Context, actor: &Actor<'_>, id: i32, role: Role) -> AppResult<User> {
    if id == actor.user_id {
        return Err(AppError::conflict(
            "id",
            "you cannot change your own role: another owner can",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    // Owners are counted under their rows' locks, so two demotions cannot both pass.
    let owners: Vec<i32> = sqlx::query_scalar(
        "select id from users where role = 'owner' and disabled_at is null for update",
    )
    .fetch_all(&mut *tx)
    .await?;
    let before = users::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    if before.role == role {
        tx.commit().await?;
        return Ok(before);
    }
    if before.role == Role::Owner && owners.iter().all(|owner| *owner == id) {
        return Err(AppError::conflict(
            "role",
            "this is the last owner: make someone else owner first",
        ));
    }
    users::set_role(&mut *tx, id, role).await?;
    sessions::revoke_all_for_user(&mut *tx, id, None, "user_revoked").await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!({ "role": before.role })),
            after: Some(json!({ "role": role })),
            ..actor.entry("staff.role", "user", Some(&id.to_string()))
        },
    )
    .await?;
    let after = users::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    tx.commit().await?;
    Ok(after)
}

/// The invited person chooses their password: the link's token is spent, the account's
/// address confirmed (the link proves it).
pub async fn accept_invite(ctx: &Context, token: &str, password: &str) -> AppResult<User> {
    if let Some(problem) = password_problem(password) {
        return Err(AppError::invalid("password", problem));
    }
    let hash = hash_password(password.to_owned(), ctx.settings.bcrypt_cost).await?;
    let mut tx = ctx.db.begin().await?;
    let user_id = tokens::consume(&mut *tx, Purpose::StaffInvite, &secrets::hash(token))
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "token",
                "this invitation is invalid, used or expired; ask the owner for a new one",
            )
        })?;
    users::update_password_hash(&mut *tx, user_id, &hash).await?;
    users::mark_verified(&mut *tx, user_id).await?;
    let user = users::find(&mut *tx, user_id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: Some(user.id),
            action: "staff.accept_invite",
            entity_type: "user",
            entity_id: Some(&user.id.to_string()),
            before: None,
            after: Some(json!({ "role": user.role })),
            ip_address: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}
