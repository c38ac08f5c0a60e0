//! The operator's verbs on provisioning backends: create, change and delete a backend (its API
//! token secret sealed), set and remove the template it clones for a plan, add and remove the
//! addresses of its pool. Each checks, writes, audits in its transaction and commits; the admin
//! API and the back office's pages parse their input and call the same verb.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::Provisioning;
use super::backends::{self, Backend, BackendFields, Template};
use crate::audit::{self, Actor, NewAuditEntry};
use crate::error::{AppError, AppResult, ResultExt};

/// A sealed-looking value that satisfies the row check until the real secret, sealed for the
/// new id, replaces it in the same transaction.
const PLACEHOLDER_SECRET: &str = "v1:00000000:placeholder";

/// A backend as the audit log records it: every field but the token secret, and whether one is
/// set (the API's view of it).
fn audit_view(backend: &Backend) -> Value {
    let mut value = serde_json::to_value(backend).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "has_token".into(),
            backend.token_secret_encrypted.is_some().into(),
        );
    }
    value
}

async fn audit_backend(
    tx: &mut sqlx::PgConnection,
    actor: &Actor<'_>,
    action: &str,
    id: i32,
    before: Option<Value>,
    after: Option<Value>,
) -> AppResult<()> {
    let entity = id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before,
            after,
            ..actor.entry(action, "provisioning_backend", Some(&entity))
        },
    )
    .await?;
    Ok(())
}

fn name_taken() -> AppError {
    AppError::conflict("name", "another backend already has this name")
}

fn location_taken() -> AppError {
    AppError::conflict("location_id", "this location already has an active backend")
}

/// Seals a backend's API token secret for its id and stores it, in the change's transaction.
async fn store_token_secret(
    ctx: &Provisioning,
    tx: &mut sqlx::PgConnection,
    id: i32,
    secret: &str,
) -> AppResult<()> {
    let sealed = ctx.keyring.seal(secret, &Provisioning::backend_context(id));
    backends::set_token_secret(tx, id, &sealed).await?;
    Ok(())
}

/// Creates a backend from checked fields; its API token secret (a Proxmox backend's) is stored
/// sealed for its id.
pub async fn create_backend(
    db: &sqlx::PgPool,
    ctx: &Provisioning,
    actor: &Actor<'_>,
    fields: &BackendFields,
    secret: Option<&str>,
) -> AppResult<Backend> {
    let mut tx = db.begin().await?;
    let created = backends::insert(&mut *tx, fields, secret.map(|_| PLACEHOLDER_SECRET))
        .await
        .on_constraint("provisioning_backends_location_key", |_| location_taken())
        .on_constraint("provisioning_backends_name_key", |_| name_taken())?;
    if let Some(secret) = secret {
        store_token_secret(ctx, &mut tx, created.id, secret).await?;
    }
    let created = backends::find(&mut *tx, created.id)
        .await?
        .ok_or(AppError::NotFound("backend"))?;
    audit_backend(
        &mut tx,
        actor,
        "backend.create",
        created.id,
        None,
        Some(audit_view(&created)),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        backend.id = created.id,
        admin.id = actor.user_id,
        "backend created"
    );
    Ok(created)
}

