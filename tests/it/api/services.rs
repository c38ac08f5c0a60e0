//! `/api/v1/services*` and `/api/v1/admin/services*`: the manual driver from payment to revealed
//! login details, customers kept to their own services, power requests waiting for the operator,
//! and the operator's suspend / resume / terminate / retry / correct, each guarded by status.

use axum::http::{Method, StatusCode};
use chrono::{Months, Utc};
use nextgenrdp::services::ServiceStatus;
use nextgenrdp::services::logs;
use nextgenrdp::services::services::{self, NewService, Service};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::cart::location_of;
use crate::helpers::{TestApp, TestResponse};

const PLAN: &str = "rdp-business-two";

fn token(login: &Value) -> &str {
    login["access_token"].as_str().unwrap()
}

fn user_id(login: &Value) -> i32 {
    login["user"]["id"].as_i64().unwrap() as i32
}

async fn post(app: &TestApp, login: &Value, path: &str, body: Value) -> TestResponse {
    app.send_json_as(Some(token(login)), Method::POST, path, &body)
        .await
}

/// The customer buys `quantity` of the plan for `months`, pays by manual transfer and the
/// operator approves it; returns the order id.
async fn paid_order(
    app: &TestApp,
    customer: &Value,
    admin: &Value,
    quantity: i32,
    months: i32,
) -> i64 {
    let location = location_of(&app.db, PLAN).await;
    let added = post(
        app,
        customer,
        "/api/v1/cart/items",
        json!({ "plan_id": PLAN, "location_id": location, "quantity": quantity, "validity_months": months }),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let placed = post(app, customer, "/api/v1/orders", json!({})).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json()["order"]["id"].as_i64().unwrap();
    let payment = app
        .report_transfer(token(customer), order, &format!("TID{order}4411"), "bank")
        .await;
    app.approve_payment(token(admin), payment["id"].as_i64().unwrap())
        .await;
    order
}

async fn order_status(db: &PgPool, order: i64) -> String {
    sqlx::query_scalar("select status from orders where id = $1")
        .bind(order as i32)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn service(db: &PgPool, id: i32) -> Service {
    services::find(db, id).await.unwrap().unwrap()
}

/// A provisioning service of the customer's, created as a paid order would (no payment).
async fn provisioning_service(app: &TestApp, customer: &Value) -> i32 {
    let location = location_of(&app.db, PLAN).await;
    services::insert(
        &app.db,
        &NewService {
            order_item_id: None,
            user_id: user_id(customer),
            service_type: "rdp",
            plan_id: Some(PLAN),
            location_id: Some(location),
            validity_months: Some(1),
        },
    )
    .await
    .unwrap()
    .id
}

fn provision_body(n: i32) -> Value {
    json!({
        "hostname": format!("rdp{n}.lahore.nextgenrdp.pk"),
        "ip_address": format!("203.0.113.{}", 10 + n),
        "username": "Administrator",
        "password": format!("Kx7vQ2mPz9wR-{n}"),
    })
}

/// An active service of the customer's, provisioned by hand by `admin`.
async fn active_service(app: &TestApp, customer: &Value, admin: &Value) -> i32 {
    let id = provisioning_service(app, customer).await;
    let done = post(
        app,
        admin,
        &format!("/api/v1/admin/services/{id}/provision"),
        provision_body(id),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    id
}

/// How many rows of every text, varchar and JSON column of every table contain `needle`.
async fn occurrences_in_database(db: &PgPool, needle: &str) -> Vec<String> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "select table_name::text, column_name::text from information_schema.columns
         where table_schema = 'public'
           and data_type in ('text', 'character varying', 'json', 'jsonb')
         order by table_name, column_name",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert!(columns.len() > 20, "the scan sees the schema: {columns:?}");
    let mut found = Vec::new();
    for (table, column) in columns {
        // The names come from information_schema, quoted: no injection.
        let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from \"{table}\" where \"{column}\"::text like '%' || $1 || '%'"
        )))
        .bind(needle)
        .fetch_one(db)
        .await
        .unwrap();
        if hits > 0 {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

#[sqlx::test]
async fn the_manual_flow_runs_from_payment_to_revealed_credentials_without_storing_a_password(
    db: PgPool,
) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let order = paid_order(&app, &customer, &admin, 2, 3).await;

    let built = services::list_for_order(&app.db, order as i32)
        .await
        .unwrap();
    assert_eq!(built.len(), 2, "one service per unit bought");
    assert!(
        built
            .iter()
            .all(|s| s.status == ServiceStatus::Provisioning)
    );
    assert_eq!(order_status(&app.db, order).await, "processing");

    // The worker finds no automated backend for the location: the manual driver waits.
    app.deliver_mail().await;
    for s in &built {
        let s = service(&app.db, s.id).await;
        assert_eq!(s.status, ServiceStatus::Provisioning);
        let lines = logs::list_for_service(&app.db, s.id).await.unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l.action == "provision" && l.status == "pending"),
            "{lines:?}"
        );
    }
    let mine = app.get_as(token(&customer), "/api/v1/services").await;
    assert_eq!(mine.status, StatusCode::OK);
    let items = mine.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["plan_name"], "RDP Business");
    assert!(items[0]["location_name"].is_string(), "{}", items[0]);
    assert_eq!(items[0]["has_credentials"], false);
    let early = app
        .get_as(
            token(&customer),
            &format!("/api/v1/services/{}/credentials", built[0].id),
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text());

    // The operator builds each server by hand and enters its details.
    let admin_id = user_id(&admin);
    let mut passwords = Vec::new();
    for (i, s) in built.iter().enumerate() {
        let password = format!("Rq8vLm2Tz{}Wk4xNp", s.id);
        let provisioned = post(
            &app,
            &admin,
            &format!("/api/v1/admin/services/{}/provision", s.id),
            json!({
                "hostname": format!("rdp{}.lahore.nextgenrdp.pk", s.id),
                "ip_address": format!("203.0.113.{}", 40 + i),
                "username": "Administrator",
                "password": password,
            }),
        )
        .await;
        assert_eq!(provisioned.status, StatusCode::OK, "{}", provisioned.text());
        assert!(!provisioned.text().contains(&password));
        passwords.push(password);
        let now = service(&app.db, s.id).await;
        assert_eq!(now.status, ServiceStatus::Active);
        let due = now.next_renewal_date.unwrap();
        let expected = Utc::now().checked_add_months(Months::new(3)).unwrap();
        assert!(
            (due - expected).num_minutes().abs() < 5,
            "due {due}, expected about {expected}"
        );
        let provision_log = logs::list_for_service(&app.db, s.id).await.unwrap();
        assert!(provision_log.iter().any(|l| l.action == "provision"
            && l.status == "success"
            && l.performed_by == Some(admin_id)));
        let expected_order = if i == 0 { "processing" } else { "active" };
        assert_eq!(order_status(&app.db, order).await, expected_order);
    }
    let again = post(
        &app,
        &admin,
        &format!("/api/v1/admin/services/{}/provision", built[0].id),
        provision_body(1),
    )
    .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "an active service is not provisioned twice"
    );

    // The customer is told the servers are ready, never told the password by mail.
    let mails = app.mails_to("ayesha@example.pk").await;
    let ready: Vec<&String> = mails
        .iter()
        .filter(|m| m.contains("Subject: Your server #") && m.contains("is ready"))
        .collect();
    assert_eq!(ready.len(), 2, "one ready mail per server");
    for mail in &mails {
        for password in &passwords {
            assert!(!mail.contains(password.as_str()), "a password was mailed");
        }
    }

    // The customer reveals the login details; the reveal is logged.
    let id = built[1].id;
    let credentials = app
        .get_as(
            token(&customer),
            &format!("/api/v1/services/{id}/credentials"),
        )
        .await;
    assert_eq!(credentials.status, StatusCode::OK, "{}", credentials.text());
    assert_eq!(credentials.header("cache-control"), "no-store");
    let credentials = credentials.json();
    assert_eq!(credentials["password"], passwords[1].as_str());
    assert_eq!(credentials["username"], "Administrator");
    assert_eq!(credentials["ip_address"], "203.0.113.41");
    let lines = logs::list_for_service(&app.db, id).await.unwrap();
    let viewed = lines
        .iter()
        .find(|l| l.action == "credentials_viewed")
        .expect("the reveal is logged");
    assert_eq!(viewed.performed_by, Some(user_id(&customer)));
    let detail = app
        .get_as(token(&customer), &format!("/api/v1/services/{id}"))
        .await;
    assert_eq!(detail.status, StatusCode::OK);
    let detail = detail.json();
    assert_eq!(detail["service"]["status"], "active");
    assert_eq!(detail["service"]["has_credentials"], true);
    assert!(
        detail["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["action"] == "credentials_viewed" && l["by"] == "you")
    );
    assert!(!detail.to_string().contains(&passwords[1]));

    // The operator may reveal them too (logged and audited).
    let seen = app
        .get_as(
            token(&admin),
            &format!("/api/v1/admin/services/{id}/credentials"),
        )
        .await;
    assert_eq!(seen.json()["password"], passwords[1].as_str());

    // Nowhere in the database is a password stored in clear (the scan does see plain text).
    let hostname = format!("rdp{id}.lahore.nextgenrdp.pk");
    assert!(
        occurrences_in_database(&app.db, &hostname)
            .await
            .contains(&"services.hostname".to_owned())
    );
    for password in &passwords {
        let found = occurrences_in_database(&app.db, password).await;
        assert!(found.is_empty(), "{password} found in {found:?}");
    }
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("service", None),
        50,
        0,
    )
    .await
    .unwrap();
    assert!(audit.iter().any(|a| a.action == "service.provision"));
    assert!(audit.iter().any(|a| a.action == "service.credentials_view"));
}

