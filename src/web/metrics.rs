//! `/metrics` in the Prometheus text format, and the middleware counting HTTP requests.
//!
//! What the `metrics` facade recorded (HTTP requests, query latency by label, jobs run,
//! payments and provisioning outcomes) comes from the process-wide recorder
//! ([`crate::telemetry::install_metrics_recorder`]); the pool and the job queue are read at
//! scrape time and written here, so every scrape sees this node's pool and the queue as they
//! are. Without a recorder (another was installed first) the scrape still answers with those.
//!
//! Access: with `NEXTGENRDP_METRICS_TOKEN` set, `Authorization: Bearer <token>` (401 otherwise);
//! without it, loopback clients only (403 otherwise).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use secrecy::ExposeSecret;

use super::extract::ClientIp;
use crate::app::AppState;
use crate::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// Counts every request (`http_requests_total`) and times it (`http_request_duration_seconds`)
/// by route template — never the raw path, which would make a series per id — method and
/// status. Requests no route matched share the route `unmatched`.
///
/// A tower layer rather than `axum::middleware::from_fn`: `from_fn` clones the whole service
/// inside it and boxes it on every request (it hands the async fn an owned `Next`), and this is
/// the outermost middleware, so that was a clone of the entire stack per request — measured by
/// `bench/run` as a tenth of the server's CPU on the catalog API. This calls the inner service
/// in place and boxes only the future. The metric handles of each (route, method, status) are
/// looked up in the recorder once and kept here: the recorder's lookup (building, hashing and
/// comparing a labelled key, twice per request) was about 8 % of the catalog API's
/// instructions under callgrind.
#[derive(Clone, Debug, Default)]
pub struct TrackRequestsLayer {
    handles: Arc<HandleCache>,
}

impl<S> tower::Layer<S> for TrackRequestsLayer {
    type Service = TrackRequests<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrackRequests {
            inner,
            handles: self.handles.clone(),
        }
    }
}

/// The service of [`TrackRequestsLayer`].
#[derive(Clone, Debug)]
pub struct TrackRequests<S> {
    inner: S,
    handles: Arc<HandleCache>,
}

/// A request's two series.
#[derive(Clone)]
struct RequestHandles {
    count: metrics::Counter,
    duration: metrics::Histogram,
}

/// The handles of one method and status of a route.
struct Series {
    method: &'static str,
    status: u16,
    handles: RequestHandles,
}

/// The handles met so far, by route template, then method and status. Bounded: the routes are
/// the router's templates (and `unmatched`), the methods [`method_label`]'s eight, the
/// statuses those the handlers answer.
#[derive(Default)]
struct HandleCache(RwLock<HashMap<Arc<str>, Vec<Series>>>);

impl std::fmt::Debug for HandleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleCache").finish_non_exhaustive()
    }
}

impl HandleCache {
    fn get(&self, route: &str, method: &'static str, status: u16) -> RequestHandles {
        let found = |route: &[Series]| {
            route
                .iter()
                .find(|series| series.method == method && series.status == status)
                .map(|series| series.handles.clone())
        };
        let known = self.0.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(handles) = known.get(route).and_then(|series| found(series)) {
            return handles;
        }
        drop(known);
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        let made = RequestHandles {
            count: metrics::counter!("http_requests_total", &labels),
            duration: metrics::histogram!("http_request_duration_seconds", &labels),
        };
        let mut known = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let series = known.entry(Arc::from(route)).or_default();
        if let Some(handles) = found(series) {
            return handles;
        }
        series.push(Series {
            method,
            status,
            handles: made.clone(),
        });
        made
    }
}

impl<S, B> tower::Service<Request> for TrackRequests<S>
where
    S: tower::Service<Request, Response = axum::http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let method = method_label(request.method());
        let route = request.extensions().get::<MatchedPath>().cloned();
        let handles = self.handles.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            let series = handles.get(route, method, response.status().as_u16());
            series.count.increment(1);
            series.duration.record(started.elapsed().as_secs_f64());
            Ok(response)
        })
    }
}

