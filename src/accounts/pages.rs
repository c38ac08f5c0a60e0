//! The account pages: register, log in and out, confirm the e-mail, forgot and reset the
//! password, and the customer's own page (profile, password, sessions).
//!
//! Server-rendered forms over the same flows as the JSON API (`auth`), with the same rate
//! limits. The browser holds a `user_sessions` row through the HttpOnly session cookie; the CSRF
//! middleware has already checked every POST. A form that fails comes back with each problem
//! beside its field and the input kept, passwords excepted.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

use super::api::{account_key, limit, limits};
use super::auth::{self, Client, Registration, SESSION_TTL_DAYS};
use super::extract::{PageContext, PageUser, SESSION_COOKIE, safe_next};
use super::validation::{FieldErrors, parse_name, parse_phone};
use super::{sessions, users};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::extract::{ClientIp, UserAgent};
use crate::web::pages::{Layout, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/register", get(register_form).post(register))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/verify-email", get(verify_email_form).post(verify_email))
        .route(
            "/forgot-password",
            get(forgot_password_form).post(forgot_password),
        )
        .route(
            "/reset-password",
            get(reset_password_form).post(reset_password),
        )
        .route("/account", get(account))
        .route("/account/profile", post(update_profile))
        .route("/account/password", post(change_password))
        .route("/account/resend-verification", post(resend_verification))
        .route(
            "/account/sessions/revoke-others",
            post(revoke_other_sessions),
        )
        .route("/account/sessions/{id}/revoke", post(revoke_session))
}

// ---------------------------------------------------------------------------------------------
// Shared by the account and admin pages

/// The problems of a submitted form, by field, as sentences shown beside each field.
#[derive(Debug, Default)]
pub struct FormErrors(BTreeMap<String, String>);

impl FormErrors {
    /// The problem of `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records a problem in the words of the flows ("must be at least 8 characters"), turned
    /// into a sentence that names the field ("Password must be at least 8 characters.").
    pub(crate) fn add(&mut self, field: &str, label: &str, problem: &str) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| sentence(label, problem));
    }
}

/// "is required" about "Full name" → "Full name is required."; a message that already names
/// its subject is only capitalised.
pub(crate) fn sentence(label: &str, problem: &str) -> String {
    let problem = problem.trim().trim_end_matches('.');
    let text = if problem.starts_with("is ") || problem.starts_with("must ") {
        format!("{label} {problem}")
    } else {
        let mut chars = problem.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => label.to_owned(),
        }
    };
    format!("{text}.")
}

/// Why a form failed, ready to render: the status, the problems beside their fields, and a
/// problem of the whole form.
pub struct Failure {
    pub status: StatusCode,
    pub errors: FormErrors,
    pub alert: Option<String>,
}

impl Failure {
    fn new(status: StatusCode) -> Self {
        Self {
            status,
            errors: FormErrors::default(),
            alert: None,
        }
    }

    /// Sorts a flow's refusal onto the form whose fields are `labels` (name, label). Problems
    /// of other fields (a link's token) become the form's alert; anything that is not about
    /// the input (a database failure) stays an error, for the error page.
    pub(crate) fn from_error(err: AppError, labels: &[(&str, &str)]) -> AppResult<Self> {
        let status = err.status();
        let field_problems: Vec<(String, String)> = match err {
            AppError::Validation(errors) => errors.into_iter().collect(),
            AppError::Conflict {
                detail,
                field: Some(field),
            }
            | AppError::BadRequest {
                detail,
                field: Some(field),
            } => vec![(field, detail)],
            AppError::TooManyRequests { retry_after_secs } => {
                let minutes = retry_after_secs.div_ceil(60).max(1);
                let unit = if minutes == 1 { "minute" } else { "minutes" };
                let mut failure = Self::new(status);
                failure.alert = Some(format!(
                    "Too many attempts. Please wait {minutes} {unit} and try again."
                ));
                return Ok(failure);
            }
            AppError::Unauthorized => {
                let mut failure = Self::new(status);
                failure.alert = Some(WRONG_CREDENTIALS.to_owned());
                return Ok(failure);
            }
            AppError::Forbidden(message) => {
                let mut failure = Self::new(status);
                failure.alert = Some(sentence("", &message));
                return Ok(failure);
            }
            other => return Err(other),
        };
        let mut failure = Self::new(status);
        for (field, problem) in field_problems {
            match labels.iter().find(|(name, _)| *name == field) {
                Some((name, label)) => failure.errors.add(name, label, &problem),
                None => failure.alert = Some(sentence(&field, &problem)),
            }
        }
        Ok(failure)
    }
}

