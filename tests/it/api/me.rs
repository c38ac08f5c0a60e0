//! `/api/v1/me*`: the profile, the password and the sessions of the caller.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test]
async fn the_profile_is_updated_with_validation(db: PgPool) {
    let app = TestApp::new(db);
    let login = app.verified_customer("ayesha@example.pk").await;
    let token = login["access_token"].as_str();
    let updated = app
        .send_json_as(
            token,
            Method::PATCH,
            "/api/v1/me",
            &json!({ "name": "Ayesha K.", "phone": "+92 321 7654321" }),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert_eq!(updated.json()["phone"], "+923217654321");
    let cleared = app
        .send_json_as(
            token,
            Method::PATCH,
            "/api/v1/me",
            &json!({ "phone": null }),
        )
        .await;
    assert_eq!(cleared.json()["phone"], serde_json::Value::Null);
    assert_eq!(cleared.json()["name"], "Ayesha K.");

    let bad = app
        .send_json_as(
            token,
            Method::PATCH,
            "/api/v1/me",
            &json!({ "name": " ", "phone": "123" }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = &bad.json()["errors"];
    assert!(
        errors["name"].is_string() && errors["phone"].is_string(),
        "{errors}"
    );
    let unknown = app
        .send_json_as(
            token,
            Method::PATCH,
            "/api/v1/me",
            &json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.text()
    );
    assert_eq!(
        app.get_as(token.unwrap(), "/api/v1/me").await.json()["role"],
        "customer"
    );
}

#[sqlx::test]
async fn changing_the_password_ends_the_other_sessions_only(db: PgPool) {
    let app = TestApp::new(db);
    let first = app.verified_customer("ayesha@example.pk").await;
    let second = app
        .login("ayesha@example.pk", "correct-horse-battery")
        .await;
    let token = first["access_token"].as_str();

    let wrong = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/me/password",
            &json!({ "current_password": "nope-nope", "new_password": "another good one" }),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.json()["errors"]["current_password"].is_string());

    let changed = app
        .send_json_as(token, Method::POST, "/api/v1/me/password", &json!({ "current_password": "correct-horse-battery", "new_password": "another good one" }))
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.text());
    assert_eq!(
        app.get_as(token.unwrap(), "/api/v1/me").await.status,
        StatusCode::OK,
        "current kept"
    );
    assert_eq!(
        app.get_as(second["access_token"].as_str().unwrap(), "/api/v1/me")
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "other ended"
    );
    app.login("ayesha@example.pk", "another good one").await;
}

#[sqlx::test]
async fn sessions_are_listed_with_the_current_one_marked_and_revoked(db: PgPool) {
    let app = TestApp::new(db);
    let first = app.verified_customer("ayesha@example.pk").await;
    let second = app
        .login("ayesha@example.pk", "correct-horse-battery")
        .await;
    let third = app
        .login("ayesha@example.pk", "correct-horse-battery")
        .await;
    let token = first["access_token"].as_str().unwrap();

    let list = app.get_as(token, "/api/v1/me/sessions").await.json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let second_id =
        nextgenrdp::accounts::jwt::verify(&[1; 32], second["access_token"].as_str().unwrap())
            .unwrap()
            .sid;

    let revoked = app
        .send_json_as(
            Some(token),
            Method::DELETE,
            &format!("/api/v1/me/sessions/{second_id}"),
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as(second["access_token"].as_str().unwrap(), "/api/v1/me")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let rest = app
        .send_json_as(
            Some(token),
            Method::DELETE,
            "/api/v1/me/sessions",
            &json!({}),
        )
        .await;
    assert_eq!(rest.json()["revoked"], 1);
    assert_eq!(
        app.get_as(third["access_token"].as_str().unwrap(), "/api/v1/me")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get_as(token, "/api/v1/me").await.status, StatusCode::OK);
}

#[sqlx::test]
async fn a_customer_cannot_revoke_another_customers_session(db: PgPool) {
    let app = TestApp::new(db);
    let ayesha = app.verified_customer("ayesha@example.pk").await;
    let bilal = app.verified_customer("bilal@example.pk").await;
    let bilal_session =
        nextgenrdp::accounts::jwt::verify(&[1; 32], bilal["access_token"].as_str().unwrap())
            .unwrap()
            .sid;
    let response = app
        .send_json_as(
            ayesha["access_token"].as_str(),
            Method::DELETE,
            &format!("/api/v1/me/sessions/{bilal_session}"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_as(bilal["access_token"].as_str().unwrap(), "/api/v1/me")
            .await
            .status,
        StatusCode::OK
    );
}
