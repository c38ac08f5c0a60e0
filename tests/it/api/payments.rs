//! Payments: manual transfers reviewed by the operator, and JazzCash callbacks verified and
//! recorded exactly once.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use nextgenrdp::payments::jazzcash::secure_hash;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::cart::location_of;
use crate::helpers::{JAZZCASH_SALT, TestApp, TestResponse};

/// A verified customer with one pending order of Rs 4,500; returns (login, order id).
pub async fn customer_with_order(app: &TestApp, email: &str) -> (Value, i64) {
    let login = app.verified_customer(email).await;
    let token = login["access_token"].as_str();
    let location = location_of(&app.db, "rdp-business-two").await;
    app.send_json_as(
        token,
        Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": "rdp-business-two", "location_id": location }),
    )
    .await;
    let placed = app
        .send_json_as(token, Method::POST, "/api/v1/orders", &json!({}))
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let id = placed.json()["order"]["id"].as_i64().unwrap();
    (login, id)
}

fn token(login: &Value) -> Option<&str> {
    login["access_token"].as_str()
}

async fn order_status(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("select status from orders where id = $1")
        .bind(id as i32)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_manual_transfer_is_reviewed_and_approval_marks_the_order_paid_once(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;

    let instructions = app
        .send_json_as(
            token(&login),
            Method::POST,
            &format!("/api/v1/orders/{order}/payments"),
            &json!({ "method": "manual" }),
        )
        .await;
    assert_eq!(
        instructions.status,
        StatusCode::OK,
        "{}",
        instructions.text()
    );
    let start = &instructions.json()["start"];
    assert_eq!(start["kind"], "instructions");
    assert_eq!(start["amount_pkr"], 4500);
    assert_eq!(start["reference"], format!("NGR-{order}"));
    assert!(!start["accounts"].as_array().unwrap().is_empty());
    assert_eq!(
        nextgenrdp::payments::payments::count(&app.db, &Default::default())
            .await
            .unwrap()
            .count,
        0,
        "instructions write nothing"
    );

    let submitted = app
        .send_json_as(
            token(&login),
            Method::POST,
            &format!("/api/v1/orders/{order}/payments"),
            &json!({ "method": "manual", "reference": "TID88442211", "channel": "jazzcash" }),
        )
        .await;
    assert_eq!(
        submitted.status,
        StatusCode::CREATED,
        "{}",
        submitted.text()
    );
    let payment = submitted.json()["payment"].clone();
    assert_eq!(payment["status"], "review");
    let id = payment["id"].as_i64().unwrap();

    let queue = app
        .get_as(
            admin["access_token"].as_str().unwrap(),
            "/api/v1/admin/payments?status=review",
        )
        .await
        .json();
    assert_eq!(queue["total"], 1);
    // The operator finds it by part of its reference, by its id or its order's.
    for search in ["tid8844".to_owned(), id.to_string(), order.to_string()] {
        let found = app
            .get_as(
                token(&admin).unwrap(),
                &format!("/api/v1/admin/payments?search={search}"),
            )
            .await
            .json();
        assert_eq!(found["total"], 1, "{search}: {found}");
        assert_eq!(found["total_exact"], true);
        assert_eq!(found["items"][0]["id"], id, "{search}");
    }
    let none = app
        .get_as(
            token(&admin).unwrap(),
            "/api/v1/admin/payments?search=TID0000",
        )
        .await
        .json();
    assert_eq!(none["total"], 0);

    let approve = format!("/api/v1/admin/payments/{id}/approve");
    let approved = app
        .send_json_as(token(&admin), Method::POST, &approve, &json!({}))
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    assert_eq!(approved.json()["outcome"], "order_paid");
    // The paid order carries the reference, and the operator finds it by the whole of it.
    let orders = app
        .get_as(
            token(&admin).unwrap(),
            "/api/v1/admin/orders?search=tid88442211",
        )
        .await
        .json();
    assert_eq!(orders["total"], 1, "{orders}");
    assert_eq!(orders["items"][0]["id"], order);
    let part = app
        .get_as(
            token(&admin).unwrap(),
            "/api/v1/admin/orders?search=TID884422",
        )
        .await
        .json();
    assert_eq!(
        part["total"], 0,
        "a part of a reference is the payment search's: {part}"
    );
    assert_eq!(
        order_status(&app, order).await,
        "processing",
        "paid, and its server being prepared"
    );
    let again = app
        .send_json_as(token(&admin), Method::POST, &approve, &json!({}))
        .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "approving twice changes nothing"
    );

    let detail = app
        .get_as(token(&login).unwrap(), &format!("/api/v1/orders/{order}"))
        .await
        .json();
    assert_eq!(detail["payment_method"], "manual:jazzcash");
    assert_eq!(detail["payment_reference"], "TID88442211");
    let mails = app.mails_to("ayesha@example.pk").await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.contains(&format!("Subject: Payment received for order {order}")))
            .count(),
        1
    );
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("payment", Some(&id.to_string())),
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(audit.len(), 1);
}

