//! JSON API of the cart and the customer's orders: `/api/v1/cart*` and `/api/v1/orders*`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::cart::{self, CART_COOKIE, CartOwner, CartView, NewItem};
use super::checkout::{self, parse_idempotency_key};
use super::items::{self, OrderItemDetail};
use super::orders::{self, Order};
use super::{OrderStatus, carts};
use crate::accounts::extract::ApiUser;
use crate::app::{AppState, Settings};
use crate::catalog::format_pkr;
use crate::error::{AppError, AppResult};
use crate::web::extract::AppJson;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cart", get(find_cart))
        .route("/cart/items", post(add_cart_item))
        .route(
            "/cart/items/{id}",
            patch(update_cart_item).delete(delete_cart_item),
        )
        .route("/cart/promo", post(apply_promo).delete(remove_promo))
        .route("/orders", get(list_orders).post(create_order))
        .route("/orders/{id}", get(find_order))
        .route("/orders/{id}/cancel", post(cancel_order))
}

/// Whose cart an API request works on: the bearer token's customer, else the guest cart named
/// by the `ngr_cart` cookie or the `X-Cart-Token` header. A bearer token that does not verify
/// is a 401, never a silent fall-back to a guest cart.
pub struct ApiCartOwner(pub CartOwner);

impl FromRequestParts<AppState> for ApiCartOwner {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            let caller = ApiUser::from_request_parts(parts, state).await?;
            return Ok(Self(CartOwner::Customer(caller.user.id)));
        }
        Ok(Self(CartOwner::Guest(guest_cart_token(&parts.headers))))
    }
}

/// The guest cart token a client sent (header first, then cookie).
pub fn guest_cart_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-cart-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            axum_extra::extract::CookieJar::from_headers(headers)
                .get(CART_COOKIE)
                .map(|c| c.value().to_owned())
        })
        .filter(|t| t.len() == 43)
}

/// The cart cookie for a new guest cart (30 days).
pub fn cart_cookie(settings: &Settings, token: String) -> Cookie<'static> {
    Cookie::build((CART_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure_cookies())
        .max_age(time::Duration::days(30))
        .build()
}

