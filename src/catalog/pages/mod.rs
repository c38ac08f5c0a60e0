//! The storefront: the home page (`/`), a page per category (`/rdp`, `/vps`, and
//! `/category/{slug}` for any other), and a page per plan (`/plans/{id}`) with its add-to-cart
//! form; the shop's contact page and its policy pages ([`policies`]).
//!
//! Every page reads the node's [`CatalogCache`](super::cache::CatalogCache) snapshot (no query
//! per plan: features and locations come with it), so a price edited by the operator shows at
//! once. Category pages take the public API's filter (`location`, `sort`, checked by
//! [`PlanFilter`]); a bad value is a 400 page naming it, while parameters the page does not know
//! (an advert's `utm_source`, `fbclid`) are ignored. Pages carry a weak ETag over the whole body
//! and `Cache-Control: private, no-cache`: the browser may keep a copy but asks each time, and
//! an unchanged page is a bodiless 304.

mod policies;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::api::{RawQuery, etag_of, if_none_match};
use super::cache::{Catalog, CategoryView, LocationView, PlanView};
use super::cache::{PlanFilter, Sort};
use crate::accounts::extract::PageContext;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;
use crate::orders::pricing::{MAX_QUANTITY, VALIDITY_MONTHS};
use crate::web::pages::Layout;

/// How long a browser may reuse a storefront page: never without asking (it holds prices).
pub const CACHE_CONTROL: &str = "private, no-cache";

/// Categories with a short address of their own; the others live under `/category/{slug}`.
const SHORT_PATHS: [&str; 2] = ["rdp", "vps"];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home_page))
        .route("/rdp", get(rdp_page))
        .route("/vps", get(vps_page))
        .route("/category/{slug}", get(category_by_slug))
        .route("/plans/{id}", get(plan_page))
        .merge(policies::router())
}

/// The address of a category's page.
pub fn category_href(slug: &str) -> String {
    if SHORT_PATHS.contains(&slug) {
        format!("/{slug}")
    } else {
        format!("/category/{slug}")
    }
}

/// The cheapest monthly price of a category's plans on sale, as `Rs 2,500`.
fn from_price(catalog: &Catalog, category_id: i32) -> Option<String> {
    catalog
        .plans()
        .iter()
        .filter(|p| p.category_id == category_id)
        .map(|p| p.price_pkr)
        .min()
        .map(format_pkr)
}

/// A category as the home page links to it.
struct CategoryLink<'a> {
    category: &'a CategoryView,
    href: String,
    from_price: Option<String>,
    plan_count: usize,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    layout: Layout,
    categories: Vec<CategoryLink<'a>>,
    featured: Vec<&'a PlanView>,
}

async fn home_page(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
) -> AppResult<Response> {
    let catalog = state.catalog.get(&state.db).await?;
    let categories = catalog
        .categories()
        .iter()
        .map(|category| CategoryLink {
            href: category_href(&category.slug),
            from_price: from_price(&catalog, category.id),
            plan_count: catalog
                .plans()
                .iter()
                .filter(|p| p.category_id == category.id)
                .count(),
            category,
        })
        .filter(|link| link.plan_count > 0)
        .collect();
    let featured = catalog
        .plans()
        .iter()
        .filter(|p| p.label.is_some())
        .collect();
    cacheable_page(
        &headers,
        &HomePage {
            layout: Layout::for_page("Windows RDP & Linux VPS in PKR", &context),
            categories,
            featured,
        },
    )
}

/// A choice of the filter form.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "catalog/category.html")]
struct CategoryPage<'a> {
    layout: Layout,
    category: &'a CategoryView,
    /// The page's own address (the filter form's action).
    href: String,
    plans: Vec<&'a PlanView>,
    /// How many plans the category has on sale, whatever the filter.
    total: usize,
    locations: Vec<Choice>,
    sorts: Vec<Choice>,
    /// The chosen location, carried on to the plan pages.
    location: Option<&'a LocationView>,
    filtered: bool,
}

