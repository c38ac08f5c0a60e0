//! The framework's ceiling for `bench/run`: a bare axum handler returning a fixed body, on the
//! same axum/tokio (versions and runtime flavour) as `nextgenrdp serve`, with no middleware,
//! no database and no logging. Whatever the product does per request costs something on top of
//! this, so the benchmark reports each scenario's rate as a fraction of this one's.
//!
//! `cargo build --release --example ceiling`, then `target/release/examples/ceiling ADDR`
//! (default 127.0.0.1:8099). `GET /` returns a fixed JSON body of about the catalog's size
//! (`CEILING_BODY_BYTES`, default 2048) so the bytes on the wire are comparable too.

use axum::{Router, http::header, response::IntoResponse, routing::get};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".to_owned());
    let size: usize = std::env::var("CEILING_BODY_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2048);
    // A JSON array of one repeated string padded to `size` bytes; built once, served forever.
    let filler = "x".repeat(size.saturating_sub(4).max(1));
    let body: &'static str = Box::leak(format!("[\"{filler}\"]").into_boxed_str());
    let app =
        Router::new().route(
            "/",
            get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], body).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    eprintln!("ceiling listening on {addr}");
    axum::serve(listener, app).await.expect("server error");
}
