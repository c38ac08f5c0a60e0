//! A plan's shapes — as the operator sees it ([`AdminPlan`], with its features and locations)
//! and the POST / PATCH body ([`PlanInput`]) — and that body checked against the rules and the
//! database (its category and locations must exist): the [`PlanDraft`] the plan operations
//! write, with every field at fault reported at once.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::input::{Field, MAX_DESCRIPTION_CHARS, optional_text, present, slug, text, value};
use crate::accounts::validation::FieldErrors;
use crate::catalog::THEME_COLORS;
use crate::catalog::categories;
use crate::catalog::locations;
use crate::catalog::plans::Plan;
use crate::catalog::plans::PlanFields;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;

/// A plan as the operator sees it, with its features and where it is sold.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AdminPlan {
    /// The plan's permanent id, `[a-z0-9-]` (`rdp-basic`); orders refer to it.
    pub id: String,
    pub category_id: Option<i32>,
    /// The category's slug.
    pub category: Option<String>,
    pub name: String,
    pub description: Option<String>,
    /// As shown to customers (`4 vCPU`).
    pub cpu: String,
    /// As shown to customers (`8 GB`).
    pub ram: String,
    /// As shown to customers (`100 GB NVMe`).
    pub storage: String,
    /// As shown to customers (`Unlimited`).
    pub bandwidth: String,
    pub os: Option<String>,
    /// The monthly price in whole PKR rupees.
    pub price_pkr: i32,
    /// The price as shown to customers (`Rs 2,500`).
    pub price_display: String,
    #[schema(schema_with = theme_color_schema)]
    pub theme_color: String,
    /// A badge on the plan's card (`Popular`).
    pub label: Option<String>,
    /// Plans are listed by this within their category, smallest first.
    pub display_order: i32,
    /// Whether it is on sale.
    pub is_active: bool,
    /// The card's feature lines, in order.
    pub features: Vec<String>,
    /// The ids of the locations it is sold in.
    pub location_ids: Vec<i32>,
    /// RFC 3339, UTC.
    pub created_at: Option<DateTime<Utc>>,
    /// RFC 3339, UTC.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The schema of a plan's `theme_color`: one of [`THEME_COLORS`].
fn theme_color_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(THEME_COLORS.iter().copied()))
        .description(Some("The colour of the plan's card"))
        .build()
}

impl AdminPlan {
    pub(super) fn new(
        plan: Plan,
        category: Option<String>,
        features: Vec<String>,
        location_ids: Vec<i32>,
    ) -> Self {
        Self {
            price_display: format_pkr(plan.price_pkr),
            is_active: plan.is_active(),
            theme_color: plan.theme_color.unwrap_or_else(|| "sky".to_owned()),
            id: plan.id,
            category_id: plan.category_id,
            category,
            name: plan.name,
            description: plan.description,
            cpu: plan.cpu,
            ram: plan.ram,
            storage: plan.storage,
            bandwidth: plan.bandwidth,
            os: plan.os,
            price_pkr: plan.price_pkr,
            label: plan.label,
            display_order: plan.display_order,
            features,
            location_ids,
            created_at: plan.created_at,
            updated_at: plan.updated_at,
        }
    }
}

/// The body of POST / PATCH `/admin/plans`. POST needs `id`, `category`, `name`, `cpu`, `ram`,
/// `storage`, `bandwidth` and `price_pkr`; PATCH takes any subset: an absent field keeps its
/// value, `null` (or blank) clears `description`, `os` and `label`. Text is trimmed. Unknown
/// fields are refused.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// Required on POST: 3 to 50 characters of `a-z`, `0-9` and `-`, no other plan's (409 if
    /// it is); `new`, `edit` and `delete` are reserved. On PATCH it may only repeat the plan's
    /// id (it never changes).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, pattern = "^[a-z0-9-]{3,50}$")]
    pub id: Field<String>,
    /// The slug of an existing category. Required on POST.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String)]
    pub category: Field<String>,
    /// Required on POST. At most 100 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub name: Field<String>,
    /// At most 2000 characters; `null` or blank clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Field<String>,
    /// Required on POST. At most 50 characters (`4 vCPU`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 50)]
    pub cpu: Field<String>,
    /// Required on POST. At most 50 characters (`8 GB`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 50)]
    pub ram: Field<String>,
    /// Required on POST. At most 100 characters (`100 GB NVMe`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub storage: Field<String>,
    /// Required on POST. At most 50 characters (`Unlimited`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 50)]
    pub bandwidth: Field<String>,
    /// At most 100 characters; `null` or blank clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub os: Field<String>,
    /// Required on POST. The monthly price in whole PKR rupees, 0 to 2,147,483,647 (read wide so
    /// an out-of-range number is a field error).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64, minimum = 0, maximum = 2147483647)]
    pub price_pkr: Field<i64>,
    /// The colour of the plan's card. Default `sky`.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = theme_color_schema)]
    pub theme_color: Field<String>,
    /// A badge on the plan's card, at most 50 characters; `null` or blank clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 50)]
    pub label: Field<String>,
    /// Plans are listed by this within their category, smallest first. Default 0.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i32)]
    pub display_order: Field<i32>,
    /// Whether it is on sale. Default `true`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub is_active: Field<bool>,
    /// The card's feature lines, in order, replacing the current ones: at most 30, each one
    /// non-blank line of at most 200 characters. Default none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Vec<String>, max_items = 30)]
    pub features: Field<Vec<String>>,
    /// The ids of existing locations it is sold in, replacing the current ones (repeats are
    /// dropped). Default none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Vec<i32>)]
    pub location_ids: Field<Vec<i32>>,
}

