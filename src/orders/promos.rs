//! The operator's verbs on promo codes (create, change, delete; each audited in its
//! transaction), and the checks a promo code's fields must pass. Behind both the admin API and
//! the back office's promo code pages.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::promo_codes::{self, DiscountType, PromoCode, PromoCodeFields};
use crate::accounts::validation::FieldErrors;
use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::error::{AppError, AppResult, ResultExt};

/// A promo code as the operator sends it. Creating one needs `code`, `discount_type` and
/// `discount_value`; on PATCH every field is optional and an absent one keeps its value, while
/// an explicit null clears the nullable ones (`max_discount_amount`, `valid_from`,
/// `valid_until`, `max_uses`). Every problem is reported at once (422).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoCodeRequest {
    /// 1 to 50 letters, digits, `-` or `_`; stored upper case. Required on create.
    pub code: Option<String>,
    /// Required on create.
    #[schema(value_type = Option<DiscountType>)]
    pub discount_type: Option<String>,
    /// A percentage (1–100) or whole PKR (0 or more), by `discount_type`. Required on create.
    pub discount_value: Option<i64>,
    /// The smallest order subtotal it applies to, whole PKR (default 0).
    pub min_order_value: Option<i64>,
    /// The largest discount a percentage gives, whole PKR; null: no cap.
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_discount_amount: Option<Option<i64>>,
    /// Valid from this instant (RFC 3339); null: at once.
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    /// Valid until this instant (RFC 3339), after `valid_from`; null: no end.
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    /// Default true.
    pub is_active: Option<bool>,
    /// How many orders may use it (not below the uses so far); null: no limit.
    #[serde(default, with = "crate::web::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_uses: Option<Option<i64>>,
}

/// An owned, validated set of promo code fields.
pub struct ValidPromo {
    code: String,
    discount_type: DiscountType,
    discount_value: i32,
    min_order_value: i32,
    max_discount_amount: Option<i32>,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    is_active: bool,
    max_uses: Option<i32>,
}

impl ValidPromo {
    fn fields(&self) -> PromoCodeFields<'_> {
        PromoCodeFields {
            code: &self.code,
            discount_type: self.discount_type,
            discount_value: self.discount_value,
            min_order_value: self.min_order_value,
            max_discount_amount: self.max_discount_amount,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            is_active: self.is_active,
            max_uses: self.max_uses,
        }
    }
}

fn amount(errors: &mut FieldErrors, field: &str, value: i64) -> Option<i32> {
    match i32::try_from(value) {
        Ok(v) if v >= 0 => Some(v),
        _ if field == "max_uses" => {
            errors.add(field, "must be a whole number, 0 or more");
            None
        }
        _ => {
            errors.add(field, "must be a whole number of rupees, 0 or more");
            None
        }
    }
}

