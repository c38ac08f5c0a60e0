//! CSRF protection for every state-changing form (double-submit token, bound to the session).
//!
//! Every page request gets a token in an HttpOnly, SameSite=Lax cookie, and pages render it into
//! their forms as `csrf_token`. A non-GET request to a page route must send the same value back
//! in the form body (or the `x-csrf-token` header; a `multipart/form-data` upload in its action's
//! query string, `?csrf_token=`); another site can make the browser send the cookie but cannot
//! read it to fill the field. The JSON API is exempt: it authenticates with a bearer header,
//! which a browser never attaches by itself.
//!
//! The token is `<nonce>.<mac>`: a MAC with a key only the shop has over the nonce and the hash of
//! the session cookie it was issued with (none for a visitor not logged in). So a token planted
//! in the browser by someone else (a cookie set from a sibling subdomain or over plain http) is
//! worthless: it is not bound to the victim's session, and a new one replaces it. Logging in or
//! out changes the session, so the token is re-issued then. Under https the cookie is named
//! `__Host-ngr_csrf`: browsers accept it only with `Secure`, `Path=/` and no `Domain`, so no
//! other host can set it at all.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, SameSite};
use futures_util::future::{BoxFuture, Either};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tower::ServiceExt;

use crate::secrets;

/// The CSRF cookie's name over plain http (development).
pub const CSRF_COOKIE: &str = "ngr_csrf";
/// Its name when the shop is served over https.
pub const CSRF_COOKIE_SECURE: &str = "__Host-ngr_csrf";
/// The form field pages put the token in.
pub const CSRF_FIELD: &str = "csrf_token";

/// The request's CSRF token, for templates (`{{ csrf }}` in a hidden field).
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// Page routes that other sites post to by design, each verifying its own signature (or, for
/// Easypaisa's unsigned return, believing nothing it says without asking Easypay); and the
/// health probes, which hold no session and answer GET alone (any other method is the router's
/// 405, as the API document says).
const EXEMPT: &[&str] = &[
    "/payments/jazzcash/return",
    "/payments/easypaisa/return",
    "/healthz",
    "/readyz",
];

/// Forms are small; a bigger body is refused before it is read.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The CSRF check as a tower layer, innermost of the router's stack (see [`protect`]).
///
/// A tower service rather than `axum::middleware::from_fn`: the API, most of the traffic, is
/// exempt, and goes straight to the route without the clone of the service below and the boxed
/// future that `from_fn` costs on every request (`bench/run`).
#[derive(Clone, Debug)]
pub struct CsrfLayer {
    keys: Arc<Keys>,
}

/// What the check needs: whether cookies are `Secure`, and the MAC key (derived from the token
/// signing key, so the two never share a value).
struct Keys {
    secure_cookies: bool,
    /// The name of the session cookie a token is bound to.
    session_cookie: &'static str,
    mac_key: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

impl CsrfLayer {
    /// Tokens bound to the cookie `session_cookie` with a MAC keyed from `signing_key`;
    /// `secure_cookies` under https.
    pub fn new(signing_key: &[u8], session_cookie: &'static str, secure_cookies: bool) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(signing_key).expect("HMAC takes any key length");
        mac.update(b"nextgenrdp csrf tokens v1");
        Self {
            keys: Arc::new(Keys {
                secure_cookies,
                session_cookie,
                mac_key: mac.finalize().into_bytes().into(),
            }),
        }
    }
}

impl<S> tower::Layer<S> for CsrfLayer {
    type Service = Csrf<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Csrf {
            inner,
            keys: self.keys.clone(),
        }
    }
}

/// The service of [`CsrfLayer`].
#[derive(Clone, Debug)]
pub struct Csrf<S> {
    inner: S,
    keys: Arc<Keys>,
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
        let keys = self.keys.clone();
        Either::Right(Box::pin(
            async move { Ok(protect(&keys, request, ready).await) },
        ))
    }
}

/// Whether a path is outside the CSRF check. The API authenticates with bearer tokens; a
/// payment provider's return is a cross-site POST authenticated by its own signature; the
/// probes change nothing.
fn is_exempt(path: &str) -> bool {
    path.starts_with("/api/") || EXEMPT.contains(&path)
}

/// A token for the session cookie `session` (`None`: not logged in): `<nonce>.<mac>`.
fn issue(keys: &Keys, session: Option<&str>) -> String {
    let nonce = secrets::generate();
    let mac = binding_mac(keys, &nonce, session);
    format!("{nonce}.{mac}")
}

fn binding_mac(keys: &Keys, nonce: &str, session: Option<&str>) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&keys.mac_key).expect("HMAC takes any key length");
    mac.update(nonce.as_bytes());
    mac.update(b":");
    mac.update(secrets::hash(session.unwrap_or("")).as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// Whether `token` is one this shop issued for the session cookie `session`.
fn is_bound(keys: &Keys, token: &str, session: Option<&str>) -> bool {
    let Some((nonce, mac)) = token.split_once('.') else {
        return false;
    };
    nonce.len() == 43
        && crate::crypto::constant_time_eq(
            binding_mac(keys, nonce, session).as_bytes(),
            mac.as_bytes(),
        )
}

/// The CSRF cookie's name under these settings.
fn cookie_name(keys: &Keys) -> &'static str {
    if keys.secure_cookies {
        CSRF_COOKIE_SECURE
    } else {
        CSRF_COOKIE
    }
}

/// Ensures a token bound to the visitor's session exists and checks it on every state-changing
/// page request.
async fn protect<S>(keys: &Keys, request: Request, inner: S) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let session = cookie_value(&request, keys.session_cookie);
    let existing = cookie_value(&request, cookie_name(keys))
        .filter(|token| is_bound(keys, token, session.as_deref()));
    let token = existing
        .clone()
        .unwrap_or_else(|| issue(keys, session.as_deref()));
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
            (Some(cookie), Some(sent)) => {
                crate::crypto::constant_time_eq(cookie.as_bytes(), sent.as_bytes())
            }
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
        let cookie = Cookie::build((cookie_name(keys), token))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(keys.secure_cookies)
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
    fn a_token_is_good_only_for_the_session_it_was_issued_with() {
        let keys = Keys {
            secure_cookies: false,
            session_cookie: "ngr_session",
            mac_key: [3; 32],
        };
        let anonymous = issue(&keys, None);
        assert!(is_bound(&keys, &anonymous, None));
        assert!(!is_bound(&keys, &anonymous, Some("session-a")));
        let mine = issue(&keys, Some("session-a"));
        assert!(is_bound(&keys, &mine, Some("session-a")));
        assert!(!is_bound(&keys, &mine, Some("session-b")));
        assert!(!is_bound(&keys, &mine, None));
        let other_key = Keys {
            secure_cookies: false,
            session_cookie: "ngr_session",
            mac_key: [4; 32],
        };
        assert!(!is_bound(&other_key, &mine, Some("session-a")));
        // A planted plain random value (the old format) is not a token.
        assert!(!is_bound(&keys, &secrets::generate(), None));
        assert!(!is_bound(&keys, "x.y", None));
    }
}
