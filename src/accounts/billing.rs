//! The buyer's particulars for invoices (`billing_profiles`): the province whose sales tax they
//! owe, an optional tax number (NTN or CNIC) and a billing address. Optional throughout — a
//! customer without a tax number buys like anyone; the province is asked at checkout when the
//! shop charges sales tax.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::db::text_enum::text_enum;
use crate::db::timed;
use crate::error::{AppError, AppResult};

text_enum! {
    /// A province (or the federal capital) with its own sales tax on services.
    pub enum Province {
        Punjab = "punjab",
        Sindh = "sindh",
        KhyberPakhtunkhwa = "khyber_pakhtunkhwa",
        Balochistan = "balochistan",
        Islamabad = "islamabad",
    }
}

impl Province {
    /// As people write it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Punjab => "Punjab",
            Self::Sindh => "Sindh",
            Self::KhyberPakhtunkhwa => "Khyber Pakhtunkhwa",
            Self::Balochistan => "Balochistan",
            Self::Islamabad => "Islamabad Capital Territory",
        }
    }
}

/// A customer's billing particulars.
#[derive(Clone, Debug, Default, FromRow, Serialize, ToSchema)]
pub struct BillingProfile {
    /// Where they are, for sales tax.
    pub province: Option<Province>,
    /// NTN (`1234567-8`) or CNIC (`12345-1234567-1`), printed on their invoices.
    pub tax_id: Option<String>,
    /// Printed on their invoices.
    pub address: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A change of the billing particulars: each field absent keeps its value, `null` or "" clears
/// it.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingProfileChange {
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<Province>)]
    pub province: Option<Option<Province>>,
    /// NTN (7 digits and a check digit) or CNIC (13 digits), dashes optional.
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
    /// Up to 500 characters.
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
}

/// A tax number as typed, in its dashed form: an NTN (`1234567-8`, 8 digits) or a CNIC
/// (`12345-1234567-1`, 13 digits).
pub fn parse_tax_id(text: &str) -> Result<String, &'static str> {
    let digits: String = text.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("use digits and dashes only: an NTN (1234567-8) or a CNIC (12345-1234567-1)");
    }
    match digits.len() {
        8 => Ok(format!("{}-{}", &digits[..7], &digits[7..])),
        13 => Ok(format!(
            "{}-{}-{}",
            &digits[..5],
            &digits[5..12],
            &digits[12..]
        )),
        _ => Err("an NTN has 8 digits (1234567-8) and a CNIC 13 (12345-1234567-1)"),
    }
}

/// The customer's particulars (empty when never given).
pub async fn find(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<BillingProfile> {
    let found: Option<BillingProfile> = timed(
        "billing_profiles.find",
        sqlx::query_as(
            "select province, tax_id, address, updated_at from billing_profiles where user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(db),
    )
    .await?;
    Ok(found.unwrap_or_default())
}

/// Applies `change` to the customer's particulars, checking each field (a 422 names them).
pub async fn change(
    db: &mut sqlx::PgConnection,
    user_id: i32,
    change: &BillingProfileChange,
) -> AppResult<BillingProfile> {
    let mut errors = super::validation::FieldErrors::default();
    let current = find(&mut *db, user_id).await?;
    let province = match change.province {
        None => current.province,
        Some(value) => value,
    };
    let tax_id = match &change.tax_id {
        None => current.tax_id,
        Some(None) => None,
        Some(Some(text)) if text.trim().is_empty() => None,
        Some(Some(text)) => errors.check("tax_id", parse_tax_id(text)),
    };
    let address = match &change.address {
        None => current.address,
        Some(None) => None,
        Some(Some(text)) => {
            let text = text.trim();
            if text.chars().count() > 500 {
                errors.add("address", "must be at most 500 characters");
            }
            (!text.is_empty()).then(|| text.to_owned())
        }
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    save(
        &mut *db,
        user_id,
        province,
        tax_id.as_deref(),
        address.as_deref(),
    )
    .await
}

/// Records the province a customer chose at checkout (their other particulars unchanged).
pub async fn set_province(
    db: impl PgExecutor<'_>,
    user_id: i32,
    province: Province,
) -> sqlx::Result<()> {
    timed(
        "billing_profiles.set_province",
        sqlx::query(
            "insert into billing_profiles (user_id, province) values ($1, $2)
             on conflict (user_id) do update set province = excluded.province, updated_at = now()",
        )
        .bind(user_id)
        .bind(province)
        .execute(db),
    )
    .await?;
    Ok(())
}

async fn save(
    db: impl PgExecutor<'_>,
    user_id: i32,
    province: Option<Province>,
    tax_id: Option<&str>,
    address: Option<&str>,
) -> AppResult<BillingProfile> {
    Ok(timed(
        "billing_profiles.save",
        sqlx::query_as(
            "insert into billing_profiles (user_id, province, tax_id, address)
             values ($1, $2, $3, $4)
             on conflict (user_id) do update set province = excluded.province,
                 tax_id = excluded.tax_id, address = excluded.address, updated_at = now()
             returning province, tax_id, address, updated_at",
        )
        .bind(user_id)
        .bind(province)
        .bind(tax_id)
        .bind(address)
        .fetch_one(db),
    )
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_numbers_are_read_in_either_form_and_kept_dashed() {
        assert_eq!(parse_tax_id("1234567-8").unwrap(), "1234567-8");
        assert_eq!(parse_tax_id("12345678").unwrap(), "1234567-8");
        assert_eq!(parse_tax_id("42101-1234567-1").unwrap(), "42101-1234567-1");
        assert_eq!(parse_tax_id(" 4210112345671 ").unwrap(), "42101-1234567-1");
        assert!(parse_tax_id("1234").is_err());
        assert!(parse_tax_id("12345-abcdefg-1").is_err());
        assert!(parse_tax_id("").is_err());
        assert!(crate::db::text_enum::spellings_match_serde(Province::ALL));
    }
}
