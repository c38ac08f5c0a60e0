//! The operator's catalog pages (`/admin/catalog/...`) through forms, cookies and CSRF tokens:
//! who may open them, forms with field errors that write nothing, on/off sale, reordering,
//! deleting what orders refer to, and the audit log behind every change.

use axum::http::StatusCode;
use nextgenrdp::audit;
use nextgenrdp::catalog::{locations, plan_features, plans};
use sqlx::PgPool;

use super::Visitor;
use crate::helpers::{TestApp, TestResponse};

const OPERATOR: &str = "owner@nextgenrdp.pk";

/// The default catalog and an operator logged in through the login form.
async fn operator(app: &TestApp) -> Visitor<'_> {
    app.admin(OPERATOR).await;
    let mut visitor = Visitor::new(app);
    visitor.log_in(OPERATOR, "operator-passphrase").await;
    visitor
}

async fn location_id(db: &PgPool, slug: &str) -> i32 {
    sqlx::query_scalar("select id from locations where slug = $1")
        .bind(slug)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn audit_actions(app: &TestApp, entity_type: &str, entity_id: &str) -> Vec<String> {
    let mut entries = audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity(entity_type, Some(entity_id)),
        50,
        0,
    )
    .await
    .unwrap();
    entries.reverse();
    entries.into_iter().map(|e| e.action).collect()
}

async fn display_order(db: &PgPool, id: &str) -> i32 {
    plans::find(db, id).await.unwrap().unwrap().display_order
}

fn location(response: &TestResponse) -> &str {
    response.header("location")
}

/// The fields of a complete, valid plan form.
fn plan_fields(id: &str, price: &str) -> Vec<(&'static str, String)> {
    vec![
        ("id", id.to_owned()),
        ("category", "rdp".to_owned()),
        ("name", "RDP Gamer".to_owned()),
        ("description", "A fast desktop for streaming.".to_owned()),
        ("cpu", "8 vCore".to_owned()),
        ("ram", "16 GB RAM".to_owned()),
        ("storage", "200 GB NVMe SSD".to_owned()),
        ("bandwidth", "Unmetered".to_owned()),
        ("os", "Windows Server 2022".to_owned()),
        ("price_pkr", price.to_owned()),
        ("theme_color", "violet".to_owned()),
        ("label", "New".to_owned()),
        ("display_order", "9".to_owned()),
        ("is_active", "on".to_owned()),
        (
            "features",
            "Full admin access\r\n\r\n  1 Gbps port  \r\n".to_owned(),
        ),
    ]
}

