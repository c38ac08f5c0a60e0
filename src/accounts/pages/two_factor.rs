//! Two-factor sign-in on the pages: setting it up (`/account/two-factor`, with the QR code),
//! turning it off, new recovery codes, a login's second step (`/login/two-factor`) and the fresh
//! code an operator's sensitive actions ask for (`/account/two-factor/verify`). The verbs are in
//! [`crate::accounts::two_factor`].

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{see_other, signed_in};
use crate::accounts::auth;
use crate::accounts::extract::{PageContext, PageUser, safe_next};
use crate::accounts::signin::Client;
use crate::accounts::two_factor::{self, OperatorPolicy};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::extract::{ClientIp, UserAgent};
use crate::web::forms::{Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::Layout;
use crate::web::pages::render_with;

const CODE_FIELD: &[(&str, &str)] = &[("code", "Code")];

const NOTICES: &[(&str, &str, &str)] = &[
    (
        "enabled",
        "success",
        "Two-factor sign-in is on. Your other devices were logged out.",
    ),
    ("disabled", "success", "Two-factor sign-in is off."),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CodeForm {
    code: String,
}

/// The key and QR code of an enrolment being set up.
struct Setup {
    qr: String,
    /// The base32 key in groups of four, easier to type.
    secret_grouped: String,
}

#[derive(Template)]
#[template(path = "account/two_factor.html")]
struct TwoFactorPage {
    layout: Layout,
    notice: Option<Notice>,
    alert: Option<String>,
    operator_must: bool,
    is_operator: bool,
    enabled: bool,
    enabled_at: String,
    recovery_left: i64,
    setup: Option<Setup>,
    recovery_codes: Option<Vec<String>>,
    errors: FormErrors,
    codes_errors: FormErrors,
    disable_errors: FormErrors,
}

/// What the page shows besides the account's state.
#[derive(Default)]
struct View {
    status: Option<StatusCode>,
    notice: Option<Notice>,
    alert: Option<String>,
    setup: Option<Setup>,
    recovery_codes: Option<Vec<String>>,
    errors: FormErrors,
    codes_errors: FormErrors,
    disable_errors: FormErrors,
}

async fn page(state: &AppState, visitor: &PageUser, view: View) -> AppResult<Response> {
    let user = &visitor.user;
    let status = two_factor::status(state, user).await?;
    render_with(
        view.status.unwrap_or(StatusCode::OK),
        &TwoFactorPage {
            layout: Layout::for_page("Two-factor sign-in", &visitor.context),
            notice: view.notice,
            alert: view.alert,
            operator_must: user.is_staff()
                && !status.enabled
                && state.settings.operator_two_factor == OperatorPolicy::Required,
            is_operator: user.is_staff(),
            enabled: status.enabled,
            enabled_at: pkt(status.enabled_at),
            recovery_left: status.recovery_codes_left,
            setup: view.setup,
            recovery_codes: view.recovery_codes,
            errors: view.errors,
            codes_errors: view.codes_errors,
            disable_errors: view.disable_errors,
        },
    )
}

fn group(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `/account/two-factor`: on or off, and the forms that change it.
pub(super) async fn two_factor_page(
    State(state): State<AppState>,
    visitor: PageUser,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let view = View {
        notice: notice(query.notice.as_deref(), NOTICES),
        ..View::default()
    };
    page(&state, &visitor, view).await
}

/// Starts an enrolment: the QR code, the key and the recovery codes, with the form for the
/// app's first code.
pub(super) async fn start(State(state): State<AppState>, visitor: PageUser) -> AppResult<Response> {
    match two_factor::start(&state, &visitor.user).await {
        Ok(enrolment) => {
            let setup = Setup {
                qr: enrolment.qr_data_uri(),
                secret_grouped: group(&enrolment.secret),
            };
            let view = View {
                setup: Some(setup),
                recovery_codes: Some(enrolment.recovery_codes),
                ..View::default()
            };
            let mut response = page(&state, &visitor, view).await?;
            no_store(&mut response);
            Ok(response)
        }
        Err(err) => failed(&state, &visitor, err, |view, errors| view.errors = errors).await,
    }
}

/// Confirms the enrolment with the app's first code.
pub(super) async fn confirm(
    State(state): State<AppState>,
    visitor: PageUser,
    ClientIp(ip): ClientIp,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let outcome = two_factor::confirm(
        &state,
        &visitor.user,
        visitor.session_id,
        &form.code,
        Some(&ip),
    )
    .await;
    match outcome {
        Ok(_) => Ok(see_other("/account/two-factor?notice=enabled")),
        Err(err) => {
            // Show the same key again to try once more (the recovery codes were shown already).
            let setup =
                two_factor::pending_setup(&state, &visitor.user)
                    .await?
                    .map(|(secret, uri)| Setup {
                        qr: two_factor::qr_data_uri(&uri),
                        secret_grouped: group(&secret),
                    });
            let failure = Failure::from_error(err, CODE_FIELD)?;
            let view = View {
                status: Some(failure.status),
                alert: failure.alert,
                errors: failure.errors,
                setup,
                ..View::default()
            };
            let mut response = page(&state, &visitor, view).await?;
            no_store(&mut response);
            Ok(response)
        }
    }
}

/// Turns it off with a code.
pub(super) async fn disable(
    State(state): State<AppState>,
    visitor: PageUser,
    ClientIp(ip): ClientIp,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    match two_factor::disable(&state, &visitor.user, &form.code, Some(&ip)).await {
        Ok(()) => Ok(see_other("/account/two-factor?notice=disabled")),
        Err(err) => {
            failed(&state, &visitor, err, |view, errors| {
                view.disable_errors = errors;
            })
            .await
        }
    }
}

/// New recovery codes, shown once.
pub(super) async fn recovery_codes(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    match two_factor::new_recovery_codes(&state, &visitor.user, &form.code).await {
        Ok(codes) => {
            let view = View {
                recovery_codes: Some(codes),
                ..View::default()
            };
            let mut response = page(&state, &visitor, view).await?;
            no_store(&mut response);
            Ok(response)
        }
        Err(err) => {
            failed(&state, &visitor, err, |view, errors| {
                view.codes_errors = errors;
            })
            .await
        }
    }
}

/// The page again with a form's refusal beside the form it belongs to.
async fn failed(
    state: &AppState,
    visitor: &PageUser,
    err: AppError,
    place: impl FnOnce(&mut View, FormErrors),
) -> AppResult<Response> {
    let failure = Failure::from_error(err, CODE_FIELD)?;
    let mut view = View {
        status: Some(failure.status),
        alert: failure.alert,
        ..View::default()
    };
    place(&mut view, failure.errors);
    page(state, visitor, view).await
}

/// Secrets and recovery codes are not for any cache.
fn no_store(response: &mut Response) {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
}

// ---------------------------------------------------------------------------------------------
// The login's second step

#[derive(Template)]
#[template(path = "account/login_two_factor.html")]
pub(super) struct LoginCodePage {
    pub layout: Layout,
    pub mfa_token: String,
    pub next: String,
    pub errors: FormErrors,
    pub alert: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LoginCodeForm {
    mfa_token: String,
    code: String,
    next: String,
}

/// The code for a login whose password was right: a session on this browser, then `next`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn login_code(
    State(state): State<AppState>,
    context: PageContext,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginCodeForm>,
) -> AppResult<Response> {
    let next = safe_next(Some(&form.next));
    let client = Client {
        ip: Some(ip),
        user_agent,
        device: None,
    };
    match auth::login_second_step(&state, &form.mfa_token, &form.code, &client).await {
        Ok(opened) => signed_in(&state, &headers, jar, opened, &next).await,
        Err(err) => {
            let gone =
                matches!(&err, AppError::Validation(errors) if errors.contains_key("mfa_token"));
            let failure = Failure::from_error(err, CODE_FIELD)?;
            if gone {
                return Ok(see_other(&format!(
                    "/login?notice=code-expired&next={}",
                    crate::accounts::extract::urlencode(&next)
                )));
            }
            render_with(
                failure.status,
                &LoginCodePage {
                    layout: Layout::for_page("Enter your code", &context),
                    mfa_token: form.mfa_token,
                    next,
                    errors: failure.errors,
                    alert: failure.alert,
                },
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A fresh code for a sensitive action (step-up)

#[derive(Template)]
#[template(path = "account/two_factor_verify.html")]
struct VerifyPage {
    layout: Layout,
    next: String,
    errors: FormErrors,
    alert: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NextQuery {
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct VerifyForm {
    code: String,
    next: String,
}

pub(super) async fn verify_form(
    visitor: PageUser,
    Query(query): Query<NextQuery>,
) -> AppResult<Response> {
    if visitor.user.two_factor_enabled_at.is_none() {
        return Ok(see_other("/account/two-factor"));
    }
    render_with(
        StatusCode::OK,
        &VerifyPage {
            layout: Layout::for_page("Confirm it is you", &visitor.context),
            next: safe_next(query.next.as_deref()),
            errors: FormErrors::default(),
            alert: None,
        },
    )
}

pub(super) async fn verify(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<VerifyForm>,
) -> AppResult<Response> {
    let next = safe_next(Some(&form.next));
    match two_factor::step_up(&state, &visitor.user, visitor.session_id, &form.code).await {
        Ok(()) => Ok(see_other(&next)),
        Err(err) => {
            let failure = Failure::from_error(err, CODE_FIELD)?;
            render_with(
                failure.status,
                &VerifyPage {
                    layout: Layout::for_page("Confirm it is you", &visitor.context),
                    next,
                    errors: failure.errors,
                    alert: failure.alert,
                },
            )
        }
    }
}
