//! The whole journey in real Chromium, once at a desktop width and once on a 360 px phone: a
//! customer registers, confirms the address from the mailed link, browses `/rdp`, adds a plan,
//! applies a promo code, checks out, pays by manual transfer and submits the reference; the
//! operator, in a second browser session, approves the payment and provisions the server by
//! hand; the customer then sees it active and reveals its password. Every step is checked as a
//! person would check it, against the database where it matters, and photographed to
//! `test-artifacts/screenshots/journey-<width>-<nn>-<step>.png`.

use std::cell::Cell;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use nextgenrdp::money::format_pkr;
use serde_json::json;
use sqlx::PgPool;

use crate::browser::{AppServer, Browser, DESKTOP, PHONE, click_in, screenshot_of};
use crate::helpers::TestApp;

const CUSTOMER: &str = "ayesha@example.pk";
const PASSWORD: &str = "correct-horse-battery";
const OPERATOR: &str = "owner@nextgenrdp.pk";
const OPERATOR_PASSWORD: &str = "operator-passphrase";
/// 20 % off, at most Rs 2,000: on 3 months of RDP Business (Rs 13,500) the cap applies.
const PROMO: &str = "LAUNCH20";
const PLAN: &str = "rdp-business-two";
const TID: &str = "TID55120934";
const HOSTNAME: &str = "rdp12.karachi.nextgenrdp.pk";
const SERVER_IP: &str = "203.0.113.42";
const SERVER_USER: &str = "Administrator";
const SERVER_PASSWORD: &str = "Qm7#vK2p-Tx9!Lw";

#[sqlx::test]
async fn the_whole_journey_in_a_desktop_browser(db: PgPool) {
    journey(db, DESKTOP).await;
}

#[sqlx::test]
async fn the_whole_journey_on_a_360px_phone(db: PgPool) {
    journey(db, PHONE).await;
}

/// One person's browser window at the journey's size: the customer's or the operator's.
struct Window<'a> {
    client: &'a Client,
    server: &'a AppServer,
    /// The shop's database, to read the operator's authenticator code from.
    db: &'a PgPool,
    width: u32,
    /// Screenshots so far, shared by both windows: their numbers follow the story.
    shots: &'a Cell<u32>,
}

