//! Logging in (`/login`, back to a safe `?next=` page) and out (`/logout`).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::two_factor::LoginCodePage;
use super::{see_other, signed_in, without_session_cookie};
use crate::accounts::auth::{self, LoginOutcome};
use crate::accounts::device::DEVICE_COOKIE;
use crate::accounts::extract::{PageContext, safe_next};
use crate::accounts::sessions;
use crate::accounts::signin::Client;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::extract::{ClientIp, UserAgent};
use crate::web::forms::{Failure, FormErrors, Notice, notice};
use crate::web::pages::render_with;
use crate::web::pages::{Layout, render};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LoginQuery {
    next: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LoginForm {
    email: String,
    password: String,
    next: String,
}

const LOGIN_NOTICES: &[(&str, &str, &str)] = &[
    (
        "password-reset",
        "success",
        "Your password is changed. Log in with the new one.",
    ),
    ("logged-out", "info", "You are logged out."),
    (
        "invite-accepted",
        "success",
        "Your password is set. Log in, then set up two-factor sign-in.",
    ),
    (
        "code-expired",
        "error",
        "That sign-in expired or had too many wrong codes. Log in again.",
    ),
];

#[derive(Template)]
#[template(path = "account/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    notice: Option<Notice>,
    errors: FormErrors,
    alert: Option<String>,
}

pub(super) async fn login_form(
    context: PageContext,
    Query(query): Query<LoginQuery>,
) -> AppResult<Response> {
    let next = safe_next(query.next.as_deref());
    if context.user.is_some() {
        return Ok(see_other(&next));
    }
    render(&LoginPage {
        layout: Layout::for_page("Log in", &context),
        email: String::new(),
        next,
        notice: notice(query.notice.as_deref(), LOGIN_NOTICES),
        errors: FormErrors::default(),
        alert: None,
    })
}

pub(super) async fn login(
    State(state): State<AppState>,
    context: PageContext,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let next = safe_next(Some(&form.next));
    let client = Client {
        ip: Some(ip),
        user_agent,
        device: jar.get(DEVICE_COOKIE).map(|c| c.value().to_owned()),
    };
    match auth::login(&state, &form.email, &form.password, &client).await {
        Ok(LoginOutcome::Opened(opened)) => signed_in(&state, &headers, jar, *opened, &next).await,
        Ok(LoginOutcome::SecondFactor { token }) => render_with(
            axum::http::StatusCode::OK,
            &LoginCodePage {
                layout: Layout::for_page("Enter your code", &context),
                mfa_token: token,
                next,
                errors: FormErrors::default(),
                alert: None,
            },
        ),
        Err(err) => {
            let failure =
                Failure::from_error(err, &[("email", "E-mail"), ("password", "Password")])?;
            render_with(
                failure.status,
                &LoginPage {
                    layout: Layout::for_page("Log in", &context),
                    email: form.email.trim().to_owned(),
                    next,
                    notice: None,
                    errors: failure.errors,
                    alert: failure.alert,
                },
            )
        }
    }
}

/// Ends the cookie's session and forgets the cookie.
pub(super) async fn logout(
    State(state): State<AppState>,
    context: PageContext,
    jar: CookieJar,
) -> AppResult<Response> {
    if let (Some(user), Some(session_id)) = (&context.user, context.session_id) {
        sessions::revoke(&state.db, session_id, user.id, "logout").await?;
        tracing::info!(user.id = user.id, session.id = session_id, "logged out");
    }
    Ok((without_session_cookie(jar), Redirect::to("/")).into_response())
}
