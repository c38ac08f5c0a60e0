//! Account credit: the customer's balance and history (`GET /api/v1/me/credit`), the operator's
//! adjustments (`POST /api/v1/admin/users/{id}/credit`), a balance that never goes below zero
//! however many adjustments race, and a ledger that cannot be edited.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test]
async fn the_operator_gives_and_takes_back_credit_and_the_customer_sees_it(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str();
    let customer = app.verified_customer("ayesha@example.pk").await;
    let own = customer["access_token"].as_str().unwrap();
    let id = customer["user"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/admin/users/{id}/credit");

    let empty = app.get_as(own, "/api/v1/me/credit").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text());
    assert_eq!(empty.json(), json!({ "balance_pkr": 0, "entries": [] }));

    let given = app
        .send_json_as(
            token,
            Method::POST,
            &path,
            &json!({ "amount_pkr": 1500, "reason": "Goodwill for the outage on 3 Dec" }),
        )
        .await;
    assert_eq!(given.status, StatusCode::CREATED, "{}", given.text());
    assert_eq!(given.json()["balance_after_pkr"], 1500);
    assert_eq!(given.json()["kind"], "adjustment");
    let taken = app
        .send_json_as(
            token,
            Method::POST,
            &path,
            &json!({ "amount_pkr": -400, "reason": "Given twice by mistake" }),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.text());

    let credit = app.get_as(own, "/api/v1/me/credit").await.json();
    assert_eq!(credit["balance_pkr"], 1100);
    let entries = credit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["amount_pkr"], -400, "newest first");
    assert_eq!(entries[1]["reason"], "Goodwill for the outage on 3 Dec");
    assert_eq!(
        entries[1]["created_by"], admin["user"]["id"],
        "the operator is named"
    );

    // Below zero is refused, naming the amount, and nothing is written.
    let too_much = app
        .send_json_as(
            token,
            Method::POST,
            &path,
            &json!({ "amount_pkr": -1101, "reason": "Take it all" }),
        )
        .await;
    assert_eq!(too_much.status, StatusCode::CONFLICT, "{}", too_much.text());
    assert!(too_much.json()["errors"]["amount_pkr"].is_string());
    for (body, field) in [
        (
            json!({ "amount_pkr": 0, "reason": "nothing" }),
            "amount_pkr",
        ),
        (
            json!({ "amount_pkr": 20_000_000, "reason": "a lot" }),
            "amount_pkr",
        ),
        (json!({ "amount_pkr": 100, "reason": "   " }), "reason"),
    ] {
        let refused = app.send_json_as(token, Method::POST, &path, &body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            refused.json()["errors"][field].is_string(),
            "{}",
            refused.text()
        );
    }
    let unknown_field = app
        .send_json_as(
            token,
            Method::POST,
            &path,
            &json!({ "amount_pkr": 100, "reason": "x", "to": "credit" }),
        )
        .await;
    assert!(unknown_field.status.is_client_error());
    let nobody = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/admin/users/999999/credit",
            &json!({ "amount_pkr": 100, "reason": "x" }),
        )
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_as(own, "/api/v1/me/credit").await.json()["balance_pkr"],
        1100,
        "nothing refused was written"
    );

    // A customer cannot adjust credit; the adjustment is in the audit log.
    let forbidden = app
        .send_json_as(
            Some(own),
            Method::POST,
            &path,
            &json!({ "amount_pkr": 100000, "reason": "mine" }),
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("user", Some(&id.to_string())),
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        audit.iter().filter(|e| e.action == "credit.adjust").count(),
        2
    );
}

#[sqlx::test]
async fn racing_withdrawals_never_take_the_balance_below_zero(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str().unwrap().to_owned();
    let customer = app.verified_customer("ayesha@example.pk").await;
    let id = customer["user"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/admin/users/{id}/credit");
    let given = app
        .send_json_as(
            Some(&token),
            Method::POST,
            &path,
            &json!({ "amount_pkr": 1000, "reason": "opening balance" }),
        )
        .await;
    assert_eq!(given.status, StatusCode::CREATED);

    // Twenty withdrawals of 100 at once against 1,000: ten pass, ten are refused.
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, token, path) = (app.clone(), token.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            app.send_json_as(
                Some(&token),
                Method::POST,
                &path,
                &json!({ "amount_pkr": -100, "reason": "withdrawal" }),
            )
            .await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let passed = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    let refused = answers
        .iter()
        .filter(|a| a.status == StatusCode::CONFLICT)
        .count();
    assert_eq!((passed, refused), (10, 10));

    let (sum, newest, lowest): (i64, i32, i32) = sqlx::query_as(
        "select sum(amount_pkr), (array_agg(balance_after_pkr order by id desc))[1],
                min(balance_after_pkr)
         from credit_entries where user_id = $1",
    )
    .bind(id as i32)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        (sum, newest, lowest),
        (0, 0, 0),
        "the running balance is the sum"
    );
}

