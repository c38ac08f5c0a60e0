//! Registering (`/register`): the form, and the new account logged in on this browser with
//! the guest cart merged into it.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{Failure, FormErrors, merge_guest_cart, render_with, see_other, session_cookie};
use crate::accounts::api::{limit, limits};
use crate::accounts::auth::{self, Client, Registration};
use crate::accounts::extract::PageContext;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::extract::{ClientIp, UserAgent};
use crate::web::pages::{Layout, render};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RegisterForm {
    name: String,
    email: String,
    phone: String,
    password: String,
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

pub(super) async fn register_form(context: PageContext) -> AppResult<Response> {
    if context.user.is_some() {
        return Ok(see_other("/account"));
    }
    render(&RegisterPage {
        layout: Layout::for_page("Create your account", &context),
        form: RegisterForm::default(),
        errors: FormErrors::default(),
        alert: None,
    })
}

pub(super) async fn register(
    State(state): State<AppState>,
    context: PageContext,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    headers: HeaderMap,
    jar: CookieJar,
    Form(mut form): Form<RegisterForm>,
) -> AppResult<Response> {
    let outcome = async {
        limit(
            &state,
            &[(format!("register:ip:{ip}"), limits::REGISTER_PER_IP)],
        )
        .await?;
        auth::register(
            &state,
            Registration {
                name: form.name.clone(),
                email: form.email.clone(),
                phone: Some(form.phone.clone()),
                password: std::mem::take(&mut form.password),
            },
        )
        .await
    }
    .await;
    match outcome {
        Ok(user) => {
            let client = Client {
                ip: Some(ip),
                user_agent,
            };
            let opened = auth::open_browser_session(&state.db, user, &client).await?;
            merge_guest_cart(&state, &headers, opened.user.id).await?;
            let jar = jar.add(session_cookie(&state, opened.token));
            Ok((jar, Redirect::to("/account?notice=welcome")).into_response())
        }
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