fn borrowed<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[sqlx::test]
async fn the_catalog_pages_are_for_operators_only(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let pages = [
        "/admin/catalog",
        "/admin/catalog/plans",
        "/admin/catalog/plans/new",
        "/admin/catalog/plans/rdp-starter-one",
        "/admin/catalog/categories",
        "/admin/catalog/categories/new",
        "/admin/catalog/categories/1",
        "/admin/catalog/locations",
        "/admin/catalog/locations/new",
        "/admin/catalog/locations/1",
    ];
    let mut anonymous = Visitor::new(&app);
    for page in pages {
        let response = anonymous.get(page).await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{page}");
        assert!(
            location(&response).starts_with("/login?next=%2Fadmin%2Fcatalog"),
            "{page}"
        );
    }
    // a form sent without a session is refused the same way (with a valid CSRF token)
    let token = anonymous.csrf_of("/login").await;
    let refused = anonymous
        .post(
            "/admin/catalog/plans/rdp-starter-one/deactivate",
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    assert!(location(&refused).starts_with("/login"));

    app.verified_customer("ayesha@example.pk").await;
    let mut customer = Visitor::new(&app);
    customer
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    for page in pages {
        let response = customer.get(page).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{page}");
        assert!(response.text().contains("operators"), "{page}");
    }
    let token = customer.csrf_of("/account").await;
    let refused = customer
        .post(
            "/admin/catalog/plans/rdp-starter-one/deactivate",
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        plans::find(&app.db, "rdp-starter-one")
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );

    let mut operator = operator(&app).await;
    for page in pages {
        let response = operator.get(page).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{page}: {}",
            response.text()
        );
    }
    let overview = operator.get("/admin/catalog").await.text();
    for link in [
        "/admin/catalog/plans",
        "/admin/catalog/categories",
        "/admin/catalog/locations",
    ] {
        assert!(overview.contains(&format!(r#"href="{link}""#)), "{link}");
    }
    let list = operator.get("/admin/catalog/plans").await.text();
    for text in [
        "rdp-starter-one",
        "RDP Starter",
        "Rs 2,500",
        "Most Selling",
        "Deactivate",
        "Move up",
        "Move down",
    ] {
        assert!(list.contains(text), "{text} missing from the list");
    }
}

#[sqlx::test]
async fn a_plan_with_bad_input_comes_back_with_its_field_errors_and_nothing_is_written(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut operator = operator(&app).await;
    let plans_before = plans::count(&app.db).await.unwrap();
    let audit_before = audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("plan", None),
        100,
        0,
    )
    .await
    .unwrap()
    .len();

    let mut fields = plan_fields("Bad ID!", "abc");
    for (name, value) in &mut fields {
        match *name {
            "name" | "ram" => value.clear(),
            "theme_color" => *value = "pink".to_owned(),
            _ => {}
        }
    }
    let page = operator
        .submit(
            "/admin/catalog/plans/new",
            "/admin/catalog/plans",
            &borrowed(&fields),
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.text()
    );
    let html = page.text();
    for (field, message) in [
        ("id", "Plan ID must be 3 to 50 characters"),
        ("name", "Name is required."),
        ("ram", "Memory is required."),
        (
            "price_pkr",
            "Monthly price must be a whole number of rupees",
        ),
        ("theme_color", "Theme colour must be one of"),
    ] {
        let error = format!(r#"<p class="field-error" id="{field}-error">{message}"#);
        assert!(html.contains(&error), "no error beside {field}: {html}");
    }
    // the input is kept
    assert!(html.contains(r#"value="Bad ID!""#));
    assert!(html.contains(r#"value="abc""#));
    assert!(html.contains("200 GB NVMe SSD"));
    assert!(html.contains("Full admin access"));
    // and nothing was written
    assert_eq!(plans::count(&app.db).await.unwrap(), plans_before);
    assert_eq!(
        audit::list(
            &app.db,
            &nextgenrdp::audit::AuditFilter::entity("plan", None),
            100,
            0
        )
        .await
        .unwrap()
        .len(),
        audit_before
    );

    // a taken id is reported beside the id
    let taken = operator
        .submit(
            "/admin/catalog/plans/new",
            "/admin/catalog/plans",
            &borrowed(&plan_fields("rdp-starter-one", "9000")),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(
        taken
            .text()
            .contains(r#"id="id-error">A plan with this id already exists."#)
    );
}

#[sqlx::test]
async fn a_plan_created_through_the_form_is_on_sale_at_once_and_audited(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let mut operator = operator(&app).await;
    let frankfurt = location_id(&db, "de-frankfurt").await.to_string();
    let singapore = location_id(&db, "sg-singapore").await.to_string();
    let owned = plan_fields("rdp-gamer-five", "Rs 12,000");
    let mut fields = borrowed(&owned);
    fields.push(("location_ids", &frankfurt));
    fields.push(("location_ids", &singapore));
    let created = operator
        .submit("/admin/catalog/plans/new", "/admin/catalog/plans", &fields)
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());
    assert_eq!(
        location(&created),
        "/admin/catalog/plans?notice=plan-created"
    );
    let notice = operator.get(location(&created)).await.text();
    assert!(notice.contains("The plan is created."));

    let plan = plans::find(&db, "rdp-gamer-five")
        .await
        .unwrap()
        .expect("created");
    assert_eq!(
        (plan.price_pkr, plan.label.as_deref(), plan.display_order),
        (12000, Some("New"), 9)
    );
    let features: Vec<String> = plan_features::list_for_plan(&db, "rdp-gamer-five")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.feature)
        .collect();
    assert_eq!(
        features,
        ["Full admin access", "1 Gbps port"],
        "one per line, trimmed"
    );
    let sold_in = locations::ids_for_plan(&db, "rdp-gamer-five")
        .await
        .unwrap();
    assert_eq!(sold_in.len(), 2);
    assert_eq!(
        audit_actions(&app, "plan", "rdp-gamer-five").await,
        ["plan.create"]
    );

    let rdp = operator.get("/rdp").await.text();
    assert!(rdp.contains(r#"data-plan-id="rdp-gamer-five""#));
    assert!(rdp.contains("Rs 12,000"));
    let page = operator.get("/plans/rdp-gamer-five").await.text();
    assert!(page.contains("Singapore") && !page.contains("London"));
}

#[sqlx::test]
async fn an_edited_price_shows_on_the_category_page_at_once(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut operator = operator(&app).await;
    assert!(
        operator
            .get("/rdp")
            .await
            .text()
            .contains("Rs 2,500</span>")
    );
    let form = operator
        .get("/admin/catalog/plans/rdp-starter-one")
        .await
        .text();
    assert!(form.contains(r#"value="2500""#));
    assert!(
        form.contains("Full administrator access\nDedicated IPv4 address"),
        "features one per line"
    );

    // the form sent back as the browser would, with one change
    let mut fields: Vec<(&str, String)> = plan_fields("rdp-starter-one", "2,750");
    fields.retain(|(name, _)| *name != "label" && *name != "display_order");
    fields.push(("display_order", "1".to_owned()));
    let saved = operator
        .submit(
            "/admin/catalog/plans/rdp-starter-one",
            "/admin/catalog/plans/rdp-starter-one",
            &borrowed(&fields),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    assert_eq!(location(&saved), "/admin/catalog/plans?notice=plan-saved");
    let rdp = operator.get("/rdp").await.text();
    assert!(rdp.contains("Rs 2,750</span>"), "the new price at once");
    assert_eq!(
        audit_actions(&app, "plan", "rdp-starter-one").await,
        ["plan.update"]
    );
}

#[sqlx::test]
async fn deactivating_hides_the_plan_from_the_shop_and_activating_brings_it_back(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut operator = operator(&app).await;
    assert!(
        operator
            .get("/rdp")
            .await
            .text()
            .contains(r#"data-plan-id="rdp-pro-three""#)
    );

    let off = operator
        .submit(
            "/admin/catalog/plans",
            "/admin/catalog/plans/rdp-pro-three/deactivate",
            &[],
        )
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert_eq!(
        location(&off),
        "/admin/catalog/plans?notice=plan-deactivated#plan-rdp-pro-three"
    );
    assert!(
        !operator
            .get("/rdp")
            .await
            .text()
            .contains(r#"data-plan-id="rdp-pro-three""#)
    );
    assert_eq!(
        operator.get("/plans/rdp-pro-three").await.status,
        StatusCode::NOT_FOUND
    );
    let list = operator
        .get("/admin/catalog/plans?notice=plan-deactivated")
        .await
        .text();
    assert!(list.contains("The plan is off sale."));
    assert!(list.contains("/admin/catalog/plans/rdp-pro-three/activate"));

    let on = operator
        .submit(
            "/admin/catalog/plans",
            "/admin/catalog/plans/rdp-pro-three/activate",
            &[],
        )
        .await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    assert!(
        operator
            .get("/rdp")
            .await
            .text()
            .contains(r#"data-plan-id="rdp-pro-three""#)
    );
    assert_eq!(
        audit_actions(&app, "plan", "rdp-pro-three").await,
        ["plan.update", "plan.update"]
    );
}

#[sqlx::test]
async fn moving_a_plan_swaps_it_with_its_neighbour_in_the_category(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let mut operator = operator(&app).await;
    assert_eq!(display_order(&db, "rdp-starter-one").await, 1);
    assert_eq!(display_order(&db, "rdp-business-two").await, 2);

    let moved = operator
        .submit(
            "/admin/catalog/plans",
            "/admin/catalog/plans/rdp-business-two/move-up",
            &[],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.text());
    assert_eq!(
        location(&moved),
        "/admin/catalog/plans?notice=plan-moved#plan-rdp-business-two"
    );
    assert_eq!(display_order(&db, "rdp-business-two").await, 1);
    assert_eq!(display_order(&db, "rdp-starter-one").await, 2);
    let rdp = operator.get("/rdp").await.text();
    let business = rdp.find(r#"data-plan-id="rdp-business-two""#).unwrap();
    let starter = rdp.find(r#"data-plan-id="rdp-starter-one""#).unwrap();
    assert!(business < starter, "the shop shows the new order at once");
    assert_eq!(
        audit_actions(&app, "plan", "rdp-business-two").await,
        ["plan.update"]
    );
    assert_eq!(
        audit_actions(&app, "plan", "rdp-starter-one").await,
        ["plan.update"]
    );

    // down again; the first plan cannot move up; other categories are untouched
    operator
        .submit(
            "/admin/catalog/plans",
            "/admin/catalog/plans/rdp-business-two/move-down",
            &[],
        )
        .await;
    assert_eq!(display_order(&db, "rdp-starter-one").await, 1);
    assert_eq!(display_order(&db, "rdp-business-two").await, 2);
    let first = operator
        .submit(
            "/admin/catalog/plans",
            "/admin/catalog/plans/rdp-starter-one/move-up",
            &[],
        )
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(display_order(&db, "rdp-starter-one").await, 1);
    assert_eq!(display_order(&db, "vps-nano-one").await, 1);
}

#[sqlx::test]
async fn deleting_a_plan_orders_refer_to_shows_why_and_keeps_it(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let mut operator = operator(&app).await;
    // an order of RDP Starter, as checkout would write it
    let customer = app.verified_customer("ayesha@example.pk").await;
    let user_id = customer["user"]["id"].as_i64().unwrap() as i32;
    let order_id: i32 = sqlx::query_scalar(
        "insert into orders (user_id, status, total_amount_pkr, final_amount_pkr)
         values ($1, 'pending_payment', 2500, 2500) returning id",
    )
    .bind(user_id)
    .fetch_one(&db)
    .await
    .unwrap();
    sqlx::query(
        "insert into order_items (order_id, plan_id, location_id, price_at_order_pkr)
         values ($1, 'rdp-starter-one', $2, 2500)",
    )
    .bind(order_id)
    .bind(location_id(&db, "de-frankfurt").await)
    .execute(&db)
    .await
    .unwrap();

    let edit = "/admin/catalog/plans/rdp-starter-one";
    let page = operator.get(edit).await.text();
    assert!(
        page.contains(r#"<details class="confirm" id="confirm-delete">"#)
            && page.contains("is removed from the shop for good"),
        "deleting a plan asks first"
    );
    let refused = operator
        .submit(edit, "/admin/catalog/plans/rdp-starter-one/delete", &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let html = refused.text();
    assert!(
        html.contains("Not deleted: plan is referenced by 1 order; deactivate it instead."),
        "{html}"
    );
    assert!(
        html.contains(r#"value="RDP Starter""#),
        "the plan's form is shown again"
    );
    assert!(plans::find(&db, "rdp-starter-one").await.unwrap().is_some());
    assert!(
        audit_actions(&app, "plan", "rdp-starter-one")
            .await
            .is_empty()
    );

    // a plan nobody ordered is deleted
    let deleted = operator
        .submit(
            "/admin/catalog/plans/rdp-ultra-four",
            "/admin/catalog/plans/rdp-ultra-four/delete",
            &[],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(
        location(&deleted),
        "/admin/catalog/plans?notice=plan-deleted"
    );
    assert!(plans::find(&db, "rdp-ultra-four").await.unwrap().is_none());
    assert_eq!(
        audit_actions(&app, "plan", "rdp-ultra-four").await,
        ["plan.delete"]
    );
    assert!(!operator.get("/rdp").await.text().contains("rdp-ultra-four"));
}

#[sqlx::test]
async fn categories_and_locations_are_managed_through_their_forms(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let mut operator = operator(&app).await;

    // a category: bad input, a taken slug, then a good one
    let bad = operator
        .submit(
            "/admin/catalog/categories/new",
            "/admin/catalog/categories",
            &[("name", ""), ("slug", "No Good"), ("display_order", "3")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text();
    assert!(
        html.contains(r#"id="name-error">Name is required."#),
        "{html}"
    );
    assert!(html.contains(r#"id="slug-error">Slug must be 3 to 50 characters"#));
    assert!(html.contains(r#"value="No Good""#));
    let taken = operator
        .submit(
            "/admin/catalog/categories/new",
            "/admin/catalog/categories",
            &[
                ("name", "More RDP"),
                ("slug", "rdp"),
                ("display_order", "3"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(
        taken
            .text()
            .contains(r#"id="slug-error">Another category already uses this slug."#)
    );
    let created = operator
        .submit(
            "/admin/catalog/categories/new",
            "/admin/catalog/categories",
            &[
                ("name", "GPU Servers"),
                ("slug", "gpu"),
                ("description", "Servers with graphics cards."),
                ("display_order", "3"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());
    assert_eq!(
        location(&created),
        "/admin/catalog/categories?notice=category-created"
    );
    let list = operator.get("/admin/catalog/categories").await.text();
    assert!(list.contains("GPU Servers"));

    // a category with plans is not deleted, and says why
    let refused = operator
        .submit(
            "/admin/catalog/categories/1",
            "/admin/catalog/categories/1/delete",
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text().contains("Not deleted: category has 4 plans"));

    // closing a location takes it out of the plans' forms at once
    let singapore = location_id(&db, "sg-singapore").await;
    assert!(
        operator
            .get("/plans/rdp-pro-three")
            .await
            .text()
            .contains("Singapore")
    );
    let closed = operator
        .submit(
            "/admin/catalog/locations",
            &format!("/admin/catalog/locations/{singapore}/deactivate"),
            &[],
        )
        .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER);
    assert_eq!(
        location(&closed),
        format!("/admin/catalog/locations?notice=location-deactivated#location-{singapore}")
    );
    assert!(
        !operator
            .get("/plans/rdp-pro-three")
            .await
            .text()
            .contains("Singapore")
    );
    assert_eq!(
        audit_actions(&app, "location", &singapore.to_string()).await,
        ["location.update"]
    );

    // a location's edit form keeps bad input beside its field
    let edit = format!("/admin/catalog/locations/{singapore}");
    let bad = operator
        .submit(
            &edit,
            &edit,
            &[
                ("name", "Singapore"),
                ("slug", "sg-singapore"),
                ("country_code", "S1"),
                ("display_order", "5"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains(
        r#"id="country_code-error">Country code must be a two-letter country code like PK."#
    ));
}
