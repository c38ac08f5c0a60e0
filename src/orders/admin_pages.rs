//! The operator's order and promo-code pages: `/admin/orders*` and `/admin/promo-codes*`.
//!
//! Forms over the operator API's own checks and audited writes (`admin_api`): the order filters
//! are parsed by [`parse_order_query`], promo codes validated by [`validate_promo`], and every
//! change goes through the same `*_as` functions as the JSON API, audit rows included.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::OrderStatus;
use super::admin_api::{OrderQuery, parse_order_query};
use super::checkout::{cancel_by_operator, set_notes_by_operator};
use super::details::order_response;
use super::orders::{self, OrderFilter};
use super::promo_codes::{self, DiscountType, PromoCode};
use super::promos::{self, PromoCodeRequest, validate_promo};
use super::views::{OrderRow, OrderView};
use crate::accounts::extract::PageAdmin;
use crate::accounts::users;
use crate::accounts::validation::FieldErrors;
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;
use crate::payments::views::{AdminPaymentRow, rows_for_order};
use crate::web::extract::ClientIp;
use crate::web::forms::{Failure, FormErrors, Notice, notice, pkt, pkt_offset};
use crate::web::pages::Layout;
use crate::web::pages::render_with;
use crate::web::paging::PageOf;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/orders", get(list_orders))
        .route("/admin/orders/{id}", get(order_page))
        .route("/admin/orders/{id}/cancel", post(cancel_order))
        .route("/admin/orders/{id}/notes", post(save_notes))
        .route(
            "/admin/promo-codes",
            get(list_promo_codes).post(create_promo_code),
        )
        .route(
            "/admin/promo-codes/{id}",
            get(promo_code_page).post(update_promo_code),
        )
        .route(
            "/admin/promo-codes/{id}/activate",
            post(activate_promo_code),
        )
        .route(
            "/admin/promo-codes/{id}/deactivate",
            post(deactivate_promo_code),
        )
        .route("/admin/promo-codes/{id}/delete", post(delete_promo_code))
}

fn see_other(target: &str) -> Response {
    Redirect::to(target).into_response()
}

// ---------------------------------------------------------------------------------------------
// Orders

/// The filter fields as typed, to show them again.
#[derive(Default)]
struct FilterValues {
    status: String,
    customer: String,
    from: String,
    to: String,
    search: String,
}

/// A status choice of the filter.
struct StatusOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// An order as a row of the operator's list.
struct AdminOrderRow {
    order: OrderRow,
    customer_id: Option<i32>,
    customer: String,
}

#[derive(Template)]
#[template(path = "admin/orders/orders.html")]
struct OrdersPage {
    layout: Layout,
    filters: FilterValues,
    statuses: Vec<StatusOption>,
    errors: FormErrors,
    alert: Option<String>,
    orders: Vec<AdminOrderRow>,
    list: PageOf,
    previous_href: Option<String>,
    next_href: Option<String>,
    filtered: bool,
}

const FILTER_FIELDS: &[(&str, &str)] = &[
    ("status", "Status"),
    ("customer", "Customer id"),
    ("from", "From"),
    ("to", "To"),
    ("search", "Search"),
    ("page", "Page"),
    ("per_page", "Per page"),
];

/// The list's address with `pairs` (the non-empty filters) and `page`.
fn orders_href(pairs: &[(String, String)], page: i64) -> String {
    let mut query: Vec<(String, String)> =
        pairs.iter().filter(|(k, _)| k != "page").cloned().collect();
    if page > 1 {
        query.push(("page".into(), page.to_string()));
    }
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
    if encoded.is_empty() {
        "/admin/orders".to_owned()
    } else {
        format!("/admin/orders?{encoded}")
    }
}

