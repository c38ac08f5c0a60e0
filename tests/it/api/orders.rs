//! `/api/v1/orders*`: checkout from the cart, idempotency, promo-code races, the customer's
//! orders, cancellation and expiry.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::cart::{location_of, promo};
use crate::helpers::TestApp;

/// Puts `plan` × `quantity` for `months` in the customer's cart.
async fn add(app: &TestApp, token: &str, plan: &str, months: i32, quantity: i32) {
    let location = location_of(&app.db, plan).await;
    let response = app
        .send_json_as(Some(token), Method::POST, "/api/v1/cart/items",
            &json!({ "plan_id": plan, "location_id": location, "validity_months": months, "quantity": quantity }))
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
}

async fn checkout(app: &TestApp, token: &str, key: Option<&str>) -> crate::helpers::TestResponse {
    let mut request = Request::post("/api/v1/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    app.request(
        request
            .body(Body::from(json!({ "notes": "please hurry" }).to_string()))
            .unwrap(),
    )
    .await
}

fn access(login: &Value) -> &str {
    login["access_token"].as_str().unwrap()
}

#[sqlx::test]
async fn checkout_turns_the_cart_into_an_order_awaiting_payment(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    promo(
        &app.db,
        "('SAVE10', 'percentage', 10, 0, 1000, null, null, 5)",
    )
    .await;
    let login = app.verified_customer("ayesha@example.pk").await;
    let token = access(&login);
    add(&app, token, "rdp-business-two", 3, 2).await;
    add(&app, token, "vps-nano-one", 1, 1).await;
    app.send_json_as(
        Some(token),
        Method::POST,
        "/api/v1/cart/promo",
        &json!({ "code": "SAVE10" }),
    )
    .await;

    let placed = checkout(&app, token, None).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let body = placed.json();
    let order = &body["order"];
    let subtotal = 4500 * 3 * 2 + 1200;
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["total_amount_pkr"], subtotal);
    assert_eq!(order["discount_amount_pkr"], 1000, "10% capped at Rs 1,000");
    assert_eq!(order["final_amount_pkr"], subtotal - 1000);
    assert_eq!(order["promo_code"], "SAVE10");
    assert_eq!(order["notes"], "please hurry");
    assert!(order["pay_before"].is_string());
    let items = order["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["price_at_order_pkr"], 4500);
    assert_eq!(items[0]["validity_months"], 3);
    assert_eq!(items[0]["quantity"], 2);
    assert_eq!(body["payment_options"][0]["method"], "manual");

    let cart = app.get_as(token, "/api/v1/cart").await.json();
    assert_eq!(
        cart["items"].as_array().unwrap().len(),
        0,
        "the cart is emptied"
    );
    assert_eq!(cart["promo"], Value::Null);
    let uses: i32 = sqlx::query_scalar("select current_uses from promo_codes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(uses, 1);

    // a price change later does not touch the order
    sqlx::query("update plans set price_pkr = 9999")
        .execute(&app.db)
        .await
        .unwrap();
    let id = order["id"].as_i64().unwrap();
    let again = app
        .get_as(token, &format!("/api/v1/orders/{id}"))
        .await
        .json();
    assert_eq!(again["final_amount_pkr"], subtotal - 1000);
    let list = app.get_as(token, "/api/v1/orders").await.json();
    assert_eq!(list["total"], 1);
}

#[sqlx::test]
async fn an_unverified_customer_cannot_check_out(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    app.send_json(
        Method::POST,
        "/api/v1/auth/register",
        &json!({ "name": "Ali", "email": "ali@example.pk", "password": "correct-horse-battery" }),
    )
    .await;
    let login = app.login("ali@example.pk", "correct-horse-battery").await;
    add(&app, access(&login), "vps-nano-one", 1, 1).await;
    let response = checkout(&app, access(&login), None).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert!(
        response.json()["detail"]
            .as_str()
            .unwrap()
            .contains("verify your e-mail")
    );
}

#[sqlx::test]
async fn an_empty_cart_cannot_be_checked_out(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let login = app.verified_customer("ayesha@example.pk").await;
    let response = checkout(&app, access(&login), None).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response.json()["errors"]["cart"]
            .as_str()
            .unwrap()
            .contains("empty")
    );
}

