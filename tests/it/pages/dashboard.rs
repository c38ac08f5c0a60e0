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
    assert!(
        html.contains(r#"<a href="/admin" aria-current="page">Dashboard</a>"#),
        "the menu marks the dashboard"
    );
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

/// A month of orders seeded with SQL: the charts' numbers are the data's, day by day (PKT), and
/// only the roles that see revenue see its charts.
#[sqlx::test]
async fn the_charts_draw_a_seeded_month_and_hide_revenue_from_roles_without_it(db: sqlx::PgPool) {
    use nextgenrdp::accounts::Role;
    let app = TestApp::with_default_catalog(db).await;
    payment_in_review(&app, "sana@example.pk").await;
    // Ten orders of Rs 2,000 paid three days ago, one renewal paid and two lapsed this month.
    sqlx::query(
        "insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                             final_amount_pkr, created_at, paid_at, kind, cancelled_at)
         select (select id from users where email = 'sana@example.pk'), s, 2000, 0, 2000,
                now() - interval '3 days', case when s = 'paid' then now() - interval '3 days' end,
                k, case when s = 'cancelled' then now() end
         from (values ('paid', 'new'), ('paid', 'new'), ('paid', 'new'), ('paid', 'new'),
                      ('paid', 'new'), ('paid', 'new'), ('paid', 'new'), ('paid', 'new'),
                      ('paid', 'new'), ('paid', 'new'), ('paid', 'renewal'),
                      ('cancelled', 'renewal'), ('cancelled', 'renewal')) v(s, k)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let pkt = chrono::Utc::now() + chrono::Duration::hours(5);
    let three_days_ago = (pkt - chrono::Duration::days(3))
        .format("%-d %b")
        .to_string();

    let mut owner = operator(&app).await;
    let html = owner.get("/admin").await.text();
    let revenue_day =
        format!(r#"<th scope="row">{three_days_ago}</th><td class="num">Rs 22,000</td>"#);
    assert!(
        html.contains(&revenue_day),
        "11 orders of Rs 2,000 that day: {html}"
    );
    assert!(html.contains(r#"<svg class="bar-chart""#));
    assert!(html.contains(&format!(
        "<title>{three_days_ago}: Revenue Rs 22,000</title>"
    )));
    // Orders placed that day (13) against paid (11), side by side.
    assert!(html.contains(&format!(
        r#"<th scope="row">{three_days_ago}</th><td class="num">13</td><td class="num">11</td>"#
    )));
    let month = pkt.format("%b").to_string();
    let renewals = &html[html.find(r#"id="chart-renewals-table""#).unwrap()..];
    assert!(
        renewals.contains(r#"<td class="num">1</td><td class="num">2</td>"#)
            && renewals.contains(&month),
        "one renewal collected, two lapsed this month"
    );
    assert!(html.contains(r#"id="chart-by-plan""#) && html.contains(r#"id="chart-by-location""#));

    // Technical sees the trends but not the revenue; billing sees the revenue.
    for (email, role, sees_revenue) in [
        ("tariq@nextgenrdp.pk", Role::Technical, false),
        ("bushra@nextgenrdp.pk", Role::Billing, true),
    ] {
        app.staff(email, role).await;
        let mut visitor = Visitor::from(&app, "198.51.100.81");
        visitor.log_in(email, "operator-passphrase").await;
        let html = visitor.get("/admin").await.text();
        assert!(html.contains(r#"id="chart-orders-days""#), "{role}");
        assert_eq!(
            html.contains(r#"id="chart-revenue-days""#),
            sees_revenue,
            "{role}"
        );
        assert_eq!(
            html.contains(r#"id="dash-revenue-today""#),
            sees_revenue,
            "{role}"
        );
    }
}

/// A year of orders, a month of sign-ups and a few dozen active services, seeded with SQL as a
/// running shop would have them.
pub(crate) async fn seed_a_shop(db: &sqlx::PgPool) {
    sqlx::query(
        "insert into users (name, email, password_hash, phone, created_at)
         select 'Customer ' || n, 'c' || n || '@example.pk', 'x', '+92300' || lpad(n::text, 7, '0'),
                now() - make_interval(days => n % 30, hours => n % 7)
         from generate_series(1, 90) n",
    )
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                             final_amount_pkr, created_at, paid_at, kind, cancelled_at)
         select (select min(id) from users where email like 'c%@example.pk') + (d * 7 + k) % 90,
                case when (d + k) % 9 = 0 then 'cancelled' else 'active' end,
                a, 0, a, at,
                case when (d + k) % 9 = 0 then null else at end,
                case when k = 0 and d % 3 = 0 then 'renewal' else 'new' end,
                case when (d + k) % 9 = 0 then at end
         from generate_series(0, 364) d,
              generate_series(0, 1 + (d * 7) % 4) k,
              lateral (select now() - make_interval(days => d, hours => k) as at,
                              1500 + ((d * 13 + k * 29) % 6) * 1500 as a) x",
    )
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "insert into services (user_id, service_type, status, plan_id, location_id)
         select (select min(id) from users where email like 'c%@example.pk') + n % 90,
                case when p.id like 'vps%' then 'vps' else 'rdp' end, 'active', p.id,
                (select id from locations order by id limit 1 offset (n % 2))
         from generate_series(1, 60) n,
              lateral (select id from plans order by id limit 1 offset (n * n) % 5) p",
    )
    .execute(db)
    .await
    .unwrap();
}

#[sqlx::test]
async fn the_back_office_with_charts_in_a_real_browser_on_desktop_and_phone(db: sqlx::PgPool) {
    use crate::browser::{AppServer, Browser};
    use crate::support_journey::{click, log_in};
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::with_default_catalog(db).await;
    seed_a_shop(&app.db).await;
    app.admin("owner@nextgenrdp.pk").await;
    let server = AppServer::start(app.router.clone()).await;
    let client = browser.client();
    browser.set_window_size((1366, 1000)).await;
    log_in(
        client,
        &server,
        &app.db,
        "owner@nextgenrdp.pk",
        "operator-passphrase",
        "/admin",
    )
    .await;
    assert_eq!(
        browser.count("svg.bar-chart").await,
        7,
        "seven charts drawn"
    );
    assert_eq!(
        browser.count("nav.admin-menu a[aria-current=page]").await,
        1
    );
    browser.screenshot("admin-dashboard-desktop").await;
    let overflow = browser
        .js("return document.documentElement.scrollWidth - window.innerWidth")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "no sideways scrolling: {overflow}"
    );

    // A phone: the menu folds under its button; the charts fit the width.
    browser.set_window_size((360, 800)).await;
    browser.goto(&server.url("/admin")).await;
    let menu_shown = browser
        .js("return getComputedStyle(document.getElementById('admin-menu')).display")
        .await;
    assert_eq!(menu_shown, "none", "folded on a phone");
    let overflow = browser
        .js("return document.documentElement.scrollWidth - window.innerWidth")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "no sideways scrolling on a phone: {overflow}"
    );
    browser.screenshot("admin-dashboard-phone").await;
    click(client, ".admin-menu-toggle").await;
    let menu_shown = browser
        .js("return getComputedStyle(document.getElementById('admin-menu')).display")
        .await;
    assert_eq!(menu_shown, "block", "the button opens it");
    browser.screenshot("admin-menu-phone").await;

    // A customer's page, on the phone and on the desktop.
    let customer: i32 = sqlx::query_scalar("select id from users where email = 'c7@example.pk'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    browser
        .goto(&server.url(&format!("/admin/customers/{customer}")))
        .await;
    assert!(browser.text("h1").await.contains("Customer 7"));
    browser.screenshot("admin-customer-phone").await;
    browser.set_window_size((1366, 1000)).await;
    browser
        .goto(&server.url(&format!("/admin/customers/{customer}")))
        .await;
    click(client, "#confirm-disable summary").await;
    assert!(
        browser
            .text("#confirm-disable .confirm-body")
            .await
            .contains("cannot log in until the account is enabled again")
    );
    browser.screenshot("admin-customer-desktop").await;
    // Disabling her is audited; the audit log shows the change as before → after.
    click(client, "#confirm-disable .confirm-body button").await;
    crate::browser::wait_for_path(
        &browser,
        &format!("/admin/customers/{customer}?notice=disabled"),
    )
    .await;

    // The rest of the back office's records: no sideways scrolling on a phone, each looked at.
    for (path, name, heading) in [
        ("/admin/audit", "admin-audit", "Audit log"),
        ("/admin/backups", "admin-backups", "Backups"),
        ("/admin/staff", "admin-staff", "Staff"),
        (
            "/admin/reports/revenue?by=plan",
            "admin-revenue-report",
            "Revenue",
        ),
        ("/admin/payments?status=all", "admin-payments", "Payments"),
    ] {
        browser.set_window_size((1366, 1000)).await;
        browser.goto(&server.url(path)).await;
        assert!(browser.text("h1").await.contains(heading), "{path}");
        browser.screenshot(&format!("{name}-desktop")).await;
        browser.set_window_size((360, 800)).await;
        browser.goto(&server.url(path)).await;
        let overflow = browser
            .js("return document.documentElement.scrollWidth - window.innerWidth")
            .await;
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{path}: no sideways scrolling on a phone: {overflow}"
        );
        browser.screenshot(&format!("{name}-phone")).await;
    }
    browser.set_window_size((1366, 1000)).await;
    browser.goto(&server.url("/admin/audit")).await;
    assert!(
        browser.text("main").await.contains("user.disable"),
        "{}",
        browser.text("main").await
    );
    browser.close().await;
}

/// The revenue report: by plan, location and method over PKT days, its CSV, the API, and only
/// for the roles that see revenue.
#[sqlx::test]
async fn the_revenue_report_groups_the_periods_orders_and_exports_them(db: sqlx::PgPool) {
    use nextgenrdp::accounts::Role;
    let app = TestApp::with_default_catalog(db).await;
    paid_order(&app, "ayesha@example.pk", 1).await;
    paid_order(&app, "bilal@example.pk", 3).await;
    let (orders, revenue): (i64, i64) = sqlx::query_as(
        "select count(*), sum(final_amount_pkr)::bigint from orders
         where status in ('paid', 'processing', 'active')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(orders, 2);
    let billing = app.staff("bushra@nextgenrdp.pk", Role::Billing).await;
    let token = billing["access_token"].as_str().unwrap().to_owned();

    let by_plan = app
        .get_as(&token, "/api/v1/admin/reports/revenue?by=plan")
        .await;
    assert_eq!(by_plan.status, StatusCode::OK, "{}", by_plan.text());
    let by_plan = by_plan.json();
    assert_eq!(by_plan["total_orders"], 2);
    assert_eq!(by_plan["total_revenue_pkr"], revenue);
    assert_eq!(by_plan["rows"][0]["key"], PLAN);
    assert_eq!(by_plan["rows"][0]["orders"], 2);
    assert_eq!(
        by_plan["rows"][0]["revenue_pkr"], revenue,
        "one plan: all of it"
    );
    let by_method = app
        .get_as(&token, "/api/v1/admin/reports/revenue?by=method")
        .await
        .json();
    let summed: i64 = by_method["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revenue_pkr"].as_i64().unwrap())
        .sum();
    assert_eq!(summed, revenue, "methods add up to the total");
    // An order without lines (written by hand) still counts, under an unknown plan.
    sqlx::query(
        "insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                             final_amount_pkr, paid_at)
         values (null, 'paid', 1000, 0, 1000, now())",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let by_plan = app
        .get_as(&token, "/api/v1/admin/reports/revenue?by=plan")
        .await
        .json();
    let rows = by_plan["rows"].as_array().unwrap();
    let summed: i64 = rows
        .iter()
        .map(|r| r["revenue_pkr"].as_i64().unwrap())
        .sum();
    assert_eq!(summed, revenue + 1000, "{by_plan}");
    assert!(
        rows.iter()
            .any(|r| r["label"] == "Unknown plan" && r["revenue_pkr"] == 1000),
        "{by_plan}"
    );
    sqlx::query("delete from orders where user_id is null")
        .execute(&app.db)
        .await
        .unwrap();
    // Yesterday and before: nothing.
    let yesterday =
        (chrono::Utc::now() + chrono::Duration::hours(5) - chrono::Duration::days(1)).date_naive();
    let before = app
        .get_as(
            &token,
            &format!("/api/v1/admin/reports/revenue?from=2026-01-01&to={yesterday}"),
        )
        .await
        .json();
    assert_eq!(before["total_orders"], 0);
    for (query, field) in [
        ("by=colour", "by"),
        ("from=soon", "from"),
        ("from=2026-12-09&to=2026-12-01", "to"),
    ] {
        let refused = app
            .get_as(&token, &format!("/api/v1/admin/reports/revenue?{query}"))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(refused.text().contains(field), "{query}");
    }
    let support = app.staff("sana@nextgenrdp.pk", Role::Support).await;
    assert_eq!(
        app.get_as(
            support["access_token"].as_str().unwrap(),
            "/api/v1/admin/reports/revenue"
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // The page and its CSV.
    let mut visitor = Visitor::from(&app, "198.51.100.95");
    visitor
        .log_in("bushra@nextgenrdp.pk", "operator-passphrase")
        .await;
    let html = visitor
        .get("/admin/reports/revenue?by=location")
        .await
        .text();
    let total = nextgenrdp::money::format_pkr(nextgenrdp::money::Pkr(revenue));
    assert!(
        html.contains(&format!(
            r#"<p class="dash-figure" id="report-total">{total}</p>"#
        )),
        "{html}"
    );
    assert!(html.contains(r#"<option value="location" selected>"#));
    assert!(html.contains(r#"<svg class="bar-chart""#));
    let csv_href = html
        .split(r#"<a href=""#)
        .find_map(|rest| {
            rest.split_once(r#"" id="report-csv""#)
                .map(|(href, _)| href.replace("&amp;", "&").replace("&#38;", "&"))
        })
        .expect("a CSV link");
    let csv = visitor.get(&csv_href).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").starts_with("text/csv"));
    let text = csv.text();
    assert!(
        text.starts_with("location,label,orders,revenue_pkr\n"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with(&format!(",2,{revenue}")),
        "{text}"
    );
}
