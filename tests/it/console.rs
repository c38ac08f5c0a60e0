//! The browser console, end to end against fakepve (whose `vncproxy` + `vncwebsocket` serve a
//! real RFB 3.8 server with VNC authentication): a one-time link from the API, our websocket
//! relaying to Proxmox with the password answered on the server, and every refusal — someone
//! else's server, a used or expired link, a signed-out session, another site's page, a
//! suspended server — plus the close when the server stops. A customer's browser (noVNC in
//! Chromium) is in `console_in_a_browser`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use futures_util::{SinkExt, StreamExt};
use nextgenrdp::app::AppState;
use nextgenrdp::provisioning::vnc::Bounds;
use nextgenrdp::services::console::Slots;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::browser::{AppServer, Browser, DESKTOP, PHONE};
use crate::fakepve::FakePve;
use crate::helpers::{TestApp, test_provisioning};
use crate::provisioning::{paid_order, proxmox_backend};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A test app (with the default catalog) whose consoles check their server every 200 ms and
/// close after `idle`.
pub(crate) async fn app_with_consoles(db: PgPool, idle: Duration) -> TestApp {
    nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
    let settings = TestApp::settings();
    let mut state = AppState::new(
        db.clone(),
        settings.settings,
        settings.payments,
        test_provisioning(),
    );
    state.consoles = Arc::new(Slots::new(
        Bounds {
            idle,
            max: Duration::from_secs(600),
        },
        Duration::from_millis(200),
    ));
    TestApp {
        router: nextgenrdp::router::router(state),
        db,
        mail_dir: tempfile::tempdir().unwrap(),
    }
}

/// A customer's active server on fakepve: (customer login, operator login, service id).
pub(crate) async fn active_server(
    app: &TestApp,
    fake: &FakePve,
    email: &str,
) -> (Value, Value, i32) {
    proxmox_backend(&app.db, fake, &["203.0.113.20", "203.0.113.21"]).await;
    let (login, admin, order) = paid_order(app, email, 1).await;
    app.deliver_mail().await;
    let (id, status): (i32, String) = sqlx::query_as(
        "select s.id, s.status from services s join order_items i on i.id = s.order_item_id
         where i.order_id = $1",
    )
    .bind(order as i32)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(status, "active", "the server was built");
    (login, admin, id)
}

fn token(login: &Value) -> Option<&str> {
    login["access_token"].as_str()
}

/// `POST /api/v1/services/{id}/console` as `login`.
async fn open(app: &TestApp, login: &Value, id: i32) -> crate::helpers::TestResponse {
    app.send_json_as(
        token(login),
        Method::POST,
        &format!("/api/v1/services/{id}/console"),
        &json!({}),
    )
    .await
}

/// The API's address moved onto the test server (the API names the shop's public URL).
fn on(server: &AppServer, address: &str) -> String {
    let path = &address[address.find("/console/").expect("a console path")..];
    server.url(path).replacen("http://", "ws://", 1)
}

/// Opens the websocket; the HTTP status when the server refused the upgrade.
async fn connect(url: &str, origin: Option<&str>) -> Result<Socket, StatusCode> {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "binary".parse().unwrap());
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => {
            Err(StatusCode::from_u16(response.status().as_u16()).unwrap())
        }
        Err(err) => panic!("websocket: {err}"),
    }
}

/// The browser's side of RFB over the socket: a byte stream read through a buffer.
struct Rfb {
    socket: Socket,
    buf: Vec<u8>,
}

impl Rfb {
    async fn read(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("the relay sent nothing for 10 s")
                .expect("the relay closed")
                .expect("websocket error");
            match frame {
                Message::Binary(data) => self.buf.extend_from_slice(&data),
                Message::Close(frame) => panic!("the relay closed: {frame:?}"),
                _ => {}
            }
        }
        self.buf.drain(..n).collect()
    }

    async fn send(&mut self, data: &[u8]) {
        self.socket
            .send(Message::Binary(data.to_vec().into()))
            .await
            .unwrap();
    }

    /// The close frame's reason, once the relay closes.
    async fn close_reason(&mut self) -> String {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("the relay did not close within 10 s");
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => return frame.reason.to_string(),
                Some(Ok(Message::Close(None))) | None => return String::new(),
                Some(Ok(_)) => {}
                Some(Err(err)) => panic!("websocket error: {err}"),
            }
        }
    }
}

