//! Repository of `locations` and of `plan_locations` (where each plan is sold).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `locations`: a data centre a server can be placed in.
#[derive(Clone, Debug, FromRow, Serialize, PartialEq)]
pub struct Location {
    pub id: i32,
    pub slug: String,
    pub name: String,
    pub country_code: String,
    pub city: Option<String>,
    pub is_active: Option<bool>,
    pub display_order: Option<i32>,
    #[serde(skip)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A location's editable fields.
#[derive(Clone, Debug)]
pub struct LocationFields<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub country_code: &'a str,
    pub city: Option<&'a str>,
    pub is_active: bool,
    pub display_order: i32,
}

macro_rules! location_columns {
    () => {
        "id, slug, name, country_code, city, is_active, display_order, created_at, updated_at"
    };
}

/// Inserts a location, or updates the one with the same slug.
pub async fn upsert_by_slug(
    db: impl PgExecutor<'_>,
    fields: &LocationFields<'_>,
) -> sqlx::Result<Location> {
    timed(
        "locations.upsert_by_slug",
        sqlx::query_as(concat!(
            "insert into locations (slug, name, country_code, city, is_active, display_order)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (slug) do update
             set name = excluded.name, country_code = excluded.country_code, city = excluded.city,
                 is_active = excluded.is_active, display_order = excluded.display_order
             returning ",
            location_columns!()
        ))
        .bind(fields.slug)
        .bind(fields.name)
        .bind(fields.country_code)
        .bind(fields.city)
        .bind(fields.is_active)
        .bind(fields.display_order)
        .fetch_one(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Location>> {
    timed(
        "locations.find",
        sqlx::query_as(concat!(
            "select ",
            location_columns!(),
            " from locations where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// Every location, active or not, in display order.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Location>> {
    timed(
        "locations.list",
        sqlx::query_as(concat!(
            "select ",
            location_columns!(),
            " from locations order by display_order nulls last, name, id"
        ))
        .fetch_all(db),
    )
    .await
}

/// The locations open for sale, in display order.
pub async fn list_active(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Location>> {
    timed(
        "locations.list_active",
        sqlx::query_as(concat!(
            "select ",
            location_columns!(),
            " from locations where is_active order by display_order nulls last, name, id"
        ))
        .fetch_all(db),
    )
    .await
}

/// Closes every location whose slug is not in `keep`; returns how many were closed.
pub async fn deactivate_except(db: impl PgExecutor<'_>, keep: &[String]) -> sqlx::Result<u64> {
    let done = timed(
        "locations.deactivate_except",
        sqlx::query(
            "update locations set is_active = false
             where is_active is distinct from false and slug <> all($1)",
        )
        .bind(keep)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}

/// Sets where a plan is sold to exactly `location_ids`.
pub async fn replace_for_plan(
    db: &mut sqlx::PgConnection,
    plan_id: &str,
    location_ids: &[i32],
) -> sqlx::Result<()> {
    timed(
        "plan_locations.delete_except",
        sqlx::query("delete from plan_locations where plan_id = $1 and location_id <> all($2)")
            .bind(plan_id)
            .bind(location_ids)
            .execute(&mut *db),
    )
    .await?;
    timed(
        "plan_locations.insert_many",
        sqlx::query(
            "insert into plan_locations (plan_id, location_id)
             select $1, unnest($2::int[]) on conflict do nothing",
        )
        .bind(plan_id)
        .bind(location_ids)
        .execute(&mut *db),
    )
    .await?;
    Ok(())
}

/// The locations a plan is sold in (active or not), in display order.
pub async fn list_for_plan(db: impl PgExecutor<'_>, plan_id: &str) -> sqlx::Result<Vec<Location>> {
    timed(
        "plan_locations.list_for_plan",
        sqlx::query_as(
            "select l.id, l.slug, l.name, l.country_code, l.city, l.is_active, l.display_order,
                    l.created_at, l.updated_at
             from plan_locations pl join locations l on l.id = pl.location_id
             where pl.plan_id = $1
             order by l.display_order nulls last, l.name, l.id",
        )
        .bind(plan_id)
        .fetch_all(db),
    )
    .await
}

/// Every (plan id, location slug) pair, for exporting the catalog.
pub async fn list_plan_location_slugs(
    db: impl PgExecutor<'_>,
) -> sqlx::Result<Vec<(String, String)>> {
    timed(
        "plan_locations.list_slugs",
        sqlx::query_as(
            "select pl.plan_id, l.slug
             from plan_locations pl join locations l on l.id = pl.location_id
             order by pl.plan_id, l.display_order nulls last, l.slug",
        )
        .fetch_all(db),
    )
    .await
}

/// Inserts a new location; a taken slug fails on `locations_slug_key`.
pub async fn insert(
    db: impl PgExecutor<'_>,
    fields: &LocationFields<'_>,
) -> sqlx::Result<Location> {
    timed(
        "locations.insert",
        sqlx::query_as(concat!(
            "insert into locations (slug, name, country_code, city, is_active, display_order)
             values ($1, $2, $3, $4, $5, $6)
             returning ",
            location_columns!()
        ))
        .bind(fields.slug)
        .bind(fields.name)
        .bind(fields.country_code)
        .bind(fields.city)
        .bind(fields.is_active)
        .bind(fields.display_order)
        .fetch_one(db),
    )
    .await
}

/// Rewrites a location's fields; `None` when there is no such location.
pub async fn update(
    db: impl PgExecutor<'_>,
    id: i32,
    fields: &LocationFields<'_>,
) -> sqlx::Result<Option<Location>> {
    timed(
        "locations.update",
        sqlx::query_as(concat!(
            "update locations
             set slug = $2, name = $3, country_code = $4, city = $5, is_active = $6,
                 display_order = $7
             where id = $1
             returning ",
            location_columns!()
        ))
        .bind(id)
        .bind(fields.slug)
        .bind(fields.name)
        .bind(fields.country_code)
        .bind(fields.city)
        .bind(fields.is_active)
        .bind(fields.display_order)
        .fetch_optional(db),
    )
    .await
}

/// A location, locked until the transaction ends (for a guarded edit).
pub async fn find_for_update(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Location>> {
    timed(
        "locations.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            location_columns!(),
            " from locations where id = $1 for update"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// Deletes a location; the database refuses while orders or plans reference it.
pub async fn delete(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<bool> {
    let done = timed(
        "locations.delete",
        sqlx::query("delete from locations where id = $1")
            .bind(id)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many orders have an item placed in this location.
pub async fn count_orders(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<i64> {
    timed(
        "locations.count_orders",
        sqlx::query_scalar(
            "select count(distinct order_id) from order_items where location_id = $1",
        )
        .bind(id)
        .fetch_one(db),
    )
    .await
}

/// How many plans, active or not, are sold in this location.
pub async fn count_plans(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<i64> {
    timed(
        "plan_locations.count_for_location",
        sqlx::query_scalar("select count(*) from plan_locations where location_id = $1")
            .bind(id)
            .fetch_one(db),
    )
    .await
}

/// Which of `ids` are locations (active or not).
pub async fn existing_ids(db: impl PgExecutor<'_>, ids: &[i32]) -> sqlx::Result<Vec<i32>> {
    timed(
        "locations.existing_ids",
        sqlx::query_scalar("select id from locations where id = any($1) order by id")
            .bind(ids)
            .fetch_all(db),
    )
    .await
}

/// Every (plan id, location id) pair where a plan is sold, each plan's locations in the
/// locations' display order.
pub async fn list_plan_location_ids(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, i32)>> {
    timed(
        "plan_locations.list_ids",
        sqlx::query_as(
            "select pl.plan_id, pl.location_id
             from plan_locations pl join locations l on l.id = pl.location_id
             order by pl.plan_id, l.display_order nulls last, l.name, l.id",
        )
        .fetch_all(db),
    )
    .await
}

/// The ids of the locations a plan is sold in (active or not), in display order.
pub async fn ids_for_plan(db: impl PgExecutor<'_>, plan_id: &str) -> sqlx::Result<Vec<i32>> {
    timed(
        "plan_locations.ids_for_plan",
        sqlx::query_scalar(
            "select pl.location_id
             from plan_locations pl join locations l on l.id = pl.location_id
             where pl.plan_id = $1
             order by l.display_order nulls last, l.name, l.id",
        )
        .bind(plan_id)
        .fetch_all(db),
    )
    .await
}
