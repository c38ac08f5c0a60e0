//! Forgetting the password (`/forgot-password`: a link by e-mail, the same answer whether or
//! not an account uses the address) and choosing a new one from that link
//! (`/reset-password`, which ends every session of the account).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{Action, TokenQuery, incomplete_link, message_page, without_session_cookie};
use crate::accounts::auth;
use crate::accounts::extract::PageContext;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;
use crate::web::forms::{Failure, FormErrors};
use crate::web::pages::render_with;
use crate::web::pages::{Layout, render};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct EmailForm {
    email: String,
}

#[derive(Template)]
#[template(path = "account/forgot_password.html")]
struct ForgotPasswordPage {
    layout: Layout,
    email: String,
    errors: FormErrors,
    alert: Option<String>,
}

pub(super) async fn forgot_password_form(context: PageContext) -> AppResult<Response> {
    render(&ForgotPasswordPage {
        layout: Layout::for_page("Forgot your password?", &context),
        email: String::new(),
        errors: FormErrors::default(),
        alert: None,
    })
}

/// The same answer whether or not an account uses the address.
pub(super) async fn forgot_password(
    State(state): State<AppState>,
    context: PageContext,
    ClientIp(ip): ClientIp,
    Form(form): Form<EmailForm>,
) -> AppResult<Response> {
    if let Err(err) = auth::forgot_password(&state, &form.email, &ip).await {
        let failure = Failure::from_error(err, &[])?;
        return render_with(
            failure.status,
            &ForgotPasswordPage {
                layout: Layout::for_page("Forgot your password?", &context),
                email: form.email.trim().to_owned(),
                errors: failure.errors,
                alert: failure.alert,
            },
        );
    }
    message_page(
        StatusCode::OK,
        Layout::for_page("Check your e-mail", &context),
        "Check your e-mail",
        "info",
        vec![
            "If an account uses this e-mail, a link to choose a new password is on its way. It works for one hour.".to_owned(),
            "Nothing after a few minutes? Look in the spam folder, or try again.".to_owned(),
        ],
        vec![Action { href: "/login".into(), label: "Back to log in" }],
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ResetForm {
    token: String,
    password: String,
    confirm_password: String,
}

const RESET_FIELDS: &[(&str, &str)] = &[
    ("password", "New password"),
    ("confirm_password", "Repeated password"),
];

#[derive(Template)]
#[template(path = "account/reset_password.html")]
struct ResetPasswordPage {
    layout: Layout,
    token: String,
    errors: FormErrors,
    alert: Option<String>,
}

pub(super) async fn reset_password_form(
    context: PageContext,
    Query(query): Query<TokenQuery>,
) -> AppResult<Response> {
    let token = query.token.trim().to_owned();
    if token.is_empty() {
        return incomplete_link(&context, "Choose a new password");
    }
    render(&ResetPasswordPage {
        layout: Layout::for_page("Choose a new password", &context),
        token,
        errors: FormErrors::default(),
        alert: None,
    })
}

pub(super) async fn reset_password(
    State(state): State<AppState>,
    context: PageContext,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    let outcome = async {
        if form.password != form.confirm_password {
            return Err(AppError::invalid(
                "confirm_password",
                "must match the new password",
            ));
        }
        auth::reset_password(&state, form.token.trim(), &form.password, &ip).await
    }
    .await;
    match outcome {
        // Every session of the account ended, this browser's too.
        Ok(_) => Ok((
            without_session_cookie(jar),
            Redirect::to("/login?notice=password-reset"),
        )
            .into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, RESET_FIELDS)?;
            render_with(
                failure.status,
                &ResetPasswordPage {
                    layout: Layout::for_page("Choose a new password", &context),
                    token: form.token.trim().to_owned(),
                    errors: failure.errors,
                    alert: failure.alert,
                },
            )
        }
    }
}
