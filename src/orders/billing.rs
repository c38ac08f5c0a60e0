//! The shop's billing settings and tax table: whether and how it charges sales tax
//! ([`TaxMode`]), the seller's particulars printed on invoices, the invoice numbers' prefix and
//! logo (`billing_settings`, one row), and the rate per province from a date (`tax_rates`).
//! [`apply_tax`] puts the tax on a new order, in the transaction that places it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use super::orders::Order;
use super::tax::{self, TaxMode};
use crate::accounts::billing::Province;
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::db::timed;
use crate::error::{AppError, AppResult};

/// The largest logo.
pub const MAX_LOGO_BYTES: usize = 512 * 1024;
/// The logo's image types.
pub const LOGO_TYPES: [&str; 2] = ["image/png", "image/jpeg"];

/// The shop's billing settings.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct BillingSettings {
    /// `off` (not registered for sales tax: plain invoices), `inclusive` (prices include the
    /// tax) or `exclusive` (the tax is added to prices).
    pub tax_mode: TaxMode,
    /// The seller's legal name, on every invoice.
    pub seller_name: String,
    pub seller_address: String,
    /// National Tax Number (required to charge tax).
    pub seller_ntn: Option<String>,
    /// Sales Tax Registration Number (required to charge tax).
    pub seller_strn: Option<String>,
    /// Where the seller is: the tax province of a buyer who has not said theirs (required to
    /// charge tax).
    pub seller_province: Option<Province>,
    /// Invoice numbers are `PREFIX-YYYY-NNNNNN`, credit notes `PREFIX-CN-YYYY-NNNNNN`.
    pub invoice_prefix: String,
    /// Whether a logo is set (`/api/v1/admin/billing/logo`).
    pub has_logo: bool,
    pub updated_at: DateTime<Utc>,
}

/// A change of the settings: each field absent keeps its value.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    pub tax_mode: Option<TaxMode>,
    /// 1 to 200 characters.
    pub seller_name: Option<String>,
    /// Up to 500 characters.
    pub seller_address: Option<String>,
    /// `null` or "" clears it.
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub seller_ntn: Option<Option<String>>,
    /// `null` or "" clears it.
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub seller_strn: Option<Option<String>>,
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<Province>)]
    pub seller_province: Option<Option<Province>>,
    /// 1 to 10 capital letters or digits.
    pub invoice_prefix: Option<String>,
}

/// A rate of the tax table.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct TaxRate {
    pub id: i32,
    pub province: Province,
    /// Basis points: 1600 is 16 %.
    pub rate_bp: i32,
    /// Orders placed on or after this day (PKT) pay it, until a later row's day.
    pub effective_from: NaiveDate,
    pub created_by: Option<i32>,
    pub created_at: DateTime<Utc>,
    /// Whether it is the rate in force today for its province.
    #[sqlx(default)]
    pub in_force: bool,
}

/// A new rate from a day.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTaxRate {
    pub province: Province,
    /// Basis points, 0 to 5000 (0 % to 50 %): 1600 is 16 %.
    #[schema(minimum = 0, maximum = 5000)]
    pub rate_bp: i64,
    /// Today (PKT) or later.
    pub effective_from: NaiveDate,
}

/// The columns of [`BillingSettings`], for `concat!`.
macro_rules! settings_columns {
    () => {
        "tax_mode, seller_name, seller_address, seller_ntn, seller_strn, seller_province, \
         invoice_prefix, logo is not null as has_logo, updated_at"
    };
}

/// Today in Pakistan, as the database's clock says, for `concat!`.
macro_rules! today_pkt {
    () => {
        "(now() at time zone 'Asia/Karachi')::date"
    };
}

/// The settings.
pub async fn settings(db: impl PgExecutor<'_>) -> sqlx::Result<BillingSettings> {
    timed(
        "billing_settings.find",
        sqlx::query_as(concat!(
            "select ",
            settings_columns!(),
            " from billing_settings"
        ))
        .fetch_one(db),
    )
    .await
}

/// The logo's bytes and content type, if one is set.
pub async fn logo(db: impl PgExecutor<'_>) -> sqlx::Result<Option<(Vec<u8>, String)>> {
    let row: Option<(Option<Vec<u8>>, Option<String>)> = timed(
        "billing_settings.logo",
        sqlx::query_as("select logo, logo_type from billing_settings").fetch_optional(db),
    )
    .await?;
    Ok(match row {
        Some((Some(bytes), Some(kind))) => Some((bytes, kind)),
        _ => None,
    })
}

/// A tax or sales-tax registration number: 4 to 20 letters, digits and dashes.
fn parse_registration(text: &str) -> Result<Option<String>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if !(4..=20).contains(&text.len())
        || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err("use 4 to 20 letters, digits and dashes");
    }
    Ok(Some(text.to_owned()))
}

