//! `/metrics` in the Prometheus text format.
//!
//! What the `metrics` facade recorded (HTTP requests, query latency by label, jobs run,
//! payments and provisioning outcomes) comes from the process-wide recorder
//! ([`crate::telemetry::install_metrics_recorder`]); the pool and the job queue are read at
//! scrape time and written here, so every scrape sees this node's pool and the queue as they
//! are. Without a recorder (another was installed first) the scrape still answers with those.
//!
//! Access: with `NEXTGENRDP_METRICS_TOKEN` set, `Authorization: Bearer <token>` (401 otherwise);
//! without it, loopback clients only (403 otherwise).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use secrecy::ExposeSecret;

use crate::app::AppState;
use crate::error::AppError;
use crate::web::extract::ClientIp;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
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
            if !crate::crypto::constant_time_eq(sent.as_bytes(), token.expose_secret().as_bytes()) {
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
