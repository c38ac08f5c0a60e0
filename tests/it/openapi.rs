//! The API description: `/api/v1/openapi.json` is OpenAPI 3.1, every route the router serves
//! under `/api/` is in it with exactly its methods, and `/api/docs` serves the interactive page.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sqlx::PgPool;

use crate::helpers::TestApp;

/// The paths the router really serves, read from its debug listing (axum keeps every
/// registered path in its route table; nested routers are flattened into it).
fn served_paths(app: &TestApp) -> BTreeSet<String> {
    let listing = format!("{:?}", app.router);
    let mut paths = BTreeSet::new();
    let mut rest = listing.as_str();
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at..];
        let Some(colon) = rest.find("): \"") else {
            break;
        };
        let start = colon + 4;
        let end = start + rest[start..].find('"').unwrap();
        paths.insert(rest[start..end].to_owned());
        rest = &rest[end..];
    }
    paths
}

/// The methods a path answers, from the `Allow` header of a 405 to a method nobody serves.
async fn served_methods(app: &TestApp, path: &str) -> BTreeSet<String> {
    let uri = path.replace("{id}", "1").replace(['{', '}'], "");
    let response = app
        .request(
            Request::builder()
                .method(Method::TRACE)
                .uri(&uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "TRACE {uri}: {}",
        response.text()
    );
    let allow = response.headers[header::ALLOW].to_str().unwrap();
    allow
        .split(',')
        .map(|m| m.trim().to_lowercase())
        .filter(|m| m != "head")
        .collect()
}

#[sqlx::test]
async fn every_api_route_is_in_the_document_with_its_methods(db: PgPool) {
    let app = TestApp::new(db);
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status, StatusCode::OK);
    let document = response.json();
    assert_eq!(document["openapi"], "3.1.0");
    let documented: BTreeMap<String, BTreeSet<String>> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item.as_object().unwrap().keys();
            (
                path.clone(),
                methods.filter(|k| *k != "parameters").cloned().collect(),
            )
        })
        .collect();

    let served = served_paths(&app);
    assert!(
        served.len() > 50,
        "the route listing was not read: {served:?}"
    );
    let api: Vec<&String> = served
        .iter()
        .filter(|p| p.starts_with("/api/") && !p.starts_with("/api/docs"))
        .collect();
    assert!(api.len() > 60, "too few API routes read: {api:?}");

    let mut missing = Vec::new();
    for path in &api {
        let methods = served_methods(&app, path).await;
        match documented.get(*path) {
            None => missing.push(format!("{path} (all of {methods:?})")),
            Some(described) if *described != methods => missing.push(format!(
                "{path}: served {methods:?}, described {described:?}"
            )),
            Some(_) => {}
        }
    }
    assert!(
        missing.is_empty(),
        "routes not described in the document: {missing:#?}"
    );

    let phantom: Vec<&String> = documented.keys().filter(|p| !served.contains(*p)).collect();
    assert!(phantom.is_empty(), "described but not served: {phantom:?}");
}

#[sqlx::test]
async fn every_operation_names_its_success_and_its_problem_shape(db: PgPool) {
    let app = TestApp::new(db);
    let document = app.get("/api/v1/openapi.json").await.json();
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('2') || s.starts_with('3')),
                "{method} {path} has no success response"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = &response["content"];
                    if path.starts_with("/api/") {
                        assert_eq!(
                            content["application/problem+json"]["schema"]["$ref"],
                            "#/components/schemas/Problem",
                            "{method} {path} {status} is not a problem document"
                        );
                    }
                }
            }
            assert!(
                operation["summary"].is_string(),
                "{method} {path} has no summary"
            );
        }
    }
    assert!(operations > 80, "only {operations} operations");
}

/// What the code adds to the generated operations after the fact (the guest cart's token on the
/// cart operations and login, checkout's optional body) is in the document.
#[sqlx::test]
async fn the_guest_cart_token_and_the_optional_checkout_body_are_described(db: PgPool) {
    let app = TestApp::new(db);
    let document = app.get("/api/v1/openapi.json").await.json();
    let paths = document["paths"].as_object().unwrap();
    let mut described = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            if path.starts_with("/api/v1/cart") || path == "/api/v1/auth/login" {
                let names: Vec<&str> = operation["parameters"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
                    .iter()
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                assert!(
                    names.contains(&"X-Cart-Token") && names.contains(&"ngr_cart"),
                    "{method} {path}: {names:?}"
                );
                described += 1;
            }
        }
    }
    assert!(
        described >= 5,
        "only {described} operations take the cart token"
    );
    assert_eq!(
        paths["/api/v1/orders"]["post"]["requestBody"]["required"],
        false
    );
}

#[sqlx::test]
async fn the_interactive_page_is_served_from_the_binary(db: PgPool) {
    let app = TestApp::new(db);
    let redirect = app.get("/api/docs").await;
    assert_eq!(redirect.status, StatusCode::SEE_OTHER);
    assert_eq!(redirect.headers[header::LOCATION], "/api/docs/");

    let page = app.get("/api/docs/").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://unpkg"),
        "loads nothing from elsewhere: {html}"
    );

    let init = app.get("/api/docs/swagger-initializer.js").await;
    assert_eq!(init.status, StatusCode::OK);
    assert!(
        init.text().contains("\"/api/v1/openapi.json\""),
        "{}",
        init.text()
    );
    let bundle = app.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.body.len() > 100_000);
}

/// Swagger UI runs under the site's CSP in real Chromium: the operations render, and "Try it
/// out" on a probe gets the live answer.
#[sqlx::test]
async fn the_interactive_page_works_in_a_real_browser(db: PgPool) {
    use crate::browser::{AppServer, Browser};
    use fantoccini::Locator;

    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::with_default_catalog(db).await;
    let server = AppServer::start(app.router.clone()).await;
    browser.goto(&server.url("/api/docs/")).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while browser.count(".opblock").await < 80 {
        assert!(
            std::time::Instant::now() < deadline,
            "Swagger UI rendered {} operations",
            browser.count(".opblock").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        browser
            .text(".info .title")
            .await
            .contains("NextGenRDP API")
    );

    let client = browser.client();
    let operation = "#operations-catalog-list_plans";
    client
        .find(Locator::Css(&format!(
            "{operation} .opblock-summary-control"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // "Try it out" is on from the start (tryItOutEnabled), so Execute is there at once.
    client
        .wait()
        .for_element(Locator::Css(&format!("{operation} .execute")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status = client
        .wait()
        .for_element(Locator::Css(&format!(
            "{operation} .live-responses-table tbody .response-col_status"
        )))
        .await
        .unwrap();
    assert_eq!(status.text().await.unwrap().trim(), "200");
    let body = browser
        .text(&format!("{operation} .live-responses-table .microlight"))
        .await;
    assert!(body.contains("price_pkr"), "{body}");
    browser.screenshot("api-docs-desktop").await;
    browser.close().await;
}