#[sqlx::test]
async fn the_ledger_cannot_be_edited(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let id = customer["user"]["id"].as_i64().unwrap();
    let given = app
        .send_json_as(
            admin["access_token"].as_str(),
            Method::POST,
            &format!("/api/v1/admin/users/{id}/credit"),
            &json!({ "amount_pkr": 700, "reason": "goodwill" }),
        )
        .await;
    assert_eq!(given.status, StatusCode::CREATED);
    let edit = sqlx::query("update credit_entries set amount_pkr = 70000")
        .execute(&app.db)
        .await;
    assert!(edit.is_err(), "an entry is never edited");
    let negative = sqlx::query(
        "insert into credit_entries (user_id, kind, amount_pkr, balance_after_pkr, reason)
         values ($1, 'spent', -800, -100, 'overdrawn')",
    )
    .bind(id as i32)
    .execute(&app.db)
    .await;
    assert!(negative.is_err(), "the database refuses a negative balance");
}

/// The operator `admin` gives the customer `id` `amount` of credit.
async fn give(app: &TestApp, admin: &str, id: i64, amount: i64) {
    let given = app
        .send_json_as(
            Some(admin),
            Method::POST,
            &format!("/api/v1/admin/users/{id}/credit"),
            &json!({ "amount_pkr": amount, "reason": "opening balance" }),
        )
        .await;
    assert_eq!(given.status, StatusCode::CREATED, "{}", given.text());
}

/// Puts one `rdp-business-two` (Rs 4,500 a month) in the cart and checks out.
async fn checkout(app: &TestApp, token: &str, body: serde_json::Value) -> serde_json::Value {
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
    let placed = app
        .send_json_as(Some(token), Method::POST, "/api/v1/orders", &body)
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    placed.json()
}

/// The customer cancels their order `id`.
async fn cancel(app: &TestApp, token: &str, id: i64) -> crate::helpers::TestResponse {
    app.send_json_as(
        Some(token),
        Method::POST,
        &format!("/api/v1/orders/{id}/cancel"),
        &json!({}),
    )
    .await
}

async fn balance(app: &TestApp, token: &str) -> i64 {
    app.get_as(token, "/api/v1/me/credit").await.json()["balance_pkr"]
        .as_i64()
        .unwrap()
}

#[sqlx::test]
async fn credit_pays_part_of_an_order_the_gateway_the_rest_and_a_cancelled_order_gives_it_back(
    db: PgPool,
) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin_token = admin["access_token"].as_str().unwrap();
    let customer = app.verified_customer("ayesha@example.pk").await;
    let own = customer["access_token"].as_str().unwrap();
    let id = customer["user"]["id"].as_i64().unwrap();
    give(&app, admin_token, id, 2000).await;

    // Without use_credit, the credit stays where it is.
    let plain = checkout(&app, own, json!({})).await;
    assert_eq!(plain["order"]["credit_applied_pkr"], 0);
    assert_eq!(plain["order"]["amount_due_pkr"], 4500);
    assert_eq!(balance(&app, own).await, 2000);
    let plain_id = plain["order"]["id"].as_i64().unwrap();
    let cancelled = cancel(&app, own, plain_id).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text());

    // With it: Rs 2,000 of Rs 4,500 paid by credit; every method asks for the other Rs 2,500.
    let placed = checkout(&app, own, json!({ "use_credit": true })).await;
    let order = &placed["order"];
    let order_id = order["id"].as_i64().unwrap();
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["final_amount_pkr"], 4500);
    assert_eq!(order["credit_applied_pkr"], 2000);
    assert_eq!(order["amount_due_pkr"], 2500);
    assert_eq!(placed["payment_options"][0]["amount_pkr"], 2500);
    assert_eq!(balance(&app, own).await, 0);
    let credit = app.get_as(own, "/api/v1/me/credit").await.json();
    assert_eq!(credit["entries"][0]["kind"], "spent");
    assert_eq!(credit["entries"][0]["amount_pkr"], -2000);
    assert_eq!(credit["entries"][0]["order_id"], order_id);
    let instructions = app
        .send_json_as(
            Some(own),
            Method::POST,
            &format!("/api/v1/orders/{order_id}/payments"),
            &json!({ "method": "manual" }),
        )
        .await
        .json();
    assert_eq!(instructions["start"]["amount_pkr"], 2500, "{instructions}");

    // Cancelling it gives the credit back, once.
    let cancelled = cancel(&app, own, order_id).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text());
    assert_eq!(balance(&app, own).await, 2000);
    let again = cancel(&app, own, order_id).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let credit = app.get_as(own, "/api/v1/me/credit").await.json();
    assert_eq!(credit["balance_pkr"], 2000);
    assert_eq!(credit["entries"][0]["kind"], "returned");
    assert_eq!(credit["entries"].as_array().unwrap().len(), 3);

    // Spent again, and the transfer of the rest pays the order.
    let placed = checkout(&app, own, json!({ "use_credit": true })).await;
    let order_id = placed["order"]["id"].as_i64().unwrap();
    let payment = app.report_transfer(own, order_id, "TID55501", "bank").await;
    assert_eq!(payment["amount_pkr"], 2500);
    app.approve_payment(admin_token, payment["id"].as_i64().unwrap())
        .await;
    let order = app
        .get_as(own, &format!("/api/v1/orders/{order_id}"))
        .await
        .json();
    assert!(
        ["paid", "processing"].contains(&order["status"].as_str().unwrap()),
        "{order}"
    );
    assert_eq!(order["payment_method"], "manual:bank");
    assert_eq!(balance(&app, own).await, 0);
}

