//! The server loop: accepts TCP connections, serves HTTP/1.1 on each with hyper, closes the ones
//! that dawdle, bounds how many are open, and drains gracefully on SIGTERM or ctrl-c.
//!
//! Our own loop rather than `axum::serve`, which sets no header-read timeout (hyper needs a timer
//! for one) and no bound on connections: 300 connections dripping a header line every 10 s stayed
//! open for good. Here:
//!
//! - a client has `header_read_timeout` to send a request's whole head, counted from when the
//!   connection opens or the previous response was sent; so the same bound closes an idle
//!   keep-alive connection (hyper waits for the next request's head there);
//! - at most `max_connections` are open at once: the next one waits in the kernel's backlog
//!   until one closes, instead of taking a file descriptor and a task;
//! - HTTP/1.1 only. The protocol-sniffing "auto" builder reads a connection's first bytes before
//!   any timeout applies (a client that connects and says nothing was never closed), and h2c —
//!   HTTP/2 without TLS — is spoken by no browser; the TLS proxy in front speaks HTTP/2 to them.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// How long clients may take and how many may be connected.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The time to send a request's head (from the connection's start or the last response).
    pub header_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish for up to `drain`, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    drain: Duration,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // Dropping `stop` tells every connection to finish its request and close; `closed` resolves
    // once every connection task has dropped its receiver.
    let (stop, stopping) = watch::channel(());
    let (done, open) = watch::channel(());
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service =
            TowerToHyperService::new(app.clone().map_request(move |request: Request<Incoming>| {
                let mut request = request.map(Body::new);
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                request
            }));
        let mut stopping = stopping.clone();
        let open = open.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true);
            // With upgrades: the browser console's websocket (`/console/socket`).
            let mut connection = pin!(
                builder
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
            );
            let mut told = false;
            loop {
                tokio::select! {
                    served = connection.as_mut() => {
                        if let Err(err) = served {
                            tracing::debug!(%peer, "connection closed: {err}");
                        }
                        break;
                    }
                    _ = stopping.changed(), if !told => {
                        told = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(open);
            drop(permit);
        });
    }
    tracing::info!(
        "shutting down: draining requests for up to {}s",
        drain.as_secs()
    );
    drop(listener);
    drop(stop);
    drop(open);
    tokio::select! {
        () = done.closed() => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!("drain timeout reached; closing the remaining connections");
        }
    }
    Ok(())
}

/// An `accept` that failed: a client that gave up before we took its connection is nothing to
/// worry about; anything else (out of file descriptors) is logged, and accepting pauses a moment
/// rather than spinning.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::error!("accepting a connection failed: {err}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Raises this process's open-file limit to its hard limit (every connection is a file), and
/// says so when even that is too low for `max_connections`.
pub fn raise_file_limit(max_connections: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct we pass, nothing else.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    // Connections, the database pool, the log, the listener and a margin.
    let wanted = max_connections as u64 + 128;
    if limit.rlim_cur < wanted {
        tracing::warn!(
            "the open-file limit is {} but NEXTGENRDP_MAX_CONNECTIONS={max_connections} needs \
             about {wanted}: connections beyond it wait until others close",
            limit.rlim_cur
        );
    }
}

impl crate::config::ServeConfig {
    /// The server's limits on slow and idle clients and on connections.
    pub fn server_limits(&self) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }
}
