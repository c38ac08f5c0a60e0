//! The operator's account pages: `/admin/users` (search, paging) with a Disable / Enable button
//! per account. Disabling ends the account's sessions at once (`admin::set_disabled`, audited).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::admin::set_disabled;
use super::extract::PageAdmin;
use super::users::{self, User};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;
use crate::web::forms::{Notice, notice, pkt};
use crate::web::pages::{Layout, render};
use crate::web::paging::PageOf;

/// Accounts per page.
const PER_PAGE: i64 = 25;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}/disable", post(disable_user))
        .route("/admin/users/{id}/enable", post(enable_user))
}

/// The list's state, from the query string or the hidden fields of a button's form. Values
/// that make no sense fall back to the first page of everything rather than failing.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListState {
    search: String,
    page: String,
    notice: Option<String>,
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

/// The list's address for `search` and `page` (and a notice code).
fn list_href(search: Option<&str>, page: i64, notice: Option<&str>) -> String {
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(notice) = notice {
        query.push(("notice", notice.to_owned()));
    }
    if let Some(search) = search {
        query.push(("search", search.to_owned()));
    }
    if page > 1 {
        query.push(("page", page.to_string()));
    }
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
    if encoded.is_empty() {
        "/admin/users".to_owned()
    } else {
        format!("/admin/users?{encoded}")
    }
}

const NOTICES: &[(&str, &str, &str)] = &[
    (
        "disabled",
        "success",
        "The account is disabled and logged out everywhere.",
    ),
    ("enabled", "success", "The account is enabled again."),
    ("self", "error", "You cannot disable your own account."),
];

/// An account as a row of the list.
struct UserRow {
    id: i32,
    name: String,
    email: String,
    is_admin: bool,
    verified: bool,
    /// When it was disabled (PKT), if it is.
    disabled: Option<String>,
    last_login: String,
    created: String,
    /// The operator looking at the list (who cannot disable themselves).
    is_self: bool,
}

impl UserRow {
    fn new(user: User, viewer: i32) -> Self {
        Self {
            is_admin: user.is_admin(),
            verified: user.is_verified(),
            disabled: user.disabled_at.map(|at| pkt(Some(at))),
            last_login: pkt(user.last_login_at),
            created: pkt(user.created_at),
            is_self: user.id == viewer,
            id: user.id,
            name: user.name,
            email: user.email,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    notice: Option<Notice>,
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
    let rows = rows
        .into_iter()
        .map(|user| UserRow::new(user, admin.user.id))
        .collect();
    render(&UsersPage {
        layout: Layout::for_page("Accounts", &admin.context),
        notice: notice(query.notice.as_deref(), NOTICES),
        search: search.unwrap_or_default().to_owned(),
        users: rows,
        list,
        previous_href: list.previous().map(|page| list_href(search, page, None)),
        next_href: next.map(|page| list_href(search, page, None)),
    })
}

async fn disable_user(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(list): Form<ListState>,
) -> AppResult<Response> {
    switch(&state, &admin.user, &ip, id, true, &list).await
}

async fn enable_user(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(list): Form<ListState>,
) -> AppResult<Response> {
    switch(&state, &admin.user, &ip, id, false, &list).await
}

/// Disables or enables the account, then goes back to the list where the button was.
async fn switch(
    state: &AppState,
    admin: &User,
    ip: &str,
    id: i32,
    disabled: bool,
    list: &ListState,
) -> AppResult<Response> {
    let actor = crate::audit::Actor {
        user_id: admin.id,
        ip,
    };
    let code = match set_disabled(state, &actor, id, disabled).await {
        Ok(_) if disabled => "disabled",
        Ok(_) => "enabled",
        Err(AppError::Conflict { .. }) => "self",
        Err(err) => return Err(err),
    };
    Ok(Redirect::to(&list_href(list.search(), list.page(), Some(code))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_addresses_keep_the_search_and_page() {
        assert_eq!(list_href(None, 1, None), "/admin/users");
        assert_eq!(
            list_href(Some("ali khan"), 2, Some("disabled")),
            "/admin/users?notice=disabled&search=ali+khan&page=2"
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
