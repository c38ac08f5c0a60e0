//! The orders domain's request side, shared by its front doors and by the account pages (a
//! login adopts the guest cart): whose cart a request works on, the guest cart's token (the
//! `X-Cart-Token` header or the `ngr_cart` cookie) and its cookie.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::cart::{CART_COOKIE, CartOwner};
use crate::accounts::extract::ApiUser;
use crate::app::{AppState, Settings};
use crate::error::AppError;

/// The `X-Cart-Token` header and `ngr_cart` cookie, optional strings, with what each does.
pub(crate) fn guest_cart_parameters(
    header: &str,
    cookie: &str,
) -> [utoipa::openapi::path::Parameter; 2] {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    let parameter = |name: &str, place: ParameterIn, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(place)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    };
    [
        parameter("X-Cart-Token", ParameterIn::Header, header),
        parameter(CART_COOKIE, ParameterIn::Cookie, cookie),
    ]
}

/// Whose cart an API request works on: the bearer token's customer, else the guest cart named
/// by the `ngr_cart` cookie or the `X-Cart-Token` header. A bearer token that does not verify
/// is a 401, never a silent fall-back to a guest cart.
pub struct ApiCartOwner(pub CartOwner);

impl FromRequestParts<AppState> for ApiCartOwner {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            let caller = ApiUser::from_request_parts(parts, state).await?;
            return Ok(Self(CartOwner::Customer(caller.user.id)));
        }
        Ok(Self(CartOwner::Guest(guest_cart_token(&parts.headers))))
    }
}

/// The guest cart token a client sent (header first, then cookie).
pub fn guest_cart_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-cart-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            axum_extra::extract::CookieJar::from_headers(headers)
                .get(CART_COOKIE)
                .map(|c| c.value().to_owned())
        })
        .filter(|t| t.len() == 43)
}

/// The cart cookie for a new guest cart (30 days).
pub fn cart_cookie(settings: &Settings, token: String) -> Cookie<'static> {
    Cookie::build((CART_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure_cookies())
        .max_age(time::Duration::days(30))
        .build()
}
