//! The operator's billing settings and tax table over JSON: `/api/v1/admin/billing*` and
//! `/api/v1/admin/tax-rates*`. Every change is audited.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::orders::billing::{
    self, BillingSettings, MAX_LOGO_BYTES, NewTaxRate, SettingsChange, TaxRate,
};
use crate::web::extract::{AppJson, ClientIp};
use crate::web::upload::{self, FileBytes, FileUpload};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(find_settings, change_settings))
        .routes(
            routes!(find_logo, set_logo, remove_logo)
                .layer(DefaultBodyLimit::max(MAX_LOGO_BYTES + 1024)),
        )
        .routes(routes!(list_rates, add_rate))
        .routes(routes!(remove_rate))
}

/// A logo's bytes (PNG or JPEG).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // describes image bodies for the API document
pub struct LogoBytes(Vec<u8>);

/// The shop's billing settings.
#[utoipa::path(get, path = "/api/v1/admin/billing", tag = "admin",
    security(("bearer" = [])),
    responses((status = OK, description = "The settings", body = BillingSettings)),
)]
async fn find_settings(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> AppResult<Json<BillingSettings>> {
    Ok(Json(billing::settings(&state.db).await?))
}

/// Changes the billing settings: the tax mode, the seller's particulars, the invoice prefix.
///
/// Charging sales tax (`inclusive` or `exclusive`) needs the seller's NTN, STRN and province.
/// Orders already placed keep the tax they were placed with; invoices never change.
#[utoipa::path(patch, path = "/api/v1/admin/billing", tag = "admin",
    security(("bearer" = [])),
    request_body = SettingsChange,
    responses(
        (status = OK, description = "The settings as changed", body = BillingSettings),
        (status = UNPROCESSABLE_ENTITY, description = "A field is invalid or missing for the tax mode (named)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn change_settings(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<SettingsChange>,
) -> AppResult<Json<BillingSettings>> {
    Ok(Json(
        billing::change_settings(&state, &admin.actor(&ip), &body).await?,
    ))
}

/// The logo printed on invoices.
#[utoipa::path(get, path = "/api/v1/admin/billing/logo", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = OK, description = "The image", content((LogoBytes = "image/png"), (LogoBytes = "image/jpeg"), (FileBytes = "application/octet-stream"))),
        (status = NOT_FOUND, description = "No logo is set", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn find_logo(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> AppResult<impl IntoResponse> {
    let (bytes, kind) = billing::logo(&state.db)
        .await?
        .ok_or(AppError::NotFound("logo"))?;
    Ok(([(header::CONTENT_TYPE, kind)], bytes))
}

/// Sets the logo printed on invoices (PNG or JPEG, at most 512 KiB): a `multipart/form-data`
/// form with the image as its `file` part, or the raw body (`application/octet-stream`, or the
/// image's own type).
#[utoipa::path(put, path = "/api/v1/admin/billing/logo", tag = "admin",
    security(("bearer" = [])),
    request_body(description = "The logo, at most 512 KiB (a raw body, `application/octet-stream` or the image's own type, is taken too)",
        content((FileUpload = "multipart/form-data"))),
    responses(
        (status = OK, description = "The settings, `has_logo` true", body = BillingSettings),
        (status = PAYLOAD_TOO_LARGE, description = "Larger than 512 KiB", body = Problem,
            content_type = "application/problem+json"),
        (status = UNSUPPORTED_MEDIA_TYPE, description = "`Content-Type` is not a form, octet-stream, image/png or image/jpeg",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "The bytes are not a PNG or JPEG image, or not the type declared (`logo`); a form without its `file` part (`file`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn set_logo(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Json<BillingSettings>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (body, kind) = upload::image_upload(
        content_type,
        body,
        &billing::LOGO_TYPES,
        "logo",
        billing::MAX_LOGO_BYTES,
    )
    .await?;
    Ok(Json(
        billing::set_logo(&state, &admin.actor(&ip), Some((&body, kind))).await?,
    ))
}

/// Removes the logo.
#[utoipa::path(delete, path = "/api/v1/admin/billing/logo", tag = "admin",
    security(("bearer" = [])),
    responses((status = OK, description = "The settings, `has_logo` false", body = BillingSettings)),
)]
async fn remove_logo(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
) -> AppResult<Json<BillingSettings>> {
    Ok(Json(
        billing::set_logo(&state, &admin.actor(&ip), None).await?,
    ))
}

/// The tax table.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxRateList {
    /// By province, newest first; `in_force` marks today's rate of each.
    pub items: Vec<TaxRate>,
}

/// The sales tax rates per province, with the day each applies from.
#[utoipa::path(get, path = "/api/v1/admin/tax-rates", tag = "admin",
    security(("bearer" = [])),
    responses((status = OK, description = "The tax table", body = TaxRateList)),
)]
async fn list_rates(
    State(state): State<AppState>,
    _admin: ApiAdmin,
) -> AppResult<Json<TaxRateList>> {
    Ok(Json(TaxRateList {
        items: billing::rates(&state.db).await?,
    }))
}

/// Adds a province's rate from a day (today or later, PKT): orders placed from that day pay it.
#[utoipa::path(post, path = "/api/v1/admin/tax-rates", tag = "admin",
    security(("bearer" = [])),
    request_body = NewTaxRate,
    responses(
        (status = CREATED, description = "The rate added", body = TaxRate),
        (status = CONFLICT, description = "The province already has a rate from that day (`effective_from`)",
            body = Problem, content_type = "application/problem+json"),
        (status = UNPROCESSABLE_ENTITY, description = "A rate out of 0 to 5000, or a day in the past (named)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn add_rate(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<NewTaxRate>,
) -> AppResult<impl IntoResponse> {
    let rate = billing::add_rate(&state, &admin.actor(&ip), &body).await?;
    Ok((StatusCode::CREATED, Json(rate)))
}

/// Removes a rate that has not applied yet (its day is after today).
#[utoipa::path(delete, path = "/api/v1/admin/tax-rates/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The rate's id")),
    responses(
        (status = NO_CONTENT, description = "Removed"),
        (status = NOT_FOUND, description = "No such rate", body = Problem,
            content_type = "application/problem+json"),
        (status = CONFLICT, description = "The rate has applied to orders (`effective_from`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn remove_rate(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<StatusCode> {
    billing::remove_rate(&state, &admin.actor(&ip), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
