//! The operator's verbs on the operating systems the shop offers: create, change and delete a
//! system — its name, family and login user, the plans that offer it (`plan_os_templates`) and
//! the template VM each backend clones for it (`backend_os_templates`) — all in one checked
//! request, written and audited in one transaction. The admin API (`/api/v1/admin/os-templates`)
//! and the back office's page (`/admin/os-templates`) parse their input into [`SystemRequest`]
//! and call the same verb.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::backends::{self, OsImage};
use super::validation::{template_number_problem, template_username_problem};
use crate::accounts::validation::FieldErrors;
use crate::audit::{self, Actor, NewAuditEntry};
use crate::catalog::manage::Store;
use crate::catalog::os_templates::{self, OsFamily, OsFields, OsTemplate};
use crate::catalog::plans;
use crate::error::{AppError, AppResult, ResultExt};

/// A system with the plans that offer it and the backends' template VMs.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct System {
    #[serde(flatten)]
    pub template: OsTemplate,
    /// The plans that offer it.
    pub plan_ids: Vec<String>,
    /// The template VM each backend clones for it.
    pub images: Vec<OsImage>,
}

/// A system as the operator sends it (`POST`/`PUT /api/v1/admin/os-templates`).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemRequest {
    /// 1 to 60 characters, unique: `Ubuntu 24.04`.
    pub name: String,
    /// `linux` or `windows`.
    pub family: String,
    /// The user cloud-init creates; default `Administrator` (Windows) or `root` (Linux).
    #[serde(default)]
    pub username: Option<String>,
    /// Offered to customers (default true).
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Lower first in lists (default 0).
    #[serde(default)]
    pub sort_order: Option<i32>,
    /// The plans that offer it (replaces the list).
    #[serde(default)]
    pub plan_ids: Vec<String>,
    /// The template VM each backend clones for it (replaces the list).
    #[serde(default)]
    pub images: Vec<ImageRequest>,
}

/// A backend's template VM for a system.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageRequest {
    pub backend_id: i32,
    /// The VM id of the Proxmox template (100 to 999999999).
    pub template_vmid: i64,
}

/// A checked [`SystemRequest`].
struct Checked {
    name: String,
    family: OsFamily,
    username: String,
    is_active: bool,
    sort_order: i32,
    plan_ids: Vec<String>,
    images: Vec<OsImage>,
}

/// Checks every rule of a request, reporting all problems at once (a 422 naming the fields).
async fn check(db: &sqlx::PgPool, request: &SystemRequest) -> AppResult<Checked> {
    let mut errors = FieldErrors::default();
    let name = request.name.trim().to_owned();
    if name.is_empty() {
        errors.add("name", "is required");
    } else if name.chars().count() > 60 {
        errors.add("name", "must be at most 60 characters");
    }
    let family = OsFamily::parse(request.family.trim());
    if family.is_none() {
        errors.add("family", "must be linux or windows");
    }
    let username = match (&request.username, family) {
        (Some(u), _) if !u.trim().is_empty() => u.trim().to_owned(),
        (_, Some(OsFamily::Windows)) => "Administrator".to_owned(),
        _ => "root".to_owned(),
    };
    if let Some(problem) = template_username_problem(&username) {
        errors.add("username", problem);
    } else if username.chars().count() > 32 {
        errors.add("username", "must be at most 32 characters");
    }
    let plan_ids: Vec<String> = request
        .plan_ids
        .iter()
        .map(|p| p.trim().to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for plan_id in &plan_ids {
        if plans::find(db, plan_id).await?.is_none() {
            errors.add("plan_ids", &format!("no plan has the id {plan_id:?}"));
            break;
        }
    }
    let mut images = Vec::with_capacity(request.images.len());
    let mut seen = BTreeSet::new();
    for image in &request.images {
        if !seen.insert(image.backend_id) {
            errors.add("images", "names a backend twice");
            break;
        }
        if backends::find(db, image.backend_id).await?.is_none() {
            errors.add(
                "images",
                &format!("no backend has the id {}", image.backend_id),
            );
            break;
        }
        if let Some(problem) = template_number_problem("template_vmid", image.template_vmid) {
            errors.add("images", &format!("template_vmid {problem}"));
            break;
        }
        images.push(OsImage {
            backend_id: image.backend_id,
            template_vmid: image.template_vmid as i32,
        });
    }
    match family {
        Some(family) if errors.is_empty() => Ok(Checked {
            name,
            family,
            username,
            is_active: request.is_active.unwrap_or(true),
            sort_order: request.sort_order.unwrap_or(0),
            plan_ids,
            images,
        }),
        _ => Err(AppError::Validation(errors.0)),
    }
}

impl Checked {
    fn fields(&self) -> OsFields<'_> {
        OsFields {
            name: &self.name,
            family: self.family,
            username: &self.username,
            is_active: self.is_active,
            sort_order: self.sort_order,
        }
    }
}