#[sqlx::test]
async fn a_customer_sees_only_their_own_services_and_no_operator_route(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let owner = app.verified_customer("ayesha@example.pk").await;
    let other = app.verified_customer("bilal@example.pk").await;
    let id = active_service(&app, &owner, &admin).await;

    let list = app.get_as(token(&other), "/api/v1/services").await.json();
    assert_eq!(list["items"], json!([]));
    let base = format!("/api/v1/services/{id}");
    for path in [base.clone(), format!("{base}/credentials")] {
        let response = app.get_as(token(&other), &path).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
    }
    for (path, body) in [
        (format!("{base}/actions"), json!({ "action": "reboot" })),
        (format!("{base}/actions"), json!({ "action": "explode" })),
        (format!("{base}/renew"), json!({ "validity_months": 1 })),
    ] {
        let response = post(&app, &other, &path, body).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
    }
    let missing = app.get_as(token(&owner), "/api/v1/services/999999").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let lines = logs::list_for_service(&app.db, id).await.unwrap();
    assert!(
        lines
            .iter()
            .all(|l| l.performed_by != Some(user_id(&other))),
        "nothing was done for the other customer"
    );

    // Customers get 403 on every operator route; anonymous callers 401.
    let admin_base = format!("/api/v1/admin/services/{id}");
    for path in [
        "/api/v1/admin/services".to_owned(),
        "/api/v1/admin/service-requests".to_owned(),
        admin_base.clone(),
        format!("{admin_base}/credentials"),
    ] {
        let response = app.get_as(token(&owner), &path).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
    }
    for action in ["provision", "suspend", "resume", "terminate", "retry"] {
        let path = format!("{admin_base}/{action}");
        let response = post(&app, &owner, &path, provision_body(1)).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
    }
    let patch = app
        .send_json_as(
            Some(token(&owner)),
            Method::PATCH,
            &admin_base,
            &json!({ "hostname": "mine.example.pk" }),
        )
        .await;
    assert_eq!(patch.status, StatusCode::FORBIDDEN);
    let anonymous = app.get("/api/v1/services").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(service(&app.db, id).await.status, ServiceStatus::Active);
}

