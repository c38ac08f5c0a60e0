//! The IDOR matrix: every API operation that takes an id, called by another customer with the
//! id of something of Ayesha's, answers 404 (an operator route: 403) — nothing of hers in the
//! answer, nothing in the database changed.
//!
//! The operations come from the OpenAPI document, so a new route is in the matrix the day it
//! is added; one whose resource the matrix does not know fails the test until it is taught.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::cart::location_of;
use crate::helpers::{TestApp, TestResponse};

const PLAN: &str = "rdp-business-two";

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_owned()
}

/// Ayesha's things: one of each kind of resource a customer owns.
pub(super) struct Victim {
    pub login: Value,
    /// resource kind (the path segment before the id) → her id of it.
    pub ids: BTreeMap<&'static str, String>,
    /// Strings that must never reach anyone else.
    secrets: Vec<String>,
}

async fn post(app: &TestApp, login: &Value, path: &str, body: Value) -> TestResponse {
    app.send_json_as(Some(&token(login)), Method::POST, path, &body)
        .await
}

pub(super) async fn victim(app: &TestApp, admin: &Value) -> Victim {
    let login = app.verified_customer("ayesha@example.pk").await;
    let location = location_of(&app.db, PLAN).await;
    let item =
        json!({ "plan_id": PLAN, "location_id": location, "quantity": 1, "validity_months": 1 });
    let added = post(app, &login, "/api/v1/cart/items", item.clone()).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let placed = post(app, &login, "/api/v1/orders", json!({})).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json()["order"]["id"].as_i64().unwrap();
    let order_number = placed.json()["order"]["order_number"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let payment = app
        .report_transfer(&token(&login), order, "TID7788990011", "bank")
        .await["id"]
        .as_i64()
        .unwrap();
    app.approve_payment(&token(admin), payment).await;
    let service: i32 = sqlx::query_scalar(
        "select s.id from services s join order_items i on s.order_item_id = i.id
         where i.order_id = $1",
    )
    .bind(order as i32)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let provisioned = post(
        app,
        admin,
        &format!("/api/v1/admin/services/{service}/provision"),
        json!({
            "hostname": "ayesha-desk.lahore.nextgenrdp.pk",
            "ip_address": "203.0.113.77",
            "username": "Administrator",
            "password": "Ayesha-Secret-Pass-91",
        }),
    )
    .await;
    assert_eq!(provisioned.status, StatusCode::OK, "{}", provisioned.text());

    // Something in her cart again, and a second device signed in.
    let added = post(app, &login, "/api/v1/cart/items", item).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let cart_item = added.json()["items"][0]["id"].as_i64().unwrap();
    app.login("ayesha@example.pk", "correct-horse-battery")
        .await;
    let sessions = app
        .get_as(&token(&login), "/api/v1/me/sessions")
        .await
        .json();
    let other_session = sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] != json!(true))
        .expect("a second session")["id"]
        .to_string();

    let invoice: i32 =
        sqlx::query_scalar("select id from invoices where order_id = $1 and kind = 'invoice'")
            .bind(order as i32)
            .fetch_one(&app.db)
            .await
            .unwrap();

    let ticket = post(
        app,
        &login,
        "/api/v1/tickets",
        json!({ "subject": "Ayesha's question", "department": "technical", "message": "Ayesha-Secret-Question" }),
    )
    .await;
    assert_eq!(ticket.status, StatusCode::CREATED, "{}", ticket.text());
    let ticket = ticket.json()["ticket"]["id"].to_string();
    let sent = app
        .post_multipart_as(
            &token(&login),
            &format!("/api/v1/tickets/{ticket}/attachments"),
            &[],
            &[(
                "file",
                "Ayesha-Secret-Screenshot.png",
                "image/png",
                crate::helpers::TINY_PNG,
            )],
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let attachment = sent.json()["messages"][1]["attachments"][0]["id"].to_string();

    let key = post(
        app,
        &login,
        "/api/v1/me/ssh-keys",
        json!({ "name": "Ayesha-Secret-Laptop", "public_key": super::ssh_keys::ED25519 }),
    )
    .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.text());
    let ssh_key = key.json()["id"].to_string();

    let ids = BTreeMap::from([
        ("ssh-keys", ssh_key),
        // A snapshot name: the service in the path is Ayesha's, so any name is hers.
        ("snapshots", "before-update".to_owned()),
        ("tickets", ticket),
        ("attachments", attachment),
        // Not Ayesha's: the page whose policy an operator edits (for the hostile-input suite).
        ("policies", "terms".to_owned()),
        ("invoices", invoice.to_string()),
        ("orders", order.to_string()),
        ("payments", payment.to_string()),
        ("services", service.to_string()),
        ("items", cart_item.to_string()),
        ("sessions", other_session),
    ]);
    let mut secrets = vec![
        "ayesha@example.pk".to_owned(),
        "Ayesha Khan".to_owned(),
        "ayesha-desk".to_owned(),
        "203.0.113.77".to_owned(),
        "Ayesha-Secret-Pass-91".to_owned(),
        "Ayesha-Secret-Question".to_owned(),
        "Ayesha-Secret-Screenshot".to_owned(),
        "Ayesha-Secret-Laptop".to_owned(),
        "TID7788990011".to_owned(),
    ];
    if !order_number.is_empty() {
        secrets.push(order_number);
    }
    Victim {
        login,
        ids,
        secrets,
    }
}

