//! Repository of `carts` and `cart_items`: the server-side cart of a guest (found by the hash of
//! its cookie token) or of a customer (one per account).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `carts`.
#[derive(Clone, Debug, FromRow)]
pub struct Cart {
    pub id: i64,
    pub user_id: Option<i32>,
    pub token_hash: Option<String>,
    pub promo_code_id: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A cart line with what the catalog says about it now (prices are never taken from the client
/// nor frozen in the cart).
#[derive(Clone, Debug, FromRow)]
pub struct CartLine {
    pub id: i64,
    pub plan_id: String,
    pub location_id: i32,
    pub validity_months: i32,
    pub quantity: i32,
    pub plan_name: String,
    pub plan_active: bool,
    pub price_pkr: i32,
    pub category_slug: Option<String>,
    pub theme_color: Option<String>,
    pub location_name: String,
    pub location_active: bool,
    /// Whether the plan is (still) sold in that location.
    pub sold_there: bool,
    /// The operating system chosen, if the plan offers a choice.
    pub os_template_id: Option<i32>,
    pub os_template_name: Option<String>,
    /// Whether the chosen system is (still) offered with the plan (true when none was chosen).
    pub os_offered: bool,
    /// The customer's SSH keys chosen for it, by id (sorted).
    pub ssh_key_ids: Vec<i32>,
}

macro_rules! cart_columns {
    () => {
        "id, user_id, token_hash, promo_code_id, created_at, updated_at"
    };
}

pub async fn find_for_user(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<Option<Cart>> {
    timed(
        "carts.find_for_user",
        sqlx::query_as(concat!(
            "select ",
            cart_columns!(),
            " from carts where user_id = $1"
        ))
        .bind(user_id)
        .fetch_optional(db),
    )
    .await
}

/// The customer's cart, locked for checkout.
pub async fn find_for_user_for_update(
    db: impl PgExecutor<'_>,
    user_id: i32,
) -> sqlx::Result<Option<Cart>> {
    timed(
        "carts.find_for_user_for_update",
        sqlx::query_as(concat!(
            "select ",
            cart_columns!(),
            " from carts where user_id = $1 for update"
        ))
        .bind(user_id)
        .fetch_optional(db),
    )
    .await
}

pub async fn find_by_token_hash(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<Cart>> {
    timed(
        "carts.find_by_token_hash",
        sqlx::query_as(concat!(
            "select ",
            cart_columns!(),
            " from carts where token_hash = $1 and user_id is null"
        ))
        .bind(token_hash)
        .fetch_optional(db),
    )
    .await
}

/// The customer's cart, created empty when they have none.
pub async fn get_or_create_for_user(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<Cart> {
    timed(
        "carts.get_or_create_for_user",
        sqlx::query_as(concat!(
            "insert into carts (user_id) values ($1)
             on conflict (user_id) do update set user_id = excluded.user_id
             returning ",
            cart_columns!()
        ))
        .bind(user_id)
        .fetch_one(db),
    )
    .await
}

/// A new guest cart for the hash of a fresh cookie token.
pub async fn insert_guest(db: impl PgExecutor<'_>, token_hash: &str) -> sqlx::Result<Cart> {
    timed(
        "carts.insert_guest",
        sqlx::query_as(concat!(
            "insert into carts (token_hash) values ($1) returning ",
            cart_columns!()
        ))
        .bind(token_hash)
        .fetch_one(db),
    )
    .await
}

/// The cart's lines joined with today's catalog, oldest first.
pub async fn list_lines(db: impl PgExecutor<'_>, cart_id: i64) -> sqlx::Result<Vec<CartLine>> {
    timed(
        "cart_items.list_lines",
        sqlx::query_as(
            "select ci.id, ci.plan_id, ci.location_id, ci.validity_months, ci.quantity,
                    p.name as plan_name, coalesce(p.is_active, true) as plan_active, p.price_pkr,
                    c.slug as category_slug, p.theme_color,
                    l.name as location_name, coalesce(l.is_active, true) as location_active,
                    exists (select 1 from plan_locations pl
                            where pl.plan_id = ci.plan_id and pl.location_id = ci.location_id) as sold_there,
                    ci.os_template_id, t.name as os_template_name,
                    (ci.os_template_id is null
                     or (t.is_active and exists (select 1 from plan_os_templates pt
                                                 where pt.plan_id = ci.plan_id
                                                   and pt.os_template_id = ci.os_template_id))) as os_offered,
                    ci.ssh_key_ids
             from cart_items ci
             join plans p on p.id = ci.plan_id
             left join os_templates t on t.id = ci.os_template_id
             left join product_categories c on c.id = p.category_id
             join locations l on l.id = ci.location_id
             where ci.cart_id = $1
             order by ci.id",
        )
        .bind(cart_id)
        .fetch_all(db),
    )
    .await
}

/// What a new cart line holds.
#[derive(Clone, Debug)]
pub struct NewLine<'a> {
    pub plan_id: &'a str,
    pub location_id: i32,
    pub validity_months: i32,
    pub quantity: i32,
    pub os_template_id: Option<i32>,
    /// Sorted, each once: the same choice is the same line.
    pub ssh_key_ids: &'a [i32],
}

/// Adds units of a line; the same plan, location, months, system and keys add up (the database
/// refuses more than 10, see `cart_items_quantity_check`). Returns the line's id.
pub async fn add_item(
    db: impl PgExecutor<'_>,
    cart_id: i64,
    line: &NewLine<'_>,
) -> sqlx::Result<i64> {
    timed(
        "cart_items.add",
        sqlx::query_scalar(
            "insert into cart_items (cart_id, plan_id, location_id, validity_months, quantity,
                                     os_template_id, ssh_key_ids)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict on constraint cart_items_line_key
             do update set quantity = cart_items.quantity + excluded.quantity
             returning id",
        )
        .bind(cart_id)
        .bind(line.plan_id)
        .bind(line.location_id)
        .bind(line.validity_months)
        .bind(line.quantity)
        .bind(line.os_template_id)
        .bind(line.ssh_key_ids)
        .fetch_one(db),
    )
    .await
}

/// Changes a line of this cart; false when the line is not in it.
pub async fn update_item(
    db: impl PgExecutor<'_>,
    cart_id: i64,
    item_id: i64,
    quantity: i32,
    validity_months: i32,
) -> sqlx::Result<bool> {
    let done = timed(
        "cart_items.update",
        sqlx::query(
            "update cart_items set quantity = $3, validity_months = $4
             where id = $2 and cart_id = $1",
        )
        .bind(cart_id)
        .bind(item_id)
        .bind(quantity)
        .bind(validity_months)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a line of this cart; false when it is not in it.
pub async fn delete_item(
    db: impl PgExecutor<'_>,
    cart_id: i64,
    item_id: i64,
) -> sqlx::Result<bool> {
    let done = timed(
        "cart_items.delete",
        sqlx::query("delete from cart_items where id = $2 and cart_id = $1")
            .bind(cart_id)
            .bind(item_id)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_promo(
    db: impl PgExecutor<'_>,
    cart_id: i64,
    promo_code_id: Option<i32>,
) -> sqlx::Result<()> {
    timed(
        "carts.set_promo",
        sqlx::query("update carts set promo_code_id = $2 where id = $1")
            .bind(cart_id)
            .bind(promo_code_id)
            .execute(db),
    )
    .await?;
    Ok(())
}

/// Empties a cart (after checkout): its lines and its promo code.
pub async fn clear(db: &mut sqlx::PgConnection, cart_id: i64) -> sqlx::Result<()> {
    timed(
        "cart_items.delete_all",
        sqlx::query("delete from cart_items where cart_id = $1")
            .bind(cart_id)
            .execute(&mut *db),
    )
    .await?;
    set_promo(&mut *db, cart_id, None).await
}

/// Moves a guest cart's lines into the customer's cart at login (quantities add up, capped at
/// 10), keeps the guest's promo code if the customer had none, and deletes the guest cart.
pub async fn merge_into(
    db: &mut sqlx::PgConnection,
    guest: &Cart,
    into: &Cart,
) -> sqlx::Result<()> {
    timed(
        "cart_items.merge",
        sqlx::query(
            "insert into cart_items (cart_id, plan_id, location_id, validity_months, quantity,
                                     os_template_id, ssh_key_ids)
             select $2, plan_id, location_id, validity_months, quantity, os_template_id, ssh_key_ids
             from cart_items where cart_id = $1
             on conflict on constraint cart_items_line_key
             do update set quantity = least(cart_items.quantity + excluded.quantity, 10)",
        )
        .bind(guest.id)
        .bind(into.id)
        .execute(&mut *db),
    )
    .await?;
    if into.promo_code_id.is_none() && guest.promo_code_id.is_some() {
        set_promo(&mut *db, into.id, guest.promo_code_id).await?;
    }
    timed(
        "carts.delete",
        sqlx::query("delete from carts where id = $1")
            .bind(guest.id)
            .execute(&mut *db),
    )
    .await?;
    Ok(())
}

/// Deletes guest carts untouched since `before` (periodic clean-up).
pub async fn delete_stale_guest_carts(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let done = timed(
        "carts.delete_stale_guest_carts",
        sqlx::query("delete from carts where user_id is null and updated_at < $1")
            .bind(before)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}

/// Marks the cart as changed (its `updated_at`), so stale-cart clean-up spares it.
pub async fn touch(db: impl PgExecutor<'_>, cart_id: i64) -> sqlx::Result<()> {
    timed(
        "carts.touch",
        sqlx::query("update carts set updated_at = now() where id = $1")
            .bind(cart_id)
            .execute(db),
    )
    .await?;
    Ok(())
}