#[sqlx::test]
async fn a_customers_action_on_a_manual_server_waits_for_the_operator(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let id = active_service(&app, &customer, &admin).await;
    let path = format!("/api/v1/services/{id}/actions");

    let unknown = post(&app, &customer, &path, json!({ "action": "explode" })).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = unknown.json()["errors"]["action"]
        .as_str()
        .unwrap()
        .to_owned();
    for allowed in ["start", "stop", "reboot", "reset_password"] {
        assert!(message.contains(allowed), "{message}");
    }

    let asked = post(&app, &customer, &path, json!({ "action": "reboot" })).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text());
    let asked = asked.json();
    assert_eq!(asked["log"]["action"], "reboot_requested");
    assert_eq!(asked["log"]["status"], "pending");
    assert_eq!(asked["log"]["by"], "you");
    let reset = post(
        &app,
        &customer,
        &path,
        json!({ "action": "reset_password" }),
    )
    .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED);

    let open = logs::list_open_requests(&app.db, 10).await.unwrap();
    let names: Vec<&str> = open.iter().map(|l| l.action.as_str()).collect();
    assert_eq!(
        names,
        ["password_reset_requested", "reboot_requested"],
        "newest first"
    );
    assert!(
        open.iter()
            .all(|l| l.service_id == Some(id) && l.performed_by == Some(user_id(&customer)))
    );
    let queue = app
        .get_as(token(&admin), "/api/v1/admin/service-requests")
        .await
        .json();
    assert_eq!(queue["items"].as_array().unwrap().len(), 2);
    let jobs: i64 = sqlx::query_scalar("select count(*) from jobs where kind = 'service_action'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "a manual server queues no driver job");

    // Only an active server takes actions.
    let waiting = provisioning_service(&app, &customer).await;
    let early = post(
        &app,
        &customer,
        &format!("/api/v1/services/{waiting}/actions"),
        json!({ "action": "start" }),
    )
    .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text());
    assert!(early.text().contains("provisioning"));

    // Renewing now raises a renewal order of the months asked for.
    let bad = post(
        &app,
        &customer,
        &format!("/api/v1/services/{id}/renew"),
        json!({ "validity_months": 5 }),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let renewal = post(
        &app,
        &customer,
        &format!("/api/v1/services/{id}/renew"),
        json!({ "validity_months": 3 }),
    )
    .await;
    assert_eq!(renewal.status, StatusCode::CREATED, "{}", renewal.text());
    let renewal = renewal.json();
    assert_eq!(renewal["status"], "pending_payment");
    assert_eq!(renewal["items"][0]["validity_months"], 3);
}

