//! Real Chromium over WebDriver: the pages as a customer's browser renders them, with our CSS,
//! our CSP and a phone-sized window.
//!
//! The harness: [`Browser`] starts `chromedriver` (and through it headless Chromium) for one
//! test and shuts both down afterwards; [`AppServer`] serves the real router on a free local
//! port. Without `chromedriver`/`chromium` installed a browser test is skipped with a note,
//! unless `CI=true`, where it fails (CI must install the Debian packages `chromium` and
//! `chromium-driver`). Screenshots go to `test-artifacts/screenshots/` (gitignored).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, free_port};

/// The desktop window every session starts with.
pub const DESKTOP: (u32, u32) = (1280, 900);
/// A small Android phone, the narrowest screen the shop supports.
pub const PHONE: (u32, u32) = (360, 780);

const CHROMIUM_ARGS: [&str; 10] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

/// One headless Chromium session driven through its own `chromedriver` child process.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    /// Where chromedriver listens, and the capabilities of a session: for a second session.
    port: u16,
    capabilities: serde_json::Map<String, Value>,
    /// Browser tests take turns: several Chromiums at once on a 2-core machine make page loads
    /// time out.
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Browser {
    /// Starts chromedriver and opens a session; `None` (after saying so) when the browser is
    /// not installed and this is not CI, where a missing browser is a failure.
    pub async fn start() -> Option<Browser> {
        let (Some(chromedriver), Some(chromium)) =
            (find_program(&["chromedriver"]), find_chromium())
        else {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!(
                    "browser tests need chromedriver and Chromium: \
                     `apt-get install -y chromium chromium-driver`"
                );
            }
            eprintln!(
                "note: browser test skipped: chromedriver/chromium not found \
                 (apt-get install -y chromium chromium-driver)"
            );
            return None;
        };

        let turn = ONE_BROWSER_AT_A_TIME.lock().await;
        let port = free_port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // Its own process group, so Drop can take Chromium down with it.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", chromedriver.display()));
        let mut options = json!({ "args": CHROMIUM_ARGS });
        options["binary"] = json!(chromium);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let mut browser = Browser {
            client: None,
            driver,
            port,
            capabilities,
            _turn: turn,
        };
        browser.wait_for_driver(port).await;
        browser.client = Some(browser.open_session().await);
        Some(browser)
    }

    /// Opens another session on the same chromedriver: a separate Chromium with its own
    /// cookies (another person's browser, e.g. the operator's). The caller closes it.
    pub async fn second_session(&self) -> Client {
        self.open_session().await
    }

    async fn open_session(&self) -> Client {
        ClientBuilder::new(HttpConnector::new())
            .capabilities(self.capabilities.clone())
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|err| panic!("chromedriver did not open a Chromium session: {err}"))
    }

    async fn wait_for_driver(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!("chromedriver exited at start: {status}");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The WebDriver client, for anything the helpers below do not cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|err| panic!("cannot open {url}: {err}"));
    }

    /// Runs `script` (a function body; `return` a value) in the page.
    pub async fn js(&self, script: &str) -> Value {
        self.client()
            .execute(script, vec![])
            .await
            .unwrap_or_else(|err| panic!("{script}: {err}"))
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self.client().find(Locator::Css(css)).await;
        let element = element.unwrap_or_else(|err| panic!("no element {css}: {err}"));
        element.text().await.unwrap()
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.client()
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .len()
    }

    /// Clicks `element`. Chromium 156 in a phone-sized headless window has a viewport shorter
    /// than chromedriver believes, which then aims below the fold ("click intercepted"); the
    /// page's own click (same event, same form submission) is the fallback.
    pub async fn click(&self, element: fantoccini::elements::Element) {
        click_in(self.client(), element).await;
    }

    /// Resizes the window; the page's viewport is then `width` CSS pixels wide.
    pub async fn set_window_size(&self, (width, height): (u32, u32)) {
        self.client().set_window_size(width, height).await.unwrap();
    }

    /// Saves a PNG of the whole page (not just the viewport) at the current width to
    /// `test-artifacts/screenshots/<name>.png`, and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        screenshot_of(self.client(), name).await
    }

    /// Ends the session cleanly (Chromium exits), then stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.unwrap();
        }
    }
}

