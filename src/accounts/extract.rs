//! Who is calling: extractors that authenticate a request and check its role.
//!
//! The API authenticates with `Authorization: Bearer <access token>`; every request re-checks
//! the token's session in the database, so a logout, a revoked session or a disabled account
//! stops its tokens at once. Pages authenticate with the session cookie (see `pages`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::jwt;
use super::sessions::{self, SessionUser};
use super::staff::{self, Permission};
use super::two_factor::{self, OperatorPolicy};
use super::users::User;
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::AppError;
use crate::secrets;
use crate::web::pages::{Action, Layout, message_page};

/// The name of the browser session cookie.
pub const SESSION_COOKIE: &str = "ngr_session";

/// An authenticated API caller.
#[derive(Clone, Debug)]
pub struct ApiUser {
    pub user: User,
    pub session_id: i32,
    /// When the session last proved a second factor.
    pub two_factor_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ApiUser {
    /// Refuses (403 naming `two-factor`) unless the session proved a code in the last ten
    /// minutes: for revealing passwords, approving payments and changing credentials.
    pub fn require_recent_two_factor(&self) -> Result<(), AppError> {
        two_factor::require_recent(&self.user, self.two_factor_at)
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or(AppError::Unauthorized)?;
        let claims = jwt::verify(
            state.settings.secrets.token_signing_key.expose(),
            token.trim(),
        )
        .ok_or(AppError::Unauthorized)?;
        let live = sessions::find_live_user(&state.db, claims.sid)
            .await?
            .filter(|live| Some(live.user.id) == claims.user_id())
            .ok_or(AppError::Unauthorized)?;
        touch_if_stale(state, Some(&live)).await?;
        let SessionUser {
            session_id,
            user,
            session_two_factor_at,
            ..
        } = live;
        Ok(Self {
            user,
            session_id,
            two_factor_at: session_two_factor_at,
        })
    }
}

/// An authenticated operator whose role holds the permission the route needs
/// ([`staff::for_route`]); a customer gets 403, so does a staff role without that permission,
/// and so does an operator whose session has not proved a second factor while
/// `NEXTGENRDP_OPERATOR_2FA=required`.
#[derive(Clone, Debug)]
pub struct ApiAdmin(pub ApiUser);

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = ApiUser::from_request_parts(parts, state).await?;
        if !caller.user.is_staff() {
            return Err(AppError::Forbidden("this needs an operator account".into()));
        }
        if state.settings.operator_two_factor == OperatorPolicy::Required
            && !signed_in_with_second_factor(&caller.user, caller.two_factor_at)
        {
            return Err(two_factor::operator_refusal(&caller.user));
        }
        let permission = route_permission(parts);
        if !caller.user.can(permission) {
            return Err(AppError::Forbidden(staff::refusal(
                caller.user.role,
                permission,
            )));
        }
        Ok(Self(caller))
    }
}

/// The permission the matched route needs; the owner's alone when the route is unknown (no
/// `MatchedPath`: never in the router, where every route has one).
fn route_permission(parts: &Parts) -> Permission {
    parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map_or(Permission::Staff, |matched| {
            staff::for_route(&parts.method, matched.as_str())
        })
}

/// Whether the account has two-factor sign-in on and this session proved it. Both: a session
/// that proved a code before its owner turned two-factor sign-in off does not count.
fn signed_in_with_second_factor(
    user: &User,
    two_factor_at: Option<chrono::DateTime<chrono::Utc>>,
) -> bool {
    user.two_factor_enabled_at.is_some() && two_factor_at.is_some()
}

/// The account behind a browser session cookie value, if live.
pub async fn cookie_user(
    state: &AppState,
    cookie_value: &str,
) -> Result<Option<SessionUser>, AppError> {
    if cookie_value.is_empty() || cookie_value.len() > 100 {
        return Ok(None);
    }
    let live =
        sessions::find_live_user_by_token_hash(&state.db, &secrets::hash(cookie_value)).await?;
    touch_if_stale(state, live.as_ref()).await?;
    Ok(live)
}

