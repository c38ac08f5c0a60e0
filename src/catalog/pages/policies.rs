//! The pages a buyer looks for: `/contact` (how to reach the shop, from its configuration) and
//! the policy pages `/terms`, `/refund-policy`, `/privacy`, `/faq` in the version in force, or an
//! earlier one (`?version=`, the one an order was placed under).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::accounts::extract::PageContext;
use crate::app::AppState;
use crate::catalog::policies::{self, PolicyPage};
use crate::error::{AppError, AppResult};
use crate::web::forms::pkt;
use crate::web::pages::{Layout, render_with};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contact", get(contact))
        .route("/terms", get(terms))
        .route("/refund-policy", get(refund_policy))
        .route("/privacy", get(privacy))
        .route("/faq", get(faq))
}

#[derive(Template)]
#[template(path = "catalog/contact.html")]
struct ContactPage {
    layout: Layout,
    whatsapp: Option<String>,
    signed_in: bool,
}

async fn contact(context: PageContext) -> AppResult<Response> {
    let layout = Layout::for_page("Contact us", &context);
    render_with(
        StatusCode::OK,
        &ContactPage {
            whatsapp: layout.whatsapp("Hello NextGenRDP, I have a question: "),
            signed_in: context.user.is_some(),
            layout,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VersionQuery {
    version: Option<String>,
}

#[derive(Template)]
#[template(path = "catalog/policy.html")]
struct PolicyPageView {
    layout: Layout,
    page: String,
    version: i32,
    published: String,
    /// The rendered Markdown (safe: see [`policies::render`]).
    html: String,
    /// Shown instead of the current version: the current one's number.
    current: Option<i32>,
}

async fn show(
    state: &AppState,
    context: &PageContext,
    page: PolicyPage,
    query: VersionQuery,
) -> AppResult<Response> {
    let latest = policies::current(&state.db, page).await?;
    let shown = match query.version.as_deref().map(str::trim) {
        None | Some("") => latest.clone(),
        Some(text) => {
            let number = text
                .parse()
                .map_err(|_| AppError::bad_request("version", "must be a version number"))?;
            policies::version(&state.db, page, number).await?
        }
    };
    let mut response = render_with(
        StatusCode::OK,
        &PolicyPageView {
            layout: Layout::for_page(shown.title.clone(), context),
            page: page.path(),
            version: shown.version,
            published: pkt(Some(shown.created_at)),
            html: policies::render(&shown.body),
            current: (shown.version != latest.version).then_some(latest.version),
        },
    )?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(super::CACHE_CONTROL),
    );
    Ok(response.into_response())
}

async fn terms(
    State(state): State<AppState>,
    context: PageContext,
    Query(query): Query<VersionQuery>,
) -> AppResult<Response> {
    show(&state, &context, PolicyPage::Terms, query).await
}

async fn refund_policy(
    State(state): State<AppState>,
    context: PageContext,
    Query(query): Query<VersionQuery>,
) -> AppResult<Response> {
    show(&state, &context, PolicyPage::RefundPolicy, query).await
}

async fn privacy(
    State(state): State<AppState>,
    context: PageContext,
    Query(query): Query<VersionQuery>,
) -> AppResult<Response> {
    show(&state, &context, PolicyPage::Privacy, query).await
}

async fn faq(
    State(state): State<AppState>,
    context: PageContext,
    Query(query): Query<VersionQuery>,
) -> AppResult<Response> {
    show(&state, &context, PolicyPage::Faq, query).await
}
