//! `/api/v1/admin/orders*` and `/api/v1/admin/promo-codes*`: the operator's side.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::cart::location_of;
use crate::helpers::TestApp;

async fn place(app: &TestApp, token: &str, plan: &str) -> i64 {
    let location = location_of(&app.db, plan).await;
    app.send_json_as(
        Some(token),
        Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": plan, "location_id": location }),
    )
    .await;
    let response = app
        .send_json_as(Some(token), Method::POST, "/api/v1/orders", &json!({}))
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()["order"]["id"].as_i64().unwrap()
}

#[sqlx::test]
async fn the_operator_filters_searches_and_cancels_orders(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin_token = admin["access_token"].as_str().unwrap();
    let ayesha = app.verified_customer("ayesha@example.pk").await;
    let bilal = app.verified_customer("bilal@example.pk").await;
    let a1 = place(
        &app,
        ayesha["access_token"].as_str().unwrap(),
        "vps-nano-one",
    )
    .await;
    let b1 = place(
        &app,
        bilal["access_token"].as_str().unwrap(),
        "rdp-starter-one",
    )
    .await;

    let all = app.get_as(admin_token, "/api/v1/admin/orders").await.json();
    assert_eq!(all["total"], 2);
    let by_email = app
        .get_as(admin_token, "/api/v1/admin/orders?search=bilal")
        .await
        .json();
    assert_eq!(by_email["total"], 1);
    assert_eq!(by_email["items"][0]["id"], b1);
    let by_id = app
        .get_as(admin_token, &format!("/api/v1/admin/orders?search={a1}"))
        .await
        .json();
    assert_eq!(by_id["items"][0]["id"], a1);
    let ayesha_id = ayesha["user"]["id"].as_i64().unwrap();
    let by_customer = app
        .get_as(
            admin_token,
            &format!("/api/v1/admin/orders?customer={ayesha_id}"),
        )
        .await
        .json();
    assert_eq!(by_customer["total"], 1);
    let today = chrono::Utc::now().date_naive();
    let dated = app
        .get_as(
            admin_token,
            &format!("/api/v1/admin/orders?from={today}&to={today}"),
        )
        .await
        .json();
    assert_eq!(dated["total"], 2);
    let future = app
        .get_as(
            admin_token,
            &format!("/api/v1/admin/orders?from={}", today.succ_opt().unwrap()),
        )
        .await
        .json();
    assert_eq!(future["total"], 0);
    for bad in [
        "status=shipped",
        "from=yesterday",
        "page=0",
        "to=2026-01-01&from=2026-02-01",
        "colour=red",
    ] {
        let response = app
            .get_as(admin_token, &format!("/api/v1/admin/orders?{bad}"))
            .await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            response.text()
        );
    }

    let detail = app
        .get_as(admin_token, &format!("/api/v1/admin/orders/{a1}"))
        .await
        .json();
    assert_eq!(detail["customer"]["email"], "ayesha@example.pk");
    let cancelled = app
        .send_json_as(
            Some(admin_token),
            Method::POST,
            &format!("/api/v1/admin/orders/{a1}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.json()["status"], "cancelled");
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("order", Some(&a1.to_string())),
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(audit[0].action, "order.cancel");

    let customer = app
        .get_as(
            ayesha["access_token"].as_str().unwrap(),
            "/api/v1/admin/orders",
        )
        .await;
    assert_eq!(customer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/v1/admin/orders").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test]
async fn the_operator_manages_promo_codes_with_validation_and_audit(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str();

    let invalid = app
        .send_json_as(token, Method::POST, "/api/v1/admin/promo-codes",
            &json!({ "code": "bad code!", "discount_type": "percentage", "discount_value": 150, "max_uses": -1,
                     "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2026-11-01T00:00:00Z" }))
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = &invalid.json()["errors"];
    for field in ["code", "discount_value", "max_uses", "valid_until"] {
        assert!(errors[field].is_string(), "{field}: {errors}");
    }

    let created = app
        .send_json_as(token, Method::POST, "/api/v1/admin/promo-codes",
            &json!({ "code": "eid25", "discount_type": "percentage", "discount_value": 25, "max_discount_amount": 2000, "max_uses": 100 }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let promo = created.json();
    assert_eq!(promo["code"], "EID25");
    let id = promo["id"].as_i64().unwrap();
    let duplicate = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/admin/promo-codes",
            &json!({ "code": "Eid25", "discount_type": "fixed_amount", "discount_value": 100 }),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);

    let updated = app
        .send_json_as(
            token,
            Method::PATCH,
            &format!("/api/v1/admin/promo-codes/{id}"),
            &json!({ "is_active": false, "max_discount_amount": null }),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert_eq!(updated.json()["is_active"], false);
    assert_eq!(
        updated.json()["max_discount_amount"],
        serde_json::Value::Null
    );
    assert_eq!(
        updated.json()["discount_value"],
        25,
        "untouched fields kept"
    );
    let list = app
        .get_as(token.unwrap(), "/api/v1/admin/promo-codes")
        .await
        .json();
    assert_eq!(list["items"][0]["current_uses"], 0);

    sqlx::query("update promo_codes set current_uses = 3")
        .execute(&app.db)
        .await
        .unwrap();
    let used = app
        .send_json_as(
            token,
            Method::DELETE,
            &format!("/api/v1/admin/promo-codes/{id}"),
            &json!(null),
        )
        .await;
    assert_eq!(used.status, StatusCode::CONFLICT);
    let below = app
        .send_json_as(
            token,
            Method::PATCH,
            &format!("/api/v1/admin/promo-codes/{id}"),
            &json!({ "max_uses": 2 }),
        )
        .await;
    assert_eq!(below.status, StatusCode::UNPROCESSABLE_ENTITY);
    sqlx::query("update promo_codes set current_uses = 0")
        .execute(&app.db)
        .await
        .unwrap();
    let deleted = app
        .send_json_as(
            token,
            Method::DELETE,
            &format!("/api/v1/admin/promo-codes/{id}"),
            &json!(null),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as(token.unwrap(), &format!("/api/v1/admin/promo-codes/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let actions: Vec<String> = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("promo_code", Some(&id.to_string())),
        10,
        0,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|e| e.action)
    .collect();
    assert_eq!(
        actions,
        vec![
            "promo_code.delete",
            "promo_code.update",
            "promo_code.create"
        ]
    );
}

/// `PATCH /api/v1/admin/orders/{id} {notes}`: the operator's note on an order, in any status,
/// audited before → after; too long is a 422 naming `notes` and changes nothing.
#[sqlx::test]
async fn the_operator_notes_an_order(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin_token = admin["access_token"].as_str().unwrap();
    let customer = app.verified_customer("ayesha@example.pk").await;
    let order = place(
        &app,
        customer["access_token"].as_str().unwrap(),
        "rdp-business-two",
    )
    .await;
    let path = format!("/api/v1/admin/orders/{order}");

    let noted = app
        .send_json_as(
            Some(admin_token),
            Method::PATCH,
            &path,
            &json!({ "notes": "  Called on WhatsApp: pays Monday  " }),
        )
        .await;
    assert_eq!(noted.status, StatusCode::OK, "{}", noted.text());
    assert_eq!(noted.json()["notes"], "Called on WhatsApp: pays Monday");
    let read = app.get_as(admin_token, &path).await.json();
    assert_eq!(read["order"]["notes"], "Called on WhatsApp: pays Monday");
    let (before, after): (serde_json::Value, serde_json::Value) = sqlx::query_as(
        "select before, after from audit_log where action = 'order.notes' order by id desc limit 1",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(before, json!({ "notes": null }));
    assert_eq!(after, json!({ "notes": "Called on WhatsApp: pays Monday" }));

    let too_long = app
        .send_json_as(
            Some(admin_token),
            Method::PATCH,
            &path,
            &json!({ "notes": "x".repeat(1001) }),
        )
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_long.text().contains("notes"), "{}", too_long.text());
    let unknown = app
        .send_json_as(
            Some(admin_token),
            Method::PATCH,
            &path,
            &json!({ "status": "paid" }),
        )
        .await;
    assert!(unknown.status.is_client_error(), "{}", unknown.text());
    assert_eq!(
        app.get_as(admin_token, &path).await.json()["order"]["notes"],
        "Called on WhatsApp: pays Monday"
    );
    // Empty clears it.
    let cleared = app
        .send_json_as(
            Some(admin_token),
            Method::PATCH,
            &path,
            &json!({ "notes": "" }),
        )
        .await;
    assert_eq!(cleared.json()["notes"], serde_json::Value::Null);
    let missing = app
        .send_json_as(
            Some(admin_token),
            Method::PATCH,
            "/api/v1/admin/orders/999999",
            &json!({ "notes": "x" }),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
