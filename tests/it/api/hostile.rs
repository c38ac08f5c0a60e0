//! Hostile input: every JSON operation of the API (read from the OpenAPI document) fed bodies
//! no honest client sends — invalid UTF-8, a truncated document, the wrong JSON type, the wrong
//! content type, a megabyte in every text field, NUL characters, numbers beyond any column —
//! answers a clear 4xx problem document, and nothing is written. Then the targeted cases: SQL
//! metacharacters are data, never SQL; negative and huge quantities and ids are refused.

use axum::http::{Method, StatusCode, header};
use serde_json::{Map, Value, json};
use sqlx::PgPool;

use super::cart::location_of;
use super::idor::{call, fill, snapshot, victim};
use crate::helpers::{TestApp, TestResponse};

/// Written by refused requests on purpose: rate-limit counters count abuse, and every payment
/// callback, forged or garbled, is kept as evidence.
const COUNTERS: &[&str] = &["rate_limits", "payment_events"];

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_owned()
}

/// The request body schema of `operation` (its JSON one), with `$ref`s resolved.
fn body_schema<'a>(document: &'a Value, operation: &'a Value) -> Option<&'a Value> {
    let schema = operation["requestBody"]["content"]
        .get("application/json")?
        .get("schema")?;
    Some(resolve(document, schema))
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            resolve(document, &document["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// An object with every property of `schema` set by `value(property schema)`.
fn object_like(document: &Value, schema: &Value, value: &dyn Fn(&Value) -> Value) -> Value {
    let mut object = Map::new();
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            object.insert(name.clone(), value(resolve(document, property)));
        }
    }
    if object.is_empty() {
        object.insert("unexpected".into(), value(&json!({ "type": "string" })));
    }
    Value::Object(object)
}

fn is_type(schema: &Value, wanted: &str) -> bool {
    match &schema["type"] {
        Value::String(t) => t == wanted,
        Value::Array(types) => types.iter().any(|t| t == wanted),
        _ => false,
    }
}

/// The hostile bodies for one operation: (what, content type, bytes).
fn attacks(document: &Value, schema: &Value) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    const JSON: &str = "application/json";
    let megabyte = "A".repeat(1 << 20);
    let huge_text = object_like(document, schema, &|_| json!(megabyte));
    let nul = object_like(document, schema, &|p| {
        if is_type(p, "integer") || is_type(p, "number") {
            json!(1)
        } else {
            json!("abc\u{0}def")
        }
    });
    let huge_numbers = object_like(document, schema, &|_| json!(1e300));
    let negative = object_like(document, schema, &|p| {
        if is_type(p, "integer") || is_type(p, "number") {
            json!(-2_147_483_649_i64)
        } else {
            json!(-1)
        }
    });
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let has_text = schema["properties"].as_object().is_none_or(|p| {
        p.is_empty() || p.values().any(|p| is_type(resolve(document, p), "string"))
    });
    let mut attacks = vec![
        (
            "invalid UTF-8",
            JSON,
            b"{\"name\": \"\xff\xfe\xfd\"}".to_vec(),
        ),
        ("truncated JSON", JSON, b"{\"email\": \"a@b.pk\", ".to_vec()),
        ("a JSON array", JSON, b"[1, 2, 3]".to_vec()),
        // serde reads a struct from an array of its fields; all optional, this one would pass
        ("a JSON array of nulls", JSON, b"[null, null]".to_vec()),
        ("a JSON string", JSON, b"\"hello\"".to_vec()),
        ("10 000 nested arrays", JSON, deep.into_bytes()),
        ("the wrong content type", "text/plain", b"{}".to_vec()),
        (
            "a form body",
            "application/x-www-form-urlencoded",
            b"a=1&b=2".to_vec(),
        ),
        (
            "a megabyte in every field",
            JSON,
            huge_text.to_string().into_bytes(),
        ),
        (
            "numbers beyond any column",
            JSON,
            huge_numbers.to_string().into_bytes(),
        ),
        (
            "negative numbers and mistyped fields",
            JSON,
            negative.to_string().into_bytes(),
        ),
    ];
    if has_text {
        // (Without a text field the NUL body is an honest request.)
        attacks.push(("NUL characters", JSON, nul.to_string().into_bytes()));
    }
    attacks
}