impl Window<'_> {
    async fn goto(&self, path: &str) {
        let url = self.server.url(path);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|err| panic!("cannot open {url}: {err}"));
    }

    async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(err) => panic!("no element {css} on {}: {err}", self.path().await),
        }
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    async fn js(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|err| panic!("{script}: {err}"))
    }

    /// Types `value` into the field `css`, as a person would.
    async fn type_into(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    async fn choose(&self, select: &str, value: &str) {
        self.find(select)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|err| panic!("{select} has no option {value}: {err}"));
    }

    /// Clicks `css`, brought into view at once first (the page scrolls smoothly).
    async fn press(&self, css: &str) {
        let element = self.find(css).await;
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})",
                vec![serde_json::to_value(&element).unwrap()],
            )
            .await
            .unwrap();
        click_in(self.client, element).await;
    }

    /// The path and query shown in the address bar.
    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits (up to 10 s) until the address bar shows `expected` (path and query) after a
    /// click that navigates.
    async fn lands_on(&self, expected: &str) {
        self.lands_where(expected, |path| path == expected).await;
    }

    /// Waits until the address bar shows a path that `wanted` accepts, and returns it.
    async fn lands_where(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let path = self.path().await;
            if wanted(&path) {
                return path;
            }
            assert!(
                Instant::now() < deadline,
                "the browser stayed on {path}, not {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page fits the window: nothing scrolls sideways.
    async fn fits(&self, what: &str) {
        let widths = self
            .js("return [window.innerWidth, document.documentElement.scrollWidth]")
            .await;
        assert_eq!(
            widths[0], self.width,
            "{what}: the viewport is {} px wide: {widths}",
            self.width
        );
        assert!(
            widths[1].as_u64().unwrap() <= u64::from(self.width),
            "{what} scrolls sideways at {} px: {widths}",
            self.width
        );
    }

    /// Checks that the page fits, then saves `journey-<width>-<nn>-<step>.png`.
    async fn shot(&self, step: &str) {
        self.fits(step).await;
        let number = self.shots.get() + 1;
        self.shots.set(number);
        screenshot_of(
            self.client,
            &format!("journey-{}-{number:02}-{step}", self.width),
        )
        .await;
    }

    /// Logs in through the form (with the authenticator's code when the account asks for one)
    /// and lands on `next`; `code_shot` names the screenshot of the code page.
    async fn log_in(&self, email: &str, password: &str, next: &str, code_shot: Option<&str>) {
        self.goto(&format!("/login?next={next}")).await;
        self.type_into("#email", email).await;
        self.type_into("#password", password).await;
        self.press("main button[type=submit]").await;
        if crate::browser::code_asked(self.client).await {
            assert_eq!(self.text("h1").await, "Enter your code");
            let code = crate::browser::code_for(self.db, email).await;
            self.type_into("#code", &code).await;
            if let Some(step) = code_shot {
                self.shot(step).await;
            }
            self.press("main button[type=submit]").await;
        }
        self.lands_on(next).await;
    }
}

async fn journey(db: PgPool, size: (u32, u32)) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::with_default_catalog(db).await;
    // The operator's account and the promo code, created as the operator would (admin API).
    let operator_login = app.admin(OPERATOR).await;
    let created = app
        .send_json_as(
            operator_login["access_token"].as_str(),
            Method::POST,
            "/api/v1/admin/promo-codes",
            &json!({
                "code": PROMO,
                "discount_type": "percentage",
                "discount_value": 20,
                "max_discount_amount": 2000,
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let server = AppServer::start(app.router.clone()).await;
    let shots = Cell::new(0);
    let customer = Window {
        client: browser.client(),
        server: &server,
        db: &app.db,
        width: size.0,
        shots: &shots,
    };
    browser.set_window_size(size).await;

    // 1. The customer registers.
    customer.goto("/register").await;
    customer.type_into("#name", "Ayesha Khan").await;
    customer.type_into("#email", CUSTOMER).await;
    customer.type_into("#phone", "0300 1234567").await;
    customer.type_into("#password", PASSWORD).await;
    customer.shot("register").await;
    customer.press("main button[type=submit]").await;
    // "Check your e-mail" — the same answer whether or not the address had an account.
    customer.lands_on("/register").await;
    assert_eq!(customer.text("h1").await, "Check your e-mail");
    assert!(
        customer
            .text(".alert-success")
            .await
            .contains("Open it to confirm your address, then log in")
    );
    customer.shot("registered").await;

    // 2. The link from the mail file confirms the address.
    let token = app.token_mailed_to(CUSTOMER, "/verify-email").await;
    customer.goto(&format!("/verify-email?token={token}")).await;
    assert_eq!(customer.text("h1").await, "Confirm your e-mail");
    customer.press("main button[type=submit]").await;
    customer.lands_on("/verify-email").await;
    assert_eq!(customer.text("h1").await, "Your e-mail is confirmed");
    customer.shot("email-confirmed").await;
    customer.log_in(CUSTOMER, PASSWORD, "/account", None).await;
    assert_eq!(customer.text("#email-status").await, "Verified");
    let verified: bool =
        sqlx::query_scalar("select email_verified_at is not null from users where email = $1")
            .bind(CUSTOMER)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(verified, "the database has the address confirmed");

    // 3. From the home page to the Windows RDP plans, and the plan's page.
    customer.goto("/").await;
    customer.press(".category-card[href='/rdp']").await;
    customer.lands_on("/rdp").await;
    assert_eq!(customer.text("h1").await, "Windows RDP");
    assert_eq!(customer.count(".plan-card").await, 4);
    let card = customer
        .text(&format!(".plan-card[data-plan-id='{PLAN}']"))
        .await;
    assert!(
        card.contains("RDP Business") && card.contains("Rs 4,500"),
        "{card}"
    );
    customer.shot("rdp-plans").await;
    customer
        .press(&format!(
            ".plan-card[data-plan-id='{PLAN}'] a[href^='/plans/']"
        ))
        .await;
    customer.lands_on(&format!("/plans/{PLAN}")).await;

    // 4. Three months of it into the cart.
    customer.choose("#validity_months", "3").await;
    customer.shot("plan").await;
    customer.press("#add-to-cart button[type=submit]").await;
    customer.lands_on("/cart?notice=added").await;
    assert_eq!(customer.count(".cart-line").await, 1);
    assert!(customer.text(".cart-line").await.contains("RDP Business"));
    assert_eq!(customer.text("#cart-subtotal").await, "Rs 13,500");
    assert_eq!(customer.text("#cart-total").await, "Rs 13,500");
    assert_eq!(customer.count("#cart-discount").await, 0);
    customer.shot("cart").await;

    // 5. The promo code, typed in lower case: 20 % of Rs 13,500 capped at Rs 2,000.
    customer.type_into("#code", &PROMO.to_lowercase()).await;
    customer.press(".promo-form button[type=submit]").await;
    customer.lands_on("/cart?notice=promo-applied").await;
    let promo = customer.text("#promo").await;
    assert!(
        promo.contains(PROMO) && promo.contains("applied") && !promo.contains("does not apply"),
        "{promo}"
    );
    assert_eq!(customer.text("#cart-subtotal").await, "Rs 13,500");
    assert_eq!(customer.text("#cart-discount").await, "− Rs 2,000");
    assert_eq!(customer.text("#cart-total").await, "Rs 11,500");
    customer.shot("promo-applied").await;

    // 6. Checkout: manual transfer, the terms, place the order.
    customer.press("#checkout-button").await;
    customer.lands_on("/checkout").await;
    assert_eq!(customer.count("#verify-notice").await, 0);
    assert_eq!(customer.text("#checkout-total").await, "Rs 11,500");
    customer.press("#payment-manual").await;
    customer.press("#terms").await;
    assert_eq!(
        customer
            .js("return [document.querySelector('#payment-manual').checked, document.querySelector('#terms').checked]")
            .await,
        json!([true, true])
    );
    assert_eq!(
        customer.text("#place-order").await,
        "Place order · Rs 11,500"
    );
    customer.shot("checkout").await;
    customer.press("#place-order").await;
    let placed = customer
        .lands_where("the new order's page", |path| {
            path.starts_with("/account/orders/") && path.ends_with("?notice=placed&pay=manual")
        })
        .await;
    let order: i32 = placed["/account/orders/".len()..placed.find('?').unwrap()]
        .parse()
        .unwrap();
    let (status, subtotal, discount, total, promo_code): (String, i32, i32, i32, Option<String>) =
        sqlx::query_as(
            "select status, total_amount_pkr, discount_amount_pkr, final_amount_pkr, promo_code
             from orders where id = $1",
        )
        .bind(order)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        (status.as_str(), subtotal, discount, total),
        ("pending_payment", 13_500, 2_000, 11_500)
    );
    assert_eq!(promo_code.as_deref(), Some(PROMO));
    assert_eq!(customer.text("#order-total").await, format_pkr(total));
    assert_eq!(customer.text("#pay-amount").await, format_pkr(total));
    assert_eq!(
        customer.text("#pay-reference").await,
        format!("NGR-{order}")
    );
    assert_eq!(
        customer.text(".status-badge").await,
        "Awaiting payment",
        "the order's badge"
    );
    customer.shot("order-placed").await;

    // 7. "I have paid": the transaction id and the account it went to.
    customer.type_into("#reference", TID).await;
    customer.choose("#channel", "jazzcash").await;
    customer.press("#submit-payment").await;
    let order_page = format!("/account/orders/{order}");
    customer
        .lands_on(&format!("{order_page}?notice=payment-submitted"))
        .await;
    assert!(
        customer
            .text("#payment-review")
            .await
            .contains("checking your transfer")
    );
    assert_eq!(customer.text(".payment-badge").await, "Waiting for review");
    assert_eq!(customer.count("#pay").await, 0, "nothing more to pay now");
    let (payment, payment_status, amount): (i32, String, i32) = sqlx::query_as(
        "select id, status, amount_pkr from payments where order_id = $1 and gateway_txn_id = $2",
    )
    .bind(order)
    .bind(TID)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((payment_status.as_str(), amount), ("review", total));
    customer.shot("payment-submitted").await;

    // 8. The operator, in a browser of their own, approves the transfer.
    let operator_client = browser.second_session().await;
    operator_client
        .set_window_size(size.0, size.1)
        .await
        .unwrap();
    let operator = Window {
        client: &operator_client,
        server: &server,
        db: &app.db,
        width: size.0,
        shots: &shots,
    };
    operator
        .log_in(
            OPERATOR,
            OPERATOR_PASSWORD,
            "/admin/payments",
            Some("operator-code"),
        )
        .await;
    assert_eq!(operator.count("tr[data-payment-id]").await, 1);
    let row = operator
        .text(&format!("tr[data-payment-id='{payment}']"))
        .await;
    assert!(row.contains("Rs 11,500") && row.contains(TID), "{row}");
    operator.shot("operator-payments").await;
    operator
        .press(&format!(
            "tr[data-payment-id='{payment}'] a[href='/admin/payments/{payment}']"
        ))
        .await;
    operator
        .lands_on(&format!("/admin/payments/{payment}"))
        .await;
    operator.shot("operator-payment").await;
    operator.press("#approve-payment").await;
    operator
        .lands_on(&format!("/admin/payments/{payment}?notice=paid"))
        .await;
    assert_eq!(
        operator.text("#review-notice").await,
        format!("Order {order} is now paid.")
    );
    // Paid, and at once `processing`: its server was created in the same transaction.
    let (status, paid, payment_status): (String, bool, String) = sqlx::query_as(
        "select o.status, o.paid_at is not null, p.status
         from orders o join payments p on p.order_id = o.id where p.id = $1",
    )
    .bind(payment)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), paid, payment_status.as_str()),
        ("processing", true, "succeeded")
    );
    operator.shot("operator-approved").await;

    // The customer's order page says so.
    customer.goto(&order_page).await;
    assert!(
        customer
            .text("#order-processing")
            .await
            .starts_with("Paid · setting up."),
    );
    assert_eq!(customer.text(".status-badge").await, "Processing");
    assert_eq!(customer.count("#pay").await, 0);
    customer.shot("order-paid").await;

    // 9. No Proxmox backend: the server waits for the operator, who sets it up by hand.
    let service: i32 = sqlx::query_scalar(
        "select s.id from services s join order_items i on i.id = s.order_item_id
         where i.order_id = $1",
    )
    .bind(order)
    .fetch_one(&app.db)
    .await
    .unwrap();
    operator.goto("/admin/provisioning").await;
    assert_eq!(
        operator.count("#manual li[data-service-id]").await,
        1,
        "one server waits for the operator"
    );
    operator.shot("operator-provisioning-queue").await;
    operator
        .press(&format!("#manual li[data-service-id='{service}'] a.button"))
        .await;
    operator
        .lands_on(&format!("/admin/services/{service}"))
        .await;
    operator.type_into("#hostname", HOSTNAME).await;
    operator.type_into("#ip_address", SERVER_IP).await;
    operator.type_into("#username", SERVER_USER).await;
    operator.type_into("#password", SERVER_PASSWORD).await;
    operator.shot("operator-provision-form").await;
    operator.press("#provision-service").await;
    operator
        .lands_on(&format!("/admin/services/{service}?notice=provisioned"))
        .await;
    assert_eq!(
        operator
            .find(".status-badge")
            .await
            .attr("data-status")
            .await
            .unwrap()
            .as_deref(),
        Some("active")
    );
    assert_eq!(operator.text("#service-ip").await, SERVER_IP);
    let status: String = sqlx::query_scalar("select status from orders where id = $1")
        .bind(order)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        status, "active",
        "its only server is active: so is the order"
    );
    operator.shot("operator-provisioned").await;

    // 10. The customer finds the server active and reveals its password.
    customer.goto("/account/services").await;
    let listed = customer
        .text(&format!("li[data-service-id='{service}']"))
        .await;
    assert!(
        listed.contains("Active") && listed.contains(SERVER_IP),
        "{listed}"
    );
    customer.shot("services").await;
    customer
        .press(&format!("li[data-service-id='{service}'] a.order-row-link"))
        .await;
    customer
        .lands_on(&format!("/account/services/{service}"))
        .await;
    assert_eq!(customer.text(".status-badge").await, "Active");
    assert!(
        customer
            .text("#service-state")
            .await
            .contains("Your server is running"),
    );
    assert_eq!(customer.text("#service-ip").await, SERVER_IP);
    assert_eq!(customer.text("#service-hostname").await, HOSTNAME);
    assert_eq!(customer.text("#service-username").await, SERVER_USER);
    assert_eq!(
        customer.count("#service-password").await,
        0,
        "hidden at first"
    );
    customer.shot("service-active").await;
    customer.press("#reveal-password").await;
    customer
        .lands_on(&format!("/account/services/{service}/credentials"))
        .await;
    let revealed = customer
        .find("#service-password")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(revealed.as_deref(), Some(SERVER_PASSWORD));
    customer.shot("password-revealed").await;

    // The "ready" e-mail went out, without the password.
    let mails = app.mails_to(CUSTOMER).await;
    let ready = mails
        .iter()
        .find(|mail| mail.contains(&format!("Your server #{service} is ready")))
        .expect("the customer is e-mailed that the server is ready");
    assert!(!ready.contains(SERVER_PASSWORD), "{ready}");

    operator_client.close().await.unwrap();
    browser.close().await;
}
