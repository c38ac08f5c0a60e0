//! The public catalog API: `/api/v1/categories`, `/api/v1/locations`, `/api/v1/plans`,
//! `/api/v1/plans/{id}` — shapes, filters, hiding what is off sale, conditional GET, and how
//! fast an edit reaches it (same node at once; another node within the cache's TTL).

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use nextgenrdp::catalog::cache::CatalogCache;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, TestResponse};

fn ids(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect()
}

fn prices(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["price_pkr"].as_i64().unwrap())
        .collect()
}

async fn location_id(db: &PgPool, slug: &str) -> i64 {
    let id: i32 = sqlx::query_scalar("select id from locations where slug = $1")
        .bind(slug)
        .fetch_one(db)
        .await
        .unwrap();
    i64::from(id)
}

async fn get_if_none_match(app: &TestApp, path: &str, etag: &str) -> TestResponse {
    app.request(
        Request::get(path)
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn price_of(app: &TestApp, id: &str) -> i64 {
    let plans = app.get("/api/v1/plans").await.json();
    plans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap()["price_pkr"]
        .as_i64()
        .unwrap()
}

#[sqlx::test]
async fn plans_come_with_prices_features_and_where_they_are_sold(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let response = app.get("/api/v1/plans").await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("content-type"), "application/json");
    let plans = response.json();
    // category display order (RDP then VPS), then each plan's display order
    assert_eq!(
        ids(&plans),
        [
            "rdp-starter-one",
            "rdp-business-two",
            "rdp-pro-three",
            "rdp-ultra-four",
            "vps-nano-one",
            "vps-basic-two",
            "vps-standard-three",
            "vps-power-four"
        ]
    );
    let starter = &plans["items"][0];
    assert_eq!(starter["category"], "rdp");
    assert_eq!(starter["price_pkr"], 2500);
    assert_eq!(starter["price_display"], "Rs 2,500");
    for field in [
        "name",
        "cpu",
        "ram",
        "storage",
        "bandwidth",
        "os",
        "theme_color",
        "description",
    ] {
        assert!(starter[field].is_string(), "{field}: {starter}");
    }
    let features: Vec<String> = sqlx::query_scalar(
        "select feature from plan_features where plan_id = 'rdp-starter-one' order by position",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert!(!features.is_empty());
    assert_eq!(starter["features"], json!(features));
    let sold_in: Vec<&str> = starter["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        sold_in,
        ["de-frankfurt", "nl-amsterdam", "gb-london", "us-new-york"]
    );
    assert_eq!(starter["locations"][0]["country_code"], "DE");
    assert_eq!(plans["items"][1]["label"], "Most Selling");

    let one = app.get("/api/v1/plans/rdp-business-two").await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json(), plans["items"][1]);
}

#[sqlx::test]
async fn categories_and_locations_are_listed_in_display_order(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let categories = app.get("/api/v1/categories").await.json();
    let slugs: Vec<&str> = categories["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["rdp", "vps"]);
    assert_eq!(categories["items"][0]["name"], "Windows RDP");
    let locations = app.get("/api/v1/locations").await.json();
    let slugs: Vec<&str> = locations["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        [
            "de-frankfurt",
            "nl-amsterdam",
            "gb-london",
            "us-new-york",
            "sg-singapore"
        ]
    );
    assert!(locations["items"][0]["id"].is_i64());
}

#[sqlx::test]
async fn plans_filter_by_category_and_location_and_sort_by_price(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let vps = app.get("/api/v1/plans?category=vps").await.json();
    assert_eq!(
        ids(&vps),
        [
            "vps-nano-one",
            "vps-basic-two",
            "vps-standard-three",
            "vps-power-four"
        ]
    );

    let singapore = location_id(&app.db, "sg-singapore").await;
    let in_singapore = app
        .get(&format!("/api/v1/plans?location={singapore}"))
        .await
        .json();
    assert_eq!(
        ids(&in_singapore),
        [
            "rdp-business-two",
            "rdp-pro-three",
            "vps-nano-one",
            "vps-basic-two",
            "vps-standard-three"
        ]
    );
    let rdp_in_singapore = app
        .get(&format!("/api/v1/plans?category=rdp&location={singapore}"))
        .await
        .json();
    assert_eq!(
        ids(&rdp_in_singapore),
        ["rdp-business-two", "rdp-pro-three"]
    );

    let cheapest_first = app.get("/api/v1/plans?sort=price").await.json();
    assert_eq!(
        prices(&cheapest_first),
        [1200, 2500, 2800, 4500, 5200, 8500, 9800, 15500]
    );
    let dearest_first = app
        .get("/api/v1/plans?category=rdp&sort=-price")
        .await
        .json();
    assert_eq!(prices(&dearest_first), [15500, 8500, 4500, 2500]);
    // an empty value means "any", as a form with nothing chosen sends it
    let any = app
        .get("/api/v1/plans?category=&location=&sort=")
        .await
        .json();
    assert_eq!(ids(&any).len(), 8);
}

#[sqlx::test]
async fn inactive_plans_and_closed_locations_are_hidden(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    sqlx::query("update plans set is_active = false where id = 'rdp-pro-three'")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("update locations set is_active = false where slug = 'sg-singapore'")
        .execute(&app.db)
        .await
        .unwrap();
    let singapore = location_id(&app.db, "sg-singapore").await;

    let plans = app.get("/api/v1/plans").await.json();
    assert!(!ids(&plans).contains(&"rdp-pro-three"));
    assert_eq!(ids(&plans).len(), 7);
    for plan in plans["items"].as_array().unwrap() {
        assert!(
            plan["locations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["id"] != singapore),
            "{plan}"
        );
    }
    let hidden = app.get("/api/v1/plans/rdp-pro-three").await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(hidden.header("content-type"), "application/problem+json");
    let locations = app.get("/api/v1/locations").await.json();
    assert_eq!(locations["items"].as_array().unwrap().len(), 4);
    let closed = app
        .get(&format!("/api/v1/plans?location={singapore}"))
        .await;
    assert_eq!(closed.status, StatusCode::BAD_REQUEST);
    assert!(closed.json()["errors"]["location"].is_string());
}

#[sqlx::test]
async fn an_unknown_plan_is_a_404_problem(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    for path in ["/api/v1/plans/no-such-plan", "/api/v1/plans/NOT%20A%20SLUG"] {
        let response = app.get(path).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.header("content-type"), "application/problem+json");
        assert_eq!(response.json()["status"], 404);
    }
}

#[sqlx::test]
async fn a_bad_query_parameter_is_a_400_naming_it(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    for (path, field) in [
        ("/api/v1/plans?category=gaming", "category"),
        ("/api/v1/plans?location=frankfurt", "location"),
        ("/api/v1/plans?location=999999", "location"),
        ("/api/v1/plans?sort=cheapest", "sort"),
        ("/api/v1/plans?colour=red", "colour"),
        ("/api/v1/plans?category=rdp&category=vps", "category"),
        ("/api/v1/categories?page=2", "page"),
        ("/api/v1/locations?active=false", "active"),
        ("/api/v1/plans/rdp-starter-one?expand=all", "expand"),
    ] {
        let response = app.get(path).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            response.text()
        );
        assert_eq!(
            response.header("content-type"),
            "application/problem+json",
            "{path}"
        );
        let problem = response.json();
        assert!(problem["errors"][field].is_string(), "{path}: {problem}");
    }
}

