//! WhatsApp notifications against a local fake of the Cloud API: a customer proves a number is
//! theirs with a code sent there, chooses e-mail + WhatsApp, and then gets the order, payment,
//! server and ticket notices on it — through the job queue, like e-mail; a customer who chose
//! e-mail only gets none; Graph's refusals fail the job for good, its outages are retried.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::cart::location_of;
use crate::fake_whatsapp::FakeWhatsApp;
use crate::helpers::{TestApp, TestResponse, test_provisioning};

const NUMBER: &str = "923001234567";

/// Runs the due jobs with a worker that sends WhatsApp through the fake.
pub async fn deliver(app: &TestApp, fake: &FakeWhatsApp) {
    let mailer = nextgenrdp::mail::Mailer::files(
        app.mail_dir.path().to_path_buf(),
        "NextGenRDP <no-reply@shop.test>",
    );
    nextgenrdp::worker::Worker::new(app.db.clone(), Arc::new(mailer), test_provisioning())
        .with_whatsapp(fake.config().settings().unwrap())
        .run_pending()
        .await
        .unwrap();
}

async fn call(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> TestResponse {
    app.send_json_as(Some(token), method, path, &body).await
}

fn templates(fake: &FakeWhatsApp) -> Vec<String> {
    fake.templates_to(NUMBER)
        .into_iter()
        .map(|(t, _)| t)
        .collect()
}

#[sqlx::test]
async fn a_verified_number_gets_the_notices_a_customer_chose(db: PgPool) {
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    let fake = FakeWhatsApp::start().await;
    let mut settings = TestApp::settings();
    settings.whatsapp_enabled = true;
    let app = TestApp::with_settings(db, settings);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin = admin["access_token"].as_str().unwrap().to_owned();
    let login = app.verified_customer("ayesha@example.pk").await;
    let own = login["access_token"].as_str().unwrap().to_owned();

    let channels = app.get_as(&own, "/api/v1/me/notifications").await.json();
    assert_eq!(channels["channels"], "email");
    assert_eq!(channels["whatsapp_available"], true);
    let early = call(
        &app,
        &own,
        Method::PUT,
        "/api/v1/me/notifications",
        json!({ "whatsapp": true }),
    )
    .await;
    assert_eq!(
        early.status,
        StatusCode::CONFLICT,
        "no number yet: {}",
        early.text()
    );
    let nonsense = call(
        &app,
        &own,
        Method::POST,
        "/api/v1/me/whatsapp",
        json!({ "number": "call me" }),
    )
    .await;
    assert_eq!(nonsense.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nonsense.json()["errors"]["number"].is_string());

    // The code goes over WhatsApp; a wrong one is counted, the right one verifies.
    let sent = call(
        &app,
        &own,
        Method::POST,
        "/api/v1/me/whatsapp",
        json!({ "number": "0300 1234567" }),
    )
    .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text());
    assert_eq!(sent.json()["number"], NUMBER);
    deliver(&app, &fake).await;
    let messages = fake.templates_to(NUMBER);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].0, "ngr_verification_code");
    let code = messages[0].1[0].clone();
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = call(
        &app,
        &own,
        Method::POST,
        "/api/v1/me/whatsapp/verify",
        json!({ "code": wrong }),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.json()["errors"]["code"]
            .as_str()
            .unwrap()
            .contains("4 tries left")
    );
    let verified = call(
        &app,
        &own,
        Method::POST,
        "/api/v1/me/whatsapp/verify",
        json!({ "code": code }),
    )
    .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    assert_eq!(verified.json()["channels"], "email_whatsapp");
    assert_eq!(verified.json()["whatsapp_number"], NUMBER);

    // Order placed, paid by transfer (approved), server ready: each also on WhatsApp.
    let location = location_of(&app.db, "rdp-business-two").await;
    call(
        &app,
        &own,
        Method::POST,
        "/api/v1/cart/items",
        json!({ "plan_id": "rdp-business-two", "location_id": location }),
    )
    .await;
    let placed = call(&app, &own, Method::POST, "/api/v1/orders", json!({})).await;
    let order = placed.json()["order"]["id"].as_i64().unwrap();
    deliver(&app, &fake).await;
    let (template, parameters) = fake.templates_to(NUMBER).pop().unwrap();
    assert_eq!(template, "ngr_order_placed");
    assert_eq!(parameters[0], format!("NGR-{order}"));
    assert_eq!(parameters[1], "Rs 4,500");
    assert!(parameters[2].ends_with("PKT"), "{parameters:?}");
    let payment = app
        .report_transfer(&own, order, "TID5566778899", "bank")
        .await;
    app.approve_payment(&admin, payment["id"].as_i64().unwrap())
        .await;
    let service: i32 = sqlx::query_scalar("select id from services where user_id = $1")
        .bind(login["user"]["id"].as_i64().unwrap() as i32)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let provisioned = call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/admin/services/{service}/provision"),
        json!({ "hostname": "ayesha.nextgenrdp.pk", "ip_address": "203.0.113.40", "username": "Administrator", "password": "Kx7vQ2mPz9wR-40" }),
    )
    .await;
    assert_eq!(provisioned.status, StatusCode::OK, "{}", provisioned.text());
    deliver(&app, &fake).await;
    assert_eq!(
        templates(&fake),
        [
            "ngr_verification_code",
            "ngr_order_placed",
            "ngr_payment_approved",
            "ngr_server_ready"
        ]
    );
    assert!(
        !fake
            .sent()
            .iter()
            .any(|m| m.to_string().contains("Kx7vQ2mPz9wR")),
        "never a password on WhatsApp"
    );

    // A ticket answered: on WhatsApp too — until she chooses e-mail only.
    let ticket = call(
        &app,
        &own,
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": "Slow", "department": "technical", "message": "My server is slow." }),
    )
    .await;
    let ticket = ticket.json()["ticket"]["id"].as_i64().unwrap();
    call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/admin/tickets/{ticket}/messages"),
        json!({ "message": "We moved it to a faster node." }),
    )
    .await;
    deliver(&app, &fake).await;
    let (template, parameters) = fake.templates_to(NUMBER).pop().unwrap();
    assert_eq!(
        (template.as_str(), parameters[0].as_str()),
        ("ngr_ticket_reply", format!("#{ticket}").as_str())
    );
    let off = call(
        &app,
        &own,
        Method::PUT,
        "/api/v1/me/notifications",
        json!({ "whatsapp": false }),
    )
    .await;
    assert_eq!(off.json()["channels"], "email");
    call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/admin/tickets/{ticket}/messages"),
        json!({ "message": "Anything else?" }),
    )
    .await;
    deliver(&app, &fake).await;
    assert_eq!(
        templates(&fake).len(),
        5,
        "e-mail only: nothing more on WhatsApp"
    );
    assert!(
        app.mails_to("ayesha@example.pk")
            .await
            .iter()
            .any(|m| m.contains("Anything else?"))
    );
}