/// The one answer to a wrong e-mail or a wrong password.
const WRONG_CREDENTIALS: &str = "E-mail or password is wrong.";

/// A fixed message picked by a `?notice=` code: pages never echo text from the query string.
pub struct Notice {
    /// `success`, `info` or `error` (the `.alert-*` class).
    pub kind: &'static str,
    pub text: &'static str,
}

/// The notice of `code` in `table` (code, kind, text); unknown codes show nothing.
pub fn notice(code: Option<&str>, table: &[(&str, &'static str, &'static str)]) -> Option<Notice> {
    let code = code?;
    table
        .iter()
        .find(|(known, _, _)| *known == code)
        .map(|(_, kind, text)| Notice { kind, text })
}

/// Pakistan Standard Time: UTC+5 all year, no daylight saving.
fn pkt_offset() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600).expect("UTC+5 is a valid offset")
}

/// A moment as the shop shows it: `26 Nov 2026, 08:15 PKT`; "—" when there is none.
pub fn pkt(moment: Option<DateTime<Utc>>) -> String {
    match moment {
        Some(moment) => moment
            .with_timezone(&pkt_offset())
            .format("%-d %b %Y, %H:%M PKT")
            .to_string(),
        None => "—".to_owned(),
    }
}

/// Renders a template with a status other than 200.
pub fn render_with(status: StatusCode, template: &impl Template) -> AppResult<Response> {
    let mut response = render(template)?;
    *response.status_mut() = status;
    Ok(response)
}

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

