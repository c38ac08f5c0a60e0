//! The server-rendered pages through the real router, driven like a browser would: a
//! [`Visitor`] keeps its cookies between requests and fills forms with the page's CSRF token.

mod accounts;
mod admin_catalog;
mod admin_orders;
mod audit;
mod billing;
mod catalog;
mod dashboard;
mod honest;
mod orders;
mod payments;
mod services;
mod staff;
mod support;
mod trust;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::helpers::{TestApp, TestResponse};

/// One browser: its cookie jar, address and user agent.
pub struct Visitor<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
    ip: String,
    user_agent: String,
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self::from(app, "198.51.100.20")
    }

    /// A visitor from another address (rate limits are counted per address).
    pub fn from(app: &'a TestApp, ip: &str) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
            ip: ip.to_owned(),
            user_agent: "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36".into(),
        }
    }

    /// The value of a cookie the visitor holds.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Sets (or replaces) a cookie, as an attacker copying one would.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// The session cookie, if logged in.
    pub fn session(&self) -> Option<&str> {
        self.cookie("ngr_session")
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        let request = self.builder("GET", path).body(Body::empty()).unwrap();
        self.send(request).await
    }

    /// POSTs `fields` urlencoded, exactly as given (no CSRF token is added).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let request = self
            .builder("POST", path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// Opens `page` and submits its file form to `action` as `multipart/form-data` (the page's
    /// CSRF token in the query string, as the form's action carries it), with `fields` and
    /// `files` as (field, file name, type, bytes).
    pub async fn submit_multipart(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> TestResponse {
        let token = self.csrf_of(page).await;
        let (content_type, body) = crate::helpers::multipart(fields, files);
        let separator = if action.contains('?') { '&' } else { '?' };
        let request = self
            .builder("POST", &format!("{action}{separator}csrf_token={token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// The CSRF token of the page at `path` (which must render a form).
    pub async fn csrf_of(&mut self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "GET {path}: {}", page.text());
        csrf_in(&page.text()).unwrap_or_else(|| panic!("no CSRF field on {path}"))
    }

    /// Opens `page` and submits one of its forms to `action` with `fields` and the page's token.
    pub async fn submit(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> TestResponse {
        let token = self.csrf_of(page).await;
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        self.post(action, &fields).await
    }

    /// Logs in through the form (and, for an account with two-factor sign-in, its second step
    /// with the authenticator's code); panics unless it succeeds.
    pub async fn log_in(&mut self, email: &str, password: &str) {
        let mut response = self
            .submit(
                "/login",
                "/login",
                &[("email", email), ("password", password)],
            )
            .await;
        if let Some(token) = field_in(&response.text(), "mfa_token") {
            let user_id: i32 =
                sqlx::query_scalar("select id from users where lower(email) = lower($1)")
                    .bind(email)
                    .fetch_one(&self.app.db)
                    .await
                    .unwrap();
            let code = crate::helpers::totp_code(&self.app.db, user_id).await;
            let csrf = csrf_in(&response.text()).unwrap();
            response = self
                .post(
                    "/login/two-factor",
                    &[
                        ("mfa_token", token.as_str()),
                        ("code", code.as_str()),
                        ("next", "/account"),
                        ("csrf_token", csrf.as_str()),
                    ],
                )
                .await;
        }
        assert_eq!(
            response.status,
            StatusCode::SEE_OTHER,
            "{}",
            response.text()
        );
        assert!(
            self.session().is_some(),
            "no session cookie after logging in"
        );
    }

    fn builder(&self, method: &str, path: &str) -> axum::http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("x-forwarded-for", &self.ip)
            .header(header::USER_AGENT, &self.user_agent);
        if !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            builder = builder.header(header::COOKIE, cookies.join("; "));
        }
        builder
    }

    async fn send(&mut self, request: Request<Body>) -> TestResponse {
        let response = self.app.request(request).await;
        for set in response.headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let removed = value.is_empty()
                || attributes
                    .split(';')
                    .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if removed {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        response
    }
}

/// The value of the first `csrf_token` field in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    field_in(html, "csrf_token")
}

/// The value of the (hidden) input `name` of a page's form.
pub fn field_in(html: &str, name: &str) -> Option<String> {
    let needle = format!(r#"name="{name}" value=""#);
    let start = html.find(&needle)? + needle.len();
    Some(html[start..].chars().take_while(|c| *c != '"').collect())
}

/// The `Set-Cookie` header that sets `name`.
pub fn set_cookie_header<'r>(response: &'r TestResponse, name: &str) -> Option<&'r str> {
    response
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}
