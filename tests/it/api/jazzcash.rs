//! JazzCash, hardened: callbacks bounded and rate-limited when refused, our own request never
//! taken for a result, the password never stored, JSON nulls accepted, orders kept while an
//! attempt is live, and the status inquiry that confirms browser returns and reconciles pending
//! attempts (against a local fake of JazzCash's endpoint).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use sqlx::PgPool;

use super::payments::{customer_with_order, jazzcash_result, post_ipn, start_jazzcash};
use crate::fake_jazzcash::{Answer, FakeJazzCash};
use crate::helpers::{JAZZCASH_SALT, TestApp, TestResponse};

async fn count(db: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(db)
        .await
        .unwrap()
}

async fn order_status(app: &TestApp, order: i64) -> String {
    sqlx::query_scalar("select status from orders where id = $1")
        .bind(order as i32)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn payment_status(app: &TestApp) -> String {
    sqlx::query_scalar("select status from payments order by id desc limit 1")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// POSTs `body` to the IPN as `content_type`, from `ip`.
async fn post_raw(app: &TestApp, ip: &str, content_type: &str, body: Vec<u8>) -> TestResponse {
    app.request(
        Request::post("/api/v1/payments/jazzcash/ipn")
            .header("content-type", content_type)
            .header("x-forwarded-for", ip)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// The browser's return with `fields`.
async fn browser_return(app: &TestApp, fields: &BTreeMap<String, String>) -> TestResponse {
    app.request(
        Request::post("/payments/jazzcash/return")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded::to_string(fields).unwrap()))
            .unwrap(),
    )
    .await
}

/// The test app asking `fake` for JazzCash's inquiries.
fn app_with_inquiry(db: PgPool, fake: &FakeJazzCash) -> TestApp {
    let mut settings = TestApp::settings();
    if let Some(jazzcash) = settings.payments.jazzcash.as_mut() {
        jazzcash.inquiry_url = Some(fake.url.clone());
    }
    TestApp::with_settings(db, settings)
}

#[sqlx::test]
async fn refused_callbacks_are_bounded_in_size_fields_and_number(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    // A 1.9 MB post is not even read: 413, nothing stored.
    let huge = format!("pp_ResponseCode=000&junk={}", "x".repeat(1_900_000));
    let answer = post_raw(
        &app,
        "203.0.113.5",
        "application/x-www-form-urlencoded",
        huge.into_bytes(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        count(&app.db, "select count(*) from payment_events").await,
        0
    );

    // Under the limit but full of junk: kept are the known fields, each cut to 100 characters.
    let mut junk: Vec<(String, String)> = (0..180)
        .map(|n| (format!("field{n}"), "y".repeat(50)))
        .collect();
    junk.push(("pp_ResponseCode".into(), "000".into()));
    junk.push(("pp_TxnRefNo".into(), "Z".repeat(3000)));
    let body = serde_urlencoded::to_string(&junk).unwrap();
    assert!(body.len() < 16 * 1024, "{}", body.len());
    let refused = post_raw(
        &app,
        "203.0.113.5",
        "application/x-www-form-urlencoded",
        body.into_bytes(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let stored: Value = sqlx::query_scalar("select payload from payment_events")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let stored_len = stored.to_string().len();
    assert!(stored_len < 400, "{stored_len}: {stored}");
    assert_eq!(stored["pp_TxnRefNo"].as_str().unwrap().len(), 100);
    assert!(stored.get("field7").is_none());

    // From one address, at most 20 refused posts in 10 minutes are recorded; then 429.
    let forged = "pp_ResponseCode=000&pp_SecureHash=00&pp_Amount=1&pp_TxnRefNo=T1";
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(
            post_raw(
                &app,
                "203.0.113.6",
                "application/x-www-form-urlencoded",
                forged.as_bytes().to_vec(),
            )
            .await
            .status,
        );
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::BAD_REQUEST)
            .count(),
        20
    );
    assert_eq!(statuses[24], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        count(&app.db, "select count(*) from payment_events").await,
        21
    );
    // Another address is not affected.
    let other = post_raw(
        &app,
        "198.51.100.9",
        "application/x-www-form-urlencoded",
        forged.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test]
async fn our_own_signed_request_posted_back_is_refused_and_its_password_never_stored(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let form = start_jazzcash(&app, &login, order).await;
    assert_eq!(
        form["pp_Password"], "test-password",
        "the browser needs it to pay"
    );
    let answer = post_ipn(&app, &form).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert!(answer.text().contains("not a result"), "{}", answer.text());
    assert_eq!(payment_status(&app).await, "pending", "not marked failed");
    assert_eq!(order_status(&app, order).await, "pending_payment");
    // The password is nowhere in the database.
    let everywhere: String = sqlx::query_scalar(
        "select coalesce(string_agg(t::text, ' '), '') from (
             select payload::text as t from payment_events
             union all select request_payload::text from payments
             union all select response_payload::text from payments) x",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(!everywhere.contains("test-password"), "{everywhere}");
    assert!(everywhere.contains("[redacted]"));
}

#[sqlx::test(migrations = false)]
async fn the_migration_scrubs_passwords_recorded_before(db: PgPool) {
    nextgenrdp::db::MIGRATOR
        .run_to(20261126000006, &db)
        .await
        .unwrap();
    sqlx::query(
        "insert into payment_events (kind, payload, note)
         values ('refused', '{\"pp_Password\": \"h2x1yxctww\", \"pp_TxnRefNo\": \"T1\"}', 'ipn: no hash'),
                ('refused', '{\"pp_Amount\": \"100\"}', 'ipn: no hash')",
    )
    .execute(&db)
    .await
    .unwrap();
    nextgenrdp::db::migrate(&db).await.unwrap();
    let payloads: Vec<Value> = sqlx::query_scalar("select payload from payment_events order by id")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(payloads[0]["pp_Password"], "[redacted]");
    assert_eq!(payloads[0]["pp_TxnRefNo"], "T1");
    assert_eq!(payloads[1]["pp_Amount"], "100");
}

#[sqlx::test]
async fn a_json_ipn_with_nulls_is_accepted_like_the_form(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let form = start_jazzcash(&app, &login, order).await;
    let result = jazzcash_result(&form, "000", JAZZCASH_SALT);
    let mut json: serde_json::Map<String, Value> = result
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    // JazzCash's JSON carries nulls for fields without a value (empty ones are not hashed).
    json.insert("pp_AuthCode".into(), Value::Null);
    json.insert("pp_SettlementExpiry".into(), Value::Null);
    let answer = post_raw(
        &app,
        "203.0.113.5",
        "application/json",
        serde_json::to_vec(&json).unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["paid"], true);
    assert_eq!(order_status(&app, order).await, "processing");
}

#[sqlx::test]
async fn an_order_does_not_expire_while_its_jazzcash_attempt_is_live(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    start_jazzcash(&app, &login, order).await;
    // Placed 49 hours ago; the customer started paying at hour 47 (attempt live a day).
    sqlx::query("update orders set created_at = now() - interval '49 hours'")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(
        "update payments set created_at = now() - interval '2 hours',
                             expires_at = now() + interval '22 hours'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let expiry = chrono::Duration::hours(48);
    assert_eq!(
        nextgenrdp::orders::checkout::expire_unpaid(&app.db, expiry)
            .await
            .unwrap(),
        0
    );
    assert_eq!(order_status(&app, order).await, "pending_payment");
    // The late success pays it, with no refund to arrange.
    let form: BTreeMap<String, String> = serde_json::from_value(
        sqlx::query_scalar::<_, Value>("select request_payload from payments")
            .fetch_one(&app.db)
            .await
            .unwrap(),
    )
    .unwrap();
    let paid = post_ipn(&app, &jazzcash_result(&form, "000", JAZZCASH_SALT)).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
    assert_eq!(order_status(&app, order).await, "processing");

    // Another order whose attempt ran out over an hour ago expires as usual.
    let (login, second) = customer_with_order(&app, "bilal@example.pk").await;
    start_jazzcash(&app, &login, second).await;
    sqlx::query("update orders set created_at = now() - interval '49 hours' where id = $1")
        .bind(second as i32)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(
        "update payments set expires_at = now() - interval '61 minutes' where order_id = $1",
    )
    .bind(second as i32)
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(
        nextgenrdp::orders::checkout::expire_unpaid(&app.db, expiry)
            .await
            .unwrap(),
        1
    );
    assert_eq!(order_status(&app, second).await, "expired");
}

#[sqlx::test]
async fn a_browser_return_is_confirmed_with_jazzcash_before_the_order_is_paid(db: PgPool) {
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    let fake = FakeJazzCash::start().await;
    let app = app_with_inquiry(db, &fake);
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let form = start_jazzcash(&app, &login, order).await;
    let txn = form["pp_TxnRefNo"].clone();

    // The browser comes back saying "paid" before any IPN; JazzCash does not confirm it yet.
    fake.set(&txn, Answer::not_paid());
    let page = browser_return(&app, &jazzcash_result(&form, "000", JAZZCASH_SALT)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("confirming your payment"),
        "{}",
        page.text()
    );
    assert_eq!(payment_status(&app).await, "pending");
    assert_eq!(order_status(&app, order).await, "pending_payment");
    let asked = fake.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["pp_TxnRefNo"], txn);
    assert_eq!(asked[0]["pp_MerchantID"], "MC_TEST");

    // A forged "paid" answer (wrong signature) is not believed either.
    fake.set(
        &txn,
        Answer {
            forged: true,
            ..Answer::paid(450_000)
        },
    );
    browser_return(&app, &jazzcash_result(&form, "000", JAZZCASH_SALT)).await;
    assert_eq!(order_status(&app, order).await, "pending_payment");

    // JazzCash confirms: the next return settles it, once.
    fake.set(&txn, Answer::paid(450_000));
    let page = browser_return(&app, &jazzcash_result(&form, "000", JAZZCASH_SALT)).await;
    assert!(page.text().contains("Payment received"), "{}", page.text());
    assert_eq!(order_status(&app, order).await, "processing");
    let kinds: Vec<String> = sqlx::query_scalar("select kind from payment_events order by id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        kinds,
        [
            "created", "return", "inquiry", "return", "inquiry", "return", "inquiry"
        ]
    );
    // Now the IPN arrives: nothing more happens.
    let ipn = post_ipn(&app, &jazzcash_result(&form, "000", JAZZCASH_SALT)).await;
    assert_eq!(ipn.json()["paid"], true);
    assert_eq!(
        count(
            &app.db,
            "select count(*) from payments where status = 'succeeded'"
        )
        .await,
        1
    );
    assert_eq!(fake.requests().len(), 3, "the IPN is not asked about");
}

#[sqlx::test]
async fn reconciliation_settles_attempts_jazzcash_says_are_paid_and_fails_expired_ones(db: PgPool) {
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    let fake = FakeJazzCash::start().await;
    let app = app_with_inquiry(db, &fake);
    // Three customers left JazzCash without coming back, and no IPN arrived.
    let mut forms = Vec::new();
    for email in ["paid@example.pk", "gone@example.pk", "later@example.pk"] {
        let (login, order) = customer_with_order(&app, email).await;
        forms.push((order, start_jazzcash(&app, &login, order).await));
    }
    sqlx::query("update payments set created_at = now() - interval '10 minutes'")
        .execute(&app.db)
        .await
        .unwrap();
    let (paid_order, paid) = &forms[0];
    let (gone_order, gone) = &forms[1];
    let (later_order, later) = &forms[2];
    fake.set(&paid["pp_TxnRefNo"], Answer::paid(450_000));
    fake.set(&gone["pp_TxnRefNo"], Answer::not_paid());
    fake.set(&later["pp_TxnRefNo"], Answer::not_paid());
    // The second one's attempt expired an hour ago.
    sqlx::query("update payments set expires_at = now() - interval '1 hour' where order_id = $1")
        .bind(*gone_order as i32)
        .execute(&app.db)
        .await
        .unwrap();

    // The periodic job, as the worker schedules it.
    let mailer = nextgenrdp::mail::Mailer::files(
        app.mail_dir.path().to_path_buf(),
        "NextGenRDP <no-reply@shop.test>",
    );
    let worker = nextgenrdp::worker::Worker::new(
        app.db.clone(),
        std::sync::Arc::new(mailer),
        crate::helpers::test_provisioning(),
    )
    .with_jazzcash(worker_jazzcash(&fake));
    worker.enqueue_due_schedules().await.unwrap();
    worker.run_pending().await.unwrap();

    assert_eq!(order_status(&app, *paid_order).await, "processing");
    assert_eq!(order_status(&app, *later_order).await, "pending_payment");
    let statuses: Vec<(i32, String, Option<String>)> =
        sqlx::query_as("select order_id, status, failure_reason from payments order by order_id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(statuses[0].1, "succeeded");
    assert_eq!(statuses[1].1, "failed");
    assert!(statuses[1].2.as_deref().unwrap().contains("expired unpaid"));
    assert_eq!(
        statuses[2].1, "pending",
        "still live: asked again next round"
    );
    let mail = app.mails_to("paid@example.pk").await;
    assert!(
        mail.iter().any(|m| m.contains("Payment received")),
        "{mail:?}"
    );

    // Another round changes nothing for the paid one: one payment, one paid transition.
    fake.set_down(true);
    nextgenrdp::payments::callbacks::reconcile(
        &app.db,
        worker_jazzcash(&fake).as_ref().unwrap(),
        "http://shop.test",
    )
    .await
    .unwrap();
    assert_eq!(
        count(
            &app.db,
            "select count(*) from payments where status = 'succeeded'"
        )
        .await,
        1
    );
    assert_eq!(count(&app.db, "select count(*) from services").await, 1);
    assert_eq!(
        order_status(&app, *later_order).await,
        "pending_payment",
        "JazzCash down: left as it was"
    );
}

fn worker_jazzcash(fake: &FakeJazzCash) -> Option<nextgenrdp::payments::jazzcash::JazzCash> {
    TestApp::settings().payments.jazzcash.map(|mut j| {
        j.inquiry_url = Some(fake.url.clone());
        j
    })
}
