//! The cart as customers see it: whose it is (a guest's cookie token or a customer's account),
//! what it holds priced from today's catalog, and the edits to it. Shared by the JSON API and
//! the pages. Client-sent prices are never read: every view re-prices from the database.

use chrono::Utc;
use serde::Serialize;
use sqlx::PgPool;

use super::carts::{self, Cart, CartLine};
use super::pricing::{self, Line, MAX_QUANTITY, PromoRejection, VALIDITY_MONTHS};
use super::promo_codes::{self, PromoCode};
use crate::accounts::ssh_keys;
use crate::catalog::os_templates::{self, OsFamily, OsTemplate};
use crate::catalog::{locations, plans};
use crate::error::{AppError, AppResult, ResultExt};
use crate::money::format_pkr;
use crate::secrets;

/// The guest cart cookie's name.
pub const CART_COOKIE: &str = "ngr_cart";

/// Whose cart a request works on.
#[derive(Clone, Debug)]
pub enum CartOwner {
    Customer(i32),
    /// A guest with the cart token from the cookie or `X-Cart-Token` header, if any.
    Guest(Option<String>),
}

/// The cart of `owner`, if it has one.
pub async fn find(db: &PgPool, owner: &CartOwner) -> sqlx::Result<Option<Cart>> {
    match owner {
        CartOwner::Customer(user_id) => carts::find_for_user(db, *user_id).await,
        CartOwner::Guest(Some(token)) => carts::find_by_token_hash(db, &secrets::hash(token)).await,
        CartOwner::Guest(None) => Ok(None),
    }
}

/// The cart of `owner`, created when missing; a new guest cart comes with its fresh token,
/// which the caller hands to the client (cookie and response body).
pub async fn find_or_create(
    db: &PgPool,
    owner: &CartOwner,
) -> sqlx::Result<(Cart, Option<String>)> {
    if let Some(cart) = find(db, owner).await? {
        return Ok((cart, None));
    }
    match owner {
        CartOwner::Customer(user_id) => {
            Ok((carts::get_or_create_for_user(db, *user_id).await?, None))
        }
        CartOwner::Guest(_) => {
            let token = secrets::generate();
            Ok((
                carts::insert_guest(db, &secrets::hash(&token)).await?,
                Some(token),
            ))
        }
    }
}

/// A line of the cart as shown, priced from today's catalog.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CartItemView {
    /// The line's id (for `PATCH`/`DELETE /cart/items/{id}`).
    pub id: i64,
    pub plan_id: String,
    pub plan_name: String,
    /// The plan's category slug (`rdp`, `vps`).
    pub category: Option<String>,
    /// The plan's display colour (CSS colour).
    pub theme_color: Option<String>,
    pub location_id: i32,
    pub location_name: String,
    /// 1, 3, 6 or 12.
    pub validity_months: i32,
    /// 1 to 10.
    pub quantity: i32,
    /// Today's price of one server for one month, in whole PKR.
    pub monthly_price_pkr: i32,
    /// Monthly price × months × quantity, in whole PKR.
    pub line_total_pkr: i64,
    /// `line_total_pkr` formatted for display (`Rs 4,500`).
    pub line_total_display: String,
    /// Still for sale as chosen; when false, `problem` says why and checkout is blocked.
    pub available: bool,
    /// Why the line cannot be bought now; null when it can.
    pub problem: Option<String>,
    /// The operating system chosen (`templates` of the plan); null when the plan offers none.
    pub template_id: Option<i32>,
    pub template_name: Option<String>,
    /// The customer's SSH keys the servers will accept (Linux), by id.
    pub ssh_key_ids: Vec<i32>,
}

/// The promo code on a cart and what it does now.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PromoView {
    pub code: String,
    /// Whether it applies to the cart as it is now.
    pub applies: bool,
    /// The discount it gives now, in whole PKR (0 when it does not apply).
    pub discount_pkr: i64,
    /// Why it does not apply, when it does not.
    pub problem: Option<String>,
    /// What it gives, in words: `10% off, at most Rs 1,000 (the cap applies)`, `Rs 500 off`.
    pub description: String,
}

/// A promo code's offer in words, saying when its cap is what limits `discount_pkr`.
fn describe(promo: &PromoCode, subtotal_pkr: i64) -> String {
    use super::promo_codes::DiscountType;
    let offer = match promo.discount_type {
        DiscountType::Percentage => format!("{}% off", promo.discount_value),
        DiscountType::FixedAmount => format!("{} off", format_pkr(i64::from(promo.discount_value))),
    };
    match (promo.discount_type, promo.max_discount_amount) {
        (DiscountType::Percentage, Some(cap)) => {
            let uncapped = subtotal_pkr * i64::from(promo.discount_value.clamp(0, 100)) / 100;
            let binds = uncapped > i64::from(cap);
            format!(
                "{offer}, at most {}{}",
                format_pkr(i64::from(cap)),
                if binds { " (the cap applies)" } else { "" }
            )
        }
        _ => offer,
    }
}

