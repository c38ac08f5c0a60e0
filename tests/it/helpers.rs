//! Test harness: the real router over a test database, driven in-process with `oneshot`, and
//! helpers to run the real binary.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use nextgenrdp::app::{AppState, Settings};
use nextgenrdp::config::Secrets;
use nextgenrdp::crypto::Key;
use sqlx::PgPool;
use tower::ServiceExt;

/// The JazzCash integrity salt of the test app.
pub const JAZZCASH_SALT: &str = "test-salt-9f2c";

/// The provisioning context of the tests: the test credential key, default thresholds.
pub fn test_provisioning() -> std::sync::Arc<nextgenrdp::provisioning::Provisioning> {
    nextgenrdp::provisioning::Provisioning::new(
        nextgenrdp::crypto::Keyring::new(&Key::from_bytes([2; 32]), &[]),
        nextgenrdp::provisioning::LifecycleConfig::default(),
        "http://shop.test".into(),
    )
}

/// The application over `pool`, as `serve` builds it, with fixed test secrets.
pub struct TestApp {
    pub router: Router,
    pub db: PgPool,
    /// Where the app's e-mails land (.eml files), once [`TestApp::deliver_mail`] ran the worker.
    pub mail_dir: tempfile::TempDir,
}

/// The node's settings and its payment gateways, as a test app is built from them (the
/// settings' fields reachable directly).
pub struct TestSettings {
    pub settings: Settings,
    pub payments: nextgenrdp::payments::PaymentSettings,
}

impl std::ops::Deref for TestSettings {
    type Target = Settings;

    fn deref(&self) -> &Settings {
        &self.settings
    }
}

impl std::ops::DerefMut for TestSettings {
    fn deref_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
}

impl TestApp {
    pub fn new(db: PgPool) -> Self {
        Self::with_metrics_token(db, None)
    }

    /// The app with `/metrics` behind a bearer token (`None`: loopback clients only).
    pub fn with_metrics_token(db: PgPool, metrics_token: Option<&str>) -> Self {
        let mut settings = Self::settings();
        settings.metrics_token = metrics_token.map(secrecy::SecretString::from);
        Self::with_settings(db, settings)
    }

    /// The settings of [`TestApp::new`], to change one before [`TestApp::with_settings`].
    pub fn settings() -> TestSettings {
        let settings = Settings {
            public_url: "http://shop.test".into(),
            cors_origins: vec!["https://shop.example.pk".into()],
            request_timeout: std::time::Duration::from_secs(30),
            secrets: Secrets {
                token_signing_key: Key::from_bytes([1; 32]),
                credential_key: Key::from_bytes([2; 32]),
                previous_credential_keys: Vec::new(),
            },
            // the minimum cost: the tests check behaviour, not bcrypt's speed
            bcrypt_cost: 4,
            trust_forwarded_for: true,
            order_expiry_hours: 48,
            metrics_token: None,
            metrics_token_required: false,
            operator_two_factor: nextgenrdp::config::OperatorPolicy::Required,
            contact: std::sync::Arc::new(nextgenrdp::config::Contact::default()),
            whatsapp_enabled: false,
            // As the binary's defaults: backups off on this node, 7 daily and 4 weekly kept.
            backups: nextgenrdp::config::BackupPolicy {
                dir: std::env::temp_dir().join("nextgenrdp-tests-no-backups"),
                keep_daily: 7,
                keep_weekly: 4,
                ..nextgenrdp::config::BackupPolicy::default()
            },
        };
        TestSettings {
            settings,
            payments: nextgenrdp::payments::PaymentSettings {
                manual: nextgenrdp::payments::manual::ManualTransfer::parse(
                    "bank|Meezan Bank|NextGenRDP (Pvt) Ltd|PK36MEZN0001230101234567;\
                     jazzcash|JazzCash wallet|NextGenRDP|03001234567;\
                     easypaisa|Easypaisa wallet|NextGenRDP|03451234567",
                )
                .unwrap(),
                jazzcash: Some(nextgenrdp::payments::jazzcash::JazzCash {
                    merchant_id: "MC_TEST".into(),
                    password: secrecy::SecretString::from("test-password"),
                    integrity_salt: secrecy::SecretString::from(JAZZCASH_SALT),
                    form_url: nextgenrdp::payments::jazzcash::SANDBOX_URL.into(),
                    inquiry_url: None,
                }),
                easypaisa: None,
            },
        }
    }

