//! The payment pages: the order page's payment step (manual instructions, the "I have paid"
//! form with a receipt upload, the JazzCash redirect page and the browser's return) and the
//! operator's payment queue with approve and reject, through cookies and CSRF tokens as a
//! browser sends them.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use nextgenrdp::payments::jazzcash::secure_hash;
use serde_json::json;
use sqlx::PgPool;

use super::Visitor;
use crate::helpers::{JAZZCASH_SALT, TestApp, TestResponse};

const PASSWORD: &str = "correct-horse-battery";
const OPERATOR: &str = "owner@nextgenrdp.pk";
/// The smallest bytes that are a PNG by their signature.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// A verified customer with one pending order of RDP Business (Rs 4,500), placed through the
/// API, then logged in through the form; returns the browser and the order id.
async fn customer_with_order<'a>(app: &'a TestApp, email: &str, ip: &str) -> (Visitor<'a>, i32) {
    let login = app.verified_customer(email).await;
    let token = login["access_token"].as_str();
    let location = super::orders::location_of(&app.db, "rdp-business-two").await;
    app.send_json_as(
        token,
        Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": "rdp-business-two", "location_id": location.parse::<i32>().unwrap() }),
    )
    .await;
    let placed = app
        .send_json_as(token, Method::POST, "/api/v1/orders", &json!({}))
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let id = placed.json()["order"]["id"].as_i64().unwrap() as i32;
    let mut visitor = Visitor::from(app, ip);
    visitor.log_in(email, PASSWORD).await;
    (visitor, id)
}

/// An operator logged in through the form.
async fn operator(app: &TestApp) -> Visitor<'_> {
    app.admin(OPERATOR).await;
    let mut visitor = Visitor::from(app, "198.51.100.90");
    visitor.log_in(OPERATOR, "operator-passphrase").await;
    visitor
}

