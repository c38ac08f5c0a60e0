//! The cart, checkout and order pages (`/cart*`, `/checkout`, `/account/orders*`) through
//! forms, cookies and CSRF tokens as a browser sends them.

use axum::http::StatusCode;
use sqlx::PgPool;

use super::{Visitor, set_cookie_header};
use crate::helpers::{TestApp, TestResponse};

const PASSWORD: &str = "correct-horse-battery";

/// The id of a location where `plan` is sold.
pub async fn location_of(db: &PgPool, plan: &str) -> String {
    nextgenrdp::catalog::locations::list_for_plan(db, plan)
        .await
        .unwrap()[0]
        .id
        .to_string()
}

fn redirect_of(response: &TestResponse) -> &str {
    response.header("location")
}

/// The ids of the lines in every cart, oldest first.
async fn cart_item_ids(db: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("select id from cart_items order by id")
        .fetch_all(db)
        .await
        .unwrap()
}

async fn order_count(db: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from orders")
        .fetch_one(db)
        .await
        .unwrap()
}

/// Submits the plan page's "Add to cart" form (the same fields), with the plan page's token.
async fn add_to_cart(
    visitor: &mut Visitor<'_>,
    plan: &str,
    location: &str,
    months: &str,
    quantity: &str,
) -> TestResponse {
    visitor
        .submit(
            "/plans/rdp-starter-one",
            "/cart/items",
            &[
                ("plan_id", plan),
                ("location_id", location),
                ("validity_months", months),
                ("quantity", quantity),
            ],
        )
        .await
}

/// A verified customer (through the API), logged in through the login form.
async fn logged_in_customer<'a>(app: &'a TestApp, email: &str) -> Visitor<'a> {
    app.verified_customer(email).await;
    let mut visitor = Visitor::from(app, "198.51.100.60");
    visitor.log_in(email, PASSWORD).await;
    visitor
}

/// The value of the hidden field `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let needle = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} field: {html}"))
        + needle.len();
    html[start..].chars().take_while(|c| *c != '"').collect()
}

/// Checks out through the form with its hidden key; returns the response.
async fn check_out(visitor: &mut Visitor<'_>, key: &str, terms: bool) -> TestResponse {
    let page = visitor.get("/checkout").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let token = super::csrf_in(&page.text()).unwrap();
    let mut fields = vec![
        ("idempotency_key", key),
        ("payment_method", "manual"),
        ("notes", "Windows Server 2022 please"),
        ("csrf_token", token.as_str()),
    ];
    if terms {
        fields.push(("terms", "yes"));
    }
    visitor.post("/checkout", &fields).await
}