/// `/admin/orders`: the filter form submits every field, empty ones included; those are
/// dropped before [`parse_order_query`] sees the rest, so its checks and messages apply.
async fn list_orders(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    uri: Uri,
) -> AppResult<Response> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let pairs: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_owned()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let filters = FilterValues {
        status: value("status"),
        customer: value("customer"),
        from: value("from"),
        to: value("to"),
        search: value("search"),
    };
    let statuses = OrderStatus::ALL
        .iter()
        .map(|s| StatusOption {
            value: s.as_str(),
            label: s.label(),
            selected: s.as_str() == filters.status,
        })
        .collect();
    let layout = Layout::for_page("Orders", &admin.context);
    let filtered = pairs.iter().any(|(k, _)| k != "page" && k != "per_page");

    let query_uri: Uri = format!(
        "/admin/orders?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
    .parse()
    .map_err(|err: axum::http::uri::InvalidUri| AppError::bad_request("query", err.to_string()))?;
    let query: OrderQuery = match parse_order_query(Query::try_from_uri(&query_uri)) {
        Ok(query) => query,
        Err(err) => {
            let failure = Failure::from_error(err, FILTER_FIELDS)?;
            let alert = failure
                .alert
                .map(|a| a.replace("Failed to deserialize query string: ", ""));
            return render_with(
                failure.status,
                &OrdersPage {
                    layout,
                    filters,
                    statuses,
                    errors: failure.errors,
                    alert: Some(alert.unwrap_or_else(|| "Check the filters.".to_owned())),
                    orders: Vec::new(),
                    list: PageOf::nothing(),
                    previous_href: None,
                    next_href: None,
                    filtered,
                },
            );
        }
    };
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let filter = OrderFilter {
        status: query.status.as_deref(),
        user_id: query.customer,
        from: query
            .from
            .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()),
        to: query
            .to
            .and_then(|d| d.succ_opt())
            .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()),
        search,
    };
    let per_page = query.per_page;
    let asked = crate::web::paging::offset(query.page, per_page);
    let (mut rows, total) = orders::page(&state.db, &filter, per_page, asked).await?;
    let list = PageOf::new(total, query.page, per_page);
    if list.page != query.page {
        // Past the end: the last page instead.
        rows = orders::list(&state.db, &filter, per_page, list.offset(per_page)).await?;
    }
    let next = list.next(rows.len(), query.per_page);
    // The customers' e-mails, in one look-up for the page.
    let ids: BTreeSet<i32> = rows.iter().filter_map(|o| o.user_id).collect();
    let customers = users::emails(&state.db, &ids.into_iter().collect::<Vec<_>>()).await?;
    let orders = rows
        .iter()
        .map(|order| AdminOrderRow {
            order: OrderRow::new(order, false),
            customer_id: order.user_id,
            customer: order
                .user_id
                .and_then(|id| customers.get(&id).cloned())
                .unwrap_or_else(|| "—".into()),
        })
        .collect();
    render_with(
        StatusCode::OK,
        &OrdersPage {
            layout,
            filters,
            statuses,
            errors: FormErrors::default(),
            alert: None,
            orders,
            list,
            previous_href: list.previous().map(|page| orders_href(&pairs, page)),
            next_href: next.map(|page| orders_href(&pairs, page)),
            filtered,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
}

const ORDER_NOTICES: &[(&str, &str, &str)] = &[
    (
        "cancelled",
        "success",
        "The order is cancelled and its promo code use given back.",
    ),
    (
        "not-pending",
        "error",
        "Only an order awaiting payment can be cancelled.",
    ),
    ("noted", "success", "The order's notes are saved."),
    (
        "notes-too-long",
        "error",
        "Not saved: notes must be at most 1000 characters.",
    ),
];

/// The customer of an order, as its page shows them.
struct Customer {
    id: i32,
    name: String,
    email: String,
    phone: String,
}

#[derive(Template)]
#[template(path = "admin/orders/order.html")]
struct OrderPage {
    layout: Layout,
    notice: Option<Notice>,
    order: OrderView,
    customer: Option<Customer>,
    /// The order's payments, each linking to its page in the payment queue.
    payments: Vec<AdminPaymentRow>,
}

async fn order_page(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Path(id): Path<i32>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let order = orders::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let customer = match order.user_id {
        Some(user_id) => users::find(&state.db, user_id).await?.map(|u| Customer {
            id: u.id,
            name: u.name,
            email: u.email,
            phone: u.phone.unwrap_or_else(|| "—".into()),
        }),
        None => None,
    };
    let payments = rows_for_order(&state, order.id).await?;
    let order = OrderView::new(order_response(&state, order).await?);
    render_with(
        StatusCode::OK,
        &OrderPage {
            layout: Layout::for_page(format!("Order #{}", order.id), &admin.context),
            notice: notice(query.notice.as_deref(), ORDER_NOTICES),
            order,
            customer,
            payments,
        },
    )
}

async fn cancel_order(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    match cancel_by_operator(&state.db, &admin.actor(&ip), id).await {
        Ok(_) => Ok(see_other(&format!("/admin/orders/{id}?notice=cancelled"))),
        Err(AppError::Conflict { .. }) => {
            Ok(see_other(&format!("/admin/orders/{id}?notice=not-pending")))
        }
        Err(err) => Err(err),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NotesForm {
    notes: String,
}

/// Saves the order's notes (the operator API's `PATCH … {notes}`), back to the order.
async fn save_notes(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<NotesForm>,
) -> AppResult<Response> {
    match set_notes_by_operator(&state.db, &admin.actor(&ip), id, &form.notes).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/orders/{id}?notice=noted#order-notes"
        ))),
        Err(AppError::Validation(_)) => Ok(see_other(&format!(
            "/admin/orders/{id}?notice=notes-too-long#order-notes"
        ))),
        Err(err) => Err(err),
    }
}