#[sqlx::test]
async fn credit_that_covers_the_order_pays_it_at_once_and_its_server_is_set_up(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let own = customer["access_token"].as_str().unwrap();
    let id = customer["user"]["id"].as_i64().unwrap();
    give(&app, admin["access_token"].as_str().unwrap(), id, 5000).await;

    let placed = checkout(&app, own, json!({ "use_credit": true })).await;
    let order = &placed["order"];
    assert_eq!(order["status"], "processing", "{order}");
    assert_eq!(order["credit_applied_pkr"], 4500);
    assert_eq!(order["amount_due_pkr"], 0);
    assert_eq!(order["payment_method"], "credit");
    assert!(order["paid_at"].is_string());
    assert_eq!(placed["payment_options"], json!([]), "nothing left to pay");
    assert_eq!(balance(&app, own).await, 500);
    let services: i64 = sqlx::query_scalar(
        "select count(*) from services s join order_items i on i.id = s.order_item_id
         where i.order_id = $1",
    )
    .bind(order["id"].as_i64().unwrap() as i32)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        services, 1,
        "paid through the same settle path: its server exists"
    );
    // The money settled the order once: a payment for it now would go to credit, not pay twice.
    let refused = app
        .send_json_as(
            Some(own),
            Method::POST,
            &format!("/api/v1/orders/{}/payments", order["id"]),
            &json!({ "method": "manual" }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    app.deliver_mail().await;
    let mails = app.mails_to("ayesha@example.pk").await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Payment received for order")
                && m.contains("from your account credit")),
        "{mails:?}"
    );
}

