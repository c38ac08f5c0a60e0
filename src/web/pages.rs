//! Server-rendered pages (askama): the base layout's data, rendering, and the error page. The
//! pages themselves live with their domain (the storefront, home page included, in
//! `catalog::pages`).

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::accounts::extract::PageContext;
use crate::app::AppState;
use crate::error::AppError;
use crate::web::assets;

/// Routes of this module: none of its own any more (kept so the shell's router needs no edit).
pub fn router() -> Router<AppState> {
    Router::new()
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
    let html = template
        .render()
        .map_err(|err| AppError::Internal(err.into()))?;
    Ok(Html(html).into_response())
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
    let page = ErrorPage {
        layout: Layout::new(reason),
        status: status.as_u16(),
        reason,
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, reason.to_owned()).into_response(),
    }
}
