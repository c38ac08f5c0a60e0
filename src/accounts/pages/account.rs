//! The customer's own page (`/account`): the profile and password forms, the live sessions
//! with a button to end each (or all the others), and a new confirmation link on request.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::see_other;
use crate::accounts::auth;
use crate::accounts::extract::PageUser;
use crate::accounts::validation::{FieldErrors, parse_name, parse_phone};
use crate::accounts::{credit, sessions, users};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;
use crate::web::extract::ClientIp;
use crate::web::forms::{Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::Layout;
use crate::web::pages::render_with;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
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
pub(super) struct ProfileForm {
    name: String,
    phone: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

const PASSWORD_FIELDS: &[(&str, &str)] = &[
    ("current_password", "Current password"),
    ("new_password", "New password"),
    ("confirm_password", "Repeated password"),
];

/// A credit movement as its owner sees it.
struct CreditRow {
    when: String,
    /// `+Rs 1,500` or `-Rs 400`.
    amount: String,
    reason: String,
    balance_after: String,
}

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
    two_factor_enabled: bool,
    credit_balance: String,
    /// The newest ten credit movements.
    credit: Vec<CreditRow>,
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

pub(super) async fn account(
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
    let credit_balance = format_pkr(credit::balance(&state.db, user.id).await?);
    let credit = credit::entries(&state.db, user.id, 10)
        .await?
        .into_iter()
        .map(|entry| CreditRow {
            when: pkt(Some(entry.created_at)),
            amount: if entry.amount_pkr > 0 {
                format!("+{}", format_pkr(entry.amount_pkr))
            } else {
                format!("-{}", format_pkr(-entry.amount_pkr))
            },
            reason: entry.reason,
            balance_after: format_pkr(entry.balance_after_pkr),
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
            two_factor_enabled: user.two_factor_enabled_at.is_some(),
            credit_balance,
            credit,
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

pub(super) async fn update_profile(
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
pub(super) async fn change_password(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    if visitor.user.is_staff()
        && let Some(step_up) = visitor.two_factor_step_up("/account")
    {
        return Ok(step_up);
    }
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
pub(super) async fn revoke_session(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    if !sessions::revoke(&state.db, id, visitor.user.id, "user_revoked").await? {
        return Err(AppError::NotFound("session"));
    }
    Ok(see_other("/account?notice=session-revoked"))
}

pub(super) async fn revoke_other_sessions(
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

pub(super) async fn resend_verification(
    State(state): State<AppState>,
    visitor: PageUser,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    if visitor.user.is_verified() {
        return Ok(see_other("/account?notice=already-verified"));
    }
    match auth::resend_verification(&state, &visitor.user.email, &ip).await {
        Ok(()) => Ok(see_other("/account?notice=verification-sent")),
        Err(AppError::TooManyRequests { .. }) => Ok(see_other("/account?notice=resend-wait")),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