/// [`Browser::click`] in any session.
pub async fn click_in(client: &Client, element: fantoccini::elements::Element) {
    match element.clone().click().await {
        Ok(_) => {}
        Err(fantoccini::error::CmdError::Standard(err))
            if err.error == fantoccini::error::ErrorStatus::ElementClickIntercepted =>
        {
            client
                .execute(
                    "arguments[0].click()",
                    vec![serde_json::to_value(&element).unwrap()],
                )
                .await
                .unwrap();
        }
        Err(err) => panic!("click failed: {err}"),
    }
}

/// [`Browser::screenshot`] of any session.
pub async fn screenshot_of(client: &Client, name: &str) -> PathBuf {
    let (width, height) = client.get_window_size().await.unwrap();
    // The window is taller than its viewport by the (invisible) browser frame.
    let sizes = client
        .execute(
            "return [document.documentElement.scrollHeight, outerHeight - innerHeight]",
            vec![],
        )
        .await
        .unwrap();
    let (page, frame) = (
        sizes[0].as_u64().unwrap_or(0),
        sizes[1].as_u64().unwrap_or(0),
    );
    let full = (page + frame).clamp(height, 16_000);
    client
        .set_window_size(width as u32, full as u32)
        .await
        .unwrap();
    let png = client.screenshot().await;
    client
        .set_window_size(width as u32, height as u32)
        .await
        .unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png.unwrap()).unwrap();
    path
}

impl Drop for Browser {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // The whole group: chromedriver and any Chromium a failed test left open.
            let group = format!("-{}", self.driver.id());
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The real application served over TCP on a free local port, until dropped.
pub struct AppServer {
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl AppServer {
    pub async fn start(router: Router) -> AppServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        AppServer { base, task }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The first of `names` found in PATH (or /usr/bin).
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .collect();
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn find_chromium() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian);
    }
    find_program(&[
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ])
}

#[sqlx::test]
async fn the_home_page_shows_the_catalog_in_a_real_browser(db: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::with_default_catalog(db.clone()).await;
    let server = AppServer::start(app.router.clone()).await;
    let plans: Vec<_> = nextgenrdp::catalog::plans::list_active(&db, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.label.is_some())
        .collect();
    assert!(
        !plans.is_empty(),
        "the default catalog has labelled plans on sale"
    );

    browser.goto(&server.url("/")).await;
    assert!(
        browser
            .client()
            .title()
            .await
            .unwrap()
            .contains("NextGenRDP")
    );

    // every labelled plan on sale is featured with its card; a known one shows its name and price
    assert_eq!(browser.count(".plan-card").await, plans.len());
    for plan in &plans {
        assert_eq!(
            browser
                .count(&format!(".plan-card[data-plan-id='{}']", plan.id))
                .await,
            1
        );
    }
    let business = browser
        .client()
        .find(Locator::Css("[data-plan-id='rdp-business-two']"))
        .await;
    let business = business.expect("the RDP Business card");
    assert!(business.is_displayed().await.unwrap());
    let card = business.text().await.unwrap();
    assert!(
        card.contains("RDP Business") && card.contains("Rs 4,500"),
        "{card}"
    );
    // each category links to its page with its lowest price
    let rdp = browser.text(".category-card[href='/rdp']").await;
    assert!(
        rdp.contains("Windows RDP") && rdp.contains("Rs 2,500"),
        "{rdp}"
    );

    // the stylesheet loaded (the CSP allows it) and applied, theme colours included
    let styled = browser
        .js(
            "const card = getComputedStyle(document.querySelector('.plan-card'));
             const sky = document.querySelector('.plan-card.theme-violet');
             const indigo = document.querySelector('.plan-card.theme-indigo');
             return {
               bodyMargin: getComputedStyle(document.body).marginTop,
               cardDisplay: card.display,
               cardBar: card.borderTopWidth,
               sky: sky && getComputedStyle(sky).borderTopColor,
               indigo: indigo && getComputedStyle(indigo).borderTopColor,
             };",
        )
        .await;
    assert_eq!(styled["bodyMargin"], "0px", "{styled}");
    assert_eq!(styled["cardDisplay"], "flex", "{styled}");
    assert_eq!(styled["cardBar"], "4px", "{styled}");
    assert_ne!(
        styled["sky"], styled["indigo"],
        "each plan has its theme colour: {styled}"
    );
    browser.screenshot("home-desktop").await;

    // a 360 px phone: everything fits, nothing scrolls sideways
    browser.set_window_size(PHONE).await;
    browser.goto(&server.url("/")).await;
    let widths = browser
        .js("return [window.innerWidth, document.documentElement.scrollWidth]")
        .await;
    assert_eq!(widths[0], 360, "the viewport is phone-sized: {widths}");
    assert!(
        widths[1].as_u64().unwrap() <= 360,
        "the page overflows sideways: {widths}"
    );
    browser.screenshot("home-phone").await;

    // an unknown page is the styled error page, with its status
    browser.set_window_size(DESKTOP).await;
    browser.goto(&server.url("/no-such-page")).await;
    assert!(
        browser
            .client()
            .title()
            .await
            .unwrap()
            .contains("Not Found")
    );
    assert_eq!(browser.text("h1").await, "Not Found");
    let page = browser.text(".error-page").await.to_lowercase();
    assert!(
        page.contains("404") && page.contains("page not found"),
        "{page}"
    );
    assert_eq!(browser.count("link[rel=stylesheet]").await, 1);
    browser.screenshot("error-desktop").await;

    browser.close().await;
}