#[sqlx::test]
async fn conditional_get_answers_304_until_the_catalog_changes(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    for path in [
        "/api/v1/plans?category=rdp",
        "/api/v1/plans/rdp-starter-one",
        "/api/v1/categories",
        "/api/v1/locations",
    ] {
        let first = app.get(path).await;
        assert_eq!(first.status, StatusCode::OK);
        let etag = first.header("etag").to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "{path}: strong ETag, got {etag:?}"
        );
        assert_eq!(
            first.header("cache-control"),
            "public, max-age=0, must-revalidate"
        );
        assert_eq!(
            app.get(path).await.header("etag"),
            etag,
            "{path}: the same body, the same tag"
        );

        let again = get_if_none_match(&app, path, &etag).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), etag);
        assert_eq!(
            again.header("cache-control"),
            "public, max-age=0, must-revalidate"
        );
        let other = get_if_none_match(&app, path, "\"something-else\"").await;
        assert_eq!(other.status, StatusCode::OK);
    }

    let before = app.get("/api/v1/plans/rdp-starter-one").await;
    let etag = before.header("etag").to_owned();
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let edited = app
        .send_json_as(
            admin["access_token"].as_str(),
            Method::PATCH,
            "/api/v1/admin/plans/rdp-starter-one",
            &json!({ "price_pkr": 2700 }),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
    let after = get_if_none_match(&app, "/api/v1/plans/rdp-starter-one", &etag).await;
    assert_eq!(
        after.status,
        StatusCode::OK,
        "an edit gives a new representation"
    );
    assert_ne!(after.header("etag"), etag);
    assert_eq!(after.json()["price_display"], "Rs 2,700");
}