#[sqlx::test]
async fn graph_refusals_fail_for_good_and_its_outages_are_retried(db: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let mut settings = TestApp::settings();
    settings.whatsapp_enabled = true;
    let app = TestApp::with_settings(db, settings);
    let login = app.verified_customer("ayesha@example.pk").await;
    let own = login["access_token"].as_str().unwrap().to_owned();
    let status = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            sqlx::query_as::<_, (String, i32, Option<String>)>(
                "select status, attempts, last_error from jobs where kind = 'send_whatsapp' order by id desc limit 1",
            )
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    fake.fail_with(Some(503));
    call(
        &app,
        &own,
        Method::POST,
        "/api/v1/me/whatsapp",
        json!({ "number": "+92 300 1234567" }),
    )
    .await;
    deliver(&app, &fake).await;
    let (state, attempts, error) = status(&app).await;
    assert_eq!(
        (state.as_str(), attempts),
        ("queued", 1),
        "retried later: {error:?}"
    );
    fake.fail_with(Some(400));
    sqlx::query("update jobs set run_at = now() where kind = 'send_whatsapp'")
        .execute(&app.db)
        .await
        .unwrap();
    deliver(&app, &fake).await;
    let (state, _, error) = status(&app).await;
    assert_eq!(state, "failed", "a refusal is final");
    assert!(
        error.unwrap().contains("WhatsApp refused the message (400"),
        "the reason is kept"
    );
    assert!(fake.sent().is_empty());

    // Without WhatsApp configured, nobody can choose it.
    let plain = TestApp::new(app.db.clone());
    let unavailable = call(
        &plain,
        &own,
        Method::POST,
        "/api/v1/me/whatsapp",
        json!({ "number": "0300 1234567" }),
    )
    .await;
    assert_eq!(unavailable.status, StatusCode::CONFLICT);
    assert_eq!(
        plain.get_as(&own, "/api/v1/me/notifications").await.json()["whatsapp_available"],
        false
    );
}
