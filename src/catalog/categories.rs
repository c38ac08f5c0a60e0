//! Repository of `product_categories`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `product_categories` (RDP, VPS, ...).
#[derive(Clone, Debug, FromRow, Serialize, PartialEq)]
pub struct Category {
    pub id: i32,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub display_order: Option<i32>,
    #[serde(skip)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A category's editable fields.
#[derive(Clone, Debug)]
pub struct CategoryFields<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub description: Option<&'a str>,
    pub display_order: i32,
}

macro_rules! category_columns {
    () => {
        "id, name, slug, description, display_order, created_at, updated_at"
    };
}

/// Inserts a category, or updates the one with the same slug.
pub async fn upsert_by_slug(
    db: impl PgExecutor<'_>,
    fields: &CategoryFields<'_>,
) -> sqlx::Result<Category> {
    timed(
        "product_categories.upsert_by_slug",
        sqlx::query_as(concat!(
            "insert into product_categories (name, slug, description, display_order)
             values ($1, $2, $3, $4)
             on conflict (slug) do update
             set name = excluded.name, description = excluded.description,
                 display_order = excluded.display_order
             returning ",
            category_columns!()
        ))
        .bind(fields.name)
        .bind(fields.slug)
        .bind(fields.description)
        .bind(fields.display_order)
        .fetch_one(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Category>> {
    timed(
        "product_categories.find",
        sqlx::query_as(concat!(
            "select ",
            category_columns!(),
            " from product_categories where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

pub async fn find_by_slug(db: impl PgExecutor<'_>, slug: &str) -> sqlx::Result<Option<Category>> {
    timed(
        "product_categories.find_by_slug",
        sqlx::query_as(concat!(
            "select ",
            category_columns!(),
            " from product_categories where slug = $1"
        ))
        .bind(slug)
        .fetch_optional(db),
    )
    .await
}

/// Every category in display order.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Category>> {
    timed(
        "product_categories.list",
        sqlx::query_as(concat!(
            "select ",
            category_columns!(),
            " from product_categories order by display_order nulls last, name, id"
        ))
        .fetch_all(db),
    )
    .await
}

/// Deletes a category; the database refuses while plans reference it.
pub async fn delete(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<bool> {
    let done = timed(
        "product_categories.delete",
        sqlx::query("delete from product_categories where id = $1")
            .bind(id)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Inserts a new category; a taken slug fails on `product_categories_slug_key`.
pub async fn insert(
    db: impl PgExecutor<'_>,
    fields: &CategoryFields<'_>,
) -> sqlx::Result<Category> {
    timed(
        "product_categories.insert",
        sqlx::query_as(concat!(
            "insert into product_categories (name, slug, description, display_order)
             values ($1, $2, $3, $4)
             returning ",
            category_columns!()
        ))
        .bind(fields.name)
        .bind(fields.slug)
        .bind(fields.description)
        .bind(fields.display_order)
        .fetch_one(db),
    )
    .await
}

/// Rewrites a category's fields; `None` when there is no such category.
pub async fn update(
    db: impl PgExecutor<'_>,
    id: i32,
    fields: &CategoryFields<'_>,
) -> sqlx::Result<Option<Category>> {
    timed(
        "product_categories.update",
        sqlx::query_as(concat!(
            "update product_categories
             set name = $2, slug = $3, description = $4, display_order = $5
             where id = $1
             returning ",
            category_columns!()
        ))
        .bind(id)
        .bind(fields.name)
        .bind(fields.slug)
        .bind(fields.description)
        .bind(fields.display_order)
        .fetch_optional(db),
    )
    .await
}

/// A category, locked until the transaction ends (for a guarded edit).
pub async fn find_for_update(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Category>> {
    timed(
        "product_categories.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            category_columns!(),
            " from product_categories where id = $1 for update"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// How many plans, active or not, belong to a category.
pub async fn count_plans(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<i64> {
    timed(
        "product_categories.count_plans",
        sqlx::query_scalar("select count(*) from plans where category_id = $1")
            .bind(id)
            .fetch_one(db),
    )
    .await
}
