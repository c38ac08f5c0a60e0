//! The HTTP shell through the real router: probes, error shapes, headers, the home page.

use axum::http::{Method, StatusCode};
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test]
async fn healthz_and_readyz_answer_ok_on_a_migrated_database(db: PgPool) {
    let app = TestApp::new(db);
    let health = app.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text());
}

/// The probes answer GET alone: another method is the router's 405 naming GET, as the API
/// document says (it was the CSRF check's 403 page, found by Schemathesis).
#[sqlx::test]
async fn the_probes_refuse_other_methods_with_405(db: PgPool) {
    let app = TestApp::new(db);
    for path in ["/healthz", "/readyz"] {
        for method in [Method::POST, Method::DELETE, Method::TRACE] {
            let response = app
                .request(
                    axum::http::Request::builder()
                        .method(method.clone())
                        .uri(path)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(
                response.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {}",
                response.text()
            );
            assert!(response.header("allow").contains("GET"), "{method} {path}");
        }
    }
}

#[sqlx::test(migrations = false)]
async fn readyz_is_503_while_migrations_are_pending(db: PgPool) {
    let app = TestApp::new(db);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.json()["reason"]
            .as_str()
            .unwrap()
            .contains("migration")
    );
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

#[sqlx::test]
async fn readyz_is_503_when_the_database_is_gone(db: PgPool) {
    let app = TestApp::new(db.clone());
    db.close().await;
    assert_eq!(
        app.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[sqlx::test]
async fn api_errors_are_problem_details(db: PgPool) {
    let app = TestApp::new(db);
    let missing = app.get("/api/v1/no-such-thing").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("content-type"), "application/problem+json");
    let problem = missing.json();
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["title"], "Not Found");
    assert!(problem["detail"].is_string());

    let wrong_method = app
        .send_json(Method::DELETE, "/api/v1", &serde_json::json!({}))
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        wrong_method.header("content-type"),
        "application/problem+json"
    );
    assert_eq!(wrong_method.json()["status"], 405);
}

#[sqlx::test]
async fn page_errors_are_html_pages(db: PgPool) {
    let app = TestApp::new(db);
    let missing = app.get("/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.header("content-type").starts_with("text/html"));
    assert!(missing.text().contains("page not found"));
}

#[sqlx::test]
async fn responses_carry_a_request_id_and_security_headers(db: PgPool) {
    let app = TestApp::new(db);
    let response = app.get("/healthz").await;
    assert_eq!(response.header("x-request-id").len(), 36, "a UUID");
    assert_eq!(response.header("x-frame-options"), "DENY");
    assert_eq!(response.header("x-content-type-options"), "nosniff");
    let csp = response.header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
}

#[sqlx::test]
async fn strict_transport_security_is_sent_only_when_the_shop_is_served_over_https(db: PgPool) {
    let app = TestApp::new(db.clone());
    assert_eq!(
        app.get("/healthz")
            .await
            .header("strict-transport-security"),
        ""
    );
    let mut settings = TestApp::settings();
    settings.public_url = "https://shop.example.pk".into();
    let app = TestApp::with_settings(db, settings);
    for path in ["/healthz", "/", "/api/v1/plans", "/no-such-page"] {
        assert_eq!(
            app.get(path).await.header("strict-transport-security"),
            "max-age=31536000",
            "{path}"
        );
    }
}

#[sqlx::test]
async fn cors_allows_only_the_listed_origins(db: PgPool) {
    use axum::body::Body;
    use axum::http::Request;
    let app = TestApp::new(db);
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = app.request(preflight("https://shop.example.pk")).await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        "https://shop.example.pk"
    );
    let refused = app.request(preflight("https://evil.example.com")).await;
    assert_eq!(refused.header("access-control-allow-origin"), "");

    // With no origin listed, nothing is allowed cross-origin and no answer varies by origin.
    let mut settings = TestApp::settings();
    settings.cors_origins.clear();
    let closed = TestApp::with_settings(app.db.clone(), settings);
    let preflight = closed.request(preflight("https://shop.example.pk")).await;
    assert_eq!(preflight.header("access-control-allow-origin"), "");
    let plain = closed.get("/api/v1").await;
    assert_eq!(plain.status, StatusCode::OK);
    let vary = plain.header("vary").to_ascii_lowercase();
    assert!(!vary.contains("origin"), "{vary}");
}

#[sqlx::test]
async fn responses_are_compressed_when_the_client_accepts_it(db: PgPool) {
    use axum::body::Body;
    use axum::http::Request;
    let app = TestApp::with_default_catalog(db).await;
    let response = app
        .request(
            Request::get("/")
                .header("accept-encoding", "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.header("content-encoding"), "gzip");
}

#[sqlx::test]
async fn the_home_page_lists_the_catalog_from_the_database(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let db = &app.db;
    let page = app.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Rs 2,500"), "the cheapest RDP price");
    // the home page features some plans; the category pages list them all
    let html = app.get("/rdp").await.text() + &app.get("/vps").await.text();
    for plan in nextgenrdp::catalog::plans::list_active(db, None)
        .await
        .unwrap()
    {
        assert!(html.contains(&plan.name), "{} missing", plan.name);
        assert!(html.contains(&format!("/plans/{}", plan.id)));
    }

    // an edit made in the database shows within the catalog cache's second; a deactivated
    // plan disappears
    sqlx::query("update plans set price_pkr = 2750 where id = 'rdp-starter-one'")
        .execute(db)
        .await
        .unwrap();
    nextgenrdp::catalog::plans::set_active(db, "vps-power-four", false)
        .await
        .unwrap();
    tokio::time::sleep(nextgenrdp::catalog::cache::TTL + std::time::Duration::from_millis(100))
        .await;
    let html = app.get("/").await.text();
    assert!(html.contains("Rs 2,750"));
    let html = app.get("/vps").await.text();
    assert!(!html.contains("/plans/vps-power-four"));
}

#[sqlx::test]
async fn static_assets_are_served_with_hashed_names_and_long_caching(db: PgPool) {
    let app = TestApp::new(db);
    let url = nextgenrdp::web::assets::url("app.css");
    assert!(
        url.starts_with("/static/app-") && url.ends_with(".css"),
        "{url}"
    );
    let css = app.get(&url).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header("content-type").starts_with("text/css"));
    assert!(css.header("cache-control").contains("immutable"));
    assert_eq!(
        app.get("/static/nope.css").await.status,
        StatusCode::NOT_FOUND
    );
}
