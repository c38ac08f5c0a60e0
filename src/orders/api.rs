//! JSON API of the cart and the customer's orders: `/api/v1/cart*` and `/api/v1/orders*`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cart::{self, CartOwner, CartView, NewItem};
use super::checkout::{self, CheckoutInput, parse_idempotency_key};
use super::details::{OrderResponse, order_response};
use super::extract::{ApiCartOwner, cart_cookie, guest_cart_parameters};
use super::orders;
use super::{OrderStatus, carts};
use crate::accounts::extract::ApiUser;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::web::extract::AppJson;
use crate::web::paging::Paging;

pub fn router() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new()
        .routes(routes!(find_cart))
        .routes(routes!(add_cart_item))
        .routes(routes!(update_cart_item, delete_cart_item))
        .routes(routes!(apply_promo, remove_promo))
        .routes(routes!(list_orders, create_order))
        .routes(routes!(find_order))
        .routes(routes!(cancel_order));
    checkout_body_is_optional(router.get_openapi_mut());
    describe_guest_cart(router.get_openapi_mut());
    router
}

/// Every cart operation takes the guest cart's token two ways; said once, here.
fn describe_guest_cart(document: &mut utoipa::openapi::OpenApi) {
    for (path, item) in document.paths.paths.iter_mut() {
        if path.starts_with("/api/v1/cart") {
            for operation in crate::web::openapi::operations(item) {
                let parameters = operation.parameters.get_or_insert_with(Vec::new);
                parameters.splice(
                    0..0,
                    guest_cart_parameters(
                        "A guest cart's token (from `cart_token`, 43 characters); ignored when a \
                     bearer token is sent, and a value that names no cart is ignored too (no \
                     cart: as if none was sent)",
                        "The guest cart cookie (the same token, ignored in the same cases); \
                     `X-Cart-Token` wins when both are sent",
                    ),
                );
            }
        }
    }
}

/// Checkout's body may be left out (see [`create_order`]); `#[utoipa::path]` can only say so by
/// also making the body nullable (a JSON `null` body, which is refused), so it is said here.
fn checkout_body_is_optional(document: &mut utoipa::openapi::OpenApi) {
    if let Some(body) = document
        .paths
        .paths
        .get_mut("/api/v1/orders")
        .and_then(|item| item.post.as_mut())
        .and_then(|operation| operation.request_body.as_mut())
    {
        body.required = Some(utoipa::openapi::Required::False);
    }
}

/// The cart answer: the priced cart, plus the token of a guest cart this request created.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartResponse {
    #[serde(flatten)]
    pub cart: CartView,
    /// Only when this request created a guest cart: its token (also set as the `ngr_cart`
    /// cookie), for cookie-less clients to send back as `X-Cart-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub cart_token: Option<String>,
}

/// The cart answer: the priced cart, plus the token of a guest cart created by this request
/// (also set as a cookie) so cookie-less clients can send it back as `X-Cart-Token`.
fn cart_response(
    state: &AppState,
    status: StatusCode,
    view: CartView,
    new_token: Option<String>,
) -> Response {
    let body = CartResponse {
        cart: view,
        cart_token: new_token.clone(),
    };
    let mut response = (status, Json(body)).into_response();
    if let Some(token) = new_token
        && let Ok(value) = HeaderValue::from_str(&cart_cookie(&state.settings, token).to_string())
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The caller's cart, priced from today's catalog.
///
/// The cart is the bearer token's customer's when an `Authorization` header is sent (an invalid
/// token is a 401, never a fall-back to a guest cart); otherwise the guest cart named by
/// `X-Cart-Token` or the `ngr_cart` cookie. No cart yet: an empty one.
#[utoipa::path(get, path = "/api/v1/cart", tag = "cart",
    security((), ("bearer" = [])),
    responses(
        (status = OK, description = "The priced cart (empty when there is none)", body = CartResponse),
    ),
)]
async fn find_cart(
    State(state): State<AppState>,
    ApiCartOwner(owner): ApiCartOwner,
) -> AppResult<Response> {
    let cart = cart::find(&state.db, &owner).await?;
    let view = cart::view(&state.db, cart.as_ref()).await?;
    Ok(cart_response(&state, StatusCode::OK, view, None))
}

/// A plan to add to the cart; the same plan, location and months already in the cart add up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AddItemRequest {
    /// A plan on sale (`rdp-basic`).
    plan_id: String,
    /// An open location where the plan is sold.
    location_id: i32,
    /// 1, 3, 6 or 12.
    #[serde(default = "one")]
    #[schema(default = 1)]
    validity_months: i32,
    /// 1 to 10 (at most 10 of one line in the cart).
    #[serde(default = "one")]
    #[schema(default = 1, minimum = 1, maximum = 10)]
    quantity: i32,
    /// One of the plan's `templates` (its operating systems); left out, the plan's first.
    #[serde(default)]
    template_id: Option<i32>,
    /// Ids of your SSH keys (`/api/v1/me/ssh-keys`) the servers accept; Linux systems only,
    /// signed in.
    #[serde(default)]
    ssh_key_ids: Vec<i32>,
}

