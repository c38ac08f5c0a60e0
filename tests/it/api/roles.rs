//! The role matrix: every operator operation of the OpenAPI document, called by each staff
//! role. A role the README's table refuses gets 403 naming the permission, and nothing in the
//! database changes; a role it allows is never refused for its role.
//!
//! The expectations below are the README's table, written out on their own (not read from the
//! code): a route placed in the wrong part of the back office fails here. A new operator route
//! fails the test until it is placed in `allowed_roles`.

use axum::http::StatusCode;
use nextgenrdp::accounts::Role;
use serde_json::Value;
use sqlx::PgPool;

use super::idor::{body_for, call, fill, snapshot};
use crate::helpers::TestApp;

const OWNER: &str = "owner";
const BILLING: &str = "billing";
const SUPPORT: &str = "support";
const TECHNICAL: &str = "technical";
const EVERY_STAFF: &[&str] = &[OWNER, BILLING, SUPPORT, TECHNICAL];

/// The roles that may call `method path`, per the README's table of staff roles.
fn allowed_roles(method: &str, path: &str) -> &'static [&'static str] {
    let read = method == "get";
    let rest = path
        .strip_prefix("/api/v1/admin/")
        .expect("an operator route");
    let segments: Vec<&str> = rest.split('/').collect();
    let sub = segments.get(2).copied().unwrap_or("");
    match segments[0] {
        // Customers: everyone on the staff sees them; support (and the owner) act on them;
        // credit is money.
        "users" | "customers" if sub == "credit" && !read => &[OWNER, BILLING],
        "users" | "customers" if read => EVERY_STAFF,
        "users" | "customers" => &[OWNER, SUPPORT],
        // Money: billing acts, support looks (to answer a customer), technical neither.
        "orders" | "payments" | "invoices" if read => &[OWNER, BILLING, SUPPORT],
        "orders" | "payments" | "invoices" => &[OWNER, BILLING],
        "promo-codes" | "billing" | "tax-rates" | "reports" => &[OWNER, BILLING],
        "tickets" | "canned-replies" => &[OWNER, SUPPORT],
        // Services: credentials and the console are technical's; customers' requests are
        // support's and technical's; everyone sees status.
        "services" if sub == "credentials" || sub == "console" => &[OWNER, TECHNICAL],
        "services" if sub == "requests" && !read => &[OWNER, SUPPORT, TECHNICAL],
        "services" | "service-requests" if read => EVERY_STAFF,
        "services" => &[OWNER, TECHNICAL],
        "backends" | "os-templates" | "jobs" => &[OWNER, TECHNICAL],
        "plans" | "categories" | "locations" | "policies" => &[OWNER],
        "backups" if sub == "download" || segments.last() == Some(&"download") => &[OWNER],
        "backups" => &[OWNER, TECHNICAL],
        "database" => &[OWNER, TECHNICAL],
        "audit" | "staff" | "settings" => &[OWNER],
        other => panic!(
            "{method} {path}: the roles matrix does not place `{other}`; add it to \
             `allowed_roles` and the README's table"
        ),
    }
}

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_owned()
}

fn refused_for_role(status: StatusCode, body: &str) -> bool {
    status == StatusCode::FORBIDDEN && body.contains("permission")
}

#[sqlx::test]
async fn every_operator_operation_is_open_to_the_roles_of_the_table_only(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let mut staff = Vec::new();
    for role in Role::STAFF {
        let login = app.staff(&format!("{role}@nextgenrdp.pk"), role).await;
        staff.push((role.as_str(), token(&login)));
    }
    let document = app.get("/api/v1/openapi.json").await.json();
    let operations: Vec<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.starts_with("/api/v1/admin/"))
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|method| (method.clone(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        operations.len() > 80,
        "only {} operations",
        operations.len()
    );

    // The refusals first, all of them, with the database compared around them.
    let before = snapshot(&db, &[]).await;
    let mut wrong = Vec::new();
    let mut refusals = 0;
    for (method, path) in &operations {
        let allowed = allowed_roles(method, path);
        let uri = fill(path, |_| Some("1".to_owned())).unwrap();
        for (role, token) in staff.iter().filter(|(role, _)| !allowed.contains(role)) {
            let response = call(&app, token, method, &uri, body_for(method, path)).await;
            refusals += 1;
            if !refused_for_role(response.status, &response.text()) {
                wrong.push(format!(
                    "{role} {method} {path}: {} {}",
                    response.status,
                    response.text()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "not refused: {wrong:#?}");
    assert!(refusals > 100, "only {refusals} refusals tried");
    let after = snapshot(&db, &[]).await;
    let changed: Vec<&String> = before
        .keys()
        .filter(|table| before.get(*table) != after.get(*table))
        .collect();
    assert!(changed.is_empty(), "the refused calls changed {changed:?}");

    // Then every allowed role: whatever the answer (404 for id 1, a 422, a 403 asking for a
    // fresh second factor), never a refusal for its role.
    for (method, path) in &operations {
        let allowed = allowed_roles(method, path);
        let uri = fill(path, |_| Some("1".to_owned())).unwrap();
        for (role, token) in staff.iter().filter(|(role, _)| allowed.contains(role)) {
            let response = call(&app, token, method, &uri, body_for(method, path)).await;
            if refused_for_role(response.status, &response.text()) {
                wrong.push(format!("{role} {method} {path}: {}", response.text()));
            }
        }
    }
    assert!(wrong.is_empty(), "refused wrongly: {wrong:#?}");
}

#[sqlx::test]
async fn me_names_the_role_and_its_permissions(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let support = app.staff("sana@nextgenrdp.pk", Role::Support).await;
    let me = app.get_as(&token(&support), "/api/v1/me").await.json();
    assert_eq!(me["role"], "support");
    let permissions: Vec<&str> = me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(permissions.contains(&"tickets"), "{permissions:?}");
    assert!(permissions.contains(&"view_money"), "{permissions:?}");
    assert!(!permissions.contains(&"manage_money"), "{permissions:?}");
    assert!(!permissions.contains(&"credentials"), "{permissions:?}");

    let customer = app.verified_customer("ayesha@example.pk").await;
    let me = app.get_as(&token(&customer), "/api/v1/me").await.json();
    assert_eq!(me["role"], "customer");
    assert_eq!(me["permissions"], serde_json::json!([]));

    // The refusal names what is missing and who has it.
    let refused = app
        .get_as(&token(&support), "/api/v1/admin/services/1/credentials")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.text().contains("credentials permission")
            && refused.text().contains("owner, technical"),
        "{}",
        refused.text()
    );
}
