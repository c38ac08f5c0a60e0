//! The operator's catalog API: `/api/v1/admin/{categories,plans,locations}` — who may call it,
//! validation, conflicts, deleting what orders refer to, and the audit log.

use axum::http::{Method, StatusCode};
use nextgenrdp::audit::{self, AuditEntry};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, TestResponse};

/// The default catalog and a logged-in operator's access token.
async fn operator(db: PgPool) -> (TestApp, String) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str().unwrap().to_owned();
    (app, token)
}

async fn send(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> TestResponse {
    app.send_json_as(Some(token), method, path, &body).await
}

async fn location_ids(db: &PgPool, slugs: &[&str]) -> Vec<i32> {
    let mut ids = Vec::new();
    for slug in slugs {
        ids.push(
            sqlx::query_scalar("select id from locations where slug = $1")
                .bind(slug)
                .fetch_one(db)
                .await
                .unwrap(),
        );
    }
    ids
}

async fn audit_of(app: &TestApp, entity_type: &str, entity_id: &str) -> Vec<AuditEntry> {
    let mut entries = audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity(entity_type, Some(entity_id)),
        50,
        0,
    )
    .await
    .unwrap();
    entries.reverse(); // oldest first
    entries
}

fn new_plan(location_ids: &[i32]) -> Value {
    json!({
        "id": "rdp-gamer-five",
        "category": "rdp",
        "name": "RDP Gamer",
        "description": "A fast desktop for streaming and bots.",
        "cpu": "8 vCore",
        "ram": "16 GB RAM",
        "storage": "200 GB NVMe SSD",
        "bandwidth": "Unmetered",
        "os": "Windows Server 2022",
        "price_pkr": 12000,
        "theme_color": "violet",
        "label": "New",
        "display_order": 5,
        "features": ["Full admin access", "  1 Gbps port  "],
        "location_ids": location_ids,
    })
}

