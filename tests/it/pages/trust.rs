//! What a buyer looks for before paying: how to reach the shop (from its configuration, in the
//! footer and on `/contact`), and the policy pages the operator edits, versioned, rendered
//! safely, and recorded on each order.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::Visitor;
use crate::api::payments::customer_with_order;
use crate::helpers::TestApp;

const OPERATOR: &str = "owner@nextgenrdp.pk";

fn shop_with_contact(db: PgPool) -> TestApp {
    let mut settings = TestApp::settings();
    settings.contact = Arc::new(
        nextgenrdp::config::ContactConfig {
            support_email: Some("help@nextgenrdp.pk".into()),
            support_phone: Some("042 111 222 333".into()),
            whatsapp_number: Some("0300 1234567".into()),
            business_hours: Some("Mon–Sat, 10:00–22:00 PKT".into()),
            business_address: Some("12 Main Boulevard, Gulberg, Lahore".into()),
        }
        .contact()
        .unwrap(),
    );
    TestApp::with_settings(db, settings)
}

#[sqlx::test]
async fn the_shop_can_be_reached_from_every_page(db: PgPool) {
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    let app = shop_with_contact(db);
    let home = app.get("/").await.text();
    let footer = &home[home
        .find(r#"id="footer-contact""#)
        .expect("the footer lists contact")..];
    assert!(
        footer.contains("https://wa.me/923001234567?text=Hello%20NextGenRDP%2C%20"),
        "{footer}"
    );
    assert!(footer.contains(r#"href="tel:+9242111222333""#), "{footer}");
    assert!(footer.contains("mailto:help@nextgenrdp.pk"));
    for link in ["/contact", "/faq", "/terms", "/refund-policy", "/privacy"] {
        assert!(
            home.contains(&format!(r#"href="{link}""#)),
            "the footer links {link}"
        );
    }
    let contact = app.get("/contact").await;
    assert_eq!(contact.status, StatusCode::OK);
    let contact = contact.text();
    assert!(contact.contains("Chat on WhatsApp (0300 1234567)"));
    assert!(contact.contains("Mon–Sat, 10:00–22:00 PKT"));
    assert!(contact.contains("12 Main Boulevard, Gulberg, Lahore"));
    assert!(contact.contains("/login?next=/account/tickets"));

    // An error page carries the footer too, and a signed-in visitor is offered their account.
    app.verified_customer("ayesha@example.pk").await;
    let mut ayesha = Visitor::from(&app, "198.51.100.7");
    ayesha
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    let missing = ayesha.get("/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let missing = missing.text();
    assert!(missing.contains(r#"href="/account""#), "{missing}");
    assert!(!missing.contains(r#"href="/login""#), "{missing}");
    assert!(missing.contains("help@nextgenrdp.pk"));
    let anonymous = app.get("/no-such-page").await.text();
    assert!(anonymous.contains(r#"href="/login""#));

    // An order's page offers WhatsApp with the order's reference filled in.
    let (_, order) = customer_with_order(&app, "bilal@example.pk").await;
    let mut bilal = Visitor::from(&app, "198.51.100.8");
    bilal
        .log_in("bilal@example.pk", "correct-horse-battery")
        .await;
    let page = bilal.get(&format!("/account/orders/{order}")).await.text();
    let help = &page[page.find(r#"id="help-line""#).expect("a help line")..];
    assert!(
        help.contains(&format!(
            "https://wa.me/923001234567?text=Hello%20NextGenRDP%2C%20about%20my%20order%20NGR-{order}%3A%20"
        )),
        "{help}"
    );

    // Without contact details configured, nothing empty is shown and the ticket way remains.
    let bare = TestApp::new(app.db.clone());
    let home = bare.get("/").await.text();
    assert!(!home.contains("footer-contact"));
    assert!(
        bare.get("/contact")
            .await
            .text()
            .contains("/account/tickets")
    );
}

#[sqlx::test]
async fn the_operator_edits_the_policies_and_each_order_records_the_versions_agreed(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin(OPERATOR).await;
    let admin_token = admin["access_token"].as_str().unwrap().to_owned();
    for path in ["/terms", "/refund-policy", "/privacy", "/faq"] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.text().contains("Version 1"),
            "{path}: the shipped default"
        );
    }
    assert!(
        app.get("/refund-policy")
            .await
            .text()
            .contains("<h2>How refunds are paid</h2>")
    );

    // The operator publishes new terms; raw HTML in them is shown as text, never run.
    let mut operator = Visitor::from(&app, "198.51.100.90");
    operator.log_in(OPERATOR, "operator-passphrase").await;
    let empty = operator
        .submit(
            "/admin/policies/terms",
            "/admin/policies/terms",
            &[
                ("title", "Terms of service"),
                ("body", "  "),
                ("based_on_version", "1"),
            ],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().contains(r#"id="body-error""#));
    let body = "## Servers\n\nNo **spam**. <script>alert('x')</script> [bad](javascript:alert(1))";
    let published = operator
        .submit(
            "/admin/policies/terms",
            "/admin/policies/terms",
            &[
                ("title", "Terms of service"),
                ("body", body),
                ("based_on_version", "1"),
            ],
        )
        .await;
    assert_eq!(
        published.status,
        StatusCode::SEE_OTHER,
        "{}",
        published.text()
    );
    let terms = app.get("/terms").await.text();
    assert!(terms.contains("Version 2"));
    assert!(terms.contains("<strong>spam</strong>"));
    assert!(terms.contains("&lt;script&gt;"), "{terms}");
    assert!(!terms.contains("<script>alert"));
    assert!(!terms.contains("javascript:"));
    let earlier = app.get("/terms?version=1").await.text();
    assert!(earlier.contains("This is an earlier version") && earlier.contains("Acceptable use"));
    assert_eq!(
        app.get("/terms?version=9").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/terms?version=x").await.status,
        StatusCode::BAD_REQUEST
    );

    // An edit started from version 1 no longer overwrites version 2 unseen.
    let stale = operator
        .submit(
            "/admin/policies/terms",
            "/admin/policies/terms",
            &[
                ("title", "Terms"),
                ("body", "Old edit"),
                ("based_on_version", "1"),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.text().contains(r#"id="version-error""#));
    let versions: i64 =
        sqlx::query_scalar("select count(*) from policy_versions where page = 'terms'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(versions, 2);
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'policy.publish'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(audited, 1);
    let refused = sqlx::query(
        "update policy_versions set body = 'changed' where page = 'terms' and version = 1",
    )
    .execute(&app.db)
    .await;
    assert!(refused.is_err(), "a published version never changes");

    // The API: the page in force and an earlier one; only operators publish.
    let api = app.get("/api/v1/policies/terms").await.json();
    assert_eq!(api["version"], 2);
    assert!(api["html"].as_str().unwrap().contains("<h2>Servers</h2>"));
    assert_eq!(
        app.get("/api/v1/policies/terms?version=1").await.json()["version"],
        1
    );
    assert_eq!(
        app.get("/api/v1/policies/cookies").await.status,
        StatusCode::NOT_FOUND
    );
    let faq = app
        .send_json_as(
            Some(&admin_token),
            Method::PUT,
            "/api/v1/admin/policies/faq",
            &json!({ "body": "## Is it fast?\n\nYes." }),
        )
        .await;
    assert_eq!(faq.status, StatusCode::CREATED, "{}", faq.text());
    assert_eq!(faq.json()["version"], 2);
    assert_eq!(
        faq.json()["title"],
        "Frequently asked questions",
        "the title is kept"
    );

    // The checkout links both pages it asks to agree to; the order records their versions.
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let token = login["access_token"].as_str().unwrap();
    let placed = app
        .get_as(token, &format!("/api/v1/orders/{order}"))
        .await
        .json();
    assert_eq!(placed["terms_version"], 2, "{placed}");
    assert_eq!(placed["refund_policy_version"], 1);
    let customer_put = app
        .send_json_as(
            Some(token),
            Method::PUT,
            "/api/v1/admin/policies/terms",
            &json!({ "body": "x" }),
        )
        .await;
    assert_eq!(customer_put.status, StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn the_development_stand_in_accounts_are_never_shown_to_customers(db: PgPool) {
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    let mut settings = TestApp::settings();
    settings.payments.manual = nextgenrdp::payments::manual::ManualTransfer::example();
    let app = TestApp::with_settings(db, settings);
    app.admin(OPERATOR).await;
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let token = login["access_token"].as_str().unwrap();
    let started = app
        .send_json_as(
            Some(token),
            Method::POST,
            &format!("/api/v1/orders/{order}/payments"),
            &json!({ "method": "manual" }),
        )
        .await;
    assert!(started.status.is_success(), "{}", started.text());
    assert_eq!(
        started.json()["start"]["accounts"],
        json!([]),
        "{}",
        started.text()
    );
    let mut ayesha = Visitor::from(&app, "198.51.100.7");
    ayesha
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    let page = ayesha
        .get(&format!("/account/orders/{order}?pay=manual"))
        .await
        .text();
    assert!(page.contains(r#"id="pay-no-accounts""#), "{page}");
    assert!(!page.contains("Example Bank") && !page.contains("PK00EXAM"));
    let mut operator = Visitor::from(&app, "198.51.100.90");
    operator.log_in(OPERATOR, "operator-passphrase").await;
    assert!(
        operator
            .get("/admin")
            .await
            .text()
            .contains(r#"id="dash-no-accounts""#)
    );

    // With the shop's own accounts, customers see them and the banner is gone.
    let real = TestApp::new(app.db.clone());
    let mut operator = Visitor::from(&real, "198.51.100.91");
    operator.log_in(OPERATOR, "operator-passphrase").await;
    assert!(
        !operator
            .get("/admin")
            .await
            .text()
            .contains("dash-no-accounts")
    );
}

#[sqlx::test]
async fn a_customer_adds_whatsapp_on_the_notifications_page(db: PgPool) {
    let fake = crate::fake_whatsapp::FakeWhatsApp::start().await;
    let mut settings = TestApp::settings();
    settings.whatsapp_enabled = true;
    let app = TestApp::with_settings(db, settings);
    app.verified_customer("ayesha@example.pk").await;
    let mut ayesha = Visitor::from(&app, "198.51.100.7");
    ayesha
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    let page = "/account/notifications";
    let first = ayesha.get(page).await.text();
    assert!(
        first.contains(r#"id="channels-whatsapp""#) && first.contains("disabled"),
        "no number yet"
    );
    let bad = ayesha
        .submit(
            page,
            "/account/notifications/whatsapp",
            &[("number", "my number")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains(r#"id="number-error""#));
    let sent = ayesha
        .submit(
            page,
            "/account/notifications/whatsapp",
            &[("number", "0300-1234567")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text());
    let shown = ayesha.get(sent.header("location")).await.text();
    assert!(shown.contains("We sent a code to +923001234567"), "{shown}");
    crate::api::whatsapp::deliver(&app, &fake).await;
    let code = fake.templates_to("923001234567")[0].1[0].clone();
    let wrong = ayesha
        .submit(
            page,
            "/account/notifications/whatsapp/verify",
            &[("code", "12345")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().contains(r#"id="code-error""#));
    let verified = ayesha
        .submit(
            page,
            "/account/notifications/whatsapp/verify",
            &[("code", code.as_str())],
        )
        .await;
    assert_eq!(verified.status, StatusCode::SEE_OTHER);
    let done = ayesha.get(verified.header("location")).await.text();
    assert!(
        done.contains("E-mail and WhatsApp (+923001234567)"),
        "{done}"
    );
    assert!(done.contains(r#"value="email_whatsapp" checked"#), "{done}");
    let email_only = ayesha.submit(page, page, &[("channels", "email")]).await;
    assert_eq!(email_only.status, StatusCode::SEE_OTHER);
    assert!(
        ayesha
            .get(page)
            .await
            .text()
            .contains(r#"value="email" checked"#)
    );
}