// ---------------------------------------------------------------------------------------------
// Promo codes

/// A moment as a `datetime-local` value in PKT.
fn local_input(moment: Option<DateTime<Utc>>) -> String {
    moment
        .map(|m| {
            m.with_timezone(&pkt_offset())
                .format("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// A `datetime-local` value typed in PKT (seconds optional).
fn parse_local(text: &str) -> Option<DateTime<Utc>> {
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .and_then(|naive| naive.and_local_timezone(pkt_offset()).single())
        .map(|moment| moment.with_timezone(&Utc))
}

/// A promo code as a row of the list.
struct PromoRow {
    id: i32,
    code: String,
    discount: String,
    conditions: String,
    window: String,
    usage: String,
    active: bool,
}

impl PromoRow {
    fn new(promo: &PromoCode) -> Self {
        let discount = if promo.discount_type == DiscountType::Percentage {
            format!("{}%", promo.discount_value)
        } else {
            format_pkr(promo.discount_value)
        };
        let mut conditions = Vec::new();
        if promo.min_order_value() > 0 {
            conditions.push(format!(
                "min. order {}",
                format_pkr(promo.min_order_value())
            ));
        }
        if let Some(max) = promo.max_discount_amount {
            conditions.push(format!("at most {}", format_pkr(max)));
        }
        let window = match (promo.valid_from, promo.valid_until) {
            (None, None) => "Always".to_owned(),
            (Some(from), None) => format!("From {}", pkt(Some(from))),
            (None, Some(until)) => format!("Until {}", pkt(Some(until))),
            (Some(from), Some(until)) => format!("{} – {}", pkt(Some(from)), pkt(Some(until))),
        };
        Self {
            id: promo.id,
            code: promo.code.clone(),
            discount,
            conditions: if conditions.is_empty() {
                "—".to_owned()
            } else {
                conditions.join(", ")
            },
            window,
            usage: match promo.max_uses {
                Some(max) => format!("{} / {max}", promo.current_uses()),
                None => format!("{} / unlimited", promo.current_uses()),
            },
            active: promo.is_active(),
        }
    }
}

/// The promo code form as typed (and as shown again).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PromoForm {
    code: String,
    discount_type: String,
    discount_value: String,
    min_order_value: String,
    max_discount_amount: String,
    valid_from: String,
    valid_until: String,
    max_uses: String,
    is_active: Option<String>,
}

impl PromoForm {
    /// A new code's form: a percentage, no minimum, active.
    fn blank() -> Self {
        Self {
            discount_type: "percentage".into(),
            min_order_value: "0".into(),
            is_active: Some("on".into()),
            ..Default::default()
        }
    }

    fn of(promo: &PromoCode) -> Self {
        let optional = |value: Option<i32>| value.map(|v| v.to_string()).unwrap_or_default();
        Self {
            code: promo.code.clone(),
            discount_type: promo.discount_type.to_string(),
            discount_value: promo.discount_value.to_string(),
            min_order_value: promo.min_order_value().to_string(),
            max_discount_amount: optional(promo.max_discount_amount),
            valid_from: local_input(promo.valid_from),
            valid_until: local_input(promo.valid_until),
            max_uses: optional(promo.max_uses),
            is_active: promo.is_active().then(|| "on".into()),
        }
    }

    fn active(&self) -> bool {
        self.is_active.is_some()
    }

    fn percentage(&self) -> bool {
        self.discount_type != "fixed_amount"
    }

    /// The request the admin API validates; what cannot even be read is a field error here.
    /// Every field is sent, so an emptied optional field clears it.
    fn request(&self, errors: &mut FieldErrors) -> PromoCodeRequest {
        let mut number = |field: &str, text: &str| -> Option<i64> {
            match text.trim().replace(',', "").parse::<i64>() {
                Ok(value) => Some(value),
                Err(_) => {
                    errors.add(field, "must be a whole number");
                    None
                }
            }
        };
        let discount_value = match self.discount_value.trim() {
            "" => None,
            text => number("discount_value", text),
        };
        let min_order_value = match self.min_order_value.trim() {
            "" => Some(0),
            text => number("min_order_value", text),
        };
        let max_discount_amount = match self.max_discount_amount.trim() {
            "" => Some(None),
            text => number("max_discount_amount", text).map(Some),
        };
        let max_uses = match self.max_uses.trim() {
            "" => Some(None),
            text => number("max_uses", text).map(Some),
        };
        let mut moment = |field: &str, text: &str| match text.trim() {
            "" => Some(None),
            text => match parse_local(text) {
                Some(at) => Some(Some(at)),
                None => {
                    errors.add(field, "must be a date and time");
                    None
                }
            },
        };
        let valid_from = moment("valid_from", &self.valid_from);
        let valid_until = moment("valid_until", &self.valid_until);
        if self.discount_value.trim().is_empty() {
            errors.add("discount_value", "is required");
        }
        PromoCodeRequest {
            code: Some(self.code.clone()),
            discount_type: Some(self.discount_type.trim().to_owned()),
            discount_value,
            min_order_value,
            max_discount_amount,
            valid_from,
            valid_until,
            is_active: Some(self.active()),
            max_uses,
        }
    }
}

const PROMO_FIELDS: &[(&str, &str)] = &[
    ("code", "Code"),
    ("discount_type", "Discount type"),
    ("discount_value", "Discount"),
    ("min_order_value", "Minimum order"),
    ("max_discount_amount", "Maximum discount"),
    ("valid_from", "Valid from"),
    ("valid_until", "Valid until"),
    ("max_uses", "Maximum uses"),
    ("is_active", "Active"),
];

/// Creates (`id` none) or saves a code from the form, through the admin API's validation and
/// audited writes. A form problem is `Ok(Err(failure))`, every field's problem at once.
async fn save_promo(
    state: &AppState,
    actor: &Actor<'_>,
    id: Option<i32>,
    form: &PromoForm,
) -> AppResult<Result<PromoCode, Failure>> {
    let mut unreadable = FieldErrors::default();
    let request = form.request(&mut unreadable);
    if !unreadable.is_empty() {
        // Nothing is written; the API's rules still report the other fields' problems.
        let current = match id {
            Some(id) => Some(
                promo_codes::find(&state.db, id)
                    .await?
                    .ok_or(AppError::NotFound("promo code"))?,
            ),
            None => None,
        };
        if let Err(AppError::Validation(more)) = validate_promo(request, current.as_ref()) {
            for (field, problem) in more {
                unreadable.add(&field, &problem);
            }
        }
        return Ok(Err(Failure::from_error(
            AppError::Validation(unreadable.0),
            PROMO_FIELDS,
        )?));
    }
    let saved = match id {
        None => promos::create(state, actor, request).await,
        Some(id) => promos::update(state, actor, id, request).await,
    };
    match saved {
        Ok(promo) => Ok(Ok(promo)),
        Err(err) => Ok(Err(Failure::from_error(err, PROMO_FIELDS)?)),
    }
}

const PROMO_NOTICES: &[(&str, &str, &str)] = &[
    ("created", "success", "The promo code is created."),
    ("saved", "success", "The promo code is saved."),
    (
        "activated",
        "success",
        "The promo code is active: customers can use it.",
    ),
    (
        "deactivated",
        "info",
        "The promo code is deactivated: customers can no longer use it.",
    ),
    ("deleted", "success", "The promo code is deleted."),
];

#[derive(Template)]
#[template(path = "admin/orders/promo_codes.html")]
struct PromoCodesPage {
    layout: Layout,
    notice: Option<Notice>,
    promos: Vec<PromoRow>,
    form: PromoForm,
    errors: FormErrors,
    alert: Option<String>,
}

async fn promo_codes_page(
    state: &AppState,
    admin: &crate::accounts::extract::PageUser,
    status: StatusCode,
    notice: Option<Notice>,
    form: PromoForm,
    failure: Option<Failure>,
) -> AppResult<Response> {
    let promos = promo_codes::list(&state.db)
        .await?
        .iter()
        .map(PromoRow::new)
        .collect();
    let (errors, alert) = match failure {
        Some(failure) => (failure.errors, failure.alert),
        None => (FormErrors::default(), None),
    };
    render_with(
        status,
        &PromoCodesPage {
            layout: Layout::for_page("Promo codes", &admin.context),
            notice,
            promos,
            form,
            errors,
            alert,
        },
    )
}

async fn list_promo_codes(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), PROMO_NOTICES);
    promo_codes_page(
        &state,
        &admin,
        StatusCode::OK,
        notice,
        PromoForm::blank(),
        None,
    )
    .await
}

async fn create_promo_code(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Form(form): Form<PromoForm>,
) -> AppResult<Response> {
    match save_promo(&state, &admin.actor(&ip), None, &form).await? {
        Ok(created) => Ok(see_other(&format!(
            "/admin/promo-codes/{}?notice=created",
            created.id
        ))),
        Err(failure) => {
            promo_codes_page(&state, &admin, failure.status, None, form, Some(failure)).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/orders/promo_code.html")]
struct PromoCodePage {
    layout: Layout,
    notice: Option<Notice>,
    promo: PromoRow,
    form: PromoForm,
    errors: FormErrors,
    alert: Option<String>,
    /// Orders used it: it can be deactivated, not deleted.
    used: bool,
}

async fn promo_code_view(
    state: &AppState,
    admin: &crate::accounts::extract::PageUser,
    id: i32,
    status: StatusCode,
    notice: Option<Notice>,
    form: Option<PromoForm>,
    failure: Option<Failure>,
) -> AppResult<Response> {
    let promo = promo_codes::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("promo code"))?;
    let (errors, alert) = match failure {
        Some(failure) => (failure.errors, failure.alert),
        None => (FormErrors::default(), None),
    };
    render_with(
        status,
        &PromoCodePage {
            layout: Layout::for_page(format!("Promo code {}", promo.code), &admin.context),
            notice,
            form: form.unwrap_or_else(|| PromoForm::of(&promo)),
            used: promo.current_uses() > 0,
            promo: PromoRow::new(&promo),
            errors,
            alert,
        },
    )
}

async fn promo_code_page(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Path(id): Path<i32>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), PROMO_NOTICES);
    promo_code_view(&state, &admin, id, StatusCode::OK, notice, None, None).await
}

async fn update_promo_code(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<PromoForm>,
) -> AppResult<Response> {
    match save_promo(&state, &admin.actor(&ip), Some(id), &form).await? {
        Ok(_) => Ok(see_other(&format!("/admin/promo-codes/{id}?notice=saved"))),
        Err(failure) => {
            promo_code_view(
                &state,
                &admin,
                id,
                failure.status,
                None,
                Some(form),
                Some(failure),
            )
            .await
        }
    }
}

async fn activate_promo_code(
    state: State<AppState>,
    admin: PageAdmin,
    ip: ClientIp,
    id: Path<i32>,
) -> AppResult<Response> {
    switch_promo_code(state, admin, ip, id, true).await
}

async fn deactivate_promo_code(
    state: State<AppState>,
    admin: PageAdmin,
    ip: ClientIp,
    id: Path<i32>,
) -> AppResult<Response> {
    switch_promo_code(state, admin, ip, id, false).await
}

async fn switch_promo_code(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    active: bool,
) -> AppResult<Response> {
    let request = PromoCodeRequest {
        is_active: Some(active),
        ..Default::default()
    };
    match promos::update(&state, &admin.actor(&ip), id, request).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/promo-codes/{id}?notice={}",
            if active { "activated" } else { "deactivated" }
        ))),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, PROMO_FIELDS)?;
            promo_code_view(
                &state,
                &admin,
                id,
                failure.status,
                None,
                None,
                Some(failure),
            )
            .await
        }
    }
}

