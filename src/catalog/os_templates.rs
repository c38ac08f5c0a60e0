//! Repository of `os_templates` (the operating systems the shop offers) and of
//! `plan_os_templates` (which plans offer which). The template VM each backend clones for a
//! system is the provisioning domain's (`backend_os_templates`, in
//! [`crate::provisioning::backends`]).

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::db::text_enum::text_enum;
use crate::db::timed;

text_enum! {
    /// Windows (RDP plans; a password login) or Linux (VPS plans; password and SSH keys).
    pub enum OsFamily {
        Linux = "linux",
        Windows = "windows",
    }
}

/// A row of `os_templates`.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema, PartialEq)]
pub struct OsTemplate {
    pub id: i32,
    /// What customers choose by: `Ubuntu 24.04`, `Windows Server 2022`.
    pub name: String,
    pub family: OsFamily,
    /// The user cloud-init creates on it (`Administrator`, `root`, `ubuntu`).
    pub username: String,
    /// Whether it is offered; an inactive one stays on the servers built with it.
    pub is_active: bool,
    /// Lower first in lists (then by name).
    pub sort_order: i32,
}

/// A system a plan offers, as customers see it (`templates` of `GET /api/v1/plans/{id}`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct OsChoice {
    /// The `template_id` to send with `POST /api/v1/cart/items` or a reinstall.
    pub id: i32,
    pub name: String,
    pub family: OsFamily,
}

impl From<&OsTemplate> for OsChoice {
    fn from(t: &OsTemplate) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            family: t.family,
        }
    }
}

/// A system's editable fields.
#[derive(Clone, Debug)]
pub struct OsFields<'a> {
    pub name: &'a str,
    pub family: OsFamily,
    pub username: &'a str,
    pub is_active: bool,
    pub sort_order: i32,
}

macro_rules! os_columns {
    () => {
        "id, name, family, username, is_active, sort_order"
    };
}

/// Every system, in list order.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<OsTemplate>> {
    timed(
        "os_templates.list",
        sqlx::query_as(concat!(
            "select ",
            os_columns!(),
            " from os_templates order by sort_order, name"
        ))
        .fetch_all(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<OsTemplate>> {
    timed(
        "os_templates.find",
        sqlx::query_as(concat!(
            "select ",
            os_columns!(),
            " from os_templates where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// The active systems a plan offers, in list order.
pub async fn list_for_plan(
    db: impl PgExecutor<'_>,
    plan_id: &str,
) -> sqlx::Result<Vec<OsTemplate>> {
    timed(
        "os_templates.list_for_plan",
        sqlx::query_as(
            "select t.id, t.name, t.family, t.username, t.is_active, t.sort_order
             from plan_os_templates pt join os_templates t on t.id = pt.os_template_id
             where pt.plan_id = $1 and t.is_active
             order by t.sort_order, t.name",
        )
        .bind(plan_id)
        .fetch_all(db),
    )
    .await
}

/// Every (plan, active system) pair, each plan's in list order: the catalog cache's load.
pub async fn list_offered(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, OsTemplate)>> {
    #[derive(FromRow)]
    struct Row {
        plan_id: String,
        #[sqlx(flatten)]
        template: OsTemplate,
    }
    let rows: Vec<Row> = timed(
        "os_templates.list_offered",
        sqlx::query_as(
            "select pt.plan_id, t.id, t.name, t.family, t.username, t.is_active, t.sort_order
             from plan_os_templates pt join os_templates t on t.id = pt.os_template_id
             where t.is_active
             order by pt.plan_id, t.sort_order, t.name",
        )
        .fetch_all(db),
    )
    .await?;
    Ok(rows.into_iter().map(|r| (r.plan_id, r.template)).collect())
}

/// The ids of the plans offering a system.
pub async fn plan_ids(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Vec<String>> {
    timed(
        "plan_os_templates.plan_ids",
        sqlx::query_scalar(
            "select plan_id from plan_os_templates where os_template_id = $1 order by plan_id",
        )
        .bind(id)
        .fetch_all(db),
    )
    .await
}

pub async fn insert(db: impl PgExecutor<'_>, f: &OsFields<'_>) -> sqlx::Result<OsTemplate> {
    timed(
        "os_templates.insert",
        sqlx::query_as(concat!(
            "insert into os_templates (name, family, username, is_active, sort_order)
             values ($1, $2, $3, $4, $5) returning ",
            os_columns!()
        ))
        .bind(f.name)
        .bind(f.family)
        .bind(f.username)
        .bind(f.is_active)
        .bind(f.sort_order)
        .fetch_one(db),
    )
    .await
}

pub async fn update(
    db: impl PgExecutor<'_>,
    id: i32,
    f: &OsFields<'_>,
) -> sqlx::Result<Option<OsTemplate>> {
    timed(
        "os_templates.update",
        sqlx::query_as(concat!(
            "update os_templates set name = $2, family = $3, username = $4, is_active = $5,
                                     sort_order = $6
             where id = $1 returning ",
            os_columns!()
        ))
        .bind(id)
        .bind(f.name)
        .bind(f.family)
        .bind(f.username)
        .bind(f.is_active)
        .bind(f.sort_order)
        .fetch_optional(db),
    )
    .await
}

/// Deletes a system: plans stop offering it, cart lines choosing it go, and the orders and
/// servers built with it keep its name.
pub async fn delete(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<bool> {
    let done = timed(
        "os_templates.delete",
        sqlx::query("delete from os_templates where id = $1")
            .bind(id)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes exactly `plan_ids` offer the system.
pub async fn set_plans(
    db: &mut sqlx::PgConnection,
    id: i32,
    plan_ids: &[String],
) -> sqlx::Result<()> {
    timed(
        "plan_os_templates.clear",
        sqlx::query(
            "delete from plan_os_templates where os_template_id = $1 and plan_id <> all($2)",
        )
        .bind(id)
        .bind(plan_ids)
        .execute(&mut *db),
    )
    .await?;
    timed(
        "plan_os_templates.add",
        sqlx::query(
            "insert into plan_os_templates (plan_id, os_template_id)
             select unnest($2::text[]), $1 on conflict do nothing",
        )
        .bind(id)
        .bind(plan_ids)
        .execute(&mut *db),
    )
    .await?;
    Ok(())
}
