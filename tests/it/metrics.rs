//! `/metrics` (Prometheus text: requests by route template, query latency, the pool and the job
//! queue; loopback or bearer token only) and the operator's `/admin/database` page.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use sqlx::PgPool;

use crate::helpers::{TestApp, TestResponse};
use crate::pages::Visitor;

/// GET /metrics as a client at `ip` (the test app trusts X-Forwarded-For), with a token.
async fn scrape(app: &TestApp, ip: &str, token: Option<&str>) -> TestResponse {
    let mut request = Request::get("/metrics").header("x-forwarded-for", ip);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.request(request.body(Body::empty()).unwrap()).await
}

/// The value of the sample line starting with `series ` (name and labels as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().expect("a sample value is a number"))
}

#[sqlx::test]
async fn metrics_from_this_machine_show_requests_by_route_template_queries_and_the_job_queue(
    db: PgPool,
) {
    nextgenrdp::telemetry::install_metrics_recorder().expect("the test process installs it");
    let app = TestApp::with_default_catalog(db).await;
    assert_eq!(app.get("/api/v1/plans").await.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/plans/vps-nano-one").await.status,
        StatusCode::OK
    );
    // One job waiting for 90 s, one scheduled later (not ready), one failed for good.
    sqlx::query(
        "insert into jobs (kind, status, run_at) values
           ('metrics_test', 'queued', now() - interval '90 seconds'),
           ('metrics_test', 'queued', now() + interval '1 hour'),
           ('metrics_test', 'failed', now())",
    )
    .execute(&app.db)
    .await
    .unwrap();

    let metrics = scrape(&app, "127.0.0.1", None).await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.text());
    assert!(metrics.header("content-type").starts_with("text/plain"));
    let text = metrics.text();
    let requests = |route: &str| {
        sample(
            &text,
            &format!("http_requests_total{{method=\"GET\",route=\"{route}\",status=\"200\"}}"),
        )
    };
    assert!(requests("/api/v1/plans").unwrap_or(0.0) >= 1.0, "{text}");
    assert!(
        requests("/api/v1/plans/{id}").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        !text.contains("route=\"/api/v1/plans/vps-nano-one\""),
        "raw paths never become labels"
    );
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    assert!(text.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/plans/{id}\",status=\"200\",le=\"0.1\"}"), "{text}");
    assert!(text.contains("# TYPE db_query_duration_seconds histogram"));
    // Loading the default catalog upserted its plans.
    let upserts = "db_query_duration_seconds_count{query=\"plans.upsert\",outcome=\"ok\"}";
    assert!(sample(&text, upserts).unwrap_or(0.0) >= 1.0, "{text}");
    assert!(
        text.contains(
            "db_query_duration_seconds_bucket{query=\"plans.upsert\",outcome=\"ok\",le=\""
        ),
        "{text}"
    );
    assert_eq!(
        sample(&text, "jobs_queued{kind=\"metrics_test\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "jobs_failed{kind=\"metrics_test\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&text, "jobs_running"), Some(0.0));
    let oldest = sample(&text, "jobs_oldest_ready_age_seconds").unwrap();
    assert!((90.0..3600.0).contains(&oldest), "{oldest}");
    let size = sample(&text, "db_pool_size").unwrap();
    let idle = sample(&text, "db_pool_idle").unwrap();
    let in_use = sample(&text, "db_pool_in_use").unwrap();
    assert!(size >= 1.0 && size == idle + in_use, "{text}");
}

#[sqlx::test]
async fn metrics_without_a_token_are_refused_to_other_machines(db: PgPool) {
    let app = TestApp::new(db);
    assert_eq!(
        scrape(&app, "203.0.113.9", None).await.status,
        StatusCode::FORBIDDEN
    );
    // A forged first entry ahead of the proxy's own.
    assert_eq!(
        scrape(&app, "127.0.0.1, 203.0.113.9", None).await.status,
        StatusCode::FORBIDDEN
    );
    // No address at all.
    let anonymous = app
        .request(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
    // A loopback header from a remote TCP peer.
    let remote = Request::get("/metrics")
        .header("x-forwarded-for", "127.0.0.1")
        .extension(ConnectInfo(SocketAddr::from(([203, 0, 113, 9], 40000))))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(remote).await.status, StatusCode::FORBIDDEN);
    let local = Request::get("/metrics")
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(local).await.status, StatusCode::OK);
}

#[sqlx::test]
async fn metrics_passed_on_by_a_proxy_on_this_machine_are_refused_unless_that_proxy_is_trusted(
    db: PgPool,
) {
    // nginx on the same machine in front of the shop, NEXTGENRDP_TRUST_FORWARDED_FOR unset: every
    // request arrives from 127.0.0.1, whoever sent it. Its forwarding headers give it away.
    let mut settings = TestApp::settings();
    settings.trust_forwarded_for = false;
    let app = TestApp::with_settings(db, settings);
    let through_proxy = |header: &'static str| {
        Request::get("/metrics")
            .header(header, "203.0.113.9")
            .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))))
            .body(Body::empty())
            .unwrap()
    };
    for header in ["x-forwarded-for", "x-real-ip", "forwarded"] {
        let answer = app.request(through_proxy(header)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{header}");
    }
    let local = Request::get("/metrics")
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(local).await.status, StatusCode::OK);
}

