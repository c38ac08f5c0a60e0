//! `/invite?token=`: an invited staff member chooses their password from the e-mailed link,
//! then logs in (and sets up two-factor sign-in there).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{TokenQuery, incomplete_link};
use crate::accounts::extract::PageContext;
use crate::accounts::staff_admin;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::forms::{Failure, FormErrors};
use crate::web::pages::{Layout, render, render_with};

const FIELDS: &[(&str, &str)] = &[
    ("password", "Password"),
    ("confirm_password", "Repeated password"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct InviteForm {
    token: String,
    password: String,
    confirm_password: String,
}

#[derive(Template)]
#[template(path = "account/accept_invite.html")]
struct InvitePage {
    layout: Layout,
    token: String,
    errors: FormErrors,
    alert: Option<String>,
}

pub(super) async fn invite_form(
    context: PageContext,
    Query(query): Query<TokenQuery>,
) -> AppResult<Response> {
    let token = query.token.trim().to_owned();
    if token.is_empty() {
        return incomplete_link(&context, "Join the staff");
    }
    render(&InvitePage {
        layout: Layout::for_page("Join the staff", &context),
        token,
        errors: FormErrors::default(),
        alert: None,
    })
}

pub(super) async fn accept_invite(
    State(state): State<AppState>,
    context: PageContext,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    let outcome = async {
        if form.password != form.confirm_password {
            return Err(AppError::invalid(
                "confirm_password",
                "must match the password",
            ));
        }
        staff_admin::accept_invite(&state, form.token.trim(), &form.password).await
    }
    .await;
    match outcome {
        Ok(_) => Ok(Redirect::to("/login?notice=invite-accepted&next=%2Fadmin").into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, FIELDS)?;
            render_with(
                failure.status,
                &InvitePage {
                    layout: Layout::for_page("Join the staff", &context),
                    token: form.token.trim().to_owned(),
                    errors: failure.errors,
                    alert: failure.alert,
                },
            )
        }
    }
}
