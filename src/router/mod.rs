//! The top of the house: the router that assembles every domain's routes (the JSON API, the
//! pages, the operator's pages) under one middleware stack (request ids, tracing, compression,
//! CORS, timeouts, security headers, one error shape), the health probes, the OpenAPI document
//! and graceful shutdown. It imports the domains; nothing below imports it.

pub mod backups;
pub mod dashboard;
pub mod database;
pub mod metrics;
pub mod openapi;
pub mod settings;
pub mod trends;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures_util::future::BoxFuture;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::LatencyUnit;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{AppError, ErrorReport, Problem};
use crate::web::{assets, csrf, pages, server};

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application router with its middleware.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.settings.cors_origins);
    let timeout = state.settings.request_timeout;
    let https = state.settings.secure_cookies();
    let (described, _) = openapi::split();
    Router::new()
        .merge(described)
        .merge(openapi::docs_router())
        .merge(assets::router())
        .merge(dashboard::router())
        .merge(backups::router())
        .merge(settings::router())
        .merge(crate::catalog::pages::router())
        .merge(crate::catalog::admin_pages::router())
        .merge(crate::accounts::pages::router())
        .merge(crate::accounts::admin_pages::router())
        .merge(crate::customers::admin_pages::router())
        .merge(crate::orders::pages::router())
        .merge(crate::orders::admin_pages::router())
        .merge(crate::payments::pages::router())
        .merge(crate::payments::admin_pages::router())
        .merge(crate::services::pages::router())
        .merge(crate::services::admin_pages::router())
        .merge(crate::support::pages::router())
        .merge(crate::support::admin_pages::router())
        .merge(crate::provisioning::admin_pages::router())
        .merge(crate::jobs::admin_pages::router())
        .merge(database::router())
        .merge(metrics::router())
        .fallback(not_found)
        // One `layer` call with the whole stack, outermost first. Each `Router::layer` call
        // wraps every route in another boxed service that axum clones, and whose future it
        // boxes, on every request: four calls cost measurably more under load (`bench/run`)
        // than one, for the same middleware in the same order.
        .layer(
            ServiceBuilder::new()
                .layer(crate::web::metrics::TrackRequestsLayer::default())
                .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request| {
                            let request_id = request
                                .headers()
                                .get(&REQUEST_ID)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-");
                            tracing::info_span!(
                                "request",
                                request.id = %request_id,
                                method = %request.method(),
                                path = %request.uri().path(),
                            )
                        })
                        .on_response(
                            DefaultOnResponse::new()
                                .level(tracing::Level::INFO)
                                .latency_unit(LatencyUnit::Micros),
                        ),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
                // `map_response`, not `from_fn`: no clone of the stack below per request.
                .map_response(log_errors)
                .layer(CompressionLayer::new())
                // Only when origins are configured: with none, no answer varies by `Origin`,
                // and the layer still cost each response a `Vary` header (`bench/run`).
                .option_layer(cors)
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    timeout,
                ))
                .map_response(move |response| security_headers(response, https))
                .layer(UniformErrorsLayer(state.settings.contact.clone()))
                .layer(csrf::CsrfLayer::new(
                    state.settings.secrets.token_signing_key.expose(),
                    crate::accounts::extract::SESSION_COOKIE,
                    https,
                )),
        )
        .with_state(state)
}

/// The JSON API under `/api/v1`; each domain adds its described routes here.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_index))
        .merge(crate::accounts::api::router())
        .merge(crate::catalog::api::router())
        .merge(crate::catalog::admin_api::router())
        .merge(crate::orders::api::router())
        .merge(crate::orders::admin_api::router())
        .merge(crate::payments::api::router())
        .merge(crate::payments::admin_api::router())
        .merge(crate::services::api::router())
        .merge(crate::services::admin_api::router())
        .merge(crate::support::api::router())
        .merge(crate::support::admin_api::router())
        .merge(crate::customers::admin_api::router())
        .merge(crate::provisioning::admin_api::router())
        .merge(crate::jobs::admin_api::router())
}

/// `Strict-Transport-Security` when the shop is served over https: a year, this host only. Not
/// `includeSubDomains` (another host of the shop's domain may still speak plain http) and not
/// `preload` (a list browsers ship with, hard to leave): both are the owner's call, at the proxy.
const HSTS: &str = "max-age=31536000";

/// The security headers of every answer, each unless the handler set its own (one layer and
/// one reservation instead of four `SetResponseHeader` layers, each growing the map); HSTS too
/// when the public address is https.
fn security_headers<B>(
    mut response: axum::http::Response<B>,
    https: bool,
) -> axum::http::Response<B> {
    const HEADERS: [(HeaderName, &str); 4] = [
        (
            header::CONTENT_SECURITY_POLICY,
            pages::CONTENT_SECURITY_POLICY,
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ];
    let headers = response.headers_mut();
    headers.reserve(HEADERS.len() + 1);
    for (name, value) in HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

/// Lets the shop's existing JavaScript front end (on the listed origins) call the API; `None`
/// when no origin is listed.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([REQUEST_ID.clone()])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600));
    Some(layer)
}

/// The health probes.
fn probes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Health {
    /// `ok`, `ready`, or `unavailable`.
    status: &'static str,
    /// Why the node is not ready (only when `unavailable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// The process is up (no dependency checked).
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = OK, description = "Alive", body = Health)))]
async fn healthz() -> impl IntoResponse {
    Json(Health {
        status: "ok",
        reason: None,
    })
}

