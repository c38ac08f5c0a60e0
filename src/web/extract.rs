//! Request extractors shared by every handler: JSON bodies whose rejections use our error shape,
//! the client's address, and its user agent.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON object body. Malformed JSON is a 400; an array instead of the object, or a missing or
/// mistyped field, a 422 naming the field, in the API's problem shape rather than axum's plain
/// text.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|err| json_rejection(JsonRejection::BytesRejection(err)))?;
        if let Some(field) = text_with_nul(&bytes) {
            // PostgreSQL text cannot hold U+0000; refuse it here rather than fail in SQL.
            return Err(AppError::invalid(
                field,
                "must not contain NUL characters (\\u0000)",
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            // Every request body of this API is an object; serde also reads a struct from an
            // array of its fields in order (`[null, null]`), which the document does not allow.
            Ok(_) if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') => {
                Err(AppError::invalid("body", "must be a JSON object"))
            }
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `Content-Type: application/json` (parameters allowed) or an `application/*+json` type.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The field whose text holds an escaped NUL (`\u0000`; raw control characters are not valid
/// JSON anyway), `body` when the document does not parse; `None` when there is none.
fn text_with_nul(bytes: &[u8]) -> Option<String> {
    let mut backslashes = 0;
    let mut found = false;
    for (i, &byte) in bytes.iter().enumerate() {
        if byte == b'\\' {
            backslashes += 1;
            continue;
        }
        if backslashes % 2 == 1 && byte == b'u' && bytes[i + 1..].starts_with(b"0000") {
            found = true;
            break;
        }
        backslashes = 0;
    }
    if !found {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    Some(path_to_nul(&value, String::new()).unwrap_or_else(|| "body".to_owned()))
}

fn path_to_nul(value: &serde_json::Value, at: String) -> Option<String> {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        }
    };
    match value {
        serde_json::Value::String(text) if text.contains('\0') => {
            Some(if at.is_empty() { "body".to_owned() } else { at })
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| path_to_nul(item, join(&i.to_string()))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(join("(a key)"))
            } else {
                path_to_nul(item, join(key))
            }
        }),
        _ => None,
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

/// Whether `X-Forwarded-For` is believed (`NEXTGENRDP_TRUST_FORWARDED_FOR`): the application's
/// state hands it to [`ClientIp`] through `FromRef`.
#[derive(Clone, Copy, Debug)]
pub struct ForwardedFor(pub bool);

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    ForwardedFor: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if ForwardedFor::from_ref(state).0
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

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_nuls_are_found_with_their_field() {
        assert_eq!(
            text_with_nul(br#"{"name": "a\u0000b"}"#).as_deref(),
            Some("name")
        );
        assert_eq!(
            text_with_nul(br#"{"items": [{"x": 1}, {"note": "\u0000"}]}"#).as_deref(),
            Some("items.1.note")
        );
        assert_eq!(text_with_nul(br#""\u0000""#).as_deref(), Some("body"));
        // An escaped backslash followed by the letters u0000 is just text.
        assert_eq!(text_with_nul(br#"{"name": "a\\u0000b"}"#), None);
        assert_eq!(text_with_nul(br#"{"name": "a\u0001b"}"#), None);
        assert_eq!(text_with_nul(b"{\"name\": \"plain\"}"), None);
    }

    #[test]
    fn json_content_types_are_recognised() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/json"));
        assert!(!with("text/plain"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
