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

use crate::helpers::TestApp;

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
}

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
        let mut browser = Browser {
            client: None,
            driver,
        };
        browser.wait_for_driver(port).await;

        let mut options = json!({ "args": CHROMIUM_ARGS });
        options["binary"] = json!(chromium);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|err| panic!("chromedriver did not open a Chromium session: {err}"));
        browser.client = Some(client);
        Some(browser)
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

    /// Resizes the window; the page's viewport is then `width` CSS pixels wide.
    pub async fn set_window_size(&self, (width, height): (u32, u32)) {
        self.client().set_window_size(width, height).await.unwrap();
    }

    /// Saves a PNG of the whole page (not just the viewport) at the current width to
    /// `test-artifacts/screenshots/<name>.png`, and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let client = self.client();
        let (width, height) = client.get_window_size().await.unwrap();
        // The window is taller than its viewport by the (invisible) browser frame.
        let sizes = self
            .js("return [document.documentElement.scrollHeight, outerHeight - innerHeight]")
            .await;
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

    /// Ends the session cleanly (Chromium exits), then stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.unwrap();
        }
    }
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

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
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
    let plans = nextgenrdp::catalog::plans::list_active(&db, None)
        .await
        .unwrap();
    assert!(!plans.is_empty(), "the default catalog has plans on sale");

    browser.goto(&server.url("/")).await;
    assert!(
        browser
            .client()
            .title()
            .await
            .unwrap()
            .contains("NextGenRDP")
    );

    // every plan on sale has its card; a known one shows its name and price
    assert_eq!(browser.count(".plan-card").await, plans.len());
    for plan in &plans {
        assert_eq!(
            browser
                .count(&format!(".plan-card[data-plan-id='{}']", plan.id))
                .await,
            1
        );
    }
    let starter = browser
        .client()
        .find(Locator::Css("[data-plan-id='rdp-starter-one']"))
        .await;
    let starter = starter.expect("the RDP Starter card");
    assert!(starter.is_displayed().await.unwrap());
    let card = starter.text().await.unwrap();
    assert!(
        card.contains("RDP Starter") && card.contains("Rs 2,500"),
        "{card}"
    );

    // the stylesheet loaded (the CSP allows it) and applied, theme colours included
    let styled = browser
        .js(
            "const card = getComputedStyle(document.querySelector('.plan-card'));
             const sky = document.querySelector('.plan-card.theme-sky');
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
