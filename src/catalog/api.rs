//! Public JSON API of the catalog: `/api/v1/categories`, `/api/v1/locations`, `/api/v1/plans`
//! and `/api/v1/plans/{id}`. Anyone may call it; it only ever shows what is on sale.
//!
//! Every answer comes from the node's [`CatalogCache`](super::cache::CatalogCache) and carries a
//! strong ETag (a hash of the body, so every node gives the same content the same tag) with
//! `Cache-Control: public, max-age=0, must-revalidate`: clients and proxies may keep a copy but
//! must revalidate it each time, and a matching `If-None-Match` gets `304 Not Modified` with no
//! body. A price edit therefore reaches a revalidating client at once.
//!
//! Query parameters are strict: an unknown or repeated parameter, an unknown `category` slug, a
//! `location` that is not the id of an open location, or a `sort` other than `price` / `-price`
//! is a 400 naming the parameter. An empty value (`?location=`) means "any", as an HTML form
//! with nothing chosen sends it.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cache::{
    CachedJson, Catalog, CategoryView, JsonKey, LocationView, PlanFilter, PlanView,
};
use crate::app::AppState;
use crate::error::{AppError, AppResult};

/// How long a client may reuse an answer without asking again: not at all, but it may ask
/// with `If-None-Match` and get a 304.
pub const CACHE_CONTROL: &str = "public, max-age=0, must-revalidate";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_categories))
        .routes(routes!(list_locations))
        .routes(routes!(list_plans))
        .routes(routes!(find_plan))
        .routes(routes!(find_policy))
}

pub(crate) type RawQuery =
    Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// The query's parameters, refusing any not in `allowed` and any given twice.
pub(crate) fn parameters(query: RawQuery, allowed: &[&str]) -> AppResult<Vec<(String, String)>> {
    let Query(pairs) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    for (i, (name, _)) in pairs.iter().enumerate() {
        if !allowed.contains(&name.as_str()) {
            let detail = if allowed.is_empty() {
                format!("unknown query parameter {name:?}; this endpoint takes none")
            } else {
                format!(
                    "unknown query parameter {name:?}; known: {}",
                    allowed.join(", ")
                )
            };
            return Err(AppError::bad_request(name.clone(), detail));
        }
        if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(AppError::bad_request(
                name.clone(),
                format!("{name:?} is given twice"),
            ));
        }
    }
    Ok(pairs)
}

#[derive(Serialize)]
struct Items<'a, T> {
    items: &'a [T],
}

/// The categories on sale: `{"items": [...]}` (a named list per item type, so that generated
/// clients reference the item's own schema instead of an inline copy).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes `Items` for the document
struct CategoryList {
    items: Vec<CategoryView>,
}

/// The open locations: `{"items": [...]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes `Items` for the document
struct LocationList {
    items: Vec<LocationView>,
}

/// The matching plans: `{"items": [...]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes `Items` for the document
struct PlanList {
    items: Vec<PlanView>,
}

/// The categories on sale, in display order.
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog", responses(
    (status = OK, description = "Every category, in display order", body = CategoryList,
        headers(("ETag" = String), ("Cache-Control" = String))),
    (status = NOT_MODIFIED, description = "The `If-None-Match` tag is current"),
))]
async fn list_categories(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: RawQuery,
) -> AppResult<Response> {
    parameters(query, &[])?;
    let catalog = state.catalog.get(&state.db).await?;
    catalog_json(&catalog, &headers, JsonKey::Categories, || {
        serde_json::to_vec(&Items {
            items: catalog.categories(),
        })
    })
}

/// The open locations, in display order.
#[utoipa::path(get, path = "/api/v1/locations", tag = "catalog", responses(
    (status = OK, description = "Every open location, in display order", body = LocationList,
        headers(("ETag" = String), ("Cache-Control" = String))),
    (status = NOT_MODIFIED, description = "The `If-None-Match` tag is current"),
))]
async fn list_locations(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: RawQuery,
) -> AppResult<Response> {
    parameters(query, &[])?;
    let catalog = state.catalog.get(&state.db).await?;
    catalog_json(&catalog, &headers, JsonKey::Locations, || {
        serde_json::to_vec(&Items {
            items: catalog.locations(),
        })
    })
}

/// The plans on sale, optionally narrowed to a category and a location, and sorted by price.
#[utoipa::path(get, path = "/api/v1/plans", tag = "catalog",
    params(
        ("category" = Option<String>, Query, description = "A category's slug (`rdp`, `vps`); empty means any"),
        ("location" = Option<String>, Query, description = "An open location's numeric id; empty means any"),
        ("sort" = Option<String>, Query, description = "`price` (cheapest first) or `-price` (dearest first); default: catalog order"),
    ),
    responses(
        (status = OK, description = "The matching plans", body = PlanList,
            headers(("ETag" = String), ("Cache-Control" = String))),
        (status = NOT_MODIFIED, description = "The `If-None-Match` tag is current"),
    ),
)]
async fn list_plans(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: RawQuery,
) -> AppResult<Response> {
    let catalog = state.catalog.get(&state.db).await?;
    let pairs = parameters(query, &["category", "location", "sort"])?;
    let filter = PlanFilter::parse(&catalog, &pairs)?;
    catalog_json(&catalog, &headers, JsonKey::Plans(filter), || {
        serde_json::to_vec(&Items {
            items: &filter.apply(&catalog),
        })
    })
}

