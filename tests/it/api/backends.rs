//! `/api/v1/admin/backends*`: provisioning backends as operator-managed data — validated by
//! field, one active per location, the token secret write-only, plan templates, the IP pool
//! kept inside the backend's network, and the connection check.

use axum::http::{Method, StatusCode};
use nextgenrdp::provisioning::Provisioning;
use nextgenrdp::provisioning::backends;
use nextgenrdp::services::services::{self, NewService};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::fakepve::FakePve;
use crate::helpers::{TestApp, TestResponse, test_provisioning};

const SECRET: &str = "5f1e8c2a-7d43-4b9e-a1c6-2e9b7f0d3a55";

fn token(login: &Value) -> Option<&str> {
    login["access_token"].as_str()
}

async fn send(
    app: &TestApp,
    login: &Value,
    method: Method,
    path: &str,
    body: Value,
) -> TestResponse {
    app.send_json_as(token(login), method, path, &body).await
}

/// The ids of two locations of the default catalog.
async fn two_locations(db: &PgPool) -> (i32, i32) {
    let all = nextgenrdp::catalog::locations::list(db).await.unwrap();
    (all[0].id, all[1].id)
}

fn proxmox(name: &str, location: i32) -> Value {
    json!({
        "name": name,
        "driver": "proxmox",
        "location_id": location,
        "api_url": "https://pve1.example.pk:8006",
        "token_id": "ngr@pve!provisioning",
        "token_secret": SECRET,
        "node": "pve1",
        "storage": "local-lvm",
        "bridge": "vmbr0",
        "vmid_min": 5000,
        "vmid_max": 5999,
        "ip_gateway": "203.0.113.1",
        "ip_prefix": 24,
        "nameservers": "1.1.1.1, 8.8.8.8",
    })
}

/// The sealed token secret of a backend, opened.
async fn stored_secret(db: &PgPool, id: i32) -> String {
    let backend = backends::find(db, id).await.unwrap().unwrap();
    let sealed = backend.token_secret_encrypted.unwrap();
    assert!(!sealed.contains(SECRET));
    test_provisioning()
        .keyring
        .open(&sealed, &Provisioning::backend_context(id))
        .unwrap()
        .expose_secret()
        .to_owned()
}