fn name_taken() -> AppError {
    AppError::conflict("name", "another system already has this name")
}

/// A system with its plans and images.
pub async fn find(db: &sqlx::PgPool, id: i32) -> AppResult<Option<System>> {
    let mut conn = db.acquire().await?;
    load(&mut conn, id).await
}

async fn load(conn: &mut sqlx::PgConnection, id: i32) -> AppResult<Option<System>> {
    let Some(template) = os_templates::find(&mut *conn, id).await? else {
        return Ok(None);
    };
    Ok(Some(System {
        plan_ids: os_templates::plan_ids(&mut *conn, id).await?,
        images: backends::list_os_images(&mut *conn, id).await?,
        template,
    }))
}

/// Every system with its plans and images, in list order.
pub async fn list(db: &sqlx::PgPool) -> AppResult<Vec<System>> {
    let mut out = Vec::new();
    for template in os_templates::list(db).await? {
        out.push(System {
            plan_ids: os_templates::plan_ids(db, template.id).await?,
            images: backends::list_os_images(db, template.id).await?,
            template,
        });
    }
    Ok(out)
}

async fn audit_system(
    tx: &mut sqlx::PgConnection,
    actor: &Actor<'_>,
    action: &str,
    id: i32,
    before: Option<&System>,
    after: Option<&System>,
) -> AppResult<()> {
    let entity = id.to_string();
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: before.map(|s| json!(s)),
            after: after.map(|s| json!(s)),
            ..actor.entry(action, "os_template", Some(&entity))
        },
    )
    .await?;
    Ok(())
}

/// Creates a system from a request.
pub async fn create(
    store: &Store,
    actor: &Actor<'_>,
    request: &SystemRequest,
) -> AppResult<System> {
    let db = &store.db;
    let checked = check(db, request).await?;
    let mut tx = db.begin().await?;
    let template = os_templates::insert(&mut *tx, &checked.fields())
        .await
        .on_constraint("os_templates_name_key", |_| name_taken())?;
    os_templates::set_plans(&mut tx, template.id, &checked.plan_ids).await?;
    backends::set_os_images(&mut tx, template.id, &checked.images).await?;
    let saved = load(&mut tx, template.id)
        .await?
        .ok_or(AppError::NotFound("os template"))?;
    audit_system(
        &mut tx,
        actor,
        "os_template.create",
        template.id,
        None,
        Some(&saved),
    )
    .await?;
    tx.commit().await?;
    store.catalog.invalidate();
    Ok(saved)
}

/// Replaces a system's fields, plans and images.
pub async fn update(
    store: &Store,
    actor: &Actor<'_>,
    id: i32,
    request: &SystemRequest,
) -> AppResult<System> {
    let db = &store.db;
    let checked = check(db, request).await?;
    let mut tx = db.begin().await?;
    let before = load(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound("os template"))?;
    os_templates::update(&mut *tx, id, &checked.fields())
        .await
        .on_constraint("os_templates_name_key", |_| name_taken())?;
    os_templates::set_plans(&mut tx, id, &checked.plan_ids).await?;
    backends::set_os_images(&mut tx, id, &checked.images).await?;
    let saved = load(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound("os template"))?;
    audit_system(
        &mut tx,
        actor,
        "os_template.update",
        id,
        Some(&before),
        Some(&saved),
    )
    .await?;
    tx.commit().await?;
    store.catalog.invalidate();
    Ok(saved)
}

/// Deletes a system: plans stop offering it, and servers built with it keep its name.
pub async fn delete(store: &Store, actor: &Actor<'_>, id: i32) -> AppResult<()> {
    let db = &store.db;
    let mut tx = db.begin().await?;
    let before = load(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound("os template"))?;
    os_templates::delete(&mut *tx, id).await?;
    audit_system(
        &mut tx,
        actor,
        "os_template.delete",
        id,
        Some(&before),
        None,
    )
    .await?;
    tx.commit().await?;
    store.catalog.invalidate();
    Ok(())
}