#[sqlx::test]
async fn racing_renewals_never_spend_more_credit_than_the_account_holds(db: PgPool) {
    use nextgenrdp::services::{provision, services};
    let app = std::sync::Arc::new(TestApp::with_default_catalog(db).await);
    let (login, admin, order) = crate::provisioning::paid_order(&app, "ayesha@example.pk", 6).await;
    let own = login["access_token"].as_str().unwrap().to_owned();
    let id = login["user"]["id"].as_i64().unwrap();
    let admin_token = admin["access_token"].as_str().unwrap().to_owned();
    let list = services::list_for_order(&app.db, order as i32)
        .await
        .unwrap();
    for service in &list {
        let mut tx = app.db.begin().await.unwrap();
        provision::activate(
            &mut tx,
            &crate::helpers::test_provisioning(),
            service,
            None,
            "by hand",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    give(&app, &admin_token, id, 10_000).await;

    // Six renewals of Rs 4,500 spending credit and two withdrawals of Rs 500, all at once.
    let mut tasks = Vec::new();
    for service in &list {
        let (app, own, path) = (
            app.clone(),
            own.clone(),
            format!("/api/v1/services/{}/renew", service.id),
        );
        tasks.push(tokio::spawn(async move {
            app.send_json_as(
                Some(&own),
                Method::POST,
                &path,
                &json!({ "validity_months": 1, "use_credit": true }),
            )
            .await
        }));
    }
    for _ in 0..2 {
        let (app, token) = (app.clone(), admin_token.clone());
        tasks.push(tokio::spawn(async move {
            app.send_json_as(
                Some(&token),
                Method::POST,
                &format!("/api/v1/admin/users/{id}/credit"),
                &json!({ "amount_pkr": -500, "reason": "withdrawal" }),
            )
            .await
        }));
    }
    for task in tasks {
        let answer = task.await.unwrap();
        assert!(
            [StatusCode::CREATED, StatusCode::CONFLICT].contains(&answer.status),
            "{}",
            answer.text()
        );
    }
    let (spent, paid): (i64, i64) = sqlx::query_as(
        "select coalesce(sum(credit_applied_pkr), 0), count(*) filter (where status = 'paid' or status = 'active')
         from orders where user_id = $1 and kind = 'renewal'",
    )
    .bind(id as i32)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let withdrawn: i64 = sqlx::query_scalar(
        "select coalesce(-sum(amount_pkr), 0) from credit_entries
         where user_id = $1 and kind = 'adjustment' and amount_pkr < 0",
    )
    .bind(id as i32)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let (sum, newest, lowest): (i64, i32, i32) = sqlx::query_as(
        "select sum(amount_pkr), (array_agg(balance_after_pkr order by id desc))[1],
                min(balance_after_pkr)
         from credit_entries where user_id = $1",
    )
    .bind(id as i32)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(lowest >= 0);
    assert_eq!(sum, i64::from(newest), "the running balance is the sum");
    assert_eq!(
        spent + withdrawn + i64::from(newest),
        10_000,
        "every rupee is spent, withdrawn or still there"
    );
    assert_eq!(newest, 0, "renewals spend whatever is left");
    assert!(paid >= 1, "credit covering a renewal pays it at once");
    assert_eq!(balance(&app, &own).await, 0);
}

#[sqlx::test]
async fn money_beyond_the_order_or_for_an_ended_order_goes_to_credit_with_a_notice(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin_token = admin["access_token"].as_str().unwrap();
    let customer = app.verified_customer("ayesha@example.pk").await;
    let own = customer["access_token"].as_str().unwrap();
    let approve = |payment: i64, body: serde_json::Value| {
        let app = &app;
        async move {
            app.send_json_as(
                Some(admin_token),
                Method::POST,
                &format!("/api/v1/admin/payments/{payment}/approve"),
                &body,
            )
            .await
        }
    };

    // Rs 5,000 arrived for Rs 4,500: the order is paid, Rs 500 is credit.
    let order = checkout(&app, own, json!({})).await["order"]["id"]
        .as_i64()
        .unwrap();
    let payment = app.report_transfer(own, order, "TID70001", "bank").await;
    let payment_id = payment["id"].as_i64().unwrap();
    for bad in [
        json!({ "amount_pkr": 0 }),
        json!({ "amount_pkr": 20_000_000 }),
    ] {
        let refused = approve(payment_id, bad).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.json()["errors"]["amount_pkr"].is_string());
    }
    let approved = approve(payment_id, json!({ "amount_pkr": 5000 })).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    assert_eq!(approved.json()["outcome"], "order_paid");
    assert_eq!(approved.json()["payment"]["amount_pkr"], 5000);
    assert!(
        approved.json()["payment"]["flag"].is_null(),
        "not a flag any more"
    );
    let credit = app.get_as(own, "/api/v1/me/credit").await.json();
    assert_eq!(credit["balance_pkr"], 500);
    assert_eq!(credit["entries"][0]["kind"], "overpayment");
    assert_eq!(credit["entries"][0]["payment_id"], payment_id);
    assert_eq!(credit["entries"][0]["order_id"], order);

    // Less than asked: approved, the order waits for the rest.
    let order = checkout(&app, own, json!({})).await["order"]["id"]
        .as_i64()
        .unwrap();
    let payment = app.report_transfer(own, order, "TID70002", "bank").await;
    let short = approve(
        payment["id"].as_i64().unwrap(),
        json!({ "amount_pkr": 4000 }),
    )
    .await;
    assert_eq!(short.json()["outcome"], "partial", "{}", short.text());
    let status: String = sqlx::query_scalar("select status from orders where id = $1")
        .bind(order as i32)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "pending_payment");

    // A transfer reviewed after its order was cancelled: all of it is credit.
    let order = checkout(&app, own, json!({})).await["order"]["id"]
        .as_i64()
        .unwrap();
    let payment = app
        .report_transfer(own, order, "TID70003", "jazzcash")
        .await;
    let cancelled = cancel(&app, own, order).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text());
    let late = approve(payment["id"].as_i64().unwrap(), json!({})).await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.text());
    assert_eq!(late.json()["outcome"], "credited");
    assert_eq!(balance(&app, own).await, 500 + 4500);
    app.deliver_mail().await;
    let mails = app.mails_to("ayesha@example.pk").await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Rs 4,500 added to your account credit")),
        "{mails:?}"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Rs 500 more than the order needed")),
        "{mails:?}"
    );
}
