//! The one error type of the web layer. Under `/api/` it renders as RFC 9457 problem details
//! (`application/problem+json`) naming the offending field; elsewhere as an HTML error page.
//!
//! 5xx bodies are opaque: the cause is logged once, with the request id, by the `log_errors`
//! middleware (axum's error-handling example), never sent to the client.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Result of a web handler.
pub type AppResult<T, E = AppError> = Result<T, E>;

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request is malformed (bad JSON, bad query parameter).
    #[error("{detail}")]
    BadRequest {
        detail: String,
        field: Option<String>,
    },
    /// 401: no valid credentials.
    #[error("authentication required")]
    Unauthorized,
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 403: the caller must prove a second factor first (turn two-factor sign-in on, or send a
    /// fresh code); the problem names `two-factor`.
    #[error("{0}")]
    TwoFactor(String),
    /// 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 413.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 415.
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// 409: conflicts with the current state (duplicate, referenced, wrong status).
    #[error("{detail}")]
    Conflict {
        detail: String,
        field: Option<String>,
    },
    /// 422: well-formed but invalid values, by field.
    #[error("invalid input")]
    Validation(BTreeMap<String, String>),
    /// 429.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503: a dependency (the database) is down.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a database error nobody expected.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// 500: anything else.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn bad_request(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            field: Some(field.into()),
        }
    }

    pub fn conflict(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Conflict {
            detail: detail.into(),
            field: Some(field.into()),
        }
    }

    /// A 422 about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(BTreeMap::from([(field.into(), message.into())]))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::TwoFactor(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(err) if is_database_down(err) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(err) if is_nul_in_text(err) => StatusCode::BAD_REQUEST,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem document sent to API clients.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let title = status.canonical_reason().unwrap_or("Error").to_owned();
        let (detail, errors) = match self {
            Self::Validation(errors) => {
                let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
                (
                    format!("invalid value for {}", fields.join(", ")),
                    Some(errors.clone()),
                )
            }
            Self::TwoFactor(detail) => (
                detail.clone(),
                Some(BTreeMap::from([("two-factor".to_owned(), detail.clone())])),
            ),
            Self::BadRequest { detail, field } | Self::Conflict { detail, field } => {
                let errors = field
                    .as_ref()
                    .map(|f| BTreeMap::from([(f.clone(), detail.clone())]));
                (detail.clone(), errors)
            }
            Self::Database(err) if is_nul_in_text(err) => (
                "text must not contain NUL characters (\\u0000 or %00)".to_owned(),
                None,
            ),
            Self::Database(_) | Self::Internal(_) if status.is_server_error() => {
                ("the server could not complete the request".to_owned(), None)
            }
            Self::Database(_) => ("the service is busy, try again shortly".to_owned(), None),
            other => (other.to_string(), None),
        };
        Problem {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

/// The database cannot be reached or is going away: the pool waited in vain, a connection broke
/// (PostgreSQL restarting: SQLSTATE class 08, or 57P01–57P03 "terminating / cannot connect
/// now"). The client should retry shortly, so a 503, not a 500; sqlx's pool drops the broken
/// connection and opens new ones when the server is back, without restarting this process.
fn is_database_down(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// PostgreSQL refused a NUL character in text (SQLSTATE 22021): the client sent it (a query
/// parameter, a form field), so it is a 400, not a server error. The transaction it was in rolls
/// back like any other refused request's. JSON bodies are checked before they reach SQL (see
/// `web::extract::AppJson`); this is the net under every other way text comes in.
fn is_nul_in_text(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("22021"))
}

/// RFC 9457 problem details, with `errors` mapping each offending field to what is wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase (`Unprocessable Entity`).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, in words for a person.
    pub detail: String,
    /// Each offending field (a JSON field, a query or path parameter, `body`) and what is wrong
    /// with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, String>>,
}

impl Problem {
    /// A problem with no field errors.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// Marks a response produced from an `AppError`, so middleware can log it and the HTML layer can
/// turn it into a page.
#[derive(Clone)]
pub struct ErrorReport(pub Arc<AppError>);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = self.problem().into_response();
        if let Self::TooManyRequests { retry_after_secs } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
            .extensions_mut()
            .insert(ErrorReport(Arc::new(self)));
        response
    }
}

/// Maps constraint violations of a write to the field they concern (realworld's `on_constraint`).
pub trait ResultExt<T> {
    /// When the database refused the write because of `constraint`, answer `map(..)` instead.
    fn on_constraint(
        self,
        constraint: &str,
        map: impl FnOnce(&dyn sqlx::error::DatabaseError) -> AppError,
    ) -> Result<T, AppError>;
}

impl<T, E: Into<AppError>> ResultExt<T> for Result<T, E> {
    fn on_constraint(
        self,
        constraint: &str,
        map: impl FnOnce(&dyn sqlx::error::DatabaseError) -> AppError,
    ) -> Result<T, AppError> {
        self.map_err(|err| match err.into() {
            AppError::Database(sqlx::Error::Database(db))
                if db.constraint() == Some(constraint) =>
            {
                map(db.as_ref())
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problems_name_every_field() {
        let err = AppError::Validation(BTreeMap::from([
            ("email".to_owned(), "must contain @".to_owned()),
            ("name".to_owned(), "is required".to_owned()),
        ]));
        let problem = err.problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.detail, "invalid value for email, name");
        assert_eq!(problem.errors.unwrap()["email"], "must contain @");
    }

    #[test]
    fn server_errors_hide_their_cause() {
        let err = AppError::Internal(anyhow::anyhow!("password=hunter2 leaked"));
        let problem = err.problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("hunter2"));
    }
}
