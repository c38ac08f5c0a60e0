//! The operator's payment queue: `/admin/payments` (manual transfers waiting for review first,
//! any status on request), `/admin/payments/{id}` (the payment, its events with their payloads,
//! the receipt) with Approve and Reject, and `/admin/payments/{id}/receipt` (the image).
//!
//! Reviews go through the operator API's own `approve` and `reject` (guarded, audited, with
//! the customer's e-mail); the pages only turn their outcome into words.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::MANUAL;
use super::payments::{self, Payment, PaymentEvent, PaymentFilter};
use super::refunds::{RefundDestination, RefundRequest, RefundServices};
use super::settle::Settled;
use super::views::AdminPaymentRow;
use super::{PaymentEventKind, PaymentStatus};
use crate::accounts::extract::PageAdmin;
use crate::accounts::users;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;
use crate::orders::orders;
use crate::web::extract::ClientIp;
use crate::web::forms::{Failure, FormErrors, parse_rupees, pkt, sentence};
use crate::web::pages::Layout;
use crate::web::pages::render_with;
use crate::web::paging::{PageOf, page_number};

/// Payments per page of the queue.
const PER_PAGE: i64 = 25;

mod billing;
mod reports;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/reports/revenue", get(reports::revenue_page))
        .route("/admin/reports/revenue.csv", get(reports::revenue_csv))
        .route("/admin/invoices", get(billing::list))
        .route("/admin/invoices/export.csv", get(billing::export))
        .route("/admin/invoices/{id}/pdf", get(billing::pdf))
        .route(
            "/admin/billing",
            get(billing::settings_page).post(billing::save_settings),
        )
        .route("/admin/billing/rates", post(billing::add_rate))
        .route(
            "/admin/billing/rates/{id}/remove",
            post(billing::remove_rate),
        )
        .route(
            "/admin/billing/logo",
            post(billing::save_logo).layer(axum::extract::DefaultBodyLimit::max(
                crate::orders::billing::MAX_LOGO_BYTES + 16 * 1024,
            )),
        )
        .route("/admin/payments", get(queue))
        .route("/admin/payments/{id}", get(payment_page))
        .route("/admin/payments/{id}/receipt", get(receipt))
        .route(
            "/admin/payments/{id}/receipts/{receipt_id}",
            get(receipt_by_id),
        )
        .route("/admin/payments/{id}/approve", post(approve))
        .route("/admin/payments/{id}/reject", post(reject))
        .route("/admin/payments/{id}/refund", post(refund))
}

fn see_other(target: &str) -> Response {
    Redirect::to(target).into_response()
}

/// The customer (account id, e-mail) of each order, in one look-up; orders whose account is gone
/// are absent.
async fn customers_of(
    state: &AppState,
    order_ids: Vec<i32>,
) -> AppResult<BTreeMap<i32, (i32, String)>> {
    Ok(orders::customer_emails(&state.db, &order_ids).await?)
}

// ---------------------------------------------------------------------------------------------
// The queue

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QueueQuery {
    status: Option<String>,
    search: Option<String>,
    page: Option<String>,
}

/// A status choice of the filter.
struct StatusOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/payments/queue.html")]
struct QueuePage {
    layout: Layout,
    /// The status shown: a [`PaymentStatus`], or `all`.
    status: String,
    /// The search typed, if any.
    search: String,
    statuses: Vec<StatusOption>,
    alert: Option<String>,
    rows: Vec<AdminPaymentRow>,
    list: PageOf,
    previous_href: Option<String>,
    next_href: Option<String>,
}

