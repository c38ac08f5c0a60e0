//! The operator's JSON API for orders and promo codes: `/api/v1/admin/orders*` and
//! `/api/v1/admin/promo-codes*`. Every change is written to the audit log in its transaction.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::details::{OrderResponse, order_response};
use super::orders::{self, OrderFilter};
use super::promo_codes::{self, PromoCode};
use super::promos::{self, PromoCodeRequest};
use super::{OrderStatus, checkout};
use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::web::extract::{AppJson, ClientIp};

pub mod billing;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(find_order, update_order))
        .routes(routes!(cancel_order))
        .routes(routes!(list_promo_codes, create_promo_code))
        .routes(routes!(
            find_promo_code,
            update_promo_code,
            delete_promo_code
        ))
        .merge(billing::router())
}

/// `GET /admin/orders` filters: status, customer id, placed from/to (dates, PKT-agnostic UTC
/// days), search (order id, part of the customer's e-mail, or the whole payment reference), paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Only orders in this status; absent or empty means any.
    #[param(schema_with = status_filter)]
    pub status: Option<String>,
    /// Only this customer's orders (a user id).
    pub customer: Option<i32>,
    /// Placed on or after this day (UTC, `YYYY-MM-DD`).
    pub from: Option<NaiveDate>,
    /// Placed on or before this day (UTC, `YYYY-MM-DD`); not before `from`.
    pub to: Option<NaiveDate>,
    /// An order id, part of the customer's e-mail address, or the whole payment reference (in
    /// any case).
    pub search: Option<String>,
    /// The page to show, from 1.
    #[serde(default = "crate::web::paging::first_page")]
    #[param(default = 1, minimum = 1)]
    pub page: i64,
    /// Items per page, 1 to 100.
    #[serde(default = "crate::web::paging::admin_per_page")]
    #[param(default = 25, minimum = 1, maximum = 100)]
    pub per_page: i64,
}

/// An order in the operator's list: the customer's view of it plus whose it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderResponse {
    #[serde(flatten)]
    pub order: OrderResponse,
    /// The customer who placed it.
    pub user_id: Option<i32>,
}

/// A page of orders for the operator, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderPage {
    pub items: Vec<AdminOrderResponse>,
    /// How many orders match, over all pages: exact up to 10,000; beyond, the database's
    /// estimate (`total_exact` false), never under 10,001.
    pub total: i64,
    /// Whether `total` is an exact count (false: an estimate; page on until a page comes back
    /// short).
    pub total_exact: bool,
    pub page: i64,
    pub per_page: i64,
}

/// Who placed an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCustomer {
    pub id: i32,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

/// An order with its customer, for the operator.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderDetail {
    pub order: OrderResponse,
    /// Null when the customer's account no longer exists.
    pub customer: Option<OrderCustomer>,
}

/// Every promo code, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromoCodeList {
    pub items: Vec<PromoCode>,
}

fn status_filter() -> utoipa::openapi::schema::Schema {
    crate::web::openapi::status_or_empty::<OrderStatus>(
        "Only orders in this status; absent or empty means any",
    )
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// Checks the query; a 400 names the parameter at fault.
pub fn parse_order_query(
    query: Result<Query<OrderQuery>, QueryRejection>,
) -> AppResult<OrderQuery> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    if let Some(status) = &query.status
        && status.parse::<OrderStatus>().is_err()
    {
        return Err(AppError::bad_request(
            "status",
            format!("unknown status {status:?}"),
        ));
    }
    crate::web::paging::check(query.page, query.per_page)?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && to < from
    {
        return Err(AppError::bad_request("to", "must not be before from"));
    }
    Ok(query)
}

/// Every order, newest first, filtered and a page at a time.
#[utoipa::path(get, path = "/api/v1/admin/orders", tag = "admin",
    operation_id = "admin_list_orders",
    security(("bearer" = [])),
    params(OrderQuery),
    responses(
        (status = OK, description = "A page of the matching orders", body = AdminOrderPage),
        (status = BAD_REQUEST, description = "An unknown or malformed query parameter, an unknown `status`, `page` < 1, `per_page` outside 1–100, or `to` before `from`",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_orders(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<OrderQuery>, QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let query = parse_order_query(query)?;
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let filter = OrderFilter {
        status: query.status.as_deref(),
        user_id: query.customer,
        from: query.from.map(start_of),
        // `to` is inclusive: orders placed before the next day.
        to: query.to.and_then(|d| d.succ_opt()).map(start_of),
        search,
    };
    let (rows, total) = orders::page(
        &state.db,
        &filter,
        query.per_page,
        crate::web::paging::offset(query.page, query.per_page),
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for order in rows {
        let user_id = order.user_id;
        items.push(AdminOrderResponse {
            order: order_response(&state, order).await?,
            user_id,
        });
    }
    Ok(Json(AdminOrderPage {
        items,
        total: total.count,
        total_exact: total.exact,
        page: query.page,
        per_page: query.per_page,
    }))
}

/// Any order, with its items and its customer.
#[utoipa::path(get, path = "/api/v1/admin/orders/{id}", tag = "admin",
    operation_id = "admin_find_order",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The order's id")),
    responses(
        (status = OK, description = "The order and its customer", body = AdminOrderDetail),
    ),
)]
async fn find_order(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let order = orders::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let customer = match order.user_id {
        Some(user_id) => crate::accounts::users::find(&state.db, user_id).await?,
        None => None,
    };
    let response = order_response(&state, order).await?;
    Ok(Json(AdminOrderDetail {
        order: response,
        customer: customer.map(|u| OrderCustomer {
            id: u.id,
            name: u.name,
            email: u.email,
            phone: u.phone,
        }),
    }))
}

/// An operator's change to an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OrderChange {
    /// The order's notes, replacing what is there (empty clears them); at most 1000 characters.
    notes: String,
}