/// The `action` of the "I have paid" form on `html` (it carries the CSRF token).
fn manual_action(html: &str) -> String {
    let start = html
        .find(r#"id="manual-payment" method="post" action=""#)
        .unwrap_or_else(|| panic!("no manual payment form: {html}"));
    let rest = &html[start..];
    let value = &rest[rest.find("action=\"").unwrap() + 8..];
    value.chars().take_while(|c| *c != '"').collect()
}

/// POSTs a `multipart/form-data` body as the browser holding `visitor`'s cookies would.
async fn post_multipart(
    app: &TestApp,
    visitor: &Visitor<'_>,
    path: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &[u8])>,
) -> TestResponse {
    let boundary = "----NgrTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((filename, content_type, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"receipt\"; \
                 filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let cookies: Vec<String> = ["ngr_session", "ngr_csrf"]
        .iter()
        .filter_map(|name| visitor.cookie(name).map(|v| format!("{name}={v}")))
        .collect();
    app.request(
        Request::post(path)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header(header::COOKIE, cookies.join("; "))
            .header("x-forwarded-for", "198.51.100.99")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// Opens the order page and submits its "I have paid" form.
async fn pay_manually(
    app: &TestApp,
    visitor: &mut Visitor<'_>,
    order: i32,
    reference: &str,
    receipt: Option<(&str, &str, &[u8])>,
) -> TestResponse {
    let page = visitor
        .get(&format!("/account/orders/{order}?pay=manual"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let action = manual_action(&page.text());
    post_multipart(
        app,
        visitor,
        &action,
        &[
            ("reference", reference),
            ("channel", "jazzcash"),
            ("paid_at", ""),
        ],
        receipt,
    )
    .await
}

async fn count(db: &PgPool, table: &str) -> i64 {
    let sql = match table {
        "payments" => "select count(*) from payments",
        "payment_receipts" => "select count(*) from payment_receipts",
        "refunds" => "select count(*) from refunds",
        other => panic!("no count of {other}"),
    };
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

async fn order_status(app: &TestApp, id: i32) -> String {
    sqlx::query_scalar("select status from orders where id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// The only payment's id.
async fn payment_id(db: &PgPool) -> i32 {
    sqlx::query_scalar("select id from payments order by id desc limit 1")
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn the_order_page_shows_the_instructions_and_a_submitted_reference_waits_for_review(
    db: PgPool,
) {
    let app = TestApp::with_default_catalog(db).await;
    let (mut ayesha, order) = customer_with_order(&app, "ayesha@example.pk", "198.51.100.61").await;

    let page = ayesha.get(&format!("/account/orders/{order}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains(r#"id="pay-title">Pay for this order<"#),
        "{html}"
    );
    assert!(html.contains(r#"id="payment-due""#), "{html}");
    // the method choice comes from the enabled gateways, manual first and chosen
    assert!(
        html.contains(r#"data-method="manual" aria-current="true">Bank transfer, JazzCash or Easypaisa (manual)<"#),
        "{html}"
    );
    assert!(html.contains(&format!(
        r#"href="/account/orders/{order}?pay=jazzcash#pay""#
    )));
    // the instructions: amount, reference and every account, each with a copy button
    assert!(html.contains(r#"id="pay-amount">Rs 4,500<"#), "{html}");
    assert!(html.contains(r#"data-copy="4500" hidden"#), "{html}");
    let reference = format!("NGR-{order}");
    assert!(html.contains(&format!(r#"id="pay-reference">{reference}<"#)));
    assert!(html.contains(&format!(r#"data-copy="{reference}" hidden"#)));
    for number in ["PK36MEZN0001230101234567", "03001234567", "03451234567"] {
        assert!(
            html.contains(&format!(r#"data-copy="{number}""#)),
            "{number}: {html}"
        );
    }
    assert!(html.contains("Account title: NextGenRDP"));
    assert!(!html.contains("onclick"), "no inline script");
    // the form: multipart, its token in the query string too
    let action = manual_action(&html);
    assert!(
        action.starts_with(&format!(
            "/account/orders/{order}/payments/manual?csrf_token="
        )),
        "{action}"
    );
    assert!(html.contains(r#"enctype="multipart/form-data""#));
    assert!(
        html.contains(r#"<option value="jazzcash">JazzCash wallet — JazzCash wallet</option>"#),
        "{html}"
    );

    let submitted = pay_manually(
        &app,
        &mut ayesha,
        order,
        "TID88442211",
        Some(("receipt.png", "image/png", PNG)),
    )
    .await;
    assert_eq!(
        submitted.status,
        StatusCode::SEE_OTHER,
        "{}",
        submitted.text()
    );
    assert_eq!(
        submitted.header("location"),
        format!("/account/orders/{order}?notice=payment-submitted")
    );
    let id = payment_id(&app.db).await;
    let payment = nextgenrdp::payments::payments::find(&app.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            payment.status.as_str(),
            payment.gateway_txn_id.as_deref(),
            payment.channel.as_deref()
        ),
        ("review", Some("TID88442211"), Some("jazzcash"))
    );
    let (content_type, bytes) = nextgenrdp::payments::payments::find_receipt(&app.db, id)
        .await
        .unwrap()
        .expect("the receipt is stored");
    assert_eq!(
        (content_type.as_str(), bytes.as_slice()),
        ("image/png", PNG)
    );

    let html = ayesha
        .get(&format!("/account/orders/{order}?notice=payment-submitted"))
        .await
        .text();
    assert!(
        html.contains("We received your transaction id and are checking your transfer"),
        "{html}"
    );
    assert!(html.contains(r#"id="payment-review""#), "{html}");
    assert!(
        html.contains("We&#39;re checking your transfer")
            || html.contains("We're checking your transfer"),
        "{html}"
    );
    assert!(html.contains("Usually within an hour"));
    assert!(html.contains(&format!(r#"data-payment-id="{id}" data-status="review""#)));
    assert!(html.contains(">Waiting for review<"), "{html}");
    assert!(html.contains("<code>TID88442211</code>"));
    assert!(
        !html.contains(r#"id="manual-payment""#),
        "no second form while one waits"
    );

    // another customer quoting the same reference is flagged for the operator, never told
    let (mut bilal, second) = customer_with_order(&app, "bilal@example.pk", "198.51.100.62").await;
    let again = pay_manually(&app, &mut bilal, second, "TID88442211", None).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text());
    let flagged = nextgenrdp::payments::payments::find(&app.db, payment_id(&app.db).await)
        .await
        .unwrap()
        .unwrap();
    assert!(flagged.flag.is_some());
    let html = bilal.get(&format!("/account/orders/{second}")).await.text();
    assert!(html.contains(r#"id="payment-review""#), "{html}");
    assert!(!html.contains("already submitted"), "{html}");
}

#[sqlx::test]
async fn a_receipt_that_is_not_an_image_is_refused_and_nothing_is_stored(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (mut ayesha, order) = customer_with_order(&app, "ayesha@example.pk", "198.51.100.61").await;

    let refused = pay_manually(
        &app,
        &mut ayesha,
        order,
        "TID55443322",
        Some(("receipt.png", "image/png", b"<svg onload=alert(1)>")),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(
        html.contains(
            r#"id="receipt-error">Receipt must be a PNG, JPEG or WebP image; this file is not one."#
        ),
        "{html}"
    );
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(
        html.contains(r#"value="TID55443322""#),
        "the reference is kept: {html}"
    );
    let mut huge = PNG.to_vec();
    huge.resize(2 * 1024 * 1024 + 1, 0);
    let too_big = pay_manually(
        &app,
        &mut ayesha,
        order,
        "TID55443322",
        Some(("big.png", "image/png", &huge)),
    )
    .await;
    assert_eq!(too_big.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_big.text().contains("Receipt must be at most 2 MB."));
    assert_eq!(count(&app.db, "payments").await, 0);
    assert_eq!(count(&app.db, "payment_receipts").await, 0);

    // a missing or malformed reference, a made-up account: beside their fields, nothing stored
    let token = ayesha.csrf_of(&format!("/account/orders/{order}")).await;
    let empty = ayesha
        .post(
            &format!("/account/orders/{order}/payments/manual"),
            &[
                ("reference", ""),
                ("channel", "paypal"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = empty.text();
    assert!(
        html.contains(r#"id="reference-error">Transaction id is required"#),
        "{html}"
    );
    assert!(
        html.contains(r#"id="channel-error">Account must be one of the accounts shown."#),
        "{html}"
    );
    let bad = pay_manually(&app, &mut ayesha, order, "12'; drop", None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text()
            .contains("Transaction id must be 4 to 50 letters")
    );
    assert_eq!(count(&app.db, "payments").await, 0);
}

#[sqlx::test]
async fn payment_forms_need_the_csrf_token_and_the_orders_owner(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (mut ayesha, order) = customer_with_order(&app, "ayesha@example.pk", "198.51.100.61").await;
    let manual = format!("/account/orders/{order}/payments/manual");

    // no token: neither in the query string of a multipart form, nor in a urlencoded body
    ayesha.get(&format!("/account/orders/{order}")).await;
    let multipart = post_multipart(
        &app,
        &ayesha,
        &manual,
        &[("reference", "TID12345678"), ("channel", "bank")],
        None,
    )
    .await;
    assert_eq!(multipart.status, StatusCode::FORBIDDEN);
    let forged = post_multipart(
        &app,
        &ayesha,
        &format!("{manual}?csrf_token=forged-token-forged-token-forged-token-xx"),
        &[("reference", "TID12345678"), ("channel", "bank")],
        None,
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let urlencoded = ayesha
        .post(
            &manual,
            &[("reference", "TID12345678"), ("channel", "bank")],
        )
        .await;
    assert_eq!(urlencoded.status, StatusCode::FORBIDDEN);
    let start = ayesha
        .post(
            &format!("/account/orders/{order}/payments/start"),
            &[("method", "jazzcash")],
        )
        .await;
    assert_eq!(start.status, StatusCode::FORBIDDEN);

    // another customer: the order page and both forms are a 404, as if the order did not exist
    let (mut bilal, _) = customer_with_order(&app, "bilal@example.pk", "198.51.100.62").await;
    assert_eq!(
        bilal.get(&format!("/account/orders/{order}")).await.status,
        StatusCode::NOT_FOUND
    );
    let token = bilal.csrf_of("/account/orders").await;
    let theirs = post_multipart(
        &app,
        &bilal,
        &format!("{manual}?csrf_token={token}"),
        &[("reference", "TID12345678"), ("channel", "bank")],
        Some(("r.png", "image/png", PNG)),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let theirs = bilal
        .post(
            &format!("/account/orders/{order}/payments/start"),
            &[("method", "jazzcash"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&app.db, "payments").await, 0);
    assert_eq!(count(&app.db, "payment_receipts").await, 0);
}

#[sqlx::test]
async fn the_operator_approves_from_the_queue_once(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (mut ayesha, order) = customer_with_order(&app, "ayesha@example.pk", "198.51.100.61").await;
    let paid = pay_manually(
        &app,
        &mut ayesha,
        order,
        "TID77001122",
        Some(("receipt.png", "image/png", PNG)),
    )
    .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text());
    let id = payment_id(&app.db).await;

    // customers may not see the queue nor review
    assert_eq!(
        ayesha.get("/admin/payments").await.status,
        StatusCode::FORBIDDEN
    );
    let token = ayesha.csrf_of("/account/orders").await;
    let approve = format!("/admin/payments/{id}/approve");
    assert_eq!(
        ayesha
            .post(&approve, &[("csrf_token", &token)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ayesha
            .get(&format!("/admin/payments/{id}/receipt"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let mut owner = operator(&app).await;
    let queue = owner.get("/admin/payments").await;
    assert_eq!(queue.status, StatusCode::OK);
    let html = queue.text();
    assert!(
        html.contains(&format!(r#"<tr data-payment-id="{id}">"#)),
        "{html}"
    );
    assert!(html.contains(&format!(r#"href="/admin/orders/{order}">#{order}<"#)));
    assert!(html.contains("ayesha@example.pk"));
    assert!(html.contains("<code>TID77001122</code>"));
    assert!(html.contains("JazzCash transfer"));
    assert!(
        html.contains(r#"<option value="review" selected>"#),
        "{html}"
    );
    let none = owner.get("/admin/payments?status=succeeded").await.text();
    assert!(!none.contains("data-payment-id"), "{none}");
    let found = owner
        .get("/admin/payments?status=all&search=tid7700")
        .await
        .text();
    assert!(
        found.contains(&format!(r#"<tr data-payment-id="{id}">"#)),
        "{found}"
    );
    assert!(
        found.contains(r#"value="tid7700""#),
        "the search stays in its field"
    );
    let missed = owner
        .get("/admin/payments?status=all&search=TID9999")
        .await
        .text();
    assert!(!missed.contains("data-payment-id"), "{missed}");
    assert_eq!(
        owner.get("/admin/payments?status=bogus").await.status,
        StatusCode::BAD_REQUEST
    );
    let order_page = owner.get(&format!("/admin/orders/{order}")).await.text();
    assert!(order_page.contains(&format!(r#"href="/admin/payments/{id}""#)));
    assert!(order_page.contains(r#"href="/admin/payments">"#));

    let page = owner.get(&format!("/admin/payments/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains(r#"<pre class="payload">"#), "{html}");
    assert!(html.contains("TID77001122"));
    let receipt_id: i32 = sqlx::query_scalar("select id from payment_receipts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(html.contains(&format!(
        r#"<img class="receipt-image" src="/admin/payments/{id}/receipts/{receipt_id}""#
    )));
    assert!(html.contains(r#"id="approve-payment""#));
    let receipt = owner.get(&format!("/admin/payments/{id}/receipt")).await;
    assert_eq!(receipt.status, StatusCode::OK);
    assert_eq!(receipt.header("content-type"), "image/png");
    assert_eq!(receipt.body, PNG);
    assert!(
        receipt
            .header("content-security-policy")
            .contains("default-src 'self'")
    );

    let approved = owner
        .submit(&format!("/admin/payments/{id}"), &approve, &[])
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    assert_eq!(
        approved.header("location"),
        format!("/admin/payments/{id}?notice=paid")
    );
    let html = owner
        .get(&format!("/admin/payments/{id}?notice=paid"))
        .await
        .text();
    assert!(
        html.contains(&format!("Order {order} is now paid.")),
        "{html}"
    );
    assert!(
        !html.contains(r#"id="approve-payment""#),
        "reviewed: no buttons"
    );
    // The events read as sentences, the reviewer by name; the raw data stays one click away.
    assert!(
        html.contains(
            "The customer reported a transfer by JazzCash wallet, reference TID77001122."
        ),
        "{html}"
    );
    assert!(html.contains("Approved by Shop Operator."), "{html}");
    assert!(!html.contains("by user "), "no bare user ids");
    assert!(html.contains(r#"<details class="event-raw"><summary>Raw data</summary>"#));
    assert!(
        html.contains(r#"id="paid-into""#),
        "the account it was paid into"
    );
    assert!(!html.contains(r#"id="next-review""#), "nothing else waits");
    // With another transfer waiting, the reviewed payment offers it next.
    let (mut bilal, second) = customer_with_order(&app, "bilal@example.pk", "198.51.100.62").await;
    pay_manually(&app, &mut bilal, second, "TID77001199", None).await;
    let next: i32 = sqlx::query_scalar("select max(id) from payments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let html = owner.get(&format!("/admin/payments/{id}")).await.text();
    assert!(
        html.contains(&format!(
            r#"<p id="next-review"><a class="button" href="/admin/payments/{next}">Next payment to review →</a></p>"#
        )),
        "{html}"
    );
    assert_eq!(
        order_status(&app, order).await,
        "processing",
        "paid, and its server being prepared"
    );
    let customer_view = ayesha.get(&format!("/account/orders/{order}")).await.text();
    assert!(
        customer_view.contains(r#"id="order-processing""#),
        "{customer_view}"
    );
    assert!(customer_view.contains(r#"data-status="processing">Processing<"#));
    assert!(!customer_view.contains(r#"id="pay-title""#));

    // approving again (a second tab, a double click): the reason, and nothing changes
    let token = owner.csrf_of(&format!("/admin/payments/{id}")).await;
    let again = owner.post(&approve, &[("csrf_token", &token)]).await;
    assert_eq!(
        again.header("location"),
        format!("/admin/payments/{id}?notice=already")
    );
    let html = owner
        .get(&format!("/admin/payments/{id}?notice=already"))
        .await
        .text();
    assert!(
        html.contains(&format!(
            "Payment {id} is succeeded, not waiting for review."
        )),
        "{html}"
    );
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("payment", Some(&id.to_string())),
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(audit.len(), 1, "one review recorded");
    let mails = app.mails_to("ayesha@example.pk").await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.contains(&format!("Subject: Payment received for order {order}")))
            .count(),
        1
    );
}

#[sqlx::test]
async fn a_rejection_needs_a_reason_and_the_customer_can_pay_again(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (mut ayesha, order) = customer_with_order(&app, "ayesha@example.pk", "198.51.100.61").await;
    pay_manually(&app, &mut ayesha, order, "TID31313131", None).await;
    let id = payment_id(&app.db).await;
    let mut owner = operator(&app).await;
    let page = format!("/admin/payments/{id}");
    let reject = format!("/admin/payments/{id}/reject");

    let empty = owner.submit(&page, &reject, &[("reason", "  ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = empty.text();
    assert!(html.contains(r#"id="reason-error">Say why"#), "{html}");
    assert!(html.contains(r#"aria-invalid="true""#));
    let status: String = sqlx::query_scalar("select status from payments where id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "review");

    let rejected = owner
        .submit(
            &page,
            &reject,
            &[("reason", "No such transfer reached our <JazzCash> account")],
        )
        .await;
    assert_eq!(
        rejected.header("location"),
        format!("/admin/payments/{id}?notice=rejected")
    );
    assert_eq!(order_status(&app, order).await, "pending_payment");
    let html = ayesha.get(&format!("/account/orders/{order}")).await.text();
    assert!(html.contains(r#"id="payment-rejected""#), "{html}");
    assert!(
        html.contains("No such transfer reached our &#60;JazzCash&#62; account"),
        "{html}"
    );
    assert!(
        html.contains(r#"id="manual-payment""#),
        "the form is back: {html}"
    );
}

/// The hidden fields of the redirect form, unescaped.
fn hidden_fields(html: &str) -> BTreeMap<String, String> {
    let unescape = |s: &str| {
        s.replace("&#34;", "\"")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&#x2f;", "/")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    html.split(r#"<input type="hidden" name=""#)
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.split_once(r#"value=""#)?.1.split_once('"')?.0;
            Some((unescape(name), unescape(value)))
        })
        .filter(|(name, _)| name.starts_with("pp"))
        .collect()
}

#[sqlx::test]
async fn the_jazzcash_button_redirects_with_signed_fields_and_the_return_pays(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (mut ayesha, _) = customer_with_order(&app, "ayesha@example.pk", "198.51.100.61").await;

    // checkout offers every enabled gateway and carries the choice to the order page
    let location = super::orders::location_of(&app.db, "vps-nano-one").await;
    ayesha
        .submit(
            "/plans/vps-nano-one",
            "/cart/items",
            &[("plan_id", "vps-nano-one"), ("location_id", &location)],
        )
        .await;
    let checkout = ayesha.get("/checkout").await.text();
    assert!(
        checkout.contains(r#"name="payment_method" value="jazzcash">"#),
        "{checkout}"
    );
    assert!(checkout.contains("JazzCash (wallet or card)"));
    let key = checkout
        .split(r#"name="idempotency_key" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let placed = ayesha
        .submit(
            "/checkout",
            "/checkout",
            &[
                ("idempotency_key", &key),
                ("payment_method", "jazzcash"),
                ("terms", "yes"),
            ],
        )
        .await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text());
    let target = placed.header("location").to_owned();
    assert!(target.ends_with("&pay=jazzcash"), "{target}");
    let order: i32 = sqlx::query_scalar("select max(id) from orders")
        .fetch_one(&app.db)
        .await
        .unwrap();

    let html = ayesha.get(&target).await.text();
    assert!(
        html.contains(r#"id="pay-jazzcash">Pay with JazzCash<"#),
        "{html}"
    );
    assert!(
        !html.contains(r#"id="manual-payment""#),
        "only the chosen method"
    );
    let redirect = ayesha
        .submit(
            &target,
            &format!("/account/orders/{order}/payments/start"),
            &[("method", "jazzcash")],
        )
        .await;
    assert_eq!(redirect.status, StatusCode::OK, "{}", redirect.text());
    let html = redirect.text();
    assert!(
        html.contains(&format!(
            r#"method="post" action="{}" data-auto-submit"#,
            nextgenrdp::payments::jazzcash::SANDBOX_URL
        )),
        "{html}"
    );
    assert!(html.contains(r#"id="continue-to-gateway">Continue to JazzCash<"#));
    assert!(!html.contains("<script>"), "no inline script");
    let csp = redirect.header("content-security-policy");
    assert!(
        csp.contains("form-action 'self' https://sandbox.jazzcash.com.pk;"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert_eq!(redirect.header("cache-control"), "no-store");
    let fields = hidden_fields(&html);
    assert_eq!(fields["pp_Amount"], "120000", "Rs 1,200 in paisa");
    assert_eq!(fields["pp_BillReference"], format!("NGR-{order}"));
    assert_eq!(
        fields["pp_ReturnURL"],
        "http://shop.test/payments/jazzcash/return"
    );
    assert_eq!(fields["pp_SecureHash"], secure_hash(JAZZCASH_SALT, &fields));
    let pending: String =
        sqlx::query_scalar("select status from payments where gateway_txn_id = $1")
            .bind(&fields["pp_TxnRefNo"])
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        pending, "pending",
        "the attempt is recorded for its callbacks"
    );

    // JazzCash sends the browser back with a signed success: the page says so, the order is paid
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
    .map(|k| ((*k).to_owned(), fields[*k].clone()))
    .collect();
    result.insert("pp_ResponseCode".into(), "000".into());
    result.insert(
        "pp_ResponseMessage".into(),
        "Thank you for Using JazzCash".into(),
    );
    result.insert("pp_RetreivalReferenceNo".into(), "RRN301".into());
    result.insert("pp_TxnType".into(), "MWALLET".into());
    let hash = secure_hash(JAZZCASH_SALT, &result).to_uppercase();
    result.insert("pp_SecureHash".into(), hash);
    let back = app
        .request(
            Request::post("/payments/jazzcash/return")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(serde_urlencoded::to_string(&result).unwrap()))
                .unwrap(),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text());
    let html = back.text();
    assert!(html.contains("Payment received"), "{html}");
    assert!(html.contains(&format!(r#"href="/account/orders/{order}""#)));
    assert_eq!(
        order_status(&app, order).await,
        "processing",
        "paid, and its server being prepared"
    );
    let html = ayesha.get(&format!("/account/orders/{order}")).await.text();
    assert!(html.contains(r#"id="order-processing""#), "{html}");
    assert!(html.contains("JazzCash checkout"), "{html}");
}

#[sqlx::test]
async fn approving_with_a_stale_second_factor_asks_for_a_fresh_code_then_comes_back(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (mut ayesha, order) = customer_with_order(&app, "ayesha@example.pk", "198.51.100.62").await;
    let paid = pay_manually(&app, &mut ayesha, order, "TID55667788", None).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text());
    let id = payment_id(&app.db).await;
    let mut owner = operator(&app).await;
    // The operator logged in 11 minutes ago.
    sqlx::query("update user_sessions set two_factor_at = now() - interval '11 minutes'")
        .execute(&app.db)
        .await
        .unwrap();
    let page = format!("/admin/payments/{id}");
    let approve = owner
        .submit(&page, &format!("/admin/payments/{id}/approve"), &[])
        .await;
    assert_eq!(approve.status, StatusCode::SEE_OTHER);
    let to = approve.header("location").to_owned();
    assert_eq!(
        to,
        format!("/account/two-factor/verify?next=%2Fadmin%2Fpayments%2F{id}")
    );
    assert_eq!(
        order_status(&app, order).await,
        "pending_payment",
        "not yet"
    );

    // A wrong code is named; the right one comes back to the payment, where Approve works.
    let wrong = owner
        .submit(
            &to,
            "/account/two-factor/verify",
            &[("code", "000000"), ("next", &page)],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.text().contains(r#"id="code-error""#),
        "{}",
        wrong.text()
    );
    let user_id: i32 = sqlx::query_scalar("select id from users where email = $1")
        .bind(OPERATOR)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let code = crate::helpers::totp_code(&app.db, user_id).await;
    let verified = owner
        .submit(
            &to,
            "/account/two-factor/verify",
            &[("code", &code), ("next", &page)],
        )
        .await;
    assert_eq!(
        verified.status,
        StatusCode::SEE_OTHER,
        "{}",
        verified.text()
    );
    assert_eq!(verified.header("location"), page);
    let approve = owner
        .submit(&page, &format!("/admin/payments/{id}/approve"), &[])
        .await;
    assert_eq!(
        approve.header("location"),
        format!("/admin/payments/{id}?notice=paid")
    );
    assert_eq!(order_status(&app, order).await, "processing");
}

#[sqlx::test]
async fn an_operator_without_two_factor_sees_how_to_set_it_up_on_every_admin_page(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    app.admin_account(OPERATOR).await;
    let mut owner = Visitor::from(&app, "198.51.100.91");
    owner.log_in(OPERATOR, "operator-passphrase").await;
    for path in [
        "/admin",
        "/admin/payments",
        "/admin/orders",
        "/admin/services",
    ] {
        let page = owner.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        let html = page.text();
        assert!(html.contains("Two-factor sign-in needed"), "{path}: {html}");
        assert!(html.contains(r#"href="/account/two-factor""#), "{path}");
    }
    // The account pages stay open, so it can be set up.
    assert_eq!(
        owner.get("/account/two-factor").await.status,
        StatusCode::OK
    );
}

#[sqlx::test]
async fn the_operator_approves_what_arrived_and_refunds_from_the_payment_page(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (mut ayesha, order) = customer_with_order(&app, "ayesha@example.pk", "198.51.100.63").await;
    let paid = pay_manually(&app, &mut ayesha, order, "TID99001122", None).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text());
    let id = payment_id(&app.db).await;
    let mut owner = operator(&app).await;
    let page = format!("/admin/payments/{id}");

    // Rs 5,000 arrived for Rs 4,500: a typo is refused, then the order is paid, Rs 500 credited.
    let typo = owner
        .submit(
            &page,
            &format!("/admin/payments/{id}/approve"),
            &[("amount_received", "5,00x")],
        )
        .await;
    assert_eq!(typo.status, StatusCode::SEE_OTHER);
    let html = owner.get(typo.header("location")).await.text();
    assert!(html.contains("Not approved: the amount received"), "{html}");
    assert_eq!(order_status(&app, order).await, "pending_payment");
    let approved = owner
        .submit(
            &page,
            &format!("/admin/payments/{id}/approve"),
            &[("amount_received", "5,000")],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    assert_eq!(order_status(&app, order).await, "processing");
    let html = owner.get(&page).await.text();
    assert!(html.contains(r#"id="refundable">Rs 5,000<"#), "{html}");

    // A transfer refund without its reference is named and nothing is written.
    let refused = owner
        .submit(
            &page,
            &format!("/admin/payments/{id}/refund"),
            &[
                ("amount_pkr", "2,000"),
                ("to", "external"),
                ("reference", ""),
                ("reason", "Late delivery"),
                ("services", "keep"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .contains("Not refunded: An external refund needs the transaction id"),
        "{}",
        refused.text()
    );
    assert_eq!(count(&app.db, "refunds").await, 0);
    // The typed values come back with the refusal.
    assert!(refused.text().contains("Late delivery</textarea>"));

    // A well-formed refund is said back first (how much, where to, the servers, the e-mail)
    // and nothing is written until the operator confirms it.
    let fields = [
        ("amount_pkr", "2,000"),
        ("to", "credit"),
        ("reference", ""),
        ("reason", "Late delivery"),
        ("services", "keep"),
    ];
    let said_back = owner
        .submit(&page, &format!("/admin/payments/{id}/refund"), &fields)
        .await;
    assert_eq!(said_back.status, StatusCode::OK, "{}", said_back.text());
    let html = said_back.text();
    assert!(html.contains(r#"id="confirm-refund""#), "{html}");
    assert!(
        html.contains("Refund <strong>Rs 2,000</strong> of payment")
            && html.contains("the customer&#39;s account credit")
            && html.contains("The order's servers keep running.")
            && html.contains("The customer is e-mailed: “Late delivery”")
            && html.contains(r#"name="confirmed" value="yes""#),
        "{html}"
    );
    assert_eq!(count(&app.db, "refunds").await, 0);
    // Choosing to terminate names the servers that stop.
    let cancel = [
        ("amount_pkr", "2,000"),
        ("to", "credit"),
        ("reference", ""),
        ("reason", "Late delivery"),
        ("services", "cancel"),
    ];
    let html = owner
        .submit(&page, &format!("/admin/payments/{id}/refund"), &cancel)
        .await
        .text();
    let service: i32 = sqlx::query_scalar(
        "select s.id from services s join order_items i on i.id = s.order_item_id where i.order_id = $1",
    )
        .bind(order)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(
        html.contains("Terminated now, for good:")
            && html.contains(&format!(
                r#"href="/admin/services/{service}">service #{service}<"#
            )),
        "{html}"
    );
    assert_eq!(count(&app.db, "refunds").await, 0);

    let mut confirmed = fields.to_vec();
    confirmed.push(("confirmed", "yes"));
    let refunded = owner
        .submit(&page, &format!("/admin/payments/{id}/refund"), &confirmed)
        .await;
    assert_eq!(
        refunded.status,
        StatusCode::SEE_OTHER,
        "{}",
        refunded.text()
    );
    let html = owner.get(refunded.header("location")).await.text();
    assert!(html.contains(r#"id="refunds""#), "{html}");
    assert!(html.contains("Late delivery"), "{html}");
    assert!(html.contains(r#"id="refundable">Rs 3,000<"#), "{html}");
    let html = ayesha.get("/account").await.text();
    assert!(
        html.contains("Rs 2,500"),
        "500 over-paid + 2,000 refunded: {html}"
    );
}