/// The RFB 3.8 handshake as noVNC does it, up to ServerInit; returns the desktop's name and
/// size. The relay must offer security type None (its own business to answer the server's VNC
/// password).
async fn handshake(socket: Socket) -> (Rfb, String, (u16, u16)) {
    let mut rfb = Rfb {
        socket,
        buf: Vec::new(),
    };
    assert_eq!(rfb.read(12).await, b"RFB 003.008\n");
    rfb.send(b"RFB 003.008\n").await;
    assert_eq!(rfb.read(2).await, [1, 1], "one security type: None");
    rfb.send(&[1]).await;
    assert_eq!(rfb.read(4).await, [0, 0, 0, 0], "security result OK");
    rfb.send(&[1]).await; // ClientInit, shared
    let init = rfb.read(24).await;
    let width = u16::from_be_bytes([init[0], init[1]]);
    let height = u16::from_be_bytes([init[2], init[3]]);
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    let name = String::from_utf8(rfb.read(name_len).await).unwrap();
    (rfb, name, (width, height))
}

#[sqlx::test]
async fn the_console_relays_the_servers_screen_to_its_owner_and_never_hands_out_proxmox(
    db: PgPool,
) {
    let fake = FakePve::start().await;
    let app = app_with_consoles(db, Duration::from_secs(600)).await;
    let (login, _admin, id) = active_server(&app, &fake, "ayesha@example.pk").await;
    let server = AppServer::start(app.router.clone()).await;

    let opened = open(&app, &login, id).await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text());
    assert_eq!(opened.header("cache-control"), "no-store");
    let body = opened.json();
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with("ws://shop.test/console/socket?token="),
        "{url}"
    );
    let expires: chrono::DateTime<chrono::Utc> =
        body["expires_at"].as_str().unwrap().parse().unwrap();
    let left = expires - chrono::Utc::now();
    assert!(
        left > chrono::Duration::seconds(50) && left <= chrono::Duration::seconds(60),
        "a link lives a minute: {left}"
    );
    assert!(!opened.text().contains("PVEVNC"), "no Proxmox ticket");

    let socket = connect(&on(&server, url), Some("http://shop.test"))
        .await
        .unwrap();
    let (mut rfb, name, (width, height)) = handshake(socket).await;
    let vm = fake
        .vms()
        .await
        .into_iter()
        .find(|vm| vm["vmid"] == json!(5000))
        .unwrap();
    assert_eq!(name, vm["name"].as_str().unwrap(), "the VM's own desktop");
    assert_eq!((width, height), (4, 2));

    // SetPixelFormat (32 bpp), SetEncodings (raw), then a full FramebufferUpdateRequest: the
    // screen comes back through the relay.
    let mut pixel_format = vec![0u8, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0];
    pixel_format.extend_from_slice(&[0, 0, 0]);
    rfb.send(&pixel_format).await;
    rfb.send(&[2, 0, 0, 1, 0, 0, 0, 0]).await;
    rfb.send(&[3, 0, 0, 0, 0, 0, 0, 4, 0, 2]).await;
    assert_eq!(rfb.read(1).await, [2], "fakepve rings the bell first");
    let update = rfb.read(4).await;
    assert_eq!(update[0], 0, "a FramebufferUpdate");
    assert_eq!(
        u16::from_be_bytes([update[2], update[3]]),
        2,
        "two rectangles"
    );
    let first = rfb.read(12).await;
    assert_eq!(&first[4..8], &[0, 4, 0, 1], "4×1 pixels");
    let pixels = rfb.read(4 * 4).await;
    // fakepve's screen is bytes 0..24 as RGB; raw 32-bit little-endian BGRX.
    assert_eq!(&pixels[..4], &[2, 1, 0, 0]);

    // The opening is in the service's log, by the customer; Proxmox saw vncproxy and the socket.
    let line: (String, String, Option<i32>) = sqlx::query_as(
        "select action, details, performed_by from service_logs
         where service_id = $1 and action = 'console'",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(line.1, "browser console opened by the customer");
    assert_eq!(line.2, Some(login["user"]["id"].as_i64().unwrap() as i32));
    let requests = fake.requests().await;
    assert!(
        requests
            .iter()
            .any(|(m, p)| m == "POST" && p.ends_with("/qemu/5000/vncproxy"))
    );
    assert!(
        requests
            .iter()
            .any(|(m, p)| m == "GET" && p.ends_with("/qemu/5000/vncwebsocket"))
    );

    // The link was one-time: the same address is refused before any upgrade.
    assert_eq!(
        connect(&on(&server, url), None).await.err(),
        Some(StatusCode::FORBIDDEN)
    );
    // The customer sees the opening in the API's log too.
    let detail = app
        .get_as(token(&login).unwrap(), &format!("/api/v1/services/{id}"))
        .await
        .json();
    assert!(
        detail["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["action"] == "console" && l["by"] == "you")
    );
}

#[sqlx::test]
async fn a_console_is_refused_to_strangers_old_links_signed_out_sessions_and_other_sites(
    db: PgPool,
) {
    let fake = FakePve::start().await;
    let app = app_with_consoles(db, Duration::from_secs(600)).await;
    let (login, admin, id) = active_server(&app, &fake, "ayesha@example.pk").await;
    let server = AppServer::start(app.router.clone()).await;

    // Someone else's server does not exist for them.
    let stranger = app.verified_customer("bilal@example.pk").await;
    assert_eq!(
        open(&app, &stranger, id).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        open(&app, &login, 999_999).await.status,
        StatusCode::NOT_FOUND
    );
    // Without a login: 401.
    let anonymous = app
        .send_json_as(
            None,
            Method::POST,
            &format!("/api/v1/services/{id}/console"),
            &json!({}),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // An expired link.
    let url = open(&app, &login, id).await.json()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    sqlx::query(
        "update console_tokens set created_at = now() - interval '2 minutes',
                                   expires_at = now() - interval '1 minute'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(
        connect(&on(&server, &url), None).await.err(),
        Some(StatusCode::FORBIDDEN)
    );

    // A made-up one.
    let made_up = server
        .url("/console/socket?token=not-a-token")
        .replacen("http", "ws", 1);
    assert_eq!(
        connect(&made_up, None).await.err(),
        Some(StatusCode::FORBIDDEN)
    );

    // Another site's page cannot use a good link (and does not spend it).
    let url = open(&app, &login, id).await.json()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        connect(&on(&server, &url), Some("https://evil.example"))
            .await
            .err(),
        Some(StatusCode::FORBIDDEN)
    );
    // The session that asked for a link signs out: the link dies with it.
    let out = app
        .send_json_as(
            token(&login),
            Method::POST,
            "/api/v1/auth/logout",
            &json!({}),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        connect(&on(&server, &url), None).await.err(),
        Some(StatusCode::FORBIDDEN)
    );

    // A suspended server: no link, and a link from before the suspension does not open.
    let login = app
        .login("ayesha@example.pk", "correct-horse-battery")
        .await;
    let early = open(&app, &login, id).await.json()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let suspended = app
        .send_json_as(
            token(&admin),
            Method::POST,
            &format!("/api/v1/admin/services/{id}/suspend"),
            &json!({ "reason": "abuse report #7" }),
        )
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.text());
    let refused = open(&app, &login, id).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.text().contains("is suspended"),
        "{}",
        refused.text()
    );
    assert_eq!(
        connect(&on(&server, &early), None).await.err(),
        Some(StatusCode::CONFLICT)
    );

    // No console line was written by any of these.
    let lines: i64 = sqlx::query_scalar(
        "select count(*) from service_logs where service_id = $1 and action = 'console'",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(lines, 0);
    let vncproxies = fake
        .requests()
        .await
        .iter()
        .filter(|(_, p)| p.ends_with("/vncproxy"))
        .count();
    assert_eq!(vncproxies, 0, "Proxmox was never asked");
}

#[sqlx::test]
async fn an_open_console_closes_with_a_reason_when_the_server_stops_or_goes_quiet(db: PgPool) {
    let fake = FakePve::start().await;
    let app = app_with_consoles(db, Duration::from_secs(2)).await;
    let (login, admin, id) = active_server(&app, &fake, "ayesha@example.pk").await;
    let server = AppServer::start(app.router.clone()).await;

    // Nothing moves: the relay closes after the idle time, saying so.
    let url = open(&app, &login, id).await.json()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut rfb, _, _) = handshake(connect(&on(&server, &url), None).await.unwrap()).await;
    let reason = rfb.close_reason().await;
    assert!(reason.contains("no activity"), "{reason}");

    // The operator's console (with a fresh second factor), then the customer stops the server:
    // the console closes and says why.
    let operator = app
        .send_json_as(
            token(&admin),
            Method::POST,
            &format!("/api/v1/admin/services/{id}/console"),
            &json!({}),
        )
        .await;
    assert_eq!(operator.status, StatusCode::CREATED, "{}", operator.text());
    let url = operator.json()["url"].as_str().unwrap().to_owned();
    let (mut rfb, _, _) = handshake(connect(&on(&server, &url), None).await.unwrap()).await;
    let logged: String = sqlx::query_scalar(
        "select details from service_logs where service_id = $1 and action = 'console'
         order by id desc limit 1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(logged, "browser console opened by an operator");
    let stop = app
        .send_json_as(
            token(&login),
            Method::POST,
            &format!("/api/v1/services/{id}/actions"),
            &json!({ "action": "stop" }),
        )
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED, "{}", stop.text());
    app.deliver_mail().await; // the worker stops the VM
    let reason = rfb.close_reason().await;
    assert!(reason.contains("was stopped"), "{reason}");
}

