//! The storefront pages (`/`, `/rdp`, `/vps`, `/category/{slug}`, `/plans/{id}`) through the real
//! router: they show the database's catalog, filter and sort it, refuse bad filters, and show an
//! operator's price edit at once.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use nextgenrdp::catalog::plans;
use serde_json::json;
use sqlx::PgPool;

use super::Visitor;
use crate::helpers::TestApp;

async fn location_id(db: &PgPool, slug: &str) -> i32 {
    sqlx::query_scalar("select id from locations where slug = $1")
        .bind(slug)
        .fetch_one(db)
        .await
        .unwrap()
}

fn card(id: &str) -> String {
    format!(r#"data-plan-id="{id}""#)
}

/// The plan ids of the cards in a page, in page order.
fn card_ids(html: &str) -> Vec<String> {
    html.match_indices(r#"<article class="plan-card"#)
        .map(|(at, _)| {
            let rest = &html[at..];
            let start = rest.find(r#"data-plan-id=""#).unwrap() + r#"data-plan-id=""#.len();
            rest[start..].chars().take_while(|c| *c != '"').collect()
        })
        .collect()
}

#[sqlx::test]
async fn category_pages_show_every_active_plan_of_their_category_and_no_other(db: PgPool) {
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    sqlx::query("update plans set is_active = false where id = 'rdp-ultra-four'")
        .execute(&db)
        .await
        .unwrap();
    let app = TestApp::new(db.clone());
    let rdp_plans = plans::list_active(&db, Some("rdp")).await.unwrap();
    let vps_plans = plans::list_active(&db, Some("vps")).await.unwrap();
    assert_eq!(rdp_plans.len(), 3);

    let page = app.get("/rdp").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    assert!(
        html.contains("<h1 id=\"page-title\">Windows RDP</h1>"),
        "{html}"
    );
    let ids: Vec<String> = rdp_plans.iter().map(|p| p.id.clone()).collect();
    assert_eq!(
        card_ids(&html),
        ids,
        "the active RDP plans, in display order"
    );
    for plan in &rdp_plans {
        let price = nextgenrdp::money::format_pkr(plan.price_pkr);
        for text in [
            &plan.name,
            &plan.cpu,
            &plan.ram,
            &plan.storage,
            &plan.bandwidth,
            &price,
        ] {
            assert!(html.contains(text.as_str()), "{} lacks {text}", plan.id);
        }
        assert!(html.contains(&format!(r#"href="/plans/{}""#, plan.id)));
    }
    assert!(
        html.contains("Rs 2,500</span><span class=\"per\">/mo"),
        "price per month"
    );
    assert!(
        html.contains(r#"class="plan-card theme-violet""#),
        "theme colours"
    );
    assert!(
        html.contains(r#"<span class="badge">Most Selling</span>"#),
        "labels"
    );
    assert!(
        !html.contains(&card("rdp-ultra-four")),
        "an inactive plan is hidden"
    );
    for plan in &vps_plans {
        assert!(!html.contains(&card(&plan.id)), "{} is a VPS", plan.id);
    }
    // the navigation leads to the category pages
    assert!(html.contains(r#"<a href="/rdp">Windows RDP</a>"#));
    assert!(html.contains(r#"<a href="/vps">Linux VPS</a>"#));

    let vps = app.get("/vps").await.text();
    let ids: Vec<String> = vps_plans.iter().map(|p| p.id.clone()).collect();
    assert_eq!(card_ids(&vps), ids);

    // any category has a page of its own; an unknown one is a 404 page
    let by_slug = app.get("/category/vps").await;
    assert_eq!(by_slug.status, StatusCode::OK);
    assert_eq!(card_ids(&by_slug.text()), ids);
    let unknown = app.get("/category/gpu").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.header("content-type").starts_with("text/html"));
}

#[sqlx::test]
async fn category_pages_revalidate_with_an_etag(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut visitor = Visitor::new(&app);
    visitor.get("/").await; // receives its CSRF cookie, so the pages stay the same
    let page = visitor.get("/rdp").await;
    assert_eq!(page.header("cache-control"), "private, no-cache");
    let etag = page.header("etag").to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");

    let cookies = format!("ngr_csrf={}", visitor.cookie("ngr_csrf").unwrap());
    let again = Request::get("/rdp")
        .header(header::COOKIE, &cookies)
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .unwrap();
    let again = app.request(again).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
}

#[sqlx::test]
async fn category_pages_filter_by_location_and_sort_by_price(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let singapore = location_id(&db, "sg-singapore").await;

    let page = app.get(&format!("/rdp?location={singapore}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    assert_eq!(card_ids(&html), ["rdp-business-two", "rdp-pro-three"]);
    assert!(html.contains("2 of 4 plans sold in Singapore"), "{html}");
    assert!(html.contains(&format!(
        r#"<option value="{singapore}" selected>Singapore</option>"#
    )));
    // the cards keep the chosen location for the plan page
    assert!(html.contains("href=\"/plans/rdp-pro-three?location="));

    let cheapest = app.get("/rdp?sort=price").await.text();
    assert_eq!(
        card_ids(&cheapest),
        [
            "rdp-starter-one",
            "rdp-business-two",
            "rdp-pro-three",
            "rdp-ultra-four"
        ]
    );
    let dearest = app
        .get(&format!("/vps?location={singapore}&sort=-price"))
        .await
        .text();
    assert_eq!(
        card_ids(&dearest),
        ["vps-standard-three", "vps-basic-two", "vps-nano-one"]
    );
    assert!(dearest.contains(r#"<option value="-price" selected>"#));

    // an empty choice means "any", and parameters of adverts are ignored
    let any = app
        .get("/rdp?location=&sort=&utm_source=facebook&fbclid=x1")
        .await;
    assert_eq!(any.status, StatusCode::OK);
    assert_eq!(card_ids(&any.text()).len(), 4);
}

#[sqlx::test]
async fn a_bad_filter_is_a_400_page_naming_it(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    for (query, named) in [
        ("location=abc", "location"),
        ("location=99999", "location"),
        ("sort=cheapest", "sort"),
    ] {
        let page = app.get(&format!("/rdp?{query}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            page.header("content-type").starts_with("text/html"),
            "{query}"
        );
        let html = page.text();
        assert!(
            html.contains(&format!("The {named} filter")),
            "{query} does not name the filter: {html}"
        );
    }
}

#[sqlx::test]
async fn the_plan_page_offers_only_the_plans_open_locations_in_its_form(db: PgPool) {
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    // London is closed: it is not offered although the plan is sold there.
    sqlx::query("update locations set is_active = false where slug = 'gb-london'")
        .execute(&db)
        .await
        .unwrap();
    let app = TestApp::new(db.clone());
    let mut visitor = Visitor::new(&app);
    let page = visitor.get("/plans/rdp-starter-one").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    for text in [
        "<h1 id=\"page-title\">RDP Starter</h1>",
        "2 vCore",
        "4 GB RAM",
        "40 GB NVMe SSD",
        "Windows Server 2022",
        "Full administrator access",
        "Delivered within 24 hours",
        "Rs 2,500",
    ] {
        assert!(html.contains(text), "{text} missing");
    }

    let start = html
        .find(r#"<form method="post" action="/cart/items""#)
        .expect("the add-to-cart form");
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    let token = visitor.cookie("ngr_csrf").expect("a CSRF cookie");
    assert!(form.contains(&format!(r#"name="csrf_token" value="{token}""#)));
    assert!(form.contains(r#"<input type="hidden" name="plan_id" value="rdp-starter-one">"#));
    assert!(
        form.contains(r#"<label for="location_id">"#)
            && form.contains(r#"<select id="location_id" name="location_id""#)
    );
    let mut expected = Vec::new();
    for slug in ["de-frankfurt", "nl-amsterdam", "us-new-york"] {
        expected.push(location_id(&db, slug).await);
    }
    let select = &form[form.find(r#"name="location_id""#).unwrap()..];
    let select = &select[..select.find("</select>").unwrap()];
    let location_options: Vec<i32> = select
        .match_indices(r#"<option value=""#)
        .map(|(at, m)| {
            select[at + m.len()..]
                .chars()
                .take_while(|c| *c != '"')
                .collect::<String>()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(location_options, expected, "only the plan's open locations");
    assert!(!select.contains("London") && !select.contains("Singapore"));
    for (months, text) in [
        (1, "1 month — Rs 2,500"),
        (3, "3 months — Rs 7,500"),
        (6, "6 months — Rs 15,000"),
        (12, "12 months — Rs 30,000"),
    ] {
        assert!(
            form.contains(&format!(r#"<option value="{months}">{text}</option>"#)),
            "{text}"
        );
    }
    assert!(form.contains(r#"name="validity_months""#));
    assert!(
        form.contains(r#"<input id="quantity" name="quantity" type="number" min="1" max="10""#)
    );
    assert!(form.contains(
        r#"<button type="submit" class="button button-primary button-block">Add to cart</button>"#
    ));

    // a location chosen on the category page is preselected
    let frankfurt = location_id(&db, "de-frankfurt").await;
    let new_york = location_id(&db, "us-new-york").await;
    let chosen = visitor
        .get(&format!("/plans/rdp-starter-one?location={new_york}"))
        .await
        .text();
    assert!(chosen.contains(&format!(r#"<option value="{new_york}" selected>"#)));
    assert!(!chosen.contains(&format!(r#"<option value="{frankfurt}" selected>"#)));
}

#[sqlx::test]
async fn an_unknown_or_inactive_plan_is_a_404_page(db: PgPool) {
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    sqlx::query("update plans set is_active = false where id = 'vps-power-four'")
        .execute(&db)
        .await
        .unwrap();
    let app = TestApp::new(db);
    for path in ["/plans/no-such-plan", "/plans/vps-power-four"] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.header("content-type").starts_with("text/html"));
        assert!(page.text().contains("plan not found"), "{path}");
    }
}

#[sqlx::test]
async fn the_home_page_links_the_categories_and_features_the_labelled_plans(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let page = app.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains(r#"<a class="category-card" href="/rdp" data-category="rdp">"#),
        "{html}"
    );
    assert!(html.contains(r#"<a class="category-card" href="/vps" data-category="vps">"#));
    assert!(html.contains("from <strong>Rs 2,500</strong>/mo"));
    assert!(html.contains("from <strong>Rs 1,200</strong>/mo"));
    assert!(html.contains(r#"href="/rdp">Windows RDP from Rs 2,500/mo</a>"#));
    // the labelled plans, in catalog order; the others are a click away
    assert_eq!(
        card_ids(&html),
        [
            "rdp-business-two",
            "rdp-pro-three",
            "vps-basic-two",
            "vps-standard-three"
        ]
    );
    assert!(html.contains("Most Selling") && html.contains("Recommended"));
}

#[sqlx::test]
async fn a_price_edited_through_the_admin_api_shows_on_the_category_page_at_once(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str().unwrap();
    let before = app.get("/rdp").await.text();
    assert!(before.contains("Rs 2,500</span>"));

    let edited = app
        .send_json_as(
            Some(token),
            Method::PATCH,
            "/api/v1/admin/plans/rdp-starter-one",
            &json!({ "price_pkr": 2750 }),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());

    let after = app.get("/rdp").await.text();
    assert!(after.contains("Rs 2,750</span>"), "the new price at once");
    assert!(!after.contains("Rs 2,500</span>"));
    let plan = app.get("/plans/rdp-starter-one").await.text();
    assert!(plan.contains("3 months — Rs 8,250"));
    let home = app.get("/").await.text();
    assert!(home.contains("from <strong>Rs 2,750</strong>/mo"));
}
