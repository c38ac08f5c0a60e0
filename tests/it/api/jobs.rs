//! The operator's job queue: failed jobs are listed with their error and can be retried.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test]
async fn a_failed_job_is_listed_with_its_error_and_an_operator_retries_it_once(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str().unwrap();
    let id = nextgenrdp::jobs::enqueue(
        &app.db,
        "no_such_kind",
        &json!({"service_id": 7}),
        None,
        None,
    )
    .await
    .unwrap()
    .unwrap();
    app.deliver_mail().await; // runs the worker: an unknown kind fails for good at once

    let failed = app.get_as(token, "/api/v1/admin/jobs?status=failed").await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.text());
    let body = failed.json();
    assert_eq!(body["total"], 1);
    assert_eq!(body["total_exact"], true);
    let job = &body["items"][0];
    assert_eq!(job["id"], id);
    assert_eq!(job["service_id"], 7);
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .contains("unknown job kind")
    );
    assert!(job.get("payload").is_none(), "payloads are not shown");
    assert_eq!(body["counts"]["failed"], 1);

    let path = format!("/api/v1/admin/jobs/{id}/retry");
    let retried = app
        .send_json_as(Some(token), Method::POST, &path, &json!({}))
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text());
    assert_eq!(retried.json()["job"]["status"], "queued");
    let again = app
        .send_json_as(Some(token), Method::POST, &path, &json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text().contains("only a failed job"));
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("job", Some(&id.to_string())),
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(audit.len(), 1);

    let bad = app.get_as(token, "/api/v1/admin/jobs?status=stuck").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let missing = app
        .send_json_as(
            Some(token),
            Method::POST,
            "/api/v1/admin/jobs/999999/retry",
            &json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let customer = app.verified_customer("ayesha@example.pk").await;
    let refused = app
        .get_as(
            customer["access_token"].as_str().unwrap(),
            "/api/v1/admin/jobs",
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
