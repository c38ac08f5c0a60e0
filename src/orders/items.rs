//! Repository of `order_items`: what an order bought — a plan, in a location, for some months,
//! at the price of the day — and, once provisioned, the period it runs.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `order_items`. `price_at_order_pkr` is the unit price when ordered, whatever the
/// plan costs today.
#[derive(Clone, Debug, FromRow, Serialize)]
pub struct OrderItem {
    pub id: i32,
    pub order_id: Option<i32>,
    pub plan_id: Option<String>,
    pub location_id: Option<i32>,
    pub quantity: i32,
    pub price_at_order_pkr: i32,
    pub validity_months: i32,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
}

/// What a new order item records.
#[derive(Clone, Debug)]
pub struct NewOrderItem<'a> {
    pub order_id: i32,
    pub plan_id: &'a str,
    pub location_id: i32,
    pub quantity: i32,
    pub price_at_order_pkr: i32,
    pub validity_months: i32,
    /// The operating system chosen, and its name then.
    pub os_template_id: Option<i32>,
    pub os_template_name: Option<&'a str>,
    /// The SSH public keys chosen, one per line.
    pub ssh_keys: Option<&'a str>,
}

/// The columns of [`OrderItem`], for `concat!` into each statement.
macro_rules! item_columns {
    () => {
        "id, order_id, plan_id, location_id, quantity, price_at_order_pkr, validity_months, \
         start_date, end_date"
    };
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewOrderItem<'_>) -> sqlx::Result<OrderItem> {
    timed(
        "order_items.insert",
        sqlx::query_as(concat!(
            "insert into order_items (order_id, plan_id, location_id, quantity,
                                      price_at_order_pkr, validity_months, os_template_id,
                                      os_template_name, ssh_keys)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning ",
            item_columns!()
        ))
        .bind(new.order_id)
        .bind(new.plan_id)
        .bind(new.location_id)
        .bind(new.quantity)
        .bind(new.price_at_order_pkr)
        .bind(new.validity_months)
        .bind(new.os_template_id)
        .bind(new.os_template_name)
        .bind(new.ssh_keys)
        .fetch_one(db),
    )
    .await
}

/// The items of an order, in the order they were added.
pub async fn list_for_order(
    db: impl PgExecutor<'_>,
    order_id: i32,
) -> sqlx::Result<Vec<OrderItem>> {
    timed(
        "order_items.list_for_order",
        sqlx::query_as(concat!(
            "select ",
            item_columns!(),
            " from order_items where order_id = $1 order by id"
        ))
        .bind(order_id)
        .fetch_all(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<OrderItem>> {
    timed(
        "order_items.find",
        sqlx::query_as(concat!(
            "select ",
            item_columns!(),
            " from order_items where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// Sets the period the item runs (from provisioning to expiry); the database refuses an end
/// before the start.
pub async fn set_dates(
    db: impl PgExecutor<'_>,
    id: i32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = timed(
        "order_items.set_dates",
        sqlx::query("update order_items set start_date = $2, end_date = $3 where id = $1")
            .bind(id)
            .bind(start)
            .bind(end)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Widens the item's period to cover one of its services' periods (an item of several servers
/// runs from the first one's start to the last one's end): a new purchase's item gets its
/// `start_date` and `end_date` when its service's first period starts.
pub async fn cover_period(
    db: impl PgExecutor<'_>,
    id: i32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = timed(
        "order_items.cover_period",
        sqlx::query(
            "update order_items
             set start_date = least(coalesce(start_date, $2), $2),
                 end_date = greatest(coalesce(end_date, $3), $3)
             where id = $1",
        )
        .bind(id)
        .bind(start)
        .bind(end)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An order item with the names of its plan and location, for display.
#[derive(Clone, Debug, FromRow, Serialize)]
pub struct OrderItemDetail {
    pub id: i32,
    pub plan_id: Option<String>,
    pub plan_name: Option<String>,
    pub location_id: Option<i32>,
    pub location_name: Option<String>,
    pub quantity: i32,
    pub price_at_order_pkr: i32,
    pub validity_months: i32,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
}

impl OrderItemDetail {
    /// What the line cost: unit price × months × quantity.
    pub fn line_total_pkr(&self) -> i64 {
        super::pricing::Line {
            monthly_price_pkr: self.price_at_order_pkr,
            months: self.validity_months,
            quantity: self.quantity,
        }
        .total()
    }
}

/// The items of an order with plan and location names, in order.
pub async fn list_details_for_order(
    db: impl PgExecutor<'_>,
    order_id: i32,
) -> sqlx::Result<Vec<OrderItemDetail>> {
    timed(
        "order_items.list_details_for_order",
        sqlx::query_as(
            "select oi.id, oi.plan_id, p.name as plan_name, oi.location_id, l.name as location_name,
                    oi.quantity, oi.price_at_order_pkr, oi.validity_months, oi.start_date, oi.end_date
             from order_items oi
             left join plans p on p.id = oi.plan_id
             left join locations l on l.id = oi.location_id
             where oi.order_id = $1
             order by oi.id",
        )
        .bind(order_id)
        .fetch_all(db),
    )
    .await
}

/// The services a renewal order's items name (to extend), by id.
pub async fn renewed_services(db: impl PgExecutor<'_>, order_id: i32) -> sqlx::Result<Vec<i32>> {
    timed(
        "order_items.renewed_services",
        sqlx::query_scalar(
            "select service_id from order_items where order_id = $1 and service_id is not null
             order by id",
        )
        .bind(order_id)
        .fetch_all(db),
    )
    .await
}
