//! Confirming the e-mail (`/verify-email`): the mailed link opens a page whose button
//! confirms.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{Action, incomplete_link, message_page};
use crate::accounts::auth;
use crate::accounts::extract::{PageContext, safe_next, urlencode};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::pages::{Layout, render};

#[derive(Template)]
#[template(path = "account/verify_email.html")]
struct VerifyEmailPage {
    layout: Layout,
    token: String,
    next: String,
}

/// The mailed link: its token and the page to come back to (`next`, e.g. `/checkout`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct VerifyQuery {
    token: String,
    next: Option<String>,
}

/// The mailed link lands here. Opening it changes nothing (mail scanners open links): the
/// visitor confirms with a button.
pub(super) async fn verify_email_form(
    context: PageContext,
    Query(query): Query<VerifyQuery>,
) -> AppResult<Response> {
    let token = query.token.trim().to_owned();
    if token.is_empty() {
        return incomplete_link(&context, "Confirm your e-mail");
    }
    render(&VerifyEmailPage {
        layout: Layout::for_page("Confirm your e-mail", &context),
        token,
        next: safe_next(query.next.as_deref()),
    })
}

pub(super) async fn verify_email(
    State(state): State<AppState>,
    context: PageContext,
    Form(form): Form<VerifyQuery>,
) -> AppResult<Response> {
    let signed_in = context.user.is_some();
    let next = safe_next(form.next.as_deref());
    let back = next != "/account";
    match auth::verify_email(&state, form.token.trim()).await {
        Ok(user) => message_page(
            StatusCode::OK,
            Layout::for_page("E-mail confirmed", &context),
            "Your e-mail is confirmed",
            "success",
            vec![format!(
                "Thank you: {} is confirmed. You can now order servers.",
                user.email
            )],
            if signed_in {
                vec![
                    Action {
                        href: next.clone(),
                        label: if back { "Continue" } else { "Go to my account" },
                    },
                    Action {
                        href: "/".into(),
                        label: "See the plans",
                    },
                ]
            } else {
                vec![
                    Action {
                        href: if back {
                            format!("/login?next={}", urlencode(&next))
                        } else {
                            "/login".to_owned()
                        },
                        label: if back {
                            "Log in and continue"
                        } else {
                            "Log in"
                        },
                    },
                    Action {
                        href: "/".into(),
                        label: "See the plans",
                    },
                ]
            },
        ),
        Err(AppError::Validation(_)) => message_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Layout::for_page("Link not valid", &context),
            "This link does not work any more",
            "error",
            vec![
                "It was already used, has expired (links work for 24 hours) or is incomplete."
                    .to_owned(),
                "If your e-mail is not confirmed yet, ask for a new link from your account page."
                    .to_owned(),
            ],
            vec![Action {
                href: "/account".into(),
                label: "Send me a new link",
            }],
        ),
        Err(err) => Err(err),
    }
}
