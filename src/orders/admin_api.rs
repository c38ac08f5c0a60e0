//! The operator's JSON API for orders and promo codes: `/api/v1/admin/orders*` and
//! `/api/v1/admin/promo-codes*`. Every change is written to the audit log in its transaction.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::details::{OrderResponse, order_response};
use super::orders::{self, Order, OrderFilter};
use super::promo_codes::{self, DiscountType, PromoCode, PromoCodeFields};
use super::{OrderStatus, checkout};
use crate::accounts::extract::ApiAdmin;
use crate::accounts::validation::FieldErrors;
use crate::app::AppState;
use crate::audit::{self, NewAuditEntry};
use crate::error::{AppError, AppResult, Problem, ResultExt};
use crate::web::extract::{AppJson, ClientIp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(find_order))
        .routes(routes!(cancel_order))
        .routes(routes!(list_promo_codes, create_promo_code))
        .routes(routes!(
            find_promo_code,
            update_promo_code,
            delete_promo_code
        ))
}

/// `GET /admin/orders` filters: status, customer id, placed from/to (dates, PKT-agnostic UTC
/// days), search (order id or part of the customer's e-mail), paging.
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
    /// An order id, or part of the customer's e-mail address.
    pub search: Option<String>,
    /// The page to show, from 1.
    #[serde(default = "first_page")]
    #[param(default = 1, minimum = 1)]
    pub page: i64,
    /// Items per page, 1 to 100.
    #[serde(default = "default_per_page")]
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
    /// How many orders match the filters in all.
    pub total: i64,
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

fn first_page() -> i64 {
    1
}

fn status_filter() -> utoipa::openapi::schema::Schema {
    crate::web::openapi::status_or_empty::<OrderStatus>(
        "Only orders in this status; absent or empty means any",
    )
}