#[sqlx::test]
async fn a_customer_uses_the_console_in_a_real_browser_on_desktop_and_phone(db: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let fake = FakePve::start().await;
    let app = app_with_consoles(db, Duration::from_secs(600)).await;
    let (_login, _admin, id) = active_server(&app, &fake, "ayesha@example.pk").await;
    // A day of usage readings (as the sampler leaves them): the page draws its charts.
    sqlx::query(
        "insert into service_usage_samples
             (service_id, sampled_at, cpu, mem_bytes, mem_max_bytes, net_in_bytes, net_out_bytes,
              disk_read_bytes, disk_write_bytes)
         select $1, now() - make_interval(mins => 5 * n),
                (0.3 + 0.25 * sin(n / 20.0))::real, (4e9 + 1e9 * cos(n / 30.0))::bigint, 8589934592,
                (3e8 + 2e8 * sin(n / 10.0))::bigint, (1e8 + 5e7 * cos(n / 15.0))::bigint, 0, 0
         from generate_series(1, 287) n",
    )
    .bind(id)
    .execute(&app.db)
    .await
    .unwrap();
    // Snapshots in the plan: the page shows their card too.
    sqlx::query("update backend_templates set snapshot_limit = 2")
        .execute(&app.db)
        .await
        .unwrap();
    let server = AppServer::start(app.router.clone()).await;
    let page = format!("/account/services/{id}");
    crate::support_journey::log_in(
        browser.client(),
        &server,
        &app.db,
        "ayesha@example.pk",
        "correct-horse-battery",
        &page,
    )
    .await;
    // The server's page: how to connect (the Windows command, the .rdp file) and the console.
    assert!(
        browser
            .text("#connect-windows")
            .await
            .starts_with("mstsc /v:203.0.113.")
    );
    assert_eq!(browser.count("#download-rdp").await, 1);
    assert_eq!(browser.count("#snapshot-form").await, 1);
    assert_eq!(
        browser.count("#usage svg.chart").await,
        3,
        "CPU, memory and network"
    );
    browser.screenshot("service-connect-desktop").await;
    let link = browser
        .client()
        .find(fantoccini::Locator::Id("open-console"))
        .await
        .unwrap();
    browser.click(link).await;
    wait_for_state(&browser, "connected").await;
    // noVNC drew the server's screen into its canvas.
    let drawn = browser
        .js("const c = document.querySelector('#console-screen canvas'); return c ? [c.width, c.height] : null;")
        .await;
    assert_eq!(drawn, json!([4, 2]), "the 4×2 screen of fakepve's VM");
    assert_eq!(
        browser.text("#console-status").await,
        "Connected. Click the screen to type."
    );
    browser.screenshot("console-desktop").await;

    browser.set_window_size(PHONE).await;
    browser.goto(&server.url(&page)).await;
    let overflow = browser
        .js("return document.documentElement.scrollWidth > window.innerWidth;")
        .await;
    assert_eq!(overflow, json!(false), "the server's page fits a phone");
    browser.screenshot("service-connect-phone").await;
    browser
        .goto(&server.url(&format!("/account/services/{id}/console")))
        .await;
    wait_for_state(&browser, "connected").await;
    let overflow = browser
        .js("return document.documentElement.scrollWidth > window.innerWidth;")
        .await;
    assert_eq!(overflow, json!(false), "the console page fits a phone");
    browser.screenshot("console-phone").await;

    // Disconnect says so and offers to connect again (with a new link).
    let button = browser
        .client()
        .find(fantoccini::Locator::Id("console-disconnect"))
        .await
        .unwrap();
    browser.click(button).await;
    wait_for_state(&browser, "closed").await;
    assert_eq!(
        browser.text("#console-status").await,
        "You closed the console."
    );
    assert_eq!(browser.count("#console-reconnect:not([hidden])").await, 1);
    browser.set_window_size(DESKTOP).await;
    browser.close().await;
}

async fn wait_for_state(browser: &Browser, state: &str) {
    for _ in 0..100 {
        let now = browser
            .js("const s = document.getElementById('console-screen'); return s ? (s.dataset.state || '') : '';")
            .await;
        if now == json!(state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = browser.text("#console-status").await;
    panic!("the console never became {state:?}; it says {status:?}");
}
