//! Server-rendered pages (askama): the base layout's data, rendering, and the error page. The
//! pages themselves live with their domain (the storefront, home page included, in
//! `catalog::pages`).

use std::sync::{Arc, LazyLock};

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::config::Contact;
use crate::error::{AppError, AppResult};
use crate::web::assets;

/// Content-Security-Policy of every page: our own scripts and styles only, no inline script,
/// never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
     base-uri 'self'; frame-ancestors 'none'; object-src 'none'";

/// A side menu: groups of links, one of them (perhaps) the page shown.
#[derive(Clone, Debug, Default)]
pub struct SideNav {
    pub groups: Vec<NavGroup>,
}

/// A titled group of a [`SideNav`] (the first, untitled).
#[derive(Clone, Debug)]
pub struct NavGroup {
    pub title: Option<&'static str>,
    pub links: Vec<NavLink>,
}

/// A link of a [`SideNav`].
#[derive(Clone, Debug)]
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    /// Whether it leads to the page shown (or the part of the site it heads).
    pub current: bool,
}

/// What every page's layout needs, the visitor included (for the navigation).
pub struct Layout {
    pub title: String,
    pub css_url: String,
    pub js_url: String,
    pub favicon_url: String,
    /// The logged-in visitor's name; `None` for anonymous visitors.
    pub user_name: Option<String>,
    /// Whether the visitor is on the staff (the nav links to the back office).
    pub is_staff: bool,
    /// The back office's menu, on its pages (for a staff visitor; `None` elsewhere).
    pub side_nav: Option<SideNav>,
    /// The CSRF token every form of the page must carry (`csrf_token`).
    pub csrf: String,
    /// How to reach the shop (the footer).
    pub contact: Arc<Contact>,
    /// A visitor with a session cookie on a page that did not look the session up (an error
    /// page): the header offers their account rather than "Log in / Register".
    pub signed_in_hint: bool,
}

static NO_CONTACT: LazyLock<Arc<Contact>> = LazyLock::new(|| Arc::new(Contact::default()));

impl Layout {
    /// The layout for an anonymous visitor (error pages).
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            css_url: assets::url("app.css"),
            js_url: assets::url("app.js"),
            favicon_url: assets::url("favicon.svg"),
            user_name: None,
            is_staff: false,
            side_nav: None,
            csrf: String::new(),
            contact: NO_CONTACT.clone(),
            signed_in_hint: false,
        }
    }

    /// The same, with the shop's contact details in the footer.
    pub fn with_contact(mut self, contact: &Arc<Contact>) -> Self {
        self.contact = contact.clone();
        self
    }

    /// A WhatsApp click-to-chat link with `text` filled in (`None` without a WhatsApp number).
    pub fn whatsapp(&self, text: &str) -> Option<String> {
        self.contact.whatsapp_link(text)
    }

    /// A WhatsApp link about order `id`, its reference (`NGR-<id>`) filled in.
    pub fn whatsapp_order(&self, id: &i32) -> Option<String> {
        self.whatsapp(&format!("Hello NextGenRDP, about my order NGR-{id}: "))
    }

    /// A WhatsApp link about server `id`.
    pub fn whatsapp_service(&self, id: &i32) -> Option<String> {
        self.whatsapp(&format!("Hello NextGenRDP, about my server #{id}: "))
    }
}

/// A page with a heading, a few sentences and links onwards.
#[derive(Template)]
#[template(path = "account/message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub heading: &'static str,
    /// `success`, `info` or `error`.
    pub kind: &'static str,
    pub paragraphs: Vec<String>,
    pub actions: Vec<Action>,
}

/// A link onwards from a message page.
pub struct Action {
    pub href: String,
    pub label: &'static str,
}

/// Renders a message page with `status`.
pub fn message_page(
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

/// Renders a template with a status other than 200.
pub fn render_with(status: StatusCode, template: &impl Template) -> AppResult<Response> {
    let mut response = render(template)?;
    *response.status_mut() = status;
    Ok(response)
}

/// Renders a template into an HTML response; a template error is a 500.
pub fn render(template: &impl Template) -> Result<Response, AppError> {
    let html = template
        .render()
        .map_err(|err| AppError::Internal(err.into()))?;
    Ok(Html(html).into_response())
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    reason: &'a str,
    message: &'a str,
}

/// The HTML page for an error status.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    error_page_with(
        Layout::new(status.canonical_reason().unwrap_or("Error")),
        status,
        message,
    )
}

/// The HTML page for an error status in `layout` (with the shop's contact details, and for a
/// visitor who looks signed in, a link to their account).
pub fn error_page_with(layout: Layout, status: StatusCode, message: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let page = ErrorPage {
        layout,
        status: status.as_u16(),
        reason,
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, reason.to_owned()).into_response(),
    }
}

/// Lets a page's one form post to the provider at `url` (the policy's `form-action` names its
/// origin, nothing else changes), and keeps the page out of caches: its signed fields carry
/// the merchant's credentials or a one-time token.
pub fn allow_form_to(response: &mut Response, url: &str) {
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    if let Some(origin) = form_origin(url) {
        let policy = CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        );
        if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
            headers.insert(axum::http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// The scheme, host and port of a form's target, for the page's `form-action`; `None` for
/// anything that is not a plain http(s) URL.
fn form_origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !["https", "http"].contains(&scheme) {
        return None;
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = &url[..scheme.len() + 3 + host_end];
    let host = &rest[..host_end];
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    plain.then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_https_origins_reach_the_policy() {
        assert_eq!(
            form_origin(
                "https://sandbox.jazzcash.com.pk/CustomerPortal/transactionmanagement/merchantform/"
            ),
            Some("https://sandbox.jazzcash.com.pk")
        );
        assert_eq!(
            form_origin("http://127.0.0.1:9000/pay"),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(form_origin("javascript:alert(1)"), None);
        assert_eq!(form_origin("https://evil.test; script-src *"), None);
    }
}
