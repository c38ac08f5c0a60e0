//! Support and trust in real Chromium, at phone and desktop widths: a visitor finds how to reach
//! the shop and reads its terms (the phone menu opens; nothing overflows), a customer opens a
//! ticket with a screenshot attached, the operator answers from a canned reply in a second
//! browser, and the customer reads the answer. Screenshots of each step land in
//! `test-artifacts/screenshots/support-*.png`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use sqlx::PgPool;

use crate::browser::{
    AppServer, Browser, DESKTOP, PHONE, answer_code_if_asked, click_in, screenshot_of,
};
use crate::helpers::{TINY_PNG, TestApp};

const OPERATOR: &str = "owner@nextgenrdp.pk";

/// The page's width and how wide its content is (no sideways scrolling on a phone).
async fn widths(client: &Client) -> (u64, u64) {
    let widths = client
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth]",
            vec![],
        )
        .await
        .unwrap();
    (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap())
}

async fn fits(client: &Client, what: &str) {
    let (inner, content) = widths(client).await;
    assert!(
        content <= inner,
        "{what} overflows sideways: {content} > {inner}"
    );
}

/// Waits (up to 10 s) until the browser's path starts with `prefix`; the path it reached.
async fn wait_for_prefix(client: &Client, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let path = client.current_url().await.unwrap().path().to_owned();
        if path.starts_with(prefix) {
            return path;
        }
        assert!(
            Instant::now() < deadline,
            "the browser stayed on {path}, not {prefix}…"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn type_into(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await;
    let field = field.unwrap_or_else(|err| panic!("no field {css}: {err}"));
    field.send_keys(text).await.unwrap();
}

pub(crate) async fn click(client: &Client, css: &str) {
    client
        .execute(
            &format!("document.querySelector({css:?}).scrollIntoView({{block: 'center', behavior: 'instant'}})"),
            vec![],
        )
        .await
        .unwrap();
    let element = client.find(Locator::Css(css)).await;
    click_in(
        client,
        element.unwrap_or_else(|err| panic!("no element {css}: {err}")),
    )
    .await;
}

async fn text_of(client: &Client, css: &str) -> String {
    let element = client.find(Locator::Css(css)).await;
    element
        .unwrap_or_else(|err| panic!("no element {css}: {err}"))
        .text()
        .await
        .unwrap()
}

pub(crate) async fn log_in(
    client: &Client,
    server: &AppServer,
    db: &PgPool,
    email: &str,
    password: &str,
    next: &str,
) {
    client
        .goto(&server.url(&format!("/login?next={next}")))
        .await
        .unwrap();
    type_into(client, "#email", email).await;
    type_into(client, "#password", password).await;
    click(client, "main button[type=submit]").await;
    answer_code_if_asked(client, db, email).await;
    wait_for_prefix(client, next).await;
}

#[sqlx::test]
async fn a_ticket_conversation_and_the_pages_a_buyer_looks_for_in_a_real_browser(db: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    let mut settings = TestApp::settings();
    settings.contact = Arc::new(
        nextgenrdp::config::ContactConfig {
            support_email: Some("help@nextgenrdp.pk".into()),
            support_phone: Some("042 111 222 333".into()),
            whatsapp_number: Some("0300 1234567".into()),
            business_hours: Some("Mon–Sat, 10:00–22:00 PKT".into()),
            business_address: Some("12 Main Boulevard, Gulberg, Lahore".into()),
        }
        .contact()
        .unwrap(),
    );
    settings.whatsapp_enabled = true;
    let app = TestApp::with_settings(db, settings);
    app.admin(OPERATOR).await;
    app.verified_customer("ayesha@example.pk").await;
    let server = AppServer::start(app.router.clone()).await;
    let client = browser.client();

    // A visitor on a phone: the header folds under Menu, which opens; Help leads to /contact.
    browser.set_window_size(PHONE).await;
    client.goto(&server.url("/")).await.unwrap();
    let nav_shown = |client: &Client| {
        let client = client.clone();
        async move {
            client
                .execute(
                    "return getComputedStyle(document.getElementById('site-nav')).display",
                    vec![],
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(
        nav_shown(client).await,
        "none",
        "the links are folded on a phone"
    );
    click(client, ".nav-toggle").await;
    assert_eq!(nav_shown(client).await, "flex", "Menu opens them");
    screenshot_of(client, "support-menu-phone").await;
    click(client, "#site-nav a[href='/contact']").await;
    wait_for_prefix(client, "/contact").await;
    let ways = text_of(client, "#contact-ways").await;
    assert!(
        ways.contains("Chat on WhatsApp (0300 1234567)") && ways.contains("help@nextgenrdp.pk"),
        "{ways}"
    );
    fits(client, "the contact page").await;
    screenshot_of(client, "support-contact-phone").await;
    click(client, ".footer-links a[href='/terms']").await;
    wait_for_prefix(client, "/terms").await;
    assert!(
        text_of(client, "#policy-text")
            .await
            .contains("Acceptable use")
    );
    fits(client, "the terms").await;
    screenshot_of(client, "support-terms-phone").await;
    browser.set_window_size(DESKTOP).await;
    client.goto(&server.url("/refund-policy")).await.unwrap();
    assert!(text_of(client, "main h1").await.contains("Refund policy"));
    screenshot_of(client, "support-refund-policy-desktop").await;

    // The customer, on a phone, opens a ticket with a screenshot attached.
    browser.set_window_size(PHONE).await;
    log_in(
        client,
        &server,
        &app.db,
        "ayesha@example.pk",
        "correct-horse-battery",
        "/account/tickets",
    )
    .await;
    type_into(client, "#subject", "RDP shows error 0x204").await;
    client
        .find(Locator::Css("#department"))
        .await
        .unwrap()
        .select_by_value("technical")
        .await
        .unwrap();
    type_into(
        client,
        "#message",
        "Since this morning Remote Desktop says 0x204. Screenshot attached.",
    )
    .await;
    let shot = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(shot.path(), TINY_PNG).unwrap();
    type_into(client, "#file", shot.path().to_str().unwrap()).await;
    click(
        client,
        "main form[action^='/account/tickets'] button[type=submit]",
    )
    .await;
    let ticket_path = wait_for_prefix(client, "/account/tickets/").await;
    let id: i32 = ticket_path
        .trim_start_matches("/account/tickets/")
        .parse()
        .unwrap();
    let conversation = text_of(client, "#conversation").await;
    assert!(conversation.contains("0x204"), "{conversation}");
    assert_eq!(
        browser.count("#conversation .message-files img").await,
        1,
        "the screenshot shows"
    );
    fits(client, "the ticket").await;
    screenshot_of(client, "support-ticket-customer-phone").await;

    // The operator, in their own browser at desktop width, answers from a canned reply.
    sqlx::query("insert into canned_replies (title, body) values ('Error 0x204', $1)")
        .bind("Hello {name}, error 0x204 means the firewall blocks port 3389. We opened it; please try again. ({ticket})")
        .execute(&app.db)
        .await
        .unwrap();
    let operator = browser.second_session().await;
    operator
        .set_window_size(DESKTOP.0, DESKTOP.1)
        .await
        .unwrap();
    log_in(
        &operator,
        &server,
        &app.db,
        OPERATOR,
        "operator-passphrase",
        &format!("/admin/tickets/{id}"),
    )
    .await;
    click(&operator, "form.canned-pick button[type=submit]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let draft: String = operator
            .execute("return document.getElementById('message').value", vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if draft.contains("Hello Ayesha Khan, error 0x204") {
            assert!(draft.ends_with(&format!("(#{id})")), "{draft}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the canned reply did not fill the box: {draft:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot_of(&operator, "support-ticket-operator-desktop").await;
    click(
        &operator,
        "main form[action*='/messages'] button[type=submit]",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !operator
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains("notice=sent")
    {
        assert!(Instant::now() < deadline, "the reply was not sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    operator.close().await.unwrap();

    // The customer reads the answer: their turn now.
    client
        .goto(&server.url(&format!("/account/tickets/{id}")))
        .await
        .unwrap();
    assert!(
        text_of(client, "#conversation")
            .await
            .contains("firewall blocks port 3389")
    );
    assert_eq!(
        text_of(client, "#ticket-status").await,
        "Awaiting your reply"
    );
    fits(client, "the answered ticket").await;
    screenshot_of(client, "support-ticket-answered-phone").await;

    // Where notices go: e-mail, and WhatsApp once a number is verified.
    client
        .goto(&server.url("/account/notifications"))
        .await
        .unwrap();
    assert!(
        text_of(client, "main")
            .await
            .contains("Add your WhatsApp number")
    );
    fits(client, "the notifications page").await;
    screenshot_of(client, "support-notifications-phone").await;
    browser.close().await;
}