#[sqlx::test]
async fn operator_changes_are_guarded_by_status_and_logged_as_the_operator(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin_id = user_id(&admin);
    let customer = app.verified_customer("ayesha@example.pk").await;
    let id = active_service(&app, &customer, &admin).await;
    let base = format!("/api/v1/admin/services/{id}");
    let act = |action: &'static str, body: Value| {
        let (app, admin, base) = (&app, &admin, base.clone());
        async move { post(app, admin, &format!("{base}/{action}"), body).await }
    };

    for action in ["resume", "retry"] {
        let wrong = act(action, json!({})).await;
        assert_eq!(wrong.status, StatusCode::CONFLICT, "{action}");
        assert!(wrong.text().contains("is active"), "{}", wrong.text());
    }
    let suspended = act("suspend", json!({ "reason": "abuse report #118" })).await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.text());
    assert_eq!(suspended.json()["service"]["status"], "suspended");
    assert_eq!(
        service(&app.db, id).await.suspended_reason.as_deref(),
        Some("abuse report #118")
    );
    assert_eq!(act("suspend", json!({})).await.status, StatusCode::CONFLICT);
    let customer_view = app
        .get_as(token(&customer), &format!("/api/v1/services/{id}"))
        .await
        .json();
    assert_eq!(customer_view["service"]["status"], "suspended");
    let stopped = post(
        &app,
        &customer,
        &format!("/api/v1/services/{id}/actions"),
        json!({ "action": "start" }),
    )
    .await;
    assert_eq!(
        stopped.status,
        StatusCode::CONFLICT,
        "a suspended server cannot be started"
    );

    let resumed = act("resume", json!({})).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.text());
    let now = service(&app.db, id).await;
    assert_eq!(now.status, ServiceStatus::Active);
    assert_eq!(now.suspended_reason, None);

    // A bare POST (no body) suspends too, with a default reason.
    let bare = app
        .request(
            axum::http::Request::post(format!("{base}/suspend"))
                .header("authorization", format!("Bearer {}", token(&admin)))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(bare.status, StatusCode::OK, "{}", bare.text());

    // Terminating cancels the pending renewal order.
    let renewal = post(
        &app,
        &customer,
        &format!("/api/v1/services/{id}/renew"),
        json!({ "validity_months": 1 }),
    )
    .await;
    assert_eq!(renewal.status, StatusCode::CREATED, "{}", renewal.text());
    let renewal_id = renewal.json()["id"].as_i64().unwrap();
    let terminated = act("terminate", json!({})).await;
    assert_eq!(terminated.status, StatusCode::OK, "{}", terminated.text());
    let now = service(&app.db, id).await;
    assert_eq!(now.status, ServiceStatus::Terminated);
    assert!(now.termination_date.is_some());
    assert_eq!(order_status(&app.db, renewal_id).await, "cancelled");
    for action in ["terminate", "suspend", "resume", "retry"] {
        let wrong = act(action, json!({})).await;
        assert_eq!(wrong.status, StatusCode::CONFLICT, "{action}");
        assert!(wrong.text().contains("terminated"));
    }

    let lines = logs::list_for_service(&app.db, id).await.unwrap();
    for action in ["suspend", "resume", "terminate"] {
        let line = lines
            .iter()
            .find(|l| l.action == action && l.status == "success")
            .unwrap_or_else(|| panic!("no {action} line in {lines:?}"));
        assert_eq!(line.performed_by, Some(admin_id), "{action}");
    }
    let queued: Vec<String> = sqlx::query_scalar(
        "select payload->>'action' from jobs where kind = 'service_action' order by id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        queued,
        ["suspend", "resume", "suspend"],
        "manual terminate queues no job"
    );
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("service", Some(&id.to_string())),
        50,
        0,
    )
    .await
    .unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    for action in ["service.suspend", "service.resume", "service.terminate"] {
        assert!(actions.contains(&action), "{actions:?}");
    }
    assert!(audit.iter().all(|a| a.actor_user_id == Some(admin_id)));

    // A failed service is retried (a new provisioning job) or provisioned by hand.
    let failed = provisioning_service(&app, &customer).await;
    assert!(
        nextgenrdp::services::transition(
            &app.db,
            failed,
            ServiceStatus::Provisioning,
            ServiceStatus::Failed,
            Some("disk full")
        )
        .await
        .unwrap()
    );
    let retry_path = format!("/api/v1/admin/services/{failed}/retry");
    let retried = post(&app, &admin, &retry_path, json!({})).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text());
    let now = service(&app.db, failed).await;
    assert_eq!(now.status, ServiceStatus::Provisioning);
    assert_eq!(now.failure_reason, None);
    let retry_job: i64 = sqlx::query_scalar(
        "select count(*) from jobs where kind = 'provision_service' and dedupe_key = $1",
    )
    .bind(format!("provision:service:{failed}:retry:1"))
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(retry_job, 1);
    assert_eq!(
        post(&app, &admin, &retry_path, json!({})).await.status,
        StatusCode::CONFLICT
    );
    let retry_line = logs::list_for_service(&app.db, failed)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(retry_line.action, "retry");
    assert_eq!(retry_line.performed_by, Some(admin_id));
    nextgenrdp::services::transition(
        &app.db,
        failed,
        ServiceStatus::Provisioning,
        ServiceStatus::Failed,
        Some("again"),
    )
    .await
    .unwrap();
    let by_hand = post(
        &app,
        &admin,
        &format!("/api/v1/admin/services/{failed}/provision"),
        provision_body(7),
    )
    .await;
    assert_eq!(by_hand.status, StatusCode::OK, "{}", by_hand.text());
    assert_eq!(service(&app.db, failed).await.status, ServiceStatus::Active);
    assert_eq!(
        post(
            &app,
            &admin,
            "/api/v1/admin/services/999999/suspend",
            json!({})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test]
async fn operator_input_is_validated_by_field_and_passwords_are_sealed(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let waiting = provisioning_service(&app, &customer).await;

    let bad = json!({
        "hostname": "-bad-.example",
        "ip_address": "999.1.1.1",
        "username": "Admin istrator",
        "password": "short",
    });
    let refused = post(
        &app,
        &admin,
        &format!("/api/v1/admin/services/{waiting}/provision"),
        bad.clone(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = refused.json()["errors"].clone();
    for field in ["hostname", "ip_address", "username", "password"] {
        assert!(errors[field].is_string(), "{field}: {errors}");
    }
    assert_eq!(
        service(&app.db, waiting).await.status,
        ServiceStatus::Provisioning
    );
    let too_long = post(
        &app,
        &admin,
        &format!("/api/v1/admin/services/{waiting}/provision"),
        json!({
            "hostname": format!("{}.example.pk", "a".repeat(250)),
            "ip_address": "2001:db8::10",
            "username": "root",
            "password": "x".repeat(129),
        }),
    )
    .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = too_long.json()["errors"].clone();
    assert!(errors["hostname"].is_string() && errors["password"].is_string());
    assert!(errors.get("ip_address").is_none(), "IPv6 is fine: {errors}");

    // PATCH: every field checked, nothing to change refused, no details yet → 409.
    let path = format!("/api/v1/admin/services/{waiting}");
    let patch = |body: Value| {
        let (app, admin, path) = (&app, &admin, path.clone());
        async move {
            app.send_json_as(Some(token(admin)), Method::PATCH, &path, &body)
                .await
        }
    };
    let invalid = patch(bad).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.json()["errors"].as_object().unwrap().len(), 4);
    let empty = patch(json!({})).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.json()["errors"]["body"].is_string());
    let unknown = patch(json!({ "status": "active" })).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let no_details = patch(json!({ "hostname": "rdp9.example.pk" })).await;
    assert_eq!(
        no_details.status,
        StatusCode::CONFLICT,
        "{}",
        no_details.text()
    );

    // On a provisioned service, corrections apply and a new password is sealed.
    let id = active_service(&app, &customer, &admin).await;
    let corrected = app
        .send_json_as(
            Some(token(&admin)),
            Method::PATCH,
            &format!("/api/v1/admin/services/{id}"),
            &json!({ "ip_address": "198.51.100.20", "password": "Fresh-Pass-7731xq" }),
        )
        .await;
    assert_eq!(corrected.status, StatusCode::OK, "{}", corrected.text());
    let body = corrected.text();
    assert!(!body.contains("Fresh-Pass-7731xq"));
    assert!(body.contains("198.51.100.20"));
    let credentials = app
        .get_as(
            token(&customer),
            &format!("/api/v1/services/{id}/credentials"),
        )
        .await
        .json();
    assert_eq!(credentials["password"], "Fresh-Pass-7731xq");
    assert_eq!(credentials["ip_address"], "198.51.100.20");
    assert_eq!(
        credentials["hostname"],
        format!("rdp{id}.lahore.nextgenrdp.pk")
    );
    assert!(
        occurrences_in_database(&app.db, "Fresh-Pass-7731xq")
            .await
            .is_empty()
    );
    let update_line = logs::list_for_service(&app.db, id)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.action == "update")
        .unwrap();
    assert_eq!(update_line.performed_by, Some(user_id(&admin)));

    // The operator's list filters by status, customer and location; a bad filter is named.
    let bogus = app
        .get_as(token(&admin), "/api/v1/admin/services?status=deleted")
        .await;
    assert_eq!(bogus.status, StatusCode::BAD_REQUEST);
    assert!(
        bogus.json()["errors"]["status"]
            .as_str()
            .unwrap()
            .contains("suspended")
    );
    let not_a_number = app
        .get_as(token(&admin), "/api/v1/admin/services?user_id=abc")
        .await;
    assert_eq!(not_a_number.status, StatusCode::BAD_REQUEST);
    let active = app
        .get_as(
            token(&admin),
            &format!(
                "/api/v1/admin/services?status=active&user_id={}",
                user_id(&customer)
            ),
        )
        .await
        .json();
    assert_eq!(active["total"], 1);
    assert_eq!(active["items"][0]["id"], id);
    assert!(active["items"][0].get("password_encrypted").is_none());
    let location = location_of(&app.db, PLAN).await;
    let all = app
        .get_as(
            token(&admin),
            &format!("/api/v1/admin/services?location_id={location}"),
        )
        .await
        .json();
    assert_eq!(all["total"], 2);
    assert_eq!(all["total_exact"], true);
    // ... and searches by id, part of the hostname or the beginning of the IP address.
    for search in [
        id.to_string(),
        "LAHORE.nextgen".to_owned(),
        "198.51.100.2".to_owned(),
        "198.51.".to_owned(),
    ] {
        let found = app
            .get_as(
                token(&admin),
                &format!("/api/v1/admin/services?search={search}"),
            )
            .await
            .json();
        assert_eq!(found["total"], 1, "{search}: {found}");
        assert_eq!(found["items"][0]["id"], id, "{search}");
    }
    for nothing in ["karachi", "51.100.20", "98.51.100.20"] {
        let nothing = app
            .get_as(
                token(&admin),
                &format!("/api/v1/admin/services?search={nothing}"),
            )
            .await
            .json();
        assert_eq!(
            nothing["total"], 0,
            "an address is searched by its beginning"
        );
        assert!(nothing["items"].as_array().unwrap().is_empty());
    }
    let detail = app
        .get_as(token(&admin), &format!("/api/v1/admin/services/{id}"))
        .await
        .json();
    assert_eq!(detail["customer"]["email"], "ayesha@example.pk");
    assert_eq!(detail["has_credentials"], true);
    assert!(detail["logs"].as_array().unwrap().len() >= 2);
}

