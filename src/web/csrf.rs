//! CSRF protection for every state-changing form (double-submit token).
//!
//! Every page request gets a random token in an HttpOnly, SameSite=Lax cookie (set once), and
//! pages render it into their forms as `csrf_token`. A non-GET request to a page route must send
//! the same value back in the form body (or the `x-csrf-token` header; a `multipart/form-data`
//! upload in its action's query string, `?csrf_token=`); another site can make the browser send
//! the cookie but cannot read it to fill the field. The JSON API is exempt: it authenticates
//! with a bearer header, which a browser never attaches by itself.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::accounts::secrets;
use crate::app::AppState;

/// The CSRF cookie's name.
pub const CSRF_COOKIE: &str = "ngr_csrf";
/// The form field pages put the token in.
pub const CSRF_FIELD: &str = "csrf_token";

/// The request's CSRF token, for templates (`{{ csrf }}` in a hidden field).
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// Page routes that other sites post to by design, each verifying its own signature; and the
/// health probes, which hold no session and answer GET alone (any other method is the router's
/// 405, as the API document says).
const EXEMPT: &[&str] = &["/payments/jazzcash/return", "/healthz", "/readyz"];

/// Forms are small; a bigger body is refused before it is read.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// Ensures a token exists and checks it on every state-changing page request.
pub async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The API authenticates with bearer tokens; a payment provider's return is a cross-site
    // POST authenticated by its own signature; the probes change nothing.
    if request.uri().path().starts_with("/api/") || EXEMPT.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let existing = cookie_value(&request, CSRF_COOKIE).filter(|t| t.len() == 43);
    let token = existing.clone().unwrap_or_else(secrets::generate);
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );

    let mut request = request;
    if !safe {
        let header_token = request
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (parts, body) = request.into_parts();
        let (sent, body) = if is_multipart(&parts.headers) {
            // A file upload: not urlencoded, and larger than forms are allowed here; its form
            // carries the token in its action's query string (`?csrf_token=`) instead, and the
            // body streams on untouched to the route, which sets its own size limit.
            let query_token = parts
                .uri
                .query()
                .and_then(|query| form_field(query.as_bytes(), CSRF_FIELD));
            (header_token.or(query_token), body)
        } else {
            let bytes = match to_bytes(body, MAX_FORM_BYTES).await {
                Ok(bytes) => bytes,
                Err(_) => {
                    return crate::web::pages::error_page(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "The form is too large.",
                    );
                }
            };
            let sent = header_token.or_else(|| form_field(&bytes, CSRF_FIELD));
            (sent, Body::from(bytes))
        };
        let valid = match (&existing, &sent) {
            (Some(cookie), Some(sent)) => constant_time_eq(cookie.as_bytes(), sent.as_bytes()),
            _ => false,
        };
        if !valid {
            tracing::warn!(path = %parts.uri.path(), "refused a form without a valid CSRF token");
            return crate::web::pages::error_page(
                StatusCode::FORBIDDEN,
                "This form expired or did not come from this site. Go back, reload the page and try again.",
            );
        }
        request = Request::from_parts(parts, body);
    }
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if existing.is_none() {
        let cookie = Cookie::build((CSRF_COOKIE, token))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(state.settings.secure_cookies())
            .build();
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// A cookie's value from the request headers.
pub fn cookie_value(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether a request body is `multipart/form-data` (a form with a file).
fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// One field of an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_found_and_decoded() {
        assert_eq!(
            form_field(b"a=1&csrf_token=x%2By&b=2", "csrf_token").as_deref(),
            Some("x+y")
        );
        assert_eq!(form_field(b"a=1", "csrf_token"), None);
    }

    #[test]
    fn only_multipart_bodies_are_recognised_as_uploads() {
        let mut headers = HeaderMap::new();
        assert!(!is_multipart(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert!(!is_multipart(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Multipart/Form-Data; boundary=x"),
        );
        assert!(is_multipart(&headers));
    }

    #[test]
    fn tokens_compare_in_constant_time_and_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