#[sqlx::test]
async fn every_json_operation_refuses_hostile_bodies_clearly_and_writes_nothing(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let admin = app.admin("operator@nextgenrdp.pk").await;
    let ayesha = victim(&app, &admin).await;
    let document = app.get("/api/v1/openapi.json").await.json();

    let before = snapshot(&db, COUNTERS).await;
    let mut tried = 0;
    let mut wrong = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(schema) = body_schema(&document, operation) else {
                continue;
            };
            let caller = if path.starts_with("/api/v1/admin/") {
                token(&admin)
            } else {
                token(&ayesha.login)
            };
            let uri = fill(path, |kind| {
                Some(ayesha.ids.get(kind).cloned().unwrap_or_else(|| "1".into()))
            })
            .unwrap();
            for (what, content_type, bytes) in attacks(&document, schema) {
                let response = call(&app, &caller, method, &uri, Some((content_type, bytes))).await;
                tried += 1;
                if !clear_refusal(&response) {
                    wrong.push(format!(
                        "{method} {path} with {what}: {} {}",
                        response.status,
                        String::from_utf8_lossy(&response.body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "not refused clearly: {wrong:#?}");
    assert!(tried > 200, "only {tried} hostile requests sent");
    let after = snapshot(&db, COUNTERS).await;
    let changed: Vec<&String> = before
        .keys()
        .filter(|table| before.get(*table) != after.get(*table))
        .collect();
    assert!(changed.is_empty(), "hostile bodies changed {changed:?}");
}

/// A 4xx problem document with a detail a person can read.
fn clear_refusal(response: &TestResponse) -> bool {
    let problem = response
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/problem+json");
    let detail = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|body| body["detail"].as_str().map(str::to_owned))
        .is_some_and(|d| !d.is_empty());
    response.status.is_client_error() && problem && detail
}

#[sqlx::test]
async fn sql_metacharacters_are_stored_and_searched_as_text(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let admin = app.admin("operator@nextgenrdp.pk").await;
    let name = "Robert'); DROP TABLE users;-- \\ % _ \" $1";
    let created = app
        .send_json(
            Method::POST,
            "/api/v1/auth/register",
            &json!({ "name": name, "email": "bobby@example.pk", "password": "correct-horse-battery" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let stored: String =
        sqlx::query_scalar("select name from users where email = 'bobby@example.pk'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(stored, name);

    for search in [
        "' OR '1'='1",
        "%",
        "_",
        "\\",
        "'; DROP TABLE orders; --",
        "bobby%' --",
    ] {
        let query: String = url::form_urlencoded::byte_serialize(search.as_bytes()).collect();
        for path in ["/api/v1/admin/users", "/api/v1/admin/orders"] {
            let found = app
                .get_as(&token(&admin), &format!("{path}?search={query}"))
                .await;
            assert_eq!(
                found.status,
                StatusCode::OK,
                "{path} {search}: {}",
                found.text()
            );
        }
    }
    // `%` and `_` are literal characters in a search, not wildcards: nobody's name has them
    // but Robert's.
    let wild = app
        .get_as(&token(&admin), "/api/v1/admin/users?search=%25")
        .await
        .json();
    let emails: Vec<&str> = wild["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert_eq!(emails, ["bobby@example.pk"], "{wild}");
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_name in ('users', 'orders')",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(tables, 2);
}

#[sqlx::test]
async fn impossible_quantities_and_ids_are_refused_by_name(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let customer = app.verified_customer("sana@example.pk").await;
    let location = location_of(&db, "rdp-business-two").await;
    let before = snapshot(&db, COUNTERS).await;
    for (quantity, months) in [
        (json!(-1), json!(1)),
        (json!(0), json!(1)),
        (json!(2_147_483_648_i64), json!(1)),
        (json!(1), json!(-3)),
        (json!(1), json!(1e20)),
        (json!("2"), json!(1)),
        (json!(1.5), json!(1)),
    ] {
        let added = app
            .send_json_as(
                Some(&token(&customer)),
                Method::POST,
                "/api/v1/cart/items",
                &json!({ "plan_id": "rdp-business-two", "location_id": location, "quantity": quantity, "validity_months": months }),
            )
            .await;
        assert_eq!(
            added.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity {quantity}, months {months}: {}",
            added.text()
        );
        let errors = added.json()["errors"].clone();
        assert!(
            errors.get("quantity").is_some() || errors.get("validity_months").is_some(),
            "the problem names the field: {errors}"
        );
    }
    for id in [
        "-1",
        "0",
        "99999999999999999999",
        "1e3",
        "%27%20OR%201%3D1",
        "%00",
    ] {
        for path in ["/api/v1/orders/", "/api/v1/services/"] {
            let found = app.get_as(&token(&customer), &format!("{path}{id}")).await;
            assert!(
                found.status == StatusCode::NOT_FOUND || found.status == StatusCode::BAD_REQUEST,
                "{path}{id}: {} {}",
                found.status,
                found.text()
            );
        }
    }
    for query in [
        "page=-1",
        "page=99999999999999999999",
        "per_page=100000",
        "page=%00",
    ] {
        let listed = app
            .get_as(&token(&customer), &format!("/api/v1/orders?{query}"))
            .await;
        assert!(
            listed.status == StatusCode::BAD_REQUEST
                || listed.status == StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {} {}",
            listed.status,
            listed.text()
        );
    }
    let after = snapshot(&db, COUNTERS).await;
    let changed: Vec<&String> = before
        .keys()
        .filter(|table| before.get(*table) != after.get(*table))
        .collect();
    assert!(changed.is_empty(), "impossible values changed {changed:?}");
}

/// A page far past the end of any list (up to `i64::MAX`) is an empty page: computing its
/// offset overflowed and dropped the connection (found by Schemathesis).
#[sqlx::test]
async fn a_page_past_the_end_of_any_list_is_empty(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("operator@nextgenrdp.pk").await;
    let customer = app.verified_customer("sana@example.pk").await;
    let last = i64::MAX;
    for (caller, path) in [
        (&customer, "/api/v1/orders"),
        (&admin, "/api/v1/admin/orders"),
        (&admin, "/api/v1/admin/payments"),
        (&admin, "/api/v1/admin/services"),
        (&admin, "/api/v1/admin/users"),
        (&admin, "/api/v1/admin/jobs"),
    ] {
        let listed = app
            .get_as(&token(caller), &format!("{path}?page={last}&per_page=100"))
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{path}: {}", listed.text());
        let page = listed.json();
        assert_eq!(page["items"], json!([]), "{path}");
        assert_eq!(page["page"], last, "{path}");
    }
}