/// A priced cart. Amounts are whole PKR; the `*_display` fields are the same amounts formatted
/// for display.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct CartView {
    /// The lines, oldest first.
    pub items: Vec<CartItemView>,
    /// The promo code on the cart, if any.
    pub promo: Option<PromoView>,
    /// The sum of the lines, in whole PKR.
    pub subtotal_pkr: i64,
    /// The promo code's discount, in whole PKR.
    pub discount_pkr: i64,
    /// What checkout would charge: subtotal − discount, in whole PKR.
    pub total_pkr: i64,
    pub subtotal_display: String,
    pub discount_display: String,
    pub total_display: String,
    /// How many servers the cart holds (the sum of quantities).
    pub item_count: i64,
    /// What stops checkout, in words; empty when checkout may proceed.
    pub problems: Vec<String>,
    /// True when `problems` is empty.
    pub can_checkout: bool,
}

fn line_problem(line: &CartLine) -> Option<String> {
    if !line.plan_active {
        Some(format!(
            "{} is no longer sold; remove it to check out",
            line.plan_name
        ))
    } else if !line.location_active || !line.sold_there {
        Some(format!(
            "{} is no longer sold in {}; remove it to check out",
            line.plan_name, line.location_name
        ))
    } else if !line.os_offered {
        Some(format!(
            "{} is no longer offered with {}; remove it and choose another system",
            line.os_template_name
                .as_deref()
                .unwrap_or("The chosen system"),
            line.plan_name
        ))
    } else {
        None
    }
}

/// Prices a cart's lines and promo code as of now.
pub fn price(lines: &[CartLine], promo: Option<&PromoCode>) -> CartView {
    let items: Vec<CartItemView> = lines
        .iter()
        .map(|line| {
            let total = Line {
                monthly_price_pkr: line.price_pkr,
                months: line.validity_months,
                quantity: line.quantity,
            }
            .total();
            let problem = line_problem(line);
            CartItemView {
                id: line.id,
                plan_id: line.plan_id.clone(),
                plan_name: line.plan_name.clone(),
                category: line.category_slug.clone(),
                theme_color: line.theme_color.clone(),
                location_id: line.location_id,
                location_name: line.location_name.clone(),
                validity_months: line.validity_months,
                quantity: line.quantity,
                monthly_price_pkr: line.price_pkr,
                line_total_pkr: total,
                line_total_display: format_pkr(total),
                available: problem.is_none(),
                problem,
                template_id: line.os_template_id,
                template_name: line.os_template_name.clone(),
                ssh_key_ids: line.ssh_key_ids.clone(),
            }
        })
        .collect();
    let priced: Vec<Line> = lines
        .iter()
        .map(|l| Line {
            monthly_price_pkr: l.price_pkr,
            months: l.validity_months,
            quantity: l.quantity,
        })
        .collect();
    let (totals, rejection) = pricing::price(&priced, promo, Utc::now());
    let mut problems: Vec<String> = items.iter().filter_map(|i| i.problem.clone()).collect();
    if items.is_empty() {
        problems.push("your cart is empty".to_owned());
    }
    if pricing::order_amount(totals.total_pkr).is_none() {
        problems.push("this order is too large to place at once; split it".to_owned());
    }
    let promo = promo.map(|p| PromoView {
        code: p.code.clone(),
        applies: rejection.is_none(),
        discount_pkr: totals.discount_pkr,
        problem: rejection.as_ref().map(ToString::to_string),
        description: describe(p, totals.subtotal_pkr),
    });
    CartView {
        item_count: items.iter().map(|i| i64::from(i.quantity)).sum(),
        can_checkout: problems.is_empty(),
        problems,
        items,
        promo,
        subtotal_display: format_pkr(totals.subtotal_pkr),
        discount_display: format_pkr(totals.discount_pkr),
        total_display: format_pkr(totals.total_pkr),
        subtotal_pkr: totals.subtotal_pkr,
        discount_pkr: totals.discount_pkr,
        total_pkr: totals.total_pkr,
    }
}

/// The priced view of a cart (an empty one when there is no cart).
pub async fn view(db: &PgPool, cart: Option<&Cart>) -> sqlx::Result<CartView> {
    let Some(cart) = cart else {
        return Ok(price(&[], None));
    };
    let lines = carts::list_lines(db, cart.id).await?;
    let promo = match cart.promo_code_id {
        Some(id) => promo_codes::find(db, id).await?,
        None => None,
    };
    Ok(price(&lines, promo.as_ref()))
}