/// Records that a session is in use, at most every few minutes (a write per request would be
/// wasteful), so the session list shows when each device was last seen.
async fn touch_if_stale(state: &AppState, live: Option<&SessionUser>) -> Result<(), AppError> {
    if let Some(live) = live
        && live.needs_touch(chrono::Utc::now())
    {
        sessions::touch(&state.db, live.session_id).await?;
    }
    Ok(())
}

/// What every page knows about its visitor: the account behind the session cookie (if any) and
/// the CSRF token its forms must carry.
#[derive(Clone, Debug, Default)]
pub struct PageContext {
    pub user: Option<User>,
    pub session_id: Option<i32>,
    /// When the session last proved a second factor.
    pub two_factor_at: Option<chrono::DateTime<chrono::Utc>>,
    pub csrf: String,
    /// How to reach the shop (every page's footer).
    pub contact: std::sync::Arc<crate::config::Contact>,
    /// The path of the page asked for (the back office's menu marks where the visitor is).
    pub path: String,
}

impl FromRequestParts<AppState> for PageContext {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let csrf = parts
            .extensions
            .get::<crate::web::csrf::CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        let cookie = axum_extra::extract::CookieJar::from_headers(&parts.headers)
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_owned());
        let live = match cookie {
            Some(value) => cookie_user(state, &value).await?,
            None => None,
        };
        let path = parts.uri.path().to_owned();
        Ok(match live {
            Some(SessionUser {
                session_id,
                user,
                session_two_factor_at,
                ..
            }) => Self {
                user: Some(user),
                session_id: Some(session_id),
                two_factor_at: session_two_factor_at,
                csrf,
                contact: state.settings.contact.clone(),
                path,
            },
            None => Self {
                user: None,
                session_id: None,
                two_factor_at: None,
                csrf,
                contact: state.settings.contact.clone(),
                path,
            },
        })
    }
}

/// A logged-in visitor of a page; anonymous visitors are sent to `/login?next=<this page>`.
#[derive(Clone, Debug)]
pub struct PageUser {
    pub user: User,
    pub session_id: i32,
    pub context: PageContext,
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let context = PageContext::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match (&context.user, context.session_id) {
            (Some(user), Some(session_id)) => Ok(Self {
                user: user.clone(),
                session_id,
                context,
            }),
            _ => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/account");
                let target = format!("/login?next={}", urlencode(next));
                Err(axum::response::Redirect::to(&target).into_response())
            }
        }
    }
}

/// A logged-in operator on a page whose role holds the permission the route needs; a customer
/// or a role without it gets the 403 page, and an operator whose session has not proved a
/// second factor (while it is required) a page that says how to set it up.
#[derive(Clone, Debug)]
pub struct PageAdmin(pub PageUser);

impl ApiUser {
    /// This caller acting from `ip`, for the audit row of a verb.
    pub fn actor<'a>(&self, ip: &'a str) -> Actor<'a> {
        Actor {
            user_id: self.user.id,
            ip,
        }
    }
}

impl PageUser {
    /// This visitor acting from `ip`, for the audit row of a verb.
    pub fn actor<'a>(&self, ip: &'a str) -> Actor<'a> {
        Actor {
            user_id: self.user.id,
            ip,
        }
    }
}

impl PageUser {
    /// `None` when this session proved a code recently enough for a sensitive action; else the
    /// page answer: off to `/account/two-factor/verify`, which comes back to `back` once a
    /// fresh code is confirmed.
    pub fn two_factor_step_up(&self, back: &str) -> Option<axum::response::Response> {
        use axum::response::IntoResponse;
        two_factor::require_recent(&self.user, self.context.two_factor_at)
            .err()
            .map(|_| {
                let target = format!("/account/two-factor/verify?next={}", urlencode(back));
                axum::response::Redirect::to(&target).into_response()
            })
    }
}

