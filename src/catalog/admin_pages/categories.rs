//! The category pages: the list (`/admin/catalog/categories`) with each category's plan count,
//! and the new and edit forms with a Delete button.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::form::{Refusal, display_order, text, value_of};
use super::{CATEGORIES, NoticeQuery, actor, notice_of, numeric_id, see_other};
use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::catalog::manage::{self, AdminCategory, CategoryInput};
use crate::error::AppResult;
use crate::web::extract::ClientIp;
use crate::web::forms::FormErrors;
use crate::web::forms::Notice;
use crate::web::pages::render_with;
use crate::web::pages::{Layout, render};

struct CategoryRow {
    category: AdminCategory,
    plans: usize,
}

#[derive(Template)]
#[template(path = "admin/catalog/categories.html")]
struct CategoryListPage {
    layout: Layout,
    notice: Option<Notice>,
    rows: Vec<CategoryRow>,
}

pub(super) async fn category_list(
    State(state): State<AppState>,
    admin: PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let plans = manage::list_plans(&state.catalog_store()).await?;
    let rows = manage::list_categories(&state.catalog_store())
        .await?
        .into_iter()
        .map(|category| CategoryRow {
            plans: plans
                .iter()
                .filter(|p| p.category_id == Some(category.id))
                .count(),
            category,
        })
        .collect();
    render(&CategoryListPage {
        layout: Layout::for_page("Categories", &admin.0.context),
        notice: notice_of(&query),
        rows,
    })
}

const CATEGORY_FIELDS: &[(&str, &str)] = &[
    ("slug", "Slug"),
    ("name", "Name"),
    ("description", "Description"),
    ("display_order", "Display order"),
];

#[derive(Clone, Debug, Default)]
struct CategoryForm {
    slug: String,
    name: String,
    description: String,
    display_order: String,
}

impl CategoryForm {
    fn of(category: &AdminCategory) -> Self {
        Self {
            slug: category.slug.clone(),
            name: category.name.clone(),
            description: category.description.clone().unwrap_or_default(),
            display_order: category.display_order.to_string(),
        }
    }

    fn from_pairs(pairs: &[(String, String)]) -> Self {
        Self {
            slug: value_of(pairs, "slug"),
            name: value_of(pairs, "name"),
            description: value_of(pairs, "description"),
            display_order: value_of(pairs, "display_order"),
        }
    }

    fn input(&self, errors: &mut FormErrors) -> Option<CategoryInput> {
        Some(CategoryInput {
            slug: text(&self.slug),
            name: text(&self.name),
            description: text(&self.description),
            display_order: Some(display_order(&self.display_order, "Display order", errors)?),
        })
    }
}

#[derive(Template)]
#[template(path = "admin/catalog/category_form.html")]
struct CategoryFormPage {
    layout: Layout,
    category_id: Option<i32>,
    plans: usize,
    form: CategoryForm,
    errors: FormErrors,
    alert: Option<String>,
}

async fn category_form_page(
    state: &AppState,
    admin: &PageAdmin,
    category_id: Option<i32>,
    form: CategoryForm,
    refusal: Option<Refusal>,
) -> AppResult<Response> {
    let (status, errors, alert) = match refusal {
        Some(r) => (r.status, r.errors, r.alert),
        None => (StatusCode::OK, FormErrors::default(), None),
    };
    let plans = match category_id {
        Some(id) => manage::list_plans(&state.catalog_store())
            .await?
            .iter()
            .filter(|p| p.category_id == Some(id))
            .count(),
        None => 0,
    };
    let title = if category_id.is_some() {
        "Edit category"
    } else {
        "New category"
    };
    render_with(
        status,
        &CategoryFormPage {
            layout: Layout::for_page(title, &admin.0.context),
            category_id,
            plans,
            form,
            errors,
            alert,
        },
    )
}

pub(super) async fn new_category(
    State(state): State<AppState>,
    admin: PageAdmin,
) -> AppResult<Response> {
    let form = CategoryForm {
        display_order: "0".to_owned(),
        ..CategoryForm::default()
    };
    category_form_page(&state, &admin, None, form, None).await
}

pub(super) async fn create_category(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = CategoryForm::from_pairs(&pairs);
    let mut errors = FormErrors::default();
    let Some(input) = form.input(&mut errors) else {
        return category_form_page(&state, &admin, None, form, Some(Refusal::local(errors))).await;
    };
    match manage::create_category(&state.catalog_store(), actor(&admin, &ip), input).await {
        Ok(_) => Ok(see_other(&format!("{CATEGORIES}?notice=category-created"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, CATEGORY_FIELDS, errors)?;
            category_form_page(&state, &admin, None, form, Some(refusal)).await
        }
    }
}

pub(super) async fn edit_category(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let category =
        manage::find_category(&state.catalog_store(), numeric_id(&id, "category")?).await?;
    let form = CategoryForm::of(&category);
    category_form_page(&state, &admin, Some(category.id), form, None).await
}

pub(super) async fn update_category(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let id = numeric_id(&id, "category")?;
    manage::find_category(&state.catalog_store(), id).await?;
    let form = CategoryForm::from_pairs(&pairs);
    let mut errors = FormErrors::default();
    let Some(input) = form.input(&mut errors) else {
        return category_form_page(&state, &admin, Some(id), form, Some(Refusal::local(errors)))
            .await;
    };
    match manage::update_category(&state.catalog_store(), actor(&admin, &ip), id, input).await {
        Ok(_) => Ok(see_other(&format!("{CATEGORIES}?notice=category-saved"))),
        Err(err) => {
            let refusal = Refusal::from_api(err, CATEGORY_FIELDS, errors)?;
            category_form_page(&state, &admin, Some(id), form, Some(refusal)).await
        }
    }
}

pub(super) async fn delete_category(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = numeric_id(&id, "category")?;
    match manage::delete_category(&state.catalog_store(), actor(&admin, &ip), id).await {
        Ok(()) => Ok(see_other(&format!("{CATEGORIES}?notice=category-deleted"))),
        Err(err) => {
            let refusal = Refusal::from_delete(err)?;
            let category = manage::find_category(&state.catalog_store(), id).await?;
            let form = CategoryForm::of(&category);
            category_form_page(&state, &admin, Some(id), form, Some(refusal)).await
        }
    }
}
