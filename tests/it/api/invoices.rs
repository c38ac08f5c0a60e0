//! Invoices and sales tax through the API: the operator's tax setting and table, the buyer's
//! province and tax number, the tax on the order, the invoice issued when it is paid (JSON, PDF
//! read back with `pdftotext`, attached to the payment mail), credit notes for refunds, the
//! accountant's CSV, gapless numbers under 50 concurrent payments, and documents nobody can
//! edit.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

/// The text of a PDF, as `pdftotext -layout` reads it (poppler-utils).
pub fn pdf_text(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("pdftotext")
        .args(["-layout", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("pdftotext runs (poppler-utils; .ci/run installs it)");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Keeps `pdf` as `test-artifacts/invoices/<name>.pdf`, with its first page drawn as a PNG
/// beside it (`pdftoppm`), for a person to look at.
pub fn keep_pdf(name: &str, pdf: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/invoices");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let drawn = std::process::Command::new("pdftoppm")
        .args(["-r", "110", "-png", "-singlefile"])
        .arg(&path)
        .arg(dir.join(name))
        .status();
    assert!(
        drawn.is_ok_and(|s| s.success()),
        "pdftoppm draws the PDF (poppler-utils)"
    );
}

/// The year of today's invoice series (PKT).
async fn year(db: &PgPool) -> String {
    sqlx::query_scalar("select to_char(now() at time zone 'Asia/Karachi', 'YYYY')")
        .fetch_one(db)
        .await
        .unwrap()
}

async fn settings(
    app: &TestApp,
    admin: &str,
    body: serde_json::Value,
) -> crate::helpers::TestResponse {
    app.send_json_as(Some(admin), Method::PATCH, "/api/v1/admin/billing", &body)
        .await
}

/// Registers as a seller charging tax `mode`.
async fn charge_tax(app: &TestApp, admin: &str, mode: &str) {
    let set = settings(
        app,
        admin,
        json!({
            "tax_mode": mode,
            "seller_name": "NextGenRDP (Private) Limited",
            "seller_address": "Office 4, Arfa Software Technology Park, Lahore",
            "seller_ntn": "1234567-8",
            "seller_strn": "3277876123456",
            "seller_province": "punjab",
        }),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
}

/// Puts one `rdp-business-two` (Rs 4,500 a month) in the cart and checks out with `body`.
async fn checkout(
    app: &TestApp,
    token: &str,
    body: serde_json::Value,
) -> crate::helpers::TestResponse {
    let location = super::cart::location_of(&app.db, "rdp-business-two").await;
    let added = app
        .send_json_as(
            Some(token),
            Method::POST,
            "/api/v1/cart/items",
            &json!({ "plan_id": "rdp-business-two", "location_id": location }),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    app.send_json_as(Some(token), Method::POST, "/api/v1/orders", &body)
        .await
}

async fn refund(app: &TestApp, admin: &str, payment: i64, amount: i64) -> serde_json::Value {
    let refunded = app
        .send_json_as(
            Some(admin),
            Method::POST,
            &format!("/api/v1/admin/payments/{payment}/refund"),
            &json!({ "amount_pkr": amount, "to": "credit", "reason": "the server was slow", "services": "keep" }),
        )
        .await;
    assert_eq!(refunded.status, StatusCode::CREATED, "{}", refunded.text());
    refunded.json()
}

#[sqlx::test]
async fn a_taxed_order_is_invoiced_as_issued_and_refunds_get_credit_notes(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin = admin["access_token"].as_str().unwrap();
    let customer = app.verified_customer("ayesha@example.pk").await;
    let own = customer["access_token"].as_str().unwrap();
    let year = year(&app.db).await;

    // Tax needs the seller's registration: a 422 names each missing field, nothing changes.
    let refused = settings(&app, admin, json!({ "tax_mode": "exclusive" })).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["seller_ntn", "seller_strn", "seller_province"] {
        assert!(
            refused.json()["errors"][field].is_string(),
            "{}",
            refused.text()
        );
    }
    for (body, field) in [
        (json!({ "invoice_prefix": "ngr 1" }), "invoice_prefix"),
        (json!({ "seller_name": " " }), "seller_name"),
        (json!({ "seller_ntn": "12" }), "seller_ntn"),
    ] {
        let refused = settings(&app, admin, body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.json()["errors"][field].is_string(),
            "{}",
            refused.text()
        );
    }
    let unchanged = app.get_as(admin, "/api/v1/admin/billing").await.json();
    assert_eq!(unchanged["tax_mode"], "off");
    assert_eq!(unchanged["invoice_prefix"], "NGR");
    charge_tax(&app, admin, "exclusive").await;

    // The province is asked at checkout; a bad one or none is a 422 and nothing is placed.
    let unsaid = checkout(&app, own, json!({})).await;
    assert_eq!(
        unsaid.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unsaid.text()
    );
    assert!(unsaid.json()["errors"]["province"].is_string());
    let bad = app
        .send_json_as(
            Some(own),
            Method::POST,
            "/api/v1/orders",
            &json!({ "province": "gujranwala" }),
        )
        .await;
    assert!(bad.status.is_client_error(), "{}", bad.text());
    let placed = app
        .send_json_as(
            Some(own),
            Method::POST,
            "/api/v1/orders",
            &json!({ "province": "sindh" }),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json()["order"].clone();
    assert_eq!(order["total_amount_pkr"], 4500);
    assert_eq!(order["tax_mode"], "exclusive");
    assert_eq!(order["tax_province"], "sindh");
    assert_eq!(order["tax_rate_bp"], 1300);
    assert_eq!(order["tax_amount_pkr"], 585, "13 % of Rs 4,500");
    assert_eq!(order["final_amount_pkr"], 5085);
    assert_eq!(order["amount_due_pkr"], 5085);
    let order_id = order["id"].as_i64().unwrap();

    // The province is kept in the profile, beside the tax number and address.
    let profile = app.get_as(own, "/api/v1/me/billing").await.json();
    assert_eq!(profile["province"], "sindh");
    let bad_id = app
        .send_json_as(
            Some(own),
            Method::PUT,
            "/api/v1/me/billing",
            &json!({ "tax_id": "12-34" }),
        )
        .await;
    assert_eq!(bad_id.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_id.json()["errors"]["tax_id"].is_string());
    let changed = app
        .send_json_as(
            Some(own),
            Method::PUT,
            "/api/v1/me/billing",
            &json!({ "tax_id": "4210112345671", "address": "Plot 7, Clifton Block 5, Karachi" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_eq!(changed.json()["tax_id"], "42101-1234567-1");
    assert_eq!(changed.json()["province"], "sindh", "kept");

    // Paid: one invoice, numbered in its series, with everything the issue lists.
    let payment = app.report_transfer(own, order_id, "TID81001", "bank").await;
    let payment_id = payment["id"].as_i64().unwrap();
    assert_eq!(payment["amount_pkr"], 5085);
    app.approve_payment(admin, payment_id).await;
    let list = app.get_as(own, "/api/v1/invoices").await.json();
    assert_eq!(list["total"], 1, "{list}");
    let invoice = list["items"][0].clone();
    let code = format!("NGR-{year}-000001");
    assert_eq!(invoice["code"], code.as_str());
    assert_eq!(invoice["kind"], "invoice");
    assert_eq!(invoice["order_id"], order_id);
    assert_eq!(invoice["taxable_pkr"], 4500);
    assert_eq!(invoice["tax_pkr"], 585);
    assert_eq!(invoice["total_pkr"], 5085);
    assert_eq!(invoice["seller"]["ntn"], "1234567-8");
    assert_eq!(invoice["buyer"]["tax_id"], "42101-1234567-1");
    assert_eq!(invoice["buyer"]["email"], "ayesha@example.pk");
    assert_eq!(invoice["lines"][0]["months"], 1);
    assert_eq!(invoice["lines"][0]["unit_price_pkr"], 4500);
    assert_eq!(invoice["payment_method"], "Bank transfer");
    assert_eq!(invoice["payment_reference"], "TID81001");
    let id = invoice["id"].as_i64().unwrap();

    let pdf = app.get_as(own, &format!("/api/v1/invoices/{id}/pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.header("content-type"), "application/pdf");
    assert!(
        pdf.header("content-disposition")
            .contains(&format!("{code}.pdf"))
    );
    let text = pdf_text(&pdf.body);
    keep_pdf("sales-tax-invoice", &pdf.body);
    for needle in [
        "Sales tax invoice",
        code.as_str(),
        "NextGenRDP (Private) Limited",
        "NTN 1234567-8",
        "STRN 3277876123456",
        "CNIC 42101-1234567-1",
        "Plot 7, Clifton Block 5, Karachi",
        "Sales tax 13%, Sindh",
        "Rs 585",
        "Value excluding sales tax",
        "Rs 5,085",
        "Bank transfer, reference TID81001",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }

    // The payment mail carries the PDF.
    let mails = app.mails_to("ayesha@example.pk").await;
    let paid = mails
        .iter()
        .find(|m| m.contains(&format!("Subject: Payment received for order {order_id}")))
        .expect("the payment mail");
    assert!(paid.contains("application/pdf"), "no PDF attached");
    assert!(paid.contains(&format!("{code}.pdf")));
    assert!(paid.contains(&format!("sales tax invoice {code}")));

    // Nobody else reads it.
    let other = app.verified_customer("bilal@example.pk").await;
    let other = other["access_token"].as_str().unwrap();
    for path in [
        format!("/api/v1/invoices/{id}"),
        format!("/api/v1/invoices/{id}/pdf"),
    ] {
        assert_eq!(
            app.get_as(other, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        app.get_as(other, "/api/v1/invoices").await.json()["total"],
        0
    );

    // Two refunds, to credit: two credit notes whose tax adds up to the invoice's exactly.
    let first = refund(&app, admin, payment_id, 1000).await;
    assert_eq!(first["refund"]["amount_pkr"], 1000);
    refund(&app, admin, payment_id, 4085).await;
    let notes = app
        .get_as(admin, "/api/v1/admin/invoices?kind=credit_note")
        .await
        .json();
    assert_eq!(notes["total"], 2, "{notes}");
    let (a, b) = (&notes["items"][0], &notes["items"][1]);
    assert_eq!(a["code"], format!("NGR-CN-{year}-000001"));
    assert_eq!(b["code"], format!("NGR-CN-{year}-000002"));
    assert_eq!(a["corrects_id"], id);
    assert_eq!(a["corrects_code"], code.as_str());
    assert_eq!(a["total_pkr"], 1000);
    assert_eq!(a["tax_pkr"], 115, "the tax inside Rs 1,000 at 13 %");
    assert_eq!(b["total_pkr"], 4085);
    assert_eq!(b["tax_pkr"], 470, "the rest of the Rs 585");
    let note_pdf = app
        .get_as(own, &format!("/api/v1/invoices/{}/pdf", a["id"]))
        .await;
    let note_text = pdf_text(&note_pdf.body);
    keep_pdf("credit-note", &note_pdf.body);
    // The ledger's refund entries name their credit notes.
    let credit = app.get_as(own, "/api/v1/me/credit").await.json();
    assert_eq!(credit["entries"][0]["invoice_id"], b["id"], "{credit}");
    assert_eq!(credit["entries"][1]["invoice_id"], a["id"]);
    assert!(
        credit["entries"][1]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("credit note NGR-CN-{year}-000001"))
    );
    assert!(note_text.contains("Credit note"), "{note_text}");
    assert!(
        note_text.contains(&format!("Refund against invoice {code}")),
        "{note_text}"
    );
    assert!(note_text.contains("Total credited"), "{note_text}");
    assert!(
        note_text.contains(&format!("Corrects invoice {code}")),
        "{note_text}"
    );

    // The operator's list filters; bad filters are 400s naming the parameter.
    let all = app.get_as(admin, "/api/v1/admin/invoices").await.json();
    assert_eq!(all["total"], 3);
    let series = app
        .get_as(admin, &format!("/api/v1/admin/invoices?series=ngr-{year}"))
        .await
        .json();
    assert_eq!(series["total"], 1);
    let mine = app
        .get_as(
            admin,
            &format!("/api/v1/admin/invoices?customer={}", customer["user"]["id"]),
        )
        .await
        .json();
    assert_eq!(mine["total"], 3);
    for (query, field) in [
        ("series=a%20b", "series"),
        ("from=2026-12-05&to=2026-12-01", "to"),
        ("kind=receipt", "query"),
    ] {
        let bad = app
            .get_as(admin, &format!("/api/v1/admin/invoices?{query}"))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            bad.json()["errors"][field].is_string(),
            "{query}: {}",
            bad.text()
        );
    }
    assert_eq!(
        app.get_as(own, "/api/v1/admin/invoices").await.status,
        StatusCode::FORBIDDEN
    );

    // The accountant's CSV: one line per document, credit notes negative.
    let csv = app.get_as(admin, "/api/v1/admin/invoices/export.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").starts_with("text/csv"));
    let text = csv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("number,type,issue_date,order_id,buyer"));
    assert!(lines[1].starts_with(&format!("{code},invoice,")), "{text}");
    assert!(
        lines[1].contains(",Sindh,exclusive,13,4500,585,5085,"),
        "{text}"
    );
    assert!(
        lines[2].contains(",Sindh,exclusive,13,-885,-115,-1000,"),
        "{text}"
    );
    assert!(lines[3].ends_with(&format!(",{code}")), "{text}");

    // Issued documents cannot be changed or deleted, even by SQL.
    for statement in [
        "update invoices set total_pkr = 1, taxable_pkr = 1, tax_pkr = 0",
        "delete from invoices",
    ] {
        let err = sqlx::query(statement).execute(&app.db).await.unwrap_err();
        assert!(err.to_string().contains("immutable"), "{err}");
    }
}

#[sqlx::test]
async fn inclusive_prices_carry_the_tax_inside_and_the_table_changes_from_a_day(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin = admin["access_token"].as_str().unwrap();
    let customer = app.verified_customer("ayesha@example.pk").await;
    let own = customer["access_token"].as_str().unwrap();
    charge_tax(&app, admin, "inclusive").await;

    let placed = checkout(&app, own, json!({ "province": "punjab" })).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = &placed.json()["order"];
    assert_eq!(
        order["final_amount_pkr"], 4500,
        "the price includes the tax"
    );
    assert_eq!(order["tax_amount_pkr"], 621, "16 % inside Rs 4,500");

    // The table: five provinces in force; a new rate from today applies to the next order.
    let rates = app.get_as(admin, "/api/v1/admin/tax-rates").await.json();
    let in_force: Vec<_> = rates["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["in_force"] == true)
        .collect();
    assert_eq!(in_force.len(), 5, "{rates}");
    let today: String =
        sqlx::query_scalar("select ((now() at time zone 'Asia/Karachi')::date)::text")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let post = |body: serde_json::Value| {
        let app = &app;
        async move {
            app.send_json_as(Some(admin), Method::POST, "/api/v1/admin/tax-rates", &body)
                .await
        }
    };
    let past =
        post(json!({ "province": "punjab", "rate_bp": 1700, "effective_from": "2020-01-01" }))
            .await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(past.json()["errors"]["effective_from"].is_string());
    let absurd =
        post(json!({ "province": "punjab", "rate_bp": 9000, "effective_from": today })).await;
    assert_eq!(absurd.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(absurd.json()["errors"]["rate_bp"].is_string());
    let added =
        post(json!({ "province": "punjab", "rate_bp": 1700, "effective_from": today })).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let again =
        post(json!({ "province": "punjab", "rate_bp": 1800, "effective_from": today })).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let later =
        post(json!({ "province": "sindh", "rate_bp": 1500, "effective_from": "2099-07-01" })).await;
    assert_eq!(later.status, StatusCode::CREATED);
    let next = checkout(&app, own, json!({})).await;
    assert_eq!(next.status, StatusCode::CREATED, "{}", next.text());
    assert_eq!(
        next.json()["order"]["tax_rate_bp"],
        1700,
        "today's new rate; the profile's province"
    );
    assert_eq!(next.json()["order"]["tax_amount_pkr"], 654);
    let first: i64 = placed.json()["order"]["id"].as_i64().unwrap();
    let kept = app
        .get_as(own, &format!("/api/v1/orders/{first}"))
        .await
        .json();
    assert_eq!(
        kept["tax_amount_pkr"], 621,
        "an order keeps the tax it was placed with"
    );

    // A rate not yet in force can be removed; one in force cannot.
    let removed = app
        .send_json_as(
            Some(admin),
            Method::DELETE,
            &format!("/api/v1/admin/tax-rates/{}", later.json()["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text());
    let stays = app
        .send_json_as(
            Some(admin),
            Method::DELETE,
            &format!("/api/v1/admin/tax-rates/{}", added.json()["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(stays.status, StatusCode::CONFLICT);

    // The logo: checked by its bytes, printed on the PDF.
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    )
    .unwrap();
    let put_logo = |content_type: &'static str, bytes: Vec<u8>| {
        let app = &app;
        async move {
            app.request(
                axum::http::Request::put("/api/v1/admin/billing/logo")
                    .header("authorization", format!("Bearer {admin}"))
                    .header("content-type", content_type)
                    .body(axum::body::Body::from(bytes))
                    .unwrap(),
            )
            .await
        }
    };
    assert_eq!(
        put_logo("image/jpeg", png.clone()).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        put_logo("image/gif", png.clone()).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let set = put_logo("image/png", png).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.json()["has_logo"], true);
}

#[sqlx::test]
async fn without_tax_an_order_paid_by_credit_gets_a_plain_invoice(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin = admin["access_token"].as_str().unwrap();
    let customer = app.verified_customer("ayesha@example.pk").await;
    let own = customer["access_token"].as_str().unwrap();
    let id = customer["user"]["id"].as_i64().unwrap();
    let given = app
        .send_json_as(
            Some(admin),
            Method::POST,
            &format!("/api/v1/admin/users/{id}/credit"),
            &json!({ "amount_pkr": 4500, "reason": "prepaid" }),
        )
        .await;
    assert_eq!(given.status, StatusCode::CREATED);
    let placed = checkout(&app, own, json!({ "use_credit": true })).await;
    assert_eq!(
        placed.json()["order"]["payment_method"],
        "credit",
        "{}",
        placed.text()
    );
    assert_eq!(placed.json()["order"]["tax_mode"], "off");
    let invoice = app.get_as(own, "/api/v1/invoices").await.json()["items"][0].clone();
    assert_eq!(invoice["tax_pkr"], 0);
    assert_eq!(invoice["total_pkr"], 4500);
    assert_eq!(invoice["payment_method"], "Account credit");
    let pdf = app
        .get_as(own, &format!("/api/v1/invoices/{}/pdf", invoice["id"]))
        .await;
    let text = pdf_text(&pdf.body);
    assert!(text.contains("Invoice"), "{text}");
    assert!(!text.contains("Sales tax invoice"), "{text}");
    assert!(text.contains("not registered for sales tax"), "{text}");
    assert!(text.contains("Paid by Account credit"), "{text}");
}

#[sqlx::test]
async fn fifty_orders_paid_at_once_get_gapless_numbers(db: PgPool) {
    let app = std::sync::Arc::new(TestApp::with_default_catalog(db).await);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin = admin["access_token"].as_str().unwrap().to_owned();
    let mut tokens = Vec::new();
    for n in 0..50 {
        let (id, token) = app.direct_customer(&format!("buyer{n}@example.pk")).await;
        let given = app
            .send_json_as(
                Some(&admin),
                Method::POST,
                &format!("/api/v1/admin/users/{id}/credit"),
                &json!({ "amount_pkr": 4500, "reason": "prepaid" }),
            )
            .await;
        assert_eq!(given.status, StatusCode::CREATED);
        let location = super::cart::location_of(&app.db, "rdp-business-two").await;
        let added = app
            .send_json_as(
                Some(&token),
                Method::POST,
                "/api/v1/cart/items",
                &json!({ "plan_id": "rdp-business-two", "location_id": location }),
            )
            .await;
        assert_eq!(added.status, StatusCode::CREATED);
        tokens.push(token);
    }
    // Fifty checkouts paid by credit at the same moment: each is numbered in its paying
    // transaction.
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let app = app.clone();
            tokio::spawn(async move {
                app.send_json_as(
                    Some(&token),
                    Method::POST,
                    "/api/v1/orders",
                    &json!({ "use_credit": true }),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        let placed = task.await.unwrap();
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
        assert_eq!(placed.json()["order"]["amount_due_pkr"], 0);
        assert_ne!(placed.json()["order"]["status"], "pending_payment");
    }
    let numbers: Vec<i32> = sqlx::query_scalar("select number from invoices order by number")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>(), "gapless, each once");
    let orders: i64 = sqlx::query_scalar("select count(distinct order_id) from invoices")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(orders, 50, "one invoice per order");
}
