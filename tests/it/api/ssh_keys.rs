//! `/api/v1/me/ssh-keys` and `/account/ssh-keys`: a customer keeps named OpenSSH public keys —
//! checked (no private keys, no DSA, no short RSA), each once, at most 20 — and removes them.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, TestResponse};
use crate::pages::Visitor;

/// Real keys made with `ssh-keygen` (ed25519; ECDSA P-256; RSA of 1024 bits).
pub const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID3/678gAwNvxxq17AZ+Re4wN9owv5H0iUqHFaLXVlmD ayesha@laptop";
pub const ED25519_FINGERPRINT: &str = "SHA256:nq6Jx8aZ8WUG5ppqovyQsD9eJGP8qUpjcw7+AaHgA9Q";
const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNkvbj+aqKb3/vJJX0ymyiNcA22o3GphPmtlin9u2VRHorV7n/EFHCrvtxVuE3lNG9K9FMq/JMf6xf/FIi41/lk= ec";
const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCsZVYFtRj2Jc7e0qQemQV1X/JTw4vjCpfb/DJyZof2unmrfKnFhumsem/S65IZrwDyWvFDEdtWgb1gKWzWmM5iF8TEZNN5IE1amRiCSvHPAHEVKSBxJqFY31gX1BblVBjTQJ+9oTrO4fWT65zT35AL5zbpf0escdmqGaxT/Xg3Fw== old";

async fn add(app: &TestApp, token: &str, name: &str, key: &str) -> TestResponse {
    app.send_json_as(
        Some(token),
        Method::POST,
        "/api/v1/me/ssh-keys",
        &json!({ "name": name, "public_key": key }),
    )
    .await
}

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_owned()
}

async fn count(db: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from ssh_keys")
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_customer_adds_lists_and_removes_named_keys(db: PgPool) {
    let app = TestApp::new(db);
    let own = token(&app.verified_customer("ayesha@example.pk").await);

    let added = add(&app, &own, " Laptop ", &format!("{ED25519}\n")).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let key = added.json();
    assert_eq!(key["name"], "Laptop");
    assert_eq!(key["algorithm"], "ssh-ed25519");
    assert_eq!(key["fingerprint"], ED25519_FINGERPRINT);
    assert!(key["public_key"].as_str().unwrap().ends_with(" Laptop"));
    let ecdsa = add(&app, &own, "Phone", ECDSA).await;
    assert_eq!(ecdsa.status, StatusCode::CREATED, "{}", ecdsa.text());

    let list = app.get_as(&own, "/api/v1/me/ssh-keys").await.json();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Laptop", "Phone"]);

    // The same key again, under any comment or name: 409 naming the one kept.
    let again = add(
        &app,
        &own,
        "Desk",
        &ED25519.replace("ayesha@laptop", "other"),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        again.json()["errors"]["public_key"],
        "this key is on your account already, named \"Laptop\""
    );

    let id = key["id"].as_i64().unwrap();
    let removed = app
        .send_json_as(
            Some(&own),
            Method::DELETE,
            &format!("/api/v1/me/ssh-keys/{id}"),
            &json!(null),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let gone = app
        .send_json_as(
            Some(&own),
            Method::DELETE,
            &format!("/api/v1/me/ssh-keys/{id}"),
            &json!(null),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // Another customer's key list is their own.
    let other = token(&app.verified_customer("bilal@example.pk").await);
    assert_eq!(
        app.get_as(&other, "/api/v1/me/ssh-keys").await.json()["items"],
        json!([])
    );
    assert_eq!(
        add(&app, &other, "Laptop", ED25519).await.status,
        StatusCode::CREATED,
        "keys are per account"
    );
}

#[sqlx::test]
async fn what_is_not_a_public_key_is_refused_saying_why_and_nothing_is_kept(db: PgPool) {
    let app = TestApp::new(db);
    let own = token(&app.verified_customer("ayesha@example.pk").await);
    let cases = [
        (
            "Laptop",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----",
            "public_key",
            "private key",
        ),
        ("Laptop", RSA_1024, "public_key", "1024 bits"),
        (
            "Laptop",
            "ssh-ed25519 AAAA!!!",
            "public_key",
            "not an OpenSSH public key",
        ),
        ("Laptop", "", "public_key", "paste your public key"),
        (
            "Laptop",
            &format!("{ED25519}\n{ECDSA}"),
            "public_key",
            "one key at a time",
        ),
        ("", ED25519, "name", "give the key a name"),
        (&"x".repeat(101), ED25519, "name", "at most 100"),
    ];
    for (name, key, field, words) in cases {
        let refused = add(&app, &own, name, key).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            refused.text()
        );
        let message = refused.json()["errors"][field]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(words), "{field}: {message}");
    }
    let unknown = app
        .send_json_as(
            Some(&own),
            Method::POST,
            "/api/v1/me/ssh-keys",
            &json!({ "name": "a", "public_key": ED25519, "admin": true }),
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.text()
    );
    assert_eq!(count(&app.db).await, 0);
}

#[sqlx::test]
async fn an_account_keeps_at_most_twenty_keys(db: PgPool) {
    let app = TestApp::new(db);
    let login = app.verified_customer("ayesha@example.pk").await;
    let user = login["user"]["id"].as_i64().unwrap() as i32;
    // Twenty distinct keys, written directly (each a different fingerprint).
    for n in 0..20 {
        sqlx::query(
            "insert into ssh_keys (user_id, name, public_key, fingerprint, algorithm)
             values ($1, $2, 'ssh-ed25519 AAAA', $3, 'ssh-ed25519')",
        )
        .bind(user)
        .bind(format!("key {n}"))
        .bind(format!("SHA256:fake{n}"))
        .execute(&app.db)
        .await
        .unwrap();
    }
    let refused = add(&app, &token(&login), "One more", ED25519).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.text().contains("at most 20 keys"),
        "{}",
        refused.text()
    );
    assert_eq!(count(&app.db).await, 20);
}

#[sqlx::test]
async fn the_ssh_keys_page_adds_and_removes_keys(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    let mut visitor = Visitor::new(&app);
    visitor
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;

    let account = visitor.get("/account").await.text();
    assert!(account.contains("href=\"/account/ssh-keys\""));
    let empty = visitor.get("/account/ssh-keys").await;
    assert!(empty.text().contains("No keys yet."));

    let refused = visitor
        .submit(
            "/account/ssh-keys",
            "/account/ssh-keys",
            &[("name", "Laptop"), ("public_key", RSA_1024)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(html.contains("1024 bits"), "{html}");
    assert!(html.contains("value=\"Laptop\""), "the name is kept");

    let added = visitor
        .submit(
            "/account/ssh-keys",
            "/account/ssh-keys",
            &[("name", "Laptop"), ("public_key", ED25519)],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let page = visitor.get("/account/ssh-keys?notice=added").await.text();
    assert!(page.contains("Key added."));
    assert!(page.contains(ED25519_FINGERPRINT));

    let id: i32 = sqlx::query_scalar("select id from ssh_keys")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let removed = visitor
        .submit(
            "/account/ssh-keys",
            &format!("/account/ssh-keys/{id}/remove"),
            &[],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(count(&app.db).await, 0);
}
