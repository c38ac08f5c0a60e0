//! Locations in the operator API (`/admin/locations`): the shape the operator sees, the body
//! of POST and PATCH and its checks, the audited operations the admin pages share, and the
//! handlers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::input::{Field, optional_text, present, slug, text, value};
use super::{Actor, Store, audit_json, plural, referenced, slug_taken, write_audit};
use crate::accounts::validation::FieldErrors;
use crate::catalog::locations::{self, Location, LocationFields};
use crate::error::{AppError, AppResult, ResultExt};

/// A location as the operator sees it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AdminLocation {
    pub id: i32,
    /// Unique, `[a-z0-9-]` (`pk-karachi`).
    pub slug: String,
    pub name: String,
    /// Two capital letters (`PK`).
    pub country_code: String,
    pub city: Option<String>,
    /// Whether it is open: an inactive location is not on sale, but keeps its orders and services.
    pub is_active: bool,
    /// Locations are listed by this, smallest first.
    pub display_order: i32,
    /// RFC 3339, UTC.
    pub created_at: Option<DateTime<Utc>>,
    /// RFC 3339, UTC.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<Location> for AdminLocation {
    fn from(l: Location) -> Self {
        Self {
            id: l.id,
            slug: l.slug,
            name: l.name,
            country_code: l.country_code,
            city: l.city,
            is_active: l.is_active.unwrap_or(true),
            display_order: l.display_order.unwrap_or(0),
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

/// The body of POST / PATCH `/admin/locations`. POST needs `slug`, `name` and `country_code`;
/// PATCH takes any subset: an absent field keeps its value, `null` (or blank) clears `city`.
/// Text is trimmed. Unknown fields are refused.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    /// Required on POST. 3 to 50 characters of `a-z`, `0-9` and `-`, not used by another
    /// location (409 if it is); `new`, `edit` and `delete` are reserved.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, pattern = "^[a-z0-9-]{3,50}$")]
    pub slug: Field<String>,
    /// Required on POST. At most 100 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub name: Field<String>,
    /// Required on POST. Two letters, stored in capitals (`PK`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, pattern = "^[A-Za-z]{2}$")]
    pub country_code: Field<String>,
    /// At most 100 characters; `null` or blank clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub city: Field<String>,
    /// Whether it is on sale. Default `true`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub is_active: Field<bool>,
    /// Locations are listed by this, smallest first. Default 0.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i32)]
    pub display_order: Field<i32>,
}

#[derive(Debug, PartialEq)]
struct LocationDraft {
    slug: String,
    name: String,
    country_code: String,
    city: Option<String>,
    is_active: bool,
    display_order: i32,
}

impl LocationDraft {
    fn fields(&self) -> LocationFields<'_> {
        LocationFields {
            slug: &self.slug,
            name: &self.name,
            country_code: &self.country_code,
            city: self.city.as_deref(),
            is_active: self.is_active,
            display_order: self.display_order,
        }
    }

    fn of(current: &AdminLocation) -> Self {
        Self {
            slug: current.slug.clone(),
            name: current.name.clone(),
            country_code: current.country_code.clone(),
            city: current.city.clone(),
            is_active: current.is_active,
            display_order: current.display_order,
        }
    }
}

fn location_draft(
    input: LocationInput,
    current: Option<&AdminLocation>,
) -> AppResult<LocationDraft> {
    let mut errors = FieldErrors::default();
    let slug = slug(
        &mut errors,
        "slug",
        input.slug,
        current.map(|c| c.slug.as_str()),
    );
    let name = text(
        &mut errors,
        "name",
        input.name,
        current.map(|c| c.name.as_str()),
        100,
    );
    let country_code = text(
        &mut errors,
        "country_code",
        input.country_code,
        current.map(|c| c.country_code.as_str()),
        2,
    )
    .map(|code| code.to_ascii_uppercase())
    .filter(|code| {
        let ok = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
        if !ok {
            errors.add("country_code", "must be a two-letter country code like PK");
        }
        ok
    });
    let city = optional_text(
        &mut errors,
        "city",
        input.city,
        current.and_then(|c| c.city.as_deref()),
        100,
    );
    let is_active = value(
        &mut errors,
        "is_active",
        input.is_active,
        Some(current.is_none_or(|c| c.is_active)),
    );
    let display_order = value(
        &mut errors,
        "display_order",
        input.display_order,
        Some(current.map_or(0, |c| c.display_order)),
    );
    match (slug, name, country_code, city, is_active, display_order) {
        (
            Some(slug),
            Some(name),
            Some(country_code),
            Some(city),
            Some(is_active),
            Some(display_order),
        ) if errors.is_empty() => Ok(LocationDraft {
            slug,
            name,
            country_code,
            city,
            is_active,
            display_order,
        }),
        _ => Err(AppError::Validation(errors.0)),
    }
}