#[sqlx::test]
async fn a_customers_action_on_a_proxmox_server_is_queued_for_the_driver(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let id = active_service(&app, &customer, &admin).await;
    let location = location_of(&app.db, PLAN).await;
    let backend = post(
        &app,
        &admin,
        "/api/v1/admin/backends",
        json!({
            "name": "pve-1", "driver": "proxmox", "location_id": location,
            "api_url": "https://pve1.example.pk:8006", "token_id": "ngr@pve!ops",
            "token_secret": "0d2c6c1e-1111-4c44-9a3b-5f6e7d8c9b0a", "node": "pve1",
            "storage": "local-lvm", "vmid_min": 5000, "vmid_max": 5999,
            "ip_gateway": "203.0.113.1", "ip_prefix": 24,
        }),
    )
    .await;
    assert_eq!(backend.status, StatusCode::CREATED, "{}", backend.text());
    let backend = backend.json()["id"].as_i64().unwrap() as i32;
    services::set_placement(&app.db, id, Some(backend), Some(5000))
        .await
        .unwrap();

    let asked = post(
        &app,
        &customer,
        &format!("/api/v1/services/{id}/actions"),
        json!({ "action": "stop" }),
    )
    .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text());
    let log = asked.json()["log"].clone();
    assert_eq!(log["action"], "stop");
    assert_eq!(log["status"], "pending");
    assert_eq!(log["details"], "queued");
    let jobs: Vec<Value> =
        sqlx::query_scalar("select payload from jobs where kind = 'service_action'")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        jobs,
        [json!({ "service_id": id, "action": "stop", "requested_by": user_id(&customer) })]
    );
    assert!(
        logs::list_open_requests(&app.db, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The customer's pending `<action>_requested` line on the service, newest first.
async fn open_request(db: &PgPool, service_id: i32, action: &str) -> i32 {
    logs::list_open_requests(db, 50)
        .await
        .unwrap()
        .into_iter()
        .find(|l| {
            l.service_id == Some(service_id) && l.action.as_str() == format!("{action}_requested")
        })
        .unwrap_or_else(|| panic!("no open {action} request on service {service_id}"))
        .id
}

#[sqlx::test]
async fn the_operator_closes_a_customers_request_once_and_the_customer_is_told(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let id = active_service(&app, &customer, &admin).await;
    let other = active_service(&app, &customer, &admin).await;
    let actions = format!("/api/v1/services/{id}/actions");
    let asked = post(&app, &customer, &actions, json!({ "action": "reboot" })).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text());
    let request = open_request(&app.db, id, "reboot").await;
    let queue = app
        .get_as(token(&admin), "/api/v1/admin/service-requests")
        .await
        .json();
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["id"] == request),
        "{queue}"
    );
    let resolve =
        |service: i32, log: i32| format!("/api/v1/admin/services/{service}/requests/{log}/resolve");

    // Declining needs a note; an unknown outcome is refused; another service's line is a 404.
    let bare = post(
        &app,
        &admin,
        &resolve(id, request),
        json!({ "outcome": "declined" }),
    )
    .await;
    assert_eq!(
        bare.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bare.text()
    );
    assert!(bare.json()["errors"]["note"].is_string(), "{}", bare.text());
    let blank = post(
        &app,
        &admin,
        &resolve(id, request),
        json!({ "outcome": "declined", "note": "   " }),
    )
    .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = post(
        &app,
        &admin,
        &resolve(id, request),
        json!({ "outcome": "maybe" }),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let elsewhere = post(
        &app,
        &admin,
        &resolve(other, request),
        json!({ "outcome": "done" }),
    )
    .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::NOT_FOUND,
        "{}",
        elsewhere.text()
    );
    let missing = post(
        &app,
        &admin,
        &resolve(id, 999_999),
        json!({ "outcome": "done" }),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let not_a_password_reset = post(
        &app,
        &admin,
        &resolve(id, request),
        json!({ "outcome": "done", "password": "Fresh-Pass-7731xq" }),
    )
    .await;
    assert_eq!(
        not_a_password_reset.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert!(not_a_password_reset.json()["errors"]["password"].is_string());
    let by_customer = post(
        &app,
        &customer,
        &resolve(id, request),
        json!({ "outcome": "done" }),
    )
    .await;
    assert_eq!(by_customer.status, StatusCode::FORBIDDEN);
    // A line that is no request (the provisioning line) cannot be resolved.
    let provision_line = logs::list_for_service(&app.db, id)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.action == "provision")
        .unwrap();
    let not_a_request = post(
        &app,
        &admin,
        &resolve(id, provision_line.id),
        json!({ "outcome": "done" }),
    )
    .await;
    assert_eq!(not_a_request.status, StatusCode::CONFLICT);
    assert!(not_a_request.text().contains("not a customer's request"));
    assert_eq!(
        open_request(&app.db, id, "reboot").await,
        request,
        "still open"
    );

    // Done: the request leaves the queue, closed as a success, and the act is the operator's.
    let done = post(
        &app,
        &admin,
        &resolve(id, request),
        json!({ "outcome": "done" }),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let done = done.json();
    assert_eq!(done["log"]["action"], "reboot");
    assert_eq!(done["log"]["status"], "success");
    assert_eq!(done["log"]["performed_by"], user_id(&admin));
    let queue = app
        .get_as(token(&admin), "/api/v1/admin/service-requests")
        .await
        .json();
    assert!(queue["items"].as_array().unwrap().is_empty(), "{queue}");
    let lines = logs::list_for_service(&app.db, id).await.unwrap();
    let closed = lines.iter().find(|l| l.id == request).unwrap();
    assert_eq!(closed.status, "success");
    assert!(
        closed
            .details
            .as_deref()
            .unwrap()
            .ends_with("done by the operator"),
        "{closed:?}"
    );
    assert_eq!(
        closed.performed_by,
        Some(user_id(&customer)),
        "still the customer's ask"
    );
    let mails = app.mails_to("ayesha@example.pk").await;
    assert!(
        mails.iter().any(|m| m.contains(&format!(
            "Subject: Your request on server #{id} was carried out"
        ))),
        "{mails:?}"
    );
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("service", None),
        50,
        0,
    )
    .await
    .unwrap();
    assert!(audit.iter().any(|a| a.action == "service.resolve_request"));

    // Twice is a conflict naming why.
    let again = post(
        &app,
        &admin,
        &resolve(id, request),
        json!({ "outcome": "done" }),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    assert!(again.text().contains("already closed"), "{}", again.text());

    // Declined with a note: closed as failed, the note goes to the customer.
    post(&app, &customer, &actions, json!({ "action": "stop" })).await;
    let stop = open_request(&app.db, id, "stop").await;
    let declined = post(
        &app,
        &admin,
        &resolve(id, stop),
        json!({ "outcome": "declined", "note": "maintenance window tonight" }),
    )
    .await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.text());
    let closed = logs::list_for_service(&app.db, id)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.id == stop)
        .unwrap();
    assert_eq!(closed.status, "failed");
    assert!(
        closed
            .details
            .unwrap()
            .ends_with("declined: maintenance window tonight")
    );
    let mails = app.mails_to("ayesha@example.pk").await;
    let notice = mails
        .iter()
        .find(|m| {
            m.contains(&format!(
                "Subject: Your request on server #{id} was declined"
            ))
        })
        .expect("the customer is told it was declined");
    assert!(notice.contains("maintenance window tonight"), "{notice}");
    assert!(
        logs::list_open_requests(&app.db, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test]
async fn a_password_reset_done_by_hand_stores_the_new_password_sealed(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let id = active_service(&app, &customer, &admin).await;
    let asked = post(
        &app,
        &customer,
        &format!("/api/v1/services/{id}/actions"),
        json!({ "action": "reset_password" }),
    )
    .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text());
    let request = open_request(&app.db, id, "password_reset").await;
    let path = format!("/api/v1/admin/services/{id}/requests/{request}/resolve");

    let short = post(
        &app,
        &admin,
        &path,
        json!({ "outcome": "done", "password": "short" }),
    )
    .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.json()["errors"]["password"].is_string());
    let with_decline = post(
        &app,
        &admin,
        &path,
        json!({ "outcome": "declined", "note": "no", "password": "Reset-Pass-4410qz" }),
    )
    .await;
    assert_eq!(with_decline.status, StatusCode::UNPROCESSABLE_ENTITY);

    let done = post(
        &app,
        &admin,
        &path,
        json!({ "outcome": "done", "password": "Reset-Pass-4410qz" }),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(!done.text().contains("Reset-Pass-4410qz"));
    assert_eq!(done.json()["log"]["action"], "password_reset");
    let credentials = app
        .get_as(
            token(&customer),
            &format!("/api/v1/services/{id}/credentials"),
        )
        .await;
    assert_eq!(credentials.status, StatusCode::OK, "{}", credentials.text());
    let credentials = credentials.json();
    assert_eq!(credentials["password"], "Reset-Pass-4410qz");
    assert_eq!(credentials["username"], "Administrator");
    let found = occurrences_in_database(&app.db, "Reset-Pass-4410qz").await;
    assert!(found.is_empty(), "found in {found:?}");
    let mails = app.mails_to("ayesha@example.pk").await;
    let notice = mails
        .iter()
        .find(|m| {
            m.contains(&format!(
                "Subject: Your request on server #{id} was carried out"
            ))
        })
        .expect("the customer is told");
    assert!(
        !notice.contains("Reset-Pass-4410qz"),
        "a password was mailed"
    );
}

