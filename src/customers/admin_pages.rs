//! The operator's customer pages: `/admin/customers` (search by name, e-mail or phone; paging)
//! and `/admin/customers/{id}`, the customer's whole picture with the actions on the account
//! (disable or enable after a confirmation that says what happens, end sessions, resend the
//! confirmation e-mail) and the staff's notes. `/admin/users`, the list's old address, sends
//! there.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::notes;
use super::{Picture, picture};
use crate::accounts::admin::{self, set_disabled};
use crate::accounts::extract::PageAdmin;
use crate::accounts::staff::Permission;
use crate::accounts::users::{self, User};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;
use crate::web::extract::ClientIp;
use crate::web::forms::{Notice, notice, pkt};
use crate::web::pages::{Layout, render};
use crate::web::paging::PageOf;

/// Accounts per page.
const PER_PAGE: i64 = 25;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(old_list_address))
        .route("/admin/customers", get(list_users))
        .route("/admin/customers/{id}", get(customer_page))
        .route("/admin/customers/{id}/disable", post(disable_user))
        .route("/admin/customers/{id}/enable", post(enable_user))
        .route("/admin/customers/{id}/end-sessions", post(end_sessions))
        .route(
            "/admin/customers/{id}/resend-verification",
            post(resend_verification),
        )
        .route("/admin/customers/{id}/notes", post(add_note))
}

/// The list's state, from the query string or the hidden fields of a button's form. Values
/// that make no sense fall back to the first page of everything rather than failing.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListState {
    search: String,
    page: String,
}

impl ListState {
    fn search(&self) -> Option<&str> {
        Some(self.search.trim()).filter(|s| !s.is_empty())
    }

    fn page(&self) -> i64 {
        self.page
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=1_000_000).contains(p))
            .unwrap_or(1)
    }
}

/// The list's address for `search` and `page`.
fn list_href(search: Option<&str>, page: i64) -> String {
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(search) = search {
        query.push(("search", search.to_owned()));
    }
    if page > 1 {
        query.push(("page", page.to_string()));
    }
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
    if encoded.is_empty() {
        "/admin/customers".to_owned()
    } else {
        format!("/admin/customers?{encoded}")
    }
}

/// An account as a row of the list.
struct UserRow {
    id: i32,
    name: String,
    email: String,
    /// The staff role's name; `None` for a customer.
    staff_role: Option<&'static str>,
    verified: bool,
    /// When it was disabled (PKT), if it is.
    disabled: Option<String>,
    last_login: String,
    created: String,
    phone: Option<String>,
}