/// The standard methods by name; any other (a client may send anything) as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `/metrics`.
async fn scrape(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Result<Response, AppError> {
    match &state.settings.metrics_token {
        Some(token) => {
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if !constant_time_eq(sent.as_bytes(), token.expose_secret().as_bytes()) {
                return Err(AppError::Unauthorized);
            }
        }
        None if state.settings.metrics_token_required => {
            return Err(AppError::Forbidden(
                "in production /metrics needs a token: set NEXTGENRDP_METRICS_TOKEN and send \
                 Authorization: Bearer <token>"
                    .to_owned(),
            ));
        }
        None => {
            let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
            if !from_loopback(&client, peer, &headers, state.settings.trust_forwarded_for) {
                return Err(AppError::Forbidden(
                    "metrics are served to this machine only (or set NEXTGENRDP_METRICS_TOKEN)"
                        .to_owned(),
                ));
            }
        }
    }
    let mut body = crate::telemetry::metrics_handle()
        .map(|handle| handle.render())
        .unwrap_or_default();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    write_pool_gauges(&mut body, &state.db);
    match crate::jobs::queue_figures(&state.db).await {
        Ok(figures) => write_job_gauges(&mut body, &figures),
        // The rest of the scrape is still worth having.
        Err(err) => tracing::warn!("reading the job queue for /metrics failed: {err}"),
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

/// Whether the request comes from this machine. The client address ([`ClientIp`]) must be
/// loopback, and so must the TCP peer when known; behind a trusted proxy every
/// `X-Forwarded-For` entry must be, since a proxy that appends keeps a forged first entry.
fn from_loopback(
    client: &str,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trust_forwarded_for: bool,
) -> bool {
    let loopback = |ip: IpAddr| ip.to_canonical().is_loopback();
    let client_ok = client.parse::<IpAddr>().is_ok_and(loopback);
    let peer_ok = peer.is_none_or(loopback);
    let forwarded_ok = if trust_forwarded_for {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .all(|entry| entry.trim().parse::<IpAddr>().is_ok_and(loopback))
    } else {
        // Not told to believe a proxy, yet a proxy's header is there: a proxy on this machine
        // (nginx in front of the shop) passed the request on, and its client is elsewhere.
        !FORWARDING_HEADERS
            .iter()
            .any(|name| headers.contains_key(*name))
    };
    client_ok && peer_ok && forwarded_ok
}

/// Headers a reverse proxy adds when it passes a request on.
const FORWARDING_HEADERS: [&str; 4] = [
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "x-forwarded-host",
];

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The pool of this node as it is now.
fn write_pool_gauges(out: &mut String, db: &sqlx::PgPool) {
    let size = db.size();
    let idle = u32::try_from(db.num_idle()).unwrap_or(u32::MAX);
    let max = db.options().get_max_connections();
    gauge(out, "db_pool_size", "Open connections in the pool.");
    let _ = writeln!(out, "db_pool_size {size}");
    gauge(out, "db_pool_idle", "Open connections not in use.");
    let _ = writeln!(out, "db_pool_idle {idle}");
    gauge(
        out,
        "db_pool_in_use",
        "Connections lent to a query or transaction.",
    );
    let _ = writeln!(out, "db_pool_in_use {}", size.saturating_sub(idle));
    gauge(out, "db_pool_max", "The pool's maximum size.");
    let _ = writeln!(out, "db_pool_max {max}");
}

/// The job queue as it is now (shared by every node).
fn write_job_gauges(out: &mut String, figures: &[crate::jobs::QueueFigures]) {
    let mut queued = BTreeMap::new();
    let mut failed = BTreeMap::new();
    let mut running = 0;
    let mut oldest_ready = 0.0_f64;
    for row in figures {
        match row.status.as_str() {
            "queued" => {
                queued.insert(row.kind.as_str(), row.count);
                oldest_ready = oldest_ready.max(row.oldest_ready_age_seconds.unwrap_or(0.0));
            }
            "running" => running += row.count,
            "failed" => {
                failed.insert(row.kind.as_str(), row.count);
            }
            _ => {}
        }
    }
    gauge(out, "jobs_queued", "Jobs waiting to run, by kind.");
    for (kind, count) in &queued {
        let _ = writeln!(out, "jobs_queued{{kind=\"{}\"}} {count}", escape(kind));
    }
    gauge(out, "jobs_running", "Jobs claimed by a worker.");
    let _ = writeln!(out, "jobs_running {running}");
    gauge(
        out,
        "jobs_oldest_ready_age_seconds",
        "How long the oldest job due to run has waited (0 when none).",
    );
    let _ = writeln!(out, "jobs_oldest_ready_age_seconds {oldest_ready:.3}");
    gauge(
        out,
        "jobs_failed",
        "Jobs failed for good (their attempts spent), by kind.",
    );
    for (kind, count) in &failed {
        let _ = writeln!(out, "jobs_failed{{kind=\"{}\"}} {count}", escape(kind));
    }
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_loopback_clients_are_from_this_machine() {
        let none = HeaderMap::new();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(from_loopback("127.0.0.1", Some(local), &none, false));
        assert!(from_loopback("::1", None, &none, false));
        assert!(from_loopback("::ffff:127.0.0.1", None, &none, false));
        assert!(!from_loopback("203.0.113.9", None, &none, false));
        assert!(!from_loopback("unknown", None, &none, false));
        // A local proxy forwarding a remote client.
        assert!(!from_loopback(
            "127.0.0.1",
            Some("203.0.113.9".parse().unwrap()),
            &none,
            false
        ));
    }

    #[test]
    fn a_forged_first_forwarded_entry_does_not_pass_for_loopback() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let headers = forwarded("127.0.0.1, 203.0.113.9");
        assert!(!from_loopback("127.0.0.1", Some(local), &headers, true));
        assert!(from_loopback(
            "127.0.0.1",
            Some(local),
            &forwarded("127.0.0.1"),
            true
        ));
    }

    #[test]
    fn a_request_a_local_proxy_passed_on_is_not_local_unless_the_proxy_is_trusted_and_says_so() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        // nginx on this machine, without NEXTGENRDP_TRUST_FORWARDED_FOR: the TCP peer is
        // loopback, but the request came from wherever its forwarding headers say.
        for name in [
            "x-forwarded-for",
            "forwarded",
            "x-real-ip",
            "x-forwarded-host",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static("203.0.113.9"));
            assert!(
                !from_loopback("127.0.0.1", Some(local), &headers, false),
                "{name}"
            );
        }
        assert!(!from_loopback(
            "127.0.0.1",
            Some(local),
            &forwarded("127.0.0.1"),
            false
        ));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn job_gauges_sum_running_and_take_the_oldest_ready_age() {
        let row = |kind: &str, status: &str, count, age| crate::jobs::QueueFigures {
            kind: kind.into(),
            status: status.into(),
            count,
            oldest_ready_age_seconds: age,
        };
        let mut out = String::new();
        write_job_gauges(
            &mut out,
            &[
                row("send_email", "queued", 3, Some(12.5)),
                row("provision_service", "queued", 1, Some(40.0)),
                row("send_email", "running", 2, None),
                row("provision_service", "running", 1, None),
                row("send_email", "failed", 4, None),
            ],
        );
        assert!(
            out.contains("jobs_queued{kind=\"send_email\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("jobs_running 3\n"), "{out}");
        assert!(
            out.contains("jobs_oldest_ready_age_seconds 40.000\n"),
            "{out}"
        );
        assert!(
            out.contains("jobs_failed{kind=\"send_email\"} 4\n"),
            "{out}"
        );
    }
}