/// Sets an order's notes (audited as `order.notes`, before and after), in any status.
#[utoipa::path(patch, path = "/api/v1/admin/orders/{id}", tag = "admin",
    operation_id = "admin_update_order",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The order's id")),
    request_body = OrderChange,
    responses(
        (status = OK, description = "The order as it now is", body = OrderResponse),
        (status = UNPROCESSABLE_ENTITY, description = "`notes` is longer than 1000 characters",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn update_order(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(change): AppJson<OrderChange>,
) -> AppResult<Json<OrderResponse>> {
    let order =
        checkout::set_notes_by_operator(&state.db, &admin.actor(&ip), id, &change.notes).await?;
    Ok(Json(order_response(&state, order).await?))
}

/// Cancels any order while it awaits payment (audited); its promo code use is given back.
#[utoipa::path(post, path = "/api/v1/admin/orders/{id}/cancel", tag = "admin",
    operation_id = "admin_cancel_order",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The order's id")),
    responses(
        (status = OK, description = "The cancelled order", body = OrderResponse),
        (status = CONFLICT, description = "The order is no longer awaiting payment (`status`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn cancel_order(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Json<OrderResponse>> {
    let order = checkout::cancel_by_operator(&state.db, &admin.actor(&ip), id).await?;
    Ok(Json(order_response(&state, order).await?))
}

/// Every promo code.
#[utoipa::path(get, path = "/api/v1/admin/promo-codes", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = OK, description = "Every promo code", body = PromoCodeList),
    ),
)]
async fn list_promo_codes(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> AppResult<impl IntoResponse> {
    let items = promo_codes::list(&state.db).await?;
    Ok(Json(PromoCodeList { items }))
}

/// One promo code.
#[utoipa::path(get, path = "/api/v1/admin/promo-codes/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The promo code's id")),
    responses(
        (status = OK, description = "The promo code", body = PromoCode),
    ),
)]
async fn find_promo_code(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<Json<PromoCode>> {
    Ok(Json(
        promo_codes::find(&state.db, id)
            .await?
            .ok_or(AppError::NotFound("promo code"))?,
    ))
}

/// Creates a promo code (audited).
#[utoipa::path(post, path = "/api/v1/admin/promo-codes", tag = "admin",
    security(("bearer" = [])),
    request_body = PromoCodeRequest,
    responses(
        (status = CREATED, description = "The new promo code", body = PromoCode),
        (status = CONFLICT, description = "A promo code with this name already exists (`code`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A missing or invalid field, each named in `errors`",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn create_promo_code(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<PromoCodeRequest>,
) -> AppResult<impl IntoResponse> {
    let created = promos::create(&state, &admin.actor(&ip), body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Changes a promo code (audited).
///
/// The fields sent are merged over the current ones and the result is checked as a whole.
#[utoipa::path(patch, path = "/api/v1/admin/promo-codes/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The promo code's id")),
    request_body = PromoCodeRequest,
    responses(
        (status = OK, description = "The promo code as saved", body = PromoCode),
        (status = CONFLICT, description = "Another promo code has this name (`code`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "An invalid field, each named in `errors` (e.g. `max_uses` below the uses so far)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn update_promo_code(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    AppJson(body): AppJson<PromoCodeRequest>,
) -> AppResult<Json<PromoCode>> {
    Ok(Json(
        promos::update(&state, &admin.actor(&ip), id, body).await?,
    ))
}

/// Deletes a code no order used; a used one can only be deactivated (orders keep its name).
#[utoipa::path(delete, path = "/api/v1/admin/promo-codes/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The promo code's id")),
    responses(
        (status = NO_CONTENT, description = "Deleted"),
        (status = CONFLICT, description = "The code has been used; deactivate it instead (`is_active: false`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn delete_promo_code(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<StatusCode> {
    promos::delete(&state, &admin.actor(&ip), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
