//! Test harness: the real router over a test database, driven in-process with `oneshot`, and
//! helpers to run the real binary.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use nextgenrdp::app::{AppState, Settings};
use nextgenrdp::config::{Key, Secrets};
use sqlx::PgPool;
use tower::ServiceExt;

/// The application over `pool`, as `serve` builds it, with fixed test secrets.
pub struct TestApp {
    pub router: Router,
    pub db: PgPool,
}

impl TestApp {
    pub fn new(db: PgPool) -> Self {
        let state = AppState::new(
            db.clone(),
            Settings {
                public_url: "http://shop.test".into(),
                cors_origins: vec!["https://shop.example.pk".into()],
                request_timeout: std::time::Duration::from_secs(30),
                secrets: Secrets {
                    token_signing_key: Key::from_bytes([1; 32]),
                    credential_key: Key::from_bytes([2; 32]),
                },
            },
        );
        Self { router: nextgenrdp::web::router(state), db }
    }

    /// The app with the bundled default catalog loaded.
    pub async fn with_default_catalog(db: PgPool) -> Self {
        nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
        Self::new(db)
    }

    pub async fn request(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        TestResponse { status, headers, body: body.to_vec() }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Request::get(path).body(Body::empty()).unwrap()).await
    }

    pub async fn send_json(&self, method: Method, path: &str, json: &serde_json::Value) -> TestResponse {
        self.request(
            Request::builder()
                .method(method)
                .uri(path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json.to_string()))
                .unwrap(),
        )
        .await
    }
}

/// A response read to the end.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("the body is UTF-8")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// The path of the freshly built `nextgenrdp` binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_nextgenrdp")
}

/// The URL of the test database server (the one `#[sqlx::test]` uses), for the binary.
pub fn database_url_for(pool: &PgPool) -> String {
    let options = pool.connect_options();
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL names the test server");
    let mut url: url::Url = server.parse().expect("DATABASE_URL is a URL");
    url.set_path(options.get_database().expect("the test pool names its database"));
    url.to_string()
}