fn default_per_page() -> i64 {
    25
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
    let total = orders::count(&state.db, &filter).await?;
    let rows = orders::list(
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
        total,
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
    let order = cancel_order_as(&state, admin.user.id, &ip, id).await?;
    Ok(Json(order_response(&state, order).await?))
}

/// Cancels an unpaid order for the operator `actor` (API and pages), in the audit log.
pub(crate) async fn cancel_order_as(
    state: &AppState,
    actor: i32,
    ip: &str,
    id: i32,
) -> AppResult<Order> {
    let order = checkout::end_unpaid(&state.db, id, None, OrderStatus::Cancelled).await?;
    audit::insert(
        &state.db,
        &NewAuditEntry {
            actor_user_id: Some(actor),
            action: "order.cancel",
            entity_type: "order",
            entity_id: Some(&id.to_string()),
            before: Some(json!({ "status": "pending_payment" })),
            after: Some(json!({ "status": order.status })),
            ip_address: Some(ip),
        },
    )
    .await?;
    Ok(order)
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

/// A promo code as the operator sends it. Creating one needs `code`, `discount_type` and
/// `discount_value`; on PATCH every field is optional and an absent one keeps its value, while
/// an explicit null clears the nullable ones (`max_discount_amount`, `valid_from`,
/// `valid_until`, `max_uses`). Every problem is reported at once (422).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoCodeRequest {
    /// 1 to 50 letters, digits, `-` or `_`; stored upper case. Required on create.
    pub code: Option<String>,
    /// Required on create.
    #[schema(value_type = Option<DiscountType>)]
    pub discount_type: Option<String>,
    /// A percentage (1–100) or whole PKR (0 or more), by `discount_type`. Required on create.
    pub discount_value: Option<i64>,
    /// The smallest order subtotal it applies to, whole PKR (default 0).
    pub min_order_value: Option<i64>,
    /// The largest discount a percentage gives, whole PKR; null: no cap.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_discount_amount: Option<Option<i64>>,
    /// Valid from this instant (RFC 3339); null: at once.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    /// Valid until this instant (RFC 3339), after `valid_from`; null: no end.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    /// Default true.
    pub is_active: Option<bool>,
    /// How many orders may use it (not below the uses so far); null: no limit.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_uses: Option<Option<i64>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// An owned, validated set of promo code fields.
pub(crate) struct ValidPromo {
    code: String,
    discount_type: String,
    discount_value: i32,
    min_order_value: i32,
    max_discount_amount: Option<i32>,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    is_active: bool,
    max_uses: Option<i32>,
}

impl ValidPromo {
    fn fields(&self) -> PromoCodeFields<'_> {
        PromoCodeFields {
            code: &self.code,
            discount_type: &self.discount_type,
            discount_value: self.discount_value,
            min_order_value: self.min_order_value,
            max_discount_amount: self.max_discount_amount,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            is_active: self.is_active,
            max_uses: self.max_uses,
        }
    }
}

fn amount(errors: &mut FieldErrors, field: &str, value: i64) -> Option<i32> {
    match i32::try_from(value) {
        Ok(v) if v >= 0 => Some(v),
        _ if field == "max_uses" => {
            errors.add(field, "must be a whole number, 0 or more");
            None
        }
        _ => {
            errors.add(field, "must be a whole number of rupees, 0 or more");
            None
        }
    }
}

/// Merges a request over the current code (or over nothing, for a new one) and checks every
/// rule, reporting all problems at once.
pub(crate) fn validate_promo(
    request: PromoCodeRequest,
    current: Option<&PromoCode>,
) -> AppResult<ValidPromo> {
    let mut errors = FieldErrors::default();
    let code = request
        .code
        .map(|c| c.trim().to_uppercase())
        .or_else(|| current.map(|c| c.code.clone()));
    let code = match code {
        Some(code)
            if !code.is_empty()
                && code.len() <= 50
                && code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            code
        }
        Some(_) => {
            errors.add("code", "must be 1 to 50 letters, digits, - or _");
            String::new()
        }
        None => {
            errors.add("code", "is required");
            String::new()
        }
    };
    let discount_type = request
        .discount_type
        .or_else(|| current.map(|c| c.discount_type.clone()));
    let discount_type = match discount_type.as_deref() {
        Some("percentage" | "fixed_amount") => discount_type.unwrap_or_default(),
        Some(_) => {
            errors.add("discount_type", "must be percentage or fixed_amount");
            String::new()
        }
        None => {
            errors.add("discount_type", "is required");
            String::new()
        }
    };
    let discount_value = match request.discount_value {
        Some(v) => amount(&mut errors, "discount_value", v),
        None => match current {
            Some(c) => Some(c.discount_value),
            None => {
                errors.add("discount_value", "is required");
                None
            }
        },
    };
    if discount_type == "percentage" && discount_value.is_some_and(|v| !(1..=100).contains(&v)) {
        errors.add("discount_value", "a percentage must be between 1 and 100");
    }
    let min_order_value = match request.min_order_value {
        Some(v) => amount(&mut errors, "min_order_value", v),
        None => Some(current.map_or(0, PromoCode::min_order_value)),
    };
    let max_discount_amount = match request.max_discount_amount {
        Some(Some(v)) => amount(&mut errors, "max_discount_amount", v).map(Some),
        Some(None) => Some(None),
        None => Some(current.and_then(|c| c.max_discount_amount)),
    };
    let max_uses = match request.max_uses {
        Some(Some(v)) => amount(&mut errors, "max_uses", v).map(Some),
        Some(None) => Some(None),
        None => Some(current.and_then(|c| c.max_uses)),
    };
    if let (Some(Some(max)), Some(c)) = (max_uses, current)
        && max < c.current_uses()
    {
        errors.add(
            "max_uses",
            &format!("it has already been used {} times", c.current_uses()),
        );
    }
    let valid_from = request
        .valid_from
        .unwrap_or_else(|| current.and_then(|c| c.valid_from));
    let valid_until = request
        .valid_until
        .unwrap_or_else(|| current.and_then(|c| c.valid_until));
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && until <= from
    {
        errors.add("valid_until", "must be after valid_from");
    }
    let is_active = request
        .is_active
        .unwrap_or_else(|| current.is_none_or(PromoCode::is_active));
    match (
        discount_value,
        min_order_value,
        max_discount_amount,
        max_uses,
    ) {
        (
            Some(discount_value),
            Some(min_order_value),
            Some(max_discount_amount),
            Some(max_uses),
        ) if errors.is_empty() => Ok(ValidPromo {
            code,
            discount_type,
            discount_value,
            min_order_value,
            max_discount_amount,
            valid_from,
            valid_until,
            is_active,
            max_uses,
        }),
        _ => Err(AppError::Validation(errors.0)),
    }
}