#[sqlx::test]
async fn a_guest_adds_updates_and_removes_lines_priced_from_the_database(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut guest = Visitor::new(&app);
    let empty = guest.get("/cart").await;
    assert_eq!(empty.status, StatusCode::OK);
    let html = empty.text();
    assert!(html.contains(r#"id="empty-cart""#), "{html}");
    assert!(html.contains(r#"href="/rdp""#) && html.contains(r#"href="/vps""#));
    assert!(
        html.contains(r#"<a href="/cart">Cart</a>"#),
        "the nav links to the cart"
    );

    let location = location_of(&app.db, "rdp-starter-one").await;
    let token = guest.csrf_of("/plans/rdp-starter-one").await;
    let added = guest
        .post(
            "/cart/items",
            &[
                ("plan_id", "rdp-starter-one"),
                ("location_id", &location),
                ("validity_months", "3"),
                ("quantity", "2"),
                ("price_pkr", "1"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
    assert_eq!(redirect_of(&added), "/cart?notice=added");
    let cookie = set_cookie_header(&added, "ngr_cart").expect("the guest cart cookie is set");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );

    let cart = guest.get("/cart?notice=added").await.text();
    let id = cart_item_ids(&app.db).await[0];
    assert!(cart.contains("Added to your cart."), "{cart}");
    assert!(cart.contains("RDP Starter"), "{cart}");
    assert!(
        cart.contains("Rs 2,500/mo"),
        "the database's monthly price: {cart}"
    );
    assert!(
        cart.contains(r#"id="cart-total">Rs 15,000<"#),
        "2,500 × 3 months × 2, never the form's price: {cart}"
    );
    assert!(cart.contains(&format!(r#"action="/cart/items/{id}""#)));
    assert!(cart.contains(&format!(r#"action="/cart/items/{id}/remove""#)));
    assert!(
        cart.contains(r#"<option value="3" selected>3 months</option>"#),
        "{cart}"
    );
    assert!(cart.contains(r#"href="/checkout""#), "checkout is open");

    // A new price shows at once.
    sqlx::query("update plans set price_pkr = 3000 where id = 'rdp-starter-one'")
        .execute(&app.db)
        .await
        .unwrap();
    assert!(
        guest
            .get("/cart")
            .await
            .text()
            .contains(r#"id="cart-total">Rs 18,000<"#)
    );

    let updated = guest
        .submit(
            "/cart",
            &format!("/cart/items/{id}"),
            &[("quantity", "4"), ("validity_months", "12")],
        )
        .await;
    assert_eq!(updated.status, StatusCode::SEE_OTHER, "{}", updated.text());
    assert_eq!(redirect_of(&updated), "/cart?notice=updated");
    let cart = guest.get("/cart").await.text();
    assert!(
        cart.contains(r#"id="cart-total">Rs 144,000<"#),
        "3,000 × 12 × 4: {cart}"
    );

    let too_many = guest
        .submit(
            "/cart",
            &format!("/cart/items/{id}"),
            &[("quantity", "11"), ("validity_months", "12")],
        )
        .await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = too_many.text();
    assert!(
        html.contains(&format!(
            r#"id="line-{id}-error" role="alert">Quantity must be between 1 and 10.<"#
        )),
        "{html}"
    );
    let odd = guest
        .submit(
            "/cart",
            &format!("/cart/items/{id}"),
            &[("quantity", "1"), ("validity_months", "2")],
        )
        .await;
    assert_eq!(odd.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        odd.text().contains("Months must be 1, 3, 6 or 12."),
        "{}",
        odd.text()
    );

    // Another guest cannot touch this line.
    let mut stranger = Visitor::from(&app, "203.0.113.9");
    add_to_cart(
        &mut stranger,
        "vps-nano-one",
        &location_of(&app.db, "vps-nano-one").await,
        "1",
        "1",
    )
    .await;
    let theirs = stranger
        .submit("/cart", &format!("/cart/items/{id}/remove"), &[])
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert!(theirs.header("content-type").starts_with("text/html"));

    let removed = guest
        .submit("/cart", &format!("/cart/items/{id}/remove"), &[])
        .await;
    assert_eq!(redirect_of(&removed), "/cart?notice=removed");
    assert!(
        guest
            .get("/cart")
            .await
            .text()
            .contains(r#"id="empty-cart""#)
    );
}

#[sqlx::test]
async fn a_bad_line_is_explained_on_the_cart_page_and_writes_nothing(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut guest = Visitor::new(&app);
    let location = location_of(&app.db, "rdp-starter-one").await;
    let cases = [
        (
            "no-such-plan",
            location.as_str(),
            "1",
            "1",
            "No such plan is on sale.",
        ),
        ("rdp-starter-one", "abc", "1", "1", "Choose a location."),
        (
            "rdp-starter-one",
            location.as_str(),
            "2",
            "1",
            "Months must be 1, 3, 6 or 12.",
        ),
        (
            "rdp-starter-one",
            location.as_str(),
            "1",
            "0",
            "Quantity must be between 1 and 10.",
        ),
        (
            "rdp-starter-one",
            location.as_str(),
            "1",
            "lots",
            "Quantity must be a whole number.",
        ),
    ];
    for (plan, location, months, quantity, message) in cases {
        let refused = add_to_cart(&mut guest, plan, location, months, quantity).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{plan} {location} {months} {quantity}"
        );
        let html = refused.text();
        assert!(
            html.contains("We could not add that plan to your cart."),
            "{html}"
        );
        assert!(html.contains(message), "{message}: {html}");
        assert!(
            html.contains(&format!(r#"href="/plans/{plan}""#)),
            "a way back to the plan: {html}"
        );
    }
    let carts: i64 = sqlx::query_scalar("select count(*) from carts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(carts, 0, "bad input wrote nothing");
    assert!(guest.cookie("ngr_cart").is_none());

    // Without the CSRF token nothing happens either.
    let forged = guest
        .post(
            "/cart/items",
            &[
                ("plan_id", "rdp-starter-one"),
                ("location_id", &location),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.text().contains("did not come from this site"));
    let carts: i64 = sqlx::query_scalar("select count(*) from carts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(carts, 0);
}

#[sqlx::test]
async fn a_promo_code_applies_on_the_cart_page_or_says_why_not(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    sqlx::query(
        "insert into promo_codes (code, discount_type, discount_value, min_order_value)
         values ('SAVE10', 'percentage', 10, 0), ('BIG', 'fixed_amount', 500, 50000)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let mut guest = Visitor::new(&app);
    let refused = guest
        .submit("/login", "/cart/promo", &[("code", "SAVE10")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .contains("Add a plan to your cart before a promo code."),
        "{}",
        refused.text()
    );

    let location = location_of(&app.db, "rdp-starter-one").await;
    add_to_cart(&mut guest, "rdp-starter-one", &location, "3", "2").await;

    let unknown = guest
        .submit("/cart", "/cart/promo", &[("code", "NOPE")])
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = unknown.text();
    assert!(
        html.contains(
            r#"<p class="field-error" id="code-error">This promo code does not exist.</p>"#
        ),
        "{html}"
    );
    assert!(html.contains(r#"value="NOPE""#), "the code typed is kept");
    assert!(html.contains(r#"aria-describedby="code-error""#));
    let small = guest
        .submit("/cart", "/cart/promo", &[("code", "big")])
        .await;
    assert_eq!(small.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        small
            .text()
            .contains("This promo code needs an order of at least Rs 50,000."),
        "{}",
        small.text()
    );

    let applied = guest
        .submit("/cart", "/cart/promo", &[("code", "save10")])
        .await;
    assert_eq!(redirect_of(&applied), "/cart?notice=promo-applied");
    let cart = guest.get("/cart?notice=promo-applied").await.text();
    assert!(cart.contains("Promo code applied."));
    assert!(
        cart.contains(r#"<span class="badge">SAVE10</span> applied"#),
        "{cart}"
    );
    assert!(cart.contains(r#"id="cart-subtotal">Rs 15,000<"#), "{cart}");
    assert!(cart.contains(r#"id="cart-discount">− Rs 1,500<"#), "{cart}");
    assert!(cart.contains(r#"id="cart-total">Rs 13,500<"#), "{cart}");

    // Deactivated meanwhile: the cart says so and checkout waits.
    sqlx::query("update promo_codes set is_active = false where code = 'SAVE10'")
        .execute(&app.db)
        .await
        .unwrap();
    let cart = guest.get("/cart").await.text();
    assert!(
        cart.contains(r#"id="promo-problem">This promo code is no longer active.<"#),
        "{cart}"
    );
    assert!(cart.contains(r#"id="cart-total">Rs 15,000<"#));

    let removed = guest.submit("/cart", "/cart/promo/remove", &[]).await;
    assert_eq!(redirect_of(&removed), "/cart?notice=promo-removed");
    assert!(!guest.get("/cart").await.text().contains(r#"id="promo""#));
}

#[sqlx::test]
async fn an_unavailable_line_is_flagged_and_blocks_checkout(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut guest = Visitor::new(&app);
    add_to_cart(
        &mut guest,
        "rdp-pro-three",
        &location_of(&app.db, "rdp-pro-three").await,
        "1",
        "1",
    )
    .await;
    nextgenrdp::catalog::plans::set_active(&app.db, "rdp-pro-three", false)
        .await
        .unwrap();
    let html = guest.get("/cart").await.text();
    assert!(html.contains("cart-line-unavailable"), "{html}");
    assert!(
        html.contains("is no longer sold; remove it to check out"),
        "{html}"
    );
    assert!(html.contains(r#"id="checkout-problems""#));
    assert!(html.contains(r#"id="checkout-button" disabled"#), "{html}");
    assert!(!html.contains(r#"href="/checkout""#));
}

#[sqlx::test]
async fn anonymous_visitors_log_in_before_checking_out(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut guest = Visitor::new(&app);
    let checkout = guest.get("/checkout").await;
    assert_eq!(checkout.status, StatusCode::SEE_OTHER);
    assert_eq!(redirect_of(&checkout), "/login?next=%2Fcheckout");
    assert_eq!(
        redirect_of(&guest.get("/account/orders").await),
        "/login?next=%2Faccount%2Forders"
    );
}

#[sqlx::test]
async fn a_verified_customer_checks_out_once_per_form(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut customer = logged_in_customer(&app, "ayesha@example.pk").await;
    // An empty cart has nothing to check out.
    assert_eq!(redirect_of(&customer.get("/checkout").await), "/cart");
    add_to_cart(
        &mut customer,
        "rdp-starter-one",
        &location_of(&app.db, "rdp-starter-one").await,
        "3",
        "2",
    )
    .await;

    let page = customer.get("/checkout").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("Bank transfer, JazzCash or Easypaisa (manual)"),
        "{html}"
    );
    assert!(html.contains(r#"name="payment_method" value="manual" checked"#));
    assert!(html.contains(r#"id="checkout-total">Rs 15,000<"#), "{html}");
    assert!(html.contains(r#"name="terms" value="yes" required"#));
    assert!(!html.contains(r#"id="verify-notice""#));
    let key = hidden(&html, "idempotency_key");
    assert_eq!(key.len(), 43, "a fresh random key: {key}");
    assert_ne!(
        hidden(&customer.get("/checkout").await.text(), "idempotency_key"),
        key,
        "one key per rendering"
    );

    let placed = check_out(&mut customer, &key, true).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text());
    let target = redirect_of(&placed).to_owned();
    let id: i32 = sqlx::query_scalar("select id from orders")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        target,
        format!("/account/orders/{id}?notice=placed&pay=manual")
    );

    // The same form again (a double click, a resubmission): the same order, no second one.
    let cart =
        nextgenrdp::orders::carts::find_for_user(&app.db, user_id(&app, "ayesha@example.pk").await)
            .await
            .unwrap()
            .unwrap();
    sqlx::query(
        "insert into cart_items (cart_id, plan_id, location_id, validity_months, quantity)
                 select $1, plan_id, location_id, 1, 1 from order_items limit 1",
    )
    .bind(cart.id)
    .execute(&app.db)
    .await
    .unwrap();
    let again = check_out(&mut customer, &key, true).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text());
    assert_eq!(redirect_of(&again), target);
    assert_eq!(order_count(&app.db).await, 1, "one order per form");
    sqlx::query("delete from cart_items")
        .execute(&app.db)
        .await
        .unwrap();

    let order = customer.get(&target).await;
    assert_eq!(order.status, StatusCode::OK);
    let html = order.text();
    assert!(html.contains("Thank you! Your order is placed."), "{html}");
    assert!(
        html.contains(r#"data-status="pending_payment">Awaiting payment<"#),
        "{html}"
    );
    assert!(html.contains(r#"id="order-total">Rs 15,000<"#), "{html}");
    assert!(html.contains("RDP Starter</strong> × 2"), "{html}");
    assert!(html.contains("3 months · Rs 2,500/mo each"), "{html}");
    assert!(
        html.contains("Windows Server 2022 please"),
        "the notes are kept"
    );
    let pay_before = html
        .split(r#"id="pay-before">"#)
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert!(pay_before.ends_with(" PKT"), "{pay_before}");
    assert!(html.contains(&format!(r#"action="/account/orders/{id}/cancel""#)));

    let cart = customer.get("/cart").await.text();
    assert!(
        cart.contains(r#"id="empty-cart""#),
        "the cart is emptied: {cart}"
    );
    let list = customer.get("/account/orders").await.text();
    assert!(list.contains(&format!(r#"data-order-id="{id}""#)), "{list}");
    assert!(list.contains(&format!(r#"href="/account/orders/{id}""#)));
    assert!(list.contains("Rs 15,000"));
}

async fn user_id(app: &TestApp, email: &str) -> i32 {
    nextgenrdp::accounts::users::find_by_email(&app.db, email)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[sqlx::test]
async fn without_agreeing_to_the_terms_no_order_is_placed(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut customer = logged_in_customer(&app, "ayesha@example.pk").await;
    add_to_cart(
        &mut customer,
        "vps-nano-one",
        &location_of(&app.db, "vps-nano-one").await,
        "1",
        "1",
    )
    .await;
    let key = hidden(&customer.get("/checkout").await.text(), "idempotency_key");
    let refused = check_out(&mut customer, &key, false).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(
        html.contains(r#"<p class="field-error" id="terms-error">You must agree to the terms to place an order.</p>"#),
        "{html}"
    );
    assert!(html.contains(r#"aria-describedby="terms-error""#));
    assert_eq!(
        hidden(&html, "idempotency_key"),
        key,
        "the same form, the same key"
    );
    assert!(
        html.contains("Windows Server 2022 please"),
        "the notes are kept"
    );
    assert_eq!(order_count(&app.db).await, 0);
    assert_eq!(
        cart_item_ids(&app.db).await.len(),
        1,
        "the cart is untouched"
    );

    // Agreeing on the re-shown form places it.
    let placed = check_out(&mut customer, &key, true).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text());
    assert_eq!(order_count(&app.db).await, 1);
}

#[sqlx::test]
async fn an_unverified_customer_is_told_why_they_cannot_check_out(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut visitor = Visitor::new(&app);
    let registered = visitor
        .submit(
            "/register",
            "/register",
            &[
                ("name", "Bilal"),
                ("email", "bilal@example.pk"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text());
    visitor.log_in("bilal@example.pk", PASSWORD).await;
    add_to_cart(
        &mut visitor,
        "vps-nano-one",
        &location_of(&app.db, "vps-nano-one").await,
        "1",
        "1",
    )
    .await;

    let page = visitor.get("/checkout").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains(r#"id="verify-notice""#), "{html}");
    assert!(html.contains("Confirm your e-mail address to check out."));
    assert!(html.contains(r#"action="/account/resend-verification""#));
    assert!(html.contains(r#"id="place-order" disabled"#), "{html}");

    let key = hidden(&html, "idempotency_key");
    let refused = check_out(&mut visitor, &key, true).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .contains("Verify your e-mail address before checking out"),
        "{}",
        refused.text()
    );
    assert_eq!(order_count(&app.db).await, 0);
}

#[sqlx::test]
async fn customers_see_and_cancel_only_their_own_orders(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut ayesha = logged_in_customer(&app, "ayesha@example.pk").await;
    add_to_cart(
        &mut ayesha,
        "vps-nano-one",
        &location_of(&app.db, "vps-nano-one").await,
        "1",
        "1",
    )
    .await;
    let key = hidden(&ayesha.get("/checkout").await.text(), "idempotency_key");
    check_out(&mut ayesha, &key, true).await;
    let id: i32 = sqlx::query_scalar("select id from orders")
        .fetch_one(&app.db)
        .await
        .unwrap();

    let mut bilal = logged_in_customer(&app, "bilal@example.pk").await;
    let theirs = bilal.get(&format!("/account/orders/{id}")).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert!(theirs.header("content-type").starts_with("text/html"));
    assert!(!theirs.text().contains("Rs 1,200"));
    let cancel = bilal
        .submit(
            "/account/orders",
            &format!("/account/orders/{id}/cancel"),
            &[],
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
    assert!(
        bilal
            .get("/account/orders")
            .await
            .text()
            .contains(r#"id="no-orders""#)
    );

    let cancelled = ayesha
        .submit(
            &format!("/account/orders/{id}"),
            &format!("/account/orders/{id}/cancel"),
            &[],
        )
        .await;
    assert_eq!(
        cancelled.status,
        StatusCode::SEE_OTHER,
        "{}",
        cancelled.text()
    );
    assert_eq!(
        redirect_of(&cancelled),
        format!("/account/orders/{id}?notice=cancelled")
    );
    let html = ayesha
        .get(&format!("/account/orders/{id}?notice=cancelled"))
        .await
        .text();
    assert!(html.contains("Your order is cancelled."));
    assert!(
        html.contains(r#"data-status="cancelled">Cancelled<"#),
        "{html}"
    );
    assert!(
        !html.contains(r#"id="cancel-order""#),
        "no cancel button any more"
    );
    assert!(!html.contains(r#"id="pay-before""#));

    let twice = ayesha
        .submit(
            "/account/orders",
            &format!("/account/orders/{id}/cancel"),
            &[],
        )
        .await;
    assert_eq!(
        redirect_of(&twice),
        format!("/account/orders/{id}?notice=not-cancellable")
    );

    // The API agrees.
    let login = app.login("ayesha@example.pk", PASSWORD).await;
    let order = app
        .get_as(
            login["access_token"].as_str().unwrap(),
            &format!("/api/v1/orders/{id}"),
        )
        .await
        .json();
    assert_eq!(order["status"], "cancelled");
}

#[sqlx::test]
async fn the_order_list_pages_through_many_orders(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut customer = logged_in_customer(&app, "ayesha@example.pk").await;
    let owner = user_id(&app, "ayesha@example.pk").await;
    for amount in 1..=12 {
        sqlx::query(
            "insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr, final_amount_pkr)
             values ($1, 'pending_payment', $2, 0, $2)",
        )
        .bind(owner)
        .bind(amount * 1000)
        .execute(&app.db)
        .await
        .unwrap();
    }
    let first = customer.get("/account/orders").await.text();
    assert_eq!(first.matches("data-order-id=").count(), 10, "{first}");
    assert!(first.contains("Page 1 of 2 · 12 orders"));
    assert!(first.contains(r#"href="/account/orders?page=2""#));
    let second = customer.get("/account/orders?page=2").await.text();
    assert_eq!(second.matches("data-order-id=").count(), 2);
    let nonsense = customer.get("/account/orders?page=abc").await;
    assert_eq!(nonsense.status, StatusCode::OK);
}

#[sqlx::test]
async fn checkout_spends_ticked_credit_and_the_order_page_shows_what_is_left(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let mut customer = logged_in_customer(&app, "ayesha@example.pk").await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let id: i32 = sqlx::query_scalar("select id from users where email = 'ayesha@example.pk'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let given = app
        .send_json_as(
            admin["access_token"].as_str(),
            axum::http::Method::POST,
            &format!("/api/v1/admin/users/{id}/credit"),
            &serde_json::json!({ "amount_pkr": 1000, "reason": "Goodwill" }),
        )
        .await;
    assert_eq!(given.status, StatusCode::CREATED);
    let location = location_of(&app.db, "rdp-starter-one").await;
    add_to_cart(&mut customer, "rdp-starter-one", &location, "1", "1").await;

    let page = customer.get("/checkout").await.text();
    assert!(page.contains("Use my account credit (Rs 1,000)"), "{page}");
    assert!(
        page.contains(r#"id="checkout-credit">− Rs 1,000<"#),
        "{page}"
    );
    let token = super::csrf_in(&page).unwrap();
    let key = hidden(&page, "idempotency_key");
    let placed = customer
        .post(
            "/checkout",
            &[
                ("idempotency_key", key.as_str()),
                ("payment_method", "manual"),
                ("use_credit", "yes"),
                ("terms", "yes"),
                ("csrf_token", token.as_str()),
            ],
        )
        .await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text());
    let order = customer.get(redirect_of(&placed)).await.text();
    assert!(
        order.contains(r#"id="order-credit">− Rs 1,000<"#),
        "{order}"
    );
    let (total, applied): (i32, i32) =
        sqlx::query_as("select final_amount_pkr, credit_applied_pkr from orders")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(applied, 1000);
    assert!(order.contains(&format!(
        r#"id="order-due">{}<"#,
        nextgenrdp::money::format_pkr(total - applied)
    )));
    let account = customer.get("/account").await.text();
    assert!(
        account.contains(r#"id="credit-balance">Rs 0<"#),
        "{account}"
    );
}
