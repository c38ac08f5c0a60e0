//! `/api/v1/cart*`: the server-side cart of guests and customers, re-priced on every read.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, TestResponse};

/// The id of a location where `plan` is sold.
pub async fn location_of(db: &PgPool, plan: &str) -> i32 {
    nextgenrdp::catalog::locations::list_for_plan(db, plan)
        .await
        .unwrap()[0]
        .id
}

/// Sends JSON as a guest holding `cart_token` (if any).
async fn as_guest(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Value,
) -> TestResponse {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("x-cart-token", token);
    }
    app.request(request.body(Body::from(body.to_string())).unwrap())
        .await
}

#[sqlx::test]
async fn a_guest_cart_is_created_on_the_first_add_and_priced_from_the_database(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let location = location_of(&app.db, "rdp-starter-one").await;
    let added = as_guest(
        &app,
        None,
        Method::POST,
        "/api/v1/cart/items",
        json!({ "plan_id": "rdp-starter-one", "location_id": location, "validity_months": 3, "quantity": 2 }),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    assert!(
        added.header("set-cookie").starts_with("ngr_cart="),
        "the cart cookie is set"
    );
    let cart = added.json();
    let token = cart["cart_token"].as_str().unwrap().to_owned();
    assert_eq!(cart["items"][0]["line_total_pkr"], 2500 * 3 * 2);
    assert_eq!(cart["subtotal_pkr"], 15000);
    assert_eq!(cart["total_display"], "Rs 15,000");
    assert_eq!(cart["can_checkout"], true);

    // the same line adds up; a price change shows at once
    as_guest(&app, Some(&token), Method::POST, "/api/v1/cart/items",
        json!({ "plan_id": "rdp-starter-one", "location_id": location, "validity_months": 3, "quantity": 1 })).await;
    sqlx::query("update plans set price_pkr = 3000 where id = 'rdp-starter-one'")
        .execute(&app.db)
        .await
        .unwrap();
    let cart = as_guest(&app, Some(&token), Method::GET, "/api/v1/cart", json!(null))
        .await
        .json();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    assert_eq!(cart["items"][0]["quantity"], 3);
    assert_eq!(cart["total_pkr"], 3000 * 3 * 3);
    // without the token a guest sees an empty cart
    let empty = app.get("/api/v1/cart").await.json();
    assert_eq!(empty["items"].as_array().unwrap().len(), 0);
    assert_eq!(empty["can_checkout"], false);
}

#[sqlx::test]
async fn bad_cart_lines_are_refused_naming_the_field_and_create_nothing(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let location = location_of(&app.db, "rdp-starter-one").await;
    let not_sold_there = nextgenrdp::catalog::locations::list(&app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.slug == "gb-london")
        .unwrap()
        .id;
    let cases = [
        (
            json!({ "plan_id": "nope", "location_id": location }),
            "plan_id",
        ),
        (
            json!({ "plan_id": "rdp-ultra-four", "location_id": not_sold_there }),
            "location_id",
        ),
        (
            json!({ "plan_id": "rdp-starter-one", "location_id": location, "validity_months": 2 }),
            "validity_months",
        ),
        (
            json!({ "plan_id": "rdp-starter-one", "location_id": location, "quantity": 0 }),
            "quantity",
        ),
        (
            json!({ "plan_id": "rdp-starter-one", "location_id": location, "quantity": 11 }),
            "quantity",
        ),
        (
            json!({ "plan_id": "rdp-starter-one", "location_id": location, "quantity": -3 }),
            "quantity",
        ),
        (
            json!({ "plan_id": "rdp-starter-one", "location_id": location, "price_pkr": 1 }),
            "price_pkr",
        ),
    ];
    for (body, field) in cases {
        let response = as_guest(&app, None, Method::POST, "/api/v1/cart/items", body.clone()).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            response.text()
        );
        let text = response.text();
        assert!(text.contains(field), "{body}: {text}");
    }
    let carts: i64 = sqlx::query_scalar("select count(*) from carts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(carts, 0, "bad input wrote nothing");
}

#[sqlx::test]
async fn lines_are_updated_and_removed_only_in_ones_own_cart(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let location = location_of(&app.db, "vps-nano-one").await;
    let mine = as_guest(
        &app,
        None,
        Method::POST,
        "/api/v1/cart/items",
        json!({ "plan_id": "vps-nano-one", "location_id": location }),
    )
    .await
    .json();
    let token = mine["cart_token"].as_str().unwrap();
    let item = mine["items"][0]["id"].as_i64().unwrap();
    let other = as_guest(
        &app,
        None,
        Method::POST,
        "/api/v1/cart/items",
        json!({ "plan_id": "vps-nano-one", "location_id": location }),
    )
    .await
    .json();
    let other_token = other["cart_token"].as_str().unwrap();

    let updated = as_guest(
        &app,
        Some(token),
        Method::PATCH,
        &format!("/api/v1/cart/items/{item}"),
        json!({ "quantity": 4, "validity_months": 12 }),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert_eq!(updated.json()["total_pkr"], 1200 * 12 * 4);
    let bad = as_guest(
        &app,
        Some(token),
        Method::PATCH,
        &format!("/api/v1/cart/items/{item}"),
        json!({ "quantity": 50 }),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let theirs = as_guest(
        &app,
        Some(other_token),
        Method::DELETE,
        &format!("/api/v1/cart/items/{item}"),
        json!(null),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let removed = as_guest(
        &app,
        Some(token),
        Method::DELETE,
        &format!("/api/v1/cart/items/{item}"),
        json!(null),
    )
    .await;
    assert_eq!(removed.json()["items"].as_array().unwrap().len(), 0);
}

#[sqlx::test]
async fn an_inactive_plan_is_flagged_and_blocks_checkout(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let login = app.verified_customer("ayesha@example.pk").await;
    let token = login["access_token"].as_str();
    let location = location_of(&app.db, "rdp-pro-three").await;
    app.send_json_as(
        token,
        Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": "rdp-pro-three", "location_id": location }),
    )
    .await;
    nextgenrdp::catalog::plans::set_active(&app.db, "rdp-pro-three", false)
        .await
        .unwrap();
    let cart = app.get_as(token.unwrap(), "/api/v1/cart").await.json();
    assert_eq!(cart["items"][0]["available"], false);
    assert!(
        cart["items"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("no longer sold")
    );
    assert_eq!(cart["can_checkout"], false);
    let order = app
        .send_json_as(token, Method::POST, "/api/v1/orders", &json!({}))
        .await;
    assert_eq!(order.status, StatusCode::CONFLICT, "{}", order.text());
    assert!(
        order.json()["detail"]
            .as_str()
            .unwrap()
            .contains("no longer sold")
    );
    assert_eq!(
        nextgenrdp::orders::orders::count(&app.db, &Default::default())
            .await
            .unwrap()
            .count,
        0
    );
}

/// Creates a promo code with SQL.
pub async fn promo(db: &PgPool, sql_values: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into promo_codes (code, discount_type, discount_value, min_order_value, max_discount_amount,
                                  valid_from, valid_until, max_uses) values {sql_values}"
    )))
    .execute(db)
    .await
    .unwrap();
}

#[sqlx::test]
async fn a_promo_code_applies_or_says_why_not(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    promo(&app.db, "('SAVE10', 'percentage', 10, 0, null, null, null, null),
                    ('BIG', 'fixed_amount', 500, 50000, null, null, null, null),
                    ('OLD', 'percentage', 5, 0, null, now() - interval '2 days', now() - interval '1 day', null),
                    ('SOON', 'percentage', 5, 0, null, now() + interval '1 day', null, null),
                    ('GONE', 'percentage', 5, 0, null, null, null, 0)").await;
    let location = location_of(&app.db, "rdp-business-two").await;
    let cart = as_guest(
        &app,
        None,
        Method::POST,
        "/api/v1/cart/items",
        json!({ "plan_id": "rdp-business-two", "location_id": location }),
    )
    .await
    .json();
    let token = cart["cart_token"].as_str().unwrap();

    for (code, why) in [
        ("NOPE", "does not exist"),
        ("BIG", "at least Rs 50,000"),
        ("OLD", "expired"),
        ("SOON", "not valid yet"),
        ("GONE", "used up"),
    ] {
        let response = as_guest(
            &app,
            Some(token),
            Method::POST,
            "/api/v1/cart/promo",
            json!({ "code": code }),
        )
        .await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        let reason = response.json()["errors"]["code"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(reason.contains(why), "{code}: {reason}");
    }
    let applied = as_guest(
        &app,
        Some(token),
        Method::POST,
        "/api/v1/cart/promo",
        json!({ "code": "save10" }),
    )
    .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.text());
    let cart = applied.json();
    assert_eq!(cart["promo"]["code"], "SAVE10");
    assert_eq!(cart["discount_pkr"], 450);
    assert_eq!(cart["total_pkr"], 4050);
    let removed = as_guest(
        &app,
        Some(token),
        Method::DELETE,
        "/api/v1/cart/promo",
        json!(null),
    )
    .await
    .json();
    assert_eq!(removed["promo"], Value::Null);
    assert_eq!(removed["total_pkr"], 4500);
}

#[sqlx::test]
async fn the_guest_cart_is_merged_into_the_account_at_login(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let login = app.verified_customer("ayesha@example.pk").await;
    let token = login["access_token"].as_str();
    let location = location_of(&app.db, "vps-basic-two").await;
    // already in the account's cart
    app.send_json_as(
        token,
        Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": "vps-basic-two", "location_id": location, "quantity": 2 }),
    )
    .await;
    // as a guest, on another device
    let guest = as_guest(
        &app,
        None,
        Method::POST,
        "/api/v1/cart/items",
        json!({ "plan_id": "vps-basic-two", "location_id": location, "quantity": 3 }),
    )
    .await
    .json();
    let guest_token = guest["cart_token"].as_str().unwrap();
    as_guest(&app, Some(guest_token), Method::POST, "/api/v1/cart/items",
        json!({ "plan_id": "vps-nano-one", "location_id": location_of(&app.db, "vps-nano-one").await })).await;

    let relogin = app
        .request(
            Request::post("/api/v1/auth/login")
                .header("content-type", "application/json")
                .header("x-cart-token", guest_token)
                .body(Body::from(
                    json!({ "email": "ayesha@example.pk", "password": "correct-horse-battery" })
                        .to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(relogin.status, StatusCode::OK, "{}", relogin.text());
    let cart = app
        .get_as(
            relogin.json()["access_token"].as_str().unwrap(),
            "/api/v1/cart",
        )
        .await
        .json();
    let items = cart["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{cart}");
    assert_eq!(
        items
            .iter()
            .find(|i| i["plan_id"] == "vps-basic-two")
            .unwrap()["quantity"],
        5
    );
    let guest_left = as_guest(
        &app,
        Some(guest_token),
        Method::GET,
        "/api/v1/cart",
        json!(null),
    )
    .await
    .json();
    assert_eq!(
        guest_left["items"].as_array().unwrap().len(),
        0,
        "the guest cart is gone"
    );
}