pub async fn list_locations(state: &Store) -> AppResult<Vec<AdminLocation>> {
    Ok(locations::list(&state.db)
        .await?
        .into_iter()
        .map(AdminLocation::from)
        .collect())
}

pub async fn find_location(state: &Store, id: i32) -> AppResult<AdminLocation> {
    Ok(locations::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("location"))?
        .into())
}

pub async fn create_location(
    state: &Store,
    actor: Actor<'_>,
    input: LocationInput,
) -> AppResult<AdminLocation> {
    let draft = location_draft(input, None)?;
    let mut tx = state.db.begin().await?;
    let created: AdminLocation = locations::insert(&mut *tx, &draft.fields())
        .await
        .on_constraint("locations_slug_key", slug_taken("location"))?
        .into();
    let id = created.id.to_string();
    write_audit(
        &mut tx,
        actor,
        "location.create",
        "location",
        &id,
        None,
        Some(audit_json(&created)),
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(created)
}

pub async fn update_location(
    state: &Store,
    actor: Actor<'_>,
    id: i32,
    input: LocationInput,
) -> AppResult<AdminLocation> {
    let mut tx = state.db.begin().await?;
    let before: AdminLocation = locations::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("location"))?
        .into();
    let draft = location_draft(input, Some(&before))?;
    if draft == LocationDraft::of(&before) {
        return Ok(before);
    }
    let after: AdminLocation = locations::update(&mut *tx, id, &draft.fields())
        .await
        .on_constraint("locations_slug_key", slug_taken("location"))?
        .ok_or(AppError::NotFound("location"))?
        .into();
    write_audit(
        &mut tx,
        actor,
        "location.update",
        "location",
        &id.to_string(),
        Some(audit_json(&before)),
        Some(audit_json(&after)),
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(after)
}

pub async fn delete_location(state: &Store, actor: Actor<'_>, id: i32) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let before: AdminLocation = locations::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("location"))?
        .into();
    let orders = locations::count_orders(&mut *tx, id).await?;
    if orders > 0 {
        return Err(AppError::conflict(
            "id",
            format!(
                "location is referenced by {}; deactivate it instead",
                plural(orders, "order", "orders")
            ),
        ));
    }
    let plans = locations::count_plans(&mut *tx, id).await?;
    if plans > 0 {
        return Err(AppError::conflict(
            "id",
            format!(
                "location is sold by {}; take it off those plans or deactivate it instead",
                plural(plans, "plan", "plans")
            ),
        ));
    }
    locations::delete(&mut *tx, id)
        .await
        .map_err(referenced("location"))?;
    write_audit(
        &mut tx,
        actor,
        "location.delete",
        "location",
        &id.to_string(),
        Some(audit_json(&before)),
        None,
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn country_codes_are_two_letters_stored_in_capitals() {
        let input: LocationInput = serde_json::from_value(
            json!({ "slug": "pk-karachi", "name": "Karachi", "country_code": "pk" }),
        )
        .unwrap();
        assert_eq!(location_draft(input, None).unwrap().country_code, "PK");
        let input: LocationInput = serde_json::from_value(
            json!({ "slug": "pk-karachi", "name": "Karachi", "country_code": "P1" }),
        )
        .unwrap();
        let Err(AppError::Validation(errors)) = location_draft(input, None) else {
            panic!("accepted")
        };
        assert!(errors.contains_key("country_code"));
    }
}