fn one() -> i32 {
    1
}

/// Adds a plan to the cart, creating the cart if needed.
///
/// A guest without a cart gets a new one: its token comes back as `cart_token` and in a
/// `Set-Cookie: ngr_cart=…` header. Nothing is written when the item is refused.
#[utoipa::path(post, path = "/api/v1/cart/items", tag = "cart",
    security((), ("bearer" = [])),
    request_body = AddItemRequest,
    responses(
        (status = CREATED, description = "Added; the priced cart", body = CartResponse,
            headers(("Set-Cookie" = String, description = "`ngr_cart=<token>` (HttpOnly, 30 days), only when this request created a guest cart"))),
        (status = CONFLICT, description = "The location cannot take that many more servers now (`location_id`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "No such plan on sale, not sold in that location, months not 1/3/6/12, quantity not 1–10, or more than 10 of one line; a `template_id` the plan does not offer; `ssh_key_ids` not your keys, for a Windows system, or sent by a guest",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn add_cart_item(
    State(state): State<AppState>,
    ApiCartOwner(owner): ApiCartOwner,
    AppJson(body): AppJson<AddItemRequest>,
) -> AppResult<Response> {
    let mut item = NewItem {
        plan_id: body.plan_id,
        location_id: body.location_id,
        validity_months: body.validity_months,
        quantity: body.quantity,
        os_template_id: body.template_id,
        ssh_key_ids: body.ssh_key_ids,
    };
    // Validate before creating a cart, so bad input writes nothing.
    cart::validate_item(
        &state.db,
        &owner,
        &mut item,
        state.provisioning.lifecycle.ip_hold_days,
    )
    .await?;
    let (cart, new_token) = cart::find_or_create(&state.db, &owner).await?;
    cart::add_validated_item(&state.db, &cart, &item).await?;
    let view = cart::view(&state.db, Some(&cart)).await?;
    Ok(cart_response(&state, StatusCode::CREATED, view, new_token))
}

/// A cart line's new quantity and/or months; an absent (or null) field keeps its value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateItemRequest {
    /// 1 to 10.
    #[schema(minimum = 1, maximum = 10)]
    quantity: Option<i32>,
    /// 1, 3, 6 or 12.
    validity_months: Option<i32>,
}

/// The caller's cart, or 404 for the item when they have none.
async fn existing_cart(state: &AppState, owner: &CartOwner) -> AppResult<carts::Cart> {
    cart::find(&state.db, owner)
        .await?
        .ok_or(AppError::NotFound("cart item"))
}

