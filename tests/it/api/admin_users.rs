//! `/api/v1/admin/users`: the operator's account list, and disabling an account.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test]
async fn admin_routes_need_an_operator(db: PgPool) {
    let app = TestApp::new(db);
    let customer = app.verified_customer("ayesha@example.pk").await;
    assert_eq!(
        app.get("/api/v1/admin/users").await.status,
        StatusCode::UNAUTHORIZED
    );
    let forbidden = app
        .get_as(
            customer["access_token"].as_str().unwrap(),
            "/api/v1/admin/users",
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.header("content-type"), "application/problem+json");
    let id = customer["user"]["id"].as_i64().unwrap();
    let disable = app
        .send_json_as(
            customer["access_token"].as_str(),
            Method::POST,
            &format!("/api/v1/admin/users/{id}/disable"),
            &json!({}),
        )
        .await;
    assert_eq!(disable.status, StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn the_operator_searches_and_pages_accounts(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str().unwrap();
    app.verified_customer("ayesha@example.pk").await;
    app.verified_customer("bilal@example.pk").await;

    let all = app
        .get_as(token, "/api/v1/admin/users?per_page=2")
        .await
        .json();
    assert_eq!(all["total"], 3);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let page_two = app
        .get_as(token, "/api/v1/admin/users?per_page=2&page=2")
        .await
        .json();
    assert_eq!(page_two["items"].as_array().unwrap().len(), 1);
    let found = app
        .get_as(token, "/api/v1/admin/users?search=BILAL")
        .await
        .json();
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["email"], "bilal@example.pk");

    for bad in [
        "/api/v1/admin/users?page=0",
        "/api/v1/admin/users?per_page=1000",
        "/api/v1/admin/users?page=x",
    ] {
        let response = app.get_as(token, bad).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// Past 10,000 matching accounts the total is the database's estimate, marked so; below it
/// (a search) it is exact again, and paging goes on while pages come back full.
#[sqlx::test]
async fn past_ten_thousand_accounts_the_total_is_an_estimate(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str().unwrap();
    crate::helpers::bulk_customers(&app.db, 10_500).await;

    let all = app.get_as(token, "/api/v1/admin/users?per_page=100").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text());
    let all = all.json();
    assert_eq!(all["total_exact"], false, "{all}");
    let total = all["total"].as_i64().unwrap();
    assert!(
        (10_001..=12_000).contains(&total),
        "an estimate near the 10,501 accounts: {total}"
    );
    assert_eq!(all["items"].as_array().unwrap().len(), 100);
    let far = app
        .get_as(token, "/api/v1/admin/users?per_page=100&page=106")
        .await
        .json();
    assert_eq!(
        far["items"].as_array().unwrap().len(),
        1,
        "the last page holds the 10,501st account"
    );

    let some = app
        .get_as(token, "/api/v1/admin/users?search=bulk1050")
        .await
        .json();
    assert_eq!(some["total_exact"], true);
    assert_eq!(some["total"], 2, "bulk1050 and bulk10500");
    let exactly = app
        .get_as(token, "/api/v1/admin/users?search=example.pk")
        .await
        .json();
    assert_eq!(
        exactly["total_exact"], false,
        "10,500 customers match: estimated"
    );
}

#[sqlx::test]
async fn disabling_an_account_ends_its_sessions_at_once_and_is_audited(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str();
    let customer = app.verified_customer("ayesha@example.pk").await;
    let id = customer["user"]["id"].as_i64().unwrap();

    let disabled = app
        .send_json_as(
            token,
            Method::POST,
            &format!("/api/v1/admin/users/{id}/disable"),
            &json!({}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    assert!(disabled.json()["disabled_at"].is_string());
    assert_eq!(
        app.get_as(customer["access_token"].as_str().unwrap(), "/api/v1/me")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let audit = nextgenrdp::audit::list(&app.db, Some("user"), Some(&id.to_string()), 10, 0)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "user.disable");
    assert_eq!(
        audit[0].actor_user_id,
        Some(admin["user"]["id"].as_i64().unwrap() as i32)
    );

    let enabled = app
        .send_json_as(
            token,
            Method::POST,
            &format!("/api/v1/admin/users/{id}/enable"),
            &json!({}),
        )
        .await;
    assert_eq!(enabled.json()["disabled_at"], serde_json::Value::Null);
    app.login("ayesha@example.pk", "correct-horse-battery")
        .await;

    let own = admin["user"]["id"].as_i64().unwrap();
    let myself = app
        .send_json_as(
            token,
            Method::POST,
            &format!("/api/v1/admin/users/{own}/disable"),
            &json!({}),
        )
        .await;
    assert_eq!(myself.status, StatusCode::CONFLICT);
    let missing = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/admin/users/999999/disable",
            &json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