/// The database answers and has every migration this binary knows; else 503.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = OK, description = "Ready to serve", body = Health),
    (status = SERVICE_UNAVAILABLE, description = "Not ready, with the reason", body = Health),
))]
async fn readyz(State(state): State<AppState>) -> Response {
    match crate::db::check_ready(&state.db).await {
        Ok(()) => Json(Health {
            status: "ready",
            reason: None,
        })
        .into_response(),
        Err(reason) => {
            tracing::warn!("not ready: {reason}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    reason: Some(reason.to_string()),
                }),
            )
                .into_response()
        }
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct ApiIndex {
    name: &'static str,
    version: &'static str,
}

/// What this API is, and its version.
#[utoipa::path(get, path = "/api/v1", tag = "health",
    responses((status = OK, description = "The API's name and version", body = ApiIndex)))]
async fn api_index() -> impl IntoResponse {
    Json(ApiIndex {
        name: "NextGenRDP API",
        version: env!("CARGO_PKG_VERSION"),
    })
}

async fn not_found(request: Request) -> AppError {
    if request.uri().path().starts_with("/api/") {
        AppError::NotFound("endpoint")
    } else {
        AppError::NotFound("page")
    }
}

/// Logs each failed request once, inside its request span: 5xx with the cause (the client only
/// gets an opaque body), 4xx briefly.
fn log_errors<B>(response: axum::http::Response<B>) -> axum::http::Response<B> {
    if let Some(ErrorReport(err)) = response.extensions().get::<ErrorReport>() {
        if response.status().is_server_error() {
            tracing::error!(error = ?err, "request failed: {err:#}");
        } else {
            tracing::debug!(
                status = response.status().as_u16(),
                "request refused: {err}"
            );
        }
    }
    response
}

/// One error shape everywhere (see [`uniform_errors`]).
///
/// A tower layer rather than `axum::middleware::from_fn`, which clones the service below and
/// boxes it on every request: this calls it in place and boxes only the future (`bench/run`).
#[derive(Clone, Debug)]
struct UniformErrorsLayer(Arc<crate::config::Contact>);

impl<S> tower::Layer<S> for UniformErrorsLayer {
    type Service = UniformErrors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        UniformErrors(inner, self.0.clone())
    }
}

#[derive(Clone, Debug)]
struct UniformErrors<S>(S, Arc<crate::config::Contact>);

impl<S> tower::Service<Request> for UniformErrors<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let is_api = request.uri().path().starts_with("/api/");
        // An error page does not look the session up: a session cookie is enough to offer the
        // visitor their account instead of "Log in / Register".
        let signed_in = axum_extra::extract::CookieJar::from_headers(request.headers())
            .get(crate::accounts::extract::SESSION_COOKIE)
            .is_some();
        let contact = self.1.clone();
        let response = self.0.call(request);
        Box::pin(async move {
            let Ok(response) = response.await;
            Ok(uniform_errors(is_api, response, &contact, signed_in).await)
        })
    }
}

/// One error shape everywhere: under `/api/` every 4xx/5xx is problem+json (including the
/// framework's own rejections and 404/405s); elsewhere it becomes the HTML error page.
async fn uniform_errors(
    is_api: bool,
    response: Response,
    contact: &Arc<crate::config::Contact>,
    signed_in: bool,
) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let report = response.extensions().get::<ErrorReport>().cloned();
    if is_api {
        if report.is_some() {
            return response;
        }
        // A rejection from axum itself (bad JSON, wrong method): keep its status and words.
        let (parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, 16 * 1024)
            .await
            .unwrap_or_default();
        let detail = String::from_utf8_lossy(&text).trim().to_owned();
        let detail = if detail.is_empty() {
            status.canonical_reason().unwrap_or("error").to_lowercase()
        } else {
            detail
        };
        let mut problem = Problem::new(status, detail).into_response();
        if let Some(allow) = parts.headers.get(header::ALLOW) {
            problem.headers_mut().insert(header::ALLOW, allow.clone());
        }
        return problem;
    }
    // A page that rendered its own error, or a probe answering JSON on purpose, stays as it is.
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("text/html")
        || (report.is_none() && content_type.starts_with("application/json"))
    {
        return response;
    }
    let message = match &report {
        Some(ErrorReport(err)) => err.problem().detail,
        None => status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    let layout = pages::Layout {
        signed_in_hint: signed_in,
        ..pages::Layout::new(status.canonical_reason().unwrap_or("Error")).with_contact(contact)
    };
    pages::error_page_with(layout, status, &message)
}

/// Serves until SIGTERM or ctrl-c, then gives in-flight requests `drain` to finish (see
/// [`server`]: header-read timeout, bounded connections).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    drain: Duration,
    limits: server::Limits,
) -> anyhow::Result<()> {
    server::serve(listener, app, drain, limits, shutdown_signal()).await
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
