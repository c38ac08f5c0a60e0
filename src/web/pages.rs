//! Server-rendered pages (askama): the base layout's data, the home page and the error page.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::accounts::extract::PageContext;
use crate::app::AppState;
use crate::catalog::{categories, format_pkr, plan_features, plans};
use crate::error::AppError;
use crate::web::assets;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home_page))
}

/// What every page's layout needs, the visitor included (for the navigation).
pub struct Layout {
    pub title: String,
    pub css_url: String,
    pub js_url: String,
    pub favicon_url: String,
    /// The logged-in visitor's name; `None` for anonymous visitors.
    pub user_name: Option<String>,
    /// Whether the visitor is an operator (the nav links to the admin pages).
    pub is_admin: bool,
    /// The CSRF token every form of the page must carry (`csrf_token`).
    pub csrf: String,
}

impl Layout {
    /// The layout for an anonymous visitor (error pages).
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            css_url: assets::url("app.css"),
            js_url: assets::url("app.js"),
            favicon_url: assets::url("favicon.svg"),
            user_name: None,
            is_admin: false,
            csrf: String::new(),
        }
    }

    /// The layout for the visitor of a page: their name, role and CSRF token.
    pub fn for_page(title: impl Into<String>, context: &PageContext) -> Self {
        Self {
            user_name: context.user.as_ref().map(|user| user.name.clone()),
            is_admin: context.user.as_ref().is_some_and(|user| user.is_admin()),
            csrf: context.csrf.clone(),
            ..Self::new(title)
        }
    }
}

/// Renders a template into an HTML response; a template error is a 500.
pub fn render(template: &impl Template) -> Result<Response, AppError> {
    let html = template.render().map_err(|err| AppError::Internal(err.into()))?;
    Ok(Html(html).into_response())
}

/// A plan as a card shows it.
pub struct PlanCard {
    pub id: String,
    pub name: String,
    pub description: String,
    pub cpu: String,
    pub ram: String,
    pub storage: String,
    pub bandwidth: String,
    pub os: String,
    pub price: String,
    pub label: Option<String>,
    pub theme_color: String,
    pub features: Vec<String>,
}

/// A category and its plans on the home page.
pub struct CategorySection {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub plans: Vec<PlanCard>,
    pub from_price: Option<String>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    sections: Vec<CategorySection>,
}

async fn home_page(
    State(state): State<AppState>,
    context: PageContext,
) -> Result<Response, AppError> {
    let category_rows = categories::list(&state.db).await?;
    let plan_rows = plans::list_active(&state.db, None).await?;
    let ids: Vec<String> = plan_rows.iter().map(|p| p.id.clone()).collect();
    let features = plan_features::list_for_plans(&state.db, &ids).await?;
    let sections = category_rows
        .into_iter()
        .map(|c| {
            let cards: Vec<PlanCard> = plan_rows
                .iter()
                .filter(|p| p.category_id == Some(c.id))
                .map(|p| PlanCard {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    description: p.description.clone().unwrap_or_default(),
                    cpu: p.cpu.clone(),
                    ram: p.ram.clone(),
                    storage: p.storage.clone(),
                    bandwidth: p.bandwidth.clone(),
                    os: p.os.clone().unwrap_or_default(),
                    price: format_pkr(i64::from(p.price_pkr)),
                    label: p.label.clone(),
                    theme_color: p.theme_color.clone().unwrap_or_else(|| "sky".into()),
                    features: features
                        .iter()
                        .filter(|f| f.plan_id.as_deref() == Some(p.id.as_str()))
                        .map(|f| f.feature.clone())
                        .collect(),
                })
                .collect();
            let from_price = plan_rows
                .iter()
                .filter(|p| p.category_id == Some(c.id))
                .map(|p| p.price_pkr)
                .min()
                .map(|min| format_pkr(i64::from(min)));
            CategorySection {
                slug: c.slug,
                name: c.name,
                description: c.description.unwrap_or_default(),
                plans: cards,
                from_price,
            }
        })
        .filter(|s| !s.plans.is_empty())
        .collect();
    render(&HomePage {
        layout: Layout::for_page("Windows RDP & Linux VPS in PKR", &context),
        sections,
    })
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    reason: &'a str,
    message: &'a str,
}

/// The HTML page for an error status.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let page = ErrorPage { layout: Layout::new(reason), status: status.as_u16(), reason, message };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, reason.to_owned()).into_response(),
    }
}