/// One plan on sale.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "catalog",
    params(("id" = String, Path, description = "The plan's id (`rdp-basic`)")),
    responses(
        (status = OK, description = "The plan", body = PlanView,
            headers(("ETag" = String), ("Cache-Control" = String))),
        (status = NOT_MODIFIED, description = "The `If-None-Match` tag is current"),
    ),
)]
async fn find_plan(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: RawQuery,
) -> AppResult<Response> {
    parameters(query, &[])?;
    let catalog = state.catalog.get(&state.db).await?;
    let plan = catalog.plan(&id).ok_or(AppError::NotFound("plan"))?;
    catalog_json(&catalog, &headers, JsonKey::Plan(id.clone()), || {
        serde_json::to_vec(plan)
    })
}

/// The strong validator of a body: a quoted hex SHA-256 prefix.
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(body)[..16]))
}

/// Whether `If-None-Match` names `etag` (or is `*`). Weak comparison, as RFC 9110 asks for
/// this header: `W/"x"` matches `"x"`.
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|value| {
            value
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
        })
}

/// The answer `key` of `catalog` as JSON with its ETag and Cache-Control, or a bodiless 304
/// when the client already holds it. `body` serialises it, only the first time this snapshot is
/// asked for `key` (see [`Catalog::json`]).
fn catalog_json(
    catalog: &Catalog,
    headers: &HeaderMap,
    key: JsonKey,
    body: impl FnOnce() -> serde_json::Result<Vec<u8>>,
) -> AppResult<Response> {
    let cached = catalog.json(key, || {
        let body = body().map_err(|err| AppError::Internal(err.into()))?;
        let etag = HeaderValue::from_str(&etag_of(&body))
            .map_err(|err| AppError::Internal(anyhow::anyhow!(err)))?;
        Ok::<_, AppError>(CachedJson {
            body: Bytes::from(body),
            etag,
        })
    })?;
    let cache_control = HeaderValue::from_static(CACHE_CONTROL);
    let etag = cached.etag.to_str().unwrap_or_default();
    if if_none_match(headers, etag) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, cached.etag.clone()),
                (header::CACHE_CONTROL, cache_control),
            ],
        )
            .into_response());
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, cached.etag.clone()),
            (header::CACHE_CONTROL, cache_control),
        ],
        // A reference-counted copy of the cached body: nothing is copied per request.
        cached.body.clone(),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let etag = etag_of(b"{}");
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(if_none_match(&with(&etag), &etag));
        assert!(if_none_match(&with(&format!("\"other\", W/{etag}")), &etag));
        assert!(if_none_match(&with("*"), &etag));
        assert!(!if_none_match(&with("\"other\""), &etag));
        assert!(!if_none_match(&HeaderMap::new(), &etag));
    }

    #[test]
    fn etags_are_quoted_and_follow_the_body() {
        let tag = etag_of(b"[1]");
        assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() == 34);
        assert_ne!(tag, etag_of(b"[2]"));
    }
}

/// A policy page as the API gives it: its version in force (or the one asked for), the
/// Markdown, and the HTML the shop shows.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PolicyResponse {
    #[serde(flatten)]
    pub version: super::policies::PolicyVersion,
    /// The Markdown rendered (raw HTML in it shown as text; only web, mail and in-site links).
    pub html: String,
}

/// The question of [`find_policy`]: an earlier version, or the one in force.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PolicyQuery {
    /// A version number (an order's `terms_version`, say); absent: the one in force.
    #[param(minimum = 1)]
    pub version: Option<i32>,
}

/// A policy page: terms of service, refund policy, privacy policy or FAQ.
#[utoipa::path(get, path = "/api/v1/policies/{page}", tag = "catalog",
    params(
        ("page" = super::policies::PolicyPage, Path, description = "`terms`, `refund-policy`, `privacy` or `faq`"),
        PolicyQuery,
    ),
    responses(
        (status = OK, description = "The page", body = PolicyResponse),
        (status = BAD_REQUEST, description = "A malformed `version`", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = NOT_FOUND, description = "No such page or version", body = crate::error::Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn find_policy(
    State(state): State<AppState>,
    Path(page): Path<String>,
    query: Result<Query<PolicyQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<axum::Json<PolicyResponse>> {
    let page = super::policies::PolicyPage::parse(&page).ok_or(AppError::NotFound("page"))?;
    let Query(query) = query.map_err(|err| AppError::bad_request("version", err.body_text()))?;
    let version = match query.version {
        Some(number) => super::policies::version(&state.db, page, number).await?,
        None => super::policies::current(&state.db, page).await?,
    };
    Ok(axum::Json(PolicyResponse {
        html: super::policies::render(&version.body),
        version,
    }))
}