impl UserRow {
    fn new(user: User) -> Self {
        Self {
            staff_role: user.is_staff().then(|| user.role.as_str()),
            verified: user.is_verified(),
            disabled: user.disabled_at.map(|at| pkt(Some(at))),
            last_login: pkt(user.last_login_at),
            created: pkt(user.created_at),
            phone: user.phone,
            id: user.id,
            name: user.name,
            email: user.email,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/customers.html")]
struct UsersPage {
    layout: Layout,
    search: String,
    users: Vec<UserRow>,
    list: PageOf,
    previous_href: Option<String>,
    next_href: Option<String>,
}

async fn list_users(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Query(query): Query<ListState>,
) -> AppResult<Response> {
    let search = query.search();
    let total = users::count(&state.db, search).await?;
    let list = PageOf::new(total, query.page(), PER_PAGE);
    let rows = users::list(&state.db, search, PER_PAGE, list.offset(PER_PAGE)).await?;
    let next = list.next(rows.len(), PER_PAGE);
    let rows = rows.into_iter().map(UserRow::new).collect();
    render(&UsersPage {
        layout: Layout::for_page("Customers", &admin.context),
        search: search.unwrap_or_default().to_owned(),
        users: rows,
        list,
        previous_href: list.previous().map(|page| list_href(search, page)),
        next_href: next.map(|page| list_href(search, page)),
    })
}

/// `/admin/users`, the list's address before it was the customers' list: sends there with the
/// same query.
async fn old_list_address(uri: axum::http::Uri) -> Response {
    let target = match uri.query() {
        Some(query) => format!("/admin/customers?{query}"),
        None => "/admin/customers".to_owned(),
    };
    Redirect::permanent(&target).into_response()
}

/// What the customer's page says after an action.
const NOTICES: &[(&str, &str, &str)] = &[
    (
        "disabled",
        "success",
        "The account is disabled and logged out everywhere.",
    ),
    ("enabled", "success", "The account is enabled again."),
    ("self", "error", "You cannot disable your own account."),
    (
        "sessions-ended",
        "success",
        "Every session ended: the customer logs in again on each device.",
    ),
    (
        "verification-sent",
        "success",
        "A new confirmation link is on its way to the customer's e-mail.",
    ),
    (
        "already-verified",
        "info",
        "This e-mail address is already confirmed.",
    ),
    ("noted", "success", "Note added."),
];

/// `?notice=` of the customer's page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageQuery {
    notice: Option<String>,
}

/// A row of one of the page's tables, formatted.
struct Line {
    href: String,
    title: String,
    detail: String,
    status: &'static str,
    status_label: String,
    when: String,
}

#[derive(Template)]
#[template(path = "admin/customer.html")]
struct CustomerPage {
    layout: Layout,
    notice: Option<Notice>,
    picture: Picture,
    is_self: bool,
    can_manage: bool,
    created: String,
    last_login: String,
    disabled: Option<String>,
    sessions: Vec<Line>,
    services: Vec<Line>,
    orders: Vec<Line>,
    payments: Vec<Line>,
    tickets: Vec<Line>,
    credit: Option<String>,
    notes: Vec<Line>,
    note_error: Option<String>,
    note_text: String,
}

async fn customer_page(
    State(state): State<AppState>,
    PageAdmin(viewer): PageAdmin,
    Path(id): Path<i32>,
    Query(query): Query<PageQuery>,
) -> AppResult<Response> {
    let picture = picture(&state.db, viewer.user.role, id).await?;
    render(&customer_view(
        &viewer,
        picture,
        query.notice.as_deref(),
        None,
        "",
    )?)
}

fn customer_view(
    viewer: &crate::accounts::extract::PageUser,
    picture: Picture,
    notice_code: Option<&str>,
    note_error: Option<String>,
    note_text: &str,
) -> AppResult<CustomerPage> {
    let sessions = picture
        .sessions
        .iter()
        .map(|s| Line {
            href: String::new(),
            title: s
                .user_agent
                .clone()
                .unwrap_or_else(|| "Unknown device".into()),
            detail: s.ip_address.clone().unwrap_or_default(),
            status: if s.two_factor { "active" } else { "pending" },
            status_label: if s.two_factor {
                "Two-factor".into()
            } else {
                "Password".into()
            },
            when: pkt(s.last_used_at.or(s.created_at)),
        })
        .collect();
    let services = picture
        .services
        .iter()
        .map(|s| Line {
            href: format!("/admin/services/{}", s.id),
            title: format!(
                "#{} {}",
                s.id,
                s.plan_id.clone().unwrap_or_else(|| s.service_type.clone())
            ),
            detail: [s.hostname.as_deref(), s.ip_address.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            status: s.status.as_str(),
            status_label: s.status.label().to_owned(),
            when: s
                .next_renewal_date
                .map(|at| format!("renews {}", pkt(Some(at))))
                .unwrap_or_default(),
        })
        .collect();
    let (orders, payments, credit) = match &picture.money {
        Some(money) => (
            money
                .orders
                .iter()
                .map(|o| Line {
                    href: format!("/admin/orders/{}", o.id),
                    title: format!("Order #{}", o.id),
                    detail: format_pkr(o.final_amount_pkr),
                    status: o.status.as_str(),
                    status_label: o.status.label().to_owned(),
                    when: pkt(o.created_at),
                })
                .collect(),
            money
                .payments
                .iter()
                .map(|p| Line {
                    href: format!("/admin/payments/{}", p.id),
                    title: format!("Payment #{} for order #{}", p.id, p.order_id),
                    detail: format!("{} · {}", format_pkr(p.amount_pkr), p.gateway),
                    status: p.status.as_str(),
                    status_label: p.status.label().to_owned(),
                    when: pkt(Some(p.created_at)),
                })
                .collect(),
            Some(format_pkr(money.credit_pkr)),
        ),
        None => (Vec::new(), Vec::new(), None),
    };
    let tickets = picture
        .support
        .as_ref()
        .map(|support| {
            support
                .tickets
                .iter()
                .map(|t| Line {
                    href: format!("/admin/tickets/{}", t.id),
                    title: t.subject.clone(),
                    detail: t.department.label().to_owned(),
                    status: t.status.as_str(),
                    status_label: t.status.label().to_owned(),
                    when: pkt(Some(t.last_message_at)),
                })
                .collect()
        })
        .unwrap_or_default();
    let notes = picture
        .notes
        .iter()
        .map(|n| Line {
            href: String::new(),
            title: n.body.clone(),
            detail: n
                .author_name
                .clone()
                .unwrap_or_else(|| "A former operator".into()),
            status: "",
            status_label: String::new(),
            when: pkt(Some(n.created_at)),
        })
        .collect();
    let customer = &picture.customer;
    Ok(CustomerPage {
        layout: Layout::for_page(customer.name.clone(), &viewer.context),
        notice: notice(notice_code, NOTICES),
        is_self: customer.id == viewer.user.id,
        can_manage: viewer.user.can(Permission::ManageCustomers),
        created: pkt(customer.created_at),
        last_login: pkt(customer.last_login_at),
        disabled: customer.disabled_at.map(|at| pkt(Some(at))),
        sessions,
        services,
        orders,
        payments,
        tickets,
        credit,
        notes,
        note_error,
        note_text: note_text.to_owned(),
        picture,
    })
}

fn back(id: i32, code: &str) -> Response {
    Redirect::to(&format!("/admin/customers/{id}?notice={code}")).into_response()
}

async fn disable_user(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    let code = match set_disabled(&state, &admin.actor(&ip), id, true).await {
        Ok(_) => "disabled",
        Err(AppError::Conflict { .. }) => "self",
        Err(err) => return Err(err),
    };
    Ok(back(id, code))
}

async fn enable_user(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    set_disabled(&state, &admin.actor(&ip), id, false).await?;
    Ok(back(id, "enabled"))
}

async fn end_sessions(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    admin::end_sessions(&state, &admin.actor(&ip), id).await?;
    Ok(back(id, "sessions-ended"))
}

async fn resend_verification(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    let code = match admin::resend_verification(&state, &admin.actor(&ip), id).await {
        Ok(()) => "verification-sent",
        Err(AppError::Conflict { .. }) => "already-verified",
        Err(err) => return Err(err),
    };
    Ok(back(id, code))
}

#[derive(Debug, Deserialize)]
struct NoteForm {
    #[serde(default)]
    body: String,
}

/// Adds a note; a refused one comes back on the page as written, the problem beside it.
async fn add_note(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(form): Form<NoteForm>,
) -> AppResult<Response> {
    match notes::add(&state, &admin.actor(&ip), id, &form.body).await {
        Ok(_) => Ok(back(id, "noted")),
        Err(AppError::Validation(errors)) => {
            let picture = picture(&state.db, admin.user.role, id).await?;
            let message = errors.into_values().next().unwrap_or_default();
            let page = customer_view(&admin, picture, None, Some(message), &form.body)?;
            let mut response = render(&page)?;
            *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_addresses_keep_the_search_and_page() {
        assert_eq!(list_href(None, 1), "/admin/customers");
        assert_eq!(
            list_href(Some("ali khan"), 2),
            "/admin/customers?search=ali+khan&page=2"
        );
    }

    #[test]
    fn nonsense_pages_fall_back_to_the_first() {
        for page in ["", "0", "-3", "abc", "99999999999"] {
            let state = ListState {
                page: page.to_owned(),
                ..Default::default()
            };
            assert_eq!(state.page(), 1, "{page:?}");
        }
    }
}