fn code_taken() -> AppError {
    AppError::conflict("code", "a promo code with this name already exists")
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
    let created = create_promo_code_as(&state, admin.user.id, &ip, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Validates and creates a promo code for the operator `actor` (API and pages), audited.
pub(crate) async fn create_promo_code_as(
    state: &AppState,
    actor: i32,
    ip: &str,
    request: PromoCodeRequest,
) -> AppResult<PromoCode> {
    let valid = validate_promo(request, None)?;
    let mut tx = state.db.begin().await?;
    let created = promo_codes::insert(&mut *tx, &valid.fields())
        .await
        .on_constraint("promo_codes_code_upper_key", |_| code_taken())
        .on_constraint("promo_codes_code_key", |_| code_taken())?;
    audit_promo(
        &mut tx,
        actor,
        ip,
        "promo_code.create",
        created.id,
        None,
        Some(&created),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
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
        update_promo_code_as(&state, admin.user.id, &ip, id, body).await?,
    ))
}

/// Merges `request` over the code, validates and saves it for the operator `actor`, audited.
pub(crate) async fn update_promo_code_as(
    state: &AppState,
    actor: i32,
    ip: &str,
    id: i32,
    request: PromoCodeRequest,
) -> AppResult<PromoCode> {
    let mut tx = state.db.begin().await?;
    let before = promo_codes::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("promo code"))?;
    let valid = validate_promo(request, Some(&before))?;
    let after = promo_codes::update(&mut *tx, id, &valid.fields())
        .await
        .on_constraint("promo_codes_code_upper_key", |_| code_taken())
        .on_constraint("promo_codes_code_key", |_| code_taken())?
        .ok_or(AppError::NotFound("promo code"))?;
    audit_promo(
        &mut tx,
        actor,
        ip,
        "promo_code.update",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
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
    delete_promo_code_as(&state, admin.user.id, &ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an unused promo code for the operator `actor` (API and pages), audited; a used one
/// is a 409 saying to deactivate it instead.
pub(crate) async fn delete_promo_code_as(
    state: &AppState,
    actor: i32,
    ip: &str,
    id: i32,
) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let before = promo_codes::find_for_update(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound("promo code"))?;
    if before.current_uses() > 0 {
        return Err(AppError::conflict(
            "id",
            format!(
                "{} has been used {} times; deactivate it instead",
                before.code,
                before.current_uses()
            ),
        ));
    }
    promo_codes::delete(&mut *tx, id).await?;
    audit_promo(
        &mut tx,
        actor,
        ip,
        "promo_code.delete",
        id,
        Some(&before),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn audit_promo(
    tx: &mut sqlx::PgConnection,
    actor: i32,
    ip: &str,
    action: &str,
    id: i32,
    before: Option<&PromoCode>,
    after: Option<&PromoCode>,
) -> AppResult<()> {
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            actor_user_id: Some(actor),
            action,
            entity_type: "promo_code",
            entity_id: Some(&id.to_string()),
            before: before.map(|b| serde_json::to_value(b).unwrap_or_default()),
            after: after.map(|a| serde_json::to_value(a).unwrap_or_default()),
            ip_address: Some(ip),
        },
    )
    .await?;
    Ok(())
}