/// Puts a plan in an order, as checkout would (plain SQL, so only the schema is assumed).
async fn order_plan(app: &TestApp, plan_id: &str, location_id: i32) {
    let customer = app.verified_customer("ayesha@example.pk").await;
    let user_id = customer["user"]["id"].as_i64().unwrap() as i32;
    let order_id: i32 = sqlx::query_scalar(
        "insert into orders (user_id, status, total_amount_pkr, final_amount_pkr)
         values ($1, 'pending_payment', 2500, 2500) returning id",
    )
    .bind(user_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    sqlx::query(
        "insert into order_items (order_id, plan_id, location_id, price_at_order_pkr)
         values ($1, $2, $3, 2500)",
    )
    .bind(order_id)
    .bind(plan_id)
    .bind(location_id)
    .execute(&app.db)
    .await
    .unwrap();
}

#[sqlx::test]
async fn every_admin_catalog_route_needs_an_operator(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    let token = customer["access_token"].as_str().unwrap();
    let routes = [
        (Method::GET, "/api/v1/admin/categories"),
        (Method::POST, "/api/v1/admin/categories"),
        (Method::GET, "/api/v1/admin/categories/1"),
        (Method::PATCH, "/api/v1/admin/categories/1"),
        (Method::DELETE, "/api/v1/admin/categories/1"),
        (Method::GET, "/api/v1/admin/plans"),
        (Method::POST, "/api/v1/admin/plans"),
        (Method::GET, "/api/v1/admin/plans/rdp-starter-one"),
        (Method::PATCH, "/api/v1/admin/plans/rdp-starter-one"),
        (Method::DELETE, "/api/v1/admin/plans/rdp-starter-one"),
        (Method::GET, "/api/v1/admin/locations"),
        (Method::POST, "/api/v1/admin/locations"),
        (Method::GET, "/api/v1/admin/locations/1"),
        (Method::PATCH, "/api/v1/admin/locations/1"),
        (Method::DELETE, "/api/v1/admin/locations/1"),
    ];
    for (method, path) in routes {
        let body = json!({ "price_pkr": 0, "name": "x" });
        let anonymous = app.send_json_as(None, method.clone(), path, &body).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(anonymous.header("content-type"), "application/problem+json");
        let customer = app
            .send_json_as(Some(token), method.clone(), path, &body)
            .await;
        assert_eq!(customer.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(customer.header("content-type"), "application/problem+json");
    }
    // nothing changed
    let price: i32 = sqlx::query_scalar("select price_pkr from plans where id = 'rdp-starter-one'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(price, 2500);
    let audit: i64 = sqlx::query_scalar("select count(*) from audit_log")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(audit, 0);
}

#[sqlx::test]
async fn the_operator_creates_edits_and_deletes_a_plan_with_an_audit_trail(db: PgPool) {
    let (app, token) = operator(db).await;
    let ids = location_ids(&app.db, &["de-frankfurt", "sg-singapore"]).await;
    let created = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/admin/plans",
        new_plan(&ids),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let plan = created.json();
    assert_eq!(plan["id"], "rdp-gamer-five");
    assert_eq!(plan["category"], "rdp");
    assert_eq!(plan["price_pkr"], 12000);
    assert_eq!(plan["price_display"], "Rs 12,000");
    assert_eq!(
        plan["features"],
        json!(["Full admin access", "1 Gbps port"])
    );
    assert_eq!(plan["location_ids"], json!(ids));
    assert_eq!(plan["is_active"], true);

    // it is on sale at once, with its features in order
    let public = app.get("/api/v1/plans/rdp-gamer-five").await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.text());
    assert_eq!(
        public.json()["features"],
        json!(["Full admin access", "1 Gbps port"])
    );
    let fetched = app
        .get_as(&token, "/api/v1/admin/plans/rdp-gamer-five")
        .await
        .json();
    assert_eq!(fetched, plan);

    // PATCH takes any subset; null clears an optional field; lists are replaced wholesale
    let edited = send(
        &app,
        &token,
        Method::PATCH,
        "/api/v1/admin/plans/rdp-gamer-five",
        json!({ "price_pkr": 11500, "label": null, "features": ["Only this"], "location_ids": [ids[1]] }),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
    let edited = edited.json();
    assert_eq!(edited["price_pkr"], 11500);
    assert_eq!(edited["label"], Value::Null);
    assert_eq!(edited["features"], json!(["Only this"]));
    assert_eq!(edited["location_ids"], json!([ids[1]]));
    assert_eq!(edited["name"], "RDP Gamer");
    assert_eq!(
        app.get("/api/v1/plans/rdp-gamer-five").await.json()["price_pkr"],
        11500
    );

    // an edit that changes nothing writes nothing
    let same = send(
        &app,
        &token,
        Method::PATCH,
        "/api/v1/admin/plans/rdp-gamer-five",
        json!({ "price_pkr": 11500 }),
    )
    .await;
    assert_eq!(same.status, StatusCode::OK);

    let listed = app.get_as(&token, "/api/v1/admin/plans").await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 9);

    let deleted = send(
        &app,
        &token,
        Method::DELETE,
        "/api/v1/admin/plans/rdp-gamer-five",
        json!({}),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    assert_eq!(
        app.get_as(&token, "/api/v1/admin/plans/rdp-gamer-five")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/plans/rdp-gamer-five").await.status,
        StatusCode::NOT_FOUND
    );

    let trail = audit_of(&app, "plan", "rdp-gamer-five").await;
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["plan.create", "plan.update", "plan.delete"]);
    assert!(
        trail
            .iter()
            .all(|e| e.ip_address.as_deref() == Some("198.51.100.1"))
    );
    assert!(trail.iter().all(|e| e.actor_user_id.is_some()));
    assert_eq!(trail[0].before, None);
    assert_eq!(trail[0].after.as_ref().unwrap()["price_pkr"], 12000);
    assert_eq!(trail[1].before.as_ref().unwrap()["price_pkr"], 12000);
    assert_eq!(trail[1].before.as_ref().unwrap()["label"], "New");
    assert_eq!(trail[1].after.as_ref().unwrap()["price_pkr"], 11500);
    assert_eq!(
        trail[1].after.as_ref().unwrap()["features"],
        json!(["Only this"])
    );
    assert_eq!(trail[2].before.as_ref().unwrap()["price_pkr"], 11500);
    assert_eq!(trail[2].after, None);
}

#[sqlx::test]
async fn validation_names_every_field_at_fault_and_writes_nothing(db: PgPool) {
    let (app, token) = operator(db).await;
    let response = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/admin/plans",
        json!({
            "id": "Bad Id",
            "category": "gaming",
            "name": "  ",
            "price_pkr": -1,
            "theme_color": "chartreuse",
            "features": ["ok", ""],
            "location_ids": [999999],
        }),
    )
    .await;
    assert_eq!(
        response.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        response.text()
    );
    assert_eq!(response.header("content-type"), "application/problem+json");
    let errors = response.json()["errors"].clone();
    for field in [
        "id",
        "category",
        "name",
        "cpu",
        "ram",
        "storage",
        "bandwidth",
        "price_pkr",
        "theme_color",
        "features",
        "location_ids",
    ] {
        assert!(errors[field].is_string(), "{field} not named: {errors}");
    }
    assert!(errors["location_ids"].as_str().unwrap().contains("999999"));
    let plans: i64 = sqlx::query_scalar("select count(*) from plans")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(plans, 8);

    let ids = location_ids(&app.db, &["de-frankfurt"]).await;
    let mut too_dear = new_plan(&ids);
    too_dear["price_pkr"] = json!(3_000_000_000_i64);
    let response = send(&app, &token, Method::POST, "/api/v1/admin/plans", too_dear).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.json()["errors"]["price_pkr"].is_string());

    let mut not_a_number = new_plan(&ids);
    not_a_number["price_pkr"] = json!("2500");
    let response = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/admin/plans",
        not_a_number,
    )
    .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response.json()["errors"]["price_pkr"].is_string(),
        "{}",
        response.text()
    );

    for (patch, field) in [
        (json!({ "id": "rdp-renamed" }), "id"),
        (json!({ "name": null }), "name"),
        (json!({ "price_pkr": -5 }), "price_pkr"),
        (json!({ "category": "gaming" }), "category"),
        (json!({ "is_active": null }), "is_active"),
        (json!({ "colour": "red" }), "colour"),
    ] {
        let response = send(
            &app,
            &token,
            Method::PATCH,
            "/api/v1/admin/plans/rdp-starter-one",
            patch.clone(),
        )
        .await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{patch}: {}",
            response.text()
        );
        assert!(
            response.json()["errors"][field].is_string(),
            "{patch}: {}",
            response.text()
        );
    }

    let response = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/admin/categories",
        json!({ "slug": "x", "display_order": "first" }),
    )
    .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let response = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/admin/categories",
        json!({ "slug": "x" }),
    )
    .await;
    let errors = response.json()["errors"].clone();
    assert!(
        errors["slug"].is_string() && errors["name"].is_string(),
        "{errors}"
    );
    let response = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/admin/locations",
        json!({ "slug": "pk-karachi", "country_code": "Pakistan" }),
    )
    .await;
    let errors = response.json()["errors"].clone();
    assert!(
        errors["name"].is_string() && errors["country_code"].is_string(),
        "{errors}"
    );
    let audit: i64 = sqlx::query_scalar("select count(*) from audit_log")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(audit, 0);
}