#[sqlx::test]
async fn the_same_idempotency_key_sent_20_times_at_once_makes_one_order(db: PgPool) {
    let app = Arc::new(TestApp::with_default_catalog(db).await);
    let login = app.verified_customer("ayesha@example.pk").await;
    let token = access(&login).to_owned();
    add(&app, &token, "rdp-starter-one", 1, 1).await;

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            checkout(&app, &token, Some("order-7f3a")).await
        }));
    }
    let mut ids = Vec::new();
    let mut created = 0;
    for task in tasks {
        let response = task.await.unwrap();
        assert!(
            response.status.is_success(),
            "{} {}",
            response.status,
            response.text()
        );
        if response.status == StatusCode::CREATED {
            created += 1;
        } else {
            assert_eq!(response.header("idempotent-replayed"), "true");
        }
        ids.push(response.json()["order"]["id"].as_i64().unwrap());
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same order");
    assert_eq!(
        nextgenrdp::orders::orders::count(&app.db, &Default::default())
            .await
            .unwrap()
            .count,
        1
    );

    let bad_key = checkout(&app, &token, Some("has spaces in it")).await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test]
async fn fifty_simultaneous_checkouts_on_a_code_with_five_uses_give_exactly_five_discounts(
    db: PgPool,
) {
    let app = Arc::new(TestApp::with_default_catalog(db).await);
    promo(
        &app.db,
        "('FIVE', 'fixed_amount', 500, 0, null, null, null, 5)",
    )
    .await;
    let mut tokens = Vec::new();
    for i in 0..50 {
        let (_, token) = app.direct_customer(&format!("buyer{i}@example.pk")).await;
        add(&app, &token, "vps-nano-one", 1, 1).await;
        let applied = app
            .send_json_as(
                Some(&token),
                Method::POST,
                "/api/v1/cart/promo",
                &json!({ "code": "FIVE" }),
            )
            .await;
        assert_eq!(applied.status, StatusCode::OK);
        tokens.push(token);
    }
    let mut tasks = Vec::new();
    for token in tokens {
        let app = app.clone();
        tasks.push(tokio::spawn(
            async move { checkout(&app, &token, None).await },
        ));
    }
    let (mut placed, mut refused) = (0, 0);
    for task in tasks {
        let response = task.await.unwrap();
        match response.status {
            StatusCode::CREATED => placed += 1,
            StatusCode::CONFLICT => {
                assert!(
                    response.json()["detail"]
                        .as_str()
                        .unwrap()
                        .contains("used up"),
                    "{}",
                    response.text()
                );
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", response.text()),
        }
    }
    assert_eq!((placed, refused), (5, 45));
    let with_code: i64 =
        sqlx::query_scalar("select count(*) from orders where promo_code = 'FIVE'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let uses: i32 = sqlx::query_scalar("select current_uses from promo_codes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!((with_code, uses), (5, 5));
}

#[sqlx::test]
async fn a_customer_cannot_read_or_cancel_anothers_order(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let ayesha = app.verified_customer("ayesha@example.pk").await;
    let bilal = app.verified_customer("bilal@example.pk").await;
    add(&app, access(&ayesha), "vps-nano-one", 1, 1).await;
    let id = checkout(&app, access(&ayesha), None).await.json()["order"]["id"]
        .as_i64()
        .unwrap();

    assert_eq!(
        app.get_as(access(&bilal), &format!("/api/v1/orders/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let cancel = app
        .send_json_as(
            Some(access(&bilal)),
            Method::POST,
            &format!("/api/v1/orders/{id}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_as(access(&bilal), "/api/v1/orders").await.json()["total"],
        0
    );
    let still = app
        .get_as(access(&ayesha), &format!("/api/v1/orders/{id}"))
        .await
        .json();
    assert_eq!(still["status"], "pending_payment");
}

#[sqlx::test]
async fn cancelling_an_unpaid_order_releases_its_promo_use_once(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    promo(
        &app.db,
        "('ONCE', 'percentage', 20, 0, null, null, null, 1)",
    )
    .await;
    let login = app.verified_customer("ayesha@example.pk").await;
    let token = access(&login);
    add(&app, token, "vps-nano-one", 1, 1).await;
    app.send_json_as(
        Some(token),
        Method::POST,
        "/api/v1/cart/promo",
        &json!({ "code": "ONCE" }),
    )
    .await;
    let id = checkout(&app, token, None).await.json()["order"]["id"]
        .as_i64()
        .unwrap();

    let cancelled = app
        .send_json_as(
            Some(token),
            Method::POST,
            &format!("/api/v1/orders/{id}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text());
    assert_eq!(cancelled.json()["status"], "cancelled");
    let again = app
        .send_json_as(
            Some(token),
            Method::POST,
            &format!("/api/v1/orders/{id}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let uses: i32 = sqlx::query_scalar("select current_uses from promo_codes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(uses, 0, "released exactly once");
}

#[sqlx::test]
async fn unpaid_orders_expire_and_give_back_their_promo_use(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    promo(
        &app.db,
        "('EXP', 'fixed_amount', 100, 0, null, null, null, 3)",
    )
    .await;
    let login = app.verified_customer("ayesha@example.pk").await;
    let token = access(&login);
    add(&app, token, "vps-nano-one", 1, 1).await;
    app.send_json_as(
        Some(token),
        Method::POST,
        "/api/v1/cart/promo",
        &json!({ "code": "EXP" }),
    )
    .await;
    let old = checkout(&app, token, None).await.json()["order"]["id"]
        .as_i64()
        .unwrap();
    add(&app, token, "vps-nano-one", 1, 1).await;
    let fresh = checkout(&app, token, None).await.json()["order"]["id"]
        .as_i64()
        .unwrap();
    sqlx::query("update orders set created_at = now() - interval '49 hours' where id = $1")
        .bind(old as i32)
        .execute(&app.db)
        .await
        .unwrap();

    let expired = nextgenrdp::orders::checkout::expire_unpaid(&app.db, chrono::Duration::hours(48))
        .await
        .unwrap();
    assert_eq!(expired, 1);
    assert_eq!(
        app.get_as(token, &format!("/api/v1/orders/{old}"))
            .await
            .json()["status"],
        "expired"
    );
    assert_eq!(
        app.get_as(token, &format!("/api/v1/orders/{fresh}"))
            .await
            .json()["status"],
        "pending_payment"
    );
    let uses: i32 = sqlx::query_scalar("select current_uses from promo_codes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(uses, 0);

    // the worker's periodic job does the same
    sqlx::query("update orders set created_at = now() - interval '49 hours' where id = $1")
        .bind(fresh as i32)
        .execute(&app.db)
        .await
        .unwrap();
    let mailer =
        nextgenrdp::mail::Mailer::files(app.mail_dir.path().to_path_buf(), "shop <a@b.pk>");
    let worker = nextgenrdp::worker::Worker::new(
        app.db.clone(),
        Arc::new(mailer),
        crate::helpers::test_provisioning(),
    );
    worker.enqueue_due_schedules().await.unwrap();
    worker.run_pending().await.unwrap();
    assert_eq!(
        app.get_as(token, &format!("/api/v1/orders/{fresh}"))
            .await
            .json()["status"],
        "expired"
    );
}

#[sqlx::test]
async fn an_order_whose_transfer_awaits_review_does_not_expire(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let login = app.verified_customer("ayesha@example.pk").await;
    let token = access(&login);
    add(&app, token, "vps-nano-one", 1, 1).await;
    let order = checkout(&app, token, None).await.json()["order"]["id"]
        .as_i64()
        .unwrap();
    let reported = app
        .send_json_as(
            Some(token),
            Method::POST,
            &format!("/api/v1/orders/{order}/payments"),
            &json!({ "method": "manual", "reference": "TID4455667788", "channel": "bank" }),
        )
        .await;
    assert_eq!(reported.status, StatusCode::CREATED, "{}", reported.text());
    // Paid at hour 47, the operator looks at hour 49.
    sqlx::query("update orders set created_at = now() - interval '49 hours' where id = $1")
        .bind(order as i32)
        .execute(&app.db)
        .await
        .unwrap();
    let expired = nextgenrdp::orders::checkout::expire_unpaid(&app.db, chrono::Duration::hours(48))
        .await
        .unwrap();
    assert_eq!(expired, 0);
    assert_eq!(
        app.get_as(token, &format!("/api/v1/orders/{order}"))
            .await
            .json()["status"],
        "pending_payment"
    );
}

#[sqlx::test]
async fn a_placed_order_is_mailed_with_how_and_by_when_to_pay_it(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (_, order) = super::payments::customer_with_order(&app, "ayesha@example.pk").await;
    let mails = app.mails_to("ayesha@example.pk").await;
    let placed = mails
        .iter()
        .find(|m| m.contains(&format!("Subject: Order NGR-{order} placed")))
        .unwrap_or_else(|| panic!("no order-placed mail in {mails:?}"));
    for expected in [
        "Rs 4,500 to pay",
        "Amount to pay: Rs 4,500",
        "Pay before",
        "after that the order expires",
        "Meezan Bank: NextGenRDP (Pvt) Ltd",
        "PK36MEZN0001230101234567",
        &format!("write NGR-{order} in the transfer's note"),
        &format!("http://shop.test/account/orders/{order}"),
    ] {
        assert!(
            placed.contains(expected),
            "{expected:?} missing from {placed}"
        );
    }
}