/// Changes a cart line's quantity or months.
#[utoipa::path(patch, path = "/api/v1/cart/items/{id}", tag = "cart",
    security((), ("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The cart line's id (`items[].id`)"),
    ),
    request_body = UpdateItemRequest,
    responses(
        (status = OK, description = "Changed; the priced cart", body = CartResponse),
        (status = NOT_FOUND, description = "No such line in the caller's cart (or no cart)",
            body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The cart already has this plan and location for that many months (`validity_months`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "Months not 1/3/6/12 or quantity not 1–10",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// Removes a line from the cart.
#[utoipa::path(delete, path = "/api/v1/cart/items/{id}", tag = "cart",
    security((), ("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The cart line's id (`items[].id`)"),
    ),
    responses(
        (status = OK, description = "Removed; the priced cart", body = CartResponse),
        (status = NOT_FOUND, description = "No such line in the caller's cart (or no cart)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// A promo code to put on the cart.
#[derive(Debug, Deserialize, ToSchema)]
struct PromoRequest {
    /// The code, in any case (surrounding spaces are ignored).
    #[schema(max_length = 50)]
    code: String,
}

/// Puts a promo code on the cart (replacing any other) if it applies to it now.
#[utoipa::path(post, path = "/api/v1/cart/promo", tag = "cart",
    security((), ("bearer" = [])),
    request_body = PromoRequest,
    responses(
        (status = OK, description = "Applied; the priced cart with `promo`", body = CartResponse),
        (status = UNPROCESSABLE_ENTITY, description = "The cart is empty, or the code is unknown, inactive, expired, not yet valid, used up or above the cart's subtotal minimum (`code` says which); the cart is unchanged",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// Takes the promo code off the cart (nothing to do when there is none).
#[utoipa::path(delete, path = "/api/v1/cart/promo", tag = "cart",
    security((), ("bearer" = [])),
    responses(
        (status = OK, description = "The priced cart, without a promo code", body = CartResponse),
    ),
)]
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

/// What checkout takes besides the cart (the whole body is optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateOrderRequest {
    /// Notes for the operator, at most 1000 characters.
    #[schema(max_length = 1000)]
    notes: Option<String>,
    /// Spend the account's credit on the order (as much as the balance holds, up to the
    /// amount). Credit that covers all of it pays the order at once (`status` `paid`).
    #[serde(default)]
    use_credit: bool,
    /// The buyer's province, for sales tax (kept in the billing profile); without it, the
    /// profile's. Required (422 `province`) when the shop charges sales tax and the profile has
    /// none.
    #[serde(default)]
    province: Option<crate::accounts::billing::Province>,
}

/// A way to pay an order; `POST /orders/{id}/payments` takes `method` from here.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentOption {
    /// The payment method's name (`manual`, `jazzcash`): `method` of
    /// `POST /orders/{id}/payments`.
    pub method: String,
    pub label: String,
    /// What to pay, in whole PKR.
    pub amount_pkr: i32,
}

/// A placed order and how it can be paid.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutResponse {
    pub order: OrderResponse,
    pub payment_options: Vec<PaymentOption>,
}

/// How an order can be paid; the payment endpoints take it from here. None once nothing is
/// left to pay (credit paid it all).
fn payment_options(state: &AppState, order: &OrderResponse) -> Vec<PaymentOption> {
    if order.status != OrderStatus::PendingPayment || order.amount_due_pkr == 0 {
        return Vec::new();
    }
    state
        .payments
        .gateways()
        .iter()
        .map(|gateway| PaymentOption {
            method: gateway.name().to_owned(),
            label: gateway.label().to_owned(),
            amount_pkr: order.amount_due_pkr,
        })
        .collect()
}

/// Checkout: places an order from the caller's cart and empties the cart.
///
/// In one transaction: re-prices the cart from the catalog, claims a use of its promo code,
/// writes the order (awaiting payment) and its items, spends the account's credit on it with
/// `"use_credit": true` (paying it at once when the credit covers it all), empties the cart. With an
/// `Idempotency-Key`, a retry of the same key answers the order the first request placed (200,
/// `Idempotent-Replayed: true`) instead of placing another. The body is optional: a bare POST
/// places the order without notes.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 200,
            description = "1 to 200 visible ASCII characters (e.g. a UUID) naming this checkout, so a retry cannot place a second order"),
    ),
    request_body(content = CreateOrderRequest, description = "Optional: a bare POST (no body, no Content-Type) places the order without notes"),
    responses(
        (status = CREATED, description = "The order was placed", body = CheckoutResponse),
        (status = OK, description = "A retry of an `Idempotency-Key` that already placed this order; nothing new was placed",
            body = CheckoutResponse, headers(("Idempotent-Replayed" = String, description = "`true`"))),
        (status = BAD_REQUEST, description = "A malformed `Idempotency-Key`, or a malformed body",
            body = Problem, content_type = "application/problem+json"),
        (status = FORBIDDEN, description = "The customer has not verified their e-mail address yet",
            body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The cart cannot be bought as it is (`cart`: a plan no longer sold there, or the order is too large), a location cannot take that many servers (`location_id`), the promo code no longer applies or was just used up (`promo_code`), or the `Idempotency-Key` was used for a checkout that placed nothing",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "The cart is empty (`cart`), or `notes` is longer than 1000 characters",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
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
        .is_some_and(|n| n.chars().count() > super::checkout::MAX_NOTES)
    {
        return Err(AppError::invalid(
            "notes",
            format!("must be at most {} characters", super::checkout::MAX_NOTES),
        ));
    }
    let placed = crate::payments::pay::checkout(
        &state.db,
        &state.provisioning,
        &state.payments,
        state.settings.order_expiry_hours,
        &caller.user,
        &CheckoutInput {
            idempotency_key: key,
            notes: body.notes.as_deref(),
            use_credit: body.use_credit,
            province: body.province,
        },
    )
    .await?;
    let order = order_response(&state, placed.order).await?;
    let status = if placed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let payment_options = payment_options(&state, &order);
    let mut response = (
        status,
        Json(CheckoutResponse {
            order,
            payment_options,
        }),
    )
        .into_response();
    if !placed.created {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// A page of the customer's orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderResponse>,
    /// How many orders there are in all.
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// The caller's orders, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders",
    security(("bearer" = [])),
    params(Paging),
    responses(
        (status = OK, description = "A page of the caller's orders", body = OrderPage),
    ),
)]
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
    Ok(Json(OrderPage {
        items,
        total,
        page: paging.page,
        per_page: paging.per_page,
    }))
}

/// One of the caller's orders; anyone else's is a 404, as if it did not exist.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The order's id")),
    responses(
        (status = OK, description = "The order with its items", body = OrderResponse),
    ),
)]
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

/// Cancels one of the caller's orders while it awaits payment; its promo code use is given back.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
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
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<Json<OrderResponse>> {
    let order =
        checkout::end_unpaid(&state.db, id, Some(caller.user.id), OrderStatus::Cancelled).await?;
    Ok(Json(order_response(&state, order).await?))
}