fn check_months(months: i32) -> AppResult<()> {
    if !VALIDITY_MONTHS.contains(&months) {
        return Err(AppError::invalid(
            "validity_months",
            "must be 1, 3, 6 or 12",
        ));
    }
    Ok(())
}

fn check_quantity(quantity: i32) -> AppResult<()> {
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(AppError::invalid(
            "quantity",
            format!("must be between 1 and {MAX_QUANTITY}"),
        ));
    }
    Ok(())
}

/// What a customer adds to the cart.
#[derive(Clone, Debug)]
pub struct NewItem {
    pub plan_id: String,
    pub location_id: i32,
    pub validity_months: i32,
    pub quantity: i32,
    /// The operating system (`None`: the plan's first, when it offers a choice).
    pub os_template_id: Option<i32>,
    /// The customer's SSH keys for a Linux system, by id.
    pub ssh_key_ids: Vec<i32>,
}

/// Checks a line can be bought: the plan is on sale, in a location where it is sold, for 1, 3,
/// 6 or 12 months, 1 to 10 units, and the location can take that many more servers; the
/// system is one the plan offers (the first when none is named) and the SSH keys are the
/// signed-in customer's own, for a Linux system. Settles the item's system and sorts its keys.
pub async fn validate_item(
    db: &PgPool,
    owner: &CartOwner,
    item: &mut NewItem,
    ip_hold_days: u32,
) -> AppResult<()> {
    check_months(item.validity_months)?;
    check_quantity(item.quantity)?;
    let plan = plans::find(db, &item.plan_id)
        .await?
        .filter(plans::Plan::is_active)
        .ok_or_else(|| AppError::invalid("plan_id", "no such plan is on sale"))?;
    let sold_in = locations::list_for_plan(db, &plan.id).await?;
    if !sold_in
        .iter()
        .any(|l| l.id == item.location_id && l.is_active.unwrap_or(true))
    {
        return Err(AppError::invalid(
            "location_id",
            format!("{} is not sold in that location", plan.name),
        ));
    }
    let offered = os_templates::list_for_plan(db, &plan.id).await?;
    let system = choose_system(&offered, item.os_template_id, &plan.name)?;
    item.os_template_id = system.map(|t| t.id);
    item.ssh_key_ids.sort_unstable();
    if !item.ssh_key_ids.is_empty() {
        if system.is_some_and(|t| t.family == OsFamily::Windows) {
            return Err(AppError::invalid(
                "ssh_key_ids",
                "SSH keys are for Linux systems; a Windows server signs in with its password",
            ));
        }
        let CartOwner::Customer(user_id) = owner else {
            return Err(AppError::invalid(
                "ssh_key_ids",
                "sign in to put your SSH keys on a server",
            ));
        };
        ssh_keys::find_many(db, *user_id, &item.ssh_key_ids, "ssh_key_ids").await?;
    }
    check_capacity(db, item.location_id, item.quantity, ip_hold_days).await
}

