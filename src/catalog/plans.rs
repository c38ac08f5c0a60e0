//! Repository of `plans`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `plans`. `id` is the stable slug (`rdp-starter-one`) orders refer to.
#[derive(Clone, Debug, FromRow, Serialize, PartialEq)]
pub struct Plan {
    pub id: String,
    pub category_id: Option<i32>,
    pub name: String,
    pub description: Option<String>,
    pub cpu: String,
    pub ram: String,
    pub storage: String,
    pub bandwidth: String,
    pub os: Option<String>,
    pub price_pkr: i32,
    pub is_active: Option<bool>,
    pub theme_color: Option<String>,
    pub label: Option<String>,
    pub display_order: i32,
    #[serde(skip)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Plan {
    pub fn is_active(&self) -> bool {
        self.is_active.unwrap_or(true)
    }
}

/// A plan's editable fields.
#[derive(Clone, Debug)]
pub struct PlanFields<'a> {
    pub id: &'a str,
    pub category_id: i32,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub cpu: &'a str,
    pub ram: &'a str,
    pub storage: &'a str,
    pub bandwidth: &'a str,
    pub os: Option<&'a str>,
    pub price_pkr: i32,
    pub is_active: bool,
    pub theme_color: &'a str,
    pub label: Option<&'a str>,
    pub display_order: i32,
}

macro_rules! plan_columns {
    () => {
        "id, category_id, name, description, cpu, ram, storage, bandwidth, os, price_pkr, \
         is_active, theme_color, label, display_order, created_at, updated_at"
    };
}

