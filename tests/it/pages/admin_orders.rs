//! The operator's order and promo-code pages (`/admin/orders*`, `/admin/promo-codes*`): role
//! checks, filters, audited cancellation, and promo-code forms over the admin API's rules.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::Visitor;
use crate::helpers::{TestApp, TestResponse};

fn redirect_of(response: &TestResponse) -> &str {
    response.header("location")
}

/// An operator logged in through the form.
async fn operator(app: &TestApp) -> Visitor<'_> {
    app.admin("owner@nextgenrdp.pk").await;
    let mut visitor = Visitor::from(app, "198.51.100.70");
    visitor
        .log_in("owner@nextgenrdp.pk", "operator-passphrase")
        .await;
    visitor
}

/// A verified customer's order of `plan`, placed through the API; returns its id.
async fn order_of(app: &TestApp, email: &str, plan: &str) -> i64 {
    let login = app.verified_customer(email).await;
    let token = login["access_token"].as_str();
    let location = nextgenrdp::catalog::locations::list_for_plan(&app.db, plan)
        .await
        .unwrap()[0]
        .id;
    app.send_json_as(
        token,
        Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": plan, "location_id": location }),
    )
    .await;
    let placed = app
        .send_json_as(token, Method::POST, "/api/v1/orders", &json!({}))
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    placed.json()["order"]["id"].as_i64().unwrap()
}

async fn promo_count(db: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from promo_codes")
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn customers_and_anonymous_visitors_cannot_open_the_operator_pages(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let id = order_of(&app, "ayesha@example.pk", "vps-nano-one").await;
    let mut customer = Visitor::new(&app);
    customer
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    for path in [
        "/admin/orders",
        &format!("/admin/orders/{id}"),
        "/admin/promo-codes",
    ] {
        let refused = customer.get(path).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            refused.text().contains("for the shop"),
            "{}",
            refused.text()
        );
    }
    let cancel = customer
        .submit("/account", &format!("/admin/orders/{id}/cancel"), &[])
        .await;
    assert_eq!(cancel.status, StatusCode::FORBIDDEN);
    let create = customer
        .submit(
            "/account",
            "/admin/promo-codes",
            &[
                ("code", "FREE"),
                ("discount_type", "percentage"),
                ("discount_value", "100"),
            ],
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert_eq!(promo_count(&app.db).await, 0);
    let status: String = sqlx::query_scalar("select status from orders")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "pending_payment");

    let mut anonymous = Visitor::from(&app, "203.0.113.9");
    assert_eq!(
        redirect_of(&anonymous.get("/admin/orders?status=paid").await),
        "/login?next=%2Fadmin%2Forders%3Fstatus%3Dpaid"
    );
}

