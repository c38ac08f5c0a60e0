//! The customer's cart, checkout and order pages: `/cart*`, `/checkout`, `/account/orders*`.
//!
//! Server-rendered forms over the same flows as the JSON API ([`cart`], [`checkout`]): a guest
//! works on the cart of the `ngr_cart` cookie (set when the first plan is added), a logged-in
//! visitor on the account's cart. Every amount shown comes from [`cart::view`] or the stored
//! order, never from a form. The CSRF middleware has already checked every POST; a form that
//! fails comes back with the problem beside its field.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::cart::{self, CartItemView, CartOwner, CartView, NewItem};
use super::checkout::{self, CheckoutInput, parse_idempotency_key};
use super::extract::{cart_cookie, guest_cart_token};
use super::pricing::{MAX_QUANTITY, VALIDITY_MONTHS};
use super::views::{OrderRow, months_label};
use super::{OrderStatus, orders};
use crate::accounts::extract::{PageContext, PageUser};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;
use crate::payments::views::{ManualForm, pay_view};
use crate::secrets;
use crate::web::forms::{Failure, FormErrors, Notice, notice, sentence};
use crate::web::pages::Layout;
use crate::web::pages::render_with;
use crate::web::paging::page_number;

/// Orders per page of `/account/orders`.
const ORDERS_PER_PAGE: i64 = 10;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cart", get(cart_page))
        .route("/cart/items", post(add_item))
        .route("/cart/items/{id}", post(update_item))
        .route("/cart/items/{id}/remove", post(remove_item))
        .route("/cart/promo", post(apply_promo))
        .route("/cart/promo/remove", post(remove_promo))
        .route("/checkout", get(checkout_form).post(place_order))
        .route("/account/orders", get(list_orders))
        .route("/account/orders/{id}", get(order_page))
        .route("/account/orders/{id}/cancel", post(cancel_order))
}

fn see_other(target: &str) -> Response {
    Redirect::to(target).into_response()
}

/// Whose cart a page works on: the logged-in visitor's account, else the guest cookie's.
fn owner_of(context: &PageContext, headers: &HeaderMap) -> CartOwner {
    match &context.user {
        Some(user) => CartOwner::Customer(user.id),
        None => CartOwner::Guest(guest_cart_token(headers)),
    }
}

/// A whole number typed in a form field; `default` when it is left empty.
fn form_number(field: &str, text: &str, default: Option<i32>) -> AppResult<i32> {
    match (text.trim(), default) {
        ("", Some(default)) => Ok(default),
        ("", None) => Err(AppError::invalid(field, "is required")),
        (text, _) => text
            .parse()
            .map_err(|_| AppError::invalid(field, "must be a whole number")),
    }
}

// ---------------------------------------------------------------------------------------------
// The cart

const CART_NOTICES: &[(&str, &str, &str)] = &[
    ("added", "success", "Added to your cart."),
    ("updated", "success", "Your cart is updated."),
    ("removed", "success", "Removed from your cart."),
    ("promo-applied", "success", "Promo code applied."),
    ("promo-removed", "info", "Promo code removed."),
];

/// The labels of the cart forms' fields, for the sentences of their errors.
const LINE_FIELDS: &[(&str, &str)] = &[
    ("plan_id", "Plan"),
    ("location_id", "Location"),
    ("validity_months", "Months"),
    ("quantity", "Quantity"),
    ("template_id", "System"),
    ("ssh_key_ids", "SSH keys"),
];

/// A choice of a months select.
pub struct MonthOption {
    pub value: i32,
    pub label: String,
    pub selected: bool,
}

fn month_options(selected: i32) -> Vec<MonthOption> {
    VALIDITY_MONTHS
        .iter()
        .map(|&value| MonthOption {
            value,
            label: months_label(value),
            selected: value == selected,
        })
        .collect()
}

/// A cart line as the page shows it, with its form's choices and its problem after an edit.
struct CartLineRow {
    item: CartItemView,
    unit_price: String,
    months: Vec<MonthOption>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "orders/cart.html")]