/// Changes backend `before` to checked `fields`; a new token secret replaces the stored one.
pub async fn update_backend(
    db: &sqlx::PgPool,
    ctx: &Provisioning,
    actor: &Actor<'_>,
    before: &Backend,
    fields: &BackendFields,
    secret: Option<&str>,
) -> AppResult<Backend> {
    let id = before.id;
    let mut tx = db.begin().await?;
    backends::update(&mut *tx, id, fields)
        .await
        .on_constraint("provisioning_backends_location_key", |_| location_taken())
        .on_constraint("provisioning_backends_name_key", |_| name_taken())?
        .ok_or(AppError::NotFound("backend"))?;
    if let Some(secret) = secret {
        store_token_secret(ctx, &mut tx, id, secret).await?;
    }
    let after = backends::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("backend"))?;
    let mut after_view = audit_view(&after);
    if secret.is_some() {
        after_view["token_secret"] = json!("replaced");
    }
    audit_backend(
        &mut tx,
        actor,
        "backend.update",
        id,
        Some(audit_view(before)),
        Some(after_view),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a backend that never built anything; one that did is a 409 (deactivate it instead:
/// its VM ids must never be handed out again).
pub async fn delete_backend(
    db: &sqlx::PgPool,
    actor: &Actor<'_>,
    before: &Backend,
) -> AppResult<()> {
    let mut tx = db.begin().await?;
    if !backends::delete_unused(&mut *tx, before.id).await? {
        return Err(AppError::conflict(
            "id",
            format!(
                "backend {} has built servers (VM ids or addresses handed out); deactivate it \
                 instead",
                before.name
            ),
        ));
    }
    audit_backend(
        &mut tx,
        actor,
        "backend.delete",
        before.id,
        Some(audit_view(before)),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets (or replaces) the template a backend clones for a plan.
pub async fn set_template(
    db: &sqlx::PgPool,
    actor: &Actor<'_>,
    template: &Template,
) -> AppResult<Template> {
    let mut tx = db.begin().await?;
    let before = backends::find_template(&mut *tx, template.backend_id, &template.plan_id).await?;
    let saved = backends::upsert_template(&mut *tx, template).await?;
    audit_backend(
        &mut tx,
        actor,
        "backend.template_set",
        template.backend_id,
        before.map(|t| json!(t)),
        Some(json!(saved)),
    )
    .await?;
    tx.commit().await?;
    Ok(saved)
}

/// Removes the template a backend clones for a plan; there is none → NotFound.
pub async fn delete_template(
    db: &sqlx::PgPool,
    actor: &Actor<'_>,
    backend_id: i32,
    plan_id: &str,
) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let before = backends::find_template(&mut *tx, backend_id, plan_id)
        .await?
        .ok_or(AppError::NotFound("template"))?;
    backends::delete_template(&mut *tx, backend_id, plan_id).await?;
    audit_backend(
        &mut tx,
        actor,
        "backend.template_delete",
        backend_id,
        Some(json!(before)),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What adding addresses did: the ones new to the pool, and those it already had.
pub struct AddedAddresses {
    pub added: Vec<String>,
    pub skipped: Vec<String>,
}

/// Adds checked addresses to a backend's pool (one it has already is skipped).
pub async fn add_addresses(
    db: &sqlx::PgPool,
    ctx: &Provisioning,
    actor: &Actor<'_>,
    backend_id: i32,
    wanted: Vec<String>,
) -> AppResult<AddedAddresses> {
    let hold = ctx.lifecycle.ip_hold_days;
    let mut tx = db.begin().await?;
    let before: BTreeSet<String> = backends::list_addresses(&mut *tx, backend_id, hold)
        .await?
        .into_iter()
        .map(|a| a.address)
        .collect();
    backends::add_addresses(&mut *tx, backend_id, &wanted).await?;
    let after: BTreeSet<String> = backends::list_addresses(&mut *tx, backend_id, hold)
        .await?
        .into_iter()
        .map(|a| a.address)
        .collect();
    let (added, skipped): (Vec<String>, Vec<String>) = wanted
        .into_iter()
        .partition(|a| after.contains(a) && !before.contains(a));
    audit_backend(
        &mut tx,
        actor,
        "backend.addresses_add",
        backend_id,
        None,
        Some(json!({ "added": added })),
    )
    .await?;
    tx.commit().await?;
    Ok(AddedAddresses { added, skipped })
}

/// Removes a free address from a backend's pool: one not in it → NotFound; one a service holds
/// (or was just given) → 409.
pub async fn remove_address(
    db: &sqlx::PgPool,
    ctx: &Provisioning,
    actor: &Actor<'_>,
    backend_id: i32,
    address: &str,
) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let pooled = backends::list_addresses(&mut *tx, backend_id, ctx.lifecycle.ip_hold_days)
        .await?
        .into_iter()
        .find(|a| a.address == address)
        .ok_or(AppError::NotFound("address"))?;
    if let Some(service) = pooled.service_id {
        return Err(AppError::conflict(
            "address",
            format!("{address} is held by service {service}; terminate the service first"),
        ));
    }
    if !backends::remove_address(&mut *tx, backend_id, address).await? {
        return Err(AppError::conflict(
            "address",
            format!("{address} was just given to a service"),
        ));
    }
    audit_backend(
        &mut tx,
        actor,
        "backend.address_remove",
        backend_id,
        Some(json!({ "address": address })),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
