//! CSRF protection for every state-changing form (double-submit token).
//!
//! Every page request gets a random token in an HttpOnly, SameSite=Lax cookie (set once), and
//! pages render it into their forms as `csrf_token`. A non-GET request to a page route must send
//! the same value back in the form body (or the `x-csrf-token` header; a `multipart/form-data`
//! upload in its action's query string, `?csrf_token=`); another site can make the browser send
//! the cookie but cannot read it to fill the field. The JSON API is exempt: it authenticates
//! with a bearer header, which a browser never attaches by itself.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, SameSite};
use futures_util::future::{BoxFuture, Either};
use tower::ServiceExt;

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

/// The CSRF check as a tower layer, innermost of the router's stack (see [`protect`]).
///
/// A tower service rather than `axum::middleware::from_fn`: the API, most of the traffic, is
/// exempt, and goes straight to the route without the clone of the service below and the boxed
/// future that `from_fn` costs on every request (`bench/run`).
#[derive(Clone, Copy, Debug)]
pub struct CsrfLayer {
    secure_cookies: bool,
}

impl CsrfLayer {
    pub fn new(state: &AppState) -> Self {
        Self {
            secure_cookies: state.settings.secure_cookies(),
        }
    }
}

impl<S> tower::Layer<S> for CsrfLayer {
    type Service = Csrf<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Csrf {
            inner,
            secure_cookies: self.secure_cookies,
        }
    }
}

/// The service of [`CsrfLayer`].
#[derive(Clone, Debug)]
pub struct Csrf<S> {
    inner: S,
    secure_cookies: bool,
}

impl<S> tower::Service<Request> for Csrf<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if is_exempt(request.uri().path()) {
            return Either::Left(self.inner.call(request));
        }
        // The ready service answers this request; its clone waits for the next one.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let secure_cookies = self.secure_cookies;
        Either::Right(Box::pin(async move {
            Ok(protect(secure_cookies, request, ready).await)
        }))
    }
}

/// Whether a path is outside the CSRF check. The API authenticates with bearer tokens; a
/// payment provider's return is a cross-site POST authenticated by its own signature; the
/// probes change nothing.
fn is_exempt(path: &str) -> bool {
    path.starts_with("/api/") || EXEMPT.contains(&path)
}

/// Ensures a token exists and checks it on every state-changing page request.
async fn protect<S>(secure_cookies: bool, request: Request, inner: S) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
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
    let Ok(mut response) = inner.oneshot(request).await;
    if existing.is_none() {
        let cookie = Cookie::build((CSRF_COOKIE, token))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure_cookies)
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