#[sqlx::test]
async fn the_operator_filters_orders_and_cancels_one_with_an_audit_row(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let a1 = order_of(&app, "ayesha@example.pk", "vps-nano-one").await;
    let b1 = order_of(&app, "bilal@example.pk", "rdp-starter-one").await;
    let mut admin = operator(&app).await;

    let all = admin.get("/admin/orders").await;
    assert_eq!(all.status, StatusCode::OK);
    let html = all.text();
    assert!(
        html.contains(&format!(r#"data-order-id="{a1}""#))
            && html.contains(&format!(r#"data-order-id="{b1}""#))
    );
    assert!(
        html.contains("ayesha@example.pk") && html.contains("bilal@example.pk"),
        "{html}"
    );
    assert!(html.contains(r#"id="result-count">2 orders"#), "{html}");
    assert!(html.contains(r#"data-status="pending_payment""#));

    // The filter form sends every field, the empty ones too.
    let filtered = admin
        .get("/admin/orders?status=pending_payment&customer=&from=&to=&search=bilal")
        .await;
    assert_eq!(filtered.status, StatusCode::OK, "{}", filtered.text());
    let html = filtered.text();
    assert!(
        html.contains(&format!(r#"data-order-id="{b1}""#))
            && !html.contains(&format!(r#"data-order-id="{a1}""#)),
        "{html}"
    );
    assert!(
        html.contains(r#"<option value="pending_payment" selected>"#),
        "the filter is shown again"
    );
    assert!(html.contains(r#"value="bilal""#));
    let today = chrono::Utc::now().date_naive();
    let dated = admin
        .get(&format!(
            "/admin/orders?status=&from={today}&to={today}&search="
        ))
        .await
        .text();
    assert!(dated.contains(r#"id="result-count">2 orders"#), "{dated}");
    let ayesha_id: i32 = sqlx::query_scalar("select user_id from orders where id = $1")
        .bind(a1 as i32)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let by_customer = admin
        .get(&format!("/admin/orders?customer={ayesha_id}"))
        .await
        .text();
    assert!(
        by_customer.contains(r#"id="result-count">1 order<"#),
        "{by_customer}"
    );
    let none = admin.get("/admin/orders?status=paid").await.text();
    assert!(none.contains("No orders found."));

    // Nonsense filters are explained beside their field, not a bare error page.
    let backwards = admin
        .get("/admin/orders?from=2026-02-01&to=2026-01-01")
        .await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST);
    assert!(
        backwards
            .text()
            .contains(r#"id="to-error">To must not be before from.<"#),
        "{}",
        backwards.text()
    );
    let unknown = admin.get("/admin/orders?status=shipped").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.text().contains(r#"id="status-error">"#),
        "{}",
        unknown.text()
    );
    let garbled = admin.get("/admin/orders?customer=abc").await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST);
    assert!(
        garbled.text().contains(r#"id="form-error""#),
        "{}",
        garbled.text()
    );

    let detail = admin.get(&format!("/admin/orders/{a1}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    let html = detail.text();
    assert!(
        html.contains("ayesha@example.pk") && html.contains("Ayesha Khan"),
        "{html}"
    );
    assert!(html.contains(r#"id="order-total">Rs 1,200<"#), "{html}");
    assert!(html.contains(&format!(r#"action="/admin/orders/{a1}/cancel""#)));
    assert_eq!(
        admin.get("/admin/orders/999999").await.status,
        StatusCode::NOT_FOUND
    );

    let cancelled = admin
        .submit(
            &format!("/admin/orders/{a1}"),
            &format!("/admin/orders/{a1}/cancel"),
            &[],
        )
        .await;
    assert_eq!(
        cancelled.status,
        StatusCode::SEE_OTHER,
        "{}",
        cancelled.text()
    );
    assert_eq!(
        redirect_of(&cancelled),
        format!("/admin/orders/{a1}?notice=cancelled")
    );
    let html = admin
        .get(&format!("/admin/orders/{a1}?notice=cancelled"))
        .await
        .text();
    assert!(html.contains(r#"data-status="cancelled""#), "{html}");
    assert!(!html.contains(r#"id="cancel-order""#));
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("order", Some(&a1.to_string())),
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "order.cancel");
    assert_eq!(audit[0].ip_address.as_deref(), Some("198.51.100.70"));

    let again = admin
        .submit("/admin/orders", &format!("/admin/orders/{a1}/cancel"), &[])
        .await;
    assert_eq!(
        redirect_of(&again),
        format!("/admin/orders/{a1}?notice=not-pending")
    );
    assert_eq!(
        nextgenrdp::audit::list(
            &app.db,
            &nextgenrdp::audit::AuditFilter::entity("order", Some(&a1.to_string())),
            10,
            0
        )
        .await
        .unwrap()
        .len(),
        1
    );
}

/// Every field of the promo-code form, with `changes` over sensible values.
fn promo_fields<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("code", "eid25"),
        ("discount_type", "percentage"),
        ("discount_value", "25"),
        ("min_order_value", "0"),
        ("max_discount_amount", "2000"),
        ("valid_from", ""),
        ("valid_until", ""),
        ("max_uses", "100"),
        ("is_active", "on"),
    ];
    for (name, value) in changes {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = value,
            None => fields.push((name, value)),
        }
    }
    fields
}

#[sqlx::test]
async fn the_operator_creates_edits_and_deletes_promo_codes(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut admin = operator(&app).await;
    let page = admin.get("/admin/promo-codes").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("No promo codes yet."));

    // Bad input: every problem beside its field, the input kept, nothing written.
    let refused = admin
        .submit(
            "/admin/promo-codes",
            "/admin/promo-codes",
            &promo_fields(&[
                ("code", "bad code"),
                ("discount_value", "ten"),
                ("max_uses", "-1"),
                ("valid_from", "2026-12-01T00:00"),
                ("valid_until", "2026-11-01T00:00"),
            ]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(
        html.contains(r#"id="code-error">Code must be 1 to 50 letters, digits, - or _.<"#),
        "{html}"
    );
    assert!(
        html.contains(r#"id="discount_value-error">Discount must be a whole number.<"#),
        "{html}"
    );
    assert!(html.contains(r#"id="max_uses-error">"#), "{html}");
    assert!(html.contains(r#"id="valid_until-error">"#), "{html}");
    assert!(
        html.contains(r#"value="bad code""#)
            && html.contains(r#"value="ten""#)
            && html.contains(r#"value="2026-11-01T00:00""#)
    );
    let over = admin
        .submit(
            "/admin/promo-codes",
            "/admin/promo-codes",
            &promo_fields(&[("discount_value", "150")]),
        )
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        over.text()
            .contains(r#"id="discount_value-error">A percentage must be between 1 and 100.<"#),
        "{}",
        over.text()
    );
    assert_eq!(promo_count(&app.db).await, 0, "nothing written");

    let created = admin
        .submit(
            "/admin/promo-codes",
            "/admin/promo-codes",
            &promo_fields(&[("valid_until", "2026-12-31T23:59")]),
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());
    let id: i32 = sqlx::query_scalar("select id from promo_codes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        redirect_of(&created),
        format!("/admin/promo-codes/{id}?notice=created")
    );
    let promo = nextgenrdp::orders::promo_codes::find(&app.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(promo.code, "EID25");
    assert_eq!(
        (
            promo.discount_value,
            promo.max_discount_amount,
            promo.max_uses
        ),
        (25, Some(2000), Some(100))
    );
    assert_eq!(
        promo.valid_until.unwrap().to_rfc3339(),
        "2026-12-31T18:59:00+00:00",
        "typed in PKT"
    );
    let duplicate = admin
        .submit(
            "/admin/promo-codes",
            "/admin/promo-codes",
            &promo_fields(&[("code", "Eid25")]),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert!(
        duplicate
            .text()
            .contains(r#"id="code-error">A promo code with this name already exists.<"#),
        "{}",
        duplicate.text()
    );

    let list = admin.get("/admin/promo-codes?notice=created").await.text();
    assert!(list.contains(&format!(r#"data-promo-id="{id}""#)), "{list}");
    assert!(list.contains("0 / 100"), "usage: {list}");
    assert!(list.contains("25%"));
    let edit_page = format!("/admin/promo-codes/{id}");
    let form = admin.get(&edit_page).await.text();
    assert!(
        form.contains(r#"value="EID25""#) && form.contains(r#"value="2026-12-31T23:59""#),
        "{form}"
    );

    // Edit: a bad value keeps the input, a good one is saved and audited.
    let bad = admin
        .submit(
            &edit_page,
            &edit_page,
            &promo_fields(&[("code", "EID25"), ("discount_value", "")]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text()
            .contains(r#"id="discount_value-error">Discount is required.<"#),
        "{}",
        bad.text()
    );
    let saved = admin
        .submit(
            &edit_page,
            &edit_page,
            &promo_fields(&[
                ("code", "EID25"),
                ("discount_type", "fixed_amount"),
                ("discount_value", "500"),
                ("max_discount_amount", ""),
                ("min_order_value", "3,000"),
            ]),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    assert_eq!(redirect_of(&saved), format!("{edit_page}?notice=saved"));
    let promo = nextgenrdp::orders::promo_codes::find(&app.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (promo.discount_type.as_str(), promo.discount_value),
        ("fixed_amount", 500)
    );
    assert_eq!(
        (promo.max_discount_amount, promo.min_order_value),
        (None, Some(3000))
    );

    let off = admin
        .submit(&edit_page, &format!("{edit_page}/deactivate"), &[])
        .await;
    assert_eq!(redirect_of(&off), format!("{edit_page}?notice=deactivated"));
    assert!(
        !nextgenrdp::orders::promo_codes::find(&app.db, id)
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    let html = admin.get(&edit_page).await.text();
    assert!(
        html.contains(r#"id="promo-status">Inactive<"#)
            && html.contains(&format!(r#"action="{edit_page}/activate""#))
    );
    let on = admin
        .submit(&edit_page, &format!("{edit_page}/activate"), &[])
        .await;
    assert_eq!(redirect_of(&on), format!("{edit_page}?notice=activated"));

    // Deleting asks first, on the page, saying what happens.
    let page = admin.get(&edit_page).await.text();
    assert!(
        page.contains(r#"<details class="confirm" id="confirm-delete-promo">"#),
        "{page}"
    );
    assert!(page.contains("is removed for good"));
    // A used code is not deleted: the reason is shown.
    sqlx::query("update promo_codes set current_uses = 3")
        .execute(&app.db)
        .await
        .unwrap();
    let used = admin
        .submit(&edit_page, &format!("{edit_page}/delete"), &[])
        .await;
    assert_eq!(used.status, StatusCode::CONFLICT);
    assert!(
        used.text()
            .contains("EID25 has been used 3 times; deactivate it instead."),
        "{}",
        used.text()
    );
    assert!(
        admin
            .get("/admin/promo-codes")
            .await
            .text()
            .contains("3 / 100")
    );
    sqlx::query("update promo_codes set current_uses = 0")
        .execute(&app.db)
        .await
        .unwrap();
    let deleted = admin
        .submit(&edit_page, &format!("{edit_page}/delete"), &[])
        .await;
    assert_eq!(redirect_of(&deleted), "/admin/promo-codes?notice=deleted");
    assert_eq!(promo_count(&app.db).await, 0);
    assert_eq!(admin.get(&edit_page).await.status, StatusCode::NOT_FOUND);

    let actions: Vec<String> = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("promo_code", Some(&id.to_string())),
        20,
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
            "promo_code.update",
            "promo_code.update",
            "promo_code.create"
        ]
    );
}

/// The order's notes from its page: saved (audited, shown to the customer on their order),
/// too long refused with nothing changed.
#[sqlx::test]
async fn the_operator_notes_an_order_from_its_page(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let order = order_of(&app, "ayesha@example.pk", "rdp-business-two").await;
    let mut owner = operator(&app).await;
    let page = format!("/admin/orders/{order}");
    let html = owner.get(&page).await.text();
    assert!(html.contains(r#"id="order-notes""#), "{html}");

    let saved = owner
        .submit(
            &page,
            &format!("{page}/notes"),
            &[("notes", "Called on WhatsApp: pays Monday")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(
        saved.header("location"),
        format!("{page}?notice=noted#order-notes")
    );
    let html = owner.get(&format!("{page}?notice=noted")).await.text();
    assert!(
        html.contains("The order&#39;s notes are saved.")
            || html.contains("The order's notes are saved."),
        "{html}"
    );
    assert!(
        html.contains(">Called on WhatsApp: pays Monday</textarea>"),
        "{html}"
    );
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'order.notes'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(audited, 1);

    let long = "x".repeat(1001);
    let refused = owner
        .submit(&page, &format!("{page}/notes"), &[("notes", long.as_str())])
        .await;
    assert_eq!(
        refused.header("location"),
        format!("{page}?notice=notes-too-long#order-notes")
    );
    let notes: Option<String> = sqlx::query_scalar("select notes from orders where id = $1")
        .bind(order as i32)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(notes.as_deref(), Some("Called on WhatsApp: pays Monday"));
}