/// At most this many features per plan, each at most `MAX_FEATURE_CHARS` long.
pub const MAX_FEATURES: usize = 30;
pub const MAX_FEATURE_CHARS: usize = 200;

#[derive(Debug, PartialEq)]
pub(super) struct PlanDraft {
    pub(super) id: String,
    pub(super) category_id: i32,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) cpu: String,
    pub(super) ram: String,
    pub(super) storage: String,
    pub(super) bandwidth: String,
    pub(super) os: Option<String>,
    pub(super) price_pkr: i32,
    pub(super) is_active: bool,
    pub(super) theme_color: String,
    pub(super) label: Option<String>,
    pub(super) display_order: i32,
    pub(super) features: Vec<String>,
    pub(super) location_ids: Vec<i32>,
}

impl PlanDraft {
    pub(super) fn fields(&self) -> PlanFields<'_> {
        PlanFields {
            id: &self.id,
            category_id: self.category_id,
            name: &self.name,
            description: self.description.as_deref(),
            cpu: &self.cpu,
            ram: &self.ram,
            storage: &self.storage,
            bandwidth: &self.bandwidth,
            os: self.os.as_deref(),
            price_pkr: self.price_pkr,
            is_active: self.is_active,
            theme_color: &self.theme_color,
            label: self.label.as_deref(),
            display_order: self.display_order,
        }
    }

    /// The draft of an unchanged plan (`None` if it has no category, which a PATCH must fix).
    pub(super) fn of(current: &AdminPlan) -> Option<Self> {
        Some(Self {
            id: current.id.clone(),
            category_id: current.category_id?,
            name: current.name.clone(),
            description: current.description.clone(),
            cpu: current.cpu.clone(),
            ram: current.ram.clone(),
            storage: current.storage.clone(),
            bandwidth: current.bandwidth.clone(),
            os: current.os.clone(),
            price_pkr: current.price_pkr,
            is_active: current.is_active,
            theme_color: current.theme_color.clone(),
            label: current.label.clone(),
            display_order: current.display_order,
            features: current.features.clone(),
            location_ids: current.location_ids.clone(),
        })
    }
}