    /// The app with these settings.
    pub fn with_settings(db: PgPool, settings: TestSettings) -> Self {
        let state = AppState::new(
            db.clone(),
            settings.settings,
            settings.payments,
            test_provisioning(),
        );
        Self {
            router: nextgenrdp::router::router(state),
            db,
            mail_dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs the background jobs that are due (sending e-mail into `mail_dir`).
    pub async fn deliver_mail(&self) {
        let mailer = nextgenrdp::mail::Mailer::files(
            self.mail_dir.path().to_path_buf(),
            "NextGenRDP <no-reply@shop.test>",
        );
        nextgenrdp::worker::Worker::new(
            self.db.clone(),
            std::sync::Arc::new(mailer),
            test_provisioning(),
        )
        .run_pending()
        .await
        .unwrap();
    }

    /// The e-mails delivered to `to`, oldest first, as raw text.
    pub async fn mails_to(&self, to: &str) -> Vec<String> {
        self.deliver_mail().await;
        let mut files: Vec<_> = std::fs::read_dir(self.mail_dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|path| std::fs::read_to_string(path).unwrap())
            .filter(|mail| mail.lines().any(|l| l.starts_with("To:") && l.contains(to)))
            .collect()
    }

    /// The token of the newest link to `path` (like `/verify-email`) mailed to `to`.
    pub async fn token_mailed_to(&self, to: &str, path: &str) -> String {
        let mails = self.mails_to(to).await;
        let needle = format!("http://shop.test{path}?token=");
        let mail = mails
            .iter()
            .rev()
            .find(|m| m.contains(&needle))
            .unwrap_or_else(|| panic!("no {path} link mailed to {to}"));
        let start = mail.find(&needle).unwrap() + needle.len();
        mail[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// The app with the bundled default catalog loaded.
    pub async fn with_default_catalog(db: PgPool) -> Self {
        nextgenrdp::catalog::file::seed_if_empty(&db).await.unwrap();
        Self::new(db)
    }

    pub async fn request(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        TestResponse {
            status,
            headers,
            body: body.to_vec(),
        }
    }

    /// Posts a `multipart/form-data` form (`fields`, and `files` as (name, file name, type,
    /// bytes)) with `Authorization: Bearer <token>`.
    pub async fn post_multipart_as(
        &self,
        token: &str,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> TestResponse {
        let (content_type, body) = multipart(fields, files);
        self.request(
            Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        json: &serde_json::Value,
    ) -> TestResponse {
        self.send_json_as(None, method, path, json).await
    }

    /// Sends JSON with `Authorization: Bearer <token>` when a token is given.
    pub async fn send_json_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        json: &serde_json::Value,
    ) -> TestResponse {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", "198.51.100.1");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.request(request.body(Body::from(json.to_string())).unwrap())
            .await
    }

    /// GET with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> TestResponse {
        self.request(
            Request::get(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// Reports a manual transfer for `order` as the customer `token` (201 expected); returns the
    /// payment, in the operator's review queue.
    pub async fn report_transfer(
        &self,
        token: &str,
        order: i64,
        reference: &str,
        channel: &str,
    ) -> serde_json::Value {
        let submitted = self
            .send_json_as(
                Some(token),
                Method::POST,
                &format!("/api/v1/orders/{order}/payments"),
                &serde_json::json!({ "method": "manual", "reference": reference, "channel": channel }),
            )
            .await;
        assert_eq!(
            submitted.status,
            StatusCode::CREATED,
            "{}",
            submitted.text()
        );
        submitted.json()["payment"].clone()
    }

    /// The operator `token` approves `payment` (200 expected).
    pub async fn approve_payment(&self, token: &str, payment: i64) {
        let approved = self
            .send_json_as(
                Some(token),
                Method::POST,
                &format!("/api/v1/admin/payments/{payment}/approve"),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    }

    /// A verified customer made directly in the database, with an access token from a session
    /// opened directly (the API's registration and login rate limits are per IP, so tests that
    /// need dozens of customers make them here); their id and token.
    pub async fn direct_customer(&self, email: &str) -> (i32, String) {
        let hash = nextgenrdp::accounts::hash_password("buyer-passphrase", 4).unwrap();
        let user = nextgenrdp::accounts::users::insert(
            &self.db,
            &nextgenrdp::accounts::users::NewUser {
                name: "Buyer",
                email,
                phone: None,
                password_hash: &hash,
                role: nextgenrdp::accounts::Role::Customer,
            },
        )
        .await
        .unwrap();
        nextgenrdp::accounts::users::mark_verified(&self.db, user.id)
            .await
            .unwrap();
        let opened = nextgenrdp::accounts::sessions::insert(
            &self.db,
            &nextgenrdp::accounts::sessions::NewSession {
                user_id: user.id,
                token_hash: &nextgenrdp::secrets::hash(email),
                expires_at: chrono::Utc::now() + chrono::Duration::days(1),
                ip_address: None,
                user_agent: None,
                two_factor: false,
            },
        )
        .await
        .unwrap();
        let token = nextgenrdp::accounts::jwt::issue(
            &[1; 32],
            user.id,
            opened.id,
            nextgenrdp::accounts::Role::Customer,
        )
        .unwrap();
        (user.id, token)
    }

    /// Registers `email` through the API (password `correct-horse-battery`), verifies it through
    /// the mailed link, logs in, and returns the login answer (tokens and user).
    pub async fn verified_customer(&self, email: &str) -> serde_json::Value {
        let created = self
            .send_json(
                Method::POST,
                "/api/v1/auth/register",
                &serde_json::json!({ "name": "Ayesha Khan", "email": email, "password": "correct-horse-battery" }),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let token = self.token_mailed_to(email, "/verify-email").await;
        let verified = self
            .send_json(
                Method::POST,
                "/api/v1/auth/verify-email",
                &serde_json::json!({ "token": token }),
            )
            .await;
        assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
        self.login(email, "correct-horse-battery").await
    }

    /// Logs in through the API; panics unless it succeeds.
    pub async fn login(&self, email: &str, password: &str) -> serde_json::Value {
        let response = self
            .send_json(
                Method::POST,
                "/api/v1/auth/login",
                &serde_json::json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()
    }

    /// An operator created as `nextgenrdp user create --admin` would, with two-factor sign-in
    /// on (the authenticator holds [`OPERATOR_TOTP_SECRET`]), logged in with password and code.
    pub async fn admin(&self, email: &str) -> serde_json::Value {
        self.staff(email, nextgenrdp::accounts::Role::Owner).await
    }

    /// A staff account of `role`, with two-factor sign-in on, logged in with password and code.
    pub async fn staff(&self, email: &str, role: nextgenrdp::accounts::Role) -> serde_json::Value {
        let user = self.staff_account(email, role).await;
        enable_two_factor(&self.db, user).await;
        self.login_with_code(email, "operator-passphrase").await
    }

    /// Logs in through the API an account with two-factor sign-in, answering the second step
    /// with the authenticator's code; panics unless it succeeds.
    pub async fn login_with_code(&self, email: &str, password: &str) -> serde_json::Value {
        let first = self.login(email, password).await;
        let token = first["mfa_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no second step: {first}"));
        let user_id: i32 =
            sqlx::query_scalar("select id from users where lower(email) = lower($1)")
                .bind(email)
                .fetch_one(&self.db)
                .await
                .unwrap();
        let code = totp_code(&self.db, user_id).await;
        let response = self
            .send_json(
                Method::POST,
                "/api/v1/auth/mfa",
                &serde_json::json!({ "mfa_token": token, "code": code }),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()
    }

    /// An operator account (password `operator-passphrase`), verified, without two-factor
    /// sign-in yet and not logged in; its id.
    pub async fn admin_account(&self, email: &str) -> i32 {
        self.staff_account(email, nextgenrdp::accounts::Role::Owner)
            .await
    }

    /// A staff account of `role` (password `operator-passphrase`), verified, without
    /// two-factor sign-in yet and not logged in; its id.
    pub async fn staff_account(&self, email: &str, role: nextgenrdp::accounts::Role) -> i32 {
        let hash = nextgenrdp::accounts::hash_password("operator-passphrase", 4).unwrap();
        let user = nextgenrdp::accounts::users::insert(
            &self.db,
            &nextgenrdp::accounts::users::NewUser {
                name: "Shop Operator",
                email,
                phone: None,
                password_hash: &hash,
                role,
            },
        )
        .await
        .unwrap();
        nextgenrdp::accounts::users::mark_verified(&self.db, user.id)
            .await
            .unwrap();
        user.id
    }
}

/// The secret of the test operators' authenticator app.
pub const OPERATOR_TOTP_SECRET: &[u8; 20] = b"nextgenrdp-test-totp";

/// Adds `n` customers with SQL alone (`bulk1@example.pk`, …), as a large shop has, and refreshes
/// the planner's statistics of the accounts.
pub async fn bulk_customers(db: &PgPool, n: i32) {
    sqlx::query(
        "insert into users (name, email, password_hash)
         select 'Bulk ' || n, 'bulk' || n || '@example.pk', 'x' from generate_series(1, $1) n",
    )
    .bind(n)
    .execute(db)
    .await
    .unwrap();
    sqlx::query("analyze users").execute(db).await.unwrap();
}

/// Turns two-factor sign-in on for `user_id` with [`OPERATOR_TOTP_SECRET`], as a confirmed
/// enrolment leaves it (sealed with the test credential key).
pub async fn enable_two_factor(db: &PgPool, user_id: i32) {
    use nextgenrdp::accounts::two_factor;
    let sealed = test_provisioning().keyring.seal(
        &hex::encode(OPERATOR_TOTP_SECRET),
        &two_factor::secret_context(user_id),
    );
    two_factor::user_two_factor::put_secret(db, user_id, &sealed)
        .await
        .unwrap();
    nextgenrdp::accounts::users::set_two_factor(db, user_id, true)
        .await
        .unwrap();
}

/// A code of [`OPERATOR_TOTP_SECRET`] the server will accept for `user_id` now: of the step
/// before, this 30 s step or the next (the drift the server allows), the first later than the
/// last code it accepted (each step's code works once); waits for the next step when all three
/// are used.
pub async fn totp_code(db: &PgPool, user_id: i32) -> String {
    loop {
        let last: Option<i64> =
            sqlx::query_scalar("select last_used_step from user_two_factor where user_id = $1")
                .bind(user_id)
                .fetch_one(db)
                .await
                .unwrap();
        let now = chrono::Utc::now();
        let step = now.timestamp() / 30;
        // The step before only well inside this one: near its end the server may already be
        // in the next step, where the one before no longer counts.
        let first = if now.timestamp() % 30 < 25 {
            step - 1
        } else {
            step
        };
        if let Some(usable) =
            (first..=step + 1).find(|candidate| last.is_none_or(|last| *candidate > last))
        {
            let at = chrono::DateTime::from_timestamp(usable * 30, 0).unwrap();
            return nextgenrdp::accounts::two_factor::code_at(OPERATOR_TOTP_SECRET, at);
        }
        let next = (step + 1) * 30;
        let wait = (next - now.timestamp()).max(1) as u64;
        eprintln!(
            "note: account {user_id} used three codes in 30 s; waiting {wait} s for the next"
        );
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
}

/// A response read to the end.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("the body is UTF-8")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// The path of the freshly built `nextgenrdp` binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_nextgenrdp")
}

/// Runs the binary with `args` against `database_url` (a fresh data directory, quiet logs, the
/// extra `env`), feeding `stdin`; returns its exit status and output.
pub fn run_binary(
    database_url: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary())
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("NEXTGENRDP_DATA_DIR", data_dir.path())
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The URL of the test database server (the one `#[sqlx::test]` uses), for the binary.
pub fn database_url_for(pool: &PgPool) -> String {
    let options = pool.connect_options();
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL names the test server");
    let mut url: url::Url = server.parse().expect("DATABASE_URL is a URL");
    url.set_path(
        options
            .get_database()
            .expect("the test pool names its database"),
    );
    url.to_string()
}

/// One `nextgenrdp serve` process (web server and worker) with the tests' keys.
pub struct Node {
    pub child: std::process::Child,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl Node {
    pub fn spawn(database_url: &str, port: u16, data_dir: &std::path::Path, name: &str) -> Node {
        Self::spawn_with(database_url, port, data_dir, name, &[])
    }

    /// The same, with more environment variables.
    pub fn spawn_with(
        database_url: &str,
        port: u16,
        data_dir: &std::path::Path,
        name: &str,
        env: &[(&str, &str)],
    ) -> Node {
        use std::process::{Command, Stdio};
        let log = data_dir.join(format!("{name}.log"));
        let child = Command::new(binary())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", database_url)
            .env("NEXTGENRDP_DATA_DIR", data_dir)
            .env("NEXTGENRDP_TOKEN_SIGNING_KEY", hex::encode([1u8; 32]))
            .env("NEXTGENRDP_CREDENTIAL_KEY", hex::encode([2u8; 32]))
            .env("NEXTGENRDP_BCRYPT_COST", "4")
            .env("NEXTGENRDP_BACKUP_SCHEDULE", "off")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// Waits until `/healthz` answers, or panics with the node's log.
    pub async fn wait_up(&mut self) {
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(response) = client.get(format!("{}/healthz", self.base)).send().await
                && response.status() == 200
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the node exited ({status}):\n{}", self.log_text());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the node never answered:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no draining, transactions cut wherever they are.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and waits for a clean exit.
    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        for _ in 0..300 {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the node did not stop within 30 s of SIGTERM");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `multipart/form-data` body: its content type and bytes.
pub fn multipart(
    fields: &[(&str, &str)],
    files: &[(&str, &str, &str, &[u8])],
) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "ngr-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, file_name, content_type, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// A small valid PNG (1×1, opaque).
pub const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xDD, 0x8D, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];