/// The cart answer: the priced cart, plus the token of a guest cart created by this request
/// (also set as a cookie) so cookie-less clients can send it back as `X-Cart-Token`.
fn cart_response(
    state: &AppState,
    status: StatusCode,
    view: CartView,
    new_token: Option<String>,
) -> Response {
    let mut body = serde_json::to_value(&view).unwrap_or_default();
    if let Some(token) = &new_token {
        body["cart_token"] = json!(token);
    }
    let mut response = (status, Json(body)).into_response();
    if let Some(token) = new_token
        && let Ok(value) = HeaderValue::from_str(&cart_cookie(&state.settings, token).to_string())
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn find_cart(
    State(state): State<AppState>,
    ApiCartOwner(owner): ApiCartOwner,
) -> AppResult<Response> {
    let cart = cart::find(&state.db, &owner).await?;
    let view = cart::view(&state.db, cart.as_ref()).await?;
    Ok(cart_response(&state, StatusCode::OK, view, None))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddItemRequest {
    plan_id: String,
    location_id: i32,
    #[serde(default = "one")]
    validity_months: i32,
    #[serde(default = "one")]
    quantity: i32,
}

fn one() -> i32 {
    1
}

async fn add_cart_item(
    State(state): State<AppState>,
    ApiCartOwner(owner): ApiCartOwner,
    AppJson(body): AppJson<AddItemRequest>,
) -> AppResult<Response> {
    let item = NewItem {
        plan_id: body.plan_id,
        location_id: body.location_id,
        validity_months: body.validity_months,
        quantity: body.quantity,
    };
    // Validate before creating a cart, so bad input writes nothing.
    cart::validate_item(
        &state.db,
        &item,
        state.settings.provisioning.lifecycle.ip_hold_days,
    )
    .await?;
    let (cart, new_token) = cart::find_or_create(&state.db, &owner).await?;
    cart::add_validated_item(&state.db, &cart, &item).await?;
    let view = cart::view(&state.db, Some(&cart)).await?;
    Ok(cart_response(&state, StatusCode::CREATED, view, new_token))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateItemRequest {
    quantity: Option<i32>,
    validity_months: Option<i32>,
}

/// The caller's cart, or 404 for the item when they have none.
async fn existing_cart(state: &AppState, owner: &CartOwner) -> AppResult<carts::Cart> {
    cart::find(&state.db, owner)
        .await?
        .ok_or(AppError::NotFound("cart item"))
}

async fn update_cart_item(
    State(state): State<AppState>,
    ApiCartOwner(owner): ApiCartOwner,
    Path(id): Path<i64>,
    AppJson(body): AppJson<UpdateItemRequest>,
) -> AppResult<Response> {
    let cart = existing_cart(&state, &owner).await?;
    let lines = carts::list_lines(&state.db, cart.id).await?;
    let line = lines
        .iter()
        .find(|l| l.id == id)
        .ok_or(AppError::NotFound("cart item"))?;
    cart::update_item(
        &state.db,
        &cart,
        id,
        body.quantity.unwrap_or(line.quantity),
        body.validity_months.unwrap_or(line.validity_months),
    )
    .await?;
    let view = cart::view(&state.db, Some(&cart)).await?;
    Ok(cart_response(&state, StatusCode::OK, view, None))
}

async fn delete_cart_item(
    State(state): State<AppState>,
    ApiCartOwner(owner): ApiCartOwner,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let cart = existing_cart(&state, &owner).await?;
    cart::remove_item(&state.db, &cart, id).await?;
    let view = cart::view(&state.db, Some(&cart)).await?;
    Ok(cart_response(&state, StatusCode::OK, view, None))
}

#[derive(Debug, Deserialize)]
struct PromoRequest {
    code: String,
}

async fn apply_promo(
    State(state): State<AppState>,
    ApiCartOwner(owner): ApiCartOwner,
    AppJson(body): AppJson<PromoRequest>,
) -> AppResult<Response> {
    let cart = cart::find(&state.db, &owner)
        .await?
        .ok_or_else(|| AppError::invalid("code", "add a plan to your cart before a promo code"))?;
    cart::apply_promo(&state.db, &cart, &body.code).await?;
    let cart = cart::find(&state.db, &owner).await?;
    let view = cart::view(&state.db, cart.as_ref()).await?;
    Ok(cart_response(&state, StatusCode::OK, view, None))
}

async fn remove_promo(
    State(state): State<AppState>,
    ApiCartOwner(owner): ApiCartOwner,
) -> AppResult<Response> {
    let cart = cart::find(&state.db, &owner).await?;
    if let Some(cart) = &cart {
        cart::remove_promo(&state.db, cart).await?;
    }
    let cart = cart::find(&state.db, &owner).await?;
    let view = cart::view(&state.db, cart.as_ref()).await?;
    Ok(cart_response(&state, StatusCode::OK, view, None))
}

/// An order as its customer (and the operator) sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderResponse {
    pub id: i32,
    pub status: String,
    pub total_amount_pkr: i32,
    pub discount_amount_pkr: i32,
    pub final_amount_pkr: i32,
    pub final_amount_display: String,
    pub promo_code: Option<String>,
    pub payment_method: Option<String>,
    pub payment_reference: Option<String>,
    pub notes: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// When an unpaid order expires.
    pub pay_before: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub items: Vec<OrderItemResponse>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderItemResponse {
    pub id: i32,
    pub plan_id: Option<String>,
    pub plan_name: Option<String>,
    pub location_id: Option<i32>,
    pub location_name: Option<String>,
    pub quantity: i32,
    pub validity_months: i32,
    pub price_at_order_pkr: i32,
    pub line_total_pkr: i64,
}

impl From<OrderItemDetail> for OrderItemResponse {
    fn from(item: OrderItemDetail) -> Self {
        Self {
            line_total_pkr: item.line_total_pkr(),
            id: item.id,
            plan_id: item.plan_id,
            plan_name: item.plan_name,
            location_id: item.location_id,
            location_name: item.location_name,
            quantity: item.quantity,
            validity_months: item.validity_months,
            price_at_order_pkr: item.price_at_order_pkr,
        }
    }
}

/// Builds the response of an order with its items.
pub async fn order_response(state: &AppState, order: Order) -> AppResult<OrderResponse> {
    let items = items::list_details_for_order(&state.db, order.id).await?;
    let expiry = Duration::hours(i64::from(state.settings.order_expiry_hours));
    Ok(OrderResponse {
        pay_before: (order.status == OrderStatus::PendingPayment.as_str())
            .then(|| order.created_at.map(|at| checkout::pay_before(at, expiry)))
            .flatten(),
        discount_amount_pkr: order.discount_amount_pkr(),
        final_amount_display: format_pkr(i64::from(order.final_amount_pkr)),
        id: order.id,
        status: order.status,
        total_amount_pkr: order.total_amount_pkr,
        final_amount_pkr: order.final_amount_pkr,
        promo_code: order.promo_code,
        payment_method: order.payment_method,
        payment_reference: order.payment_reference,
        notes: order.notes,
        created_at: order.created_at,
        paid_at: order.paid_at,
        cancelled_at: order.cancelled_at,
        items: items.into_iter().map(Into::into).collect(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrderRequest {
    notes: Option<String>,
}

/// How an order can be paid; the payment endpoints take it from here.
fn payment_options(order: &OrderResponse) -> serde_json::Value {
    json!([{ "method": "manual", "label": "Bank transfer, JazzCash or Easypaisa", "amount_pkr": order.final_amount_pkr }])
}

async fn create_order(
    State(state): State<AppState>,
    caller: ApiUser,
    headers: HeaderMap,
    body: Result<AppJson<CreateOrderRequest>, AppError>,
) -> AppResult<Response> {
    let key = match headers.get("idempotency-key") {
        Some(value) => {
            Some(parse_idempotency_key(value.to_str().map_err(|_| {
                AppError::bad_request("Idempotency-Key", "must be ASCII")
            })?)?)
        }
        None => None,
    };
    // The body is optional: a bare POST (no Content-Type) places the order without notes.
    let body = match body {
        Ok(AppJson(body)) => body,
        Err(AppError::UnsupportedMediaType) if !headers.contains_key(header::CONTENT_TYPE) => {
            CreateOrderRequest::default()
        }
        Err(err) => return Err(err),
    };
    if body
        .notes
        .as_ref()
        .is_some_and(|n| n.chars().count() > 1000)
    {
        return Err(AppError::invalid(
            "notes",
            "must be at most 1000 characters",
        ));
    }
    let placed = checkout::place_order(
        &state.db,
        &caller.user,
        key,
        body.notes.as_deref(),
        state.settings.provisioning.lifecycle.ip_hold_days,
    )
    .await?;
    let order = order_response(&state, placed.order).await?;
    let status = if placed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let options = payment_options(&order);
    let mut response = (
        status,
        Json(json!({ "order": order, "payment_options": options })),
    )
        .into_response();
    if !placed.created {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `?page=&per_page=` of a list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    #[serde(default = "first_page")]
    pub page: i64,
    #[serde(default = "default_per_page")]
    pub per_page: i64,
}

fn first_page() -> i64 {
    1
}

fn default_per_page() -> i64 {
    20
}

impl Paging {
    /// Parses and bounds paging: page ≥ 1, 1 ≤ per_page ≤ 100; a 400 names the parameter.
    pub fn parse(query: Result<Query<Paging>, QueryRejection>) -> AppResult<Self> {
        let Query(paging) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
        if paging.page < 1 {
            return Err(AppError::bad_request("page", "must be 1 or more"));
        }
        if !(1..=100).contains(&paging.per_page) {
            return Err(AppError::bad_request(
                "per_page",
                "must be between 1 and 100",
            ));
        }
        Ok(paging)
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

async fn list_orders(
    State(state): State<AppState>,
    caller: ApiUser,
    query: Result<Query<Paging>, QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let paging = Paging::parse(query)?;
    let total = orders::count_for_user(&state.db, caller.user.id).await?;
    let rows =
        orders::list_for_user(&state.db, caller.user.id, paging.per_page, paging.offset()).await?;
    let mut items = Vec::with_capacity(rows.len());
    for order in rows {
        items.push(order_response(&state, order).await?);
    }
    Ok(Json(
        json!({ "items": items, "total": total, "page": paging.page, "per_page": paging.per_page }),
    ))
}

/// The caller's own order; anyone else's is a 404, as if it did not exist.
async fn find_order(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<Json<OrderResponse>> {
    let order = orders::find_for_user(&state.db, id, caller.user.id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    Ok(Json(order_response(&state, order).await?))
}

async fn cancel_order(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<Json<OrderResponse>> {
    let order =
        checkout::end_unpaid(&state.db, id, Some(caller.user.id), OrderStatus::Cancelled).await?;
    Ok(Json(order_response(&state, order).await?))
}
