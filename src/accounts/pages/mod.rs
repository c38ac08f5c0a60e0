//! The account pages: register, log in and out, confirm the e-mail, forgot and reset the
//! password, and the customer's own page (profile, password, sessions).
//!
//! Server-rendered forms over the same flows as the JSON API (`auth`), with the same rate
//! limits. The browser holds a `user_sessions` row through the HttpOnly session cookie; the CSRF
//! middleware has already checked every POST. A form that fails comes back with each problem
//! beside its field and the input kept, passwords excepted.
//!
//! One file per concern (the form helpers every domain's pages share are the web kit's,
//! `crate::web::forms`): `register`, `login`, `verify`, `reset`, `two_factor` and `account` hold
//! one flow's pages each. This file holds the router and what the flows share: the session cookie, the message
//! page, a mailed link's token.

mod account;
mod invite;
mod login;
mod notifications;
mod register;
mod reset;
mod ssh_keys;
mod two_factor;
mod verify;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use super::extract::{PageContext, SESSION_COOKIE};
use super::signin::SESSION_TTL_DAYS;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::pages::Layout;
use crate::web::pages::{Action, message_page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/register",
            get(register::register_form).post(register::register),
        )
        .route("/login", get(login::login_form).post(login::login))
        .route("/login/two-factor", post(two_factor::login_code))
        .route("/account/two-factor", get(two_factor::two_factor_page))
        .route("/account/two-factor/start", post(two_factor::start))
        .route("/account/two-factor/confirm", post(two_factor::confirm))
        .route("/account/two-factor/disable", post(two_factor::disable))
        .route(
            "/account/two-factor/recovery-codes",
            post(two_factor::recovery_codes),
        )
        .route(
            "/account/two-factor/verify",
            get(two_factor::verify_form).post(two_factor::verify),
        )
        .route("/logout", post(login::logout))
        .route(
            "/verify-email",
            get(verify::verify_email_form).post(verify::verify_email),
        )
        .route(
            "/forgot-password",
            get(reset::forgot_password_form).post(reset::forgot_password),
        )
        .route(
            "/invite",
            get(invite::invite_form).post(invite::accept_invite),
        )
        .route(
            "/reset-password",
            get(reset::reset_password_form).post(reset::reset_password),
        )
        .route("/account", get(account::account))
        .route("/account/ssh-keys", get(ssh_keys::page).post(ssh_keys::add))
        .route("/account/ssh-keys/{id}/remove", post(ssh_keys::remove))
        .route(
            "/account/notifications",
            get(notifications::page).post(notifications::choose),
        )
        .route(
            "/account/notifications/whatsapp",
            post(notifications::send_code),
        )
        .route(
            "/account/notifications/whatsapp/verify",
            post(notifications::verify),
        )
        .route("/account/profile", post(account::update_profile))
        .route("/account/password", post(account::change_password))
        .route(
            "/account/resend-verification",
            post(account::resend_verification),
        )
        .route(
            "/account/sessions/revoke-others",
            post(account::revoke_other_sessions),
        )
        .route(
            "/account/sessions/{id}/revoke",
            post(account::revoke_session),
        )
}

// ---------------------------------------------------------------------------------------------
// Shared by the flows

/// The session cookie carrying `token`: HttpOnly, SameSite=Lax, whole site, 30 days, Secure when
/// the shop is served over https.
fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    let mut cookie = Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies())
        .build();
    // The builder wants a `time::Duration`, from a crate this one does not use directly; a
    // parsed attribute gives the same value.
    if let Ok(max_age) = Cookie::parse(format!("m=1; Max-Age={}", SESSION_TTL_DAYS * 24 * 3600)) {
        cookie.set_max_age(max_age.max_age());
    }
    cookie
}

/// The login-device cookie (see `accounts::device`): HttpOnly, a year, whole site.
fn device_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let mut cookie = Cookie::build((crate::accounts::device::DEVICE_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies())
        .build();
    let days = crate::accounts::device::DEVICE_COOKIE_DAYS;
    if let Ok(max_age) = Cookie::parse(format!("m=1; Max-Age={}", days * 24 * 3600)) {
        cookie.set_max_age(max_age.max_age());
    }
    cookie
}

/// A login that succeeded on this browser: the guest cart joins the account, the session and
/// login-device cookies are set, and the browser goes on to `next`.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    opened: crate::accounts::signin::OpenedSession,
    next: &str,
) -> AppResult<Response> {
    merge_guest_cart(state, headers, opened.user.id).await?;
    let device = crate::accounts::auth::device_cookie_value(state, opened.user.id);
    let jar = jar
        .add(session_cookie(state, opened.token))
        .add(device_cookie(state, device));
    Ok((jar, Redirect::to(next)).into_response())
}

/// What a visitor put in the cart as a guest joins their account's cart once they log in or
/// register, as with the API's login.
async fn merge_guest_cart(state: &AppState, headers: &HeaderMap, user_id: i32) -> AppResult<()> {
    let guest_cart = crate::orders::extract::guest_cart_token(headers);
    crate::orders::cart::merge_guest_cart(&state.db, guest_cart.as_deref(), user_id).await?;
    Ok(())
}

/// Tells the browser to forget the session cookie.
fn without_session_cookie(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(SESSION_COOKIE).path("/"))
}

fn see_other(target: &str) -> Response {
    Redirect::to(target).into_response()
}

/// The token of a mailed link (`?token=`), or of the form that confirms it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenQuery {
    token: String,
}

/// The answer to a mailed link that arrived without its token.
fn incomplete_link(context: &PageContext, title: &'static str) -> AppResult<Response> {
    message_page(
        StatusCode::BAD_REQUEST,
        Layout::for_page(title, context),
        "This link is incomplete",
        "error",
        vec![
            "Open the link from the e-mail again, or copy the whole address into your browser."
                .to_owned(),
        ],
        vec![Action {
            href: "/".into(),
            label: "Back to the plans",
        }],
    )
}