struct CartPage {
    layout: Layout,
    notice: Option<Notice>,
    /// Why a plan could not be added.
    alert: Option<String>,
    /// The plan page to go back to after a failed add.
    back_to: Option<String>,
    cart: CartView,
    lines: Vec<CartLineRow>,
    promo_input: String,
    promo_errors: FormErrors,
    /// The promo code on the cart does not apply (any more): why.
    promo_problem: Option<String>,
    /// What stops checkout, as sentences.
    problems: Vec<String>,
    max_quantity: i32,
}

/// What a cart page shows besides the cart: a notice, or a failed form.
#[derive(Default)]
struct CartExtras {
    status: Option<StatusCode>,
    notice: Option<Notice>,
    alert: Option<String>,
    back_to: Option<String>,
    line_error: Option<(i64, String)>,
    promo_input: String,
    promo_errors: FormErrors,
}

async fn render_cart(
    state: &AppState,
    context: &PageContext,
    owner: &CartOwner,
    extras: CartExtras,
) -> AppResult<Response> {
    let found = cart::find(&state.db, owner).await?;
    let view = cart::view(&state.db, found.as_ref()).await?;
    let lines = view
        .items
        .iter()
        .map(|item| CartLineRow {
            unit_price: format_pkr(item.monthly_price_pkr),
            months: month_options(item.validity_months),
            error: extras
                .line_error
                .as_ref()
                .filter(|(id, _)| *id == item.id)
                .map(|(_, e)| e.clone()),
            item: item.clone(),
        })
        .collect();
    let promo_problem = view
        .promo
        .as_ref()
        .and_then(|p| p.problem.as_ref())
        .map(|p| sentence("", p));
    render_with(
        extras.status.unwrap_or(StatusCode::OK),
        &CartPage {
            layout: Layout::for_page("Your cart", context),
            notice: extras.notice,
            alert: extras.alert,
            back_to: extras.back_to,
            lines,
            promo_input: extras.promo_input,
            promo_errors: extras.promo_errors,
            promo_problem,
            problems: view.problems.iter().map(|p| sentence("", p)).collect(),
            max_quantity: MAX_QUANTITY,
            cart: view,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
    page: Option<String>,
    /// The order page's payment method (a gateway's name).
    pay: Option<String>,
}

async fn cart_page(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let owner = owner_of(&context, &headers);
    let extras = CartExtras {
        notice: notice(query.notice.as_deref(), CART_NOTICES),
        ..Default::default()
    };
    render_cart(&state, &context, &owner, extras).await
}

/// The plan page's "Add to cart" form (and any other): every field as typed.
#[derive(Debug, Default)]
struct AddItemForm {
    plan_id: String,
    location_id: String,
    validity_months: String,
    quantity: String,
    template_id: String,
    /// One per ticked key.
    ssh_key_ids: Vec<String>,
}

impl AddItemForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "plan_id" => form.plan_id = value,
                "location_id" => form.location_id = value,
                "validity_months" => form.validity_months = value,
                "quantity" => form.quantity = value,
                "template_id" => form.template_id = value,
                "ssh_key_ids" => form.ssh_key_ids.push(value),
                _ => {}
            }
        }
        form
    }

    fn parse(&self) -> AppResult<NewItem> {
        let plan_id = self.plan_id.trim();
        if plan_id.is_empty() {
            return Err(AppError::invalid("plan_id", "choose a plan"));
        }
        let location_id = match self.location_id.trim() {
            "" => return Err(AppError::invalid("location_id", "choose a location")),
            text => text
                .parse()
                .map_err(|_| AppError::invalid("location_id", "choose a location"))?,
        };
        let os_template_id = match self.template_id.trim() {
            "" => None,
            text => Some(
                text.parse()
                    .map_err(|_| AppError::invalid("template_id", "choose a system"))?,
            ),
        };
        let ssh_key_ids = self
            .ssh_key_ids
            .iter()
            .map(|id| {
                id.trim()
                    .parse()
                    .map_err(|_| AppError::invalid("ssh_key_ids", "choose your keys from the list"))
            })
            .collect::<AppResult<Vec<i32>>>()?;
        Ok(NewItem {
            plan_id: plan_id.to_owned(),
            location_id,
            validity_months: form_number("validity_months", &self.validity_months, Some(1))?,
            quantity: form_number("quantity", &self.quantity, Some(1))?,
            os_template_id,
            ssh_key_ids,
        })
    }

    /// The plan's page, when the form named a plausible plan id.
    fn plan_page(&self) -> Option<String> {
        let id = self.plan_id.trim();
        let plausible = !id.is_empty()
            && id.len() <= 50
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        plausible.then(|| format!("/plans/{id}"))
    }
}

