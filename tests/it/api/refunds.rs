//! Operator refunds (`POST /api/v1/admin/payments/{id}/refund`): part to credit, the rest by
//! transfer, never more than the payment, the servers kept or terminated by choice, audited and
//! e-mailed; credit refunded is spent at the next checkout.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test]
async fn a_payment_is_refunded_to_credit_then_by_transfer_never_beyond_it_and_credit_is_spent(
    db: PgPool,
) {
    let app = TestApp::with_default_catalog(db).await;
    let (login, admin, order) = crate::provisioning::paid_order(&app, "ayesha@example.pk", 1).await;
    let own = login["access_token"].as_str().unwrap();
    let admin_token = admin["access_token"].as_str().unwrap();
    let payment: i32 = sqlx::query_scalar("select id from payments where order_id = $1")
        .bind(order as i32)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let path = format!("/api/v1/admin/payments/{payment}/refund");
    let send = |body: serde_json::Value| {
        let (app, path) = (&app, path.clone());
        async move {
            app.send_json_as(Some(admin_token), Method::POST, &path, &body)
                .await
        }
    };

    // Refused before anything is written, each naming its field.
    for (body, status, field) in [
        (
            json!({ "amount_pkr": 0, "to": "credit", "reason": "x", "services": "keep" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_pkr",
        ),
        (
            json!({ "amount_pkr": 100, "to": "external", "reason": "x", "services": "keep" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference",
        ),
        (
            json!({ "amount_pkr": 100, "to": "credit", "reason": " ", "services": "keep" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason",
        ),
        (
            json!({ "amount_pkr": 5000, "to": "credit", "reason": "x", "services": "keep" }),
            StatusCode::CONFLICT,
            "amount_pkr",
        ),
    ] {
        let refused = send(body.clone()).await;
        assert_eq!(refused.status, status, "{body}: {}", refused.text());
        assert!(
            refused.json()["errors"][field].is_string(),
            "{body}: {}",
            refused.text()
        );
    }
    let no_choice = send(json!({ "amount_pkr": 100, "to": "credit", "reason": "x" })).await;
    assert!(
        no_choice.status.is_client_error(),
        "the servers' fate must be chosen"
    );
    let customer_cannot = app
        .send_json_as(
            Some(own),
            Method::POST,
            &path,
            &json!({ "amount_pkr": 100, "to": "credit", "reason": "x", "services": "keep" }),
        )
        .await;
    assert_eq!(customer_cannot.status, StatusCode::FORBIDDEN);
    let refunds: i64 = sqlx::query_scalar("select count(*) from refunds")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(refunds, 0, "nothing refused was written");

    // Rs 1,000 to credit: the servers keep running, the payment is still succeeded.
    let first = send(json!({
        "amount_pkr": 1000, "to": "credit", "reason": "Two days of downtime", "services": "keep"
    }))
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(first.json()["refund"]["destination"], "credit");
    assert_eq!(first.json()["payment"]["status"], "succeeded");
    let credit = app.get_as(own, "/api/v1/me/credit").await.json();
    assert_eq!(credit["balance_pkr"], 1000);
    assert_eq!(credit["entries"][0]["kind"], "refund");
    assert_eq!(credit["entries"][0]["payment_id"], payment);

    // More than the Rs 3,500 left is refused; the rest by transfer terminates the server.
    let too_much = send(json!({
        "amount_pkr": 3501, "to": "external", "reference": "FT2612050001",
        "reason": "x", "services": "keep"
    }))
    .await;
    assert_eq!(too_much.status, StatusCode::CONFLICT);
    assert!(
        too_much.json()["detail"]
            .as_str()
            .unwrap()
            .contains("Rs 3,500"),
        "{}",
        too_much.text()
    );
    let rest = send(json!({
        "amount_pkr": 3500, "to": "external", "reference": "FT2612050001",
        "reason": "Could not be delivered", "services": "cancel"
    }))
    .await;
    assert_eq!(rest.status, StatusCode::CREATED, "{}", rest.text());
    assert_eq!(rest.json()["payment"]["status"], "refunded");
    let statuses: Vec<String> = sqlx::query_scalar(
        "select s.status from services s join order_items i on i.id = s.order_item_id
         where i.order_id = $1",
    )
    .bind(order as i32)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(statuses, vec!["terminated"]);
    let again = send(json!({
        "amount_pkr": 1, "to": "credit", "reason": "x", "services": "keep"
    }))
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.json()["errors"]["status"].is_string());

    let detail = app
        .get_as(admin_token, &format!("/api/v1/admin/payments/{payment}"))
        .await
        .json();
    assert_eq!(detail["refunds"].as_array().unwrap().len(), 2);
    assert_eq!(detail["refunds"][1]["reference"], "FT2612050001");
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("payment", Some(&payment.to_string())),
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "payment.refund")
            .count(),
        2
    );
    app.deliver_mail().await;
    let mails = app.mails_to("ayesha@example.pk").await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Refund of Rs 1,000 for order")),
        "{mails:?}"
    );
    assert!(
        mails.iter().any(|m| m.contains("FT2612050001")),
        "{mails:?}"
    );

    // The refunded credit pays part of the next order.
    let location = super::cart::location_of(&app.db, "rdp-business-two").await;
    app.send_json_as(
        Some(own),
        Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": "rdp-business-two", "location_id": location }),
    )
    .await;
    let placed = app
        .send_json_as(
            Some(own),
            Method::POST,
            "/api/v1/orders",
            &json!({ "use_credit": true }),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    assert_eq!(placed.json()["order"]["credit_applied_pkr"], 1000);
    assert_eq!(placed.json()["order"]["amount_due_pkr"], 3500);
}
