//! Categories in the operator API (`/admin/categories`): the shape the operator sees, the body
//! of POST and PATCH and its checks, the audited operations the admin pages share, and the
//! handlers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::input::{Field, MAX_DESCRIPTION_CHARS, optional_text, present, slug, text, value};
use super::{Actor, Store, audit_json, plural, referenced, slug_taken, write_audit};
use crate::accounts::validation::FieldErrors;
use crate::catalog::categories::{self, Category, CategoryFields};
use crate::error::{AppError, AppResult, ResultExt};

/// A category as the operator sees it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AdminCategory {
    pub id: i32,
    /// Unique, `[a-z0-9-]` (`rdp`): how plans and `GET /api/v1/plans?category=` name it.
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// Categories are listed by this, smallest first.
    pub display_order: i32,
    /// RFC 3339, UTC.
    pub created_at: Option<DateTime<Utc>>,
    /// RFC 3339, UTC.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<Category> for AdminCategory {
    fn from(c: Category) -> Self {
        Self {
            id: c.id,
            slug: c.slug,
            name: c.name,
            description: c.description,
            display_order: c.display_order.unwrap_or(0),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The body of POST / PATCH `/admin/categories`. POST needs `slug` and `name`; PATCH takes any
/// subset: an absent field keeps its value, `null` (or blank) clears `description`. Text is
/// trimmed. Unknown fields are refused.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    /// Required on POST. 3 to 50 characters of `a-z`, `0-9` and `-`, not used by another
    /// category (409 if it is); `new`, `edit` and `delete` are reserved.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, pattern = "^[a-z0-9-]{3,50}$")]
    pub slug: Field<String>,
    /// Required on POST. At most 50 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 50)]
    pub name: Field<String>,
    /// At most 2000 characters; `null` or blank clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Field<String>,
    /// Categories are listed by this, smallest first. Default 0.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i32)]
    pub display_order: Field<i32>,
}

#[derive(Debug, PartialEq)]
struct CategoryDraft {
    slug: String,
    name: String,
    description: Option<String>,
    display_order: i32,
}

impl CategoryDraft {
    fn fields(&self) -> CategoryFields<'_> {
        CategoryFields {
            name: &self.name,
            slug: &self.slug,
            description: self.description.as_deref(),
            display_order: self.display_order,
        }
    }

    fn of(current: &AdminCategory) -> Self {
        Self {
            slug: current.slug.clone(),
            name: current.name.clone(),
            description: current.description.clone(),
            display_order: current.display_order,
        }
    }
}

fn category_draft(
    input: CategoryInput,
    current: Option<&AdminCategory>,
) -> AppResult<CategoryDraft> {
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
        50,
    );
    let description = optional_text(
        &mut errors,
        "description",
        input.description,
        current.and_then(|c| c.description.as_deref()),
        MAX_DESCRIPTION_CHARS,
    );
    let display_order = value(
        &mut errors,
        "display_order",
        input.display_order,
        Some(current.map_or(0, |c| c.display_order)),
    );
    match (slug, name, description, display_order) {
        (Some(slug), Some(name), Some(description), Some(display_order)) if errors.is_empty() => {
            Ok(CategoryDraft {
                slug,
                name,
                description,
                display_order,
            })
        }
        _ => Err(AppError::Validation(errors.0)),
    }
}

pub async fn list_categories(state: &Store) -> AppResult<Vec<AdminCategory>> {
    Ok(categories::list(&state.db)
        .await?
        .into_iter()
        .map(AdminCategory::from)
        .collect())
}

pub async fn find_category(state: &Store, id: i32) -> AppResult<AdminCategory> {
    Ok(categories::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("category"))?
        .into())
}

pub async fn create_category(
    state: &Store,
    actor: Actor<'_>,
    input: CategoryInput,
) -> AppResult<AdminCategory> {
    let draft = category_draft(input, None)?;
    let mut tx = state.db.begin().await?;
    let created: AdminCategory = categories::insert(&mut *tx, &draft.fields())
        .await
        .on_constraint("product_categories_slug_key", slug_taken("category"))?
        .into();
    let id = created.id.to_string();
    write_audit(
        &mut tx,
        actor,
        "category.create",
        "category",
        &id,
        None,
        Some(audit_json(&created)),
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(created)
}

pub async fn update_category(
    state: &Store,
    actor: Actor<'_>,
    id: i32,
    input: CategoryInput,
) -> AppResult<AdminCategory> {
    let mut tx = state.db.begin().await?;
    let before: AdminCategory = categories::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("category"))?
        .into();
    let draft = category_draft(input, Some(&before))?;
    if draft == CategoryDraft::of(&before) {
        return Ok(before);
    }
    let after: AdminCategory = categories::update(&mut *tx, id, &draft.fields())
        .await
        .on_constraint("product_categories_slug_key", slug_taken("category"))?
        .ok_or(AppError::NotFound("category"))?
        .into();
    write_audit(
        &mut tx,
        actor,
        "category.update",
        "category",
        &id.to_string(),
        Some(audit_json(&before)),
        Some(audit_json(&after)),
    )
    .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(after)
}

pub async fn delete_category(state: &Store, actor: Actor<'_>, id: i32) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let before: AdminCategory = categories::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("category"))?
        .into();
    let plans = categories::count_plans(&mut *tx, id).await?;
    if plans > 0 {
        return Err(AppError::conflict(
            "id",
            format!(
                "category has {}; move them to another category or delete them first",
                plural(plans, "plan", "plans")
            ),
        ));
    }
    categories::delete(&mut *tx, id)
        .await
        .map_err(referenced("category"))?;
    write_audit(
        &mut tx,
        actor,
        "category.delete",
        "category",
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
    fn a_category_body_reports_every_field_at_once() {
        let input: CategoryInput = serde_json::from_value(
            json!({ "slug": "No Good", "name": " ", "display_order": null }),
        )
        .unwrap();
        let Err(AppError::Validation(errors)) = category_draft(input, None) else {
            panic!("accepted")
        };
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["display_order", "name", "slug"]
        );
    }
}