/// Changes the settings (audited as `billing.settings`). Charging tax needs the seller's NTN,
/// STRN and province: a 422 names what is missing.
pub async fn change_settings(
    ctx: &Context,
    actor: &Actor<'_>,
    change: &SettingsChange,
) -> AppResult<BillingSettings> {
    let mut errors = crate::accounts::validation::FieldErrors::default();
    let mut tx = ctx.db.begin().await?;
    let before: BillingSettings = timed(
        "billing_settings.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            settings_columns!(),
            " from billing_settings for update"
        ))
        .fetch_one(&mut *tx),
    )
    .await?;
    let tax_mode = change.tax_mode.unwrap_or(before.tax_mode);
    let seller_name = match &change.seller_name {
        Some(name) => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                errors.add("seller_name", "must be 1 to 200 characters");
            }
            name.to_owned()
        }
        None => before.seller_name.clone(),
    };
    let seller_address = match &change.seller_address {
        Some(address) => {
            let address = address.trim();
            if address.chars().count() > 500 {
                errors.add("seller_address", "must be at most 500 characters");
            }
            address.to_owned()
        }
        None => before.seller_address.clone(),
    };
    let mut registration =
        |field: &str, change: &Option<Option<String>>, was: &Option<String>| match change {
            None => was.clone(),
            Some(None) => None,
            Some(Some(text)) => errors.check(field, parse_registration(text)).flatten(),
        };
    let seller_ntn = registration("seller_ntn", &change.seller_ntn, &before.seller_ntn);
    let seller_strn = registration("seller_strn", &change.seller_strn, &before.seller_strn);
    let seller_province = change.seller_province.unwrap_or(before.seller_province);
    let invoice_prefix = match &change.invoice_prefix {
        Some(prefix) => {
            let prefix = prefix.trim().to_ascii_uppercase();
            if prefix.is_empty()
                || prefix.len() > 10
                || !prefix.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                errors.add("invoice_prefix", "use 1 to 10 letters or digits, e.g. NGR");
            }
            prefix
        }
        None => before.invoice_prefix.clone(),
    };
    if tax_mode != TaxMode::Off {
        let needs = "charging sales tax needs it";
        if seller_ntn.is_none() {
            errors.add("seller_ntn", needs);
        }
        if seller_strn.is_none() {
            errors.add("seller_strn", needs);
        }
        if seller_province.is_none() {
            errors.add("seller_province", needs);
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    let after: BillingSettings = timed(
        "billing_settings.update",
        sqlx::query_as(concat!(
            "update billing_settings set tax_mode = $1, seller_name = $2, seller_address = $3,
                 seller_ntn = $4, seller_strn = $5, seller_province = $6, invoice_prefix = $7,
                 updated_by = $8, updated_at = now()
             returning ",
            settings_columns!()
        ))
        .bind(tax_mode)
        .bind(&seller_name)
        .bind(&seller_address)
        .bind(seller_ntn.as_deref())
        .bind(seller_strn.as_deref())
        .bind(seller_province)
        .bind(&invoice_prefix)
        .bind(actor.user_id)
        .fetch_one(&mut *tx),
    )
    .await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!(before)),
            after: Some(json!(after)),
            ..actor.entry("billing.settings", "billing_settings", None)
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Sets (`Some`) or removes the logo (audited as `billing.logo`); the caller has checked that
/// the bytes are the PNG or JPEG `content_type` says.
pub async fn set_logo(
    ctx: &Context,
    actor: &Actor<'_>,
    logo: Option<(&[u8], &str)>,
) -> AppResult<BillingSettings> {
    if let Some((bytes, _)) = logo
        && bytes.len() > MAX_LOGO_BYTES
    {
        return Err(AppError::invalid(
            "logo",
            format!("must be at most {} KiB", MAX_LOGO_BYTES / 1024),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let after: BillingSettings = timed(
        "billing_settings.set_logo",
        sqlx::query_as(concat!(
            "update billing_settings set logo = $1, logo_type = $2, updated_by = $3,
                 updated_at = now()
             returning ",
            settings_columns!()
        ))
        .bind(logo.map(|(bytes, _)| bytes))
        .bind(logo.map(|(_, kind)| kind))
        .bind(actor.user_id)
        .fetch_one(&mut *tx),
    )
    .await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            after: Some(json!({
                "logo": logo.map(|(bytes, kind)| json!({ "type": kind, "bytes": bytes.len() })),
            })),
            ..actor.entry("billing.logo", "billing_settings", None)
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// The tax table, by province then newest first, marking the rates in force today.
pub async fn rates(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<TaxRate>> {
    timed(
        "tax_rates.list",
        sqlx::query_as(concat!(
            "select id, province, rate_bp, effective_from, created_by, created_at,
                    id = (select r.id from tax_rates r
                          where r.province = t.province and r.effective_from <= ",
            today_pkt!(),
            " order by r.effective_from desc limit 1) as in_force
             from tax_rates t order by province, effective_from desc"
        ))
        .fetch_all(db),
    )
    .await
}

/// The rate (basis points) in force for `province` today (PKT); 0 when the table has none.
pub async fn rate_today(db: impl PgExecutor<'_>, province: Province) -> sqlx::Result<i32> {
    let rate: Option<i32> = timed(
        "tax_rates.rate_today",
        sqlx::query_scalar(concat!(
            "select rate_bp from tax_rates where province = $1 and effective_from <= ",
            today_pkt!(),
            " order by effective_from desc limit 1"
        ))
        .bind(province)
        .fetch_optional(db),
    )
    .await?;
    Ok(rate.unwrap_or(0))
}

/// Adds a rate from a day (today or later, PKT), audited as `tax_rate.add`. One rate per
/// province and day: a second is a 409.
pub async fn add_rate(ctx: &Context, actor: &Actor<'_>, new: &NewTaxRate) -> AppResult<TaxRate> {
    if !(0..=5000).contains(&new.rate_bp) {
        return Err(AppError::invalid(
            "rate_bp",
            "must be 0 to 5000 basis points (0 % to 50 %); 1600 is 16 %",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let today: NaiveDate = sqlx::query_scalar(concat!("select ", today_pkt!()))
        .fetch_one(&mut *tx)
        .await?;
    if new.effective_from < today {
        return Err(AppError::invalid(
            "effective_from",
            format!("must be today ({today}) or later: orders already placed keep their rate"),
        ));
    }
    let added: Option<TaxRate> = timed(
        "tax_rates.insert",
        sqlx::query_as(
            "insert into tax_rates (province, rate_bp, effective_from, created_by)
             values ($1, $2, $3, $4) on conflict (province, effective_from) do nothing
             returning id, province, rate_bp, effective_from, created_by, created_at",
        )
        .bind(new.province)
        .bind(new.rate_bp as i32)
        .bind(new.effective_from)
        .bind(actor.user_id)
        .fetch_optional(&mut *tx),
    )
    .await?;
    let Some(added) = added else {
        return Err(AppError::conflict(
            "effective_from",
            format!(
                "{} already has a rate from {}: remove it first",
                new.province.label(),
                new.effective_from
            ),
        ));
    };
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            after: Some(json!(added)),
            ..actor.entry("tax_rate.add", "tax_rate", Some(&added.id.to_string()))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(added)
}

/// Removes a rate not yet in force (its day is after today), audited as `tax_rate.remove`;
/// a rate that has applied stays, since orders were taxed by it.
pub async fn remove_rate(ctx: &Context, actor: &Actor<'_>, id: i32) -> AppResult<()> {
    let mut tx = ctx.db.begin().await?;
    let row: Option<(bool, serde_json::Value)> = timed(
        "tax_rates.find_for_delete",
        sqlx::query_as(concat!(
            "select effective_from > ",
            today_pkt!(),
            ", to_jsonb(t) from tax_rates t where id = $1 for update"
        ))
        .bind(id)
        .fetch_optional(&mut *tx),
    )
    .await?;
    let Some((future, before)) = row else {
        return Err(AppError::NotFound("tax rate"));
    };
    if !future {
        return Err(AppError::conflict(
            "effective_from",
            "this rate has applied to orders: add a new rate from a later day instead",
        ));
    }
    sqlx::query("delete from tax_rates where id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(before),
            ..actor.entry("tax_rate.remove", "tax_rate", Some(&id.to_string()))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Puts the sales tax on a new order (still awaiting payment, no credit applied yet), in the
/// transaction that places it: the shop's mode (`settings`, read once by the caller), the rate
/// in force today for `province` (else the seller's), the tax in whole rupees (`tax::split`),
/// and with prices excluding tax the amount to pay raised by it. With tax off the order is
/// returned as it is.
pub async fn apply_tax(
    tx: &mut sqlx::PgConnection,
    settings: &BillingSettings,
    order: Order,
    province: Option<Province>,
) -> AppResult<Order> {
    if settings.tax_mode == TaxMode::Off {
        return Ok(order);
    }
    let Some(province) = province.or(settings.seller_province) else {
        return Ok(order);
    };
    let rate = rate_today(&mut *tx, province).await?;
    let base = i64::from(order.total_amount_pkr) - i64::from(order.discount_amount_pkr());
    let split = tax::split(base, rate.max(0) as u32, settings.tax_mode);
    let final_amount = i32::try_from(split.gross_pkr)
        .map_err(|_| AppError::invalid("cart", "the order is too large"))?;
    let tax_amount = i32::try_from(split.tax_pkr)
        .map_err(|_| AppError::invalid("cart", "the order is too large"))?;
    Ok(super::orders::set_tax(
        &mut *tx,
        order.id,
        settings.tax_mode,
        province,
        rate,
        tax_amount,
        final_amount,
    )
    .await?)
}
