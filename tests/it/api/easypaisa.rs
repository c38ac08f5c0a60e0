//! Easypaisa's hosted checkout against a local fake of Easypay's inquiry: the signed form, the
//! browser's two returns, and settlement only on what the inquiry says — success, failure, a
//! forged return, a replayed one, an amount that does not match, and an attempt nobody came
//! back for that the reconciliation job confirms.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::payments::customer_with_order;
use crate::fake_easypaisa::{FakeEasypaisa, HASH_KEY, STORE_ID};
use crate::helpers::{TestApp, TestResponse};

/// The test app with Easypaisa configured against `fake`.
async fn app_with(db: PgPool, fake: &FakeEasypaisa) -> TestApp {
    let mut settings = TestApp::settings();
    settings.payments.easypaisa = Some(fake.merchant());
    let app = TestApp::with_settings(db, settings);
    nextgenrdp::catalog::file::seed_if_empty(&app.db)
        .await
        .unwrap();
    app
}

/// Starts an Easypaisa attempt for `order`; the signed form's fields.
async fn start(app: &TestApp, login: &Value, order: i64) -> serde_json::Map<String, Value> {
    let started = app
        .send_json_as(
            login["access_token"].as_str(),
            Method::POST,
            &format!("/api/v1/orders/{order}/payments"),
            &json!({ "method": "easypaisa" }),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let start = started.json()["start"].clone();
    assert_eq!(start["kind"], "redirect");
    assert_eq!(
        start["url"],
        nextgenrdp::payments::easypaisa::SANDBOX_CHECKOUT_URL
    );
    start["fields"].as_object().unwrap().clone()
}

/// The browser comes back to the return page with `query`.
async fn come_back(app: &TestApp, query: &str) -> TestResponse {
    app.request(
        Request::get(format!("/payments/easypaisa/return?{query}"))
            .header("x-forwarded-for", "203.0.113.40")
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn scalar<T>(db: &PgPool, sql: &'static str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

#[sqlx::test]
async fn only_easypays_inquiry_settles_a_return_once_for_the_right_amount(db: PgPool) {
    let fake = FakeEasypaisa::start().await;
    let app = app_with(db, &fake).await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let form = start(&app, &login, order).await;
    assert_eq!(form["storeId"], STORE_ID);
    assert_eq!(form["amount"], "4500.0");
    assert_eq!(form["paymentMethod"], "MA_PAYMENT_METHOD");
    assert_eq!(
        form["postBackURL"],
        "http://shop.test/payments/easypaisa/return"
    );
    let fields: std::collections::BTreeMap<String, String> = form
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        fields["merchantHashedReq"],
        nextgenrdp::payments::easypaisa::hashed_request(HASH_KEY.as_bytes(), &fields)
    );
    let order_ref = fields["orderRefNum"].clone();

    // First return: the token goes on to Easypay's Confirm.jsf, which the page's policy allows.
    let first = come_back(&app, "auth_token=tok-123").await;
    assert_eq!(first.status, StatusCode::OK);
    let html = first.text();
    assert!(
        html.contains(r#"action="https://easypaystg.easypaisa.com.pk/easypay/Confirm.jsf""#),
        "{html}"
    );
    assert!(html.contains(r#"name="auth_token" value="tok-123""#));
    assert!(
        first
            .header("content-security-policy")
            .contains("form-action 'self' https://easypaystg.easypaisa.com.pk")
    );

    // Forged: the browser says success, Easypay says pending — nothing is paid.
    fake.set(&order_ref, "PENDING", None);
    let forged = come_back(
        &app,
        &format!("status=0000&desc=success&orderRefNumber={order_ref}"),
    )
    .await;
    assert_eq!(forged.status, StatusCode::OK);
    assert!(
        forged.text().contains("confirming your payment"),
        "{}",
        forged.text()
    );
    let status: String = scalar(&app.db, "select status from orders").await;
    assert_eq!(status, "pending_payment");

    // A return naming no attempt of ours: 400, recorded, nothing asked.
    let asked = fake.asked().len();
    let unknown = come_back(&app, "status=0000&orderRefNumber=T00000000000000999").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        fake.asked().len(),
        asked,
        "Easypay is not asked about strangers"
    );
    let refused: i64 = scalar(
        &app.db,
        "select count(*) from payment_events where kind = 'refused'",
    )
    .await;
    assert_eq!(refused, 1);
    assert_eq!(come_back(&app, "").await.status, StatusCode::BAD_REQUEST);

    // Paid, but for another amount: flagged for the operator, not settled.
    fake.set(&order_ref, "PAID", Some("100.0"));
    let short = come_back(&app, &format!("status=0000&orderRefNumber={order_ref}")).await;
    assert!(short.text().contains("confirming your payment"));
    let flag: Option<String> = scalar(&app.db, "select flag from payments").await;
    assert!(flag.unwrap().contains("Rs 100"), "flagged");
    let status: String = scalar(&app.db, "select status from orders").await;
    assert_eq!(status, "pending_payment");

    // Paid for the attempt's amount: settled, invoiced, e-mailed.
    fake.set(&order_ref, "PAID", Some("4500.0"));
    let paid = come_back(&app, &format!("status=0000&orderRefNumber={order_ref}")).await;
    assert_eq!(paid.status, StatusCode::OK);
    assert!(paid.text().contains("Payment received"), "{}", paid.text());
    let (payment_status, reference, method): (String, Option<String>, Option<String>) =
        sqlx::query_as(
            "select p.status, p.gateway_reference, o.payment_method
             from payments p join orders o on o.id = p.order_id",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(payment_status, "succeeded");
    assert_eq!(reference.as_deref(), Some("9876543"));
    assert_eq!(method.as_deref(), Some("easypaisa"));
    let invoice: String = scalar(&app.db, "select payment_method from invoices").await;
    assert_eq!(invoice, "Easypaisa checkout");

    // Replayed: the same return again changes nothing and asks nothing.
    let asked = fake.asked().len();
    let again = come_back(&app, &format!("status=0000&orderRefNumber={order_ref}")).await;
    assert!(again.text().contains("Payment received"));
    assert_eq!(fake.asked().len(), asked);
    let invoices: i64 = scalar(&app.db, "select count(*) from invoices").await;
    assert_eq!(invoices, 1);
    let services: i64 = scalar(&app.db, "select count(*) from services").await;
    assert_eq!(services, 1, "one paid transition");
}

#[sqlx::test]
async fn a_failed_attempt_fails_and_an_abandoned_one_is_reconciled(db: PgPool) {
    let fake = FakeEasypaisa::start().await;
    let app = app_with(db, &fake).await;
    let (login, first) = customer_with_order(&app, "ayesha@example.pk").await;
    let failed_ref = start(&app, &login, first).await["orderRefNum"]
        .as_str()
        .unwrap()
        .to_owned();
    fake.set(&failed_ref, "FAILED", None);
    let failed = come_back(&app, &format!("status=0001&orderRefNumber={failed_ref}")).await;
    assert!(
        failed.text().contains("Payment not completed"),
        "{}",
        failed.text()
    );
    let reason: Option<String> =
        sqlx::query_scalar("select failure_reason from payments where gateway_txn_id = $1")
            .bind(&failed_ref)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(reason.as_deref(), Some("Easypaisa: FAILED"));

    // Another order: the customer pays and closes the tab; the worker asks Easypay.
    let (login, second) = customer_with_order(&app, "bilal@example.pk").await;
    let paid_ref = start(&app, &login, second).await["orderRefNum"]
        .as_str()
        .unwrap()
        .to_owned();
    fake.set(&paid_ref, "PAID", Some("4500.0"));
    sqlx::query("update payments set created_at = now() - interval '10 minutes'")
        .execute(&app.db)
        .await
        .unwrap();
    let mailer = nextgenrdp::mail::Mailer::files(
        app.mail_dir.path().to_path_buf(),
        "NextGenRDP <no-reply@shop.test>",
    );
    let worker = nextgenrdp::worker::Worker::new(
        app.db.clone(),
        std::sync::Arc::new(mailer),
        crate::helpers::test_provisioning(),
    )
    .with_easypaisa(Some(fake.merchant()));
    worker.enqueue_due_schedules().await.unwrap();
    worker.run_pending().await.unwrap();
    let status: String = sqlx::query_scalar("select status from orders where id = $1")
        .bind(second as i32)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_ne!(status, "pending_payment", "paid by the reconciliation");
    let first_status: String = sqlx::query_scalar("select status from orders where id = $1")
        .bind(first as i32)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        first_status, "pending_payment",
        "its attempt failed; it waits"
    );
    assert!(fake.asked().contains(&paid_ref));
    let mail = app.mails_to("bilal@example.pk").await;
    assert!(mail.iter().any(|m| m.contains("Payment received")));
}