/// Merges a request over the current code (or over nothing, for a new one) and checks every
/// rule, reporting all problems at once.
pub fn validate_promo(
    request: PromoCodeRequest,
    current: Option<&PromoCode>,
) -> AppResult<ValidPromo> {
    let mut errors = FieldErrors::default();
    let code = request
        .code
        .map(|c| c.trim().to_uppercase())
        .or_else(|| current.map(|c| c.code.clone()));
    let code = match code {
        Some(code)
            if !code.is_empty()
                && code.len() <= 50
                && code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            code
        }
        Some(_) => {
            errors.add("code", "must be 1 to 50 letters, digits, - or _");
            String::new()
        }
        None => {
            errors.add("code", "is required");
            String::new()
        }
    };
    let discount_type = match (request.discount_type.as_deref(), current) {
        (Some(text), _) => {
            let parsed = DiscountType::parse(text);
            if parsed.is_none() {
                errors.add("discount_type", "must be percentage or fixed_amount");
            }
            parsed
        }
        (None, Some(current)) => Some(current.discount_type),
        (None, None) => {
            errors.add("discount_type", "is required");
            None
        }
    };
    let discount_value = match request.discount_value {
        Some(v) => amount(&mut errors, "discount_value", v),
        None => match current {
            Some(c) => Some(c.discount_value),
            None => {
                errors.add("discount_value", "is required");
                None
            }
        },
    };
    if discount_type == Some(DiscountType::Percentage)
        && discount_value.is_some_and(|v| !(1..=100).contains(&v))
    {
        errors.add("discount_value", "a percentage must be between 1 and 100");
    }
    let min_order_value = match request.min_order_value {
        Some(v) => amount(&mut errors, "min_order_value", v),
        None => Some(current.map_or(0, PromoCode::min_order_value)),
    };
    let max_discount_amount = match request.max_discount_amount {
        Some(Some(v)) => amount(&mut errors, "max_discount_amount", v).map(Some),
        Some(None) => Some(None),
        None => Some(current.and_then(|c| c.max_discount_amount)),
    };
    let max_uses = match request.max_uses {
        Some(Some(v)) => amount(&mut errors, "max_uses", v).map(Some),
        Some(None) => Some(None),
        None => Some(current.and_then(|c| c.max_uses)),
    };
    if let (Some(Some(max)), Some(c)) = (max_uses, current)
        && max < c.current_uses()
    {
        errors.add(
            "max_uses",
            &format!("it has already been used {} times", c.current_uses()),
        );
    }
    let valid_from = request
        .valid_from
        .unwrap_or_else(|| current.and_then(|c| c.valid_from));
    let valid_until = request
        .valid_until
        .unwrap_or_else(|| current.and_then(|c| c.valid_until));
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && until <= from
    {
        errors.add("valid_until", "must be after valid_from");
    }
    let is_active = request
        .is_active
        .unwrap_or_else(|| current.is_none_or(PromoCode::is_active));
    match (
        discount_type,
        discount_value,
        min_order_value,
        max_discount_amount,
        max_uses,
    ) {
        (
            Some(discount_type),
            Some(discount_value),
            Some(min_order_value),
            Some(max_discount_amount),
            Some(max_uses),
        ) if errors.is_empty() => Ok(ValidPromo {
            code,
            discount_type,
            discount_value,
            min_order_value,
            max_discount_amount,
            valid_from,
            valid_until,
            is_active,
            max_uses,
        }),
        _ => Err(AppError::Validation(errors.0)),
    }
}

fn code_taken() -> AppError {
    AppError::conflict("code", "a promo code with this name already exists")
}

/// Validates and creates a promo code for the operator `actor` (API and pages), audited.
pub async fn create(
    state: &Context,
    actor: &Actor<'_>,
    request: PromoCodeRequest,
) -> AppResult<PromoCode> {
    let valid = validate_promo(request, None)?;
    let mut tx = state.db.begin().await?;
    let created = promo_codes::insert(&mut *tx, &valid.fields())
        .await
        .on_constraint("promo_codes_code_upper_key", |_| code_taken())
        .on_constraint("promo_codes_code_key", |_| code_taken())?;
    audit_promo(
        &mut tx,
        actor,
        "promo_code.create",
        created.id,
        None,
        Some(&created),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Merges `request` over the code, validates and saves it for the operator `actor`, audited.
pub async fn update(
    state: &Context,
    actor: &Actor<'_>,
    id: i32,
    request: PromoCodeRequest,
) -> AppResult<PromoCode> {
    let mut tx = state.db.begin().await?;
    let before = promo_codes::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("promo code"))?;
    let valid = validate_promo(request, Some(&before))?;
    let after = promo_codes::update(&mut *tx, id, &valid.fields())
        .await
        .on_constraint("promo_codes_code_upper_key", |_| code_taken())
        .on_constraint("promo_codes_code_key", |_| code_taken())?
        .ok_or(AppError::NotFound("promo code"))?;
    audit_promo(
        &mut tx,
        actor,
        "promo_code.update",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes an unused promo code for the operator `actor` (API and pages), audited; a used one
/// is a 409 saying to deactivate it instead.
pub async fn delete(state: &Context, actor: &Actor<'_>, id: i32) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let before = promo_codes::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("promo code"))?;
    if before.current_uses() > 0 {
        return Err(AppError::conflict(
            "id",
            format!(
                "{} has been used {} times; deactivate it instead",
                before.code,
                before.current_uses()
            ),
        ));
    }
    promo_codes::delete(&mut *tx, id).await?;
    audit_promo(&mut tx, actor, "promo_code.delete", id, Some(&before), None).await?;
    tx.commit().await?;
    Ok(())
}

async fn audit_promo(
    tx: &mut sqlx::PgConnection,
    actor: &Actor<'_>,
    action: &str,
    id: i32,
    before: Option<&PromoCode>,
    after: Option<&PromoCode>,
) -> AppResult<()> {
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: before.map(|b| serde_json::to_value(b).unwrap_or_default()),
            after: after.map(|a| serde_json::to_value(a).unwrap_or_default()),
            ..actor.entry(action, "promo_code", Some(&id.to_string()))
        },
    )
    .await?;
    Ok(())
}