/// Adds a line (checked before any cart is created, so bad input writes nothing); a guest's
/// first line creates the guest cart and sets its cookie.
async fn add_item(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
    jar: CookieJar,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = AddItemForm::from_pairs(pairs);
    let owner = owner_of(&context, &headers);
    let outcome = async {
        let mut item = form.parse()?;
        cart::validate_item(
            &state.db,
            &owner,
            &mut item,
            state.provisioning.lifecycle.ip_hold_days,
        )
        .await?;
        let (cart, new_token) = cart::find_or_create(&state.db, &owner).await?;
        cart::add_validated_item(&state.db, &cart, &item).await?;
        Ok::<_, AppError>(new_token)
    }
    .await;
    match outcome {
        Ok(new_token) => {
            let jar = match new_token {
                Some(token) => jar.add(cart_cookie(&state.settings, token)),
                None => jar,
            };
            Ok((jar, Redirect::to("/cart?notice=added")).into_response())
        }
        Err(err) => {
            let failure = Failure::from_error(err, LINE_FIELDS)?;
            let problems: Vec<&str> = LINE_FIELDS
                .iter()
                .filter_map(|(field, _)| failure.errors.get(field))
                .collect();
            let reason = if problems.is_empty() {
                failure.alert.clone().unwrap_or_default()
            } else {
                problems.join(" ")
            };
            let extras = CartExtras {
                status: Some(failure.status),
                alert: Some(format!("We could not add that plan to your cart. {reason}")),
                back_to: form.plan_page(),
                ..Default::default()
            };
            render_cart(&state, &context, &owner, extras).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UpdateItemForm {
    quantity: String,
    validity_months: String,
}

/// The visitor's cart; without one, any line is someone else's (404).
async fn existing_cart(state: &AppState, owner: &CartOwner) -> AppResult<super::carts::Cart> {
    cart::find(&state.db, owner)
        .await?
        .ok_or(AppError::NotFound("cart item"))
}

async fn update_item(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<UpdateItemForm>,
) -> AppResult<Response> {
    let owner = owner_of(&context, &headers);
    let cart = existing_cart(&state, &owner).await?;
    let outcome = async {
        let quantity = form_number("quantity", &form.quantity, None)?;
        let months = form_number("validity_months", &form.validity_months, None)?;
        cart::update_item(&state.db, &cart, id, quantity, months).await
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other("/cart?notice=updated")),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, LINE_FIELDS)?;
            let message = ["quantity", "validity_months"]
                .iter()
                .find_map(|field| failure.errors.get(field))
                .map(str::to_owned)
                .or(failure.alert)
                .unwrap_or_default();
            let extras = CartExtras {
                status: Some(failure.status),
                line_error: Some((id, message)),
                ..Default::default()
            };
            render_cart(&state, &context, &owner, extras).await
        }
    }
}

