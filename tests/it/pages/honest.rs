//! What the product tells a new customer, checked against what is true: a buyer who registers
//! from the checkout comes back to it, a transfer in review is not "awaiting payment", login
//! details are never promised by e-mail, a capped promo says it is capped.

use axum::http::StatusCode;
use sqlx::PgPool;

use super::Visitor;
use crate::helpers::TestApp;

#[sqlx::test]
async fn a_buyer_who_registers_from_the_checkout_comes_back_to_it(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut visitor = Visitor::from(&app, "198.51.100.20");
    let login = visitor.get("/login?next=/checkout").await.text();
    assert!(
        login.contains(r#"href="/register?next=/checkout""#),
        "{login}"
    );
    let registered = visitor
        .submit(
            "/register?next=/checkout",
            "/register",
            &[
                ("name", "Hina Baig"),
                ("email", "hina@example.pk"),
                ("phone", ""),
                ("password", "correct-horse-battery"),
                ("next", "/checkout"),
            ],
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text());
    assert!(
        registered
            .text()
            .contains(r#"href="/login?next=%2Fcheckout""#)
    );
    let link = app
        .token_mailed_to("hina@example.pk", "/verify-email")
        .await;
    let mail = app.mails_to("hina@example.pk").await.join("\n");
    assert!(mail.contains("&next=%2Fcheckout"), "{mail}");
    let form = visitor
        .get(&format!("/verify-email?token={link}&next=%2Fcheckout"))
        .await
        .text();
    assert!(form.contains(r#"name="next" value="/checkout""#), "{form}");
    let confirmed = visitor
        .submit(
            &format!("/verify-email?token={link}&next=%2Fcheckout"),
            "/verify-email",
            &[("token", link.as_str()), ("next", "/checkout")],
        )
        .await;
    let confirmed = confirmed.text();
    assert!(
        confirmed.contains(r#"href="/login?next=%2Fcheckout""#),
        "{confirmed}"
    );
    assert!(confirmed.contains("Log in and continue"));
    // An address outside the shop is never followed.
    let outside = visitor.get("/register?next=//evil.example/").await.text();
    assert!(
        outside.contains(r#"name="next" value="/account""#),
        "{outside}"
    );
}

#[sqlx::test]
async fn the_shop_says_what_is_true_about_transfers_logins_and_promos(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let home = app.get("/").await.text();
    assert!(!home.contains("arrive by e-mail") && !home.contains("Login details sent by e-mail"));
    assert!(home.contains("never sent by e-mail"));

    let (login, order) = crate::api::payments::customer_with_order(&app, "ayesha@example.pk").await;
    let token = login["access_token"].as_str().unwrap();
    let mut ayesha = Visitor::from(&app, "198.51.100.7");
    ayesha
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    assert!(
        ayesha
            .get("/account/orders")
            .await
            .text()
            .contains("Awaiting payment")
    );
    app.report_transfer(token, order, "TID5566778899", "bank")
        .await;
    let orders = ayesha.get("/account/orders").await.text();
    assert!(orders.contains("Payment under review"), "{orders}");
    assert!(!orders.contains("Awaiting payment"));
}