async fn rdp_page(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
    query: RawQuery,
) -> AppResult<Response> {
    category_page(&state, &context, &headers, "rdp", query).await
}

async fn vps_page(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
    query: RawQuery,
) -> AppResult<Response> {
    category_page(&state, &context, &headers, "vps", query).await
}

async fn category_by_slug(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
    Path(slug): Path<String>,
    query: RawQuery,
) -> AppResult<Response> {
    category_page(&state, &context, &headers, &slug, query).await
}

/// The filter of a category page: the public API's rules for `location` and `sort`; other
/// parameters are ignored, and a bad value is a 400 whose page names the filter.
fn page_filter(catalog: &Catalog, category: i32, query: RawQuery) -> AppResult<PlanFilter> {
    let Query(pairs) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    let pairs: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(name, _)| name == "location" || name == "sort")
        .collect();
    let filter = PlanFilter::parse(catalog, &pairs).map_err(|err| match err {
        AppError::BadRequest {
            detail,
            field: Some(field),
        } => {
            let value = pairs
                .iter()
                .rev()
                .find(|(name, _)| *name == field)
                .map(|(_, value)| value.trim())
                .unwrap_or_default();
            AppError::BadRequest {
                detail: format!("The {field} filter {value:?} is not valid: {detail}."),
                field: Some(field),
            }
        }
        other => other,
    })?;
    Ok(PlanFilter {
        category: Some(category),
        ..filter
    })
}

async fn category_page(
    state: &AppState,
    context: &PageContext,
    headers: &HeaderMap,
    slug: &str,
    query: RawQuery,
) -> AppResult<Response> {
    let catalog = state.catalog.get(&state.db).await?;
    let category = catalog
        .category_by_slug(slug)
        .ok_or(AppError::NotFound("category"))?;
    let filter = page_filter(&catalog, category.id, query)?;
    let in_category: Vec<&PlanView> = catalog
        .plans()
        .iter()
        .filter(|p| p.category_id == category.id)
        .collect();
    // The locations this category is sold in (and the chosen one, even if it sells none).
    let locations = catalog
        .locations()
        .iter()
        .filter(|l| filter.location == Some(l.id) || in_category.iter().any(|p| p.is_sold_in(l.id)))
        .map(|l| Choice {
            value: l.id.to_string(),
            label: l.name.clone(),
            selected: filter.location == Some(l.id),
        })
        .collect();
    let sorts = [
        (Sort::Catalog, "", "Recommended"),
        (Sort::PriceAscending, "price", "Lowest price"),
        (Sort::PriceDescending, "-price", "Highest price"),
    ]
    .into_iter()
    .map(|(sort, value, label)| Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected: filter.sort == sort,
    })
    .collect();
    cacheable_page(
        headers,
        &CategoryPage {
            layout: Layout::for_page(format!("{} plans", category.name), context),
            category,
            href: category_href(&category.slug),
            plans: filter.apply(&catalog),
            total: in_category.len(),
            locations,
            sorts,
            location: filter.location.and_then(|id| catalog.location(id)),
            filtered: filter.location.is_some() || filter.sort != Sort::Catalog,
        },
    )
}

impl PlanPage<'_> {
    fn is_preselected(&self, location_id: &i32) -> bool {
        self.location == Some(*location_id)
    }
}

/// A length of a subscription with what it costs.
struct Validity {
    months: i32,
    text: String,
}

#[derive(Template)]
#[template(path = "catalog/plan.html")]
struct PlanPage<'a> {
    layout: Layout,
    plan: &'a PlanView,
    category: Option<&'a CategoryView>,
    category_href: String,
    /// The location to preselect (from the category page's filter).
    location: Option<i32>,
    validities: Vec<Validity>,
    max_quantity: i32,
    /// Locations whose servers are all taken (their backend's IP pool is empty): shown, but
    /// not orderable.
    sold_out: Vec<i32>,
    /// The signed-in customer's SSH keys, offered when the plan has a Linux system.
    ssh_keys: Vec<crate::accounts::ssh_keys::SshKey>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct PlanQuery {
    location: Option<String>,
}