/// Waits (up to 10 s) until the browser shows `path` (with its query), after a click that
/// navigates.
pub(crate) async fn wait_for_path(browser: &Browser, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = browser.client().current_url().await.unwrap();
        let current = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        if current == path {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the browser stayed on {current}, not {path}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test]
async fn a_customer_registers_and_confirms_the_email_in_a_real_browser(db: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::new(db.clone());
    let server = AppServer::start(app.router.clone()).await;

    // The form on a 360 px phone: it fits, nothing scrolls sideways.
    browser.set_window_size(PHONE).await;
    browser.goto(&server.url("/register")).await;
    let widths = browser
        .js("return [window.innerWidth, document.documentElement.scrollWidth]")
        .await;
    assert_eq!(widths[0], 360, "the viewport is phone-sized: {widths}");
    assert!(
        widths[1].as_u64().unwrap() <= 360,
        "the page overflows sideways: {widths}"
    );
    browser.screenshot("register-phone").await;

    // Register as a customer would: type into the labelled fields, press the button.
    browser.set_window_size(DESKTOP).await;
    let client = browser.client();
    for (field, value) in [
        ("#name", "Ayesha Khan"),
        ("#email", "ayesha@example.pk"),
        ("#phone", "0300 1234567"),
        ("#password", "correct-horse-battery"),
    ] {
        let input = client.find(Locator::Css(field)).await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    let submit = client.find(Locator::Css("main button[type=submit]")).await;
    submit.unwrap().click().await.unwrap();
    // Check your e-mail: the same page whether or not the address had an account.
    wait_for_path(&browser, "/register").await;
    assert_eq!(browser.text("h1").await, "Check your e-mail");
    assert!(
        browser
            .text(".alert-success")
            .await
            .contains("We sent a link to ayesha@example.pk")
    );
    browser.screenshot("registered-desktop").await;

    // Open the mailed link, confirm with the button, log in: the account shows it confirmed.
    let token = app
        .token_mailed_to("ayesha@example.pk", "/verify-email")
        .await;
    let link = format!("/verify-email?token={token}");
    browser.goto(&server.url(&link)).await;
    assert_eq!(browser.text("h1").await, "Confirm your e-mail");
    let confirm = client.find(Locator::Css("main button[type=submit]")).await;
    confirm.unwrap().click().await.unwrap();
    wait_for_path(&browser, "/verify-email").await;
    assert_eq!(browser.text("h1").await, "Your e-mail is confirmed");
    client
        .find(Locator::LinkText("Log in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&browser, "/login").await;
    for (field, value) in [
        ("#email", "ayesha@example.pk"),
        ("#password", "correct-horse-battery"),
    ] {
        let input = client.find(Locator::Css(field)).await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    let log_in = client.find(Locator::Css("main button[type=submit]")).await;
    log_in.unwrap().click().await.unwrap();
    wait_for_path(&browser, "/account").await;
    assert_eq!(browser.text(".nav-link").await, "Log out");
    // The session cookie is out of JavaScript's reach.
    let cookies = browser.js("return document.cookie").await;
    assert!(
        !cookies.as_str().unwrap().contains("ngr_session"),
        "{cookies}"
    );
    assert_eq!(browser.text("#email-status").await, "Verified");
    assert_eq!(browser.count("#verify-notice").await, 0);
    browser.screenshot("account-desktop").await;

    browser.close().await;
}

#[sqlx::test]
async fn a_guest_fills_the_cart_from_the_plan_page_on_a_phone(db: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::with_default_catalog(db).await;
    let server = AppServer::start(app.router.clone()).await;

    // A guest on a 360 px phone picks 3 months × 2 on the plan page and adds them.
    browser.set_window_size(PHONE).await;
    browser.goto(&server.url("/plans/rdp-starter-one")).await;
    let client = browser.client();
    let months = client
        .find(Locator::Css(
            "#add-to-cart select[name=validity_months] option[value='3']",
        ))
        .await;
    months.expect("a 3-month choice").click().await.unwrap();
    let quantity = client
        .find(Locator::Css("#add-to-cart input[name=quantity]"))
        .await
        .unwrap();
    quantity.clear().await.unwrap();
    quantity.send_keys("2").await.unwrap();
    let add = client
        .find(Locator::Css("#add-to-cart button[type=submit]"))
        .await;
    browser.click(add.expect("the Add to cart button")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = client.current_url().await.unwrap();
        if url.path() == "/cart" && url.query() == Some("notice=added") {
            break;
        }
        assert!(Instant::now() < deadline, "the browser stayed on {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The cart: one line at the database's price, the totals, nothing scrolls sideways.
    assert_eq!(browser.count(".cart-line").await, 1);
    assert!(browser.text(".cart-line").await.contains("RDP Starter"));
    assert_eq!(browser.text("#cart-total").await, "Rs 15,000");
    assert!(
        browser
            .text(".alert-success")
            .await
            .contains("Added to your cart")
    );
    let cookies = browser.js("return document.cookie").await;
    assert!(
        !cookies.as_str().unwrap().contains("ngr_cart"),
        "the cart cookie is HttpOnly: {cookies}"
    );
    let widths = browser
        .js("return [window.innerWidth, document.documentElement.scrollWidth]")
        .await;
    assert_eq!(widths[0], 360, "the viewport is phone-sized: {widths}");
    assert!(
        widths[1].as_u64().unwrap() <= 360,
        "the cart overflows sideways: {widths}"
    );
    browser.screenshot("cart-phone").await;

    browser.set_window_size(DESKTOP).await;
    browser.goto(&server.url("/cart")).await;
    assert_eq!(browser.text("#cart-total").await, "Rs 15,000");
    browser.screenshot("cart-desktop").await;

    browser.close().await;
}

#[sqlx::test]
async fn the_category_and_plan_pages_fit_a_phone_in_a_real_browser(db: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::with_default_catalog(db).await;
    app.admin("owner@nextgenrdp.pk").await;
    let server = AppServer::start(app.router.clone()).await;
    let client = browser.client();
    let fits = |what: &'static str| {
        let browser = &browser;
        async move {
            let widths = browser
                .js("return [window.innerWidth, document.documentElement.scrollWidth]")
                .await;
            assert_eq!(
                widths[0], 360,
                "{what}: the viewport is phone-sized: {widths}"
            );
            assert!(
                widths[1].as_u64().unwrap() <= 360,
                "{what} overflows sideways: {widths}"
            );
        }
    };
    let lands_on = |path: &'static str| async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = client.current_url().await.unwrap();
            if url.path() == path {
                return url;
            }
            assert!(Instant::now() < deadline, "the browser stayed on {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    // /rdp on a 360 px phone: every RDP plan, nothing scrolls sideways
    browser.set_window_size(PHONE).await;
    browser.goto(&server.url("/rdp")).await;
    fits("/rdp").await;
    assert_eq!(browser.count(".plan-card").await, 4);
    assert_eq!(browser.text("h1").await, "Windows RDP");
    browser.screenshot("rdp-phone").await;

    // the filter form: Singapore, highest price first
    let singapore = client
        .find(Locator::XPath(
            "//select[@id='location']/option[.='Singapore']",
        ))
        .await;
    singapore
        .expect("Singapore is offered")
        .click()
        .await
        .unwrap();
    let dearest = client
        .find(Locator::Css("#sort option[value='-price']"))
        .await;
    dearest.unwrap().click().await.unwrap();
    let show = client
        .find(Locator::Css(".filter-form button[type=submit]"))
        .await;
    show.unwrap().click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains("sort=-price")
    {
        assert!(Instant::now() < deadline, "the filter was not applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let shown = browser
        .js("return [...document.querySelectorAll('.plan-card')].map(c => c.dataset.planId)")
        .await;
    assert_eq!(shown, json!(["rdp-pro-three", "rdp-business-two"]));
    fits("/rdp filtered").await;

    // the plan page on the phone: the order form comes right after the price
    browser.goto(&server.url("/plans/rdp-starter-one")).await;
    fits("/plans/rdp-starter-one").await;
    let order_first = browser
        .js(
            "const form = document.querySelector('#add-to-cart').getBoundingClientRect();
             const specs = document.querySelector('#specs-title').getBoundingClientRect();
             return form.top < specs.top && form.right <= innerWidth;",
        )
        .await;
    assert_eq!(order_first, json!(true));
    browser.screenshot("plan-phone").await;

    // on a desktop the order card sits beside the details
    browser.set_window_size(DESKTOP).await;
    browser.goto(&server.url("/rdp")).await;
    browser.screenshot("rdp-desktop").await;
    browser.goto(&server.url("/plans/rdp-starter-one")).await;
    let beside = browser
        .js(
            "const order = document.querySelector('.order-card').getBoundingClientRect();
             const info = document.querySelector('.plan-info').getBoundingClientRect();
             return order.left > info.right;",
        )
        .await;
    assert_eq!(beside, json!(true));
    browser.screenshot("plan-desktop").await;

    // the operator's plan list and form, after logging in through the form
    browser
        .goto(&server.url("/login?next=/admin/catalog/plans"))
        .await;
    for (field, value) in [
        ("#email", "owner@nextgenrdp.pk"),
        ("#password", "operator-passphrase"),
    ] {
        client
            .find(Locator::Css(field))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    let log_in = client.find(Locator::Css("main button[type=submit]")).await;
    log_in.unwrap().click().await.unwrap();
    answer_code_if_asked(client, &app.db, "owner@nextgenrdp.pk").await;
    lands_on("/admin/catalog/plans").await;
    assert_eq!(browser.count("tr[data-plan-id]").await, 8);
    browser.screenshot("admin-catalog-plans-desktop").await;
    browser
        .goto(&server.url("/admin/catalog/plans/rdp-starter-one"))
        .await;
    assert_eq!(
        browser.count("input[name=location_ids]:checked").await,
        4,
        "the plan's locations are ticked"
    );
    browser.screenshot("admin-catalog-plan-form-desktop").await;
    browser.set_window_size(PHONE).await;
    browser.goto(&server.url("/admin/catalog/plans")).await;
    fits("/admin/catalog/plans").await;
    browser.screenshot("admin-catalog-plans-phone").await;

    browser.close().await;
}

#[sqlx::test]
async fn a_customer_pays_by_transfer_on_a_phone_and_the_operator_approves_it(db: PgPool) {
    use base64::Engine as _;

    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::with_default_catalog(db).await;
    app.admin("owner@nextgenrdp.pk").await;
    let login = app.verified_customer("ayesha@example.pk").await;
    let token = login["access_token"].as_str();
    let location = nextgenrdp::catalog::locations::list_for_plan(&app.db, "rdp-business-two")
        .await
        .unwrap()[0]
        .id;
    app.send_json_as(
        token,
        axum::http::Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": "rdp-business-two", "location_id": location }),
    )
    .await;
    let placed = app
        .send_json_as(
            token,
            axum::http::Method::POST,
            "/api/v1/orders",
            &json!({}),
        )
        .await;
    let order = placed.json()["order"]["id"].as_i64().unwrap();
    let server = AppServer::start(app.router.clone()).await;
    let client = browser.client();
    let db = &app.db;
    let log_in = |email: &'static str, password: &'static str, next: String| {
        let browser = &browser;
        let server = &server;
        async move {
            browser
                .goto(&server.url(&format!("/login?next={next}")))
                .await;
            for (field, value) in [("#email", email), ("#password", password)] {
                let input = browser.client().find(Locator::Css(field)).await.unwrap();
                input.send_keys(value).await.unwrap();
            }
            let submit = browser
                .client()
                .find(Locator::Css("main button[type=submit]"))
                .await;
            submit.unwrap().click().await.unwrap();
            answer_code_if_asked(browser.client(), db, email).await;
            wait_for_path(browser, &next).await;
        }
    };
    let fits = |what: &'static str| {
        let browser = &browser;
        async move {
            let widths = browser
                .js("return [window.innerWidth, document.documentElement.scrollWidth]")
                .await;
            assert_eq!(widths[0], 360, "{what}: phone-sized: {widths}");
            assert!(
                widths[1].as_u64().unwrap() <= 360,
                "{what} overflows sideways: {widths}"
            );
        }
    };

    // The page scrolls smoothly (CSS): bring an element into view at once before clicking it.
    let click = |css: &'static str| {
        let browser = &browser;
        async move {
            browser
                .js(&format!(
                    "document.querySelector({css:?}).scrollIntoView({{block: 'center', behavior: 'instant'}})"
                ))
                .await;
            let element = browser.client().find(Locator::Css(css)).await;
            let element = element.unwrap_or_else(|err| panic!("no element {css}: {err}"));
            element.click().await.unwrap();
            element
        }
    };

    // The customer's order page on a 360 px phone: the instructions with working copy buttons.
    let order_page = format!("/account/orders/{order}");
    log_in(
        "ayesha@example.pk",
        "correct-horse-battery",
        order_page.clone(),
    )
    .await;
    browser.set_window_size(DESKTOP).await;
    browser.goto(&server.url(&order_page)).await;
    browser.screenshot("order-payment-desktop").await;
    browser.set_window_size(PHONE).await;
    browser.goto(&server.url(&order_page)).await;
    fits("the order page").await;
    assert_eq!(browser.text("#pay-reference").await, format!("NGR-{order}"));
    assert_eq!(browser.text("#pay-amount").await, "Rs 4,500");
    let copy_buttons = browser
        .js("return [...document.querySelectorAll('button[data-copy]')].filter(b => !b.hidden && b.offsetWidth > 0).length")
        .await;
    assert_eq!(
        copy_buttons,
        json!(5),
        "amount, reference and three accounts"
    );
    let copy = click("#pay-reference + button[data-copy]").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let word = copy.text().await.unwrap();
        if word.starts_with("Copied") || word.starts_with("Select and copy") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the copy button did nothing: {word}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.screenshot("order-payment-phone").await;

    // "I have paid": the TID, the account, a receipt screenshot.
    // A receipt-like picture, drawn by the browser itself.
    let data_url = browser
        .js(
            "const c = document.createElement('canvas'); c.width = 320; c.height = 180;
             const g = c.getContext('2d'); g.fillStyle = '#fef3c7'; g.fillRect(0, 0, 320, 180);
             g.fillStyle = '#92400e'; g.font = 'bold 22px sans-serif';
             g.fillText('JazzCash: Rs 4,500 sent', 16, 70); g.fillText('TID 88442211', 16, 110);
             return c.toDataURL('image/png')",
        )
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(
            data_url
                .as_str()
                .unwrap()
                .trim_start_matches("data:image/png;base64,"),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let receipt = dir.path().join("receipt.png");
    std::fs::write(&receipt, png).unwrap();
    client
        .find(Locator::Css("#reference"))
        .await
        .unwrap()
        .send_keys("TID88442211")
        .await
        .unwrap();
    client
        .find(Locator::Css("#channel"))
        .await
        .unwrap()
        .select_by_value("jazzcash")
        .await
        .unwrap();
    client
        .find(Locator::Css("#receipt"))
        .await
        .unwrap()
        .send_keys(receipt.to_str().unwrap())
        .await
        .unwrap();
    click("#submit-payment").await;
    wait_for_path(&browser, &format!("{order_page}?notice=payment-submitted")).await;
    assert!(
        browser
            .text("#payment-review")
            .await
            .contains("checking your transfer")
    );
    assert_eq!(browser.text(".payment-badge").await, "Waiting for review");
    fits("the submitted order page").await;
    browser.screenshot("order-payment-submitted-phone").await;

    // Another customer quotes the same TID through the API: flagged for the operator.
    let bilal = app.verified_customer("bilal@example.pk").await;
    let bilal = bilal["access_token"].as_str();
    app.send_json_as(
        bilal,
        axum::http::Method::POST,
        "/api/v1/cart/items",
        &json!({ "plan_id": "rdp-business-two", "location_id": location }),
    )
    .await;
    let second = app
        .send_json_as(
            bilal,
            axum::http::Method::POST,
            "/api/v1/orders",
            &json!({}),
        )
        .await;
    let second = second.json()["order"]["id"].as_i64().unwrap();
    let flagged = app
        .send_json_as(
            bilal,
            axum::http::Method::POST,
            &format!("/api/v1/orders/{second}/payments"),
            &json!({ "method": "manual", "reference": "TID88442211", "channel": "bank" }),
        )
        .await;
    assert!(flagged.json()["payment"]["flag"].is_string());

    // The operator opens the queue, the payment with its receipt, and approves it.
    client.delete_all_cookies().await.unwrap();
    browser.set_window_size(DESKTOP).await;
    log_in(
        "owner@nextgenrdp.pk",
        "operator-passphrase",
        "/admin/payments".to_owned(),
    )
    .await;
    assert_eq!(browser.count("tr[data-payment-id]").await, 2);
    assert_eq!(browser.count("tr.row-flagged").await, 1);
    fits_desktop(&browser).await;
    browser.screenshot("admin-payments-desktop").await;
    client
        .find(Locator::Css(
            "tr[data-payment-id] a[href^='/admin/payments/']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let payment: i32 = sqlx::query_scalar("select min(id) from payments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    wait_for_path(&browser, &format!("/admin/payments/{payment}")).await;
    let receipt_loaded = browser
        .js("const img = document.querySelector('.receipt-image'); return img.complete && img.naturalWidth")
        .await;
    assert_eq!(receipt_loaded, json!(320), "the receipt image shows");
    browser.screenshot("admin-payment-desktop").await;
    click("#approve-payment").await;
    wait_for_path(&browser, &format!("/admin/payments/{payment}?notice=paid")).await;
    assert_eq!(
        browser.text("#review-notice").await,
        format!("Order {order} is now paid.")
    );
    browser.screenshot("admin-payment-approved-desktop").await;
    browser.set_window_size(PHONE).await;
    browser
        .goto(&server.url("/admin/payments?status=all"))
        .await;
    fits("the payment queue").await;
    browser.screenshot("admin-payments-phone").await;
    browser
        .goto(&server.url(&format!("/admin/payments/{payment}")))
        .await;
    fits("the payment page").await;
    browser.screenshot("admin-payment-phone").await;

    browser.close().await;
}

/// The page does not scroll sideways at the desktop width (its tables fit too).
async fn fits_desktop(browser: &Browser) {
    // What scrolls sideways, if anything: a table (its id and widths) or the page.
    let overflow = browser
        .js("const w = [...document.querySelectorAll('.table-wrap')].find(w => w.scrollWidth > w.clientWidth); \
             if (w) return `table ${w.querySelector('table')?.id}: ${w.scrollWidth} > ${w.clientWidth}`; \
             return document.documentElement.scrollWidth > innerWidth ? `page: ${document.documentElement.scrollWidth}` : false")
        .await;
    assert_eq!(
        overflow,
        json!(false),
        "something scrolls sideways at 1280 px"
    );
}

/// After the login form was sent: whether the shop asks for the authenticator's code (the page
/// with the login's second step), waiting until it either does or has moved on.
pub async fn code_asked(client: &Client) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if client
            .find(Locator::Css("input[name=mfa_token]"))
            .await
            .is_ok()
        {
            return true;
        }
        let url = client.current_url().await.unwrap();
        if url.path() != "/login" {
            return false;
        }
        assert!(Instant::now() < deadline, "the login page stayed as it was");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A code of the test operators' authenticator for the account `email`.
pub async fn code_for(db: &PgPool, email: &str) -> String {
    let user_id: i32 = sqlx::query_scalar("select id from users where lower(email) = lower($1)")
        .bind(email)
        .fetch_one(db)
        .await
        .unwrap();
    crate::helpers::totp_code(db, user_id).await
}

/// Answers the login's second step with the authenticator's code, when it is asked for.
pub async fn answer_code_if_asked(client: &Client, db: &PgPool, email: &str) {
    if !code_asked(client).await {
        return;
    }
    let code = code_for(db, email).await;
    let field = client.find(Locator::Css("#code")).await.unwrap();
    field.send_keys(&code).await.unwrap();
    client
        .find(Locator::Css("main button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[sqlx::test]
async fn a_crafted_next_after_login_never_leaves_the_shop_in_a_real_browser(db: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    let server = AppServer::start(app.router.clone()).await;
    let client = browser.client();
    // `/\t/evil.example`: the tab was kept in the Location header, and browsers drop tabs
    // there, so the browser went to //evil.example. And `/%0A` answered a 500.
    for next in [
        "%2F%09%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%0A",
        "%2F%2Fevil.example",
    ] {
        client.delete_all_cookies().await.unwrap();
        browser
            .goto(&server.url(&format!("/login?next={next}")))
            .await;
        assert_eq!(browser.text("h1").await, "Log in", "{next}");
        for (field, value) in [
            ("#email", "ayesha@example.pk"),
            ("#password", "correct-horse-battery"),
        ] {
            let input = client.find(Locator::Css(field)).await.unwrap();
            input.send_keys(value).await.unwrap();
        }
        client
            .find(Locator::Css("main button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = client.current_url().await.unwrap();
            if url.path() != "/login" {
                assert_eq!(url.host_str(), Some("127.0.0.1"), "{next} led to {url}");
                assert_eq!(url.path(), "/account", "{next} led to {url}");
                break;
            }
            assert!(Instant::now() < deadline, "{next}: stayed on {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    browser.close().await;
}

#[sqlx::test]
async fn an_operator_sets_up_two_factor_sign_in_before_the_back_office_opens(db: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::with_default_catalog(db).await;
    app.admin_account("owner@nextgenrdp.pk").await;
    let server = AppServer::start(app.router.clone()).await;
    let client = browser.client();

    // Logged in with the password alone, the back office says what is missing, on a phone too.
    browser.set_window_size(PHONE).await;
    browser.goto(&server.url("/login?next=/admin")).await;
    for (field, value) in [
        ("#email", "owner@nextgenrdp.pk"),
        ("#password", "operator-passphrase"),
    ] {
        let input = client.find(Locator::Css(field)).await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    let log_in = client.find(Locator::Css("main button[type=submit]")).await;
    click_in(client, log_in.unwrap()).await;
    wait_for_path(&browser, "/admin").await;
    assert_eq!(browser.text("h1").await, "Two-factor sign-in needed");
    browser.screenshot("two-factor-needed-phone").await;
    let set_up = client
        .find(Locator::LinkText("Set up two-factor sign-in"))
        .await
        .unwrap();
    click_in(client, set_up).await;
    wait_for_path(&browser, "/account/two-factor").await;
    assert!(
        browser
            .text("#operator-must")
            .await
            .contains("Operators must")
    );
    let start = client
        .find(Locator::Css("#start-two-factor"))
        .await
        .unwrap();
    click_in(client, start).await;
    wait_for_path(&browser, "/account/two-factor/start").await;
    // The QR code is drawn by the shop itself: an image the page's CSP allows, no request out.
    let drawn = browser
        .js("const img = document.querySelector('#two-factor-qr');
             return [img.complete, img.naturalWidth > 100, img.src.startsWith('data:image/svg+xml')]")
        .await;
    assert_eq!(drawn, json!([true, true, true]));
    assert_eq!(browser.count("#recovery-codes li").await, 10);
    let widths = browser
        .js("return [window.innerWidth, document.documentElement.scrollWidth]")
        .await;
    assert!(widths[1].as_u64().unwrap() <= 360, "overflows: {widths}");
    browser.screenshot("two-factor-setup-phone").await;

    // The authenticator app: the key from the page, the code it shows now.
    let key = browser.text("#two-factor-secret").await.replace(' ', "");
    let secret = totp_rs::Secret::Encoded(key).to_bytes().unwrap();
    let code = nextgenrdp::accounts::two_factor::code_at(&secret, chrono::Utc::now());
    browser.set_window_size(DESKTOP).await;
    browser.screenshot("two-factor-setup-desktop").await;
    client
        .find(Locator::Css("#code"))
        .await
        .unwrap()
        .send_keys(&code)
        .await
        .unwrap();
    let confirm = client
        .find(Locator::Css("#confirm-two-factor"))
        .await
        .unwrap();
    click_in(client, confirm).await;
    wait_for_path(&browser, "/account/two-factor?notice=enabled").await;
    assert_eq!(browser.text("#two-factor-status").await, "On");
    browser.screenshot("two-factor-on-desktop").await;

    // The same session now opens the back office.
    browser.goto(&server.url("/admin")).await;
    assert_ne!(browser.text("h1").await, "Two-factor sign-in needed");
    assert!(browser.count("a[href='/admin/payments']").await > 0);
    browser.close().await;
}