#[sqlx::test]
async fn backends_are_validated_unique_per_location_and_never_show_their_token(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let (first, second) = two_locations(&app.db).await;

    let manual = send(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/backends",
        json!({ "name": "Frankfurt by hand", "driver": "manual", "location_id": first }),
    )
    .await;
    assert_eq!(manual.status, StatusCode::CREATED, "{}", manual.text());
    let manual = manual.json();
    assert_eq!(manual["has_token"], false);
    assert_eq!(manual["is_active"], true);
    let manual_id = manual["id"].as_i64().unwrap();

    // A proxmox backend needs its API, node, storage, VM id range and network.
    let missing = send(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/backends",
        json!({ "name": "pve", "driver": "proxmox", "location_id": second }),
    )
    .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = missing.json()["errors"].clone();
    for field in [
        "api_url",
        "token_id",
        "token_secret",
        "node",
        "storage",
        "vmid_min",
        "vmid_max",
        "ip_gateway",
        "ip_prefix",
    ] {
        assert!(errors[field].is_string(), "{field}: {errors}");
    }
    let mut bad = proxmox("", 999_999);
    bad["driver"] = json!("vmware");
    bad["api_url"] = json!("http://pve1.example.pk:8006");
    bad["token_id"] = json!("root");
    bad["tls_ca_pem"] = json!("not a certificate");
    bad["vmid_min"] = json!(7000);
    bad["vmid_max"] = json!(6000);
    bad["ip_gateway"] = json!("gateway");
    bad["nameservers"] = json!("dns.example");
    bad["node"] = json!("pve 1");
    let refused = send(&app, &admin, Method::POST, "/api/v1/admin/backends", bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = refused.json()["errors"].clone();
    for field in [
        "name",
        "driver",
        "location_id",
        "api_url",
        "token_id",
        "tls_ca_pem",
        "vmid_max",
        "ip_gateway",
        "nameservers",
        "node",
    ] {
        assert!(errors[field].is_string(), "{field}: {errors}");
    }
    let mut low = proxmox("pve-low", second);
    low["vmid_min"] = json!(50);
    low["ip_prefix"] = json!(33);
    let errors = send(&app, &admin, Method::POST, "/api/v1/admin/backends", low)
        .await
        .json()["errors"]
        .clone();
    assert!(
        errors["vmid_min"].is_string() && errors["ip_prefix"].is_string(),
        "{errors}"
    );

    // One active backend per location.
    let taken = send(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/backends",
        proxmox("pve-frankfurt", first),
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text());
    assert!(taken.json()["errors"]["location_id"].is_string());

    let created = send(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/backends",
        proxmox("pve-amsterdam", second),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert!(!created.text().contains(SECRET));
    assert!(!created.text().contains("token_secret"));
    let created = created.json();
    assert_eq!(created["has_token"], true);
    assert_eq!(created["nameservers"], "1.1.1.1 8.8.8.8");
    let id = created["id"].as_i64().unwrap() as i32;
    assert_eq!(stored_secret(&app.db, id).await, SECRET);

    let mut same_name = proxmox("pve-amsterdam", first);
    same_name["is_active"] = json!(false);
    let duplicate = send(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/backends",
        same_name,
    )
    .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert!(duplicate.json()["errors"]["name"].is_string());

    for path in [
        "/api/v1/admin/backends".to_owned(),
        format!("/api/v1/admin/backends/{id}"),
    ] {
        let read = app.get_as(token(&admin).unwrap(), &path).await;
        assert_eq!(read.status, StatusCode::OK);
        assert!(!read.text().contains(SECRET), "{path}");
        assert!(
            !read.text().contains("v1:"),
            "{path} shows the sealed value"
        );
    }
    let list = app
        .get_as(token(&admin).unwrap(), "/api/v1/admin/backends")
        .await
        .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    // PATCH merges over the backend; the token is replaced, never shown.
    let path = format!("/api/v1/admin/backends/{id}");
    let renamed = send(
        &app,
        &admin,
        Method::PATCH,
        &path,
        json!({ "name": "pve-ams-1", "token_secret": "new-secret-0042", "bridge": null }),
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text());
    assert!(!renamed.text().contains("new-secret-0042"));
    let renamed = renamed.json();
    assert_eq!(renamed["name"], "pve-ams-1");
    assert_eq!(renamed["bridge"], Value::Null);
    assert_eq!(renamed["node"], "pve1");
    assert_eq!(stored_secret(&app.db, id).await, "new-secret-0042");
    let inverted = send(
        &app,
        &admin,
        Method::PATCH,
        &path,
        json!({ "vmid_min": 7000 }),
    )
    .await;
    assert_eq!(inverted.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(inverted.json()["errors"]["vmid_max"].is_string());
    let move_in = send(
        &app,
        &admin,
        Method::PATCH,
        &path,
        json!({ "location_id": first }),
    )
    .await;
    assert_eq!(
        move_in.status,
        StatusCode::CONFLICT,
        "the location already has one"
    );
    let deactivated = send(
        &app,
        &admin,
        Method::PATCH,
        &format!("/api/v1/admin/backends/{manual_id}"),
        json!({ "is_active": false }),
    )
    .await;
    assert_eq!(deactivated.status, StatusCode::OK);
    let moved = send(
        &app,
        &admin,
        Method::PATCH,
        &path,
        json!({ "location_id": first }),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());

    // The audit log has every change and never the secret.
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("provisioning_backend", None),
        50,
        0,
    )
    .await
    .unwrap();
    assert!(audit.len() >= 5, "{}", audit.len());
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains(SECRET) && !text.contains("new-secret-0042"));

    // Delete: an unused backend goes; one that handed out a VM id must be deactivated.
    let removed = send(
        &app,
        &admin,
        Method::DELETE,
        &format!("/api/v1/admin/backends/{manual_id}"),
        json!({}),
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let gone = app
        .get_as(
            token(&admin).unwrap(),
            &format!("/api/v1/admin/backends/{manual_id}"),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let customer = app.verified_customer("ayesha@example.pk").await;
    let service = services::insert(
        &app.db,
        &NewService {
            order_item_id: None,
            user_id: customer["user"]["id"].as_i64().unwrap() as i32,
            service_type: "rdp",
            plan_id: None,
            location_id: Some(first),
            validity_months: Some(1),
        },
    )
    .await
    .unwrap();
    let mut conn = app.db.acquire().await.unwrap();
    backends::allocate_vmid(&mut conn, id, service.id)
        .await
        .unwrap();
    drop(conn);
    let refused = send(&app, &admin, Method::DELETE, &path, json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text().contains("deactivate it instead"));

    // Customers are kept out.
    let forbidden = app
        .get_as(token(&customer).unwrap(), "/api/v1/admin/backends")
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let forbidden = send(
        &app,
        &customer,
        Method::POST,
        "/api/v1/admin/backends",
        proxmox("mine", second),
    )
    .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn templates_are_set_per_plan_and_validated(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let (first, _) = two_locations(&app.db).await;
    let id = send(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/backends",
        proxmox("pve", first),
    )
    .await
    .json()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/admin/backends/{id}/templates/rdp-business-two");
    let template = json!({ "template_vmid": 9000, "cores": 4, "memory_mb": 8192, "disk_gb": 80, "username": "Administrator" });
    let set = send(&app, &admin, Method::PUT, &path, template).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let replaced = send(
        &app,
        &admin,
        Method::PUT,
        &path,
        json!({ "template_vmid": 9001, "cores": 2, "memory_mb": 4096, "disk_gb": 40 }),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.json()["username"], "root");
    let detail = app
        .get_as(
            token(&admin).unwrap(),
            &format!("/api/v1/admin/backends/{id}"),
        )
        .await
        .json();
    assert_eq!(detail["templates"].as_array().unwrap().len(), 1);
    assert_eq!(detail["templates"][0]["template_vmid"], 9001);

    let bad = send(
        &app,
        &admin,
        Method::PUT,
        &path,
        json!({ "template_vmid": 5, "cores": 0, "memory_mb": 1, "disk_gb": 0, "username": "a b" }),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = bad.json()["errors"].clone();
    for field in ["template_vmid", "cores", "memory_mb", "disk_gb", "username"] {
        assert!(errors[field].is_string(), "{field}: {errors}");
    }
    let unknown_plan = send(
        &app,
        &admin,
        Method::PUT,
        &format!("/api/v1/admin/backends/{id}/templates/no-such-plan"),
        json!({ "template_vmid": 9000, "cores": 4, "memory_mb": 8192, "disk_gb": 80 }),
    )
    .await;
    assert_eq!(unknown_plan.status, StatusCode::NOT_FOUND);
    assert_eq!(
        send(&app, &admin, Method::DELETE, &path, json!({}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&app, &admin, Method::DELETE, &path, json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test]
async fn the_address_pool_takes_addresses_inside_the_network_only(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let (first, second) = two_locations(&app.db).await;
    let id = send(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/backends",
        proxmox("pve", first),
    )
    .await
    .json()["id"]
        .as_i64()
        .unwrap() as i32;
    let path = format!("/api/v1/admin/backends/{id}/addresses");

    let added = send(
        &app,
        &admin,
        Method::POST,
        &path,
        json!({ "addresses": ["203.0.113.10", "203.0.113.11"], "range": "203.0.113.20-203.0.113.22" }),
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let added = added.json();
    assert_eq!(added["added"].as_array().unwrap().len(), 5);
    assert_eq!(added["skipped"], json!([]));
    let again = send(
        &app,
        &admin,
        Method::POST,
        &path,
        json!({ "addresses": ["203.0.113.11", "203.0.113.12"] }),
    )
    .await
    .json();
    assert_eq!(again["added"], json!(["203.0.113.12"]));
    assert_eq!(again["skipped"], json!(["203.0.113.11"]));

    for (body, field) in [
        (json!({ "addresses": ["198.51.100.5"] }), "addresses"),
        (json!({ "addresses": ["203.0.113.1"] }), "addresses"),
        (json!({ "addresses": ["203.0.113.255"] }), "addresses"),
        (json!({ "addresses": ["not-an-ip"] }), "addresses"),
        (json!({ "range": "203.0.113.250-203.0.114.5" }), "range"),
        (json!({ "range": "203.0.113.30" }), "range"),
        (json!({ "range": "203.0.113.30-203.0.113.25" }), "range"),
        (json!({}), "addresses"),
    ] {
        let refused = send(&app, &admin, Method::POST, &path, body.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            refused.json()["errors"][field].is_string(),
            "{body}: {}",
            refused.text()
        );
    }
    let outside = send(
        &app,
        &admin,
        Method::POST,
        &path,
        json!({ "addresses": ["198.51.100.5"] }),
    )
    .await
    .json();
    assert!(
        outside["errors"]["addresses"]
            .as_str()
            .unwrap()
            .contains("outside 203.0.113.1/24")
    );

    let list = app.get_as(token(&admin).unwrap(), &path).await.json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "nothing refused was added");
    assert!(items.iter().all(|a| a["available"] == true));

    // A free address can be removed; one a service holds cannot.
    let removed = send(
        &app,
        &admin,
        Method::DELETE,
        &format!("{path}/203.0.113.10"),
        json!({}),
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let again = send(
        &app,
        &admin,
        Method::DELETE,
        &format!("{path}/203.0.113.10"),
        json!({}),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let garbage = send(
        &app,
        &admin,
        Method::DELETE,
        &format!("{path}/nope"),
        json!({}),
    )
    .await;
    assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY);
    let customer = app.verified_customer("ayesha@example.pk").await;
    let service = services::insert(
        &app.db,
        &NewService {
            order_item_id: None,
            user_id: customer["user"]["id"].as_i64().unwrap() as i32,
            service_type: "rdp",
            plan_id: None,
            location_id: Some(first),
            validity_months: Some(1),
        },
    )
    .await
    .unwrap();
    let held = backends::allocate_ip(&app.db, id, service.id, 7)
        .await
        .unwrap()
        .unwrap();
    let refused = send(
        &app,
        &admin,
        Method::DELETE,
        &format!("{path}/{held}"),
        json!({}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert!(refused.text().contains(&format!("service {}", service.id)));

    // A backend without a network takes no addresses.
    let manual = send(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/backends",
        json!({ "name": "by hand", "driver": "manual", "location_id": second }),
    )
    .await
    .json()["id"]
        .as_i64()
        .unwrap();
    let no_network = send(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/admin/backends/{manual}/addresses"),
        json!({ "addresses": ["203.0.113.50"] }),
    )
    .await;
    assert_eq!(no_network.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get_as(
            token(&admin).unwrap(),
            "/api/v1/admin/backends/999999/addresses"
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test]
async fn the_connection_check_reports_the_version_or_the_error(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let (first, second) = two_locations(&app.db).await;
    let mut body = proxmox("pve-fake", first);
    body["api_url"] = json!(fake.url);
    body["token_id"] = json!(fake.token_id);
    body["token_secret"] = json!(fake.token_secret);
    body["tls_ca_pem"] = json!(fake.ca_pem);
    let created = send(&app, &admin, Method::POST, "/api/v1/admin/backends", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_i64().unwrap();
    let check = send(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/admin/backends/{id}/check"),
        json!({}),
    )
    .await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.text());
    let check = check.json();
    assert_eq!(check["ok"], true, "{check}");
    assert!(check["version"].is_string());

    // A wrong token is reported, not a 500, and the secret is not echoed.
    let wrong = send(
        &app,
        &admin,
        Method::PATCH,
        &format!("/api/v1/admin/backends/{id}"),
        json!({ "token_secret": "wrong-secret-1234" }),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::OK);
    let failed = send(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/admin/backends/{id}/check"),
        json!({}),
    )
    .await;
    assert_eq!(failed.status, StatusCode::OK);
    let text = failed.text();
    assert_eq!(failed.json()["ok"], false, "{text}");
    assert!(failed.json()["error"].is_string());
    assert!(!text.contains("wrong-secret-1234"));

    let manual = send(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/backends",
        json!({ "name": "by hand", "driver": "manual", "location_id": second }),
    )
    .await
    .json()["id"]
        .as_i64()
        .unwrap();
    let check = send(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/admin/backends/{manual}/check"),
        json!({}),
    )
    .await
    .json();
    assert_eq!(check["ok"], false);
}