/// Deletes an unused code; a used one stays, with the API's reason shown (409).
async fn delete_promo_code(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    match promos::delete(&state, &admin.actor(&ip), id).await {
        Ok(()) => Ok(see_other("/admin/promo-codes?notice=deleted")),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, &[])?;
            promo_code_view(
                &state,
                &admin,
                id,
                failure.status,
                None,
                None,
                Some(failure),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_windows_are_typed_in_pakistan_time() {
        let at = parse_local("2026-11-26T08:15").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-26T03:15:00+00:00");
        assert_eq!(local_input(Some(at)), "2026-11-26T08:15");
        assert_eq!(parse_local("26/11/2026"), None);
        assert_eq!(local_input(None), "");
    }

    #[test]
    fn unreadable_numbers_are_field_errors_and_empty_optionals_clear() {
        let form = PromoForm {
            code: "save10".into(),
            discount_type: "percentage".into(),
            discount_value: "ten".into(),
            max_uses: "".into(),
            valid_until: "tomorrow".into(),
            ..PromoForm::blank()
        };
        let mut errors = FieldErrors::default();
        let request = form.request(&mut errors);
        assert_eq!(errors.get("discount_value"), Some("must be a whole number"));
        assert_eq!(errors.get("valid_until"), Some("must be a date and time"));
        assert_eq!(request.max_uses, Some(None));
        assert_eq!(request.min_order_value, Some(0));
        assert_eq!(request.is_active, Some(true));
    }

    #[test]
    fn the_order_list_keeps_its_filters_across_pages() {
        let pairs = vec![
            ("status".to_owned(), "paid".to_owned()),
            ("page".to_owned(), "2".to_owned()),
        ];
        assert_eq!(orders_href(&pairs, 3), "/admin/orders?status=paid&page=3");
        assert_eq!(orders_href(&[], 1), "/admin/orders");
    }
}