/// What a visitor put in the cart as a guest joins their account's cart once they log in or
/// register, as with the API's login.
async fn merge_guest_cart(state: &AppState, headers: &HeaderMap, user_id: i32) -> AppResult<()> {
    let guest_cart = crate::orders::api::guest_cart_token(headers);
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

/// A page with a heading, a few sentences and links onwards.
#[derive(Template)]
#[template(path = "account/message.html")]
struct MessagePage {
    layout: Layout,
    heading: &'static str,
    /// `success`, `info` or `error`.
    kind: &'static str,
    paragraphs: Vec<String>,
    actions: Vec<Action>,
}

struct Action {
    href: &'static str,
    label: &'static str,
}

fn message_page(
    status: StatusCode,
    layout: Layout,
    heading: &'static str,
    kind: &'static str,
    paragraphs: Vec<String>,
    actions: Vec<Action>,
) -> AppResult<Response> {
    render_with(
        status,
        &MessagePage {
            layout,
            heading,
            kind,
            paragraphs,
            actions,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Register

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RegisterForm {
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

async fn register_form(context: PageContext) -> AppResult<Response> {
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

async fn register(
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

// ---------------------------------------------------------------------------------------------
// Log in and out

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoginQuery {
    next: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoginForm {
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

async fn login_form(context: PageContext, Query(query): Query<LoginQuery>) -> AppResult<Response> {
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

async fn login(
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
        ip: Some(ip.clone()),
        user_agent,
    };
    let outcome = async {
        limit(
            &state,
            &[
                (format!("login:ip:{ip}"), limits::LOGIN_PER_IP),
                (account_key("login", &form.email), limits::LOGIN_PER_ACCOUNT),
            ],
        )
        .await?;
        auth::login(&state, &form.email, &form.password, &client).await
    }
    .await;
    match outcome {
        Ok(opened) => {
            merge_guest_cart(&state, &headers, opened.user.id).await?;
            let jar = jar.add(session_cookie(&state, opened.token));
            Ok((jar, Redirect::to(&next)).into_response())
        }
        Err(err) => {
            let failure = Failure::from_error(err, &[])?;
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
async fn logout(
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

// ---------------------------------------------------------------------------------------------
// Confirm the e-mail

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenQuery {
    token: String,
}

#[derive(Template)]
#[template(path = "account/verify_email.html")]
struct VerifyEmailPage {
    layout: Layout,
    token: String,
}

/// The mailed link lands here. Opening it changes nothing (mail scanners open links): the
/// visitor confirms with a button.
async fn verify_email_form(
    context: PageContext,
    Query(query): Query<TokenQuery>,
) -> AppResult<Response> {
    let token = query.token.trim().to_owned();
    if token.is_empty() {
        return incomplete_link(&context, "Confirm your e-mail");
    }
    render(&VerifyEmailPage {
        layout: Layout::for_page("Confirm your e-mail", &context),
        token,
    })
}

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
            href: "/",
            label: "Back to the plans",
        }],
    )
}

async fn verify_email(
    State(state): State<AppState>,
    context: PageContext,
    Form(form): Form<TokenQuery>,
) -> AppResult<Response> {
    let signed_in = context.user.is_some();
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
                        href: "/account",
                        label: "Go to my account",
                    },
                    Action {
                        href: "/",
                        label: "See the plans",
                    },
                ]
            } else {
                vec![
                    Action {
                        href: "/login",
                        label: "Log in",
                    },
                    Action {
                        href: "/",
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
                href: "/account",
                label: "Send me a new link",
            }],
        ),
        Err(err) => Err(err),
    }
}

// ---------------------------------------------------------------------------------------------
// Forgot and reset the password

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EmailForm {
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

async fn forgot_password_form(context: PageContext) -> AppResult<Response> {
    render(&ForgotPasswordPage {
        layout: Layout::for_page("Forgot your password?", &context),
        email: String::new(),
        errors: FormErrors::default(),
        alert: None,
    })
}

/// The same answer whether or not an account uses the address.
async fn forgot_password(
    State(state): State<AppState>,
    context: PageContext,
    ClientIp(ip): ClientIp,
    Form(form): Form<EmailForm>,
) -> AppResult<Response> {
    let limited = limit(
        &state,
        &[
            (format!("forgot:ip:{ip}"), limits::FORGOT_PER_IP),
            (
                account_key("forgot", &form.email),
                limits::FORGOT_PER_ACCOUNT,
            ),
        ],
    )
    .await;
    if let Err(err) = limited {
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
    auth::forgot_password(&state, &form.email).await?;
    message_page(
        StatusCode::OK,
        Layout::for_page("Check your e-mail", &context),
        "Check your e-mail",
        "info",
        vec![
            "If an account uses this e-mail, a link to choose a new password is on its way. It works for one hour.".to_owned(),
            "Nothing after a few minutes? Look in the spam folder, or try again.".to_owned(),
        ],
        vec![Action { href: "/login", label: "Back to log in" }],
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ResetForm {
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

async fn reset_password_form(
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

async fn reset_password(
    State(state): State<AppState>,
    context: PageContext,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    let outcome = async {
        limit(&state, &[(format!("reset:ip:{ip}"), limits::RESET_PER_IP)]).await?;
        if form.password != form.confirm_password {
            return Err(AppError::invalid(
                "confirm_password",
                "must match the new password",
            ));
        }
        auth::reset_password(&state, form.token.trim(), &form.password).await
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

// ---------------------------------------------------------------------------------------------
// The account page

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
}

const ACCOUNT_NOTICES: &[(&str, &str, &str)] = &[
    (
        "welcome",
        "success",
        "Welcome to NextGenRDP! We sent you an e-mail: open its link to confirm your address.",
    ),
    ("profile-saved", "success", "Your profile is saved."),
    (
        "password-changed",
        "success",
        "Your password is changed. Your other devices are logged out.",
    ),
    ("session-revoked", "success", "That device is logged out."),
    (
        "sessions-revoked",
        "success",
        "Every other device is logged out.",
    ),
    (
        "verification-sent",
        "success",
        "A new confirmation link is on its way. It works for 24 hours.",
    ),
    (
        "already-verified",
        "info",
        "Your e-mail is already confirmed.",
    ),
    (
        "resend-wait",
        "error",
        "You asked for several links already. Please wait an hour before asking again.",
    ),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProfileForm {
    name: String,
    phone: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

const PASSWORD_FIELDS: &[(&str, &str)] = &[
    ("current_password", "Current password"),
    ("new_password", "New password"),
    ("confirm_password", "Repeated password"),
];

/// A session as its owner sees it.
struct SessionRow {
    id: i32,
    current: bool,
    browser: String,
    user_agent: String,
    ip: String,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "account/account.html")]
struct AccountPage {
    layout: Layout,
    email: String,
    verified: bool,
    notice: Option<Notice>,
    profile: ProfileForm,
    profile_errors: FormErrors,
    password_errors: FormErrors,
    sessions: Vec<SessionRow>,
    /// How many sessions other than this one are live.
    others: usize,
}

/// What the account page shows besides the stored values: a notice, or a failed form.
#[derive(Default)]
struct AccountView {
    status: Option<StatusCode>,
    notice: Option<Notice>,
    profile: Option<ProfileForm>,
    profile_errors: FormErrors,
    password_errors: FormErrors,
}

async fn account(
    State(state): State<AppState>,
    visitor: PageUser,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let view = AccountView {
        notice: notice(query.notice.as_deref(), ACCOUNT_NOTICES),
        ..Default::default()
    };
    account_page(&state, &visitor, view).await
}

async fn account_page(
    state: &AppState,
    visitor: &PageUser,
    view: AccountView,
) -> AppResult<Response> {
    let user = &visitor.user;
    let live = sessions::list_live_for_user(&state.db, user.id).await?;
    let others = live.iter().filter(|s| s.id != visitor.session_id).count();
    let sessions = live
        .into_iter()
        .map(|session| SessionRow {
            current: session.id == visitor.session_id,
            id: session.id,
            browser: browser_label(session.user_agent.as_deref()),
            user_agent: session.user_agent.unwrap_or_default(),
            ip: session.ip_address.unwrap_or_else(|| "—".to_owned()),
            created: pkt(session.created_at),
            last_used: pkt(session.last_used_at.or(session.created_at)),
        })
        .collect();
    let profile = view.profile.unwrap_or_else(|| ProfileForm {
        name: user.name.clone(),
        phone: user.phone.clone().unwrap_or_default(),
    });
    render_with(
        view.status.unwrap_or(StatusCode::OK),
        &AccountPage {
            layout: Layout::for_page("Your account", &visitor.context),
            email: user.email.clone(),
            verified: user.is_verified(),
            notice: view.notice,
            profile,
            profile_errors: view.profile_errors,
            password_errors: view.password_errors,
            sessions,
            others,
        },
    )
}

/// "Chrome on Android" from a User-Agent header, for the sessions table.
fn browser_label(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.trim().is_empty()) else {
        return "Unknown device".to_owned();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(name), None) | (None, Some(name)) => name.to_owned(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

async fn update_profile(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<ProfileForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let name = errors.check("name", parse_name(&form.name));
    let phone = match form.phone.trim() {
        "" => Some(None),
        text => errors.check("phone", parse_phone(text)).map(Some),
    };
    let (Some(name), Some(phone)) = (name, phone) else {
        let failure = Failure::from_error(
            AppError::Validation(errors.0),
            &[("name", "Full name"), ("phone", "Mobile number")],
        )?;
        let view = AccountView {
            status: Some(failure.status),
            profile: Some(ProfileForm {
                name: form.name,
                phone: form.phone,
            }),
            profile_errors: failure.errors,
            ..Default::default()
        };
        return account_page(&state, &visitor, view).await;
    };
    users::update_profile(&state.db, visitor.user.id, &name, phone.as_deref()).await?;
    Ok(see_other("/account?notice=profile-saved"))
}

/// Changes the password; this session stays, the others end.
async fn change_password(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    let outcome = if form.new_password != form.confirm_password {
        Err(AppError::invalid(
            "confirm_password",
            "must match the new password",
        ))
    } else {
        auth::change_password(
            &state,
            &visitor.user,
            visitor.session_id,
            &form.current_password,
            &form.new_password,
        )
        .await
    };
    match outcome {
        Ok(()) => Ok(see_other("/account?notice=password-changed")),
        Err(err) => {
            let failure = Failure::from_error(err, PASSWORD_FIELDS)?;
            let view = AccountView {
                status: Some(failure.status),
                password_errors: failure.errors,
                ..Default::default()
            };
            account_page(&state, &visitor, view).await
        }
    }
}

/// Ends one of the visitor's sessions; someone else's session is a 404, as if it did not exist.
async fn revoke_session(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    if !sessions::revoke(&state.db, id, visitor.user.id, "user_revoked").await? {
        return Err(AppError::NotFound("session"));
    }
    Ok(see_other("/account?notice=session-revoked"))
}

async fn revoke_other_sessions(
    State(state): State<AppState>,
    visitor: PageUser,
) -> AppResult<Response> {
    sessions::revoke_all_for_user(
        &state.db,
        visitor.user.id,
        Some(visitor.session_id),
        "user_revoked",
    )
    .await?;
    Ok(see_other("/account?notice=sessions-revoked"))
}

async fn resend_verification(
    State(state): State<AppState>,
    visitor: PageUser,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    if visitor.user.is_verified() {
        return Ok(see_other("/account?notice=already-verified"));
    }
    let limited = limit(
        &state,
        &[
            (format!("resend:ip:{ip}"), limits::RESEND_PER_IP),
            (
                account_key("resend", &visitor.user.email),
                limits::RESEND_PER_ACCOUNT,
            ),
        ],
    )
    .await;
    match limited {
        Err(AppError::TooManyRequests { .. }) => {
            return Ok(see_other("/account?notice=resend-wait"));
        }
        Err(err) => return Err(err),
        Ok(()) => {}
    }
    auth::resend_verification(&state, &visitor.user.email).await?;
    Ok(see_other("/account?notice=verification-sent"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_become_sentences_naming_the_field() {
        assert_eq!(
            sentence("Password", "must be at least 8 characters"),
            "Password must be at least 8 characters."
        );
        assert_eq!(
            sentence("Full name", "is required"),
            "Full name is required."
        );
        assert_eq!(
            sentence("E-mail", "an account with this e-mail already exists"),
            "An account with this e-mail already exists."
        );
    }

    #[test]
    fn times_are_shown_in_pakistan_time() {
        let moment = DateTime::parse_from_rfc3339("2026-11-26T03:15:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(pkt(Some(moment)), "26 Nov 2026, 08:15 PKT");
        let early = DateTime::parse_from_rfc3339("2026-03-01T20:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(pkt(Some(early)), "2 Mar 2026, 01:05 PKT");
        assert_eq!(pkt(None), "—");
    }

    #[test]
    fn notices_come_from_a_fixed_table() {
        assert_eq!(
            notice(Some("welcome"), ACCOUNT_NOTICES).unwrap().kind,
            "success"
        );
        assert!(notice(Some("<script>alert(1)</script>"), ACCOUNT_NOTICES).is_none());
        assert!(notice(None, ACCOUNT_NOTICES).is_none());
    }

    #[test]
    fn browsers_are_named_briefly() {
        let android = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36";
        assert_eq!(browser_label(Some(android)), "Chrome on Android");
        let windows =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(browser_label(Some(windows)), "Firefox on Windows");
        assert_eq!(browser_label(None), "Unknown device");
    }
}
