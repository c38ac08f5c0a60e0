//! The audit log (`/admin/audit`, `GET /api/v1/admin/audit`): filtered by operator, entity,
//! action and day, each entry with its changes field by field; the owner's alone.

use axum::http::{Method, StatusCode};
use nextgenrdp::accounts::Role;
use serde_json::{Value, json};

use super::Visitor;
use crate::helpers::TestApp;

fn bearer(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_owned()
}

#[sqlx::test]
async fn the_owner_reads_who_changed_what_filtered_and_field_by_field(db: sqlx::PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let owner = app.admin("owner@nextgenrdp.pk").await;
    let support = app.staff("sana@nextgenrdp.pk", Role::Support).await;
    let ayesha = app.verified_customer("ayesha@example.pk").await;
    let ayesha_id = ayesha["user"]["id"].as_i64().unwrap();
    let support_id = support["user"]["id"].as_i64().unwrap();

    // Support writes a note; the owner disables and enables Ayesha.
    let noted = app
        .send_json_as(
            Some(&bearer(&support)),
            Method::POST,
            &format!("/api/v1/admin/customers/{ayesha_id}/notes"),
            &json!({ "body": "Asked about Sindh tax" }),
        )
        .await;
    assert_eq!(noted.status, StatusCode::CREATED);
    for verb in ["disable", "enable"] {
        let done = app
            .send_json_as(
                Some(&bearer(&owner)),
                Method::POST,
                &format!("/api/v1/admin/users/{ayesha_id}/{verb}"),
                &json!({}),
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    }

    let all = app.get_as(&bearer(&owner), "/api/v1/admin/audit").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text());
    let all = all.json();
    assert_eq!(all["total"], 3);
    assert_eq!(all["items"][0]["action"], "user.enable", "newest first");
    let disable = &all["items"][1];
    assert_eq!(disable["actor_name"], "Shop Operator");
    assert_eq!(disable["changes"][0]["field"], "disabled_at");
    assert_eq!(disable["changes"][0]["before"], "null");
    assert!(
        disable["changes"][0]["after"]
            .as_str()
            .unwrap()
            .starts_with("20")
    );

    // Filters: by operator, by the start of an action, by entity, by day.
    let by_support = app
        .get_as(
            &bearer(&owner),
            &format!("/api/v1/admin/audit?actor={support_id}"),
        )
        .await
        .json();
    assert_eq!(by_support["total"], 1);
    assert_eq!(by_support["items"][0]["action"], "customer.note");
    let users = app
        .get_as(&bearer(&owner), "/api/v1/admin/audit?action=user.")
        .await
        .json();
    assert_eq!(users["total"], 2);
    let entity = app
        .get_as(
            &bearer(&owner),
            &format!(
                "/api/v1/admin/audit?entity_type=user&entity_id={ayesha_id}&per_page=1&page=2"
            ),
        )
        .await
        .json();
    assert_eq!(entity["total"], 3);
    assert_eq!(entity["items"].as_array().unwrap().len(), 1);
    let pkt_today = (chrono::Utc::now() + chrono::Duration::hours(5)).date_naive();
    let today = app
        .get_as(
            &bearer(&owner),
            &format!("/api/v1/admin/audit?from={pkt_today}&to={pkt_today}"),
        )
        .await
        .json();
    assert_eq!(today["total"], 3);
    let tomorrow = pkt_today.succ_opt().unwrap();
    let none = app
        .get_as(
            &bearer(&owner),
            &format!("/api/v1/admin/audit?from={tomorrow}"),
        )
        .await
        .json();
    assert_eq!(none["total"], 0);
    for (query, field) in [
        ("from=yesterday", "from"),
        ("actor=bob", "actor"),
        ("from=2026-12-05&to=2026-12-01", "to"),
        ("per_page=500", "per_page"),
    ] {
        let refused = app
            .get_as(&bearer(&owner), &format!("/api/v1/admin/audit?{query}"))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            refused.text().contains(field),
            "{query}: {}",
            refused.text()
        );
    }
    // Support may not read the log.
    assert_eq!(
        app.get_as(&bearer(&support), "/api/v1/admin/audit")
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // The page: the diff, the links, the filters kept.
    let mut visitor = Visitor::from(&app, "198.51.100.90");
    visitor
        .log_in("owner@nextgenrdp.pk", "operator-passphrase")
        .await;
    let html = visitor.get("/admin/audit?action=user.disable").await.text();
    assert!(html.contains("1 entry"), "{html}");
    assert!(
        html.contains(r#"<span class="diff-field">disabled_at</span> <del>—</del> → <ins>"#)
            && html.contains(" PKT</ins>"),
        "{html}"
    );
    assert!(html.contains(&format!(
        r#"<a href="/admin/customers/{ayesha_id}">user {ayesha_id}</a>"#
    )));
    assert!(
        html.contains(r#"value="user.disable""#),
        "the filter stays in its field"
    );
    assert!(html.contains(r#"<a href="/admin/audit" aria-current="page">Audit log</a>"#));
    let mut sana = Visitor::from(&app, "198.51.100.91");
    sana.log_in("sana@nextgenrdp.pk", "operator-passphrase")
        .await;
    assert_eq!(sana.get("/admin/audit").await.status, StatusCode::FORBIDDEN);
    assert!(
        !sana.get("/admin").await.text().contains("Audit log"),
        "not in support's menu"
    );
}