impl FromRequestParts<AppState> for PageAdmin {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let page_user = PageUser::from_request_parts(parts, state).await?;
        if !page_user.user.is_staff() {
            return Err(crate::web::pages::error_page(
                axum::http::StatusCode::FORBIDDEN,
                "This page is for the shop's operators.",
            ));
        }
        if state.settings.operator_two_factor == OperatorPolicy::Required
            && !signed_in_with_second_factor(&page_user.user, page_user.context.two_factor_at)
        {
            return Err(two_factor_needed_page(&page_user.context));
        }
        let permission = route_permission(parts);
        if !page_user.user.can(permission) {
            return Err(crate::web::pages::error_page(
                axum::http::StatusCode::FORBIDDEN,
                &format!(
                    "Your role ({}) does not open this page: it needs the {} permission. \
                     Ask the shop's owner if you need it.",
                    page_user.user.role, permission
                ),
            ));
        }
        Ok(Self(page_user))
    }
}

/// Percent-encodes a value for a query string.
pub fn urlencode(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|s| s[1..].to_owned())
        .unwrap_or_default()
}

/// Where to go after logging in: only a path of this site, never another site (open redirects),
/// else `/account`.
///
/// Browsers are lenient with a `Location`: they drop tabs and newlines (`/\t/evil.example`
/// becomes `//evil.example`), read `\` as `/`, and treat `//host` as another site. So a target
/// is accepted only when it is a plain absolute path: it starts with one `/`, holds no control
/// character, space, backslash or `//` anywhere (nothing a browser could fold into a host), and
/// parses as an HTTP path and query (so it is also a valid header value).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if is_local_path(path) => path.to_owned(),
        _ => "/account".to_owned(),
    }
}

fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= 2000
        && path.is_ascii()
        && !path.contains("//")
        && !path
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
        && path.parse::<axum::http::uri::PathAndQuery>().is_ok()
}

/// The page an operator sees on `/admin` while their session has not proved a second factor.
pub fn two_factor_needed_page(context: &PageContext) -> Response {
    let enabled = context
        .user
        .as_ref()
        .is_some_and(|user| user.two_factor_enabled_at.is_some());
    let (paragraphs, action) = if enabled {
        (
            vec![
                "This session was opened before two-factor sign-in was on for your account."
                    .to_owned(),
                "Log out, then log in again with your password and the code of your \
                 authenticator app."
                    .to_owned(),
            ],
            Action {
                href: "/account".into(),
                label: "Go to your account",
            },
        )
    } else {
        (
            vec![
                "An operator account can reveal every customer's server password and approve \
                 payments, so it needs more than a password: turn on two-factor sign-in first."
                    .to_owned(),
                "It takes a minute with an authenticator app on your phone.".to_owned(),
            ],
            Action {
                href: "/account/two-factor".into(),
                label: "Set up two-factor sign-in",
            },
        )
    };
    message_page(
        StatusCode::FORBIDDEN,
        Layout::for_page("Two-factor sign-in needed", context),
        "Two-factor sign-in needed",
        "info",
        paragraphs,
        vec![action],
    )
    .unwrap_or_else(IntoResponse::into_response)
}

/// The page layout of a visitor (an inherent impl of the web kit's `Layout`, written here: the
/// kit knows no account).
impl Layout {
    /// The layout for the visitor of a page: their name, role and CSRF token.
    pub fn for_page(title: impl Into<String>, context: &PageContext) -> Self {
        Self {
            user_name: context.user.as_ref().map(|user| user.name.clone()),
            is_staff: context.user.as_ref().is_some_and(|user| user.is_staff()),
            side_nav: context
                .user
                .as_ref()
                .filter(|user| user.is_staff() && staff::is_back_office(&context.path))
                .map(|user| staff::side_nav(user.role, &context.path)),
            csrf: context.csrf.clone(),
            contact: context.contact.clone(),
            ..Self::new(title)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_login_only_paths_of_this_site_are_followed() {
        for good in [
            "/account",
            "/admin/payments?status=review",
            "/plans/rdp-starter-one",
        ] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\n",
            "/\r\nSet-Cookie: x=1",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/ /evil.example",
            "/a//b",
            "/pl\u{a0}ans",
            "/plans/\u{627}",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/account", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/account");
    }
}