#[sqlx::test]
async fn a_price_edited_through_the_admin_api_is_served_at_once(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    assert_eq!(price_of(&app, "vps-nano-one").await, 1200); // the cache is warm now
    let edited = app
        .send_json_as(
            admin["access_token"].as_str(),
            Method::PATCH,
            "/api/v1/admin/plans/vps-nano-one",
            &json!({ "price_pkr": 1350 }),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
    assert_eq!(price_of(&app, "vps-nano-one").await, 1350);
    let listed = app
        .get("/api/v1/plans?category=vps&sort=price")
        .await
        .json();
    assert_eq!(listed["items"][0]["price_display"], "Rs 1,350");
}

/// Another node (here: plain SQL) changes a price; no notification reaches this app (the test
/// app runs no listener), so the cache's TTL alone must bring the new price within a second.
#[sqlx::test]
async fn a_price_changed_elsewhere_is_served_within_a_second(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    assert_eq!(price_of(&app, "rdp-ultra-four").await, 15500);
    sqlx::query("update plans set price_pkr = 16000 where id = 'rdp-ultra-four'")
        .execute(&app.db)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(price_of(&app, "rdp-ultra-four").await, 16000);
}

/// With the listener running, a change made by anyone reaches the cache by notification, long
/// before its (here: one hour) TTL.
#[sqlx::test]
async fn the_listener_drops_the_cache_on_every_committed_change(db: PgPool) {
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    let cache = CatalogCache::with_ttl(Duration::from_secs(3600));
    let listener = cache.spawn_listener(db.clone());
    for _ in 0..100 {
        if cache.is_listening() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cache.is_listening());
    let price = |catalog: &nextgenrdp::catalog::cache::Catalog| {
        catalog.plan("vps-basic-two").unwrap().price_pkr
    };
    assert_eq!(price(&cache.get(&db).await.unwrap()), 2800);

    // a rolled-back change notifies nobody
    let generation = cache.generation();
    let mut tx = db.begin().await.unwrap();
    sqlx::query("update plans set price_pkr = 1 where id = 'vps-basic-two'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    sqlx::query("update plans set price_pkr = 2900 where id = 'vps-basic-two'")
        .execute(&db)
        .await
        .unwrap();
    let mut seen = 0;
    for _ in 0..100 {
        seen = price(&cache.get(&db).await.unwrap());
        if seen == 2900 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, 2900, "the notification did not reach the cache");
    assert_eq!(
        cache.generation(),
        generation + 1,
        "one notification for the one committed change"
    );

    // features, locations and categories notify too
    for statement in [
        "update plan_features set feature = feature || '!' where plan_id = 'vps-basic-two'",
        "delete from plan_locations where plan_id = 'vps-basic-two'",
        "update locations set name = name || ' ' where slug = 'de-frankfurt'",
        "update product_categories set name = 'Linux VPS servers' where slug = 'vps'",
    ] {
        let generation = cache.generation();
        sqlx::query(statement).execute(&db).await.unwrap();
        let mut notified = false;
        for _ in 0..100 {
            if cache.generation() > generation {
                notified = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(notified, "no notification for {statement}");
    }
    let catalog = cache.get(&db).await.unwrap();
    assert!(catalog.plan("vps-basic-two").unwrap().locations.is_empty());
    assert_eq!(
        catalog.category_by_slug("vps").unwrap().name,
        "Linux VPS servers"
    );
    listener.abort();
}