/// `/admin/payments?status=review` (the default; `all` for every status), oldest first.
async fn queue(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Query(query): Query<QueueQuery>,
) -> AppResult<Response> {
    let status = query
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("review")
        .to_owned();
    let search = query
        .search
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let status_filter = PaymentStatus::parse(&status);
    let known = status == "all" || status_filter.is_some();
    let statuses = PaymentStatus::ALL
        .iter()
        .map(|&value| StatusOption {
            value: value.as_str(),
            label: value.label(),
            selected: value.as_str() == status,
        })
        .collect();
    let layout = Layout::for_page("Payments", &admin.context);
    if !known {
        return render_with(
            StatusCode::BAD_REQUEST,
            &QueuePage {
                layout,
                alert: Some(format!(
                    "Status must be one of {} or all.",
                    PaymentStatus::spellings()
                )),
                status: String::new(),
                search,
                statuses,
                rows: Vec::new(),
                list: PageOf::nothing(),
                previous_href: None,
                next_href: None,
            },
        );
    }
    let filter = PaymentFilter {
        status: status_filter,
        search: Some(search.as_str()).filter(|s| !s.is_empty()),
    };
    let total = payments::count(&state.db, &filter).await?;
    let list = PageOf::new(total, page_number(query.page.as_deref()), PER_PAGE);
    let payments = payments::list(&state.db, &filter, PER_PAGE, list.offset(PER_PAGE)).await?;
    let next = list.next(payments.len(), PER_PAGE);
    let customers = customers_of(&state, payments.iter().map(|p| p.order_id).collect()).await?;
    let rows = payments
        .iter()
        .map(|p| AdminPaymentRow::new(p, customers.get(&p.order_id).cloned()))
        .collect();
    let href = |page: i64| {
        let page = page.to_string();
        let mut pairs = vec![("status", status.as_str())];
        if !search.is_empty() {
            pairs.push(("search", search.as_str()));
        }
        if page != "1" {
            pairs.push(("page", page.as_str()));
        }
        format!(
            "/admin/payments?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    };
    render_with(
        StatusCode::OK,
        &QueuePage {
            layout,
            alert: None,
            statuses,
            rows,
            list,
            previous_href: list.previous().map(href),
            next_href: next.map(href),
            status,
            search,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// One payment

/// A notice about a review, in words from the stored payment (never from the query string).
struct PageNotice {
    kind: &'static str,
    text: String,
}

/// An event as the page shows it.
struct EventRow {
    kind: String,
    when: String,
    /// What happened, in words: what arrived, what was checked, why it was refused.
    headline: String,
    /// The payload as indented JSON (escaped by the template), under "Raw data".
    payload: Option<String>,
}

impl EventRow {
    /// `names` are the staff who reviewed (an `approved` note says `by user 7`).
    fn new(event: &PaymentEvent, gateway: &str, names: &BTreeMap<i32, String>) -> Self {
        Self {
            kind: event.kind.to_string(),
            when: pkt(Some(event.created_at)),
            headline: headline(event, gateway, names),
            payload: event
                .payload
                .as_ref()
                .filter(|p| !p.is_null())
                .map(|p| serde_json::to_string_pretty(p).unwrap_or_else(|_| p.to_string())),
        }
    }
}

/// The operator who wrote an `approved` event (`by user 7…`), if the note names one.
fn reviewer_in(note: &str) -> Option<i32> {
    let rest = note.strip_prefix("by user ")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// An event in the operator's words.
fn headline(event: &PaymentEvent, gateway: &str, names: &BTreeMap<i32, String>) -> String {
    let note = event.note.as_deref().unwrap_or("").trim();
    let field = |name: &str| {
        event
            .payload
            .as_ref()
            .and_then(|p| p.get(name))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let provider = match gateway {
        "jazzcash" => "JazzCash",
        "easypaisa" => "Easypaisa",
        _ => "the gateway",
    };
    match event.kind {
        PaymentEventKind::Created => {
            format!("Payment started: the customer was sent to {provider} to pay.")
        }
        PaymentEventKind::Submitted => {
            let reference = field("reference").unwrap_or_else(|| "no reference".into());
            let channel = field("channel")
                .map(|c| format!(" by {}", channel_label(&c)))
                .unwrap_or_default();
            let flag = if note.is_empty() {
                String::new()
            } else {
                format!(" Flagged: {note}.")
            };
            format!("The customer reported a transfer{channel}, reference {reference}.{flag}")
        }
        PaymentEventKind::Return => format!(
            "The customer's browser came back from {provider}{}. Not trusted on its own: the \
             shop asks {provider} for the status.",
            if note.is_empty() {
                String::new()
            } else {
                format!(" saying “{note}”")
            }
        ),
        PaymentEventKind::Ipn => format!(
            "{provider}'s notification arrived and its signature checked out (response code \
             {}).",
            if note.is_empty() { "none" } else { note }
        ),
        PaymentEventKind::Inquiry => format!(
            "The shop asked {provider} for the status: {}.",
            if note.is_empty() { "no answer" } else { note }
        ),
        PaymentEventKind::Approved => {
            let who = reviewer_in(note)
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_else(|| "an operator".into());
            let amounts = note.split_once(": ").map(|(_, rest)| rest);
            match amounts {
                Some(amounts) => format!("Approved by {who}: {amounts}."),
                None => format!("Approved by {who}."),
            }
        }
        PaymentEventKind::Rejected => format!("Rejected: {note}."),
        PaymentEventKind::Refused => format!(
            "Refused: a message claiming to be from {provider} failed the checks ({note}). \
             Nothing was changed."
        ),
    }
}

/// A channel of a manual transfer in words.
fn channel_label(channel: &str) -> &'static str {
    match channel {
        "bank" => "bank transfer",
        "jazzcash" => "JazzCash wallet",
        "easypaisa" => "Easypaisa wallet",
        _ => "transfer",
    }
}

/// The customer of the payment's order.
struct Customer {
    id: i32,
    name: String,
    email: String,
}

#[derive(Template)]
#[template(path = "admin/payments/payment.html")]
struct PaymentPage {
    layout: Layout,
    notice: Option<PageNotice>,
    row: AdminPaymentRow,
    gateway_reference: Option<String>,
    customer_paid_at: Option<String>,
    failure_reason: Option<String>,
    reviewed: Option<String>,
    order_status: String,
    order_status_label: &'static str,
    order_total: String,
    customer: Option<Customer>,
    events: Vec<EventRow>,
    /// The shop's accounts of the transfer's channel: where the money should have arrived.
    paid_into: Vec<String>,
    /// The oldest other payment waiting for review, to go on to.
    next_review: Option<i32>,
    /// Every receipt the customer sent, oldest first: (id, when).
    receipts: Vec<(i32, String)>,
    /// A manual transfer waiting for review: the Approve and Reject forms show.
    can_review: bool,
    reason: String,
    errors: FormErrors,
    refunds: Vec<RefundRow>,
    /// What is left to refund of a succeeded payment (`Rs 2,500`): the refund form shows.
    refundable: Option<String>,
    /// A refund filled in and checked, waiting for the operator's confirmation.
    confirm_refund: Option<RefundConfirmation>,
    /// The refund form's values as the operator typed them (kept after a refusal and while
    /// confirming).
    refund_form: RefundForm,
}

/// A refund as the operator filled it in, said back before anything happens.
struct RefundConfirmation {
    amount: String,
    /// Where the money goes, in words.
    destination: String,
    /// The services terminated now (empty when they keep running, or none are left).
    terminated: Vec<i32>,
}

/// A refund of the payment, as its page lists it.
struct RefundRow {
    when: String,
    amount: String,
    destination: &'static str,
    reference: String,
    reason: String,
    services: &'static str,
    by: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
}

/// The words of a review's outcome, from the payment as it is now.
fn review_notice(code: &str, payment: &Payment) -> Option<PageNotice> {
    let flag = payment.flag.as_deref().unwrap_or("no details recorded");
    let (kind, text) = match code {
        "paid" => (
            "success",
            format!("Order {} is now paid.", payment.order_id),
        ),
        "partial" => (
            "info",
            format!("Approved, but the order is not paid yet: {flag}."),
        ),
        "flagged" => ("error", format!("Flagged: {flag}.")),
        "refunded" => (
            "success",
            "Refunded; the customer was e-mailed. The refund is listed below.".to_owned(),
        ),
        "amount" => (
            "error",
            "Not approved: the amount received must be whole rupees, 1 to 10,000,000 (or \
             empty when what was asked arrived)."
                .to_owned(),
        ),
        "credited" => (
            "info",
            format!(
                "Approved: order {} was no longer awaiting payment, so {} went to the \
                 customer's account credit.",
                payment.order_id,
                format_pkr(payment.amount_pkr)
            ),
        ),
        "already" => (
            "error",
            sentence(
                "",
                &format!(
                    "payment {} is {}, not waiting for review",
                    payment.id, payment.status
                ),
            ),
        ),
        "rejected" => (
            "success",
            "Payment rejected; the customer was e-mailed the reason.".to_owned(),
        ),
        _ => return None,
    };
    Some(PageNotice { kind, text })
}

async fn render_payment(
    state: &AppState,
    admin: &PageAdmin,
    payment: Payment,
    status: StatusCode,
    notice: Option<PageNotice>,
    reason: String,
    errors: FormErrors,
) -> AppResult<Response> {
    let page = payment_view(state, admin, payment, notice, reason, errors).await?;
    render_with(status, &page)
}

/// The payment's page as it stands, with a notice and the reject form's reason and problems.
async fn payment_view(
    state: &AppState,
    admin: &PageAdmin,
    payment: Payment,
    notice: Option<PageNotice>,
    reason: String,
    errors: FormErrors,
) -> AppResult<PaymentPage> {
    let order = orders::find(&state.db, payment.order_id).await?;
    let customer = match order.as_ref().and_then(|o| o.user_id) {
        Some(user_id) => users::find(&state.db, user_id).await?.map(|u| Customer {
            id: u.id,
            name: u.name,
            email: u.email,
        }),
        None => None,
    };
    let reviewer = match payment.reviewed_by {
        Some(user_id) => users::find(&state.db, user_id)
            .await?
            .map(|u| format!("{} ({})", u.name, u.email)),
        None => None,
    };
    let events = payments::list_events(&state.db, payment.id).await?;
    let mut reviewers = BTreeMap::new();
    for id in events
        .iter()
        .filter_map(|e| e.note.as_deref().and_then(reviewer_in))
    {
        if let Some(user) = users::find(&state.db, id).await? {
            reviewers.insert(id, user.name);
        }
    }
    let paid_into = match payment.channel.as_deref() {
        Some(channel) if payment.gateway == MANUAL => state
            .payments
            .manual
            .accounts
            .iter()
            .filter(|a| a.channel == channel)
            .map(|a| format!("{} · {} · {}", a.provider, a.title, a.number))
            .collect(),
        _ => Vec::new(),
    };
    let next_review = payments::list(
        &state.db,
        &PaymentFilter {
            status: Some(PaymentStatus::Review),
            search: None,
        },
        2,
        0,
    )
    .await?
    .into_iter()
    .map(|p| p.id)
    .find(|id| *id != payment.id);
    let receipts = payments::list_receipts(&state.db, payment.id)
        .await?
        .into_iter()
        .map(|receipt| (receipt.id, pkt(Some(receipt.created_at))))
        .collect();
    let order_status = order.as_ref().map(|o| o.status);
    let refunds = super::refunds::list_for_payment(&state.db, payment.id).await?;
    let left = i64::from(payment.amount_pkr)
        - refunds.iter().map(|r| i64::from(r.amount_pkr)).sum::<i64>();
    let refunders = users::emails(
        &state.db,
        &refunds
            .iter()
            .filter_map(|r| r.created_by)
            .collect::<Vec<_>>(),
    )
    .await?;
    let refund_rows = refunds
        .iter()
        .map(|r| RefundRow {
            when: pkt(Some(r.created_at)),
            amount: format_pkr(r.amount_pkr),
            destination: match r.destination {
                RefundDestination::Credit => "Account credit",
                RefundDestination::External => "Transfer",
            },
            reference: r.reference.clone().unwrap_or_else(|| "—".to_owned()),
            reason: r.reason.clone(),
            services: match r.services {
                RefundServices::Keep => "Kept",
                RefundServices::Cancel => "Terminated",
            },
            by: r
                .created_by
                .and_then(|id| refunders.get(&id).cloned())
                .unwrap_or_default(),
        })
        .collect();
    let page = PaymentPage {
        layout: Layout::for_page(format!("Payment #{}", payment.id), &admin.0.context),
        notice,
        row: AdminPaymentRow::new(&payment, customer.as_ref().map(|c| (c.id, c.email.clone()))),
        gateway_reference: payment.gateway_reference.clone(),
        customer_paid_at: payment.customer_paid_at.map(|at| pkt(Some(at))),
        failure_reason: payment.failure_reason.clone(),
        reviewed: payment.reviewed_at.map(|at| match &reviewer {
            Some(email) => format!("{} by {email}", pkt(Some(at))),
            None => pkt(Some(at)),
        }),
        order_status_label: order_status.map_or("Unknown", crate::orders::OrderStatus::label),
        order_status: order_status.map(|s| s.to_string()).unwrap_or_default(),
        order_total: order
            .as_ref()
            .map(|o| format_pkr(o.final_amount_pkr))
            .unwrap_or_default(),
        customer,
        events: events
            .iter()
            .map(|e| EventRow::new(e, &payment.gateway, &reviewers))
            .collect(),
        paid_into,
        next_review,
        receipts,
        can_review: payment.gateway == MANUAL && payment.status == PaymentStatus::Review,
        reason,
        errors,
        refunds: refund_rows,
        refundable: (payment.status == PaymentStatus::Succeeded && left > 0)
            .then(|| format_pkr(left)),
        confirm_refund: None,
        refund_form: RefundForm::default(),
    };
    Ok(page)
}

async fn find_payment(state: &AppState, id: i32) -> AppResult<Payment> {
    payments::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("payment"))
}

async fn payment_page(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<i32>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let payment = find_payment(&state, id).await?;
    let notice = query
        .notice
        .as_deref()
        .and_then(|code| review_notice(code, &payment));
    render_payment(
        &state,
        &admin,
        payment,
        StatusCode::OK,
        notice,
        String::new(),
        FormErrors::default(),
    )
    .await
}

/// The newest receipt image, inline.
async fn receipt(
    State(state): State<AppState>,
    _admin: PageAdmin,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    let found = payments::find_receipt(&state.db, id).await?;
    image(found)
}

/// One receipt image, inline.
async fn receipt_by_id(
    State(state): State<AppState>,
    _admin: PageAdmin,
    Path((id, receipt_id)): Path<(i32, i32)>,
) -> AppResult<Response> {
    let found = payments::find_receipt_by_id(&state.db, id, receipt_id).await?;
    image(found)
}

/// A receipt image, inline, with its stored (sniffed) content type.
fn image(found: Option<(String, Vec<u8>)>) -> AppResult<Response> {
    let (content_type, bytes) = found.ok_or(AppError::NotFound("receipt"))?;
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Approves a transfer (the operator API's `approve`), then back to the payment with what it
/// came to; a payment already reviewed changes nothing.
async fn approve(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<ApproveForm>,
) -> AppResult<Response> {
    if let Some(step_up) = admin.two_factor_step_up(&format!("/admin/payments/{id}")) {
        return Ok(step_up);
    }
    // Empty: what was asked arrived. Else the rupees the operator saw arrive.
    let received = match rupees(&form.amount_received) {
        Ok(None) => None,
        Ok(Some(amount)) if super::review::check_received(amount).is_ok() => Some(amount),
        _ => return Ok(see_other(&format!("/admin/payments/{id}?notice=amount"))),
    };
    let code = match super::review::approve(&state, &admin.actor(&ip), id, received).await {
        Ok((_, Settled::Paid)) => "paid",
        Ok((_, Settled::Partial { .. })) => "partial",
        Ok((_, Settled::Flagged(_))) => "flagged",
        Ok((_, Settled::Credited { .. })) => "credited",
        Ok((_, Settled::AlreadyConfirmed)) | Err(AppError::Conflict { .. }) => "already",
        Err(err) => return Err(err),
    };
    Ok(see_other(&format!("/admin/payments/{id}?notice={code}")))
}

/// Rupees as an operator types them (`5,000`, `Rs 5000`): `None` when empty, an error when
/// not a whole number.
fn rupees(text: &str) -> Result<Option<i64>, ()> {
    match text.trim() {
        "" => Ok(None),
        text => parse_rupees(text).map(Some).ok_or(()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ApproveForm {
    amount_received: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RefundForm {
    amount_pkr: String,
    to: String,
    reference: String,
    reason: String,
    services: String,
    /// `yes` once the operator has read the refund said back and confirmed it.
    confirmed: String,
}

/// Refunds (part of) the payment (the operator API's `refund`), then back to the payment; a
/// refusal comes back on the page, naming the problem.
async fn refund(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<RefundForm>,
) -> AppResult<Response> {
    if let Some(step_up) = admin.0.two_factor_step_up(&format!("/admin/payments/{id}")) {
        return Ok(step_up);
    }
    let payment = find_payment(&state, id).await?;
    let request = match (
        rupees(&form.amount_pkr).ok().flatten().ok_or(()),
        form.to.parse::<RefundDestination>(),
        form.services.parse::<RefundServices>(),
    ) {
        (Ok(amount_pkr), Ok(to), Ok(services)) => Ok(RefundRequest {
            amount_pkr,
            to,
            reference: Some(form.reference.clone()),
            reason: form.reason.clone(),
            services,
        }),
        (Err(_), _, _) => Err(AppError::invalid("amount_pkr", "must be whole rupees")),
        (_, Err(_), _) => Err(AppError::invalid(
            "to",
            "choose account credit or a transfer you made",
        )),
        (_, _, Err(_)) => Err(AppError::invalid(
            "services",
            "choose whether the order's servers keep running",
        )),
    };
    let outcome = match request {
        Ok(request) if form.confirmed == "yes" => {
            super::refunds::refund(&state, &admin.0.actor(&ip), id, &request).await
        }
        // Checked, then said back: nothing happens until the operator confirms.
        Ok(request) => match super::refunds::check(&request) {
            Ok(_) => return confirm_refund(&state, &admin, payment, request, form).await,
            Err(err) => Err(err),
        },
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/admin/payments/{id}?notice=refunded"))),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, &[])?;
            let notice = PageNotice {
                kind: "error",
                text: format!(
                    "Not refunded: {}",
                    failure.alert.unwrap_or_else(|| "check the form".to_owned())
                ),
            };
            let mut page = payment_view(
                &state,
                &admin,
                payment,
                Some(notice),
                String::new(),
                FormErrors::default(),
            )
            .await?;
            page.refund_form = form;
            render_with(failure.status, &page)
        }
    }
}

/// The refund said back — how much, where it goes, which servers stop, what the customer is
/// told — with one button that does it.
async fn confirm_refund(
    state: &AppState,
    admin: &PageAdmin,
    payment: Payment,
    request: RefundRequest,
    form: RefundForm,
) -> AppResult<Response> {
    let terminated = match request.services {
        RefundServices::Cancel => {
            let mut conn = state.db.acquire().await?;
            super::refunds::services_to_terminate(&mut conn, payment.order_id).await?
        }
        RefundServices::Keep => Vec::new(),
    };
    let destination = match request.to {
        RefundDestination::Credit => "the customer's account credit".to_owned(),
        RefundDestination::External => format!(
            "the transfer you made (reference {})",
            form.reference.trim()
        ),
    };
    let mut page = payment_view(
        state,
        admin,
        payment,
        None,
        String::new(),
        FormErrors::default(),
    )
    .await?;
    page.confirm_refund = Some(RefundConfirmation {
        amount: format_pkr(request.amount_pkr),
        destination,
        terminated,
    });
    page.refund_form = form;
    render_with(StatusCode::OK, &page)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RejectForm {
    reason: String,
}

/// Rejects a transfer with the reason the customer is e-mailed; without one, the page comes
/// back with the problem beside the field.
async fn reject(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<RejectForm>,
) -> AppResult<Response> {
    match super::review::reject(&state, &admin.0.actor(&ip), id, &form.reason).await {
        Ok(_) => Ok(see_other(&format!("/admin/payments/{id}?notice=rejected"))),
        Err(AppError::Conflict { .. }) => {
            Ok(see_other(&format!("/admin/payments/{id}?notice=already")))
        }
        Err(err) => {
            let failure = Failure::from_error(err, &[("reason", "Reason")])?;
            let payment = find_payment(&state, id).await?;
            let reason = form.reason.chars().take(500).collect();
            render_payment(
                &state,
                &admin,
                payment,
                failure.status,
                failure.alert.map(|text| PageNotice {
                    kind: "error",
                    text,
                }),
                reason,
                failure.errors,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rupees;

    #[test]
    fn rupees_are_read_as_operators_type_them() {
        assert_eq!(rupees(""), Ok(None));
        assert_eq!(rupees("  "), Ok(None));
        assert_eq!(rupees("5,000"), Ok(Some(5000)));
        assert_eq!(rupees("Rs 5,000"), Ok(Some(5000)));
        assert!(rupees("5,00x").is_err());
        assert!(rupees("4.5").is_err());
    }
}