async fn plan_page(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<PlanQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Response> {
    let catalog = state.catalog.get(&state.db).await?;
    let plan = catalog.plan(&id).ok_or(AppError::NotFound("plan"))?;
    let category = catalog
        .categories()
        .iter()
        .find(|c| c.id == plan.category_id);
    // A preselection the plan is not sold in is quietly dropped.
    let location = query
        .ok()
        .and_then(|Query(q)| q.location)
        .and_then(|text| text.trim().parse::<i32>().ok())
        .filter(|id| plan.is_sold_in(*id));
    let sold_out = sold_out_locations(&state).await?;
    let location = location.filter(|id| !sold_out.contains(id));
    let has_linux = plan
        .templates
        .iter()
        .any(|t| t.family == crate::catalog::os_templates::OsFamily::Linux);
    let ssh_keys = match &context.user {
        Some(user) if has_linux => crate::accounts::ssh_keys::list(&state.db, user.id).await?,
        _ => Vec::new(),
    };
    let validities = VALIDITY_MONTHS
        .iter()
        .map(|&months| {
            let unit = if months == 1 { "month" } else { "months" };
            let total = crate::orders::pricing::Line {
                monthly_price_pkr: plan.price_pkr,
                months,
                quantity: 1,
            }
            .total();
            Validity {
                months,
                text: format!("{months} {unit} — {}", format_pkr(total)),
            }
        })
        .collect();
    cacheable_page(
        &headers,
        &PlanPage {
            layout: Layout::for_page(
                match category {
                    Some(category) => format!("{} · {}", plan.name, category.name),
                    None => plan.name.clone(),
                },
                &context,
            ),
            plan,
            category,
            category_href: category_href(&plan.category),
            location,
            validities,
            max_quantity: MAX_QUANTITY,
            sold_out,
            ssh_keys,
        },
    )
}

/// The locations that cannot take another server now (automated backend, empty pool).
pub async fn sold_out_locations(state: &AppState) -> AppResult<Vec<i32>> {
    let hold = state.provisioning.lifecycle.ip_hold_days;
    Ok(crate::provisioning::backends::capacities(&state.db, hold)
        .await?
        .into_iter()
        .filter(|(_, free)| *free <= 0)
        .map(|(location, _)| location)
        .collect())
}

impl PlanPage<'_> {
    fn is_sold_out(&self, location_id: &i32) -> bool {
        self.sold_out.contains(location_id)
    }
}

/// Renders a storefront page with a weak ETag and `Cache-Control: private, no-cache`, or a
/// bodiless 304 when the browser already holds this very page.
fn cacheable_page(headers: &HeaderMap, page: &impl Template) -> AppResult<Response> {
    let html = page
        .render()
        .map_err(|err| AppError::Internal(err.into()))?;
    // Weak: the compression layer may change the bytes on the wire, not the page.
    let etag = etag_of(html.as_bytes());
    let etag_header = HeaderValue::from_str(&format!("W/{etag}"))
        .map_err(|err| AppError::Internal(anyhow::anyhow!(err)))?;
    let cache_control = HeaderValue::from_static(CACHE_CONTROL);
    if if_none_match(headers, &etag) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag_header),
                (header::CACHE_CONTROL, cache_control),
            ],
        )
            .into_response());
    }
    Ok((
        [
            (header::ETAG, etag_header),
            (header::CACHE_CONTROL, cache_control),
        ],
        Html(html),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdp_and_vps_have_short_addresses() {
        assert_eq!(category_href("rdp"), "/rdp");
        assert_eq!(category_href("vps"), "/vps");
        assert_eq!(category_href("gpu-servers"), "/category/gpu-servers");
    }
}