/// Every row of every table but `except`, hashed per table: what "nothing changed" means. A
/// session's `last_used_at` (and the `updated_at` its write bumps) is left out: it is the
/// caller's own bookkeeping, written by any authenticated request (at most every few minutes),
/// refused or not.
pub(super) async fn snapshot(db: &PgPool, except: &[&str]) -> BTreeMap<String, String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = 'public' and table_type = 'BASE TABLE' order by 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let mut hashes = BTreeMap::new();
    for table in tables.into_iter().filter(|t| !except.contains(&t.as_str())) {
        let row = if table == "user_sessions" {
            "(to_jsonb(t) - 'last_used_at' - 'updated_at')::text"
        } else {
            "t::text"
        };
        let hash: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select md5(coalesce(string_agg({row}, '|' order by {row}), '')) from \"{table}\" t"
        )))
        .fetch_one(db)
        .await
        .unwrap();
        hashes.insert(table, hash);
    }
    hashes
}

/// The body an honest call of this operation would send, so a refusal cannot come from a
/// malformed body instead of the ownership check.
pub(super) fn body_for(method: &str, path: &str) -> Option<(&'static str, Vec<u8>)> {
    let json = |value: Value| Some(("application/json", value.to_string().into_bytes()));
    match (method, path) {
        ("get" | "delete", _) => None,
        ("patch", "/api/v1/cart/items/{id}") => json(json!({ "quantity": 2 })),
        ("post", "/api/v1/orders/{id}/cancel") => json(json!({})),
        ("post", "/api/v1/tickets/{id}/messages") => json(json!({ "message": "hello" })),
        ("post", "/api/v1/tickets/{id}/close") => json(json!({})),
        ("post", "/api/v1/tickets/{id}/attachments") => {
            let (content_type, body) = crate::helpers::multipart(
                &[("message", "hello")],
                &[("file", "a.png", "image/png", crate::helpers::TINY_PNG)],
            );
            Some((Box::leak(content_type.into_boxed_str()), body))
        }
        ("post", "/api/v1/orders/{id}/payments") => {
            json(json!({ "method": "manual", "reference": "TID5544332211" }))
        }
        ("put", "/api/v1/payments/{id}/receipt") => {
            let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
            png.extend_from_slice(&[0; 64]);
            Some(("image/png", png))
        }
        ("post", "/api/v1/services/{id}/actions") => json(json!({ "action": "reboot" })),
        ("post", "/api/v1/services/{id}/renew") => json(json!({ "validity_months": 1 })),
        ("post", "/api/v1/services/{id}/snapshots") => json(json!({ "name": "before-update" })),
        ("post", "/api/v1/services/{id}/snapshots/{name}/rollback") => {
            json(json!({ "confirm": "before-update" }))
        }
        _ => json(json!({})),
    }
}

pub(super) async fn call(
    app: &TestApp,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<(&str, Vec<u8>)>,
) -> TestResponse {
    let mut request = Request::builder()
        .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("x-forwarded-for", "198.51.100.9");
    let body = match body {
        Some((content_type, bytes)) => {
            request = request.header(header::CONTENT_TYPE, content_type);
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    app.request(request.body(body).unwrap()).await
}

#[sqlx::test]
async fn another_customer_gets_404_on_every_id_and_403_on_every_operator_route(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let admin = app.admin("operator@nextgenrdp.pk").await;
    let ayesha = victim(&app, &admin).await;
    let bilal = app.verified_customer("bilal@example.pk").await;
    let bilal_token = token(&bilal);
    let document = app.get("/api/v1/openapi.json").await.json();

    let before = snapshot(&db, &[]).await;
    let mut tried = 0;
    let mut wrong = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let admin_route = path.starts_with("/api/v1/admin/");
        if !path.contains('{') && !admin_route {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let public = operation.get("security").is_none();
            if public && !admin_route {
                // Public reads (`/plans/{id}`) have no owner.
                continue;
            }
            let uri = if admin_route {
                // Whatever the id: the role is checked first.
                fill(path, |_| Some("1".to_owned())).unwrap()
            } else {
                match fill(path, |kind| ayesha.ids.get(kind).cloned()) {
                    Some(uri) => uri,
                    None => panic!(
                        "{method} {path}: the matrix knows no resource of Ayesha's for this id; \
                         add one to `victim`"
                    ),
                }
            };
            let response = call(&app, &bilal_token, method, &uri, body_for(method, path)).await;
            tried += 1;
            let expected = if admin_route {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::NOT_FOUND
            };
            if response.status != expected {
                wrong.push(format!(
                    "{method} {uri}: {} {}",
                    response.status,
                    response.text()
                ));
            }
            let text = String::from_utf8_lossy(&response.body).into_owned();
            for secret in &ayesha.secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{method} {uri} leaked {secret:?}: {text}"
                );
            }
        }
    }
    assert!(wrong.is_empty(), "refused wrongly: {wrong:#?}");
    assert!(tried > 60, "only {tried} operations tried");
    let after = snapshot(&db, &[]).await;
    let changed: Vec<&String> = before
        .keys()
        .filter(|table| before.get(*table) != after.get(*table))
        .collect();
    assert!(changed.is_empty(), "the refused calls changed {changed:?}");

    // And Ayesha herself still reaches each of them (the ids were real).
    let own = app
        .get_as(
            &token(&ayesha.login),
            &format!("/api/v1/services/{}", ayesha.ids["services"]),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
    let own = app
        .get_as(
            &token(&ayesha.login),
            &format!("/api/v1/orders/{}", ayesha.ids["orders"]),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
}

/// `path` with each `{param}` replaced by `id_of(segment before it)`; `None` when one is unknown.
pub(super) fn fill(path: &str, id_of: impl Fn(&str) -> Option<String>) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        if segment.starts_with('{') {
            let kind = if i > 0 { segments[i - 1] } else { "" };
            out.push(id_of(kind)?);
        } else {
            out.push((*segment).to_owned());
        }
    }
    Some(out.join("/"))
}
