//! Registering (`/register`): the form, then "check your e-mail" — the same page whether or not
//! the address already had an account (its owner gets a note instead), so the page tells
//! nobody who has an account. The confirmed customer logs in; the guest cart joins then.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Action, message_page, see_other};
use crate::accounts::auth::{self, Registration};
use crate::accounts::extract::{PageContext, safe_next, urlencode};
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::extract::ClientIp;
use crate::web::forms::{Failure, FormErrors};
use crate::web::pages::render_with;
use crate::web::pages::{Layout, render};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RegisterForm {
    name: String,
    email: String,
    phone: String,
    password: String,
    /// The page to come back to once confirmed and logged in (`?next=`, e.g. `/checkout`).
    next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NextQuery {
    next: Option<String>,
}

/// Where the login after registering leads: `/login`, or `/login?next=…` for a page to come
/// back to.
fn login_href(next: &str) -> String {
    let next = safe_next(Some(next));
    if next == "/account" {
        "/login".to_owned()
    } else {
        format!("/login?next={}", urlencode(&next))
    }
}

const REGISTER_FIELDS: &[(&str, &str)] = &[
    ("name", "Full name"),
    ("email", "E-mail"),
    ("phone", "Mobile number"),
    ("password", "Password"),
];

#[derive(Template)]
#[template(path = "account/register.html")]
struct RegisterPage {
    layout: Layout,
    form: RegisterForm,
    errors: FormErrors,
    alert: Option<String>,
}

pub(super) async fn register_form(
    context: PageContext,
    Query(query): Query<NextQuery>,
) -> AppResult<Response> {
    let next = safe_next(query.next.as_deref());
    if context.user.is_some() {
        return Ok(see_other(&next));
    }
    render(&RegisterPage {
        layout: Layout::for_page("Create your account", &context),
        form: RegisterForm {
            next,
            ..RegisterForm::default()
        },
        errors: FormErrors::default(),
        alert: None,
    })
}

pub(super) async fn register(
    State(state): State<AppState>,
    context: PageContext,
    ClientIp(ip): ClientIp,
    Form(mut form): Form<RegisterForm>,
) -> AppResult<Response> {
    let outcome = async {
        auth::register(
            &state,
            Registration {
                name: form.name.clone(),
                email: form.email.clone(),
                phone: Some(form.phone.clone()),
                password: std::mem::take(&mut form.password),
                next: Some(safe_next(Some(&form.next))),
            },
            &ip,
        )
        .await
    }
    .await;
    match outcome {
        Ok(()) => message_page(
            StatusCode::OK,
            Layout::for_page("Check your e-mail", &context),
            "Check your e-mail",
            "success",
            vec![
                format!(
                    "We sent a link to {}. Open it to confirm your address, then log in.",
                    form.email.trim()
                ),
                "No e-mail after a few minutes? Look in the spam folder, or log in and ask for \
                 a new link."
                    .to_owned(),
            ],
            vec![Action {
                href: login_href(&form.next),
                label: "Log in",
            }],
        ),
        Err(err) => {
            let failure = Failure::from_error(err, REGISTER_FIELDS)?;
            form.password.clear();
            render_with(
                failure.status,
                &RegisterPage {
                    layout: Layout::for_page("Create your account", &context),
                    form,
                    errors: failure.errors,
                    alert: failure.alert,
                },
            )
        }
    }
}
