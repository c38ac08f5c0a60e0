//! Request extractors shared by every handler: JSON bodies whose rejections use our error shape,
//! the client's address, and its user agent.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::error::AppError;

/// A JSON body. Malformed JSON is a 400 and a missing or mistyped field a 422 naming the field,
/// in the API's problem shape rather than axum's plain text.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(err) => {
            // "Failed to deserialize ...: field: problem at line 1 column 2"
            let text = std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_default();
            let (field, problem) = match text.split_once(": ") {
                Some((path, problem)) if !path.contains(' ') => {
                    (path.to_owned(), problem.to_owned())
                }
                _ => (
                    field_named_in(&text).unwrap_or_else(|| "body".to_owned()),
                    text.clone(),
                ),
            };
            let problem = problem
                .split(" at line ")
                .next()
                .unwrap_or(&problem)
                .to_owned();
            AppError::invalid(field, problem)
        }
        JsonRejection::JsonSyntaxError(err) => {
            let text = std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_default();
            AppError::bad_request("body", format!("the body is not valid JSON: {text}"))
        }
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
        JsonRejection::BytesRejection(err) => {
            if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::bad_request("body", "the body could not be read")
            }
        }
        other => AppError::bad_request("body", other.body_text()),
    }
}

/// serde names a missing field as "missing field `email`".
fn field_named_in(text: &str) -> Option<String> {
    let start = text.find('`')? + 1;
    let end = start + text[start..].find('`')?;
    Some(text[start..end].to_owned())
}

/// The client's IP address: the first X-Forwarded-For entry when the shop runs behind a proxy
/// that sets it (`NEXTGENRDP_TRUST_FORWARDED_FOR`), else the TCP peer.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.settings.trust_forwarded_for
            && let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
        {
            return Ok(Self(first.to_owned()));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(Self(peer))
    }
}

/// The User-Agent header, cut to a sane length.
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(500).collect()),
        ))
    }
}