#[sqlx::test]
async fn a_taken_plan_id_or_slug_is_a_409(db: PgPool) {
    let (app, token) = operator(db).await;
    let ids = location_ids(&app.db, &["de-frankfurt"]).await;
    let mut duplicate = new_plan(&ids);
    duplicate["id"] = json!("rdp-starter-one");
    let response = send(&app, &token, Method::POST, "/api/v1/admin/plans", duplicate).await;
    assert_eq!(response.status, StatusCode::CONFLICT, "{}", response.text());
    assert!(response.json()["errors"]["id"].is_string());
    // the existing plan is untouched
    let plan = app
        .get_as(&token, "/api/v1/admin/plans/rdp-starter-one")
        .await
        .json();
    assert_eq!(plan["price_pkr"], 2500);

    let response = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/admin/categories",
        json!({ "slug": "vps", "name": "Again" }),
    )
    .await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert!(response.json()["errors"]["slug"].is_string());
    let frankfurt = ids[0];
    let response = send(
        &app,
        &token,
        Method::PATCH,
        &format!("/api/v1/admin/locations/{frankfurt}"),
        json!({ "slug": "gb-london" }),
    )
    .await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert!(response.json()["errors"]["slug"].is_string());
}

#[sqlx::test]
async fn what_orders_refer_to_is_deactivated_not_deleted(db: PgPool) {
    let (app, token) = operator(db).await;
    let frankfurt = location_ids(&app.db, &["de-frankfurt"]).await[0];
    order_plan(&app, "rdp-starter-one", frankfurt).await;

    let response = send(
        &app,
        &token,
        Method::DELETE,
        "/api/v1/admin/plans/rdp-starter-one",
        json!({}),
    )
    .await;
    assert_eq!(response.status, StatusCode::CONFLICT, "{}", response.text());
    let detail = response.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("referenced by 1 order") && detail.contains("deactivate"),
        "{detail}"
    );

    let response = send(
        &app,
        &token,
        Method::DELETE,
        &format!("/api/v1/admin/locations/{frankfurt}"),
        json!({}),
    )
    .await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert!(
        response.json()["detail"]
            .as_str()
            .unwrap()
            .contains("1 order")
    );

    let rdp: i32 = sqlx::query_scalar("select id from product_categories where slug = 'rdp'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let response = send(
        &app,
        &token,
        Method::DELETE,
        &format!("/api/v1/admin/categories/{rdp}"),
        json!({}),
    )
    .await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert!(
        response.json()["detail"]
            .as_str()
            .unwrap()
            .contains("4 plans")
    );

    // deactivating takes them off sale and leaves the order alone
    let response = send(
        &app,
        &token,
        Method::PATCH,
        "/api/v1/admin/plans/rdp-starter-one",
        json!({ "is_active": false }),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    let response = send(
        &app,
        &token,
        Method::PATCH,
        &format!("/api/v1/admin/locations/{frankfurt}"),
        json!({ "is_active": false }),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["is_active"], false);
    assert_eq!(
        app.get("/api/v1/plans/rdp-starter-one").await.status,
        StatusCode::NOT_FOUND
    );
    let locations = app.get("/api/v1/locations").await.json();
    assert!(
        locations["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["id"] != frankfurt)
    );
    let plans = app.get("/api/v1/plans").await.json();
    for plan in plans["items"].as_array().unwrap() {
        assert!(
            plan["locations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["id"] != frankfurt)
        );
    }
    let items: i64 =
        sqlx::query_scalar("select count(*) from order_items where plan_id = 'rdp-starter-one'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(items, 1);
    // the operator still sees them, inactive
    let all = app.get_as(&token, "/api/v1/admin/plans").await.json();
    let starter = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "rdp-starter-one")
        .unwrap()
        .clone();
    assert_eq!(starter["is_active"], false);
    assert!(
        starter["location_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(frankfurt))
    );
}

#[sqlx::test]
async fn categories_and_locations_are_managed_and_audited(db: PgPool) {
    let (app, token) = operator(db).await;
    let created = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/admin/categories",
        json!({ "slug": "gpu", "name": "GPU Servers", "display_order": 3 }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let category = created.json();
    let id = category["id"].as_i64().unwrap();
    assert_eq!(category["description"], Value::Null);
    let edited = send(
        &app,
        &token,
        Method::PATCH,
        &format!("/api/v1/admin/categories/{id}"),
        json!({ "description": "NVIDIA cards for rendering and AI." }),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
    assert_eq!(edited.json()["name"], "GPU Servers");
    let slugs: Vec<String> = app.get("/api/v1/categories").await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(slugs, ["rdp", "vps", "gpu"]);
    assert_eq!(
        app.get("/api/v1/plans?category=gpu").await.json()["items"],
        json!([])
    );
    let listed = app.get_as(&token, "/api/v1/admin/categories").await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
    let deleted = send(
        &app,
        &token,
        Method::DELETE,
        &format!("/api/v1/admin/categories/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    assert_eq!(
        app.get_as(&token, &format!("/api/v1/admin/categories/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let actions: Vec<String> = audit_of(&app, "category", &id.to_string())
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        ["category.create", "category.update", "category.delete"]
    );

    let created = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/admin/locations",
        json!({ "slug": "pk-karachi", "name": "Pakistan (Karachi)", "country_code": "pk", "city": "Karachi" }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let location = created.json();
    let id = location["id"].as_i64().unwrap();
    assert_eq!(location["country_code"], "PK");
    assert_eq!(location["is_active"], true);
    let open = app.get("/api/v1/locations").await.json();
    assert!(
        open["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["id"] == id)
    );

    // sell a plan there, then the location cannot be deleted until it is taken off the plan
    let response = send(
        &app,
        &token,
        Method::PATCH,
        "/api/v1/admin/plans/vps-nano-one",
        json!({ "location_ids": [id] }),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let in_karachi = app
        .get(&format!("/api/v1/plans?location={id}"))
        .await
        .json();
    assert_eq!(in_karachi["items"][0]["id"], "vps-nano-one");
    let refused = send(
        &app,
        &token,
        Method::DELETE,
        &format!("/api/v1/admin/locations/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.json()["detail"]
            .as_str()
            .unwrap()
            .contains("1 plan")
    );
    send(
        &app,
        &token,
        Method::PATCH,
        "/api/v1/admin/plans/vps-nano-one",
        json!({ "location_ids": [] }),
    )
    .await;
    let deleted = send(
        &app,
        &token,
        Method::DELETE,
        &format!("/api/v1/admin/locations/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    let trail = audit_of(&app, "location", &id.to_string()).await;
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["location.create", "location.delete"]);
    assert_eq!(trail[1].before.as_ref().unwrap()["slug"], "pk-karachi");
}

#[sqlx::test]
async fn unknown_ids_are_404s(db: PgPool) {
    let (app, token) = operator(db).await;
    for path in [
        "/api/v1/admin/plans/no-such-plan",
        "/api/v1/admin/categories/999999",
        "/api/v1/admin/categories/abc",
        "/api/v1/admin/locations/999999",
    ] {
        assert_eq!(
            app.get_as(&token, path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        let patch = send(&app, &token, Method::PATCH, path, json!({})).await;
        assert_eq!(patch.status, StatusCode::NOT_FOUND, "PATCH {path}");
        let delete = send(&app, &token, Method::DELETE, path, json!({})).await;
        assert_eq!(delete.status, StatusCode::NOT_FOUND, "DELETE {path}");
    }
    let response = app.get_as(&token, "/api/v1/admin/plans?page=2").await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(response.json()["errors"]["page"].is_string());
}