/// Inserts a plan, or updates the one with the same id.
pub async fn upsert(db: impl PgExecutor<'_>, fields: &PlanFields<'_>) -> sqlx::Result<Plan> {
    timed(
        "plans.upsert",
        sqlx::query_as(concat!(
            "insert into plans (id, category_id, name, description, cpu, ram, storage, bandwidth,
                                os, price_pkr, is_active, theme_color, label, display_order)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             on conflict (id) do update
             set category_id = excluded.category_id, name = excluded.name,
                 description = excluded.description, cpu = excluded.cpu, ram = excluded.ram,
                 storage = excluded.storage, bandwidth = excluded.bandwidth, os = excluded.os,
                 price_pkr = excluded.price_pkr, is_active = excluded.is_active,
                 theme_color = excluded.theme_color, label = excluded.label,
                 display_order = excluded.display_order
             returning ",
            plan_columns!()
        ))
        .bind(fields.id)
        .bind(fields.category_id)
        .bind(fields.name)
        .bind(fields.description)
        .bind(fields.cpu)
        .bind(fields.ram)
        .bind(fields.storage)
        .bind(fields.bandwidth)
        .bind(fields.os)
        .bind(fields.price_pkr)
        .bind(fields.is_active)
        .bind(fields.theme_color)
        .bind(fields.label)
        .bind(fields.display_order)
        .fetch_one(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<Option<Plan>> {
    timed(
        "plans.find",
        sqlx::query_as(concat!(
            "select ",
            plan_columns!(),
            " from plans where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// Every plan, active or not, by category, display order, price.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Plan>> {
    timed(
        "plans.list",
        sqlx::query_as(concat!(
            "select ",
            plan_columns!(),
            " from plans order by category_id, display_order, price_pkr, id"
        ))
        .fetch_all(db),
    )
    .await
}

/// The plans on sale, optionally of one category (by slug), by display order then price.
pub async fn list_active(
    db: impl PgExecutor<'_>,
    category_slug: Option<&str>,
) -> sqlx::Result<Vec<Plan>> {
    timed(
        "plans.list_active",
        sqlx::query_as(
            "select p.id, p.category_id, p.name, p.description, p.cpu, p.ram, p.storage,
                    p.bandwidth, p.os, p.price_pkr, p.is_active, p.theme_color, p.label,
                    p.display_order, p.created_at, p.updated_at
             from plans p join product_categories c on c.id = p.category_id
             where p.is_active and ($1::text is null or c.slug = $1)
             order by c.display_order nulls last, p.display_order, p.price_pkr, p.id",
        )
        .bind(category_slug)
        .fetch_all(db),
    )
    .await
}

/// How many plans exist, active or not (an empty catalog gets the default one).
pub async fn count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    timed(
        "plans.count",
        sqlx::query_scalar("select count(*) from plans").fetch_one(db),
    )
    .await
}

/// Takes a plan off sale or puts it back.
pub async fn set_active(db: impl PgExecutor<'_>, id: &str, active: bool) -> sqlx::Result<bool> {
    let done = timed(
        "plans.set_active",
        sqlx::query("update plans set is_active = $2 where id = $1")
            .bind(id)
            .bind(active)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes off sale every plan whose id is not in `keep` (plans are never deleted by an import:
/// orders refer to them). Returns how many were deactivated.
pub async fn deactivate_except(db: impl PgExecutor<'_>, keep: &[String]) -> sqlx::Result<u64> {
    let done = timed(
        "plans.deactivate_except",
        sqlx::query(
            "update plans set is_active = false
             where is_active is distinct from false and id <> all($1)",
        )
        .bind(keep)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}

/// Deletes a plan; the database refuses while orders reference it.
pub async fn delete(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<bool> {
    let done = timed(
        "plans.delete",
        sqlx::query("delete from plans where id = $1")
            .bind(id)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Inserts a new plan; a taken id fails on `plans_pkey`.
pub async fn insert(db: impl PgExecutor<'_>, fields: &PlanFields<'_>) -> sqlx::Result<Plan> {
    timed(
        "plans.insert",
        sqlx::query_as(concat!(
            "insert into plans (id, category_id, name, description, cpu, ram, storage, bandwidth,
                                os, price_pkr, is_active, theme_color, label, display_order)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             returning ",
            plan_columns!()
        ))
        .bind(fields.id)
        .bind(fields.category_id)
        .bind(fields.name)
        .bind(fields.description)
        .bind(fields.cpu)
        .bind(fields.ram)
        .bind(fields.storage)
        .bind(fields.bandwidth)
        .bind(fields.os)
        .bind(fields.price_pkr)
        .bind(fields.is_active)
        .bind(fields.theme_color)
        .bind(fields.label)
        .bind(fields.display_order)
        .fetch_one(db),
    )
    .await
}

/// Rewrites the plan `fields.id`'s fields (the id itself never changes: orders refer to it);
/// `None` when there is no such plan.
pub async fn update(
    db: impl PgExecutor<'_>,
    fields: &PlanFields<'_>,
) -> sqlx::Result<Option<Plan>> {
    timed(
        "plans.update",
        sqlx::query_as(concat!(
            "update plans
             set category_id = $2, name = $3, description = $4, cpu = $5, ram = $6, storage = $7,
                 bandwidth = $8, os = $9, price_pkr = $10, is_active = $11, theme_color = $12,
                 label = $13, display_order = $14
             where id = $1
             returning ",
            plan_columns!()
        ))
        .bind(fields.id)
        .bind(fields.category_id)
        .bind(fields.name)
        .bind(fields.description)
        .bind(fields.cpu)
        .bind(fields.ram)
        .bind(fields.storage)
        .bind(fields.bandwidth)
        .bind(fields.os)
        .bind(fields.price_pkr)
        .bind(fields.is_active)
        .bind(fields.theme_color)
        .bind(fields.label)
        .bind(fields.display_order)
        .fetch_optional(db),
    )
    .await
}

/// A plan, locked until the transaction ends (for a guarded edit).
pub async fn find_for_update(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<Option<Plan>> {
    timed(
        "plans.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            plan_columns!(),
            " from plans where id = $1 for update"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// How many orders have an item of this plan.
pub async fn count_orders(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<i64> {
    timed(
        "plans.count_orders",
        sqlx::query_scalar("select count(distinct order_id) from order_items where plan_id = $1")
            .bind(id)
            .fetch_one(db),
    )
    .await
}
