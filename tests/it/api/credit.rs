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
    let audit = nextgenrdp::audit::list(&app.db, Some("user"), Some(&id.to_string()), 10, 0)
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
