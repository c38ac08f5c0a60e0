//! The operator's dashboard (`/admin`): its figures against the data behind them, the links to
//! each list, and who may open it.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::Visitor;
use crate::helpers::TestApp;
use crate::provisioning::{PLAN, paid_order};

/// The figure of the card with `id` on the dashboard.
fn figure(html: &str, id: &str) -> String {
    let card = &html[html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no card {id}"))..];
    let needle = r#"class="dash-figure">"#;
    let start = card.find(needle).unwrap() + needle.len();
    card[start..].chars().take_while(|c| *c != '<').collect()
}

/// The count on the orders card of `status`.
fn orders_with(html: &str, status: &str) -> String {
    let card = &html[html
        .find(&format!(r#"data-status="{status}""#))
        .unwrap_or_else(|| panic!("no orders card {status}"))..];
    let needle = r#"class="dash-figure">"#;
    let start = card.find(needle).unwrap() + needle.len();
    card[start..].chars().take_while(|c| *c != '<').collect()
}

/// A customer's order with a manual transfer submitted and waiting for review.
async fn payment_in_review(app: &TestApp, email: &str) {
    let login = app.verified_customer(email).await;
    let token = login["access_token"].as_str();
    let location = crate::api::cart::location_of(&app.db, PLAN).await;
    app.send_json_as(
        token,
        Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": PLAN, "location_id": location }),
    )
    .await;
    let placed = app
        .send_json_as(token, Method::POST, "/api/v1/orders", &json!({}))
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json()["order"]["id"].as_i64().unwrap();
    let payment = app
        .report_transfer(token.unwrap(), order, "TID55443322", "bank")
        .await;
    assert_eq!(payment["status"], "review");
}

async fn operator(app: &TestApp) -> Visitor<'_> {
    app.admin("owner@nextgenrdp.pk").await;
    let mut visitor = Visitor::from(app, "198.51.100.80");
    visitor
        .log_in("owner@nextgenrdp.pk", "operator-passphrase")
        .await;
    visitor
}

#[sqlx::test]
async fn the_dashboard_counts_revenue_payments_and_orders_from_the_data(db: sqlx::PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let (_, _, today) = paid_order(&app, "ayesha@example.pk", 1).await;
    let (_, _, long_ago) = paid_order(&app, "bilal@example.pk", 1).await;
    // Paid 40 days ago: always before this month began, so neither today's nor the month's.
    sqlx::query("update orders set paid_at = now() - interval '40 days' where id = $1")
        .bind(long_ago as i32)
        .execute(&app.db)
        .await
        .unwrap();
    payment_in_review(&app, "sana@example.pk").await;
    sqlx::query(
        "insert into jobs (kind, payload, status, attempts, max_attempts, last_error)
         values ('provision_service', '{}', 'failed', 5, 5, 'backend unreachable')",
    )
    .execute(&app.db)
    .await
    .unwrap();

    let mut visitor = operator(&app).await;
    let page = visitor.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();

    assert_eq!(figure(&html, "dash-revenue-today"), "Rs 4,500");
    assert_eq!(figure(&html, "dash-revenue-month"), "Rs 4,500");
    assert_eq!(figure(&html, "dash-payments-review"), "1");
    assert_eq!(figure(&html, "dash-jobs-failed"), "1");
    assert_eq!(figure(&html, "dash-requests"), "0");
    assert_eq!(orders_with(&html, "pending_payment"), "1");
    let paid: i64 =
        sqlx::query_scalar("select count(*) from orders where id in ($1, $2) and status = 'paid'")
            .bind(today as i32)
            .bind(long_ago as i32)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(orders_with(&html, "paid"), paid.to_string());
    assert_eq!(orders_with(&html, "cancelled"), "0");

    for link in [
        r#"href="/admin/orders?status=paid""#,
        r#"href="/admin/orders?status=pending_payment""#,
        r#"href="/admin/payments?status=review""#,
        r#"href="/admin/provisioning#manual""#,
        r#"href="/admin/provisioning#jobs""#,
        r#"href="/admin/provisioning#requests""#,
        r#"href="/admin/services?status=failed""#,
        r#"href="/admin/services?status=suspended""#,
    ] {
        assert!(html.contains(link), "no link {link}");
    }
    assert!(html.contains(r#"<a href="/admin">Dashboard</a>"#), "nav");
    assert!(html.contains(r#"<a href="/admin">Admin</a>"#), "header");
}

/// Past 10,000 orders in a status the card shows the database's estimate, and says so; the
/// small figures beside it stay exact.
#[sqlx::test]
async fn a_large_figure_is_an_estimate_and_says_so(db: sqlx::PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    payment_in_review(&app, "sana@example.pk").await;
    sqlx::query(
        "insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                             final_amount_pkr, created_at)
         select (select id from users where email = 'sana@example.pk'), 'expired', 1500, 0,
                1500, now() - interval '30 days'
         from generate_series(1, 10200)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query("analyze orders")
        .execute(&app.db)
        .await
        .unwrap();

    let mut visitor = operator(&app).await;
    let html = visitor.get("/admin").await.text();
    let expired = orders_with(&html, "expired");
    assert!(expired.starts_with("about 10,"), "{expired}");
    assert_eq!(orders_with(&html, "pending_payment"), "1");
    assert_eq!(orders_with(&html, "active"), "0");
    assert_eq!(figure(&html, "dash-payments-review"), "1");
}

#[sqlx::test]
async fn the_dashboard_is_for_operators_only(db: sqlx::PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let anonymous = Visitor::new(&app).get("/admin").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.header("location"), "/login?next=%2Fadmin");

    app.verified_customer("ayesha@example.pk").await;
    let mut customer = Visitor::from(&app, "198.51.100.81");
    customer
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    let refused = customer.get("/admin").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.text().contains("for the shop"),
        "{}",
        refused.text()
    );
    assert!(!refused.text().contains("dash-revenue-today"));
}