/// Checks a plan body against the rules and the database (category and locations exist),
/// reporting every field at fault at once.
pub(super) async fn plan_draft(
    tx: &mut PgConnection,
    input: PlanInput,
    current: Option<&AdminPlan>,
) -> AppResult<PlanDraft> {
    let mut errors = FieldErrors::default();
    let id = match current {
        None => slug(&mut errors, "id", input.id, None),
        Some(current) => match input.id {
            Some(Some(id)) if id.trim() != current.id => {
                errors.add(
                    "id",
                    "cannot be changed (orders refer to it); create a new plan instead",
                );
                None
            }
            _ => Some(current.id.clone()),
        },
    };
    let category_id = match input.category {
        None => match current.and_then(|c| c.category_id) {
            Some(id) => Some(id),
            None => {
                errors.add("category", "is required");
                None
            }
        },
        Some(None) => {
            errors.add("category", "is required");
            None
        }
        Some(Some(text)) => {
            let text = text.trim();
            match categories::find_by_slug(&mut *tx, text).await? {
                Some(category) => Some(category.id),
                None => {
                    errors.add("category", &format!("no category has the slug {text:?}"));
                    None
                }
            }
        }
    };
    let name = text(
        &mut errors,
        "name",
        input.name,
        current.map(|c| c.name.as_str()),
        100,
    );
    let description = optional_text(
        &mut errors,
        "description",
        input.description,
        current.and_then(|c| c.description.as_deref()),
        MAX_DESCRIPTION_CHARS,
    );
    let cpu = text(
        &mut errors,
        "cpu",
        input.cpu,
        current.map(|c| c.cpu.as_str()),
        50,
    );
    let ram = text(
        &mut errors,
        "ram",
        input.ram,
        current.map(|c| c.ram.as_str()),
        50,
    );
    let storage = text(
        &mut errors,
        "storage",
        input.storage,
        current.map(|c| c.storage.as_str()),
        100,
    );
    let bandwidth = text(
        &mut errors,
        "bandwidth",
        input.bandwidth,
        current.map(|c| c.bandwidth.as_str()),
        50,
    );
    let os = optional_text(
        &mut errors,
        "os",
        input.os,
        current.and_then(|c| c.os.as_deref()),
        100,
    );
    let price_pkr = value(
        &mut errors,
        "price_pkr",
        input.price_pkr,
        current.map(|c| i64::from(c.price_pkr)),
    )
    .and_then(|price| match i32::try_from(price) {
        Ok(price) if price >= 0 => Some(price),
        _ => {
            errors.add(
                "price_pkr",
                "must be a whole number of rupees from 0 to 2147483647",
            );
            None
        }
    });
    let theme_color = text(
        &mut errors,
        "theme_color",
        input.theme_color,
        Some(current.map_or("sky", |c| c.theme_color.as_str())),
        20,
    )
    .filter(|color| {
        let known = THEME_COLORS.contains(&color.as_str());
        if !known {
            errors.add(
                "theme_color",
                &format!("must be one of {}", THEME_COLORS.join(", ")),
            );
        }
        known
    });
    let label = optional_text(
        &mut errors,
        "label",
        input.label,
        current.and_then(|c| c.label.as_deref()),
        50,
    );
    let display_order = value(
        &mut errors,
        "display_order",
        input.display_order,
        Some(current.map_or(0, |c| c.display_order)),
    );
    let is_active = value(
        &mut errors,
        "is_active",
        input.is_active,
        Some(current.is_none_or(|c| c.is_active)),
    );
    let features = match value(
        &mut errors,
        "features",
        input.features,
        Some(current.map_or_else(Vec::new, |c| c.features.clone())),
    ) {
        Some(list) => parse_features(&mut errors, list),
        None => None,
    };
    let location_ids = match value(
        &mut errors,
        "location_ids",
        input.location_ids,
        Some(current.map_or_else(Vec::new, |c| c.location_ids.clone())),
    ) {
        Some(ids) => {
            let mut seen = BTreeSet::new();
            let ids: Vec<i32> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
            let existing = locations::existing_ids(&mut *tx, &ids).await?;
            let unknown: Vec<String> = ids
                .iter()
                .filter(|id| !existing.contains(id))
                .map(ToString::to_string)
                .collect();
            if unknown.is_empty() {
                Some(ids)
            } else {
                errors.add(
                    "location_ids",
                    &format!("no location has the id {}", unknown.join(", ")),
                );
                None
            }
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    match (
        id,
        category_id,
        name,
        description,
        cpu,
        ram,
        storage,
        bandwidth,
        os,
        price_pkr,
        theme_color,
        label,
        display_order,
        is_active,
        features,
        location_ids,
    ) {
        (
            Some(id),
            Some(category_id),
            Some(name),
            Some(description),
            Some(cpu),
            Some(ram),
            Some(storage),
            Some(bandwidth),
            Some(os),
            Some(price_pkr),
            Some(theme_color),
            Some(label),
            Some(display_order),
            Some(is_active),
            Some(features),
            Some(location_ids),
        ) => Ok(PlanDraft {
            id,
            category_id,
            name,
            description,
            cpu,
            ram,
            storage,
            bandwidth,
            os,
            price_pkr,
            is_active,
            theme_color,
            label,
            display_order,
            features,
            location_ids,
        }),
        // Every `None` above recorded an error.
        _ => Err(AppError::Validation(errors.0)),
    }
}

fn parse_features(errors: &mut FieldErrors, list: Vec<String>) -> Option<Vec<String>> {
    if list.len() > MAX_FEATURES {
        errors.add(
            "features",
            &format!("must list at most {MAX_FEATURES} features"),
        );
        return None;
    }
    let mut features = Vec::with_capacity(list.len());
    for (i, feature) in list.iter().enumerate() {
        let feature = feature.trim();
        if feature.is_empty() {
            errors.add("features", &format!("feature {} is blank", i + 1));
            return None;
        }
        if feature.chars().count() > MAX_FEATURE_CHARS || feature.chars().any(char::is_control) {
            errors.add(
                "features",
                &format!(
                    "feature {} must be one line of at most {MAX_FEATURE_CHARS} characters",
                    i + 1
                ),
            );
            return None;
        }
        features.push(feature.to_owned());
    }
    Some(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_trimmed_and_bounded() {
        let mut errors = FieldErrors::default();
        assert_eq!(
            parse_features(&mut errors, vec![" NVMe ".into()]),
            Some(vec!["NVMe".to_owned()])
        );
        assert_eq!(
            parse_features(&mut errors, vec!["ok".into(), "".into()]),
            None
        );
        assert_eq!(errors.get("features"), Some("feature 2 is blank"));
    }
}
