//! The role matrix: every operator operation of the OpenAPI document, called by each staff
//! role. A role the README's table refuses gets 403 naming the permission, and nothing in the
//! database changes; a role it allows is never refused for its role.
//!
//! The expectations below are the README's table, written out on their own (not read from the
//! code): a route placed in the wrong part of the back office fails here. A new operator route
//! fails the test until it is placed in `allowed_roles`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use nextgenrdp::accounts::Role;
use serde_json::Value;
use sqlx::PgPool;

use super::idor::{body_for, call, fill, snapshot, victim};
use crate::helpers::TestApp;
use crate::pages::Visitor;

const OWNER: &str = "owner";
const BILLING: &str = "billing";
const SUPPORT: &str = "support";
const TECHNICAL: &str = "technical";
const EVERY_STAFF: &[&str] = &[OWNER, BILLING, SUPPORT, TECHNICAL];

/// The roles that may call `method path` (an operator route of the API, `/api/v1/admin/…`, or a
/// back-office page, `/admin/…`), per the README's table of staff roles.
fn allowed_roles(method: &str, path: &str) -> &'static [&'static str] {
    let read = method == "get";
    let rest = path
        .strip_prefix("/api/v1/admin/")
        .or_else(|| path.strip_prefix("/admin/"))
        .or_else(|| (path == "/admin").then_some(""))
        .expect("an operator route");
    let segments: Vec<&str> = rest.split('/').collect();
    let sub = segments.get(2).copied().unwrap_or("");
    match segments[0] {
        // The dashboard: everyone on the staff (each sees the cards their role opens).
        "" => EVERY_STAFF,
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
        "provisioning" | "backends" | "os-templates" | "jobs" => &[OWNER, TECHNICAL],
        "catalog" | "plans" | "categories" | "locations" | "policies" => &[OWNER],
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

/// Every `href` and form `action` of a page that stays in the back office, unescaped, without
/// the fragment: (links, post actions).
fn back_office_targets(html: &str) -> (Vec<String>, Vec<String>) {
    let unescape = |value: &str| value.replace("&#38;", "&").replace("&amp;", "&");
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(r#"{name}=""#))? + name.len() + 2;
        let value = &tag[start..];
        Some(unescape(&value[..value.find('"')?]))
    };
    let in_back_office = |target: &String| target == "/admin" || target.starts_with("/admin/");
    let mut links = Vec::new();
    let mut actions = Vec::new();
    for tag in html.split('<').filter_map(|t| t.split('>').next()) {
        if tag.starts_with("a ") {
            if let Some(href) = attribute(tag, "href") {
                links.push(href.split('#').next().unwrap_or_default().to_owned());
            }
        } else if tag.starts_with("form ") && tag.contains(r#"method="post""#) {
            actions.extend(
                attribute(tag, "action")
                    .map(|a| a.split('#').next().unwrap_or_default().to_owned()),
            );
        }
    }
    links.retain(in_back_office);
    actions.retain(in_back_office);
    (links, actions)
}

/// A target's route, as the matrix places it: the path without the query, ids as `{id}`.
fn route_of(target: &str) -> String {
    let path = target.split('?').next().unwrap_or_default();
    path.split('/')
        .map(|segment| {
            if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The pages' half of the matrix: the owner walks the back office of a shop with one of each
/// thing, following every link and noting every form; then each other role opens every page
/// found (refused with the page's 403 naming the permission, or not refused at all) and submits
/// every form it may not (refused, nothing written).
#[sqlx::test]
async fn every_back_office_page_and_form_is_open_to_the_roles_of_the_table_only(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let admin = app.staff("api-owner@nextgenrdp.pk", Role::Owner).await;
    victim(&app, &admin).await;
    let mut visitors = Vec::new();
    for (i, role) in Role::STAFF.into_iter().enumerate() {
        let email = format!("{role}@nextgenrdp.pk");
        app.staff(&email, role).await;
        let mut visitor = Visitor::from(&app, &format!("198.51.100.{}", 120 + i));
        visitor.log_in(&email, "operator-passphrase").await;
        visitors.push((role.as_str(), visitor));
    }

    // The owner's walk: every page reachable from the dashboard, one of each route.
    let mut pages: BTreeMap<String, String> = BTreeMap::new();
    let mut forms: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = vec!["/admin".to_owned()];
    let owner = &mut visitors[0].1;
    while let Some(target) = queue.pop() {
        let route = route_of(&target);
        if pages.contains_key(&route) {
            continue;
        }
        pages.insert(route, target.clone());
        let response = owner.get(&target).await;
        assert!(
            response.status == StatusCode::OK || response.status == StatusCode::SEE_OTHER,
            "the owner opens {target}: {} {}",
            response.status,
            response.text()
        );
        if !response.header("content-type").starts_with("text/html") {
            continue;
        }
        let (links, actions) = back_office_targets(&response.text());
        for action in actions {
            forms.entry(route_of(&action)).or_insert(action);
        }
        queue.extend(
            links
                .into_iter()
                .filter(|l| !pages.contains_key(&route_of(l))),
        );
        assert!(pages.len() < 400, "the walk does not end: {pages:#?}");
    }
    // One of each kind of page was reached, details included.
    for route in [
        "/admin",
        "/admin/customers/{id}",
        "/admin/orders/{id}",
        "/admin/payments/{id}",
        "/admin/services/{id}",
        "/admin/tickets/{id}",
        "/admin/invoices",
        "/admin/reports/revenue",
        "/admin/provisioning",
        "/admin/backups",
        "/admin/audit",
        "/admin/staff",
        "/admin/settings",
        "/admin/catalog",
        "/admin/database",
    ] {
        assert!(pages.contains_key(route), "{route} not reached: {pages:#?}");
    }
    assert!(pages.len() > 35, "only {} pages: {pages:#?}", pages.len());
    assert!(forms.len() > 25, "only {} forms: {forms:#?}", forms.len());

    // Every page, by every other role.
    let mut wrong = Vec::new();
    for (role, visitor) in visitors.iter_mut().skip(1) {
        for (route, target) in &pages {
            let allowed = allowed_roles("get", route).contains(role);
            let response = visitor.get(target).await;
            let refused =
                response.status == StatusCode::FORBIDDEN && response.text().contains("permission");
            if allowed == refused || response.status.is_server_error() {
                wrong.push(format!("{role} GET {target}: {}", response.status));
            }
        }
    }
    assert!(wrong.is_empty(), "pages: {wrong:#?}");

    // Every form a role may not submit, submitted with a good token: refused, nothing written.
    let before = snapshot(&db, &[]).await;
    let mut refusals = 0;
    for (role, visitor) in visitors.iter_mut().skip(1) {
        let token = visitor.csrf_of("/admin").await;
        for (route, action) in &forms {
            if allowed_roles("post", route).contains(role) {
                continue;
            }
            let response = visitor.post(action, &[("csrf_token", &token)]).await;
            refusals += 1;
            if !(response.status == StatusCode::FORBIDDEN && response.text().contains("permission"))
            {
                wrong.push(format!("{role} POST {action}: {}", response.status));
            }
        }
    }
    assert!(wrong.is_empty(), "forms: {wrong:#?}");
    assert!(refusals > 40, "only {refusals} refusals tried");
    let after = snapshot(&db, &[]).await;
    let changed: Vec<&String> = before
        .keys()
        .filter(|table| before.get(*table) != after.get(*table))
        .collect();
    assert!(changed.is_empty(), "the refused forms changed {changed:?}");
}