#[sqlx::test]
async fn a_windows_server_downloads_its_rdp_file_without_the_password(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let own = customer["access_token"].as_str().unwrap();
    let id = active_service(&app, &customer, &admin).await;

    let file = app
        .get_as(own, &format!("/api/v1/services/{id}/rdp-file"))
        .await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text());
    assert_eq!(file.header("content-type"), "application/x-rdp");
    assert!(
        file.header("content-disposition").starts_with(&format!(
            "attachment; filename=\"nextgenrdp-server-{id}.rdp\""
        )),
        "{}",
        file.header("content-disposition")
    );
    let text = file.text();
    assert!(
        text.starts_with(&format!(
            "full address:s:203.0.113.{}\r\nusername:s:Administrator\r\n",
            10 + id
        )),
        "{text}"
    );
    assert!(!text.contains("Kx7vQ2mPz9wR"), "never the password");

    // The page offers it with the lines to type; the page's download is the same file.
    let mut visitor = crate::pages::Visitor::new(&app);
    visitor
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    let page = visitor.get(&format!("/account/services/{id}")).await.text();
    assert!(
        page.contains(&format!("mstsc /v:203.0.113.{}", 10 + id)),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"/account/services/{id}/rdp-file\"")));
    let download = visitor
        .get(&format!("/account/services/{id}/rdp-file"))
        .await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.text(), text);

    // A Linux server has SSH instead: 409 naming the service, and the page shows `ssh`.
    sqlx::query("update services set service_type = 'vps', username = 'root' where id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    let refused = app
        .get_as(own, &format!("/api/v1/services/{id}/rdp-file"))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.text().contains("connect with SSH"),
        "{}",
        refused.text()
    );
    let page = visitor.get(&format!("/account/services/{id}")).await.text();
    assert!(
        page.contains(&format!("ssh root@203.0.113.{}", 10 + id)),
        "{page}"
    );
    assert!(!page.contains("rdp-file"));
}