async fn remove_item(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let owner = owner_of(&context, &headers);
    let cart = existing_cart(&state, &owner).await?;
    cart::remove_item(&state.db, &cart, id).await?;
    Ok(see_other("/cart?notice=removed"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PromoForm {
    code: String,
}

async fn apply_promo(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
    Form(form): Form<PromoForm>,
) -> AppResult<Response> {
    let owner = owner_of(&context, &headers);
    let found = cart::find(&state.db, &owner).await?;
    let empty = cart::view(&state.db, found.as_ref())
        .await?
        .items
        .is_empty();
    let outcome = match found {
        Some(cart) if !empty => cart::apply_promo(&state.db, &cart, &form.code)
            .await
            .map(|_| ()),
        _ => Err(AppError::invalid(
            "code",
            "add a plan to your cart before a promo code",
        )),
    };
    match outcome {
        Ok(()) => Ok(see_other("/cart?notice=promo-applied")),
        Err(err) => {
            let failure = Failure::from_error(err, &[("code", "Promo code")])?;
            let extras = CartExtras {
                status: Some(failure.status),
                alert: failure.alert,
                promo_input: form.code.trim().chars().take(50).collect(),
                promo_errors: failure.errors,
                ..Default::default()
            };
            render_cart(&state, &context, &owner, extras).await
        }
    }
}

async fn remove_promo(
    State(state): State<AppState>,
    context: PageContext,
    headers: HeaderMap,
) -> AppResult<Response> {
    let owner = owner_of(&context, &headers);
    if let Some(cart) = cart::find(&state.db, &owner).await? {
        cart::remove_promo(&state.db, &cart).await?;
    }
    Ok(see_other("/cart?notice=promo-removed"))
}

// ---------------------------------------------------------------------------------------------
// Checkout

const NOTES_MAX_CHARS: usize = 1000;

const CHECKOUT_FIELDS: &[(&str, &str)] = &[
    ("terms", "Terms"),
    ("payment_method", "Payment method"),
    ("notes", "Notes"),
    ("province", "Province"),
];

#[derive(Template)]
#[template(path = "orders/checkout.html")]
struct CheckoutPage {
    layout: Layout,
    cart: CartView,
    lines: Vec<CheckoutLine>,
    /// What stops this order, in sentences; empty when it can be placed.
    blocked: Vec<String>,
    verified: bool,
    email: String,
    /// How long an order may stay unpaid.
    expiry_hours: u32,
    /// Generated when the form is first rendered: every submission of this form is one order.
    idempotency_key: String,
    /// The enabled payment gateways, the chosen one checked.
    methods: Vec<MethodChoice>,
    /// The account's credit, when it has some to spend (`Rs 2,000`).
    credit_balance: Option<String>,
    /// With that credit ticked: what it pays of this order and what is left to pay.
    credit_pays: Option<(String, String)>,
    /// When the shop charges sales tax: the province choice and the tax of this order.
    tax: Option<CheckoutTax>,
    /// What the order comes to, tax added when prices exclude it (the button says it).
    place_total: String,
    use_credit: bool,
    notes: String,
    terms: bool,
    errors: FormErrors,
    alert: Option<String>,
}

/// The sales tax of a checkout.
struct CheckoutTax {
    provinces: Vec<crate::web::forms::Choice>,
    /// Prices exclude tax: it is added to the total.
    added: bool,
    /// `Sales tax 13%, Sindh` and its amount; `None` until a province is known.
    line: Option<(String, String)>,
    /// What the customer pays with the tax (prices excluding tax).
    total_with_tax: Option<String>,
}

struct CheckoutLine {
    plan_name: String,
    location_name: String,
    months: String,
    quantity: i32,
    line_total: String,
}

/// The checkout form as submitted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CheckoutForm {
    idempotency_key: String,
    notes: String,
    terms: Option<String>,
    payment_method: String,
    use_credit: Option<String>,
    #[serde(default)]
    province: String,
}

/// What a checkout page shows besides the cart: the form as submitted and its problems.
struct CheckoutState {
    status: StatusCode,
    idempotency_key: String,
    payment_method: String,
    use_credit: bool,
    /// The province chosen (a `Province` spelling), or "".
    province: String,
    notes: String,
    terms: bool,
    errors: FormErrors,
    alert: Option<String>,
}

/// A payment method of the checkout form.
struct MethodChoice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// The enabled gateways as checkout choices: `chosen` checked, else the first.
fn method_choices(state: &AppState, chosen: &str) -> Vec<MethodChoice> {
    let gateways = state.payments.gateways();
    let known = gateways.iter().any(|g| g.name() == chosen);
    gateways
        .iter()
        .enumerate()
        .map(|(i, g)| MethodChoice {
            value: g.name(),
            label: g.label(),
            checked: if known { g.name() == chosen } else { i == 0 },
        })
        .collect()
}

async fn render_checkout(
    state: &AppState,
    visitor: &PageUser,
    form: CheckoutState,
) -> AppResult<Response> {
    let found = cart::find(&state.db, &CartOwner::Customer(visitor.user.id)).await?;
    let view = cart::view(&state.db, found.as_ref()).await?;
    let mut blocked: Vec<String> = view.problems.iter().map(|p| sentence("", p)).collect();
    if let Some(problem) = view.promo.as_ref().and_then(|p| p.problem.as_ref()) {
        blocked.push(sentence(
            "",
            &format!("{problem}; remove it in your cart or use another"),
        ));
    }
    let settings = super::billing::settings(&state.db).await?;
    let mut payable = view.total_pkr;
    let tax = if settings.tax_mode == super::tax::TaxMode::Off {
        None
    } else {
        use crate::accounts::billing::Province;
        let chosen = match Province::parse(&form.province) {
            Some(province) => Some(province),
            None => {
                crate::accounts::billing::find(&state.db, visitor.user.id)
                    .await?
                    .province
            }
        };
        let mut line = None;
        let mut total_with_tax = None;
        if let Some(province) = chosen {
            let rate = super::billing::rate_today(&state.db, province).await?;
            let split = super::tax::split(view.total_pkr, rate.max(0) as u32, settings.tax_mode);
            line = Some((
                format!(
                    "Sales tax {}, {}",
                    super::tax::rate_label(rate.max(0) as u32),
                    province.label()
                ),
                crate::money::format_pkr(split.tax_pkr),
            ));
            if settings.tax_mode == super::tax::TaxMode::Exclusive {
                payable = split.gross_pkr;
                total_with_tax = Some(crate::money::format_pkr(split.gross_pkr));
            }
        }
        Some(CheckoutTax {
            provinces: Province::ALL
                .iter()
                .map(|p| crate::web::forms::Choice {
                    value: p.as_str().to_owned(),
                    label: p.label().to_owned(),
                    selected: chosen == Some(*p),
                })
                .collect(),
            added: settings.tax_mode == super::tax::TaxMode::Exclusive,
            line,
            total_with_tax,
        })
    };
    let balance = crate::accounts::credit::balance(&state.db, visitor.user.id).await?;
    let credit_pays = (balance > 0).then(|| {
        let pays = i64::from(balance).min(payable.max(0));
        (
            crate::money::format_pkr(pays),
            crate::money::format_pkr(payable - pays),
        )
    });
    let lines = view
        .items
        .iter()
        .map(|item| CheckoutLine {
            plan_name: item.plan_name.clone(),
            location_name: item.location_name.clone(),
            months: months_label(item.validity_months),
            quantity: item.quantity,
            line_total: item.line_total_display.clone(),
        })
        .collect();
    render_with(
        form.status,
        &CheckoutPage {
            layout: Layout::for_page("Checkout", &visitor.context),
            cart: view,
            lines,
            blocked,
            verified: visitor.user.is_verified(),
            email: visitor.user.email.clone(),
            expiry_hours: state.settings.order_expiry_hours,
            idempotency_key: form.idempotency_key,
            methods: method_choices(state, &form.payment_method),
            credit_balance: (balance > 0).then(|| crate::money::format_pkr(balance)),
            credit_pays,
            tax,
            place_total: crate::money::format_pkr(payable),
            use_credit: form.use_credit,
            notes: form.notes,
            terms: form.terms,
            errors: form.errors,
            alert: form.alert,
        },
    )
}

async fn checkout_form(State(state): State<AppState>, visitor: PageUser) -> AppResult<Response> {
    let found = cart::find(&state.db, &CartOwner::Customer(visitor.user.id)).await?;
    if cart::view(&state.db, found.as_ref())
        .await?
        .items
        .is_empty()
    {
        return Ok(see_other("/cart"));
    }
    let form = CheckoutState {
        status: StatusCode::OK,
        idempotency_key: secrets::generate(),
        payment_method: String::new(),
        // Credit the account holds is spent unless the customer unticks it.
        use_credit: true,
        province: String::new(),
        notes: String::new(),
        terms: false,
        errors: FormErrors::default(),
        alert: None,
    };
    render_checkout(&state, &visitor, form).await
}

/// Places the order from the cart, once per form: the hidden key makes a double click or a
/// resubmitted form land on the same order.
async fn place_order(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<CheckoutForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::default();
    if form.terms.is_none() {
        errors.add("terms", "You", "must agree to the terms to place an order");
    }
    let gateway = state.payments.gateway(form.payment_method.trim());
    if gateway.is_none() {
        errors.add("payment_method", "Payment method", "must be chosen");
    }
    if form.notes.chars().count() > NOTES_MAX_CHARS {
        errors.add(
            "notes",
            "Notes",
            &format!("must be at most {NOTES_MAX_CHARS} characters"),
        );
    }
    let key = parse_idempotency_key(form.idempotency_key.trim())
        .ok()
        .map(str::to_owned);
    let again = |status, errors, alert, key: Option<String>| CheckoutState {
        status,
        idempotency_key: key.unwrap_or_else(secrets::generate),
        payment_method: form.payment_method.trim().to_owned(),
        use_credit: form.use_credit.is_some(),
        province: form.province.trim().to_owned(),
        notes: form.notes.clone(),
        terms: form.terms.is_some(),
        errors,
        alert,
    };
    let Some(key) = key else {
        let alert = Some("This form expired. Check your order and place it again.".to_owned());
        return render_checkout(
            &state,
            &visitor,
            again(StatusCode::BAD_REQUEST, errors, alert, None),
        )
        .await;
    };
    if !errors.is_empty() {
        return render_checkout(
            &state,
            &visitor,
            again(StatusCode::UNPROCESSABLE_ENTITY, errors, None, Some(key)),
        )
        .await;
    }
    match crate::payments::pay::checkout(
        &state.db,
        &state.provisioning,
        &state.payments,
        state.settings.order_expiry_hours,
        &visitor.user,
        &CheckoutInput {
            idempotency_key: Some(&key),
            notes: Some(&form.notes),
            use_credit: form.use_credit.is_some(),
            province: crate::accounts::billing::Province::parse(form.province.trim()),
        },
    )
    .await
    {
        // Paid with credit: the order page says so. Else it opens on the chosen method's
        // payment step.
        Ok(placed) if placed.order.status != OrderStatus::PendingPayment => Ok(see_other(
            &format!("/account/orders/{}?notice=placed", placed.order.id),
        )),
        Ok(placed) => Ok(see_other(&format!(
            "/account/orders/{}?notice=placed&pay={}",
            placed.order.id,
            gateway.map_or(crate::payments::MANUAL, |g| g.name())
        ))),
        Err(err) => {
            let failure = Failure::from_error(err, CHECKOUT_FIELDS)?;
            let state_again = again(failure.status, failure.errors, failure.alert, Some(key));
            render_checkout(&state, &visitor, state_again).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The customer's orders

#[derive(Template)]
#[template(path = "orders/orders.html")]
struct OrdersPage {
    layout: Layout,
    orders: Vec<OrderRow>,
    total: i64,
    page: i64,
    pages: i64,
    previous_href: Option<String>,
    next_href: Option<String>,
}

async fn list_orders(
    State(state): State<AppState>,
    visitor: PageUser,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let user_id = visitor.user.id;
    let total = orders::count_for_user(&state.db, user_id).await?;
    let pages = ((total + ORDERS_PER_PAGE - 1) / ORDERS_PER_PAGE).max(1);
    let page = page_number(query.page.as_deref()).min(pages);
    let rows = orders::list_for_user(
        &state.db,
        user_id,
        ORDERS_PER_PAGE,
        (page - 1) * ORDERS_PER_PAGE,
    )
    .await?;
    let ids: Vec<i32> = rows.iter().map(|o| o.id).collect();
    let in_review = crate::payments::payments::orders_in_review(&state.db, &ids).await?;
    let href = |page: i64| {
        if page == 1 {
            "/account/orders".to_owned()
        } else {
            format!("/account/orders?page={page}")
        }
    };
    render_with(
        StatusCode::OK,
        &OrdersPage {
            layout: Layout::for_page("Your orders", &visitor.context),
            orders: rows
                .iter()
                .map(|o| OrderRow::new(o, in_review.contains(&o.id)))
                .collect(),
            total,
            page,
            pages,
            previous_href: (page > 1).then(|| href(page - 1)),
            next_href: (page < pages).then(|| href(page + 1)),
        },
    )
}

const ORDER_NOTICES: &[(&str, &str, &str)] = &[
    (
        "placed",
        "success",
        "Thank you! Your order is placed. Pay for it before the time shown and we set up your server.",
    ),
    ("cancelled", "info", "Your order is cancelled."),
    (
        "payment-submitted",
        "success",
        "Thank you! We received your transaction id and are checking your transfer.",
    ),
    (
        "not-payable",
        "error",
        "This order can no longer be paid: it is not awaiting payment.",
    ),
    (
        "not-cancellable",
        "error",
        "This order can no longer be cancelled: it is not awaiting payment.",
    ),
];

/// The visitor's own order; anyone else's is the 404 page, as if it did not exist.
async fn order_page(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let order = orders::find_for_user(&state.db, id, visitor.user.id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let pay = pay_view(&state, &order, query.pay.as_deref(), ManualForm::default()).await?;
    super::views::render_order_page(
        &state,
        &visitor,
        order,
        StatusCode::OK,
        notice(query.notice.as_deref(), ORDER_NOTICES),
        pay,
    )
    .await
}

async fn cancel_order(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    match checkout::end_unpaid(&state.db, id, Some(visitor.user.id), OrderStatus::Cancelled).await {
        Ok(_) => Ok(see_other(&format!("/account/orders/{id}?notice=cancelled"))),
        Err(AppError::Conflict { .. }) => Ok(see_other(&format!(
            "/account/orders/{id}?notice=not-cancellable"
        ))),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_forms_are_parsed_with_defaults_and_named_errors() {
        let form = AddItemForm {
            plan_id: " rdp-starter-one ".into(),
            location_id: "3".into(),
            ..Default::default()
        };
        let item = form.parse().unwrap();
        assert_eq!(
            (
                item.plan_id.as_str(),
                item.location_id,
                item.validity_months,
                item.quantity
            ),
            ("rdp-starter-one", 3, 1, 1)
        );
        assert_eq!(form.plan_page().as_deref(), Some("/plans/rdp-starter-one"));
        let bad = AddItemForm {
            plan_id: "x".into(),
            location_id: "three".into(),
            ..Default::default()
        };
        assert!(
            matches!(bad.parse(), Err(AppError::Validation(e)) if e.contains_key("location_id"))
        );
        let bad = AddItemForm {
            plan_id: "x".into(),
            location_id: "1".into(),
            quantity: "2.5".into(),
            ..Default::default()
        };
        assert!(matches!(bad.parse(), Err(AppError::Validation(e)) if e.contains_key("quantity")));
        let evil = AddItemForm {
            plan_id: "../admin".into(),
            ..Default::default()
        };
        assert_eq!(evil.plan_page(), None);
    }

    #[test]
    fn statuses_have_words_and_pages_fall_back_to_the_first() {
        assert_eq!(OrderStatus::PendingPayment.label(), "Awaiting payment");
        assert_eq!(crate::web::paging::page_number(Some("3")), 3);
        for bad in [None, Some(""), Some("0"), Some("-1"), Some("x")] {
            assert_eq!(crate::web::paging::page_number(bad), 1);
        }
    }
}