#[sqlx::test]
async fn in_production_metrics_need_a_token_even_from_this_machine(db: PgPool) {
    let mut settings = TestApp::settings();
    settings.metrics_token_required = true;
    let app = TestApp::with_settings(db, settings);
    let local = Request::get("/metrics")
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))))
        .body(Body::empty())
        .unwrap();
    let answer = app.request(local).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(
        answer.text().contains("NEXTGENRDP_METRICS_TOKEN"),
        "{}",
        answer.text()
    );
}

#[sqlx::test]
async fn metrics_behind_a_token_need_that_token(db: PgPool) {
    let app = TestApp::with_metrics_token(db, Some("scrape-secret-7d1f"));
    assert_eq!(
        scrape(&app, "127.0.0.1", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        scrape(&app, "127.0.0.1", Some("scrape-secret-7d1e"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let scraped = scrape(&app, "203.0.113.9", Some("scrape-secret-7d1f")).await;
    assert_eq!(scraped.status, StatusCode::OK);
    assert!(
        scraped.text().contains("jobs_running "),
        "{}",
        scraped.text()
    );
}

#[sqlx::test]
async fn the_database_page_shows_query_figures_to_operators_only(db: PgPool) {
    let app = TestApp::new(db);
    app.admin("owner@nextgenrdp.pk").await;
    app.verified_customer("ayesha@example.pk").await;

    let mut operator = Visitor::from(&app, "198.51.100.71");
    operator
        .log_in("owner@nextgenrdp.pk", "operator-passphrase")
        .await;
    let page = operator.get("/admin/database").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    assert!(html.contains("id=\"query-labels\""), "{html}");
    assert!(
        html.contains("data-label=\"users.find_by_email\""),
        "{html}"
    );
    assert!(html.contains("on this node since it started"));
    // The test server may or may not have pg_stat_statements: either its figures or the help.
    assert!(
        html.contains("id=\"top-by-total\"") || html.contains("id=\"stat-statements-help\""),
        "{html}"
    );
    assert!(
        html.contains("href=\"/admin/database\""),
        "the admin nav links it"
    );

    let mut customer = Visitor::from(&app, "198.51.100.72");
    customer
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    assert_eq!(
        customer.get("/admin/database").await.status,
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test]
async fn the_database_page_explains_pg_stat_statements_when_it_cannot_be_read(db: PgPool) {
    let app = TestApp::new(db);
    app.admin("owner@nextgenrdp.pk").await;
    let mut operator = Visitor::from(&app, "198.51.100.73");
    operator
        .log_in("owner@nextgenrdp.pk", "operator-passphrase")
        .await;
    let installed: i64 = sqlx::query_scalar(
        "select count(*) from pg_extension where extname = 'pg_stat_statements'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let page = operator.get("/admin/database").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    if installed == 0 {
        let html = page.text();
        assert!(html.contains("id=\"stat-statements-help\""), "{html}");
        assert!(
            html.contains("create extension pg_stat_statements"),
            "{html}"
        );
    }
    // Installed but not preloaded (where the server ships the extension): the page still renders.
    if sqlx::query("create extension if not exists pg_stat_statements")
        .execute(&app.db)
        .await
        .is_ok()
    {
        let page = operator.get("/admin/database").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let html = page.text();
        assert!(
            html.contains("id=\"top-by-total\"") || html.contains("could not be read"),
            "{html}"
        );
    }
}
