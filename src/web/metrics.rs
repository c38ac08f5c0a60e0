//! The middleware counting HTTP requests (`http_requests_total`,
//! `http_request_duration_seconds`) into the process-wide recorder
//! ([`crate::telemetry::install_metrics_recorder`]); `/metrics` itself is served by
//! `crate::router::metrics`.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;

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
