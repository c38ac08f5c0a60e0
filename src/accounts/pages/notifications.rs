//! `/account/notifications`: e-mail only, or e-mail + WhatsApp to a number verified with a code
//! sent to it. The same verbs as `/api/v1/me/notifications` and `/api/v1/me/whatsapp`.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::see_other;
use crate::accounts::extract::PageUser;
use crate::accounts::whatsapp::{self, Channels};
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::forms::{Failure, FormErrors, Notice, notice};
use crate::web::pages::{Layout, render_with};

const NOTICES: &[(&str, &str, &str)] = &[
    (
        "code-sent",
        "success",
        "We sent a code to your WhatsApp. Type it below within 15 minutes.",
    ),
    (
        "verified",
        "success",
        "Your WhatsApp number is verified: notices now come by e-mail and WhatsApp.",
    ),
    ("email-only", "success", "Notices now come by e-mail only."),
    (
        "whatsapp-on",
        "success",
        "Notices now come by e-mail and WhatsApp.",
    ),
];

#[derive(Template)]
#[template(path = "account/notifications.html")]
struct NotificationsPage {
    layout: Layout,
    notice: Option<Notice>,
    channels: Channels,
    number: String,
    errors: FormErrors,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ChooseForm {
    channels: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NumberForm {
    number: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CodeForm {
    code: String,
}

const FIELDS: &[(&str, &str)] = &[
    ("number", "WhatsApp number"),
    ("code", "Code"),
    ("whatsapp", "WhatsApp"),
];

async fn render(
    state: &AppState,
    visitor: &PageUser,
    status: StatusCode,
    notice: Option<Notice>,
    number: String,
    errors: FormErrors,
) -> AppResult<Response> {
    let channels = whatsapp::channels(state, visitor.user.id).await?;
    render_with(
        status,
        &NotificationsPage {
            layout: Layout::for_page("Notifications", &visitor.context),
            notice,
            number,
            channels,
            errors,
        },
    )
}

pub(super) async fn page(
    State(state): State<AppState>,
    visitor: PageUser,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), NOTICES);
    render(
        &state,
        &visitor,
        StatusCode::OK,
        notice,
        String::new(),
        FormErrors::default(),
    )
    .await
}

async fn refused(
    state: &AppState,
    visitor: &PageUser,
    err: crate::error::AppError,
    number: String,
) -> AppResult<Response> {
    let failure = Failure::from_error(err, FIELDS)?;
    render(state, visitor, failure.status, None, number, failure.errors).await
}

pub(super) async fn choose(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<ChooseForm>,
) -> AppResult<Response> {
    let whatsapp = form.channels == "email_whatsapp";
    match whatsapp::set_whatsapp(&state, &visitor.user, whatsapp).await {
        Ok(_) => Ok(see_other(if whatsapp {
            "/account/notifications?notice=whatsapp-on"
        } else {
            "/account/notifications?notice=email-only"
        })),
        Err(err) => refused(&state, &visitor, err, String::new()).await,
    }
}

pub(super) async fn send_code(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<NumberForm>,
) -> AppResult<Response> {
    match whatsapp::send_code(&state, &visitor.user, &form.number).await {
        Ok(_) => Ok(see_other("/account/notifications?notice=code-sent")),
        Err(err) => refused(&state, &visitor, err, form.number).await,
    }
}

pub(super) async fn verify(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    match whatsapp::confirm_code(&state, &visitor.user, &form.code).await {
        Ok(_) => Ok(see_other("/account/notifications?notice=verified")),
        Err(err) => refused(&state, &visitor, err, String::new()).await,
    }
}