#[sqlx::test]
async fn a_rejected_transfer_tells_the_customer_and_a_reused_reference_is_flagged(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let (ayesha, first) = customer_with_order(&app, "ayesha@example.pk").await;
    let (bilal, second) = customer_with_order(&app, "bilal@example.pk").await;
    let pay = |login: Value, order: i64| {
        let app = &app;
        async move {
            app.send_json_as(
                token(&login),
                Method::POST,
                &format!("/api/v1/orders/{order}/payments"),
                &json!({ "method": "manual", "reference": "TID-SAME-1234" }),
            )
            .await
        }
    };
    let one = pay(ayesha.clone(), first).await.json()["payment"].clone();
    assert_eq!(one["flag"], Value::Null);
    let two = pay(bilal, second).await.json()["payment"].clone();
    assert!(
        two["flag"].as_str().unwrap().contains("already submitted"),
        "{two}"
    );

    let id = one["id"].as_i64().unwrap();
    let missing_reason = app
        .send_json_as(
            token(&admin),
            Method::POST,
            &format!("/api/v1/admin/payments/{id}/reject"),
            &json!({ "reason": " " }),
        )
        .await;
    assert_eq!(missing_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    let rejected = app
        .send_json_as(
            token(&admin),
            Method::POST,
            &format!("/api/v1/admin/payments/{id}/reject"),
            &json!({ "reason": "No such transfer in our JazzCash account" }),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text());
    assert_eq!(rejected.json()["payment"]["status"], "rejected");
    assert_eq!(order_status(&app, first).await, "pending_payment");
    let mail = app.mails_to("ayesha@example.pk").await.pop().unwrap();
    assert!(mail.contains("No such transfer in our JazzCash account"));
    let approve_rejected = app
        .send_json_as(
            token(&admin),
            Method::POST,
            &format!("/api/v1/admin/payments/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(approve_rejected.status, StatusCode::CONFLICT);
}

#[sqlx::test]
async fn customers_cannot_pay_see_or_approve_anothers_payment(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (ayesha, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let bilal = app.verified_customer("bilal@example.pk").await;
    let path = format!("/api/v1/orders/{order}/payments");
    let pay = app
        .send_json_as(
            token(&bilal),
            Method::POST,
            &path,
            &json!({ "method": "manual", "reference": "TID12345678" }),
        )
        .await;
    assert_eq!(pay.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_as(token(&bilal).unwrap(), &path).await.status,
        StatusCode::NOT_FOUND
    );
    let mine = app
        .send_json_as(
            token(&ayesha),
            Method::POST,
            &path,
            &json!({ "method": "manual", "reference": "TID12345678" }),
        )
        .await;
    let id = mine.json()["payment"]["id"].as_i64().unwrap();
    let approve = app
        .send_json_as(
            token(&ayesha),
            Method::POST,
            &format!("/api/v1/admin/payments/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(approve.status, StatusCode::FORBIDDEN);
    let receipt = app
        .request(
            Request::put(format!("/api/v1/payments/{id}/receipt"))
                .header(
                    "authorization",
                    format!("Bearer {}", token(&bilal).unwrap()),
                )
                .header("content-type", "image/png")
                .body(Body::from(&b"\x89PNG\r\n\x1a\nxxxx"[..]))
                .unwrap(),
        )
        .await;
    assert_eq!(receipt.status, StatusCode::NOT_FOUND);
    let bad = app
        .send_json_as(
            token(&ayesha),
            Method::POST,
            &path,
            &json!({ "method": "bitcoin" }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.json()["errors"]["method"]
            .as_str()
            .unwrap()
            .contains("manual")
    );
}

#[sqlx::test]
async fn a_receipt_must_be_the_image_it_claims_to_be(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let paid = app
        .send_json_as(
            token(&login),
            Method::POST,
            &format!("/api/v1/orders/{order}/payments"),
            &json!({ "method": "manual", "reference": "TID99887766" }),
        )
        .await
        .json();
    let id = paid["payment"]["id"].as_i64().unwrap();
    let upload = |content_type: &'static str, bytes: Vec<u8>| {
        Request::put(format!("/api/v1/payments/{id}/receipt"))
            .header(
                "authorization",
                format!("Bearer {}", token(&login).unwrap()),
            )
            .header("content-type", content_type)
            .body(Body::from(bytes))
            .unwrap()
    };
    let lie = app
        .request(upload("image/png", b"<svg onload=alert(1)>".to_vec()))
        .await;
    assert_eq!(lie.status, StatusCode::UNPROCESSABLE_ENTITY);
    let pdf = app
        .request(upload("application/pdf", b"%PDF-1.4".to_vec()))
        .await;
    assert_eq!(pdf.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    huge.resize(3 * 1024 * 1024, 0);
    let too_big = app.request(upload("image/png", huge)).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let ok = app.request(upload("image/png", png.clone())).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text());
    let back = app
        .get_as(
            admin["access_token"].as_str().unwrap(),
            &format!("/api/v1/admin/payments/{id}/receipt"),
        )
        .await;
    assert_eq!(back.header("content-type"), "image/png");
    assert_eq!(back.body, png);
}

#[sqlx::test]
async fn receipts_are_kept_beside_each_other_and_frozen_once_the_payment_is_reviewed(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin_token = admin["access_token"].as_str().unwrap();
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let payment = app
        .report_transfer(token(&login).unwrap(), order, "TID99887766", "bank")
        .await;
    let id = payment["id"].as_i64().unwrap();
    let upload = |bytes: Vec<u8>| {
        Request::put(format!("/api/v1/payments/{id}/receipt"))
            .header(
                "authorization",
                format!("Bearer {}", token(&login).unwrap()),
            )
            .header("content-type", "image/png")
            .body(Body::from(bytes))
            .unwrap()
    };
    let first = b"\x89PNG\r\n\x1a\nfirst receipt".to_vec();
    let second = b"\x89PNG\r\n\x1a\nsecond receipt".to_vec();
    assert_eq!(
        app.request(upload(first.clone())).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.request(upload(second.clone())).await.status,
        StatusCode::NO_CONTENT
    );

    // The operator sees both, the newest at the old address.
    let detail = app
        .get_as(admin_token, &format!("/api/v1/admin/payments/{id}"))
        .await
        .json();
    let receipts = detail["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 2, "{detail}");
    assert_eq!(detail["has_receipt"], true);
    for (receipt, bytes) in receipts.iter().zip([&first, &second]) {
        let image = app
            .get_as(
                admin_token,
                &format!("/api/v1/admin/payments/{id}/receipts/{}", receipt["id"]),
            )
            .await;
        assert_eq!(&image.body, bytes);
        assert_eq!(receipt["size"], bytes.len());
    }
    let newest = app
        .get_as(admin_token, &format!("/api/v1/admin/payments/{id}/receipt"))
        .await;
    assert_eq!(newest.body, second);

    // Approved: the image the operator checked can no longer be replaced or joined.
    app.approve_payment(admin_token, id).await;
    let late = app
        .request(upload(b"\x89PNG\r\n\x1a\nswapped after approval".to_vec()))
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text());
    assert!(late.json()["errors"]["payment"].is_string());
    let after = app
        .get_as(admin_token, &format!("/api/v1/admin/payments/{id}"))
        .await
        .json();
    assert_eq!(after["receipts"], detail["receipts"]);
    let count: i64 = sqlx::query_scalar("select count(*) from payment_receipts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 2);
}

#[sqlx::test]
async fn a_payment_takes_at_most_five_receipts(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let payment = app
        .report_transfer(token(&login).unwrap(), order, "TID99887767", "bank")
        .await;
    let id = payment["id"].as_i64().unwrap();
    let mut statuses = Vec::new();
    for n in 0..6 {
        let request = Request::put(format!("/api/v1/payments/{id}/receipt"))
            .header(
                "authorization",
                format!("Bearer {}", token(&login).unwrap()),
            )
            .header("content-type", "image/png")
            .body(Body::from(
                [&b"\x89PNG\r\n\x1a\n"[..], &[b'0' + n]].concat(),
            ))
            .unwrap();
        statuses.push(app.request(request).await.status);
    }
    assert_eq!(&statuses[..5], &[StatusCode::NO_CONTENT; 5]);
    assert_eq!(statuses[5], StatusCode::CONFLICT);
}

/// Starts a JazzCash attempt for the order; returns the signed form fields.
pub async fn start_jazzcash(app: &TestApp, login: &Value, order: i64) -> BTreeMap<String, String> {
    let started = app
        .send_json_as(
            token(login),
            Method::POST,
            &format!("/api/v1/orders/{order}/payments"),
            &json!({ "method": "jazzcash" }),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let start = started.json()["start"].clone();
    assert_eq!(start["kind"], "redirect");
    assert!(
        start["url"]
            .as_str()
            .unwrap()
            .starts_with("https://sandbox.jazzcash.com.pk/")
    );
    serde_json::from_value(start["fields"].clone()).unwrap()
}

/// JazzCash's answer to `request`, signed with `salt`.
pub fn jazzcash_result(
    request: &BTreeMap<String, String>,
    code: &str,
    salt: &str,
) -> BTreeMap<String, String> {
    let mut result: BTreeMap<String, String> = [
        "pp_Amount",
        "pp_BillReference",
        "pp_MerchantID",
        "pp_TxnRefNo",
        "pp_TxnCurrency",
        "pp_TxnDateTime",
        "pp_Version",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), request[*k].clone()))
    .collect();
    result.insert("pp_ResponseCode".into(), code.into());
    result.insert(
        "pp_ResponseMessage".into(),
        if code == "000" {
            "Thank you for Using JazzCash".into()
        } else {
            "Transaction declined".into()
        },
    );
    result.insert("pp_RetreivalReferenceNo".into(), "RRN201".into());
    result.insert("pp_TxnType".into(), "MWALLET".into());
    let hash = secure_hash(salt, &result).to_uppercase();
    result.insert("pp_SecureHash".into(), hash);
    result
}

pub async fn post_ipn(app: &TestApp, fields: &BTreeMap<String, String>) -> TestResponse {
    app.request(
        Request::post("/api/v1/payments/jazzcash/ipn")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded::to_string(fields).unwrap()))
            .unwrap(),
    )
    .await
}

#[sqlx::test]
async fn the_jazzcash_form_is_signed_and_a_verified_ipn_pays_the_order(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let form = start_jazzcash(&app, &login, order).await;
    assert_eq!(form["pp_Amount"], "450000", "paisa");
    assert_eq!(form["pp_BillReference"], format!("NGR-{order}"));
    assert_eq!(form["pp_SecureHash"], secure_hash(JAZZCASH_SALT, &form));

    let ipn = post_ipn(&app, &jazzcash_result(&form, "000", JAZZCASH_SALT)).await;
    assert_eq!(ipn.status, StatusCode::OK, "{}", ipn.text());
    assert_eq!(ipn.json()["paid"], true);
    assert_eq!(
        order_status(&app, order).await,
        "processing",
        "paid, and its server being prepared"
    );

    // The browser return arrives later: it shows the truth and changes nothing more.
    let page = app
        .request(
            Request::post("/payments/jazzcash/return")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(
                    serde_urlencoded::to_string(jazzcash_result(&form, "000", JAZZCASH_SALT))
                        .unwrap(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Payment received"));
    let succeeded: i64 =
        sqlx::query_scalar("select count(*) from payments where status = 'succeeded'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(succeeded, 1);
}

#[sqlx::test]
async fn forged_tampered_foreign_and_failed_callbacks_change_nothing(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let form = start_jazzcash(&app, &login, order).await;

    let forged = jazzcash_result(&form, "000", "not-our-salt");
    assert_eq!(
        post_ipn(&app, &forged).await.status,
        StatusCode::BAD_REQUEST
    );

    let mut cheap = form.clone();
    cheap.insert("pp_Amount".into(), "100".into());
    let tampered = jazzcash_result(&cheap, "000", JAZZCASH_SALT);
    let response = post_ipn(&app, &tampered).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(response.text().contains("amount"));

    let mut unknown = form.clone();
    unknown.insert("pp_TxnRefNo".into(), "T20990101000000999".into());
    assert_eq!(
        post_ipn(&app, &jazzcash_result(&unknown, "000", JAZZCASH_SALT))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let mut other_order = form.clone();
    other_order.insert("pp_BillReference".into(), "NGR-999999".into());
    assert_eq!(
        post_ipn(&app, &jazzcash_result(&other_order, "000", JAZZCASH_SALT))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    assert_eq!(order_status(&app, order).await, "pending_payment");
    let refused: i64 =
        sqlx::query_scalar("select count(*) from payment_events where kind = 'refused'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(refused, 4, "every refusal is recorded");

    let declined = post_ipn(&app, &jazzcash_result(&form, "124", JAZZCASH_SALT)).await;
    assert_eq!(declined.status, StatusCode::OK);
    assert_eq!(declined.json()["paid"], false);
    let status: String = sqlx::query_scalar("select status from payments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "failed");
    assert_eq!(order_status(&app, order).await, "pending_payment");
}

#[sqlx::test]
async fn a_replayed_success_of_an_old_order_does_not_pay_a_new_one(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (login, first) = customer_with_order(&app, "ayesha@example.pk").await;
    let old_form = start_jazzcash(&app, &login, first).await;
    let old_success = jazzcash_result(&old_form, "000", JAZZCASH_SALT);
    assert_eq!(post_ipn(&app, &old_success).await.status, StatusCode::OK);

    let location = location_of(&app.db, "rdp-business-two").await;
    app.send_json_as(
        token(&login),
        Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": "rdp-business-two", "location_id": location }),
    )
    .await;
    let second = app
        .send_json_as(token(&login), Method::POST, "/api/v1/orders", &json!({}))
        .await
        .json()["order"]["id"]
        .as_i64()
        .unwrap();
    start_jazzcash(&app, &login, second).await;

    let replay = post_ipn(&app, &old_success).await;
    assert_eq!(replay.status, StatusCode::OK, "a repeat is acknowledged");
    assert_eq!(
        order_status(&app, second).await,
        "pending_payment",
        "but pays nothing new"
    );
}

#[sqlx::test]
async fn fifty_concurrent_duplicate_success_callbacks_record_one_payment_and_one_transition(
    db: PgPool,
) {
    let app = Arc::new(TestApp::with_default_catalog(db).await);
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let form = start_jazzcash(&app, &login, order).await;
    let success = Arc::new(jazzcash_result(&form, "000", JAZZCASH_SALT));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, success) = (app.clone(), success.clone());
        tasks.push(tokio::spawn(async move {
            post_ipn(&app, &success).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let succeeded: i64 =
        sqlx::query_scalar("select count(*) from payments where status = 'succeeded'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let ipns: i64 = sqlx::query_scalar("select count(*) from payment_events where kind = 'ipn'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let paid_mails: i64 = sqlx::query_scalar(
        "select count(*) from jobs where payload->>'subject' like 'Payment received%'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((succeeded, ipns, paid_mails), (1, 50, 1));
    assert_eq!(
        order_status(&app, order).await,
        "processing",
        "paid, and its server being prepared"
    );
}

#[sqlx::test]
async fn a_paid_order_cannot_be_paid_or_cancelled_again(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let form = start_jazzcash(&app, &login, order).await;
    post_ipn(&app, &jazzcash_result(&form, "000", JAZZCASH_SALT)).await;
    let again = app
        .send_json_as(
            token(&login),
            Method::POST,
            &format!("/api/v1/orders/{order}/payments"),
            &json!({ "method": "jazzcash" }),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let cancel = app
        .send_json_as(
            token(&login),
            Method::POST,
            &format!("/api/v1/orders/{order}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::CONFLICT);
}