/// The system a customer gets: the one named if the plan offers it, else the plan's first;
/// none when the plan offers no choice (and then none may be named).
pub fn choose_system<'a>(
    offered: &'a [OsTemplate],
    named: Option<i32>,
    plan_name: &str,
) -> AppResult<Option<&'a OsTemplate>> {
    match named {
        None => Ok(offered.first()),
        Some(id) => match offered.iter().find(|t| t.id == id) {
            Some(template) => Ok(Some(template)),
            None if offered.is_empty() => Err(AppError::invalid(
                "template_id",
                format!("{plan_name} offers no choice of system; leave template_id out"),
            )),
            None => Err(AppError::invalid(
                "template_id",
                format!(
                    "{plan_name} does not offer that system; choose one of: {}",
                    offered
                        .iter()
                        .map(|t| format!("{} ({})", t.name, t.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        },
    }
}

/// Refuses more servers than a location can take now (its backend's free addresses): a sold
/// out location stops selling instead of failing after payment.
pub async fn check_capacity(
    db: impl sqlx::PgExecutor<'_>,
    location_id: i32,
    quantity: i32,
    ip_hold_days: u32,
) -> AppResult<()> {
    let capacity =
        crate::provisioning::backends::location_capacity(db, location_id, ip_hold_days).await?;
    match capacity {
        Some(free) if free < i64::from(quantity) => Err(AppError::conflict(
            "location_id",
            if free <= 0 {
                "this location is sold out for now; please choose another".to_owned()
            } else {
                format!("only {free} more server(s) can be ordered in this location right now")
            },
        )),
        _ => Ok(()),
    }
}

/// Adds a line checked by [`validate_item`]; the same line adds up, to at most 10 units.
pub async fn add_validated_item(db: &PgPool, cart: &Cart, item: &NewItem) -> AppResult<i64> {
    let id = carts::add_item(
        db,
        cart.id,
        &carts::NewLine {
            plan_id: &item.plan_id,
            location_id: item.location_id,
            validity_months: item.validity_months,
            quantity: item.quantity,
            os_template_id: item.os_template_id,
            ssh_key_ids: &item.ssh_key_ids,
        },
    )
    .await
    .on_constraint("cart_items_quantity_check", |_| {
        AppError::invalid(
            "quantity",
            format!("at most {MAX_QUANTITY} of one plan per order"),
        )
    })?;
    carts::touch(db, cart.id).await?;
    Ok(id)
}

/// Changes a line's quantity and months; a line of another cart is a 404.
pub async fn update_item(
    db: &PgPool,
    cart: &Cart,
    item_id: i64,
    quantity: i32,
    months: i32,
) -> AppResult<()> {
    check_months(months)?;
    check_quantity(quantity)?;
    let updated = carts::update_item(db, cart.id, item_id, quantity, months)
        .await
        .on_constraint("cart_items_line_key", |_| {
            AppError::conflict(
                "validity_months",
                "the cart already has this plan for that many months",
            )
        })?;
    if !updated {
        return Err(AppError::NotFound("cart item"));
    }
    Ok(())
}

/// Removes a line; a line of another cart is a 404.
pub async fn remove_item(db: &PgPool, cart: &Cart, item_id: i64) -> AppResult<()> {
    if !carts::delete_item(db, cart.id, item_id).await? {
        return Err(AppError::NotFound("cart item"));
    }
    Ok(())
}

/// Puts a promo code on the cart if it applies to it now; otherwise a 422 saying why (unknown,
/// expired, not yet valid, used up, below the minimum) and the cart is unchanged.
pub async fn apply_promo(db: &PgPool, cart: &Cart, code: &str) -> AppResult<PromoView> {
    let code = code.trim();
    if code.is_empty() || code.len() > 50 {
        return Err(AppError::invalid(
            "code",
            PromoRejection::Unknown.to_string(),
        ));
    }
    let promo = promo_codes::find_by_code(db, code)
        .await?
        .ok_or_else(|| AppError::invalid("code", PromoRejection::Unknown.to_string()))?;
    let lines = carts::list_lines(db, cart.id).await?;
    let view = price(&lines, Some(&promo));
    let promo_view = view.promo.expect("priced with a promo");
    if let Some(problem) = &promo_view.problem {
        return Err(AppError::invalid("code", problem.clone()));
    }
    carts::set_promo(db, cart.id, Some(promo.id)).await?;
    Ok(promo_view)
}

/// Takes the promo code off the cart.
pub async fn remove_promo(db: &PgPool, cart: &Cart) -> AppResult<()> {
    carts::set_promo(db, cart.id, None).await?;
    Ok(())
}

/// At login, moves the guest's cart into the customer's (nothing when there is no guest cart).
pub async fn merge_guest_cart(
    db: &PgPool,
    guest_token: Option<&str>,
    user_id: i32,
) -> sqlx::Result<()> {
    let Some(token) = guest_token else {
        return Ok(());
    };
    let Some(guest) = carts::find_by_token_hash(db, &secrets::hash(token)).await? else {
        return Ok(());
    };
    let mut tx = db.begin().await?;
    let into = carts::get_or_create_for_user(&mut *tx, user_id).await?;
    carts::merge_into(&mut tx, &guest, &into).await?;
    tx.commit().await?;
    tracing::info!(
        user.id = user_id,
        cart.id = into.id,
        "merged guest cart {} into the account's cart",
        guest.id
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promo(kind: &str, value: i32, cap: Option<i32>) -> PromoCode {
        PromoCode {
            id: 1,
            code: "SAVE".into(),
            discount_type: kind.parse().unwrap(),
            discount_value: value,
            min_order_value: Some(0),
            max_discount_amount: cap,
            valid_from: None,
            valid_until: None,
            is_active: Some(true),
            max_uses: None,
            current_uses: Some(0),
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn a_capped_percentage_says_it_is_capped() {
        let capped = promo("percentage", 20, Some(1000));
        assert_eq!(describe(&capped, 4500), "20% off, at most Rs 1,000");
        assert_eq!(
            describe(&capped, 9000),
            "20% off, at most Rs 1,000 (the cap applies)"
        );
        assert_eq!(describe(&promo("percentage", 10, None), 9000), "10% off");
        assert_eq!(
            describe(&promo("fixed_amount", 500, None), 9000),
            "Rs 500 off"
        );
    }
}
