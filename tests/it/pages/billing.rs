//! Billing through the pages: the operator's tax setting, tax table and invoice list (with the
//! accountant's CSV), the checkout's province and tax, the order page's tax line, and the
//! customer's billing page with their invoices' PDFs — driven like a browser, with cookies and
//! CSRF tokens.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::Visitor;
use crate::api::invoices::pdf_text;
use crate::helpers::TestApp;

const OPERATOR: &str = "owner@nextgenrdp.pk";

#[sqlx::test]
async fn an_operator_charges_tax_and_a_customer_downloads_the_invoice(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let api_admin = app.admin(OPERATOR).await;
    let api_admin = api_admin["access_token"].as_str().unwrap().to_owned();
    let mut operator = Visitor::from(&app, "198.51.100.90");
    operator.log_in(OPERATOR, "operator-passphrase").await;

    // Tax needs the registration numbers: the page says so beside the fields.
    let refused = operator
        .submit(
            "/admin/billing",
            "/admin/billing",
            &[
                ("tax_mode", "exclusive"),
                ("seller_name", "NextGenRDP (Private) Limited"),
                ("seller_address", "Lahore"),
                ("seller_ntn", ""),
                ("seller_strn", ""),
                ("seller_province", ""),
                ("invoice_prefix", "NGR"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(html.contains(r#"id="seller_ntn-error""#), "{html}");
    assert!(html.contains(r#"id="seller_province-error""#));
    let saved = operator
        .submit(
            "/admin/billing",
            "/admin/billing",
            &[
                ("tax_mode", "exclusive"),
                ("seller_name", "NextGenRDP (Private) Limited"),
                ("seller_address", "Lahore"),
                ("seller_ntn", "1234567-8"),
                ("seller_strn", "3277876123456"),
                ("seller_province", "punjab"),
                ("invoice_prefix", "NGR"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    assert_eq!(saved.header("location"), "/admin/billing?notice=saved");

    // A rate from today, typed in percent.
    let today: String =
        sqlx::query_scalar("select ((now() at time zone 'Asia/Karachi')::date)::text")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let bad = operator
        .submit(
            "/admin/billing",
            "/admin/billing/rates",
            &[
                ("province", "sindh"),
                ("rate_percent", "thirteen"),
                ("effective_from", &today),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains(r#"id="rate_percent-error""#));
    let added = operator
        .submit(
            "/admin/billing",
            "/admin/billing/rates",
            &[
                ("province", "sindh"),
                ("rate_percent", "13.5"),
                ("effective_from", &today),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
    let page = operator
        .get("/admin/billing?notice=rate-added")
        .await
        .text();
    assert!(page.contains("13.5%"), "{page}");

    // The customer checks out: the page asks the province and shows the tax.
    let customer = app.verified_customer("ayesha@example.pk").await;
    let token = customer["access_token"].as_str().unwrap();
    let location = super::orders::location_of(&app.db, "rdp-business-two").await;
    app.send_json_as(
        Some(token),
        Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": "rdp-business-two", "location_id": location.parse::<i32>().unwrap() }),
    )
    .await;
    let mut browser = Visitor::from(&app, "198.51.100.7");
    browser
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    let checkout = browser.get("/checkout").await.text();
    assert!(
        checkout.contains(r#"<select id="province" name="province""#),
        "{checkout}"
    );
    assert!(checkout.contains("added for your province"));
    let placed = app
        .send_json_as(
            Some(token),
            Method::POST,
            "/api/v1/orders",
            &json!({ "province": "sindh" }),
        )
        .await;
    let order = placed.json()["order"]["id"].as_i64().unwrap();
    assert_eq!(
        placed.json()["order"]["tax_amount_pkr"],
        608,
        "13.5 % of Rs 4,500"
    );
    let order_page = browser
        .get(&format!("/account/orders/{order}"))
        .await
        .text();
    assert!(
        order_page.contains("Sales tax 13.5%, Sindh"),
        "{order_page}"
    );
    assert!(order_page.contains(r#"<dd id="order-tax">Rs 608</dd>"#));
    assert!(order_page.contains(r#"<dd id="order-total">Rs 5,108</dd>"#));

    // Paid: the billing page lists the invoice and its PDF.
    let payment = app.report_transfer(token, order, "TID91001", "bank").await;
    app.approve_payment(&api_admin, payment["id"].as_i64().unwrap())
        .await;
    let billing = browser.get("/account/billing").await;
    assert_eq!(billing.status, StatusCode::OK);
    let html = billing.text();
    let year: String =
        sqlx::query_scalar("select to_char(now() at time zone 'Asia/Karachi', 'YYYY')")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let code = format!("NGR-{year}-000001");
    assert!(html.contains(&code), "{html}");
    assert!(html.contains("Sales tax invoice"));
    let id: i32 = sqlx::query_scalar("select id from invoices")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let pdf = browser.get(&format!("/account/invoices/{id}/pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert!(pdf_text(&pdf.body).contains(&code));
    let mut stranger = Visitor::from(&app, "198.51.100.8");
    app.verified_customer("bilal@example.pk").await;
    stranger
        .log_in("bilal@example.pk", "correct-horse-battery")
        .await;
    assert_eq!(
        stranger
            .get(&format!("/account/invoices/{id}/pdf"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The billing details form: a wrong tax number is named, a right one saved.
    let wrong = browser
        .submit(
            "/account/billing",
            "/account/billing",
            &[("province", "sindh"), ("tax_id", "123"), ("address", "")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().contains(r#"id="tax_id-error""#));
    let right = browser
        .submit(
            "/account/billing",
            "/account/billing",
            &[
                ("province", "sindh"),
                ("tax_id", "1234567-8"),
                ("address", "Clifton, Karachi"),
            ],
        )
        .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.text());
    assert_eq!(
        app.get_as(token, "/api/v1/me/billing").await.json()["tax_id"],
        "1234567-8"
    );

    // The operator's list, its filters and the CSV.
    let list = operator.get("/admin/invoices").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains(&code));
    assert!(list.text().contains("Rs 608 (13.5%)"), "{}", list.text());
    let bad = operator.get("/admin/invoices?from=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("2026-12-31"), "{}", bad.text());
    let csv = operator
        .get(&format!("/admin/invoices/export.csv?series=NGR-{year}"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.text().lines().count(), 2, "{}", csv.text());
    let pdf = operator.get(&format!("/admin/invoices/{id}/pdf")).await;
    assert_eq!(pdf.header("content-type"), "application/pdf");
    assert_eq!(
        browser.get("/admin/invoices").await.status,
        StatusCode::FORBIDDEN
    );
}