/// A service's log on its own, a page at a time: the customer's (own services only) and the
/// operator's.
#[sqlx::test]
async fn a_services_log_reads_a_page_at_a_time(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let id = active_service(&app, &customer, &admin).await;
    // More lines than a page: the customer looks at the password a few times.
    for _ in 0..4 {
        let shown = app
            .get_as(
                token(&customer),
                &format!("/api/v1/services/{id}/credentials"),
            )
            .await;
        assert_eq!(shown.status, StatusCode::OK);
    }
    let lines: i64 = sqlx::query_scalar("select count(*) from service_logs where service_id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(lines >= 5, "{lines}");

    let first = app
        .get_as(
            token(&customer),
            &format!("/api/v1/services/{id}/logs?per_page=2"),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let first = first.json();
    assert_eq!(first["total"], lines);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["items"][0]["action"], "credentials_viewed");
    assert_eq!(first["items"][0]["by"], "you");
    let last_page = (lines + 1) / 2;
    let last = app
        .get_as(
            token(&customer),
            &format!("/api/v1/services/{id}/logs?per_page=2&page={last_page}"),
        )
        .await
        .json();
    let oldest = last["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(oldest["action"], "provision", "{last}");

    // The operator's, with who did what.
    let operator = app
        .get_as(token(&admin), &format!("/api/v1/admin/services/{id}/logs"))
        .await;
    assert_eq!(operator.status, StatusCode::OK, "{}", operator.text());
    let operator = operator.json();
    assert_eq!(operator["total"], lines);
    assert_eq!(operator["per_page"], 20);
    assert!(
        operator["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["action"] == "provision" && l["performed_by"] == user_id(&admin)),
        "{operator}"
    );

    // Another customer: 404; bad paging: 400 naming it; an operator's unknown service: 404.
    let other = app.verified_customer("bilal@example.pk").await;
    assert_eq!(
        app.get_as(token(&other), &format!("/api/v1/services/{id}/logs"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    for (query, field) in [
        ("page=0", "page"),
        ("per_page=101", "per_page"),
        ("colour=red", "colour"),
    ] {
        let refused = app
            .get_as(
                token(&customer),
                &format!("/api/v1/services/{id}/logs?{query}"),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            refused.text().contains(field),
            "{query}: {}",
            refused.text()
        );
    }
    assert_eq!(
        app.get_as(token(&admin), "/api/v1/admin/services/999999/logs")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// A new purchase's order item gets its period (the founding document's `start_date` /
/// `end_date`) when its server goes live: the service's first period; an item of two servers
/// runs from the first one's start to the last one's end.
#[sqlx::test]
async fn a_new_purchases_item_runs_its_services_first_period(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let order = paid_order(&app, &customer, &admin, 2, 3).await;
    let period = || async {
        sqlx::query_as::<
            _,
            (
                Option<chrono::DateTime<chrono::Utc>>,
                Option<chrono::DateTime<chrono::Utc>>,
            ),
        >("select start_date, end_date from order_items where order_id = $1")
        .bind(order as i32)
        .fetch_one(&app.db)
        .await
        .unwrap()
    };
    assert_eq!(period().await, (None, None), "not live yet");
    let ids: Vec<i32> = sqlx::query_scalar(
        "select s.id from services s join order_items i on i.id = s.order_item_id
         where i.order_id = $1 order by s.id",
    )
    .bind(order as i32)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let done = post(
            &app,
            &admin,
            &format!("/api/v1/admin/services/{id}/provision"),
            provision_body(*id),
        )
        .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    }
    let (first_start, last_end): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as(
            "select min(last_renewal_date), max(next_renewal_date) from services where id = any($1)",
        )
        .bind(&ids)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(period().await, (Some(first_start), Some(last_end)));
    assert!(
        last_end - first_start > chrono::Duration::days(85),
        "three months"
    );
}
